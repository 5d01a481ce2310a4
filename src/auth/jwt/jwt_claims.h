/* jwt_claims.h - the claim checks of a JWT login (Vault's JWT/OIDC API), as the
 * Vault JWT plugin does them: exp/nbf/iat with leeways, iss, aud, sub and the
 * role's bound_claims (exact or glob, nested claims by JSON pointer), plus
 * reading claims for user_claim, groups_claim and claim_mappings.
 *
 * Pure functions over jansson values; messages name claims from the role, never
 * values from the token. */
#ifndef CF_JWT_CLAIMS_H
#define CF_JWT_CLAIMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_CLOCK_SKEW_DEFAULT 60  /* seconds; Vault's clock_skew_leeway */
#define JWT_EXP_LEEWAY_DEFAULT 150 /* expiration_leeway */
#define JWT_NBF_LEEWAY_DEFAULT 150 /* not_before_leeway */

struct jwt_bounds {
	const char *issuer;  /* iss must equal it; NULL or "": any */
	json_t *audiences;   /* array of strings; empty/NULL: the token must have no aud */
	const char *subject; /* sub must equal it; NULL or "": any */
	json_t *claims;      /* bound_claims object or NULL */
	bool claims_glob;    /* bound_claims_type "glob" */
	int64_t clock_skew;  /* seconds, as stored on the role: 0 = default, -1 = none */
	int64_t exp_leeway;  /* same */
	int64_t nbf_leeway;  /* same */
};

/* The effective leeway of a role value: 0 -> dflt, negative -> 0. */
int64_t jwt_claims_leeway(int64_t v, int64_t dflt);

/* Checks claims (the payload object) at unix time now. 0 when every check
 * passes; CF_EDENIED with a reason in why (always NUL-terminated) otherwise.
 * exp is required. */
int jwt_claims_check(json_t *claims, const struct jwt_bounds *b, int64_t now, char *why,
                     size_t whylen) __attribute__((warn_unused_result));

/* Vault's getClaim: name is a top-level key, or with pointer a JSON pointer
 * (RFC 6901, "/a/b", ~0 and ~1 escapes; array indexes allowed). Borrowed value
 * or NULL. */
json_t *jwt_claims_get(json_t *claims, const char *name, bool pointer);

/* Validates a bound_claims object for a role: values string, number, bool or a
 * non-empty list of those; with glob only strings. Returns 0 or CF_EINVAL with
 * a reason in why. */
int jwt_claims_bound_validate(json_t *bound, bool glob, char *why, size_t whylen);

/* A claim value as metadata text: strings as is, numbers and booleans
 * rendered. Returns a malloc'd string, or NULL (other types or ENOMEM). */
char *jwt_claims_text(json_t *v);

#endif
