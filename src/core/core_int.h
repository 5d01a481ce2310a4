/* core_int.h - the core's private state, shared by core.c, seal.c, mount.c and
 * sys.c only. Backends use core.h. */
#ifndef CF_CORE_INT_H
#define CF_CORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "backend/backend.h"
#include "crypto/share.h"

#define CORE_MAX_MOUNTS 256

/* The core's own backend types: sys/ (sys.c) and auth/token/ (token_backend.c).
 * token is in the mount-type registry (core_new adds it); system is not: sys/
 * is mounted once, by the core, and can not be mounted again. */

struct policy;

struct acl_cache_entry {
	char *key; /* policy names joined by ',' */
	struct acl *acl;
	int refs; /* held by requests + 1 for the cache while cached */
	bool cached;
	struct acl_cache_entry *next;
};

struct core {
	struct storage *storage;
	struct barrier *barrier;
	/* Readers: every request. Writers: seal, unseal, init, mount changes.
	 * Writer-preferring so a seal is not starved by load. */
	pthread_rwlock_t lock;

	/* Seal config and unseal progress (under unseal_mu). */
	pthread_mutex_t unseal_mu;
	bool initialized;
	int shares, threshold;
	struct share_set unseal_shares; /* shares received while sealed */
	char nonce[37];
	/* Rekey and root token generation in progress, NULL when none (rekey.c,
	 * genroot.c). Handlers change them under unseal_mu while holding lock for
	 * reading; core_pre_seal (lock held for writing) wipes them. */
	struct rekey *rekey;
	struct genroot *genroot;

	/* Mount table. Readers hold lock (read). Enabling a mount holds lock (read)
	 * and mount_mu: the new entry is written past the end and published by the
	 * atomic increment of nmounts, so concurrent readers see the old or the new
	 * table, never a half-built one. Every other change (disable, tune, remount,
	 * unseal) holds lock for writing. */
	struct mount *sys_mount; /* permanent, not in the table */
	struct mount *mounts[CORE_MAX_MOUNTS];
	_Atomic size_t nmounts;
	pthread_mutex_t mount_mu;

	/* Policies and ACL cache (under pol_mu). */
	pthread_mutex_t pol_mu;
	struct view *policy_view;
	struct acl_cache_entry *acls;

	struct view *token_view;
	struct token_store *tokens;
	struct view *core_view; /* "core/": mounts, auth tables */
	/* "cubbyhole/": every token's cubbyhole, "<token hash>/<path>" (the
	 * cubbyhole/ mount's view has the same prefix); wrap.c and the revoke
	 * hook use it */
	struct view *cubby_view;
	struct expiration *expire;
	struct reencrypt *reencrypt;

	/* What the layers above registered (core.h); fixed once unsealed. */
	struct core_hooks hooks;
	struct core_subsystem subsystems[CORE_MAX_SUBSYSTEMS];
	size_t nsubsystems;
	struct {
		const struct route *routes;
		size_t n;
	} sys_tables[CORE_MAX_SYS_TABLES];
	size_t nsys_tables;

	char cluster_name[64];
	char cluster_id[37];
	struct ha *ha; /* active/standby (ha.c); NULL on a single-node storage */
	int64_t start_time;
};

/* seal.c */
#define SEAL_CONFIG_KEY "core/seal-config"
/* Reads core/seal-config: shares, threshold, initialized (c changes only on
 * success; not found = not initialized). At start, and before the first share
 * of an unseal, so a rekey made by another node sharing the storage is seen. */
int seal_load_config(struct core *c);
/* The stored text of core/seal-config (plain JSON) into buf (96 bytes suffice). */
void seal_config_text(int shares, int threshold, char *buf, size_t len);
/* Splits key (SHARE_KEY_BYTES) into shares with threshold (the key itself when
 * shares is 1) and returns them as two new JSON arrays, hex and base64, as
 * sys/init answers them. Every intermediate copy is wiped. 0, CF_EINVAL, CF_ENOMEM. */
int seal_make_shares(const uint8_t *key, int shares, int threshold, json_t **ret_hex,
                     json_t **ret_b64);
int seal_init(struct core *c, int shares, int threshold, json_t **ret);
/* One sys/unseal call. A malformed share is refused with CF_EINVAL and the
 * reason in why, and is not counted; a share already given counts once. When
 * the threshold is reached the shares are combined and the progress is reset;
 * a wrong key gives CF_EBADKEY. */
int seal_submit(struct core *c, const char *key, bool reset, bool *ret_unsealed, char *why,
                size_t whylen);
json_t *seal_status_json(struct core *c);
void seal_reset_progress(struct core *c);
/* Parses one share given as text (share_parse) and adds it to set (share_set_add).
 * Returns 0; CF_EINVAL for a malformed share, with the reason in why; CF_EEXIST
 * when the set holds it already, or another error of share_set_add. The set is
 * unchanged on error. */
int seal_share_collect(struct share_set *set, const char *text, size_t want, char *why,
                       size_t whylen);
/* Takes one share of a quorum operation (rekey, generate-root) from the request's
 * "key", after checking its "nonce" against want_nonce, into set as
 * seal_share_collect does (len: share_len_for). Returns 0 (counted), or an error
 * with rs filled; what names the operation in the duplicate-share message. */
int seal_share_take(struct request *rq, struct response *rs, struct share_set *set, size_t len,
                    const char *want_nonce, const char *what);
