/* test_expire.c - the expiration manager (core/expire.c) through the whole core:
 * a dev core on memory storage with a test engine whose "creds" route hands out
 * leased secrets and whose hooks count (and can fail) revocations. Waits are on
 * conditions with a deadline, never fixed sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "core/core_int.h"
#include "core/expire.h"
#include "backend/registry.h"
#include "server/server.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the test engine ---- */

static atomic_int issued, revoked, renewed, fail_revokes;
static atomic_llong last_renew_expire;
static int64_t next_ttl = 3600, next_max_ttl = 0;

static int
lt_creds(struct request *rq, struct response *rs)
{
	int n = atomic_fetch_add(&issued, 1);
	char user[32];

	snprintf(user, sizeof(user), "user-%d", n);
	rs->data = json_pack("{s:s, s:s}", "username", user, "password", "not-a-real-one");
	rs->secret = json_pack("{s:s}", "username", user);
	rs->lease_ttl = next_ttl;
	rs->lease_max_ttl = next_max_ttl;
	rs->renewable = true;
	return 0;
}

static int
lt_revoke(struct mount *m, json_t *internal)
{
	if (!json_string_value(json_object_get(internal, "username")))
		return CF_EINTERNAL;
	if (atomic_load(&fail_revokes) > 0) {
		atomic_fetch_sub(&fail_revokes, 1);
		return CF_EUPSTREAM;
	}
	atomic_fetch_add(&revoked, 1);
	return 0;
}

static int
lt_renew(struct mount *m, json_t *internal, int64_t new_expire)
{
	atomic_fetch_add(&renewed, 1);
	atomic_store(&last_renew_expire, new_expire);
	return 0;
}

static const struct route lt_routes[] = {
        {"creds", .read = lt_creds},
};

static const struct backend_type lt_backend = {
        .type = "leasetest",
        .routes = lt_routes,
        .nroutes = 1,
        .lease_revoke = lt_revoke,
        .lease_renew = lt_renew,
};

/* ---- helpers ---- */

struct fixture {
	struct core *c;
	char *root, *unseal;
};

static int
call(struct core *c, enum op op, const char *path, const char *token, json_t *data,
     json_t **ret_body)
{
	struct request rq = {0};
	struct response rs = {0};
	int status;

	rq.op = op;
	rq.path = strdup(path);
	rq.data = data ? data : json_object();
	rq.client_token = token ? strdup(token) : NULL;
	status = core_handle(c, &rq, &rs);
	if (ret_body) {
		*ret_body = json_pack("{s:O?, s:O?, s:s?, s:I, s:O?}", "data", rs.data, "errors",
		                      rs.errors, "lease_id", rs.lease_id, "lease_duration",
		                      (json_int_t)rs.lease_duration, "warnings", rs.warnings);
	}
	response_reset(&rs);
	request_free_fields(&rq);
	return status;
}

static char *
issue(struct fixture *f, const char *token)
{
	json_t *body = NULL;
	char *id;

	assert_int_equal(call(f->c, OP_READ, "lt/creds", token, NULL, &body), 200);
	id = strdup(json_string_value(json_object_get(body, "lease_id")));
	json_decref(body);
	assert_non_null(id);
	assert_int_equal(strncmp(id, "lt/creds/", 9), 0);
	return id;
}

static int
lookup(struct fixture *f, const char *id)
{
	return call(f->c, OP_UPDATE, "sys/leases/lookup", f->root,
	            json_pack("{s:s}", "lease_id", id), NULL);
}

/* Polls cond every 10 ms until it holds or deadline_ms passes. */
#define WAIT_FOR(cond, deadline_ms)                                                                \
	do {                                                                                       \
		int64_t until_ = util_now_ns() + (int64_t)(deadline_ms)*1000000;                   \
		while (!(cond) && util_now_ns() < until_) {                                        \
			struct timespec ts_ = {0, 10000000};                                       \
			nanosleep(&ts_, NULL);                                                     \
		}                                                                                  \
		assert_true(cond);                                                                 \
	} while (0)

