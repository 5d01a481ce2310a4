/* expand.c - dotenv-expand's expansion of parsed .env values (docs/env.md).
 *
 * What dotenv-expand does after dotenv.config(), step by step:
 *   - the keys are walked in JavaScript object order (dotenv_js_order());
 *   - a key the environment already holds with a different, non-empty value
 *     takes that value, unexpanded;
 *   - otherwise its literal is expanded against a lookup table: the
 *     environment, where a key of the file not set before stands as its
 *     literal, except that a key already walked whose table value is still
 *     its literal resolves to its expanded value;
 *   - references are `${BODY}` (BODY without braces) and `$NAME`, not after a
 *     backslash; the first of `:+` `+` `:-` `-` in BODY is the operator; the
 *     leftmost reference is replaced (at the first place its text occurs) and
 *     the search starts over, until none is left or the whole value equals the
 *     value looked up for the reference just replaced;
 *   - last, every `\$` becomes `$`.
 * Not done here: `$(command)` substitution (never run; left as written) and
 * `encrypted:` values (their decryption belongs to the dotenvx tools). Where
 * dotenv-expand would loop forever, coffer stops with an error. */
#include "tools/env/dotenv.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replacements in one value before it is taken for one that never settles. */
#define EXPAND_MAX_PASSES 10000
/* Bytes rescanned for one value before it is taken for one that never settles. */
#define EXPAND_MAX_WORK (1024ull * 1024 * 1024)

struct val {
	char *s;
	size_t len;
};

struct expander {
	struct dotenv *env;
	char *const *environ;
	struct val *lit; /* the parsed literals */
	struct val *exp; /* expanded values of the keys walked so far */
	bool *done;      /* walked */
	size_t *by_name; /* entry indices sorted by key */
};

static const struct expander *sort_ctx;

static int
by_name_cmp(const void *a, const void *b)
{
	const struct dotenv *env = sort_ctx->env;

	return strcmp(env->v[*(const size_t *)a].key, env->v[*(const size_t *)b].key);
}

/* The entry named name[0, len), or -1. */
static long
file_key(const struct expander *x, const char *name, size_t len)
{
	size_t lo = 0, hi = x->env->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = x->env->v[x->by_name[mid]].key;
		int c = strncmp(k, name, len);
		if (c == 0 && k[len] != '\0')
			c = 1;
		if (c == 0)
			return (long)x->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The environment's value of name[0, len), or NULL when it is not set. */
static const char *
env_get(char *const *environ, const char *name, size_t len)
{
	if (environ == NULL)
		return NULL;
	for (size_t i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], name, len) == 0 && environ[i][len] == '=')
			return environ[i] + len + 1;
	return NULL;
}

/* What a reference to name[0, len) sees, or NULL when nothing has the name. */
static const char *
lookup(const struct expander *x, const char *name, size_t len, size_t *ret_len)
{
	const char *ev = env_get(x->environ, name, len);
	long i = file_key(x, name, len);

	if (i >= 0) {
		const char *h = ev ? ev : x->lit[i].s;
		if (x->done[i] && strcmp(h, x->lit[i].s) == 0) {
			*ret_len = x->exp[i].len;
			return x->exp[i].s;
		}
		*ret_len = strlen(h);
		return h;
	}
	if (ev != NULL)
		*ret_len = strlen(ev);
	return ev;
}

static bool
name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* The leftmost reference in s[0, len): its offset, length and body. */
static bool
find_ref(const char *s, size_t len, size_t *ret_at, size_t *ret_len, size_t *ret_body,
         size_t *ret_body_len)
{
	const char *p = s, *end = s + len;

	while ((p = memchr(p, '$', (size_t)(end - p))) != NULL) {
		size_t i = (size_t)(p - s), j;

		p++;
		if (i > 0 && s[i - 1] == '\\')
			continue;
		if (i + 1 < len && s[i + 1] == '{') {
			for (j = i + 2; j < len && s[j] != '{' && s[j] != '}'; j++)
				;
			if (j < len && s[j] == '}' && j > i + 2) {
				*ret_at = i;
				*ret_len = j + 1 - i;
				*ret_body = i + 2;
				*ret_body_len = j - i - 2;
				return true;
			}
			continue;
		}
		if (i + 1 < len && name_start(s[i + 1])) {
			for (j = i + 2; j < len && name_char(s[j]); j++)
				;
			*ret_at = i;
			*ret_len = j - i;
			*ret_body = i + 1;
			*ret_body_len = j - i - 1;
			return true;
		}
	}
	return false;
}

