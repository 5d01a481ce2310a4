/* test_view.c - the storage view (backend/view.c): every key under its prefix,
 * one-level listing, transactions and delete_prefix relative to the view; and
 * its handling of stored names that are not UTF-8 (lib/path.h): listed with
 * \xHH escapes, read, rewritten and deleted through that spelling, never
 * created through it. The legacy entries are written straight through the
 * barrier, as older versions stored them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "storage/storage.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct storage *s;
	struct barrier *b;
	struct view *v;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t key[BARRIER_KEY_BYTES];

	if (!f || sodium_init() < 0)
		return -1;
	if (storage_open("memory:", &f->s) != 0 || barrier_new(f->s, &f->b) != 0)
		return -1;
	randombytes_buf(key, sizeof(key));
	if (barrier_initialize(f->b, key) != 0)
		return -1;
	sodium_memzero(key, sizeof(key));
	f->v = view_new(f->b, "logical/m/");
	if (!f->v)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	view_free(f->v);
	barrier_free(f->b);
	storage_close(f->s);
	free(f);
	return 0;
}

static void
put_raw(struct fixture *f, const char *key, const char *val)
{
	assert_int_equal(barrier_put(f->b, key, (const uint8_t *)val, strlen(val)), 0);
}

static bool
listed(char **keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], name) == 0)
			return true;
	return false;
}

static void
test_view_lists_escaped_names(void **state)
{
	struct fixture *f = *state;
	char **keys = NULL;
	size_t n = 0;

	put_raw(f, "logical/m/plain", "1");
	put_raw(f, "logical/m/caf\xe9", "2");
	put_raw(f, "logical/m/\xff\xfe", "3");
	put_raw(f, "logical/m/a\\b", "4");
	put_raw(f, "logical/m/dir\xc0\x80/x", "5");
	put_raw(f, "logical/m/caf\xc3\xa9", "6");
	assert_int_equal(view_list(f->v, "", &keys, &n), 0);
	assert_int_equal(n, 6);
	assert_true(listed(keys, n, "plain"));
	assert_true(listed(keys, n, "caf\\xe9"));
	assert_true(listed(keys, n, "\\xff\\xfe"));
	assert_true(listed(keys, n, "a\\x5cb"));
	assert_true(listed(keys, n, "dir\\xc0\\x80/"));
	assert_true(listed(keys, n, "caf\xc3\xa9")); /* valid UTF-8 stays as it is */
	storage_keys_free(keys, n);
	/* a folder spelled with escapes lists its content */
	assert_int_equal(view_list(f->v, "dir\\xc0\\x80/", &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "x");
	storage_keys_free(keys, n);
}

