/* render.c - the response envelope (Vault's response shapes, Vault's errors and status codes). */
#include "backend/request.h"
#include "http/http.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

int
http_render(const struct request *rq, const struct response *rs, char **ret_body, size_t *ret_len)
{
	json_t *out;
	char *body;

	*ret_body = NULL;
	*ret_len = 0;
	if (rs->status == 204)
		return 0;
	if (rs->raw && !rs->errors) {
		/* Raw sys endpoints answer their object on every code (sys/health). */
		out = json_incref(rs->raw);
	} else if (rs->status >= 400 && !rs->envelope_on_error) {
		out = json_pack("{s:o}", "errors",
		                rs->errors ? json_incref(rs->errors) : json_array());
	} else {
		out = json_pack("{s:s, s:s, s:b, s:I, s:O, s:O, s:O, s:O}", "request_id", rq->id,
		                "lease_id", rs->lease_id ? rs->lease_id : "", "renewable",
		                rs->renewable, "lease_duration", (json_int_t)rs->lease_duration,
		                "data", rs->data ? rs->data : json_null(), "wrap_info",
		                rs->wrap_info ? rs->wrap_info : json_null(), "warnings",
		                rs->warnings ? rs->warnings : json_null(), "auth",
		                rs->auth ? rs->auth : json_null());
		if (out && rs->mount_type)
			json_object_set_new(out, "mount_type", json_string(rs->mount_type));
		if (out && rs->sys_inject && json_is_object(rs->data)) {
			const char *k;
			json_t *v;
			json_object_foreach(rs->data, k, v)
			{
				if (!json_object_get(out, k))
					json_object_set(out, k, v);
			}
		}
	}
	if (!out)
		return CF_ENOMEM;
	body = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	if (!body)
		return CF_ENOMEM;
	*ret_body = body;
	*ret_len = strlen(body);
	return 0;
}
