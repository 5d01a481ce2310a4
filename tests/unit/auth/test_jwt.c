/* test_jwt.c - the jwt auth method's pure parts: base64url, strict JWS parsing,
 * ECDSA raw -> DER, key/alg matching and signature checks with keys made
 * here, JWKs, bound-claim globs and the claim checks (Vault's JWT/OIDC API). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/jwt/jwk.h"
#include "auth/jwt/jws.h"
#include "auth/jwt/jwt_claims.h"
#include "lib/err.h"
#include "lib/glob.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64url ---- */

/* clang-format off */
static const struct {
	const char *in;
	int r;
	const char *out;
} b64_vectors[] = {
	{ "", 0, "" },
	{ "Zg", 0, "f" },
	{ "Zm8", 0, "fo" },
	{ "Zm9v", 0, "foo" },
	{ "Zm9vYg", 0, "foob" },
	{ "Zm9vYmE", 0, "fooba" },
	{ "Zm9vYmFy", 0, "foobar" },
	{ "-_-_", 0, "\xfb\xff\xbf" },
	{ "Zg==", CF_EINVAL, NULL },  /* padding */
	{ "Zg=", CF_EINVAL, NULL },
	{ "Z", CF_EINVAL, NULL },     /* 1 mod 4 */
	{ "Zh", CF_EINVAL, NULL },    /* non-zero unused bits */
	{ "Zm9", CF_EINVAL, NULL },
	{ "a+b/", CF_EINVAL, NULL },  /* standard alphabet */
	{ "Zm9v\n", CF_EINVAL, NULL },
	{ "Zm 9v", CF_EINVAL, NULL },
};
/* clang-format on */

static void
test_jwt_b64url_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		uint8_t *out = NULL;
		size_t n = 0;
		int r = jws_b64url_decode(b64_vectors[i].in, strlen(b64_vectors[i].in), &out, &n);
		assert_int_equal(r, b64_vectors[i].r);
		if (r == 0) {
			assert_int_equal(n, strlen(b64_vectors[i].out));
			assert_memory_equal(out, b64_vectors[i].out, n);
			char *enc = jws_b64url_encode(out, n);
			assert_string_equal(enc, b64_vectors[i].in);
			free(enc);
		}
		free(out);
	}
}

static void
test_jwt_b64url_roundtrip(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (size_t len = 0; len < sizeof(buf); len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(i * 37 + len * 11);
		char *enc = jws_b64url_encode(buf, len);
		uint8_t *dec = NULL;
		size_t n = 0;
		assert_non_null(enc);
		assert_null(strchr(enc, '='));
		assert_int_equal(jws_b64url_decode(enc, strlen(enc), &dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, buf, len);
		free(enc);
		free(dec);
	}
}

/* ---- parsing ---- */

static char *
b64s(const char *s)
{
	return jws_b64url_encode((const uint8_t *)s, strlen(s));
}

/* header.payload.sig from JSON texts (sig: raw bytes text). */
static char *
mk(const char *hdr, const char *payload, const char *sig)
{
	char *h = b64s(hdr), *p = b64s(payload), *s = b64s(sig), *out;
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;

	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return out;
}

static int
parse(const char *tok, struct jws **ret, const char **why)
{
	return jws_parse(tok, strlen(tok), ret, why);
}

static void
test_jwt_parse_good(void **state)
{
	char *t = mk("{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
	             "{\"sub\":\"a\",\"exp\":5,\"n\":{\"x\":[1,2]}}", "sig");
	struct jws *j = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse(t, &j, &why), 0);
	assert_int_equal(j->alg, JWS_ES256);
	assert_string_equal(j->kid, "k1");
	assert_string_equal(json_string_value(json_object_get(j->claims, "sub")), "a");
	assert_int_equal(j->sig_len, 3);
	assert_memory_equal(j->sig, "sig", 3);
	assert_int_equal(j->signing_len, (size_t)(strrchr(t, '.') - t));
	assert_memory_equal(j->signing_input, t, j->signing_len);
	jws_free(j);
	free(t);
}

