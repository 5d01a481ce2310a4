/* test_sealing.c - the sealing keys' storage (src/sealing) through the whole
 * core: a dev core on memory storage, requests to sys/sealing/, and the
 * records read back through the barrier. The invariants: storage holds one
 * active key at most, every record is the key table's, and a key's record
 * keeps its private key (PKCS#1 PEM) only behind the barrier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/view.h"
#include "core/core.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "sealing/sealing_int.h"
#include "server/server.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct core *c;
	char *root, *unseal;
	struct view *v; /* sys/sealing/, as the subsystem sees it */
};

static int
call(struct core *c, enum op op, const char *path, const char *token, json_t *data,
     json_t **ret_data)
{
	struct request rq = {0};
	struct response rs = {0};
	int status;

	rq.op = op;
	rq.path = strdup(path);
	rq.data = data ? data : json_object();
	rq.client_token = token ? strdup(token) : NULL;
	status = core_handle(c, &rq, &rs);
	if (ret_data)
		*ret_data = json_incref(rs.data);
	response_reset(&rs);
	request_free_fields(&rq);
	return status;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct core_config cfg = {.storage_spec = "memory:"};

	if (!f || sodium_init() < 0)
		return -1;
	jsonx_init();
	if (server_core_new(&cfg, &f->c) < 0 ||
	    core_dev_setup(f->c, NULL, &f->root, &f->unseal) < 0)
		return -1;
	f->v = view_new(core_barrier(f->c), "sys/sealing/");
	if (!f->v || call(f->c, OP_UPDATE, "sys/sealing/config", f->root,
	                  json_pack("{s:i}", "key_bits", 2048), NULL) != 200)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	view_free(f->v);
	core_free(f->c);
	free(f->root);
	free(f->unseal);
	free(f);
	return 0;
}

static char *
rotate(struct fixture *f)
{
	json_t *d = NULL;
	char *id;

	assert_int_equal(call(f->c, OP_UPDATE, "sys/sealing/rotate", f->root, NULL, &d), 200);
	id = strdup(json_string_value(json_object_get(d, "key_id")));
	json_decref(d);
	assert_non_null(id);
	return id;
}

/* The stored state of every key: {id: state}; checks each record's shape. */
static json_t *
stored_states(struct fixture *f)
{
	json_t *states = json_object();
	char **names = NULL;
	size_t n = 0;

	assert_int_equal(view_list(f->v, "keys/", &names, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char key[64];
		json_t *rec = NULL;
		snprintf(key, sizeof(key), "keys/%s", names[i]);
		assert_int_equal(view_get_object(f->v, key, &rec), 0);
		assert_non_null(strstr(json_string_value(json_object_get(rec, "private_key")),
		                       "-----BEGIN RSA PRIVATE KEY-----"));
		assert_non_null(strstr(json_string_value(json_object_get(rec, "certificate")),
		                       "-----BEGIN CERTIFICATE-----"));
		json_object_set(states, names[i], json_object_get(rec, "state"));
		json_decref(rec);
	}
	storage_keys_free(names, n);
	return states;
}

static const char *
state_of(json_t *states, const char *id)
{
	return json_string_value(json_object_get(states, id));
}

static int
count_active(json_t *states)
{
	const char *id;
	json_t *v;
	int n = 0;

	json_object_foreach(states, id, v) n += strcmp(json_string_value(v), "active") == 0;
	return n;
}

static void
test_sealing_rotate_keeps_one_active_record(void **state)
{
	struct fixture *f = *state;
	char *a = rotate(f), *b = rotate(f), *c = rotate(f);
	json_t *st = stored_states(f), *d = NULL;

	assert_int_equal(json_object_size(st), 3);
	assert_int_equal(count_active(st), 1);
	assert_string_equal(state_of(st, c), "active");
	assert_string_equal(state_of(st, a), "retired");
	assert_string_equal(state_of(st, b), "retired");
	/* The table agrees with storage. */
	assert_int_equal(call(f->c, OP_READ, "sys/sealing/keys", f->root, NULL, &d), 200);
	assert_string_equal(json_string_value(json_object_get(d, "active_key")), c);
	json_decref(d);
	json_decref(st);
	free(a);
	free(b);
	free(c);
}

static void
test_sealing_compromise_of_the_active_key_is_stored(void **state)
{
	struct fixture *f = *state;
	char *a = rotate(f), path[128];
	json_t *st, *d = NULL;
	const char *now;

	snprintf(path, sizeof(path), "sys/sealing/keys/%s/compromised", a);
	assert_int_equal(call(f->c, OP_UPDATE, path, f->root, NULL, NULL), 200);
	st = stored_states(f);
	assert_int_equal(json_object_size(st), 2);
	assert_string_equal(state_of(st, a), "compromised");
	assert_int_equal(count_active(st), 1);
	/* The same after a seal and an unseal: the table is reloaded from storage. */
	assert_int_equal(call(f->c, OP_UPDATE, "sys/seal", f->root, NULL, NULL), 204);
	assert_int_equal(call(f->c, OP_UPDATE, "sys/unseal", NULL,
	                      json_pack("{s:s}", "key", f->unseal), NULL),
	                 200);
	assert_int_equal(call(f->c, OP_READ, "sys/sealing/keys", f->root, NULL, &d), 200);
	now = json_string_value(json_object_get(d, "active_key"));
	assert_non_null(now);
	assert_string_not_equal(now, a);
	assert_string_equal(state_of(st, now), "active");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_object_get(d, "key_info"), a), "state")),
	                    "compromised");
	json_decref(d);
	json_decref(st);
	free(a);
}

static void
test_sealing_no_key_until_needed(void **state)
{
	struct fixture *f = *state;
	json_t *st = stored_states(f), *d = NULL;

	/* A core made without `coffer server` makes its first key on demand. */
	assert_int_equal(json_object_size(st), 0);
	assert_int_equal(call(f->c, OP_READ, "sys/sealing/cert", NULL, NULL, NULL), 200);
	json_decref(st);
	st = stored_states(f);
	assert_int_equal(json_object_size(st), 1);
	assert_int_equal(count_active(st), 1);
	assert_int_equal(
	        call(f->c, OP_READ, "sys/sealing/keys/0123456789abcdef", f->root, NULL, &d), 404);
	json_decref(d);
	json_decref(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_sealing_rotate_keeps_one_active_record, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_sealing_compromise_of_the_active_key_is_stored,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sealing_no_key_until_needed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
