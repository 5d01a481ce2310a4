/* webhook.c - sys/notify/webhooks/:name and the delivery workers
 * (docs/internals/rotation.md "Webhook delivery"; docs/internals/events.md).
 *
 * Configs live behind the barrier in sys/notify/webhooks/<name> (the secret
 * with them: write-only, never returned) and are cached in ev->hooks. Each
 * pending (event, webhook) delivery is a task in ev->tasks; EVENTS_WORKERS
 * threads sleep on ev->hcond until the earliest task whose webhook has nothing
 * in flight is due, POST it (short timeouts, outside every lock), and store the
 * outcome in the event's outbox record, so a restart resumes the retries. */
#include "core/core.h"
#include "backend/field.h"
#include "backend/request.h"
#include "backend/view.h"
#include "events/events_int.h"
#include "lib/curl_dl.h"
#include "lib/metrics.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the cache ---- */

static void
hook_free(struct hook *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->url);
	secmem_free_str(h->secret);
	json_decref(h->types);
	json_decref(h->jobs);
	free(h);
}

static void
task_free(struct task *t)
{
	if (!t)
		return;
	free(t->hook);
	json_decref(t->event);
	free(t);
}

/* Builds a cache entry from a stored config. */
static struct hook *
hook_from_json(const char *name, json_t *cfg)
{
	struct hook *h = calloc(1, sizeof(*h));
	const char *url = json_string_value(json_object_get(cfg, "url"));
	const char *secret = json_string_value(json_object_get(cfg, "secret"));
	const char *fmt = json_string_value(json_object_get(cfg, "format"));

	if (!h)
		return NULL;
	h->name = strdup(name);
	h->url = strdup(url ? url : "");
	h->secret = secret && *secret ? strdup(secret) : NULL;
	h->types = json_incref(json_object_get(cfg, "types"));
	h->jobs = json_incref(json_object_get(cfg, "jobs"));
	h->slack = fmt && strcmp(fmt, "slack") == 0;
	if (events_severity_parse(json_string_value(json_object_get(cfg, "min_severity")),
	                          &h->min_severity) < 0)
		h->min_severity = EV_INFO;
	if (!h->name || !h->url || (secret && *secret && !h->secret)) {
		hook_free(h);
		return NULL;
	}
	return h;
}

