/* events_int.h - the event bus's private state, shared by events.c (bus,
 * outbox), webhook.c (webhook table and delivery workers) and sse.c (the
 * server-sent event stream), and the pure helpers of events_filter.c (globs,
 * severities, backoff, signatures), which the unit tests and the fuzz target use.
 *
 * Locking: ev->mu (outbox: the sequence, record writes, publishing to
 * subscribers) may be held while taking ev->hmu (webhooks and delivery tasks)
 * or ev->smu (subscribers), never the other way round. A subscriber's own mutex
 * is taken under ev->smu. Nothing that can block on the network runs under any
 * of them. */
#ifndef CF_EVENTS_INT_H
#define CF_EVENTS_INT_H

#include "events/events.h"
#include "lib/err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_PER_SEC 1000000000LL

/* Retention of the outbox (spec: SSE replays events "still retained (7 days)"). */
#define EVENTS_RETENTION_SECS (7LL * 24 * 3600)
/* Webhook retries (spec "Webhook delivery"): 5 s, doubling, at most 1 h apart,
 * for 24 h after the event. */
#define EVENTS_RETRY_FIRST_SECS  5
#define EVENTS_RETRY_MAX_SECS    3600
#define EVENTS_RETRY_WINDOW_SECS (24LL * 3600)
/* Delivery workers; each webhook has at most one delivery in flight, so a slow
 * receiver occupies one worker at a time. */
#define EVENTS_WORKERS         4
#define EVENTS_CONNECT_TIMEOUT 3L /* seconds, per POST */
#define EVENTS_POST_TIMEOUT    5L
#define EVENTS_TIDY_EVERY_SECS 3600
#define EVENTS_KEEPALIVE_SECS  15
/* Limits on what clients control. */
#define EVENTS_MAX_GLOBS       32
#define EVENTS_GLOB_MAX        128
#define EVENTS_MAX_JOBS        64
#define EVENTS_NAME_MAX        64
#define EVENTS_URL_MAX         2048
#define EVENTS_SECRET_MAX      1024
#define EVENTS_TYPE_MAX        128
#define EVENTS_MAX_SUBSCRIBERS 1024
#define EVENTS_SUB_QUEUE_MAX   (1u << 20) /* bytes queued for one subscriber */
#define EVENTS_REPLAY_MAX      100000     /* events replayed for one Last-Event-ID */
#define EVENTS_SEQ_KEY_LEN     20         /* "%020llu" */

struct view;
struct hook;
struct task;
struct sub;

struct events {
	struct core *c;
	struct view *outbox;     /* sys/outbox/: <seq> -> record */
	struct view *hooks_view; /* sys/notify/webhooks/: <name> -> config (with secret) */

	pthread_mutex_t mu; /* outbox */
	uint64_t next_seq;
	uint64_t start_seq; /* first seq of this run: older records are the loader's */
	bool running;

	pthread_mutex_t hmu; /* webhooks, tasks, worker state */
	pthread_cond_t hcond;
	struct hook *hooks;
	struct task *tasks;
	bool stopping;
	bool tidy_running;
	int64_t next_tidy_ns;
	pthread_t workers[EVENTS_WORKERS];
	int nworkers;
	volatile int abort_posts; /* set at stop: in-flight POSTs give up */

	pthread_mutex_t smu; /* subscribers, ticker */
	pthread_cond_t scond;
	struct sub *subs;
	size_t nsubs;
	bool ticker_stop;
	pthread_t ticker;
	bool ticker_started;
	int keepalive_secs;
};

/* One configured webhook (cached copy of its stored config). */
struct hook {
	char *name;
	char *url;
	char *secret;  /* SECRET; NULL when none; wiped on free */
	json_t *types; /* array of globs, empty = all */
	json_t *jobs;  /* array of names, empty = all */
	enum event_severity min_severity;
	bool slack;
	bool busy; /* a delivery to it is in flight */
	struct hook *next;
};

/* One pending delivery of event seq to webhook hook. */
struct task {
	uint64_t seq;
	char *hook;
	json_t *event; /* the event JSON (a reference) */
	int attempts;
	int64_t first_ns; /* the event's time: retries end 24 h after it */
	int64_t next_ns;
	bool inflight;
	struct task *next;
};

/* ---- events_filter.c (pure) ---- */

/* Event type globs are matched with glob_match (lib/glob.h): '*' matches any
 * run of characters, dots included; everything else matches itself. */
