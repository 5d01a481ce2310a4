/* events_send_test.c - POST sys/events/test (sudo): emits an event of a `test.*`
 * type through the whole pipeline (outbox, webhooks, SSE), so an operator can
 * check that a receiver is wired up and verifies signatures, the way
 * notification systems offer a "send test notification" button. It can never
 * forge a rotation, lease or compromise event. The answer says how many
 * webhooks it was queued for: a test event goes through the same filters
 * (types, jobs, min_severity) as every other event. */
#include "core/core.h"
#include "backend/request.h"
#include "events/events_int.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"

#include <string.h>

int
events_send_test(struct request *rq, struct response *rs)
{
	static const char *const known[] = {"type", "severity", "job",     "mount",
	                                    "path", "reason",   "version", "previous_version"};
	struct event e = {.type = "test.ping", .severity = EV_INFO};
	const char *sev = NULL, *k;
	char id[37];
	size_t i, queued = 0;
	json_t *v;
	int r;

	json_object_foreach(rq->data, k, v)
	{
		bool ok = false;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(k, known[i]) == 0;
		if (!ok) {
			(void)response_errorf(rs, "unknown field; expected type, severity, job, "
			                          "mount, path, reason, version, previous_version");
			return CF_EINVAL;
		}
	}
	if (jsonx_str(rq->data, "type", &e.type) == CF_EINVAL || strncmp(e.type, "test.", 5) != 0 ||
	    strlen(e.type) < 6 || strlen(e.type) > EVENTS_TYPE_MAX) {
		(void)response_errorf(rs, "type must be test.<name>");
		return CF_EINVAL;
	}
	if (jsonx_str(rq->data, "severity", &sev) == CF_EINVAL ||
	    (sev && events_severity_parse(sev, &e.severity) < 0)) {
		(void)response_errorf(rs, "severity must be info, warning or critical");
		return CF_EINVAL;
	}
	if (jsonx_str(rq->data, "job", &e.job) == CF_EINVAL ||
	    jsonx_str(rq->data, "mount", &e.mount) == CF_EINVAL ||
	    jsonx_str(rq->data, "path", &e.path) == CF_EINVAL ||
	    jsonx_str(rq->data, "reason", &e.reason) == CF_EINVAL ||
	    jsonx_int(rq->data, "version", &e.version) == CF_EINVAL ||
	    jsonx_int(rq->data, "previous_version", &e.previous_version) == CF_EINVAL) {
		(void)response_errorf(rs, "job, mount, path and reason are strings; version and "
		                          "previous_version integers");
		return CF_EINVAL;
	}
	if (e.reason && strlen(e.reason) > 65536) {
		(void)response_errorf(rs, "reason: at most 64 KiB");
		return CF_EINVAL;
	}
	r = events_emit_queued(events_of(rq->core), &e, id, &queued);
	if (r == CF_EINVAL) {
		(void)response_errorf(rs, "type must be test.<name> of lowercase letters, digits, "
		                          "'.', '_' and '-'");
		return r;
	}
	if (r < 0)
		return r;
	log_info("test event %s (%s) emitted, queued for %zu webhooks", id, e.type, queued);
	/* queued: how many webhooks matched, so a wiring check that reaches none
	 * (a types, jobs or min_severity filter) shows it. */
	rs->data = json_pack("{s:s, s:s, s:I}", "id", id, "type", e.type, "queued",
	                     (json_int_t)queued);
	return rs->data ? 0 : CF_ENOMEM;
}
