/* audit.h - the audit broker and the file device (vault-api.md §2.7, §9).
 *
 * Every audited request gets a "request" entry before it is executed and a
 * "response" entry after; if devices are enabled and none could record the
 * request entry, the request fails with CF_EAUDIT (no unaudited access).
 * Sensitive strings are written as "hmac-sha256:<hex>" with the device's salt.
 *
 * Beyond Vault: each line of a file device carries "prev_hash": the hex SHA-256 of
 * the previous line (without its trailing newline) — the first line of a file
 * carries the hash of "" — and "seq" (1-based), so `coffer audit verify FILE`
 * reports the first edited, removed or reordered line.
 *
 * Thread safety: all functions may be called concurrently. */
#ifndef CF_AUDIT_H
#define CF_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/request.h"

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

/* Handlers of the system backend's audit routes (the core's sys.c routes them;
 * rq->cap[0] is the device path without its trailing '/'):
 *   GET  sys/audit              -> audit_sys_list   (map "<path>/" -> device info)
 *   PUT  sys/audit/<path>       -> audit_sys_enable (type, description, options, local)
 *   DELETE sys/audit/<path>     -> audit_sys_disable
 *   POST sys/audit-hash/<path>  -> audit_sys_hash   ({"hash":"hmac-sha256:<hex>"})
 * The broker is core_audit(rq->core). */
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

/* Offline chain check. Returns 0 when intact (sets *ret_line to the number of
 * lines verified), else CF_EINVAL with *ret_line = first bad line (1-based) and a
 * message. CF_EIO when the file cannot be read. */
int audit_verify_file(const char *path, long *ret_line, char *msg, size_t msglen);

#endif
