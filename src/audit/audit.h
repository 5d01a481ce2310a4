/* audit.h - the audit broker and the file device (Vault's sys/audit, Vault's file audit device
 * format).
 *
 * Every audited request gets a "request" entry before it is executed and a
 * "response" entry after; if devices are enabled and none could record the
 * request entry, the request fails with CF_EAUDIT (no unaudited access).
 * Sensitive strings are written as "hmac-sha256:<hex>" with the device's salt.
 *
 * Requests refused before their handler (no token, bad token, denied, unknown
 * path, malformed input) are logged too, with their error (audit_log_refused).
 *
 * Beyond Vault: each line of a file device carries "seq" (1-based) and
 * "prev_hash", a keyed HMAC-SHA-256 of the previous line; signed checkpoint lines
 * let `coffer audit verify --public-key=KEY FILE` prove offline that no line up to
 * the last checkpoint was edited, removed or reordered (docs/internals/audit.md).
 * The server stores each device's last checkpoint and refuses to append to a file
 * whose tail no longer matches it (the device is then "tampered").
 *
 * Thread safety: all functions may be called concurrently. */
#ifndef CF_AUDIT_H
#define CF_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/field.h"
#include "backend/request.h"

struct request;
struct response;
struct view;
struct audit_broker;

/* The broker persists its device table (with salts) in v ("core/audit" etc). */
int audit_broker_new(struct view *v, struct audit_broker **ret);
void audit_broker_free(struct audit_broker *ab);
/* Loads the device table from storage and opens every device (at unseal). */
int audit_broker_load(struct audit_broker *ab);
/* Closes devices and wipes salts (at seal). */
void audit_broker_unload(struct audit_broker *ab);
bool audit_broker_enabled(struct audit_broker *ab);

int audit_log_request(struct audit_broker *ab, struct request *rq);
/* For a request that changes nothing (route flag R_PURE_READ): the request entry
 * is queued on every device without waiting for its write, so the handler runs
 * while other requests' writes carry it; audit_confirm_request must then be
 * called before any of the answer leaves the server. It returns 0 once at least
 * one device wrote the entry (writing or waiting as needed), CF_EAUDIT when none
 * did: the caller then answers 500 instead of the handler's answer, so nothing
 * is disclosed that the audit log does not show. Returns as audit_log_request. */
int audit_log_request_pending(struct audit_broker *ab, struct request *rq);
int audit_confirm_request(struct audit_broker *ab, struct request *rq);
int audit_log_response(struct audit_broker *ab, struct request *rq, struct response *rs);
/* A request refused before its handler ran (rs holds the status and error):
 * its request entry and its response entry, both with the error, on every
 * device; the caller's token HMAC'd as usual, "policy_results" "allowed": false
 * when the refusal is CF_EDENIED (denied). Returns 0 when a device recorded them
 * or none is enabled, CF_EAUDIT when devices are enabled and none could (the
 * caller then answers 500: no unaudited access). */
int audit_log_refused(struct audit_broker *ab, struct request *rq, struct response *rs,
                      bool denied);
/* The tampered devices found at load: [{"path": "<path>/", "error": "..."}], or
 * NULL when there are none (caller frees). */
json_t *audit_broker_tampered(struct audit_broker *ab);

struct core;
struct core_hooks;
struct core_subsystem;
struct route;

/* The audit broker as a core subsystem (audit_sys.c): creates a broker on the
 * core's "core/audit/" view, fills *ret (name "audit": loads the devices at
 * unseal, raising audit.tampered for a device found altered, closes them at
 * seal, frees the broker at core_free) and the audit hooks of *hooks (the
 * other hooks untouched). The caller registers both with the core; until
 * *ret is registered, free it with ret->free(ret->arg). 0 or CF_ENOMEM. */
int audit_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks);
/* The sys/ routes below, for core_register_sys_routes. */
extern const struct route audit_sys_routes[];
extern const size_t audit_sys_nroutes;

/* Handlers of the audit routes of sys/ (audit_sys_routes;
 * rq->cap[0] is the device path without its trailing '/'):
 *   GET  sys/audit              -> audit_sys_list   (map "<path>/" -> device info)
 *   PUT  sys/audit/<path>       -> audit_sys_enable (type, description, options, local)
 *   DELETE sys/audit/<path>     -> audit_sys_disable
 *   POST sys/audit-hash/<path>  -> audit_sys_hash   ({"hash":"hmac-sha256:<hex>"})
 *   GET  sys/audit/<path>/public-key -> audit_sys_public_key (no token needed)
 *   GET|POST sys/audit-verify/<path> -> audit_sys_verify (sudo)
 * The broker is the one of the "audit" subsystem registered with the core. */