static struct hook *
hook_find(struct events *ev, const char *name)
{
	struct hook *h;

	for (h = ev->hooks; h; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

/* Replaces (or with nh NULL removes) the cached hook called name (ev->hmu held).
 * A delivery in flight keeps its webhook busy across the swap. */
static void
hook_replace(struct events *ev, const char *name, struct hook *nh)
{
	struct hook **pp, *old = NULL;

	for (pp = &ev->hooks; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			old = *pp;
			*pp = old->next;
			break;
		}
	}
	if (nh) {
		nh->busy = old ? old->busy : false;
		nh->next = ev->hooks;
		ev->hooks = nh;
	}
	hook_free(old);
}

int
webhook_load(struct events *ev)
{
	char **keys = NULL;
	size_t n = 0, i;
	int r;

	r = view_list(ev->hooks_view, "", &keys, &n);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	pthread_mutex_lock(&ev->hmu);
	for (i = 0; i < n; i++) {
		json_t *cfg = NULL;
		struct hook *h;

		if (view_get_json(ev->hooks_view, keys[i], &cfg) < 0) {
			log_error("webhook %s: its config cannot be read; skipped", keys[i]);
			continue;
		}
		h = hook_from_json(keys[i], cfg);
		json_decref(cfg);
		if (!h) {
			r = CF_ENOMEM;
			break;
		}
		hook_replace(ev, keys[i], h);
	}
	pthread_mutex_unlock(&ev->hmu);
	events_keys_free(keys, n);
	return r < 0 ? r : 0;
}

void
webhook_clear(struct events *ev)
{
	struct hook *h;
	struct task *t;

	pthread_mutex_lock(&ev->hmu);
	while ((h = ev->hooks)) {
		ev->hooks = h->next;
		hook_free(h);
	}
	while ((t = ev->tasks)) {
		ev->tasks = t->next;
		task_free(t);
	}
	pthread_mutex_unlock(&ev->hmu);
}

json_t *
webhook_targets(struct events *ev, json_t *event)
{
	json_t *out = json_array();
	struct hook *h;

	if (!out)
		return NULL;
	pthread_mutex_lock(&ev->hmu);
	for (h = ev->hooks; h; h = h->next) {
		if (!events_hook_matches(h->types, h->jobs, h->min_severity, event))
			continue;
		if (json_array_append_new(out, json_string(h->name)) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&ev->hmu);
	return out;
}

/* Adds one task (ev->hmu held). */
static int
task_add(struct events *ev, uint64_t seq, const char *hook, json_t *event, json_t *st)
{
	struct task *t = calloc(1, sizeof(*t)), **pp;
	json_int_t a = json_integer_value(json_object_get(st, "attempts"));

	if (!t)
		return CF_ENOMEM;
	t->seq = seq;
	t->hook = strdup(hook);
	/* A private copy: workers render it concurrently with other threads. */
	t->event = json_deep_copy(event);
	if (!t->hook || !t->event) {
		task_free(t);
		return CF_ENOMEM;
	}
	t->attempts = (int)(a < 0 ? 0 : a > 1000 ? 1000 : a);
	t->first_ns = json_integer_value(json_object_get(st, "first_ns"));
	t->next_ns = json_integer_value(json_object_get(st, "next_ns"));
	/* Appended: tasks of equal due time go in sequence order. */
	for (pp = &ev->tasks; *pp; pp = &(*pp)->next) {
	}
	*pp = t;
	return 0;
}

void
webhook_enqueue(struct events *ev, uint64_t seq, json_t *event, json_t *names, json_t *deliveries)
{
	size_t i;
	json_t *v;

	pthread_mutex_lock(&ev->hmu);
	json_array_foreach(names, i, v)
	{
		const char *name = json_string_value(v);
		if (task_add(ev, seq, name, event, json_object_get(deliveries, name)) < 0)
			log_error(
			        "event %llu: out of memory queueing its delivery to %s (retried at "
			        "the next start)",
			        (unsigned long long)seq, name);
	}
	pthread_cond_broadcast(&ev->hcond);
	pthread_mutex_unlock(&ev->hmu);
}

/* ---- delivery ---- */

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct events *ev = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n(&ev->abort_posts, __ATOMIC_RELAXED) ? 1 : 0;
}

static size_t
on_discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb; /* the receiver's answer body is not used */
}

struct post_job {
	uint64_t seq;
	char *hook;
	char *url;
	char *secret;
	bool slack;
	json_t *event;
};

static void
post_job_clear(struct post_job *pj)
{
	free(pj->hook);
	free(pj->url);
	secmem_free_str(pj->secret);
	json_decref(pj->event);
	memset(pj, 0, sizeof(*pj));
}

/* POSTs one event; returns 0 on a 2xx answer, else CF_EUPSTREAM with the
 * reason in err. */
