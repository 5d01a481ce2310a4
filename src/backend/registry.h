/* registry.h - the mount-type registry: which backend type serves a mount of a
 * given type. A table of entries filled at start (the core adds its own types,
 * the server's wiring the engines and auth methods, src/server/server.c), read
 * by the core whenever a mount is enabled or loaded (docs/internals/core.md
 * "The mount-type registry"). */
#ifndef CF_REGISTRY_H
#define CF_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>

#include "backend/backend.h"

enum backend_kind {
	BACKEND_ENGINE, /* mounted with sys/mounts */
	BACKEND_AUTH,   /* mounted with sys/auth */
};

/* One entry. Several may share a name: the first whose option matches wins,
 * in registration order (kv: {"kv", "version", "2"} -> kv_v2, then {"kv"} ->
 * kv_v1). An alias is one more entry with the same backend type ("oidc" ->
 * jwt, "generic" -> kv). */
struct backend_entry {
	const char *name; /* the type as given to sys/mounts or sys/auth */
	enum backend_kind kind;
	const struct backend_type *bt;
	/* Optional: the entry applies only when the mount's options[option] is the
	 * string value (a mount without options never matches). */
	const char *option, *value;
};

#define BACKEND_MAX_ENTRIES 64

/* Adds the entries of a table (borrowed: static tables that outlive every
 * core). An entry already registered (the same address) is skipped, so this
 * is idempotent. Called at start, before any core serves requests (not
 * thread-safe against backend_type_find). Returns 0, or CF_ENOMEM when the
 * registry is full (nothing added then). */
int backend_register(const struct backend_entry *entries, size_t n);

/* The i-th entry in registration order, or NULL past the last (for tools that
 * list what is registered: tools/apidoc). */
const struct backend_entry *backend_entry_at(size_t i);

/* The backend type registered for a mount of this type, kind (is_auth) and
 * options (an object of strings, or NULL), or NULL when none is. */
const struct backend_type *backend_type_find(const char *type, json_t *options, bool is_auth);

#endif
