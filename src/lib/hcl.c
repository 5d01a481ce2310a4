/* hcl.c - the HCL subset coffer needs for ACL policies, parsed into jansson JSON.
 *
 * A hand-written recursive descent parser over bytes. Recursion is bounded by
 * HCL_MAX_DEPTH (every '{', '[' and block label counts one level), so hostile
 * input cannot exhaust the stack. Every error carries the line and column
 * (1-based, columns counted in bytes) where it was noticed. */
#include "lib/hcl.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HCL_MAX_DEPTH  32
#define HCL_MAX_NUMBER 64 /* longest numeric literal we accept, in bytes */
/* A decoded string literal is never longer than the input it came from (an
 * escape is shorter than what it stands for), so that bounds its buffer. */
#define HCL_STRING_MAX(h) ((h)->len + 1)

struct hcl {
	const char *s;
	size_t len;
	size_t pos;
	unsigned line;
	unsigned col;
	char *err;
	size_t errlen;
	json_t *lines;  /* hcl_parse_lines: key path -> line, or NULL */
	char path[256]; /* the key path being parsed, "a/b/c" */
	size_t plen;
};

/* A position saved at the start of a token, for error messages. */
struct hcl_mark {
	unsigned line;
	unsigned col;
};

static int hcl_value(struct hcl *h, unsigned depth, json_t **ret);
static int hcl_body(struct hcl *h, json_t *obj, unsigned depth, bool braced);

static void __attribute__((format(printf, 3, 4)))
hcl_error_at(struct hcl *h, const struct hcl_mark *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->err == NULL || h->errlen == 0)
		return;
	n = snprintf(h->err, h->errlen, "line %u, column %u: ", m->line, m->col);
	if (n < 0 || (size_t)n >= h->errlen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(h->err + n, h->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static struct hcl_mark
hcl_mark(const struct hcl *h)
{
	struct hcl_mark m = {h->line, h->col};
	return m;
}

/* Returns CF_EINVAL after writing the message at the current position. */
static int __attribute__((format(printf, 2, 3))) hcl_fail(struct hcl *h, const char *fmt, ...)
{
	struct hcl_mark m = hcl_mark(h);
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hcl_error_at(h, &m, "%s", msg);
	return CF_EINVAL;
}

static int
hcl_peek(const struct hcl *h)
{
	return h->pos < h->len ? (unsigned char)h->s[h->pos] : -1;
}

static int
hcl_peek_at(const struct hcl *h, size_t off)
{
	return h->pos + off < h->len ? (unsigned char)h->s[h->pos + off] : -1;
}

static void
hcl_advance(struct hcl *h)
{
	if (h->pos >= h->len)
		return;
	if (h->s[h->pos] == '\n') {
		h->line++;
		h->col = 1;
	} else {
		h->col++;
	}
	h->pos++;
}

/* UTF-8 encoding of one code point (already checked to be a scalar value). */
static int
put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF). */
static bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* Wraps a finished byte string as a JSON string. */
static int
hcl_string_json(struct hcl *h, const struct hcl_mark *m, struct buf *b, json_t **ret)
{
	json_t *j;

	if (!utf8_valid(buf_str(b), buf_len(b))) {
		hcl_error_at(h, m, "string is not valid UTF-8");
		return CF_EINVAL;
	}
	j = json_stringn(buf_str(b), buf_len(b));
	if (j == NULL)
		return CF_ENOMEM;
	*ret = j;
	return 0;
}

/* Skips blanks, newlines and comments. */
static int
hcl_skip(struct hcl *h)
{
	for (;;) {
		int c = hcl_peek(h);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			hcl_advance(h);
		} else if (c == '#' || (c == '/' && hcl_peek_at(h, 1) == '/')) {
			while (hcl_peek(h) != -1 && hcl_peek(h) != '\n')
				hcl_advance(h);
		} else if (c == '/' && hcl_peek_at(h, 1) == '*') {
			struct hcl_mark m = hcl_mark(h);
			hcl_advance(h);
			hcl_advance(h);
			for (;;) {
				if (hcl_peek(h) == -1) {
					hcl_error_at(h, &m, "unterminated comment");
					return CF_EINVAL;
				}
				if (hcl_peek(h) == '*' && hcl_peek_at(h, 1) == '/') {
					hcl_advance(h);
					hcl_advance(h);
					break;
				}
				hcl_advance(h);
			}
		} else {
			return 0;
		}
	}
}

