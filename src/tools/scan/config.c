/* config.c - `.coffer-scan.toml`: a TOML subset parser into a small tree,
 * then the tree read into rules and allowlists (config.h,
 * docs/scanner.md "Configuration (.coffer-scan.toml)"). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tools/scan/config.h"

#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_FILE  (1024u * 1024) /* a config larger than this is refused */
#define CONFIG_MAX_DEPTH 32             /* nested arrays */

static const char default_hint[] =
        "remove it, rotate it, and load it from the environment or a secrets manager";

/* ---- the TOML tree ---- */

enum tv_kind { TV_STR, TV_INT, TV_FLOAT, TV_BOOL, TV_ARR, TV_TAB };

struct tent;

struct tval {
	enum tv_kind kind;
	size_t line;
	char *s; /* TV_STR, NUL-terminated (NUL inside is refused) */
	long long i;
	double f;
	bool b;
	struct tval **items; /* TV_ARR */
	size_t n;
	bool aot;          /* TV_ARR made by [[...]] */
	struct tent *ents; /* TV_TAB */
	size_t nents;
	bool defined;  /* TV_TAB: named by a [header] or assigned with dotted keys */
	bool implicit; /* TV_TAB: only created as the parent of something */
};

struct tent {
	char *name;
	struct tval *v;
};

struct parser {
	const char *p, *end;
	size_t line;
	const char *name;
	char *err;
	size_t errlen;
	int depth;
};

static void tval_free(struct tval *v);

static void
tval_free(struct tval *v)
{
	if (!v)
		return;
	free(v->s);
	for (size_t i = 0; i < v->n; i++)
		tval_free(v->items[i]);
	free(v->items);
	for (size_t i = 0; i < v->nents; i++) {
		free(v->ents[i].name);
		tval_free(v->ents[i].v);
	}
	free(v->ents);
	free(v);
}

static struct tval *
tval_new(enum tv_kind kind, size_t line)
{
	struct tval *v = calloc(1, sizeof(*v));

	if (v) {
		v->kind = kind;
		v->line = line;
	}
	return v;
}

static int perr(struct parser *ps, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Sets err to "name:line: message" and returns CF_EINVAL. */
static int
perr(struct parser *ps, size_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* keys and values quoted in the message stay on one line */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (ps->err && ps->errlen)
		(void)snprintf(ps->err, ps->errlen, "%s:%zu: %s", ps->name, line, msg);
	return CF_EINVAL;
}

static struct tval *
tab_get(const struct tval *t, const char *name)
{
	for (size_t i = 0; i < t->nents; i++)
		if (strcmp(t->ents[i].name, name) == 0)
			return t->ents[i].v;
	return NULL;
}

/* Adds name = v to table t (takes v and name). */
static int
tab_put(struct tval *t, char *name, struct tval *v)
{
	struct tent *k = realloc(t->ents, (t->nents + 1) * sizeof(*k));

	if (!k)
		return CF_ENOMEM;
	t->ents = k;
	k[t->nents].name = name;
	k[t->nents].v = v;
	t->nents++;
	return 0;
}

static int
arr_push(struct tval *a, struct tval *v)
{
	struct tval **items = realloc(a->items, (a->n + 1) * sizeof(*items));

	if (!items)
		return CF_ENOMEM;
	a->items = items;
	items[a->n++] = v;
	return 0;
}

/* ---- lexing ---- */

struct buf {
	char *s;
	size_t n, cap;
};

static int
buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p)
			return CF_ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static bool
