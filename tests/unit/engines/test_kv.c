/* test_kv.c - KV v1 and v2 engines, called through their route tables the way the
 * core does (route match, existence check, handler), over a real view on a barrier
 * on memory storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/kv/kv.h"
#include "backend/request.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "engines/kv/kv_int.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/util.h"
#include "storage/storage.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	struct storage *st;
	struct barrier *b;
	struct mount m;
	const struct backend_type *bt;
};

static int
fx_setup(void **state, const struct backend_type *bt)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t key[BARRIER_KEY_BYTES];

	assert_non_null(f);
	util_random(key, sizeof(key));
	assert_int_equal(storage_open("memory:", &f->st), 0);
	assert_int_equal(barrier_new(f->st, &f->b), 0);
	assert_int_equal(barrier_initialize(f->b, key), 0);
	f->m.path = strdup("secret/");
	f->m.type = strdup("kv");
	f->m.view = view_new(f->b, "logical/0000/");
	assert_non_null(f->m.view);
	f->m.bt = bt;
	f->bt = bt;
	if (bt->init)
		assert_int_equal(bt->init(&f->m, NULL), 0);
	*state = f;
	return 0;
}

static int
setup_v2(void **state)
{
	return fx_setup(state, &kv_v2_backend);
}

static int
setup_v1(void **state)
{
	return fx_setup(state, &kv_v1_backend);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->bt->cleanup)
		f->bt->cleanup(&f->m);
	view_free(f->m.view);
	free(f->m.path);
	free(f->m.type);
	barrier_free(f->b);
	storage_close(f->st);
	free(f);
	return 0;
}

/* Mimics the core: route match, 405, existence check for writes, handler.
 * body and query are JSON text or NULL. Writes are passed as OP_UPDATE. */
static int
call_ex(struct fx *f, enum op op, const char *rel, const char *body, const char *query,
        struct response *rs, enum op *ret_op)
{
	struct request rq;
	const struct route *rt = NULL;
	json_error_t jerr;
	int r;

	memset(&rq, 0, sizeof(rq));
	response_reset(rs);
	rq.data = body ? json_loads(body, 0, &jerr) : json_object();
	rq.query = query ? json_loads(query, 0, &jerr) : json_object();
	assert_non_null(rq.data);
	assert_non_null(rq.query);
	rq.mount = &f->m;
	rq.rel = rel;
	rq.op = op;
	for (size_t i = 0; i < f->bt->nroutes; i++) {
		if (route_match(f->bt->routes[i].pattern, rel, &rq)) {
			rt = &f->bt->routes[i];
			break;
		}
	}
	if (!rt) {
		r = CF_ENOROUTE;
		goto out;
	}
	rq.route = rt;
	if (!route_handler(rt, op)) {
		r = CF_EMETHOD;
		goto out;
	}
	if (op == OP_UPDATE && rt->exists) {
		bool exists = true;
		r = rt->exists(&rq, &exists);
		if (r < 0)
			goto out;
		if (!exists)
			rq.op = OP_CREATE;
	}
	if (ret_op)
		*ret_op = rq.op;
	r = route_handler(rt, rq.op)(&rq, rs);
out:
	request_free_fields(&rq);
	return r;
}

static int
call(struct fx *f, enum op op, const char *rel, const char *body, const char *query,
     struct response *rs)
{
	return call_ex(f, op, rel, body, query, rs, NULL);
}

/* json value at a dotted path ("data.metadata.version"), borrowed. */
static json_t *
jat(json_t *j, const char *path)
{
	char seg[128];

	while (j && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		assert_true(len < sizeof(seg));
		memcpy(seg, path, len);
		seg[len] = '\0';
		j = json_object_get(j, seg);
		path += len + (dot ? 1 : 0);
	}
	return j;
}

static int64_t
jint(json_t *j, const char *path)
{
	json_t *v = jat(j, path);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const char *
jstr(json_t *j, const char *path)
{
	json_t *v = jat(j, path);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
assert_json(json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);

	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		print_error("got  %s\nwant %s\n", g ? g : "(null)", want_text);
		free(g);
		fail();
	}
	json_decref(want);
}

static void
put(struct fx *f, const char *path, const char *data_json, int64_t want_version)
{
	struct response rs = {0};
	char rel[256], body[1024];

	snprintf(rel, sizeof(rel), "data/%s", path);
	snprintf(body, sizeof(body), "{\"options\": {}, \"data\": %s}", data_json);
	assert_int_equal(call(f, OP_UPDATE, rel, body, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "version"), want_version);
	response_reset(&rs);
}

/* Reads data/path (?version=v when v > 0); returns the handler's result, rs filled. */
static int
get(struct fx *f, const char *path, int64_t v, struct response *rs)
{
	char rel[256], q[64];

	snprintf(rel, sizeof(rel), "data/%s", path);
	snprintf(q, sizeof(q), "{\"version\": \"%lld\"}", (long long)v);
	return call(f, OP_READ, rel, NULL, v > 0 ? q : NULL, rs);
}

static void
assert_data(struct fx *f, const char *path, int64_t v, const char *want)
{
	struct response rs = {0};

	assert_int_equal(get(f, path, v, &rs), 0);
	assert_int_equal(rs.status, 0);
	assert_json(jat(rs.data, "data"), want);
	response_reset(&rs);
}

/* Reads of a soft-deleted / destroyed version: 404 with a normal envelope. */
static void
assert_gone(struct fx *f, const char *path, int64_t v, bool destroyed)
{
	struct response rs = {0};

	assert_int_equal(get(f, path, v, &rs), 0);
	assert_int_equal(rs.status, 404);
	assert_true(rs.envelope_on_error);
	assert_null(rs.errors);
	assert_true(json_is_null(jat(rs.data, "data")));
	assert_int_equal(json_is_true(jat(rs.data, "metadata.destroyed")), destroyed);
	if (!destroyed)
		assert_string_not_equal(jstr(rs.data, "metadata.deletion_time"), "");
	response_reset(&rs);
}

