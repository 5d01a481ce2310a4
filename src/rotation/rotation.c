/* rotation.c - the rotation manager: the job table, the scheduler thread and
 * the persisted step machine create -> set -> test -> finish -> revoke
 * (docs/internals/rotation.md "One rotation, step by step"; docs/internals/rotation.md).
 *
 * Storage (view sys/rotation/, through the barrier):
 *   jobs/<name>       {"config": {...}, "state": {...}}; state.pending holds a
 *                     rotation in progress, with the generated values (SECRET)
 *   consumers/<name>  adoption records, written in batches (<= 1/s per job)
 *
 * Crash safety: the pending record (with its step) is stored before each step
 * runs; a step re-run after a crash sees what it already did (targets compare
 * against the base version stored in the record), so a job never rotates twice.
 *
 * Locking: internal requests run under the core lock for reading: a handler
 * already holds it; the scheduler takes it for each request (rotation_call),
 * so a seal waits for one request, never for a rotation, and a rotation cut
 * by a seal resumes from its stored step after unseal. rm->mu guards
 * the job list and every job's cfg/st; it is never held across a request or a
 * storage write. Lock order: core lock, rm->wlock, rm->mu, job->cmu. A job's
 * `busy` flag makes one rotation per job at a time. */
#include "rotation/rotation_int.h"

#include "core/core.h"
#include "core/token.h"
#include "backend/view.h"
#include "lib/cron.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_INTERVAL_NS NS_PER_S
/* How long an API call waits for a job the scheduler is working on. Short: the
 * caller holds the core lock for reading, and a seal queued behind it waits too. */
#define BUSY_WAIT_S 10

/* ---- small JSON helpers ---- */

static int64_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void
setint(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* ---- the manager ---- */

bool
rotation_stopping(struct rotation *rm)
{
	bool s;

	pthread_mutex_lock(&rm->mu);
	s = rm->stop;
	pthread_mutex_unlock(&rm->mu);
	return s;
}

static void metrics_jobs(void *arg, struct metrics_out *o);
static void metrics_adoption(void *arg, struct metrics_out *o);

int
rotation_new(struct core *c, struct rotation **ret)
{
	struct rotation *rm = calloc(1, sizeof(*rm));
	const char *e;
	int64_t v;

	if (!rm)
		return CF_ENOMEM;
	rm->c = c;
	rm->view = view_new(core_barrier(c), "sys/rotation/");
	if (!rm->view) {
		free(rm);
		return CF_ENOMEM;
	}
	pthread_mutex_init(&rm->mu, NULL);
	pthread_cond_init(&rm->cv, NULL);
	pthread_rwlock_init(&rm->wlock, NULL);
	if (metrics_collector_add(METRIC_ROTATION_JOBS, metrics_jobs, rm) < 0 ||
	    metrics_collector_add(METRIC_ROTATION_ADOPTION, metrics_adoption, rm) < 0) {
		rotation_free(rm);
		return CF_ENOMEM;
	}
	/* Test hooks (docs/internals/rotation.md): a shorter first backoff, and a
	 * crash (_exit) right after a step's effect, before its progress is saved. */
	e = util_test_hook("COFFER_ROTATION_TEST_BACKOFF");
	if (e && util_parse_int(e, &v) == 0 && v > 0)
		rm->backoff_base_s = v;
	e = util_test_hook("COFFER_ROTATION_CRASH_AFTER");
	if (e)
		snprintf(rm->crash_after, sizeof(rm->crash_after), "%s", e);
	*ret = rm;
	return 0;
}

static void
job_free(struct rjob *j)
{
	if (!j)
		return;
	json_decref(j->cfg);
	json_decref(j->st);
	json_decref(j->consumers);
	cron_free(j->cron);
	pthread_mutex_destroy(&j->pmu);
	pthread_mutex_destroy(&j->cmu);
	free(j);
}

static void
job_unref_locked(struct rjob *j)
{
	if (--j->refs == 0)
		job_free(j);
}

void
rotation_job_put(struct rotation *rm, struct rjob *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&rm->mu);
	job_unref_locked(j);
	pthread_mutex_unlock(&rm->mu);
}

struct rjob *
rotation_job_get(struct rotation *rm, const char *name)
{
	struct rjob *j;

	pthread_mutex_lock(&rm->mu);
	for (j = rm->jobs; j; j = j->next)
		if (!j->deleted && strcmp(j->name, name) == 0)
			break;
	if (j)
		j->refs++;
	pthread_mutex_unlock(&rm->mu);
	return j;
}

static void
watch_add(struct rotation *rm, struct rjob *j)
{
	uint32_t b;

	if (strcmp(jstr(j->cfg, "target"), "kv") == 0)
		snprintf(j->watch, sizeof(j->watch), "%sdata/%s", jstr(j->cfg, "mount"),
		         jstr(j->cfg, "path"));
	else if (strcmp(jstr(j->cfg, "target"), "pki") == 0)
		snprintf(j->watch, sizeof(j->watch), "%sdata/%s", jstr(j->cfg, "kv_mount"),
		         jstr(j->cfg, "path"));
	else
		return;
	b = util_fnv1a_str(j->watch) % ROT_WATCH_BUCKETS;
	pthread_rwlock_wrlock(&rm->wlock);
	j->wnext = rm->watch[b];
	rm->watch[b] = j;
	__atomic_add_fetch(&rm->nwatch, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&rm->wlock);
}