at_newline(const struct parser *ps)
{
	return ps->p < ps->end &&
	       (*ps->p == '\n' || (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'));
}

static void
eat_newline(struct parser *ps)
{
	if (*ps->p == '\r')
		ps->p++;
	ps->p++;
	ps->line++;
}

/* A comment: '#' to the end of the line; control characters other than tab
 * are refused, as TOML says. */
static int
skip_comment(struct parser *ps)
{
	if (ps->p >= ps->end || *ps->p != '#')
		return 0;
	for (; ps->p < ps->end && *ps->p != '\n'; ps->p++) {
		unsigned char c = (unsigned char)*ps->p;

		if (c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(ps, ps->line, "control character in a comment");
	}
	return 0;
}

/* After a key/value pair or a header: spaces, a comment, then a newline or
 * the end. */
static int
end_of_line(struct parser *ps)
{
	int r;

	skip_ws(ps);
	r = skip_comment(ps);
	if (r < 0)
		return r;
	if (ps->p >= ps->end)
		return 0;
	if (!at_newline(ps))
		return perr(ps, ps->line,
		            "unexpected '%c' after the value (one key = value per line)",
		            isprint((unsigned char)*ps->p) ? *ps->p : '?');
	eat_newline(ps);
	return 0;
}

/* Whitespace, newlines and comments inside an array. */
static int
skip_blank(struct parser *ps)
{
	int r;

	for (;;) {
		skip_ws(ps);
		r = skip_comment(ps);
		if (r < 0)
			return r;
		if (!at_newline(ps))
			return 0;
		eat_newline(ps);
	}
}

static int
put_utf8(struct buf *b, uint32_t c)
{
	char u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return buf_put(b, u, n);
}

/* An escape in a basic string; ps->p is just past the backslash. */
static int
escape(struct parser *ps, struct buf *b)
{
	uint32_t c = 0;
	int digits;
	char e;

	if (ps->p >= ps->end)
		return perr(ps, ps->line, "unterminated string");
	e = *ps->p++;
	switch (e) {
	case 'b':
		return buf_put(b, "\b", 1);
	case 't':
		return buf_put(b, "\t", 1);
	case 'n':
		return buf_put(b, "\n", 1);
	case 'f':
		return buf_put(b, "\f", 1);
	case 'r':
		return buf_put(b, "\r", 1);
	case 'e':
		return buf_put(b, "\x1b", 1);
	case '"':
		return buf_put(b, "\"", 1);
	case '\\':
		return buf_put(b, "\\", 1);
	case 'u':
		digits = 4;
		break;
	case 'U':
		digits = 8;
		break;
	default:
		return perr(ps, ps->line, "unknown escape \\%c in a string (use '...' for regexes)",
		            isprint((unsigned char)e) ? e : '?');
	}
	for (int i = 0; i < digits; i++) {
		int h;

		if (ps->p >= ps->end || !isxdigit((unsigned char)*ps->p))
			return perr(ps, ps->line, "\\%c needs %d hex digits", e, digits);
		h = *ps->p++;
		c = c * 16 + (uint32_t)(isdigit(h) ? h - '0' : (tolower(h) - 'a' + 10));
	}
	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return perr(ps, ps->line, "\\%c escape is not a valid character here", e);
	return put_utf8(b, c);
}

/* A string; ps->p is on the opening quote. */
static int
string(struct parser *ps, char **ret)
{
	char q = *ps->p;
	bool multi = ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q;
	size_t start_line = ps->line;
	struct buf b = {0};
	int r = 0;

	ps->p += multi ? 3 : 1;
	if (multi && at_newline(ps))
		eat_newline(ps);
	r = buf_put(&b, "", 0);
	while (r == 0) {
		unsigned char c;

		if (ps->p >= ps->end) {
			r = perr(ps, start_line, "unterminated string");
			break;
		}
		c = (unsigned char)*ps->p;
		if (c == (unsigned char)q) {
			size_t nq = 0;

			while (ps->p + nq < ps->end && ps->p[nq] == q)
				nq++;
			if (!multi) {
				ps->p++;
				break;
			}
			if (nq >= 3) {
				if (nq > 5) {
					r = perr(ps, ps->line,
					         "too many quotes at the end of a string");
					break;
				}
				r = buf_put(&b, ps->p, nq - 3);
				ps->p += nq;
				break;
			}
			r = buf_put(&b, ps->p, nq);
			ps->p += nq;
			continue;
		}
		if (at_newline(ps)) {
			if (!multi) {
				r = perr(ps, ps->line,
				         "unterminated string (use \"\"\" for several lines)");
				break;
			}
			r = buf_put(&b, "\n", 1);
			eat_newline(ps);
			continue;
		}
		if (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f) {
			r = perr(ps, ps->line, "control character in a string");
			break;
		}
		if (c == '\\' && q == '"') {
			const char *s = ps->p + 1;

			/* line-ending backslash: drop the newline and the blanks after it */
			if (multi) {
				while (s < ps->end && (*s == ' ' || *s == '\t'))
					s++;
				if (s < ps->end && (*s == '\n' || (*s == '\r' && s + 1 < ps->end &&
				                                   s[1] == '\n'))) {
					ps->p = s;
					while (ps->p < ps->end) {
						if (at_newline(ps))
							eat_newline(ps);
						else if (*ps->p == ' ' || *ps->p == '\t')
							ps->p++;
						else
							break;
					}
					continue;
				}
			}
			ps->p++;
			r = escape(ps, &b);
			continue;
		}
		r = buf_put(&b, ps->p, 1);
		ps->p++;
	}
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s;
	return 0;
}

static bool
bare_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* A dotted key: parts in *ret (free each and the array). */
static int
key_path(struct parser *ps, char ***ret, size_t *ret_n)
{
	char **parts = NULL, *part = NULL, **np;
	size_t n = 0;
	int r = 0;

	for (;;) {
		skip_ws(ps);
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
			const char *s = ps->p;

			if (ps->end - s >= 3 && s[1] == s[0] && s[2] == s[0]) {
				r = perr(ps, ps->line, "a key cannot be a multi-line string");
				break;
			}
			r = string(ps, &part);
			if (r < 0)
				break;
		} else {
			const char *s = ps->p;

			while (ps->p < ps->end && bare_key_char(*ps->p))
				ps->p++;
			if (ps->p == s) {
				r = perr(ps, ps->line, "expected a key");
				break;
			}
			part = strndup(s, (size_t)(ps->p - s));
			if (!part) {
				r = CF_ENOMEM;
				break;
			}
		}
		np = realloc(parts, (n + 1) * sizeof(*np));
		if (!np) {
			r = CF_ENOMEM;
			break;
		}
		parts = np;
		parts[n++] = part;
		part = NULL;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			continue;
		}
		break;
	}
	free(part);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(parts[i]);
		free(parts);
		return r;
	}
	*ret = parts;
	*ret_n = n;
	return 0;
}

static void
free_parts(char **parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
	free(parts);
}

/* Strips '_' between digits into out; false when an underscore is not
 * between two digits. */
static bool
strip_underscores(const char *s, size_t n, char *out, bool hex)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			bool l = i > 0 && (hex ? isxdigit((unsigned char)s[i - 1])
			                       : isdigit((unsigned char)s[i - 1]));
			bool rr = i + 1 < n && (hex ? isxdigit((unsigned char)s[i + 1])
			                            : isdigit((unsigned char)s[i + 1]));
			if (!l || !rr)
				return false;
			continue;
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	return true;
}

