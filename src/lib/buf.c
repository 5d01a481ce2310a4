/* buf.c - a growable byte buffer with a size cap and a secret flag; see buf.h. */
#include "lib/buf.h"

#include "lib/secmem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_ALLOC 64

void
buf_init(struct buf *b, size_t max, unsigned flags)
{
	assert(max > 0 && max < SIZE_MAX / 2);
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
	b->flags = flags;
}

void
buf_free(struct buf *b)
{
	if (!b)
		return;
	if (b->flags & BUF_SECRET)
		secmem_free(b->p, b->alloc);
	else
		free(b->p);
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
	if (!b->p)
		return;
	if (b->flags & BUF_SECRET)
		secmem_wipe(b->p, b->len);
	b->len = 0;
	b->p[0] = '\0';
}

int
buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return CF_EINVAL;
	if (!b->p)
		return 0;
	if (b->flags & BUF_SECRET)
		secmem_wipe(b->p + len, b->len - len);
	b->len = len;
	b->p[len] = '\0';
	return 0;
}

/* Makes room for n more data bytes and the NUL. Leaves b untouched on error. */
static int
grow(struct buf *b, size_t n)
{
	size_t need, alloc;
	char *p;

	if (n > b->max - b->len)
		return CF_ETOOBIG;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : BUF_MIN_ALLOC;
	while (alloc < need)
		alloc *= 2;
	if (alloc > b->max + 1)
		alloc = b->max + 1 > need ? b->max + 1 : need;
	if (b->flags & BUF_SECRET) {
		/* Copy, then wipe the old block: realloc could free it unwiped. */
		p = malloc(alloc);
		if (!p)
			return CF_ENOMEM;
		if (b->p) {
			memcpy(p, b->p, b->len + 1);
			secmem_free(b->p, b->alloc);
		}
	} else {
		p = realloc(b->p, alloc);
		if (!p)
			return CF_ENOMEM;
	}
	b->p = p;
	b->alloc = alloc;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	r = grow(b, n);
	if (r < 0)
		return r;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return CF_EINVAL;
	r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	if (vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap) != n) {
		if (b->flags & BUF_SECRET)
			secmem_wipe(b->p + b->len, (size_t)n + 1);
		b->p[b->len] = '\0';
		return CF_EINVAL;
	}
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

const char *
buf_str(const struct buf *b)
{
	return b->p ? b->p : "";
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

int
buf_detach(struct buf *b, char **ret, size_t *ret_len)
{
	char *p = b->p;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return CF_ENOMEM;
	}
	*ret = p;
	if (ret_len)
		*ret_len = b->len;
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	return 0;
}
