/* token_backend.c - the token auth method, mounted at auth/token/ (Vault's token auth API).
 *
 * Handlers only: the store (hashing, tree, expiry, TTL arithmetic) is token.c.
 * Policy and parent rules of token creation follow Vault's token store
 * (handleCreateCommon), see docs/internals/tokens.md. */
#include "core/core.h"
#include "core/mount.h"
#include "backend/request.h"
#include "core/token.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "lib/secmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISPLAY_NAME_MAX 128 /* bytes of the client's display_name kept */
#define PATH_MAX_LEN     512
#define MSG_MAX          256
#define TOKEN_MOUNT      "auth/token/"

static struct token_store *
store(struct request *rq)
{
	return core_tokens(rq->core);
}

static bool
caller_is_root(const struct request *rq)
{
	return (rq->te && jsonx_array_has(rq->te->policies, "root")) ||
	       (rq->acl && acl_is_root(rq->acl));
}

/* Root, or sudo on the path being called (Vault's token create parameters). */
static bool
caller_is_sudo(const struct request *rq)
{
	if (caller_is_root(rq))
		return true;
	return rq->acl && (acl_capabilities(rq->acl, rq->path) & CAP_SUDO);
}

static int64_t
max_ttl(const struct request *rq)
{
	return rq->mount ? mount_max_ttl(rq->mount) : SYSTEM_DEFAULT_TTL;
}

static int64_t
default_ttl(const struct request *rq)
{
	int64_t d = rq->mount ? mount_default_ttl(rq->mount) : SYSTEM_DEFAULT_TTL;
	int64_t m = max_ttl(rq);

	return d > m ? m : d;
}