/* Is s (digits, '.', 'e', sign) a TOML decimal float or integer? */
static bool
decimal_ok(const char *s, bool *is_float)
{
	const char *p = s;
	size_t nd = 0;

	*is_float = false;
	if (*p == '+' || *p == '-')
		p++;
	if (*p == '0' && isdigit((unsigned char)p[1]))
		return false; /* leading zero */
	while (isdigit((unsigned char)*p)) {
		p++;
		nd++;
	}
	if (nd == 0)
		return false;
	if (*p == '.') {
		*is_float = true;
		p++;
		nd = 0;
		while (isdigit((unsigned char)*p)) {
			p++;
			nd++;
		}
		if (nd == 0)
			return false;
	}
	if (*p == 'e' || *p == 'E') {
		*is_float = true;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		nd = 0;
		while (isdigit((unsigned char)*p)) {
			p++;
			nd++;
		}
		if (nd == 0)
			return false;
	}
	return *p == '\0';
}

/* A number, boolean, or a refused date; ps->p is on its first byte. */
static int
scalar(struct parser *ps, struct tval *v)
{
	const char *s = ps->p;
	char tmp[128], *endp;
	size_t n;
	bool is_float;

	while (ps->p < ps->end &&
	       (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '+' || *ps->p == '-' ||
	        *ps->p == '.' || *ps->p == ':'))
		ps->p++;
	n = (size_t)(ps->p - s);
	if (n == 0)
		return perr(ps, ps->line, "expected a value");
	if (n >= sizeof(tmp))
		return perr(ps, ps->line, "value too long");
	if (n == 4 && memcmp(s, "true", 4) == 0) {
		v->kind = TV_BOOL;
		v->b = true;
		return 0;
	}
	if (n == 5 && memcmp(s, "false", 5) == 0) {
		v->kind = TV_BOOL;
		v->b = false;
		return 0;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strchr(tmp, ':') || (n >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-'))
		return perr(ps, ps->line, "dates and times are not supported here");
	{
		const char *t = tmp + (tmp[0] == '+' || tmp[0] == '-');

		if (strcmp(t, "inf") == 0 || strcmp(t, "nan") == 0) {
			v->kind = TV_FLOAT;
			v->f = strcmp(t, "inf") == 0 ? (tmp[0] == '-' ? -INFINITY : INFINITY) : NAN;
			return 0;
		}
	}
	if (tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'o' || tmp[1] == 'b')) {
		int base = tmp[1] == 'x' ? 16 : tmp[1] == 'o' ? 8 : 2;
		char digits[128];

		if (tmp[2] == '\0' || tmp[2] == '_' ||
		    !strip_underscores(tmp + 2, n - 2, digits, base == 16))
			return perr(ps, ps->line, "malformed number \"%s\"", tmp);
		for (const char *d = digits; *d; d++) {
			int dv = isdigit((unsigned char)*d) ? *d - '0'
			         : isxdigit((unsigned char)*d)
			                 ? tolower((unsigned char)*d) - 'a' + 10
			                 : 99;
			if (dv >= base)
				return perr(ps, ps->line, "malformed number \"%s\"", tmp);
		}
		errno = 0;
		v->i = strtoll(digits, &endp, base);
		if (errno || *endp)
			return perr(ps, ps->line, "number \"%s\" out of range", tmp);
		v->kind = TV_INT;
		return 0;
	}
	{
		char digits[128];

		if (!strip_underscores(tmp, n, digits, false) || !decimal_ok(digits, &is_float))
			return perr(ps, ps->line,
			            "expected a value, not \"%s\" (strings are quoted)", tmp);
		errno = 0;
		if (is_float) {
			v->kind = TV_FLOAT;
			v->f = strtod(digits, &endp);
		} else {
			v->kind = TV_INT;
			v->i = strtoll(digits, &endp, 10);
		}
		if (errno == ERANGE || *endp)
			return perr(ps, ps->line, "number \"%s\" out of range", tmp);
	}
	return 0;
}

static int value(struct parser *ps, struct tval **ret);

static int
array(struct parser *ps, struct tval *a)
{
	size_t start = ps->line;
	int r;

	ps->p++; /* [ */
	for (;;) {
		struct tval *item = NULL;

		r = skip_blank(ps);
		if (r < 0)
			return r;
		if (ps->p >= ps->end)
			return perr(ps, start, "unterminated array");
		if (*ps->p == ']') {
			ps->p++;
			return 0;
		}
		r = value(ps, &item);
		if (r < 0)
			return r;
		r = arr_push(a, item);
		if (r < 0) {
			tval_free(item);
			return r;
		}
		r = skip_blank(ps);
		if (r < 0)
			return r;
		if (ps->p >= ps->end)
			return perr(ps, start, "unterminated array");
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			return 0;
		}
		return perr(ps, ps->line, "expected ',' or ']' in an array");
	}
}