/* Combines a quorum of shares into key (BARRIER_KEY_BYTES) and checks it is the
 * unseal key in use (barrier_check_unseal_key). Returns 0; CF_EBADKEY when it is
 * not, after clearing set and filling rs ("<what> progress was reset"); or
 * another error. */
int seal_share_unseal_key(struct core *c, struct response *rs, struct share_set *set, uint8_t *key,
                          const char *what);

/* rekey.c: sys/rekey/init, update and verify (Vault's /sys/rekey API). */
int rekey_sys_status(struct request *rq, struct response *rs);
int rekey_sys_start(struct request *rq, struct response *rs);
int rekey_sys_cancel(struct request *rq, struct response *rs);
int rekey_sys_update(struct request *rq, struct response *rs);
int rekey_sys_verify_status(struct request *rq, struct response *rs);
int rekey_sys_verify(struct request *rq, struct response *rs);
int rekey_sys_verify_restart(struct request *rq, struct response *rs);
/* Drops a rekey in progress, wiping its shares and keys (lock held for writing). */
void rekey_cancel(struct core *c);

/* genroot.c: sys/generate-root/attempt and update (Vault's /sys/generate-root). */
int genroot_sys_status(struct request *rq, struct response *rs);
int genroot_sys_start(struct request *rq, struct response *rs);
int genroot_sys_cancel(struct request *rq, struct response *rs);
int genroot_sys_update(struct request *rq, struct response *rs);
/* Drops a root token generation in progress (lock held for writing). */
void genroot_cancel(struct core *c);
int core_post_unseal(struct core *c);
void core_pre_seal(struct core *c);
/* metrics_sys.c: registers the core's gauge collectors and the sys/metrics
 * route (without a token when unauthenticated); core_metrics_free removes the
 * collectors. */
int core_metrics_init(struct core *c, bool unauthenticated);
void core_metrics_free(struct core *c);

/* What core_pre_seal does but seal the barrier: stops the background work and
 * unloads mounts, tokens and ACLs (lock held for writing). An HA node that stops
 * being active runs it and keeps its keys. */
void core_teardown(struct core *c);

/* ha.c: active/standby on a storage with a lock (see ha.c). ha_new starts the
 * HA thread; ha_unsealed (lock held for writing) tries the lock once and, if
 * it got it, loads what an unseal loads, then lets the HA thread try on; ha_sealing (lock held
 * for writing, before the teardown of a seal) gives the lock up. ha_standby: an
 * unsealed node that is not the active one (requests are redirected).
 * ha_step_down gives the lock up and keeps away from it for a few seconds.
 * ha_leader: whether this node is active, the active node's address and (self
 * only) since when (unix seconds); CF_ENOTFOUND when there is no active node. */
struct ha;
int ha_new(struct core *c, const char *api_addr, struct ha **ret);
void ha_free(struct ha *h);
void ha_unsealed(struct ha *h);
void ha_sealing(struct ha *h);
bool ha_standby(struct ha *h);
int ha_step_down(struct ha *h);
int ha_leader(struct ha *h, bool *ret_self, char *addr, size_t len, int64_t *ret_since);

/* mount.c */
struct mount *mount_find(struct core *c, const char *path, const char **ret_rel);
int mount_table_load(struct core *c);
int mount_table_save(struct core *c);
int mount_enable(struct core *c, const char *path, const char *type, json_t *data, bool is_auth);
/* Whether path (with its trailing '/') is kept for coffer's own use, so that
 * no engine may be mounted or remounted there: sys/, auth/, cubbyhole/ and
 * identity/ for engines, auth/token/ for auth methods. */
bool mount_path_reserved(const char *path, bool is_auth);
/* Reads a mount TTL (default_lease_ttl, max_lease_ttl) from cfg: seconds, a
 * duration, or "system" (0, the system default). Returns 0 with *ret set,
 * CF_ENOTFOUND when absent, null or "" (*ret untouched), else jsonx_duration's
 * CF_EINVAL or CF_ERANGE. */
int mount_ttl_param(json_t *cfg, const char *key, int64_t *ret);
/* Checks a mount's requested config object (sys/mounts and sys/auth enable) as
 * Vault does (api-docs/system/mounts): each TTL in range, default <= max, and
 * without a max, default <= the system max. Returns 0, or CF_EINVAL with the
 * message in rs. Nothing is changed. */
int mount_config_check(json_t *cfg, struct response *rs);
/* Checks the durations of a user_lockout_config object (enable and tune):
 * 0, or CF_EINVAL with a message naming the field in rs. */
int mount_lockout_check(json_t *lock, struct response *rs);
int mount_disable(struct core *c, const char *path, bool is_auth);
void mount_unload_all(struct core *c);
/* Calls every mounted backend's interrupt hook (core lock held). */
void mount_interrupt_all(struct core *c);
json_t *mount_entry_json(const struct mount *m);
int mount_system_new(struct core *c);
void mount_system_free(struct core *c);

/* core.c */
void core_acl_cache_clear(struct core *c);
/* The route of m that rq's path relative to m (rel) selects: m's backend table
 * first, then, on sys/, the registered tables. Fills rq's captures when rq is
 * not NULL. NULL when none matches. */
const struct route *core_route_find(struct core *c, const struct mount *m, const char *rel,
                                    struct request *rq);
int policy_store_get(struct core *c, const char *name, char **ret_text);

#endif
