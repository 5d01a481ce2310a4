/* test_storage.c - one behaviour table run against every storage backend.
 *
 * Each test runs once per backend (memory, sqlite in a fresh mkdtemp directory,
 * postgres in a fresh schema of the server named by COFFER_TEST_PG_URL, which
 * with_postgres.py starts); a few backend-only tests cover group commit, fault
 * isolation, reopening, and for postgres reconnects and timeouts. Without
 * COFFER_TEST_PG_URL the postgres tests fail: they are never skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "storage/storage.h"
#include "lib/err.h"
#include "storage_assert.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
	const char *kind; /* "memory", "sqlite" or "postgres" */
	char dir[256];
	char spec[320];
	struct storage *s;
};

static struct fixture fx_memory = {.kind = "memory"};
static struct fixture fx_sqlite = {.kind = "sqlite"};
static struct fixture fx_postgres = {.kind = "postgres"};
static unsigned pg_schemas; /* schemas made so far: each test gets a new one */

/* The PostgreSQL URL the wrapper set; fails the test when there is none. */
static const char *
pg_url(void)
{
	const char *url = getenv("COFFER_TEST_PG_URL");

	if (url == NULL || *url == '\0')
		fail_msg("COFFER_TEST_PG_URL is not set: run this test through "
		         "tests/unit/storage/with_postgres.py (meson test does)");
	return url;
}