/* clang-format off */
static const struct {
	const char *hdr, *payload, *sig;
	int r;
} parse_bad[] = {
	{ "{\"alg\":\"none\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"NONE\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"HS256\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"HS512\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"RS1\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"ES256K\"}", "{}", "x", CF_EUNSUPPORTED },
	{ "{}", "{}", "x", CF_EINVAL },
	{ "{\"alg\":5}", "{}", "x", CF_EINVAL },
	{ "[\"alg\"]", "{}", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\",\"alg\":\"RS256\"}", "{}", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", "{}", "x", CF_EUNSUPPORTED },
	{ "{\"alg\":\"RS256\",\"kid\":7}", "{}", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\"}", "[1]", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\"}", "{\"a\":1,\"a\":2}", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\"}", "{\"a\":1} x", "x", CF_EINVAL },
	{ "{\"alg\":\"RS256\"}", "{}", "", CF_EINVAL },
	{ "{\"alg\":\"RS256\"} ", "nope", "x", CF_EINVAL },
};
/* clang-format on */

static void
test_jwt_parse_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_bad) / sizeof(parse_bad[0]); i++) {
		char *t = mk(parse_bad[i].hdr, parse_bad[i].payload, parse_bad[i].sig);
		struct jws *j = NULL;
		const char *why = NULL;
		int r = parse(t, &j, &why);
		if (r != parse_bad[i].r)
			fail_msg("vector %zu: got %d want %d (%s)", i, r, parse_bad[i].r,
			         why ? why : "");
		assert_null(j);
		assert_non_null(why);
		free(t);
	}
}

static void
test_jwt_parse_shape(void **state)
{
	char *good = mk("{\"alg\":\"RS256\"}", "{}", "sig"), buf[JWS_MAX_LEN + 8];
	const char *bad[] = {"",        ".",       "..",          "a.b",
	                     "a.b.c.d", "e30.e30", "=e30.e30.eA", "e30=.e30.eA"};
	struct jws *j = NULL;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse(bad[i], &j, &why), 0);
	snprintf(buf, sizeof(buf), "%s.x", good);
	assert_int_not_equal(parse(buf, &j, &why), 0);
	/* embedded NUL: the length says more than strlen */
	assert_int_not_equal(jws_parse(good, strlen(good) + 1, &j, &why), 0);
	/* size limit */
	memset(buf, 'A', sizeof(buf));
	buf[10] = '.';
	buf[20] = '.';
	assert_int_equal(jws_parse(buf, JWS_MAX_LEN + 1, &j, &why), CF_EINVAL);
	assert_string_equal(why, "JWT is too large");
	assert_null(j);
	free(good);
}

/* ---- ECDSA raw -> DER ---- */

static void
test_jwt_es_raw_to_der(void **state)
{
	uint8_t raw[64] = {0}, *der = NULL;
	size_t n = 0;
	static const uint8_t small[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};

	(void)state;
	raw[31] = 1;
	raw[63] = 2;
	assert_int_equal(jws_es_raw_to_der(raw, 64, 32, &der, &n), 0);
	assert_int_equal(n, sizeof(small));
	assert_memory_equal(der, small, n);
	OPENSSL_free(der);

	/* high bit set: DER needs a leading zero; r = 0x80 00.., s = 0xff.. */
	memset(raw, 0, sizeof(raw));
	raw[0] = 0x80;
	memset(raw + 32, 0xff, 32);
	assert_int_equal(jws_es_raw_to_der(raw, 64, 32, &der, &n), 0);
	assert_int_equal(n, 2 + 2 * (2 + 33));
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 70);
	assert_int_equal(der[2], 0x02);
	assert_int_equal(der[3], 33);
	assert_int_equal(der[4], 0x00);
	assert_int_equal(der[5], 0x80);
	assert_int_equal(der[37], 0x02);
	assert_int_equal(der[38], 33);
	assert_int_equal(der[39], 0x00);
	OPENSSL_free(der);

	/* P-521: 66-byte coordinates, long-form DER length */
	uint8_t raw521[132];
	memset(raw521, 0x01, sizeof(raw521));
	raw521[0] = raw521[66] = 0x01;
	assert_int_equal(jws_es_raw_to_der(raw521, 132, 66, &der, &n), 0);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x81);
	OPENSSL_free(der);

	assert_int_equal(jws_es_raw_to_der(raw, 63, 32, &der, &n), CF_EINVAL);
	assert_int_equal(jws_es_raw_to_der(raw, 64, 48, &der, &n), CF_EINVAL);
	assert_int_equal(jws_es_raw_to_der(raw, 0, 0, &der, &n), CF_EINVAL);
}

