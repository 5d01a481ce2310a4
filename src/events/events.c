/* events.c - the event bus and its durable outbox (docs/internals/rotation.md "Events and
 * notifications"; docs/internals/events.md).
 *
 * events_emit() writes the event, with the list of webhooks it is due to, to
 * sys/outbox/<seq> through the barrier before it returns; then it hands the
 * event to the SSE subscribers and queues the deliveries for the webhook
 * workers (webhook.c). The sequence is zero-padded decimal so the outbox lists
 * in order; the next one is recovered at start from the highest key. */
#include "events/events_int.h"
#include "core/core.h"
#include "backend/view.h"
#include "lib/metrics.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sys/metrics gauge (lib/metrics.h): webhook deliveries waiting, first
 * attempts and retries. */
static void
events_metrics_depth(void *arg, struct metrics_out *o)
{
	struct events *ev = arg;
	size_t n = 0;

	pthread_mutex_lock(&ev->hmu);
	for (struct task *t = ev->tasks; t; t = t->next)
		n++;
	pthread_mutex_unlock(&ev->hmu);
	metrics_gauge(o, NULL, (double)n);
}

int
events_new(struct core *c, struct events **ret)
{
	struct events *ev = calloc(1, sizeof(*ev));
	const char *ka = util_test_hook("COFFER_EVENTS_KEEPALIVE"); /* tests: shorter heartbeats */
	int64_t n;

	if (!ev)
		return CF_ENOMEM;
	ev->c = c;
	ev->keepalive_secs = EVENTS_KEEPALIVE_SECS;
	if (ka && util_parse_int(ka, &n) == 0 && n >= 1 && n <= 3600)
		ev->keepalive_secs = (int)n;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_mutex_init(&ev->hmu, NULL);
	pthread_mutex_init(&ev->smu, NULL);
	pthread_cond_init(&ev->hcond, NULL);
	pthread_cond_init(&ev->scond, NULL);
	ev->next_seq = 1;
	if (metrics_collector_add(METRIC_OUTBOX_DEPTH, events_metrics_depth, ev) < 0) {
		events_free(ev);
		return CF_ENOMEM;
	}
	*ret = ev;
	return 0;
}

void
events_free(struct events *ev)
{
	if (!ev)
		return;
	metrics_collector_remove(METRIC_OUTBOX_DEPTH, events_metrics_depth, ev);
	events_stop(ev);
	view_free(ev->outbox);
	view_free(ev->hooks_view);
	pthread_mutex_destroy(&ev->mu);
	pthread_mutex_destroy(&ev->hmu);
	pthread_mutex_destroy(&ev->smu);
	pthread_cond_destroy(&ev->hcond);
	pthread_cond_destroy(&ev->scond);
	free(ev);
}

void
events_record_key(uint64_t seq, char out[EVENTS_SEQ_KEY_LEN + 1])
{
	(void)snprintf(out, EVENTS_SEQ_KEY_LEN + 1, "%020llu", (unsigned long long)seq);
}

int
events_key_seq(const char *key, uint64_t *ret)
{
	if (strlen(key) != EVENTS_SEQ_KEY_LEN)
		return CF_EINVAL;
	return events_parse_last_id(key, ret);
}

