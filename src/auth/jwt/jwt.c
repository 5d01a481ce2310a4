/* jwt.c - the jwt (and oidc) auth method: login with a signed JWT
 * (Vault's JWT/OIDC API). No browser flow: oidc roles and the oidc/ routes are
 * refused with a 400 that says so.
 *
 * Storage (the mount's view, encrypted): "config" and "role/<name>", compact
 * JSON. In memory (the mount's state): the verification key set, built from
 * the PEM keys, the JWKS or OIDC discovery; refetched when a JWT names an
 * unknown kid (at most once per JWT_REFETCH_INTERVAL) or when older than
 * JWT_KEYS_MAX_AGE; and the login limiter, keyed by role + client address.
 *
 * The JWT itself is never logged or echoed; see docs/internals/auth.md. */
#include "auth/auth.h"
#include "auth/jwt/jwt.h"
#include "auth/jwt/jwk.h"
#include "auth/jwt/jws.h"
#include "auth/jwt/jwt_claims.h"
#include "auth/jwt/jwt_fetch.h"
#include "backend/backend.h"
#include "backend/request.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_REFETCH_INTERVAL 5    /* seconds between refetches for unknown kids */
#define JWT_KEYS_MAX_AGE     3600 /* seconds a fetched JWKS is used without refetch */
#define ROLE_NAME_MAX        128
#define MSG_MAX              256
#define NS                   1000000000LL

struct jwt_state {
	pthread_mutex_t mu;       /* keys, gen, fetched, refetch_at */
	pthread_mutex_t fetch_mu; /* one fetch at a time per mount */
	struct auth_limiter *lim;
	struct jwk_set *keys; /* NULL: not loaded yet */
	bool fetched_keys;    /* keys came from a URL (may be refetched) */
	uint64_t gen;         /* bumped by every config write */
	int64_t fetched;      /* unix ns of the fetch that built keys */
	int64_t refetch_at;   /* unix ns of the last unknown-kid refetch */
	int64_t failed_at;    /* unix ns of the last failed fetch */
};

static struct jwt_state *
state(struct request *rq)
{
	return rq->mount->state;
}

