/* shamir.c - Shamir secret sharing over GF(2^8), constant time.
 *
 * The field is GF(2)[x] / (x^8 + x^4 + x^3 + x + 1), the AES field that Vault's
 * shamir package uses, so shares are interchangeable with Vault's (y bytes, then
 * the x byte). Vault computes with log/exp tables indexed by secret bytes; we do
 * not: multiplication is shift-and-xor with all-ones/all-zeros masks, inversion is
 * a fixed chain of multiplications (a^254), and no branch or memory index depends
 * on a secret byte. See docs/internals/crypto.md. */
#include "crypto/shamir.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <string.h>

/* Product in GF(2^8). Eight fixed rounds; (0 - bit) turns a bit into a mask. */
static uint8_t
gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	for (int i = 0; i < 8; i++) {
		r ^= (uint8_t)(-(b & 1) & a);
		b >>= 1;
		a = (uint8_t)((a << 1) ^ (-(a >> 7) & 0x1b));
	}
	return r;
}

/* Inverse as a^254 = a^-1 (a^255 = 1 for a != 0); maps 0 to 0.
 * 254 = 2 + 4 + 8 + 16 + 32 + 64 + 128: square six times, multiplying as we go. */
static uint8_t
gf_inv(uint8_t a)
{
	uint8_t sq = gf_mul(a, a); /* a^2 */
	uint8_t r = sq;

	for (int i = 0; i < 6; i++) {
		sq = gf_mul(sq, sq); /* a^4, a^8, ... a^128 */
		r = gf_mul(r, sq);
	}
	return r;
}

/* Horner's rule for coeffs[0] + coeffs[1] x + ... + coeffs[t-1] x^(t-1). */
static uint8_t
poly_eval(const uint8_t *coeffs, unsigned t, uint8_t x)
{
	uint8_t y = 0;

	for (unsigned i = t; i-- > 0;)
		y = (uint8_t)(gf_mul(y, x) ^ coeffs[i]);
	return y;
}

int
shamir_split(const uint8_t *secret, size_t len, unsigned n, unsigned t, uint8_t **shares)
{
	uint8_t xs[SHAMIR_MAX_SHARES];
	uint8_t coeffs[SHAMIR_MAX_SHARES];
	int r = CF_EINVAL;

	if (secret == NULL || shares == NULL || len == 0)
		goto out;
	if (n < 1 || n > SHAMIR_MAX_SHARES || t < 1 || t > n || (t == 1 && n != 1))
		goto out;
	for (unsigned i = 0; i < n; i++)
		if (shares[i] == NULL)
			goto out;
	if (sodium_init() < 0) {
		r = CF_EINTERNAL;
		goto out;
	}

	/* Distinct random nonzero x coordinates: the first n of a random permutation of
	 * 1..255 (Fisher-Yates). The x bytes are public, part of each share. */
	for (unsigned i = 0; i < SHAMIR_MAX_SHARES; i++)
		xs[i] = (uint8_t)(i + 1);
	for (unsigned i = SHAMIR_MAX_SHARES - 1; i > 0; i--) {
		unsigned j = randombytes_uniform(i + 1);
		uint8_t tmp = xs[i];
		xs[i] = xs[j];
		xs[j] = tmp;
	}
	for (unsigned i = 0; i < n; i++)
		shares[i][len] = xs[i];

	/* One random polynomial per secret byte, its constant term the secret byte.
	 * Coefficients are uniform over the field (a zero leading coefficient is as
	 * likely as any other: forcing it nonzero would leak a little). */
	for (size_t b = 0; b < len; b++) {
		coeffs[0] = secret[b];
		randombytes_buf(coeffs + 1, t - 1);
		for (unsigned i = 0; i < n; i++)
			shares[i][b] = poly_eval(coeffs, t, xs[i]);
	}
	r = 0;
out:
	secmem_wipe(coeffs, sizeof(coeffs));
	return r;
}

int
shamir_combine(const uint8_t *const *shares, unsigned k, size_t share_len, uint8_t *out)
{
	uint8_t xs[SHAMIR_MAX_SHARES];
	uint8_t basis[SHAMIR_MAX_SHARES];
	uint8_t acc = 0;
	int r = CF_EINVAL;

	if (shares == NULL || out == NULL || k < 1 || k > SHAMIR_MAX_SHARES || share_len < 2)
		goto out;
	for (unsigned i = 0; i < k; i++) {
		if (shares[i] == NULL)
			goto out;
		xs[i] = shares[i][share_len - 1];
		/* x = 0 would be the secret itself; no split produces it. */
		if (xs[i] == 0)
			goto out;
		for (unsigned j = 0; j < i; j++)
			if (xs[j] == xs[i])
				goto out;
	}

	/* Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_i - x_j); in GF(2^8)
	 * subtraction is xor. The x bytes are public, so the basis depends on no
	 * secret; it is computed once and reused for every byte. */
	for (unsigned i = 0; i < k; i++) {
		uint8_t num = 1, den = 1;
		for (unsigned j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = gf_mul(num, xs[j]);
			den = gf_mul(den, (uint8_t)(xs[i] ^ xs[j]));
		}
		basis[i] = gf_mul(num, gf_inv(den));
	}

	for (size_t b = 0; b + 1 < share_len; b++) {
		acc = 0;
		for (unsigned i = 0; i < k; i++)
			acc ^= gf_mul(shares[i][b], basis[i]);
		out[b] = acc;
	}
	acc = 0;
	r = 0;
out:
	secmem_wipe(&acc, sizeof(acc));
	return r;
}