static void
watch_remove(struct rotation *rm, struct rjob *j)
{
	struct rjob **pp;
	uint32_t b;

	if (!j->watch[0])
		return;
	b = util_fnv1a_str(j->watch) % ROT_WATCH_BUCKETS;
	pthread_rwlock_wrlock(&rm->wlock);
	for (pp = &rm->watch[b]; *pp; pp = &(*pp)->wnext) {
		if (*pp == j) {
			*pp = j->wnext;
			__atomic_sub_fetch(&rm->nwatch, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_rwlock_unlock(&rm->wlock);
	j->watch[0] = '\0';
}

static int
job_new(const char *name, json_t *cfg, json_t *st, json_t *consumers, struct rjob **ret)
{
	struct rjob *j = calloc(1, sizeof(*j));
	const char *s;

	if (!j)
		return CF_ENOMEM;
	snprintf(j->name, sizeof(j->name), "%s", name);
	pthread_mutex_init(&j->pmu, NULL);
	pthread_mutex_init(&j->cmu, NULL);
	j->cfg = json_incref(cfg);
	j->st = json_incref(st);
	j->consumers = consumers ? json_incref(consumers) : json_object();
	j->refs = 1;
	j->current_version = jint(st, "current_version");
	s = json_string_value(json_object_get(cfg, "schedule"));
	if (s && cron_parse(s, &j->cron, NULL, 0) < 0) {
		job_free(j);
		return CF_EINVAL;
	}
	*ret = j;
	return 0;
}

/* The next due time (ns) from anchor_ns, jitter included; 0 = none. */
static int64_t
next_rotation(struct rjob *j, int64_t anchor_ns)
{
	int64_t period = jint(j->cfg, "period_s"), jit = jint(j->cfg, "jitter_s"), t;

	if (strcmp(jstr(j->cfg, "target"), "pki") == 0)
		return rotation_pki_due(j->cfg, j->st); /* by expiry, not by a period */
	if (j->cron) {
		t = rotation_next_fire(j->cron, 0, anchor_ns / NS_PER_S);
		if (t < 0)
			return 0;
		t *= NS_PER_S;
	} else if (period > 0) {
		t = anchor_ns + period * NS_PER_S;
	} else {
		return 0;
	}
	if (jit > 0)
		t += (int64_t)randombytes_uniform(
		             (uint32_t)(jit > 86400 * 365 ? 86400 * 365 : jit) + 1) *
		     NS_PER_S;
	return t;
}

/* Stores the job record (snapshot under mu, written outside it; pmu keeps the
 * writes of one job in order). */
static int
job_save(struct rotation *rm, struct rjob *j)
{
	char key[ROT_NAME_MAX + 8];
	json_t *rec;
	int r;

	snprintf(key, sizeof(key), "jobs/%s", j->name);
	pthread_mutex_lock(&j->pmu);
	pthread_mutex_lock(&rm->mu);
	if (j->deleted) {
		pthread_mutex_unlock(&rm->mu);
		pthread_mutex_unlock(&j->pmu);
		return 0;
	}
	rec = json_pack("{s:o, s:o}", "config", json_deep_copy(j->cfg), "state",
	                json_deep_copy(j->st));
	pthread_mutex_unlock(&rm->mu);
	r = rec ? view_put_json(rm->view, key, rec) : CF_ENOMEM;
	json_decref(rec);
	pthread_mutex_unlock(&j->pmu);
	if (r < 0)
		log_error("rotation: job %s: storing its state failed: %s", j->name,
		          cf_strerror(r));
	return r;
}

static int
consumers_flush(struct rotation *rm, struct rjob *j)
{
	char key[ROT_NAME_MAX + 16];
	json_t *copy;
	int r = 0;

	snprintf(key, sizeof(key), "consumers/%s", j->name);
	pthread_mutex_lock(&j->pmu);
	pthread_mutex_lock(&j->cmu);
	if (!j->cdirty) {
		pthread_mutex_unlock(&j->cmu);
		pthread_mutex_unlock(&j->pmu);
		return 0;
	}
	copy = json_deep_copy(j->consumers);
	j->cdirty = false;
	pthread_mutex_unlock(&j->cmu);
	if (copy && !j->deleted)
		r = view_put_json(rm->view, key, copy);
	json_decref(copy);
	pthread_mutex_unlock(&j->pmu);
	return r;
}

/* ---- events and audit ---- */

static void
emit(struct rotation *rm, struct rjob *j, json_t *cfg, const char *type, enum event_severity sev,
     int64_t version, int64_t prev, bool force, const char *reason, json_t *extra)
{
	struct event ev = {
	        .type = type,
	        .job = j->name,
	        .mount = jstr(cfg, "mount"),
	        .path = jstr(cfg, "path"),
	        .reason = reason && *reason ? reason : NULL,
	        .version = version,
	        .previous_version = prev,
	        .severity = sev,
	        .force = force,
	        .extra = extra,
	};
	int r = core_emit_event(rm->c, &ev, NULL);

	if (r < 0)
		log_error("rotation: job %s: event %s could not be stored: %s", j->name, type,
		          cf_strerror(r));
}

/* ---- the step machine ---- */

static void
crash_point(struct rotation *rm, const char *step)
{
	if (rm->crash_after[0] && strcmp(rm->crash_after, step) == 0) {
		log_error("rotation: COFFER_ROTATION_CRASH_AFTER=%s: exiting now (test hook)",
		          step);
		_exit(86);
	}
}

static int
save_pending(struct rctx *x)
{
	pthread_mutex_lock(&x->rm->mu);
	json_object_set_new(x->job->st, "pending", json_deep_copy(x->p));
	pthread_mutex_unlock(&x->rm->mu);
	return job_save(x->rm, x->job);
}

static void
history_add(json_t *st, int64_t version, int64_t when, const char *trigger, const char *outcome,
            const char *error)
{
	json_t *h = json_object_get(st, "history");

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(st, "history", h);
	}
	json_array_insert_new(h, 0,
	                      json_pack("{s:o, s:I, s:s, s:s, s:o}", "version",
	                                version > 0 ? json_integer(version) : json_null(), "time",
	                                (json_int_t)when, "trigger", trigger, "outcome", outcome,
	                                "error", error ? json_string(error) : json_null()));
	while (json_array_size(h) > ROT_HISTORY_MAX)
		json_array_remove(h, json_array_size(h) - 1);
}

/* Invalidates the previous version now (grace end, adoption, superseded,
 * job deletion). Caller holds the job busy. */
static int
revoke_previous(struct rctx *x, const char *why)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	const struct target_ops *ops;
	json_t *cfg, *st;
	int64_t prev;
	int r = 0;

	pthread_mutex_lock(&rm->mu);
	cfg = json_deep_copy(j->cfg);
	st = json_deep_copy(j->st);
	pthread_mutex_unlock(&rm->mu);
	prev = jint(st, "previous_version");
	ops = rotation_target(jstr(cfg, "target"));
	if (prev > 0 && ops) {
		r = ops->revoke(x, cfg, st, prev);
		if (r < 0 && x->sealing)
			goto out;
		if (r < 0) {
			log_error("rotation: job %s: revoking version %lld failed: %s", j->name,
			          (long long)prev, x->err);
			pthread_mutex_lock(&rm->mu);
			json_object_set_new(j->st, "last_error", json_string(x->err));
			/* try again after the first backoff */
			setint(j->st, "grace_ends",
			       util_now_ns() + rotation_backoff(1, rm->backoff_base_s) * NS_PER_S);
			pthread_mutex_unlock(&rm->mu);
			(void)job_save(rm, j);
			goto out;
		}
		crash_point(rm, "revoke");
	}
	pthread_mutex_lock(&rm->mu);
	setint(j->st, "previous_version", 0);
	setint(j->st, "grace_ends", 0);
	json_object_set_new(j->st, "grace_extended", json_false());
	json_object_del(json_object_get(j->st, "hashes"), "previous");
	pthread_mutex_unlock(&rm->mu);
	r = job_save(rm, j);
	if (prev > 0) {
		log_info("rotation: job %s: version %lld revoked (%s)", j->name, (long long)prev,
		         why);
		emit(rm, j, cfg, "rotation.revoked", EV_INFO, prev, 0, false, why, NULL);
	}
out:
	json_decref(cfg);
	json_decref(st);
	return r;
}

/* Takes up the stored pending record of a rotation cut by a crash or a seal,
 * or stores a new one (step "create") and announces the start. On success
 * x->p holds the record and *ret_trigger the trigger it records (for a resumed
 * rotation, a string inside x->p). st is the job's state (borrowed). */
static int
rotate_begin(struct rctx *x, json_t *cfg, json_t *st, const char *trigger, const char *reason,
             const char **ret_trigger)
{
	struct rjob *j = x->job;
	json_t *p;
	char id[37];
	int r = 0;

	p = json_object_get(st, "pending");
	if (json_is_object(p)) {
		p = json_deep_copy(p);
		trigger = jstr(p, "trigger");
		log_info("rotation: job %s: resuming a %s rotation at step %s", j->name, trigger,
		         jstr(p, "step"));
		x->p = p;
		goto out;
	}
	util_uuid(id);
	p = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "trigger", trigger, "reason",
	              reason ? reason : "", "step", "create", "started", (json_int_t)util_now_ns());
	if (!p) {
		r = CF_ENOMEM;
		goto out;
	}
	x->p = p;
	r = save_pending(x);
	if (r < 0) {
		json_decref(p);
		x->p = NULL;
		goto out;
	}
	emit(x->rm, j, cfg, "rotation.started", EV_INFO, 0, jint(st, "current_version"), false,
	     reason, NULL);
out:
	if (r == 0)
		*ret_trigger = trigger;
	return r;
}