static int errf(struct response *rs, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
errf(struct response *rs, int r, const char *fmt, ...)
{
	char msg[MSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* truncated messages are fine */
	va_end(ap);
	(void)response_errorf(rs, "%s", msg);
	return r;
}

/* ---- the key set cache ---- */

static void
keys_release(struct jwt_state *st, struct jwk_set *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&st->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (last)
		jwk_set_free(s);
}

/* Replaces the cached set (called with mu held); the old one is released. */
static struct jwk_set *
keys_swap_locked(struct jwt_state *st, struct jwk_set *s, bool fetched)
{
	struct jwk_set *old = st->keys;

	st->keys = s;
	st->fetched_keys = fetched;
	st->fetched = util_now_ns();
	if (old && --old->refs == 0)
		return old; /* caller frees outside the lock */
	return NULL;
}

/* Builds the key set a config names: its PEM keys, its JWKS, or OIDC
 * discovery then the JWKS. Errors: CF_EINVAL (bad PEM), CF_EUPSTREAM (fetch or
 * document), CF_ENOMEM; reason in err. */
static int
keys_build(json_t *cfg, struct jwk_set **ret, char *err, size_t errlen)
{
	const char *jwks = NULL, *disc = NULL, *ca = NULL, *why = NULL;
	char *body = NULL, *issuer = NULL, *uri = NULL;
	json_t *pems = json_object_get(cfg, "jwt_validation_pubkeys");
	struct jwk_set *s = NULL;
	size_t len = 0, idx = 0;
	int r;

	err[0] = '\0';
	if (json_array_size(pems) > 0) {
		r = jwk_set_from_pems(pems, &s, &why, &idx);
		if (r == CF_EINVAL)
			(void)snprintf(err, errlen, "jwt_validation_pubkeys[%zu]: %s", idx, why);
		goto out;
	}
	(void)jsonx_str(cfg, "oidc_discovery_url", &disc);
	(void)jsonx_str(cfg, "jwks_url", &jwks);
	if (disc && disc[0]) {
		(void)jsonx_str(cfg, "oidc_discovery_ca_pem", &ca);
		r = jwt_fetch_discovery(disc, ca, &issuer, &uri, err, errlen);
		if (r < 0)
			goto out;
		jwks = uri;
	} else if (jwks && jwks[0]) {
		(void)jsonx_str(cfg, "jwks_ca_pem", &ca);
	} else {
		(void)snprintf(err, errlen, "no key source configured");
		r = CF_EINVAL;
		goto out;
	}
	r = jwt_fetch(jwks, ca, &body, &len, err, errlen);
	if (r < 0)
		goto out;
	r = jwk_set_from_jwks(body, len, &s, &why);
	if (r == CF_EINVAL) {
		(void)snprintf(err, errlen, "%s", why);
		r = CF_EUPSTREAM;
	}
	if (r == 0) {
		s->issuer = issuer;
		issuer = NULL;
	}
out:
	free(body);
	free(issuer);
	free(uri);
	if (r == 0)
		*ret = s;
	return r;
}

static bool
cfg_fetches(json_t *cfg)
{
	return json_array_size(json_object_get(cfg, "jwt_validation_pubkeys")) == 0;
}

/* A reference on the mount's key set, loading it on first use (after unseal)
 * and refreshing fetched sets older than JWT_KEYS_MAX_AGE (a failed refresh
 * keeps the old set).
 *
 * tried: NULL, or the set a token's kid was not found in (or, without a kid,
 * that did not verify it). Then the answer is a newer set: one fetched now (at
 * most once per JWT_REFETCH_INTERVAL per mount) or by a concurrent request (an
 * in-flight fetch is waited for), else CF_ENOTFOUND. CF_EUPSTREAM (reason in
 * err) when there is no set at all. */
static int
keys_get(struct jwt_state *st, json_t *cfg, const struct jwk_set *tried, struct jwk_set **ret,
         char *err, size_t errlen)
{
	struct jwk_set *s = NULL, *old = NULL;
	int64_t now = util_now_ns();
	bool force = tried != NULL, build, skip;
	uint64_t gen;
	int r = 0;

	err[0] = '\0';
	pthread_mutex_lock(&st->mu);
	build = !st->keys || (st->fetched_keys && now - st->fetched > JWT_KEYS_MAX_AGE * NS);
	/* a JWKS server that is down is not asked again at every login */
	if (now - st->failed_at < JWT_REFETCH_INTERVAL * NS)
		build = false;
	if (force && st->keys && st->keys != tried) {
		build = force = false; /* a newer set is already there */
	} else if (force && st->keys && st->fetched_keys &&
	           now - st->refetch_at >= JWT_REFETCH_INTERVAL * NS) {
		st->refetch_at = now;
		build = true;
	}
	pthread_mutex_unlock(&st->mu);

	if (build || force) {
		/* one fetch at a time; whoever waited uses what it got */
		pthread_mutex_lock(&st->fetch_mu);
		if (build) {
			pthread_mutex_lock(&st->mu);
			gen = st->gen;
			skip = st->keys && (tried ? st->keys != tried : st->fetched >= now);
			pthread_mutex_unlock(&st->mu);
			if (!skip)
				r = keys_build(cfg, &s, err, errlen);
			pthread_mutex_lock(&st->mu);
			if (r == 0 && s && gen == st->gen) {
				old = keys_swap_locked(st, s, cfg_fetches(cfg));
				s = NULL;
			} else if (r < 0) {
				st->failed_at = util_now_ns();
			}
			pthread_mutex_unlock(&st->mu);
		}
		pthread_mutex_unlock(&st->fetch_mu);
		jwk_set_free(s); /* the config changed while we fetched */
		jwk_set_free(old);
		if (r == CF_ENOMEM)
			return r;
		if (r < 0)
			log_error("jwt: loading the verification keys failed: %s", err);
	}
	pthread_mutex_lock(&st->mu);
	s = st->keys;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&st->mu);
	if (!s) {
		if (!err[0])
			(void)snprintf(err, errlen, "no verification keys loaded");
		return CF_EUPSTREAM;
	}
	if (tried && s == tried) {
		keys_release(st, s); /* nothing newer (rate-limited, or never fetched) */
		return CF_ENOTFOUND;
	}
	*ret = s;
	return 0;
}

/* ---- per-mount state ---- */

static int
jwt_init(struct mount *m, struct core *c)
{
	struct jwt_state *st = calloc(1, sizeof(*st));

	(void)c;
	if (!st)
		return CF_ENOMEM;
	if (auth_limiter_new(&st->lim) < 0) {
		free(st);
		return CF_ENOMEM;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->fetch_mu, NULL);
	m->state = st;
	return 0;
}

static void
jwt_cleanup(struct mount *m)
{
	struct jwt_state *st = m->state;

	if (!st)
		return;
	auth_limiter_free(st->lim);
	/* no request runs at cleanup (the core holds its write lock) */
	jwk_set_free(st->keys);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->fetch_mu);
	free(st);
	m->state = NULL;
}

/* ---- parameters ---- */

