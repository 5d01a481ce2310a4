/* sys.c - the system backend (Vault's sys API): health, init, seal, unseal,
 * mounts, auth mounts, policies, capabilities, key status and rotation. The
 * audit routes' handlers live in src/audit. */
#include "core/core_int.h"
#include "core/expire.h"
#include "core/reencrypt.h"
#include "core/token.h"
#include "backend/field.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/util.h"
#include "policy/policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- health, init, seal ---- */

static int
query_code(struct request *rq, const char *name, int def, int *ret)
{
	const char *v = json_string_value(json_object_get(rq->query, name));
	int64_t n;

	*ret = def;
	if (!v)
		return 0;
	if (util_parse_int(v, &n) < 0 || n < 100 || n > 599)
		return CF_EINVAL;
	*ret = (int)n;
	return 0;
}

/* A boolean query parameter as Vault's health flags: present and "" or true. */
static bool
query_bool(struct request *rq, const char *name)
{
	const char *v = json_string_value(json_object_get(rq->query, name));

	return v && (*v == '\0' || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	             strcmp(v, "t") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0);
}

static int
sys_health(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	int uninit, sealedc, active, standby, dr, perf;
	bool sealed = barrier_sealed(c->barrier);

	if (query_code(rq, "uninitcode", 501, &uninit) < 0 ||
	    query_code(rq, "sealedcode", 503, &sealedc) < 0 ||
	    query_code(rq, "activecode", 200, &active) < 0 ||
	    query_code(rq, "standbycode", 429, &standby) < 0 ||
	    query_code(rq, "drsecondarycode", 472, &dr) < 0 ||
	    query_code(rq, "performancestandbycode", 473, &perf) < 0) {
		(void)response_errorf(rs, "invalid status code in the query");
		return CF_EINVAL;
	}
	bool standby_node = !sealed && c->ha && ha_standby(c->ha);

	if (!c->initialized && c->ha) {
		pthread_mutex_lock(&c->unseal_mu);
		(void)seal_load_config(c); /* another node sharing the storage ran init */
		pthread_mutex_unlock(&c->unseal_mu);
	}

	rs->raw = json_pack("{s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:s, s:s, s:s}", "initialized",
	                    c->initialized, "sealed", sealed, "standby", standby_node,
	                    "performance_standby", 0, "replication_performance_mode", "disabled",
	                    "replication_dr_mode", "disabled", "server_time_utc",
	                    (json_int_t)util_now(), "version", COFFER_VERSION, "cluster_name",
	                    c->cluster_name, "cluster_id", sealed ? "" : c->cluster_id);
	if (!rs->raw)
		return CF_ENOMEM;
	rs->status = !c->initialized ? uninit
	             : sealed        ? sealedc
	             : standby_node  ? (query_bool(rq, "standbyok") ? active : standby)
	                             : active;
	return 0;
}

static int
sys_init_status(struct request *rq, struct response *rs)
{
	rs->raw = json_pack("{s:b}", "initialized", rq->core->initialized);
	return rs->raw ? 0 : CF_ENOMEM;
}

static int
sys_init(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	int64_t shares, threshold;
	json_t *out = NULL, *pgp;
	int r;

	if (jsonx_int(rq->data, "secret_shares", &shares) < 0 ||
	    jsonx_int(rq->data, "secret_threshold", &threshold) < 0) {
		(void)response_errorf(rs,
		                      "secret_shares and secret_threshold are required integers");
		return CF_EINVAL;
	}
	pgp = json_object_get(rq->data, "pgp_keys");
	if ((pgp && !json_is_null(pgp) && json_array_size(pgp) > 0) ||
	    json_string_length(json_object_get(rq->data, "root_token_pgp_key")) > 0) {
		(void)response_errorf(rs, "PGP-encrypted keys are not supported");
		return CF_EUNSUPPORTED;
	}
	if (shares < 1 || shares > 255 || threshold < 1 || threshold > shares ||
	    (shares > 1 && threshold < 2)) {
		(void)response_errorf(rs, "invalid seal configuration: need 1 <= secret_threshold "
		                          "<= secret_shares <= 255, and a threshold of at least 2 "
		                          "when there is more than one share");
		return CF_EINVAL;
	}
	r = seal_init(c, (int)shares, (int)threshold, &out);
	if (r == CF_EEXIST) {
		(void)response_errorf(rs, "Vault is already initialized");
		return r;
	}
	if (r < 0)
		return r;
	rs->raw = out;
	log_info("initialized with %d shares, threshold %d", (int)shares, (int)threshold);
	return 0;
}

static int
sys_seal_status(struct request *rq, struct response *rs)
{
	rs->raw = seal_status_json(rq->core);
	return rs->raw ? 0 : CF_ENOMEM;
}

