/* rotation.h - the rotation manager (docs/internals/rotation.md): jobs that rotate a KV
 * secret, a database static role or a transit key on a schedule, with grace,
 * verification, adoption tracking and one-step compromise response.
 *
 * Jobs live behind the barrier under sys/rotation/ (see
 * docs/internals/rotation.md). One scheduler thread runs while unsealed; it
 * sleeps on a condition variable until the next due job. Every change the
 * manager makes to a secret goes through internal requests (struct request's
 * `internal` flag) into the engines' own HTTP-level routes.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef CF_ROTATION_H
#define CF_ROTATION_H

#include "backend/request.h"

struct core;
struct core_hooks;
struct core_subsystem;
struct route;
struct rotation;

/* The manager as a core subsystem (rotation_sys.c): creates it, fills *ret
 * (name "rotation": rotation_start at unseal, rotation_stop at seal,
 * rotation_free at core_free) and the read hook of *hooks (rotation_observe;
 * the other hooks untouched). Until *ret is registered, free it with
 * ret->free(ret->arg). 0 or CF_ENOMEM. */
int rotation_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks);
/* The sys/ routes below, for core_register_sys_routes. */
extern const struct route rotation_sys_routes[];
extern const size_t rotation_sys_nroutes;

int rotation_new(struct core *c, struct rotation **ret);
/* Stops the scheduler (if running) and frees everything. Accepts NULL. */
void rotation_free(struct rotation *rm);
/* After unseal: loads the jobs and starts the scheduler. Jobs interrupted by a
 * crash are resumed at once. Caller holds the core lock for writing. */
int rotation_start(struct rotation *rm);
/* Before seal: stops the scheduler, flushes adoption records, forgets the jobs.
 * Caller holds the core lock for writing. */
void rotation_stop(struct rotation *rm);

/* The core calls this after every handler that answered a read with 200. It
 * returns at once unless rq->path is the data path of a rotated KV secret;
 * then it records (consumer, version, time) in memory. Never writes storage. */
void rotation_observe(struct rotation *rm, const struct request *rq, const struct response *rs);

/* sys/ handlers (rotation_sys_routes): */
int rotation_sys_jobs_list(struct request *rq, struct response *rs); /* LIST jobs */
/* jobs/+: */
int rotation_sys_job_read(struct request *rq, struct response *rs);
int rotation_sys_job_write(struct request *rq, struct response *rs);
int rotation_sys_job_delete(struct request *rq, struct response *rs);
int rotation_sys_job_rotate(struct request *rq, struct response *rs); /* jobs/+/rotate */
int rotation_sys_job_compromise(struct request *rq, struct response *rs);
int rotation_sys_job_ack(struct request *rq, struct response *rs);
int rotation_sys_job_history(struct request *rq, struct response *rs);
int rotation_sys_verify(struct request *rq, struct response *rs); /* verify/+ */
/* Existence check for jobs/+ (ACL create vs update). */
int rotation_sys_job_exists(struct request *rq, bool *ret_exists);

#endif
