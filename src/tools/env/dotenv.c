/* dotenv.c - .env files read as npm dotenv's parse() reads them.
 *
 * dotenv matches one regular expression against the whole text (after turning
 * every CR LF and lone CR into LF), entry after entry, from line starts:
 *
 *   ^ \s* (export \s+)? ([\w.-]+) (\s*=\s*? | :\s+?)
 *     ( \s*'(\\'|[^'])*' | \s*"(\\"|[^"])*" | \s*`(\\`|[^`])*` | [^#\r\n]+ )?
 *     \s* (#.*)? $                                        (flags m and g)
 *
 * This file walks the text once and takes, at every step, the branch that
 * regex's backtracking would end up taking; docs/internals/tools.md derives
 * each shortcut. \s is JavaScript's white space (Unicode spaces, U+FEFF and
 * the line terminators), and ^, $ and `.` treat U+2028 and U+2029 as line
 * ends too, so those code points are decoded where they matter.
 *
 * CR never reaches the scanner: a text holding one is scanned through a
 * normalised copy, and every offset handed out is mapped back to the
 * original text through the positions of the CR LF pairs that collapsed. */
#include "tools/env/dotenv.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys and values of a parsed file live in a few large blocks, not one
 * allocation per line. */
struct dotenv_block {
	struct dotenv_block *next;
	size_t cap, used;
	char data[];
};

#define DOTENV_BLOCK_MIN (64u * 1024)

struct scanner {
	const char *t; /* the text scanned: the input, or its normalised copy */
	size_t n;
	const size_t *crlf; /* normalised offsets of the LF of each collapsed CR LF */
	size_t ncrlf;
	size_t line, line_pos; /* line number counted up to line_pos */
	char *scratch;         /* key NUL value NUL of the entry being visited */
	size_t scratch_cap;
};

/* ---- characters ---------------------------------------------------------- */

static const unsigned char key_chars[256] = {
        ['-'] = 1, ['.'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
        ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
        ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
        ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
        ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
        ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
        ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
        ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
        ['z'] = 1,
};

/* Bytes of the JavaScript white space character at t[i] (\s and trim()), or 0:
 * TAB LF VT FF CR SPACE, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000 and U+FEFF. */
static size_t
ws_len(const char *t, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)t + i;
	size_t left = n - i;

	if (i >= n)
		return 0;
	if (u[0] < 0x80)
		return u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r') ? 1 : 0;
	if (u[0] == 0xc2)
		return left >= 2 && u[1] == 0xa0 ? 2 : 0;
	if (left < 3)
		return 0;
	switch (u[0]) {
	case 0xe1:
		return u[1] == 0x9a && u[2] == 0x80 ? 3 : 0;
	case 0xe2:
		if (u[1] == 0x80)
			return u[2] <= 0x8a || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf ? 3 : 0;
		return u[1] == 0x81 && u[2] == 0x9f ? 3 : 0;
	case 0xe3:
		return u[1] == 0x80 && u[2] == 0x80 ? 3 : 0;
	case 0xef:
		return u[1] == 0xbb && u[2] == 0xbf ? 3 : 0;
	}
	return 0;
}

/* Bytes of the line terminator at t[i] (LF, U+2028, U+2029), or 0. */
static size_t
lt_len(const char *t, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)t + i;

	if (i >= n)
		return 0;
	if (u[0] == '\n')
		return 1;
	if (u[0] == 0xe2 && n - i >= 3 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
		return 3;
	return 0;
}

/* Whether a line terminator ends right before t[i]. */
static bool
lt_before(const char *t, size_t i)
{
	const unsigned char *u = (const unsigned char *)t;

	if (i >= 1 && u[i - 1] == '\n')
		return true;
	return i >= 3 && u[i - 3] == 0xe2 && u[i - 2] == 0x80 &&
	       (u[i - 1] == 0xa8 || u[i - 1] == 0xa9);
}