static int
post_one(struct events *ev, const struct post_job *pj, char *err, size_t errlen)
{
	char hdr[256], sig[160], curlerr[CURL_ERROR_SIZE] = "";
	const char *type = json_string_value(json_object_get(pj->event, "type"));
	const char *id = json_string_value(json_object_get(pj->event, "id"));
	struct curl_slist *headers = NULL, *h;
	char *body = NULL, *text = NULL;
	long status = 0;
	CURLcode cr;
	CURL *c = NULL;
	int r = CF_ENOMEM;

	if (curl_dl_init() != 0) {
		snprintf(err, errlen, "libcurl (%s) is not available", CURL_DL_SONAME);
		return CF_EUPSTREAM;
	}
	if (pj->slack) {
		json_t *j;
		text = events_summary(pj->event);
		j = text ? json_pack("{s:s}", "text", text) : NULL;
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	} else {
		body = json_dumps(pj->event, JSON_COMPACT);
	}
	if (!body)
		goto out;
#define ADD(s)                                                                                     \
	do {                                                                                       \
		h = curl_dl.slist_append(headers, (s));                                            \
		if (!h)                                                                            \
			goto out;                                                                  \
		headers = h;                                                                       \
	} while (0)
	ADD("Content-Type: application/json");
	ADD("Expect:");
	(void)snprintf(hdr, sizeof(hdr), "X-Coffer-Event: %s", type ? type : "");
	ADD(hdr);
	(void)snprintf(hdr, sizeof(hdr), "X-Coffer-Delivery: %s", id ? id : "");
	ADD(hdr);
	if (pj->secret) {
		char line[200];
		r = events_signature(pj->secret, util_now(), body, strlen(body), sig, sizeof(sig));
		if (r < 0)
			goto out;
		r = CF_ENOMEM;
		(void)snprintf(line, sizeof(line), "X-Coffer-Signature: %s", sig);
		ADD(line);
	}
#undef ADD
	c = curl_dl.easy_init();
	if (!c)
		goto out;
	curl_dl.easy_setopt(c, CURLOPT_URL, pj->url);
	curl_dl.easy_setopt(c, CURLOPT_POST, 1L);
	curl_dl.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_dl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_dl.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_dl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
	curl_dl.easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_dl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_dl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, EVENTS_CONNECT_TIMEOUT);
	curl_dl.easy_setopt(c, CURLOPT_TIMEOUT, EVENTS_POST_TIMEOUT);
	curl_dl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_dl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_dl.easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the URL is the destination */
	curl_dl.easy_setopt(c, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
	curl_dl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_dl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_dl.easy_setopt(c, CURLOPT_XFERINFODATA, ev);
	cr = curl_dl.easy_perform(c);
	if (cr == CURLE_OK)
		curl_dl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s", curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
		r = CF_EUPSTREAM;
	} else if (status < 200 || status > 299) {
		snprintf(err, errlen, "HTTP status %ld", status);
		r = CF_EUPSTREAM;
	} else {
		r = 0;
	}
out:
	if (c)
		curl_dl.easy_cleanup(c);
	if (headers) {
		for (h = headers; h; h = h->next)
			secmem_wipe(h->data, strlen(h->data));
		curl_dl.slist_free_all(headers);
	}
	secmem_wipe(sig, sizeof(sig));
	free(body);
	free(text);
	if (r == CF_ENOMEM)
		snprintf(err, errlen, "out of memory");
	return r;
}

