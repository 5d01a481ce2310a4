/* kv2_data.c - KV v2 secret versions: data/ (read, write, patch, delete latest),
 * delete/, undelete/, destroy/ and subkeys/ (Vault's KV v2 API). */
#include "engines/kv/kv_int.h"

#include "backend/backend.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Loads the data object of version n: 0, CF_ENOTFOUND, or storage errors. */
static int
kv2_data_load(struct view *v, const char *path, int64_t n, json_t **ret)
{
	char *key = kv2_meta_version_key(path, n);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_get_object(v, key, ret);
	free(key); /* not secret: a storage path */
	return r;
}

static bool
kv2_data_path_readable(const char *path)
{
	size_t len = strlen(path);

	return len > 0 && path[len - 1] != '/';
}

/* The "options" object of a write: *ret_has_cas tells whether options.cas was sent. */
static int
kv2_data_options(json_t *body, bool *ret_has_cas, int64_t *ret_cas, struct response *rs)
{
	json_t *opt = json_object_get(body, "options");
	int64_t cas = 0;
	int r;

	*ret_has_cas = false;
	if (!opt || json_is_null(opt))
		return 0;
	if (!json_is_object(opt)) {
		(void)response_errorf(rs, "invalid options: must be an object");
		return CF_EINVAL;
	}
	r = jsonx_int(opt, "cas", &cas);
	if (r == CF_ENOTFOUND)
		return 0;
	/* Any integer is a version to compare: a negative one, like one past the
	 * current version, matches nothing and is Vault's CAS mismatch. */
	if (r < 0) {
		(void)response_errorf(rs, "invalid cas: must be an integer");
		return CF_EINVAL;
	}
	*ret_has_cas = true;
	*ret_cas = cas;
	return 0;
}

/* CAS rules: a sent cas must equal current_version (0: key must not exist);
 * without one, cas_required (mount or key) refuses the write. */
static int
kv2_data_cas_check(json_t *meta, const struct kv2_config *cfg, bool has_cas, int64_t cas,
                   struct response *rs)
{
	if (has_cas) {
		if (cas != kv2_meta_int(meta, "current_version"))
			return CF_ECAS;
		return 0;
	}
	if (cfg->cas_required || json_is_true(json_object_get(meta, "cas_required"))) {
		(void)response_errorf(rs, "check-and-set parameter required for this call");
		return CF_EINVAL;
	}
	return 0;
}

/* POST/PUT (patch false) and PATCH (patch true) of data/:path. */
static int
kv2_data_write(struct request *rq, struct response *rs, bool patch)
{
	const char *path = rq->cap[0];
	json_t *body_data = json_object_get(rq->data, "data");
	json_t *meta = NULL, *cur = NULL, *newdata = NULL, *out;
	struct keylock *lk = NULL;
	struct kv2_config cfg;
	int64_t cas = 0, n = 0, now, *trim = NULL;
	size_t ntrim = 0;
	bool has_cas;
	int r;

	r = kv_path_check(path, rs);
	if (r < 0)
		return r;
	if (!body_data || json_is_null(body_data)) {
		(void)response_errorf(rs, "no data provided");
		return CF_EINVAL;
	}
	if (!json_is_object(body_data)) {
		(void)response_errorf(rs, "invalid data: must be an object");
		return CF_EINVAL;
	}
	r = kv2_data_options(rq->data, &has_cas, &cas, rs);
	if (r < 0)
		return r;

	lk = kv2_lock(rq->mount, path);
	if (!lk) {
		r = CF_ENOMEM;
		goto out;
	}
	r = kv2_config_get(rq->mount, &cfg);
	if (r < 0)
		goto out;
	now = util_now_ns();
	r = kv2_meta_load(rq->mount->view, path, &meta);
	if (r == CF_ENOTFOUND && !patch) {
		meta = kv2_meta_new(now);
		r = meta ? 0 : CF_ENOMEM;
	}
	if (r < 0)
		goto out;
	r = kv2_data_cas_check(meta, &cfg, has_cas, cas, rs);
	if (r < 0)
		goto out;
	if (patch) {
		/* Only a live current version can be patched. */
		json_t *vm = kv2_meta_version(meta, kv2_meta_int(meta, "current_version"));
		if (!vm || kv2_meta_version_gone(vm, now)) {
			r = CF_ENOTFOUND;
			goto out;
		}
		r = kv2_data_load(rq->mount->view, path, kv2_meta_int(meta, "current_version"),
		                  &cur);
		if (r < 0)
			goto out;
		newdata = kv_merge_patch(cur, body_data);
	} else {
		newdata = json_incref(body_data);
	}
	if (!newdata) {
		r = CF_ENOMEM;
		goto out;
	}
	r = kv2_meta_add_version(meta, now, &cfg, &n, &trim, &ntrim);
	if (r < 0)
		goto out;
	r = kv2_meta_commit(rq->mount->view, path, meta, n, newdata, trim, ntrim);
	if (r < 0)
		goto out;
	out = kv2_meta_render_version(meta, n);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, out);
