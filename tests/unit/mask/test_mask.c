/* test_mask.c - the streaming masker of coffer run (tools/run/mask.h): a secret
 * masked whole, split at every position across two and three writes and fed a
 * byte at a time; a long line with no newline streams; base64 at each offset in
 * both alphabets, URL and JSON forms; overlapping, prefix and repeated secrets;
 * short secrets left alone; only possible match starts held back; every
 * allocation failure in mask_new answered with CF_ENOMEM and nothing leaked
 * (malloc, calloc, realloc and free are wrapped: tests/unit/mask/meson.build);
 * and a differential test against a naive whole-input reference over random
 * inputs cut into random writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "tools/run/mask.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(v)  (sizeof(v) / sizeof((v)[0]))
#define STARS MASK_REPLACEMENT

/* ---------------------------------------------------------------- allocations */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static long alloc_fail_in = -1; /* >= 0: the allocation after this many fails */
static long alloc_live;         /* blocks allocated minus blocks freed */

static bool
alloc_fails(void)
{
	if (alloc_fail_in < 0)
		return false;
	return alloc_fail_in-- == 0;
}

void *
__wrap_malloc(size_t n)
{
	void *p = alloc_fails() ? NULL : __real_malloc(n);
	alloc_live += p != NULL;
	return p;
}

void *
__wrap_calloc(size_t k, size_t n)
{
	void *p = alloc_fails() ? NULL : __real_calloc(k, n);
	alloc_live += p != NULL;
	return p;
}

void *
__wrap_realloc(void *old, size_t n)
{
	void *p = alloc_fails() ? NULL : __real_realloc(old, n);
	alloc_live += old == NULL && p != NULL;
	return p;
}

void
__wrap_free(void *p)
{
	alloc_live -= p != NULL;
	__real_free(p);
}

/* ---------------------------------------------------------------- the sink */

struct sink {
	uint8_t *p;
	size_t n, cap;
	size_t calls;
	int fail_at; /* > 0: the fail_at-th call fails */
};

static int
sink_fn(void *arg, const void *data, size_t n)
{
	struct sink *s = arg;
	s->calls++;
	if (s->fail_at > 0 && (int)s->calls == s->fail_at)
		return CF_EIO;
	assert_true(n > 0);
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->p = realloc(s->p, s->cap + 1);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->n, data, n);
	s->n += n;
	return 0;
}

static struct mask *
new_mask(const char *const *secrets, size_t n, struct sink *s)
{
	size_t lens[16];
	struct mask *m = NULL;
	assert_true(n <= N(lens));
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(secrets[i]);
	memset(s, 0, sizeof(*s));
	assert_int_equal(mask_new(secrets, lens, n, sink_fn, s, &m), 0);
	return m;
}

/* Runs in through a fresh masker cut at the given points (sorted, < n) and
 * returns the output, NUL-terminated (the caller frees it). */
static char *
run_cuts(const char *const *secrets, size_t nsec, const void *in, size_t n, const size_t *cuts,
         size_t ncuts, size_t *ret_len)
{
	struct sink s;
	struct mask *m = new_mask(secrets, nsec, &s);
	size_t at = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		assert_int_equal(mask_write(m, (const uint8_t *)in + at, to - at), 0);
		at = to;
	}
	assert_int_equal(mask_flush(m), 0);
	mask_free(m);
	if (s.p == NULL)
		s.p = malloc(1);
	s.p[s.n] = 0;
	if (ret_len != NULL)
		*ret_len = s.n;
	return (char *)s.p;
}

static char *
run1(const char *const *secrets, size_t nsec, const char *in)
{
	return run_cuts(secrets, nsec, in, strlen(in), NULL, 0, NULL);
}

static void
expect(const char *const *secrets, size_t nsec, const char *in, const char *want)
{
	char *out = run1(secrets, nsec, in);
	if (strcmp(out, want) != 0)
		fail_msg("in \"%s\": got \"%s\", want \"%s\"", in, out, want);
	free(out);
}

/* ---------------------------------------------------------------- the forms */

