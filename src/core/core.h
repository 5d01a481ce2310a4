/* core.h - the coffer core: seal state, mounts, policies, tokens, audit, and the
 * request ladder: sealed? -> token -> ACL -> audit(request) -> route ->
 * audit(response).
 *
 * Thread safety: core_handle may be called from many threads at once. */
#ifndef CF_CORE_H
#define CF_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/request.h"

struct storage;
struct barrier;
struct token_store;
struct audit_broker;
struct acl;

struct core;

struct core_config {
	const char *storage_spec; /* "memory:" / "sqlite:PATH" */
	const char *cluster_name;
};

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
 * a root token with the given id (or a random one). *ret_root is malloc'd. */
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

/* Raises the critical audit.tampered event for an audit device whose file was
 * found truncated or altered (path "<name>/", reason). Logs when it cannot. */
void core_audit_tampered(struct core *c, const char *path, const char *reason);

/* For backends: */
struct rotation *core_rotation(struct core *c);
struct events *core_events(struct core *c);
struct barrier *core_barrier(struct core *c);
struct token_store *core_tokens(struct core *c);
struct audit_broker *core_audit(struct core *c);
/* Builds (or returns a cached) ACL for a normalized policy list. The result is
 * reference counted: *ret_ref is the reference to give back to core_acl_put. */
int core_acl_get(struct core *c, json_t *policies, struct acl **ret, void **ret_ref);
void core_acl_put(struct core *c, void *ref);
/* True when policy name exists (root, default, or stored). */
bool core_policy_exists(struct core *c, const char *name);

#endif
