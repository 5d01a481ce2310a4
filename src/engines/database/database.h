/* database.h - the database secrets engine (Vault's database API): its backend type.
 * Mounted through the mount-type registry (backend/registry.h); the server's
 * wiring (src/server/server.c) registers it. */
#ifndef CF_DATABASE_H
#define CF_DATABASE_H

#include "backend/backend.h"

extern const struct backend_type database_backend;

#endif
