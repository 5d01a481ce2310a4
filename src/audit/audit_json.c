/* audit_json.c - a small append-only JSON writer for audit entries.
 *
 * Building a jansson tree per entry and dumping it cost most of an entry's time
 * (allocations per node, per-character escaping); entries are instead written
 * straight into a buffer that starts on the caller's stack. The output is compact
 * JSON, strings are valid UTF-8 (invalid bytes become U+FFFD) so that every line
 * parses with a strict parser. */
#include "audit/audit_int.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
audit_json_init(struct audit_json *w, char *stackbuf, size_t cap)
{
	w->p = stackbuf;
	w->len = 0;
	w->cap = cap;
	w->heap = false;
	w->oom = false;
	w->comma = false;
}

void
audit_json_free(struct audit_json *w, bool wipe)
{
	if (wipe && w->p)
		secmem_wipe(w->p, w->len);
	if (w->heap)
		free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
	w->heap = false;
}

static bool
grow(struct audit_json *w, size_t n)
{
	size_t cap;
	char *p;

	if (w->oom)
		return false;
	if (w->len + n + 1 > AUDIT_LINE_MAX) {
		w->oom = true;
		return false;
	}
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n + 1)
		cap *= 2;
	p = malloc(cap);
	if (!p) {
		w->oom = true;
		return false;
	}
	memcpy(p, w->p, w->len);
	if (w->heap) {
		/* the old buffer may hold log_raw plaintext */
		secmem_free(w->p, w->len);
	}
	w->p = p;
	w->cap = cap;
	w->heap = true;
	return true;
}

static inline bool
reserve(struct audit_json *w, size_t n)
{
	if (w->len + n + 1 <= w->cap && !w->oom)
		return true;
	return grow(w, n);
}

static void
put(struct audit_json *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void
putc1(struct audit_json *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->p[w->len++] = c;
	w->p[w->len] = '\0';
}

static void
sep(struct audit_json *w)
{
	if (w->comma)
		putc1(w, ',');
}

void
audit_json_open(struct audit_json *w, char c)
{
	sep(w);
	putc1(w, c);
	w->comma = false;
}

void
audit_json_close(struct audit_json *w, char c)
{
	putc1(w, c);
	w->comma = true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* 1 for the bytes a JSON string may hold as they are (ASCII except controls, '"'
 * and '\\'); bytes >= 0x80 are checked as UTF-8 separately. */
static const unsigned char plain[256] = {
        [0x20] = 1,
        [0x21] = 1,
        [0x23 ... 0x5b] = 1,
        [0x5d ... 0x7f] = 1,
};

static void
put_escaped(struct audit_json *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, start = 0, l;
	char esc[8];

	putc1(w, '"');
	while (i < n) {
		while (i < n && plain[s[i]])
			i++;
		if (i == n)
			break;
		if (s[i] >= 0x80) {
			l = utf8_len(s + i, n - i);
			if (l > 0) {
				i += l;
				continue;
			}
		}
		put(w, (const char *)s + start, i - start);
		if (s[i] >= 0x80) {
			put(w, "\\ufffd", 6);
		} else if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			put(w, esc, 2);
		} else if (s[i] == '\n') {
			put(w, "\\n", 2);
		} else if (s[i] == '\t') {
			put(w, "\\t", 2);
		} else if (s[i] == '\r') {
			put(w, "\\r", 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 15];
			put(w, esc, 6);
		}
		i++;
		start = i;
	}
	put(w, (const char *)s + start, i - start);
	putc1(w, '"');
}

void
audit_json_safe(struct audit_json *w, const char *s, size_t n)
{
	sep(w);
	if (!reserve(w, n + 2))
		return;
	w->p[w->len++] = '"';
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len++] = '"';
	w->p[w->len] = '\0';
	w->comma = true;
}

void
audit_json_key(struct audit_json *w, const char *k)
{
	audit_json_keyn(w, k, strlen(k));
}

void
audit_json_keyn(struct audit_json *w, const char *k, size_t n)
{
	sep(w);
	put_escaped(w, k, n);
	putc1(w, ':');
	w->comma = false;
}

void
audit_json_str(struct audit_json *w, const char *s, size_t n)
{
	sep(w);
	put_escaped(w, s, n);
	w->comma = true;
}

void
audit_json_cstr(struct audit_json *w, const char *s)
{
	audit_json_str(w, s, strlen(s));
}

void
audit_json_path(struct audit_json *w, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)path;
	size_t n = strlen(path), i, l;
	char *esc, *q;

	for (i = 0; i < n; i += l) {
		l = s[i] >= 0x80 ? utf8_len(s + i, n - i) : (s[i] >= 0x20 && s[i] != 0x7f);
		if (l == 0)
			break;
	}
	if (i == n) {
		audit_json_str(w, path, n);
		return;
	}
	/* Bytes that are not UTF-8, and controls, as %XX: the path stays readable
	 * and nothing of it is lost (U+FFFD would lose the byte). */
	esc = malloc(3 * n + 1);
	if (!esc) {
		w->oom = true;
		return;
	}
	q = esc;
	for (i = 0; i < n; i += l) {
		l = s[i] >= 0x80 ? utf8_len(s + i, n - i) : (s[i] >= 0x20 && s[i] != 0x7f);
		if (l > 0) {
			memcpy(q, s + i, l);
			q += l;
			continue;
		}
		*q++ = '%';
		*q++ = hex[s[i] >> 4];
		*q++ = hex[s[i] & 15];
		l = 1;
	}
	audit_json_str(w, esc, (size_t)(q - esc));
	free(esc);
}

void
audit_json_int(struct audit_json *w, int64_t v)
{
	char buf[24], *e = buf + sizeof(buf), *p = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	sep(w);
	put(w, p, (size_t)(e - p));
	w->comma = true;
}

void
audit_json_real(struct audit_json *w, double v)
{
	char buf[40];
	int n = snprintf(buf, sizeof(buf), "%.17g", v);

	sep(w);
	w->comma = true;
	if (n <= 0 || (size_t)n >= sizeof(buf) || strpbrk(buf, "ni")) { /* nan, inf */
		put(w, "null", 4);
		return;
	}
	put(w, buf, (size_t)n);
	if (!strpbrk(buf, ".eE"))
		put(w, ".0", 2);
}

void
audit_json_lit(struct audit_json *w, const char *lit)
{
	sep(w);
	put(w, lit, strlen(lit));
	w->comma = true;
}

void
audit_json_bool(struct audit_json *w, bool v)
{
	audit_json_lit(w, v ? "true" : "false");
}

void
audit_json_scalar(struct audit_json *w, json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		audit_json_str(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		audit_json_int(w, (int64_t)json_integer_value(v));
		break;
	case JSON_REAL:
		audit_json_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		audit_json_lit(w, "true");
		break;
	case JSON_FALSE:
		audit_json_lit(w, "false");
		break;
	default:
		audit_json_lit(w, "null");
		break;
	}
}

void
audit_json_value(struct audit_json *w, json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		audit_json_open(w, '{');
		json_object_foreach(v, k, x)
		{
			audit_json_key(w, k);
			audit_json_value(w, x);
		}
		audit_json_close(w, '}');
	} else if (json_is_array(v)) {
		audit_json_open(w, '[');
		json_array_foreach(v, i, x) audit_json_value(w, x);
		audit_json_close(w, ']');
	} else {
		audit_json_scalar(w, v);
	}
}