int audit_sys_public_key(struct request *rq, struct response *rs);
int audit_sys_verify(struct request *rq, struct response *rs);
int audit_sys_list(struct request *rq, struct response *rs);
int audit_sys_enable(struct request *rq, struct response *rs);
int audit_sys_disable(struct request *rq, struct response *rs);
int audit_sys_hash(struct request *rq, struct response *rs);

/* The operations behind the handlers, for callers that hold the broker (tests):
 * enable: params is the request body ({type, description, options, local});
 *   returns 0, CF_EINVAL / CF_EUNSUPPORTED with the reason in rs->errors (bad type
 *   or option, path already in use, sink cannot be opened), CF_ENOMEM, or a
 *   storage error from persisting the table.
 * disable: 0 also when path is unknown; a storage error keeps the device.
 * hash: *ret_hash is "hmac-sha256:<hex>" of input with the device's salt
 *   (malloc'd, caller frees); CF_ENOTFOUND for an unknown device.
 * list: a new object "<path>/" -> {type, description, options, local, path}, or
 *   NULL on ENOMEM.
 * path may be given with or without its trailing '/'. */
/* The parameters of enable (sys/audit/<path>'s body), for field_parse and the
 * API docs (backend/field.h). */
extern const struct field audit_enable_fields[];
int audit_broker_enable(struct audit_broker *ab, const char *path, json_t *params,
                        struct response *rs);
int audit_broker_disable(struct audit_broker *ab, const char *path);
int audit_broker_hash(struct audit_broker *ab, const char *path, const char *input,
                      char **ret_hash);
json_t *audit_broker_list(struct audit_broker *ab);

/* An extra record that is not a request or a response (rotation.compromise):
 * {"time": ..., "type": type, <fields>...} written to every device, the fields
 * as given (not HMAC'd: the caller passes nothing secret, e.g. a compromise
 * reason). Returns 0 when a device recorded it or none is enabled, CF_EAUDIT
 * when devices are enabled and none could. */
int audit_log_record(struct audit_broker *ab, const char *type, json_t *fields);

/* The device's Ed25519 public key, base64 (malloc'd, caller frees);
 * CF_ENOTFOUND for an unknown device. */
int audit_broker_public_key(struct audit_broker *ab, const char *path, char **ret_b64);
/* Verifies the device's live file with its keys, up to the last line written,
 * whose chain value must be the one the server holds: so lines removed from the
 * end are found even after the last checkpoint. *ret is {"ok": bool, "lines",
 * "last_checkpoint_seq", "error", "line"}; when not ok the device is marked
 * tampered (nothing more is appended to the file). CF_ENOTFOUND for an unknown
 * device, CF_EINVAL (reason in rs) for a device that cannot be checked. */
int audit_broker_verify(struct audit_broker *ab, const char *path, json_t **ret,
                        struct response *rs);

/* What the offline check found. */
struct audit_verify_report {
	long lines;         /* lines read */
	long bad_line;      /* the first bad line on failure */
	bool authenticated; /* a public key was given and every checkpoint verified */
	long preamble;      /* lines before the first chain start (not verified) */
	long other;         /* lines of chains of another key (not verified) */
	long unverified;    /* lines after the last checkpoint (not covered) */
	long first_unverified;
	long last_cp_line; /* position of the last checkpoint (0: none) */
	uint64_t last_cp_seq;
	bool last_cp_final; /* the chain ends with a final checkpoint */
	char msg[512];
};

/* Offline check of a file device's log (audit_verify.c). public_key (base64 or
 * hex, may be NULL) authenticates the checkpoints; allow_partial accepts lines
 * after the last checkpoint. Returns 0 when intact, CF_EINVAL with bad_line and
 * msg on the first failure, CF_EIO when the file cannot be read (msg), and
 * CF_EUNSUPPORTED for a malformed public key. */
int audit_verify_file(const char *path, const char *public_key, bool allow_partial,
                      struct audit_verify_report *ret);

#endif