/* Bytes of the white space character that ends right before t[h] (h > lo). */
static size_t
ws_len_before(const char *t, size_t lo, size_t h)
{
	if (ws_len(t, h, h - 1) == 1)
		return 1;
	if (h - lo >= 2 && ws_len(t, h, h - 2) == 2)
		return 2;
	if (h - lo >= 3 && ws_len(t, h, h - 3) == 3)
		return 3;
	return 0;
}

static size_t
skip_ws(const char *t, size_t n, size_t i)
{
	size_t w;

	while (i < n && (w = ws_len(t, n, i)) > 0)
		i += w;
	return i;
}

/* Whether a U+2028 or U+2029 occurs in t[lo, hi). */
static bool
has_uls(const char *t, size_t lo, size_t hi)
{
	const char *p = t + lo, *end = t + hi;

	while ((p = memchr(p, 0xe2, (size_t)(end - p))) != NULL) {
		if (lt_len(t, (size_t)(end - t), (size_t)(p - t)) == 3)
			return true;
		p++;
	}
	return false;
}

/* Offset of the first line terminator at or after i, or n. */
static size_t
line_end(const char *t, size_t n, size_t i)
{
	const char *nl = memchr(t + i, '\n', n - i);
	size_t e = nl ? (size_t)(nl - t) : n;
	const char *p = t + i;

	/* U+2028/U+2029 end a line for the regex too; they are rare, look only
	 * when a 0xE2 lead byte is on the line at all */
	while ((p = memchr(p, 0xe2, (size_t)(t + e - p))) != NULL) {
		if (lt_len(t, n, (size_t)(p - t)) == 3)
			return (size_t)(p - t);
		p++;
	}
	return e;
}

/* ---- input checks -------------------------------------------------------- */

static size_t
line_of(const char *t, size_t off)
{
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		if (t[i] == '\n' || (t[i] == '\r' && (i + 1 >= off || t[i + 1] != '\n')))
			line++;
	return line;
}

