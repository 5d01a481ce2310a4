/* reencrypt.c - re-encryption of all stored data under the newest barrier term
 * (sys/rotate/reencrypt) and retirement of old terms (sys/rotate/retire).
 *
 * Vault's sys/rotate only adds a term; old values stay under the old key forever.
 * After a suspected key breach that is not enough: every value must move to the
 * new key and the old key must go. The job walks every stored key, and hands them
 * to barrier_reencrypt() in batches; each batch is one storage transaction done
 * under the barrier's write lock (so no concurrent write can be lost), and the
 * job's progress is stored after every batch.
 *
 * Restart safety: the job state ("core/reencrypt", through the barrier) says
 * "running" until the walk has finished. After a crash, the next unseal starts
 * the walk again from the beginning: values already under the newest term are
 * skipped without decryption, and re-encryption always starts from the plaintext,
 * so nothing is wrapped twice and nothing is lost.
 *
 * See docs/internals/crypto.md. */
#include "core/core_int.h"
#include "core/reencrypt.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATE_KEY       "reencrypt" /* in core_view: core/reencrypt */
#define SEAL_CONFIG_KEY "core/seal-config"
#define DEFAULT_BATCH   256
#define MAX_BATCH       10000
#define MAX_INTERVAL_MS 60000
#define NS              1000000000LL

struct reencrypt {
	struct core *c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool running, stop;
	pthread_t thread;
	/* progress of the current run (under mu) */
	json_t *state;
};

/* Keys the job must not touch: the barrier's own and the plain seal config. */
static bool
skip_key(const char *k)
{
	return barrier_key_reserved(k) || strcmp(k, SEAL_CONFIG_KEY) == 0;
}

/* Appends every stored key under prefix to *keys (recursively). */
static int
walk(struct barrier *b, const char *prefix, char ***keys, size_t *n, size_t *cap)
{
	char **names = NULL;
	size_t nn = 0;
	int r = barrier_list(b, prefix, &names, &nn);

	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < nn && r == 0; i++) {
		char *k = NULL;
		if (asprintf(&k, "%s%s", prefix, names[i]) < 0) {
			r = CF_ENOMEM;
			break;
		}
		if (k[strlen(k) - 1] == '/') {
			r = walk(b, k, keys, n, cap);
			free(k);
			continue;
		}
		if (skip_key(k)) {
			free(k);
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 1024;
			char **nk = realloc(*keys, nc * sizeof(*nk)); /* not secret: key names */
			if (!nk) {
				free(k);
				r = CF_ENOMEM;
				break;
			}
			*keys = nk;
			*cap = nc;
		}
		(*keys)[(*n)++] = k;
	}
	storage_keys_free(names, nn);
	return r;
}

static void
keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]); /* not secret: storage key names */
	free(keys);            /* not secret: storage key names */
}

static int
state_save(struct reencrypt *re, json_t *st)
{
	return view_put_json(re->c->core_view, STATE_KEY, st);
}

static int64_t
st_int(json_t *st, const char *k)
{
	int64_t v = 0;
	(void)jsonx_int(st, k, &v);
	return v;
}

static void
st_set(struct reencrypt *re, const char *k, json_t *v)
{
	pthread_mutex_lock(&re->mu);
	json_object_set_new(re->state, k, v);
	pthread_mutex_unlock(&re->mu);
}

/* A copy of the state to store or show. */
static json_t *
st_copy(struct reencrypt *re)
{
	pthread_mutex_lock(&re->mu);
	json_t *c = json_deep_copy(re->state);
	pthread_mutex_unlock(&re->mu);
	return c;
}

static bool
wait_interval(struct reencrypt *re, int64_t ms)
{
	struct timespec ts;
	int64_t until = util_now_ns() + ms * 1000000;
	bool stop;

	ts.tv_sec = (time_t)(until / NS);
	ts.tv_nsec = (long)(until % NS);
	pthread_mutex_lock(&re->mu);
	while (!re->stop && ms > 0 && util_now_ns() < until)
		pthread_cond_timedwait(&re->cv, &re->mu, &ts);
	stop = re->stop;
	pthread_mutex_unlock(&re->mu);
	return !stop;
}

