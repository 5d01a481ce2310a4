/* core.h - the coffer core: seal state, mounts, policies, tokens, and the
 * request ladder: sealed? -> token -> ACL -> audit(request) -> route ->
 * audit(response).
 *
 * The core knows nothing of the layers above it (audit, events, rotation): they
 * register hooks, subsystems and sys route tables with it (core_set_hooks,
 * core_register_subsystem, core_register_sys_routes), and the core calls only
 * what was registered. The server's wiring (src/server/) does the registering;
 * see docs/internals/core.md "Hooks and subsystems".
 *
 * Thread safety: core_handle may be called from many threads at once. */
#ifndef CF_CORE_H
#define CF_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/request.h"
#include "core/event.h"

struct storage;
struct barrier;
struct token_store;
struct acl;

struct core;

struct core_config {
	const char *storage_spec; /* "memory:" / "sqlite:PATH" */
	const char *cluster_name;
	bool unauthenticated_metrics; /* sys/metrics without a token */

	/* The URL clients reach this node at: advertised to the others when it is
	 * the active node of an HA group (a storage with a lock, postgres). */
	const char *api_addr;
};

/* GET sys/metrics?format=prometheus (src/core/metrics_sys.c), as the core
 * registers it after its own sys/ rows when unauthenticated_metrics is off
 * (on: the same row, without a token and not audited). For docs/api.md. */
extern const struct route core_metrics_routes[];
extern const size_t core_metrics_nroutes;

int core_new(const struct core_config *cfg, struct core **ret);
/* Seals (wipes keys), stops background work, closes storage. */
void core_free(struct core *c);

/* Runs one request through the ladder. Always fills rs (errors included).
 * Never fails: the return value is the HTTP status to answer with. */
int core_handle(struct core *c, struct request *rq, struct response *rs);
/* The same, for a handler that issues requests of its own while serving one
 * (transit rewrap-kv): runs under the core lock the calling request already
 * holds. R_EXCLUSIVE routes (seal, mounts) are refused with 405. */
int core_handle_nested(struct core *c, struct request *rq, struct response *rs);

/* Answers a request that the front end refuses before the ladder (a malformed
 * path, body or header, an unsupported method): rs gets status and the error msg
 * (NULL: an empty error list), and the request and its error are audited like
 * any refused request (token HMAC'd; not while sealed). Returns the status to
 * answer with: status, or 500 when audit devices are enabled and none could
 * record the refusal. rq->path may be the raw path (the audit log escapes bytes
 * that are not UTF-8). */
int core_refuse(struct core *c, struct request *rq, struct response *rs, int status,
                const char *msg);

/* Dev mode: initialize with one share, unseal, mount kv v2 at secret/, and create
 * a root token with the given id (or a random one). *ret_root is malloc'd. The
 * "kv" type must be in the mount-type registry (server_core_new registers it),
 * else CF_EUNSUPPORTED. */
int core_dev_setup(struct core *c, const char *root_token, char **ret_root, char **ret_unseal_b64);

bool core_sealed(struct core *c);
/* Whether a write started now would wait behind a slow storage commit in progress
 * (storage_write_busy): the HTTP front end then runs it off its pool thread. */
bool core_write_busy(struct core *c);
int core_seal(struct core *c);

/* For subsystems outside src/core that run their own threads (rotation): take
 * the core lock for reading, waiting at most timeout_ms (false on timeout, so a
 * thread can look at its stop flag while a seal waits for the lock), and
 * release it. While held, issue requests with core_handle_nested. */
bool core_lock_shared(struct core *c, int timeout_ms);
void core_unlock_shared(struct core *c);

/* ---- hooks: what the core calls in the layers above it ---- */

/* Every hook is optional: a NULL hook does nothing and succeeds, so a core with
 * nothing registered serves requests unaudited and drops events. Each group
 * has its own argument (the audit broker, the event bus, the rotation manager).
 * Hooks are called with the core lock held (for reading, or for writing on
 * R_EXCLUSIVE routes) and must not take it. */