static const struct backend_entry lt_entry = {"leasetest", BACKEND_ENGINE, &lt_backend, NULL, NULL};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct core_config cfg = {.storage_spec = "memory:"};

	if (!f || sodium_init() < 0 || backend_register(&lt_entry, 1) < 0)
		return -1;
	if (server_core_new(&cfg, &f->c) < 0 ||
	    core_dev_setup(f->c, NULL, &f->root, &f->unseal) < 0)
		return -1;
	if (call(f->c, OP_UPDATE, "sys/mounts/lt", f->root, json_pack("{s:s}", "type", "leasetest"),
	         NULL) != 204)
		return -1;
	atomic_store(&issued, 0);
	atomic_store(&revoked, 0);
	atomic_store(&renewed, 0);
	atomic_store(&fail_revokes, 0);
	next_ttl = 3600;
	next_max_ttl = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	core_free(f->c);
	free(f->root);
	free(f->unseal);
	free(f);
	return 0;
}

static void
reseal(struct fixture *f)
{
	json_t *body = NULL;
	assert_int_equal(call(f->c, OP_UPDATE, "sys/seal", f->root, NULL, NULL), 204);
	assert_int_equal(call(f->c, OP_UPDATE, "sys/unseal", NULL,
	                      json_pack("{s:s}", "key", f->unseal), &body),
	                 200);
	json_decref(body);
}

/* ---- tests ---- */

static void
test_lease_expires_by_itself(void **state)
{
	struct fixture *f = *state;
	char *id;

	next_ttl = 1;
	id = issue(f, f->root);
	assert_int_equal(lookup(f, id), 200);
	WAIT_FOR(atomic_load(&revoked) == 1, 3000);
	assert_int_equal(lookup(f, id), 400);
	free(id);
}

static void
test_renew_capped_by_max_ttl(void **state)
{
	struct fixture *f = *state;
	json_t *body = NULL;
	int64_t issued_by;
	char *id;

	next_ttl = 2;
	next_max_ttl = 5;
	id = issue(f, f->root);
	/* The cap is the issue time + 5 s, all on the wall clock. Compared with the
	 * time after the renewal this failed once in many runs, most likely a step
	 * back of that clock; the time right after the issue leaves less room. */
	issued_by = util_now();
	assert_int_equal(call(f->c, OP_UPDATE, "sys/leases/renew", f->root,
	                      json_pack("{s:s, s:i}", "lease_id", id, "increment", 1000), &body),
	                 200);
	assert_true(json_integer_value(json_object_get(body, "lease_duration")) <= 5);
	assert_true(json_integer_value(json_object_get(body, "lease_duration")) >= 4);
	assert_non_null(json_object_get(body, "warnings"));
	assert_int_equal(atomic_load(&renewed), 1);
	assert_true(atomic_load(&last_renew_expire) <= issued_by + 5);
	json_decref(body);
	/* an unknown lease cannot be renewed */
	assert_int_equal(call(f->c, OP_UPDATE, "sys/leases/renew", f->root,
	                      json_pack("{s:s}", "lease_id", "lt/creds/nope"), NULL),
	                 400);
	free(id);
}

static void
test_failed_revocation_is_retried(void **state)
{
	struct fixture *f = *state;
	char *id;

	atomic_store(&fail_revokes, 2);
	next_ttl = 1;
	id = issue(f, f->root);
	/* two failures: retried after 1 s, then 2 s */
	WAIT_FOR(atomic_load(&revoked) == 1, 8000);
	assert_int_equal(atomic_load(&fail_revokes), 0);
	assert_int_equal(lookup(f, id), 400);
	free(id);
}