/* Runs admin SQL over the wrapper's unix socket (as the superuser). */
static void
pg_admin(const char *sql)
{
	const char *ci = getenv("COFFER_TEST_PG_SOCKET");
	PGconn *c;
	PGresult *res;

	if (ci == NULL)
		fail_msg("COFFER_TEST_PG_SOCKET is not set");
	c = PQconnectdb(ci);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* spec for the postgres backend: the wrapper's URL plus extra parameters. */
static void
pg_spec(char *spec, size_t size, const char *extra)
{
	const char *url = pg_url();
	int n = snprintf(spec, size, "postgres:%s%s%s", url, strchr(url, '?') ? "&" : "?", extra);

	assert_true(n > 0 && (size_t)n < size);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = *state;
	const char *tmp = getenv("TMPDIR");
	int n;

	if (strcmp(f->kind, "memory") == 0) {
		n = snprintf(f->spec, sizeof(f->spec), "memory:");
	} else if (strcmp(f->kind, "postgres") == 0) {
		char extra[64];

		n = snprintf(extra, sizeof(extra), "schema=t%d_%u&timeout=5", (int)getpid(),
		             ++pg_schemas);
		assert_true(n > 0 && (size_t)n < sizeof(extra));
		pg_spec(f->spec, sizeof(f->spec), extra);
	} else {
		n = snprintf(f->dir, sizeof(f->dir), "%s/coffer-storage-XXXXXX",
		             tmp ? tmp : "/tmp");
		assert_true(n > 0 && (size_t)n < sizeof(f->dir));
		assert_non_null(mkdtemp(f->dir));
		n = snprintf(f->spec, sizeof(f->spec), "sqlite:%s/coffer.db", f->dir);
	}
	assert_true(n > 0 && (size_t)n < sizeof(f->spec));
	assert_int_equal(storage_open(f->spec, &f->s), 0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	storage_close(f->s);
	f->s = NULL;
	if (strcmp(f->kind, "postgres") == 0) {
		char sql[96];

		(void)snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS t%d_%u CASCADE",
		               (int)getpid(), pg_schemas);
		pg_admin(sql);
	}
	if (f->dir[0] != '\0') {
		(void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		f->dir[0] = '\0';
	}
	return 0;
}

/* want is a NULL-terminated list of the expected entries, in order. */
static void
assert_list(struct storage *s, const char *prefix, const char *const *want)
{
	char **keys = NULL;
	size_t n = 0, i;

	assert_int_equal(storage_list(s, prefix, &keys, &n), 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < n);
		assert_string_equal(keys[i], want[i]);
	}
	assert_int_equal(n, i);
	storage_keys_free(keys, n);
}

static size_t
count_keys(struct storage *s, const char *prefix)
{
	char **keys = NULL;
	size_t n = 0, i, total = 0, plen = strlen(prefix);
	char sub[512];

	assert_int_equal(storage_list(s, prefix, &keys, &n), 0);
	for (i = 0; i < n; i++) {
		size_t klen = strlen(keys[i]);
		if (klen > 0 && keys[i][klen - 1] == '/') {
			assert_true(plen + klen < sizeof(sub));
			memcpy(sub, prefix, plen);
			memcpy(sub + plen, keys[i], klen + 1);
			total += count_keys(s, sub);
		} else {
			total++;
		}
	}
	storage_keys_free(keys, n);
	return total;
}

static void
test_storage_get_missing(void **state)
{
	struct fixture *f = *state;

	assert_missing(f->s, "nope");
	assert_missing(f->s, "core/keyring");
}

static void
test_storage_put_get_overwrite(void **state)
{
	struct fixture *f = *state;

	put_str(f->s, "core/keyring", "one");
	assert_value(f->s, "core/keyring", "one");
	put_str(f->s, "core/keyring", "a longer second value");
	assert_value(f->s, "core/keyring", "a longer second value");
	put_str(f->s, "core/keyring", "3");
	assert_value(f->s, "core/keyring", "3");
	assert_missing(f->s, "core/keyrin");
	assert_missing(f->s, "core/keyring/");
}

static void
test_storage_delete(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(storage_delete(f->s, "missing"), 0);
	put_str(f->s, "a", "1");
	put_str(f->s, "b", "2");
	assert_int_equal(storage_delete(f->s, "a"), 0);
	assert_missing(f->s, "a");
	assert_value(f->s, "b", "2");
	assert_int_equal(storage_delete(f->s, "a"), 0);
}

static void
test_storage_list(void **state)
{
	struct fixture *f = *state;
	static const char *const keys[] = {
	        "b/c",
	        "a",
	        "b/d/e",
	        "b/f",
	        "b/d/g/h",
	        "b0",
	        "ca",
	        "d.x",
	        "x/a/1",
	        "x/a/2",
	        "x/a.b",
	        "x/a0",
	        "x/b",
	        "p\xff"
	        "1",
	        "p\xff\xff"
	        "2",
	        "q",
	        "\xff\xff",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_str(f->s, keys[i], "v");

	assert_list(f->s, "",
	            (const char *[]){"a", "b/", "b0", "ca", "d.x",
	                             "p\xff"
	                             "1",
	                             "p\xff\xff"
	                             "2",
	                             "q", "x/", "\xff\xff", NULL});
	assert_list(f->s, "b/", (const char *[]){"c", "d/", "f", NULL});
	assert_list(f->s, "b/d/", (const char *[]){"e", "g/", NULL});
	assert_list(f->s, "b/d/g/", (const char *[]){"h", NULL});
	/* '.' < '/' < '0': the folder sits between its neighbours */
	assert_list(f->s, "x/", (const char *[]){"a.b", "a/", "a0", "b", NULL});
	/* a prefix that is not a folder */
	assert_list(f->s, "b", (const char *[]){"/", "0", NULL});
	/* prefixes ending in 0xff need a careful upper bound */
	assert_list(f->s, "p\xff",
	            (const char *[]){"1",
	                             "\xff"
	                             "2",
	                             NULL});
	assert_list(f->s, "\xff", (const char *[]){"\xff", NULL});
	assert_list(f->s, "\xff\xff", (const char *[]){"", NULL});
	assert_list(f->s, "zzz/", (const char *[]){NULL});
	assert_list(f->s, "a/", (const char *[]){NULL});
}

static void
test_storage_list_empty(void **state)
{
	struct fixture *f = *state;
	char **keys = NULL;
	size_t n = 99;

	assert_int_equal(storage_list(f->s, "", &keys, &n), 0);
	assert_int_equal(n, 0);
	storage_keys_free(keys, n);
	assert_int_equal(storage_list(f->s, "sys/policy/", &keys, &n), 0);
	assert_int_equal(n, 0);
	storage_keys_free(keys, n);
}

static void
test_storage_list_many_folders(void **state)
{
	struct fixture *f = *state;
	char key[64];
	size_t i, j;

	/* 50 folders of 20 keys each: list returns each folder once */
	for (i = 0; i < 50; i++) {
		for (j = 0; j < 20; j++) {
			assert_true(snprintf(key, sizeof(key), "m/%03zu/%03zu", i, j) > 0);
			put_str(f->s, key, "v");
		}
	}
	put_str(f->s, "m/zz", "leaf");
	char **keys = NULL;
	size_t n = 0;
	assert_int_equal(storage_list(f->s, "m/", &keys, &n), 0);
	assert_int_equal(n, 51);
	for (i = 0; i < 50; i++) {
		assert_true(snprintf(key, sizeof(key), "%03zu/", i) > 0);
		assert_string_equal(keys[i], key);
	}
	assert_string_equal(keys[50], "zz");
	storage_keys_free(keys, n);
	assert_int_equal(count_keys(f->s, "m/"), 1001);
}

static void
test_storage_txn(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "t/a", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "t/b", (const uint8_t *)"2", 1},
	        {STORAGE_DELETE, "t/a", NULL, 0},
	        {STORAGE_PUT, "t/c", (const uint8_t *)"3", 1},
	        {STORAGE_PUT, "t/b", (const uint8_t *)"22", 2},
	        {STORAGE_DELETE, "t/missing", NULL, 0},
	};

	assert_int_equal(storage_txn(f->s, ops, sizeof(ops) / sizeof(ops[0])), 0);
	assert_missing(f->s, "t/a");
	assert_value(f->s, "t/b", "22");
	assert_value(f->s, "t/c", "3");
	assert_int_equal(storage_txn(f->s, ops, 0), 0);
	assert_list(f->s, "t/", (const char *[]){"b", "c", NULL});
}

static void
test_storage_txn_invalid_applies_nothing(void **state)
{
	struct fixture *f = *state;
	const struct storage_op bad_key[] = {
	        {STORAGE_PUT, "u/a", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "", (const uint8_t *)"2", 1},
	};
	const struct storage_op null_key[] = {
	        {STORAGE_DELETE, "u/keep", NULL, 0},
	        {STORAGE_DELETE, NULL, NULL, 0},
	};
	const struct storage_op too_big[] = {
	        {STORAGE_PUT, "u/a", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "u/b", (const uint8_t *)"2", (size_t)STORAGE_MAX_VALUE + 1},
	};

	put_str(f->s, "u/keep", "k");
	assert_int_equal(storage_txn(f->s, bad_key, 2), CF_EINVAL);
	assert_int_equal(storage_txn(f->s, null_key, 2), CF_EINVAL);
	assert_int_equal(storage_txn(f->s, too_big, 2), CF_ETOOBIG);
	assert_missing(f->s, "u/a");
	assert_value(f->s, "u/keep", "k");
}

