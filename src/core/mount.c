/* mount.c - the mount table: built-in sys/ and auth/token/, the engines enabled
 * through sys/mounts and sys/auth, persisted as JSON in core/mounts and core/auth.
 * All functions are called with the core lock held (write lock for changes). */
#include "core/core_int.h"
#include "backend/registry.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mount *
mount_find(struct core *c, const char *path, const char **ret_rel)
{
	struct mount *best = NULL;
	size_t best_len = 0;

	/* sys/ is always there, sealed or not. */
	if (strncmp(path, "sys/", 4) == 0 || strcmp(path, "sys") == 0) {
		*ret_rel = path[3] ? path + 4 : path + 3;
		return c->sys_mount;
	}

	for (size_t i = 0; i < c->nmounts; i++) {
		struct mount *m = c->mounts[i];
		size_t plen = strlen(m->path);
		const char *rel = NULL;

		if (strncmp(path, m->path, plen) == 0)
			rel = path + plen;
		else if (strncmp(path, m->path, plen - 1) == 0 && path[plen - 1] == '\0')
			rel = path + plen - 1;
		if (rel && plen > best_len) {
			best = m;
			best_len = plen;
			*ret_rel = rel;
		}
	}
	return best;
}

json_t *
mount_entry_json(const struct mount *m)
{
	json_t *cfg =
	        json_pack("{s:I, s:I, s:b}", "default_lease_ttl", (json_int_t)m->default_lease_ttl,
	                  "max_lease_ttl", (json_int_t)m->max_lease_ttl, "force_no_cache", 0);
	if (cfg && m->extra_config)
		json_object_update_missing(cfg, m->extra_config);
	if (m->is_auth && cfg)
		json_object_set_new(cfg, "token_type", json_string("default-service"));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:b, s:b, s:b, s:s, s:s}", "type", m->type,
	                 "description", m->description ? m->description : "", "accessor",
	                 m->accessor, "uuid", m->uuid, "config", cfg ? cfg : json_object(),
	                 "options", m->options ? m->options : json_null(), "local", m->local,
	                 "seal_wrap", m->seal_wrap, "external_entropy_access", 0, "plugin_version",
	                 "", "running_plugin_version", "");
}

int
mount_ttl_param(json_t *cfg, const char *key, int64_t *ret)
{
	const char *s = NULL;

	if (jsonx_str(cfg, key, &s) == 0 && json_is_string(json_object_get(cfg, key))) {
		if (*s == '\0')
			return CF_ENOTFOUND;
		if (strcmp(s, "system") == 0) {
			*ret = 0;
			return 0;
		}
	}
	return jsonx_duration(cfg, key, ret);
}

int
mount_lockout_check(json_t *lock, struct response *rs)
{
	static const char *const keys[] = {"lockout_duration", "lockout_counter_reset"};
	int64_t v;
	int r;

	if (!json_is_object(lock))
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		r = jsonx_duration(lock, keys[i], &v);
		if (r < 0 && r != CF_ENOTFOUND) {
			(void)response_errorf(rs, "invalid value for user_lockout_config.%s: %s",
			                      keys[i], duration_strerror(r));
			return CF_EINVAL;
		}
	}
	return 0;
}

int
mount_config_check(json_t *cfg, struct response *rs)
{
	int64_t def = 0, max = 0;
	int r;

	if (!cfg || json_is_null(cfg))
		return 0;
	if (!json_is_object(cfg)) {
		(void)response_errorf(rs, "invalid value for config: must be an object");
		return CF_EINVAL;
	}
	r = mount_ttl_param(cfg, "default_lease_ttl", &def);
	if (r < 0 && r != CF_ENOTFOUND) {
		(void)response_errorf(rs, "invalid value for default_lease_ttl: %s",
		                      duration_strerror(r));
		return CF_EINVAL;
	}
	r = mount_ttl_param(cfg, "max_lease_ttl", &max);
	if (r < 0 && r != CF_ENOTFOUND) {
		(void)response_errorf(rs, "invalid value for max_lease_ttl: %s",
		                      duration_strerror(r));
		return CF_EINVAL;
	}
	if (max != 0 && def > max) {
		(void)response_errorf(rs,
		                      "given default lease TTL greater than given max lease TTL");
		return CF_EINVAL;
	}
	if (max == 0 && def > system_max_ttl()) {
		(void)response_errorf(rs,
		                      "given default lease TTL greater than system max lease TTL "
		                      "of %lld",
		                      (long long)system_max_ttl());
		return CF_EINVAL;
	}
	return mount_lockout_check(json_object_get(cfg, "user_lockout_config"), rs);
}

