/* mount.h - mount table entries and the backend type table.
 *
 * A backend type (kv, token, system, transit, ...) is a const table: its routes
 * and an optional per-mount state created when the mount is loaded (at enable
 * and at every unseal) and destroyed at seal/disable. */
#ifndef CF_MOUNT_H
#define CF_MOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/request.h"

struct view;
struct mount;

struct backend_type {
	const char *type; /* as listed in sys/mounts: "kv", "token", "system", ... */
	const struct route *routes;
	size_t nroutes;
	/* Optional: create per-mount state (rq->mount->state in handlers). */
	int (*init)(struct mount *m, struct core *c);
	void (*cleanup)(struct mount *m);
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
};

/* Effective TTLs (mount's, else the system's 768h). */
int64_t mount_default_ttl(const struct mount *m);
int64_t mount_max_ttl(const struct mount *m);

/* Registered backend types, defined by each engine. KV registers two:
 * kv_v1_backend and kv_v2_backend; the core picks one from options.version. */
extern const struct backend_type kv_v1_backend;
extern const struct backend_type kv_v2_backend;
extern const struct backend_type token_backend;
extern const struct backend_type system_backend;

#define SYSTEM_DEFAULT_TTL 2764800 /* 768h */

#endif