static int
errf_invalid(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

static int
bad_param(struct response *rs, const char *key)
{
	(void)response_errorf(rs, "invalid value for \"%s\"", key);
	return CF_EINVAL;
}

/* Optional parameters: absent (or null) leaves *ret untouched and returns 0; a
 * value of the wrong type is a 400 naming the key. */
static int
opt_str(struct request *rq, struct response *rs, const char *key, const char **ret)
{
	int r = jsonx_str(rq->data, key, ret);
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static int
opt_bool(struct request *rq, struct response *rs, const char *key, bool *ret)
{
	int r = jsonx_bool(rq->data, key, ret);
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static int
opt_int(struct request *rq, struct response *rs, const char *key, int64_t *ret)
{
	int r = jsonx_int(rq->data, key, ret);
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static int
opt_dur(struct request *rq, struct response *rs, const char *key, int64_t *ret)
{
	int r = jsonx_duration(rq->data, key, ret);

	if (r == 0 || r == CF_ENOTFOUND)
		return 0;
	(void)response_errorf(rs, "invalid value for \"%s\": %s", key, duration_strerror(r));
	return CF_EINVAL;
}

/* For lists and maps *ret is a new reference (replacing nothing: must be NULL). */
static int
opt_policies(struct request *rq, struct response *rs, const char *key, json_t **ret)
{
	int r = jsonx_policylist(rq->data, key, ret);
	if (r == CF_ENOMEM)
		return r;
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static int
opt_strlist(struct request *rq, struct response *rs, const char *key, json_t **ret)
{
	int r = jsonx_strlist(rq->data, key, ret);
	if (r == CF_ENOMEM)
		return r;
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static int
opt_map(struct request *rq, struct response *rs, const char *key, json_t **ret)
{
	int r = jsonx_strmap(rq->data, key, ret);
	if (r == CF_ENOMEM)
		return r;
	return r == 0 || r == CF_ENOTFOUND ? 0 : bad_param(rs, key);
}

static bool
has_param(struct request *rq, const char *key)
{
	json_t *v = json_object_get(rq->data, key);
	return v && !json_is_null(v);
}

/* "token-" + name, runs of characters outside [A-Za-z0-9-] as one '-', no
 * trailing '-' (Vault's displayNameSanitize). Empty name: "token". */
static void
display_name_make(const char *name, char *out, size_t len)
{
	size_t w, i;
	bool run = false;

	snprintf(out, len, "token");
	if (!name || !*name)
		return;
	w = strlen(out);
	out[w++] = '-';
	for (i = 0; name[i] && i < DISPLAY_NAME_MAX && w + 1 < len; i++) {
		char c = name[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		          (c >= 'A' && c <= 'Z') || c == '-';
		if (ok) {
			out[w++] = c;
			run = false;
		} else if (!run) {
			out[w++] = '-';
			run = true;
		}
	}
	while (w > 0 && out[w - 1] == '-')
		w--;
	out[w] = '\0';
}

/* '*' matches any run of characters (go-glob, as Vault's *_glob role fields). */
static bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static bool
list_matches(json_t *exact, json_t *globs, const char *p)
{
	size_t i;
	json_t *g;

	if (exact && jsonx_array_has(exact, p))
		return true;
	json_array_foreach(globs, i, g)
	{
		if (json_is_string(g) && glob_match(json_string_value(g), p))
			return true;
	}
	return false;
}

static bool
is_subset(json_t *sub, json_t *super)
{
	size_t i;
	json_t *p;

	json_array_foreach(sub, i, p)
	{
		if (!jsonx_array_has(super, json_string_value(p)))
			return false;
	}
	return true;
}

/* New normalized array: a (may be NULL) plus "default" when add_default. */
static json_t *
pol_with_default(json_t *a, bool add_default)
{
	json_t *tmp = a ? json_copy(a) : json_array(), *out;

	if (!tmp)
		return NULL;
	if (add_default && json_array_append_new(tmp, json_string("default")) != 0) {
		json_decref(tmp);
		return NULL;
	}
	out = jsonx_policies_normalize(tmp);
	json_decref(tmp);
	return out;
}

static void
pol_remove(json_t *arr, const char *name)
{
	for (size_t i = json_array_size(arr); i > 0; i--) {
		const char *s = json_string_value(json_array_get(arr, i - 1));
		if (s && strcmp(s, name) == 0)
			(void)json_array_remove(arr, i - 1);
	}
}

static json_t *
role_list(json_t *role, const char *key)
{
	json_t *v = json_object_get(role, key);
	return json_is_array(v) ? v : NULL;
}

static int64_t
role_int(json_t *role, const char *key)
{
	json_t *v = json_object_get(role, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bool
role_bool(json_t *role, const char *key, bool dflt)
{
	json_t *v = json_object_get(role, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *
role_str(json_t *role, const char *key, const char *dflt)
{
	json_t *v = json_object_get(role, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* The final policy set of a new token (Vault handleCreateCommon). Returns a new
 * array in *ret or an error with a message. */
static int
create_policies(struct request *rq, struct response *rs, json_t *role, json_t *req, bool no_default,
                bool sudo, json_t **ret)
{
	json_t *parent = rq->te->policies, *final = NULL;
	json_t *allowed = role_list(role, "allowed_policies");
	json_t *allowed_g = role_list(role, "allowed_policies_glob");
	json_t *disallowed = role_list(role, "disallowed_policies");
	json_t *disallowed_g = role_list(role, "disallowed_policies_glob");
	bool add_default = false, req_set = req && json_array_size(req) > 0;
	size_t i;
	json_t *p;
	int r = 0;

	if (role && (json_array_size(allowed) || json_array_size(allowed_g) ||
	             json_array_size(disallowed) || json_array_size(disallowed_g))) {
		/* Roles with allowed/disallowed lists decide on their own. */
		bool local_default =
		        !no_default && !(disallowed && jsonx_array_has(disallowed, "default"));
		if (req_set) {
			final = pol_with_default(req, local_default);
		} else if (json_array_size(allowed) || json_array_size(allowed_g)) {
			final = pol_with_default(allowed, local_default);
		} else {
			final = pol_with_default(parent, local_default);
		}
		if (!final)
			return CF_ENOMEM;
		if (req_set && (json_array_size(allowed) || json_array_size(allowed_g))) {
			json_array_foreach(final, i, p)
			{
				const char *s = json_string_value(p);
				if (strcmp(s, "default") == 0 && local_default)
					continue;
				if (!list_matches(allowed, allowed_g, s)) {
					(void)response_errorf(
					        rs, "token policies must be subset of the "
					            "role's allowed policies");
					r = CF_EINVAL;
					goto out;
				}
			}
		}
		json_array_foreach(final, i, p)
		{
			const char *s = json_string_value(p);
			if (json_array_size(disallowed) + json_array_size(disallowed_g) &&
			    list_matches(disallowed, disallowed_g, s)) {
				(void)response_errorf(
				        rs, "token policy \"%s\" is disallowed by this role", s);
				r = CF_EINVAL;
				goto out;
			}
		}
	} else if (!req_set) {
		/* Inherit the parent's; "default" only if the parent has it. */
		final = pol_with_default(parent, false);
	} else if (!sudo) {
		if (!is_subset(req, parent)) {
			(void)response_errorf(rs, "child policies must be subset of parent");
			return CF_EINVAL;
		}
		add_default = !no_default && jsonx_array_has(parent, "default");
		final = pol_with_default(req, add_default);
	} else {
		add_default = !no_default;
		final = pol_with_default(req, add_default);
	}
	if (!final)
		return CF_ENOMEM;
	if (no_default)
		pol_remove(final, "default");
	if (jsonx_array_has(final, "root") && !jsonx_array_has(parent, "root")) {
		(void)response_errorf(rs, "root tokens may not be created without parent token "
		                          "being root");
		r = CF_EINVAL;
		goto out;
	}
	*ret = final;
	final = NULL;
out:
	json_decref(final);
	return r;
}

/* Token type of a new token: only service tokens exist in coffer. */
static int
check_type(struct response *rs, json_t *role, const char *req_type)
{
	const char *rt = role ? role_str(role, "token_type", "default-service") : "default-service";
	const char *t = req_type && *req_type ? req_type : NULL;

	if (strcmp(rt, "service") == 0)
		t = "service";
	else if (strcmp(rt, "batch") == 0)
		t = "batch";
	else if (strcmp(rt, "default-batch") == 0 && !t)
		t = "batch";
	if (!t)
		t = "service";
	if (strcmp(t, "service") == 0)
		return 0;
	if (strcmp(t, "batch") == 0) {
		(void)response_errorf(rs, "batch tokens are not supported by coffer; use "
		                          "service tokens");
		return CF_EUNSUPPORTED;
	}
	(void)response_errorf(rs, "invalid 'token_type' value");
	return CF_EINVAL;
}

static int
create_common(struct request *rq, struct response *rs, const char *role_name, bool orphan_path)
{
	struct token_store *ts = store(rq);
	const char *id = NULL, *dn_in = NULL, *type = NULL, *rname = role_name;
	json_t *role = NULL, *req_pol = NULL, *meta = NULL, *policies = NULL;
	bool no_parent = false, no_default = false, renewable = true, orphan = orphan_path;
	bool root = caller_is_root(rq), sudo = caller_is_sudo(rq);
	int64_t ttl = 0, lease = 0, emax = 0, period = 0, num_uses = 0;
	struct token_params tp = {0};
	struct token_entry *te = NULL;
	char dn[DISPLAY_NAME_MAX + 16], path[PATH_MAX_LEN], msg[MSG_MAX];
	char *token = NULL;
	size_t i;
	json_t *p;
	int r;

	r = opt_str(rq, rs, "id", &id);
	if (r == 0)
		r = opt_str(rq, rs, "display_name", &dn_in);
	if (r == 0)
		r = opt_str(rq, rs, "type", &type);
	if (r == 0)
		r = opt_policies(rq, rs, "policies", &req_pol);
	if (r == 0)
		r = opt_map(rq, rs, "meta", &meta);
	if (r == 0)
		r = opt_bool(rq, rs, "no_parent", &no_parent);
	if (r == 0)
		r = opt_bool(rq, rs, "no_default_policy", &no_default);
	if (r == 0)
		r = opt_bool(rq, rs, "renewable", &renewable);
	if (r == 0)
		r = opt_dur(rq, rs, "ttl", &ttl);
	if (r == 0)
		r = opt_dur(rq, rs, "lease", &lease);
	if (r == 0)
		r = opt_dur(rq, rs, "explicit_max_ttl", &emax);
	if (r == 0)
		r = opt_dur(rq, rs, "period", &period);
	if (r == 0)
		r = opt_int(rq, rs, "num_uses", &num_uses);
	if (r == 0 && !rname)
		r = opt_str(rq, rs, "role_name", &rname);
	if (r < 0)
		goto out;
	if (rname && !*rname)
		rname = NULL;
	if (ttl == 0)
		ttl = lease;

	/* A use-limited token could escape its count through children. */
	if (rq->te->num_uses != 0) {
		r = errf_invalid(rs, "restricted use token cannot generate child tokens");
		goto out;
	}
	if (num_uses < 0) {
		r = errf_invalid(rs, "number of uses cannot be negative");
		goto out;
	}
	if (rname) {
		r = token_role_get(ts, rname, &role);
		if (r == CF_ENOTFOUND) {
			(void)response_errorf(rs, "unknown role %s", rname);
			r = CF_EINVAL;
		}
		if (r < 0)
			goto out;
		if (role_bool(role, "token_no_default_policy", false))
			no_default = true;
	}
	r = check_type(rs, role, type);
	if (r < 0)
		goto out;
	if (id && *id) {
		/* Vault's token create parameters: root only (Vault also lets sudo callers). */
		if (!root) {
			r = errf_invalid(rs, "root privileges required to specify token id");
			goto out;
		}
		if (strchr(id, '.')) {
			r = errf_invalid(rs, "token IDs can not contain a period");
			goto out;
		}
	} else {
		id = NULL;
	}

	r = create_policies(rq, rs, role, req_pol, no_default, sudo, &policies);
	if (r < 0)
		goto out;

	if (role) {
		if (role_bool(role, "orphan", false))
			orphan = true;
		if (!role_bool(role, "renewable", true))
			renewable = false;
	} else if (no_parent) {
		if (!sudo) {
			r = errf_invalid(rs,
			                 "root or sudo privileges required to create orphan token");
			goto out;
		}
		orphan = true;
	}

	if (period > 0 && !sudo && !role) {
		r = errf_invalid(rs, "root or sudo privileges required to create periodic token");
		goto out;
	}
	if (role) {
		int64_t re = role_int(role, "token_explicit_max_ttl");
		int64_t rp = role_int(role, "token_period");
		int64_t rn = role_int(role, "token_num_uses");
		if (re > 0) {
			if (emax > 0)
				(void)response_warnf(
				        rs,
				        "Explicit max TTL specified both during creation "
				        "call and in role; using the lesser value of %lld "
				        "seconds",
				        (long long)(re < emax ? re : emax));
			if (emax == 0 || re < emax)
				emax = re;
		}
		if (rp > 0) {
			if (period > 0)
				(void)response_warnf(
				        rs,
				        "Period specified both during creation call and "
				        "in role; using the lesser value of %lld seconds",
				        (long long)(rp < period ? rp : period));
			if (period == 0 || rp < period)
				period = rp;
		}
		if (rn > 0 && (num_uses == 0 || rn < num_uses))
			num_uses = rn;
	}

	/* TTL (Vault's token TTL and revocation rules): root-policy tokens without ttl/period never
	 * expire. */
	if (period > 0 || ttl > 0 || !jsonx_array_has(policies, "root")) {
		int64_t now = util_now();
		r = token_calculate_ttl(now, now, 0, ttl, period, max_ttl(rq), emax,
		                        default_ttl(rq), &ttl, msg, sizeof(msg));
		if (r < 0) {
			r = errf_invalid(rs, msg);
			goto out;
		}
		if (msg[0])
			(void)response_warnf(rs, "%s", msg);
	}
	if (ttl == 0 && emax > 0)
		ttl = emax;
	if (ttl == 0) {
		if (rq->te->expire_time != 0) {
			r = errf_invalid(rs, "expiring root tokens cannot create non-expiring root "
			                     "tokens");
			goto out;
		}
		renewable = false;
	}

	display_name_make(dn_in, dn, sizeof(dn));
	if (role) {
		const char *suffix = role_str(role, "path_suffix", "");
		int n = *suffix ? snprintf(path, sizeof(path), TOKEN_MOUNT "create/%s/%s", rname,
		                           suffix)
		                : snprintf(path, sizeof(path), TOKEN_MOUNT "create/%s", rname);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			r = errf_invalid(rs, "role name too long");
			goto out;
		}
	} else {
		snprintf(path, sizeof(path), TOKEN_MOUNT "%s",
		         orphan_path ? "create-orphan" : "create");
	}

	tp.id = id;
	tp.policies = policies;
	tp.meta = meta;
	tp.display_name = dn;
	tp.path = path;
	tp.role = role ? rname : NULL;
	tp.parent_hash = orphan ? NULL : rq->te->hash;
	tp.ttl = ttl;
	tp.explicit_max_ttl = emax;
	tp.period = period;
	tp.num_uses = num_uses;
	tp.renewable = renewable;
	tp.no_default_policy = no_default;
	tp.mount_accessor = rq->mount ? rq->mount->accessor : NULL;
	if (role)
		tp.bound_cidrs = json_object_get(role, "token_bound_cidrs");
	r = token_create(ts, &tp, &token, &te);
	if (r == CF_EEXIST) {
		r = errf_invalid(rs, "cannot create a token with a duplicate ID");
		goto out;
	}
	if (r == CF_EDENIED) {
		(void)response_errorf(rs, "parent token lookup failed: no parent found");
		r = CF_EINVAL;
		goto out;
	}
	if (r < 0)
		goto out;
	rs->auth = token_auth_json(te, token);
	if (!rs->auth) {
		r = CF_ENOMEM;
		goto out;
	}
	json_array_foreach(policies, i, p)
	{
		const char *s = json_string_value(p);
		if (!core_policy_exists(rq->core, s))
			(void)response_warnf(rs, "Policy \"%s\" does not exist", s);
	}
	log_verbose("token created: accessor %s, path %s", te->accessor, path);
	r = 0;
out:
	secmem_free_str(token);
	token_entry_free(te);
	json_decref(role);
	json_decref(req_pol);
	json_decref(meta);
	json_decref(policies);
	return r;
}

static int
h_create(struct request *rq, struct response *rs)
{
	return create_common(rq, rs, NULL, false);
}

static int
h_create_orphan(struct request *rq, struct response *rs)
{
	return create_common(rq, rs, NULL, true);
}

static int
h_create_role(struct request *rq, struct response *rs)
{
	return create_common(rq, rs, rq->cap[0], false);
}

/* ---- lookup ---- */

static int
info_response(struct response *rs, const struct token_entry *te, const char *id)
{
	json_t *d = token_info_json(te, id);

	if (!d)
		return CF_ENOMEM;
	response_set_data(rs, d);
	return 0;
}

static int
bad_token(struct response *rs)
{
	(void)response_errorf(rs, "bad token");
	return CF_EDENIED;
}

static int
h_lookup_self(struct request *rq, struct response *rs)
{
	return info_response(rs, rq->te, rq->client_token);
}

static int
h_lookup(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	const char *tok = NULL;
	int r = opt_str(rq, rs, "token", &tok);

	if (r < 0)
		return r;
	if (!tok || !*tok)
		return h_lookup_self(rq, rs);
	r = token_lookup(store(rq), tok, &te);
	if (r == CF_EDENIED)
		return bad_token(rs);
	if (r < 0)
		return r;
	r = info_response(rs, te, tok);
	token_entry_free(te);
	return r;
}

static int
need_accessor(struct request *rq, struct response *rs, const char **ret)
{
	const char *acc = NULL;
	int r = opt_str(rq, rs, "accessor", &acc);

	if (r < 0)
		return r;
	if (!acc || !*acc)
		return errf_invalid(rs, "missing accessor");
	*ret = acc;
	return 0;
}

static int
need_token(struct request *rq, struct response *rs, const char **ret)
{
	const char *tok = NULL;
	int r = opt_str(rq, rs, "token", &tok);

	if (r < 0)
		return r;
	if (!tok || !*tok)
		return errf_invalid(rs, "missing token ID");
	*ret = tok;
	return 0;
}

static int
h_lookup_accessor(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	const char *acc;
	int r = need_accessor(rq, rs, &acc);

	if (r < 0)
		return r;
	r = token_lookup_accessor(store(rq), acc, &te);
	if (r == CF_ENOTFOUND)
		return errf_invalid(rs, "invalid accessor");
	if (r < 0)
		return r;
	r = info_response(rs, te, "");
	token_entry_free(te);
	return r;
}

/* ---- renew ---- */

/* Renews te (updated in place) and answers the auth block with client_token. */
static int
renew_common(struct request *rq, struct response *rs, struct token_entry *te,
             const char *client_token)
{
	char msg[MSG_MAX];
	int64_t inc = 0;
	int r = opt_dur(rq, rs, "increment", &inc);

	if (r < 0)
		return r;
	r = token_renew_msg(store(rq), te, inc, max_ttl(rq), msg, sizeof(msg));
	if (r == CF_EINVAL)
		return errf_invalid(rs, msg[0] ? msg : "token is not renewable");
	if (r == CF_EDENIED)
		return bad_token(rs);
	if (r < 0)
		return r;
	if (msg[0])
		(void)response_warnf(rs, "%s", msg);
	rs->auth = token_auth_json(te, client_token);
	return rs->auth ? 0 : CF_ENOMEM;
}

static int
h_renew_self(struct request *rq, struct response *rs)
{
	struct token_entry *te = token_entry_dup(rq->te);
	int r;

	if (!te)
		return CF_ENOMEM;
	r = renew_common(rq, rs, te, rq->client_token);
	token_entry_free(te);
	return r;
}

static int
h_renew(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	const char *tok;
	int r = need_token(rq, rs, &tok);

	if (r < 0)
		return r;
	r = token_lookup(store(rq), tok, &te);
	if (r == CF_EDENIED)
		return bad_token(rs);
	if (r < 0)
		return r;
	r = renew_common(rq, rs, te, tok);
	token_entry_free(te);
	return r;
}

static int
h_renew_accessor(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	const char *acc;
	int r = need_accessor(rq, rs, &acc);

	if (r < 0)
		return r;
	r = token_lookup_accessor(store(rq), acc, &te);
	if (r == CF_ENOTFOUND)
		return errf_invalid(rs, "invalid accessor");
	if (r < 0)
		return r;
	r = renew_common(rq, rs, te, "");
	token_entry_free(te);
	return r;
}

/* ---- revoke (unknown tokens: 204, Vault's token endpoints) ---- */

static int
h_revoke(struct request *rq, struct response *rs)
{
	char hash[65];
	const char *tok;
	int r = need_token(rq, rs, &tok);

	if (r < 0)
		return r;
	token_hash(tok, hash);
	return token_revoke_tree(store(rq), hash);
}

static int
h_revoke_self(struct request *rq, struct response *rs)
{
	return token_revoke_tree(store(rq), rq->te->hash);
}

static int
h_revoke_accessor(struct request *rq, struct response *rs)
{
	const char *acc;
	int r = need_accessor(rq, rs, &acc);

	if (r < 0)
		return r;
	return token_revoke_accessor(store(rq), acc);
}

static int
h_revoke_orphan(struct request *rq, struct response *rs)
{
	char hash[65];
	const char *tok;
	int r = need_token(rq, rs, &tok);

	if (r < 0)
		return r;
	token_hash(tok, hash);
	return token_revoke_orphan(store(rq), hash);
}

/* ---- lists ---- */

static int
h_accessors(struct request *rq, struct response *rs)
{
	json_t *keys = NULL;
	int r = token_list_accessors(store(rq), &keys);

	if (r < 0)
		return r;
	return response_keys(rs, keys);
}

static int
h_roles_list(struct request *rq, struct response *rs)
{
	json_t *keys = NULL;
	int r = token_role_list(store(rq), &keys);

	if (r < 0)
		return r;
	return response_keys(rs, keys);
}

/* ---- roles (Vault's token roles) ---- */

static int
role_exists(struct request *rq, bool *ret_exists)
{
	json_t *role = NULL;
	int r = token_role_get(store(rq), rq->cap[0], &role);

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

static json_t *
role_out(json_t *role)
{
	json_t *o = json_deep_copy(role);
	int r = o ? 0 : CF_ENOMEM;

	/* Legacy names mirrored, as Vault reads them back. */
	if (r == 0)
		r = json_object_set_new(o, "explicit_max_ttl",
		                        json_integer(role_int(role, "token_explicit_max_ttl")));
	if (r == 0)
		r = json_object_set_new(o, "period", json_integer(role_int(role, "token_period")));
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
h_role_read(struct request *rq, struct response *rs)
{
	json_t *role = NULL, *d;
	int r = token_role_get(store(rq), rq->cap[0], &role);

	if (r < 0)
		return r;
	d = role_out(role);
	json_decref(role);
	if (!d)
		return CF_ENOMEM;
	response_set_data(rs, d);
	return 0;
}

static int
h_role_delete(struct request *rq, struct response *rs)
{
	return token_role_delete(store(rq), rq->cap[0]);
}

static bool
path_suffix_ok(const char *s)
{
	if (strstr(s, ".."))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static json_t *
role_defaults(const char *name)
{
	return json_pack("{s:s, s:[], s:[], s:[], s:[], s:b, s:b, s:s, s:[], s:[], s:I, s:b, s:I, "
	                 "s:I, s:s}",
	                 "name", name, "allowed_policies", "disallowed_policies",
	                 "allowed_policies_glob", "disallowed_policies_glob", "orphan", 0,
	                 "renewable", 1, "path_suffix", "", "allowed_entity_aliases",
	                 "token_bound_cidrs", "token_explicit_max_ttl", (json_int_t)0,
	                 "token_no_default_policy", 0, "token_num_uses", (json_int_t)0,
	                 "token_period", (json_int_t)0, "token_type", "default-service");
}

/* Sets key in role from a list parameter (new name, else legacy alias). */
static int
role_set_list(struct request *rq, struct response *rs, json_t *role, const char *key,
              const char *alias, bool policies)
{
	const char *k = has_param(rq, key) ? key : alias && has_param(rq, alias) ? alias : NULL;
	json_t *v = NULL;
	int r;

	if (!k)
		return 0;
	r = policies ? opt_policies(rq, rs, k, &v) : opt_strlist(rq, rs, k, &v);
	if (r < 0)
		return r;
	if (!v)
		return 0;
	return json_object_set_new(role, key, v) == 0 ? 0 : CF_ENOMEM;
}

static int
role_set_dur(struct request *rq, struct response *rs, json_t *role, const char *key,
             const char *alias)
{
	const char *k = has_param(rq, key) ? key : alias && has_param(rq, alias) ? alias : NULL;
	int64_t v = 0;
	int r;

	if (!k)
		return 0;
	r = opt_dur(rq, rs, k, &v);
	if (r < 0)
		return r;
	return json_object_set_new(role, key, json_integer(v)) == 0 ? 0 : CF_ENOMEM;
}

static int
role_set_bool(struct request *rq, struct response *rs, json_t *role, const char *key)
{
	bool v = false;
	int r;

	if (!has_param(rq, key))
		return 0;
	r = opt_bool(rq, rs, key, &v);
	if (r < 0)
		return r;
	return json_object_set_new(role, key, json_boolean(v)) == 0 ? 0 : CF_ENOMEM;
}

static int
h_role_write(struct request *rq, struct response *rs)
{
	struct token_store *ts = store(rq);
	const char *name = rq->cap[0], *s = NULL;
	json_t *role = NULL;
	int64_t n = 0;
	int r;

	r = token_role_get(ts, name, &role);
	if (r == CF_ENOTFOUND)
		role = role_defaults(name);
	else if (r < 0)
		return r;
	if (!role)
		return CF_ENOMEM;

	r = role_set_list(rq, rs, role, "allowed_policies", NULL, true);
	if (r == 0)
		r = role_set_list(rq, rs, role, "disallowed_policies", NULL, true);
	if (r == 0)
		r = role_set_list(rq, rs, role, "allowed_policies_glob", NULL, true);
	if (r == 0)
		r = role_set_list(rq, rs, role, "disallowed_policies_glob", NULL, true);
	if (r == 0)
		r = role_set_list(rq, rs, role, "allowed_entity_aliases", NULL, false);
	if (r == 0)
		r = role_set_list(rq, rs, role, "token_bound_cidrs", "bound_cidrs", false);
	if (r == 0)
		r = role_set_bool(rq, rs, role, "orphan");
	if (r == 0)
		r = role_set_bool(rq, rs, role, "renewable");
	if (r == 0)
		r = role_set_bool(rq, rs, role, "token_no_default_policy");
	if (r == 0)
		r = role_set_dur(rq, rs, role, "token_explicit_max_ttl", "explicit_max_ttl");
	if (r == 0)
		r = role_set_dur(rq, rs, role, "token_period", "period");
	if (r < 0)
		goto out;
	if (has_param(rq, "token_num_uses")) {
		r = opt_int(rq, rs, "token_num_uses", &n);
		if (r < 0)
			goto out;
		if (n < 0) {
			r = errf_invalid(rs, "token_num_uses cannot be negative");
			goto out;
		}
		if (json_object_set_new(role, "token_num_uses", json_integer(n)) != 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	if (has_param(rq, "path_suffix")) {
		r = opt_str(rq, rs, "path_suffix", &s);
		if (r < 0)
			goto out;
		if (!path_suffix_ok(s)) {
			r = errf_invalid(rs, "given role path suffix contains invalid characters");
			goto out;
		}
		if (json_object_set_new(role, "path_suffix", json_string(s)) != 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	if (has_param(rq, "token_type")) {
		r = opt_str(rq, rs, "token_type", &s);
		if (r < 0)
			goto out;
		if (strcmp(s, "default") == 0)
			s = "default-service";
		if (strcmp(s, "batch") == 0 || strcmp(s, "default-batch") == 0) {
			(void)response_errorf(rs, "batch tokens are not supported by coffer");
			r = CF_EUNSUPPORTED;
			goto out;
		}
		if (strcmp(s, "service") != 0 && strcmp(s, "default-service") != 0) {
			(void)response_errorf(rs, "invalid 'token_type' value \"%s\"", s);
			r = CF_EINVAL;
			goto out;
		}
		if (json_object_set_new(role, "token_type", json_string(s)) != 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	/* Bound CIDRs: the core checks the client address on every request. */
	{
		const char *bad_cidr = NULL;
		json_t *cidrs = json_object_get(role, "token_bound_cidrs");
		if (json_is_array(cidrs) && cidr_list_validate(cidrs, &bad_cidr) < 0) {
			(void)response_errorf(rs, "invalid CIDR block in token_bound_cidrs: %s",
			                      bad_cidr);
			r = CF_EINVAL;
			goto out;
		}
	}
	if (role_int(role, "token_explicit_max_ttl") > max_ttl(rq))
		(void)response_warnf(
		        rs,
		        "Given explicit max TTL of %lld is greater than system/mount "
		        "allowed value of %lld seconds; until this is fixed attempting "
		        "to create tokens against this role will result in an error",
		        (long long)role_int(role, "token_explicit_max_ttl"),
		        (long long)max_ttl(rq));
	r = token_role_put(ts, name, role);
	if (r == CF_EINVAL)
		r = errf_invalid(rs, "invalid role name");
out:
	json_decref(role);
	return r;
}

/* ---- tidy ---- */

static int
h_tidy(struct request *rq, struct response *rs)
{
	int n = 0, r = token_tidy(store(rq), &n);

	if (r < 0) {
		log_error_r(r, "token tidy failed");
		return r;
	}
	log_info("token tidy: %d tokens revoked", n);
	(void)response_warnf(rs, "Tidy operation successfully started. Any information from the "
	                         "operation will be printed to coffer's server logs.");
	return 0;
}

static const struct route token_routes[] = {
        {"create", .write = h_create},
        {"create-orphan", .write = h_create_orphan},
        {"create/+", .write = h_create_role},
        {"lookup", .read = h_lookup, .write = h_lookup},
        {"lookup-self", .read = h_lookup_self, .write = h_lookup_self},
        {"lookup-accessor", .write = h_lookup_accessor},
        {"renew", .write = h_renew},
        {"renew-self", .write = h_renew_self},
        {"renew-accessor", .write = h_renew_accessor},
        {"revoke", .write = h_revoke},
        {"revoke-self", .write = h_revoke_self},
        {"revoke-accessor", .write = h_revoke_accessor},
        {"revoke-orphan", .flags = R_SUDO, .write = h_revoke_orphan},
        {"accessors", .flags = R_SUDO, .list = h_accessors},
        {"accessors/", .flags = R_SUDO, .list = h_accessors},
        {"roles", .list = h_roles_list},
        {"roles/", .list = h_roles_list},
        {"roles/+", .read = h_role_read, .write = h_role_write, .delete = h_role_delete,
         .exists = role_exists},
        {"tidy", .write = h_tidy},
};

const struct backend_type token_backend = {
        .type = "token",
        .routes = token_routes,
        .nroutes = sizeof(token_routes) / sizeof(token_routes[0]),
};