/* Removes t from the list and frees it (ev->hmu held). */
static void
task_remove(struct events *ev, struct task *t)
{
	struct task **pp;

	for (pp = &ev->tasks; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	task_free(t);
}

/* One attempt of task t (ev->hmu held on entry and exit; dropped while posting). */
static void
deliver(struct events *ev, struct task *t)
{
	struct post_job pj = {0};
	struct hook *h = hook_find(ev, t->hook);
	char err[256] = "";
	json_t *st = NULL;
	int64_t now, next = 0;
	bool gave_up = false, had_secret;
	int r;

	if (!h) {
		/* The webhook was deleted: its pending deliveries go with it. */
		st = json_pack("{s:s, s:i}", "state", "cancelled", "attempts", t->attempts);
		pthread_mutex_unlock(&ev->hmu);
		if (st)
			(void)events_record_delivery(ev, t->seq, t->hook, st);
		json_decref(st);
		pthread_mutex_lock(&ev->hmu);
		task_remove(ev, t);
		return;
	}
	pj.seq = t->seq;
	pj.hook = strdup(h->name);
	pj.url = strdup(h->url);
	pj.secret = h->secret ? strdup(h->secret) : NULL;
	pj.slack = h->slack;
	pj.event = json_incref(t->event);
	had_secret = h->secret != NULL;
	h->busy = true;
	t->inflight = true;
	pthread_mutex_unlock(&ev->hmu);

	if (!pj.hook || !pj.url || (had_secret && !pj.secret)) {
		r = CF_ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	} else {
		r = post_one(ev, &pj, err, sizeof(err));
	}
	now = util_now_ns();

	pthread_mutex_lock(&ev->hmu);
	t->attempts++;
	if (r == 0) {
		st = json_pack("{s:s, s:i, s:I}", "state", "delivered", "attempts", t->attempts,
		               "delivered_ns", (json_int_t)now);
	} else if (events_retry_next(t->first_ns, now, t->attempts, &next)) {
		t->next_ns = next;
		st = json_pack("{s:s, s:i, s:I, s:I, s:s}", "state", "pending", "attempts",
		               t->attempts, "first_ns", (json_int_t)t->first_ns, "next_ns",
		               (json_int_t)next, "last_error", err);
	} else {
		gave_up = true;
		st = json_pack("{s:s, s:i, s:s}", "state", "failed", "attempts", t->attempts,
		               "last_error", err);
	}
	pthread_mutex_unlock(&ev->hmu);

	if (r != 0)
		metrics_count(METRIC_WEBHOOK_FAILURES, NULL, 1);
	if (r == 0)
		log_verbose("event %llu delivered to webhook %s (attempt %d)",
		            (unsigned long long)pj.seq, pj.hook ? pj.hook : "?", t->attempts);
	else if (gave_up)
		log_error("event %llu: delivery to webhook %s failed for 24 h (%d attempts, last: "
		          "%s); given up",
		          (unsigned long long)pj.seq, pj.hook ? pj.hook : "?", t->attempts, err);
	else
		log_info("event %llu: delivery to webhook %s failed (%s); retry %d in %llds",
		         (unsigned long long)pj.seq, pj.hook ? pj.hook : "?", err, t->attempts,
		         (long long)((next - now) / NS_PER_SEC));
	if (!st || events_record_delivery(ev, t->seq, t->hook, st) < 0)
		log_error("event %llu: the delivery state for webhook %s could not be stored",
		          (unsigned long long)t->seq, t->hook);
	json_decref(st);
	post_job_clear(&pj);

	pthread_mutex_lock(&ev->hmu);
	h = hook_find(ev, t->hook);
	if (h)
		h->busy = false;
	t->inflight = false;
	if (r == 0 || gave_up)
		task_remove(ev, t);
	pthread_cond_broadcast(&ev->hcond);
}

/* The earliest task whose webhook is idle (ev->hmu held); NULL when none. */
static struct task *
task_pick(struct events *ev)
{
	struct task *t, *best = NULL;

	for (t = ev->tasks; t; t = t->next) {
		struct hook *h;
		if (t->inflight)
			continue;
		h = hook_find(ev, t->hook);
		if (h && h->busy)
			continue;
		if (!best || t->next_ns < best->next_ns)
			best = t;
	}
	return best;
}

/* Loads the pending deliveries of earlier runs and deletes records past
 * retention (the first pass), or only the latter (later passes). */
static void
tidy(struct events *ev, bool load)
{
	int64_t cutoff = util_now_ns() - EVENTS_RETENTION_SECS * NS_PER_SEC;
	char **keys = NULL;
	size_t n = 0, i, deleted = 0, loaded = 0;
	uint64_t seq;

	if (events_outbox_keys(ev, &keys, &n) < 0) {
		log_error("the outbox cannot be listed; tidy skipped");
		return;
	}
	for (i = 0; i < n; i++) {
		json_t *rec = NULL, *d, *st;
		const char *name;
		int64_t t;

		if (events_key_seq(keys[i], &seq) < 0)
			continue;
		if (load && seq >= ev->start_seq)
			break; /* this run's own events: already queued by events_emit */
		if (__atomic_load_n(&ev->abort_posts, __ATOMIC_RELAXED))
			break;
		if (view_get_json(ev->outbox, keys[i], &rec) < 0)
			continue;
		t = json_integer_value(json_object_get(rec, "time_ns"));
		if (t < cutoff) {
			/* Retries end after 24 h, so nothing is pending this old. */
			if (view_delete(ev->outbox, keys[i]) == 0)
				deleted++;
			json_decref(rec);
			continue;
		}
		if (!load) {
			json_decref(rec);
			break; /* the rest is younger */
		}
		d = json_object_get(rec, "deliveries");
		pthread_mutex_lock(&ev->hmu);
		json_object_foreach(d, name, st)
		{
			const char *state = json_string_value(json_object_get(st, "state"));
			if (!state || strcmp(state, "pending") != 0)
				continue;
			if (task_add(ev, seq, name, json_object_get(rec, "event"), st) == 0)
				loaded++;
		}
		pthread_cond_broadcast(&ev->hcond);
		pthread_mutex_unlock(&ev->hmu);
		json_decref(rec);
	}
	events_keys_free(keys, n);
	if (deleted || loaded)
		log_info(
		        "outbox: %zu events past retention deleted, %zu pending deliveries resumed",
		        deleted, loaded);
}

static void
timespec_at(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / NS_PER_SEC);
	ts->tv_nsec = (long)(ns % NS_PER_SEC);
}

