/* events.c - placeholder until the outbox, webhooks and SSE land: events are
 * only logged. */
#include "events/events.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

struct events {
	struct core *c;
};

int
events_new(struct core *c, struct events **ret)
{
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return CF_ENOMEM;
	ev->c = c;
	*ret = ev;
	return 0;
}

void
events_free(struct events *ev)
{
	free(ev);
}

int
events_start(struct events *ev)
{
	(void)ev;
	return 0;
}

void
events_stop(struct events *ev)
{
	(void)ev;
}

int
events_emit(struct events *ev, const struct event *e, char ret_id[37])
{
	char id[37];

	(void)ev;
	util_uuid(id);
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	log_verbose("event %s %s", e->type, id);
	return 0;
}
