/*
 * sqlite_batch.c - what group commit can reach on this disk: SQLite in WAL mode
 * with synchronous=FULL, upserting BATCH rows per transaction (docs/BENCHMARKS.md:
 * ~20k rows/s at 64 per transaction).  The target for coffer's durable writes at
 * 64 connections is a fraction of this figure.
 *
 * usage: sqlite_batch DBFILE [SECONDS] [BATCH] [VALUE_BYTES]
 * Runs for SECONDS (default 5), BATCH rows per transaction (default 64), values of
 * VALUE_BYTES (default 256, about one encrypted KV v2 version), keys from a counter
 * so the table grows as coffer's does.  Prints "rows_per_sec=N commits_per_sec=M".
 * DBFILE and its -wal/-shm are removed at the end.
 */
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sqlite_batch: %s: %s\n", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double secs = 5, t0, t1;
	long batch = 64, vbytes = 256, rows = 0, commits = 0, i;
	unsigned char *val;
	char key[64], path[4096];

	if (argc < 2 || argc > 5) {
		fprintf(stderr, "usage: sqlite_batch DBFILE [SECONDS] [BATCH] [VALUE_BYTES]\n");
		return 2;
	}
	if (argc > 2)
		secs = atof(argv[2]);
	if (argc > 3)
		batch = atol(argv[3]);
	if (argc > 4)
		vbytes = atol(argv[4]);
	if (secs <= 0 || batch < 1 || vbytes < 1) {
		fprintf(stderr, "sqlite_batch: bad arguments\n");
		return 2;
	}
	val = malloc((size_t)vbytes);
	if (val == NULL)
		return 1;
	memset(val, 0xa5, (size_t)vbytes);
	unlink(argv[1]);
	if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
		fprintf(stderr, "sqlite_batch: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL") ||
	    exec(db, "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"))
		return 1;
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET "
	                       "v = excluded.v",
	                       -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite_batch: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	t0 = now();
	do {
		if (exec(db, "BEGIN IMMEDIATE"))
			return 1;
		for (i = 0; i < batch; i++, rows++) {
			snprintf(key, sizeof(key), "logical/bench/%ld", rows);
			val[rows % vbytes] ^= 1;
			sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 2, val, (int)vbytes, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_DONE) {
				fprintf(stderr, "sqlite_batch: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			sqlite3_reset(st);
		}
		if (exec(db, "COMMIT"))
			return 1;
		commits++;
		t1 = now();
	} while (t1 - t0 < secs);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(val);
	unlink(argv[1]);
	snprintf(path, sizeof(path), "%s-wal", argv[1]);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", argv[1]);
	unlink(path);
	printf("rows_per_sec=%.1f commits_per_sec=%.1f\n", (double)rows / (t1 - t0),
	       (double)commits / (t1 - t0));
	return 0;
}