static void *
worker_main(void *arg)
{
	struct events *ev = arg;
	bool first = false;

	pthread_mutex_lock(&ev->hmu);
	if (ev->next_tidy_ns == 0) {
		/* The first worker loads what earlier runs left pending. */
		ev->next_tidy_ns = util_now_ns() + EVENTS_TIDY_EVERY_SECS * NS_PER_SEC;
		ev->tidy_running = true;
		first = true;
	}
	pthread_mutex_unlock(&ev->hmu);
	if (first) {
		tidy(ev, true);
		pthread_mutex_lock(&ev->hmu);
		ev->tidy_running = false;
		pthread_mutex_unlock(&ev->hmu);
	}

	pthread_mutex_lock(&ev->hmu);
	while (!ev->stopping) {
		int64_t now = util_now_ns(), due;
		struct task *t;
		struct timespec ts;

		if (!ev->tidy_running && now >= ev->next_tidy_ns) {
			ev->tidy_running = true;
			ev->next_tidy_ns = now + EVENTS_TIDY_EVERY_SECS * NS_PER_SEC;
			pthread_mutex_unlock(&ev->hmu);
			tidy(ev, false);
			pthread_mutex_lock(&ev->hmu);
			ev->tidy_running = false;
			continue;
		}
		t = task_pick(ev);
		if (t && t->next_ns <= now) {
			deliver(ev, t);
			continue;
		}
		due = ev->next_tidy_ns;
		if (t && t->next_ns < due)
			due = t->next_ns;
		timespec_at(due, &ts);
		(void)pthread_cond_timedwait(&ev->hcond, &ev->hmu, &ts);
	}
	pthread_mutex_unlock(&ev->hmu);
	return NULL;
}

int
webhook_start(struct events *ev)
{
	int i, r;

	pthread_mutex_lock(&ev->hmu);
	ev->stopping = false;
	ev->next_tidy_ns = 0;
	ev->tidy_running = false;
	pthread_mutex_unlock(&ev->hmu);
	__atomic_store_n(&ev->abort_posts, 0, __ATOMIC_RELAXED);
	for (i = 0; i < EVENTS_WORKERS; i++) {
		r = pthread_create(&ev->workers[i], NULL, worker_main, ev);
		if (r != 0)
			return CF_ENOMEM;
		ev->nworkers++;
	}
	return 0;
}

void
webhook_stop(struct events *ev)
{
	int i;

	pthread_mutex_lock(&ev->hmu);
	ev->stopping = true;
	pthread_cond_broadcast(&ev->hcond);
	pthread_mutex_unlock(&ev->hmu);
	__atomic_store_n(&ev->abort_posts, 1, __ATOMIC_RELAXED);
	for (i = 0; i < ev->nworkers; i++)
		pthread_join(ev->workers[i], NULL);
	ev->nworkers = 0;
}

/* ---- sys/notify/webhooks ---- */

