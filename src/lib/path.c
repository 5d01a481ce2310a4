/* path.c - names in request paths: normalisation, UTF-8 validation and the
 * reversible \xHH escape of stored names (path.h). Fuzzed by fuzz/fuzz_path.c. */
#include "lib/path.h"
#include "lib/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (n bytes available): 1-4, or 0 with the
 * reason in *why when the bytes there are not valid UTF-8 (RFC 3629: shortest
 * form, no surrogates, nothing above U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t n, const char **why)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c < 0xc0) {
		*why = "a UTF-8 continuation byte without a lead byte";
		return 0;
	}
	if (c < 0xc2) {
		*why = "an overlong UTF-8 encoding";
		return 0;
	}
	if (c > 0xf4) {
		*why = "a byte that never occurs in UTF-8";
		return 0;
	}
	need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	cp = c & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < need; i++) {
		if (i >= n || (s[i] & 0xc0) != 0x80) {
			*why = "a truncated UTF-8 sequence";
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000)) {
		*why = "an overlong UTF-8 encoding";
		return 0;
	}
	if (cp >= 0xd800 && cp <= 0xdfff) {
		*why = "a UTF-16 surrogate (U+D800-U+DFFF) encoded as UTF-8";
		return 0;
	}
	if (cp > 0x10ffff) {
		*why = "a code point above U+10FFFF";
		return 0;
	}
	return need;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The byte of the escape at s ("\xHH", lowercase hex), or -1 when s holds none. */
static int
escape_at(const char *s)
{
	int hi, lo;

	if (s[0] != '\\' || s[1] != 'x')
		return -1;
	hi = hexval(s[2]);
	lo = hi < 0 ? -1 : hexval(s[3]);
	if (lo < 0)
		return -1;
	return hi << 4 | lo;
}

static bool
needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '\\';
}

bool
path_is_plain(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), i = 0;
	const char *why;

	while (i < n) {
		size_t k;
		if (needs_escape(s[i]))
			return false;
		k = utf8_seq(s + i, n - i, &why);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

int
path_escape(const char *name, char **ret)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), i = 0;
	const char *why;
	char *out = malloc(4 * n + 1), *w = out;

	if (!out)
		return CF_ENOMEM;
	while (i < n) {
		size_t k = needs_escape(s[i]) ? 0 : utf8_seq(s + i, n - i, &why);
		if (k == 0) {
			snprintf(w, 5, "\\x%02x", s[i]);
			w += 4;
			i++;
			continue;
		}
		memcpy(w, s + i, k);
		w += k;
		i += k;
	}
	*w = '\0';
	*ret = out;
	return 0;
}

void
path_unescape(char *s)
{
	char *w = s;

	while (*s) {
		int b = escape_at(s);
		if (b > 0) {
			*w++ = (char)b;
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* Whether the len bytes at seg (which hold escapes) are the listed form of what
 * they stand for: escape(unescape(seg)) == seg. */
static int
escape_canonical(const char *seg, size_t len, bool *ret_ok)
{
	char *raw = malloc(len + 1), *again = NULL;
	int r;

	if (!raw)
		return CF_ENOMEM;
	memcpy(raw, seg, len);
	raw[len] = '\0';
	path_unescape(raw);
	r = path_escape(raw, &again);
	if (r == 0)
		*ret_ok = strlen(again) == len && memcmp(again, seg, len) == 0;
	free(again);
	free(raw);
	return r;
}

/* Checks one segment; on a problem writes it to err and returns CF_EINVAL. off
 * is the segment's offset in the path, for the message. */
static int
check_segment(const char *seg, size_t len, size_t off, unsigned flags, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)seg;
	bool escapes = false, ok = false;
	const char *why;
	size_t i = 0;
	int r;

	if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
		snprintf(err, errlen, "a \"%.*s\" segment at byte %zu", (int)len, seg, off);
		return CF_EINVAL;
	}
	while (i < len) {
		unsigned char c = s[i];
		size_t k;

		if (c == 0) {
			snprintf(err, errlen, "a NUL byte at byte %zu", off + i);
			return CF_EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "a control character (0x%02x) at byte %zu", c,
			         off + i);
			return CF_EINVAL;
		}
		if (c == '\\') {
			int b = i + 4 <= len ? escape_at(seg + i) : -1;
			if (b <= 0) {
				snprintf(err, errlen,
				         "a backslash at byte %zu that does not start a \\xHH "
				         "escape "
				         "(two lowercase hex digits, not \\x00)",
				         off + i);
				return CF_EINVAL;
			}
			escapes = true;
			i += 4;
			continue;
		}
		k = utf8_seq(s + i, len - i, &why);
		if (k == 0 && (flags & PATH_LEGACY_BYTES))
			k = 1;
		if (k == 0) {
			snprintf(err, errlen, "%s (byte 0x%02x) at byte %zu: paths must be UTF-8",
			         why, c, off + i);
			return CF_EINVAL;
		}
		i += k;
	}
	if (!escapes)
		return 0;
	r = escape_canonical(seg, len, &ok);
	if (r < 0)
		return r;
	if (!ok) {
		snprintf(err, errlen,
		         "a \\xHH escape in the segment at byte %zu stands for text that lists "
		         "show unescaped (only control characters, backslashes and bytes that "
		         "are not UTF-8 are escaped)",
		         off);
		return CF_EINVAL;
	}
	return 0;
}

int
path_normalize(const char *in, size_t len, unsigned flags, char **ret, char *err, size_t errlen)
{
	size_t i = 0, depth = 0;
	char *out, *w;
	int r;

	if (len > PATH_MAX_BYTES) {
		snprintf(err, errlen, "longer than %d bytes", PATH_MAX_BYTES);
		return CF_EINVAL;
	}
	out = malloc(len + 1);
	if (!out)
		return CF_ENOMEM;
	w = out;
	while (i < len) {
		const char *e;
		size_t seglen;

		while (i < len && in[i] == '/')
			i++;
		if (i == len)
			break;
		e = memchr(in + i, '/', len - i);
		seglen = e ? (size_t)(e - (in + i)) : len - i;
		r = check_segment(in + i, seglen, i, flags, err, errlen);
		if (r < 0)
			goto fail;
		if (++depth > PATH_MAX_SEGMENTS) {
			snprintf(err, errlen, "more than %d segments", PATH_MAX_SEGMENTS);
			r = CF_EINVAL;
			goto fail;
		}
		if (w != out)
			*w++ = '/';
		memcpy(w, in + i, seglen);
		w += seglen;
		i += seglen;
	}
	if (w == out) {
		r = CF_ENOROUTE;
		goto fail;
	}
	/* A trailing '/' is significant for LIST. */
	if (in[len - 1] == '/')
		*w++ = '/';
	*w = '\0';
	*ret = out;
	return 0;
fail:
	free(out);
	return r;
}
