/* jwt_claims.c - claim checks of a JWT login; see jwt_claims.h. Where the
 * behaviour copies the Vault JWT plugin (path_login.go, claims.go), the
 * messages are Vault's. */
#include "auth/jwt/jwt_claims.h"
#include "lib/err.h"
#include "lib/glob.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POINTER_MAX_DEPTH 32
#define POINTER_TOKEN_MAX 256

static int deny(char *why, size_t whylen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
deny(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen) {
		va_start(ap, fmt);
		(void)vsnprintf(why, whylen, fmt, ap); /* truncation is fine for a reason */
		va_end(ap);
	}
	return CF_EDENIED;
}

int64_t
jwt_claims_leeway(int64_t v, int64_t dflt)
{
	if (v == 0)
		return dflt;
	return v < 0 ? 0 : v;
}

/* ---- claims by name or JSON pointer ---- */

/* Unescapes one reference token (RFC 6901 §4) of n bytes into out. */
static int
pointer_token(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '~') {
			if (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1'))
				return CF_EINVAL;
			c = p[i + 1] == '0' ? '~' : '/';
			i++;
		}
		if (o + 1 >= cap)
			return CF_EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static json_t *
pointer_get(json_t *root, const char *ptr)
{
	char tok[POINTER_TOKEN_MAX];
	json_t *cur = root;
	int depth = 0;

	if (*ptr == '\0')
		return root;
	while (*ptr == '/' && cur) {
		const char *start = ptr + 1, *next = strchr(start, '/');
		size_t n = next ? (size_t)(next - start) : strlen(start);

		if (++depth > POINTER_MAX_DEPTH || pointer_token(start, n, tok, sizeof(tok)) < 0)
			return NULL;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			int64_t idx = 0;
			if (tok[0] < '0' || tok[0] > '9' || (tok[0] == '0' && tok[1]) ||
			    util_parse_int(tok, &idx) < 0 || idx < 0)
				return NULL;
			cur = json_array_get(cur, (size_t)idx);
		} else {
			return NULL;
		}
		ptr = start + n;
	}
	return *ptr ? NULL : cur;
}

json_t *
jwt_claims_get(json_t *claims, const char *name, bool pointer)
{
	json_t *v;

	if (!json_is_object(claims) || !name)
		return NULL;
	v = pointer && name[0] == '/' ? pointer_get(claims, name) : json_object_get(claims, name);
	return json_is_null(v) ? NULL : v;
}

/* ---- value comparisons ---- */

static bool
scalar(json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static bool
scalar_equal(json_t *a, json_t *b)
{
	if (json_is_string(a) && json_is_string(b))
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
		               0;
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) == json_is_true(b);
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return false;
}

/* Vault's normalizeList: a scalar counts as a one-item list (ret_arr NULL); a
 * list is itself. False when raw is neither. */
static bool
items(json_t *raw, json_t **ret_arr, size_t *ret_n)
{
	if (json_is_array(raw)) {
		*ret_arr = raw;
		*ret_n = json_array_size(raw);
		return true;
	}
	if (scalar(raw)) {
		*ret_arr = NULL;
		*ret_n = 1;
		return true;
	}
	return false;
}

static json_t *
item(json_t *raw, json_t *arr, size_t i)
{
	return arr ? json_array_get(arr, i) : raw;
}

/* Vault's matchFound. */
static bool
match_found(json_t *exp, json_t *act, bool glob)
{
	json_t *ea, *aa;
	size_t en, an;

	if (!items(exp, &ea, &en) || !items(act, &aa, &an))
		return false;
	for (size_t i = 0; i < en; i++) {
		json_t *e = item(exp, ea, i);
		for (size_t k = 0; k < an; k++) {
			json_t *a = item(act, aa, k);
			if (glob) {
				if (json_is_string(e) && json_is_string(a) &&
				    strlen(json_string_value(a)) == json_string_length(a) &&
				    glob_match(json_string_value(e), json_string_value(a)))
					return true;
			} else if (scalar_equal(e, a)) {
				return true;
			}
		}
	}
	return false;
}

int
jwt_claims_bound_validate(json_t *bound, bool glob, char *why, size_t whylen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(bound)) {
		(void)deny(why, whylen, "bound_claims must be an object");
		return CF_EINVAL;
	}
	json_object_foreach(bound, k, v)
	{
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		bool ok = json_is_array(v) ? n > 0 : scalar(v);

		for (size_t i = 0; ok && json_is_array(v) && i < n; i++)
			ok = scalar(json_array_get(v, i));
		if (!ok) {
			(void)deny(
			        why, whylen,
			        "bound claim %.64s: values must be strings, numbers, booleans or a "
			        "list of them",
			        k);
			return CF_EINVAL;
		}
		for (size_t i = 0; glob && i < n; i++) {
			json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
			if (!json_is_string(e)) {
				(void)deny(
				        why, whylen,
				        "bound claim %.64s is not a string or list of strings, as "
				        "bound_claims_type \"glob\" needs",
				        k);
				return CF_EINVAL;
			}
		}
		if (k[0] == '/' && strlen(k) > POINTER_MAX_DEPTH * POINTER_TOKEN_MAX) {
			(void)deny(why, whylen, "bound claim pointer is too long");
			return CF_EINVAL;
		}
	}
	return 0;
}

