/* jws.c - compact JWS parsing and signature checks; see jws.h. */
#include "auth/jwt/jws.h"
#include "lib/secmem.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define RSA_MIN_BITS 2048
#define KID_MAX_LEN  256

static const struct {
	const char *name;
	enum jws_alg alg;
} alg_names[] = {
        {"RS256", JWS_RS256}, {"RS384", JWS_RS384}, {"RS512", JWS_RS512}, {"PS256", JWS_PS256},
        {"PS384", JWS_PS384}, {"PS512", JWS_PS512}, {"ES256", JWS_ES256}, {"ES384", JWS_ES384},
        {"ES512", JWS_ES512}, {"EdDSA", JWS_EDDSA},
};

/* ---- base64url ---- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
jws_b64url_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	uint8_t *out;
	size_t o = 0, rem = len % 4;
	uint32_t acc = 0;
	int bits = 0;

	if (rem == 1)
		return CF_EINVAL;
	out = malloc(len / 4 * 3 + 3);
	if (!out)
		return CF_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0) {
			secmem_free(out, o);
			return CF_EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* leftover bits (2 or 4) must be zero: one encoding per byte string */
	if (acc != 0) {
		secmem_free(out, o);
		return CF_EINVAL;
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

char *
jws_b64url_encode(const uint8_t *in, size_t len)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len / 3 * 4 + 5);
	size_t o = 0, i = 0;

	if (!out)
		return NULL;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}

/* ---- algorithms ---- */

int
jws_alg_parse(const char *name, enum jws_alg *ret)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strcmp(name, alg_names[i].name) == 0) {
			*ret = alg_names[i].alg;
			return 0;
		}
	}
	return CF_EUNSUPPORTED;
}

const char *
jws_alg_name(enum jws_alg alg)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return "invalid";
}

/* ---- parsing ---- */

void
jws_free(struct jws *j)
{
	if (!j)
		return;
	json_decref(j->header);
	json_decref(j->claims);
	secmem_free(j->signing_input, j->signing_len);
	free(j->sig);
	free(j);
}

/* Decodes one base64url part into a JSON object. */
static int
part_json(const char *p, size_t n, json_t **ret)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_t *j;
	int r = jws_b64url_decode(p, n, &raw, &rawlen);

	if (r < 0)
		return r;
	j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
	secmem_free(raw, rawlen);
	if (!json_is_object(j)) {
		json_decref(j);
		return CF_EINVAL;
	}
	*ret = j;
	return 0;
}

static int
header_alg(json_t *hdr, enum jws_alg *ret, const char **ret_why)
{
	json_t *a = json_object_get(hdr, "alg");
	const char *s;

	if (!json_is_string(a)) {
		*ret_why = "JWT header has no \"alg\"";
		return CF_EINVAL;
	}
	s = json_string_value(a);
	if (strcasecmp(s, "none") == 0) {
		*ret_why = "unsigned JWTs (alg \"none\") are not allowed";
		return CF_EUNSUPPORTED;
	}
	if ((s[0] == 'H' || s[0] == 'h') && (s[1] == 'S' || s[1] == 's')) {
		*ret_why = "HMAC-signed JWTs (HS256, HS384, HS512) are not allowed";
		return CF_EUNSUPPORTED;
	}
	if (jws_alg_parse(s, ret) < 0) {
		*ret_why = "unsupported JWT signing algorithm";
		return CF_EUNSUPPORTED;
	}
	return 0;
}

int
jws_parse(const char *token, size_t len, struct jws **ret, const char **ret_why)
{
	const char *d1, *d2, *end = token + len;
	struct jws *j = NULL;
	json_t *kid;
	int r;

	*ret_why = "malformed JWT";
	if (len > JWS_MAX_LEN) {
		*ret_why = "JWT is too large";
		return CF_EINVAL;
	}
	if (len == 0 || memchr(token, '\0', len))
		return CF_EINVAL;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1))) {
		*ret_why = "malformed JWT: expected three dot-separated parts";
		return CF_EINVAL;
	}
	if (d1 == token || d2 == d1 + 1)
		return CF_EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return CF_ENOMEM;
	r = part_json(token, (size_t)(d1 - token), &j->header);
	if (r < 0) {
		*ret_why = "malformed JWT header";
		goto out;
	}
	r = header_alg(j->header, &j->alg, ret_why);
	if (r < 0)
		goto out;
	if (json_object_get(j->header, "crit")) {
		*ret_why = "JWT header has critical extensions coffer does not understand";
		r = CF_EUNSUPPORTED;
		goto out;
	}
	kid = json_object_get(j->header, "kid");
	if (kid && (!json_is_string(kid) || json_string_length(kid) > KID_MAX_LEN)) {
		*ret_why = "JWT header \"kid\" is not a string";
		r = CF_EINVAL;
		goto out;
	}
	j->kid = kid ? json_string_value(kid) : NULL;
	r = part_json(d1 + 1, (size_t)(d2 - d1 - 1), &j->claims);
	if (r < 0) {
		*ret_why = "malformed JWT payload";
		goto out;
	}
	if (d2 + 1 == end) {
		*ret_why = "JWT has no signature";
		r = CF_EINVAL;
		goto out;
	}
	r = jws_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), &j->sig, &j->sig_len);
	if (r < 0) {
		*ret_why = "malformed JWT signature";
		goto out;
	}
	j->signing_len = (size_t)(d2 - token);
	j->signing_input = malloc(j->signing_len + 1);
	if (!j->signing_input) {
		r = CF_ENOMEM;
		goto out;
	}
	memcpy(j->signing_input, token, j->signing_len);
	j->signing_input[j->signing_len] = '\0';
	*ret = j;
	*ret_why = NULL;
	return 0;
