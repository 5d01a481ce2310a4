/* kv1.c - KV version 1: unversioned secrets stored at their path
 * (Vault's KV v1 API). */
#include "engines/kv/kv_int.h"
#include "engines/kv/kv.h"

#include "backend/backend.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/secmem.h"

#include <stdlib.h>
#include <string.h>

/* Lease duration a read reports: the stored "ttl" (or legacy "lease") when it
 * parses to a positive duration, else the mount default; capped at the mount max
 * (Vault's core clamps secret TTLs the same way). */
static int64_t
kv1_lease_duration(struct mount *m, json_t *secret)
{
	int64_t ttl = 0, max = mount_max_ttl(m);

	if (jsonx_duration(secret, "ttl", &ttl) == CF_ENOTFOUND)
		(void)jsonx_duration(secret, "lease", &ttl);
	if (ttl <= 0)
		ttl = mount_default_ttl(m);
	if (max > 0 && ttl > max)
		ttl = max;
	return ttl;
}

static int
kv1_read(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];
	size_t len = strlen(path);
	json_t *secret = NULL;
	int r;

	if (len == 0 || path[len - 1] == '/')
		return CF_ENOTFOUND;
	r = view_get_object(rq->mount->view, path, &secret);
	if (r < 0)
		return r;
	rs->lease_duration = kv1_lease_duration(rq->mount, secret);
	rs->renewable = false;
	response_set_data(rs, secret);
	return 0;
}

static int
kv1_write(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];
	int64_t ttl;
	int r;

	r = kv_path_check(path, rs);
	if (r < 0)
		return r;
	if (json_object_size(rq->data) == 0) {
		(void)response_errorf(rs, "missing data fields");
		return CF_EINVAL;
	}
	/* Vault refuses to store a ttl it could not report later. */
	r = jsonx_duration(rq->data, "ttl", &ttl);
	if (r == CF_ENOTFOUND)
		r = jsonx_duration(rq->data, "lease", &ttl);
	if (r < 0 && r != CF_ENOTFOUND) {
		(void)response_errorf(rs, "failed to parse ttl for entry");
		return CF_EINVAL;
	}
	return view_put_json(rq->mount->view, path, rq->data);
}

static int
kv1_list(struct request *rq, struct response *rs)
{
	return kv_list(rq->mount->view, "", rq->cap[0], rs);
}

static int
kv1_delete(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];

	(void)rs;
	if (*path == '\0')
		return 0;
	return view_delete(rq->mount->view, path);
}

static int
kv1_exists(struct request *rq, bool *ret_exists)
{
	const char *path = rq->cap[0];
	uint8_t *val = NULL;
	size_t len = 0;
	int r;

	if (*path == '\0' || path[strlen(path) - 1] == '/') {
		*ret_exists = false;
		return 0;
	}
	r = view_get(rq->mount->view, path, &val, &len);
	if (r == CF_ENOTFOUND) {
		*ret_exists = false;
		return 0;
	}
	if (r < 0)
		return r;
	secmem_free(val, len);
	*ret_exists = true;
	return 0;
}

static const struct route kv1_routes[] = {
        {"*", .flags = R_PURE_READ, .read = kv1_read, .list = kv1_list, .write = kv1_write,
         .delete = kv1_delete, .exists = kv1_exists},
};

const struct backend_type kv_v1_backend = {
        .type = "kv",
        .routes = kv1_routes,
        .nroutes = sizeof(kv1_routes) / sizeof(kv1_routes[0]),
        .init = NULL,
        .cleanup = NULL,
};