/* One batch; on failure, key by key so one damaged value does not stop the rest. */
static void
run_batch(struct reencrypt *re, char **keys, size_t n, size_t *ret_rewrapped, size_t *ret_errors)
{
	struct barrier *b = re->c->barrier;
	size_t done = 0;
	int r = barrier_reencrypt(b, keys, n, &done);

	*ret_errors = 0;
	if (r == 0 || r == CF_ESEALED) {
		*ret_rewrapped = done;
		return;
	}
	*ret_rewrapped = 0;
	for (size_t i = 0; i < n; i++) {
		r = barrier_reencrypt(b, &keys[i], 1, &done);
		if (r == 0) {
			*ret_rewrapped += done;
		} else if (r != CF_ESEALED) {
			log_error("re-encryption: %s could not be re-encrypted: %s", keys[i],
			          cf_strerror(r));
			(*ret_errors)++;
		}
	}
}

static void *
job_main(void *arg)
{
	struct reencrypt *re = arg;
	struct barrier *b = re->c->barrier;
	char **keys = NULL;
	size_t n = 0, cap = 0, batch;
	int64_t interval;
	uint32_t oldest, active;
	int r;

	pthread_mutex_lock(&re->mu);
	batch = (size_t)st_int(re->state, "batch_size");
	interval = st_int(re->state, "interval_ms");
	pthread_mutex_unlock(&re->mu);
	if (batch == 0)
		batch = DEFAULT_BATCH;

	r = walk(b, "", &keys, &n, &cap);
	if (r < 0) {
		log_error_r(r, "re-encryption: listing storage failed; will resume at next unseal");
		keys_free(keys, n);
		return NULL;
	}
	if (barrier_terms(b, &oldest, &active) == 0)
		st_set(re, "target_term", json_integer(active));
	st_set(re, "total", json_integer((json_int_t)n));
	st_set(re, "done", json_integer(0));
	log_info("re-encryption: %zu entries to check", n);

	for (size_t i = 0; i < n; i += batch) {
		size_t len = n - i < batch ? n - i : batch, rewrapped = 0, errors = 0;
		json_t *st;

		if (!wait_interval(re, i ? interval : 0))
			break;
		run_batch(re, keys + i, len, &rewrapped, &errors);
		pthread_mutex_lock(&re->mu);
		json_object_set_new(re->state, "done", json_integer((json_int_t)(i + len)));
		json_object_set_new(
		        re->state, "rewrapped",
		        json_integer(st_int(re->state, "rewrapped") + (json_int_t)rewrapped));
		json_object_set_new(re->state, "errors",
		                    json_integer(st_int(re->state, "errors") + (json_int_t)errors));
		st = json_deep_copy(re->state);
		bool stop = re->stop;
		pthread_mutex_unlock(&re->mu);
		if (stop) {
			json_decref(st);
			break;
		}
		if (st && state_save(re, st) < 0)
			log_error("re-encryption: progress could not be stored");
		json_decref(st);
	}

	pthread_mutex_lock(&re->mu);
	bool stopped = re->stop;
	if (!stopped) {
		json_object_set_new(re->state, "state", json_string("finished"));
		json_object_set_new(re->state, "finished", json_integer(util_now_ns()));
	}
	json_t *st = json_deep_copy(re->state);
	pthread_mutex_unlock(&re->mu);
	if (!stopped) {
		if (st && state_save(re, st) < 0)
			log_error("re-encryption: the final state could not be stored");
		log_info("re-encryption finished: %lld entries checked, %lld re-encrypted, %lld "
		         "errors",
		         (long long)st_int(st, "done"), (long long)st_int(st, "rewrapped"),
		         (long long)st_int(st, "errors"));
	}
	json_decref(st);
	keys_free(keys, n);
	return NULL;
}

