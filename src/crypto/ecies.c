/* ecies.c - eciesjs-compatible ECIES over secp256k1; see ecies.h.
 *
 * The curve arithmetic is OpenSSL's EC_POINT API rather than ECDH: eciesjs
 * feeds the whole shared point (04 || X || Y) to HKDF, and ECDH_compute_key
 * gives only X. Private scalars carry BN_FLG_CONSTTIME and are cleared with
 * BN_clear_free; EC_POINT_mul on a named curve runs the Montgomery ladder. */
#include "crypto/ecies.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <pthread.h>
#include <string.h>

#define ECIES_KEY_BYTES 32

struct ecies_ctx {
	const EC_GROUP *group;
	BN_CTX *bn;
};

/* The curve, HKDF and AES-GCM are looked up once per process: in OpenSSL 3
 * each lookup goes through the provider tables and costs more than the
 * arithmetic of a whole value. They are read-only after setup, so threads may
 * share them; they live until exit. */
static struct {
	EC_GROUP *group;
	EVP_KDF *hkdf;
	EVP_CIPHER *gcm;
} ecies_algs;
static pthread_once_t ecies_once = PTHREAD_ONCE_INIT;

static void
algs_init(void)
{
	ecies_algs.group = EC_GROUP_new_by_curve_name(NID_secp256k1);
	ecies_algs.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ecies_algs.gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static int
ctx_init(struct ecies_ctx *c)
{
	(void)pthread_once(&ecies_once, algs_init);
	if (ecies_algs.group == NULL || ecies_algs.hkdf == NULL || ecies_algs.gcm == NULL)
		return CF_EINTERNAL;
	c->group = ecies_algs.group;
	c->bn = BN_CTX_secure_new();
	if (c->bn == NULL)
		return CF_EINTERNAL;
	return 0;
}

static void
ctx_free(struct ecies_ctx *c)
{
	BN_CTX_free(c->bn);
}

/* The scalar of a 32-byte private key, checked to be in 1..n-1. */
static int
scalar_load(struct ecies_ctx *c, const uint8_t priv[ECIES_PRIVATE_BYTES], BIGNUM **ret)
{
	BIGNUM *d = BN_secure_new();
	int r = CF_EINTERNAL;

	if (d == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(priv, ECIES_PRIVATE_BYTES, d) == NULL)
		goto out;
	r = CF_EINVAL;
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(c->group)) >= 0)
		goto out;
	*ret = d;
	d = NULL;
	r = 0;
out:
	BN_clear_free(d);
	return r;
}

/* d * P (P NULL: the generator), serialized as form into out (len bytes). */
static int
point_mul(struct ecies_ctx *c, const BIGNUM *d, const EC_POINT *p, point_conversion_form_t form,
          uint8_t *out, size_t len)
{
	EC_POINT *q = EC_POINT_new(c->group);
	int r = CF_EINTERNAL;
	int ok;

	if (q == NULL)
		goto out;
	if (p == NULL)
		ok = EC_POINT_mul(c->group, q, d, NULL, NULL, c->bn);
	else
		ok = EC_POINT_mul(c->group, q, NULL, p, d, c->bn);
	if (ok != 1)
		goto out;
	r = CF_EINVAL;
	if (EC_POINT_is_at_infinity(c->group, q))
		goto out;
	r = CF_EINTERNAL;
	if (EC_POINT_point2oct(c->group, q, form, out, len, c->bn) != len)
		goto out;
	r = 0;
out:
	EC_POINT_clear_free(q);
	return r;
}