static size_t
b64(const char *alpha, const uint8_t *in, size_t n, bool pad, char *out)
{
	size_t o = 0, i = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			out[o++] = alpha[(acc >> (bits - 6)) & 63];
			bits -= 6;
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (6 - bits)) & 63];
	while (pad && o % 4 != 0)
		out[o++] = '=';
	out[o] = 0;
	return o;
}

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---------------------------------------------------------------- tests */

static void
test_mask_whole(void **state)
{
	const char *sec[] = {"hunter22"};
	(void)state;
	expect(sec, 1, "hunter22", STARS);
	expect(sec, 1, "pw=hunter22\n", "pw=" STARS "\n");
	expect(sec, 1, "a hunter22 b hunter22 c", "a " STARS " b " STARS " c");
	expect(sec, 1, "hunter2 hunter2", "hunter2 hunter2");
	expect(sec, 1, "hhunter22hunter2", "h" STARS "hunter2");
}

static void
test_mask_empty(void **state)
{
	const char *sec[] = {"hunter22"};
	struct sink s;
	(void)state;
	struct mask *m = new_mask(sec, 1, &s);
	assert_int_equal(mask_write(m, "", 0), 0);
	assert_int_equal(mask_flush(m), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.calls, 0);
	mask_free(m);
	mask_free(NULL);
	/* no secrets at all: a plain copy */
	expect(NULL, 0, "hunter22", "hunter22");
}

static void
test_mask_short_secret(void **state)
{
	const char *sec[] = {"abc", "", "x", "abcd"};
	(void)state;
	expect(sec, 3, "abc x abcabc", "abc x abcabc");
	expect(sec, 4, "abc abcd abcde", "abc " STARS " " STARS "e");
}

/* The secret inside a line, cut into two and three writes at every position. */
static void
test_mask_split(void **state)
{
	const char *sec[] = {"s3cr3t-Value_42"};
	const char *in = "log: token=s3cr3t-Value_42; again s3cr3t-Value_42\n";
	const char *want = "log: token=" STARS "; again " STARS "\n";
	size_t n = strlen(in);
	(void)state;
	for (size_t a = 0; a <= n; a++) {
		size_t cuts[2] = {a};
		char *out = run_cuts(sec, 1, in, n, cuts, 1, NULL);
		if (strcmp(out, want) != 0)
			fail_msg("cut at %zu: \"%s\"", a, out);
		free(out);
		for (size_t b = a; b <= n; b++) {
			cuts[1] = b;
			out = run_cuts(sec, 1, in, n, cuts, 2, NULL);
			if (strcmp(out, want) != 0)
				fail_msg("cuts at %zu, %zu: \"%s\"", a, b, out);
			free(out);
		}
	}
}

static void
test_mask_byte_at_a_time(void **state)
{
	const char *sec[] = {"s3cr3t-Value_42", "other-secret"};
	const char *in = "s3cr3t-Value_42other-secret s3cr3t-Value_4 other-secre s3cr3t-Value_42";
	const char *want = STARS " s3cr3t-Value_4 other-secre " STARS;
	size_t n = strlen(in), cuts[128];
	(void)state;
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	char *out = run_cuts(sec, 2, in, n, cuts, n - 1, NULL);
	assert_string_equal(out, want);
	free(out);
}