/* Refuses a NUL byte and anything that is not UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), naming the line. */
static int
check_text(const char *text, size_t len, char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t i = 0;

	while (i < len) {
		unsigned char c = u[i];
		size_t need;
		uint32_t cp, min;

		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		if (c == 0) {
			snprintf(err, errlen, "not a text file: NUL byte on line %zu",
			         line_of(text, i));
			return CF_EINVAL;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (len - i <= need)
			goto bad;
		for (size_t k = 1; k <= need; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += need + 1;
	}
	return 0;
bad:
	snprintf(err, errlen, "not a text file: invalid UTF-8 on line %zu", line_of(text, i));
	return CF_EINVAL;
}

/* ---- the scanner --------------------------------------------------------- */

/* Offset in the original text of offset off of the scanned text. */
static size_t
orig_off(const struct scanner *s, size_t off)
{
	size_t lo = 0, hi = s->ncrlf;

	/* count the collapsed pairs whose LF sits before off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->crlf[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return off + lo;
}

static size_t
line_at(struct scanner *s, size_t off)
{
	const char *p = s->t + s->line_pos, *end = s->t + off;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		s->line++;
		p++;
	}
	s->line_pos = off;
	return s->line;
}

/* Whether the regex's tail `\s*(#.*)?$` matches at x; *ret_next is where the
 * next entry search starts (past a comment the tail swallowed). */
static bool
tail_ok(const char *t, size_t n, size_t x, size_t *ret_next)
{
	bool lt = false;
	size_t w;

	while (x < n && (w = ws_len(t, n, x)) > 0) {
		if (lt_len(t, n, x))
			lt = true;
		x += w;
	}
	if (x < n && t[x] == '#') {
		*ret_next = line_end(t, n, x);
		return true;
	}
	*ret_next = x;
	return lt || x == n;
}

/* The closing quote of a quoted value opened at t[open]: the first unescaped
 * quote after which only a comment or a line end follows; failing that, the
 * escaped quotes before it from the last back (the order the regex's greedy
 * `(\\q|[^q])*` backtracks in). Returns the offset or n when none fits. */
static size_t
quote_close(const char *t, size_t n, size_t open, size_t *ret_next)
{
	char q = t[open];
	size_t i = open + 1, u = n, e;
	const char *p;

	while ((p = memchr(t + i, q, n - i)) != NULL) {
		i = (size_t)(p - t);
		if (t[i - 1] != '\\') {
			u = i;
			break;
		}
		i++;
	}
	if (u < n && tail_ok(t, n, u + 1, ret_next))
		return u;
	for (e = u; e > open + 1;) {
		e--;
		if (t[e] != q)
			continue;
		if (tail_ok(t, n, e + 1, ret_next))
			return e;
	}
	return n;
}

static int
scratch_reserve(struct scanner *s, size_t need)
{
	char *p;
	size_t cap;

	if (need <= s->scratch_cap)
		return 0;
	cap = s->scratch_cap ? s->scratch_cap : 256;
	while (cap < need)
		cap *= 2;
	p = malloc(cap);
	if (p == NULL)
		return CF_ENOMEM;
	if (s->scratch) {
		memcpy(p, s->scratch, s->scratch_cap);
		secmem_free(s->scratch, s->scratch_cap);
	}
	s->scratch = p;
	s->scratch_cap = cap;
	return 0;
}

/* Copies src[0, len) to dst, turning the two-character escapes \n and \r into
 * LF and CR (double-quoted values only). Returns the length written. */
static size_t
copy_escapes(char *dst, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\\' && i + 1 < len && (src[i + 1] == 'n' || src[i + 1] == 'r')) {
			dst[o++] = src[i + 1] == 'n' ? '\n' : '\r';
			i++;
		} else {
			dst[o++] = src[i];
		}
	}
	return o;
}

/* `v.replace(/^(['"`])([\s\S]*)\1$/mg, "$2")` for an unquoted value holding a
 * U+2028 or U+2029 (where ^ and $ also match inside it). */
static size_t
strip_quotes_ml(char *dst, const char *v, size_t len)
{
	size_t o = 0, from = 0, i = 0;

	while (i < len) {
		char c = v[i];
		size_t j;

		if ((c != '"' && c != '\'' && c != '`') || (i > 0 && !lt_before(v, i))) {
			i++;
			continue;
		}
		for (j = len; j > i + 1; j--)
			if (v[j - 1] == c && (j == len || lt_len(v, len, j)))
				break;
		if (j <= i + 1) {
			i++;
			continue;
		}
		memcpy(dst + o, v + from, i - from);
		o += i - from;
		memcpy(dst + o, v + i + 1, j - 2 - i);
		o += j - 2 - i;
		from = i = j;
	}
	memcpy(dst + o, v + from, len - from);
	return o + len - from;
}

struct match {
	size_t entry_start, key_start, key_len, value_start, value_end, next;
	char quote;
	bool exported;
	const char *raw; /* the value's text before quote and escape handling */
	size_t raw_len;
	bool dq_escapes; /* \n and \r are escapes (value begins with ") */
	bool strip;      /* an unquoted value whose quote pair still comes off */
};

/* The value part of an entry whose separator ends at v (the regex's lazy
 * `\s*?` never has to grow: the optional value and tail match at v). */
static void
match_value(const char *t, size_t n, size_t v, struct match *m)
{
	size_t l = skip_ws(t, n, v), stop, f, h, nl;
	const char *nlp, *hash;

	m->quote = 0;
	m->strip = false;
	if (l < n && (t[l] == '"' || t[l] == '\'' || t[l] == '`')) {
		size_t e = quote_close(t, n, l, &m->next);
		if (e < n) {
			m->quote = t[l];
			m->value_start = l;
			m->value_end = e + 1;
			m->raw = t + l + 1;
			m->raw_len = e - l - 1;
			m->dq_escapes = t[l] == '"';
			return;
		}
	}
	/* unquoted, or a quote that does not close cleanly: [^#\r\n]+ (which
	 * takes U+2028 and U+2029 in), then trimmed */
	nlp = memchr(t + v, '\n', n - v);
	nl = nlp ? (size_t)(nlp - t) : n;
	hash = memchr(t + v, '#', nl - v);
	stop = hash ? (size_t)(hash - t) : nl;
	f = skip_ws(t, stop, v);
	h = stop;
	while (h > f) {
		size_t w = ws_len_before(t, f, h);
		if (w == 0)
			break;
		h -= w;
	}
	m->value_start = f;
	m->value_end = h;
	m->raw = t + f;
	m->raw_len = h - f;
	m->dq_escapes = h > f && t[f] == '"';
	if (h - f >= 2 && (t[f] == '"' || t[f] == '\'' || t[f] == '`') && t[h - 1] == t[f]) {
		m->strip = true;
		m->quote = t[f];
	}
	if (h == f) {
		m->value_start = m->value_end = v;
	}
	m->next = stop < n && t[stop] == '#' ? line_end(t, n, stop) : stop;
}

/* Key, separator and value from k. */
static bool
match_key(const char *t, size_t n, size_t k, struct match *m)
{
	size_t ke = k, s, w;

	while (ke < n && key_chars[(unsigned char)t[ke]])
		ke++;
	if (ke == k)
		return false;
	s = skip_ws(t, n, ke);
	if (s < n && t[s] == '=') {
		s++;
	} else if (ke < n && t[ke] == ':' && (w = ws_len(t, n, ke + 1)) > 0) {
		s = ke + 1 + w;
	} else {
		return false;
	}
	m->key_start = k;
	m->key_len = ke - k;
	match_value(t, n, s, m);
	return true;
}

/* One entry at q (a line start past its white space). */
static bool
match_entry(const char *t, size_t n, size_t q, struct match *m)
{
	m->entry_start = q;
	if (n - q > 6 && memcmp(t + q, "export", 6) == 0 && ws_len(t, n, q + 6) > 0) {
		m->exported = true;
		if (match_key(t, n, skip_ws(t, n, q + 6), m))
			return true;
	}
	m->exported = false;
	return match_key(t, n, q, m);
}

/* Builds the key and value of m in the scratch buffer and visits them. */
static int
visit_match(struct scanner *s, const struct match *m, dotenv_visit_fn visit, void *arg)
{
	struct dotenv_span span;
	char *key, *val;
	size_t vlen;
	int r;

	r = scratch_reserve(s, m->key_len + m->raw_len + 2);
	if (r < 0)
		return r;
	key = s->scratch;
	memcpy(key, s->t + m->key_start, m->key_len);
	key[m->key_len] = '\0';
	val = key + m->key_len + 1;
	if (m->quote != 0 && !m->strip) {
		vlen = m->raw_len;
		memcpy(val, m->raw, vlen);
	} else if (has_uls(m->raw, 0, m->raw_len)) {
		vlen = strip_quotes_ml(val, m->raw, m->raw_len);
	} else if (m->strip) {
		vlen = m->raw_len - 2;
		memcpy(val, m->raw + 1, vlen);
	} else {
		vlen = m->raw_len;
		memcpy(val, m->raw, vlen);
	}
	if (m->dq_escapes && memchr(val, '\\', vlen) != NULL)
		vlen = copy_escapes(val, val, vlen);
	val[vlen] = '\0';

	span.line = line_at(s, m->key_start);
	span.entry_start = orig_off(s, m->entry_start);
	span.key_start = orig_off(s, m->key_start);
	span.key_len = m->key_len;
	span.value_start = orig_off(s, m->value_start);
	span.value_end = orig_off(s, m->value_end);
	span.quote = m->quote;
	span.exported = m->exported;
	r = visit(arg, &span, key, val, vlen);
	secmem_wipe(s->scratch, m->key_len + vlen + 2);
	return r;
}

/* The normalised copy of a text holding CR: CR LF and lone CR become LF. */
static int
normalise(const char *text, size_t len, char **ret, size_t *ret_len, size_t **ret_crlf,
          size_t *ret_ncrlf)
{
	char *t = malloc(len ? len : 1);
	size_t *crlf = NULL, ncrlf = 0, cap = 0, o = 0;

	if (t == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '\r') {
			t[o++] = text[i];
			continue;
		}
		if (i + 1 < len && text[i + 1] == '\n') {
			if (ncrlf == cap) {
				size_t *p;
				cap = cap ? cap * 2 : 64;
				p = realloc(crlf, cap * sizeof(*crlf));
				if (p == NULL) {
					free(crlf);
					secmem_free(t, len);
					return CF_ENOMEM;
				}
				crlf = p;
			}
			crlf[ncrlf++] = o;
			i++;
		}
		t[o++] = '\n';
	}
	*ret = t;
	*ret_len = o;
	*ret_crlf = crlf;
	*ret_ncrlf = ncrlf;
	return 0;
}