/* ---- lifecycle ---- */

int
reencrypt_new(struct core *c, struct reencrypt **ret)
{
	struct reencrypt *re = calloc(1, sizeof(*re));
	if (!re)
		return CF_ENOMEM;
	re->c = c;
	pthread_mutex_init(&re->mu, NULL);
	pthread_cond_init(&re->cv, NULL);
	*ret = re;
	return 0;
}

void
reencrypt_free(struct reencrypt *re)
{
	if (!re)
		return;
	reencrypt_stop(re);
	json_decref(re->state);
	pthread_mutex_destroy(&re->mu);
	pthread_cond_destroy(&re->cv);
	free(re);
}

static int
start_thread(struct reencrypt *re)
{
	re->stop = false;
	if (pthread_create(&re->thread, NULL, job_main, re) != 0)
		return CF_ENOMEM;
	re->running = true;
	return 0;
}

void
reencrypt_stop(struct reencrypt *re)
{
	if (!re->running)
		return;
	pthread_mutex_lock(&re->mu);
	re->stop = true;
	pthread_cond_broadcast(&re->cv);
	pthread_mutex_unlock(&re->mu);
	pthread_join(re->thread, NULL);
	re->running = false;
}

/* Whether the job thread is still working (joins it once it has finished). */
static bool
job_active(struct reencrypt *re)
{
	if (!re->running)
		return false;
	pthread_mutex_lock(&re->mu);
	bool fin = strcmp(json_string_value(json_object_get(re->state, "state")) ?: "", "running");
	pthread_mutex_unlock(&re->mu);
	if (fin || pthread_tryjoin_np(re->thread, NULL) == 0) {
		if (fin)
			pthread_join(re->thread, NULL);
		re->running = false;
		return false;
	}
	return true;
}

int
reencrypt_resume(struct reencrypt *re)
{
	json_t *st = NULL;
	int r = view_get_json(re->c->core_view, STATE_KEY, &st);

	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	pthread_mutex_lock(&re->mu);
	json_decref(re->state);
	re->state = st;
	pthread_mutex_unlock(&re->mu);
	if (strcmp(json_string_value(json_object_get(st, "state")) ?: "", "running") != 0)
		return 0;
	log_info("re-encryption: resuming the job started before the restart");
	json_object_set_new(st, "resumed", json_integer(st_int(st, "resumed") + 1));
	return start_thread(re);
}

/* ---- sys routes ---- */

static json_t *
status_json(json_t *st)
{
	char started[40] = "", finished[40] = "";
	int64_t s = st_int(st, "started"), f = st_int(st, "finished");
	const char *state = json_string_value(json_object_get(st, "state"));

	if (s)
		util_rfc3339(s, started, sizeof(started));
	if (f)
		util_rfc3339(f, finished, sizeof(finished));
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:I}", "state",
	                 state ? state : "idle", "running", state && strcmp(state, "running") == 0,
	                 "target_term", (json_int_t)st_int(st, "target_term"), "done",
	                 (json_int_t)st_int(st, "done"), "total", (json_int_t)st_int(st, "total"),
	                 "rewrapped", (json_int_t)st_int(st, "rewrapped"), "errors",
	                 (json_int_t)st_int(st, "errors"), "started",
	                 s ? json_string(started) : json_null(), "finished",
	                 f ? json_string(finished) : json_null(), "resumed",
	                 (json_int_t)st_int(st, "resumed"));
}

int
reencrypt_sys_status(struct request *rq, struct response *rs)
{
	struct reencrypt *re = rq->core->reencrypt;
	json_t *st = re->state ? st_copy(re) : json_object();

	rs->data = st ? status_json(st) : NULL;
	json_decref(st);
	return rs->data ? 0 : CF_ENOMEM;
}