static int
value(struct parser *ps, struct tval **ret)
{
	struct tval *v;
	int r;

	if (ps->p >= ps->end || at_newline(ps))
		return perr(ps, ps->line, "expected a value after '='");
	v = tval_new(TV_STR, ps->line);
	if (!v)
		return CF_ENOMEM;
	switch (*ps->p) {
	case '"':
	case '\'':
		r = string(ps, &v->s);
		break;
	case '[':
		v->kind = TV_ARR;
		if (++ps->depth > CONFIG_MAX_DEPTH)
			r = perr(ps, ps->line, "arrays nested too deep");
		else
			r = array(ps, v);
		ps->depth--;
		break;
	case '{':
		r = perr(ps, ps->line, "inline tables are not supported (use a [table])");
		break;
	default:
		r = scalar(ps, v);
		break;
	}
	if (r < 0) {
		tval_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

/* The table that parts[0..n-1] names under t, created as implicit tables
 * where missing; an array of tables stands for its last element. */
static int
descend(struct parser *ps, struct tval *t, char **parts, size_t n, size_t line, bool from_dotted,
        struct tval **ret)
{
	for (size_t i = 0; i < n; i++) {
		struct tval *c = tab_get(t, parts[i]);

		if (!c) {
			char *name = strdup(parts[i]);

			c = tval_new(TV_TAB, line);
			if (!c || !name) {
				free(name);
				tval_free(c);
				return CF_ENOMEM;
			}
			c->implicit = true;
			c->defined = from_dotted;
			if (tab_put(t, name, c) < 0) {
				free(name);
				tval_free(c);
				return CF_ENOMEM;
			}
		} else if (c->kind == TV_ARR && c->aot && !from_dotted) {
			c = c->items[c->n - 1];
		} else if (c->kind != TV_TAB) {
			return perr(ps, line, "\"%s\" is already a value, not a table", parts[i]);
		} else if (from_dotted && !c->implicit) {
			return perr(ps, line, "table \"%s\" is defined elsewhere", parts[i]);
		}
		t = c;
	}
	*ret = t;
	return 0;
}

/* [a.b] or [[a.b]]; ps->p is on the first '['. */
static int
header(struct parser *ps, struct tval *root, struct tval **cur)
{
	bool aot = ps->end - ps->p >= 2 && ps->p[1] == '[';
	size_t line = ps->line;
	struct tval *parent, *t;
	char **parts = NULL;
	size_t n = 0;
	int r;

	ps->p += aot ? 2 : 1;
	r = key_path(ps, &parts, &n);
	if (r < 0)
		return r;
	if (ps->p >= ps->end || *ps->p != ']' ||
	    (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
		r = perr(ps, line, "expected '%s' to close the table header", aot ? "]]" : "]");
		goto out;
	}
	ps->p += aot ? 2 : 1;
	r = descend(ps, root, parts, n - 1, line, false, &parent);
	if (r < 0)
		goto out;
	t = tab_get(parent, parts[n - 1]);
	if (aot) {
		struct tval *elem;

		if (!t) {
			char *name = strdup(parts[n - 1]);

			t = tval_new(TV_ARR, line);
			if (!t || !name) {
				free(name);
				tval_free(t);
				r = CF_ENOMEM;
				goto out;
			}
			t->aot = true;
			r = tab_put(parent, name, t);
			if (r < 0) {
				free(name);
				tval_free(t);
				goto out;
			}
		} else if (t->kind != TV_ARR || !t->aot) {
			r = perr(ps, line,
			         "\"%s\" is already defined and is not an array of tables",
			         parts[n - 1]);
			goto out;
		}
		elem = tval_new(TV_TAB, line);
		if (!elem) {
			r = CF_ENOMEM;
			goto out;
		}
		elem->defined = true;
		r = arr_push(t, elem);
		if (r < 0) {
			tval_free(elem);
			goto out;
		}
		*cur = elem;
	} else {
		if (!t) {
			char *name = strdup(parts[n - 1]);

			t = tval_new(TV_TAB, line);
			if (!t || !name) {
				free(name);
				tval_free(t);
				r = CF_ENOMEM;
				goto out;
			}
			r = tab_put(parent, name, t);
			if (r < 0) {
				free(name);
				tval_free(t);
				goto out;
			}
		} else if (t->kind != TV_TAB || t->defined) {
			r = perr(ps, line, "table \"%s\" is defined twice", parts[n - 1]);
			goto out;
		}
		t->defined = true;
		t->implicit = false;
		t->line = line;
		*cur = t;
	}
	r = end_of_line(ps);
out:
	free_parts(parts, n);
	return r;
}

/* key = value into cur. */
static int
keyval(struct parser *ps, struct tval *cur)
{
	size_t line = ps->line;
	struct tval *t, *v = NULL;
	char **parts = NULL, *name;
	size_t n = 0;
	int r;

	r = key_path(ps, &parts, &n);
	if (r < 0)
		return r;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=') {
		r = perr(ps, line, "expected '=' after the key \"%s\"", parts[n - 1]);
		goto out;
	}
	ps->p++;
	skip_ws(ps);
	r = descend(ps, cur, parts, n - 1, line, true, &t);
	if (r < 0)
		goto out;
	if (tab_get(t, parts[n - 1])) {
		r = perr(ps, line, "key \"%s\" is defined twice", parts[n - 1]);
		goto out;
	}
	r = value(ps, &v);
	if (r < 0)
		goto out;
	v->line = line;
	name = parts[n - 1];
	r = tab_put(t, name, v);
	if (r < 0) {
		tval_free(v);
		goto out;
	}
	parts[n - 1] = NULL;
	r = end_of_line(ps);
out:
	free_parts(parts, n);
	return r;
}

static int
toml_parse(struct parser *ps, struct tval **ret)
{
	struct tval *root = tval_new(TV_TAB, 1), *cur;
	int r = 0;

	if (!root)
		return CF_ENOMEM;
	root->defined = true;
	cur = root;
	if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;
	while (r == 0) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			break;
		if (*ps->p == '#') {
			r = skip_comment(ps);
			continue;
		}
		if (at_newline(ps)) {
			eat_newline(ps);
			continue;
		}
		if (*ps->p == '[')
			r = header(ps, root, &cur);
		else
			r = keyval(ps, cur);
	}
	if (r < 0) {
		tval_free(root);
		return r;
	}
	*ret = root;
	return 0;
}

/* ---- the tree into a configuration ---- */

static const char *
kind_name(enum tv_kind k)
{
	static const char *const names[] = {"a string",  "an integer", "a float",
	                                    "a boolean", "an array",   "a table"};
	return names[k];
}

static int
want(struct parser *ps, const struct tval *v, enum tv_kind k, const char *key)
{
	if (v->kind != k)
		return perr(ps, v->line, "\"%s\" must be %s, not %s", key, kind_name(k),
		            kind_name(v->kind));
	return 0;
}

/* An array of strings. */
static int
want_strings(struct parser *ps, const struct tval *v, const char *key)
{
	int r = want(ps, v, TV_ARR, key);

	for (size_t i = 0; r == 0 && i < v->n; i++)
		if (v->items[i]->kind != TV_STR)
			r = perr(ps, v->items[i]->line, "\"%s\" must be an array of strings", key);
	return r;
}

static int
compile(struct parser *ps, const char *re, size_t line, const char *what, pcre2_code **ret)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);

	if (!c) {
		PCRE2_UCHAR msg[160];

		(void)pcre2_get_error_message(code, msg, sizeof(msg));
		return perr(ps, line, "%s: bad regex at offset %zu: %s", what, (size_t)off,
		            (const char *)msg);
	}
	*ret = c;
	return 0;
}