int
dotenv_scan(const char *text, size_t len, dotenv_visit_fn visit, void *arg, char *err,
            size_t errlen)
{
	struct scanner s = {0};
	char *norm = NULL;
	size_t *crlf = NULL, normlen = 0, p = 0;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if (len > DOTENV_MAX_FILE) {
		snprintf(err, errlen, "file too large (over %u bytes)", DOTENV_MAX_FILE);
		return CF_ETOOBIG;
	}
	r = check_text(text, len, err, errlen);
	if (r < 0)
		return r;
	s.t = text;
	s.n = len;
	if (memchr(text, '\r', len) != NULL) {
		r = normalise(text, len, &norm, &normlen, &crlf, &s.ncrlf);
		if (r < 0)
			goto out;
		s.t = norm;
		s.n = normlen;
		s.crlf = crlf;
	}
	s.line = 1;
	while (p < s.n) {
		struct match m;
		size_t q = skip_ws(s.t, s.n, p);

		if (q >= s.n)
			break;
		if (!match_entry(s.t, s.n, q, &m)) {
			/* no entry here: the next try is at the next line start */
			p = line_end(s.t, s.n, q);
			p += p < s.n ? lt_len(s.t, s.n, p) : 0;
			continue;
		}
		r = visit_match(&s, &m, visit, arg);
		if (r < 0)
			goto out;
		p = m.next;
	}
	r = 0;
out:
	if (r == CF_ENOMEM)
		snprintf(err, errlen, "out of memory");
	secmem_free(s.scratch, s.scratch_cap);
	secmem_free(norm, len);
	free(crlf);
	return r;
}