static bool
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Reads the bare identifier at the cursor into a new string. */
static int
hcl_ident(struct hcl *h, char **ret)
{
	size_t start = h->pos, n;
	char *s;

	while (is_ident(hcl_peek(h)))
		hcl_advance(h);
	n = h->pos - start;
	s = malloc(n + 1);
	if (s == NULL)
		return CF_ENOMEM;
	memcpy(s, h->s + start, n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

/* A quoted string; the cursor is on the opening quote. Result is NUL-free UTF-8. */
static int
hcl_quoted(struct hcl *h, struct buf *b)
{
	struct hcl_mark start = hcl_mark(h);
	int r;

	hcl_advance(h);
	for (;;) {
		int c = hcl_peek(h);

		if (c == -1 || c == '\n') {
			hcl_error_at(h, &start, "unterminated string");
			return CF_EINVAL;
		}
		if (c == '\0')
			return hcl_fail(h, "NUL byte in string");
		if (c == '"') {
			hcl_advance(h);
			return 0;
		}
		if (c != '\\') {
			r = buf_append_char(b, (char)c);
			if (r < 0)
				return r;
			hcl_advance(h);
			continue;
		}
		hcl_advance(h);
		c = hcl_peek(h);
		switch (c) {
		case '"':
		case '\\':
		case '/':
			r = buf_append_char(b, (char)c);
			break;
		case 'n':
			r = buf_append_char(b, '\n');
			break;
		case 't':
			r = buf_append_char(b, '\t');
			break;
		case 'r':
			r = buf_append_char(b, '\r');
			break;
		case 'u':
		case 'U': {
			size_t ndig = c == 'u' ? 4 : 8;
			uint32_t cp = 0;
			for (size_t i = 1; i <= ndig; i++) {
				int d = util_hex_digit(hcl_peek_at(h, i));
				if (d < 0)
					return hcl_fail(h, "invalid \\%c escape", c);
				cp = cp << 4 | (uint32_t)d;
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return hcl_fail(h, "invalid code point in \\%c escape", c);
			for (size_t i = 0; i < ndig; i++)
				hcl_advance(h);
			r = put_utf8(b, cp);
			break;
		}
		default:
			return hcl_fail(h, "unknown escape sequence");
		}
		if (r < 0)
			return r;
		hcl_advance(h);
	}
}

/* Heredoc <<EOF / <<-EOF; the cursor is on the first '<'. The closing marker is
 * alone on a line, optionally indented. With '-', the closing marker's
 * indentation is removed from every line when all lines carry it (as HCL 1). */
static int
hcl_heredoc(struct hcl *h, struct buf *b)
{
	struct hcl_mark start = hcl_mark(h);
	const char *marker, *indent = NULL;
	size_t mlen, body, body_end = 0, indent_len = 0, p;
	bool dash = false, found = false;
	int r;

	hcl_advance(h);
	hcl_advance(h);
	if (hcl_peek(h) == '-') {
		dash = true;
		hcl_advance(h);
	}
	marker = h->s + h->pos;
	while (is_ident_start(hcl_peek(h)) || (hcl_peek(h) >= '0' && hcl_peek(h) <= '9'))
		hcl_advance(h);
	mlen = (size_t)(h->s + h->pos - marker);
	if (mlen == 0)
		return hcl_fail(h, "heredoc needs a marker after <<");
	if (hcl_peek(h) == '\r')
		hcl_advance(h);
	if (hcl_peek(h) != '\n')
		return hcl_fail(h, "heredoc marker must end the line");
	hcl_advance(h);

	/* Find the closing line. */
	body = h->pos;
	p = body;
	while (p < h->len) {
		size_t ls = p, q, le;
		while (p < h->len && h->s[p] != '\n')
			p++;
		le = p; /* line is [ls, le) */
		q = ls;
		while (q < le && (h->s[q] == ' ' || h->s[q] == '\t'))
			q++;
		if (le - q >= mlen && memcmp(h->s + q, marker, mlen) == 0) {
			size_t t = q + mlen;
			while (t < le && h->s[t] == '\r')
				t++;
			if (t == le) {
				found = true;
				body_end = ls;
				indent = h->s + ls;
				indent_len = q - ls;
				/* Move the cursor to the end of the marker line. */
				while (h->pos < le)
					hcl_advance(h);
				break;
			}
		}
		if (p < h->len)
			p++;
	}
	if (!found) {
		hcl_error_at(h, &start, "unterminated heredoc");
		return CF_EINVAL;
	}
	if (memchr(h->s + body, '\0', body_end - body) != NULL) {
		hcl_error_at(h, &start, "NUL byte in heredoc");
		return CF_EINVAL;
	}
	if (dash && indent_len > 0) {
		bool all = true;
		for (p = body; p < body_end;) {
			size_t le = p;
			while (le < body_end && h->s[le] != '\n')
				le++;
			if (le - p < indent_len || memcmp(h->s + p, indent, indent_len) != 0)
				all = false;
			p = le + 1;
		}
		if (all) {
			for (p = body; p < body_end;) {
				size_t le = p;
				while (le < body_end && h->s[le] != '\n')
					le++;
				r = buf_append(b, h->s + p + indent_len, le - p - indent_len);
				if (r < 0)
					return r;
				r = buf_append_char(b, '\n');
				if (r < 0)
					return r;
				p = le + 1;
			}
			return 0;
		}
	}
	r = buf_append(b, h->s + body, body_end - body);
	return r;
}

/* Numbers: -?digits(.digits)?([eE][+-]?digits)? -> integer or real. */
static int
hcl_number(struct hcl *h, json_t **ret)
{
	struct hcl_mark m = hcl_mark(h);
	size_t start = h->pos, n;
	bool neg = false, real = false;
	char buf[HCL_MAX_NUMBER + 1];
	json_t *j;

	if (hcl_peek(h) == '-') {
		neg = true;
		hcl_advance(h);
	}
	if (!(hcl_peek(h) >= '0' && hcl_peek(h) <= '9'))
		return hcl_fail(h, "expected a digit");
	while (hcl_peek(h) >= '0' && hcl_peek(h) <= '9')
		hcl_advance(h);
	if (hcl_peek(h) == '.') {
		real = true;
		hcl_advance(h);
		if (!(hcl_peek(h) >= '0' && hcl_peek(h) <= '9'))
			return hcl_fail(h, "expected a digit after '.'");
		while (hcl_peek(h) >= '0' && hcl_peek(h) <= '9')
			hcl_advance(h);
	}
	if (hcl_peek(h) == 'e' || hcl_peek(h) == 'E') {
		real = true;
		hcl_advance(h);
		if (hcl_peek(h) == '+' || hcl_peek(h) == '-')
			hcl_advance(h);
		if (!(hcl_peek(h) >= '0' && hcl_peek(h) <= '9'))
			return hcl_fail(h, "expected a digit in exponent");
		while (hcl_peek(h) >= '0' && hcl_peek(h) <= '9')
			hcl_advance(h);
	}
	if (is_ident(hcl_peek(h)))
		return hcl_fail(h, "unexpected character after number");
	n = h->pos - start;
	if (n > HCL_MAX_NUMBER) {
		hcl_error_at(h, &m, "number too long");
		return CF_EINVAL;
	}
	memcpy(buf, h->s + start, n);
	buf[n] = '\0';
	if (real) {
		double d = strtod(buf, NULL);
		if (!isfinite(d)) {
			hcl_error_at(h, &m, "number out of range");
			return CF_EINVAL;
		}
		j = json_real(d);
	} else {
		/* Accumulate negatively so INT64_MIN fits. */
		int64_t v = 0;
		for (const char *p = buf + (neg ? 1 : 0); *p; p++) {
			int d = *p - '0';
			if (v < (INT64_MIN + d) / 10) {
				hcl_error_at(h, &m, "number out of range");
				return CF_EINVAL;
			}
			v = v * 10 - d;
		}
		if (!neg && v == INT64_MIN) {
			hcl_error_at(h, &m, "number out of range");
			return CF_EINVAL;
		}
		j = json_integer(neg ? v : -v);
	}
	if (j == NULL)
		return CF_ENOMEM;
	*ret = j;
	return 0;
}

static int
hcl_list(struct hcl *h, unsigned depth, json_t **ret)
{
	json_t *arr = NULL, *v = NULL;
	int r;

	if (depth >= HCL_MAX_DEPTH)
		return hcl_fail(h, "nesting too deep (limit %d)", HCL_MAX_DEPTH);
	arr = json_array();
	if (arr == NULL)
		return CF_ENOMEM;
	hcl_advance(h); /* '[' */
	for (;;) {
		r = hcl_skip(h);
		if (r < 0)
			goto out;
		if (hcl_peek(h) == ']') {
			hcl_advance(h);
			break;
		}
		r = hcl_value(h, depth + 1, &v);
		if (r < 0)
			goto out;
		if (json_array_append_new(arr, v) != 0) {
			r = CF_ENOMEM;
			goto out;
		}
		r = hcl_skip(h);
		if (r < 0)
			goto out;
		if (hcl_peek(h) == ',') {
			hcl_advance(h);
		} else if (hcl_peek(h) != ']') {
			r = hcl_fail(h, "expected ',' or ']' in list");
			goto out;
		}
	}
	*ret = arr;
	arr = NULL;
	r = 0;
out:
	json_decref(arr);
	return r;
}

static int
hcl_value(struct hcl *h, unsigned depth, json_t **ret)
{
	struct hcl_mark m;
	struct buf b;
	json_t *obj;
	char *id = NULL;
	int c, r;

	r = hcl_skip(h);
	if (r < 0)
		return r;
	m = hcl_mark(h);
	c = hcl_peek(h);
	if (c == '"' || (c == '<' && hcl_peek_at(h, 1) == '<')) {
		buf_init(&b, HCL_STRING_MAX(h), 0);
		r = c == '"' ? hcl_quoted(h, &b) : hcl_heredoc(h, &b);
		if (r == 0)
			r = hcl_string_json(h, &m, &b, ret);
		buf_free(&b);
		return r;
	}
	if (c == '[')
		return hcl_list(h, depth, ret);
	if (c == '{') {
		if (depth >= HCL_MAX_DEPTH)
			return hcl_fail(h, "nesting too deep (limit %d)", HCL_MAX_DEPTH);
		obj = json_object();
		if (obj == NULL)
			return CF_ENOMEM;
		hcl_advance(h);
		r = hcl_body(h, obj, depth + 1, true);
		if (r < 0) {
			json_decref(obj);
			return r;
		}
		*ret = obj;
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return hcl_number(h, ret);
	if (is_ident_start(c)) {
		r = hcl_ident(h, &id);
		if (r < 0)
			return r;
		if (strcmp(id, "true") == 0 || strcmp(id, "false") == 0) {
			*ret = json_boolean(id[0] == 't');
			r = 0;
		} else {
			hcl_error_at(h, &m, "unexpected identifier as value");
			r = CF_EINVAL;
		}
		free(id);
		return r;
	}
	if (c == -1)
		return hcl_fail(h, "expected a value, found end of input");
	return hcl_fail(h, "expected a value");
}

/* Stores val (stolen) under key in obj. An existing value is merged: objects key
 * by key, lists concatenated, equal scalars kept; anything else conflicts.
 * Recursion is bounded by the depth of the parsed objects. */
static int
hcl_merge(json_t *obj, const char *key, json_t *val, bool *ret_conflict)
{
	json_t *old = json_object_get(obj, key), *v;
	const char *k;
	int r = 0;

	if (old == NULL) {
		if (json_object_set_new(obj, key, val) != 0)
			return CF_ENOMEM;
		return 0;
	}
	if (json_is_object(old) && json_is_object(val)) {
		json_object_foreach(val, k, v)
		{
			r = hcl_merge(old, k, json_incref(v), ret_conflict);
			if (r < 0 || *ret_conflict)
				break;
		}
	} else if (json_is_array(old) && json_is_array(val)) {
		if (json_array_extend(old, val) != 0)
			r = CF_ENOMEM;
	} else if (!json_equal(old, val)) {
		*ret_conflict = true;
	}
	json_decref(val);
	return r;
}

/* Wraps body in one object per label, innermost last: a "x" "y" {b} ->
 * {"x": {"y": b}}. Steals body. */
static int
hcl_wrap_labels(char **labels, size_t n, json_t *body, json_t **ret)
{
	json_t *cur = body;

	for (size_t i = n; i > 0; i--) {
		json_t *o = json_object();
		if (o == NULL || json_object_set_new(o, labels[i - 1], cur) != 0) {
			json_decref(o);
			if (o == NULL)
				json_decref(cur);
			return CF_ENOMEM;
		}
		cur = o;
	}
	*ret = cur;
	return 0;
}

/* A key: bare identifier or quoted string (valid UTF-8, no NUL). */
static int
hcl_key(struct hcl *h, char **ret)
{
	struct hcl_mark m = hcl_mark(h);
	struct buf b;
	int r;

	buf_init(&b, HCL_STRING_MAX(h), 0);
	if (hcl_peek(h) == '"') {
		r = hcl_quoted(h, &b);
		if (r < 0)
			goto out;
		if (!utf8_valid(buf_str(&b), buf_len(&b))) {
			hcl_error_at(h, &m, "string is not valid UTF-8");
			r = CF_EINVAL;
			goto out;
		}
		r = buf_detach(&b, ret, NULL);
		goto out;
	}
	if (is_ident_start(hcl_peek(h)))
		return hcl_ident(h, ret);
	r = hcl_fail(h, hcl_peek(h) == -1 ? "unexpected end of input"
	                                  : "expected a key (identifier or string)");
out:
	buf_free(&b);
	return r;
}

/* hcl_parse_lines: appends seg to the key path and records the line where it
 * starts (the first time that path is seen). Returns the path's old length, to
 * restore afterwards. A path too long for the buffer is not recorded. */
static size_t
hcl_path_push(struct hcl *h, const char *seg, unsigned line)
{
	size_t old = h->plen, room = sizeof(h->path) - old;
	int n;

	if (h->lines == NULL || old >= sizeof(h->path))
		return old;
	n = snprintf(h->path + old, room, "%s%s", old ? "/" : "", seg);
	if (n < 0 || (size_t)n >= room) {
		h->path[old] = '\0';
		h->plen = sizeof(h->path); /* full: nothing deeper is recorded */
		return old;
	}
	h->plen = old + (size_t)n;
	if (json_object_get(h->lines, h->path) == NULL)
		(void)json_object_set_new(h->lines, h->path, json_integer(line));
	return old;
}

static void
hcl_path_pop(struct hcl *h, size_t old)
{
	if (h->lines == NULL)
		return;
	h->plen = old;
	if (old < sizeof(h->path))
		h->path[old] = '\0';
}

/* Attributes and blocks until '}' (braced) or end of input. */
static int
hcl_body(struct hcl *h, json_t *obj, unsigned depth, bool braced)
{
	char *key = NULL, *labels[HCL_MAX_DEPTH];
	size_t nlabels = 0;
	json_t *val = NULL;
	struct hcl_mark km;
	bool conflict = false;
	size_t pold = h->plen;
	int r;

	for (;;) {
		r = hcl_skip(h);
		if (r < 0)
			goto out;
		if (hcl_peek(h) == -1) {
			if (braced) {
				r = hcl_fail(h, "expected '}', found end of input");
				goto out;
			}
			break;
		}
		if (braced && hcl_peek(h) == '}') {
			hcl_advance(h);
			break;
		}
		km = hcl_mark(h);
		r = hcl_key(h, &key);
		if (r < 0)
			goto out;
		(void)hcl_path_push(h, key, km.line);
		r = hcl_skip(h);
		if (r < 0)
			goto out;
		if (hcl_peek(h) == '=') {
			hcl_advance(h);
			r = hcl_value(h, depth, &val);
			if (r < 0)
				goto out;
		} else {
			/* Block: key label* { body } */
			for (;;) {
				struct hcl_mark lm;
				int c = hcl_peek(h);
				if (c == '{')
					break;
				if (c != '"' && !is_ident_start(c)) {
					r = hcl_fail(h, "expected '=', a block label or '{'");
					goto out;
				}
				if (depth + nlabels + 1 >= HCL_MAX_DEPTH) {
					r = hcl_fail(h, "nesting too deep (limit %d)",
					             HCL_MAX_DEPTH);
					goto out;
				}
				lm = hcl_mark(h);
				r = hcl_key(h, &labels[nlabels]);
				if (r < 0)
					goto out;
				(void)hcl_path_push(h, labels[nlabels], lm.line);
				nlabels++;
				r = hcl_skip(h);
				if (r < 0)
					goto out;
			}
			r = hcl_value(h, depth + (unsigned)nlabels, &val);
			if (r < 0)
				goto out;
			r = hcl_wrap_labels(labels, nlabels, val, &val);
			if (r < 0) {
				val = NULL;
				goto out;
			}
		}
		r = hcl_merge(obj, key, val, &conflict);
		val = NULL;
		if (r < 0)
			goto out;
		if (conflict) {
			hcl_error_at(h, &km, "conflicting values for \"%s\"", key);
			r = CF_EINVAL;
			goto out;
		}
		free(key); /* not secret: an HCL attribute name */
		key = NULL;
		while (nlabels > 0)
			free(labels[--nlabels]);
		hcl_path_pop(h, pold);
		/* HCL 1 allows a comma after an item. */
		r = hcl_skip(h);
		if (r < 0)
			goto out;
		if (hcl_peek(h) == ',')
			hcl_advance(h);
	}
	r = 0;
out:
	json_decref(val);
	free(key); /* not secret: an HCL attribute name */
	while (nlabels > 0)
		free(labels[--nlabels]);
	hcl_path_pop(h, pold);
	return r;
}

int
hcl_parse(const char *text, size_t len, json_t **ret, char *err, size_t errlen)
{
	return hcl_parse_lines(text, len, ret, NULL, err, errlen);
}

int
hcl_parse_lines(const char *text, size_t len, json_t **ret, json_t **ret_lines, char *err,
                size_t errlen)
{
	struct hcl h = {text, len, 0, 1, 1, err, errlen, NULL, {0}, 0};
	json_t *obj = NULL;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL && len > 0)
		return CF_EINVAL;
	if (text == NULL)
		h.s = "";
	obj = json_object();
	if (obj == NULL)
		return CF_ENOMEM;
	if (ret_lines != NULL) {
		h.lines = json_object();
		if (h.lines == NULL) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	r = hcl_body(&h, obj, 0, false);
	if (r < 0)
		goto out;
	*ret = obj;
	obj = NULL;
	if (ret_lines != NULL) {
		*ret_lines = h.lines;
		h.lines = NULL;
	}
out:
	json_decref(h.lines);
	json_decref(obj);
	return r;
}