static bool
str_is(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* ---- config ---- */

static int
config_load(struct request *rq, json_t **ret)
{
	return view_get_json(rq->mount->view, "config", ret);
}

/* The config's parameters (Vault's JWT auth config API). Vault replaces the
 * whole config on every write: what a write leaves out gets its default. */
static const struct field config_fields[] = {
        {"oidc_discovery_url", FIELD_STRING, .def = "",
         .desc = "the issuer whose discovery document gives the keys"},
        {"oidc_discovery_ca_pem", FIELD_STRING, .def = "",
         .desc = "CA certificates (PEM) for the discovery URL"},
        {"oidc_client_id", FIELD_STRING, .def = "", .desc = "the OIDC client ID"},
        {"oidc_client_secret", FIELD_STRING, FIELD_SECRET, .def = "",
         .desc = "the OIDC client secret"},
        {"oidc_response_mode", FIELD_STRING, .def = "", .desc = "accepted for Vault's clients"},
        {"jwks_url", FIELD_STRING, .def = "", .desc = "a JWKS URL to fetch the keys from"},
        {"jwks_ca_pem", FIELD_STRING, .def = "", .desc = "CA certificates (PEM) for the JWKS URL"},
        {"bound_issuer", FIELD_STRING, .def = "", .desc = "the iss claim a token must carry"},
        {"default_role", FIELD_STRING, .def = "", .desc = "the role used when a login names none"},
        {"jwt_validation_pubkeys", FIELD_STRLIST, .def = "",
         .desc = "PEM public keys that verify tokens (instead of a URL)"},
        {"jwt_supported_algs", FIELD_STRLIST, .def = "",
         .desc = "the signing algorithms accepted; default: all supported"},
        {"oidc_response_types", FIELD_STRLIST, .def = "", .desc = "accepted for Vault's clients"},
        {"provider_config", FIELD_OBJECT, .def = "{}", .desc = "accepted for Vault's clients"},
        {"namespace_in_state", FIELD_BOOL, .def = "false", .desc = "accepted for Vault's clients"},
        {NULL},
};

static int
check_algs(struct response *rs, json_t *algs)
{
	size_t i;
	json_t *a;
	enum jws_alg alg;

	json_array_foreach(algs, i, a)
	{
		const char *s = json_string_value(a);
		if (jws_alg_parse(s, &alg) < 0)
			return errf(
			        rs, CF_EINVAL,
			        "jwt_supported_algs: \"%.32s\" is not allowed (RS256, RS384, "
			        "RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA; \"none\" "
			        "and HMAC algorithms are never accepted)",
			        s);
	}
	return 0;
}

static void
warn_http(struct response *rs, const char *key, const char *url)
{
	if (url && strncmp(url, "http://", 7) == 0)
		(void)response_warnf(
		        rs,
		        "%s uses http:// without TLS: anyone on the network path can "
		        "substitute the keys coffer trusts; use https:// outside tests",
		        key);
}

static int
h_config_write(struct request *rq, struct response *rs)
{
	struct jwt_state *st = state(rq);
	json_t *cfg = json_object();
	struct jwk_set *s = NULL, *old = NULL;
	char err[MSG_MAX];
	int sources = 0, r = cfg ? 0 : CF_ENOMEM;

	if (r == 0)
		r = field_defaults(config_fields, cfg);
	if (r == 0)
		r = field_merge(config_fields, rq->data, cfg, rs);
	if (r < 0)
		goto out;
	if (json_array_size(json_object_get(cfg, "jwt_validation_pubkeys")) > 0)
		sources++;
	if (json_string_length(json_object_get(cfg, "jwks_url")) > 0)
		sources++;
	if (json_string_length(json_object_get(cfg, "oidc_discovery_url")) > 0)
		sources++;
	if (sources != 1) {
		r = errf(rs, CF_EINVAL,
		         "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or "
		         "'oidc_discovery_url' must be set");
		goto out;
	}
	r = check_algs(rs, json_object_get(cfg, "jwt_supported_algs"));
	if (r < 0)
		goto out;

	/* As Vault, a config that cannot verify anything is refused now. */
	r = keys_build(cfg, &s, err, sizeof(err));
	if (r == CF_ENOMEM)
		goto out;
	if (r < 0) {
		const char *what = json_string_length(json_object_get(cfg, "oidc_discovery_url"))
		                           ? "error checking oidc discovery URL"
		                   : json_string_length(json_object_get(cfg, "jwks_url"))
		                           ? "error checking jwks URL"
		                           : "error parsing jwt_validation_pubkeys";
		r = errf(rs, CF_EINVAL, "%s: %s", what, err);
		goto out;
	}
	warn_http(rs, "jwks_url", json_string_value(json_object_get(cfg, "jwks_url")));
	warn_http(rs, "oidc_discovery_url",
	          json_string_value(json_object_get(cfg, "oidc_discovery_url")));

	r = view_put_json(rq->mount->view, "config", cfg);
	if (r < 0)
		goto out;
	log_info("jwt: %s configured with %zu verification key(s)", rq->mount->path, s->n);
	pthread_mutex_lock(&st->mu);
	st->gen++;
	st->failed_at = 0;
	old = keys_swap_locked(st, s, cfg_fetches(cfg));
	pthread_mutex_unlock(&st->mu);
	s = NULL;
out:
	jwk_set_free(s);
	jwk_set_free(old);
	json_decref(cfg);
	return r;
}

static int
h_config_read(struct request *rq, struct response *rs)
{
	json_t *cfg = NULL;
	int r = config_load(rq, &cfg);

	if (r == CF_ENOTFOUND)
		return 0; /* Vault: an empty answer until configured */
	if (r < 0)
		return r;
	json_object_del(cfg, "oidc_client_secret");
	response_set_data(rs, cfg);
	return 0;
}

/* ---- roles ---- */

/* Vault's framework.GenericNameRegex: \w(([\w-.]+)?\w)? */
static bool
role_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ROLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '_';
		if (!w && ((c != '-' && c != '.') || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

static int
role_key(const char *name, char *out, size_t len)
{
	if (!role_name_ok(name))
		return CF_EINVAL;
	(void)snprintf(out, len, "role/%s", name);
	return 0;
}

static int
role_load(struct request *rq, const char *name, json_t **ret)
{
	char key[ROLE_NAME_MAX + 8];

	if (role_key(name, key, sizeof(key)) < 0)
		return CF_ENOTFOUND;
	return view_get_json(rq->mount->view, key, ret);
}

static int
role_exists(struct request *rq, bool *ret_exists)
{
	json_t *role = NULL;
	int r = role_load(rq, rq->cap[0], &role);

	json_decref(role);
	if (r == CF_ENOTFOUND) {
		*ret_exists = false;
		return 0;
	}
	if (r < 0)
		return r;
	*ret_exists = true;
	return 0;
}

/* claim_mappings: an object of claim -> metadata key; keys are distinct
 * and "role" is kept for the role name (Vault's JWT roles). */
static int
claim_mappings_parse(json_t *m, json_t **ret, char *err, size_t errlen)
{
	json_t *v, *seen;
	const char *k;

	if (!json_is_object(m)) {
		snprintf(err, errlen, "must be an object of claim -> metadata key");
		return CF_EINVAL;
	}
	seen = json_object();
	if (!seen)
		return CF_ENOMEM;
	json_object_foreach(m, k, v)
	{
		const char *t = json_string_value(v);
		if (!t || !t[0]) {
			snprintf(err, errlen, "the value of \"%.64s\" must be a non-empty string",
			         k);
			json_decref(seen);
			return CF_EINVAL;
		}
		if (strcmp(t, "role") == 0) {
			snprintf(err, errlen,
			         "the metadata key \"role\" is reserved for the role name");
			json_decref(seen);
			return CF_EINVAL;
		}
		if (json_object_get(seen, t)) {
			snprintf(err, errlen, "duplicate target: %.64s", t);
			json_decref(seen);
			return CF_EINVAL;
		}
		json_object_set_new(seen, t, json_true());
	}
	json_decref(seen);
	*ret = json_incref(m);
	return 0;
}

/* bound_claims: checked against bound_claims_type once the role is merged
 * (jwt_claims_bound_validate); here only its size. */
static int
bound_claims_parse(json_t *bc, json_t **ret, char *err, size_t errlen)
{
	if (json_is_object(bc) && json_object_size(bc) > 64) {
		snprintf(err, errlen, "at most 64 claims");
		return CF_EINVAL;
	}
	*ret = json_incref(bc);
	return 0;
}

#define STR_(x) #x
#define STR(x)  STR_(x)
/* Leeways: seconds or a duration string; -1 disables (Vault). */
#define LEEWAY(name, dflt, what)                                                                   \
	{                                                                                          \
		name, FIELD_DURATION, FIELD_RANGE, .def = STR(dflt), .min = -1,                    \
		                                   .max = 365 * 86400, .desc = what                \
	}

/* A role's parameters of its own (the token_* ones are auth_token_cfg's,
 * auth/auth.h), stored as given (Vault's JWT roles); the defaults are a new
 * role's (bound_claims and claim_mappings: null). */
static const struct field role_fields[] = {
        {"role_type", FIELD_STRING, .def = "jwt", .desc = "\"jwt\" (\"oidc\" is refused)"},
        {"user_claim", FIELD_STRING, .def = "",
         .desc = "the claim that names the user (display name)"},
        {"user_claim_json_pointer", FIELD_BOOL, .def = "false",
         .desc = "user_claim is a JSON pointer"},
        {"bound_audiences", FIELD_STRLIST, .def = "",
         .desc = "aud values a token must carry one of"},
        {"bound_subject", FIELD_STRING, .def = "", .desc = "the sub claim a token must carry"},
        {"bound_claims_type", FIELD_STRING, .def = "string", .desc = "\"string\" or \"glob\""},
        {"groups_claim", FIELD_STRING, .def = "", .desc = "the claim that lists the user's groups"},
        LEEWAY("clock_skew_leeway", JWT_CLOCK_SKEW_DEFAULT,
               "clock skew allowed on iat, exp and nbf; -1: none"),
        LEEWAY("expiration_leeway", JWT_EXP_LEEWAY_DEFAULT,
               "how long after exp a token is accepted; -1: none"),
        LEEWAY("not_before_leeway", JWT_NBF_LEEWAY_DEFAULT,
               "how long before nbf a token is accepted; -1: none"),
        {"allowed_redirect_uris", FIELD_STRLIST, .def = "",
         .desc = "redirect URIs an OIDC login may use"},
        {"oidc_scopes", FIELD_STRLIST, .def = "", .desc = "scopes asked for in an OIDC login"},
        {"verbose_oidc_logging", FIELD_BOOL, .def = "false", .desc = "log OIDC login details"},
        {"max_age", FIELD_DURATION, .def = "0",
         .desc = "the longest time since the user last authenticated"},
        {"bound_claims", FIELD_CUSTOM, .parse = bound_claims_parse,
         .desc = "claims a token must carry, with the values allowed"},
        {"claim_mappings", FIELD_CUSTOM, .parse = claim_mappings_parse,
         .desc = "claims copied into the token's metadata, as claim: key"},
        {NULL},
};
#undef LEEWAY

static int
h_role_write(struct request *rq, struct response *rs)
{
	const char *name = rq->cap[0], *rt = NULL, *bct = NULL;
	struct auth_token_cfg tc;
	json_t *role = NULL, *bc;
	char key[ROLE_NAME_MAX + 8], why[MSG_MAX];
	bool tc_ok = false;
	int r;

	if (role_key(name, key, sizeof(key)) < 0)
		return errf(rs, CF_EINVAL, "invalid role name");
	r = role_load(rq, name, &role);
	if (r == CF_ENOTFOUND) {
		role = json_pack("{s:n, s:n}", "bound_claims", "claim_mappings");
		r = role ? field_defaults(role_fields, role) : CF_ENOMEM;
		if (r < 0)
			goto out;
	} else if (r < 0) {
		return r;
	}
	r = auth_token_cfg_init(&tc);
	if (r < 0)
		goto out;
	tc_ok = true;
	r = auth_token_cfg_load(&tc, role);
	if (r == 0)
		r = auth_token_cfg_update(&tc, rq->data, rs, NULL);
	if (r == 0)
		r = field_merge(role_fields, rq->data, role, rs);
	if (r < 0)
		goto out;

	rt = json_string_value(json_object_get(role, "role_type"));
	if (!rt || (strcmp(rt, "jwt") != 0 && strcmp(rt, "oidc") != 0)) {
		r = errf(rs, CF_EINVAL, "invalid 'role_type': must be \"jwt\" or \"oidc\"");
		goto out;
	}
	if (strcmp(rt, "oidc") == 0) {
		r = errf(
		        rs, CF_EUNSUPPORTED,
		        "role_type \"oidc\" needs the browser flow, which coffer does not support; "
		        "use role_type \"jwt\" and log in with a JWT");
		goto out;
	}
	if (json_string_length(json_object_get(role, "user_claim")) == 0) {
		r = errf(rs, CF_EINVAL, "a user claim must be defined on the role");
		goto out;
	}
	bct = json_string_value(json_object_get(role, "bound_claims_type"));
	if (!bct || (strcmp(bct, "string") != 0 && strcmp(bct, "glob") != 0)) {
		r = errf(rs, CF_EINVAL,
		         "invalid 'bound_claims_type': must be \"string\" or \"glob\"");
		goto out;
	}
	bc = json_object_get(role, "bound_claims");
	if (!json_is_null(bc) &&
	    jwt_claims_bound_validate(bc, strcmp(bct, "glob") == 0, why, sizeof(why)) < 0) {
		r = errf(rs, CF_EINVAL, "%s", why);
		goto out;
	}
	if (json_array_size(json_object_get(role, "bound_audiences")) == 0 &&
	    json_string_length(json_object_get(role, "bound_subject")) == 0 &&
	    json_object_size(bc) == 0 && json_array_size(tc.bound_cidrs) == 0) {
		r = errf(rs, CF_EINVAL,
		         "must have at least one bound constraint when creating/updating a role "
		         "(bound_audiences, bound_subject, bound_claims or token_bound_cidrs)");
		goto out;
	}
	r = auth_token_cfg_store(&tc, role);
	if (r == 0)
		r = view_put_json(rq->mount->view, key, role);
out:
	if (tc_ok)
		auth_token_cfg_clear(&tc);
	json_decref(role);
	return r;
}

static int
h_role_read(struct request *rq, struct response *rs)
{
	struct auth_token_cfg tc;
	json_t *role = NULL;
	int r = role_load(rq, rq->cap[0], &role);

	if (r < 0)
		return r;
	r = auth_token_cfg_init(&tc);
	if (r == 0) {
		r = auth_token_cfg_load(&tc, role);
		if (r == 0)
			r = auth_token_cfg_show(&tc, role);
		auth_token_cfg_clear(&tc);
	}
	if (r < 0) {
		json_decref(role);
		return r;
	}
	response_set_data(rs, role);
	return 0;
}

static int
h_role_delete(struct request *rq, struct response *rs)
{
	char key[ROLE_NAME_MAX + 8];
	int r;

	(void)rs;
	if (role_key(rq->cap[0], key, sizeof(key)) < 0)
		return 0;
	r = view_delete(rq->mount->view, key);
	return r == CF_ENOTFOUND ? 0 : r;
}

static int
h_role_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "role/", 0, rs);
}

/* ---- login ---- */

static bool
alg_allowed(json_t *cfg, enum jws_alg alg)
{
	json_t *algs = json_object_get(cfg, "jwt_supported_algs");

	if (json_array_size(algs) == 0)
		return true; /* every algorithm coffer verifies */
	return jsonx_array_has(algs, jws_alg_name(alg));
}

/* Parses and verifies the JWT: alg, key, signature. 0 with *ret, or an error
 * with the reason in why. */
static int
verify(struct jwt_state *st, json_t *cfg, const char *jwt, struct jws **ret, char **ret_issuer,
       char *why, size_t whylen)
{
	struct jws *j = NULL;
	struct jwk_set *s = NULL;
	const char *reason = NULL;
	int r;

	r = jws_parse(jwt, strlen(jwt), &j, &reason);
	if (r < 0) {
		(void)snprintf(why, whylen, "%s", reason ? reason : "malformed JWT");
		return r == CF_ENOMEM ? r : CF_EINVAL;
	}
	if (!alg_allowed(cfg, j->alg)) {
		(void)snprintf(why, whylen, "JWT signing algorithm %s is not in jwt_supported_algs",
		               jws_alg_name(j->alg));
		r = CF_EINVAL;
		goto out;
	}
	r = keys_get(st, cfg, NULL, &s, why, whylen);
	if (r < 0)
		goto out;
	r = jwk_set_verify(s, j);
	if (r == CF_ENOTFOUND || (r == CF_EDENIED && !j->kid)) {
		/* maybe the issuer rotated its keys: a newer set (rate-limited) */
		struct jwk_set *s2 = NULL;
		if (keys_get(st, cfg, s, &s2, why, whylen) == 0) {
			keys_release(st, s);
			s = s2;
			r = jwk_set_verify(s, j);
		}
	}
	if (r == CF_ENOTFOUND)
		(void)snprintf(why, whylen, "%s",
		               j->kid ? "no key in the key set matches the JWT's key id (kid)"
		                      : "no key in the key set fits the JWT's algorithm");
	else if (r == CF_EDENIED)
		(void)snprintf(why, whylen,
		               "error validating signature: the JWT signature is "
		               "invalid");
	if (r == CF_ENOTFOUND || r == CF_EDENIED)
		r = CF_EINVAL;
	if (r == 0 && s->issuer && !(*ret_issuer = strdup(s->issuer)))
		r = CF_ENOMEM;
out:
	keys_release(st, s);
	if (r < 0) {
		jws_free(j);
		return r;
	}
	*ret = j;
	return 0;
}

/* Metadata {"role": name, ...claim_mappings} (Vault: alias metadata). */
static int
login_metadata(json_t *role, json_t *claims, const char *role_name, json_t **ret, char *why,
               size_t whylen)
{
	json_t *meta = json_pack("{s:s}", "role", role_name), *maps, *v;
	const char *k;

	if (!meta)
		return CF_ENOMEM;
	maps = json_object_get(role, "claim_mappings");
	json_object_foreach(maps, k, v)
	{
		json_t *c = jwt_claims_get(claims, k, true);
		char *text;
		if (!c)
			continue; /* missing claims are skipped, as Vault */
		text = jwt_claims_text(c);
		if (!text) {
			(void)snprintf(why, whylen, "error converting claim '%.64s' to string", k);
			json_decref(meta);
			return CF_EINVAL;
		}
		if (json_object_set_new(meta, json_string_value(v), json_string(text)) != 0) {
			free(text);
			json_decref(meta);
			return CF_ENOMEM;
		}
		free(text);
	}
	*ret = meta;
	return 0;
}

static int
check_groups(json_t *role, json_t *claims, char *why, size_t whylen)
{
	const char *gc = json_string_value(json_object_get(role, "groups_claim"));
	json_t *g, *it;
	size_t i;

	if (!gc || !gc[0])
		return 0;
	g = jwt_claims_get(claims, gc, true);
	if (!g) {
		(void)snprintf(why, whylen, "\"%.64s\" claim not found in token", gc);
		return CF_EINVAL;
	}
	if (json_is_string(g))
		return 0;
	if (!json_is_array(g)) {
		(void)snprintf(why, whylen, "\"%.64s\" claim could not be converted to string list",
		               gc);
		return CF_EINVAL;
	}
	json_array_foreach(g, i, it)
	{
		if (!json_is_string(it)) {
			(void)snprintf(why, whylen, "a value in the groups claim is not a string");
			return CF_EINVAL;
		}
	}
	/* XXX coffer has no identity groups yet: the groups are checked, not used */
	return 0;
}

/* The role's (and the config's issuer) bounds on a verified token's claims:
 * 0, or CF_EINVAL with the reason in why. */
static int
login_bounds(json_t *cfg, json_t *role, const char *disc_issuer, json_t *claims, char *why,
             size_t whylen)
{
	struct jwt_bounds b = {0};
	const char *issuer = NULL, *bct;

	(void)jsonx_str(cfg, "bound_issuer", &issuer);
	b.issuer = issuer && issuer[0] ? issuer : disc_issuer;
	b.audiences = json_object_get(role, "bound_audiences");
	b.subject = json_string_value(json_object_get(role, "bound_subject"));
	b.claims = json_object_get(role, "bound_claims");
	bct = json_string_value(json_object_get(role, "bound_claims_type"));
	b.claims_glob = bct && strcmp(bct, "glob") == 0;
	(void)jsonx_int(role, "clock_skew_leeway", &b.clock_skew);
	(void)jsonx_int(role, "expiration_leeway", &b.exp_leeway);
	(void)jsonx_int(role, "not_before_leeway", &b.nbf_leeway);
	return jwt_claims_check(claims, &b, util_now(), why, whylen) < 0 ? CF_EINVAL : 0;
}

/* The user the role's user_claim names: a new string in *ret (free with
 * secmem_free_str), or CF_EINVAL with the reason in why. */
static int
login_user(json_t *role, json_t *claims, char **ret, char *why, size_t whylen)
{
	const char *uc = json_string_value(json_object_get(role, "user_claim"));
	bool ptr = false;
	json_t *uv;
	char *user;

	(void)jsonx_bool(role, "user_claim_json_pointer", &ptr);
	uv = jwt_claims_get(claims, uc, ptr);
	if (!uv) {
		(void)snprintf(why, whylen, "claim \"%.64s\" not found in token", uc);
		return CF_EINVAL;
	}
	user = json_is_string(uv) || json_is_integer(uv) ? jwt_claims_text(uv) : NULL;
	if (!user || !user[0]) {
		secmem_free_str(user);
		(void)snprintf(why, whylen, "claim \"%.64s\" could not be converted to string", uc);
		return CF_EINVAL;
	}
	*ret = user;
	return 0;
}

static int
h_login(struct request *rq, struct response *rs)
{
	struct jwt_state *st = state(rq);
	const char *addr = rq->remote_addr ? rq->remote_addr : "", *jwt = NULL, *role_name = NULL;
	char *disc_issuer = NULL, *user = NULL, limkey[ROLE_NAME_MAX + 80], why[MSG_MAX] = "";
	json_t *cfg = NULL, *role = NULL, *meta = NULL;
	struct auth_token_cfg tc;
	struct auth_limits lim;
	struct jws *j = NULL;
	bool tc_ok = false;
	int64_t retry = 0;
	int r;

	if (jsonx_str(rq->data, "jwt", &jwt) < 0 || !jwt[0])
		return errf(rs, CF_EINVAL, "missing token");
	if (jsonx_str(rq->data, "role", &role_name) < 0)
		role_name = "";
	r = config_load(rq, &cfg);
	if (r == CF_ENOTFOUND)
		return errf(rs, CF_EINVAL, "could not load configuration");
	if (r < 0)
		return r;
	if (!role_name[0])
		(void)jsonx_str(cfg, "default_role", &role_name);
	if (!role_name || !role_name[0]) {
		r = errf(rs, CF_EINVAL, "missing role");
		goto out;
	}

	/* Brute force: there is no password to guess, but bad JWTs from one address
	 * for one role are still limited, and so is the address as a whole. */
	auth_limits_of(rq->mount, &lim);
	(void)snprintf(limkey, sizeof(limkey), "%.*s|%s", ROLE_NAME_MAX, role_name, addr);
	r = auth_limiter_check(st->lim, &lim, limkey, addr, &retry);
	if (r == CF_ERATELIMIT) {
		log_info("jwt login on %s from %s refused: too many failures", rq->mount->path,
		         addr);
		r = auth_too_many(rs, retry);
		goto out;
	}

	r = role_load(rq, role_name, &role);
	if (r == CF_ENOTFOUND) {
		(void)snprintf(why, sizeof(why), "role could not be found");
		r = CF_EINVAL;
		goto fail;
	}
	if (r < 0)
		goto out;
	if (!str_is(json_object_get(role, "role_type"), "jwt")) {
		(void)snprintf(why, sizeof(why), "role with oidc role_type is not allowed");
		r = CF_EINVAL;
		goto fail;
	}
	r = auth_token_cfg_init(&tc);
	if (r < 0)
		goto out;
	tc_ok = true;
	r = auth_token_cfg_load(&tc, role);
	if (r < 0)
		goto out;
	if (!cidr_list_allows(tc.bound_cidrs, addr)) {
		(void)snprintf(why, sizeof(why), "permission denied");
		r = CF_EDENIED;
		goto fail;
	}

	r = verify(st, cfg, jwt, &j, &disc_issuer, why, sizeof(why));
	if (r == CF_ENOMEM)
		goto out;
	if (r == CF_EUPSTREAM) {
		/* our side failed, not the client: not counted as a failed login */
		log_error("jwt login on %s: cannot load verification keys: %s", rq->mount->path,
		          why);
		r = errf(rs, CF_EUPSTREAM, "could not load the verification keys: %s", why);
		goto out;
	}
	if (r < 0)
		goto fail;

	r = login_bounds(cfg, role, disc_issuer, j->claims, why, sizeof(why));
	if (r == 0)
		r = login_user(role, j->claims, &user, why, sizeof(why));
	if (r == CF_ENOMEM)
		goto out;
	if (r < 0)
		goto fail;
	r = check_groups(role, j->claims, why, sizeof(why));
	if (r == 0)
		r = login_metadata(role, j->claims, role_name, &meta, why, sizeof(why));
	if (r == CF_ENOMEM)
		goto out;
	if (r < 0)
		goto fail;

	r = auth_login_token(rq, rs, &tc, user, meta);
	if (r < 0)
		goto out;
	auth_limiter_succeeded(st->lim, limkey);
	log_verbose("jwt login on %s: role %s from %s", rq->mount->path, role_name, addr);
	goto out;
fail:
	auth_limiter_failed(st->lim, &lim, limkey, addr);
	/* the reason names no token content; the JWT itself is never logged */
	log_info("jwt login on %s from %s failed: %s", rq->mount->path, addr, why);
	(void)response_errorf(rs, "%s", why);
out:
	if (tc_ok)
		auth_token_cfg_clear(&tc);
	jws_free(j);
	json_decref(meta);
	json_decref(role);
	json_decref(cfg);
	free(disc_issuer);
	secmem_free_str(user);
	return r;
}

/* ---- the OIDC browser flow: refused ---- */

static int
h_oidc_flow(struct request *rq, struct response *rs)
{
	(void)rq;
	return errf(rs, CF_EUNSUPPORTED,
	            "the OIDC browser flow (oidc/auth_url, oidc/callback) is not supported by "
	            "coffer; log in with a JWT at login with a role of role_type \"jwt\"");
}

static const struct route jwt_routes[] = {
        {"config", .read = h_config_read, .write = h_config_write, .fields = config_fields},
        {"role", .list = h_role_list},
        {"role/", .list = h_role_list},
        {"role/+", .read = h_role_read, .write = h_role_write, .delete = h_role_delete,
         .exists = role_exists, .fields = role_fields},
        {"login", .flags = R_NOAUTH, .write = h_login},
        {"oidc/auth_url", .flags = R_NOAUTH, .write = h_oidc_flow},
        {"oidc/callback", .flags = R_NOAUTH, .read = h_oidc_flow, .write = h_oidc_flow},
};

const struct backend_type jwt_backend = {
        .type = "jwt",
        .routes = jwt_routes,
        .nroutes = sizeof(jwt_routes) / sizeof(jwt_routes[0]),
        .init = jwt_init,
        .cleanup = jwt_cleanup,
};