static void
assert_missing(struct fx *f, const char *path, int64_t v)
{
	struct response rs = {0};

	assert_int_equal(get(f, path, v, &rs), CF_ENOTFOUND);
	assert_null(rs.errors);
	response_reset(&rs);
}

static bool
errors_contain(struct response *rs, const char *needle)
{
	size_t i;
	json_t *e;

	json_array_foreach(rs->errors, i, e)
	{
		if (strstr(json_string_value(e), needle))
			return true;
	}
	return false;
}

static bool
version_record_exists(struct fx *f, const char *path, int64_t n)
{
	char *key = kv2_meta_version_key(path, n);
	uint8_t *val = NULL;
	size_t len = 0;
	int r = view_get(f->m.view, key, &val, &len);

	free(key);
	free(val);
	assert_true(r == 0 || r == CF_ENOTFOUND);
	return r == 0;
}

/* ---- KV v2 --------------------------------------------------------------- */

static void
test_kv_versions(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	assert_int_equal(
	        call(f, OP_UPDATE, "data/app/db", "{\"data\": {\"password\": \"one\"}}", NULL, &rs),
	        0);
	assert_int_equal(rs.status, 0);
	assert_int_equal(jint(rs.data, "version"), 1);
	assert_false(json_is_true(jat(rs.data, "destroyed")));
	assert_string_equal(jstr(rs.data, "deletion_time"), "");
	assert_true(json_is_null(jat(rs.data, "custom_metadata")));
	assert_int_equal(strlen(jstr(rs.data, "created_time")), 30);
	assert_int_equal(jstr(rs.data, "created_time")[29], 'Z');
	response_reset(&rs);

	put(f, "app/db", "{\"password\": \"two\", \"n\": 2, \"l\": [1, null, {\"x\": true}]}", 2);
	assert_data(f, "app/db", 0,
	            "{\"password\": \"two\", \"n\": 2, \"l\": [1, null, {\"x\": true}]}");
	assert_data(f, "app/db", 1, "{\"password\": \"one\"}");
	assert_data(f, "app/db", 2,
	            "{\"password\": \"two\", \"n\": 2, \"l\": [1, null, {\"x\": true}]}");

	assert_int_equal(get(f, "app/db", 0, &rs), 0);
	assert_int_equal(jint(rs.data, "metadata.version"), 2);
	response_reset(&rs);

	assert_missing(f, "app/db", 3);
	assert_missing(f, "app/nothing", 0);
	assert_int_equal(call(f, OP_READ, "data/app/db", NULL, "{\"version\": \"x\"}", &rs),
	                 CF_EINVAL);
	response_reset(&rs);

	/* data is required and must be an object; folder paths are refused */
	assert_int_equal(call(f, OP_UPDATE, "data/k", "{\"a\": \"b\"}", NULL, &rs), CF_EINVAL);
	assert_true(errors_contain(&rs, "no data provided"));
	assert_int_equal(call(f, OP_UPDATE, "data/k", "{\"data\": \"x\"}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "data/k/", "{\"data\": {}}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "data/", "{\"data\": {}}", NULL, &rs), CF_EINVAL);
	/* data/ has no LIST */
	assert_int_equal(call(f, OP_LIST, "data/app/", NULL, NULL, &rs), CF_EMETHOD);
	response_reset(&rs);
}

static void
test_kv_exists(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	enum op op = 0;

	assert_int_equal(
	        call_ex(f, OP_UPDATE, "data/e", "{\"data\": {\"a\": \"b\"}}", NULL, &rs, &op), 0);
	assert_int_equal(op, OP_CREATE);
	assert_int_equal(
	        call_ex(f, OP_UPDATE, "data/e", "{\"data\": {\"a\": \"c\"}}", NULL, &rs, &op), 0);
	assert_int_equal(op, OP_UPDATE);
	assert_int_equal(call_ex(f, OP_UPDATE, "metadata/e", "{}", NULL, &rs, &op), 0);
	assert_int_equal(op, OP_UPDATE);
	assert_int_equal(call_ex(f, OP_UPDATE, "metadata/new", "{}", NULL, &rs, &op), 0);
	assert_int_equal(op, OP_CREATE);
	/* the metadata write created the key: data writes to it are updates now */
	assert_int_equal(call_ex(f, OP_UPDATE, "data/new", "{\"data\": {}}", NULL, &rs, &op), 0);
	assert_int_equal(op, OP_UPDATE);
	response_reset(&rs);
}

static void
test_kv_cas(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	put(f, "c", "{\"v\": \"1\"}", 1);
	put(f, "c", "{\"v\": \"2\"}", 2);
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": 1}, \"data\": {\"v\": \"bad\"}}", NULL, &rs),
	                 CF_ECAS);
	assert_string_equal(cf_strerror(CF_ECAS),
	                    "check-and-set parameter did not match the current version");
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": 0}, \"data\": {\"v\": \"bad\"}}", NULL, &rs),
	                 CF_ECAS);
	assert_data(f, "c", 0, "{\"v\": \"2\"}");
	/* weak typing: cas as a string */
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": \"2\"}, \"data\": {\"v\": \"3\"}}", NULL,
	                      &rs),
	                 0);
	assert_int_equal(jint(rs.data, "version"), 3);
	assert_int_equal(call(f, OP_UPDATE, "data/fresh",
	                      "{\"options\": {\"cas\": 0}, \"data\": {\"v\": \"1\"}}", NULL, &rs),
	                 0);
	assert_int_equal(jint(rs.data, "version"), 1);
	/* as Vault: any integer that is not the current version is a mismatch */
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": -1}, \"data\": {\"v\": \"1\"}}", NULL, &rs),
	                 CF_ECAS);
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": 4}, \"data\": {\"v\": \"1\"}}", NULL, &rs),
	                 CF_ECAS);
	assert_data(f, "c", 0, "{\"v\": \"3\"}");
	assert_int_equal(call(f, OP_UPDATE, "data/c",
	                      "{\"options\": {\"cas\": \"three\"}, \"data\": {\"v\": \"1\"}}", NULL,
	                      &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "data/c", "{\"options\": 7, \"data\": {\"v\": \"1\"}}",
	                      NULL, &rs),
	                 CF_EINVAL);
	response_reset(&rs);
}