/* Runs the steps create -> set -> test from the one stored in x->p, storing
 * the record after each, so that a crash or a seal resumes at the next. */
static int
rotate_steps(struct rctx *x, const struct target_ops *ops, json_t *cfg, json_t *st)
{
	json_t *p = x->p;
	const char *step, *next;
	int r = 0;

	for (;;) {
		step = jstr(p, "step");
		if (strcmp(step, "create") == 0) {
			r = ops->create(x, cfg, st, p);
			next = "set";
		} else if (strcmp(step, "set") == 0) {
			r = ops->set(x, cfg, st, p);
			next = "test";
		} else if (strcmp(step, "test") == 0) {
			r = ops->test(x, cfg, st, p);
			next = "finish";
		} else {
			break;
		}
		if (r < 0)
			break;
		crash_point(x->rm, step);
		json_object_set_new(p, "step", json_string(next));
		r = save_pending(x);
		if (r < 0)
			break;
	}
	return r;
}

/* After the target's finish step: the new version becomes the job's current
 * one (versions, hashes, grace, history; the pending record goes), the job is
 * stored and the completion announced. Without grace the previous version is
 * revoked at once. */
static void
rotate_commit(struct rctx *x, json_t *cfg, const char *trigger, bool compromise,
              int64_t *ret_version, int64_t *ret_prev)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	json_t *p = x->p, *hashes;
	const char *reason = jstr(p, "reason");
	int64_t now, newv, prevv, ge, grace;

	now = util_now_ns();
	newv = jint(p, "new_version");
	prevv = compromise ? 0 : jint(p, "prev_version");
	grace = jint(cfg, "grace_s");
	ge = jint(p, "grace_ends");
	/* grace 0: due now, so a crash before the revoke below still revokes */
	if (ge <= 0)
		ge = now + grace * NS_PER_S;
	if (prevv == 0)
		ge = 0;
	pthread_mutex_lock(&rm->mu);
	hashes = json_object_get(j->st, "hashes");
	if (!json_is_object(hashes)) {
		hashes = json_object();
		json_object_set_new(j->st, "hashes", hashes);
	}
	json_object_set(hashes, "current", json_object_get(p, "hashes"));
	if (prevv > 0)
		json_object_set(hashes, "previous", json_object_get(p, "prev_hashes"));
	else
		json_object_del(hashes, "previous");
	json_object_update(j->st, json_object_get(p, "target_state")); /* pki: the certificates */
	setint(j->st, "current_version", newv);
	setint(j->st, "previous_version", prevv);
	setint(j->st, "grace_ends", ge);
	json_object_set_new(j->st, "grace_extended", json_false());
	json_object_set_new(j->st, "adoption_done", json_false());
	setint(j->st, "last_rotation", now);
	setint(j->st, "current_since", now);
	setint(j->st, "failures", 0);
	setint(j->st, "retry_at", 0);
	json_object_set_new(j->st, "last_error", json_null());
	setint(j->st, "next_rotation", next_rotation(j, now));
	history_add(j->st, newv, now, trigger, "success", NULL);
	json_object_del(j->st, "pending");
	pthread_mutex_unlock(&rm->mu);
	pthread_mutex_lock(&j->cmu);
	j->current_version = newv;
	pthread_mutex_unlock(&j->cmu);
	(void)job_save(rm, j);
	log_info("rotation: job %s: version %lld is current (%s)", j->name, (long long)newv,
	         trigger);
	emit(rm, j, cfg, "rotation.completed", EV_INFO, newv, prevv, false, reason, NULL);
	if (compromise)
		emit(rm, j, cfg, "secret.compromised", EV_CRITICAL, newv, 0, true, reason, NULL);
	else if (prevv > 0 && grace <= 0 && jint(p, "grace_ends") <= 0)
		(void)revoke_previous(x, "no grace");
	if (ret_version)
		*ret_version = newv;
	if (ret_prev)
		*ret_prev = prevv;
}

/* A started rotation failed with r: counts the failure, schedules the retry
 * with backoff, records it in the history and announces it; the pending
 * record goes. A rotation cut by a seal is no failure: its stored record
 * resumes after unseal. st is the job's state the rotation started from. */
static void
rotate_failed(struct rctx *x, json_t *cfg, json_t *st, const char *trigger, int r)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	int64_t now, fails, delay;
	char msg[sizeof(x->err)];

	if (x->sealing) {
		log_info("rotation: job %s: interrupted by a seal at step %s", j->name,
		         jstr(x->p, "step"));
		return;
	}
	if (!x->err[0])
		snprintf(x->err, sizeof(x->err), "%s", cf_strerror(r));
	snprintf(msg, sizeof(msg), "%s", x->err);
	now = util_now_ns();
	pthread_mutex_lock(&rm->mu);
	fails = jint(j->st, "failures") + 1;
	delay = rotation_backoff(fails, rm->backoff_base_s);
	setint(j->st, "failures", fails);
	setint(j->st, "retry_at", now + delay * NS_PER_S);
	json_object_set_new(j->st, "retry_trigger", json_string(trigger));
	json_object_set_new(j->st, "last_error", json_string(msg));
	history_add(j->st, 0, now, trigger, "failed", msg);
	json_object_del(j->st, "pending");
	pthread_mutex_unlock(&rm->mu);
	metrics_count(METRIC_ROTATION_FAILURES, NULL, 1);
	(void)job_save(rm, j);
	log_error("rotation: job %s: rotation failed (%lld in a row, retry in %llds): %s", j->name,
	          (long long)fails, (long long)delay, msg);
	emit(rm, j, cfg, "rotation.failed", fails >= ROT_ALERT_FAILURES ? EV_CRITICAL : EV_WARNING,
	     0, jint(st, "current_version"), false, msg, NULL);
}

