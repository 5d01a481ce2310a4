/* srp6a.c - SRP-6a arithmetic (docs/internals/auth.md, SRP) on OpenSSL BIGNUMs; see srp6a.h. */
#include "crypto/srp6a.h"
#include "lib/secmem.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct srp6a_group {
	BIGNUM *N, *g, *k;
	BN_MONT_CTX *mont;
	const EVP_MD *md;
	size_t nlen, hlen;
	uint8_t gbytes[4]; /* bytes(g): minimal big-endian */
	size_t glen;
	uint8_t kbytes[SRP6A_MAX_HASH];
	uint8_t hxor[SRP6A_MAX_HASH]; /* H(bytes(N)) XOR H(bytes(g)), for M1 */
};

/* RFC 5054 Appendix A, 3072-bit group (= RFC 3526 group 15). */
const char srp6a_default_n_hex[] =
        "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74"
        "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437"
        "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed"
        "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05"
        "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb"
        "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b"
        "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718"
        "3995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33"
        "a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7"
        "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864"
        "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e2"
        "08e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff";

/* ---- hashing ---- */

struct part {
	const void *p;
	size_t n;
};

/* out = H(parts...) */
static int
hash_parts(const struct srp6a_group *grp, uint8_t *out, const struct part *parts, size_t n)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = CF_EINTERNAL;

	if (!c)
		return CF_ENOMEM;
	if (EVP_DigestInit_ex(c, grp->md, NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (parts[i].n && EVP_DigestUpdate(c, parts[i].p, parts[i].n) != 1)
			goto out;
	if (EVP_DigestFinal_ex(c, out, NULL) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(c); /* clears the state */
	return r;
}

#define HASH(grp, out, ...)                                                                        \
	hash_parts(grp, out, (const struct part[]){__VA_ARGS__},                                   \
	           sizeof((const struct part[]){__VA_ARGS__}) / sizeof(struct part))

/* ---- groups ---- */

size_t
srp6a_nlen(const struct srp6a_group *grp)
{
	return grp->nlen;
}

size_t
srp6a_hlen(const struct srp6a_group *grp)
{
	return grp->hlen;
}

void
srp6a_group_free(struct srp6a_group *grp)
{
	if (!grp)
		return;
	BN_free(grp->N);
	BN_free(grp->g);
	BN_free(grp->k);
	BN_MONT_CTX_free(grp->mont);
	free(grp);
}

int
srp6a_group_new(const char *n_hex, unsigned g, const EVP_MD *md, struct srp6a_group **ret)
{
	struct srp6a_group *grp = calloc(1, sizeof(*grp));
	uint8_t nb[SRP6A_MAX_N], gpad[SRP6A_MAX_N], hn[SRP6A_MAX_HASH], hg[SRP6A_MAX_HASH];
	char clean[2 * SRP6A_MAX_N + 1];
	size_t j = 0;
	BN_CTX *ctx = NULL;
	int r = CF_ENOMEM;

	if (!grp)
		return CF_ENOMEM;
	for (const char *p = n_hex; *p; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\t')
			continue;
		if (j + 1 >= sizeof(clean)) {
			r = CF_EINVAL;
			goto out;
		}
		clean[j++] = *p;
	}
	clean[j] = '\0';
	grp->md = md;
	grp->hlen = (size_t)EVP_MD_get_size(md);
	if (grp->hlen == 0 || grp->hlen > SRP6A_MAX_HASH || g < 2 || g > 0xffffff) {
		r = CF_EINVAL;
		goto out;
	}
	grp->N = BN_new();
	grp->g = BN_new();
	grp->k = BN_new();
	ctx = BN_CTX_new();
	if (!grp->N || !grp->g || !grp->k || !ctx)
		goto out;
	if (BN_hex2bn(&grp->N, clean) != (int)j || !BN_is_odd(grp->N) ||
	    BN_num_bytes(grp->N) > SRP6A_MAX_N || BN_num_bits(grp->N) < 512) {
		r = CF_EINVAL;
		goto out;
	}
	if (BN_set_word(grp->g, g) != 1)
		goto out;
	grp->nlen = (size_t)BN_num_bytes(grp->N);
	grp->glen = (size_t)BN_num_bytes(grp->g);
	if (BN_bn2bin(grp->g, grp->gbytes) != (int)grp->glen)
		goto out;
	grp->mont = BN_MONT_CTX_new();
	if (!grp->mont || BN_MONT_CTX_set(grp->mont, grp->N, ctx) != 1)
		goto out;
	if (BN_bn2binpad(grp->N, nb, (int)grp->nlen) < 0 ||
	    BN_bn2binpad(grp->g, gpad, (int)grp->nlen) < 0)
		goto out;
	/* k = H(bytes(N) | PAD(g)): g padded here (trap 1) */
	r = HASH(grp, grp->kbytes, {nb, grp->nlen}, {gpad, grp->nlen});
	if (r < 0)
		goto out;
	if (!BN_bin2bn(grp->kbytes, (int)grp->hlen, grp->k)) {
		r = CF_ENOMEM;
		goto out;
	}
	/* ... and H(bytes(g)) in M1 hashes the single minimal byte (trap 1) */
	r = HASH(grp, hn, {nb, grp->nlen});
	if (r == 0)
		r = HASH(grp, hg, {grp->gbytes, grp->glen});
	if (r < 0)
		goto out;
	for (size_t i = 0; i < grp->hlen; i++)
		grp->hxor[i] = hn[i] ^ hg[i];
	*ret = grp;
	grp = NULL;
	r = 0;
out:
	BN_CTX_free(ctx);
	srp6a_group_free(grp);
	return r;
}

static struct srp6a_group *default_group;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void
default_init(void)
{
	if (srp6a_group_new(srp6a_default_n_hex, 5, EVP_sha256(), &default_group) < 0)
		default_group = NULL;
}

const struct srp6a_group *
srp6a_group_default(void)
{
	(void)pthread_once(&default_once, default_init);
	return default_group;
}

/* ---- helpers ---- */

/* A BIGNUM in secure memory, flagged constant-time, from big-endian bytes. */
static BIGNUM *
secret_bn(const uint8_t *in, size_t len)
{
	BIGNUM *x = BN_secure_new();

	if (!x)
		return NULL;
	BN_set_flags(x, BN_FLG_CONSTTIME);
	if (!BN_bin2bn(in, (int)len, x)) {
		BN_clear_free(x);
		return NULL;
	}
	return x;
}

static int
pad_out(const struct srp6a_group *grp, const BIGNUM *x, uint8_t *out)
{
	return BN_bn2binpad(x, out, (int)grp->nlen) == (int)grp->nlen ? 0 : CF_EINTERNAL;
}

/* r = base^e mod N, constant time in e */
static int
modexp(const struct srp6a_group *grp, BIGNUM *r, const BIGNUM *base, const BIGNUM *e, BN_CTX *ctx)
{
	return BN_mod_exp_mont_consttime(r, base, e, grp->N, ctx, grp->mont) == 1 ? 0
	                                                                          : CF_EINTERNAL;
}

/* ---- computations ---- */

int
srp6a_k(const struct srp6a_group *grp, uint8_t *out)
{
	memcpy(out, grp->kbytes, grp->hlen);
	return 0;
}

int
srp6a_x(const struct srp6a_group *grp, const uint8_t *salt, size_t slen, const void *user,
        size_t ulen, const void *pass, size_t plen, uint8_t *out)
{
	uint8_t inner[SRP6A_MAX_HASH];
	int r;

	r = HASH(grp, inner, {user, ulen}, {":", 1}, {pass, plen});
	/* the salt is hashed as the bytes it is (trap 2) */
	if (r == 0)
		r = HASH(grp, out, {salt, slen}, {inner, grp->hlen});
	secmem_wipe(inner, sizeof(inner));
	return r;
}

int
srp6a_pow_g(const struct srp6a_group *grp, const uint8_t *e, size_t elen, uint8_t *out)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *x = secret_bn(e, elen), *r = BN_secure_new();
	int rc = CF_ENOMEM;

	if (!ctx || !x || !r)
		goto out;
	rc = modexp(grp, r, grp->g, x, ctx);
	if (rc == 0)
		rc = pad_out(grp, r, out);
out:
	BN_clear_free(x);
	BN_clear_free(r);
	BN_CTX_free(ctx);
	return rc;
}

int
srp6a_public_check(const struct srp6a_group *grp, const uint8_t *in, size_t len, uint8_t *out)
{
	BIGNUM *x;
	int r = CF_EINVAL;

	if (len == 0 || len > grp->nlen)
		return CF_EINVAL;
	x = BN_bin2bn(in, (int)len, NULL);
	if (!x)
		return CF_ENOMEM;
	if (!BN_is_zero(x) && BN_cmp(x, grp->N) < 0)
		r = pad_out(grp, x, out);
	BN_free(x);
	return r;
}

int
srp6a_verifier_check(const struct srp6a_group *grp, const uint8_t *v, size_t len)
{
	BIGNUM *x;
	int r = CF_EINVAL;

	if (len != grp->nlen)
		return CF_EINVAL;
	x = BN_bin2bn(v, (int)len, NULL);
	if (!x)
		return CF_ENOMEM;
	if (!BN_is_zero(x) && !BN_is_one(x) && BN_cmp(x, grp->N) < 0)
		r = 0;
	BN_clear_free(x);
	return r;
}

int
srp6a_server_B(const struct srp6a_group *grp, const uint8_t *v, const uint8_t *b, size_t blen,
               uint8_t *out)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *bv = secret_bn(v, grp->nlen), *bb = secret_bn(b, blen), *kv = BN_secure_new(),
	       *gb = BN_secure_new(), *B = BN_new();
	int r = CF_ENOMEM;

	if (!ctx || !bv || !bb || !kv || !gb || !B)
		goto out;
	r = CF_EINTERNAL;
	if (BN_mod_mul(kv, grp->k, bv, grp->N, ctx) != 1)
		goto out;
	r = modexp(grp, gb, grp->g, bb, ctx);
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (BN_mod_add(B, kv, gb, grp->N, ctx) != 1)
		goto out;
	r = BN_is_zero(B) ? CF_EINTERNAL : pad_out(grp, B, out);
out:
	BN_clear_free(bv);
	BN_clear_free(bb);
	BN_clear_free(kv);
	BN_clear_free(gb);
	BN_free(B);
	BN_CTX_free(ctx);
	return r;
}

