/* server.h - the server's wiring: the one place that knows every layer. It
 * creates the core, registers the backend types built into coffer (engines and
 * auth methods) with the mount-type registry, and creates the audit broker, the
 * event bus, the rotation manager and the sealing keys and registers their
 * hooks, subsystems and sys route tables with the core
 * (docs/internals/core.md "Wiring"). The HTTP front end and the CLI build on
 * it; nothing below it knows it exists. */
#ifndef CF_SERVER_H
#define CF_SERVER_H

#include "core/core.h"

/* Registers the built-in backend types (kv, database, transit, userpass,
 * approle, jwt, srp) with the registry (backend/registry.h). Idempotent.
 * Returns 0 or CF_ENOMEM. */
int server_register_backends(void);

/* server_register_backends, core_new, then the subsystems in this order:
 * events, audit, rotation, sealing (each with its hooks and sys route table; core.h
 * gives the start and stop order). The core owns the subsystems: core_free
 * frees them. Returns 0 with *ret set, or a CF_E* code with nothing left
 * allocated. */
int server_core_new(const struct core_config *cfg, struct core **ret);

#endif
