/* fuzz_jwt.c - the JWT parser and claim checks of the jwt auth method never
 * crash or leak, and agree with themselves:
 *  - base64url decodes only what it would encode back to the same text;
 *  - jws_parse either fails with a reason and no result, or gives a header and
 *    claims that are JSON objects, an accepted alg and a signing input that is
 *    the token's prefix;
 *  - the claim checks (times, iss, aud, sub, bound claims as strings and
 *    globs, JSON pointers) run on whatever parsed, without signatures;
 *  - input that looks like a JWKS goes through the JWK parser too. */
#include "auth/jwt/jwk.h"
#include "auth/jwt/jws.h"
#include "auth/jwt/jwt_claims.h"
#include "lib/err.h"
#include "lib/glob.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
b64_roundtrip(const char *s, size_t n)
{
	uint8_t *dec = NULL;
	size_t dlen = 0;
	char *enc;

	if (jws_b64url_decode(s, n, &dec, &dlen) < 0)
		return;
	enc = jws_b64url_encode(dec, dlen);
	assert(enc && strlen(enc) == n && memcmp(enc, s, n) == 0);
	free(enc);
	free(dec);
}

static void
claims_checks(json_t *claims)
{
	static const char *bounds =
	        "{\"team\":[\"payments\",\"billing\"],\"/org/unit\":\"core\",\"n\":5,\"b\":true}";
	static const char *globs = "{\"env\":\"prod-*\",\"/a/0/b\":[\"*x*y*\",\"\"]}";
	json_t *bc = json_loads(bounds, 0, NULL), *bg = json_loads(globs, 0, NULL),
	       *aud = json_pack("[s,s]", "coffer", "other");
	struct jwt_bounds b = {0};
	char why[256];
	const char *k;
	json_t *v;
	int r;

	b.issuer = "https://issuer.example";
	b.audiences = aud;
	b.subject = "svc";
	b.claims = bc;
	r = jwt_claims_check(claims, &b, 1700000000, why, sizeof(why));
	assert(r == 0 || (r == CF_EDENIED && why[0]));
	b.issuer = NULL;
	b.audiences = NULL;
	b.subject = NULL;
	b.claims = bg;
	b.claims_glob = true;
	b.clock_skew = -1;
	b.exp_leeway = -1;
	b.nbf_leeway = 1000;
	r = jwt_claims_check(claims, &b, 1700000000, why, sizeof(why));
	assert(r == 0 || (r == CF_EDENIED && why[0]));

	/* every claim name as a name and as a pointer; every value as text */
	json_object_foreach(claims, k, v)
	{
		char *t = jwt_claims_text(v);
		if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
			assert(t || (json_is_string(v) &&
			             strlen(json_string_value(v)) != json_string_length(v)));
		free(t);
		(void)jwt_claims_get(claims, k, false);
		(void)jwt_claims_get(claims, k, true);
		if (json_is_string(v))
			(void)glob_match(k, json_string_value(v));
	}
	json_decref(bc);
	json_decref(bg);
	json_decref(aud);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	struct jws *j = NULL;
	struct jwk_set *s = NULL;
	int r;

	if (size > JWS_MAX_LEN + 16)
		return 0;
	b64_roundtrip((const char *)data, size);
	r = jws_parse((const char *)data, size, &j, &why);
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_EUNSUPPORTED || r == CF_ENOMEM);
		assert(j == NULL && why != NULL);
	} else {
		assert(json_is_object(j->header) && json_is_object(j->claims));
		assert(j->alg > JWS_ALG_INVALID && j->alg < JWS_ALG_COUNT);
		assert(j->signing_len < size &&
		       memcmp(j->signing_input, data, j->signing_len) == 0);
		assert(j->sig_len > 0);
		claims_checks(j->claims);
		jws_free(j);
	}
	if (size && data[0] == '{') {
		r = jwk_set_from_jwks((const char *)data, size, &s, &why);
		if (r == 0) {
			assert(s->n > 0 && s->n <= JWK_SET_MAX_KEYS);
			jwk_set_free(s);
		}
	}
	return 0;
}
