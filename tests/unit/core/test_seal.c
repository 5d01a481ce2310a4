/* test_seal.c - the seal state (core/seal.c) on memory storage, through the
 * unauthenticated sys routes: init, seal-status, unseal with a quorum of
 * shares (malformed and repeated shares are not counted, a wrong combination
 * resets the progress), seal, and unseal again (docs/internals/core.md "Seal"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "corefix.h"

struct fixture {
	struct corefix cf;
	char *keys[3];
	char *other[3]; /* shares of another core's key */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct corefix o = {0};
	char *root = NULL;

	if (!f || corefix_setup(&f->cf) < 0 || corefix_setup(&o) < 0)
		return -1;
	if (corefix_init(f->cf.c, 3, 2, f->keys, &f->cf.root) != 200 ||
	    corefix_init(o.c, 3, 2, f->other, &root) != 200)
		return -1;
	secmem_free_str(root);
	corefix_teardown(&o);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 3; i++) {
		secmem_free_str(f->keys[i]);
		secmem_free_str(f->other[i]);
	}
	corefix_teardown(&f->cf);
	free(f);
	return 0;
}

static json_t *
status_of(struct fixture *f)
{
	struct response rs = {0};
	json_t *st;

	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/seal-status", NULL, NULL, &rs), 200);
	st = json_incref(rs.raw);
	response_reset(&rs);
	return st;
}

static void
assert_progress(struct fixture *f, bool sealed, int progress)
{
	json_t *st = status_of(f);

	assert_true(json_is_true(json_object_get(st, "initialized")));
	assert_int_equal(json_is_true(json_object_get(st, "sealed")), sealed);
	assert_int_equal(json_integer_value(json_object_get(st, "t")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "n")), 3);
	assert_int_equal(json_integer_value(json_object_get(st, "progress")), progress);
	json_decref(st);
}

static void
test_seal_init_leaves_it_sealed(void **state)
{
	struct fixture *f = *state;

	assert_true(core_sealed(f->cf.c));
	assert_progress(f, true, 0);
	/* a second init is refused */
	assert_int_equal(
	        corefix_call(f->cf.c, OP_UPDATE, "sys/init", NULL,
	                     json_pack("{s:i, s:i}", "secret_shares", 1, "secret_threshold", 1),
	                     NULL),
	        400);
	/* sealed: routes that need the barrier answer 503 */
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/mounts", f->cf.root, NULL, NULL), 503);
	assert_int_equal(
	        corefix_call(f->cf.c, OP_READ, "auth/token/lookup-self", f->cf.root, NULL, NULL),
	        503);
}

static void
test_seal_unseal_with_a_quorum(void **state)
{
	struct fixture *f = *state;
	bool sealed = false;

	/* malformed: 400 and not counted */
	assert_int_equal(corefix_unseal(f->cf.c, "not-a-share", &sealed), 400);
	assert_progress(f, true, 0);
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[0], &sealed), 200);
	assert_true(sealed);
	assert_progress(f, true, 1);
	/* the same share again counts once */
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[0], &sealed), 200);
	assert_progress(f, true, 1);
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[2], &sealed), 200);
	assert_false(sealed);
	assert_false(core_sealed(f->cf.c));
	assert_progress(f, false, 0);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/mounts", f->cf.root, NULL, NULL), 200);
}

static void
test_seal_wrong_combination_resets(void **state)
{
	struct fixture *f = *state;
	bool sealed = false;

	assert_int_equal(corefix_unseal(f->cf.c, f->keys[0], &sealed), 200);
	assert_int_not_equal(corefix_unseal(f->cf.c, f->other[1], &sealed), 200);
	assert_true(core_sealed(f->cf.c));
	assert_progress(f, true, 0);
	/* the right shares still work */
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[1], &sealed), 200);
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[2], &sealed), 200);
	assert_false(sealed);
}

/* Seal, then unseal again: the root token still works, state written before
 * the seal is there. sys/seal needs a token; core_seal is the server's own. */
static void
test_seal_and_unseal_again(void **state)
{
	struct fixture *f = *state;
	struct response rs = {0};
	bool sealed = false;

	assert_int_equal(corefix_unseal(f->cf.c, f->keys[0], &sealed), 200);
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[1], &sealed), 200);
	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "sys/policy/p", f->cf.root,
	                              json_pack("{s:s}", "policy",
	                                        "path \"x\" { capabilities = [\"read\"] }"),
	                              NULL),
	                 204);
	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "sys/seal", NULL, NULL, NULL), 403);
	assert_false(core_sealed(f->cf.c));
	assert_int_equal(corefix_call(f->cf.c, OP_UPDATE, "sys/seal", f->cf.root, NULL, NULL), 204);
	assert_true(core_sealed(f->cf.c));
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/policy/p", f->cf.root, NULL, NULL),
	                 503);
	assert_int_equal(core_seal(f->cf.c), 0); /* sealing a sealed core changes nothing */

	assert_int_equal(corefix_unseal(f->cf.c, f->keys[2], &sealed), 200);
	assert_int_equal(corefix_unseal(f->cf.c, f->keys[1], &sealed), 200);
	assert_false(sealed);
	assert_int_equal(corefix_call(f->cf.c, OP_READ, "sys/policy/p", f->cf.root, NULL, &rs),
	                 200);
	assert_non_null(strstr(json_string_value(json_object_get(rs.data, "rules")), "\"x\""));
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_seal_init_leaves_it_sealed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_seal_unseal_with_a_quorum, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_seal_wrong_combination_resets, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_seal_and_unseal_again, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
