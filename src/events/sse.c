/* sse.c - GET sys/events/subscribe: the server-sent event stream
 * (docs/internals/rotation.md "SSE"; docs/internals/events.md).
 *
 * Each subscriber is a bounded byte queue of ready SSE frames. events_emit()
 * appends to it under ev->mu (so frames are in sequence order) and never
 * blocks: a subscriber whose queue would pass EVENTS_SUB_QUEUE_MAX is dropped
 * (its stream ends; it reconnects with Last-Event-ID and replays from the
 * outbox). The HTTP layer reads the queue through struct response_stream and
 * parks the connection while it is empty; the wake function resumes it. A
 * ticker thread queues a ": keepalive" comment every 15 s, which also finds
 * subscribers that went away. */
#include "core/core.h"
#include "backend/request.h"
#include "backend/view.h"
#include "events/events_int.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sub {
	struct events *ev;
	pthread_mutex_t mu;
	json_t *types; /* globs; empty = all */
	char *replay;  /* frames replayed for Last-Event-ID, sent first */
	size_t replay_len, replay_off;
	char *q; /* live frames */
	size_t qlen, qoff, qcap;
	bool waiting; /* read() found nothing: wake() when something comes */
	bool closed;  /* end the stream once drained (seal, shutdown) */
	bool dropped; /* overflowed: end now */
	void (*wake)(void *);
	void *wake_arg;
	bool linked;
	struct sub *next, *prev;
};

/* Wakes the reader if it is parked (s->mu held). */
static void
sub_kick(struct sub *s)
{
	if (s->waiting && s->wake) {
		s->waiting = false;
		s->wake(s->wake_arg);
	}
}

/* Appends to the live queue (s->mu held). Returns false on overflow. */
static bool
sub_append(struct sub *s, const char *p, size_t n)
{
	if (s->qoff > 0 && s->qoff == s->qlen)
		s->qoff = s->qlen = 0;
	if (s->qlen - s->qoff + n > EVENTS_SUB_QUEUE_MAX)
		return false;
	if (s->qlen + n > s->qcap) {
		size_t live = s->qlen - s->qoff, cap = s->qcap ? s->qcap : 4096;
		char *nq;
		while (cap < live + n)
			cap *= 2;
		nq = malloc(cap);
		if (!nq)
			return false;
		if (live)
			memcpy(nq, s->q + s->qoff, live);
		free(s->q);
		s->q = nq;
		s->qcap = cap;
		s->qlen = live;
		s->qoff = 0;
	}
	memcpy(s->q + s->qlen, p, n);
	s->qlen += n;
	return true;
}

/* Queues bytes for s, dropping it on overflow, and wakes it (ev->smu held). */
static void
sub_push(struct sub *s, const char *p, size_t n)
{
	pthread_mutex_lock(&s->mu);
	if (!s->dropped && !s->closed && !sub_append(s, p, n)) {
		s->dropped = true;
		log_info("events: a subscriber fell %u bytes behind; its stream is ended",
		         EVENTS_SUB_QUEUE_MAX);
	}
	sub_kick(s);
	pthread_mutex_unlock(&s->mu);
}

void
sse_publish(struct events *ev, uint64_t seq, json_t *event)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	char *frame = NULL;
	size_t len = 0;
	struct sub *s;

	pthread_mutex_lock(&ev->smu);
	for (s = ev->subs; s; s = s->next) {
		if (!events_types_match(s->types, type))
			continue;
		if (!frame) {
			frame = events_sse_frame(seq, event, &len);
			if (!frame) {
				log_error("event %llu: out of memory rendering it for subscribers",
				          (unsigned long long)seq);
				break;
			}
		}
		sub_push(s, frame, len);
	}
	pthread_mutex_unlock(&ev->smu);
	free(frame);
}

/* ---- the stream (struct response_stream) ---- */

