/* backend.h - what every backend (secrets engine, auth method, the token store and
 * sys/) is written against: the backend type table and the mount it serves.
 *
 * A backend type (kv, token, system, transit, ...) is a const table: its routes
 * and an optional per-mount state created when the mount is loaded (at enable
 * and at every unseal) and destroyed at seal/disable. */
#ifndef CF_BACKEND_H
#define CF_BACKEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/request.h"

struct view;
struct mount;

struct backend_type {
	const char *type; /* as listed in sys/mounts: "kv", "token", "system", ... */
	const struct route *routes;
	size_t nroutes;
	/* Optional: create per-mount state (rq->mount->state in handlers). */
	int (*init)(struct mount *m, struct core *c);
	void (*cleanup)(struct mount *m);
	/* Optional lease hooks, for backends that set rs->secret. internal is that
	 * object as it was stored. Both are called by the expiration manager outside
	 * any request, from its worker threads, with the core lock held for reading
	 * (the mount and its state are valid). Return 0 or a CF_E* code; a failed
	 * revoke is retried with backoff and the lease kept until it succeeds, so a
	 * revoke must be idempotent (dropping an already dropped user succeeds). */
	int (*lease_revoke)(struct mount *m, json_t *internal);
	/* The lease now expires at new_expire (unix seconds): extend the secret. */
	int (*lease_renew)(struct mount *m, json_t *internal, int64_t new_expire);
	/* Optional: the server is about to seal; make every operation in flight on
	 * an external system (a database) give up quickly. Later calls work again.
	 * Called with the core lock held for reading. */
	void (*interrupt)(struct mount *m);
};

struct mount {
	char *path; /* "secret/" or "auth/token/" */
	char *type; /* "kv" */
	char *description;
	char uuid[37];
	char accessor[48];         /* "kv_1a2b3c4d" */
	json_t *options;           /* object of strings (e.g. {"version":"2"}) or NULL */
	int64_t default_lease_ttl; /* seconds, 0 = inherit system 768h */
	int64_t max_lease_ttl;
	bool local, seal_wrap, is_auth;
	json_t *extra_config; /* other config keys kept for listing */
	const struct backend_type *bt;
	struct view *view; /* logical/<uuid>/ or auth/<uuid>/ */
	void *state;       /* backend's, from bt->init */
	/* References: the mount table holds one; code that uses the mount without
	 * the core lock (lease revocation) holds another. The last one frees it. */
	_Atomic int refs;
};

void mount_ref(struct mount *m);
/* Drops a reference; the last one runs the backend's cleanup and frees. */
void mount_unref(struct mount *m);

/* Effective TTLs (mount's, else the system's 768h). */
int64_t mount_default_ttl(const struct mount *m);
int64_t mount_max_ttl(const struct mount *m);

#define SYSTEM_DEFAULT_TTL 2764800 /* 768h */

/* The system's lease TTLs, which mounts without their own fall back to:
 * SYSTEM_DEFAULT_TTL each unless the server's config file sets
 * default_lease_ttl / max_lease_ttl. Set once at start, before the core is
 * made; 0 keeps a value as it is. */
void mount_set_system_ttls(int64_t def, int64_t max);
int64_t system_default_ttl(void);
int64_t system_max_ttl(void);

#endif
