/* buf.h - a growable byte buffer with a size cap and a secret flag.
 *
 * The one growable buffer of coffer: every string or byte sequence built up
 * piece by piece (a response body, a JSON line, a fetched document, a rendered
 * template) goes through it, so the growth arithmetic, the cap and the wiping
 * live in one place. curl's dynbuf is the model.
 *
 * The struct is embeddable (declare it on the stack or inside another struct,
 * then buf_init it), so building a string costs no allocation beyond the bytes
 * themselves. Its fields are private: use the functions below, never the
 * fields.
 *
 * Contract:
 *   - buf_init gives an empty buffer that never holds more than max bytes of
 *     data (the NUL terminator is not counted). It allocates nothing.
 *   - Appends return 0, or CF_ETOOBIG when the data would pass max, or
 *     CF_ENOMEM when growing fails. A failed append leaves the buffer exactly
 *     as it was, so a caller may report the error and still use (or free)
 *     what it had built.
 *   - The data is always NUL-terminated: buf_str never returns NULL ("" when
 *     nothing was appended), and binary data may hold NULs of its own.
 *   - With BUF_SECRET, every byte the buffer held is wiped (lib/secmem.h)
 *     before memory is given back: the old block when growing (so growth
 *     copies, never realloc), the data on buf_reset and buf_truncate, the
 *     whole block on buf_free. Without it growth uses realloc.
 *   - buf_free releases the memory; the buffer is then empty and may be used
 *     again with the same max and flags. buf_free of a zeroed struct (never
 *     initialised, or already freed) is a no-op.
 *   - buf_detach hands the bytes to the caller and leaves the buffer empty.
 *
 * Not thread-safe: one owner at a time. */
#ifndef CF_BUF_H
#define CF_BUF_H

#include "lib/err.h"

#include <stdarg.h>
#include <stddef.h>

/* Flags for buf_init. */
#define BUF_SECRET 0x1u /* wipe every block before it is freed or reused */

struct buf {
	char *p;        /* NULL until the first append */
	size_t len;     /* bytes of data, without the NUL */
	size_t alloc;   /* bytes allocated at p */
	size_t max;     /* cap on len */
	unsigned flags; /* BUF_* */
};

/* The value of a buffer just initialised, for declarations and arrays:
 * struct buf b = BUF_INIT(4096, 0); is the same as buf_init(&b, 4096, 0). */
#define BUF_INIT(max_, flags_)                                                                     \
	{                                                                                          \
		.p = NULL, .len = 0, .alloc = 0, .max = (max_), .flags = (flags_)                  \
	}

/* Makes b an empty buffer holding at most max bytes (max > 0). Allocates
 * nothing, so it cannot fail. */
void buf_init(struct buf *b, size_t max, unsigned flags);

/* Releases the memory (wiped first for BUF_SECRET). b stays initialised and
 * empty. Accepts NULL. */
void buf_free(struct buf *b);

/* Empties b and keeps its memory for reuse; for BUF_SECRET the old data is
 * wiped. */
void buf_reset(struct buf *b);

/* Shortens the data to len bytes (len <= buf_len; larger is CF_EINVAL). For
 * BUF_SECRET the dropped bytes are wiped. */
int buf_truncate(struct buf *b, size_t len) CF_WARN_UNUSED;

/* Appends n bytes from p (p may be NULL when n is 0). */
int buf_append(struct buf *b, const void *p, size_t n) CF_WARN_UNUSED;
/* Appends a NUL-terminated string (without its NUL). */
int buf_append_str(struct buf *b, const char *s) CF_WARN_UNUSED;
/* Appends one byte. */
int buf_append_char(struct buf *b, char c) CF_WARN_UNUSED;
/* Appends printf-style formatted text; CF_EINVAL on a format error. */
int buf_printf(struct buf *b, const char *fmt, ...) CF_WARN_UNUSED
        __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) CF_WARN_UNUSED
        __attribute__((format(printf, 2, 0)));

/* The data, NUL-terminated; "" (a static string) when nothing was appended.
 * Valid until the next call that changes b. */
const char *buf_str(const struct buf *b);
/* The number of data bytes, without the NUL. */
size_t buf_len(const struct buf *b);

/* Hands the data to the caller: *ret gets a malloc'd, NUL-terminated block
 * (an empty string when nothing was appended), *ret_len its length (ret_len
 * may be NULL). The caller frees it, with secmem_free(p, len + 1) for a
 * BUF_SECRET buffer. b is left empty. CF_ENOMEM only when b was empty and the
 * empty string could not be allocated; then *ret is untouched. */
int buf_detach(struct buf *b, char **ret, size_t *ret_len) CF_WARN_UNUSED;

#endif