static void
test_storage_limits(void **state)
{
	struct fixture *f = *state;
	char *long_key;
	uint8_t *val;
	size_t len;

	assert_int_equal(storage_put(f->s, "", (const uint8_t *)"x", 1), CF_EINVAL);
	assert_int_equal(storage_put(f->s, NULL, (const uint8_t *)"x", 1), CF_EINVAL);
	assert_int_equal(storage_put(f->s, "k", NULL, 1), CF_EINVAL);
	assert_int_equal(
	        storage_put(f->s, "k", (const uint8_t *)"x", (size_t)STORAGE_MAX_VALUE + 1),
	        CF_ETOOBIG);
	assert_int_equal(storage_get(f->s, "", &val, &len), CF_EINVAL);
	assert_int_equal(storage_delete(f->s, NULL), CF_EINVAL);
	long_key = malloc(STORAGE_MAX_KEY + 2);
	assert_non_null(long_key);
	memset(long_key, 'k', STORAGE_MAX_KEY + 1);
	long_key[STORAGE_MAX_KEY + 1] = '\0';
	assert_int_equal(storage_put(f->s, long_key, (const uint8_t *)"x", 1), CF_EINVAL);
	long_key[STORAGE_MAX_KEY] = '\0';
	put_str(f->s, long_key, "max");
	assert_value(f->s, long_key, "max");
	free(long_key);
	assert_missing(f->s, "k");
}

