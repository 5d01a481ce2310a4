/* kv.h - the KV secrets engine (Vault's KV v1 and v2 APIs): its two backend types.
 * Mounted through the mount-type registry (backend/registry.h); the server's
 * wiring (src/server/server.c) registers it. */
#ifndef CF_KV_H
#define CF_KV_H

#include "backend/backend.h"

extern const struct backend_type kv_v1_backend;
extern const struct backend_type kv_v2_backend;

#endif
