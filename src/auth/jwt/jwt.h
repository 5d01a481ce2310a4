/* jwt.h - the JWT/OIDC auth method (Vault's JWT auth API): its backend type.
 * Mounted through the mount-type registry (backend/registry.h); the server's
 * wiring (src/server/server.c) registers it. */
#ifndef CF_JWT_H
#define CF_JWT_H

#include "backend/backend.h"

extern const struct backend_type jwt_backend;

#endif