/* Only bytes that may begin a match wait; the rest is written at once. */
static void
test_mask_holdback(void **state)
{
	const char *sec[] = {"hunter22"};
	struct sink s;
	(void)state;
	struct mask *m = new_mask(sec, 1, &s);
	assert_int_equal(mask_write(m, "abc hunt", 8), 0);
	assert_int_equal(s.n, 4);
	assert_memory_equal(s.p, "abc ", 4);
	assert_int_equal(mask_write(m, "e", 1), 0); /* "hunte": still a prefix */
	assert_int_equal(s.n, 4);
	assert_int_equal(mask_write(m, "x", 1), 0); /* no longer */
	assert_int_equal(s.n, 10);
	assert_memory_equal(s.p, "abc huntex", 10);
	assert_int_equal(mask_write(m, "hunter", 6), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(mask_flush(m), 0); /* the input ended: written as is */
	assert_int_equal(s.n, 16);
	assert_memory_equal(s.p, "abc huntexhunter", 16);
	mask_free(m);
	free(s.p);
}

/* A line of several MB with no newline streams: output keeps up with input. */
static void
test_mask_long_line(void **state)
{
	const char *sec[] = {"Zq9-long-line-secret"};
	const size_t chunk = 65536, total = 8 << 20;
	uint8_t *buf = malloc(chunk);
	struct sink s;
	(void)state;
	assert_non_null(buf);
	struct mask *m = new_mask(sec, 1, &s);
	size_t planted = 0;
	for (size_t off = 0; off < total; off += chunk) {
		for (size_t i = 0; i < chunk; i++)
			buf[i] = (uint8_t)('a' + (off / chunk + i * 7) % 26);
		/* one secret per chunk, across the chunk boundary every other time */
		size_t at = (off / chunk) % 2 ? chunk - 9 : 1000;
		size_t k = strlen(sec[0]);
		if (at + k <= chunk) {
			memcpy(buf + at, sec[0], k);
			planted++;
		} else {
			memcpy(buf + at, sec[0], chunk - at);
		}
		if (off > 0 && (off / chunk) % 2 == 0) /* the rest of the split one */
			memcpy(buf, sec[0] + 9, k - 9), planted++;
		assert_int_equal(mask_write(m, buf, chunk), 0);
		/* nearly everything is out already */
		assert_true(s.n + 64 >= off + chunk - planted * (k - 5));
	}
	assert_int_equal(mask_flush(m), 0);
	assert_int_equal(s.n, total - planted * (strlen(sec[0]) - 5));
	assert_null(memmem(s.p, s.n, sec[0], strlen(sec[0])));
	assert_null(memmem(s.p, s.n, "long-line", 9));
	mask_free(m);
	free(s.p);
	free(buf);
}

/* base64 of the secret at each offset inside a longer text, both alphabets,
 * and alone with and without padding. */
static void
test_mask_base64(void **state)
{
	/* ">?" and "?~" give '+' '/' in standard and '-' '_' in URL-safe base64 */
	const char *sec[] = {"pass>?word?~x"};
	const size_t k = strlen(sec[0]);
	(void)state;
	for (int a = 0; a < 2; a++) {
		const char *alpha = a ? URL : STD;
		for (size_t pre = 0; pre < 6; pre++) {
			for (size_t post = 0; post < 4; post++) {
				uint8_t raw[64];
				char enc[128], sub[64];
				memcpy(raw, "0123456", pre);
				memcpy(raw + pre, sec[0], k);
				memcpy(raw + pre + k, "xyz", post);
				size_t n = b64(alpha, raw, pre + k + post, true, enc);
				char *out = run1(sec, 1, enc);
				if (strstr(out, STARS) == NULL)
					fail_msg("base64 %s offset %zu not masked: %s",
					         a ? "url" : "std", pre, out);
				/* no run of 4 characters that depends on the secret only survives
				 */
				size_t from = (8 * (pre % 3) + 5) / 6,
				       to = (8 * (pre % 3) + 8 * k) / 6;
				uint8_t al[64] = {0};
				memcpy(al + pre % 3, sec[0], k);
				char ae[128];
				b64(alpha, al, pre % 3 + k, false, ae);
				for (size_t i = from; i + 4 <= to; i++) {
					memcpy(sub, ae + i, 4);
					sub[4] = 0;
					if (strstr(out, sub) != NULL)
						fail_msg("offset %zu leaks \"%s\": %s", pre, sub,
						         out);
				}
				free(out);
				(void)n;
			}
		}
		/* alone, with and without padding */
		char enc[64], want[80];
		b64(alpha, (const uint8_t *)sec[0], k, true, enc);
		snprintf(want, sizeof(want), "[%s]", enc);
		char in[80];
		snprintf(in, sizeof(in), "[%s]", enc);
		expect(sec, 1, in, "[" STARS "]");
		b64(alpha, (const uint8_t *)sec[0], k, false, enc);
		snprintf(in, sizeof(in), "x=%s;", enc);
		expect(sec, 1, in, "x=" STARS ";");
	}
}

static void
test_mask_url(void **state)
{
	const char *sec[] = {"p@ss w/rd!*"};
	(void)state;
	expect(sec, 1, "q=p%40ss%20w%2Frd!*&", "q=" STARS "&");     /* encodeURIComponent */
	expect(sec, 1, "q=p%40ss%20w%2frd!*&", "q=" STARS "&");     /* lower-case hex */
	expect(sec, 1, "q=p%40ss+w%2Frd%21*&", "q=" STARS "&");     /* URLSearchParams */
	expect(sec, 1, "q=p%40ss+w%2Frd%21%2A&", "q=" STARS "&");   /* quote_plus */
	expect(sec, 1, "q=p%40ss%20w%2Frd%21%2A&", "q=" STARS "&"); /* RFC 3986 */
	expect(sec, 1, "q=p%40ss%20w%2frd%21%2a&", "q=" STARS "&");
}

static void
test_mask_json(void **state)
{
	const char *sec[] = {"a\"b\\c/d<e>\xc3\xa9\n"};
	(void)state;
	expect(sec, 1, "{\"k\":\"a\\\"b\\\\c/d<e>\xc3\xa9\\n\"}", "{\"k\":\"" STARS "\"}");
	expect(sec, 1, "{\"k\":\"a\\\"b\\\\c/d<e>\\u00e9\\n\"}", "{\"k\":\"" STARS "\"}");
	expect(sec, 1, "{\"k\":\"a\\\"b\\\\c/d\\u003ce\\u003e\xc3\xa9\\n\"}",
	       "{\"k\":\"" STARS "\"}");
	expect(sec, 1, "{\"k\":\"a\\\"b\\\\c\\/d<e>\\u00e9\\n\"}", "{\"k\":\"" STARS "\"}");
}

/* Overlapping and nested secrets: the union is masked, whichever matched first. */
static void
test_mask_overlap(void **state)
{
	const char *sec[] = {"abcdef", "defghi", "cdefgh"};
	const char *pre[] = {"prefix", "prefixlonger"};
	const char *inner[] = {"bcdefgh", "cdef"};
	const char *rep[] = {"abab", "xyzxyz"};
	(void)state;
	expect(sec, 3, "--abcdefghi--", "--" STARS "--");
	expect(sec, 3, "--abcdef-defghi--", "--" STARS "-" STARS "--");
	expect(sec, 3, "--abcdefdefghi--", "--" STARS "--");
	expect(pre, 2, "prefixlonger prefixlonge prefix", STARS " " STARS "longe " STARS);
	expect(pre, 2, "prefixprefixlonger", STARS);
	/* the short one matches inside the long one before it completes */
	expect(inner, 2, "abcdefghij abcdefgX", "a" STARS "ij ab" STARS "gX");
	expect(inner, 2, "bcdefgh", STARS);
	/* short secrets found while a long one is still possible wait for it */
	const char *many[] = {"abcd-efgh-ijkl-mnop-qrst", "abcd", "efgh", "ijkl", "mnop"};
	expect(many, 5, "abcd-efgh-ijkl-mnop-qrs!", STARS "-" STARS "-" STARS "-" STARS "-qrs!");
	expect(many, 5, "abcd-efgh-ijkl-mnop-qrst!", STARS "!");
	/* a secret repeated back to back, and overlapping itself */
	expect(rep, 2, "abababab xyzxyzxyz ab", STARS " " STARS " ab");
}

/* ---------------------------------------------------------------- reference */

/* The naive masker: every form of every secret found anywhere in the whole
 * input, the union of the matches (touching ones joined) replaced. */
struct forms {
	char *p[4096];
	size_t len[4096];
	size_t n;
};

static void
forms_add(struct forms *f, const char *p, size_t len)
{
	if (len < MASK_MIN_LEN)
		return;
	assert_true(f->n < N(f->p));
	f->p[f->n] = malloc(len);
	memcpy(f->p[f->n], p, len);
	f->len[f->n++] = len;
}

static size_t
pct(const uint8_t *s, size_t len, const char *keep, bool plus, bool upper, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || (s[i] && strchr(keep, s[i])))
			out[o++] = (char)s[i];
		else if (s[i] == ' ' && plus)
			out[o++] = '+';
		else
			o += (size_t)sprintf(out + o, upper ? "%%%02X" : "%%%02x", s[i]);
	}
	return o;
}