/* ---- signatures with keys made here ---- */

static EVP_PKEY *
keygen(const char *kind)
{
	EVP_PKEY *pk = NULL;

	if (strcmp(kind, "rsa") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(kind, "rsa1024") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(kind, "p256") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "p384") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "p521") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else if (strcmp(kind, "k256") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	else if (strcmp(kind, "ed25519") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	return pk;
}

/* Signs "<hdr>.<payload>" as JWS alg; ES signatures converted to r || s. */
static char *
sign(EVP_PKEY *pk, const char *alg, const char *payload)
{
	char hdr[96], *h, *p, *s, *out;
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t sig[1024], raw[132];
	size_t siglen = sizeof(sig), coord = 0, n;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", alg);
	h = b64s(hdr);
	p = b64s(payload);
	n = strlen(h) + strlen(p) + 2;
	out = malloc(n + 1400);
	assert_non_null(out);
	snprintf(out, n, "%s.%s", h, p);
	if (strstr(alg, "256"))
		md = EVP_sha256();
	else if (strstr(alg, "384"))
		md = EVP_sha384();
	else if (strstr(alg, "512"))
		md = EVP_sha512();
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, pk), 1);
	if (alg[0] == 'P') {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)out, strlen(out)), 1);
	EVP_MD_CTX_free(ctx);
	if (alg[0] == 'E' && alg[1] == 'S') {
		const uint8_t *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
		coord = strstr(alg, "256") ? 32 : strstr(alg, "384") ? 48 : 66;
		assert_non_null(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)coord);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + coord, (int)coord);
		ECDSA_SIG_free(es);
		s = jws_b64url_encode(raw, 2 * coord);
	} else {
		s = jws_b64url_encode(sig, siglen);
	}
	n = strlen(out);
	assert_true(snprintf(out + n, 1400 + 2, ".%s", s) < 1400 + 2);
	free(h);
	free(p);
	free(s);
	return out;
}

static int
verify_with(EVP_PKEY *pk, const char *tok)
{
	struct jws *j = NULL;
	const char *why = NULL;
	int r = parse(tok, &j, &why);

	if (r < 0)
		return r;
	r = jws_verify(j, pk);
	jws_free(j);
	return r;
}