/* ---- struct dotenv ------------------------------------------------------- */

static bool
owned_by_blocks(const struct dotenv *env, const char *p)
{
	for (const struct dotenv_block *b = env->blocks; b != NULL; b = b->next)
		if (p >= b->data && p < b->data + b->cap)
			return true;
	return false;
}

static char *
block_dup(struct dotenv *env, const char *s, size_t len)
{
	struct dotenv_block *b = env->blocks;
	char *p;

	if (b == NULL || b->cap - b->used < len + 1) {
		size_t cap = b ? b->cap * 2 : DOTENV_BLOCK_MIN;
		if (cap < len + 1)
			cap = len + 1;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = env->blocks;
		env->blocks = b;
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

static int
entries_grow(struct dotenv *env)
{
	struct dotenv_entry *v;
	size_t cap;

	if (env->n < env->cap)
		return 0;
	cap = env->cap ? env->cap * 2 : 16;
	v = realloc(env->v, cap * sizeof(*v));
	if (v == NULL)
		return CF_ENOMEM;
	env->v = v;
	env->cap = cap;
	return 0;
}

static void
entry_drop_value(struct dotenv *env, struct dotenv_entry *e)
{
	if (e->value == NULL)
		return;
	if (owned_by_blocks(env, e->value))
		secmem_wipe(e->value, e->value_len);
	else
		secmem_free(e->value, e->value_len + 1);
	e->value = NULL;
}

/* An open-addressing index of key -> entry, used while parsing. */
struct key_index {
	size_t *slot; /* entry index + 1, 0 when free */
	size_t mask;
};

static uint64_t
key_hash(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

static size_t *
index_find(const struct key_index *ix, const struct dotenv *env, const char *key, size_t len)
{
	size_t i = (size_t)key_hash(key, len) & ix->mask;

	for (;; i = (i + 1) & ix->mask) {
		const struct dotenv_entry *e;
		if (ix->slot[i] == 0)
			return &ix->slot[i];
		e = &env->v[ix->slot[i] - 1];
		if (strlen(e->key) == len && memcmp(e->key, key, len) == 0)
			return &ix->slot[i];
	}
}

static int
index_grow(struct key_index *ix, const struct dotenv *env)
{
	size_t size = (ix->mask + 1) * 2;
	struct key_index nx;

	if (ix->slot != NULL && env->n * 2 < ix->mask + 1)
		return 0;
	if (size < 64)
		size = 64;
	nx.slot = calloc(size, sizeof(*nx.slot));
	if (nx.slot == NULL)
		return CF_ENOMEM;
	nx.mask = size - 1;
	for (size_t i = 0; i < env->n; i++)
		*index_find(&nx, env, env->v[i].key, strlen(env->v[i].key)) = i + 1;
	free(ix->slot);
	*ix = nx;
	return 0;
}

struct parse_ctx {
	struct dotenv *env;
	struct key_index ix;
};

static int
parse_visit(void *arg, const struct dotenv_span *span, const char *key, const char *value,
            size_t value_len)
{
	struct parse_ctx *c = arg;
	struct dotenv *env = c->env;
	struct dotenv_entry *e;
	size_t *slot, klen = span->key_len;
	int r;

	/* dotenv stores into a plain object, where `__proto__ = "string"` is a
	 * no-op: the key never appears in its result */
	if (strcmp(key, "__proto__") == 0)
		return 0;
	r = index_grow(&c->ix, env);
	if (r < 0)
		return r;
	slot = index_find(&c->ix, env, key, klen);
	if (*slot != 0) {
		e = &env->v[*slot - 1];
		entry_drop_value(env, e);
	} else {
		r = entries_grow(env);
		if (r < 0)
			return r;
		e = &env->v[env->n];
		memset(e, 0, sizeof(*e));
		e->key = block_dup(env, key, klen);
		if (e->key == NULL)
			return CF_ENOMEM;
		env->n++;
		*slot = env->n;
	}
	e->value = block_dup(env, value, value_len);
	if (e->value == NULL)
		return CF_ENOMEM;
	e->value_len = value_len;
	e->span = *span;
	return 0;
}

int
dotenv_parse(const char *text, size_t len, struct dotenv *out, char *err, size_t errlen)
{
	struct parse_ctx c = {.env = out};
	int r;

	r = dotenv_scan(text, len, parse_visit, &c, err, errlen);
	free(c.ix.slot);
	if (r < 0)
		dotenv_free(out);
	return r;
}

int
dotenv_parse_fd(int fd, const char *name, struct dotenv *out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > DOTENV_MAX_FILE)
		goto toobig;
	for (;;) {
		ssize_t got;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			char *p;
			if (cap > DOTENV_MAX_FILE)
				goto toobig;
			p = malloc(ncap);
			if (p == NULL) {
				r = CF_ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			if (buf != NULL) {
				memcpy(p, buf, len);
				secmem_free(buf, cap);
			}
			buf = p;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			r = CF_EIO;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	r = dotenv_parse(buf, len, out, err, errlen);
	goto out;
toobig:
	snprintf(err, errlen, "%s: file too large (over %u bytes)", name, DOTENV_MAX_FILE);
	r = CF_ETOOBIG;
out:
	secmem_free(buf, cap);
	return r;
}

int
dotenv_parse_file(const char *path, struct dotenv *out, char *err, size_t errlen)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return CF_EIO;
	}
	r = dotenv_parse_fd(fd, path, out, err, errlen);
	close(fd);
	return r;
}

const struct dotenv_entry *
dotenv_find(const struct dotenv *env, const char *key)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->v[i].key, key) == 0)
			return &env->v[i];
	return NULL;
}