static void
test_kv_cas_required(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	/* on the key */
	put(f, "k", "{\"v\": \"1\"}", 1);
	assert_int_equal(
	        call(f, OP_UPDATE, "metadata/k", "{\"cas_required\": \"true\"}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_UPDATE, "data/k", "{\"data\": {\"v\": \"2\"}}", NULL, &rs),
	                 CF_EINVAL);
	assert_true(errors_contain(&rs, "check-and-set parameter required for this call"));
	assert_int_equal(call(f, OP_UPDATE, "data/k",
	                      "{\"options\": {\"cas\": 1}, \"data\": {\"v\": \"2\"}}", NULL, &rs),
	                 0);
	put(f, "other", "{\"v\": \"free\"}", 1);

	/* on the mount */
	assert_int_equal(call(f, OP_UPDATE, "config", "{\"cas_required\": true}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_UPDATE, "data/other", "{\"data\": {\"v\": \"x\"}}", NULL, &rs),
	                 CF_EINVAL);
	assert_true(errors_contain(&rs, "check-and-set parameter required"));
	assert_int_equal(call(f, OP_UPDATE, "data/other",
	                      "{\"options\": {\"cas\": 1}, \"data\": {\"v\": \"x\"}}", NULL, &rs),
	                 0);
	/* patch obeys it too */
	assert_int_equal(call(f, OP_PATCH, "data/other", "{\"data\": {\"w\": \"y\"}}", NULL, &rs),
	                 CF_EINVAL);
	response_reset(&rs);
}

static void
test_kv_patch(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	put(f, "p",
	    "{\"password\": \"one\", \"user\": \"app\", \"drop\": \"me\", \"o\": {\"a\": 1, "
	    "\"b\": 2}}",
	    1);
	assert_int_equal(
	        call(f, OP_PATCH, "data/p",
	             "{\"data\": {\"password\": \"two\", \"drop\": null, \"o\": {\"b\": null, "
	             "\"c\": 3}, \"new\": [1]}}",
	             NULL, &rs),
	        0);
	assert_int_equal(rs.status, 0);
	assert_int_equal(jint(rs.data, "version"), 2);
	assert_data(f, "p", 0,
	            "{\"password\": \"two\", \"user\": \"app\", \"o\": {\"a\": 1, \"c\": 3}, "
	            "\"new\": [1]}");
	assert_data(
	        f, "p", 1,
	        "{\"password\": \"one\", \"user\": \"app\", \"drop\": \"me\", \"o\": {\"a\": 1, "
	        "\"b\": 2}}");

	/* cas */
	assert_int_equal(call(f, OP_PATCH, "data/p",
	                      "{\"options\": {\"cas\": 1}, \"data\": {\"x\": \"1\"}}", NULL, &rs),
	                 CF_ECAS);
	assert_int_equal(call(f, OP_PATCH, "data/p",
	                      "{\"options\": {\"cas\": 2}, \"data\": {\"x\": \"1\"}}", NULL, &rs),
	                 0);
	assert_int_equal(jint(rs.data, "version"), 3);

	/* missing, deleted, destroyed: 404 */
	assert_int_equal(call(f, OP_PATCH, "data/none", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 CF_ENOTFOUND);
	assert_int_equal(call(f, OP_DELETE, "data/p", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_PATCH, "data/p", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 CF_ENOTFOUND);
	assert_int_equal(call(f, OP_UPDATE, "undelete/p", "{\"versions\": [3]}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_UPDATE, "destroy/p", "{\"versions\": [3]}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_PATCH, "data/p", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 CF_ENOTFOUND);
	/* a metadata-only key has no current version to patch */
	assert_int_equal(call(f, OP_UPDATE, "metadata/bare", "{}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_PATCH, "data/bare", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 CF_ENOTFOUND);
	assert_int_equal(call(f, OP_PATCH, "data/p", "{}", NULL, &rs), CF_EINVAL);
	response_reset(&rs);
}

/* RFC 7386 Appendix A. */
static void
test_kv_merge_patch_rfc7386(void **state)
{
	static const struct {
		const char *target, *patch, *want;
	} v[] = {
	        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
	        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
	        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
	        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
	        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
	         "{\"a\":{\"b\":\"d\"}}"},
	        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
	        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
	        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
	        {"{\"a\":\"foo\"}", "null", "null"},
	        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
	        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
	        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
	        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};
	json_error_t jerr;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *t = json_loads(v[i].target, JSON_DECODE_ANY, &jerr);
		json_t *p = json_loads(v[i].patch, JSON_DECODE_ANY, &jerr);
		json_t *got;

		assert_non_null(t);
		assert_non_null(p);
		got = kv_merge_patch(t, p);
		assert_non_null(got);
		assert_json(got, v[i].want);
		json_decref(got);
		json_decref(t);
		json_decref(p);
	}
}

static void
test_kv_delete_undelete_destroy(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	for (int i = 1; i <= 4; i++) {
		char d[32];
		snprintf(d, sizeof(d), "{\"v\": \"%d\"}", i);
		put(f, "d", d, i);
	}
	/* DELETE data/: soft-deletes the current version only */
	assert_int_equal(call(f, OP_DELETE, "data/d", NULL, NULL, &rs), 0);
	assert_null(rs.data);
	assert_gone(f, "d", 0, false);
	assert_gone(f, "d", 4, false);
	assert_data(f, "d", 3, "{\"v\": \"3\"}");
	/* deleting again, or a missing key, is a quiet no-op */
	assert_int_equal(call(f, OP_DELETE, "data/d", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_DELETE, "data/none", NULL, NULL, &rs), 0);

	assert_int_equal(call(f, OP_UPDATE, "undelete/d", "{\"versions\": [4]}", NULL, &rs), 0);
	assert_null(rs.data);
	assert_data(f, "d", 0, "{\"v\": \"4\"}");
	assert_int_equal(get(f, "d", 0, &rs), 0);
	assert_string_equal(jstr(rs.data, "metadata.deletion_time"), "");

	/* delete/ with a comma string */
	assert_int_equal(call(f, OP_UPDATE, "delete/d", "{\"versions\": \"1, 2\"}", NULL, &rs), 0);
	assert_gone(f, "d", 1, false);
	assert_gone(f, "d", 2, false);
	assert_data(f, "d", 3, "{\"v\": \"3\"}");
	/* versions that do not exist are skipped */
	assert_int_equal(call(f, OP_UPDATE, "delete/d", "{\"versions\": [\"3\", 99]}", NULL, &rs),
	                 0);
	assert_gone(f, "d", 3, false);

	/* destroy: permanent, data record erased, undelete has no effect */
	assert_true(version_record_exists(f, "d", 1));
	assert_int_equal(call(f, OP_UPDATE, "destroy/d", "{\"versions\": [1, 4]}", NULL, &rs), 0);
	assert_false(version_record_exists(f, "d", 1));
	assert_false(version_record_exists(f, "d", 4));
	assert_true(version_record_exists(f, "d", 2));
	assert_gone(f, "d", 1, true);
	assert_gone(f, "d", 0, true);
	assert_int_equal(call(f, OP_UPDATE, "undelete/d", "{\"versions\": [1, 2]}", NULL, &rs), 0);
	assert_gone(f, "d", 1, true);
	assert_data(f, "d", 2, "{\"v\": \"2\"}");
	assert_int_equal(call(f, OP_READ, "metadata/d", NULL, NULL, &rs), 0);
	assert_true(json_is_true(jat(rs.data, "versions.1.destroyed")));
	assert_false(json_is_true(jat(rs.data, "versions.2.destroyed")));
	assert_string_equal(jstr(rs.data, "versions.2.deletion_time"), "");
	assert_string_not_equal(jstr(rs.data, "versions.3.deletion_time"), "");

	/* versions is required; unknown keys are 204 */
	assert_int_equal(call(f, OP_UPDATE, "delete/d", "{}", NULL, &rs), CF_EINVAL);
	assert_true(errors_contain(&rs, "no version number provided"));
	assert_int_equal(call(f, OP_UPDATE, "destroy/d", "{\"versions\": []}", NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "destroy/d", "{\"versions\": [\"x\"]}", NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "destroy/d", "{\"versions\": [-1]}", NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "destroy/none", "{\"versions\": [1]}", NULL, &rs), 0);
	/* only POST/PUT */
	assert_int_equal(call(f, OP_READ, "destroy/d", NULL, NULL, &rs), CF_EMETHOD);
	response_reset(&rs);
}

static void
test_kv_max_versions(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	char d[32];

	assert_int_equal(call(f, OP_UPDATE, "metadata/capped",
	                      "{\"max_versions\": 2, \"delete_version_after\": \"0s\"}", NULL, &rs),
	                 0);
	for (int i = 1; i <= 4; i++) {
		snprintf(d, sizeof(d), "{\"v\": \"%d\"}", i);
		put(f, "capped", d, i);
	}
	assert_int_equal(call(f, OP_READ, "metadata/capped", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "max_versions"), 2);
	assert_int_equal(jint(rs.data, "current_version"), 4);
	assert_int_equal(jint(rs.data, "oldest_version"), 3);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), 2);
	assert_non_null(jat(rs.data, "versions.3"));
	assert_non_null(jat(rs.data, "versions.4"));
	response_reset(&rs);
	assert_missing(f, "capped", 1);
	assert_missing(f, "capped", 2);
	assert_false(version_record_exists(f, "capped", 1));
	assert_false(version_record_exists(f, "capped", 2));
	assert_data(f, "capped", 3, "{\"v\": \"3\"}");

	/* mount-wide max_versions; the key's own setting wins */
	assert_int_equal(call(f, OP_UPDATE, "config", "{\"max_versions\": \"3\"}", NULL, &rs), 0);
	for (int i = 1; i <= 5; i++) {
		snprintf(d, sizeof(d), "{\"v\": \"%d\"}", i);
		put(f, "m", d, i);
	}
	assert_int_equal(call(f, OP_READ, "metadata/m", NULL, NULL, &rs), 0);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), 3);
	assert_int_equal(jint(rs.data, "oldest_version"), 3);
	assert_null(jat(rs.data, "versions.2"));
	put(f, "capped", "{\"v\": \"5\"}", 5);
	assert_int_equal(call(f, OP_READ, "metadata/capped", NULL, NULL, &rs), 0);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), 2);

	/* default 10 */
	assert_int_equal(call(f, OP_UPDATE, "config", "{\"max_versions\": 0}", NULL, &rs), 0);
	for (int i = 1; i <= 13; i++) {
		snprintf(d, sizeof(d), "{\"v\": \"%d\"}", i);
		put(f, "ten", d, i);
	}
	assert_int_equal(call(f, OP_READ, "metadata/ten", NULL, NULL, &rs), 0);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), 10);
	assert_int_equal(jint(rs.data, "oldest_version"), 4);
	response_reset(&rs);
}

