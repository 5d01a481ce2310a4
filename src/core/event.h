/* event.h - one event, as the core and the subsystems above it raise it
 * (lease.revoked, rotation.completed, audit.tampered, ...). The core hands it
 * to the event hook registered with it (core_emit_event in core.h); the event
 * bus in src/events/ stores and delivers it (docs/internals/events.md). */
#ifndef CF_EVENT_H
#define CF_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum event_severity { EV_INFO, EV_WARNING, EV_CRITICAL };

/* One event. Strings may be NULL (omitted); version numbers 0 = omitted.
 * Events never carry secret values. */
struct event {
	const char *type; /* "rotation.completed", "lease.revoked", ... (required) */
	const char *job, *mount, *path, *reason;
	int64_t version, previous_version;
	enum event_severity severity;
	bool force;    /* secret.compromised: consumers must re-read now */
	json_t *extra; /* more fields (borrowed, may be NULL): e.g. "laggards" */
};

#endif