static void
test_storage_binary_values(void **state)
{
	struct fixture *f = *state;
	uint8_t bin[1024], *val = NULL;
	size_t len = 99, i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7);
	bin[0] = 0;
	bin[512] = 0;
	assert_int_equal(storage_put(f->s, "bin", bin, sizeof(bin)), 0);
	assert_int_equal(storage_get(f->s, "bin", &val, &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(val, bin, sizeof(bin));
	free(val);

	/* an empty value exists and is not "not found" */
	assert_int_equal(storage_put(f->s, "empty", NULL, 0), 0);
	val = NULL;
	assert_int_equal(storage_get(f->s, "empty", &val, &len), 0);
	assert_int_equal(len, 0);
	assert_non_null(val);
	assert_int_equal(val[0], '\0');
	free(val);
}

static void
test_storage_delete_prefix(void **state)
{
	struct fixture *f = *state;
	char key[64];
	size_t i;

	/* more keys than one delete batch, nested several levels deep */
	for (i = 0; i < 700; i++) {
		assert_true(snprintf(key, sizeof(key), "logical/m1/%zu/%zu/k%zu", i % 7, i % 3, i) >
		            0);
		put_str(f->s, key, "v");
	}
	put_str(f->s, "logical/m1/top", "v");
	put_str(f->s, "logical/m10/keep", "v");
	put_str(f->s, "logical/m1", "keep too");
	put_str(f->s, "other", "v");
	assert_int_equal(count_keys(f->s, "logical/m1/"), 701);

	assert_int_equal(storage_delete_prefix(f->s, "logical/m1/"), 0);
	assert_int_equal(count_keys(f->s, "logical/m1/"), 0);
	assert_list(f->s, "logical/", (const char *[]){"m1", "m10/", NULL});
	assert_value(f->s, "logical/m10/keep", "v");
	assert_value(f->s, "other", "v");
	assert_int_equal(storage_delete_prefix(f->s, "nothing/here/"), 0);

	/* a prefix that is not a folder takes everything that starts with it */
	assert_int_equal(storage_delete_prefix(f->s, "logical/m1"), 0);
	assert_list(f->s, "", (const char *[]){"other", NULL});
}

/* Concurrency: writers each put their own keys, readers read and list meanwhile. */
#define WRITERS         16
#define PUTS_PER_WRITER 200

struct worker {
	struct storage *s;
	int id;
	int n;
	int failures;
};

static void *
writer_main(void *arg)
{
	struct worker *w = arg;
	char key[64], val[64];
	int i;

	for (i = 0; i < w->n; i++) {
		(void)snprintf(key, sizeof(key), "c/%02d/%04d", w->id, i);
		(void)snprintf(val, sizeof(val), "value %d %d", w->id, i);
		if (storage_put(w->s, key, (const uint8_t *)val, strlen(val)) != 0)
			w->failures++;
	}
	return NULL;
}

static void *
reader_main(void *arg)
{
	struct worker *w = arg;
	char key[64];
	uint8_t *val;
	size_t len, n;
	char **keys;
	int i, r;

	for (i = 0; i < w->n; i++) {
		(void)snprintf(key, sizeof(key), "c/%02d/%04d", i % WRITERS, i / WRITERS);
		r = storage_get(w->s, key, &val, &len);
		if (r == 0)
			free(val);
		else if (r != CF_ENOTFOUND)
			w->failures++;
		if (i % 16 == 0) {
			if (storage_list(w->s, "c/", &keys, &n) != 0)
				w->failures++;
			else
				storage_keys_free(keys, n);
		}
	}
	return NULL;
}

static void
run_workers(struct storage *s, int nwriters, int puts, int nreaders)
{
	pthread_t th[128];
	struct worker w[128];
	int i;

	assert_true(nwriters + nreaders <= 128);
	for (i = 0; i < nwriters + nreaders; i++) {
		w[i] = (struct worker){.s = s, .id = i, .n = i < nwriters ? puts : 2000};
		assert_int_equal(pthread_create(&th[i], NULL,
		                                i < nwriters ? writer_main : reader_main, &w[i]),
		                 0);
	}
	for (i = 0; i < nwriters + nreaders; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
}

static void
test_storage_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	struct storage_sqlite_stats st;
	struct storage_postgres_stats pst;
	char key[64], want[64];
	int i, j;

	run_workers(f->s, WRITERS, PUTS_PER_WRITER, 4);
	for (i = 0; i < WRITERS; i++) {
		for (j = 0; j < PUTS_PER_WRITER; j++) {
			(void)snprintf(key, sizeof(key), "c/%02d/%04d", i, j);
			(void)snprintf(want, sizeof(want), "value %d %d", i, j);
			assert_value(f->s, key, want);
		}
	}
	assert_int_equal(count_keys(f->s, "c/"), WRITERS * PUTS_PER_WRITER);
	if (strcmp(f->kind, "sqlite") == 0) {
		storage_sqlite_stats(f->s, &st);
		assert_int_equal(st.requests, WRITERS * PUTS_PER_WRITER);
		assert_int_equal(st.ops, WRITERS * PUTS_PER_WRITER);
		/* group commit: writers shared transactions */
		assert_true(st.commits < st.requests);
		print_message("sqlite: %d threads, %llu writes in %llu commits (%.1f per commit)\n",
		              WRITERS, (unsigned long long)st.requests,
		              (unsigned long long)st.commits,
		              (double)st.requests / (double)st.commits);
	}
	if (strcmp(f->kind, "postgres") == 0) {
		storage_postgres_stats(f->s, &pst);
		assert_int_equal(pst.requests, WRITERS * PUTS_PER_WRITER);
		assert_int_equal(pst.ops, WRITERS * PUTS_PER_WRITER);
		assert_true(pst.commits < pst.requests);
		print_message(
		        "postgres: %d threads, %llu writes in %llu commits (%.1f per commit)\n",
		        WRITERS, (unsigned long long)pst.requests, (unsigned long long)pst.commits,
		        (double)pst.requests / (double)pst.commits);
	}
}

/* sqlite only: every behaviour that depends on the file. */

static void
test_storage_sqlite_batching_64(void **state)
{
	struct fixture *f = *state;
	struct storage_sqlite_stats st;

	run_workers(f->s, 64, 50, 0);
	storage_sqlite_stats(f->s, &st);
	assert_int_equal(st.requests, 64 * 50);
	assert_true(st.commits < st.requests);
	print_message("sqlite: 64 threads, %llu writes in %llu commits (%.1f per commit)\n",
	              (unsigned long long)st.requests, (unsigned long long)st.commits,
	              (double)st.requests / (double)st.commits);
	assert_int_equal(count_keys(f->s, "c/"), 64 * 50);
}

static void
test_storage_sqlite_single_writer_commits(void **state)
{
	struct fixture *f = *state;
	struct storage_sqlite_stats st;
	int i;

	/* one writer: one transaction (one fsync) per write, and it is durable on return */
	for (i = 0; i < 20; i++)
		put_str(f->s, "solo", "v");
	storage_sqlite_stats(f->s, &st);
	assert_int_equal(st.commits, 20);
	assert_int_equal(st.requests, 20);
}

static void
test_storage_sqlite_fault_fails_txn_alone(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "f/first", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "f/poison", (const uint8_t *)"2", 1},
	};

	assert_int_equal(storage_sqlite_fail_key(f->s, "f/poison"), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), CF_EIO);
	assert_missing(f->s, "f/first");
	assert_missing(f->s, "f/poison");
	put_str(f->s, "f/other", "ok");
	assert_int_equal(storage_sqlite_fail_key(f->s, NULL), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), 0);
	assert_value(f->s, "f/first", "1");
	assert_value(f->s, "f/other", "ok");
}

struct poison_worker {
	struct storage *s;
	int id;
	int rounds;
	int failures;
};

static void *
poison_main(void *arg)
{
	struct poison_worker *w = arg;
	const struct storage_op bad[] = {
	        {STORAGE_PUT, "g/bad-first", (const uint8_t *)"x", 1},
	        {STORAGE_PUT, "g/poison", (const uint8_t *)"x", 1},
	};
	char key[64];
	int i;

	for (i = 0; i < w->rounds; i++) {
		if (w->id == 0) {
			if (storage_txn(w->s, bad, 2) != CF_EIO)
				w->failures++;
		} else {
			(void)snprintf(key, sizeof(key), "g/%02d/%04d", w->id, i);
			if (storage_put(w->s, key, (const uint8_t *)"ok", 2) != 0)
				w->failures++;
		}
	}
	return NULL;
}