static void
test_jwt_verify_algorithms(void **state)
{
	EVP_PKEY *rsa = keygen("rsa"), *p256 = keygen("p256"), *p384 = keygen("p384"),
	         *p521 = keygen("p521"), *ed = keygen("ed25519");
	/* clang-format off */
	const struct {
		EVP_PKEY *k;
		const char *alg, *kind;
	} ok[] = {
		{ rsa, "RS256", "rsa" }, { rsa, "RS384", "rsa" }, { rsa, "RS512", "rsa" },
		{ rsa, "PS256", "rsa" }, { rsa, "PS384", "rsa" }, { rsa, "PS512", "rsa" },
		{ p256, "ES256", "p256" }, { p384, "ES384", "p384" }, { p521, "ES512", "p521" },
		{ ed, "EdDSA", "ed25519" },
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *t = sign(ok[i].k, ok[i].alg, "{\"sub\":\"x\"}");
		char *dot = strrchr(t, '.');
		assert_int_equal(verify_with(ok[i].k, t), 0);
		/* another key of the same kind: refused */
		EVP_PKEY *other = keygen(ok[i].kind);
		assert_int_equal(verify_with(other, t), CF_EDENIED);
		EVP_PKEY_free(other);
		/* a flipped signature character: refused */
		dot[1] = dot[1] == 'A' ? 'B' : 'A';
		assert_int_equal(verify_with(ok[i].k, t), CF_EDENIED);
		free(t);
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(ed);
}

static void
test_jwt_key_fits(void **state)
{
	EVP_PKEY *rsa = keygen("rsa"), *small = keygen("rsa1024"), *p256 = keygen("p256"),
	         *p384 = keygen("p384"), *k256 = keygen("k256"), *ed = keygen("ed25519");

	(void)state;
	assert_true(jws_key_fits(rsa, JWS_RS256));
	assert_true(jws_key_fits(rsa, JWS_PS512));
	assert_false(jws_key_fits(rsa, JWS_ES256));
	assert_false(jws_key_fits(rsa, JWS_EDDSA));
	assert_false(jws_key_fits(small, JWS_RS256)); /* under 2048 bits */
	assert_true(jws_key_fits(p256, JWS_ES256));
	assert_false(jws_key_fits(p256, JWS_ES384));
	assert_false(jws_key_fits(p256, JWS_RS256));
	assert_true(jws_key_fits(p384, JWS_ES384));
	assert_false(jws_key_fits(p384, JWS_ES256));
	assert_false(jws_key_fits(k256, JWS_ES256)); /* secp256k1 is not P-256 */
	assert_true(jws_key_fits(ed, JWS_EDDSA));
	assert_false(jws_key_fits(ed, JWS_ES256));
	assert_false(jws_key_fits(NULL, JWS_RS256));

	/* an ES256 signature presented as RS256 to the same EC key: refused */
	char *t = sign(p256, "ES256", "{}");
	struct jws *j = NULL;
	const char *why;
	assert_int_equal(parse(t, &j, &why), 0);
	j->alg = JWS_RS256;
	assert_int_equal(jws_verify(j, p256), CF_EDENIED);
	jws_free(j);
	free(t);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(k256);
	EVP_PKEY_free(ed);
}

/* ---- JWKs ---- */

static char *
bn_b64(const BIGNUM *bn, int len)
{
	uint8_t buf[600];
	int n = len ? len : BN_num_bytes(bn);

	assert_true(BN_bn2binpad(bn, buf, n) == n);
	return jws_b64url_encode(buf, (size_t)n);
}

static void
test_jwt_jwks(void **state)
{
	EVP_PKEY *rsa = keygen("rsa"), *p256 = keygen("p256"), *ed = keygen("ed25519");
	BIGNUM *n = NULL, *e = NULL, *x = NULL, *y = NULL;
	uint8_t edraw[32];
	size_t edlen = sizeof(edraw);
	char *nb, *eb, *xb, *yb, *eds, doc[4096];
	struct jwk_set *s = NULL;
	const char *why = NULL;

	(void)state;
	assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(p256, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(p256, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed, edraw, &edlen), 1);
	nb = bn_b64(n, 0);
	eb = bn_b64(e, 0);
	xb = bn_b64(x, 32);
	yb = bn_b64(y, 32);
	eds = jws_b64url_encode(edraw, edlen);
	snprintf(doc, sizeof(doc),
	         "{\"keys\":["
	         "{\"kty\":\"RSA\",\"kid\":\"r\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
	         "{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
	         "{\"kty\":\"OKP\",\"kid\":\"d\",\"crv\":\"Ed25519\",\"x\":\"%s\"},"
	         "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"},"
	         "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"},"
	         "{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}"
	         "]}",
	         nb, eb, xb, yb, eds, nb, eb, xb, xb);
	assert_int_equal(jwk_set_from_jwks(doc, strlen(doc), &s, &why), 0);
	/* the enc key, the HMAC key and the point off the curve are skipped */
	assert_int_equal(s->n, 3);

	char *t = sign(rsa, "RS256", "{}");
	struct jws *j = NULL;
	assert_int_equal(parse(t, &j, &why), 0);
	assert_int_equal(jwk_set_verify(s, j), 0); /* no kid: every key tried */
	j->kid = "e";
	assert_int_equal(jwk_set_verify(s, j), CF_ENOTFOUND); /* EC key cannot RS256 */
	j->kid = "unknown";
	assert_int_equal(jwk_set_verify(s, j), CF_ENOTFOUND);
	j->kid = "r";
	assert_int_equal(jwk_set_verify(s, j), 0);
	jws_free(j);
	free(t);
	t = sign(ed, "EdDSA", "{}");
	assert_int_equal(parse(t, &j, &why), 0);
	assert_int_equal(jwk_set_verify(s, j), 0);
	jws_free(j);
	free(t);
	jwk_set_free(s);

	assert_int_equal(jwk_set_from_jwks("{\"keys\":[]}", 11, &s, &why), CF_EINVAL);
	assert_int_equal(jwk_set_from_jwks("[]", 2, &s, &why), CF_EINVAL);
	free(nb);
	free(eb);
	free(xb);
	free(yb);
	free(eds);
	BN_free(n);
	BN_free(e);
	BN_free(x);
	BN_free(y);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ed);
}

