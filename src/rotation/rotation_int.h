/* rotation_int.h - internals of src/rotation shared by its files (not an API).
 *
 * rotation.c        the manager: job table, scheduler thread, step machine
 * rotation_job.c    job configuration: templates, validation, normalization
 * rotation_gen.c    value generators (pure; unit-tested)
 * rotation_sched.c  next-fire and backoff computation (pure; unit-tested)
 * rotation_target.c kv / database / transit targets over internal requests
 * rotation_pki.c    the pki target: certificates renewed before they expire
 * rotation_sys.c    the sys/rotation/ handlers, adoption and verification */
#ifndef CF_ROTATION_INT_H
#define CF_ROTATION_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/request.h"
#include "rotation/rotation.h"

#define ROT_NAME_MAX       128
#define ROT_HISTORY_MAX    100
#define ROT_CONSUMERS_MAX  4096
#define ROT_SEEN_WINDOW_S  (7 * 86400)
#define ROT_BACKOFF_MIN_S  60
#define ROT_BACKOFF_MAX_S  3600
#define ROT_ALERT_FAILURES 3
#define ROT_WATCH_BUCKETS  256
#define NS_PER_S           1000000000LL

struct cron;
struct view;

/* ---- rotation_gen.c ---- */

/* Validates a generator spec: a string (the generator name, defaults) or an
 * object {"generator": name, params...}; {} (or an object without "generator")
 * takes def (the template's default generator object, may be NULL). *ret is a
 * new object with every parameter filled in. CF_EINVAL with a message in err
 * (unknown generator or parameter, bad value). */
int rotation_gen_parse(json_t *spec, json_t *def, json_t **ret, char *err, size_t errlen);
/* Generates a value for field with gen (from rotation_gen_parse) from the
 * CSPRNG and sets out[field] (and out["<field>_public"] for key pairs).
 * Returns 0, CF_ENOMEM or CF_ECRYPTO. */
int rotation_gen_run(json_t *gen, const char *field, json_t *out);

/* ---- rotation_sched.c ---- */

/* The next fire time in unix seconds strictly after anchor: by cron when c is
 * set, else anchor + period_s when period_s > 0; -1 when the job has neither
 * (rotates on demand only) or cron finds none. Jitter is not added. */
int64_t rotation_next_fire(const struct cron *c, int64_t period_s, int64_t anchor_s);
/* Delay before retry number `failures` (>= 1): 60 s doubling, capped at 1 h;
 * base_s replaces 60 s when > 0 (test hook, see rotation.c). */
int64_t rotation_backoff(int64_t failures, int64_t base_s);

/* ---- rotation_job.c ---- */

/* Builds a job configuration from a create/update body. old is the stored
 * configuration on update (NULL on create); the body's fields override it.
 * *ret is a new normalized object: name, target, template, mount ("x/"), path,
 * keys (normalized generators), schedule, period, grace, jitter (as given),
 * period_s, grace_s, jitter_s, revoke_when_adopted, on_incomplete_adoption,
 * rewrap. CF_EINVAL / CF_EUNSUPPORTED with a message in err. */
int rotation_job_config(const char *name, json_t *body, json_t *old, json_t **ret, char *err,
                        size_t errlen);
bool rotation_job_name_ok(const char *name);

/* ---- in-memory job ---- */

struct rjob {
	char name[ROT_NAME_MAX + 1];
	json_t *cfg; /* configuration (under rm->mu) */
	json_t *st;  /* state (under rm->mu); contains pending values: SECRET */
	struct cron *cron;
	int refs;            /* under rm->mu */
	bool busy;           /* a rotation or a grace end runs (under rm->mu) */
	bool deleted;        /* under rm->mu */
	bool kick;           /* adoption changed: look at the job now (under rm->mu) */
	pthread_mutex_t pmu; /* serializes record writes (snapshot + put) */

	/* Adoption (under cmu). */
	pthread_mutex_t cmu;
	json_t *consumers; /* id -> {consumer, label, version, last_read} */
	bool cdirty;
	int64_t cdirty_since;    /* ns */
	int64_t current_version; /* mirror of st.current_version for observe */

	char watch[1024];   /* "<mount>data/<path>" */
	struct rjob *wnext; /* watch bucket chain (under rm->wlock) */
	struct rjob *next;  /* job list (under rm->mu) */
};

struct rotation {
	struct core *c;
	struct view *view; /* sys/rotation/ */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rjob *jobs;
	bool running, stop;
	pthread_t thread;

	pthread_rwlock_t wlock;
	struct rjob *watch[ROT_WATCH_BUCKETS];
	int nwatch; /* atomic-ish fast path: 0 = nothing watched */

	int64_t backoff_base_s; /* COFFER_ROTATION_TEST_BACKOFF */
	char crash_after[16];   /* COFFER_ROTATION_CRASH_AFTER */
};

/* One context for the internal requests of a rotation: nested when a request
 * handler (that holds the core lock) drives it. */
struct rctx {
	struct rotation *rm;
	struct core *c;
	/* true: the caller holds the core lock (a request handler); false: the
	 * scheduler, which takes the lock per request, so a seal or a mount change
	 * waits for one request, never for a whole rotation */
	bool nested;
	bool sealing;                /* a request was refused because the manager is stopping */
	const struct request *outer; /* the API request, or NULL (scheduler) */
	char err[512];               /* last error, for last_error/history */
	struct rjob *job;
	json_t *p; /* the pending record being worked on (private copy) */
	/* Installs x->p as the job's pending record and stores the job. */
	int (*save)(struct rctx *x);
};