static int
push_ptr(void ***v, size_t *n, void *p)
{
	void **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return CF_ENOMEM;
	*v = nv;
	nv[(*n)++] = p;
	return 0;
}

static void
allowlist_free(struct scan_allowlist *a)
{
	for (size_t i = 0; i < a->npaths; i++)
		pcre2_code_free(a->paths[i]);
	for (size_t i = 0; i < a->nregexes; i++)
		pcre2_code_free(a->regexes[i]);
	for (size_t i = 0; i < a->nstopwords; i++)
		free(a->stopwords[i]);
	free(a->paths);
	free(a->regexes);
	free(a->stopwords);
	memset(a, 0, sizeof(*a));
}

static int
allowlist_read(struct parser *ps, const struct tval *t, struct scan_allowlist *a)
{
	int r = want(ps, t, TV_TAB, "allowlist");

	for (size_t k = 0; r == 0 && k < t->nents; k++) {
		const char *key = t->ents[k].name;
		const struct tval *v = t->ents[k].v;

		if (strcmp(key, "description") == 0) {
			r = want(ps, v, TV_STR, key);
		} else if (strcmp(key, "paths") == 0 || strcmp(key, "regexes") == 0) {
			bool paths = key[0] == 'p';

			r = want_strings(ps, v, key);
			for (size_t i = 0; r == 0 && i < v->n; i++) {
				pcre2_code *c = NULL;

				r = compile(ps, v->items[i]->s, v->items[i]->line, key, &c);
				if (r == 0) {
					r = paths ? push_ptr(&a->paths, &a->npaths, c)
					          : push_ptr(&a->regexes, &a->nregexes, c);
					if (r < 0)
						pcre2_code_free(c);
				}
			}
		} else if (strcmp(key, "stopwords") == 0) {
			r = want_strings(ps, v, key);
			for (size_t i = 0; r == 0 && i < v->n; i++) {
				char *w = strdup(v->items[i]->s);

				if (!w)
					return CF_ENOMEM;
				if (!*w) {
					free(w);
					return perr(ps, v->items[i]->line, "an empty stopword");
				}
				for (char *c = w; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				r = push_ptr((void ***)&a->stopwords, &a->nstopwords, w);
				if (r < 0)
					free(w);
			}
		} else {
			r = perr(ps, v->line,
			         "unknown key \"%s\" in an allowlist (paths, regexes, stopwords)",
			         key);
		}
	}
	return r;
}

static bool
id_ok(const char *id)
{
	if (!*id)
		return false;
	for (const char *c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return false;
	return true;
}

static int
keep_str(struct scan_config *cfg, const char *s, size_t n, char **ret)
{
	char *d = strndup(s, n);

	if (!d || push_ptr((void ***)&cfg->strs, &cfg->nstrs, d) < 0) {
		free(d);
		return CF_ENOMEM;
	}
	*ret = d;
	return 0;
}

/* The pattern with capture group n renamed `secret`: the opening parenthesis
 * of the n-th capturing group gets ?<secret>, or its name is replaced. */
static int
name_group(struct scan_config *cfg, const char *re, long long n, char **ret)
{
	size_t len = strlen(re), count = 0;
	const char *s = re;
	struct buf b = {0};
	int r;

	while (*s) {
		if (*s == '\\') {
			if (s[1] == 'Q') {
				const char *e = strstr(s + 2, "\\E");

				s = e ? e + 2 : re + len;
			} else {
				s += s[1] ? 2 : 1;
			}
			continue;
		}
		if (*s == '[') {
			s++;
			if (*s == '^')
				s++;
			if (*s == ']')
				s++;
			while (*s && *s != ']') {
				if (*s == '\\' && s[1])
					s++;
				else if (*s == '[' && s[1] == ':') {
					const char *e = strstr(s + 2, ":]");

					if (e)
						s = e + 1;
				}
				s++;
			}
			if (*s)
				s++;
			continue;
		}
		if (*s == '(' && s[1] != '*') {
			const char *name = NULL, *name_end = NULL;
			bool capture = s[1] != '?';

			if (s[1] == '?' && s[2] == 'P' && s[3] == '<') {
				name = s + 4;
			} else if (s[1] == '?' && s[2] == '<' && s[3] != '=' && s[3] != '!') {
				name = s + 3;
			} else if (s[1] == '?' && s[2] == '\'') {
				name = s + 3;
			}
			if (name) {
				capture = true;
				name_end = name;
				while (*name_end && *name_end != '>' && *name_end != '\'')
					name_end++;
			}
			if (capture && ++count == (size_t)n) {
				r = buf_put(&b, re, (size_t)(s - re));
				if (r == 0)
					r = buf_put(&b, "(?<secret>", 10);
				if (r == 0)
					r = buf_put(&b, name ? name_end + 1 : s + 1,
					            strlen(name ? name_end + 1 : s + 1));
				if (r == 0)
					r = keep_str(cfg, b.s, b.n, ret);
				free(b.s);
				return r;
			}
		}
		s++;
	}
	return CF_ENOTFOUND;
}

static const struct scan_rule *
find_rule(const struct scan_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].id, id) == 0)
			return &cfg->rules[i];
	return NULL;
}