/* ---- globs ---- */

/* clang-format off */
static const struct {
	const char *pat, *s;
	bool match;
} glob_vectors[] = {
	{ "", "", true },
	{ "", "a", false },
	{ "*", "", true },
	{ "*", "anything", true },
	{ "prod-*", "prod-eu", true },
	{ "prod-*", "prod-", true },
	{ "prod-*", "staging-eu", false },
	{ "prod-*", "xprod-eu", false },
	{ "*-eu", "prod-eu", true },
	{ "*-eu", "prod-us", false },
	{ "a*b*c", "abc", true },
	{ "a*b*c", "aXbYc", true },
	{ "a*b*c", "aXbY", false },
	{ "a*b*c", "acb", false },
	{ "**", "x", true },
	{ "repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main", true },
	{ "repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/dev", false },
	{ "a?c", "abc", false },          /* only '*' is special */
	{ "a?c", "a?c", true },
	{ "[ab]", "a", false },
	{ "*aaaaaaaaaaaaaaaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false },
};
/* clang-format on */

static void
test_jwt_glob(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(glob_vectors) / sizeof(glob_vectors[0]); i++)
		if (glob_match(glob_vectors[i].pat, glob_vectors[i].s) != glob_vectors[i].match)
			fail_msg("glob %zu: \"%s\" vs \"%s\"", i, glob_vectors[i].pat,
			         glob_vectors[i].s);
}

/* ---- claims ---- */

#define NOW 1700000000

static int
check(const char *claims_json, const char *bounds_json, bool glob)
{
	json_t *c = json_loads(claims_json, 0, NULL), *b = json_loads(bounds_json, 0, NULL);
	struct jwt_bounds bd = {0};
	char why[256];
	int r;

	assert_non_null(c);
	assert_non_null(b);
	bd.issuer = json_string_value(json_object_get(b, "iss"));
	bd.audiences = json_object_get(b, "aud");
	bd.subject = json_string_value(json_object_get(b, "sub"));
	bd.claims = json_object_get(b, "claims");
	bd.claims_glob = glob;
	bd.clock_skew = json_integer_value(json_object_get(b, "skew"));
	bd.exp_leeway = json_integer_value(json_object_get(b, "expl"));
	bd.nbf_leeway = json_integer_value(json_object_get(b, "nbfl"));
	r = jwt_claims_check(c, &bd, NOW, why, sizeof(why));
	if (r == 0)
		assert_string_equal(why, "");
	else
		assert_true(why[0] != '\0');
	json_decref(c);
	json_decref(b);
	return r;
}