void
events_keys_free(char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(keys[i]); /* not secret: storage key names */
	free(keys);            /* not secret: storage key names */
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
events_outbox_keys(struct events *ev, char ***ret, size_t *ret_n)
{
	char **keys = NULL;
	size_t n = 0;
	int r;

	r = view_list(ev->outbox, "", &keys, &n);
	if (r == CF_ENOTFOUND) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (n > 1)
		qsort(keys, n, sizeof(*keys), cmp_keys); /* storage sorts; cheap insurance */
	*ret = keys;
	*ret_n = n;
	return 0;
}

int
events_record_delivery(struct events *ev, uint64_t seq, const char *hook, json_t *state)
{
	char key[EVENTS_SEQ_KEY_LEN + 1];
	json_t *rec = NULL, *d;
	int r;

	events_record_key(seq, key);
	pthread_mutex_lock(&ev->mu);
	r = view_get_json(ev->outbox, key, &rec);
	if (r < 0)
		goto out; /* tidied away meanwhile: nothing to record */
	d = json_object_get(rec, "deliveries");
	if (!json_is_object(d)) {
		d = json_object();
		if (!d || json_object_set_new(rec, "deliveries", d) < 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	if (json_object_set(d, hook, state) < 0) {
		r = CF_ENOMEM;
		goto out;
	}
	r = view_put_json(ev->outbox, key, rec);
out:
	pthread_mutex_unlock(&ev->mu);
	json_decref(rec);
	return r;
}

static bool
type_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0, i;

	if (n == 0 || n > EVENTS_TYPE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = t[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

int
events_emit(struct events *ev, const struct event *e, char ret_id[37])
{
	return events_emit_queued(ev, e, ret_id, NULL);
}

int
events_emit_queued(struct events *ev, const struct event *e, char ret_id[37], size_t *ret_queued)
{
	char id[37], key[EVENTS_SEQ_KEY_LEN + 1];
	json_t *event = NULL, *rec = NULL, *targets = NULL, *deliveries = NULL, *v;
	int64_t now = util_now_ns();
	uint64_t seq;
	size_t i;
	int r;

	if (!e || !type_ok(e->type))
		return CF_EINVAL;
	util_uuid(id);
	event = events_event_json(e, id, now);
	if (!event)
		return CF_ENOMEM;

	pthread_mutex_lock(&ev->mu);
	if (!ev->running) {
		r = CF_ESEALED;
		goto out;
	}
	seq = ev->next_seq;
	targets = webhook_targets(ev, event);
	deliveries = json_object();
	if (!targets || !deliveries) {
		r = CF_ENOMEM;
		goto out;
	}
	json_array_foreach(targets, i, v)
	{
		json_t *st = json_pack("{s:s, s:i, s:I, s:I}", "state", "pending", "attempts", 0,
		                       "first_ns", (json_int_t)now, "next_ns", (json_int_t)now);
		if (!st || json_object_set_new(deliveries, json_string_value(v), st) < 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	rec = json_pack("{s:I, s:I, s:O, s:O}", "seq", (json_int_t)seq, "time_ns", (json_int_t)now,
	                "event", event, "deliveries", deliveries);
	if (!rec) {
		r = CF_ENOMEM;
		goto out;
	}
	events_record_key(seq, key);
	r = view_put_json(ev->outbox, key, rec);
	if (r < 0)
		goto out;
	ev->next_seq = seq + 1;
	/* Still under ev->mu: subscribers see events in sequence order. */
	sse_publish(ev, seq, event);
	if (json_array_size(targets) > 0)
		webhook_enqueue(ev, seq, event, targets, deliveries);
	log_verbose("event %llu %s %s (%zu webhooks)", (unsigned long long)seq, e->type, id,
	            json_array_size(targets));
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	if (ret_queued)
		*ret_queued = json_array_size(targets);
out:
	pthread_mutex_unlock(&ev->mu);
	json_decref(rec);
	json_decref(targets);
	json_decref(deliveries);
	json_decref(event);
	return r;
}

int
events_start(struct events *ev)
{
	char **keys = NULL;
	size_t n = 0;
	uint64_t seq, max = 0;
	int r;

	if (!ev->outbox)
		ev->outbox = view_new(core_barrier(ev->c), "sys/outbox/");
	if (!ev->hooks_view)
		ev->hooks_view = view_new(core_barrier(ev->c), "sys/notify/webhooks/");
	if (!ev->outbox || !ev->hooks_view)
		return CF_ENOMEM;
	/* The keys only (not the records): the next sequence number. Pending
	 * deliveries are loaded by a worker in the background. */
	r = events_outbox_keys(ev, &keys, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (events_key_seq(keys[i], &seq) == 0 && seq > max)
			max = seq;
	events_keys_free(keys, n);
	r = webhook_load(ev);
	if (r < 0)
		return r;
	pthread_mutex_lock(&ev->mu);
	ev->next_seq = max + 1;
	ev->start_seq = max + 1;
	ev->running = true;
	pthread_mutex_unlock(&ev->mu);
	r = sse_start(ev);
	if (r == 0)
		r = webhook_start(ev);
	if (r < 0) {
		events_stop(ev);
		return r;
	}
	return 0;
}

void
events_stop(struct events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->running = false;
	pthread_mutex_unlock(&ev->mu);
	webhook_stop(ev);
	sse_stop(ev);
	webhook_clear(ev);
}

/* ---- the event bus as a core subsystem ---- */

struct events *
events_of(struct core *c)
{
	return core_subsystem(c, "events");
}

const struct route events_sys_routes[] = {
        {"notify/webhooks", R_SYS_INJECT, .list = events_sys_webhooks_list},
        {"notify/webhooks/", R_SYS_INJECT, .list = events_sys_webhooks_list},
        {"notify/webhooks/+", R_SYS_INJECT, .exists = events_sys_webhook_exists,
         .read = events_sys_webhook_read, .write = events_sys_webhook_write,
         .delete = events_sys_webhook_delete, .fields = events_webhook_fields},
        {"events/subscribe", 0, .read = events_sys_subscribe},
        {"events/test", R_SUDO | R_SYS_INJECT, .write = events_send_test},
};
const size_t events_sys_nroutes = sizeof(events_sys_routes) / sizeof(events_sys_routes[0]);

static int
hook_emit(void *arg, const struct event *e, char ret_id[37])
{
	return events_emit(arg, e, ret_id);
}

static int
subsys_start(struct core *c, void *arg)
{
	int r = events_start(arg);

	if (r < 0)
		log_error("event delivery could not start: %s", cf_strerror(r));
	return 0;
}

static void
subsys_stop(struct core *c, void *arg)
{
	events_stop(arg);
}

static void
subsys_free(void *arg)
{
	events_free(arg);
}

int
events_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks)
{
	struct events *ev;
	int r = events_new(c, &ev);

	if (r < 0)
		return r;
	*ret = (struct core_subsystem){
	        .name = "events",
	        .start = subsys_start,
	        .stop = subsys_stop,
	        .free = subsys_free,
	        .arg = ev,
	};
	hooks->events = ev;
	hooks->event_emit = hook_emit;
	return 0;
}