/* Vault's sys/unseal (api-docs/system/unseal): key, reset, migrate. */
static int
sys_unseal(struct request *rq, struct response *rs)
{
	const char *key = NULL;
	bool reset = false, migrate = false, unsealed;
	char why[128];
	json_t *st;
	int r;

	(void)jsonx_str(rq->data, "key", &key);
	(void)jsonx_bool(rq->data, "reset", &reset);
	(void)jsonx_bool(rq->data, "migrate", &migrate);
	if (migrate) {
		/* Seal migration needs an auto-unseal, which coffer has not. */
		(void)response_errorf(rs, "'migrate' parameter set true in JSON body when not in "
		                          "seal migration mode");
		return CF_EINVAL;
	}
	if ((!key || !*key) && !reset) {
		(void)response_errorf(rs, "'key' must be specified in request body as JSON, or "
		                          "'reset' set to true");
		return CF_EINVAL;
	}
	r = seal_submit(rq->core, key, reset, &unsealed, why, sizeof(why));
	if (r == CF_EUNINIT) {
		(void)response_errorf(rs, "Vault is not initialized");
		return CF_EINVAL;
	}
	if (r == CF_EINVAL || r == CF_ERANGE) {
		/* Not counted: the progress reported is the one seal-status shows. */
		st = seal_status_json(rq->core);
		(void)response_errorf(rs,
		                      "invalid unseal key share: %s; it was not counted (unseal "
		                      "progress %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		                      ")",
		                      *why ? why : "too many shares",
		                      json_integer_value(json_object_get(st, "progress")),
		                      json_integer_value(json_object_get(st, "t")));
		json_decref(st);
		return CF_EINVAL;
	}
	if (r == CF_EBADKEY || r == CF_ECRYPTO) {
		(void)response_errorf(rs, "Error unsealing: cipher: message authentication failed "
		                          "(wrong key or share); unseal progress was reset");
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	return sys_seal_status(rq, rs);
}

static int
sys_seal(struct request *rq, struct response *rs)
{
	if (!barrier_sealed(rq->core->barrier))
		core_pre_seal(rq->core);
	return 0;
}

static int
sys_step_down(struct request *rq, struct response *rs)
{
	/* single node: nothing to step down from; HA: the lock is given up now and
	 * the HA thread turns this node into a standby */
	return ha_step_down(rq->core->ha);
}

static int
sys_leader(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	char addr[520] = "", since[40] = "0001-01-01T00:00:00Z";
	bool self = false;
	int64_t t = 0;

	if (c->ha && !barrier_sealed(c->barrier) &&
	    ha_leader(c->ha, &self, addr, sizeof(addr), &t) == 0 && self && t > 0)
		util_rfc3339(t * 1000000000LL, since, sizeof(since));
	/* no separate cluster port: the cluster address is the API address */
	rs->raw = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:i, s:i, s:i}", "ha_enabled",
	                    c->ha != NULL, "is_self", self, "active_time", since, "leader_address",
	                    addr, "leader_cluster_address", addr, "performance_standby", 0,
	                    "performance_standby_last_remote_wal", 0, "raft_committed_index", 0,
	                    "raft_applied_index", 0);
	return rs->raw ? 0 : CF_ENOMEM;
}

/* ---- mounts ---- */

/* "foo" -> "foo/" (malloc'd); rejects empty paths. */
static char *
mount_path_arg(const char *p)
{
	size_t n = strlen(p);
	char *out;

	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return NULL;
	out = malloc(n + 2);
	if (!out)
		return NULL;
	memcpy(out, p, n);
	out[n] = '/';
	out[n + 1] = '\0';
	return out;
}

static json_t *
mounts_json(struct core *c, bool is_auth)
{
	json_t *out = json_object();

	if (!out)
		return NULL;
	if (!is_auth)
		json_object_set_new(out, "sys/", mount_entry_json(c->sys_mount));
	for (size_t i = 0; i < c->nmounts; i++) {
		struct mount *m = c->mounts[i];
		if (m->is_auth != is_auth)
			continue;
		json_object_set_new(out, is_auth ? m->path + 5 : m->path, mount_entry_json(m));
	}
	return out;
}

static struct mount *
mount_by_path(struct core *c, const char *path, bool is_auth)
{
	if (!is_auth && strcmp(path, "sys/") == 0)
		return c->sys_mount;
	for (size_t i = 0; i < c->nmounts; i++)
		if (c->mounts[i]->is_auth == is_auth && strcmp(c->mounts[i]->path, path) == 0)
			return c->mounts[i];
	return NULL;
}

