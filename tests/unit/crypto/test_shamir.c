/* test_shamir.c - Shamir split/combine over GF(2^8).
 *
 * The field is checked against an independent table-based reference (tables are
 * fine in a test: nothing here is secret) anchored on the FIPS-197 example
 * {57} x {83} = {c1}, so shares stay compatible with Vault's AES-field shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/shamir.h"
#include "lib/err.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_LEN 32

/* --- reference field arithmetic (log/exp tables, generator 0x03) ---------- */

static uint8_t ref_exp[512];
static uint8_t ref_log[256];

static uint8_t
ref_mul_slow(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	while (b != 0) {
		if (b & 1)
			r ^= a;
		a = (uint8_t)((a & 0x80) ? (a << 1) ^ 0x1b : a << 1);
		b >>= 1;
	}
	return r;
}

static void
ref_init(void)
{
	uint8_t x = 1;

	for (int i = 0; i < 255; i++) {
		ref_exp[i] = x;
		ref_exp[i + 255] = x;
		ref_log[x] = (uint8_t)i;
		x = ref_mul_slow(x, 3);
	}
}

static uint8_t
ref_mul(uint8_t a, uint8_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return ref_exp[ref_log[a] + ref_log[b]];
}

static uint8_t
ref_div(uint8_t a, uint8_t b)
{
	if (a == 0)
		return 0;
	return ref_exp[ref_log[a] + 255 - ref_log[b]];
}

/* Lagrange interpolation at 0 of k points. */
static uint8_t
ref_interpolate(const uint8_t *xs, const uint8_t *ys, unsigned k)
{
	uint8_t acc = 0;

	for (unsigned i = 0; i < k; i++) {
		uint8_t basis = 1;
		for (unsigned j = 0; j < k; j++) {
			if (j == i)
				continue;
			basis = ref_mul(basis, ref_div(xs[j], (uint8_t)(xs[i] ^ xs[j])));
		}
		acc ^= ref_mul(ys[i], basis);
	}
	return acc;
}

static uint8_t
ref_eval(const uint8_t *coeffs, unsigned t, uint8_t x)
{
	uint8_t y = 0;

	for (unsigned i = t; i-- > 0;)
		y = (uint8_t)(ref_mul(y, x) ^ coeffs[i]);
	return y;
}

static int
group_setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	ref_init();
	return 0;
}

/* --- helpers ---------------------------------------------------------------- */

struct shares {
	unsigned n;
	size_t len; /* share length = secret length + 1 */
	uint8_t *buf;
	uint8_t *p[SHAMIR_MAX_SHARES];
};

static void
shares_init(struct shares *sh, unsigned n, size_t secret_len)
{
	sh->n = n;
	sh->len = secret_len + 1;
	sh->buf = calloc(n, sh->len);
	assert_non_null(sh->buf);
	for (unsigned i = 0; i < n; i++)
		sh->p[i] = sh->buf + i * sh->len;
}

static void
shares_free(struct shares *sh)
{
	free(sh->buf);
	sh->buf = NULL;
}

/* Combines the shares whose indexes are in idx[0..k) and returns the result code. */
static int
combine_subset(const struct shares *sh, const unsigned *idx, unsigned k, uint8_t *out)
{
	const uint8_t *sel[SHAMIR_MAX_SHARES];

	for (unsigned i = 0; i < k; i++)
		sel[i] = sh->p[idx[i]];
	return shamir_combine(sel, k, sh->len, out);
}