/* Runs (or resumes) one rotation. Caller holds the job busy and the core lock
 * for reading. */
static int
rotate_run(struct rctx *x, const char *trigger, const char *reason, int64_t *ret_version,
           int64_t *ret_prev)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	const struct target_ops *ops;
	json_t *cfg, *st;
	bool compromise, started = false;
	int r = 0;

	pthread_mutex_lock(&rm->mu);
	cfg = json_deep_copy(j->cfg);
	st = json_deep_copy(j->st);
	pthread_mutex_unlock(&rm->mu);
	if (!cfg || !st) {
		r = CF_ENOMEM;
		goto out;
	}
	ops = rotation_target(jstr(cfg, "target"));
	if (!ops) {
		r = CF_EINTERNAL;
		goto out;
	}
	r = rotate_begin(x, cfg, st, trigger, reason, &trigger);
	if (r < 0)
		goto out;
	started = true;
	compromise = strcmp(trigger, "compromise") == 0;
	r = rotate_steps(x, ops, cfg, st);
	if (r < 0)
		goto out;
	/* finish. One previous version at a time: an older one still in grace goes
	 * now. */
	if (!compromise && jint(st, "previous_version") > 0) {
		r = revoke_previous(x, "superseded by a new rotation");
		if (r < 0)
			goto out;
		pthread_mutex_lock(&rm->mu);
		json_decref(st);
		st = json_deep_copy(j->st);
		pthread_mutex_unlock(&rm->mu);
	}
	r = ops->finish(x, cfg, st, x->p, compromise);
	if (r < 0)
		goto out;
	crash_point(rm, "finish");
	rotate_commit(x, cfg, trigger, compromise, ret_version, ret_prev);
	r = 0;
out:
	if (r < 0 && started)
		rotate_failed(x, cfg, st, trigger, r);
	if (x->p) {
		json_decref(x->p);
		x->p = NULL;
	}
	json_decref(cfg);
	json_decref(st);
	return r;
}

/* ---- adoption ---- */

/* Counts consumers seen in the last 7 days and those on version >= cur;
 * fills laggards (array of ids) when not NULL. Caller holds j->cmu. */
static void
adoption_count(struct rjob *j, int64_t cur, int64_t now, size_t *ret_seen, size_t *ret_adopted,
               json_t *laggards)
{
	const char *k;
	json_t *e;
	size_t seen = 0, ok = 0;

	json_object_foreach(j->consumers, k, e)
	{
		if (jint(e, "last_read") < now - (int64_t)ROT_SEEN_WINDOW_S * NS_PER_S)
			continue;
		seen++;
		if (jint(e, "version") >= cur)
			ok++;
		else if (laggards)
			json_array_append_new(laggards, json_string(k));
	}
	*ret_seen = seen;
	*ret_adopted = ok;
}

/* adoption.completed (once per rotation) and revoke_when_adopted. */
static void
adoption_check(struct rctx *x)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	size_t seen, ok;
	int64_t cur, prev, last;
	bool done, early;
	json_t *cfg;

	pthread_mutex_lock(&rm->mu);
	cur = jint(j->st, "current_version");
	prev = jint(j->st, "previous_version");
	last = jint(j->st, "last_rotation");
	done = json_is_true(json_object_get(j->st, "adoption_done"));
	early = json_is_true(json_object_get(j->cfg, "revoke_when_adopted"));
	cfg = json_deep_copy(j->cfg);
	pthread_mutex_unlock(&rm->mu);
	if (done || last == 0 || cur <= 0)
		goto out;
	pthread_mutex_lock(&j->cmu);
	adoption_count(j, cur, util_now_ns(), &seen, &ok, NULL);
	pthread_mutex_unlock(&j->cmu);
	if (seen == 0 || ok < seen)
		goto out;
	pthread_mutex_lock(&rm->mu);
	json_object_set_new(j->st, "adoption_done", json_true());
	pthread_mutex_unlock(&rm->mu);
	(void)job_save(rm, j);
	log_info("rotation: job %s: every consumer reads version %lld", j->name, (long long)cur);
	emit(rm, j, cfg, "adoption.completed", EV_INFO, cur, prev, false, NULL, NULL);
	if (early && prev > 0)
		(void)revoke_previous(x, "adopted by every consumer");
out:
	json_decref(cfg);
}

static void
grace_end(struct rctx *x)
{
	struct rotation *rm = x->rm;
	struct rjob *j = x->job;
	json_t *laggards = json_array(), *cfg, *extra;
	size_t seen = 0, ok = 0;
	int64_t cur, prev, grace;
	bool extend, extended;

	pthread_mutex_lock(&rm->mu);
	cur = jint(j->st, "current_version");
	prev = jint(j->st, "previous_version");
	grace = jint(j->cfg, "grace_s");
	extend = strcmp(jstr(j->cfg, "on_incomplete_adoption"), "extend") == 0;
	extended = json_is_true(json_object_get(j->st, "grace_extended"));
	cfg = json_deep_copy(j->cfg);
	pthread_mutex_unlock(&rm->mu);
	pthread_mutex_lock(&j->cmu);
	adoption_count(j, cur, util_now_ns(), &seen, &ok, laggards);
	pthread_mutex_unlock(&j->cmu);
	if (seen > 0 && ok < seen) {
		extra = json_pack("{s:O}", "laggards", laggards);
		log_info("rotation: job %s: grace ends with %zu of %zu consumers on version %lld",
		         j->name, ok, seen, (long long)cur);
		emit(rm, j, cfg, "adoption.incomplete", EV_WARNING, cur, prev, false,
		     extend && !extended ? "grace extended" : "grace ended", extra);
		json_decref(extra);
		if (extend && !extended && grace > 0) {
			pthread_mutex_lock(&rm->mu);
			setint(j->st, "grace_ends", util_now_ns() + grace * NS_PER_S);
			json_object_set_new(j->st, "grace_extended", json_true());
			pthread_mutex_unlock(&rm->mu);
			(void)job_save(rm, j);
			goto out;
		}
	}
	(void)revoke_previous(x, "grace ended");
out:
	json_decref(laggards);
	json_decref(cfg);
}

/* ---- the scheduler ---- */

/* When the job needs attention (ns); INT64_MAX: not before something changes.
 * Caller holds rm->mu. */
static int64_t
job_due(struct rjob *j)
{
	int64_t d = INT64_MAX, t;

	if (j->busy || j->deleted)
		return INT64_MAX;
	if (j->kick || json_is_object(json_object_get(j->st, "pending")))
		return 0;
	t = jint(j->st, "grace_ends");
	if (t > 0 && t < d)
		d = t;
	if (jint(j->st, "failures") > 0)
		t = jint(j->st, "retry_at");
	else
		t = jint(j->st, "next_rotation");
	if (t > 0 && t < d)
		d = t;
	pthread_mutex_lock(&j->cmu);
	if (j->cdirty && j->cdirty_since + FLUSH_INTERVAL_NS < d)
		d = j->cdirty_since + FLUSH_INTERVAL_NS;
	pthread_mutex_unlock(&j->cmu);
	return d;
}

