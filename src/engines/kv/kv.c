/* kv.c - helpers shared by KV v1 and v2: paths, listing, query ints, merge patch. */
#include "engines/kv/kv_int.h"

#include "backend/view.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
kv_keyf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	return s;
}

int
kv_path_check(const char *path, struct response *rs)
{
	size_t len = strlen(path);

	if (len == 0) {
		(void)response_errorf(rs, "missing path");
		return CF_EINVAL;
	}
	if (path[len - 1] == '/') {
		(void)response_errorf(rs, "cannot write to a path ending in '/'");
		return CF_EINVAL;
	}
	return 0;
}

const struct field kv2_settings_fields[] = {
        {"max_versions", FIELD_INT, FIELD_RANGE, offsetof(struct kv2_settings, max_versions),
         .min = 0, .max = INT64_MAX, .desc = "versions kept; 0: the mount's (10)"},
        {"cas_required", FIELD_BOOL, 0, offsetof(struct kv2_settings, cas_required),
         .desc = "writes need the cas parameter"},
        {"delete_version_after", FIELD_DURATION, 0,
         offsetof(struct kv2_settings, delete_version_after), .desc = "0: never"},
        {NULL},
};

int
kv2_settings_parse(json_t *body, struct kv2_settings *ret, struct response *rs)
{
	struct kv2_settings s = {.max_versions = -1, .delete_version_after = -1};
	int r = field_parse(kv2_settings_fields, body, &s, rs);

	if (r < 0)
		return r;
	s.has_cas = field_given(kv2_settings_fields, body, "cas_required");
	*ret = s;
	return 0;
}

int
kv_list(struct view *v, const char *base, const char *folder, struct response *rs)
{
	size_t flen = strlen(folder);
	bool slash = flen > 0 && folder[flen - 1] != '/';
	char *prefix = kv_keyf("%s%s%s", base, folder, slash ? "/" : "");
	int r;

	if (!prefix)
		return CF_ENOMEM;
	r = view_list_response(v, prefix, 0, rs);
	free(prefix);
	return r;
}

int
kv_query_int(struct request *rq, const char *name, int64_t *ret, struct response *rs)
{
	json_t *q = json_object_get(rq->query, name);
	const char *s;
	int64_t v;

	if (!q || json_is_null(q))
		return CF_ENOTFOUND;
	if (json_is_integer(q)) {
		v = json_integer_value(q);
	} else if (json_is_string(q)) {
		s = json_string_value(q);
		if (*s == '\0')
			v = 0;
		else if (util_parse_int(s, &v) < 0)
			v = -1;
	} else {
		v = -1;
	}
	if (v < 0) {
		(void)response_errorf(rs, "invalid value for %s: must be a non-negative integer",
		                      name);
		return CF_EINVAL;
	}
	*ret = v;
	return 0;
}

int
kv_json_bytes(json_t *val, char **ret_buf, size_t *ret_len)
{
	char *txt = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!txt)
		return CF_ENOMEM;
	*ret_buf = txt;
	*ret_len = strlen(txt);
	return 0;
}

json_t *
kv_merge_patch(json_t *target, json_t *patch)
{
	json_t *res, *v;
	const char *k;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	res = json_is_object(target) ? json_deep_copy(target) : json_object();
	if (!res)
		return NULL;
	json_object_foreach(patch, k, v)
	{
		json_t *sub;
		if (json_is_null(v)) {
			(void)json_object_del(res, k);
			continue;
		}
		sub = kv_merge_patch(json_object_get(res, k), v);
		if (!sub || json_object_set_new(res, k, sub) != 0) {
			json_decref(res);
			return NULL;
		}
	}
	return res;
}
