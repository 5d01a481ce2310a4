/* jwk.c - PEM keys and JWK sets to EVP_PKEYs, and key search; see jwk.h. */
#include "auth/jwt/jwk.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define JWK_KID_MAX   256
#define JWK_FIELD_MAX 1400 /* base64url chars of n: up to 8192-bit RSA (1366) */

/* A key coffer can verify with: fits at least one algorithm. */
static bool
key_usable(EVP_PKEY *pk)
{
	for (int a = JWS_RS256; a < JWS_ALG_COUNT; a++)
		if (jws_key_fits(pk, (enum jws_alg)a))
			return true;
	return false;
}

/* A base64url member of the JWK, decoded. */
static int
member(json_t *jwk, const char *name, uint8_t **ret, size_t *ret_len)
{
	json_t *v = json_object_get(jwk, name);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > JWK_FIELD_MAX)
		return CF_EINVAL;
	return jws_b64url_decode(json_string_value(v), json_string_length(v), ret, ret_len);
}

static int
rsa_from_jwk(json_t *jwk, EVP_PKEY **ret)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	r = member(jwk, "n", &n, &nl);
	if (r == 0)
		r = member(jwk, "e", &e, &el);
	if (r < 0)
		goto out;
	r = CF_ENOMEM;
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn || !be || !bld)
		goto out;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx)
		goto out;
	r = CF_EINVAL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*ret = pk;
	r = 0;
out:
	free(n);
	free(e);
	BN_free(bn);
	BN_free(be);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int
ec_from_jwk(json_t *jwk, EVP_PKEY **ret)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv")), *group;
	uint8_t *x = NULL, *y = NULL, pub[1 + 2 * 66];
	size_t xl = 0, yl = 0, coord;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	if (!crv)
		return CF_EINVAL;
	if (strcmp(crv, "P-256") == 0) {
		group = "prime256v1";
		coord = 32;
	} else if (strcmp(crv, "P-384") == 0) {
		group = "secp384r1";
		coord = 48;
	} else if (strcmp(crv, "P-521") == 0) {
		group = "secp521r1";
		coord = 66;
	} else {
		return CF_EUNSUPPORTED;
	}
	r = member(jwk, "x", &x, &xl);
	if (r == 0)
		r = member(jwk, "y", &y, &yl);
	if (r < 0)
		goto out;
	r = CF_EINVAL;
	if (xl != coord || yl != coord) /* RFC 7518 §6.2.1.2: full length */
		goto out;
	pub[0] = 0x04;
	memcpy(pub + 1, x, coord);
	memcpy(pub + 1 + coord, y, coord);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * coord);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx) {
		r = CF_ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* the point must be on the curve (invalid-curve attacks) */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!chk || EVP_PKEY_public_check(chk) != 1)
		goto out;
	*ret = pk;
	pk = NULL;
	r = 0;
out:
	free(x);
	free(y);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_CTX_free(chk);
	return r;
}

static int
okp_from_jwk(json_t *jwk, EVP_PKEY **ret)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	uint8_t *x = NULL;
	size_t xl = 0;
	EVP_PKEY *pk;
	int r;

	if (!crv || strcmp(crv, "Ed25519") != 0)
		return CF_EUNSUPPORTED;
	r = member(jwk, "x", &x, &xl);
	if (r < 0)
		return r;
	pk = xl == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl) : NULL;
	free(x);
	if (!pk)
		return CF_EINVAL;
	*ret = pk;
	return 0;
}

int
jwk_to_pkey(json_t *jwk, EVP_PKEY **ret, const char **ret_why)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	EVP_PKEY *pk = NULL;
	int r;

	*ret_why = "invalid JWK";
	if (!json_is_object(jwk) || !kty)
		return CF_EINVAL;
	if (strcmp(kty, "RSA") == 0)
		r = rsa_from_jwk(jwk, &pk);
	else if (strcmp(kty, "EC") == 0)
		r = ec_from_jwk(jwk, &pk);
	else if (strcmp(kty, "OKP") == 0)
		r = okp_from_jwk(jwk, &pk);
	else
		r = CF_EUNSUPPORTED;
	ERR_clear_error();
	if (r == 0 && !key_usable(pk)) {
		EVP_PKEY_free(pk);
		r = CF_EUNSUPPORTED; /* e.g. RSA under 2048 bits */
	}
	if (r == CF_EUNSUPPORTED)
		*ret_why = "unsupported JWK key type, curve or size";
	if (r < 0)
		return r;
	*ret = pk;
	*ret_why = NULL;
	return 0;
}

