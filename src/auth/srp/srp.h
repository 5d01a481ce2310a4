/* srp.h - the SRP auth method (docs/internals/auth.md): its backend type.
 * Mounted through the mount-type registry (backend/registry.h); the server's
 * wiring (src/server/server.c) registers it. */
#ifndef CF_SRP_H
#define CF_SRP_H

#include "backend/backend.h"

extern const struct backend_type srp_backend;

#endif
