/* test_userpass.c - the pure parts of the userpass method: user names,
 * argon2id hashing and verification (userpass.h), and the login limiter as
 * userpass uses it (auth.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/userpass/userpass.h"
#include "lib/err.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *in;
	int r;
	const char *out;
} name_vectors[] = {
	{ "alice", 0, "alice" },
	{ "Alice", 0, "alice" },
	{ "ALICE.Smith-2", 0, "alice.smith-2" },
	{ "bob@example.com", 0, "bob@example.com" },
	{ "with space", 0, "with space" },
	{ "", CF_EINVAL, NULL },
	{ "a/b", CF_EINVAL, NULL },
	{ "tab\there", CF_EINVAL, NULL },
	{ "nl\n", CF_EINVAL, NULL },
	{ "del\x7f", CF_EINVAL, NULL },
};
/* clang-format on */

static void
test_userpass_name_normalize(void **state)
{
	char out[USERPASS_NAME_MAX + 1], longname[USERPASS_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(name_vectors) / sizeof(name_vectors[0]); i++) {
		int r = userpass_name_normalize(name_vectors[i].in, out);
		assert_int_equal(r, name_vectors[i].r);
		if (r == 0)
			assert_string_equal(out, name_vectors[i].out);
	}
	memset(longname, 'a', sizeof(longname));
	longname[USERPASS_NAME_MAX] = '\0';
	assert_int_equal(userpass_name_normalize(longname, out), 0);
	longname[USERPASS_NAME_MAX] = 'a';
	longname[USERPASS_NAME_MAX + 1] = '\0';
	assert_int_equal(userpass_name_normalize(longname, out), CF_EINVAL);
	assert_int_equal(userpass_name_normalize(NULL, out), CF_EINVAL);
}

static void
test_userpass_hash_is_argon2id(void **state)
{
	char h1[USERPASS_HASH_BYTES], h2[USERPASS_HASH_BYTES];
	char want[64];

	(void)state;
	assert_int_equal(userpass_hash("s3cret", 6, h1), 0);
	assert_int_equal(userpass_hash("s3cret", 6, h2), 0);
	assert_true(strncmp(h1, "$argon2id$", 10) == 0);
	/* at least the interactive limits: 64 MiB, 2 passes */
	snprintf(want, sizeof(want), "$m=%zu,t=%llu,", (size_t)(USERPASS_MEMLIMIT / 1024),
	         (unsigned long long)USERPASS_OPSLIMIT);
	assert_non_null(strstr(h1, want));
	assert_true(USERPASS_MEMLIMIT >= crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_true(USERPASS_OPSLIMIT >= crypto_pwhash_OPSLIMIT_INTERACTIVE);
	/* salted: the same password hashes differently */
	assert_string_not_equal(h1, h2);
	/* the password is not in the hash */
	assert_null(strstr(h1, "s3cret"));
}

static void
test_userpass_hash_refuses_bad_lengths(void **state)
{
	static char big[USERPASS_PASSWORD_MAX + 2];
	char h[USERPASS_HASH_BYTES];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(userpass_hash("", 0, h), CF_EINVAL);
	assert_int_equal(userpass_hash(big, USERPASS_PASSWORD_MAX + 1, h), CF_EINVAL);
	assert_int_equal(userpass_hash(big, USERPASS_PASSWORD_MAX, h), 0);
}

static void
test_userpass_verify(void **state)
{
	static char big[USERPASS_PASSWORD_MAX + 2];
	char h[USERPASS_HASH_BYTES], dummy[USERPASS_HASH_BYTES];

	(void)state;
	assert_int_equal(userpass_hash("correct horse", 13, h), 0);
	assert_int_equal(userpass_hash("dummy", 5, dummy), 0);
	assert_true(userpass_verify(h, dummy, "correct horse", 13));
	assert_true(userpass_verify(h, NULL, "correct horse", 13));
	assert_false(userpass_verify(h, dummy, "correct horsE", 13));
	assert_false(userpass_verify(h, dummy, "correct hors", 12));
	assert_false(userpass_verify(h, dummy, "", 0));
	/* a malformed or missing hash never matches, even the dummy's password */
	assert_false(userpass_verify("$2a$10$notargon", dummy, "dummy", 5));
	assert_false(userpass_verify(NULL, dummy, "dummy", 5));
	assert_false(userpass_verify(NULL, NULL, "dummy", 5));
	/* too long: refused after the same work */
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(userpass_hash(big, USERPASS_PASSWORD_MAX, h), 0);
	assert_true(userpass_verify(h, dummy, big, USERPASS_PASSWORD_MAX));
	assert_false(userpass_verify(h, dummy, big, USERPASS_PASSWORD_MAX + 1));
}

struct verify_job {
	const char *hash;
	int ok;
};

static void *
verify_thread(void *arg)
{
	struct verify_job *j = arg;

	j->ok = userpass_verify(j->hash, NULL, "parallel", 8) ? 1 : 0;
	return NULL;
}

/* More threads than USERPASS_MAX_HASHING: the gate queues them, all finish. */
static void
test_userpass_verify_concurrent(void **state)
{
	enum { N = USERPASS_MAX_HASHING * 2 + 1 };
	char h[USERPASS_HASH_BYTES];
	pthread_t t[N];
	struct verify_job jobs[N];

	(void)state;
	assert_int_equal(userpass_hash("parallel", 8, h), 0);
	for (int i = 0; i < N; i++) {
		jobs[i].hash = h;
		jobs[i].ok = -1;
		assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].ok, 1);
	}
}

/* The login limits as userpass drives them: the 6th attempt after 5 failures
 * is refused (also for a name no user has), a success forgets the failures. */
static void
test_userpass_lockout_sequence(void **state)
{
	struct auth_limiter *l = NULL;
	struct auth_limits lim;
	int64_t retry = 0;

	(void)state;
	auth_limits_of(NULL, &lim);
	assert_int_equal(lim.threshold, 5);
	assert_int_equal(auth_limiter_new(&l), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(auth_limiter_check(l, &lim, "ghost", "10.0.0.1", &retry), 0);
		auth_limiter_failed(l, &lim, "ghost", "10.0.0.1");
	}
	assert_int_equal(auth_limiter_check(l, &lim, "ghost", "10.0.0.2", &retry), CF_ERATELIMIT);
	assert_true(retry > 0 && retry <= lim.duration);
	/* another user from the same address is still fine */
	assert_int_equal(auth_limiter_check(l, &lim, "alice", "10.0.0.1", &retry), 0);
	/* a success resets the user's count */
	for (int i = 0; i < 4; i++)
		auth_limiter_failed(l, &lim, "alice", "10.0.0.3");
	auth_limiter_succeeded(l, "alice");
	auth_limiter_failed(l, &lim, "alice", "10.0.0.3");
	assert_int_equal(auth_limiter_check(l, &lim, "alice", "10.0.0.4", &retry), 0);
	auth_limiter_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_userpass_name_normalize),
	        cmocka_unit_test(test_userpass_hash_is_argon2id),
	        cmocka_unit_test(test_userpass_hash_refuses_bad_lengths),
	        cmocka_unit_test(test_userpass_verify),
	        cmocka_unit_test(test_userpass_verify_concurrent),
	        cmocka_unit_test(test_userpass_lockout_sequence),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
