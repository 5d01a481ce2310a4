/* audit.c - skeleton (being filled in). */
#include "audit/audit.h"

#include <stdlib.h>

#include "lib/err.h"

int
audit_broker_new(struct view *v, struct audit_broker **ret)
{
	*ret = (struct audit_broker *)calloc(1, 1);
	return *ret ? 0 : CF_ENOMEM;
}

void
audit_broker_free(struct audit_broker *ab)
{
	free(ab);
}

int
audit_broker_load(struct audit_broker *ab)
{
	return 0;
}

void
audit_broker_unload(struct audit_broker *ab)
{
}

bool
audit_broker_enabled(struct audit_broker *ab)
{
	return false;
}

int
audit_log_request(struct audit_broker *ab, struct request *rq)
{
	return 0;
}

int
audit_log_response(struct audit_broker *ab, struct request *rq, struct response *rs)
{
	return 0;
}

int
audit_sys_list(struct request *rq, struct response *rs)
{
	return CF_EUNSUPPORTED;
}

int
audit_sys_enable(struct request *rq, struct response *rs)
{
	return CF_EUNSUPPORTED;
}

int
audit_sys_disable(struct request *rq, struct response *rs)
{
	return CF_EUNSUPPORTED;
}

int
audit_sys_hash(struct request *rq, struct response *rs)
{
	return CF_EUNSUPPORTED;
}

int
audit_verify_file(const char *path, long *ret_line, char *msg, size_t msglen)
{
	return CF_EIO;
}