/* Builds a mount from a stored or requested entry. Does not init the backend. */
static int
mount_from_json(struct core *c, const char *path, json_t *e, bool is_auth, struct mount **ret)
{
	struct mount *m = calloc(1, sizeof(*m));
	const char *type = NULL, *desc = NULL, *uuid = NULL, *accessor = NULL;
	json_t *cfg = json_object_get(e, "config"), *opts = json_object_get(e, "options");
	char prefix[96], suffix[9];
	int r = 0;

	if (!m)
		return CF_ENOMEM;
	m->refs = 1;
	m->is_auth = is_auth;
	if (jsonx_str(e, "type", &type) < 0 || !*type) {
		r = CF_EINVAL;
		goto out;
	}
	if (strcmp(type, "kv-v2") == 0) {
		type = "kv";
		opts = json_pack("{s:s}", "version", "2");
	} else if (json_is_object(opts)) {
		/* options are strings; accept {"version": 2} too */
		json_t *o = json_object(), *v;
		const char *k;
		json_object_foreach(opts, k, v)
		{
			if (json_is_string(v))
				json_object_set(o, k, v);
			else if (json_is_integer(v))
				json_object_set_new(
				        o, k,
				        json_sprintf("%lld", (long long)json_integer_value(v)));
		}
		opts = o;
	} else {
		opts = NULL;
	}
	if (!is_auth && strcmp(type, "kv") == 0 && !opts)
		opts = json_pack("{s:s}", "version", "1");
	m->options = opts;
	m->bt = backend_type_find(type, m->options, is_auth);
	if (!m->bt) {
		r = CF_EUNSUPPORTED;
		goto out;
	}
	m->path = strdup(path);
	m->type = strdup(type);
	(void)jsonx_str(e, "description", &desc);
	m->description = strdup(desc ? desc : "");
	if (!m->path || !m->type || !m->description) {
		r = CF_ENOMEM;
		goto out;
	}
	if (jsonx_str(e, "uuid", &uuid) == 0 && strlen(uuid) == 36)
		memcpy(m->uuid, uuid, 37);
	else
		util_uuid(m->uuid);
	if (jsonx_str(e, "accessor", &accessor) == 0 && strlen(accessor) < sizeof(m->accessor)) {
		snprintf(m->accessor, sizeof(m->accessor), "%s", accessor);
	} else {
		util_random_base62(suffix, 8);
		snprintf(m->accessor, sizeof(m->accessor), "%s%s_%s", is_auth ? "auth_" : "", type,
		         suffix);
	}
	if (cfg) {
		const char *k;
		json_t *v;
		/* sys/mounts checked a requested config (mount_config_check); a
		 * stored TTL beyond the limit, written before there was one, falls
		 * back to the system default rather than losing the mount. */
		if (mount_ttl_param(cfg, "default_lease_ttl", &m->default_lease_ttl) == CF_EINVAL ||
		    mount_ttl_param(cfg, "max_lease_ttl", &m->max_lease_ttl) == CF_EINVAL) {
			r = CF_EINVAL;
			goto out;
		}
		m->extra_config = json_object();
		json_object_foreach(cfg, k, v)
		{
			if (strcmp(k, "default_lease_ttl") && strcmp(k, "max_lease_ttl") &&
			    !json_is_null(v))
				json_object_set(m->extra_config, k, v);
		}
	}
	(void)jsonx_bool(e, "local", &m->local);
	(void)jsonx_bool(e, "seal_wrap", &m->seal_wrap);
	snprintf(prefix, sizeof(prefix), "%s/%s/", is_auth ? "auth" : "logical", m->uuid);
	m->view = view_new(c->barrier, prefix);
	if (!m->view)
		r = CF_ENOMEM;
out:
	if (r < 0) {
		mount_unref(m);
		return r;
	}
	*ret = m;
	return 0;
}