char *
jwt_claims_text(json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v)
		               ? strdup(json_string_value(v))
		               : NULL;
	if (json_is_integer(v)) {
		(void)snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		(void)snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return strdup(buf);
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

/* ---- the checks ---- */

static int
time_claim(json_t *claims, const char *name, bool *ret_present, double *ret)
{
	json_t *v = json_object_get(claims, name);

	*ret_present = v && !json_is_null(v);
	if (!*ret_present)
		return 0;
	if (!json_is_number(v))
		return CF_EINVAL;
	*ret = json_number_value(v);
	return 0;
}

static bool
aud_has(json_t *aud, json_t *bound)
{
	json_t *a;
	size_t i, k, n = json_array_size(bound);

	for (k = 0; k < n; k++) {
		json_t *b = json_array_get(bound, k);
		if (json_is_string(aud) && scalar_equal(aud, b))
			return true;
		json_array_foreach(aud, i, a)
		{
			if (json_is_string(a) && scalar_equal(a, b))
				return true;
		}
	}
	return false;
}

int
jwt_claims_check(json_t *claims, const struct jwt_bounds *b, int64_t now, char *why, size_t whylen)
{
	int64_t skew = jwt_claims_leeway(b->clock_skew, JWT_CLOCK_SKEW_DEFAULT),
	        expl = jwt_claims_leeway(b->exp_leeway, JWT_EXP_LEEWAY_DEFAULT),
	        nbfl = jwt_claims_leeway(b->nbf_leeway, JWT_NBF_LEEWAY_DEFAULT);
	double t = 0, tnow = (double)now;
	bool present = false;
	json_t *v;
	const char *k;

	if (whylen)
		why[0] = '\0';
	if (!json_is_object(claims))
		return deny(why, whylen, "JWT claims are not an object");

	/* Times (RFC 7519 §4.1.4-6), with the role's leeways as in Vault. */
	if (time_claim(claims, "exp", &present, &t) < 0)
		return deny(why, whylen, "invalid exp claim");
	if (!present)
		return deny(why, whylen, "JWT has no exp claim");
	if (tnow > t + (double)skew + (double)expl)
		return deny(why, whylen, "token is expired (exp)");
	if (time_claim(claims, "nbf", &present, &t) < 0)
		return deny(why, whylen, "invalid nbf claim");
	if (present && tnow + (double)skew + (double)nbfl < t)
		return deny(why, whylen, "token is not valid yet (nbf)");
	if (time_claim(claims, "iat", &present, &t) < 0)
		return deny(why, whylen, "invalid iat claim");
	if (present && tnow + (double)skew < t)
		return deny(why, whylen, "token issued in the future (iat)");

	if (b->issuer && b->issuer[0]) {
		v = json_object_get(claims, "iss");
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    strcmp(json_string_value(v), b->issuer) != 0)
			return deny(why, whylen, "invalid issuer (iss) claim");
	}

	v = json_object_get(claims, "aud");
	if (json_array_size(b->audiences) > 0) {
		if (!v || !aud_has(v, b->audiences))
			return deny(why, whylen, "aud claim does not match any bound audience");
	} else if (v && !json_is_null(v)) {
		return deny(why, whylen,
		            "audience claim found in JWT but no audiences bound to the role");
	}

	if (b->subject && b->subject[0]) {
		v = json_object_get(claims, "sub");
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    strcmp(json_string_value(v), b->subject) != 0)
			return deny(why, whylen, "sub claim does not match bound subject");
	}

	if (json_is_object(b->claims)) {
		json_object_foreach(b->claims, k, v)
		{
			json_t *act = jwt_claims_get(claims, k, true);
			if (!act)
				return deny(why, whylen, "claim \"%.64s\" is missing", k);
			if (!json_is_array(act) && !scalar(act))
				return deny(why, whylen,
				            "claim \"%.64s\" is not a string, number, bool or list",
				            k);
			if (!match_found(v, act, b->claims_glob))
				return deny(
				        why, whylen,
				        "claim \"%.64s\" does not match any associated bound claim "
				        "values",
				        k);
		}
	}
	return 0;
}
