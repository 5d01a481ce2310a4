/* transit.h - the transit secrets engine (Vault's transit API): its backend type.
 * Mounted through the mount-type registry (backend/registry.h); the server's
 * wiring (src/server/server.c) registers it. */
#ifndef CF_TRANSIT_H
#define CF_TRANSIT_H

#include "backend/backend.h"

extern const struct backend_type transit_backend;

#endif