static void
rctx_init(struct rctx *x, struct rotation *rm, struct rjob *j, const struct request *outer)
{
	memset(x, 0, sizeof(*x));
	x->rm = rm;
	x->c = rm->c;
	x->nested = outer != NULL;
	x->outer = outer;
	x->job = j;
	x->save = save_pending;
}

/* Does whatever is due for j. Caller holds j busy and the core lock. */
static void
job_run_due(struct rotation *rm, struct rjob *j)
{
	struct rctx x;
	int64_t now = util_now_ns(), ge, fails, retry, next;
	bool pending, flush;
	char trig[32];

	rctx_init(&x, rm, j, NULL);
	pthread_mutex_lock(&j->cmu);
	flush = j->cdirty && j->cdirty_since + FLUSH_INTERVAL_NS <= now;
	pthread_mutex_unlock(&j->cmu);
	if (flush)
		(void)consumers_flush(rm, j);

	pthread_mutex_lock(&rm->mu);
	j->kick = false;
	pending = json_is_object(json_object_get(j->st, "pending"));
	ge = jint(j->st, "grace_ends");
	fails = jint(j->st, "failures");
	retry = jint(j->st, "retry_at");
	next = jint(j->st, "next_rotation");
	snprintf(trig, sizeof(trig), "%s", jstr(j->st, "retry_trigger"));
	pthread_mutex_unlock(&rm->mu);

	if (pending) {
		(void)rotate_run(&x, "schedule", NULL, NULL, NULL);
		return;
	}
	adoption_check(&x);
	if (ge > 0 && now >= ge)
		grace_end(&x);
	if (fails > 0 && retry > 0 && now >= retry)
		(void)rotate_run(&x, trig[0] && strcmp(trig, "compromise") != 0 ? trig : "schedule",
		                 "retry", NULL, NULL);
	else if (fails == 0 && next > 0 && now >= next)
		(void)rotate_run(&x, "schedule", NULL, NULL, NULL);
}

static void *
scheduler(void *arg)
{
	struct rotation *rm = arg;
	struct rjob *j, *pick;
	struct timespec ts;
	int64_t now, due, d;

	pthread_mutex_lock(&rm->mu);
	while (!rm->stop) {
		now = util_now_ns();
		due = INT64_MAX;
		pick = NULL;
		for (j = rm->jobs; j; j = j->next) {
			d = job_due(j);
			if (d < due) {
				due = d;
				pick = j;
			}
		}
		if (!pick || due > now) {
			if (due == INT64_MAX) {
				pthread_cond_wait(&rm->cv, &rm->mu);
			} else {
				ts.tv_sec = (time_t)(due / NS_PER_S);
				ts.tv_nsec = (long)(due % NS_PER_S);
				(void)pthread_cond_timedwait(&rm->cv, &rm->mu, &ts);
			}
			continue;
		}
		pick->busy = true;
		pick->refs++;
		pthread_mutex_unlock(&rm->mu);
		/* Each internal request takes the core lock itself (rotation_call). */
		job_run_due(rm, pick);
		pthread_mutex_lock(&rm->mu);
		pick->busy = false;
		job_unref_locked(pick);
		pthread_cond_broadcast(&rm->cv);
	}
	pthread_mutex_unlock(&rm->mu);
	return NULL;
}

/* ---- start / stop ---- */

static void
jobs_clear(struct rotation *rm)
{
	struct rjob *j, *next;

	pthread_rwlock_wrlock(&rm->wlock);
	memset(rm->watch, 0, sizeof(rm->watch));
	rm->nwatch = 0;
	pthread_rwlock_unlock(&rm->wlock);
	pthread_mutex_lock(&rm->mu);
	for (j = rm->jobs; j; j = next) {
		next = j->next;
		j->watch[0] = '\0';
		j->deleted = true;
		job_unref_locked(j);
	}
	rm->jobs = NULL;
	pthread_mutex_unlock(&rm->mu);
}

static void
job_insert(struct rotation *rm, struct rjob *j)
{
	pthread_mutex_lock(&rm->mu);
	j->next = rm->jobs;
	rm->jobs = j;
	pthread_mutex_unlock(&rm->mu);
	watch_add(rm, j);
}

int
rotation_start(struct rotation *rm)
{
	char **names = NULL, key[ROT_NAME_MAX + 16];
	size_t n = 0;
	json_t *rec, *cons;
	struct rjob *j;
	int r;

	r = view_list(rm->view, "jobs/", &names, &n);
	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (names[i][strlen(names[i]) - 1] == '/' || strlen(names[i]) > ROT_NAME_MAX)
			continue;
		snprintf(key, sizeof(key), "jobs/%s", names[i]);
		rec = NULL;
		if (view_get_json(rm->view, key, &rec) < 0 || !json_is_object(rec)) {
			log_error("rotation: job %s could not be loaded", names[i]);
			json_decref(rec);
			continue;
		}
		snprintf(key, sizeof(key), "consumers/%s", names[i]);
		cons = NULL;
		(void)view_get_json(rm->view, key, &cons);
		if (job_new(names[i], json_object_get(rec, "config"), json_object_get(rec, "state"),
		            json_is_object(cons) ? cons : NULL, &j) == 0)
			job_insert(rm, j);
		json_decref(cons);
		json_decref(rec);
	}
	storage_keys_free(names, n);
	pthread_mutex_lock(&rm->mu);
	rm->stop = false;
	pthread_mutex_unlock(&rm->mu);
	r = pthread_create(&rm->thread, NULL, scheduler, rm);
	if (r != 0) {
		jobs_clear(rm);
		return CF_EINTERNAL;
	}
	rm->running = true;
	return 0;
}

void
rotation_stop(struct rotation *rm)
{
	struct rjob *j;

	if (!rm || !rm->running)
		return;
	pthread_mutex_lock(&rm->mu);
	rm->stop = true;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	pthread_join(rm->thread, NULL);
	rm->running = false;
	/* Adoption records still in memory go to storage before the seal. */
	for (j = rm->jobs; j; j = j->next)
		(void)consumers_flush(rm, j);
	jobs_clear(rm);
}

void
rotation_free(struct rotation *rm)
{
	if (!rm)
		return;
	metrics_collector_remove(METRIC_ROTATION_JOBS, metrics_jobs, rm);
	metrics_collector_remove(METRIC_ROTATION_ADOPTION, metrics_adoption, rm);
	rotation_stop(rm);
	jobs_clear(rm);
	view_free(rm->view);
	pthread_mutex_destroy(&rm->mu);
	pthread_cond_destroy(&rm->cv);
	pthread_rwlock_destroy(&rm->wlock);
	free(rm);
}

struct rotation *
rotation_of(struct core *c)
{
	return core_subsystem(c, "rotation");
}

/* ---- observe (the read hook) ---- */

