/* audit_sys.c - the sys/audit and sys/audit-hash handlers (Vault's sys/audit):
 * thin wrappers that find the broker with core_audit() and call audit.c. */
#include "audit/audit.h"

#include <stdlib.h>

#include "core/core.h"
#include "lib/err.h"
#include "lib/jsonx.h"

int
audit_sys_list(struct request *rq, struct response *rs)
{
	json_t *l = audit_broker_list(core_audit(rq->core));

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
	return audit_broker_enable(core_audit(rq->core), rq->cap[0], rq->data, rs);
}

int
audit_sys_disable(struct request *rq, struct response *rs)
{
	if (rq->ncap < 1)
		return 0;
	return audit_broker_disable(core_audit(rq->core), rq->cap[0]);
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
	r = audit_broker_hash(core_audit(rq->core), rq->cap[0], input, &h);
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
	r = audit_broker_public_key(core_audit(rq->core), rq->cap[0], &pk);
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
	r = audit_broker_verify(core_audit(rq->core), rq->cap[0], &data, rs);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "unknown audit device %s", rq->cap[0]);
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	if (json_is_false(json_object_get(data, "ok")))
		core_audit_tampered(rq->core, json_string_value(json_object_get(data, "device")),
		                    json_string_value(json_object_get(data, "error")));
	response_set_data(rs, data);
	return 0;
}