int
dotenv_set_at(struct dotenv *env, size_t i, const char *value, size_t value_len)
{
	struct dotenv_entry *e = &env->v[i];
	char *copy;

	assert(i < env->n);
	copy = malloc(value_len + 1);
	if (copy == NULL)
		return CF_ENOMEM;
	memcpy(copy, value, value_len);
	copy[value_len] = '\0';
	entry_drop_value(env, e);
	e->value = copy;
	e->value_len = value_len;
	return 0;
}

int
dotenv_set(struct dotenv *env, const char *key, const char *value, size_t value_len)
{
	const struct dotenv_entry *e = dotenv_find(env, key);
	struct dotenv_entry *ne;
	char *k;
	int r;

	if (e != NULL)
		return dotenv_set_at(env, (size_t)(e - env->v), value, value_len);
	r = entries_grow(env);
	if (r < 0)
		return r;
	k = strdup(key);
	if (k == NULL)
		return CF_ENOMEM;
	ne = &env->v[env->n];
	memset(ne, 0, sizeof(*ne));
	ne->key = k;
	env->n++;
	r = dotenv_set_at(env, env->n - 1, value, value_len);
	if (r < 0) {
		env->n--;
		free(k);
	}
	return r;
}

/* A key JavaScript treats as an array index: "0" or digits without a leading
 * zero, below 2^32 - 1. */