void
rotation_consumer_id(const struct request *rq, char *out, size_t len)
{
	const char *dn = rq->te && rq->te->display_name ? rq->te->display_name : "unknown";
	const char *acc = rq->te ? rq->te->accessor : "";

	if (rq->consumer && *rq->consumer)
		snprintf(out, len, "%s:%s/%.*s", dn, acc, 200, rq->consumer);
	else
		snprintf(out, len, "%s:%s", dn, acc);
}

/* Records id at version (caller holds j->cmu). Returns true when the entry's
 * version changed or it is new. */
static bool
consumer_record(struct rjob *j, const char *id, const char *label, int64_t version, int64_t now)
{
	json_t *e = json_object_get(j->consumers, id);
	bool changed;

	if (!e) {
		if (json_object_size(j->consumers) >= ROT_CONSUMERS_MAX) {
			/* forget the ones not seen for 7 days */
			const char *k;
			json_t *v, *tmp;
			json_object_foreach_safe(j->consumers, tmp, k, v)
			{
				if (jint(v, "last_read") <
				    now - (int64_t)ROT_SEEN_WINDOW_S * NS_PER_S)
					json_object_del(j->consumers, k);
			}
			if (json_object_size(j->consumers) >= ROT_CONSUMERS_MAX)
				return false;
		}
		e = json_object();
		if (!e)
			return false;
		if (label && *label)
			json_object_set_new(e, "label", json_string(label));
		json_object_set_new(j->consumers, id, e);
	}
	changed = jint(e, "version") != version;
	setint(e, "version", version);
	setint(e, "last_read", now);
	if (!j->cdirty) {
		j->cdirty = true;
		j->cdirty_since = now;
		changed = true; /* wake the scheduler so it flushes within a second */
	}
	return changed;
}

void
rotation_observe(struct rotation *rm, const struct request *rq, const struct response *rs)
{
	struct rjob *j;
	json_t *meta;
	int64_t version;
	char id[512];
	bool wake = false;

	if (!rm || __atomic_load_n(&rm->nwatch, __ATOMIC_RELAXED) == 0 || rq->internal ||
	    rq->op != OP_READ || !rq->path || !strstr(rq->path, "/data/"))
		return;
	pthread_rwlock_rdlock(&rm->wlock);
	for (j = rm->watch[util_fnv1a_str(rq->path) % ROT_WATCH_BUCKETS]; j; j = j->wnext)
		if (strcmp(j->watch, rq->path) == 0)
			break;
	if (j) {
		meta = json_object_get(rs->data, "metadata");
		version = jint(meta, "version");
		if (version > 0) {
			rotation_consumer_id(rq, id, sizeof(id));
			pthread_mutex_lock(&j->cmu);
			wake = consumer_record(j, id, rq->consumer, version, util_now_ns());
			pthread_mutex_unlock(&j->cmu);
		}
		if (wake) {
			pthread_mutex_lock(&rm->mu);
			j->kick = true;
			pthread_cond_broadcast(&rm->cv);
			pthread_mutex_unlock(&rm->mu);
		}
	}
	pthread_rwlock_unlock(&rm->wlock);
}

int
rotation_job_ack(struct rotation *rm, struct rjob *j, const char *consumer, int64_t version)
{
	const char *k;
	json_t *e;
	bool found = false;
	int64_t now = util_now_ns();

	pthread_mutex_lock(&j->cmu);
	json_object_foreach(j->consumers, k, e)
	{
		if (strcmp(k, consumer) == 0 || strcmp(jstr(e, "label"), consumer) == 0) {
			setint(e, "version", version);
			setint(e, "last_read", now);
			json_object_set_new(e, "acked", json_true());
			found = true;
		}
	}
	if (!found) {
		(void)consumer_record(j, consumer, NULL, version, now);
		json_object_set_new(json_object_get(j->consumers, consumer), "acked", json_true());
	}
	if (!j->cdirty) {
		j->cdirty = true;
		j->cdirty_since = now;
	}
	pthread_mutex_unlock(&j->cmu);
	pthread_mutex_lock(&rm->mu);
	j->kick = true;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	return 0;
}

/* ---- API operations ---- */

/* Marks j busy, waiting for a running rotation (bounded). */
static int
job_acquire(struct rotation *rm, struct rjob *j)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += BUSY_WAIT_S;
	pthread_mutex_lock(&rm->mu);
	while (j->busy && !j->deleted && r == 0)
		r = pthread_cond_timedwait(&rm->cv, &rm->mu, &ts);
	if (j->deleted)
		r = -1;
	else if (r == 0)
		j->busy = true;
	pthread_mutex_unlock(&rm->mu);
	return r == 0 ? 0 : r == -1 ? CF_ENOTFOUND : CF_ERATELIMIT;
}

static void
job_release(struct rotation *rm, struct rjob *j)
{
	pthread_mutex_lock(&rm->mu);
	j->busy = false;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
}

int
rotation_job_rotate(struct rotation *rm, const struct request *rq, struct rjob *j,
                    const char *trigger, const char *reason, int64_t *ret_version,
                    int64_t *ret_prev, char *err, size_t errlen)
{
	struct rctx x;
	int r;

	r = job_acquire(rm, j);
	if (r < 0) {
		snprintf(err, errlen, "%s",
		         r == CF_ENOTFOUND ? "no such job"
		                           : "a rotation of this job is still running");
		return r;
	}
	rctx_init(&x, rm, j, rq);
	pthread_mutex_lock(&rm->mu);
	bool pending = json_is_object(json_object_get(j->st, "pending"));
	pthread_mutex_unlock(&rm->mu);
	if (pending) {
		/* finish the interrupted one first: never two at once */
		r = rotate_run(&x, trigger, reason, ret_version, ret_prev);
		if (r == 0 && strcmp(trigger, "compromise") == 0)
			r = rotate_run(&x, trigger, reason, ret_version, ret_prev);
	} else {
		r = rotate_run(&x, trigger, reason, ret_version, ret_prev);
	}
	if (r < 0)
		snprintf(err, errlen, "%s", x.err[0] ? x.err : cf_strerror(r));
	job_release(rm, j);
	return r;
}

/* The state a new job starts from: the target's current version and the
 * hashes of its current values (so verify knows them, and they become
 * "previous" at the first rotation). *ret_missing: kv keys absent. */
