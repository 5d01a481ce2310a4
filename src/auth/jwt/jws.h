/* jws.h - JSON Web Tokens in compact serialization (RFC 7515, RFC 7519):
 * strict parsing, base64url, the signature algorithms coffer accepts, and
 * signature checks with OpenSSL 3 (EVP_DigestVerify).
 *
 * No I/O and no storage: this is what fuzz/fuzz_jwt.c and
 * tests/unit/auth/test_jwt.c exercise. Reasons returned in *ret_why are static
 * strings that never quote the token. */
#ifndef CF_JWS_H
#define CF_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define JWS_MAX_LEN 16384 /* bytes of a whole compact JWT */

/* The algorithms coffer verifies (RFC 7518 §3, RFC 8037). "none" and every
 * HMAC algorithm are not in the list and are refused by jws_alg_parse, so no
 * configuration can turn them on. */
enum jws_alg {
	JWS_ALG_INVALID = 0,
	JWS_RS256,
	JWS_RS384,
	JWS_RS512,
	JWS_PS256,
	JWS_PS384,
	JWS_PS512,
	JWS_ES256,
	JWS_ES384,
	JWS_ES512,
	JWS_EDDSA,
	JWS_ALG_COUNT
};

struct jws {
	json_t *header; /* owned; a JSON object */
	json_t *claims; /* owned; a JSON object */
	enum jws_alg alg;
	const char *kid;     /* borrowed from header, or NULL */
	char *signing_input; /* owned: "<b64 header>.<b64 payload>" */
	size_t signing_len;
	uint8_t *sig; /* owned, decoded signature */
	size_t sig_len;
};

/* Decodes unpadded base64url (RFC 7515 §2): alphabet [A-Za-z0-9_-] only, no
 * '=', no length that is 1 mod 4, and the unused low bits of the last
 * character must be zero (so each byte string has exactly one encoding).
 * Returns 0 with a malloc'd buffer (NUL-terminated, not counted in
 * *ret_len), CF_EINVAL, or CF_ENOMEM. */
int jws_b64url_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len);
/* Unpadded base64url; returns a malloc'd string or NULL. */
char *jws_b64url_encode(const uint8_t *in, size_t len);

/* "RS256" ... "EdDSA" -> the enum. CF_EUNSUPPORTED for "none" (any case),
 * every "HS*" and everything else. */
int jws_alg_parse(const char *name, enum jws_alg *ret);
const char *jws_alg_name(enum jws_alg alg);

/* Parses a compact JWS: exactly three dot-separated base64url parts, header
 * and payload JSON objects (no duplicate keys), header "alg" one of ours,
 * "crit" refused, a non-empty signature, at most JWS_MAX_LEN bytes. The
 * signature is not checked. Returns 0 and *ret (free with jws_free), or
 * CF_EINVAL / CF_EUNSUPPORTED with *ret_why set, or CF_ENOMEM. */
int jws_parse(const char *token, size_t len, struct jws **ret, const char **ret_why);
void jws_free(struct jws *j);

/* JWS ECDSA signatures are r || s, each coord bytes (RFC 7518 §3.4); OpenSSL
 * wants a DER ECDSA-Sig-Value. len must be exactly 2 * coord. Returns 0 and a
 * malloc'd DER buffer, CF_EINVAL or CF_ENOMEM. */
int jws_es_raw_to_der(const uint8_t *raw, size_t len, size_t coord, uint8_t **ret, size_t *ret_len);

/* True when the key may verify alg: RSA (>= 2048 bits) only with RS and PS,
 * EC P-256/P-384/P-521 only with ES256/ES384/ES512, Ed25519 only with EdDSA.
 * This is what defeats key confusion ("HS256 with the public key as the
 * secret" never gets here: HS256 is not an alg). */
bool jws_key_fits(EVP_PKEY *pk, enum jws_alg alg) __attribute__((warn_unused_result));

/* Verifies j's signature with pk. 0: valid; CF_EDENIED: invalid or the key
 * does not fit the alg; CF_ENOMEM. */
int jws_verify(const struct jws *j, EVP_PKEY *pk) __attribute__((warn_unused_result));

#endif