int
jwk_pem_to_pkey(const char *pem, EVP_PKEY **ret, const char **ret_why)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = NULL;
	X509 *crt = NULL;

	*ret_why = "not a PEM public key or certificate";
	if (!bio)
		return CF_ENOMEM;
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pk) {
		(void)BIO_reset(bio);
		crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		pk = crt ? X509_get_pubkey(crt) : NULL;
		X509_free(crt);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!pk)
		return CF_EINVAL;
	if (!key_usable(pk)) {
		EVP_PKEY_free(pk);
		*ret_why = "unsupported public key: RSA (at least 2048 bits), EC P-256/P-384/P-521 "
		           "or Ed25519 expected";
		return CF_EINVAL;
	}
	*ret = pk;
	*ret_why = NULL;
	return 0;
}

/* ---- sets ---- */

static struct jwk_set *
set_new(size_t cap)
{
	struct jwk_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->keys = calloc(cap ? cap : 1, sizeof(*s->keys));
	if (!s->keys) {
		free(s);
		return NULL;
	}
	s->refs = 1;
	return s;
}

void
jwk_set_free(struct jwk_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->keys[i].kid);
		EVP_PKEY_free(s->keys[i].pk);
	}
	free(s->keys); /* not secret: an array of public keys */
	free(s->issuer);
	free(s);
}

int
jwk_set_from_pems(json_t *pems, struct jwk_set **ret, const char **ret_why, size_t *ret_index)
{
	size_t n = json_array_size(pems);
	struct jwk_set *s;
	int r;

	*ret_index = 0;
	*ret_why = n > JWK_SET_MAX_KEYS ? "too many keys" : "no keys";
	if (!json_is_array(pems) || n == 0 || n > JWK_SET_MAX_KEYS)
		return CF_EINVAL;
	s = set_new(n);
	if (!s)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *pem = json_string_value(json_array_get(pems, i));
		*ret_index = i;
		r = pem ? jwk_pem_to_pkey(pem, &s->keys[i].pk, ret_why) : CF_EINVAL;
		if (r < 0) {
			jwk_set_free(s);
			return r;
		}
		s->n++;
	}
	*ret = s;
	return 0;
}

int
jwk_set_from_jwks(const char *text, size_t len, struct jwk_set **ret, const char **ret_why)
{
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *keys, *k;
	struct jwk_set *s = NULL;
	size_t i;
	int r = CF_EINVAL;

	*ret_why = "JWKS is not a JSON object with a \"keys\" array";
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys))
		goto out;
	s = set_new(json_array_size(keys));
	if (!s) {
		r = CF_ENOMEM;
		goto out;
	}
	json_array_foreach(keys, i, k)
	{
		const char *use = json_string_value(json_object_get(k, "use")),
		           *alg = json_string_value(json_object_get(k, "alg")),
		           *kid = json_string_value(json_object_get(k, "kid")), *why = NULL;
		enum jws_alg a = JWS_ALG_INVALID;
		EVP_PKEY *pk = NULL;

		if (s->n >= JWK_SET_MAX_KEYS)
			break;
		if (use && strcmp(use, "sig") != 0)
			continue; /* encryption keys */
		if (alg && jws_alg_parse(alg, &a) < 0)
			continue; /* an algorithm coffer never accepts */
		if (kid && strlen(kid) > JWK_KID_MAX)
			continue;
		r = jwk_to_pkey(k, &pk, &why);
		if (r == CF_ENOMEM)
			goto out;
		if (r < 0)
			continue;
		s->keys[s->n].pk = pk;
		s->keys[s->n].alg = a;
		if (kid && !(s->keys[s->n].kid = strdup(kid))) {
			EVP_PKEY_free(pk);
			r = CF_ENOMEM;
			goto out;
		}
		s->n++;
	}
	r = CF_EINVAL;
	if (s->n == 0) {
		*ret_why = "JWKS has no usable signature key";
		goto out;
	}
	*ret = s;
	s = NULL;
	*ret_why = NULL;
	r = 0;
out:
	jwk_set_free(s);
	json_decref(doc);
	return r;
}

int
jwk_set_verify(const struct jwk_set *s, const struct jws *j)
{
	bool candidate = false;

	for (size_t i = 0; s && i < s->n; i++) {
		const struct jwk_key *k = &s->keys[i];
		int r;

		if (j->kid && k->kid && strcmp(j->kid, k->kid) != 0)
			continue;
		if (k->alg != JWS_ALG_INVALID && k->alg != j->alg)
			continue;
		if (!jws_key_fits(k->pk, j->alg))
			continue;
		candidate = true;
		r = jws_verify(j, k->pk);
		if (r != CF_EDENIED)
			return r;
	}
	return candidate ? CF_EDENIED : CF_ENOTFOUND;
}
