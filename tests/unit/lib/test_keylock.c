/* test_keylock.c - a lock per key: threads on one key exclude each other, a key
 * held does not hold up another, waiters are served, and the table is empty
 * again once every lock is given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/keylock.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define THREADS 8
#define ROUNDS  2000

struct shared {
	struct keylocks t;
	long counter; /* changed only under the lock of "k" */
	int other_done;
};

static void
assert_table_empty(struct keylocks *t)
{
	for (int i = 0; i < KEYLOCK_BUCKETS; i++)
		assert_null(t->bucket[i]);
}

static void *
bump(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct keylock *l = keylock_take(&sh->t, "k");
		long v = sh->counter;

		if (l == NULL)
			return (void *)1;
		sched_yield(); /* invite another thread in, if the lock let it */
		sh->counter = v + 1;
		keylock_give(&sh->t, l);
	}
	return NULL;
}

static void
test_keylock_one_key_excludes(void **state)
{
	struct shared sh = {0};
	pthread_t th[THREADS];
	void *rv;

	(void)state;
	keylocks_init(&sh.t);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, bump, &sh), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	assert_int_equal(sh.counter, (long)THREADS * ROUNDS);
	assert_table_empty(&sh.t);
	keylocks_destroy(&sh.t);
}

static void *
take_other(void *arg)
{
	struct shared *sh = arg;
	struct keylock *l = keylock_take(&sh->t, "other");

	if (l == NULL)
		return (void *)1;
	sh->other_done = 1;
	keylock_give(&sh->t, l);
	return NULL;
}

static void
test_keylock_other_keys_do_not_wait(void **state)
{
	struct shared sh = {0};
	struct keylock *held;
	pthread_t th;
	void *rv;

	(void)state;
	keylocks_init(&sh.t);
	held = keylock_take(&sh.t, "k");
	assert_non_null(held);
	/* joins only if "other" did not wait for "k", which is held throughout */
	assert_int_equal(pthread_create(&th, NULL, take_other, &sh), 0);
	assert_int_equal(pthread_join(th, &rv), 0);
	assert_null(rv);
	assert_int_equal(sh.other_done, 1);
	keylock_give(&sh.t, held);
	assert_table_empty(&sh.t);
	keylocks_destroy(&sh.t);
}

static void
test_keylock_many_keys(void **state)
{
	struct keylocks t;
	struct keylock *l[1000];
	char key[32];

	(void)state;
	keylocks_init(&t);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "role/%d", i);
		l[i] = keylock_take(&t, key);
		assert_non_null(l[i]);
	}
	for (int i = 0; i < 1000; i += 2)
		keylock_give(&t, l[i]);
	for (int i = 1; i < 1000; i += 2)
		keylock_give(&t, l[i]);
	assert_table_empty(&t);
	/* a key given back can be taken again */
	l[0] = keylock_take(&t, "role/0");
	assert_non_null(l[0]);
	keylock_give(&t, l[0]);
	assert_table_empty(&t);
	keylocks_destroy(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keylock_one_key_excludes),
	        cmocka_unit_test(test_keylock_other_keys_do_not_wait),
	        cmocka_unit_test(test_keylock_many_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
