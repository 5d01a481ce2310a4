/* secmem.c - wipe-and-free for secrets (secmem.h). */
#include "secmem.h"

#include <stdlib.h>
#include <string.h>

void
secmem_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void
secmem_free(void *p, size_t n)
{
	if (!p)
		return;
	secmem_wipe(p, n);
	free(p);
}

void
secmem_free_str(char *s)
{
	if (!s)
		return;
	secmem_wipe(s, strlen(s) + 1);
	free(s);
}