static void
test_kv_metadata(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	char **keys = NULL;
	size_t n = 0;

	put(f, "md", "{\"v\": \"1\"}", 1);
	put(f, "md", "{\"v\": \"2\"}", 2);
	assert_int_equal(call(f, OP_READ, "metadata/md", NULL, NULL, &rs), 0);
	assert_false(json_is_true(jat(rs.data, "cas_required")));
	assert_int_equal(jint(rs.data, "current_version"), 2);
	assert_int_equal(jint(rs.data, "max_versions"), 0);
	assert_int_equal(jint(rs.data, "oldest_version"), 0);
	assert_true(json_is_null(jat(rs.data, "custom_metadata")));
	assert_string_equal(jstr(rs.data, "delete_version_after"), "0s");
	assert_int_equal(strlen(jstr(rs.data, "created_time")), 30);
	assert_int_equal(strlen(jstr(rs.data, "updated_time")), 30);
	assert_int_equal(strlen(jstr(rs.data, "versions.1.created_time")), 30);
	assert_string_equal(jstr(rs.data, "versions.1.deletion_time"), "");
	assert_false(json_is_true(jat(rs.data, "versions.1.destroyed")));

	/* write: fields replace, no new version; custom_metadata shows on data reads */
	assert_int_equal(call(f, OP_UPDATE, "metadata/md",
	                      "{\"max_versions\": 5, \"cas_required\": false, "
	                      "\"delete_version_after\": \"3h25m19s\", "
	                      "\"custom_metadata\": {\"owner\": \"team-a\", \"n\": 7}}",
	                      NULL, &rs),
	                 0);
	assert_null(rs.data);
	assert_int_equal(call(f, OP_READ, "metadata/md", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "current_version"), 2);
	assert_int_equal(jint(rs.data, "max_versions"), 5);
	assert_string_equal(jstr(rs.data, "delete_version_after"), "3h25m19s");
	assert_json(jat(rs.data, "custom_metadata"), "{\"owner\": \"team-a\", \"n\": \"7\"}");
	assert_int_equal(get(f, "md", 0, &rs), 0);
	assert_json(jat(rs.data, "metadata.custom_metadata"),
	            "{\"owner\": \"team-a\", \"n\": \"7\"}");
	assert_int_equal(call(f, OP_UPDATE, "data/md", "{\"data\": {}}", NULL, &rs), 0);
	assert_json(jat(rs.data, "custom_metadata"), "{\"owner\": \"team-a\", \"n\": \"7\"}");

	/* patch: merge; null drops a custom key; absent fields stay */
	assert_int_equal(call(f, OP_PATCH, "metadata/md",
	                      "{\"custom_metadata\": {\"n\": null, \"env\": \"prod\"}, "
	                      "\"max_versions\": 4}",
	                      NULL, &rs),
	                 0);
	assert_int_equal(call(f, OP_READ, "metadata/md", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "max_versions"), 4);
	assert_string_equal(jstr(rs.data, "delete_version_after"), "3h25m19s");
	assert_json(jat(rs.data, "custom_metadata"), "{\"owner\": \"team-a\", \"env\": \"prod\"}");
	assert_int_equal(call(f, OP_PATCH, "metadata/none", "{\"max_versions\": 1}", NULL, &rs),
	                 CF_ENOTFOUND);
	assert_int_equal(call(f, OP_UPDATE, "metadata/md", "{\"max_versions\": -1}", NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(
	        call(f, OP_UPDATE, "metadata/md", "{\"cas_required\": \"maybe\"}", NULL, &rs),
	        CF_EINVAL);
	assert_int_equal(
	        call(f, OP_UPDATE, "metadata/md", "{\"delete_version_after\": \"1x\"}", NULL, &rs),
	        CF_EINVAL);

	/* metadata write on a new key: record, no version */
	assert_int_equal(call(f, OP_UPDATE, "metadata/fresh", "{\"max_versions\": 3}", NULL, &rs),
	                 0);
	assert_int_equal(call(f, OP_READ, "metadata/fresh", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "current_version"), 0);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), 0);
	assert_missing(f, "fresh", 0);

	/* delete-all: metadata and every version record go; writing starts over */
	assert_int_equal(call(f, OP_DELETE, "metadata/md", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "metadata/md", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_missing(f, "md", 1);
	assert_false(version_record_exists(f, "md", 1));
	assert_false(version_record_exists(f, "md", 3));
	{
		char *folder = kv2_meta_version_key("md", -1);
		assert_int_equal(view_list(f->m.view, folder, &keys, &n), 0);
		assert_int_equal(n, 0);
		storage_keys_free(keys, n);
		free(folder);
	}
	assert_int_equal(call(f, OP_DELETE, "metadata/md", NULL, NULL, &rs), 0);
	put(f, "md", "{\"v\": \"new\"}", 1);
	assert_int_equal(call(f, OP_READ, "metadata/missing", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_null(rs.errors);
	response_reset(&rs);
}

static void
test_kv_custom_metadata_limits(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	char *body = malloc(16384), k129[130], v513[514];
	size_t off;

	assert_non_null(body);
	/* 64 keys fit, 65 do not */
	for (int nkeys = 64; nkeys <= 65; nkeys++) {
		off = (size_t)snprintf(body, 16384, "{\"custom_metadata\": {");
		for (int i = 0; i < nkeys; i++)
			off += (size_t)snprintf(body + off, 16384 - off, "%s\"k%d\": \"v\"",
			                        i ? ", " : "", i);
		snprintf(body + off, 16384 - off, "}}");
		assert_int_equal(call(f, OP_UPDATE, "metadata/lim", body, NULL, &rs),
		                 nkeys == 64 ? 0 : CF_EINVAL);
	}
	assert_true(errors_contain(&rs, "at most 64 keys"));

	memset(k129, 'k', 129);
	k129[129] = '\0';
	memset(v513, 'v', 513);
	v513[513] = '\0';
	snprintf(body, 16384, "{\"custom_metadata\": {\"%.128s\": \"%.512s\"}}", k129, v513);
	assert_int_equal(call(f, OP_UPDATE, "metadata/lim", body, NULL, &rs), 0);
	snprintf(body, 16384, "{\"custom_metadata\": {\"%s\": \"v\"}}", k129);
	assert_int_equal(call(f, OP_UPDATE, "metadata/lim", body, NULL, &rs), CF_EINVAL);
	snprintf(body, 16384, "{\"custom_metadata\": {\"k\": \"%s\"}}", v513);
	assert_int_equal(call(f, OP_UPDATE, "metadata/lim", body, NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_PATCH, "metadata/lim", body, NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "metadata/lim", "{\"custom_metadata\": {\"\": \"v\"}}",
	                      NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(
	        call(f, OP_UPDATE, "metadata/lim", "{\"custom_metadata\": \"x\"}", NULL, &rs),
	        CF_EINVAL);
	/* the stored map is the last good one */
	assert_int_equal(call(f, OP_READ, "metadata/lim", NULL, NULL, &rs), 0);
	assert_int_equal(json_object_size(jat(rs.data, "custom_metadata")), 1);
	free(body);
	response_reset(&rs);
}

static void
test_kv_list(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	put(f, "a", "{}", 1);
	put(f, "b", "{}", 1);
	put(f, "dir/c", "{}", 1);
	put(f, "dir/sub/d", "{}", 1);
	assert_int_equal(call(f, OP_LIST, "metadata/", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"a\", \"b\", \"dir/\"]}");
	assert_int_equal(call(f, OP_LIST, "metadata/dir", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"c\", \"sub/\"]}");
	assert_int_equal(call(f, OP_LIST, "metadata/dir/", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"c\", \"sub/\"]}");
	assert_int_equal(call(f, OP_LIST, "metadata/dir/sub/", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"d\"]}");
	/* empty: CF_ENOTFOUND without messages (the core renders {"errors":[]}) */
	assert_int_equal(call(f, OP_LIST, "metadata/empty/", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_null(rs.errors);
	assert_null(rs.data);
	assert_int_equal(call(f, OP_LIST, "metadata/a/", NULL, NULL, &rs), CF_ENOTFOUND);
	/* soft-deleted keys are still listed; metadata-deleted ones are not */
	assert_int_equal(call(f, OP_DELETE, "data/a", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_DELETE, "metadata/b", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_LIST, "metadata/", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"a\", \"dir/\"]}");
	/* "metadata" without the slash lists the root too (Vault's metadata/?$) */
	assert_int_equal(call(f, OP_LIST, "metadata", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"a\", \"dir/\"]}");
	response_reset(&rs);
}

/* Replaces deletion_time of version n of path in the stored record (simulates the
 * passage of time without sleeping). */
static void
set_deletion_time(struct fx *f, const char *path, int64_t n, int64_t ns)
{
	json_t *meta = NULL;

	assert_int_equal(kv2_meta_load(f->m.view, path, &meta), 0);
	assert_int_equal(
	        json_object_set_new(kv2_meta_version(meta, n), "deletion_time", json_integer(ns)),
	        0);
	assert_int_equal(kv2_meta_commit(f->m.view, path, meta, 0, NULL, NULL, 0), 0);
	json_decref(meta);
}

static int64_t
rfc3339_ns(const char *s)
{
	int64_t ns = 0;

	assert_int_equal(util_parse_rfc3339(s, &ns), 0);
	return ns;
}

/* A delete_version_after stored before the 100-year limit (2200000h, which
 * overflowed now + dva in nanoseconds into 1693) counts as the limit: the new
 * version is alive, with a deletion time a century ahead. */
static void
test_kv_delete_version_after_legacy_overflow(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	json_t *meta = NULL;
	int64_t c, d;

	put(f, "old", "{\"a\": \"1\"}", 1);
	assert_int_equal(kv2_meta_load(f->m.view, "old", &meta), 0);
	assert_int_equal(
	        json_object_set_new(meta, "delete_version_after", json_integer(2200000LL * 3600)),
	        0);
	assert_int_equal(kv2_meta_commit(f->m.view, "old", meta, 0, NULL, NULL, 0), 0);
	json_decref(meta);

	assert_int_equal(call(f, OP_UPDATE, "data/old", "{\"data\": {\"a\": \"2\"}}", NULL, &rs),
	                 0);
	c = rfc3339_ns(jstr(rs.data, "created_time"));
	d = rfc3339_ns(jstr(rs.data, "deletion_time"));
	assert_true(d - c == DURATION_MAX_SECS * 1000000000LL);
	assert_data(f, "old", 2, "{\"a\": \"2\"}");
	response_reset(&rs);
}

static void
test_kv_delete_version_after(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	int64_t c, d;

	/* mount 1h, key 30m: the smaller wins */
	assert_int_equal(
	        call(f, OP_UPDATE, "config", "{\"delete_version_after\": \"1h\"}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "config", NULL, NULL, &rs), 0);
	assert_string_equal(jstr(rs.data, "delete_version_after"), "1h0m0s");
	assert_int_equal(call(f, OP_UPDATE, "data/mnt", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 0);
	c = rfc3339_ns(jstr(rs.data, "created_time"));
	d = rfc3339_ns(jstr(rs.data, "deletion_time"));
	assert_true(d - c == 3600LL * 1000000000LL);

	assert_int_equal(
	        call(f, OP_UPDATE, "metadata/key", "{\"delete_version_after\": 1800}", NULL, &rs),
	        0);
	assert_int_equal(call(f, OP_UPDATE, "data/key", "{\"data\": {\"a\": \"b\"}}", NULL, &rs),
	                 0);
	c = rfc3339_ns(jstr(rs.data, "created_time"));
	d = rfc3339_ns(jstr(rs.data, "deletion_time"));
	assert_true(d - c == 1800LL * 1000000000LL);
	/* a future deletion_time still reads fine */
	assert_data(f, "key", 0, "{\"a\": \"b\"}");

	/* once it has passed, the version reads as deleted */
	set_deletion_time(f, "key", 1, util_now_ns() - 1000);
	assert_gone(f, "key", 1, false);
	assert_int_equal(call(f, OP_PATCH, "data/key", "{\"data\": {\"c\": \"d\"}}", NULL, &rs),
	                 CF_ENOTFOUND);
	assert_int_equal(call(f, OP_UPDATE, "undelete/key", "{\"versions\": [1]}", NULL, &rs), 0);
	assert_data(f, "key", 1, "{\"a\": \"b\"}");

	/* and for real, with a one-second setting */
	assert_int_equal(
	        call(f, OP_UPDATE, "config", "{\"delete_version_after\": \"1s\"}", NULL, &rs), 0);
	put(f, "short", "{\"a\": \"b\"}", 1);
	assert_data(f, "short", 1, "{\"a\": \"b\"}");
	usleep(1100 * 1000);
	assert_gone(f, "short", 1, false);
	response_reset(&rs);
}

static void
test_kv_subkeys(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	put(f, "s",
	    "{\"foo\": \"abc\", \"bar\": {\"baz\": \"def\", \"deep\": {\"x\": 1}}, \"quux\": {}, "
	    "\"l\": [1]}",
	    1);
	put(f, "s", "{\"only\": {\"one\": 1}}", 2);
	assert_int_equal(call(f, OP_READ, "subkeys/s", NULL, "{\"version\": \"1\"}", &rs), 0);
	assert_json(jat(rs.data, "subkeys"),
	            "{\"foo\": null, \"bar\": {\"baz\": null, \"deep\": {\"x\": null}}, "
	            "\"quux\": {}, \"l\": null}");
	assert_int_equal(jint(rs.data, "metadata.version"), 1);
	assert_int_equal(
	        call(f, OP_READ, "subkeys/s", NULL, "{\"version\": \"1\", \"depth\": \"1\"}", &rs),
	        0);
	assert_json(jat(rs.data, "subkeys"),
	            "{\"foo\": null, \"bar\": null, \"quux\": null, \"l\": null}");
	assert_int_equal(
	        call(f, OP_READ, "subkeys/s", NULL, "{\"version\": \"1\", \"depth\": \"2\"}", &rs),
	        0);
	assert_json(jat(rs.data, "subkeys"),
	            "{\"foo\": null, \"bar\": {\"baz\": null, \"deep\": null}, \"quux\": {}, "
	            "\"l\": null}");
	assert_int_equal(call(f, OP_READ, "subkeys/s", NULL, NULL, &rs), 0);
	assert_json(jat(rs.data, "subkeys"), "{\"only\": {\"one\": null}}");
	assert_int_equal(call(f, OP_READ, "subkeys/s", NULL, "{\"depth\": \"-1\"}", &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_READ, "subkeys/none", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_int_equal(call(f, OP_DELETE, "data/s", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "subkeys/s", NULL, NULL, &rs), 0);
	assert_int_equal(rs.status, 404);
	assert_true(rs.envelope_on_error);
	assert_true(json_is_null(jat(rs.data, "subkeys")));
	response_reset(&rs);
}

static void
test_kv_config(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};

	assert_int_equal(call(f, OP_READ, "config", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"cas_required\": false, \"delete_version_after\": \"0s\", "
	                     "\"max_versions\": 0}");
	/* what hvac's configure() sends */
	assert_int_equal(call(f, OP_UPDATE, "config",
	                      "{\"max_versions\": 10, \"delete_version_after\": \"0s\", "
	                      "\"cas_required\": null}",
	                      NULL, &rs),
	                 0);
	assert_null(rs.data);
	assert_int_equal(
	        call(f, OP_UPDATE, "config", "{\"delete_version_after\": \"3h25m19s\"}", NULL, &rs),
	        0);
	assert_int_equal(call(f, OP_READ, "config", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"cas_required\": false, \"delete_version_after\": \"3h25m19s\", "
	                     "\"max_versions\": 10}");
	assert_int_equal(call(f, OP_UPDATE, "config", "{\"max_versions\": \"x\"}", NULL, &rs),
	                 CF_EINVAL);
	assert_int_equal(call(f, OP_DELETE, "config", NULL, NULL, &rs), CF_EMETHOD);

	/* the cached config survives a reload of the mount state */
	f->bt->cleanup(&f->m);
	assert_int_equal(f->bt->init(&f->m, NULL), 0);
	assert_int_equal(call(f, OP_READ, "config", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "max_versions"), 10);
	response_reset(&rs);
}

static void
test_kv_unknown_path(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	const enum op ops[] = {OP_READ, OP_LIST, OP_UPDATE, OP_DELETE, OP_PATCH};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		assert_int_equal(call(f, ops[i], "foo/bar", "{}", NULL, &rs), 0);
		assert_int_equal(rs.status, 404);
		assert_true(rs.envelope_on_error);
		assert_null(rs.data);
		assert_int_equal(json_array_size(rs.warnings), 1);
		assert_non_null(strstr(json_string_value(json_array_get(rs.warnings, 0)),
		                       "secret/data/foo/bar"));
	}
	assert_int_equal(call(f, OP_READ, "data", NULL, NULL, &rs), 0);
	assert_int_equal(rs.status, 404);
	response_reset(&rs);
}

struct race {
	struct fx *f;
	int wins;
};

/* Each thread loops read-version / write-with-cas; with writes serialized per key
 * the number of successful writes equals the final version. */
static void *
race_thread(void *arg)
{
	struct race *ra = arg;
	struct response rs = {0};
	char body[128];

	for (int i = 0; i < 40; i++) {
		int64_t v = 0;
		int r;

		if (get(ra->f, "race", 0, &rs) == 0)
			v = json_integer_value(jat(rs.data, "metadata.version"));
		snprintf(body, sizeof(body),
		         "{\"options\": {\"cas\": %lld}, \"data\": {\"i\": %d}}", (long long)v, i);
		r = call(ra->f, OP_UPDATE, "data/race", body, NULL, &rs);
		if (r == 0)
			ra->wins++;
		else if (r != CF_ECAS)
			return (void *)1;
	}
	response_reset(&rs);
	return NULL;
}

static void
test_kv_concurrent_cas(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	struct race ra[4];
	pthread_t th[4];
	int total = 0;

	assert_int_equal(call(f, OP_UPDATE, "config", "{\"max_versions\": 1000}", NULL, &rs), 0);
	for (int i = 0; i < 4; i++) {
		ra[i].f = f;
		ra[i].wins = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race_thread, &ra[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret = NULL;
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
		total += ra[i].wins;
	}
	assert_int_equal(call(f, OP_READ, "metadata/race", NULL, NULL, &rs), 0);
	assert_int_equal(jint(rs.data, "current_version"), total);
	assert_int_equal(json_object_size(jat(rs.data, "versions")), total);
	response_reset(&rs);
}

/* ---- KV v1 --------------------------------------------------------------- */

static void
test_kv1_crud(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	enum op op = 0;

	assert_int_equal(
	        call_ex(f, OP_UPDATE, "hello", "{\"value\": \"world\", \"n\": 1}", NULL, &rs, &op),
	        0);
	assert_int_equal(op, OP_CREATE);
	assert_null(rs.data);
	assert_int_equal(call_ex(f, OP_UPDATE, "hello", "{\"value\": \"again\"}", NULL, &rs, &op),
	                 0);
	assert_int_equal(op, OP_UPDATE);
	assert_int_equal(call(f, OP_READ, "hello", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"value\": \"again\"}");
	assert_int_equal(rs.lease_duration, SYSTEM_DEFAULT_TTL);
	assert_null(rs.lease_id);
	assert_false(rs.renewable);

	assert_int_equal(call(f, OP_UPDATE, "dir/a", "{\"x\": \"1\"}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_UPDATE, "dir/sub/b", "{\"x\": \"1\"}", NULL, &rs), 0);
	assert_int_equal(call(f, OP_LIST, "", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"dir/\", \"hello\"]}");
	assert_int_equal(call(f, OP_LIST, "dir", NULL, NULL, &rs), 0);
	assert_json(rs.data, "{\"keys\": [\"a\", \"sub/\"]}");
	assert_int_equal(call(f, OP_LIST, "nothing/", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_null(rs.errors);

	assert_int_equal(call(f, OP_DELETE, "hello", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "hello", NULL, NULL, &rs), CF_ENOTFOUND);
	assert_int_equal(call(f, OP_DELETE, "hello", NULL, NULL, &rs), 0);
	assert_int_equal(call(f, OP_READ, "dir/", NULL, NULL, &rs), CF_ENOTFOUND);

	/* bad writes */
	assert_int_equal(call(f, OP_UPDATE, "x", "{}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "x/", "{\"a\": \"b\"}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "", "{\"a\": \"b\"}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_UPDATE, "x", "{\"ttl\": \"soon\"}", NULL, &rs), CF_EINVAL);
	assert_int_equal(call(f, OP_PATCH, "x", "{\"a\": \"b\"}", NULL, &rs), CF_EMETHOD);
	response_reset(&rs);
}

static void
test_kv1_lease_duration(void **state)
{
	struct fx *f = *state;
	struct response rs = {0};
	static const struct {
		const char *body;
		int64_t want;
	} v[] = {
	        {"{\"v\": \"x\", \"ttl\": \"1h\"}", 3600},
	        {"{\"v\": \"x\", \"ttl\": 90}", 90},
	        {"{\"v\": \"x\", \"ttl\": \"300\"}", 300},
	        {"{\"v\": \"x\", \"lease\": \"1s\"}", 1},
	        {"{\"v\": \"x\", \"ttl\": \"2m\", \"lease\": \"1s\"}", 120},
	        {"{\"v\": \"x\", \"ttl\": \"0s\"}", 7200},      /* 0: mount default */
	        {"{\"v\": \"x\", \"ttl\": \"10000h\"}", 86400}, /* capped at the mount max */
	        {"{\"v\": \"x\"}", 7200},
	};

	f->m.default_lease_ttl = 7200;
	f->m.max_lease_ttl = 86400;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(call(f, OP_UPDATE, "leased", v[i].body, NULL, &rs), 0);
		assert_int_equal(call(f, OP_READ, "leased", NULL, NULL, &rs), 0);
		if (rs.lease_duration != v[i].want) {
			print_error("vector %zu: lease_duration %lld, want %lld\n", i,
			            (long long)rs.lease_duration, (long long)v[i].want);
			fail();
		}
		assert_null(rs.lease_id);
	}
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_kv_versions, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_exists, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_cas, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_cas_required, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_patch, setup_v2, teardown),
	        cmocka_unit_test(test_kv_merge_patch_rfc7386),
	        cmocka_unit_test_setup_teardown(test_kv_delete_undelete_destroy, setup_v2,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_kv_max_versions, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_metadata, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_custom_metadata_limits, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_list, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_delete_version_after_legacy_overflow,
	                                        setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_delete_version_after, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_subkeys, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_config, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_unknown_path, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv_concurrent_cas, setup_v2, teardown),
	        cmocka_unit_test_setup_teardown(test_kv1_crud, setup_v1, teardown),
	        cmocka_unit_test_setup_teardown(test_kv1_lease_duration, setup_v1, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