/* k distinct random indexes below n, in random order. */
static void
random_subset(unsigned n, unsigned k, unsigned *idx)
{
	unsigned perm[SHAMIR_MAX_SHARES];

	for (unsigned i = 0; i < n; i++)
		perm[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = randombytes_uniform(i + 1);
		unsigned tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	memcpy(idx, perm, k * sizeof(*idx));
}

/* --- tests ------------------------------------------------------------------ */

/* The reference is the AES field, and combine agrees with it on hand-built shares. */
static void
test_shamir_field_matches_aes(void **state)
{
	/* FIPS-197 section 4.2: {57} x {83} = {c1}; {57} x {13} = {fe}. */
	assert_int_equal(ref_mul(0x57, 0x83), 0xc1);
	assert_int_equal(ref_mul(0x57, 0x13), 0xfe);
	assert_int_equal(ref_mul_slow(0x57, 0x83), 0xc1);
	/* Vault's shamir tests: mult(3, 7) = 9, div(6, 3) = 2. */
	assert_int_equal(ref_mul(3, 7), 9);
	assert_int_equal(ref_div(6, 3), 2);
	for (unsigned a = 1; a < 256; a++)
		assert_int_equal(ref_mul((uint8_t)a, ref_div(1, (uint8_t)a)), 1);

	/* Secret 0x00, f(x) = 0x57 x: shares (0x83, 0xc1) and (0x01, 0x57). */
	uint8_t s1[2] = {0xc1, 0x83}, s2[2] = {0x57, 0x01}, out[1] = {0xaa};
	const uint8_t *sel[2] = {s1, s2};
	assert_int_equal(shamir_combine(sel, 2, 2, out), 0);
	assert_int_equal(out[0], 0x00);
}

/* Shares made with the reference arithmetic combine to the secret, for every byte
 * value and several polynomial degrees (exercises every multiplication input). */
static void
test_shamir_combine_reference_shares(void **state)
{
	enum { LEN = 256 };
	static const uint8_t xs[5] = {0x01, 0x02, 0x53, 0xca, 0xff};

	for (unsigned t = 2; t <= 5; t++) {
		struct shares sh;
		uint8_t secret[LEN], out[LEN], coeffs[5];

		shares_init(&sh, t, LEN);
		for (unsigned b = 0; b < LEN; b++) {
			secret[b] = (uint8_t)b;
			coeffs[0] = secret[b];
			for (unsigned c = 1; c < t; c++)
				coeffs[c] = (uint8_t)(b * 7 + c * 31 + 1);
			for (unsigned i = 0; i < t; i++)
				sh.p[i][b] = ref_eval(coeffs, t, xs[i]);
		}
		for (unsigned i = 0; i < t; i++)
			sh.p[i][LEN] = xs[i];
		assert_int_equal(shamir_combine((const uint8_t *const *)sh.p, t, sh.len, out), 0);
		assert_memory_equal(out, secret, LEN);
		shares_free(&sh);
	}
}

/* Shares from shamir_split lie on a polynomial of degree < t whose value at 0 is
 * the secret, as the reference interpolation sees it. */
static void
test_shamir_split_reference_interpolation(void **state)
{
	uint8_t secret[SECRET_LEN];
	struct shares sh;
	const unsigned n = 7, t = 4;

	randombytes_buf(secret, sizeof(secret));
	shares_init(&sh, n, SECRET_LEN);
	assert_int_equal(shamir_split(secret, SECRET_LEN, n, t, sh.p), 0);
	for (unsigned b = 0; b < SECRET_LEN; b++) {
		uint8_t xs[7], ys[7];
		for (unsigned i = 0; i < n; i++) {
			xs[i] = sh.p[i][SECRET_LEN];
			ys[i] = sh.p[i][b];
		}
		assert_int_equal(ref_interpolate(xs, ys, t), secret[b]);
		/* Degree < t: the other shares agree with the first t. */
		assert_int_equal(ref_interpolate(xs + 3, ys + 3, t), secret[b]);
	}
	shares_free(&sh);
}

/* Every (n, t) with t <= n <= 10: first t, last t, all n, and random subsets. */
static void
test_shamir_roundtrip_all_params(void **state)
{
	for (unsigned n = 1; n <= 10; n++) {
		for (unsigned t = (n == 1 ? 1 : 2); t <= n; t++) {
			uint8_t secret[SECRET_LEN], out[SECRET_LEN];
			unsigned idx[10];
			struct shares sh;

			randombytes_buf(secret, sizeof(secret));
			shares_init(&sh, n, SECRET_LEN);
			assert_int_equal(shamir_split(secret, SECRET_LEN, n, t, sh.p), 0);

			for (unsigned i = 0; i < n; i++)
				idx[i] = i;
			memset(out, 0, sizeof(out));
			assert_int_equal(combine_subset(&sh, idx, t, out), 0);
			assert_memory_equal(out, secret, SECRET_LEN);
			memset(out, 0, sizeof(out));
			assert_int_equal(combine_subset(&sh, idx + (n - t), t, out), 0);
			assert_memory_equal(out, secret, SECRET_LEN);
			memset(out, 0, sizeof(out));
			assert_int_equal(combine_subset(&sh, idx, n, out), 0);
			assert_memory_equal(out, secret, SECRET_LEN);

			for (int rep = 0; rep < 8; rep++) {
				unsigned k = t + randombytes_uniform(n - t + 1);
				random_subset(n, k, idx);
				memset(out, 0, sizeof(out));
				assert_int_equal(combine_subset(&sh, idx, k, out), 0);
				assert_memory_equal(out, secret, SECRET_LEN);
			}
			shares_free(&sh);
		}
	}
}

/* Any t of the n shares works: every subset of size >= t of a 3-of-6 split. */
static void
test_shamir_every_subset(void **state)
{
	const unsigned n = 6, t = 3;
	uint8_t secret[SECRET_LEN], out[SECRET_LEN];
	struct shares sh;
	unsigned tried = 0;

	randombytes_buf(secret, sizeof(secret));
	shares_init(&sh, n, SECRET_LEN);
	assert_int_equal(shamir_split(secret, SECRET_LEN, n, t, sh.p), 0);
	for (unsigned mask = 1; mask < (1u << n); mask++) {
		unsigned idx[6], k = 0;
		for (unsigned i = 0; i < n; i++)
			if (mask & (1u << i))
				idx[k++] = i;
		memset(out, 0, sizeof(out));
		assert_int_equal(combine_subset(&sh, idx, k, out), 0);
		if (k >= t) {
			assert_memory_equal(out, secret, SECRET_LEN);
			tried++;
		} else {
			assert_memory_not_equal(out, secret, SECRET_LEN);
		}
	}
	assert_int_equal(tried, 42); /* C(6,3) + C(6,4) + C(6,5) + C(6,6) */
	shares_free(&sh);
}

/* Fewer than t shares give a value that is not the secret. */
static void
test_shamir_below_threshold_not_secret(void **state)
{
	for (unsigned n = 2; n <= 10; n++) {
		for (unsigned t = 2; t <= n; t++) {
			uint8_t secret[SECRET_LEN], out[SECRET_LEN];
			unsigned idx[10];
			struct shares sh;

			randombytes_buf(secret, sizeof(secret));
			shares_init(&sh, n, SECRET_LEN);
			assert_int_equal(shamir_split(secret, SECRET_LEN, n, t, sh.p), 0);
			for (unsigned k = 1; k < t; k++) {
				random_subset(n, k, idx);
				assert_int_equal(combine_subset(&sh, idx, k, out), 0);
				assert_memory_not_equal(out, secret, SECRET_LEN);
			}
			shares_free(&sh);
		}
	}
}

/* Chi-square statistic of a 256-bin histogram against the uniform distribution. */
static double
chi2_uniform(const unsigned *hist, unsigned total)
{
	double e = total / 256.0, x = 0;

	for (int i = 0; i < 256; i++)
		x += (hist[i] - e) * (hist[i] - e) / e;
	return x;
}

/* t - 1 shares reveal nothing: over many splits, every byte that combining them
 * gives is uniform, hits the secret byte only 1 time in 256, and its distribution
 * does not depend on the secret (two-sample chi-square between two secrets).
 * With 255 degrees of freedom the statistic has mean 255 and sd 22.6; 420 is
 * about 7 sd out, so a false failure is practically impossible. */
static void
test_shamir_below_threshold_uniform(void **state)
{
	enum { SPLITS = 2000, N = 5, T = 3 };
	static const uint8_t fill[2] = {0x00, 0xa5};
	unsigned hist[2][256];
	unsigned total = SPLITS * SECRET_LEN;

	memset(hist, 0, sizeof(hist));
	for (int s = 0; s < 2; s++) {
		uint8_t secret[SECRET_LEN], out[SECRET_LEN];
		unsigned hits = 0, idx[N];
		struct shares sh;

		memset(secret, fill[s], sizeof(secret));
		shares_init(&sh, N, SECRET_LEN);
		for (int rep = 0; rep < SPLITS; rep++) {
			assert_int_equal(shamir_split(secret, SECRET_LEN, N, T, sh.p), 0);
			random_subset(N, T - 1, idx);
			assert_int_equal(combine_subset(&sh, idx, T - 1, out), 0);
			for (int b = 0; b < SECRET_LEN; b++) {
				hist[s][out[b]]++;
				hits += out[b] == secret[b];
			}
		}
		shares_free(&sh);
		/* Expected total / 256 = 250, sd ~ 15.8. */
		assert_in_range(hits, 150, 350);
		assert_true(chi2_uniform(hist[s], total) < 420.0);
	}

	double x = 0;
	for (int i = 0; i < 256; i++) {
		double a = hist[0][i], b = hist[1][i];
		if (a + b > 0)
			x += (a - b) * (a - b) / (a + b);
	}
	assert_true(x < 420.0);
}

/* One share of a split (t >= 2) is uniform too: its y bytes do not follow the
 * secret. */
static void
test_shamir_single_share_uniform(void **state)
{
	enum { SPLITS = 2000 };
	unsigned hist[256] = {0};
	uint8_t secret[SECRET_LEN];
	struct shares sh;

	memset(secret, 0x42, sizeof(secret));
	shares_init(&sh, 2, SECRET_LEN);
	for (int rep = 0; rep < SPLITS; rep++) {
		assert_int_equal(shamir_split(secret, SECRET_LEN, 2, 2, sh.p), 0);
		for (int b = 0; b < SECRET_LEN; b++)
			hist[sh.p[0][b]]++;
	}
	shares_free(&sh);
	assert_true(chi2_uniform(hist, SPLITS * SECRET_LEN) < 420.0);
}

static void
test_shamir_duplicate_x_rejected(void **state)
{
	uint8_t secret[SECRET_LEN], out[SECRET_LEN];
	struct shares sh;
	const uint8_t *sel[3];

	randombytes_buf(secret, sizeof(secret));
	shares_init(&sh, 3, SECRET_LEN);
	assert_int_equal(shamir_split(secret, SECRET_LEN, 3, 2, sh.p), 0);

	/* The same share twice. */
	sel[0] = sh.p[0];
	sel[1] = sh.p[0];
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(shamir_combine(sel, 2, sh.len, out), CF_EINVAL);
	/* out is untouched on error. */
	for (int i = 0; i < SECRET_LEN; i++)
		assert_int_equal(out[i], 0x5a);

	/* A different share with a forged duplicate x byte. */
	sh.p[2][SECRET_LEN] = sh.p[1][SECRET_LEN];
	sel[0] = sh.p[0];
	sel[1] = sh.p[1];
	sel[2] = sh.p[2];
	assert_int_equal(shamir_combine(sel, 3, sh.len, out), CF_EINVAL);
	/* x = 0 is never a valid share. */
	sh.p[2][SECRET_LEN] = 0;
	assert_int_equal(shamir_combine(sel, 3, sh.len, out), CF_EINVAL);
	shares_free(&sh);
}

/* The x bytes are distinct and nonzero, even with the full 255 shares. */
static void
test_shamir_x_distinct_nonzero(void **state)
{
	uint8_t secret[4] = {1, 2, 3, 4}, out[4];
	bool seen[256] = {false};
	struct shares sh;
	unsigned idx[SHAMIR_MAX_SHARES];

	shares_init(&sh, SHAMIR_MAX_SHARES, sizeof(secret));
	assert_int_equal(shamir_split(secret, sizeof(secret), SHAMIR_MAX_SHARES, 2, sh.p), 0);
	for (unsigned i = 0; i < SHAMIR_MAX_SHARES; i++) {
		uint8_t x = sh.p[i][sizeof(secret)];
		assert_int_not_equal(x, 0);
		assert_false(seen[x]);
		seen[x] = true;
	}
	random_subset(SHAMIR_MAX_SHARES, 2, idx);
	assert_int_equal(combine_subset(&sh, idx, 2, out), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	shares_free(&sh);

	/* 255-of-255. */
	shares_init(&sh, SHAMIR_MAX_SHARES, sizeof(secret));
	assert_int_equal(
	        shamir_split(secret, sizeof(secret), SHAMIR_MAX_SHARES, SHAMIR_MAX_SHARES, sh.p),
	        0);
	random_subset(SHAMIR_MAX_SHARES, SHAMIR_MAX_SHARES, idx);
	assert_int_equal(combine_subset(&sh, idx, SHAMIR_MAX_SHARES, out), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	assert_int_equal(combine_subset(&sh, idx, SHAMIR_MAX_SHARES - 1, out), 0);
	assert_memory_not_equal(out, secret, sizeof(secret));
	shares_free(&sh);
}

/* The x coordinates are random: two splits rarely pick the same x set. */
static void
test_shamir_x_random(void **state)
{
	uint8_t secret[SECRET_LEN] = {0};
	struct shares a, b;
	int same = 0;

	shares_init(&a, 3, SECRET_LEN);
	shares_init(&b, 3, SECRET_LEN);
	for (int rep = 0; rep < 20; rep++) {
		assert_int_equal(shamir_split(secret, SECRET_LEN, 3, 2, a.p), 0);
		assert_int_equal(shamir_split(secret, SECRET_LEN, 3, 2, b.p), 0);
		same += a.p[0][SECRET_LEN] == b.p[0][SECRET_LEN] &&
		        a.p[1][SECRET_LEN] == b.p[1][SECRET_LEN];
		/* Same secret, fresh polynomial: the y bytes differ. */
		assert_memory_not_equal(a.p[0], b.p[0], SECRET_LEN);
	}
	assert_true(same <= 2);
	shares_free(&a);
	shares_free(&b);
}

/* 1-of-1: the share is the secret plus an x byte. */
static void
test_shamir_one_of_one(void **state)
{
	uint8_t secret[SECRET_LEN], out[SECRET_LEN];
	struct shares sh;

	randombytes_buf(secret, sizeof(secret));
	shares_init(&sh, 1, SECRET_LEN);
	assert_int_equal(shamir_split(secret, SECRET_LEN, 1, 1, sh.p), 0);
	assert_memory_equal(sh.p[0], secret, SECRET_LEN);
	assert_int_not_equal(sh.p[0][SECRET_LEN], 0);
	assert_int_equal(shamir_combine((const uint8_t *const *)sh.p, 1, sh.len, out), 0);
	assert_memory_equal(out, secret, SECRET_LEN);
	shares_free(&sh);
}

static void
test_shamir_invalid_params(void **state)
{
	uint8_t secret[4] = {1, 2, 3, 4}, out[4];
	struct shares sh;

	shares_init(&sh, SHAMIR_MAX_SHARES, sizeof(secret));
	uint8_t *big[SHAMIR_MAX_SHARES + 1];
	for (unsigned i = 0; i < SHAMIR_MAX_SHARES; i++)
		big[i] = sh.p[i];
	big[SHAMIR_MAX_SHARES] = sh.p[0];

	static const struct {
		size_t len;
		unsigned n, t;
	} bad[] = {
	        {4, 0, 0}, {4, 1, 0},   {4, 2, 3}, {4, 2, 1},
	        {4, 5, 1}, {4, 256, 2}, {0, 3, 2}, {4, 3, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shamir_split(secret, bad[i].len, bad[i].n, bad[i].t, big),
		                 CF_EINVAL);
	assert_int_equal(shamir_split(NULL, 4, 3, 2, big), CF_EINVAL);
	assert_int_equal(shamir_split(secret, 4, 3, 2, NULL), CF_EINVAL);

	assert_int_equal(shamir_split(secret, 4, 3, 2, sh.p), 0);
	const uint8_t *sel[2] = {sh.p[0], sh.p[1]};
	assert_int_equal(shamir_combine(sel, 0, 5, out), CF_EINVAL);
	assert_int_equal(shamir_combine(sel, 2, 1, out), CF_EINVAL);
	assert_int_equal(shamir_combine(sel, 2, 0, out), CF_EINVAL);
	assert_int_equal(shamir_combine(NULL, 2, 5, out), CF_EINVAL);
	assert_int_equal(shamir_combine(sel, 2, 5, NULL), CF_EINVAL);
	assert_int_equal(shamir_combine((const uint8_t *const *)big, SHAMIR_MAX_SHARES + 1, 5, out),
	                 CF_EINVAL);
	assert_int_equal(shamir_combine(sel, 2, 5, out), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	shares_free(&sh);
}

/* A one-byte secret and a long one. */
static void
test_shamir_lengths(void **state)
{
	static const size_t lens[] = {1, 2, 16, 33, 64, 1000};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *secret = malloc(lens[i]), *out = malloc(lens[i]);
		struct shares sh;
		unsigned idx[5];

		assert_non_null(secret);
		assert_non_null(out);
		randombytes_buf(secret, lens[i]);
		shares_init(&sh, 5, lens[i]);
		assert_int_equal(shamir_split(secret, lens[i], 5, 3, sh.p), 0);
		random_subset(5, 3, idx);
		assert_int_equal(combine_subset(&sh, idx, 3, out), 0);
		assert_memory_equal(out, secret, lens[i]);
		shares_free(&sh);
		free(secret);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_shamir_field_matches_aes),
	        cmocka_unit_test(test_shamir_combine_reference_shares),
	        cmocka_unit_test(test_shamir_split_reference_interpolation),
	        cmocka_unit_test(test_shamir_roundtrip_all_params),
	        cmocka_unit_test(test_shamir_every_subset),
	        cmocka_unit_test(test_shamir_below_threshold_not_secret),
	        cmocka_unit_test(test_shamir_below_threshold_uniform),
	        cmocka_unit_test(test_shamir_single_share_uniform),
	        cmocka_unit_test(test_shamir_duplicate_x_rejected),
	        cmocka_unit_test(test_shamir_x_distinct_nonzero),
	        cmocka_unit_test(test_shamir_x_random),
	        cmocka_unit_test(test_shamir_one_of_one),
	        cmocka_unit_test(test_shamir_invalid_params),
	        cmocka_unit_test(test_shamir_lengths),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