static int
point_load(struct ecies_ctx *c, const uint8_t *pub, size_t publen, EC_POINT **ret)
{
	EC_POINT *p = NULL;
	int r = CF_EINVAL;

	if (publen != ECIES_PUBLIC_BYTES && publen != ECIES_UNCOMP_BYTES)
		goto out;
	if (publen == ECIES_PUBLIC_BYTES && pub[0] != 0x02 && pub[0] != 0x03)
		goto out;
	if (publen == ECIES_UNCOMP_BYTES && pub[0] != 0x04)
		goto out;
	p = EC_POINT_new(c->group);
	if (p == NULL) {
		r = CF_EINTERNAL;
		goto out;
	}
	if (EC_POINT_oct2point(c->group, p, pub, publen, c->bn) != 1)
		goto out;
	if (EC_POINT_is_at_infinity(c->group, p) || EC_POINT_is_on_curve(c->group, p, c->bn) != 1)
		goto out;
	*ret = p;
	p = NULL;
	r = 0;
out:
	EC_POINT_free(p);
	return r;
}

/* The AES key both sides agree on: HKDF-SHA256(E || S, no salt, no info) ->
 * 32 bytes, where E is the ephemeral public key (uncompressed) and S = d * P,
 * the shared point (uncompressed): the sender's ephemeral scalar times the
 * recipient's key, or the recipient's scalar times E. */
static int
shared_key(struct ecies_ctx *c, const BIGNUM *d, const EC_POINT *p,
           const uint8_t e[ECIES_UNCOMP_BYTES], uint8_t key[ECIES_KEY_BYTES])
{
	uint8_t ikm[2 * ECIES_UNCOMP_BYTES];
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[3];
	int r;

	memcpy(ikm, e, ECIES_UNCOMP_BYTES);
	r = point_mul(c, d, p, POINT_CONVERSION_UNCOMPRESSED, ikm + ECIES_UNCOMP_BYTES,
	              ECIES_UNCOMP_BYTES);
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	kctx = EVP_KDF_CTX_new(ecies_algs.hkdf);
	if (kctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, sizeof(ikm));
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, key, ECIES_KEY_BYTES, params) != 1)
		goto out;
	r = 0;
out:
	EVP_KDF_CTX_free(kctx);
	secmem_wipe(ikm, sizeof(ikm));
	return r;
}

/* AES-256-GCM with a 16-byte IV. enc: in -> out and tag written; else tag
 * checked (CF_ECRYPTO when it does not verify). */
static int
aes_gcm(int enc, const uint8_t key[ECIES_KEY_BYTES], const uint8_t nonce[ECIES_NONCE_BYTES],
        uint8_t tag[ECIES_TAG_BYTES], const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, r = CF_EINTERNAL;

	if (ctx == NULL || len > ECIES_MAX_PLAINTEXT)
		goto out;
	if (EVP_CipherInit_ex(ctx, ecies_algs.gcm, NULL, NULL, NULL, enc) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ECIES_NONCE_BYTES, NULL) != 1)
		goto out;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ECIES_TAG_BYTES, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		r = enc ? CF_EINTERNAL : CF_ECRYPTO;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ECIES_TAG_BYTES, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
ecies_public_from_private(const uint8_t priv[ECIES_PRIVATE_BYTES],
                          uint8_t ret_public[ECIES_PUBLIC_BYTES])
{
	struct ecies_ctx c = {0};
	BIGNUM *d = NULL;
	int r;

	r = ctx_init(&c);
	if (r < 0)
		goto out;
	r = scalar_load(&c, priv, &d);
	if (r < 0)
		goto out;
	r = point_mul(&c, d, NULL, POINT_CONVERSION_COMPRESSED, ret_public, ECIES_PUBLIC_BYTES);
out:
	BN_clear_free(d);
	ctx_free(&c);
	return r;
}

int
ecies_keypair(uint8_t ret_private[ECIES_PRIVATE_BYTES], uint8_t ret_public[ECIES_PUBLIC_BYTES])
{
	uint8_t priv[ECIES_PRIVATE_BYTES];
	int r, tries;

	/* A random 256-bit string is below the order but for ~2^-128 of them. */
	for (tries = 0; tries < 64; tries++) {
		util_random(priv, sizeof(priv));
		r = ecies_public_from_private(priv, ret_public);
		if (r != CF_EINVAL)
			break;
	}
	if (r == 0)
		memcpy(ret_private, priv, sizeof(priv));
	secmem_wipe(priv, sizeof(priv));
	return r;
}