int
srp6a_u(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *B, uint8_t *out)
{
	uint8_t u[SRP6A_MAX_HASH], acc = 0;
	int r;

	/* A and B always padded (trap 3) */
	r = HASH(grp, u, {A, grp->nlen}, {B, grp->nlen});
	if (r < 0)
		return r;
	for (size_t i = 0; i < grp->hlen; i++)
		acc |= u[i];
	if (acc == 0)
		return CF_EINVAL;
	memcpy(out, u, grp->hlen);
	return 0;
}

int
srp6a_server_S(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *v, const uint8_t *u,
               const uint8_t *b, size_t blen, uint8_t *out)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *bA = BN_bin2bn(A, (int)grp->nlen, NULL), *bv = secret_bn(v, grp->nlen),
	       *bu = BN_bin2bn(u, (int)grp->hlen, NULL), *bb = secret_bn(b, blen),
	       *t = BN_secure_new(), *S = BN_secure_new();
	int r = CF_ENOMEM;

	if (!ctx || !bA || !bv || !bu || !bb || !t || !S)
		goto out;
	r = CF_EINVAL;
	if (BN_is_zero(bA) || BN_cmp(bA, grp->N) >= 0)
		goto out;
	r = modexp(grp, t, bv, bu, ctx); /* v^u */
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (BN_mod_mul(t, t, bA, grp->N, ctx) != 1) /* A * v^u */
		goto out;
	r = modexp(grp, S, t, bb, ctx); /* (A * v^u)^b */
	if (r == 0)
		r = pad_out(grp, S, out);