/* Splits a reference body at its operator (the leftmost of :+ + :- -). With
 * none, the name is the body up to a first "null": dotenv-expand splits the
 * body on String(null) then. */
static void
split_body(const char *b, size_t len, size_t *ret_name_len, int *ret_op, size_t *ret_word)
{
	for (size_t i = 0; i < len; i++) {
		if (b[i] == ':' && i + 1 < len && (b[i + 1] == '+' || b[i + 1] == '-')) {
			*ret_name_len = i;
			*ret_op = b[i + 1] == '+' ? 'P' : 'M'; /* :+ and :- */
			*ret_word = i + 2;
			return;
		}
		if (b[i] == '+' || b[i] == '-') {
			*ret_name_len = i;
			*ret_op = b[i];
			*ret_word = i + 1;
			return;
		}
	}
	*ret_op = 0;
	*ret_word = len;
	*ret_name_len = len;
	for (size_t i = 0; i + 4 <= len; i++) {
		if (memcmp(b + i, "null", 4) == 0) {
			*ret_name_len = i;
			return;
		}
	}
}

static int
buf_reserve(struct val *v, size_t *cap, size_t need)
{
	char *p;
	size_t ncap = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	if (need > DOTENV_MAX_FILE)
		return CF_ETOOBIG;
	while (ncap < need)
		ncap *= 2;
	p = malloc(ncap);
	if (p == NULL)
		return CF_ENOMEM;
	if (v->s != NULL) {
		memcpy(p, v->s, v->len + 1);
		secmem_free(v->s, *cap);
	}
	v->s = p;
	*cap = ncap;
	return 0;
}

/* Expands the literal of entry k into *out (a fresh buffer of *ret_cap bytes). */
static int
expand_one(const struct expander *x, size_t k, struct val *out, size_t *ret_cap, char *err,
           size_t errlen)
{
	const char *key = x->env->v[k].key;
	uint64_t work = 0;
	size_t cap = 0, passes = 0;
	int r;

	out->s = NULL;
	out->len = x->lit[k].len;
	r = buf_reserve(out, &cap, out->len + 1);
	if (r < 0)
		goto out;
	memcpy(out->s, x->lit[k].s, out->len + 1);
	for (;;) {
		size_t at, rlen, body, blen, nlen, word, vlen = 0, ilen, first;
		const char *val, *ins, *hit;
		char *s = out->s;
		int op;

		if (!find_ref(s, out->len, &at, &rlen, &body, &blen))
			break;
		split_body(s + body, blen, &nlen, &op, &word);
		val = lookup(x, s + body, nlen, &vlen);
		switch (op) {
		case 'M': /* :- */
			ins = val && vlen ? val : s + body + word;
			ilen = val && vlen ? vlen : blen - word;
			break;
		case '-':
			ins = val ? val : s + body + word;
			ilen = val ? vlen : blen - word;
			break;
		case 'P': /* :+ */
			ins = val && vlen ? s + body + word : "";
			ilen = val && vlen ? blen - word : 0;
			break;
		case '+':
			ins = val ? s + body + word : "";
			ilen = val ? blen - word : 0;
			break;
		default:
			ins = val ? val : "";
			ilen = val ? vlen : 0;
		}
		/* JavaScript's replace(string, ...) changes the first place the
		 * reference's text occurs, which is earlier than the reference
		 * itself when the same text stands after a backslash before it */
		hit = memmem(s, at + rlen, s + at, rlen);
		first = (size_t)(hit - s);
		{
			/* the word may live in the buffer being rewritten: build the
			 * new value in a fresh one */
			struct val nv = {NULL, 0};
			size_t ncap = 0, nl = out->len - rlen + ilen;

			r = buf_reserve(&nv, &ncap, nl + 1);
			if (r < 0)
				goto toobig;
			memcpy(nv.s, s, first);
			memcpy(nv.s + first, ins, ilen);
			memcpy(nv.s + first + ilen, s + first + rlen, out->len - first - rlen);
			nv.s[nl] = '\0';
			nv.len = nl;
			secmem_free(out->s, cap);
			*out = nv;
			cap = ncap;
		}
		if (val != NULL && out->len == vlen && memcmp(out->s, val, vlen) == 0)
			break;
		work += out->len;
		if (++passes > EXPAND_MAX_PASSES || work > EXPAND_MAX_WORK) {
			r = CF_EINVAL;
			goto toobig;
		}
	}
	r = 0;
	goto out;
toobig:
	if (r == CF_ENOMEM)
		snprintf(err, errlen, "out of memory");
	else
		snprintf(err, errlen, "expanding %s does not come to an end (it refers to itself?)",
		         key);
	r = r == CF_ENOMEM ? r : CF_EINVAL;
out:
	if (r < 0) {
		secmem_free(out->s, cap);
		out->s = NULL;
	}
	*ret_cap = cap;
	return r;
}