out:
	if (lk)
		kv2_unlock(rq->mount, lk);
	free(trim);
	json_decref(newdata);
	json_decref(cur);
	json_decref(meta);
	return r;
}

/* GET data/:path (key "data", payload) and subkeys/:path (key "subkeys", the
 * tree of keys to depth) share the lookup and the soft-delete rules. */
static json_t *kv2_data_subkeys_tree(json_t *obj, int64_t depth, int64_t level);

static int
kv2_data_get(struct request *rq, struct response *rs, bool subkeys)
{
	const char *path = rq->cap[0];
	json_t *meta = NULL, *md = NULL, *payload = NULL, *out, *vm;
	int64_t version = 0, depth = 0;
	int r;

	if (!kv2_data_path_readable(path))
		return CF_ENOTFOUND;
	r = kv_query_int(rq, "version", &version, rs);
	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	if (subkeys) {
		r = kv_query_int(rq, "depth", &depth, rs);
		if (r < 0 && r != CF_ENOTFOUND)
			return r;
	}
	r = kv2_meta_get(rq->mount->view, path, &meta); /* shared: read only */
	if (r < 0)
		return r;
	if (version == 0)
		version = kv2_meta_int(meta, "current_version");
	vm = kv2_meta_version(meta, version);
	if (!vm) {
		r = CF_ENOTFOUND;
		goto out;
	}
	md = kv2_meta_render_version(meta, version);
	if (!md) {
		r = CF_ENOMEM;
		goto out;
	}
	if (kv2_meta_version_gone(vm, util_now_ns())) {
		/* Vault's KV v2 API: 404 with a normal envelope, data null. */
		out = json_pack("{s:n, s:O}", subkeys ? "subkeys" : "data", "metadata", md);
		if (!out) {
			r = CF_ENOMEM;
			goto out;
		}
		response_set_data(rs, out);
		rs->status = 404;
		rs->envelope_on_error = true;
		r = 0;
		goto out;
	}
	r = kv2_data_load(rq->mount->view, path, version, &payload);
	if (r < 0)
		goto out; /* CF_ENOTFOUND: destroyed or trimmed since the metadata read */
	if (subkeys) {
		json_t *tree = kv2_data_subkeys_tree(payload, depth, 1);
		json_decref(payload);
		payload = tree;
		if (!payload) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	out = json_pack("{s:O, s:O}", subkeys ? "subkeys" : "data", payload, "metadata", md);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, out);
	r = 0;
out:
	json_decref(payload);
	json_decref(md);
	json_decref(meta);
	return r;
}