/* A glob is 1..EVENTS_GLOB_MAX characters of [A-Za-z0-9._*-]. Returns 0 or
 * CF_EINVAL. */
int events_glob_check(const char *pat) CF_WARN_UNUSED;
/* Parses a comma-separated list of globs ("rotation.*,secret.*"; blanks around
 * items are trimmed, empty items dropped) into a new JSON array in *ret. An
 * empty list gives an empty array (all types). Returns 0 or CF_EINVAL with a
 * message in err. */
int events_globs_parse(const char *csv, json_t **ret, char *err, size_t errlen);
/* Checks an array of globs (webhook config). Returns 0 or CF_EINVAL + err. */
int events_globs_check(json_t *arr, char *err, size_t errlen);
/* True when type matches one glob of globs, or globs is NULL/empty, or type is
 * secret.compromised (which bypasses every filter). */
bool events_types_match(json_t *globs, const char *type);

int events_severity_parse(const char *s, enum event_severity *ret);
const char *events_severity_name(enum event_severity s);

/* True when the webhook receives the event (a JSON object as events_event_json
 * builds): types, jobs and min_severity, with secret.compromised bypassing all. */
bool events_hook_matches(json_t *types, json_t *jobs, enum event_severity min_severity,
                         json_t *event);

/* Seconds to wait after the n-th failed attempt (n >= 1): 5, 10, 20 ... 3600. */
int64_t events_backoff_secs(int attempts);
/* Schedules the retry after `attempts` failures at now_ns: writes *ret_next_ns
 * and returns true, or returns false when that would be more than 24 h after
 * first_ns (give up). */
bool events_retry_next(int64_t first_ns, int64_t now_ns, int attempts, int64_t *ret_next_ns);

/* X-Coffer-Signature value "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>"
 * into out (>= 96 bytes). Returns 0 or CF_EINVAL (out too small) / CF_ECRYPTO. */
int events_signature(const char *secret, int64_t unix_secs, const char *body, size_t len, char *out,
                     size_t outlen);

/* Last-Event-ID: a decimal sequence number (1..20 digits, no sign, no blanks).
 * Returns 0 or CF_EINVAL. */
int events_parse_last_id(const char *s, uint64_t *ret);

/* The JSON of an event (spec "Events and notifications"): id, type, time, the
 * optional fields that are set, severity, force, then extra's keys (never
 * overriding the standard ones, and never keys that name secret material).
 * Returns a new reference or NULL on ENOMEM. */
json_t *events_event_json(const struct event *e, const char *id, int64_t time_ns);
/* A one-line human summary (the Slack "text", the CLI's table format):
 * "[critical] secret.compromised job=api path=secret/app: reason". malloc'd. */
char *events_summary(json_t *event);
/* One SSE frame "id: <seq>\nevent: <type>\ndata: <json>\n\n". malloc'd. */
char *events_sse_frame(uint64_t seq, json_t *event, size_t *ret_len);

/* ---- events.c ---- */
void events_record_key(uint64_t seq, char out[EVENTS_SEQ_KEY_LEN + 1]);
int events_key_seq(const char *key, uint64_t *ret);
/* Sorted outbox keys (as view_list); free with events_keys_free. */
int events_outbox_keys(struct events *ev, char ***ret, size_t *ret_n);
void events_keys_free(char **keys, size_t n);
/* Updates the stored delivery state of (seq, hook) (takes ev->mu). */
int events_record_delivery(struct events *ev, uint64_t seq, const char *hook, json_t *state);

/* ---- webhook.c ---- */
int webhook_load(struct events *ev);
void webhook_clear(struct events *ev);
/* Matching webhook names for the event, as a new JSON array (takes ev->hmu). */
json_t *webhook_targets(struct events *ev, json_t *event);
/* Queues deliveries (takes ev->hmu) and wakes a worker. */
void webhook_enqueue(struct events *ev, uint64_t seq, json_t *event, json_t *names,
                     json_t *deliveries);
int webhook_start(struct events *ev);
void webhook_stop(struct events *ev);

/* ---- sse.c ---- */
/* Publishes one stored event to every matching subscriber (ev->mu held). */
void sse_publish(struct events *ev, uint64_t seq, json_t *event);
int sse_start(struct events *ev);
/* Ends every stream (they answer end-of-stream) and stops the ticker. */
void sse_stop(struct events *ev);

#endif