/* An internal request to the core (rotation_target.c). Returns the HTTP
 * status; *rs is filled (caller resets). body may be NULL (borrowed). */
int rotation_call(struct rctx *x, enum op op, const char *path, json_t *body, struct response *rs);

/* ---- rotation_target.c: per-target steps ----
 * job cfg and pending record p are borrowed; steps write their results into p
 * (p.data holds generated values: SECRET). Each step is idempotent: it checks
 * what is already done (by the base version stored in p) before acting.
 * Return 0 or a CF_E* code with a message in x->err. */
struct target_ops {
	const char *name;
	int (*check)(struct rctx *x, json_t *cfg); /* at job create: mount/key exists */
	int (*create)(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
	int (*set)(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
	int (*test)(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
	/* Promotes; sets p.new_version, p.prev_version (0: none), p.hashes,
	 * p.prev_hashes, p.grace_ends (ns, 0 = use the job's grace). With
	 * compromise, first invalidates every existing version. */
	int (*finish)(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise);
	/* Invalidates version (the previous one). */
	int (*revoke)(struct rctx *x, json_t *cfg, json_t *st, int64_t version);
};

const struct target_ops *rotation_target(const char *name);
/* The message of a failed internal request into x->err ("what: error (HTTP
 * n)"); returns CF_ENOTFOUND (404), CF_EINVAL (400) or CF_EUPSTREAM. */
int rotation_call_fail(struct rctx *x, struct response *rs, int status, const char *what);
/* KV v2 helpers on kvcfg {mount, path}: the latest version (0: none) and its
 * data (NULL when missing, deleted or destroyed); destroying every version
 * below `below`; destroying one version. */
int rotation_kv_read(struct rctx *x, json_t *kvcfg, int64_t *ret_version, json_t **ret_data);
int rotation_kv_destroy_older(struct rctx *x, json_t *kvcfg, int64_t below);
int rotation_kv_revoke(struct rctx *x, json_t *kvcfg, int64_t version);

/* ---- rotation_pki.c: the pki target ----
 * The job's state keeps the current certificate's cert_serial,
 * cert_expiration and cert_issued (unix s) and the previous one's
 * prev_cert_serial and prev_cert_expiration; a rotation's finish hands them
 * over in p.target_state, which the commit merges into the state. */
int rotation_pki_check(struct rctx *x, json_t *cfg);
int rotation_pki_create(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
int rotation_pki_set(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
int rotation_pki_test(struct rctx *x, json_t *cfg, json_t *st, json_t *p);
int rotation_pki_finish(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise);
int rotation_pki_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version);
/* The state of a new job from what its KV path holds: a certificate written
 * there before (by an earlier job, or by hand) is taken as the current one
 * (current_version, cert_*); *ret_missing when there is none, so the job
 * issues one at once. */
int rotation_pki_initial(struct rctx *x, json_t *cfg, json_t *st, bool *ret_missing);
/* When the certificate of state st is due for renewal (ns; 0 = unknown):
 * cert_expiration - renew_before, but never before half the lifetime of a
 * certificate the job issued (a role whose max_ttl cuts ttl below
 * renew_before would otherwise renew without end). */
int64_t rotation_pki_due(json_t *cfg, json_t *st);
/* Keyed hashes of the rotated fields of data (keys of cfg.keys) with the job's
 * salt: a new object field -> hex. */
json_t *rotation_hash_fields(json_t *st, json_t *cfg, json_t *data);
int rotation_hash_value(json_t *st, const char *value, uint8_t out[32]);

/* ---- rotation.c, for rotation_sys.c ---- */
/* True once rotation_stop began (the server is sealing). */
bool rotation_stopping(struct rotation *rm);
struct rotation *rotation_of(struct core *c);
/* Finds a live job and takes a reference (rotation_job_put). */
struct rjob *rotation_job_get(struct rotation *rm, const char *name);
void rotation_job_put(struct rotation *rm, struct rjob *j);
int rotation_job_create(struct rotation *rm, const struct request *rq, const char *name,
                        json_t *cfg, bool *ret_created, char *err, size_t errlen);
int rotation_job_delete(struct rotation *rm, const struct request *rq, const char *name);
/* Runs a manual or compromise rotation now (from a handler). */
int rotation_job_rotate(struct rotation *rm, const struct request *rq, struct rjob *j,
                        const char *trigger, const char *reason, int64_t *ret_version,
                        int64_t *ret_prev, char *err, size_t errlen);
/* Status object of a job (no secrets). */
json_t *rotation_job_status(struct rotation *rm, struct rjob *j);
json_t *rotation_job_history(struct rotation *rm, struct rjob *j);
int rotation_job_ack(struct rotation *rm, struct rjob *j, const char *consumer, int64_t version);
/* Verify: sets *ret_state "current"/"previous"/NULL, version and field. */
int rotation_job_verify(struct rotation *rm, struct rjob *j, const char *value, const char *key,
                        const char **ret_state, int64_t *ret_version, char *ret_key, size_t keylen);
json_t *rotation_job_names(struct rotation *rm);
/* A copy of the job's configuration (new reference, NULL on ENOMEM). */
json_t *rotation_job_cfg(struct rotation *rm, struct rjob *j);
/* The consumer id of a request: "<display_name>:<accessor>[/<X-Coffer-Consumer>]". */
void rotation_consumer_id(const struct request *rq, char *out, size_t len);

#endif
