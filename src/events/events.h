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

#include "backend/field.h"
#include "backend/request.h"
#include "core/event.h"

struct core;
struct events;

struct core_hooks;
struct core_subsystem;
struct route;

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

/* The event bus as a core subsystem: creates it (events_new), fills *ret (name
 * "events": events_start at unseal, events_stop at seal, events_free at
 * core_free) and the event hook of *hooks (the other hooks untouched). The
 * caller registers both; until *ret is registered, free it with
 * ret->free(ret->arg). 0 or CF_ENOMEM. */
int events_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks);
/* The bus of the "events" subsystem registered with c, or NULL. */
struct events *events_of(struct core *c);
/* The sys/ routes below, for core_register_sys_routes. */
extern const struct route events_sys_routes[];
extern const size_t events_sys_nroutes;

/* Handlers of the sys routes (events_sys_routes; the core has checked
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
/* The parameters of a webhook write, for field_parse and the API docs. */
extern const struct field events_webhook_fields[];
int events_sys_webhook_read(struct request *rq, struct response *rs);
int events_sys_webhook_write(struct request *rq, struct response *rs);
int events_sys_webhook_delete(struct request *rq, struct response *rs);
int events_sys_webhook_exists(struct request *rq, bool *ret_exists);
int events_sys_subscribe(struct request *rq, struct response *rs);
/* POST sys/events/test (events_send_test.c): emits a test.* event. */
int events_send_test(struct request *rq, struct response *rs);

#endif