/* clang-format off */
static const struct {
	const char *claims, *bounds;
	bool glob;
	int r;
} claim_vectors[] = {
	/* times: exp + skew(60) + leeway(150) */
	{ "{\"exp\":1700000000}", "{}", false, 0 },
	{ "{\"exp\":1699999790}", "{}", false, 0 },
	{ "{\"exp\":1699999789}", "{}", false, CF_EDENIED },
	{ "{\"exp\":1699999999, \"x\":1}", "{\"skew\":-1,\"expl\":-1}", false, CF_EDENIED },
	{ "{\"exp\":1700000000}", "{\"skew\":-1,\"expl\":-1}", false, 0 },
	{ "{\"exp\":1699999000}", "{\"skew\":0,\"expl\":1000}", false, 0 },
	{ "{}", "{}", false, CF_EDENIED },                       /* exp required */
	{ "{\"exp\":\"soon\"}", "{}", false, CF_EDENIED },
	{ "{\"exp\":1700000100.5}", "{}", false, 0 },
	{ "{\"exp\":1800000000,\"nbf\":1700000210}", "{}", false, 0 },
	{ "{\"exp\":1800000000,\"nbf\":1700000211}", "{}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"nbf\":1700000001}", "{\"skew\":-1,\"nbfl\":-1}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"iat\":1700000060}", "{}", false, 0 },
	{ "{\"exp\":1800000000,\"iat\":1700000061}", "{}", false, CF_EDENIED },
	/* iss */
	{ "{\"exp\":1800000000,\"iss\":\"https://a\"}", "{\"iss\":\"https://a\"}", false, 0 },
	{ "{\"exp\":1800000000,\"iss\":\"https://b\"}", "{\"iss\":\"https://a\"}", false, CF_EDENIED },
	{ "{\"exp\":1800000000}", "{\"iss\":\"https://a\"}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"iss\":\"https://b\"}", "{}", false, 0 },
	/* aud */
	{ "{\"exp\":1800000000,\"aud\":\"x\"}", "{\"aud\":[\"y\",\"x\"]}", false, 0 },
	{ "{\"exp\":1800000000,\"aud\":[\"z\",\"x\"]}", "{\"aud\":[\"x\"]}", false, 0 },
	{ "{\"exp\":1800000000,\"aud\":[\"z\"]}", "{\"aud\":[\"x\"]}", false, CF_EDENIED },
	{ "{\"exp\":1800000000}", "{\"aud\":[\"x\"]}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"aud\":\"x\"}", "{}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"aud\":\"x\"}", "{\"aud\":[]}", false, CF_EDENIED },
	/* sub */
	{ "{\"exp\":1800000000,\"sub\":\"s\"}", "{\"sub\":\"s\"}", false, 0 },
	{ "{\"exp\":1800000000,\"sub\":\"t\"}", "{\"sub\":\"s\"}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"sub\":1}", "{\"sub\":\"1\"}", false, CF_EDENIED },
	/* bound claims: strings, lists, numbers, bools, pointers */
	{ "{\"exp\":1800000000,\"t\":\"a\"}", "{\"claims\":{\"t\":\"a\"}}", false, 0 },
	{ "{\"exp\":1800000000,\"t\":\"b\"}", "{\"claims\":{\"t\":\"a\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"t\":\"b\"}", "{\"claims\":{\"t\":[\"a\",\"b\"]}}", false, 0 },
	{ "{\"exp\":1800000000,\"t\":[\"c\",\"b\"]}", "{\"claims\":{\"t\":[\"a\",\"b\"]}}", false, 0 },
	{ "{\"exp\":1800000000,\"t\":[\"c\",\"d\"]}", "{\"claims\":{\"t\":[\"a\",\"b\"]}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000}", "{\"claims\":{\"t\":\"a\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"t\":null}", "{\"claims\":{\"t\":\"a\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"t\":{\"a\":1}}", "{\"claims\":{\"t\":\"a\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"n\":5}", "{\"claims\":{\"n\":5}}", false, 0 },
	{ "{\"exp\":1800000000,\"n\":5.0}", "{\"claims\":{\"n\":5}}", false, 0 },
	{ "{\"exp\":1800000000,\"n\":\"5\"}", "{\"claims\":{\"n\":5}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"b\":true}", "{\"claims\":{\"b\":true}}", false, 0 },
	{ "{\"exp\":1800000000,\"b\":\"true\"}", "{\"claims\":{\"b\":true}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"o\":{\"u\":\"core\"}}", "{\"claims\":{\"/o/u\":\"core\"}}", false, 0 },
	{ "{\"exp\":1800000000,\"o\":{\"u\":\"edge\"}}", "{\"claims\":{\"/o/u\":\"core\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"o\":[\"x\",\"core\"]}", "{\"claims\":{\"/o/1\":\"core\"}}", false, 0 },
	{ "{\"exp\":1800000000,\"o\":[\"x\",\"core\"]}", "{\"claims\":{\"/o/01\":\"core\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"a/b\":\"v\",\"c~d\":\"w\"}", "{\"claims\":{\"/a~1b\":\"v\",\"/c~0d\":\"w\"}}", false, 0 },
	{ "{\"exp\":1800000000,\"a/b\":\"v\"}", "{\"claims\":{\"/a~2b\":\"v\"}}", false, CF_EDENIED },
	/* globs */
	{ "{\"exp\":1800000000,\"e\":\"prod-eu\"}", "{\"claims\":{\"e\":\"prod-*\"}}", true, 0 },
	{ "{\"exp\":1800000000,\"e\":\"dev-eu\"}", "{\"claims\":{\"e\":\"prod-*\"}}", true, CF_EDENIED },
	{ "{\"exp\":1800000000,\"e\":\"prod-*\"}", "{\"claims\":{\"e\":\"prod-*\"}}", false, 0 },
	{ "{\"exp\":1800000000,\"e\":\"prod-eu\"}", "{\"claims\":{\"e\":\"prod-*\"}}", false, CF_EDENIED },
	{ "{\"exp\":1800000000,\"e\":[\"x\",\"prod-eu\"]}", "{\"claims\":{\"e\":[\"a*\",\"prod-*\"]}}", true, 0 },
	{ "{\"exp\":1800000000,\"e\":5}", "{\"claims\":{\"e\":\"*\"}}", true, CF_EDENIED },
};
/* clang-format on */