static int
mount_add(struct core *c, struct mount *m)
{
	int r;

	if (c->nmounts == CORE_MAX_MOUNTS)
		return CF_ERANGE;
	if (m->bt->init) {
		r = m->bt->init(m, c);
		if (r < 0)
			return r;
	}
	c->mounts[c->nmounts++] = m;
	return 0;
}

static struct mount *
builtin_new(struct core *c, const char *path, const char *type, bool is_auth,
            const struct backend_type *bt, const char *desc)
{
	struct mount *m = calloc(1, sizeof(*m));
	char suffix[9];

	if (!m)
		return NULL;
	m->refs = 1;
	m->path = strdup(path);
	m->type = strdup(type);
	m->description = strdup(desc);
	m->is_auth = is_auth;
	m->bt = bt;
	util_uuid(m->uuid);
	util_random_base62(suffix, 8);
	snprintf(m->accessor, sizeof(m->accessor), "%s%s_%s", is_auth ? "auth_" : "", type, suffix);
	m->view = view_new(c->barrier, is_auth                          ? "auth/token-store/"
	                               : strcmp(type, "cubbyhole") == 0 ? "cubbyhole/"
	                                                                : "sys/data/");
	if (!m->path || !m->type || !m->description || !m->view) {
		mount_unref(m);
		return NULL;
	}
	return m;
}

static int
builtin(struct core *c, const char *path, const char *type, bool is_auth,
        const struct backend_type *bt, const char *desc)
{
	struct mount *m = builtin_new(c, path, type, is_auth, bt, desc);
	int r;

	if (!m)
		return CF_ENOMEM;
	r = mount_add(c, m);
	if (r < 0)
		mount_unref(m);
	return r;
}

int
mount_system_new(struct core *c)
{
	c->sys_mount = builtin_new(c, "sys/", "system", false, &system_backend, "system endpoints");
	return c->sys_mount ? 0 : CF_ENOMEM;
}

void
mount_system_free(struct core *c)
{
	mount_unref(c->sys_mount);
	c->sys_mount = NULL;
}

static int
load_table(struct core *c, const char *key, bool is_auth)
{
	json_t *arr = NULL, *e;
	size_t i;
	int r = view_get_json(c->core_view, key, &arr);

	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	json_array_foreach(arr, i, e)
	{
		struct mount *m;
		const char *path = json_string_value(json_object_get(e, "path"));
		if (!path)
			continue;
		r = mount_from_json(c, path, e, is_auth, &m);
		if (r < 0) {
			log_error("mount %s could not be loaded: %s", path, cf_strerror(r));
			continue;
		}
		r = mount_add(c, m);
		if (r < 0) {
			log_error("mount %s could not start: %s", path, cf_strerror(r));
			mount_unref(m);
		}
	}
	json_decref(arr);
	return 0;
}

int
mount_table_load(struct core *c)
{
	const struct backend_type *cubby;
	int r;

	mount_unload_all(c);
	r = builtin(c, "auth/token/", "token", true, &token_backend, "token based credentials");
	/* cubbyhole/ is in every server (Vault mounts it by default), when the
	 * wiring registered its type. */
	cubby = backend_type_find("cubbyhole", NULL, false);
	if (r == 0 && cubby)
		r = builtin(c, "cubbyhole/", "cubbyhole", false, cubby,
		            "per-token private secret storage");
	if (r == 0)
		r = load_table(c, "mounts", false);
	if (r == 0)
		r = load_table(c, "auth", true);
	return r;
}

/* Stores the first n entries of the table (n may include one not yet published). */
static int
save_table(struct core *c, const char *key, bool is_auth, size_t n)
{
	json_t *arr = json_array();
	int r;

	if (!arr)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct mount *m = c->mounts[i];
		json_t *e;
		if (m->is_auth != is_auth || m->bt == &system_backend || m->bt == &token_backend ||
		    strcmp(m->type, "cubbyhole") == 0)
			continue;
		e = mount_entry_json(m);
		if (!e) {
			json_decref(arr);
			return CF_ENOMEM;
		}
		json_object_set_new(e, "path", json_string(m->path));
		json_array_append_new(arr, e);
	}
	r = view_put_json(c->core_view, key, arr);
	json_decref(arr);
	return r;
}

