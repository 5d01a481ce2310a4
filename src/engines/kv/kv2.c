/* kv2.c - KV version 2: mount state (path locks, cached config), config/,
 * the route table and the backend (Vault's KV v2 API). */
#include "engines/kv/kv_int.h"
#include "engines/kv/kv.h"

#include "backend/backend.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/keylock.h"

#include <stdlib.h>
#include <string.h>

#define KV2_CONFIG_KEY "config"

struct kv2_state {
	struct keylocks locks;    /* the paths being written (kv2_lock) */
	pthread_mutex_t cfg_lock; /* guards cfg and cfg_loaded; taken after a path lock */
	bool cfg_loaded;
	struct kv2_config cfg;
};

static struct kv2_state *
kv2_state(struct mount *m)
{
	assert(m->state != NULL);
	return m->state;
}

static int
kv2_init(struct mount *m, struct core *c)
{
	struct kv2_state *st = calloc(1, sizeof(*st));

	(void)c;
	if (!st)
		return CF_ENOMEM;
	keylocks_init(&st->locks);
	pthread_mutex_init(&st->cfg_lock, NULL);
	if (m->view)
		kv2_meta_cache_forget(m->view);
	m->state = st;
	return 0;
}

static void
kv2_cleanup(struct mount *m)
{
	struct kv2_state *st = m->state;

	if (!st)
		return;
	if (m->view)
		kv2_meta_cache_forget(m->view);
	keylocks_destroy(&st->locks); /* no request runs: no path is locked */
	pthread_mutex_destroy(&st->cfg_lock);
	free(st);
	m->state = NULL;
}

struct keylock *
kv2_lock(struct mount *m, const char *path)
{
	return keylock_take(&kv2_state(m)->locks, path);
}

void
kv2_unlock(struct mount *m, struct keylock *l)
{
	keylock_give(&kv2_state(m)->locks, l);
}

/* Caller holds cfg_lock. */
static int
kv2_config_load_locked(struct mount *m, struct kv2_state *st)
{
	json_t *j = NULL;
	int r;

	if (st->cfg_loaded)
		return 0;
	r = view_get_json(m->view, KV2_CONFIG_KEY, &j);
	if (r == CF_ENOTFOUND) {
		memset(&st->cfg, 0, sizeof(st->cfg));
		st->cfg_loaded = true;
		return 0;
	}
	if (r < 0)
		return r;
	st->cfg.max_versions = kv2_meta_int(j, "max_versions");
	st->cfg.cas_required = json_is_true(json_object_get(j, "cas_required"));
	st->cfg.delete_version_after = kv2_meta_int(j, "delete_version_after");
	st->cfg_loaded = true;
	json_decref(j);
	return 0;
}

int
kv2_config_get(struct mount *m, struct kv2_config *ret)
{
	struct kv2_state *st = kv2_state(m);
	int r;

	pthread_mutex_lock(&st->cfg_lock);
	r = kv2_config_load_locked(m, st);
	if (r == 0)
		*ret = st->cfg;
	pthread_mutex_unlock(&st->cfg_lock);
	return r;
}

static int
kv2_config_read(struct request *rq, struct response *rs)
{
	struct kv2_config cfg;
	char dva[64];
	json_t *data;
	int r = kv2_config_get(rq->mount, &cfg);

	if (r < 0)
		return r;
	duration_format(cfg.delete_version_after, dva, sizeof(dva));
	data = json_pack("{s:I, s:b, s:s}", "max_versions", (json_int_t)cfg.max_versions,
	                 "cas_required", cfg.cas_required, "delete_version_after", dva);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

/* Only the fields present change (Vault's pathConfigWrite). */
static int
kv2_config_write(struct request *rq, struct response *rs)
{
	struct kv2_state *st = kv2_state(rq->mount);
	struct kv2_settings set;
	struct kv2_config cfg;
	json_t *j = NULL;
	int r = kv2_settings_parse(rq->data, &set, rs);

	if (r < 0)
		return r;

	pthread_mutex_lock(&st->cfg_lock);
	r = kv2_config_load_locked(rq->mount, st);
	if (r < 0)
		goto out;
	cfg = st->cfg;
	if (set.max_versions >= 0)
		cfg.max_versions = set.max_versions;
	if (set.has_cas)
		cfg.cas_required = set.cas_required;
	if (set.delete_version_after >= 0)
		cfg.delete_version_after = set.delete_version_after;
	j = json_pack("{s:I, s:b, s:I}", "max_versions", (json_int_t)cfg.max_versions,
	              "cas_required", cfg.cas_required, "delete_version_after",
	              (json_int_t)cfg.delete_version_after);
	if (!j) {
		r = CF_ENOMEM;
		goto out;
	}
	r = view_put_json(rq->mount->view, KV2_CONFIG_KEY, j);
	if (r == 0)
		st->cfg = cfg;
out:
	pthread_mutex_unlock(&st->cfg_lock);
	json_decref(j);
	return r;
}

/* Anything outside the v2 API (e.g. "GET secret/foo"): 404 with an envelope and
 * a warning naming the right path (Vault's KV v2 API). */
static int
kv2_unknown(struct request *rq, struct response *rs)
{
	const char *mp = rq->mount->path ? rq->mount->path : "";
	const char *rel = rq->rel ? rq->rel : "";

	(void)response_warnf(rs,
	                     "Invalid path for a versioned K/V secrets engine. See the API docs "
	                     "for the appropriate API endpoints to use: for a secret, use "
	                     "\"%sdata/%s\"; for listing, \"%smetadata/%s\".",
	                     mp, rel, mp, rel);
	rs->status = 404;
	rs->envelope_on_error = true;
	return 0;
}

/* LIST :mount/metadata (no trailing slash): the root folder. */
static int
kv2_meta_root(struct request *rq, struct response *rs)
{
	return kv_list(rq->mount->view, KV2_META_PREFIX, "", rs);
}

static const struct route kv2_routes[] = {
        {"config", .flags = R_PURE_READ, .read = kv2_config_read, .write = kv2_config_write,
         .fields = kv2_settings_fields},
        {"data/*", .flags = R_PURE_READ, .read = kv2_data_read, .write = kv2_data_put,
         .patch = kv2_data_patch, .delete = kv2_data_delete_latest, .exists = kv2_data_exists},
        {"metadata/*", .flags = R_PURE_READ, .read = kv2_meta_read, .list = kv2_meta_list,
         .write = kv2_meta_put, .patch = kv2_meta_patch, .delete = kv2_meta_delete,
         .exists = kv2_meta_exists, .fields = kv2_settings_fields},
        {"metadata", .flags = R_PURE_READ, .list = kv2_meta_root},
        {"delete/*", .write = kv2_data_delete},
        {"undelete/*", .write = kv2_data_undelete},
        {"destroy/*", .write = kv2_data_destroy},
        {"subkeys/*", .flags = R_PURE_READ, .read = kv2_data_subkeys},
        {"*", .read = kv2_unknown, .list = kv2_unknown, .write = kv2_unknown, .patch = kv2_unknown,
         .delete = kv2_unknown},
};

const struct backend_type kv_v2_backend = {
        .type = "kv",
        .routes = kv2_routes,
        .nroutes = sizeof(kv2_routes) / sizeof(kv2_routes[0]),
        .init = kv2_init,
        .cleanup = kv2_cleanup,
};