/* Was rule made from the configuration (not a built-in rule)? */
static bool
from_config(const struct scan_config *cfg, const struct scan_rule *rule)
{
	for (size_t i = 0; i < cfg->nkwlists; i++)
		if (rule->keywords == cfg->kwlists[i])
			return true;
	return false;
}

/* Refuses a key [[rules]] does not know. */
static int
rule_keys_known(struct parser *ps, const struct tval *t)
{
	for (size_t k = 0; k < t->nents; k++) {
		static const char *const known[] = {
		        "id",        "regex",     "description",  "hint",
		        "keywords",  "entropy",   "secret_group", "secretGroup",
		        "multiline", "allowlist", NULL,
		};
		bool ok = false;

		for (size_t i = 0; known[i] && !ok; i++)
			ok = strcmp(t->ents[k].name, known[i]) == 0;
		if (!ok)
			return perr(ps, t->ents[k].v->line, "unknown key \"%s\" in [[rules]]",
			            t->ents[k].name);
	}
	return 0;
}

/* The rule's pattern, compiled to check it, with secret_group turned into a
 * group named `secret`; kept in cfg. */
static int
rule_pattern(struct parser *ps, struct scan_config *cfg, const struct tval *re,
             const struct tval *grp, char **ret)
{
	pcre2_code *code = NULL;
	char *s = NULL;
	int r;

	r = compile(ps, re->s, re->line, "regex", &code);
	if (r < 0)
		return r;
	if (grp) {
		uint32_t ncap = 0;

		(void)pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap);
		if (grp->kind != TV_INT || grp->i < 0 || grp->i > (long long)ncap) {
			pcre2_code_free(code);
			return perr(ps, grp->line,
			            "secret_group must be a capture group of the regex "
			            "(0 to %u)",
			            (unsigned)ncap);
		}
		if (grp->i > 0) {
			pcre2_code *c2 = NULL;

			r = name_group(cfg, re->s, grp->i, &s);
			if (r == 0)
				r = compile(ps, s, re->line, "regex", &c2);
			if (r == 0 && pcre2_substring_number_from_name(c2, (PCRE2_SPTR) "secret") !=
			                      (int)grp->i)
				r = perr(ps, grp->line,
				         "secret_group %lld cannot be used with this regex",
				         grp->i);
			if (r == CF_ENOTFOUND)
				r = perr(ps, grp->line,
				         "secret_group %lld cannot be used with this regex",
				         grp->i);
			pcre2_code_free(c2);
		}
	}
	pcre2_code_free(code);
	if (r < 0)
		return r;
	if (!s)
		r = keep_str(cfg, re->s, strlen(re->s), &s);
	if (r == 0)
		*ret = s;
	return r;
}

/* Appends rule, or puts it in the place of the built-in rule of that id. */
static int
rule_add(struct scan_config *cfg, const struct scan_rule *rule, size_t nbuiltin)
{
	struct scan_rule *v = NULL;
	size_t at = cfg->nrules;

	/* an extra rule with a built-in id replaces the built-in rule */
	for (size_t i = 0; i < nbuiltin && i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].id, rule->id) == 0)
			at = i;
	if (at == cfg->nrules) {
		v = realloc(cfg->rules, (cfg->nrules + 1) * sizeof(*v));
		if (!v)
			return CF_ENOMEM;
		cfg->rules = v;
		cfg->nrules++;
	}
	cfg->rules[at] = *rule;
	return 0;
}

/* The [rules.allowlist] of rule id (a rule of the config when has_regex,
 * else one that must exist). */
static int
rule_allow_add(struct parser *ps, struct scan_config *cfg, const struct tval *id,
               const struct tval *allow, bool has_regex)
{
	struct scan_rule_allow *pr;
	int r;

	pr = realloc(cfg->per_rule, (cfg->nper_rule + 1) * sizeof(*pr));
	if (!pr)
		return CF_ENOMEM;
	cfg->per_rule = pr;
	pr = &cfg->per_rule[cfg->nper_rule];
	memset(pr, 0, sizeof(*pr));
	pr->rule_id = strdup(id->s);
	if (!pr->rule_id)
		return CF_ENOMEM;
	cfg->nper_rule++;
	r = allowlist_read(ps, allow, &pr->allow);
	if (r < 0)
		return r;
	if (!has_regex && !find_rule(cfg, id->s))
		return perr(ps, id->line, "rule \"%s\" is not a rule (built-in or defined above)",
		            id->s);
	return 0;
}

