/* server.c - the wiring: core, backend types, subsystems (server.h). */
#include "server/server.h"

#include "audit/audit.h"
#include "auth/approle/approle.h"
#include "auth/jwt/jwt.h"
#include "auth/srp/srp.h"
#include "auth/userpass/userpass.h"
#include "backend/registry.h"
#include "engines/cubbyhole/cubbyhole.h"
#include "engines/database/database.h"
#include "engines/kv/kv.h"
#include "engines/pki/pki.h"
#include "engines/transit/transit.h"
#include "events/events.h"
#include "lib/err.h"
#include "rotation/rotation.h"
#include "sealing/sealing.h"

#include <stddef.h>

/* The engines and auth methods built into coffer. "kv" picks v2 or v1 by
 * options.version; "generic", KV's name before Vault 0.8, is its alias (Vault's
 * mountAliases), and "oidc" is the JWT method's second name, as in Vault. */
static const struct backend_entry builtin_types[] = {
        {"kv", BACKEND_ENGINE, &kv_v2_backend, "version", "2"},
        {"kv", BACKEND_ENGINE, &kv_v1_backend, NULL, NULL},
        {"generic", BACKEND_ENGINE, &kv_v2_backend, "version", "2"},
        {"generic", BACKEND_ENGINE, &kv_v1_backend, NULL, NULL},
        {"cubbyhole", BACKEND_ENGINE, &cubbyhole_backend, NULL, NULL},
        {"database", BACKEND_ENGINE, &database_backend, NULL, NULL},
        {"transit", BACKEND_ENGINE, &transit_backend, NULL, NULL},
        {"pki", BACKEND_ENGINE, &pki_backend, NULL, NULL},
        {"userpass", BACKEND_AUTH, &userpass_backend, NULL, NULL},
        {"approle", BACKEND_AUTH, &approle_backend, NULL, NULL},
        {"jwt", BACKEND_AUTH, &jwt_backend, NULL, NULL},
        {"oidc", BACKEND_AUTH, &jwt_backend, NULL, NULL},
        {"srp", BACKEND_AUTH, &srp_backend, NULL, NULL},
};

int
server_register_backends(void)
{
	return backend_register(builtin_types, sizeof(builtin_types) / sizeof(builtin_types[0]));
}

/* The subsystems, in start order. The event bus comes first so the audit
 * devices it loads next can report tampering, and stops last so every event
 * raised while the others stop is still stored. */
static const struct {
	int (*create)(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks);
	const struct route *routes;
	const size_t *nroutes;
} subsystems[] = {
        {events_subsystem_new, events_sys_routes, &events_sys_nroutes},
        {audit_subsystem_new, audit_sys_routes, &audit_sys_nroutes},
        {rotation_subsystem_new, rotation_sys_routes, &rotation_sys_nroutes},
        {sealing_subsystem_new, sealing_sys_routes, &sealing_sys_nroutes},
};

int
server_core_new(const struct core_config *cfg, struct core **ret)
{
	struct core_hooks hooks = {0};
	struct core *c = NULL;
	int r;

	r = server_register_backends();
	if (r < 0)
		return r;
	r = core_new(cfg, &c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(subsystems) / sizeof(subsystems[0]); i++) {
		struct core_subsystem s;
		r = subsystems[i].create(c, &s, &hooks);
		if (r < 0)
			goto fail;
		r = core_register_subsystem(c, &s);
		if (r < 0) {
			s.free(s.arg);
			goto fail;
		}
		r = core_register_sys_routes(c, subsystems[i].routes, *subsystems[i].nroutes);
		if (r < 0)
			goto fail;
	}
	core_set_hooks(c, &hooks);
	*ret = c;
	return 0;
fail:
	core_free(c);
	return r;
}
