/* wrap.c - response wrapping and the sys/wrapping/ endpoints (wrap.h). */
#include "core/wrap.h"
#include "core/core_int.h"
#include "core/token.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_INVALID "wrapping token is not valid or does not exist"

static const char wrap_policy[] = "path \"sys/wrapping/unwrap\" {\n"
                                  "    capabilities = [\"update\"]\n"
                                  "}\n"
                                  "path \"sys/wrapping/lookup\" {\n"
                                  "    capabilities = [\"update\"]\n"
                                  "}\n"
                                  "path \"sys/wrapping/rewrap\" {\n"
                                  "    capabilities = [\"update\"]\n"
                                  "}\n";

const char *
wrap_policy_text(void)
{
	return wrap_policy;
}

int
wrap_check_ttl(struct request *rq, struct response *rs)
{
	int64_t max = rq->mount ? mount_max_ttl(rq->mount) : SYSTEM_DEFAULT_TTL;

	if (rq->wrap_ttl <= 0) {
		(void)response_errorf(rs, "invalid wrap TTL");
		return CF_EINVAL;
	}
	if (rq->wrap_ttl > max) {
		(void)response_errorf(
		        rs, "wrap TTL of %lld seconds is above the max TTL of %lld seconds",
		        (long long)rq->wrap_ttl, (long long)max);
		return CF_EINVAL;
	}
	return 0;
}

/* "<hash>/response", the cubbyhole key of a wrapped answer. */
static void
response_key(const char *hash, char out[96])
{
	snprintf(out, 96, "%s/response", hash);
}

/* Mints a wrapping token holding response (borrowed) for ttl seconds; *ret_info
 * is its wrap_info (token, accessor, ttl, creation_time, creation_path). On
 * error nothing is left behind. */
static int
wrap_mint(struct core *c, int64_t ttl, const char *path, json_t *response, json_t **ret_info)
{
	json_t *pols = json_pack("[s]", WRAP_POLICY), *rec = NULL, *info = NULL;
	struct token_params tp = {
	        .policies = pols,
	        .display_name = "",
	        .path = path,
	        .ttl = ttl,
	        .num_uses = 1,
	        .renewable = false,
	        .no_default_policy = true,
	};
	struct token_entry *te = NULL;
	char *token = NULL, key[96], when[48];
	int r;

	if (!pols)
		return CF_ENOMEM;
	r = token_create(c->tokens, &tp, &token, &te);
	json_decref(pols);
	if (r < 0)
		return r;
	response_key(te->hash, key);
	rec = json_pack("{s:O}", "response", response);
	r = rec ? view_put_json(c->cubby_view, key, rec) : CF_ENOMEM;
	json_decref(rec);
	if (r == 0) {
		util_rfc3339(te->creation_time * 1000000000LL, when, sizeof(when));
		info = json_pack("{s:s, s:s, s:I, s:s, s:s}", "token", token, "accessor",
		                 te->accessor, "ttl", (json_int_t)ttl, "creation_time", when,
		                 "creation_path", path);
		r = info ? 0 : CF_ENOMEM;
	}
	if (r < 0)
		(void)token_revoke_tree(c->tokens, te->hash);
	else
		*ret_info = info;
	secmem_free_str(token);
	token_entry_free(te);
	return r;
}

int
wrap_response(struct core *c, struct request *rq, struct response *rs)
{
	json_t *resp, *info = NULL, *acc;
	int r;

	if (!rq->wrap_requested || rs->wrap_info || rs->stream || rs->raw || rs->errors)
		return 0;
	if ((rs->status != 0 && rs->status != 200) || (!rs->data && !rs->auth))
		return 0;
	resp = json_pack("{s:O, s:O, s:O, s:s, s:I, s:b}", "data",
	                 rs->data ? rs->data : json_null(), "auth",
	                 rs->auth ? rs->auth : json_null(), "warnings",
	                 rs->warnings ? rs->warnings : json_null(), "lease_id",
	                 rs->lease_id ? rs->lease_id : "", "lease_duration",
	                 (json_int_t)rs->lease_duration, "renewable", rs->renewable);
	if (!resp)
		return CF_ENOMEM;
	r = wrap_mint(c, rq->wrap_ttl, rq->path, resp, &info);
	json_decref(resp);
	if (r < 0)
		return r;
	acc = json_object_get(rs->auth, "accessor");
	if (json_is_string(acc))
		json_object_set(info, "wrapped_accessor", acc);
	json_decref(rs->data);
	json_decref(rs->auth);
	json_decref(rs->warnings);
	free(rs->lease_id); /* not secret: a lease id */
	rs->data = rs->auth = rs->warnings = NULL;
	rs->lease_id = NULL;
	rs->lease_duration = 0;
	rs->renewable = false;
	rs->wrap_info = info;
	log_verbose("request %s: answer wrapped for %lld s", rq->id, (long long)rq->wrap_ttl);
	return 0;
}

/* Whether te is a wrapping token (its one policy is WRAP_POLICY). */
static bool
is_wrapping(const struct token_entry *te)
{
	return json_array_size(te->policies) == 1 &&
	       strcmp(json_string_value(json_array_get(te->policies, 0)) ?: "", WRAP_POLICY) == 0;
}

/* Whether the caller's own token may call rq->path (update). */
static bool
caller_may(struct core *c, struct request *rq)
{
	struct acl *acl = NULL;
	void *ref = NULL;
	unsigned caps;
	bool ok;

	if (!rq->te || core_acl_get(c, rq->te->policies, &acl, &ref) < 0)
		return false;
	caps = acl_capabilities(acl, rq->path);
	ok = acl_is_root(acl) || (!(caps & CAP_DENY) && (caps & CAP_UPDATE));
	core_acl_put(c, ref);
	return ok;
}

