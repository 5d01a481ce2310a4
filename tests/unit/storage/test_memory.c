/* test_memory.c - the in-memory backend's ordered structure (memory.c), beyond
 * the behaviour table test_storage.c runs against every backend: many keys in
 * the worst insertion orders, nested folders under many keys, overwrites and
 * deletes inside one txn, and a random mix of writes checked against a simple
 * sorted model after every round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "storage/storage.h"
#include "lib/err.h"
#include "storage_assert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linked with -Wl,--wrap=malloc: malloc() calls from coffer's code come here. */
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static int fail_countdown; /* > 0: the countdown-th call from now fails */
static int fail_hit;

void *
__wrap_malloc(size_t n)
{
	if (fail_countdown > 0 && --fail_countdown == 0) {
		fail_hit = 1;
		return NULL;
	}
	return __real_malloc(n);
}

static int
setup(void **state)
{
	struct storage *s = NULL;

	assert_int_equal(storage_open("memory:", &s), 0);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	storage_close(*state);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of list(prefix) as the contract defines them, from the sorted
 * present keys: each key under prefix contributes its rest up to and including
 * the next '/', once. Returns how many, in want[] (pointers into buf). */
static size_t
model_list(char **present, size_t n, const char *prefix, char **want, char *buf, size_t bufsz)
{
	size_t plen = strlen(prefix), i, k = 0, off = 0;

	for (i = 0; i < n; i++) {
		const char *rest, *slash;
		size_t len;
		if (strncmp(present[i], prefix, plen) != 0)
			continue;
		rest = present[i] + plen;
		slash = strchr(rest, '/');
		len = slash ? (size_t)(slash - rest) + 1 : strlen(rest);
		assert_true(off + len + 1 <= bufsz);
		memcpy(buf + off, rest, len);
		buf[off + len] = '\0';
		if (k > 0 && strcmp(want[k - 1], buf + off) == 0)
			continue;
		want[k++] = buf + off;
		off += len + 1;
	}
	return k;
}

static void
assert_list_matches(struct storage *s, char **present, size_t n, const char *prefix)
{
	char **keys = NULL, **want;
	size_t got = 0, k, i;
	char *buf;

	want = calloc(n + 1, sizeof(*want));
	buf = malloc(n * 32 + 1);
	assert_non_null(want);
	assert_non_null(buf);
	k = model_list(present, n, prefix, want, buf, n * 32 + 1);
	assert_int_equal(storage_list(s, prefix, &keys, &got), 0);
	assert_int_equal(got, k);
	for (i = 0; i < k; i++)
		assert_string_equal(keys[i], want[i]);
	storage_keys_free(keys, got);
	free(want);
	free(buf);
}

static void
test_memory_many_keys_descending(void **state)
{
	struct storage *s = *state;
	char key[64], val[64];
	char **keys = NULL;
	size_t n = 0, i;
	const size_t total = 100000;

	/* Descending order: every insert lands before all the others (the worst case
	 * of a sorted array). */
	for (i = total; i-- > 0;) {
		(void)snprintf(key, sizeof(key), "k/%07zu", i);
		(void)snprintf(val, sizeof(val), "v%zu", i);
		put_str(s, key, val);
	}
	assert_int_equal(storage_list(s, "k/", &keys, &n), 0);
	assert_int_equal(n, total);
	for (i = 0; i < n; i++) {
		(void)snprintf(key, sizeof(key), "%07zu", i);
		assert_string_equal(keys[i], key);
	}
	storage_keys_free(keys, n);
	assert_value(s, "k/0000000", "v0");
	assert_value(s, "k/0099999", "v99999");
	assert_value(s, "k/0050000", "v50000");

	/* delete every other key, from the front: the rest stays ordered and found */
	for (i = 0; i < total; i += 2) {
		(void)snprintf(key, sizeof(key), "k/%07zu", i);
		assert_int_equal(storage_delete(s, key), 0);
	}
	assert_int_equal(storage_list(s, "k/", &keys, &n), 0);
	assert_int_equal(n, total / 2);
	for (i = 0; i < n; i++) {
		(void)snprintf(key, sizeof(key), "%07zu", 2 * i + 1);
		assert_string_equal(keys[i], key);
	}
	storage_keys_free(keys, n);
	assert_missing(s, "k/0050000");
	assert_value(s, "k/0050001", "v50001");
}

static void
test_memory_nested_folders_under_many_keys(void **state)
{
	struct storage *s = *state;
	char key[96];
	char **keys = NULL;
	size_t n = 0, i, j, k;

	/* 100 apps x 10 envs x 20 secrets, plus leaves beside the folders */
	for (i = 0; i < 100; i++)
		for (j = 0; j < 10; j++)
			for (k = 0; k < 20; k++) {
				(void)snprintf(key, sizeof(key), "logical/u/app%03zu/env%zu/s%02zu",
				               i, j, k);
				put_str(s, key, "x");
			}
	put_str(s, "logical/u/app050", "leaf beside its folder");
	put_str(s, "logical/u/app050.bak", "sorts before the folder");
	put_str(s, "logical/u/app0500", "sorts after the folder");

	assert_int_equal(storage_list(s, "logical/u/", &keys, &n), 0);
	assert_int_equal(n, 103);
	for (i = 0, k = 0; i < 100; i++) {
		if (i == 50) {
			assert_string_equal(keys[k++], "app050");
			assert_string_equal(keys[k++], "app050.bak");
			assert_string_equal(keys[k++], "app050/");
			assert_string_equal(keys[k++], "app0500");
			continue;
		}
		(void)snprintf(key, sizeof(key), "app%03zu/", i);
		assert_string_equal(keys[k++], key);
	}
	assert_int_equal(k, n);
	storage_keys_free(keys, n);

	assert_int_equal(storage_list(s, "logical/u/app007/", &keys, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(keys[0], "env0/");
	assert_string_equal(keys[9], "env9/");
	storage_keys_free(keys, n);

	assert_int_equal(storage_list(s, "logical/u/app007/env3/", &keys, &n), 0);
	assert_int_equal(n, 20);
	assert_string_equal(keys[0], "s00");
	assert_string_equal(keys[19], "s19");
	storage_keys_free(keys, n);

	/* a prefix that is not a folder boundary */
	assert_int_equal(storage_list(s, "logical/u/app09", &keys, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(keys[0], "0/");
	storage_keys_free(keys, n);

	assert_int_equal(storage_delete_prefix(s, "logical/u/app050/"), 0);
	assert_int_equal(storage_list(s, "logical/u/app050/", &keys, &n), 0);
	assert_int_equal(n, 0);
	storage_keys_free(keys, n);
	assert_value(s, "logical/u/app050", "leaf beside its folder");
	assert_value(s, "logical/u/app051/env0/s00", "x");
}

static void
test_memory_txn_same_key_many_times(void **state)
{
	struct storage *s = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "t/k", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "t/k", (const uint8_t *)"22", 2},
	        {STORAGE_DELETE, "t/k", NULL, 0},
	        {STORAGE_DELETE, "t/k", NULL, 0},
	        {STORAGE_PUT, "t/k", (const uint8_t *)"333", 3},
	        {STORAGE_PUT, "t/j", (const uint8_t *)"", 0},
	        {STORAGE_PUT, "t/k", (const uint8_t *)"4444", 4},
	        {STORAGE_DELETE, "t/j", NULL, 0},
	        {STORAGE_PUT, "t/j", (const uint8_t *)"5", 1},
	};
	char **keys = NULL;
	size_t n = 0;

	put_str(s, "t/k", "before");
	assert_int_equal(storage_txn(s, ops, sizeof(ops) / sizeof(ops[0])), 0);
	assert_value(s, "t/k", "4444");
	assert_value(s, "t/j", "5");
	assert_int_equal(storage_list(s, "t/", &keys, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "j");
	assert_string_equal(keys[1], "k");
	storage_keys_free(keys, n);

	/* an empty value is a value */
	put_str(s, "t/empty", "");
	assert_value(s, "t/empty", "");
	put_str(s, "t/empty", "now set");
	assert_value(s, "t/empty", "now set");
}

/* Every key and value under prefix, in order, as one string. */
static char *
dump(struct storage *s, const char *prefix)
{
	char **keys = NULL, sub[256], *out, *p;
	size_t n = 0, i, len = 0;
	uint8_t *val;
	size_t vlen;

	assert_int_equal(storage_list(s, prefix, &keys, &n), 0);
	out = calloc(1, 1);
	assert_non_null(out);
	for (i = 0; i < n; i++) {
		(void)snprintf(sub, sizeof(sub), "%s%s", prefix, keys[i]);
		if (sub[strlen(sub) - 1] == '/') {
			p = dump(s, sub);
		} else {
			assert_int_equal(storage_get(s, sub, &val, &vlen), 0);
			p = malloc(strlen(sub) + vlen + 3);
			assert_non_null(p);
			(void)snprintf(p, strlen(sub) + vlen + 3, "%s=%s;", sub, (char *)val);
			free(val);
		}
		out = realloc(out, len + strlen(p) + 1);
		assert_non_null(out);
		memcpy(out + len, p, strlen(p) + 1);
		len += strlen(p);
		free(p);
	}
	storage_keys_free(keys, n);
	return out;
}

/* A txn whose N-th allocation fails, for every N until one succeeds: it either
 * applies completely or leaves every key and value as they were (the failures
 * under the write lock are undone). */
static void
test_memory_txn_fails_whole(void **state)
{
	static const char *const seed[] = {"a/1", "a/2", "a/3", "b/x", "b/y/z", "c", NULL};
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "a/1", (const uint8_t *)"new1", 4},     /* overwrite */
	        {STORAGE_DELETE, "a/2", NULL, 0},                     /* delete */
	        {STORAGE_PUT, "a/25", (const uint8_t *)"ins", 3},     /* new twig */
	        {STORAGE_PUT, "b/y/w", (const uint8_t *)"deeper", 6}, /* new branch */
	        {STORAGE_DELETE, "b/x", NULL, 0},
	        {STORAGE_PUT, "a/2", (const uint8_t *)"again", 5}, /* revives a delete */
	        {STORAGE_PUT, "d", (const uint8_t *)"last", 4},
	};
	struct storage *s = *state;
	char *before, *after, *want = NULL;
	int nth, r, failures = 0;
	size_t i;

	for (nth = 1; nth < 200; nth++) {
		storage_close(s);
		assert_int_equal(storage_open("memory:", &s), 0);
		*state = s;
		for (i = 0; seed[i] != NULL; i++)
			put_str(s, seed[i], seed[i]);
		before = dump(s, "");
		fail_hit = 0;
		fail_countdown = nth;
		r = storage_txn(s, ops, sizeof(ops) / sizeof(ops[0]));
		fail_countdown = 0;
		after = dump(s, "");
		if (r == 0) {
			assert_false(fail_hit);
			assert_string_equal(after,
			                    "a/1=new1;a/2=again;a/25=ins;a/3=a/3;b/y/w=deeper;"
			                    "b/y/z=b/y/z;c=c;d=last;");
			want = after;
			free(before);
			break;
		}
		assert_int_equal(r, CF_ENOMEM);
		assert_true(fail_hit);
		assert_string_equal(after, before);
		failures++;
		free(before);
		free(after);
	}
	assert_non_null(want);
	/* more failures than puts (one allocation each before the lock): the
	 * allocations under the lock failed too, and were undone */
	assert_true(failures > 5);
	free(want);
}

/* A random mix of puts, overwrites and deletes over a small alphabet that
 * includes '/', '.', '0' and 0xff (the bytes around a folder's boundary), checked
 * against a model after every round: every get, and list at several prefixes. */
#define MODEL_KEYS 3000
#define MODEL_OPS  40000

static void
test_memory_random_against_model(void **state)
{
	static const char alphabet[] = "ab/.0\xff";
	struct storage *s = *state;
	char *names[MODEL_KEYS], *present[MODEL_KEYS];
	int val[MODEL_KEYS];
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t i, op, npresent;
	char key[32], v[32];

	for (i = 0; i < MODEL_KEYS; i++) {
		size_t len, j;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = 1 + x % 9;
		for (j = 0; j < len; j++)
			key[j] = alphabet[(x >> (8 + 3 * j)) % (sizeof(alphabet) - 1)];
		key[len] = '\0';
		/* make names unique by a numbered tail */
		(void)snprintf(key + len, sizeof(key) - len, "%zu", i);
		names[i] = strdup(key);
		assert_non_null(names[i]);
		val[i] = -1;
	}
	for (op = 0; op < MODEL_OPS; op++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = x % MODEL_KEYS;
		if ((x >> 32) % 4 == 0) {
			assert_int_equal(storage_delete(s, names[i]), 0);
			val[i] = -1;
		} else {
			val[i] = (int)(op & 0xffff);
			(void)snprintf(v, sizeof(v), "%d", val[i]);
			put_str(s, names[i], v);
		}
		if (op % 10000 != 9999)
			continue;
		npresent = 0;
		for (i = 0; i < MODEL_KEYS; i++) {
			if (val[i] < 0) {
				assert_missing(s, names[i]);
				continue;
			}
			(void)snprintf(v, sizeof(v), "%d", val[i]);
			assert_value(s, names[i], v);
			present[npresent++] = names[i];
		}
		qsort(present, npresent, sizeof(present[0]), cmp_str);
		assert_list_matches(s, present, npresent, "");
		assert_list_matches(s, present, npresent, "a");
		assert_list_matches(s, present, npresent, "a/");
		assert_list_matches(s, present, npresent, "b/a/");
		assert_list_matches(s, present, npresent, "\xff");
		assert_list_matches(s, present, npresent, "./");
	}
	for (i = 0; i < MODEL_KEYS; i++)
		free(names[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_memory_many_keys_descending, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_memory_nested_folders_under_many_keys, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_memory_txn_same_key_many_times, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_memory_random_against_model, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_memory_txn_fails_whole, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
