/* audit_sys.c - the audit broker as the core sees it: the sys/audit,
 * sys/audit-hash and sys/audit-verify handlers (Vault's sys/audit), thin
 * wrappers that find the broker registered with the core and call audit.c; the
 * core hooks of the request ladder; the subsystem that loads the devices at
 * unseal and closes them at seal. See docs/internals/core.md "Hooks and
 * subsystems". */
#include "audit/audit.h"

#include <stdlib.h>

#include "backend/view.h"
#include "core/core.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"

/* The subsystem's arg: the broker and the view it keeps its table in. */
struct audit_subsys {
	struct audit_broker *ab;
	struct view *v;
};

static struct audit_broker *
broker(struct request *rq)
{
	struct audit_subsys *a = core_subsystem(rq->core, "audit");

	return a ? a->ab : NULL;
}

/* Raises the critical audit.tampered event for a device whose file was found
 * truncated or altered (path "<name>/"). Logs when it cannot. */
static void
report_tampered(struct core *c, const char *path, const char *reason)
{
	struct event ev = {
	        .type = "audit.tampered",
	        .path = path,
	        .reason = reason,
	        .severity = EV_CRITICAL,
	};
	int r = core_emit_event(c, &ev, NULL);

	if (r < 0)
		log_error("the audit.tampered event could not be stored: %s", cf_strerror(r));
}

int
audit_sys_list(struct request *rq, struct response *rs)
{
	json_t *l = audit_broker_list(broker(rq));

	if (!l)
		return CF_ENOMEM;
	response_set_data(rs, l);
	return 0;
}

int
audit_sys_enable(struct request *rq, struct response *rs)
{
	if (rq->ncap < 1)
		return CF_EINVAL;
	return audit_broker_enable(broker(rq), rq->cap[0], rq->data, rs);
}

int
audit_sys_disable(struct request *rq, struct response *rs)
{
	if (rq->ncap < 1)
		return 0;
	return audit_broker_disable(broker(rq), rq->cap[0]);
}

int
audit_sys_hash(struct request *rq, struct response *rs)
{
	const char *input = NULL;
	char *h = NULL;
	json_t *data;
	int r;

	if (rq->ncap < 1)
		return CF_EINVAL;
	if (jsonx_str(rq->data, "input", &input) < 0 || !*input) {
		(void)response_errorf(rs, "the \"input\" parameter is required");
		return CF_EINVAL;
	}
	r = audit_broker_hash(broker(rq), rq->cap[0], input, &h);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "unknown audit backend %s", rq->cap[0]);
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	data = json_pack("{s:s}", "hash", h);
	free(h);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

int
audit_sys_public_key(struct request *rq, struct response *rs)
{
	char *pk = NULL;
	json_t *data;
	int r;

	if (rq->ncap < 1)
		return CF_EINVAL;
	r = audit_broker_public_key(broker(rq), rq->cap[0], &pk);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "unknown audit device %s", rq->cap[0]);
		return r;
	}
	if (r < 0)
		return r;
	data = json_pack("{s:s, s:s}", "public_key", pk, "algorithm", "ed25519");
	free(pk);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

int
audit_sys_verify(struct request *rq, struct response *rs)
{
	json_t *data = NULL;
	int r;

	if (rq->ncap < 1)
		return CF_EINVAL;
	r = audit_broker_verify(broker(rq), rq->cap[0], &data, rs);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "unknown audit device %s", rq->cap[0]);
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	if (json_is_false(json_object_get(data, "ok")))
		report_tampered(rq->core, json_string_value(json_object_get(data, "device")),
		                json_string_value(json_object_get(data, "error")));
	response_set_data(rs, data);
	return 0;
}

const struct route audit_sys_routes[] = {
        {"audit", R_SUDO | R_SYS_INJECT, .read = audit_sys_list},
        {"audit/+", R_SUDO | R_SYS_INJECT, .write = audit_sys_enable, .delete = audit_sys_disable,
         .fields = audit_enable_fields},
        {"audit/+/public-key", R_NOAUTH | R_SYS_INJECT, .read = audit_sys_public_key},
        {"audit-hash/+", R_SYS_INJECT, .write = audit_sys_hash},
        {"audit-verify/+", R_SUDO | R_SYS_INJECT, .read = audit_sys_verify,
         .write = audit_sys_verify},
};
const size_t audit_sys_nroutes = sizeof(audit_sys_routes) / sizeof(audit_sys_routes[0]);

/* ---- the core's hooks ---- */

static int
hook_request(void *arg, struct request *rq)
{
	return audit_log_request(arg, rq);
}

static int
hook_request_pending(void *arg, struct request *rq)
{
	return audit_log_request_pending(arg, rq);
}

static int
hook_confirm(void *arg, struct request *rq)
{
	return audit_confirm_request(arg, rq);
}

static int
hook_response(void *arg, struct request *rq, struct response *rs)
{
	return audit_log_response(arg, rq, rs);
}

static int
hook_refused(void *arg, struct request *rq, struct response *rs, bool denied)
{
	return audit_log_refused(arg, rq, rs, denied);
}

static int
hook_record(void *arg, const char *type, json_t *fields)
{
	return audit_log_record(arg, type, fields);
}

/* ---- the subsystem ---- */

/* Loads the devices; those whose file was truncated or altered while the
 * server was down raise audit.tampered (the event bus starts first). */
static int
subsys_start(struct core *c, void *arg)
{
	struct audit_subsys *a = arg;
	json_t *t, *e;
	size_t i;
	int r = audit_broker_load(a->ab);

	if (r < 0) {
		log_error("audit devices could not be loaded: %s", cf_strerror(r));
		return 0;
	}
	t = audit_broker_tampered(a->ab);
	json_array_foreach(t, i, e)
	{
		report_tampered(c, json_string_value(json_object_get(e, "path")),
		                json_string_value(json_object_get(e, "error")));
	}
	json_decref(t);
	return 0;
}

static void
subsys_stop(struct core *c, void *arg)
{
	struct audit_subsys *a = arg;

	audit_broker_unload(a->ab);
}

static void
subsys_free(void *arg)
{
	struct audit_subsys *a = arg;

	if (!a)
		return;
	audit_broker_free(a->ab);
	view_free(a->v);
	free(a);
}

int
audit_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks)
{
	struct audit_subsys *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return CF_ENOMEM;
	a->v = view_new(core_barrier(c), "core/audit/");
	if (!a->v) {
		free(a);
		return CF_ENOMEM;
	}
	r = audit_broker_new(a->v, &a->ab);
	if (r < 0) {
		subsys_free(a);
		return r;
	}
	*ret = (struct core_subsystem){
	        .name = "audit",
	        .start = subsys_start,
	        .stop = subsys_stop,
	        .free = subsys_free,
	        .arg = a,
	};
	hooks->audit = a->ab;
	hooks->audit_request = hook_request;
	hooks->audit_request_pending = hook_request_pending;
	hooks->audit_confirm = hook_confirm;
	hooks->audit_response = hook_response;
	hooks->audit_refused = hook_refused;
	hooks->audit_record = hook_record;
	return 0;
}