static int
rule_read(struct parser *ps, struct scan_config *cfg, const struct tval *t, size_t nbuiltin)
{
	const struct tval *id = tab_get(t, "id"), *re = tab_get(t, "regex"),
	                  *desc = tab_get(t, "description"), *hint = tab_get(t, "hint"),
	                  *kw = tab_get(t, "keywords"), *ent = tab_get(t, "entropy"),
	                  *grp = tab_get(t, "secret_group"), *ml = tab_get(t, "multiline"),
	                  *allow = tab_get(t, "allowlist");
	struct scan_rule rule = {0};
	const char **kws = NULL;
	char *s = NULL;
	int r = 0;

	if (!grp)
		grp = tab_get(t, "secretGroup");
	r = rule_keys_known(ps, t);
	if (r < 0)
		return r;
	if (!id)
		return perr(ps, t->line, "[[rules]] needs an id");
	r = want(ps, id, TV_STR, "id");
	if (r < 0)
		return r;
	if (!id_ok(id->s))
		return perr(ps, id->line, "rule id \"%s\": letters, digits, '-', '_' and '.' only",
		            id->s);
	if (!re) {
		/* only an allowlist for an existing rule */
		if (kw || ent || grp || desc || hint || ml)
			return perr(ps, t->line, "rule \"%s\" has no regex", id->s);
		if (!allow)
			return perr(ps, t->line,
			            "rule \"%s\" needs a regex (or an allowlist for a "
			            "built-in rule)",
			            id->s);
		goto allowlist;
	}
	for (size_t i = 0; i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].id, id->s) == 0 && from_config(cfg, &cfg->rules[i]))
			return perr(ps, id->line, "rule \"%s\" is defined twice", id->s);
	r = want(ps, re, TV_STR, "regex");
	if (r == 0 && desc)
		r = want(ps, desc, TV_STR, "description");
	if (r == 0 && hint)
		r = want(ps, hint, TV_STR, "hint");
	if (r == 0 && ml)
		r = want(ps, ml, TV_BOOL, "multiline");
	if (r == 0 && !kw)
		r = perr(ps, t->line,
		         "rule \"%s\" needs keywords (literal strings each match contains)", id->s);
	if (r == 0)
		r = want_strings(ps, kw, "keywords");
	if (r == 0 && kw->n == 0)
		r = perr(ps, kw->line, "rule \"%s\" needs at least one keyword", id->s);
	for (size_t i = 0; r == 0 && i < kw->n; i++)
		if (!kw->items[i]->s[0])
			r = perr(ps, kw->items[i]->line, "an empty keyword");
	if (r < 0)
		return r;
	if (ent) {
		double e = ent->kind == TV_INT ? (double)ent->i : ent->f;

		if ((ent->kind != TV_INT && ent->kind != TV_FLOAT) || !(e >= 0 && e <= 8))
			return perr(ps, ent->line,
			            "entropy must be a number from 0 to 8 (bits per char)");
		rule.min_entropy = e;
	}
	r = rule_pattern(ps, cfg, re, grp, &s);
	rule.pattern = s;
	if (r == 0)
		r = keep_str(cfg, id->s, strlen(id->s), &s);
	rule.id = s;
	if (r == 0 && desc)
		r = keep_str(cfg, desc->s, strlen(desc->s), &s);
	rule.description = desc ? s : "a secret matching a rule of the configuration";
	if (r == 0 && hint)
		r = keep_str(cfg, hint->s, strlen(hint->s), &s);
	rule.hint = hint ? s : default_hint;
	if (r < 0)
		return r;
	kws = calloc(kw->n + 1, sizeof(*kws));
	if (!kws || push_ptr((void ***)&cfg->kwlists, &cfg->nkwlists, kws) < 0) {
		free(kws);
		return CF_ENOMEM;
	}
	for (size_t i = 0; i < kw->n; i++) {
		r = keep_str(cfg, kw->items[i]->s, strlen(kw->items[i]->s), &s);
		if (r < 0)
			return r;
		kws[i] = s;
	}
	rule.keywords = kws;
	rule.flags = ml && ml->b ? SCAN_RULE_MULTILINE : 0;
	r = rule_add(cfg, &rule, nbuiltin);
	if (r < 0)
		return r;
allowlist:
	return allow ? rule_allow_add(ps, cfg, id, allow, re != NULL) : 0;
}

/* Reads the tree into cfg, which already holds the built-in rules. */
static int
config_read(struct parser *ps, const struct tval *root, struct scan_config *cfg)
{
	const struct tval *dis = tab_get(root, "disabled_rules"), *rules = tab_get(root, "rules"),
	                  *allow = tab_get(root, "allowlist");
	size_t nbuiltin;
	int r = 0;

	for (size_t k = 0; k < root->nents; k++) {
		const char *key = root->ents[k].name;

		if (strcmp(key, "disabled_rules") && strcmp(key, "rules") &&
		    strcmp(key, "allowlist") && strcmp(key, "title"))
			return perr(ps, root->ents[k].v->line,
			            "unknown key \"%s\" (disabled_rules, allowlist, rules)", key);
	}
	if (dis) {
		r = want_strings(ps, dis, "disabled_rules");
		for (size_t i = 0; r == 0 && i < dis->n; i++) {
			const char *id = dis->items[i]->s;
			size_t j = 0;

			while (j < cfg->nrules && strcmp(cfg->rules[j].id, id) != 0)
				j++;
			if (j == cfg->nrules) {
				r = perr(ps, dis->items[i]->line,
				         "disabled_rules: no built-in rule \"%s\"", id);
				break;
			}
			memmove(&cfg->rules[j], &cfg->rules[j + 1],
			        (cfg->nrules - j - 1) * sizeof(cfg->rules[0]));
			cfg->nrules--;
		}
	}
	if (r == 0 && allow)
		r = allowlist_read(ps, allow, &cfg->global);
	nbuiltin = cfg->nrules;
	if (r == 0 && rules) {
		if (rules->kind != TV_ARR || !rules->aot)
			return perr(ps, rules->line, "rules must be written as [[rules]] tables");
		for (size_t i = 0; r == 0 && i < rules->n; i++)
			r = rule_read(ps, cfg, rules->items[i], nbuiltin);
	}
	return r;
}

