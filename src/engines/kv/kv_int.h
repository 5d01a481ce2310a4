/* kv_int.h - internals shared by the KV engines (kv.c, kv1.c, kv2*.c). Not a
 * public interface: other modules use kv_v1_backend / kv_v2_backend (engines/kv/kv.h).
 *
 * Storage layout (relative to the mount's view, see docs/internals/kv.md):
 *   v1:  <path>                          the secret object, compact JSON
 *   v2:  config                          mount config {max_versions, cas_required,
 *                                        delete_version_after (seconds)}
 *        meta/<path>                     key metadata record (kv2_meta.c)
 *        ver/<sha256hex(path)>/<n>       data of version n, compact JSON object
 *
 * Locking (v2): every mutation of a key runs under the lock of its path
 * (kv2_lock), reads take no lock. Version and metadata records
 * are written in one view_txn, so a reader sees either the old or the new pair. */
#ifndef CF_KV_INT_H
#define CF_KV_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/field.h"
#include "backend/request.h"

struct view;
struct mount;

/* Limits on what clients control (Vault's KV v2 API). */
#define KV_CUSTOM_META_MAX_KEYS  64
#define KV_CUSTOM_META_MAX_KEY   128
#define KV_CUSTOM_META_MAX_VAL   512
#define KV_MAX_VERSIONS_ARG      1024 /* entries in one delete/undelete/destroy call */
#define KV2_DEFAULT_MAX_VERSIONS 10
#define KV2_META_PREFIX          "meta/"
#define KV2_VER_PREFIX           "ver/"

/* ---- kv.c: shared helpers ---- */

/* malloc'd printf; NULL on ENOMEM. Caller frees. */
char *kv_keyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Validates a key path for create/update: non-empty, not ending in '/'.
 * Returns 0 or CF_EINVAL with a message added to rs. */
int kv_path_check(const char *path, struct response *rs);
/* LIST of a folder: lists base + folder (+ '/' if missing) in v. Returns 0 with
 * rs->data = {"keys": [...]}, CF_ENOTFOUND (no message) when empty, or storage
 * errors. */
int kv_list(struct view *v, const char *base, const char *folder, struct response *rs);
/* Integer query parameter ("version", "depth"): 0 and *ret when present
 * ("" counts as 0), CF_ENOTFOUND when absent, CF_EINVAL (message in rs) when not a
 * non-negative integer. */
int kv_query_int(struct request *rq, const char *name, int64_t *ret, struct response *rs);
/* Stores val as compact JSON through a txn op: *ret_buf receives the text (owned by
 * the caller, free with secmem_free_str which wipes it). */
int kv_json_bytes(json_t *val, char **ret_buf, size_t *ret_len);
/* RFC 7386 merge patch: returns a new reference (target is not modified),
 * NULL on ENOMEM. */
json_t *kv_merge_patch(json_t *target, json_t *patch);

/* ---- kv2.c: mount state ---- */

struct kv2_config {
	int64_t max_versions; /* 0: default (10) */
	bool cas_required;
	int64_t delete_version_after; /* seconds, 0: off */
};

/* The settings the mount's config and a key's metadata share (Vault's KV v2
 * API); max_versions and delete_version_after stay -1 when not given. */
struct kv2_settings {
	int64_t max_versions, delete_version_after;
	bool cas_required, has_cas;
};
extern const struct field kv2_settings_fields[];
/* Reads them from body: 0, or CF_EINVAL with a message in rs. */
int kv2_settings_parse(json_t *body, struct kv2_settings *ret, struct response *rs);

/* Current mount configuration (cached in the mount state, loaded lazily).
 * Returns 0 or a storage error. */
int kv2_config_get(struct mount *m, struct kv2_config *ret);
/* Waits for and takes the lock of path (lib/keylock.h), returning it for
 * kv2_unlock, or NULL when out of memory. A writer holds it until its change is
 * durable; writers of different paths never wait for each other. */
struct keylock;
struct keylock *kv2_lock(struct mount *m, const char *path);
void kv2_unlock(struct mount *m, struct keylock *l);