static void
test_storage_sqlite_fault_isolated_in_batch(void **state)
{
	struct fixture *f = *state;
	struct poison_worker w[16];
	pthread_t th[16];
	struct storage_sqlite_stats st;
	int i, rounds = 0;

	/* One thread keeps sending a failing txn while 15 others write: when it
	 * lands in a batch with them, its savepoint is undone and theirs commit. */
	assert_int_equal(storage_sqlite_fail_key(f->s, "g/poison"), 0);
	do {
		for (i = 0; i < 16; i++) {
			w[i] = (struct poison_worker){.s = f->s, .id = i, .rounds = 50};
			assert_int_equal(pthread_create(&th[i], NULL, poison_main, &w[i]), 0);
		}
		for (i = 0; i < 16; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(w[i].failures, 0);
		}
		storage_sqlite_stats(f->s, &st);
		rounds++;
	} while (st.isolated == 0 && rounds < 20);
	assert_true(st.isolated > 0);
	assert_missing(f->s, "g/bad-first");
	assert_missing(f->s, "g/poison");
	assert_int_equal(count_keys(f->s, "g/"), 15 * 50);
	assert_int_equal(storage_sqlite_fail_key(f->s, NULL), 0);
}

static void
test_storage_sqlite_reopen(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "r/t1", (const uint8_t *)"t1", 2},
	        {STORAGE_PUT, "r/t2", (const uint8_t *)"t2", 2},
	};
	uint8_t bin[3] = {0, 0xff, 0}, *val;
	char path[400];
	struct stat sb;
	size_t len;

	put_str(f->s, "core/keyring", "kr");
	put_str(f->s, "r/gone", "x");
	assert_int_equal(storage_delete(f->s, "r/gone"), 0);
	assert_int_equal(storage_put(f->s, "r/bin", bin, sizeof(bin)), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), 0);
	storage_close(f->s);
	f->s = NULL;

	/* the file (and its WAL) are private to the owner */
	assert_true(snprintf(path, sizeof(path), "%s/coffer.db", f->dir) > 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* a bare path means sqlite */
	assert_int_equal(storage_open(path, &f->s), 0);
	assert_string_equal(f->s->ops->name, "sqlite");
	assert_value(f->s, "core/keyring", "kr");
	assert_value(f->s, "r/t1", "t1");
	assert_value(f->s, "r/t2", "t2");
	assert_missing(f->s, "r/gone");
	assert_int_equal(storage_get(f->s, "r/bin", &val, &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(val, bin, sizeof(bin));
	free(val);
	assert_list(f->s, "r/", (const char *[]){"bin", "t1", "t2", NULL});
	assert_true(snprintf(path, sizeof(path), "%s/coffer.db-wal", f->dir) > 0);
	if (stat(path, &sb) == 0)
		assert_int_equal(sb.st_mode & 0777, 0600);
}

/* A get that found nothing may be remembered, but never past the write that
 * creates the key (KV v2 looks a new secret's metadata up twice, then writes). */
static void
test_storage_missing_then_written(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "n/t1", (const uint8_t *)"t1", 2},
	        {STORAGE_PUT, "n/k", (const uint8_t *)"v2", 2},
	};

	assert_missing(f->s, "n/k");
	assert_missing(f->s, "n/k");
	put_str(f->s, "n/k", "v1");
	assert_value(f->s, "n/k", "v1");
	assert_int_equal(storage_delete(f->s, "n/k"), 0);
	assert_missing(f->s, "n/k");
	assert_missing(f->s, "n/t1");
	assert_int_equal(storage_txn(f->s, ops, 2), 0);
	assert_value(f->s, "n/k", "v2");
	assert_value(f->s, "n/t1", "t1");
}

#define WAL_KEYS 4000

struct wal_reader {
	struct storage *s;
	atomic_int *stop;
	int failures;
};

static void *
wal_reader_main(void *arg)
{
	struct wal_reader *w = arg;
	char key[64], **keys;
	uint8_t *val;
	size_t len, n;
	int i, r;

	for (i = 0; !atomic_load(w->stop); i++) {
		(void)snprintf(key, sizeof(key), "w/%05d", (i * 7919) % WAL_KEYS);
		r = storage_get(w->s, key, &val, &len);
		if (r == 0)
			free(val);
		else if (r != CF_ENOTFOUND)
			w->failures++;
		if (i % 64 == 0) {
			if (storage_list(w->s, "w/", &keys, &n) != 0)
				w->failures++;
			else
				storage_keys_free(keys, n);
		}
	}
	return NULL;
}

/* Writes n puts of 1 KiB values (a few 4 KiB WAL frames each) with nreaders
 * threads reading and listing meanwhile; returns the largest size the WAL file
 * had (after a checkpoint SQLite rewrites the WAL from its start, and truncates
 * the file back to journal_size_limit, 64 MiB). */
static off_t
wal_after_writes(struct fixture *f, int n, int nreaders)
{
	struct wal_reader rd[2];
	pthread_t th[2];
	atomic_int stop;
	char key[64], path[400], val[1024];
	struct stat sb;
	off_t max = 0;
	int i;

	assert_true(nreaders <= 2);
	atomic_init(&stop, 0);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (i = 0; i < nreaders; i++) {
		rd[i] = (struct wal_reader){.s = f->s, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, wal_reader_main, &rd[i]), 0);
	}
	assert_true(snprintf(path, sizeof(path), "%s/coffer.db-wal", f->dir) > 0);
	for (i = 0; i < n; i++) {
		(void)snprintf(key, sizeof(key), "w/%05d", (i * 7919) % WAL_KEYS);
		put_str(f->s, key, val);
		if (i % 16 == 0 && stat(path, &sb) == 0 && sb.st_size > max)
			max = sb.st_size;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < nreaders; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rd[i].failures, 0);
	}
	return max;
}