static int
builtin_copy(struct scan_config *cfg, const struct scan_rule *builtin, size_t n)
{
	cfg->rules = calloc(n ? n : 1, sizeof(*cfg->rules));
	if (!cfg->rules)
		return CF_ENOMEM;
	if (n)
		memcpy(cfg->rules, builtin, n * sizeof(*builtin));
	cfg->nrules = n;
	return 0;
}

int
scan_config_parse(const char *text, size_t len, const char *name, const struct scan_rule *builtin,
                  size_t nbuiltin, struct scan_config *cfg, char *err, size_t errlen)
{
	struct parser ps = {text, text + len, 1, name ? name : ".coffer-scan.toml", err, errlen, 0};
	struct tval *root = NULL;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = builtin_copy(cfg, builtin, nbuiltin);
	if (r < 0)
		goto out;
	if (len > CONFIG_MAX_FILE) {
		r = perr(&ps, 1, "larger than %u bytes", CONFIG_MAX_FILE);
		goto out;
	}
	r = toml_parse(&ps, &root);
	if (r == 0)
		r = config_read(&ps, root, cfg);
out:
	tval_free(root);
	if (r == CF_ENOMEM && err && errlen)
		(void)snprintf(err, errlen, "%s: out of memory", ps.name);
	if (r < 0)
		scan_config_free(cfg);
	return r;
}

int
scan_config_load(const char *path, bool must_exist, const struct scan_rule *builtin,
                 size_t nbuiltin, struct scan_config *cfg, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = util_read_file(path, CONFIG_MAX_FILE, &text, &len, err, errlen);
	if (r == CF_ENOTFOUND && !must_exist) {
		r = builtin_copy(cfg, builtin, nbuiltin);
		if (r < 0)
			(void)snprintf(err, errlen, "out of memory");
		return r;
	}
	if (r == CF_ENOTFOUND)
		r = CF_EIO;
	else if (r == CF_ETOOBIG)
		r = CF_EINVAL;
	else if (r == CF_ENOMEM)
		(void)snprintf(err, errlen, "out of memory");
	if (r < 0)
		return r;
	r = scan_config_parse(text, len, path, builtin, nbuiltin, cfg, err, errlen);
	free(text);
	return r;
}

static bool
re_hits(void *const *codes, size_t n, const char *s, size_t len)
{
	bool hit = false;

	for (size_t i = 0; i < n && !hit; i++) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(codes[i], NULL);

		if (!md)
			return false;
		hit = pcre2_match(codes[i], (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
		pcre2_match_data_free(md);
	}
	return hit;
}

static bool
has_stopword(const struct scan_allowlist *a, const char *secret, size_t len)
{
	for (size_t i = 0; i < a->nstopwords; i++) {
		size_t wl = strlen(a->stopwords[i]);

		for (size_t j = 0; wl <= len && j + wl <= len; j++) {
			size_t k = 0;

			while (k < wl &&
			       tolower((unsigned char)secret[j + k]) == a->stopwords[i][k])
				k++;
			if (k == wl)
				return true;
		}
	}
	return false;
}

static bool
list_allows(const struct scan_allowlist *a, const char *file, const char *secret, size_t secret_len)
{
	return (file && re_hits(a->paths, a->npaths, file, strlen(file))) ||
	       re_hits(a->regexes, a->nregexes, secret, secret_len) ||
	       has_stopword(a, secret, secret_len);
}

bool
scan_config_allows(const struct scan_config *cfg, const char *rule_id, const char *file,
                   const char *secret, size_t secret_len)
{
	if (list_allows(&cfg->global, file, secret, secret_len))
		return true;
	for (size_t i = 0; i < cfg->nper_rule; i++)
		if (strcmp(cfg->per_rule[i].rule_id, rule_id) == 0 &&
		    list_allows(&cfg->per_rule[i].allow, file, secret, secret_len))
			return true;
	return false;
}

size_t
scan_config_filter(const struct scan_config *cfg, struct scan_report *r)
{
	size_t o = 0, dropped = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++) {
		struct scan_finding *f = &r->v[i];

		if (!scan_config_allows(cfg, f->rule->id, f->file, f->secret, f->secret_len)) {
			r->v[o++] = *f;
			continue;
		}
		secmem_free(f->secret, f->secret_len + 1);
		free(f->file);
		free(f->commit);
		free(f->author);
		free(f->date);
		free(f->fingerprint);
		dropped++;
	}
	r->n = o;
	pthread_mutex_unlock(&r->lock);
	return dropped;
}

void
scan_config_free(struct scan_config *cfg)
{
	allowlist_free(&cfg->global);
	for (size_t i = 0; i < cfg->nper_rule; i++) {
		free(cfg->per_rule[i].rule_id);
		allowlist_free(&cfg->per_rule[i].allow);
	}
	free(cfg->per_rule);
	for (size_t i = 0; i < cfg->nstrs; i++)
		free(cfg->strs[i]);
	free(cfg->strs);
	for (size_t i = 0; i < cfg->nkwlists; i++)
		free((void *)cfg->kwlists[i]);
	free(cfg->kwlists);
	free(cfg->rules);
	memset(cfg, 0, sizeof(*cfg));
}
