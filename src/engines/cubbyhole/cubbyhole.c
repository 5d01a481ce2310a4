/* cubbyhole.c - per-token storage (Vault's cubbyhole API, cubbyhole.h).
 *
 * The mount's view holds "<token hash>/<path>": the core gives each request
 * the storage id of its token (rq->token_hash), so a handler can only ever
 * reach the caller's own folder. */
#include "engines/cubbyhole/cubbyhole.h"

#include "backend/view.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The storage key of the caller's path (malloc'd), or NULL with the reason
 * in rs. An empty path is refused, and so is one ending in '/' unless
 * folder is set (a LIST). */
static int
cubby_key(struct request *rq, struct response *rs, bool folder, char **ret)
{
	const char *path = rq->cap[0];
	size_t len = strlen(path);
	char *key;

	if (!rq->token_hash || !*rq->token_hash)
		return CF_EDENIED;
	if (!folder && (len == 0 || path[len - 1] == '/')) {
		(void)response_errorf(rs, len ? "cannot write to a path ending in '/'"
		                              : "missing path");
		return CF_EINVAL;
	}
	key = malloc(strlen(rq->token_hash) + len + 2);
	if (!key)
		return CF_ENOMEM;
	sprintf(key, "%s/%s", rq->token_hash, path);
	*ret = key;
	return 0;
}

static int
cubby_read(struct request *rq, struct response *rs)
{
	json_t *val = NULL;
	char *key = NULL;
	int r;

	if (!*rq->cap[0] || rq->cap[0][strlen(rq->cap[0]) - 1] == '/')
		return CF_ENOTFOUND;
	r = cubby_key(rq, rs, false, &key);
	if (r < 0)
		return r;
	r = view_get_object(rq->mount->view, key, &val);
	free(key); /* not secret: a token hash and a path */
	if (r < 0)
		return r;
	response_set_data(rs, val);
	return 0;
}

static int
cubby_list(struct request *rq, struct response *rs)
{
	char *key = NULL;
	int r = cubby_key(rq, rs, true, &key);

	if (r < 0)
		return r;
	r = view_list_response(rq->mount->view, key, 0, rs);
	free(key); /* not secret: a token hash and a path */
	return r;
}

static int
cubby_write(struct request *rq, struct response *rs)
{
	char *key = NULL;
	int r;

	if (json_object_size(rq->data) == 0) {
		(void)response_errorf(rs, "missing data fields");
		return CF_EINVAL;
	}
	r = cubby_key(rq, rs, false, &key);
	if (r < 0)
		return r;
	r = view_put_json(rq->mount->view, key, rq->data);
	free(key); /* not secret: a token hash and a path */
	return r;
}

static int
cubby_delete(struct request *rq, struct response *rs)
{
	char *key = NULL;
	int r = cubby_key(rq, rs, false, &key);

	if (r < 0)
		return r;
	r = view_delete(rq->mount->view, key);
	free(key); /* not secret: a token hash and a path */
	return r == CF_ENOTFOUND ? 0 : r;
}

static const struct route cubby_routes[] = {
        {"*", .read = cubby_read, .list = cubby_list, .write = cubby_write, .delete = cubby_delete},
};

const struct backend_type cubbyhole_backend = {
        .type = "cubbyhole",
        .routes = cubby_routes,
        .nroutes = sizeof(cubby_routes) / sizeof(cubby_routes[0]),
};