static void
forms_of(struct forms *f, const uint8_t *s, size_t len)
{
	char enc[512];
	if (len < MASK_MIN_LEN)
		return;
	size_t o = 0; /* JSON: only '\n' needs escaping in these alphabets */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			enc[o++] = '\\', enc[o++] = 'n';
		else
			enc[o++] = (char)s[i];
	}
	forms_add(f, enc, o);
	forms_add(f, (const char *)s, len);
	for (int a = 0; a < 2; a++) {
		const char *alpha = a ? URL : STD;
		forms_add(f, enc, b64(alpha, s, len, true, enc));
		forms_add(f, enc, b64(alpha, s, len, false, enc));
		for (size_t k = 0; k < 3; k++) {
			uint8_t al[128] = {0};
			memcpy(al + k, s, len);
			b64(alpha, al, k + len, false, enc);
			size_t from = (8 * k + 5) / 6, to = (8 * k + 8 * len) / 6;
			forms_add(f, enc + from, to - from);
		}
	}
	const char *keeps[] = {"-_.!~*'()", "-_.~", "-_.~", "*-._"};
	const bool plus[] = {false, false, true, true};
	for (size_t i = 0; i < 4; i++)
		for (int u = 0; u < 2; u++)
			forms_add(f, enc, pct(s, len, keeps[i], plus[i], u, enc));
}