int
mount_table_save(struct core *c)
{
	size_t n = c->nmounts;
	int r = save_table(c, "mounts", false, n);
	if (r == 0)
		r = save_table(c, "auth", true, n);
	return r;
}

void
mount_interrupt_all(struct core *c)
{
	for (size_t i = 0; i < c->nmounts; i++)
		if (c->mounts[i]->bt->interrupt)
			c->mounts[i]->bt->interrupt(c->mounts[i]);
}

void
mount_unload_all(struct core *c)
{
	for (size_t i = 0; i < c->nmounts; i++)
		mount_unref(c->mounts[i]);
	c->nmounts = 0;
}

bool
mount_path_reserved(const char *path, bool is_auth)
{
	static const char *const reserved[] = {"sys/", "auth/", "cubbyhole/", "identity/"};
	if (is_auth)
		return strcmp(path, "auth/token/") == 0;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strncmp(path, reserved[i], strlen(reserved[i])) == 0)
			return true;
	return false;
}

static int enable_locked(struct core *c, const char *path, json_t *e, bool is_auth);

int
mount_enable(struct core *c, const char *path, const char *type, json_t *data, bool is_auth)
{
	json_t *e = json_deep_copy(data);
	int r;

	if (!e)
		return CF_ENOMEM;
	json_object_set_new(e, "type", json_string(type));
	/* cubbyhole is mounted once, by the core (Vault: not mountable) */
	if (mount_path_reserved(path, is_auth) || strcmp(type, "cubbyhole") == 0) {
		json_decref(e);
		return CF_EEXIST;
	}
	pthread_mutex_lock(&c->mount_mu);
	r = enable_locked(c, path, e, is_auth);
	pthread_mutex_unlock(&c->mount_mu);
	return r;
}

/* mount_enable's work, with mount_mu held (e is consumed). */
static int
enable_locked(struct core *c, const char *path, json_t *e, bool is_auth)
{
	struct mount *m;
	size_t n;
	int r;

	for (size_t i = 0; i < c->nmounts; i++) {
		const char *mp = c->mounts[i]->path;
		if (c->mounts[i]->is_auth != is_auth)
			continue;
		/* No mount may sit inside another (either way round). */
		if (strncmp(mp, path, strlen(mp)) == 0 || strncmp(path, mp, strlen(path)) == 0) {
			json_decref(e);
			return CF_EEXIST;
		}
	}
	r = mount_from_json(c, path, e, is_auth, &m);
	json_decref(e);
	if (r < 0)
		return r;
	/* Built and stored before it is published: a reader never sees a mount
	 * that could still be taken back. */
	n = c->nmounts;
	if (n == CORE_MAX_MOUNTS) {
		mount_unref(m);
		return CF_ERANGE;
	}
	if (m->bt->init) {
		r = m->bt->init(m, c);
		if (r < 0) {
			mount_unref(m);
			return r;
		}
	}
	c->mounts[n] = m;
	r = save_table(c, "mounts", false, n + 1);
	if (r == 0)
		r = save_table(c, "auth", true, n + 1);
	if (r < 0) {
		c->mounts[n] = NULL;
		mount_unref(m);
		return r;
	}
	c->nmounts = n + 1; /* publish (atomic store) */
	return 0;
}

int
mount_disable(struct core *c, const char *path, bool is_auth)
{
	for (size_t i = 0; i < c->nmounts; i++) {
		struct mount *m = c->mounts[i];
		int r;
		if (m->is_auth != is_auth || strcmp(m->path, path) != 0)
			continue;
		if (m->bt == &system_backend || m->bt == &token_backend ||
		    strcmp(m->type, "cubbyhole") == 0)
			return CF_EINVAL;
		memmove(&c->mounts[i], &c->mounts[i + 1], (c->nmounts - i - 1) * sizeof(m));
		c->nmounts--;
		r = mount_table_save(c);
		if (r < 0)
			return r;
		(void)view_delete_prefix(m->view, "");
		mount_unref(m);
		return 0;
	}
	return 0; /* Vault ignores unknown mounts */
}