static void
test_token_revocation_revokes_leases(void **state)
{
	struct fixture *f = *state;
	json_t *body = NULL;
	char *child, *id;

	assert_int_equal(call(f->c, OP_UPDATE, "auth/token/create", f->root,
	                      json_pack("{s:[s]}", "policies", "root"), &body),
	                 200);
	json_decref(body);
	/* the token itself is in the auth block, which call() does not keep: create
	 * with a known id instead */
	assert_int_equal(call(f->c, OP_UPDATE, "auth/token/create", f->root,
	                      json_pack("{s:s, s:[s]}", "id", "child-token-1", "policies", "root"),
	                      NULL),
	                 200);
	child = "child-token-1";
	id = issue(f, child);
	assert_int_equal(call(f->c, OP_UPDATE, "auth/token/revoke-self", child, NULL, NULL), 204);
	WAIT_FOR(atomic_load(&revoked) == 1, 3000);
	assert_int_equal(lookup(f, id), 400);
	free(id);
}

static void
test_token_expiry_revokes_leases(void **state)
{
	struct fixture *f = *state;
	char *id;

	assert_int_equal(call(f->c, OP_UPDATE, "auth/token/create", f->root,
	                      json_pack("{s:s, s:[s], s:s}", "id", "short-lived-token", "policies",
	                                "root", "ttl", "1s"),
	                      NULL),
	                 200);
	id = issue(f, "short-lived-token"); /* the lease's own TTL is an hour */
	WAIT_FOR(atomic_load(&revoked) == 1, 4000);
	assert_int_equal(lookup(f, id), 400);
	free(id);
}

static void
test_leases_survive_seal_and_expire_after_unseal(void **state)
{
	struct fixture *f = *state;
	char *keep, *soon;

	keep = issue(f, f->root);
	next_ttl = 1;
	soon = issue(f, f->root);
	assert_int_equal(call(f->c, OP_UPDATE, "sys/seal", f->root, NULL, NULL), 204);
	/* expires while sealed: nothing may revoke it now */
	struct timespec ts = {1, 300000000};
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&revoked), 0);
	json_t *body = NULL;
	assert_int_equal(call(f->c, OP_UPDATE, "sys/unseal", NULL,
	                      json_pack("{s:s}", "key", f->unseal), &body),
	                 200);
	json_decref(body);
	WAIT_FOR(atomic_load(&revoked) == 1, 3000);
	assert_int_equal(lookup(f, soon), 400);
	assert_int_equal(lookup(f, keep), 200);
	/* revoke-prefix takes the rest; revoke of a gone lease succeeds */
	assert_int_equal(
	        call(f->c, OP_UPDATE, "sys/leases/revoke-prefix/lt/creds", f->root, NULL, NULL),
	        204);
	assert_int_equal(atomic_load(&revoked), 2);
	assert_int_equal(lookup(f, keep), 400);
	assert_int_equal(call(f->c, OP_UPDATE, "sys/leases/revoke", f->root,
	                      json_pack("{s:s}", "lease_id", keep), NULL),
	                 204);
	assert_int_equal(atomic_load(&revoked), 2);
	free(keep);
	free(soon);
}

static void
test_leases_reload_list_and_revoke_by_prefix(void **state)
{
	struct fixture *f = *state;
	const int n = 2000;
	size_t pending = 0;
	bool loaded = false;
	json_t *body = NULL;

	for (int i = 0; i < n; i++)
		free(issue(f, f->root));
	reseal(f);
	/* served at once, whatever the loader's progress */
	assert_int_equal(call(f->c, OP_READ, "sys/mounts", f->root, NULL, NULL), 200);
	WAIT_FOR((expire_stats(f->c->expire, &pending, &loaded), loaded && pending >= (size_t)n),
	         20000);
	assert_int_equal(call(f->c, OP_LIST, "sys/leases/lookup/lt/creds/", f->root, NULL, &body),
	                 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(body, "data"), "keys")),
	                 (size_t)n);
	json_decref(body);
	assert_int_equal(call(f->c, OP_UPDATE, "sys/leases/revoke-prefix/lt/", f->root, NULL, NULL),
	                 204);
	assert_int_equal(atomic_load(&revoked), n);
}

/* 100,000 stored leases (written straight into the lease view, in batches, as a
 * long-running server would have accumulated them) load in the background at
 * unseal: unseal returns before the load is done and requests are answered while
 * it runs. */