static void
test_view_reads_rewrites_and_deletes_through_escapes(void **state)
{
	struct fixture *f = *state;
	uint8_t *val = NULL;
	size_t len = 0;

	put_raw(f, "logical/m/caf\xe9", "old");
	assert_int_equal(view_get(f->v, "caf\\xe9", &val, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "old", 3);
	free(val);
	assert_int_equal(view_put(f->v, "caf\\xe9", (const uint8_t *)"new", 3), 0);
	assert_int_equal(barrier_get(f->b, "logical/m/caf\xe9", &val, &len), 0);
	assert_memory_equal(val, "new", 3);
	free(val);
	assert_int_equal(view_delete(f->v, "caf\\xe9"), 0);
	assert_int_equal(barrier_get(f->b, "logical/m/caf\xe9", &val, &len), CF_ENOTFOUND);
}

static void
test_view_never_creates_an_escaped_name(void **state)
{
	struct fixture *f = *state;
	struct storage_op ops[2] = {
	        {STORAGE_PUT, "fine", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "new\\xff", (const uint8_t *)"2", 1},
	};
	uint8_t *val = NULL;
	size_t len = 0;
	char **keys = NULL;
	size_t n = 0;

	assert_int_equal(view_put(f->v, "new\\xff", (const uint8_t *)"x", 1), CF_EINVAL);
	assert_int_equal(view_txn(f->v, ops, 2), CF_EINVAL);
	assert_int_equal(view_get(f->v, "fine", &val, &len), CF_ENOTFOUND);
	assert_int_equal(view_list(f->v, "", &keys, &n), 0);
	assert_int_equal(n, 0);
	storage_keys_free(keys, n);
	/* once it exists (stored by an older version), a transaction may rewrite it */
	put_raw(f, "logical/m/new\xff", "old");
	assert_int_equal(view_txn(f->v, ops, 2), 0);
	assert_int_equal(view_get(f->v, "new\\xff", &val, &len), 0);
	assert_memory_equal(val, "2", 1);
	free(val);
}

/* ---- prefixing, list, txn, delete_prefix ---- */

static void
keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

/* What a view writes lands under its prefix in the barrier, and a view sees
 * nothing outside it. */
static void
test_view_prefixes_every_key(void **state)
{
	struct fixture *f = *state;
	struct view *other = view_new(f->b, "logical/n/");
	uint8_t *val = NULL;
	size_t len = 0;

	assert_non_null(other);
	assert_string_equal(view_prefix(f->v), "logical/m/");
	assert_int_equal(view_put(f->v, "a/b", (const uint8_t *)"v", 1), 0);
	assert_int_equal(barrier_get(f->b, "logical/m/a/b", &val, &len), 0);
	assert_memory_equal(val, "v", 1);
	free(val);
	assert_int_equal(view_get(other, "a/b", &val, &len), CF_ENOTFOUND);
	put_raw(f, "logical/n/x", "outside");
	assert_int_equal(view_get(f->v, "x", &val, &len), CF_ENOTFOUND);
	assert_int_equal(view_delete(f->v, "a/b"), 0);
	assert_int_equal(barrier_get(f->b, "logical/m/a/b", &val, &len), CF_ENOTFOUND);
	view_free(other);
}

/* view_list answers one level below a prefix: names and "folder/" entries. */
static void
test_view_lists_one_level(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *prefix;
		size_t n;
		const char *want[3];
	} v[] = {
	        {"", 3, {"a", "b/", "c/"}},
	        {"b/", 2, {"x", "y"}},
	        {"c/", 1, {"d/"}},
	        {"none/", 0, {NULL}},
	};
	static const char *const keys[] = {"a", "b/x", "b/y", "c/d/e"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(view_put(f->v, keys[i], (const uint8_t *)"1", 1), 0);
	put_raw(f, "logical/mm/not-mine", "1"); /* a sibling prefix is not listed */
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char **got = NULL;
		size_t n = 0;

		print_message("case: \"%s\"\n", v[i].prefix);
		assert_int_equal(view_list(f->v, v[i].prefix, &got, &n), 0);
		assert_int_equal(n, v[i].n);
		for (size_t j = 0; j < v[i].n; j++)
			assert_true(listed(got, n, v[i].want[j]));
		keys_free(got, n);
	}
}

/* A transaction applies every operation, each key relative to the view. */
static void
test_view_txn_is_relative(void **state)
{
	struct fixture *f = *state;
	struct storage_op ops[] = {
	        {.kind = STORAGE_PUT, .key = "one", .value = (const uint8_t *)"1", .len = 1},
	        {.kind = STORAGE_PUT, .key = "two", .value = (const uint8_t *)"2", .len = 1},
	        {.kind = STORAGE_DELETE, .key = "gone"},
	};
	uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(view_put(f->v, "gone", (const uint8_t *)"x", 1), 0);
	assert_int_equal(view_txn(f->v, ops, 3), 0);
	assert_int_equal(barrier_get(f->b, "logical/m/one", &val, &len), 0);
	free(val);
	assert_int_equal(view_get(f->v, "two", &val, &len), 0);
	assert_memory_equal(val, "2", 1);
	free(val);
	assert_int_equal(view_get(f->v, "gone", &val, &len), CF_ENOTFOUND);
}

/* delete_prefix removes exactly what lies under its prefix in this view. */
static void
test_view_delete_prefix(void **state)
{
	struct fixture *f = *state;
	char **keys = NULL;
	size_t n = 0;
	uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(view_put(f->v, "dir/a", (const uint8_t *)"1", 1), 0);
	assert_int_equal(view_put(f->v, "dir/sub/b", (const uint8_t *)"1", 1), 0);
	assert_int_equal(view_put(f->v, "dirt", (const uint8_t *)"1", 1), 0);
	put_raw(f, "logical/n/dir/a", "other view");
	assert_int_equal(view_delete_prefix(f->v, "dir/"), 0);
	assert_int_equal(view_list(f->v, "", &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "dirt");
	keys_free(keys, n);
	assert_int_equal(barrier_get(f->b, "logical/n/dir/a", &val, &len), 0);
	free(val);
	/* "" empties the whole view */
	assert_int_equal(view_delete_prefix(f->v, ""), 0);
	assert_int_equal(view_list(f->v, "", &keys, &n), 0);
	assert_int_equal(n, 0);
	keys_free(keys, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_view_lists_escaped_names, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_view_reads_rewrites_and_deletes_through_escapes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_view_never_creates_an_escaped_name, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_view_prefixes_every_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_view_lists_one_level, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_view_txn_is_relative, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_view_delete_prefix, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
