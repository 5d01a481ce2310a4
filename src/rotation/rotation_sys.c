/* rotation_sys.c - the sys/rotation/ endpoints (docs/internals/rotation.md "HTTP API").
 * The core's ladder has checked the token and the ACL; these handlers parse,
 * call the manager and shape the answer. No answer ever carries a secret
 * value: status and history show versions, times and errors only. */
#include "rotation/rotation_int.h"

#include "core/core.h"
#include "core/token.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>

static struct rotation *
manager(struct request *rq)
{
	return rotation_of(rq->core);
}

static int
bad(struct response *rs, int r, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return r;
}

int
rotation_sys_jobs_list(struct request *rq, struct response *rs)
{
	json_t *keys = rotation_job_names(manager(rq));

	if (!keys)
		return CF_ENOMEM;
	return response_keys(rs, keys); /* none: 404 */
}

int
rotation_sys_job_exists(struct request *rq, bool *ret_exists)
{
	struct rotation *rm = manager(rq);
	struct rjob *j = rotation_job_get(rm, rq->cap[0]);

	*ret_exists = j != NULL;
	rotation_job_put(rm, j);
	return 0;
}

static struct rjob *
job_or_404(struct request *rq)
{
	if (!rotation_job_name_ok(rq->cap[0]))
		return NULL;
	return rotation_job_get(manager(rq), rq->cap[0]);
}

int
rotation_sys_job_write(struct request *rq, struct response *rs)
{
	struct rotation *rm = manager(rq);
	struct rjob *j;
	json_t *cfg = NULL, *old = NULL;
	char err[512] = "";
	bool created = false;
	int r;

	if (!rotation_job_name_ok(rq->cap[0]))
		return bad(rs, CF_EINVAL,
		           "invalid job name: use 1-128 letters, digits, '-', '_' or '.'");
	j = rotation_job_get(rm, rq->cap[0]);
	if (j) {
		old = rotation_job_cfg(rm, j);
		rotation_job_put(rm, j);
	}
	r = rotation_job_config(rq->cap[0], rq->data, old, &cfg, err, sizeof(err));
	json_decref(old);
	if (r < 0)
		return bad(rs, r, err);
	r = rotation_job_create(rm, rq, rq->cap[0], cfg, &created, err, sizeof(err));
	json_decref(cfg);
	if (r == CF_EINVAL)
		return bad(rs, r, err);
	if (r < 0) {
		if (err[0])
			(void)response_errorf(rs, "%s", err);
		return r;
	}
	j = rotation_job_get(rm, rq->cap[0]);
	if (j) {
		response_set_data(rs, rotation_job_status(rm, j));
		rotation_job_put(rm, j);
	}
	return 0;
}

int
rotation_sys_job_read(struct request *rq, struct response *rs)
{
	struct rotation *rm = manager(rq);
	struct rjob *j = job_or_404(rq);
	json_t *st;

	if (!j)
		return CF_ENOTFOUND;
	st = rotation_job_status(rm, j);
	rotation_job_put(rm, j);
	if (!st)
		return CF_ENOMEM;
	response_set_data(rs, st);
	return 0;
}

int
rotation_sys_job_delete(struct request *rq, struct response *rs)
{
	(void)rs;
	if (!rotation_job_name_ok(rq->cap[0]))
		return 0;
	return rotation_job_delete(manager(rq), rq, rq->cap[0]);
}

static int
reason_of(struct request *rq, struct response *rs, const char **ret)
{
	const char *reason = "";
	int r = jsonx_str(rq->data, "reason", &reason);

	if (r == CF_EINVAL || strlen(reason) > 1024)
		return bad(rs, CF_EINVAL, "reason must be a string of at most 1024 bytes");
	*ret = reason;
	return 0;
}

static int
rotate_common(struct request *rq, struct response *rs, const char *trigger)
{
	struct rotation *rm = manager(rq);
	struct rjob *j;
	const char *reason = "";
	int64_t v = 0, prev = 0;
	char err[512] = "";
	int r;

	r = reason_of(rq, rs, &reason);
	if (r < 0)
		return r;
	j = job_or_404(rq);
	if (!j)
		return CF_ENOTFOUND;
	r = rotation_job_rotate(rm, rq, j, trigger, reason, &v, &prev, err, sizeof(err));
	if (r == 0 && strcmp(trigger, "compromise") == 0) {
		json_t *cfg = rotation_job_cfg(rm, j), *f;
		f = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s, s:s}", "job", j->name, "mount",
		              json_string_value(json_object_get(cfg, "mount")), "path",
		              json_string_value(json_object_get(cfg, "path")), "reason", reason,
		              "version", (json_int_t)v, "request_id", rq->id, "accessor",
		              rq->te ? rq->te->accessor : "");
		if (!f || core_audit_record(rq->core, "rotation.compromise", f) < 0)
			log_error("rotation: job %s: the compromise could not be audited", j->name);
		json_decref(f);
		json_decref(cfg);
	}
	rotation_job_put(rm, j);
	if (r < 0) {
		(void)response_errorf(rs, "rotation failed: %s", err);
		if (r == CF_ENOTFOUND || r == CF_EINVAL || r == CF_ERATELIMIT)
			return r;
		return CF_EUPSTREAM;
	}
	response_set_data(rs, json_pack("{s:I, s:o}", "version", (json_int_t)v, "previous_version",
	                                prev > 0 ? json_integer(prev) : json_null()));
	return 0;
}

