/* jwk.h - verification key sets for the JWT auth method: PEM public keys
 * (jwt_validation_pubkeys) and JSON Web Key Sets (RFC 7517; jwks_url, OIDC
 * discovery) turned into OpenSSL EVP_PKEYs, and the search of a set for the
 * key that verifies a token.
 *
 * A set is immutable once built; the method shares it between threads with a
 * reference count it manages itself (refs). */
#ifndef CF_JWK_H
#define CF_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/jwt/jws.h"

#define JWK_SET_MAX_KEYS 100

struct jwk_key {
	char *kid;        /* NULL for PEM keys and JWKs without "kid" */
	enum jws_alg alg; /* the JWK's "alg", or JWS_ALG_INVALID when absent */
	EVP_PKEY *pk;     /* owned */
};

struct jwk_set {
	struct jwk_key *keys;
	size_t n;
	int refs;     /* for the method's cache; a new set has 1 */
	char *issuer; /* the OIDC issuer the set was discovered from, or NULL */
};

/* One JWK (kty RSA n/e, EC crv/x/y with P-256/384/521, OKP Ed25519 x) to a
 * public key. Private members are ignored. Returns 0, CF_EUNSUPPORTED (a kty
 * or curve coffer does not verify with: skipped in sets), CF_EINVAL (broken
 * key) with *ret_why, or CF_ENOMEM. */
int jwk_to_pkey(json_t *jwk, EVP_PKEY **ret, const char **ret_why);

/* One PEM public key (SubjectPublicKeyInfo or an X.509 certificate). */
int jwk_pem_to_pkey(const char *pem, EVP_PKEY **ret, const char **ret_why);

/* {"keys": [...]} -> a set. Keys with "use" other than "sig", unsupported kty
 * or curves are skipped; a set with no usable key is CF_EINVAL. */
int jwk_set_from_jwks(const char *text, size_t len, struct jwk_set **ret, const char **ret_why);
/* A JSON array of PEM strings -> a set (every key must parse; RSA keys must
 * have at least 2048 bits). On CF_EINVAL *ret_index names the bad entry. */
int jwk_set_from_pems(json_t *pems, struct jwk_set **ret, const char **ret_why, size_t *ret_index);
void jwk_set_free(struct jwk_set *s);

/* Verifies j with the keys of s: with a kid in the token, the keys with that
 * kid (or no kid); without one, every key. A key is tried only when it fits
 * the alg (jws_key_fits) and its JWK "alg", if any, equals the token's.
 * 0: verified; CF_ENOTFOUND: no candidate key (unknown kid); CF_EDENIED: no
 * candidate verified; CF_ENOMEM. */
int jwk_set_verify(const struct jwk_set *s, const struct jws *j)
        __attribute__((warn_unused_result));

#endif
