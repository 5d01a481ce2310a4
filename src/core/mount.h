/* mount.h - the backend types built into coffer and the run-time registry.
 *
 * A backend type (kv, token, system, transit, ...) is a const table: its routes
 * and an optional per-mount state created when the mount is loaded (at enable
 * and at every unseal) and destroyed at seal/disable. */
#ifndef CF_MOUNT_H
#define CF_MOUNT_H

#include "backend/backend.h"

/* Registered backend types, defined by each engine. KV registers two:
 * kv_v1_backend and kv_v2_backend; the core picks one from options.version. */
extern const struct backend_type kv_v1_backend;
extern const struct backend_type kv_v2_backend;
extern const struct backend_type token_backend;
extern const struct backend_type system_backend;
extern const struct backend_type database_backend;
extern const struct backend_type transit_backend;
/* Auth methods (src/auth/<name>/). */
extern const struct backend_type userpass_backend;
extern const struct backend_type approle_backend;
extern const struct backend_type jwt_backend;
extern const struct backend_type srp_backend;

/* Adds a secrets engine type at run time (before it is mounted; not thread-safe).
 * For unit tests of the core; the built-in types are listed in mount.c. */
int mount_register_type(const struct backend_type *bt);

#endif
