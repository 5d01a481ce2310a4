/* run_watch.c - coffer run --watch: follows the server's event stream
 * (sys/events/subscribe, docs/internals/events.md "The event stream") in a
 * thread of its own and tells the supervisor when a secret the child uses was
 * rotated: a rotation.completed or secret.compromised event whose job is a
 * --path=rotation:JOB, or whose mount and path are those of a --path. A broken
 * stream is resumed with Last-Event-ID, so a rotation while it was down is
 * still seen. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/kvpath.h"
#include "cli/run_int.h"
#include "lib/err.h"
#include "lib/sse.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCH_TYPES      "types=rotation.completed,secret.compromised"
#define LINE_MAX_BYTES   (1u << 20)
#define EVENT_MAX_BYTES  (16u << 20)
#define BACKOFF_MAX_SECS 30

struct watch {
	const struct run_opts *o;
	struct client *c;
	int notify_fd; /* a byte per matching event */
	int ready_fd;  /* 'o' once the stream is open, 'e' when it cannot be */
	bool opened;   /* this connection sent its first bytes */
	bool ever_opened;
	struct sse_parser sse;
	char last_id[SSE_ID_MAX];
};

static void
say(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the supervisor has unread bytes already; one is enough */
}

/* Whether the event names one of the watched secrets. */
static bool
event_matches(const struct watch *w, const char *text)
{
	json_error_t jerr;
	json_t *e = json_loads(text, 0, &jerr);
	const char *job, *mount, *path;
	char *m = NULL, *p = NULL;
	bool hit = false;
	size_t i;

	if (!json_is_object(e))
		goto out;
	job = json_string_value(json_object_get(e, "job"));
	mount = json_string_value(json_object_get(e, "mount"));
	path = json_string_value(json_object_get(e, "path"));
	if (mount && path) {
		m = kvpath_clean(mount, false);
		p = kvpath_clean(path, false);
		if (!m || !p)
			cli_oom();
	}
	for (i = 0; i < w->o->nsources && !hit; i++) {
		const struct run_source *s = &w->o->sources[i];
		size_t ml;

		if (s->job && job && strcmp(s->job, job) == 0)
			hit = true;
		if (!m || !s->mount || !s->path)
			continue;
		ml = strlen(m); /* s->mount is "m/" */
		if (strncmp(s->mount, m, ml) == 0 && strcmp(s->mount + ml, "/") == 0 &&
		    strcmp(s->path, p) == 0)
			hit = true;
	}
out:
	free(m);
	free(p);
	json_decref(e);
	return hit;
}

/* One complete event: a byte to the supervisor when it names a watched
 * secret. An oversized event is judged by the data that fit. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct watch *w = arg;

	if (event_matches(w, ev->data))
		say(w->notify_fd, 'r');
	snprintf(w->last_id, sizeof(w->last_id), "%s", ev->id);
	return 0;
}

static bool
on_data(void *arg, const char *p, size_t n)
{
	struct watch *w = arg;
	int r;

	if (!w->opened) {
		w->opened = true;
		if (!w->ever_opened) {
			w->ever_opened = true;
			say(w->ready_fd, 'o');
		}
	}
	r = sse_feed(&w->sse, p, n, on_event, w);
	if (r == CF_ENOMEM)
		cli_oom();
	return r == 0; /* else a line past 1 MiB: reconnect */
}

static void *
watch_thread(void *arg)
{
	struct watch *w = arg;
	struct client_resp resp = {0};
	char err[1024];
	int r, delay = 1;

	for (;;) {
		sse_reset(&w->sse);
		w->opened = false;
		r = client_stream(w->c, "sys/events/subscribe", WATCH_TYPES,
		                  w->last_id[0] ? w->last_id : NULL, on_data, w, &resp, err,
		                  sizeof(err));
		if (r == 0 && (resp.status < 200 || resp.status > 299))
			client_resp_error(&resp, "sys/events/subscribe", err, sizeof(err));
		else if (r == 0)
			snprintf(err, sizeof(err), "the event stream ended");
		client_resp_clear(&resp);
		if (!w->ever_opened) {
			cli_err("--watch: %s", err);
			say(w->ready_fd, 'e');
			return NULL;
		}
		if (w->opened)
			delay = 1;
		cli_err("--watch: %s; reconnecting in %ds", err, delay);
		{
			struct timespec ts = {.tv_sec = delay};
			nanosleep(&ts, NULL); /* backoff between reconnects */
		}
		delay = delay < BACKOFF_MAX_SECS ? delay * 2 : BACKOFF_MAX_SECS;
	}
	return NULL;
}

int
run_watch_start(const struct run_opts *o, struct client *c, int *ret_fd)
{
	static struct watch w; /* lives as long as the thread: the whole process */
	int np[2], rp[2];
	pthread_t t;
	char ready = 0;
	ssize_t n;

	if (pipe2(np, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(rp, O_CLOEXEC) < 0) {
		cli_err("cannot create a pipe: %s", strerror(errno));
		client_free(c);
		return CF_EIO;
	}
	w = (struct watch){
	        .o = o,
	        .c = c,
	        .notify_fd = np[1],
	        .ready_fd = rp[1],
	};
	sse_init(&w.sse, LINE_MAX_BYTES - 1, EVENT_MAX_BYTES, SSE_TRUNCATE);
	if (pthread_create(&t, NULL, watch_thread, &w) != 0) {
		cli_err("cannot start the event follower");
		client_free(c);
		return CF_EIO;
	}
	pthread_detach(t);
	do
		n = read(rp[0], &ready, 1);
	while (n < 0 && errno == EINTR);
	close(rp[0]);
	if (ready != 'o')
		return CF_EIO; /* the thread printed why */
	*ret_fd = np[0];
	return 0;
}