static void
test_jwt_claims_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(claim_vectors) / sizeof(claim_vectors[0]); i++) {
		int r = check(claim_vectors[i].claims, claim_vectors[i].bounds,
		              claim_vectors[i].glob);
		if (r != claim_vectors[i].r)
			fail_msg("claims %zu: got %d want %d", i, r, claim_vectors[i].r);
	}
}

static void
test_jwt_claims_helpers(void **state)
{
	json_t *c = json_loads("{\"a\":{\"b\":[1,\"x\"]},\"/a\":\"top\",\"n\":null}", 0, NULL);
	json_t *bound;
	char why[128], *t;

	(void)state;
	assert_string_equal(json_string_value(jwt_claims_get(c, "/a/b/1", true)), "x");
	assert_string_equal(json_string_value(jwt_claims_get(c, "/a", false)), "top");
	assert_null(jwt_claims_get(c, "/a/b/2", true));
	assert_null(jwt_claims_get(c, "/a/b/-1", true));
	assert_null(jwt_claims_get(c, "n", true));
	assert_null(jwt_claims_get(c, "missing", false));
	assert_int_equal(jwt_claims_leeway(0, 150), 150);
	assert_int_equal(jwt_claims_leeway(-1, 150), 0);
	assert_int_equal(jwt_claims_leeway(30, 150), 30);

	t = jwt_claims_text(json_object_get(json_object_get(c, "a"), "b"));
	assert_null(t);
	t = jwt_claims_text(json_array_get(json_object_get(json_object_get(c, "a"), "b"), 0));
	assert_string_equal(t, "1");
	free(t);

	bound = json_loads("{\"a\":\"x\",\"b\":[1,true,\"y\"],\"c\":2.5}", 0, NULL);
	assert_int_equal(jwt_claims_bound_validate(bound, false, why, sizeof(why)), 0);
	assert_int_equal(jwt_claims_bound_validate(bound, true, why, sizeof(why)), CF_EINVAL);
	json_decref(bound);
	bound = json_loads("{\"a\":{\"x\":1}}", 0, NULL);
	assert_int_equal(jwt_claims_bound_validate(bound, false, why, sizeof(why)), CF_EINVAL);
	json_decref(bound);
	bound = json_loads("{\"a\":[]}", 0, NULL);
	assert_int_equal(jwt_claims_bound_validate(bound, false, why, sizeof(why)), CF_EINVAL);
	json_decref(bound);
	json_decref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jwt_b64url_vectors),
	        cmocka_unit_test(test_jwt_b64url_roundtrip),
	        cmocka_unit_test(test_jwt_parse_good),
	        cmocka_unit_test(test_jwt_parse_rejects),
	        cmocka_unit_test(test_jwt_parse_shape),
	        cmocka_unit_test(test_jwt_es_raw_to_der),
	        cmocka_unit_test(test_jwt_verify_algorithms),
	        cmocka_unit_test(test_jwt_key_fits),
	        cmocka_unit_test(test_jwt_jwks),
	        cmocka_unit_test(test_jwt_glob),
	        cmocka_unit_test(test_jwt_claims_vectors),
	        cmocka_unit_test(test_jwt_claims_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