static char *
reference(struct forms *f, const uint8_t *in, size_t n, size_t *ret_len)
{
	uint8_t *mark = calloc(n + 1, 1); /* 1: masked; 2: start of a run */
	char *out = malloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < f->n; i++) {
		for (size_t p = 0; p + f->len[i] <= n; p++) {
			if (memcmp(in + p, f->p[i], f->len[i]) == 0)
				memset(mark + p, 1, f->len[i]);
		}
	}
	for (size_t i = 0; i < n;) {
		if (!mark[i]) {
			out[o++] = (char)in[i++];
			continue;
		}
		while (i < n && mark[i])
			i++;
		/* touching matches are one run already: marks are contiguous */
		out = realloc(out, n + o + 8);
		memcpy(out + o, STARS, 5);
		o += 5;
	}
	free(mark);
	*ret_len = o;
	return out;
}

/* Random text over a small alphabet, secrets and their forms planted, cut into
 * random writes: the masker's output equals the reference's, and no form of a
 * secret survives. */
static void
test_mask_random_diff(void **state)
{
	static const char alphabet[] = "abcAB+/=%2-_ \n";
	uint64_t seed = 0x2026120700000001ull;
	(void)state;
#define RND()                                                                                      \
	(seed = seed * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(seed >> 33))
	for (int round = 0; round < 400; round++) {
		char secbuf[6][48];
		/* short secrets sample the input every few bytes, 16 and more every
		 * 9 or more (the filter's two gram sizes) */
		bool longer = round % 2;
		const char *sec[6];
		size_t nsec = 1 + RND() % 6;
		struct forms f = {0};
		for (size_t i = 0; i < nsec; i++) {
			size_t len = longer ? 16 + RND() % 24 : 2 + RND() % 14;
			for (size_t k = 0; k < len; k++)
				secbuf[i][k] = alphabet[RND() % (sizeof(alphabet) - 1)];
			/* some secrets share a prefix or overlap another */
			if (i > 0 && RND() % 3 == 0) {
				size_t sh = RND() % (strlen(secbuf[i - 1]) + 1);
				memcpy(secbuf[i], secbuf[i - 1] + strlen(secbuf[i - 1]) - sh, sh);
			}
			secbuf[i][len] = 0;
			sec[i] = secbuf[i];
			forms_of(&f, (const uint8_t *)sec[i], len);
		}
		size_t n = RND() % 5000;
		uint8_t *in = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)alphabet[RND() % (sizeof(alphabet) - 1)];
		for (size_t k = 0; k < n / 40 && f.n > 0; k++) {
			size_t w = RND() % f.n, at = RND() % (n + 1);
			if (at + f.len[w] <= n)
				memcpy(in + at, f.p[w], f.len[w]);
		}
		size_t cuts[64], ncuts = n ? RND() % 64 : 0;
		for (size_t i = 0; i < ncuts; i++)
			cuts[i] = RND() % n;
		for (size_t i = 1; i < ncuts; i++) /* insertion sort */
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		size_t got_len, want_len;
		char *got = run_cuts(sec, nsec, in, n, cuts, ncuts, &got_len);
		char *want = reference(&f, in, n, &want_len);
		if (got_len != want_len || memcmp(got, want, got_len) != 0)
			fail_msg("round %d: output differs from the reference (%zu vs %zu bytes)",
			         round, got_len, want_len);
		for (size_t i = 0; i < f.n; i++)
			if (memmem(got, got_len, f.p[i], f.len[i]) != NULL)
				fail_msg("round %d: a form of a secret survived", round);
		free(got);
		free(want);
		free(in);
		for (size_t i = 0; i < f.n; i++)
			free(f.p[i]);
	}