/* The wrapping token a sys/wrapping/ call names: "token" in the body, else the
 * client token. When check_caller is set and the body names another token than
 * the caller's, the caller's token must allow update on the path (the routes
 * take no token from the ladder, as the wrapping token itself may be the
 * client token). 0 with *ret_te, CF_EDENIED, or CF_EINVAL with rs filled. */
static int
wrap_target(struct request *rq, struct response *rs, bool check_caller, struct token_entry **ret_te)
{
	struct core *c = rq->core;
	const char *tok = NULL;

	if (jsonx_str(rq->data, "token", &tok) < 0 || !*tok)
		tok = NULL;
	if (tok && check_caller && (!rq->client_token || strcmp(tok, rq->client_token) != 0) &&
	    !caller_may(c, rq)) {
		(void)response_errorf(rs, "permission denied");
		return CF_EDENIED;
	}
	if (!tok)
		tok = rq->client_token;
	if (!tok || !*tok) {
		(void)response_errorf(rs, "missing wrapping token");
		return CF_EINVAL;
	}
	if (token_lookup(c->tokens, tok, ret_te) < 0) {
		(void)response_errorf(rs, WRAP_INVALID);
		return CF_EINVAL;
	}
	if (!is_wrapping(*ret_te)) {
		token_entry_free(*ret_te);
		*ret_te = NULL;
		(void)response_errorf(rs, WRAP_INVALID);
		return CF_EINVAL;
	}
	return 0;
}

/* Spends the single use of te and reads the answer it wraps (*ret, a new
 * reference). The token is then good for nothing: the caller revokes it. */
static int
wrap_take(struct core *c, struct token_entry *te, struct response *rs, json_t **ret)
{
	json_t *rec = NULL;
	bool last = false;
	char key[96];
	int r = token_use(c->tokens, te, &last);

	if (r < 0) {
		(void)response_errorf(rs, WRAP_INVALID);
		return CF_EINVAL;
	}
	response_key(te->hash, key);
	r = view_get_object(c->cubby_view, key, &rec);
	if (r == CF_ENOTFOUND || (r == 0 && !json_is_object(json_object_get(rec, "response")))) {
		json_decref(rec);
		(void)response_errorf(rs, WRAP_INVALID);
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	*ret = json_incref(json_object_get(rec, "response"));
	json_decref(rec);
	return 0;
}

static int
wrapping_unwrap(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct token_entry *te = NULL;
	json_t *resp = NULL, *v;
	const char *lease = NULL;
	int r = wrap_target(rq, rs, true, &te);

	if (r < 0)
		return r;
	r = wrap_take(c, te, rs, &resp);
	(void)token_revoke_tree(c->tokens, te->hash);
	token_entry_free(te);
	if (r < 0)
		return r;
	v = json_object_get(resp, "data");
	if (!json_is_null(v) && v)
		rs->data = json_incref(v);
	v = json_object_get(resp, "auth");
	if (!json_is_null(v) && v)
		rs->auth = json_incref(v);
	v = json_object_get(resp, "warnings");
	if (json_is_array(v))
		rs->warnings = json_incref(v);
	if (jsonx_str(resp, "lease_id", &lease) == 0 && *lease)
		rs->lease_id = strdup(lease);
	rs->lease_duration = json_integer_value(json_object_get(resp, "lease_duration"));
	rs->renewable = json_is_true(json_object_get(resp, "renewable"));
	json_decref(resp);
	if (!rs->data && !rs->auth)
		rs->status = 204;
	return 0;
}

static int
wrapping_lookup(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	char when[48];
	int r = wrap_target(rq, rs, false, &te);

	if (r < 0)
		return r;
	util_rfc3339(te->creation_time * 1000000000LL, when, sizeof(when));
	rs->data = json_pack("{s:I, s:s, s:s}", "creation_ttl", (json_int_t)te->creation_ttl,
	                     "creation_time", when, "creation_path", te->path ? te->path : "");
	token_entry_free(te);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
wrapping_rewrap(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct token_entry *te = NULL;
	json_t *resp = NULL, *info = NULL;
	int r = wrap_target(rq, rs, true, &te);

	if (r < 0)
		return r;
	r = wrap_take(c, te, rs, &resp);
	if (r == 0)
		r = wrap_mint(c, te->creation_ttl, te->path ? te->path : "", resp, &info);
	(void)token_revoke_tree(c->tokens, te->hash);
	token_entry_free(te);
	json_decref(resp);
	if (r < 0)
		return r;
	rs->wrap_info = info;
	rs->status = 200;
	return 0;
}

static int
wrapping_wrap(struct request *rq, struct response *rs)
{
	if (!rq->wrap_requested) {
		(void)response_errorf(rs,
		                      "a wrap TTL is required: send the X-Vault-Wrap-TTL header");
		return CF_EINVAL;
	}
	rs->data = json_deep_copy(rq->data);
	return rs->data ? 0 : CF_ENOMEM;
}

const struct route wrap_sys_routes[] = {
        {"wrapping/wrap", .write = wrapping_wrap},
        {"wrapping/unwrap", R_NOAUTH, .write = wrapping_unwrap},
        {"wrapping/lookup", R_NOAUTH, .read = wrapping_lookup, .write = wrapping_lookup},
        {"wrapping/rewrap", R_NOAUTH, .write = wrapping_rewrap},
};
const size_t wrap_sys_nroutes = sizeof(wrap_sys_routes) / sizeof(wrap_sys_routes[0]);