int
ecies_public_check(const uint8_t *pub, size_t publen)
{
	struct ecies_ctx c = {0};
	EC_POINT *p = NULL;
	int r;

	r = ctx_init(&c);
	if (r == 0)
		r = point_load(&c, pub, publen, &p);
	EC_POINT_free(p);
	ctx_free(&c);
	return r;
}

int
ecies_encrypt(const uint8_t *pub, size_t publen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	struct ecies_ctx c = {0};
	uint8_t eph[ECIES_PRIVATE_BYTES], key[ECIES_KEY_BYTES];
	uint8_t *e = out, *nonce = out + ECIES_UNCOMP_BYTES;
	uint8_t *tag = nonce + ECIES_NONCE_BYTES, *ct = tag + ECIES_TAG_BYTES;
	EC_POINT *p = NULL;
	BIGNUM *d = NULL;
	int r, tries;

	r = CF_EINVAL;
	if (ptlen > ECIES_MAX_PLAINTEXT)
		goto out;
	r = ctx_init(&c);
	if (r < 0)
		goto out;
	r = point_load(&c, pub, publen, &p);
	if (r < 0)
		goto out;
	for (tries = 0; tries < 64; tries++) {
		util_random(eph, sizeof(eph));
		r = scalar_load(&c, eph, &d);
		if (r != CF_EINVAL)
			break;
	}
	if (r < 0)
		goto out;
	r = point_mul(&c, d, NULL, POINT_CONVERSION_UNCOMPRESSED, e, ECIES_UNCOMP_BYTES);
	if (r < 0)
		goto out;
	r = shared_key(&c, d, p, e, key);
	if (r < 0)
		goto out;
	util_random(nonce, ECIES_NONCE_BYTES);
	r = aes_gcm(1, key, nonce, tag, pt, ptlen, ct);
out:
	secmem_wipe(eph, sizeof(eph));
	secmem_wipe(key, sizeof(key));
	BN_clear_free(d);
	EC_POINT_free(p);
	ctx_free(&c);
	return r;
}

int
ecies_decrypt(const uint8_t priv[ECIES_PRIVATE_BYTES], const uint8_t *payload, size_t len,
              uint8_t *out, size_t *ret_len)
{
	struct ecies_ctx c = {0};
	uint8_t key[ECIES_KEY_BYTES], tag[ECIES_TAG_BYTES];
	const uint8_t *e = payload, *nonce = payload + ECIES_UNCOMP_BYTES;
	const uint8_t *ct = nonce + ECIES_NONCE_BYTES + ECIES_TAG_BYTES;
	size_t n = 0;
	EC_POINT *p = NULL;
	BIGNUM *d = NULL;
	int r;

	r = CF_EINVAL;
	if (len < ECIES_OVERHEAD || len - ECIES_OVERHEAD > ECIES_MAX_PLAINTEXT)
		goto out;
	n = len - ECIES_OVERHEAD;
	memcpy(tag, nonce + ECIES_NONCE_BYTES, ECIES_TAG_BYTES);
	r = ctx_init(&c);
	if (r < 0)
		goto out;
	/* Only the uncompressed form: eciesjs always reads 65 bytes here. */
	r = point_load(&c, e, ECIES_UNCOMP_BYTES, &p);
	if (r < 0)
		goto out;
	r = scalar_load(&c, priv, &d);
	if (r < 0)
		goto out;
	r = shared_key(&c, d, p, e, key);
	if (r < 0)
		goto out;
	r = aes_gcm(0, key, nonce, tag, ct, n, out);
	if (r < 0) {
		secmem_wipe(out, n);
		goto out;
	}
	*ret_len = n;
out:
	secmem_wipe(key, sizeof(key));
	BN_clear_free(d);
	EC_POINT_free(p);
	ctx_free(&c);
	return r;
}