#undef RND
}

/* Each allocation of mask_new failing in turn: CF_ENOMEM, *ret untouched,
 * nothing left allocated; once none fails, the masker works. */
static void
test_mask_nomem(void **state)
{
	const char *sec[] = {"s3cr3t-Value_42", "p@ss w/rd\\\""};
	size_t lens[] = {strlen(sec[0]), strlen(sec[1])};
	struct sink s = {0};
	(void)state;
	for (long k = 0;; k++) {
		struct mask *m = (struct mask *)&s; /* must stay as it is on failure */
		long live = alloc_live;
		alloc_fail_in = k;
		int r = mask_new(sec, lens, 2, sink_fn, &s, &m);
		alloc_fail_in = -1;
		if (r == 0) {
			assert_true(k > 10);
			assert_int_equal(mask_write(m, "a s3cr3t-Value_42 b", 19), 0);
			assert_int_equal(mask_flush(m), 0);
			mask_free(m);
			assert_int_equal(s.n, 9);
			assert_memory_equal(s.p, "a " STARS " b", 9);
			free(s.p);
			assert_int_equal(alloc_live, live);
			break;
		}
		assert_int_equal(r, CF_ENOMEM);
		assert_ptr_equal(m, (struct mask *)&s);
		if (alloc_live != live)
			fail_msg("allocation %ld failing leaks %ld blocks", k, alloc_live - live);
	}
}

/* The sink's error stops the masker and is returned from then on. */
static void
test_mask_sink_error(void **state)
{
	const char *sec[] = {"hunter22"};
	struct sink s;
	(void)state;
	struct mask *m = new_mask(sec, 1, &s);
	s.fail_at = 1;
	assert_int_equal(mask_write(m, "hello hunter22 world", 20), CF_EIO);
	assert_int_equal(mask_write(m, "more", 4), CF_EIO);
	assert_int_equal(mask_flush(m), CF_EIO);
	mask_free(m);
	free(s.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mask_whole),
	        cmocka_unit_test(test_mask_empty),
	        cmocka_unit_test(test_mask_short_secret),
	        cmocka_unit_test(test_mask_split),
	        cmocka_unit_test(test_mask_byte_at_a_time),
	        cmocka_unit_test(test_mask_holdback),
	        cmocka_unit_test(test_mask_long_line),
	        cmocka_unit_test(test_mask_base64),
	        cmocka_unit_test(test_mask_url),
	        cmocka_unit_test(test_mask_json),
	        cmocka_unit_test(test_mask_overlap),
	        cmocka_unit_test(test_mask_random_diff),
	        cmocka_unit_test(test_mask_sink_error),
	        cmocka_unit_test(test_mask_nomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