static int
tune_read(struct mount *m, struct response *rs)
{
	json_t *lock =
	        m->extra_config ? json_object_get(m->extra_config, "user_lockout_config") : NULL;
	rs->data = json_pack("{s:I, s:I, s:b, s:s, s:O}", "default_lease_ttl",
	                     (json_int_t)mount_default_ttl(m), "max_lease_ttl",
	                     (json_int_t)mount_max_ttl(m), "force_no_cache", 0, "description",
	                     m->description ? m->description : "", "options",
	                     m->options ? m->options : json_null());
	if (rs->data && lock)
		json_object_set(rs->data, "user_lockout_config", lock);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
tune_write(struct core *c, struct mount *m, struct request *rq, struct response *rs)
{
	int64_t def = m->default_lease_ttl, max = m->max_lease_ttl;
	const char *desc;
	json_t *opts = json_object_get(rq->data, "options");

	int r;

	/* Each TTL in range, then Vault's one cross-field rule (tuneMountTTLs):
	 * when both are set, the max may not be below the default. */
	r = mount_ttl_param(rq->data, "default_lease_ttl", &def);
	if (r < 0 && r != CF_ENOTFOUND) {
		(void)response_errorf(rs, "invalid value for default_lease_ttl: %s",
		                      duration_strerror(r));
		return CF_EINVAL;
	}
	r = mount_ttl_param(rq->data, "max_lease_ttl", &max);
	if (r < 0 && r != CF_ENOTFOUND) {
		(void)response_errorf(rs, "invalid value for max_lease_ttl: %s",
		                      duration_strerror(r));
		return CF_EINVAL;
	}
	if (def > 0 && max > 0 && max < def) {
		(void)response_errorf(rs,
		                      "backend max lease TTL of %lld would be less than backend "
		                      "default lease TTL of %lld",
		                      (long long)max, (long long)def);
		return CF_EINVAL;
	}
	/* A default with the max left to the system (0) is compared with the
	 * system max, as Vault's tuneMountTTLs does; otherwise max 0 then a huge
	 * default would be stored. */
	if (def > 0 && max == 0 && def > system_max_ttl()) {
		(void)response_errorf(rs,
		                      "new backend default lease TTL of %lld greater than system "
		                      "max lease TTL of %lld",
		                      (long long)def, (long long)system_max_ttl());
		return CF_EINVAL;
	}
	r = mount_lockout_check(json_object_get(rq->data, "user_lockout_config"), rs);
	if (r < 0)
		return r;
	if (json_is_object(opts) && json_object_get(opts, "version")) {
		json_t *v = json_object_get(opts, "version");
		const char *cur = json_string_value(json_object_get(m->options, "version"));
		char want[16];
		if (json_is_integer(v))
			snprintf(want, sizeof(want), "%lld", (long long)json_integer_value(v));
		else
			snprintf(want, sizeof(want), "%s", json_string_value(v) ?: "");
		if (!cur || strcmp(cur, want) != 0) {
			(void)response_errorf(rs, "changing the KV version of a mount is not "
			                          "supported; enable a new kv-v2 mount instead");
			return CF_EUNSUPPORTED;
		}
	}
	if (jsonx_str(rq->data, "description", &desc) == 0) {
		char *d = strdup(desc);
		if (!d)
			return CF_ENOMEM;
		free(m->description);
		m->description = d;
	}
	{
		json_t *lock = json_object_get(rq->data, "user_lockout_config");
		if (json_is_object(lock)) {
			if (!m->extra_config)
				m->extra_config = json_object();
			json_object_set(m->extra_config, "user_lockout_config", lock);
		} else if (lock && !json_is_null(lock)) {
			(void)response_errorf(rs, "user_lockout_config must be an object");
			return CF_EINVAL;
		}
	}
	m->default_lease_ttl = def;
	m->max_lease_ttl = max;
	return mount_table_save(c);
}

/* The mount a sys/mounts/<path>[/tune] or sys/auth/<path>[/tune] request names. */
struct mount_arg {
	char *path;      /* as given, normalised (mount_path_arg) */
	char *full;      /* path, under "auth/" for sys/auth */
	bool tune;       /* the request is on <path>/tune */
	struct mount *m; /* the mount at full, or NULL */
};

static void
mount_arg_free(struct mount_arg *a)
{
	free(a->path);
	free(a->full);
}

/* Fills a from rq->cap[0]. Returns 0, CF_EINVAL with a message in rs (no path,
 * or a tune request on no mount), or CF_ENOMEM; mount_arg_free releases a either
 * way. */
static int
mount_arg_get(struct request *rq, struct response *rs, bool is_auth, struct mount_arg *a)
{
	const char *arg = rq->cap[0];
	size_t n = strlen(arg);
	char *tmp;

	a->tune = n >= 5 && strcmp(arg + n - 5, "/tune") == 0;
	tmp = strndup(arg, a->tune ? n - 5 : n);
	if (!tmp)
		return CF_ENOMEM;
	a->path = mount_path_arg(tmp);
	free(tmp);
	if (!a->path) {
		(void)response_errorf(rs, "missing mount path");
		return CF_EINVAL;
	}
	if (is_auth) {
		a->full = malloc(strlen(a->path) + 6);
		if (!a->full)
			return CF_ENOMEM;
		snprintf(a->full, strlen(a->path) + 6, "auth/%s", a->path);
	} else {
		a->full = strdup(a->path);
	}
	a->m = mount_by_path(rq->core, a->full, is_auth);
	if (a->tune && !a->m) {
		(void)response_errorf(rs, "no mount at %s", a->path);
		return CF_EINVAL;
	}
	return 0;
}

static int
mounts_read(struct request *rq, struct response *rs, bool is_auth)
{
	struct mount_arg a = {0};
	int r = mount_arg_get(rq, rs, is_auth, &a);

	if (r < 0)
		goto out;
	if (a.tune) {
		r = tune_read(a.m, rs);
		goto out;
	}
	if (!a.m) {
		r = CF_ENOTFOUND;
		goto out;
	}
	rs->data = mount_entry_json(a.m);
	r = rs->data ? 0 : CF_ENOMEM;
out:
	mount_arg_free(&a);
	return r;
}

static int
mounts_write(struct request *rq, struct response *rs, bool is_auth)
{
	struct mount_arg a = {0};
	const char *type = NULL;
	int r = mount_arg_get(rq, rs, is_auth, &a);

	if (r < 0)
		goto out;
	if (a.tune) {
		r = tune_write(rq->core, a.m, rq, rs);
		goto out;
	}
	/* \xHH escapes only name stored entries (lib/path.h), never a new mount */
	if (strchr(a.path, '\\')) {
		(void)response_errorf(rs, "a mount path cannot hold a backslash");
		r = CF_EINVAL;
		goto out;
	}
	if (jsonx_str(rq->data, "type", &type) < 0 || !*type) {
		(void)response_errorf(rs, "missing or invalid 'type'");
		r = CF_EINVAL;
		goto out;
	}
	r = mount_config_check(json_object_get(rq->data, "config"), rs);
	if (r < 0)
		goto out;
	r = mount_enable(rq->core, a.full, type, rq->data, is_auth);
	if (r == CF_EEXIST)
		(void)response_errorf(rs, "path is already in use at %s", a.path);
	else if (r == CF_EUNSUPPORTED)
		(void)response_errorf(rs, "plugin not found in the catalog: %s", type);
	else if (r == CF_EINVAL)
		(void)response_errorf(rs, "invalid mount configuration");
	else if (r == 0)
		log_info("enabled %s engine of type %s at %s", is_auth ? "auth" : "secrets", type,
		         a.full);
out:
	mount_arg_free(&a);
	return r;
}

static int
mounts_delete(struct request *rq, struct response *rs, bool is_auth)
{
	struct core *c = rq->core;
	struct mount_arg a = {0};
	char err[512] = "";
	int r = mount_arg_get(rq, rs, is_auth, &a);

	if (r < 0)
		goto out;
	if (a.tune) {
		r = CF_EMETHOD;
		goto out;
	}
	/* Its leases go first: nothing could revoke them once it is gone. */
	r = expire_revoke_prefix(c->expire, a.full, false, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "cannot unmount %s: %s", a.path, err);
		r = CF_EINVAL;
		goto out;
	}
	r = mount_disable(c, a.full, is_auth);
	if (r == CF_EINVAL)
		(void)response_errorf(rs, "cannot unmount %s", a.path);
out:
	mount_arg_free(&a);
	return r;
}