int
reencrypt_sys(struct request *rq, struct response *rs)
{
	struct reencrypt *re = rq->core->reencrypt;
	int64_t batch = DEFAULT_BATCH, interval_ms = 0, interval_s = 0;
	json_t *st;
	int r;

	if (jsonx_int(rq->data, "batch_size", &batch) == CF_EINVAL || batch < 1 ||
	    batch > MAX_BATCH) {
		(void)response_errorf(rs, "batch_size must be between 1 and %d", MAX_BATCH);
		return CF_EINVAL;
	}
	{
		const char *txt = NULL;
		if (jsonx_str(rq->data, "interval", &txt) == 0) {
			int64_t ns = 0;
			if (duration_parse_ns(txt, &ns) < 0) {
				(void)response_errorf(
				        rs, "interval must be a duration such as \"50ms\"");
				return CF_EINVAL;
			}
			interval_ms = ns / 1000000;
		} else if (jsonx_int(rq->data, "interval", &interval_s) == 0) {
			/* range first: the product of a huge number would overflow */
			interval_ms = interval_s < 0 || interval_s > MAX_INTERVAL_MS / 1000
			                      ? -1
			                      : interval_s * 1000;
		}
		if (interval_ms < 0 || interval_ms > MAX_INTERVAL_MS) {
			(void)response_errorf(rs, "interval must be between 0 and 60s");
			return CF_EINVAL;
		}
	}
	if (job_active(re)) {
		(void)response_warnf(rs, "a re-encryption job is already running");
		st = st_copy(re);
		rs->data = st ? status_json(st) : NULL;
		json_decref(st);
		return rs->data ? 0 : CF_ENOMEM;
	}
	st = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "state", "running", "started",
	               (json_int_t)util_now_ns(), "batch_size", (json_int_t)batch, "interval_ms",
	               (json_int_t)interval_ms, "done", (json_int_t)0, "rewrapped", (json_int_t)0,
	               "errors", (json_int_t)0);
	if (!st)
		return CF_ENOMEM;
	r = state_save(re, st);
	if (r < 0) {
		json_decref(st);
		return r;
	}
	pthread_mutex_lock(&re->mu);
	json_decref(re->state);
	re->state = st;
	pthread_mutex_unlock(&re->mu);
	r = start_thread(re);
	if (r < 0)
		return r;
	log_info("re-encryption started (batch %lld, interval %lld ms)", (long long)batch,
	         (long long)interval_ms);
	st = st_copy(re);
	rs->data = st ? status_json(st) : NULL;
	json_decref(st);
	return rs->data ? 0 : CF_ENOMEM;
}

int
reencrypt_sys_retire(struct request *rq, struct response *rs)
{
	struct reencrypt *re = rq->core->reencrypt;
	struct barrier *b = rq->core->barrier;
	char **keys = NULL;
	size_t n = 0, cap = 0, old = 0, removed = 0;
	uint32_t oldest, active, term;
	int r;

	if (job_active(re)) {
		(void)response_errorf(rs,
		                      "a re-encryption job is running; retire after it finished");
		return CF_EINVAL;
	}
	r = barrier_terms(b, &oldest, &active);
	if (r < 0)
		return r;
	if (oldest < active) {
		r = walk(b, "", &keys, &n, &cap);
		for (size_t i = 0; r == 0 && i < n; i++)
			if (barrier_stored_term(b, keys[i], &term) == 0 && term < active)
				old++;
		keys_free(keys, n);
		if (r < 0)
			return r;
		if (old > 0) {
			(void)response_errorf(
			        rs,
			        "%zu stored entries still use key terms older than %u; run "
			        "sys/rotate/reencrypt first",
			        old, active);
			return CF_EINVAL;
		}
		r = barrier_retire_terms(b, active, &removed);
		if (r < 0)
			return r;
		log_info("barrier key terms %u to %u retired", oldest, active - 1);
	}
	rs->data = json_pack("{s:I, s:I}", "retired", (json_int_t)removed, "oldest_term",
	                     (json_int_t)active);
	return rs->data ? 0 : CF_ENOMEM;
}