static bool
js_index(const char *k, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (k[0] == '\0' || (k[0] == '0' && k[1] != '\0'))
		return false;
	for (i = 0; k[i] != '\0'; i++) {
		if (k[i] < '0' || k[i] > '9' || i >= 10)
			return false;
		v = v * 10 + (uint64_t)(k[i] - '0');
	}
	if (v >= 4294967295ull)
		return false;
	*ret = v;
	return true;
}

void
dotenv_js_order(const struct dotenv *env, size_t *order)
{
	size_t o = 0;
	uint64_t a, b;

	for (size_t i = 0; i < env->n; i++) {
		size_t j;
		if (!js_index(env->v[i].key, &a))
			continue;
		/* insertion sort: files rarely have more than a few numeric keys */
		for (j = o; j > 0; j--) {
			(void)js_index(env->v[order[j - 1]].key, &b);
			if (b < a)
				break;
			order[j] = order[j - 1];
		}
		order[j] = i;
		o++;
	}
	for (size_t i = 0; i < env->n; i++)
		if (!js_index(env->v[i].key, &a))
			order[o++] = i;
}

void
dotenv_free(struct dotenv *env)
{
	struct dotenv_block *b, *next;

	if (env == NULL)
		return;
	for (size_t i = 0; i < env->n; i++) {
		struct dotenv_entry *e = &env->v[i];
		entry_drop_value(env, e);
		if (e->key != NULL && !owned_by_blocks(env, e->key))
			free(e->key);
	}
	for (b = env->blocks; b != NULL; b = next) {
		next = b->next;
		secmem_free(b, sizeof(*b) + b->used);
	}
	free(env->v);
	memset(env, 0, sizeof(*env));
}