/* Checkpoints run beside the writes and keep the WAL small: each ends with the
 * WAL wholly in the database file, so the next commit starts it over. Readers on
 * older snapshots can keep it from starting over (both with checkpoints in the
 * writer, as before, and beside it); then the WAL grows, until it reaches 64 MiB,
 * where a RESTART checkpoint waits for those readers. Without checkpoints, the
 * first part alone would grow the WAL past 16 MiB, the second past 100 MiB. */
static void
test_storage_sqlite_wal_bounded(void **state)
{
	struct fixture *f = *state;
	char path[400];
	struct stat sb;
	off_t wal;

	wal = wal_after_writes(f, WAL_KEYS, 0);
	print_message("sqlite: WAL at most %lld KiB in %d writes\n", (long long)wal / 1024,
	              WAL_KEYS);
	assert_true(wal < 4 * 1024 * 1024);
	wal = wal_after_writes(f, 3 * WAL_KEYS, 2);
	print_message("sqlite: WAL at most %lld KiB in %d more, with 2 readers always active\n",
	              (long long)wal / 1024, 3 * WAL_KEYS);
	assert_true(wal < 72 * 1024 * 1024);

	/* closing checkpoints everything and removes the WAL */
	storage_close(f->s);
	f->s = NULL;
	assert_true(snprintf(path, sizeof(path), "%s/coffer.db-wal", f->dir) > 0);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(storage_open(f->spec, &f->s), 0);
	assert_int_equal(count_keys(f->s, "w/"), WAL_KEYS);
}

/* postgres only: group commit, fault isolation, reopening, reconnects, timeouts. */

static void
test_storage_postgres_batching_64(void **state)
{
	struct fixture *f = *state;
	struct storage_postgres_stats st;

	run_workers(f->s, 64, 50, 0);
	storage_postgres_stats(f->s, &st);
	assert_int_equal(st.requests, 64 * 50);
	assert_true(st.commits < st.requests);
	print_message("postgres: 64 threads, %llu writes in %llu commits (%.1f per commit)\n",
	              (unsigned long long)st.requests, (unsigned long long)st.commits,
	              (double)st.requests / (double)st.commits);
	assert_int_equal(count_keys(f->s, "c/"), 64 * 50);
}

static void
test_storage_postgres_single_writer_commits(void **state)
{
	struct fixture *f = *state;
	struct storage_postgres_stats st;
	int i;

	for (i = 0; i < 20; i++)
		put_str(f->s, "solo", "v");
	storage_postgres_stats(f->s, &st);
	assert_int_equal(st.commits, 20);
	assert_int_equal(st.requests, 20);
}

static void
test_storage_postgres_fault_fails_txn_alone(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "f/first", (const uint8_t *)"1", 1},
	        {STORAGE_PUT, "f/poison", (const uint8_t *)"2", 1},
	};

	assert_int_equal(storage_postgres_fail_key(f->s, "f/poison"), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), CF_EIO);
	assert_missing(f->s, "f/first");
	assert_missing(f->s, "f/poison");
	put_str(f->s, "f/other", "ok");
	assert_int_equal(storage_postgres_fail_key(f->s, NULL), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), 0);
	assert_value(f->s, "f/first", "1");
	assert_value(f->s, "f/other", "ok");
}

static void
test_storage_postgres_fault_isolated_in_batch(void **state)
{
	struct fixture *f = *state;
	struct poison_worker w[16];
	pthread_t th[16];
	struct storage_postgres_stats st;
	int i, rounds = 0;

	assert_int_equal(storage_postgres_fail_key(f->s, "g/poison"), 0);
	do {
		for (i = 0; i < 16; i++) {
			w[i] = (struct poison_worker){.s = f->s, .id = i, .rounds = 50};
			assert_int_equal(pthread_create(&th[i], NULL, poison_main, &w[i]), 0);
		}
		for (i = 0; i < 16; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(w[i].failures, 0);
		}
		storage_postgres_stats(f->s, &st);
		rounds++;
	} while (st.isolated == 0 && rounds < 20);
	assert_true(st.isolated > 0);
	assert_missing(f->s, "g/bad-first");
	assert_missing(f->s, "g/poison");
	assert_int_equal(count_keys(f->s, "g/"), 15 * 50);
	assert_int_equal(storage_postgres_fail_key(f->s, NULL), 0);
}

/* The first value admin SQL answers (as text), in out. */
static void
pg_admin_value(const char *sql, char *out, size_t size)
{
	PGconn *c = PQconnectdb(getenv("COFFER_TEST_PG_SOCKET"));
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	assert_true(snprintf(out, size, "%s", PQgetvalue(res, 0, 0)) > 0);
	PQclear(res);
	PQfinish(c);
}

