/* events.h - coffer's event bus (docs/internals/rotation.md "Events and notifications"):
 * a durable outbox in storage, webhook delivery with retries, and the
 * server-sent event stream sys/events/subscribe.
 *
 * Producers (rotation manager, expiration manager) call events_emit(); it stores
 * the event in the outbox (through the barrier) before returning, so a restart
 * loses none, and wakes the delivery worker. Events never carry secret values. */
#ifndef CF_EVENTS_H
#define CF_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct core;
struct events;

enum event_severity { EV_INFO, EV_WARNING, EV_CRITICAL };

/* One event. Strings may be NULL (omitted); version numbers 0 = omitted. */
struct event {
	const char *type; /* "rotation.completed", "lease.revoked", ... (required) */
	const char *job, *mount, *path, *reason;
	int64_t version, previous_version;
	enum event_severity severity;
	bool force;    /* secret.compromised: consumers must re-read now */
	json_t *extra; /* more fields (borrowed, may be NULL): e.g. "laggards" */
};

int events_new(struct core *c, struct events **ret);
void events_free(struct events *ev);
/* After unseal / before seal (core lock held for writing). */
int events_start(struct events *ev);
void events_stop(struct events *ev);

/* Stores the event in the outbox and schedules its delivery. Fills ret_id (the
 * event's uuid) when not NULL. Returns 0 or a CF_E* code (storage). Safe from any
 * thread; never called with the events lock held. */
int events_emit(struct events *ev, const struct event *e, char ret_id[37]);
/* events_emit, and sets *ret_queued (when not NULL) to the number of webhooks
 * whose filters the event matched, each with a delivery queued. */
int events_emit_queued(struct events *ev, const struct event *e, char ret_id[37],
                       size_t *ret_queued);

/* Handlers of the sys routes (src/core/sys.c's table; the core has checked
 * token, policy and seal state):
 *   notify/webhooks, notify/webhooks/    LIST: data.keys
 *   notify/webhooks/+                    PUT/GET/DELETE {url, secret, types, jobs,
 *                                        min_severity, format}; GET never returns the
 *                                        secret (has_secret instead)
 *   events/subscribe                     GET: the SSE stream (rs->stream)
 *   events/test                          POST {type: "test.*", ...}: emits a test event
 *                                        (sudo: an operator's check of webhook wiring);
 *                                        answers {id, type, queued: webhooks matched} */
struct request;
struct response;
int events_sys_webhooks_list(struct request *rq, struct response *rs);
int events_sys_webhook(struct request *rq, struct response *rs);
int events_sys_webhook_exists(struct request *rq, bool *ret_exists);
int events_sys_subscribe(struct request *rq, struct response *rs);
/* POST sys/events/test (events_send_test.c): emits a test.* event. */
int events_send_test(struct request *rq, struct response *rs);

#endif