/* ---- kv2_meta.c: the key metadata record and the metadata/ endpoints ----
 *
 * The record is a JSON object kept as loaded from storage:
 *   {"created_time": ns, "updated_time": ns, "current_version": n,
 *    "oldest_version": n, "max_versions": n, "cas_required": b,
 *    "delete_version_after": secs, "custom_metadata": {..} | null,
 *    "versions": {"<n>": {"created_time": ns, "deletion_time": ns (0 none),
 *                         "destroyed": b}}} */

/* Loads the record of path: 0 and a new reference, CF_ENOTFOUND, or storage errors.
 * The record is the caller's own: writers load it this way (under kv2_lock). */
int kv2_meta_load(struct view *v, const char *path, json_t **ret);
/* As kv2_meta_load, through the parsed-record cache: the reference may be shared
 * with other threads, so the caller must not modify it. For read paths. */
int kv2_meta_get(struct view *v, const char *path, json_t **ret);
/* Drops path's cached record; kv2_meta_commit and the purge call it after their
 * transaction (under the key's stripe lock). */
void kv2_meta_cache_drop(struct view *v, const char *path);
/* Drops every cached record of view v (mount init and cleanup). */
void kv2_meta_cache_forget(struct view *v);
/* A fresh record (no versions) created now. NULL on ENOMEM. */
json_t *kv2_meta_new(int64_t now);
int64_t kv2_meta_int(json_t *obj, const char *key);
/* Entry of version n in meta's versions map (borrowed) or NULL. */
json_t *kv2_meta_version(json_t *meta, int64_t n);
/* True when version entry vm is destroyed or its deletion_time has passed. */
bool kv2_meta_version_gone(json_t *vm, int64_t now);
/* {created_time, custom_metadata, deletion_time, destroyed, version} of version n
 * (as the data endpoints return it). NULL on ENOMEM or unknown version. */
json_t *kv2_meta_render_version(json_t *meta, int64_t n);
/* Adds a version created at now, applying delete_version_after and trimming to
 * max_versions (key's, else the mount's, else 10). *ret_trim (malloc'd, may be NULL
 * when *ret_ntrim is 0) lists the version numbers removed. */
int kv2_meta_add_version(json_t *meta, int64_t now, const struct kv2_config *cfg,
                         int64_t *ret_version, int64_t **ret_trim, size_t *ret_ntrim);
/* Storage key of version n of path (malloc'd), or of its folder when n < 0. */
char *kv2_meta_version_key(const char *path, int64_t n);
/* Atomically: writes meta, writes version put_ver with put_data (when put_data is
 * not NULL), deletes the version records in del[]. */
int kv2_meta_commit(struct view *v, const char *path, json_t *meta, int64_t put_ver,
                    json_t *put_data, const int64_t *del, size_t ndel);

/* The handlers of metadata/<path> (kv2.c's route table). */
int kv2_meta_read(struct request *rq, struct response *rs);
int kv2_meta_list(struct request *rq, struct response *rs);
int kv2_meta_put(struct request *rq, struct response *rs);
int kv2_meta_patch(struct request *rq, struct response *rs);
int kv2_meta_delete(struct request *rq, struct response *rs);
int kv2_meta_exists(struct request *rq, bool *ret_exists);

/* ---- kv2_data.c: data/, delete/, undelete/, destroy/, subkeys/ ---- */

/* The handlers of data/<path> (kv2.c's route table). */
int kv2_data_read(struct request *rq, struct response *rs);
int kv2_data_put(struct request *rq, struct response *rs);
int kv2_data_patch(struct request *rq, struct response *rs);
int kv2_data_delete_latest(struct request *rq, struct response *rs);
int kv2_data_exists(struct request *rq, bool *ret_exists);
int kv2_data_delete(struct request *rq, struct response *rs);
int kv2_data_undelete(struct request *rq, struct response *rs);
int kv2_data_destroy(struct request *rq, struct response *rs);
int kv2_data_subkeys(struct request *rq, struct response *rs);

#endif