static long
sub_read(void *arg, char *buf, size_t max)
{
	struct sub *s = arg;
	size_t n;

	pthread_mutex_lock(&s->mu);
	if (s->dropped) {
		pthread_mutex_unlock(&s->mu);
		return RESPONSE_STREAM_END;
	}
	if (s->replay_off < s->replay_len) {
		n = s->replay_len - s->replay_off;
		if (n > max)
			n = max;
		memcpy(buf, s->replay + s->replay_off, n);
		s->replay_off += n;
		if (s->replay_off == s->replay_len) {
			free(s->replay);
			s->replay = NULL;
			s->replay_len = s->replay_off = 0;
		}
		pthread_mutex_unlock(&s->mu);
		return (long)n;
	}
	if (s->qoff < s->qlen) {
		n = s->qlen - s->qoff;
		if (n > max)
			n = max;
		memcpy(buf, s->q + s->qoff, n);
		s->qoff += n;
		pthread_mutex_unlock(&s->mu);
		return (long)n;
	}
	if (s->closed) {
		pthread_mutex_unlock(&s->mu);
		return RESPONSE_STREAM_END;
	}
	s->waiting = true;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void
sub_set_wake(void *arg, void (*wake)(void *), void *wake_arg)
{
	struct sub *s = arg;

	pthread_mutex_lock(&s->mu);
	s->wake = wake;
	s->wake_arg = wake_arg;
	pthread_mutex_unlock(&s->mu);
}

static void
sub_free(void *arg)
{
	struct sub *s = arg;
	struct events *ev;

	if (!s)
		return;
	ev = s->ev;
	/* Every waker holds ev->smu: once unlinked, nobody calls wake again. */
	pthread_mutex_lock(&ev->smu);
	if (s->linked) {
		if (s->prev)
			s->prev->next = s->next;
		else
			ev->subs = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->linked = false;
		ev->nsubs--;
	}
	pthread_mutex_unlock(&ev->smu);
	pthread_mutex_destroy(&s->mu);
	json_decref(s->types);
	free(s->replay);
	free(s->q);
	free(s);
}

/* ---- replay ---- */

/* A backstop on the bytes one replay may hold; EVENTS_REPLAY_MAX (a count)
 * is the limit that binds in practice. */
#define SSE_REPLAY_BYTES_MAX (256u << 20)

/* Frames of the retained events with after < seq < before that match s. */
static int
replay_fill(struct events *ev, struct sub *s, uint64_t after, uint64_t before, struct buf *out)
{
	char **keys = NULL;
	size_t n = 0, i, count = 0;
	uint64_t seq;
	int r;

	r = events_outbox_keys(ev, &keys, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0 && count < EVENTS_REPLAY_MAX; i++) {
		json_t *rec = NULL, *event;
		char *frame;
		size_t fl;

		if (events_key_seq(keys[i], &seq) < 0 || seq <= after)
			continue;
		if (seq >= before)
			break;
		if (view_get_json(ev->outbox, keys[i], &rec) < 0)
			continue; /* tidied meanwhile */
		event = json_object_get(rec, "event");
		if (events_types_match(s->types,
		                       json_string_value(json_object_get(event, "type")))) {
			frame = events_sse_frame(seq, event, &fl);
			r = frame ? buf_append(out, frame, fl) : CF_ENOMEM;
			free(frame);
			count++;
		}
		json_decref(rec);
	}
	events_keys_free(keys, n);
	return r;
}

/* ---- GET sys/events/subscribe ---- */

int
events_sys_subscribe(struct request *rq, struct response *rs)
{
	struct events *ev = events_of(rq->core);
	const char *types = json_string_value(json_object_get(rq->query, "types"));
	const char *last = rq->last_event_id;
	struct response_stream *st = NULL;
	struct sub *s = NULL;
	uint64_t after = 0, before;
	bool resume = false;
	char err[160];
	struct buf replay = BUF_INIT(SSE_REPLAY_BYTES_MAX, 0);
	int r;

	if (!last)
		last = json_string_value(json_object_get(rq->query, "last_event_id"));
	if (last) {
		if (events_parse_last_id(last, &after) < 0) {
			(void)response_errorf(rs, "Last-Event-ID must be a decimal event sequence "
			                          "number");
			return CF_EINVAL;
		}
		resume = true;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return CF_ENOMEM;
	s->ev = ev;
	pthread_mutex_init(&s->mu, NULL);
	r = events_globs_parse(types ? types : "", &s->types, err, sizeof(err));
	if (r < 0) {
		if (r == CF_EINVAL)
			(void)response_errorf(rs, "%s", err);
		goto fail_unlinked;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		r = CF_ENOMEM;
		goto fail_unlinked;
	}
	r = buf_append_str(&replay, ": subscribed\n\n");
	if (r < 0)
		goto fail_unlinked;

	/* Linked under ev->mu: every event below `before` was published before we
	 * joined (the replay's), every later one reaches our live queue. */
	pthread_mutex_lock(&ev->mu);
	if (!ev->running) {
		pthread_mutex_unlock(&ev->mu);
		r = CF_ESEALED;
		goto fail_unlinked;
	}
	pthread_mutex_lock(&ev->smu);
	if (ev->nsubs >= EVENTS_MAX_SUBSCRIBERS) {
		pthread_mutex_unlock(&ev->smu);
		pthread_mutex_unlock(&ev->mu);
		(void)response_errorf(rs, "too many event subscribers (%d)",
		                      EVENTS_MAX_SUBSCRIBERS);
		rs->retry_after = 5;
		r = CF_ERATELIMIT;
		goto fail_unlinked;
	}
	s->next = ev->subs;
	if (ev->subs)
		ev->subs->prev = s;
	ev->subs = s;
	s->linked = true;
	ev->nsubs++;
	pthread_mutex_unlock(&ev->smu);
	before = ev->next_seq;
	pthread_mutex_unlock(&ev->mu);

	if (resume && after + 1 < before) {
		r = replay_fill(ev, s, after, before, &replay);
		if (r < 0) {
			buf_free(&replay);
			free(st);
			sub_free(s);
			return r;
		}
	}
	pthread_mutex_lock(&s->mu);
	/* cannot fail: the buffer holds at least the ": subscribed" comment */
	r = buf_detach(&replay, &s->replay, &s->replay_len);
	pthread_mutex_unlock(&s->mu);
	(void)CF_NEVER(r < 0);

	st->content_type = "text/event-stream";
	st->read = sub_read;
	st->set_wake = sub_set_wake;
	st->free = sub_free;
	st->arg = s;
	rs->stream = st;
	rs->status = 200;
	return 0;

fail_unlinked:
	buf_free(&replay);
	free(st);
	json_decref(s->types);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return r;
}

/* ---- the ticker ---- */

static void *
ticker_main(void *arg)
{
	static const char keepalive[] = ": keepalive\n\n";
	struct events *ev = arg;
	struct timespec ts;
	struct sub *s;

	pthread_mutex_lock(&ev->smu);
	while (!ev->ticker_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ev->keepalive_secs;
		while (!ev->ticker_stop && pthread_cond_timedwait(&ev->scond, &ev->smu, &ts) == 0) {
		}
		if (ev->ticker_stop)
			break;
		for (s = ev->subs; s; s = s->next)
			sub_push(s, keepalive, sizeof(keepalive) - 1);
	}
	pthread_mutex_unlock(&ev->smu);
	return NULL;
}

int
sse_start(struct events *ev)
{
	pthread_mutex_lock(&ev->smu);
	ev->ticker_stop = false;
	pthread_mutex_unlock(&ev->smu);
	if (pthread_create(&ev->ticker, NULL, ticker_main, ev) != 0)
		return CF_ENOMEM;
	ev->ticker_started = true;
	return 0;
}

void
sse_stop(struct events *ev)
{
	struct sub *s;

	pthread_mutex_lock(&ev->smu);
	ev->ticker_stop = true;
	pthread_cond_broadcast(&ev->scond);
	/* Streams end once drained; their connections close and free them. */
	for (s = ev->subs; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		s->closed = true;
		sub_kick(s);
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&ev->smu);
	if (ev->ticker_started) {
		pthread_join(ev->ticker, NULL);
		ev->ticker_started = false;
	}
}