out:
	if (r == CF_ENOMEM)
		*ret_why = "out of memory";
	jws_free(j);
	return r;
}

/* ---- ECDSA signatures ---- */

int
jws_es_raw_to_der(const uint8_t *raw, size_t len, size_t coord, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int n, rc = CF_ENOMEM;

	if (coord == 0 || len != 2 * coord)
		return CF_EINVAL;
	r = BN_bin2bn(raw, (int)coord, NULL);
	s = BN_bin2bn(raw + coord, (int)coord, NULL);
	sig = ECDSA_SIG_new();
	if (!r || !s || !sig)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	n = i2d_ECDSA_SIG(sig, &der);
	if (n <= 0)
		goto out;
	*ret = der;
	*ret_len = (size_t)n;
	rc = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

/* ---- verification ---- */

static const char *
alg_curve(enum jws_alg alg, size_t *ret_coord)
{
	switch (alg) {
	case JWS_ES256:
		*ret_coord = 32;
		return "prime256v1";
	case JWS_ES384:
		*ret_coord = 48;
		return "secp384r1";
	case JWS_ES512:
		*ret_coord = 66;
		return "secp521r1";
	default:
		*ret_coord = 0;
		return NULL;
	}
}

static const EVP_MD *
alg_md(enum jws_alg alg)
{
	switch (alg) {
	case JWS_RS256:
	case JWS_PS256:
	case JWS_ES256:
		return EVP_sha256();
	case JWS_RS384:
	case JWS_PS384:
	case JWS_ES384:
		return EVP_sha384();
	case JWS_RS512:
	case JWS_PS512:
	case JWS_ES512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static bool
alg_is_rsa(enum jws_alg alg)
{
	return alg >= JWS_RS256 && alg <= JWS_PS512;
}

static bool
alg_is_pss(enum jws_alg alg)
{
	return alg >= JWS_PS256 && alg <= JWS_PS512;
}

bool
jws_key_fits(EVP_PKEY *pk, enum jws_alg alg)
{
	int id = pk ? EVP_PKEY_get_base_id(pk) : 0;
	char group[64];
	size_t glen = 0, coord;
	const char *curve;

	if (!pk)
		return false;
	if (alg_is_rsa(alg)) {
		if (id != EVP_PKEY_RSA && !(id == EVP_PKEY_RSA_PSS && alg_is_pss(alg)))
			return false;
		return EVP_PKEY_get_bits(pk) >= RSA_MIN_BITS;
	}
	curve = alg_curve(alg, &coord);
	if (curve) {
		if (id != EVP_PKEY_EC)
			return false;
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
			return false;
		return strcmp(group, curve) == 0;
	}
	if (alg == JWS_EDDSA)
		return id == EVP_PKEY_ED25519;
	return false;
}

int
jws_verify(const struct jws *j, EVP_PKEY *pk)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = alg_md(j->alg);
	const uint8_t *sig = j->sig;
	uint8_t *der = NULL;
	size_t siglen = j->sig_len, coord = 0;
	int r = CF_EDENIED;

	if (!jws_key_fits(pk, j->alg))
		return CF_EDENIED;
	if (alg_curve(j->alg, &coord)) {
		r = jws_es_raw_to_der(j->sig, j->sig_len, coord, &der, &siglen);
		if (r < 0)
			return r == CF_ENOMEM ? r : CF_EDENIED;
		sig = der;
		r = CF_EDENIED;
	} else if (alg_is_rsa(j->alg) && siglen != (size_t)EVP_PKEY_get_size(pk)) {
		return CF_EDENIED;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		r = CF_ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, &pctx, j->alg == JWS_EDDSA ? NULL : md, NULL, pk) != 1)
		goto out;
	if (alg_is_pss(j->alg)) {
		/* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
			goto out;
	} else if (alg_is_rsa(j->alg)) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
			goto out;
	}
	if (EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)j->signing_input,
	                     j->signing_len) == 1)
		r = 0;
out:
	ERR_clear_error(); /* a failed check leaves errors on this thread's queue */
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return r;
}