/* Keys of obj with null leaves; objects below depth (0 = unlimited) recurse. */
static json_t *
kv2_data_subkeys_tree(json_t *obj, int64_t depth, int64_t level)
{
	json_t *out = json_object(), *v;
	const char *k;

	if (!out)
		return NULL;
	json_object_foreach(obj, k, v)
	{
		json_t *sub;
		if (json_is_object(v) && (depth == 0 || level < depth))
			sub = kv2_data_subkeys_tree(v, depth, level + 1);
		else
			sub = json_null();
		if (!sub || json_object_set_new(out, k, sub) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* DELETE data/:path: soft-deletes the current version if it is live. */
int
kv2_data_delete_latest(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];
	struct keylock *lk = NULL;
	json_t *meta = NULL, *vm;
	int64_t now;
	int r;

	if (!kv2_data_path_readable(path))
		return 0;
	lk = kv2_lock(rq->mount, path);
	if (!lk) {
		r = CF_ENOMEM;
		goto out;
	}
	r = kv2_meta_load(rq->mount->view, path, &meta);
	if (r < 0) {
		if (r == CF_ENOTFOUND)
			r = 0;
		goto out;
	}
	now = util_now_ns();
	vm = kv2_meta_version(meta, kv2_meta_int(meta, "current_version"));
	if (!vm || kv2_meta_version_gone(vm, now))
		goto out;
	if (json_object_set_new(vm, "deletion_time", json_integer((json_int_t)now)) != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	r = kv2_meta_commit(rq->mount->view, path, meta, 0, NULL, NULL, 0);
out:
	if (lk)
		kv2_unlock(rq->mount, lk);
	json_decref(meta);
	return r;
}

int
kv2_data_read(struct request *rq, struct response *rs)
{
	return kv2_data_get(rq, rs, false);
}

int
kv2_data_put(struct request *rq, struct response *rs)
{
	return kv2_data_write(rq, rs, false);
}

int
kv2_data_patch(struct request *rq, struct response *rs)
{
	return kv2_data_write(rq, rs, true);
}

int
kv2_data_exists(struct request *rq, bool *ret_exists)
{
	/* Vault: a data path exists when its key metadata does. */
	return kv2_meta_exists(rq, ret_exists);
}

int
kv2_data_subkeys(struct request *rq, struct response *rs)
{
	return kv2_data_get(rq, rs, true);
}

static int
kv2_data_version_add(int64_t *v, size_t *n, int64_t num, struct response *rs)
{
	if (num < 0) {
		(void)response_errorf(rs, "invalid version number %lld", (long long)num);
		return CF_EINVAL;
	}
	if (*n == KV_MAX_VERSIONS_ARG) {
		(void)response_errorf(rs, "too many versions: at most %d per call",
		                      KV_MAX_VERSIONS_ARG);
		return CF_EINVAL;
	}
	v[(*n)++] = num;
	return 0;
}

static int
kv2_data_version_str(int64_t *v, size_t *n, const char *s, size_t len, struct response *rs)
{
	char buf[32];
	int64_t num;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (len >= sizeof(buf))
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (util_parse_int(buf, &num) < 0)
		goto bad;
	return kv2_data_version_add(v, n, num, rs);
bad:
	(void)response_errorf(rs, "invalid version number \"%.*s\"", (int)(len > 32 ? 32 : len), s);
	return CF_EINVAL;
}

/* "versions": a JSON array of ints (or numeric strings), an int, or "1,2".
 * Returns a malloc'd array in *ret (n > 0) or CF_EINVAL with a message. */
static int
kv2_data_versions_parse(json_t *body, int64_t **ret, size_t *ret_n, struct response *rs)
{
	json_t *j = json_object_get(body, "versions"), *item;
	int64_t *v = calloc(KV_MAX_VERSIONS_ARG, sizeof(*v));
	size_t n = 0, i;
	int r = 0;

	if (!v)
		return CF_ENOMEM;
	if (json_is_integer(j)) {
		r = kv2_data_version_add(v, &n, json_integer_value(j), rs);
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j), *c;
		while ((c = strchr(s, ',')) != NULL && r == 0) {
			r = kv2_data_version_str(v, &n, s, (size_t)(c - s), rs);
			s = c + 1;
		}
		if (r == 0)
			r = kv2_data_version_str(v, &n, s, strlen(s), rs);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, item)
		{
			if (json_is_integer(item))
				r = kv2_data_version_add(v, &n, json_integer_value(item), rs);
			else if (json_is_string(item))
				r = kv2_data_version_str(v, &n, json_string_value(item),
				                         json_string_length(item), rs);
			else if (json_is_real(item) &&
			         json_real_value(item) == (double)(int64_t)json_real_value(item))
				r = kv2_data_version_add(v, &n, (int64_t)json_real_value(item), rs);
			else {
				(void)response_errorf(rs, "invalid versions: must be integers");
				r = CF_EINVAL;
			}
			if (r < 0)
				break;
		}
	} else if (j && !json_is_null(j)) {
		(void)response_errorf(rs, "invalid versions: must be a list of integers");
		r = CF_EINVAL;
	}
	if (r == 0 && n == 0) {
		(void)response_errorf(rs, "no version number provided");
		r = CF_EINVAL;
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

enum kv2_vop { KV2_VOP_DELETE, KV2_VOP_UNDELETE, KV2_VOP_DESTROY };

static int
kv2_data_versions_op(struct request *rq, struct response *rs, enum kv2_vop op)
{
	const char *path = rq->cap[0];
	int64_t *vers = NULL, *del = NULL, now;
	size_t nvers = 0, ndel = 0, i;
	struct keylock *lk = NULL;
	json_t *meta = NULL;
	bool changed = false;
	int r;

	r = kv_path_check(path, rs);
	if (r < 0)
		return r;
	r = kv2_data_versions_parse(rq->data, &vers, &nvers, rs);
	if (r < 0)
		return r;
	del = calloc(nvers, sizeof(*del));
	if (!del) {
		r = CF_ENOMEM;
		goto out;
	}
	lk = kv2_lock(rq->mount, path);
	if (!lk) {
		r = CF_ENOMEM;
		goto out;
	}
	r = kv2_meta_load(rq->mount->view, path, &meta);
	if (r < 0) {
		if (r == CF_ENOTFOUND)
			r = 0; /* Vault: nothing to do, 204 */
		goto out;
	}
	now = util_now_ns();
	for (i = 0; i < nvers; i++) {
		json_t *vm = kv2_meta_version(meta, vers[i]);
		bool destroyed = json_is_true(json_object_get(vm, "destroyed"));
		int64_t dt = kv2_meta_int(vm, "deletion_time");
		int rr = 0;

		if (!vm || destroyed)
			continue;
		switch (op) {
		case KV2_VOP_DELETE:
			if (dt != 0 && dt <= now)
				continue; /* already deleted */
			rr = json_object_set_new(vm, "deletion_time",
			                         json_integer((json_int_t)now));
			break;
		case KV2_VOP_UNDELETE:
			if (dt == 0)
				continue;
			rr = json_object_set_new(vm, "deletion_time", json_integer(0));
			break;
		case KV2_VOP_DESTROY:
			rr = json_object_set_new(vm, "destroyed", json_true());
			del[ndel++] = vers[i];
			break;
		}
		if (rr != 0) {
			r = CF_ENOMEM;
			goto out;
		}
		changed = true;
	}
	if (changed)
		r = kv2_meta_commit(rq->mount->view, path, meta, 0, NULL, del, ndel);
out:
	if (lk)
		kv2_unlock(rq->mount, lk);
	json_decref(meta);
	free(vers);
	free(del);
	return r;
}

int
kv2_data_delete(struct request *rq, struct response *rs)
{
	return kv2_data_versions_op(rq, rs, KV2_VOP_DELETE);
}

int
kv2_data_undelete(struct request *rq, struct response *rs)
{
	return kv2_data_versions_op(rq, rs, KV2_VOP_UNDELETE);
}

int
kv2_data_destroy(struct request *rq, struct response *rs)
{
	return kv2_data_versions_op(rq, rs, KV2_VOP_DESTROY);
}