static void
test_100k_leases_load_while_serving(void **state)
{
	struct fixture *f = *state;
	const int n = 100000, per_txn = 1000;
	struct view *v = view_new(f->c->barrier, "sys/expire/");
	int64_t now = util_now_ns(), exp = now + 3600 * 1000000000LL;
	char mount_uuid[37] = "";
	size_t pending = 0;
	bool loaded = true;
	json_t *body = NULL;

	assert_non_null(v);
	/* the lease must belong to the mounted engine */
	assert_int_equal(call(f->c, OP_READ, "sys/mounts/lt", f->root, NULL, &body), 200);
	snprintf(mount_uuid, sizeof(mount_uuid), "%s",
	         json_string_value(json_object_get(json_object_get(body, "data"), "uuid")));
	json_decref(body);
	assert_int_equal(strlen(mount_uuid), 36);

	for (int i = 0; i < n; i += per_txn) {
		struct storage_op ops[1000];
		char *keys[1000], *vals[1000];
		for (int j = 0; j < per_txn; j++) {
			char id[64];
			snprintf(id, sizeof(id), "lt/creds/%07d", i + j);
			json_t *rec =
			        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, "
			                  "s:{s:s}}",
			                  "lease_id", id, "path", "lt/creds", "mount_path", "lt/",
			                  "mount_uuid", mount_uuid, "token_hash", "", "issue_time",
			                  (json_int_t)now, "expire_time", (json_int_t)exp,
			                  "max_expire", (json_int_t)exp, "ttl", (json_int_t)3600,
			                  "renewable", 1, "internal", "username", id);
			assert_true(asprintf(&keys[j], "id/%s", id) > 0);
			vals[j] = json_dumps(rec, JSON_COMPACT);
			json_decref(rec);
			ops[j] = (struct storage_op){.kind = STORAGE_PUT,
			                             .key = keys[j],
			                             .value = (uint8_t *)vals[j],
			                             .len = strlen(vals[j])};
		}
		assert_int_equal(view_txn(v, ops, (size_t)per_txn), 0);
		for (int j = 0; j < per_txn; j++) {
			free(keys[j]);
			free(vals[j]);
		}
	}
	view_free(v);

	reseal(f);
	/* unseal did not wait for the load ... */
	expire_stats(f->c->expire, &pending, &loaded);
	assert_false(loaded);
	/* ... and requests are answered while it runs */
	for (int i = 0; i < 20; i++) {
		char id[64];
		snprintf(id, sizeof(id), "lt/creds/%07d", (i * 4999) % n);
		assert_int_equal(lookup(f, id), 200);
		assert_int_equal(call(f->c, OP_READ, "sys/mounts", f->root, NULL, NULL), 200);
	}
	WAIT_FOR((expire_stats(f->c->expire, &pending, &loaded), loaded), 120000);
	assert_int_equal(pending, (size_t)n + 0);
	assert_int_equal(atomic_load(&revoked), 0);
}

static void
test_unmount_revokes_leases(void **state)
{
	struct fixture *f = *state;
	char *id = issue(f, f->root);

	atomic_store(&fail_revokes, 1);
	/* the engine cannot revoke: the unmount is refused and nothing is lost */
	assert_int_equal(call(f->c, OP_DELETE, "sys/mounts/lt", f->root, NULL, NULL), 400);
	assert_int_equal(lookup(f, id), 200);
	assert_int_equal(call(f->c, OP_DELETE, "sys/mounts/lt", f->root, NULL, NULL), 204);
	assert_int_equal(atomic_load(&revoked), 1);
	free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_lease_expires_by_itself, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_renew_capped_by_max_ttl, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_failed_revocation_is_retried, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_revocation_revokes_leases, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_token_expiry_revokes_leases, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_leases_survive_seal_and_expire_after_unseal,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_leases_reload_list_and_revoke_by_prefix, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_100k_leases_load_while_serving, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unmount_revokes_leases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