out:
	BN_free(bA);
	BN_clear_free(bv);
	BN_free(bu);
	BN_clear_free(bb);
	BN_clear_free(t);
	BN_clear_free(S);
	BN_CTX_free(ctx);
	return r;
}

int
srp6a_client_S(const struct srp6a_group *grp, const uint8_t *B, const uint8_t *x, const uint8_t *u,
               const uint8_t *a, size_t alen, uint8_t *out)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *bB = BN_bin2bn(B, (int)grp->nlen, NULL), *bx = secret_bn(x, grp->hlen),
	       *bu = BN_bin2bn(u, (int)grp->hlen, NULL), *ba = secret_bn(a, alen),
	       *t = BN_secure_new(), *e = BN_secure_new(), *S = BN_secure_new();
	int r = CF_ENOMEM;

	if (!ctx || !bB || !bx || !bu || !ba || !t || !e || !S)
		goto out;
	BN_set_flags(e, BN_FLG_CONSTTIME);
	r = CF_EINVAL;
	if (BN_is_zero(bB) || BN_cmp(bB, grp->N) >= 0)
		goto out;
	r = modexp(grp, t, grp->g, bx, ctx); /* g^x */
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (BN_mod_mul(t, t, grp->k, grp->N, ctx) != 1 || /* k*g^x */
	    BN_mod_sub(t, bB, t, grp->N, ctx) != 1 ||     /* B - k*g^x */
	    BN_mul(e, bu, bx, ctx) != 1 ||                /* u*x */
	    BN_add(e, e, ba) != 1)                        /* a + u*x */
		goto out;
	r = modexp(grp, S, t, e, ctx);
	if (r == 0)
		r = pad_out(grp, S, out);
out:
	BN_free(bB);
	BN_clear_free(bx);
	BN_free(bu);
	BN_clear_free(ba);
	BN_clear_free(t);
	BN_clear_free(e);
	BN_clear_free(S);
	BN_CTX_free(ctx);
	return r;
}

int
srp6a_K(const struct srp6a_group *grp, const uint8_t *S, uint8_t *out)
{
	return HASH(grp, out, {S, grp->nlen});
}

int
srp6a_M1(const struct srp6a_group *grp, const void *user, size_t ulen, const uint8_t *salt,
         size_t slen, const uint8_t *A, const uint8_t *B, const uint8_t *K, uint8_t *out)
{
	uint8_t hi[SRP6A_MAX_HASH];
	int r;

	r = HASH(grp, hi, {user, ulen});
	if (r < 0)
		return r;
	return HASH(grp, out, {grp->hxor, grp->hlen}, {hi, grp->hlen}, {salt, slen}, {A, grp->nlen},
	            {B, grp->nlen}, {K, grp->hlen});
}

int
srp6a_M2(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *M1, const uint8_t *K,
         uint8_t *out)
{
	return HASH(grp, out, {A, grp->nlen}, {M1, grp->hlen}, {K, grp->hlen});
}