static void
test_storage_postgres_reopen(void **state)
{
	struct fixture *f = *state;
	const struct storage_op ops[] = {
	        {STORAGE_PUT, "r/t1", (const uint8_t *)"t1", 2},
	        {STORAGE_PUT, "r/t2", (const uint8_t *)"t2", 2},
	};
	uint8_t bin[3] = {0, 0xff, 0}, *val;
	char sql[512], out[4096];
	size_t len;

	put_str(f->s, "core/keyring", "kr");
	put_str(f->s, "r/gone", "x");
	assert_int_equal(storage_delete(f->s, "r/gone"), 0);
	assert_int_equal(storage_put(f->s, "r/bin", bin, sizeof(bin)), 0);
	assert_int_equal(storage_txn(f->s, ops, 2), 0);
	storage_close(f->s);
	f->s = NULL;

	/* the table lives in the schema the URL names, keyed by bytea */
	(void)snprintf(sql, sizeof(sql),
	               "SELECT count(*) FROM t%d_%u.coffer_kv WHERE key = 'core/keyring'::bytea",
	               (int)getpid(), pg_schemas);
	pg_admin_value(sql, out, sizeof(out));
	assert_string_equal(out, "1");
	/* a prefix is a range of the primary key index, in key order (forbidding
	 * the plans a table of five rows would rather use) */
	(void)snprintf(sql, sizeof(sql),
	               "SET enable_seqscan = off; SET enable_bitmapscan = off; "
	               "EXPLAIN SELECT key FROM t%d_%u.coffer_kv "
	               "WHERE key >= 'r/'::bytea AND key < 'r0'::bytea ORDER BY key",
	               (int)getpid(), pg_schemas);
	pg_admin_value(sql, out, sizeof(out));
	assert_non_null(strstr(out, "Index Only Scan using coffer_kv_pkey"));

	assert_int_equal(storage_open(f->spec, &f->s), 0);
	assert_string_equal(f->s->ops->name, "postgres");
	assert_value(f->s, "core/keyring", "kr");
	assert_value(f->s, "r/t1", "t1");
	assert_value(f->s, "r/t2", "t2");
	assert_missing(f->s, "r/gone");
	assert_int_equal(storage_get(f->s, "r/bin", &val, &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(val, bin, sizeof(bin));
	free(val);
	assert_list(f->s, "r/", (const char *[]){"bin", "t1", "t2", NULL});
}

/* Ends every connection the backend has open (as a restart of PostgreSQL
 * would): the next calls reconnect and succeed, nothing is lost. */
static void
test_storage_postgres_reconnect(void **state)
{
	struct fixture *f = *state;
	struct storage_postgres_stats st;
	char out[64];
	int round;

	put_str(f->s, "k/a", "1");
	assert_value(f->s, "k/a", "1");
	for (round = 0; round < 3; round++) {
		pg_admin_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
		               "WHERE application_name = 'coffer-storage'",
		               out, sizeof(out));
		assert_true(atoi(out) >= 2); /* a reader and the writer */
		assert_value(f->s, "k/a", round == 0 ? "1" : "2");
		put_str(f->s, "k/a", "2");
		assert_value(f->s, "k/a", "2");
		assert_list(f->s, "k/", (const char *[]){"a", NULL});
	}
	storage_postgres_stats(f->s, &st);
	assert_true(st.reconnects >= 3);
	/* and the writes after each reconnect went through concurrently too */
	run_workers(f->s, 8, 20, 2);
	assert_int_equal(count_keys(f->s, "c/"), 8 * 20);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A stalled server (here: a lock held on the table) costs a call the timeout,
 * and an error, never a hang; afterwards the store works again. */
static void
test_storage_postgres_stall_times_out(void **state)
{
	struct fixture *f = *state;
	struct storage *s = NULL;
	char spec[400], sql[128];
	uint8_t *val = NULL;
	size_t len;
	PGconn *admin;
	PGresult *res;
	double t0;

	put_str(f->s, "s/k", "v");
	assert_true(snprintf(spec, sizeof(spec), "%s&timeout=1", f->spec) > 0);
	assert_int_equal(storage_open(spec, &s), 0);
	assert_value(s, "s/k", "v");

	admin = PQconnectdb(getenv("COFFER_TEST_PG_SOCKET"));
	assert_int_equal(PQstatus(admin), CONNECTION_OK);
	(void)snprintf(sql, sizeof(sql),
	               "BEGIN; LOCK TABLE t%d_%u.coffer_kv IN ACCESS EXCLUSIVE MODE", (int)getpid(),
	               pg_schemas);
	res = PQexec(admin, sql);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	t0 = mono_s();
	assert_int_equal(storage_get(s, "s/k", &val, &len), CF_EIO);
	assert_true(mono_s() - t0 < 3.0);
	t0 = mono_s();
	assert_int_equal(storage_put(s, "s/k", (const uint8_t *)"w", 1), CF_EIO);
	assert_true(mono_s() - t0 < 3.0);
	print_message("postgres: a stalled call failed after %.2f s (timeout 1 s)\n",
	              mono_s() - t0);

	res = PQexec(admin, "ROLLBACK");
	PQclear(res);
	PQfinish(admin);
	/* for a second after a timeout, calls fail at once rather than wait again */
	t0 = mono_s();
	while (storage_get(s, "s/k", &val, &len) != 0)
		assert_true(mono_s() - t0 < 5.0);
	free(val);
	assert_value(s, "s/k", "v");
	put_str(s, "s/k", "w");
	assert_value(f->s, "s/k", "w");
	storage_close(s);
}

/* Nobody answers at all: open gives up after the timeout. */
static void
test_storage_postgres_no_server(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t slen = sizeof(sa);
	struct storage *s = NULL;
	char spec[256];
	double t0;
	int fd;

	(void)state;
	/* a listener that never accepts: the TCP handshake succeeds, libpq's does not */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
	assert_true(snprintf(spec, sizeof(spec),
	                     "postgres:postgresql://u:pw@127.0.0.1:%d/db?sslmode=disable&timeout=1",
	                     ntohs(sa.sin_port)) > 0);
	t0 = mono_s();
	assert_int_equal(storage_open(spec, &s), CF_EIO);
	assert_true(mono_s() - t0 < 3.0);
	close(fd);
	/* and the port is closed now: refused at once */
	t0 = mono_s();
	assert_int_equal(storage_open(spec, &s), CF_EIO);
	assert_true(mono_s() - t0 < 3.0);
}

static void
test_storage_postgres_specs(void **state)
{
	static const char *const bad[] = {
	        "postgres:",
	        "postgres:host=127.0.0.1 dbname=x",
	        "postgres:postgresql://127.0.0.1/db?schema=bad-name",
	        "postgres:postgresql://127.0.0.1/db?schema=",
	        "postgres:postgresql://127.0.0.1/db?schema=1abc",
	        "postgres:postgresql://127.0.0.1/db?schema=a\"b",
	        "postgres:postgresql://127.0.0.1/db?timeout=0",
	        "postgres:postgresql://127.0.0.1/db?timeout=abc",
	        "postgres:postgresql://127.0.0.1/db?max_connections=0",
	        "postgres:postgresql://127.0.0.1/db?no_such_libpq_option=1",
	};
	struct storage *s = NULL;
	char *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(storage_open(bad[i], &s), CF_EINVAL);
	}
	r = storage_spec_redact("postgres:postgresql://coffer:s3cr%40t@db.example:5432/c"
	                        "?sslmode=require&password=other&schema=s");
	assert_non_null(r);
	assert_string_equal(r, "postgres:postgresql://coffer:REDACTED@db.example:5432/c"
	                       "?sslmode=require&password=REDACTED&schema=s");
	free(r);
	r = storage_spec_redact("postgres:postgresql://coffer@db/c");
	assert_string_equal(r, "postgres:postgresql://coffer@db/c");
	free(r);
	r = storage_spec_redact("sqlite:/var/lib/coffer/a@b:c.db");
	assert_string_equal(r, "sqlite:/var/lib/coffer/a@b:c.db");
	free(r);
}

static void
test_storage_open_specs(void **state)
{
	struct storage *s = NULL;
	bool active = false;

	assert_int_equal(storage_open("memory:", &s), 0);
	assert_string_equal(s->ops->name, "memory");
	assert_int_equal(storage_lock_acquire(s, "http://127.0.0.1:8200", &active), 0);
	assert_true(active);
	assert_false(storage_lock_supported(s));
	assert_int_equal(storage_lock_check(s), 0);
	storage_lock_release(s);
	storage_close(s);
	assert_int_equal(storage_open("", &s), CF_EINVAL);
	assert_int_equal(storage_open("sqlite:", &s), CF_EINVAL);
	assert_int_equal(storage_open("postgres://localhost/coffer", &s), CF_EINVAL);
	assert_int_equal(storage_open("bogus:thing", &s), CF_EINVAL);
	assert_int_equal(storage_open("sqlite:/nonexistent-dir/x/y.db", &s), CF_EIO);
	storage_close(NULL);
}

#define ON(t, fx)                                                                                  \
	{                                                                                          \
#t "/" #fx, t, setup, teardown, &fx_##fx                                           \
	}
#define ALL(t)      ON(t, memory), ON(t, sqlite), ON(t, postgres)
#define SQLITE(t)   ON(t, sqlite)
#define POSTGRES(t) ON(t, postgres)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_storage_open_specs),
	        ALL(test_storage_get_missing),
	        ALL(test_storage_put_get_overwrite),
	        ALL(test_storage_delete),
	        ALL(test_storage_list),
	        ALL(test_storage_list_empty),
	        ALL(test_storage_list_many_folders),
	        ALL(test_storage_txn),
	        ALL(test_storage_txn_invalid_applies_nothing),
	        ALL(test_storage_limits),
	        ALL(test_storage_binary_values),
	        ALL(test_storage_delete_prefix),
	        ALL(test_storage_concurrent_writers),
	        ALL(test_storage_missing_then_written),
	        SQLITE(test_storage_sqlite_batching_64),
	        SQLITE(test_storage_sqlite_single_writer_commits),
	        SQLITE(test_storage_sqlite_fault_fails_txn_alone),
	        SQLITE(test_storage_sqlite_fault_isolated_in_batch),
	        SQLITE(test_storage_sqlite_reopen),
	        SQLITE(test_storage_sqlite_wal_bounded),
	        cmocka_unit_test(test_storage_postgres_specs),
	        cmocka_unit_test(test_storage_postgres_no_server),
	        POSTGRES(test_storage_postgres_batching_64),
	        POSTGRES(test_storage_postgres_single_writer_commits),
	        POSTGRES(test_storage_postgres_fault_fails_txn_alone),
	        POSTGRES(test_storage_postgres_fault_isolated_in_batch),
	        POSTGRES(test_storage_postgres_reopen),
	        POSTGRES(test_storage_postgres_reconnect),
	        POSTGRES(test_storage_postgres_stall_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