struct core_hooks {
	void *audit;
	/* The request entry, before the handler. 0, or CF_EAUDIT when devices are
	 * enabled and none could record it (the core then answers 500). */
	int (*audit_request)(void *audit, struct request *rq);
	/* The same for an R_PURE_READ read: may return before the entry is
	 * written; audit_confirm must then succeed before the answer is sent. */
	int (*audit_request_pending)(void *audit, struct request *rq);
	int (*audit_confirm)(void *audit, struct request *rq);
	/* The response entry (its result is not checked: the handler ran). */
	int (*audit_response)(void *audit, struct request *rq, struct response *rs);
	/* A request refused before its handler; CF_EAUDIT as audit_request. */
	int (*audit_refused)(void *audit, struct request *rq, struct response *rs, bool denied);
	/* A record that is not a request (rotation.compromise); as audit_request. */
	int (*audit_record)(void *audit, const char *type, json_t *fields);

	void *events;
	/* Stores and delivers an event; fills ret_id when not NULL. 0 or CF_E*. */
	int (*event_emit)(void *events, const struct event *e, char ret_id[37]);

	void *observer;
	/* After every handler that answered a read with data (adoption tracking).
	 * Must return quickly and never write storage. */
	void (*read_observed)(void *observer, const struct request *rq, const struct response *rs);
};

/* Replaces the core's hooks with a copy of h (before the core is unsealed;
 * not thread-safe). */
void core_set_hooks(struct core *c, const struct core_hooks *h);

/* Hands e to the event hook. Returns its result, or 0 when none is registered. */
int core_emit_event(struct core *c, const struct event *e, char ret_id[37]);
/* Hands an audit record to the audit_record hook; 0 when none is registered. */
int core_audit_record(struct core *c, const char *type, json_t *fields);

/* ---- subsystems: background work that lives while the core is unsealed ---- */

/* start runs after every unseal, once the mounts are loaded and the core's own
 * workers (expiration, re-encryption) run; a failure is logged and the unseal
 * goes on. stop runs before every seal, before the core's own workers stop.
 * Both run with the core lock held for writing; stop must also work on a
 * subsystem that never started (sys/init seals the barrier it has just set
 * up). Subsystems start in the order
 * they were registered and stop in the reverse order. free (optional) runs at
 * core_free, after the last stop. */
struct core_subsystem {
	const char *name; /* "audit", "events", "rotation": core_subsystem() finds it */
	int (*start)(struct core *c, void *arg);
	void (*stop)(struct core *c, void *arg);
	void (*free)(void *arg);
	void *arg;
};

#define CORE_MAX_SUBSYSTEMS 8

/* Registers a copy of s (before the core is unsealed; not thread-safe). Returns
 * 0, CF_EEXIST for a name already registered, or CF_ENOMEM when the table is
 * full; on error s->arg stays the caller's. */
int core_register_subsystem(struct core *c, const struct core_subsystem *s);
/* The arg of the subsystem registered under name, or NULL. */
void *core_subsystem(struct core *c, const char *name);

/* Adds a route table to sys/ (borrowed: it must outlive the core). The system
 * backend's own routes are matched first, then the registered tables in the
 * order they were added; the first match wins. Before the core is unsealed;
 * not thread-safe. Returns 0 or CF_ENOMEM when CORE_MAX_SYS_TABLES are in use. */
#define CORE_MAX_SYS_TABLES 8
int core_register_sys_routes(struct core *c, const struct route *routes, size_t n);

/* The barrier (storage through encryption), for the subsystems' own views. */
struct barrier *core_barrier(struct core *c);
/* The token store (the token backend and the sys/ token handlers). */
struct token_store *core_tokens(struct core *c);
/* Builds (or returns a cached) ACL for a normalized policy list. The result is
 * reference counted: *ret_ref is the reference to give back to core_acl_put. */
int core_acl_get(struct core *c, json_t *policies, struct acl **ret, void **ret_ref);
void core_acl_put(struct core *c, void *ref);
/* True when policy name exists (root, default, or stored). */
bool core_policy_exists(struct core *c, const char *name);

/* The core's own backend types: sys/ and auth/token/ (always mounted). */
extern const struct backend_type system_backend;
extern const struct backend_type token_backend;

#endif