/* `\$` -> `$`, in place. */
static void
unescape_dollars(struct val *v)
{
	size_t o = 0;

	for (size_t i = 0; i < v->len; i++) {
		if (v->s[i] == '\\' && i + 1 < v->len && v->s[i + 1] == '$')
			continue;
		v->s[o++] = v->s[i];
	}
	v->s[o] = '\0';
	v->len = o;
}

int
dotenv_expand(struct dotenv *env, char *const *environ, char *err, size_t errlen)
{
	struct expander x = {.env = env, .environ = environ};
	size_t *order = NULL, n = env->n, *caps = NULL;
	int r = CF_ENOMEM;

	if (errlen > 0)
		err[0] = '\0';
	if (n == 0)
		return 0;
	x.lit = calloc(n, sizeof(*x.lit));
	x.exp = calloc(n, sizeof(*x.exp));
	x.done = calloc(n, sizeof(*x.done));
	x.by_name = calloc(n, sizeof(*x.by_name));
	caps = calloc(n, sizeof(*caps));
	order = calloc(n, sizeof(*order));
	if (!x.lit || !x.exp || !x.done || !x.by_name || !caps || !order)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		x.lit[i].s = env->v[i].value;
		x.lit[i].len = env->v[i].value_len;
		x.by_name[i] = i;
	}
	sort_ctx = &x;
	qsort(x.by_name, n, sizeof(*x.by_name), by_name_cmp);
	sort_ctx = NULL;
	dotenv_js_order(env, order);

	for (size_t o = 0; o < n; o++) {
		size_t k = order[o];
		const char *key = env->v[k].key;
		const char *ev = env_get(environ, key, strlen(key));

		if (ev != NULL && ev[0] != '\0' && strcmp(ev, x.lit[k].s) != 0) {
			struct val *v = &x.exp[k];
			v->len = strlen(ev);
			caps[k] = v->len + 1;
			v->s = malloc(caps[k]);
			if (v->s == NULL)
				goto nomem;
			memcpy(v->s, ev, caps[k]);
		} else {
			r = expand_one(&x, k, &x.exp[k], &caps[k], err, errlen);
			if (r < 0)
				goto out;
		}
		unescape_dollars(&x.exp[k]);
		x.done[k] = true;
	}
	/* every value is ready: only now replace the literals */
	for (size_t k = 0; k < n; k++) {
		r = dotenv_set_at(env, k, x.exp[k].s, x.exp[k].len);
		if (r < 0)
			goto nomem;
	}
	r = 0;
	goto out;
nomem:
	r = CF_ENOMEM;
	snprintf(err, errlen, "out of memory");
out:
	if (x.exp != NULL)
		for (size_t k = 0; k < n; k++)
			secmem_free(x.exp[k].s, caps[k]);
	free(x.lit);
	free(x.exp);
	free(x.done);
	free(x.by_name);
	free(caps);
	free(order);
	return r;
}
