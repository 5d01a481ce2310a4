/* secmem.h - the one way to wipe and free memory that held a secret.
 *
 * Every buffer that held key material, a token, a password, a share or a
 * plaintext is released through these, on success and error paths alike, so
 * that a freed heap chunk never keeps a secret. The wipe is explicit_bzero:
 * the compiler may not drop it as a dead store.
 *
 * Which to use when:
 *   - a stack buffer or a struct field going out of use: secmem_wipe(p, n);
 *   - a malloc'd buffer of known size: secmem_free(p, n), with n the size
 *     allocated (or at least every byte written, a partial decode included);
 *   - a malloc'd NUL-terminated string: secmem_free_str(s);
 *   - sodium_malloc'd memory (long-lived keys: guard pages, mlock): sodium_free,
 *     never these; libsodium wipes it itself, read-only regions included;
 *   - OpenSSL objects: their own free functions, the clearing ones for secret
 *     material (BN_clear_free, OPENSSL_clear_free, EVP_PKEY_free,
 *     EVP_CIPHER_CTX_free), never these;
 *   - jansson values: json_decref; the allocator lib/jsonx installs wipes every
 *     block jansson frees.
 * scripts/check-secrets (run by make test) flags a plain free() of a name that
 * looks like a secret; docs/internals/secrets.md has the details. */
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