static int
initial_state(struct rctx *x, json_t *cfg, json_t **ret, bool *ret_missing)
{
	uint8_t salt[32];
	char hex[65], p[2048];
	struct response rs;
	json_t *st, *hashes, *data = NULL;
	const char *target = jstr(cfg, "target"), *k;
	json_t *g;
	int status, r = 0;
	int64_t now = util_now_ns();

	randombytes_buf(salt, sizeof(salt));
	util_hex(salt, sizeof(salt), hex);
	secmem_wipe(salt, sizeof(salt));
	st = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:[], s:{}, s:n}", "salt", hex,
	               "created", (json_int_t)now, "current_since", (json_int_t)now,
	               "current_version", 0, "previous_version", 0, "grace_ends", 0, "failures", 0,
	               "history", "hashes", "last_error");
	secmem_wipe(hex, sizeof(hex));
	if (!st)
		return CF_ENOMEM;
	hashes = json_object_get(st, "hashes");
	*ret_missing = false;
	if (strcmp(target, "kv") == 0) {
		snprintf(p, sizeof(p), "%sdata/%s", jstr(cfg, "mount"), jstr(cfg, "path"));
		status = rotation_call(x, OP_READ, p, NULL, &rs);
		if (status == 200) {
			data = json_object_get(rs.data, "data");
			setint(st, "current_version",
			       jint(json_object_get(rs.data, "metadata"), "version"));
			json_object_set_new(hashes, "current", rotation_hash_fields(st, cfg, data));
		}
		json_object_foreach(json_object_get(cfg, "keys"), k, g) *ret_missing |=
		        !json_is_string(json_object_get(data, k));
		response_reset(&rs);
	} else if (strcmp(target, "transit") == 0) {
		snprintf(p, sizeof(p), "%skeys/%s", jstr(cfg, "mount"), jstr(cfg, "path"));
		status = rotation_call(x, OP_READ, p, NULL, &rs);
		if (status == 200)
			setint(st, "current_version", jint(rs.data, "latest_version"));
		response_reset(&rs);
	} else if (strcmp(target, "pki") == 0) {
		r = rotation_pki_initial(x, cfg, st, ret_missing);
	} else {
		snprintf(p, sizeof(p), "%sstatic-creds/%s", jstr(cfg, "mount"), jstr(cfg, "path"));
		status = rotation_call(x, OP_READ, p, NULL, &rs);
		setint(st, "current_version", 1);
		if (status == 200)
			json_object_set_new(hashes, "current",
			                    rotation_hash_fields(st, cfg, rs.data));
		response_reset(&rs);
	}
	if (r < 0) {
		json_decref(st);
		return r;
	}
	*ret = st;
	return r;
}

int
rotation_job_create(struct rotation *rm, const struct request *rq, const char *name, json_t *cfg,
                    bool *ret_created, char *err, size_t errlen)
{
	const struct target_ops *ops = rotation_target(jstr(cfg, "target"));
	struct rjob *j = rotation_job_get(rm, name);
	struct rctx x;
	json_t *st = NULL;
	bool missing = false;
	int64_t now = util_now_ns();
	int r;

	if (!ops)
		return CF_EINVAL;
	rctx_init(&x, rm, NULL, rq);
	r = ops->check(&x, cfg);
	if (r < 0) {
		snprintf(err, errlen, "%s", x.err[0] ? x.err : "the target does not exist");
		rotation_job_put(rm, j);
		return CF_EINVAL;
	}
	if (j) {
		/* update: new configuration, same state */
		struct cron *cr = NULL;
		const char *s = json_string_value(json_object_get(cfg, "schedule"));
		if (s && cron_parse(s, &cr, err, errlen) < 0) {
			rotation_job_put(rm, j);
			return CF_EINVAL;
		}
		pthread_mutex_lock(&rm->mu);
		json_decref(j->cfg);
		j->cfg = json_incref(cfg);
		cron_free(j->cron);
		j->cron = cr;
		if (jint(j->st, "failures") == 0)
			setint(j->st, "next_rotation",
			       next_rotation(j, jint(j->st, "last_rotation") > 0
			                                ? jint(j->st, "last_rotation")
			                                : jint(j->st, "current_since")));
		pthread_cond_broadcast(&rm->cv);
		pthread_mutex_unlock(&rm->mu);
		r = job_save(rm, j);
		rotation_job_put(rm, j);
		*ret_created = false;
		return r;
	}
	r = initial_state(&x, cfg, &st, &missing);
	if (r < 0)
		return r;
	r = job_new(name, cfg, st, NULL, &j);
	json_decref(st);
	if (r < 0)
		return r;
	setint(j->st, "next_rotation", next_rotation(j, now));
	x.job = j;
	if (missing)
		j->busy = true; /* the first version is generated below */
	job_insert(rm, j);
	r = job_save(rm, j);
	if (r < 0) {
		(void)rotation_job_delete(rm, rq, name);
		return r;
	}
	*ret_created = true;
	if (missing) {
		r = rotate_run(&x, "manual", "initial version", NULL, NULL);
		if (r < 0)
			snprintf(err, errlen, "%s", x.err);
		job_release(rm, j);
	}
	pthread_mutex_lock(&rm->mu);
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	return r;
}

int
rotation_job_delete(struct rotation *rm, const struct request *rq, const char *name)
{
	struct rjob *j = rotation_job_get(rm, name), **pp;
	char key[ROT_NAME_MAX + 16];
	struct rctx x;
	int r;

	if (!j)
		return 0;
	r = job_acquire(rm, j);
	if (r < 0) {
		rotation_job_put(rm, j);
		return r == CF_ENOTFOUND ? 0 : r;
	}
	/* Deleting a job ends any grace at once. */
	rctx_init(&x, rm, j, rq);
	(void)revoke_previous(&x, "job deleted");
	watch_remove(rm, j);
	pthread_mutex_lock(&j->pmu);
	pthread_mutex_lock(&rm->mu);
	j->deleted = true;
	for (pp = &rm->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			job_unref_locked(j); /* the list's reference */
			break;
		}
	}
	j->busy = false;
	pthread_cond_broadcast(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	snprintf(key, sizeof(key), "jobs/%s", name);
	r = view_delete(rm->view, key);
	snprintf(key, sizeof(key), "consumers/%s", name);
	(void)view_delete(rm->view, key);
	pthread_mutex_unlock(&j->pmu);
	rotation_job_put(rm, j);
	return r == CF_ENOTFOUND ? 0 : r;
}

json_t *
rotation_job_cfg(struct rotation *rm, struct rjob *j)
{
	json_t *cfg;

	pthread_mutex_lock(&rm->mu);
	cfg = json_deep_copy(j->cfg);
	pthread_mutex_unlock(&rm->mu);
	return cfg;
}

json_t *
rotation_job_names(struct rotation *rm)
{
	json_t *keys = json_array();
	struct rjob *j;

	pthread_mutex_lock(&rm->mu);
	for (j = rm->jobs; j && keys; j = j->next)
		if (!j->deleted)
			json_array_append_new(keys, json_string(j->name));
	pthread_mutex_unlock(&rm->mu);
	return keys;
}

static json_t *
time_or_null(int64_t ns)
{
	char buf[64];

	if (ns <= 0)
		return json_null();
	util_rfc3339(ns, buf, sizeof(buf));
	return json_string(buf);
}

/* The state a job's status shows: rotating, failed, grace or idle. */
static const char *
job_state(json_t *st, bool busy)
{
	if (json_is_object(json_object_get(st, "pending")) || busy)
		return "rotating";
	if (jint(st, "failures") > 0)
		return "failed";
	if (jint(st, "previous_version") > 0 && jint(st, "grace_ends") > 0)
		return "grace";
	return "idle";
}

