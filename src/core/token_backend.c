/* token_backend.c - the token auth method, mounted at auth/token/ (Vault's token auth API).
 *
 * Handlers only: the store (hashing, tree, expiry, TTL arithmetic) is token.c.
 * Policy and parent rules of token creation follow Vault's token store
 * (handleCreateCommon), see docs/internals/tokens.md. */
#include "core/core.h"
#include "core/core_int.h"
#include "backend/field.h"
#include "backend/request.h"
#include "core/token.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/glob.h"
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
	return rq->mount ? mount_max_ttl(rq->mount) : system_max_ttl();
}

static int64_t
default_ttl(const struct request *rq)
{
	int64_t d = rq->mount ? mount_default_ttl(rq->mount) : system_default_ttl();
	int64_t m = max_ttl(rq);

	return d > m ? m : d;
}

static int
errf_invalid(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
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

/* The parameters of token creation (Vault's token create API). */
struct create_params {
	const char *id, *role_name, *display_name, *type;
	json_t *policies, *meta;
	bool no_parent, no_default_policy, renewable;
	int64_t ttl, lease, explicit_max_ttl, period, num_uses;
};

#define CP(m) offsetof(struct create_params, m)
static const struct field create_fields[] = {
        {"id", FIELD_STRING, FIELD_SECRET, CP(id),
         .desc = "the token's ID (root only); generated when absent"},
        {"role_name", FIELD_STRING, 0, CP(role_name), .desc = "create against this token role"},
        {"policies", FIELD_POLICIES, 0, CP(policies),
         .desc = "the token's policies; default: the parent's"},
        {"meta", FIELD_STRMAP, 0, CP(meta),
         .desc = "metadata kept with the token, shown in the audit log"},
        {"no_parent", FIELD_BOOL, 0, CP(no_parent), .desc = "an orphan token (root or sudo)"},
        {"no_default_policy", FIELD_BOOL, 0, CP(no_default_policy),
         .desc = "leave out the default policy"},
        {"renewable", FIELD_BOOL, 0, CP(renewable), .def = "true",
         .desc = "whether the token may be renewed"},
        {"ttl", FIELD_DURATION, 0, CP(ttl), .desc = "the initial TTL; default: the mount's"},
        {"lease", FIELD_DURATION, FIELD_DEPRECATED, CP(lease), .desc = "older name of ttl"},
        {"explicit_max_ttl", FIELD_DURATION, 0, CP(explicit_max_ttl),
         .desc = "a hard limit on the token's life, through renewals"},
        {"display_name", FIELD_STRING, 0, CP(display_name),
         .desc = "a name for the token, kept in its metadata"},
        {"num_uses", FIELD_INT, 0, CP(num_uses),
         .desc = "the number of requests it may make; 0: unlimited"},
        {"period", FIELD_DURATION, 0, CP(period), .desc = "a periodic token (root or sudo)"},
        {"type", FIELD_STRING, 0, CP(type), .desc = "only \"service\""},
        {NULL},
};
#undef CP

/* A token creation under way: the request's parameters and what they resolve to. */
struct create {
	struct create_params p;
	const char *rname; /* role name or NULL */
	json_t *role;      /* the role's record or NULL */
	json_t *policies;  /* the final policy set */
	bool orphan, sudo;
};

/* The checks that need no policy arithmetic; loads the role. */
static int
create_check(struct request *rq, struct response *rs, struct create *c)
{
	int r;

	/* A use-limited token could escape its count through children. */
	if (rq->te->num_uses != 0)
		return errf_invalid(rs, "restricted use token cannot generate child tokens");
	if (c->p.num_uses < 0)
		return errf_invalid(rs, "number of uses cannot be negative");
	if (c->rname) {
		r = token_role_get(store(rq), c->rname, &c->role);
		if (r == CF_ENOTFOUND) {
			(void)response_errorf(rs, "unknown role %s", c->rname);
			return CF_EINVAL;
		}
		if (r < 0)
			return r;
		if (role_bool(c->role, "token_no_default_policy", false))
			c->p.no_default_policy = true;
	}
	r = check_type(rs, c->role, c->p.type);
	if (r < 0)
		return r;
	if (c->p.id && *c->p.id) {
		/* Vault's token create parameters: root only (Vault also lets sudo callers). */
		if (!caller_is_root(rq))
			return errf_invalid(rs, "root privileges required to specify token id");
		if (strchr(c->p.id, '.'))
			return errf_invalid(rs, "token IDs can not contain a period");
	} else {
		c->p.id = NULL;
	}
	return 0;
}

/* Orphan and renewable from the role or the request; the role's explicit max
 * TTL, period and use count bound the request's (the lesser wins). */
static int
create_limits(struct response *rs, struct create *c)
{
	struct create_params *p = &c->p;
	int64_t re, rp, rn;

	if (c->role) {
		if (role_bool(c->role, "orphan", false))
			c->orphan = true;
		if (!role_bool(c->role, "renewable", true))
			p->renewable = false;
	} else if (p->no_parent) {
		if (!c->sudo)
			return errf_invalid(rs, "root or sudo privileges required to create orphan "
			                        "token");
		c->orphan = true;
	}
	if (p->period > 0 && !c->sudo && !c->role)
		return errf_invalid(rs,
		                    "root or sudo privileges required to create periodic token");
	if (!c->role)
		return 0;
	re = role_int(c->role, "token_explicit_max_ttl");
	rp = role_int(c->role, "token_period");
	rn = role_int(c->role, "token_num_uses");
	if (re > 0) {
		if (p->explicit_max_ttl > 0)
			(void)response_warnf(
			        rs,
			        "Explicit max TTL specified both during creation "
			        "call and in role; using the lesser value of %lld "
			        "seconds",
			        (long long)(re < p->explicit_max_ttl ? re : p->explicit_max_ttl));
		if (p->explicit_max_ttl == 0 || re < p->explicit_max_ttl)
			p->explicit_max_ttl = re;
	}
	if (rp > 0) {
		if (p->period > 0)
			(void)response_warnf(rs,
			                     "Period specified both during creation call and "
			                     "in role; using the lesser value of %lld seconds",
			                     (long long)(rp < p->period ? rp : p->period));
		if (p->period == 0 || rp < p->period)
			p->period = rp;
	}
	if (rn > 0 && (p->num_uses == 0 || rn < p->num_uses))
		p->num_uses = rn;
	return 0;
}

/* TTL (Vault's token TTL and revocation rules): root-policy tokens without
 * ttl/period never expire. */
static int
create_ttl(struct request *rq, struct response *rs, struct create *c)
{
	struct create_params *p = &c->p;
	char msg[MSG_MAX];
	int r;

	if (p->period > 0 || p->ttl > 0 || !jsonx_array_has(c->policies, "root")) {
		int64_t now = util_now();
		r = token_calculate_ttl(now, now, 0, p->ttl, p->period, max_ttl(rq),
		                        p->explicit_max_ttl, default_ttl(rq), &p->ttl, msg,
		                        sizeof(msg));
		if (r < 0)
			return errf_invalid(rs, msg);
		if (msg[0])
			(void)response_warnf(rs, "%s", msg);
	}
	if (p->ttl == 0 && p->explicit_max_ttl > 0)
		p->ttl = p->explicit_max_ttl;
	if (p->ttl == 0) {
		if (rq->te->expire_time != 0)
			return errf_invalid(rs,
			                    "expiring root tokens cannot create non-expiring root "
			                    "tokens");
		p->renewable = false;
	}
	return 0;
}

/* The path the token is created on, as token lookups show it. */
static int
create_path(struct response *rs, const struct create *c, bool orphan_path, char *path, size_t len)
{
	const char *suffix;
	int n;

	if (!c->role) {
		snprintf(path, len, TOKEN_MOUNT "%s", orphan_path ? "create-orphan" : "create");
		return 0;
	}
	suffix = role_str(c->role, "path_suffix", "");
	n = *suffix ? snprintf(path, len, TOKEN_MOUNT "create/%s/%s", c->rname, suffix)
	            : snprintf(path, len, TOKEN_MOUNT "create/%s", c->rname);
	if (n < 0 || (size_t)n >= len)
		return errf_invalid(rs, "role name too long");
	return 0;
}

/* Mints the token c describes and answers its auth block. */
static int
create_mint(struct request *rq, struct response *rs, struct create *c, const char *path)
{
	struct token_params tp = {0};
	struct token_entry *te = NULL;
	char dn[DISPLAY_NAME_MAX + 16];
	char *token = NULL;
	size_t i;
	json_t *p;
	int r;

	display_name_make(c->p.display_name, dn, sizeof(dn));
	tp.id = c->p.id;
	tp.policies = c->policies;
	tp.meta = c->p.meta;
	tp.display_name = dn;
	tp.path = path;
	tp.role = c->role ? c->rname : NULL;
	tp.parent_hash = c->orphan ? NULL : rq->te->hash;
	tp.ttl = c->p.ttl;
	tp.explicit_max_ttl = c->p.explicit_max_ttl;
	tp.period = c->p.period;
	tp.num_uses = c->p.num_uses;
	tp.renewable = c->p.renewable;
	tp.no_default_policy = c->p.no_default_policy;
	tp.mount_accessor = rq->mount ? rq->mount->accessor : NULL;
	if (c->role)
		tp.bound_cidrs = json_object_get(c->role, "token_bound_cidrs");
	r = token_create(store(rq), &tp, &token, &te);
	if (r == CF_EEXIST)
		return errf_invalid(rs, "cannot create a token with a duplicate ID");
	if (r == CF_EDENIED) {
		(void)response_errorf(rs, "parent token lookup failed: no parent found");
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	rs->auth = token_auth_json(te, token);
	secmem_free_str(token);
	if (!rs->auth) {
		token_entry_free(te);
		return CF_ENOMEM;
	}
	json_array_foreach(c->policies, i, p)
	{
		const char *s = json_string_value(p);
		if (!core_policy_exists(rq->core, s))
			(void)response_warnf(rs, "Policy \"%s\" does not exist", s);
	}
	log_verbose("token created: accessor %s, path %s", te->accessor, path);
	token_entry_free(te);
	return 0;
}

static int
create_common(struct request *rq, struct response *rs, const char *role_name, bool orphan_path)
{
	struct create c = {.orphan = orphan_path, .sudo = caller_is_sudo(rq)};
	char path[PATH_MAX_LEN];
	int r;

	r = field_parse(create_fields, rq->data, &c.p, rs);
	if (r < 0)
		goto out;
	c.rname = role_name ? role_name : c.p.role_name;
	if (c.rname && !*c.rname)
		c.rname = NULL;
	if (c.p.ttl == 0)
		c.p.ttl = c.p.lease;
	r = create_check(rq, rs, &c);
	if (r == 0)
		r = create_policies(rq, rs, c.role, c.p.policies, c.p.no_default_policy, c.sudo,
		                    &c.policies);
	if (r == 0)
		r = create_limits(rs, &c);
	if (r == 0)
		r = create_ttl(rq, rs, &c);
	if (r == 0)
		r = create_path(rs, &c, orphan_path, path, sizeof(path));
	if (r == 0)
		r = create_mint(rq, rs, &c, path);
out:
	field_free(create_fields, &c.p);
	json_decref(c.role);
	json_decref(c.policies);
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

/* The parameters of the lookup, renew and revoke routes (Vault's token API). */
struct token_args {
	const char *token, *accessor;
	int64_t increment;
};

#define TA(m) offsetof(struct token_args, m)
#define TOKEN_OPTIONAL                                                                             \
	{                                                                                          \
		"token", FIELD_STRING, FIELD_SECRET, TA(token), .desc = "default: the caller's"    \
	}
#define TOKEN_REQUIRED                                                                             \
	{                                                                                          \
		"token", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET, TA(token),                   \
		        .missing = "missing token ID", .desc = "the token"                         \
	}
#define ACCESSOR_REQUIRED                                                                          \
	{                                                                                          \
		"accessor", FIELD_STRING, FIELD_REQUIRED, TA(accessor),                            \
		        .missing = "missing accessor", .desc = "the token's accessor"              \
	}
#define INCREMENT                                                                                  \
	{                                                                                          \
		"increment", FIELD_DURATION, 0, TA(increment),                                     \
		        .desc = "the TTL asked for, from now"                                      \
	}
static const struct field lookup_fields[] = {TOKEN_OPTIONAL, {NULL}};
static const struct field token_fields[] = {TOKEN_REQUIRED, {NULL}};
static const struct field accessor_fields[] = {ACCESSOR_REQUIRED, {NULL}};
static const struct field renew_fields[] = {TOKEN_REQUIRED, INCREMENT, {NULL}};
static const struct field renew_self_fields[] = {INCREMENT, {NULL}};
static const struct field renew_accessor_fields[] = {ACCESSOR_REQUIRED, INCREMENT, {NULL}};
#undef TA

static int
h_lookup(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	struct token_args a = {0};
	int r = field_parse(lookup_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	if (!a.token || !*a.token)
		return h_lookup_self(rq, rs);
	r = token_lookup(store(rq), a.token, &te);
	if (r == CF_EDENIED)
		return bad_token(rs);
	if (r < 0)
		return r;
	r = info_response(rs, te, a.token);
	token_entry_free(te);
	return r;
}

static int
h_lookup_accessor(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	struct token_args a = {0};
	int r = field_parse(accessor_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	r = token_lookup_accessor(store(rq), a.accessor, &te);
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
             const char *client_token, int64_t inc)
{
	char msg[MSG_MAX];
	int r = token_renew_msg(store(rq), te, inc, max_ttl(rq), msg, sizeof(msg));

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
	struct token_args a = {0};
	struct token_entry *te;
	int r = field_parse(renew_self_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	te = token_entry_dup(rq->te);
	if (!te)
		return CF_ENOMEM;
	r = renew_common(rq, rs, te, rq->client_token, a.increment);
	token_entry_free(te);
	return r;
}

static int
h_renew(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	struct token_args a = {0};
	int r = field_parse(renew_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	r = token_lookup(store(rq), a.token, &te);
	if (r == CF_EDENIED)
		return bad_token(rs);
	if (r < 0)
		return r;
	r = renew_common(rq, rs, te, a.token, a.increment);
	token_entry_free(te);
	return r;
}

static int
h_renew_accessor(struct request *rq, struct response *rs)
{
	struct token_entry *te = NULL;
	struct token_args a = {0};
	int r = field_parse(renew_accessor_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	r = token_lookup_accessor(store(rq), a.accessor, &te);
	if (r == CF_ENOTFOUND)
		return errf_invalid(rs, "invalid accessor");
	if (r < 0)
		return r;
	r = renew_common(rq, rs, te, "", a.increment);
	token_entry_free(te);
	return r;
}

/* ---- revoke (unknown tokens: 204, Vault's token endpoints) ---- */

static int
h_revoke(struct request *rq, struct response *rs)
{
	struct token_args a = {0};
	char hash[65];
	int r = field_parse(token_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	token_hash(a.token, hash);
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
	struct token_args a = {0};
	int r = field_parse(accessor_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	return token_revoke_accessor(store(rq), a.accessor);
}

static int
h_revoke_orphan(struct request *rq, struct response *rs)
{
	struct token_args a = {0};
	char hash[65];
	int r = field_parse(token_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	token_hash(a.token, hash);
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

/* The parameters of a token role, stored as given (Vault's token roles); the
 * defaults are what a new role holds. */
static const struct field role_fields[] = {
        {"allowed_policies", FIELD_POLICIES, .def = "",
         .desc = "policies a token of the role may have; none: the parent's"},
        {"disallowed_policies", FIELD_POLICIES, .def = "",
         .desc = "policies a token of the role may not have"},
        {"allowed_policies_glob", FIELD_POLICIES, .def = "",
         .desc = "as allowed_policies, as glob patterns"},
        {"disallowed_policies_glob", FIELD_POLICIES, .def = "",
         .desc = "as disallowed_policies, as glob patterns"},
        {"orphan", FIELD_BOOL, .def = "false", .desc = "its tokens have no parent"},
        {"renewable", FIELD_BOOL, .def = "true", .desc = "its tokens may be renewed"},
        {"path_suffix", FIELD_STRING, .def = "",
         .desc = "appended to the tokens' path (letters, digits, '-', '_', '.')"},
        {"allowed_entity_aliases", FIELD_STRLIST, .def = "",
         .desc = "accepted for Vault's clients; there are no entities"},
        {"token_bound_cidrs", FIELD_CIDRS, .def = "", .alias = "bound_cidrs",
         .desc = "client addresses its tokens may be used from"},
        {"token_explicit_max_ttl", FIELD_DURATION, .def = "0", .alias = "explicit_max_ttl",
         .desc = "a hard limit on its tokens' life"},
        {"token_no_default_policy", FIELD_BOOL, .def = "false",
         .desc = "leave the default policy out of its tokens"},
        {"token_num_uses", FIELD_INT, FIELD_RANGE, .def = "0", .min = 0, .max = INT64_MAX,
         .desc = "requests each token may make; 0: unlimited"},
        {"token_period", FIELD_DURATION, .def = "0", .alias = "period",
         .desc = "its tokens are periodic with this period"},
        {"token_type", FIELD_STRING, .def = "default-service",
         .desc = "\"service\" or \"default-service\""},
        {NULL},
};

/* The checks of a role's values that their types do not make. */
static int
role_check(struct request *rq, struct response *rs, json_t *role)
{
	const char *s;

	if (field_given(role_fields, rq->data, "path_suffix") &&
	    !path_suffix_ok(role_str(role, "path_suffix", "")))
		return errf_invalid(rs, "given role path suffix contains invalid characters");
	if (!field_given(role_fields, rq->data, "token_type"))
		return 0;
	s = role_str(role, "token_type", "");
	if (strcmp(s, "default") == 0)
		s = "default-service";
	if (strcmp(s, "batch") == 0 || strcmp(s, "default-batch") == 0) {
		(void)response_errorf(rs, "batch tokens are not supported by coffer");
		return CF_EUNSUPPORTED;
	}
	if (strcmp(s, "service") != 0 && strcmp(s, "default-service") != 0) {
		(void)response_errorf(rs, "invalid 'token_type' value \"%s\"", s);
		return CF_EINVAL;
	}
	return json_object_set_new(role, "token_type", json_string(s)) == 0 ? 0 : CF_ENOMEM;
}

static int
h_role_write(struct request *rq, struct response *rs)
{
	struct token_store *ts = store(rq);
	const char *name = rq->cap[0];
	json_t *role = NULL;
	int r;

	r = token_role_get(ts, name, &role);
	if (r == CF_ENOTFOUND) {
		role = json_pack("{s:s}", "name", name);
		r = role ? field_defaults(role_fields, role) : CF_ENOMEM;
	}
	if (r == 0)
		r = field_merge(role_fields, rq->data, role, rs);
	if (r == 0)
		r = role_check(rq, rs, role);
	if (r < 0)
		goto out;
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
        {"create", .write = h_create, .fields = create_fields},
        {"create-orphan", .write = h_create_orphan, .fields = create_fields},
        {"create/+", .write = h_create_role, .fields = create_fields},
        {"lookup", .read = h_lookup, .write = h_lookup, .fields = lookup_fields},
        {"lookup-self", .read = h_lookup_self, .write = h_lookup_self},
        {"lookup-accessor", .write = h_lookup_accessor, .fields = accessor_fields},
        {"renew", .write = h_renew, .fields = renew_fields},
        {"renew-self", .write = h_renew_self, .fields = renew_self_fields},
        {"renew-accessor", .write = h_renew_accessor, .fields = renew_accessor_fields},
        {"revoke", .write = h_revoke, .fields = token_fields},
        {"revoke-self", .write = h_revoke_self},
        {"revoke-accessor", .write = h_revoke_accessor, .fields = accessor_fields},
        {"revoke-orphan", .flags = R_SUDO, .write = h_revoke_orphan, .fields = token_fields},
        {"accessors", .flags = R_SUDO, .list = h_accessors},
        {"accessors/", .flags = R_SUDO, .list = h_accessors},
        {"roles", .list = h_roles_list},
        {"roles/", .list = h_roles_list},
        {"roles/+", .read = h_role_read, .write = h_role_write, .delete = h_role_delete,
         .exists = role_exists, .fields = role_fields},
        {"tidy", .write = h_tidy},
};

const struct backend_type token_backend = {
        .type = "token",
        .routes = token_routes,
        .nroutes = sizeof(token_routes) / sizeof(token_routes[0]),
};
