/* pki.h - the pki secrets engine (Vault's PKI API, docs/pki.md): its backend
 * type. Mounted through the mount-type registry (backend/registry.h); the
 * server's wiring (src/server/server.c) registers it. */
#ifndef CF_PKI_H
#define CF_PKI_H

#include "backend/backend.h"

extern const struct backend_type pki_backend;

#endif