/* sys/metrics gauges (lib/metrics.h): jobs by state, and each job's adoption
 * percent (consumers seen in the last 7 days on the current version). */
static void
metrics_jobs(void *arg, struct metrics_out *o)
{
	static const char *const states[] = {"idle", "rotating", "grace", "failed"};
	struct rotation *rm = arg;
	double n[4] = {0};

	pthread_mutex_lock(&rm->mu);
	for (struct rjob *j = rm->jobs; j; j = j->next) {
		const char *s = job_state(j->st, j->busy);
		for (size_t i = 0; i < 4; i++)
			n[i] += strcmp(s, states[i]) == 0;
	}
	pthread_mutex_unlock(&rm->mu);
	for (size_t i = 0; i < 4; i++)
		metrics_gauge(o, (const char *[]){states[i]}, n[i]);
}

static void
metrics_adoption(void *arg, struct metrics_out *o)
{
	struct rotation *rm = arg;
	int64_t now = util_now_ns();

	pthread_mutex_lock(&rm->mu);
	for (struct rjob *j = rm->jobs; j; j = j->next) {
		size_t seen = 0, ok = 0;
		if (j->deleted)
			continue;
		pthread_mutex_lock(&j->cmu); /* order: rm->mu, then cmu */
		adoption_count(j, jint(j->st, "current_version"), now, &seen, &ok, NULL);
		pthread_mutex_unlock(&j->cmu);
		if (seen > 0)
			metrics_gauge(o, (const char *[]){j->name},
			              100.0 * (double)ok / (double)seen);
	}
	pthread_mutex_unlock(&rm->mu);
}

json_t *
rotation_job_status(struct rotation *rm, struct rjob *j)
{
	json_t *out, *cfg, *st, *cons, *e;
	const char *k, *state;
	int64_t now = util_now_ns(), cur;
	size_t seen = 0, ok = 0;

	pthread_mutex_lock(&rm->mu);
	cfg = json_deep_copy(j->cfg);
	st = json_deep_copy(j->st);
	bool busy = j->busy;
	pthread_mutex_unlock(&rm->mu);
	out = json_object();
	cons = json_array();
	if (!out || !cons || !cfg || !st) {
		json_decref(out);
		json_decref(cons);
		json_decref(cfg);
		json_decref(st);
		return NULL;
	}
	json_object_foreach(cfg, k, e)
	{
		size_t n = strlen(k);
		if (n > 2 && strcmp(k + n - 2, "_s") == 0)
			continue;
		json_object_set(out, k, e);
	}
	cur = jint(st, "current_version");
	state = job_state(st, busy);
	json_object_set_new(out, "state", json_string(state));
	json_object_set_new(out, "current_version", json_integer(cur));
	json_object_set_new(out, "previous_version",
	                    jint(st, "previous_version") > 0
	                            ? json_integer(jint(st, "previous_version"))
	                            : json_null());
	json_object_set_new(out, "last_rotation", time_or_null(jint(st, "last_rotation")));
	json_object_set_new(out, "next_rotation",
	                    time_or_null(jint(st, "failures") > 0 ? jint(st, "retry_at")
	                                                          : jint(st, "next_rotation")));
	json_object_set_new(out, "grace_ends", time_or_null(jint(st, "grace_ends")));
	json_object_set(out, "last_error",
	                json_object_get(st, "last_error") ? json_object_get(st, "last_error")
	                                                  : json_null());
	json_object_set_new(out, "failures", json_integer(jint(st, "failures")));
	if (jint(st, "cert_expiration") > 0)
		json_object_set_new(
		        out, "certificate",
		        json_pack("{s:s, s:o}", "serial_number", jstr(st, "cert_serial"),
		                  "expiration",
		                  time_or_null(jint(st, "cert_expiration") * NS_PER_S)));
	pthread_mutex_lock(&j->cmu);
	json_object_foreach(j->consumers, k, e)
	{
		if (jint(e, "last_read") < now - (int64_t)ROT_SEEN_WINDOW_S * NS_PER_S)
			continue;
		seen++;
		ok += jint(e, "version") >= cur;
		json_array_append_new(cons,
		                      json_pack("{s:s, s:I, s:o, s:b}", "consumer", k, "version",
		                                (json_int_t)jint(e, "version"), "last_read",
		                                time_or_null(jint(e, "last_read")), "adopted",
		                                jint(e, "version") >= cur));
	}
	pthread_mutex_unlock(&j->cmu);
	json_object_set_new(out, "consumers", cons);
	json_object_set_new(out, "adoption_percent",
	                    seen ? json_real(100.0 * (double)ok / (double)seen) : json_null());
	json_decref(cfg);
	json_decref(st);
	return out;
}

json_t *
rotation_job_history(struct rotation *rm, struct rjob *j)
{
	json_t *out = json_array(), *h, *e;
	size_t i;

	pthread_mutex_lock(&rm->mu);
	h = json_deep_copy(json_object_get(j->st, "history"));
	pthread_mutex_unlock(&rm->mu);
	json_array_foreach(h, i, e)
	{
		json_t *o = json_pack(
		        "{s:O, s:o, s:O, s:O, s:O}", "version", json_object_get(e, "version"),
		        "time", time_or_null(jint(e, "time")), "trigger",
		        json_object_get(e, "trigger"), "outcome", json_object_get(e, "outcome"),
		        "error", json_object_get(e, "error"));
		if (o)
			json_array_append_new(out, o);
	}
	json_decref(h);
	return out;
}

int
rotation_job_verify(struct rotation *rm, struct rjob *j, const char *value, const char *key,
                    const char **ret_state, int64_t *ret_version, char *ret_key, size_t keylen)
{
	static const char *const states[] = {"current", "previous"};
	json_t *st, *hs, *hv;
	uint8_t h[32], want[32];
	const char *k;
	size_t n;
	int r;

	*ret_state = NULL;
	*ret_version = 0;
	pthread_mutex_lock(&rm->mu);
	st = json_deep_copy(j->st);
	pthread_mutex_unlock(&rm->mu);
	if (!st)
		return CF_ENOMEM;
	r = rotation_hash_value(st, value, h);
	if (r < 0)
		goto out;
	for (int i = 0; i < 2 && !*ret_state; i++) {
		hs = json_object_get(json_object_get(st, "hashes"), states[i]);
		json_object_foreach(hs, k, hv)
		{
			bool eq;
			if (key && strcmp(key, k) != 0)
				continue;
			if (util_unhex(json_string_value(hv), want, sizeof(want), &n) < 0 ||
			    n != 32)
				continue;
			eq = sodium_memcmp(h, want, sizeof(h)) == 0;
			if (eq && !*ret_state) {
				*ret_state = states[i];
				*ret_version =
				        jint(st, i == 0 ? "current_version" : "previous_version");
				snprintf(ret_key, keylen, "%s", k);
			}
		}
	}
out:
	secmem_wipe(h, sizeof(h));
	json_decref(st);
	return r;
}