static int
sys_mounts(struct request *rq, struct response *rs)
{
	rs->data = mounts_json(rq->core, false);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
sys_mounts_read(struct request *rq, struct response *rs)
{
	return mounts_read(rq, rs, false);
}

static int
sys_mounts_write(struct request *rq, struct response *rs)
{
	return mounts_write(rq, rs, false);
}

static int
sys_mounts_delete(struct request *rq, struct response *rs)
{
	return mounts_delete(rq, rs, false);
}

static int
sys_auths(struct request *rq, struct response *rs)
{
	rs->data = mounts_json(rq->core, true);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
sys_auth_read(struct request *rq, struct response *rs)
{
	return mounts_read(rq, rs, true);
}

static int
sys_auth_write(struct request *rq, struct response *rs)
{
	return mounts_write(rq, rs, true);
}

static int
sys_auth_delete(struct request *rq, struct response *rs)
{
	return mounts_delete(rq, rs, true);
}

/* The mount path "to" of sys/remount names (malloc'd, with its trailing '/'):
 * to normalised as the HTTP edge normalises request paths. Returns 0, CF_EINVAL
 * with a message in rs, or CF_ENOMEM. */
static int
remount_target(const char *to, char **ret, struct response *rs)
{
	char *norm = NULL, err[200] = "it is empty";
	int r = path_normalize(to, strlen(to), 0, &norm, err, sizeof(err));

	if (r == CF_ENOMEM)
		return r;
	if (r == 0 && strchr(norm, '\\')) {
		snprintf(err, sizeof(err), "a mount path cannot hold a backslash");
		r = CF_EINVAL;
	}
	if (r < 0) {
		free(norm);
		(void)response_errorf(rs, "invalid 'to' path: %s", err);
		return CF_EINVAL;
	}
	*ret = mount_path_arg(norm);
	free(norm);
	return *ret ? 0 : CF_ENOMEM;
}

static int
sys_remount(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	const char *from, *to;
	char *f = NULL, *t = NULL;
	struct mount *m;
	int r = CF_EINVAL;

	if (jsonx_str(rq->data, "from", &from) < 0 || jsonx_str(rq->data, "to", &to) < 0) {
		(void)response_errorf(rs, "'from' and 'to' are required");
		return CF_EINVAL;
	}
	/* "to" names a mount as a request path would: normalised and checked the same
	 * way (no "..", no bytes that are not UTF-8, no backslash). */
	r = remount_target(to, &t, rs);
	if (r < 0)
		goto out;
	r = CF_EINVAL;
	f = mount_path_arg(from);
	if (!f || !t)
		goto out;
	m = mount_by_path(c, f, false);
	if (!m || m == c->sys_mount || mount_path_reserved(t, false)) {
		(void)response_errorf(rs, "cannot remount %s to %s", f, t);
		goto out;
	}
	for (size_t i = 0; i < c->nmounts; i++) {
		const char *mp = c->mounts[i]->path;
		if (strncmp(mp, t, strlen(mp)) == 0 || strncmp(t, mp, strlen(t)) == 0) {
			(void)response_errorf(rs, "path is already in use at %s", t);
			goto out;
		}
	}
	{
		/* As Vault: the engine's leases are revoked, its configuration moves. */
		char err[512] = "";
		r = expire_revoke_prefix(c->expire, f, false, err, sizeof(err));
		if (r < 0) {
			(void)response_errorf(rs, "cannot remount %s: %s", f, err);
			r = CF_EINVAL;
			goto out;
		}
	}
	free(m->path);
	m->path = t;
	t = NULL;
	r = mount_table_save(c);
out:
	free(f);
	free(t);
	return r;
}

/* ---- policies ---- */

static int
policy_names(struct core *c, json_t **ret)
{
	char **keys = NULL;
	size_t n = 0;
	json_t *arr;
	int r = view_list(c->policy_view, "", &keys, &n);

	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	arr = json_array();
	if (!arr) {
		storage_keys_free(keys, n);
		return CF_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!strchr(keys[i], '/'))
			json_array_append_new(arr, json_string(keys[i]));
	storage_keys_free(keys, n);
	if (!jsonx_array_has(arr, "default"))
		json_array_append_new(arr, json_string("default"));
	json_array_append_new(arr, json_string("root"));
	*ret = arr;
	return 0;
}

static int
sys_policy_list(struct request *rq, struct response *rs)
{
	json_t *names;
	int r = policy_names(rq->core, &names);

	if (r < 0)
		return r;
	rs->data = json_pack("{s:O, s:o}", "keys", names, "policies", names);
	return rs->data ? 0 : CF_ENOMEM;
}

static char *
policy_name_arg(const char *s)
{
	char *n = strdup(s);
	if (!n)
		return NULL;
	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return n;
}

/* sys/policy/<name> (field "rules") and sys/policies/acl/<name> (field "policy") */
static int
policy_read(struct request *rq, struct response *rs, bool acl_form)
{
	char *name = policy_name_arg(rq->cap[0]), *text = NULL;
	int r;

	if (!name)
		return CF_ENOMEM;
	if (strcmp(name, "root") == 0) {
		r = CF_ENOTFOUND;
		goto out;
	}
	r = policy_store_get(rq->core, name, &text);
	if (r < 0)
		goto out;
	rs->data = json_pack("{s:s, s:s}", "name", name, acl_form ? "policy" : "rules", text);
	r = rs->data ? 0 : CF_ENOMEM;
out:
	free(text);
	free(name);
	return r;
}

/* The body of sys/policy/<name> and sys/policies/acl/<name>. */
struct policy_params {
	const char *policy, *rules;
};

static const struct field policy_fields[] = {
        {"policy", FIELD_STRING, 0, offsetof(struct policy_params, policy),
         .desc = "the policy document (HCL or JSON)"},
        {"rules", FIELD_STRING, FIELD_DEPRECATED, offsetof(struct policy_params, rules),
         .desc = "the policy document, under its older name"},
        {NULL},
};

static int
policy_write(struct request *rq, struct response *rs, bool acl_form)
{
	struct core *c = rq->core;
	char *name = policy_name_arg(rq->cap[0]), err[512];
	struct policy_params pp = {0};
	const char *body;
	struct policy *p = NULL;
	bool legacy;
	int r;

	if (!name)
		return CF_ENOMEM;
	if (strcmp(name, "root") == 0) {
		(void)response_errorf(rs, "cannot update root policy");
		r = CF_EINVAL;
		goto out;
	}
	r = field_parse(policy_fields, rq->data, &pp, rs);
	if (r < 0)
		goto out;
	body = pp.policy ? pp.policy : pp.rules;
	legacy = !pp.policy && pp.rules;
	if (!body) {
		(void)response_errorf(rs, "'policy' parameter not supplied or empty");
		r = CF_EINVAL;
		goto out;
	}
	r = policy_parse(name, body, &p, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "failed to parse policy: %s", err);
		goto out;
	}
	policy_free(p);
	r = view_put(c->policy_view, name, (const uint8_t *)body, strlen(body));
	if (r < 0)
		goto out;
	core_acl_cache_clear(c);
	if (legacy && !acl_form)
		(void)response_warnf(rs, "'rules' is deprecated, please use 'policy' instead");
out:
	free(name);
	return r;
}

static int
policy_delete(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	char *name = policy_name_arg(rq->cap[0]);
	int r;

	if (!name)
		return CF_ENOMEM;
	if (strcmp(name, "root") == 0 || strcmp(name, "default") == 0) {
		(void)response_errorf(rs, "cannot delete %s policy", name);
		r = CF_EINVAL;
		goto out;
	}
	r = view_delete(c->policy_view, name);
	core_acl_cache_clear(c);
out:
	free(name);
	return r;
}

static int
sys_policy_read(struct request *rq, struct response *rs)
{
	return policy_read(rq, rs, false);
}

static int
sys_policy_write(struct request *rq, struct response *rs)
{
	return policy_write(rq, rs, false);
}

static int
sys_policies_acl_list(struct request *rq, struct response *rs)
{
	json_t *names;
	int r = policy_names(rq->core, &names);

	if (r < 0)
		return r;
	return response_keys(rs, names); /* never empty: default and root */
}

static int
sys_policies_acl_read(struct request *rq, struct response *rs)
{
	return policy_read(rq, rs, true);
}

static int
sys_policies_acl_write(struct request *rq, struct response *rs)
{
	return policy_write(rq, rs, true);
}

/* ---- capabilities ---- */

/* What acl allows on path p, judged as a request on it would be: p normalised
 * as the HTTP edge normalises request paths (lib/path.h), so "a//b" is judged
 * as "a/b", and a path the edge refuses ("a/../b", a backslash outside a \xHH
 * escape) allows nothing, whatever the policy says. */
static int
path_caps(struct acl *acl, const char *p, unsigned *ret_caps)
{
	char *norm = NULL, err[200];
	int r = path_normalize(p, strlen(p), 0, &norm, err, sizeof(err));

	if (r == CF_ENOMEM)
		return r;
	if (r < 0) {
		*ret_caps = CAP_DENY;
		return 0;
	}
	*ret_caps = acl_is_root(acl) ? CAP_ROOT : acl_capabilities(acl, norm);
	free(norm);
	return 0;
}

static int
capabilities(struct request *rq, struct response *rs, struct acl *acl)
{
	json_t *paths = NULL, *out = json_object(), *item, *last = NULL;
	size_t i;
	int r = jsonx_strlist(rq->data, "paths", &paths);

	if (!out)
		return CF_ENOMEM;
	if (r == CF_ENOTFOUND)
		r = jsonx_strlist(rq->data, "path", &paths);
	if (r < 0 || json_array_size(paths) == 0) {
		json_decref(out);
		json_decref(paths);
		(void)response_errorf(rs, "missing paths");
		return CF_EINVAL;
	}
	json_array_foreach(paths, i, item)
	{
		const char *p = json_string_value(item);
		unsigned caps;
		while (*p == '/')
			p++;
		r = path_caps(acl, p, &caps);
		if (r < 0) {
			json_decref(out);
			json_decref(paths);
			return r;
		}
		last = acl_caps_json(caps);
		json_object_set_new(out, p, last);
	}
	if (json_array_size(paths) == 1 && last)
		json_object_set(out, "capabilities", last);
	json_decref(paths);
	rs->data = out;
	return 0;
}

static int
caps_for_entry(struct request *rq, struct response *rs, struct token_entry *te)
{
	struct acl *acl;
	void *ref;
	int r = core_acl_get(rq->core, te->policies, &acl, &ref);

	if (r < 0)
		return r;
	r = capabilities(rq, rs, acl);
	core_acl_put(rq->core, ref);
	return r;
}

static int
sys_capabilities_self(struct request *rq, struct response *rs)
{
	return capabilities(rq, rs, rq->acl);
}

static int
sys_capabilities(struct request *rq, struct response *rs)
{
	const char *tok;
	struct token_entry *te;
	int r;

	if (jsonx_str(rq->data, "token", &tok) < 0)
		return sys_capabilities_self(rq, rs);
	r = token_lookup(core_tokens(rq->core), tok, &te);
	if (r < 0) {
		(void)response_errorf(rs, "bad token");
		return CF_EDENIED;
	}
	r = caps_for_entry(rq, rs, te);
	token_entry_free(te);
	return r;
}

static int
sys_capabilities_accessor(struct request *rq, struct response *rs)
{
	const char *acc;
	struct token_entry *te;
	int r;

	if (jsonx_str(rq->data, "accessor", &acc) < 0) {
		(void)response_errorf(rs, "missing accessor");
		return CF_EINVAL;
	}
	r = token_lookup_accessor(core_tokens(rq->core), acc, &te);
	if (r < 0) {
		(void)response_errorf(rs, "invalid accessor");
		return CF_EINVAL;
	}
	r = caps_for_entry(rq, rs, te);
	token_entry_free(te);
	return r;
}

/* ---- barrier key ---- */

static int
sys_key_status(struct request *rq, struct response *rs)
{
	uint32_t term;
	int64_t installed;
	uint64_t enc;
	char ts[48];
	int r = barrier_key_status(rq->core->barrier, &term, &installed, &enc);

	if (r < 0)
		return r;
	util_rfc3339(installed, ts, sizeof(ts));
	rs->data = json_pack("{s:I, s:s, s:I}", "term", (json_int_t)term, "install_time", ts,
	                     "encryptions", (json_int_t)enc);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
sys_rotate(struct request *rq, struct response *rs)
{
	uint32_t term;
	int r = barrier_rotate(rq->core->barrier, &term);

	if (r == 0)
		log_info("barrier key rotated to term %u", term);
	return r;
}

/* ---- tools ---- */

static int
sys_tools_random(struct request *rq, struct response *rs)
{
	int64_t n = 32;
	const char *fmt = "base64";
	uint8_t buf[4096];
	char *out;

	if (rq->ncap > 0 && *rq->cap[0]) {
		const char *last = strrchr(rq->cap[0], '/');
		const char *num = last ? last + 1 : rq->cap[0];
		if (util_parse_int(num, &n) < 0 && strcmp(num, "platform") && strcmp(num, "all") &&
		    strcmp(num, "seal")) {
			(void)response_errorf(rs, "invalid number of bytes");
			return CF_EINVAL;
		}
	}
	if (jsonx_int(rq->data, "bytes", &n) == CF_EINVAL ||
	    jsonx_str(rq->data, "format", &fmt) == CF_EINVAL || n < 1 || n > (int64_t)sizeof(buf)) {
		(void)response_errorf(rs, "bytes must be between 1 and %zu", sizeof(buf));
		return CF_EINVAL;
	}
	util_random(buf, (size_t)n);
	if (strcmp(fmt, "hex") == 0) {
		char hex[2 * sizeof(buf) + 1];
		util_hex(buf, (size_t)n, hex);
		rs->data = json_pack("{s:s}", "random_bytes", hex);
	} else if (strcmp(fmt, "base64") == 0) {
		out = util_b64_encode(buf, (size_t)n);
		rs->data = out ? json_pack("{s:s}", "random_bytes", out) : NULL;
		free(out);
	} else {
		(void)response_errorf(rs, "unsupported encoding format %s; must be hex or base64",
		                      fmt);
		return CF_EINVAL;
	}
	return rs->data ? 0 : CF_ENOMEM;
}

/* Flags for the unauthenticated seal-management routes. */
#define SEALMGMT (R_NOAUTH | R_SEALED_OK | R_RAW | R_NOAUDIT)
/* Rekey and root token generation: unauthenticated as in Vault (a quorum of
 * unseal key shares is the credential) and served only while unsealed. Unlike
 * Vault they are audited: who started a root token generation and when is what
 * a compromise review looks for first. Shares, nonces, the OTP and the encoded
 * token are strings, so the audit log holds only their HMACs. */
#define KEYOPS (R_NOAUTH | R_RAW)

static const struct route sys_routes[] = {
        {"health", SEALMGMT, .read = sys_health, .head = sys_health},
        {"init", SEALMGMT | R_EXCLUSIVE, .read = sys_init_status, .write = sys_init},
        {"seal-status", SEALMGMT, .read = sys_seal_status},
        {"unseal", SEALMGMT | R_EXCLUSIVE, .write = sys_unseal},
        {"seal", R_SUDO | R_EXCLUSIVE | R_INTERRUPT, .write = sys_seal},
        {"rekey/init", KEYOPS, .read = rekey_sys_status, .write = rekey_sys_start,
         .delete = rekey_sys_cancel},
        {"rekey/update", KEYOPS, .write = rekey_sys_update},
        {"rekey/verify", KEYOPS, .read = rekey_sys_verify_status, .write = rekey_sys_verify,
         .delete = rekey_sys_verify_restart},
        {"generate-root/attempt", KEYOPS, .read = genroot_sys_status, .write = genroot_sys_start,
         .delete = genroot_sys_cancel},
        {"generate-root/update", KEYOPS, .write = genroot_sys_update},
        {"step-down", R_SUDO | R_NOAUDIT, .write = sys_step_down},
        {"leader", R_NOAUTH | R_RAW | R_NOAUDIT, .read = sys_leader},
        {"mounts", R_SYS_INJECT, .read = sys_mounts},
        {"mounts/*", R_SYS_INJECT | R_EXCL_CHANGES, .read = sys_mounts_read,
         .write = sys_mounts_write, .delete = sys_mounts_delete},
        {"remount", R_SUDO | R_EXCLUSIVE, .write = sys_remount},
        {"auth", R_SYS_INJECT, .read = sys_auths},
        {"auth/*", R_SUDO | R_SYS_INJECT | R_EXCL_CHANGES, .read = sys_auth_read,
         .write = sys_auth_write, .delete = sys_auth_delete},
        {"policy", R_SYS_INJECT, .read = sys_policy_list, .list = sys_policy_list},
        {"policy/", R_SYS_INJECT, .read = sys_policy_list, .list = sys_policy_list},
        {"policy/+", R_SYS_INJECT, .read = sys_policy_read, .write = sys_policy_write,
         .fields = policy_fields, .delete = policy_delete},
        {"policies/acl", R_SYS_INJECT, .read = sys_policies_acl_list,
         .list = sys_policies_acl_list},
        {"policies/acl/", R_SYS_INJECT, .read = sys_policies_acl_list,
         .list = sys_policies_acl_list},
        {"policies/acl/+", R_SYS_INJECT, .read = sys_policies_acl_read,
         .write = sys_policies_acl_write, .fields = policy_fields, .delete = policy_delete},
        {"capabilities", R_SYS_INJECT, .write = sys_capabilities},
        {"capabilities-self", R_SYS_INJECT, .write = sys_capabilities_self},
        {"capabilities-accessor", R_SYS_INJECT, .write = sys_capabilities_accessor},
        {"key-status", R_SYS_INJECT, .read = sys_key_status},
        {"rotate", R_SUDO, .write = sys_rotate},
        {"rotate/reencrypt", R_SUDO, .read = reencrypt_sys_status, .write = reencrypt_sys},
        {"rotate/retire", R_SUDO, .write = reencrypt_sys_retire},
        {"leases/lookup", R_SYS_INJECT, .write = expire_sys_lookup, .fields = expire_lookup_fields},
        {"leases/lookup/*", R_SUDO | R_SYS_INJECT, .list = expire_sys_list},
        {"leases/renew", R_SYS_INJECT, .write = expire_sys_renew, .fields = expire_renew_fields},
        {"leases/renew/*", R_SYS_INJECT, .write = expire_sys_renew, .fields = expire_renew_fields},
        {"renew", R_SYS_INJECT, .write = expire_sys_renew, .fields = expire_renew_fields},
        {"renew/*", R_SYS_INJECT, .write = expire_sys_renew, .fields = expire_renew_fields},
        {"leases/revoke", R_SYS_INJECT, .write = expire_sys_revoke, .fields = expire_revoke_fields},
        {"leases/revoke/*", R_SYS_INJECT, .write = expire_sys_revoke,
         .fields = expire_revoke_fields},
        {"revoke", R_SYS_INJECT, .write = expire_sys_revoke, .fields = expire_revoke_fields},
        {"revoke/*", R_SYS_INJECT, .write = expire_sys_revoke, .fields = expire_revoke_fields},
        {"leases/revoke-prefix/*", R_SUDO | R_SYS_INJECT, .write = expire_sys_revoke_prefix,
         .fields = expire_revoke_prefix_fields},
        {"revoke-prefix/*", R_SUDO | R_SYS_INJECT, .write = expire_sys_revoke_prefix,
         .fields = expire_revoke_prefix_fields},
        {"leases/revoke-force/*", R_SUDO | R_SYS_INJECT, .write = expire_sys_revoke_force,
         .fields = expire_revoke_prefix_fields},
        {"revoke-force/*", R_SUDO | R_SYS_INJECT, .write = expire_sys_revoke_force,
         .fields = expire_revoke_prefix_fields},
        {"leases/tidy", R_SUDO | R_SYS_INJECT, .write = expire_sys_tidy},
        {"tools/random", R_SYS_INJECT, .write = sys_tools_random},
        {"tools/random/*", R_SYS_INJECT, .write = sys_tools_random},
};

const struct backend_type system_backend = {
        .type = "system",
        .routes = sys_routes,
        .nroutes = sizeof(sys_routes) / sizeof(sys_routes[0]),
};
