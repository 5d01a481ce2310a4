/* secmem.h - the one way to wipe and free memory that held a secret.
 *
 * Every buffer that held key material, a token, a password, a share or a
 * plaintext is released through these, on success and error paths alike, so
 * that a freed heap chunk never keeps a secret. The wipe is explicit_bzero:
 * the compiler may not drop it as a dead store. */
#ifndef CF_SECMEM_H
#define CF_SECMEM_H

#include <stddef.h>

/* Overwrites n bytes at p with zeros (p may be NULL when n is 0). */
void secmem_wipe(void *p, size_t n);
/* Wipes n bytes at p, then free(p). NULL is accepted and ignored. */
void secmem_free(void *p, size_t n);
/* Wipes a NUL-terminated string (strlen bytes and its NUL), then free(s).
 * NULL is accepted and ignored. */
void secmem_free_str(char *s);

#endif