static bool
name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > EVENTS_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool
url_ok(const char *u)
{
	size_t n = strlen(u), i, skip;
	const char *host;

	if (n >= EVENTS_URL_MAX)
		return false;
	if (strncmp(u, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(u, "http://", 7) == 0)
		skip = 7;
	else
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return false;
	host = u + skip;
	/* A host must follow (no userinfo: credentials belong in the secret). */
	if (*host == '\0' || *host == '/' || *host == ':' || *host == '?' || *host == '#')
		return false;
	for (i = 0; host[i] && host[i] != '/' && host[i] != '?' && host[i] != '#'; i++)
		if (host[i] == '@')
			return false;
	return true;
}

static int
bad(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

static json_t *
hook_public(const char *name, json_t *cfg)
{
	json_t *out = json_object();
	static const char *const keys[] = {"url", "types", "jobs", "min_severity", "format"};
	const char *secret = json_string_value(json_object_get(cfg, "secret"));
	size_t i;

	if (!out)
		return NULL;
	if (json_object_set_new(out, "name", json_string(name)) < 0)
		goto fail;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(cfg, keys[i]);
		if (v && json_object_set(out, keys[i], v) < 0)
			goto fail;
	}
	if (json_object_set_new(out, "has_secret", json_boolean(secret && *secret)) < 0)
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}

int
events_sys_webhook_exists(struct request *rq, bool *ret_exists)
{
	struct events *ev = events_of(rq->core);

	pthread_mutex_lock(&ev->hmu);
	*ret_exists = rq->ncap > 0 && hook_find(ev, rq->cap[0]) != NULL;
	pthread_mutex_unlock(&ev->hmu);
	return 0;
}

/* The body of sys/notify/webhooks/<name>. */
struct webhook_params {
	const char *url, *secret, *min_severity, *format;
	json_t *types, *jobs;
};

const struct field events_webhook_fields[] = {
        {"url", FIELD_STRING, FIELD_REQUIRED, offsetof(struct webhook_params, url),
         .missing = "url is required",
         .desc = "where events are POSTed: an http:// or https:// URL"},
        {"secret", FIELD_STRING, FIELD_SECRET, offsetof(struct webhook_params, secret),
         .desc = "key of the X-Coffer-Signature HMAC (at most 1024 bytes); kept when an update "
                 "omits it"},
        {"types", FIELD_STRLIST, 0, offsetof(struct webhook_params, types),
         .desc = "event type globs to deliver (\"kv-v2/*\"); none: every type"},
        {"jobs", FIELD_STRLIST, 0, offsetof(struct webhook_params, jobs),
         .desc = "rotation job names to deliver (at most 64); none: every job"},
        {"min_severity", FIELD_STRING, 0, offsetof(struct webhook_params, min_severity),
         .def = "info", .desc = "the least severity delivered: info, warning or critical"},
        {"format", FIELD_STRING, 0, offsetof(struct webhook_params, format), .def = "json",
         .desc = "the body: json (the event) or slack (a Slack incoming-webhook message)"},
        {NULL},
};

/* Reads and checks the parameters of a webhook write into p (types and jobs
 * set, empty when not given). Returns 0, CF_EINVAL with a message in rs, or
 * CF_ENOMEM. */
static int
webhook_params_parse(json_t *data, struct webhook_params *p, enum event_severity *ret_sev,
                     struct response *rs)
{
	char err[160];
	const char *k;
	json_t *v;
	size_t i;
	int r;

	json_object_foreach(data, k, v)
	{
		if (!field_find(events_webhook_fields, k))
			return bad(rs, "unknown field; expected url, secret, types, jobs, "
			               "min_severity, format");
	}
	r = field_parse(events_webhook_fields, data, p, rs);
	if (r < 0)
		return r;
	if (!url_ok(p->url))
		return bad(rs, "url must be an http:// or https:// URL with a host (no "
		               "credentials, no blanks, shorter than 2048 characters)");
	if (p->secret && strlen(p->secret) > EVENTS_SECRET_MAX)
		return bad(rs, "secret must be a string of at most 1024 bytes");
	if (events_severity_parse(p->min_severity, ret_sev) < 0)
		return bad(rs, "min_severity must be info, warning or critical");
	if (strcmp(p->format, "json") != 0 && strcmp(p->format, "slack") != 0)
		return bad(rs, "format must be json or slack");
	if (!p->types)
		p->types = json_array();
	if (!p->jobs)
		p->jobs = json_array();
	if (!p->types || !p->jobs)
		return CF_ENOMEM;
	r = events_globs_check(p->types, err, sizeof(err));
	if (r < 0) {
		if (r == CF_EINVAL)
			(void)response_errorf(rs, "%s", err);
		return r;
	}
	if (json_array_size(p->jobs) > EVENTS_MAX_JOBS)
		return bad(rs, "too many jobs (at most 64)");
	json_array_foreach(p->jobs, i, v)
	{
		if (json_string_length(v) > EVENTS_NAME_MAX * 2)
			return bad(rs, "a job name is too long");
	}
	return 0;
}

static int
webhook_write(struct events *ev, const char *name, struct request *rq, struct response *rs)
{
	struct webhook_params p = {0};
	json_t *cfg = NULL, *old = NULL;
	const char *secret;
	enum event_severity s;
	struct hook *h;
	int r;

	r = webhook_params_parse(rq->data, &p, &s, rs);
	if (r < 0)
		goto out;
	secret = p.secret;
	/* The secret is write-only: an update that does not name one keeps the old. */
	if (!secret && view_get_json(ev->hooks_view, name, &old) == 0)
		secret = json_string_value(json_object_get(old, "secret"));
	cfg = json_pack("{s:s, s:O, s:O, s:s, s:s}", "url", p.url, "types", p.types, "jobs", p.jobs,
	                "min_severity", events_severity_name(s), "format", p.format);
	if (!cfg ||
	    (secret && *secret && json_object_set_new(cfg, "secret", json_string(secret)) < 0)) {
		r = CF_ENOMEM;
		goto out;
	}
	h = hook_from_json(name, cfg);
	if (!h) {
		r = CF_ENOMEM;
		goto out;
	}
	/* Store, then swap the cache entry, under hmu so two writers of one name
	 * leave the cache as storage. */
	pthread_mutex_lock(&ev->hmu);
	r = view_put_json(ev->hooks_view, name, cfg);
	if (r == 0)
		hook_replace(ev, name, h);
	else
		hook_free(h);
	pthread_mutex_unlock(&ev->hmu);
	if (r == 0)
		log_info("webhook %s written (%s)", name, p.url);
out:
	if (cfg) {
		json_t *sv = json_object_get(cfg, "secret");
		if (sv)
			secmem_wipe((char *)json_string_value(sv), json_string_length(sv));
	}
	json_decref(cfg);
	json_decref(old);
	field_free(events_webhook_fields, &p);
	return r;
}

/* The webhook name of a notify/webhooks/<name> request, or NULL with an error
 * in rs. */
static const char *
webhook_name(struct request *rq, struct response *rs)
{
	const char *name = rq->ncap > 0 ? rq->cap[0] : "";

	if (!name_ok(name)) {
		(void)bad(rs, "webhook names are 1-64 characters of letters, digits, '.', '_' and "
		              "'-'");
		return NULL;
	}
	return name;
}

int
events_sys_webhook_read(struct request *rq, struct response *rs)
{
	struct events *ev = events_of(rq->core);
	const char *name = webhook_name(rq, rs);
	json_t *cfg = NULL;
	int r;

	if (!name)
		return CF_EINVAL;
	r = view_get_json(ev->hooks_view, name, &cfg);
	if (r < 0)
		return r;
	rs->data = hook_public(name, cfg);
	json_decref(cfg);
	return rs->data ? 0 : CF_ENOMEM;
}

int
events_sys_webhook_write(struct request *rq, struct response *rs)
{
	const char *name = webhook_name(rq, rs);

	if (!name)
		return CF_EINVAL;
	return webhook_write(events_of(rq->core), name, rq, rs);
}

int
events_sys_webhook_delete(struct request *rq, struct response *rs)
{
	struct events *ev = events_of(rq->core);
	const char *name = webhook_name(rq, rs);
	int r;

	if (!name)
		return CF_EINVAL;
	pthread_mutex_lock(&ev->hmu);
	r = view_delete(ev->hooks_view, name);
	if (r == CF_ENOTFOUND)
		r = 0;
	if (r == 0)
		hook_replace(ev, name, NULL);
	pthread_cond_broadcast(&ev->hcond);
	pthread_mutex_unlock(&ev->hmu);
	if (r == 0)
		log_info("webhook %s deleted", name);
	return r;
}

int
events_sys_webhooks_list(struct request *rq, struct response *rs)
{
	/* Vault answers an empty LIST with 404 */
	return view_list_response(events_of(rq->core)->hooks_view, "", 0, rs);
}