int
rotation_sys_job_rotate(struct request *rq, struct response *rs)
{
	return rotate_common(rq, rs, "manual");
}

int
rotation_sys_job_compromise(struct request *rq, struct response *rs)
{
	return rotate_common(rq, rs, "compromise");
}

int
rotation_sys_job_ack(struct request *rq, struct response *rs)
{
	struct rotation *rm = manager(rq);
	struct rjob *j;
	const char *consumer = NULL;
	char id[512];
	int64_t v = 0;
	int r;

	r = jsonx_int(rq->data, "version", &v);
	if (r < 0 || v < 1)
		return bad(rs, CF_EINVAL, "version is required (a version number)");
	r = jsonx_str(rq->data, "consumer", &consumer);
	if (r == CF_EINVAL || (consumer && (strlen(consumer) == 0 || strlen(consumer) > 256)))
		return bad(rs, CF_EINVAL, "consumer must be a string of 1-256 bytes");
	j = job_or_404(rq);
	if (!j)
		return CF_ENOTFOUND;
	if (!consumer) {
		rotation_consumer_id(rq, id, sizeof(id));
		consumer = id;
	}
	r = rotation_job_ack(rm, j, consumer, v);
	rotation_job_put(rm, j);
	return r;
}

int
rotation_sys_job_history(struct request *rq, struct response *rs)
{
	struct rotation *rm = manager(rq);
	struct rjob *j = job_or_404(rq);
	json_t *h;

	if (!j)
		return CF_ENOTFOUND;
	h = rotation_job_history(rm, j);
	rotation_job_put(rm, j);
	if (!h)
		return CF_ENOMEM;
	response_set_data(rs, json_pack("{s:o}", "rotations", h));
	return 0;
}

int
rotation_sys_verify(struct request *rq, struct response *rs)
{
	struct rotation *rm = manager(rq);
	const char *value = NULL, *key = NULL, *state;
	struct rjob *j;
	char field[ROT_NAME_MAX + 1] = "";
	int64_t version;
	int r;

	r = jsonx_str(rq->data, "value", &value);
	if (r < 0)
		return bad(rs, CF_EINVAL, "value is required");
	if (jsonx_str(rq->data, "key", &key) == CF_EINVAL)
		return bad(rs, CF_EINVAL, "key must be a string");
	j = job_or_404(rq);
	if (!j)
		return CF_ENOTFOUND;
	r = rotation_job_verify(rm, j, value, key, &state, &version, field, sizeof(field));
	rotation_job_put(rm, j);
	if (r < 0)
		return r;
	if (state)
		response_set_data(rs, json_pack("{s:b, s:s, s:I, s:s}", "valid", 1, "state", state,
		                                "version", (json_int_t)version, "key", field));
	else
		response_set_data(rs, json_pack("{s:b, s:s, s:n, s:n}", "valid", 0, "state",
		                                "invalid", "version", "key"));
	return 0;
}

const struct route rotation_sys_routes[] = {
        {"rotation/jobs", R_SYS_INJECT, .list = rotation_sys_jobs_list},
        {"rotation/jobs/", R_SYS_INJECT, .list = rotation_sys_jobs_list},
        {"rotation/jobs/+", R_SYS_INJECT, .exists = rotation_sys_job_exists,
         .read = rotation_sys_job_read, .write = rotation_sys_job_write,
         .delete = rotation_sys_job_delete},
        {"rotation/jobs/+/rotate", R_SYS_INJECT, .write = rotation_sys_job_rotate},
        {"rotation/jobs/+/compromise", R_SYS_INJECT, .write = rotation_sys_job_compromise},
        {"rotation/jobs/+/ack", R_SYS_INJECT, .write = rotation_sys_job_ack},
        {"rotation/jobs/+/history", R_SYS_INJECT, .read = rotation_sys_job_history},
        {"rotation/verify/+", R_SYS_INJECT, .write = rotation_sys_verify},
};
const size_t rotation_sys_nroutes = sizeof(rotation_sys_routes) / sizeof(rotation_sys_routes[0]);

/* ---- the manager as a core subsystem ---- */

static void
hook_read_observed(void *arg, const struct request *rq, const struct response *rs)
{
	rotation_observe(arg, rq, rs);
}

static int
subsys_start(struct core *c, void *arg)
{
	int r = rotation_start(arg);

	if (r < 0)
		log_error("the rotation manager could not start: %s", cf_strerror(r));
	return 0;
}

static void
subsys_stop(struct core *c, void *arg)
{
	rotation_stop(arg);
}

static void
subsys_free(void *arg)
{
	rotation_free(arg);
}

int
rotation_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks)
{
	struct rotation *rm;
	int r = rotation_new(c, &rm);

	if (r < 0)
		return r;
	*ret = (struct core_subsystem){
	        .name = "rotation",
	        .start = subsys_start,
	        .stop = subsys_stop,
	        .free = subsys_free,
	        .arg = rm,
	};
	hooks->observer = rm;
	hooks->read_observed = hook_read_observed;
	return 0;
}
