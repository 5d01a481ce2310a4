/*
 * pg_batch.c - the reference for coffer's durable writes on PostgreSQL: a plain
 * libpq program upserting BATCH rows per transaction (BEGIN, BATCH prepared
 * INSERT ... ON CONFLICT, COMMIT; one statement at a time, as a program written
 * without coffer's tricks would) into a table shaped like coffer's, over TCP.
 *
 * usage: pg_batch CONNINFO [SECONDS] [BATCH] [VALUE_BYTES] [CONNECTIONS]
 * Runs for SECONDS (default 5), BATCH rows per transaction (default 64), values of
 * VALUE_BYTES (default 256, about one encrypted KV v2 version), keys from a
 * counter, on CONNECTIONS connections (default 1), each with its own thread.
 * Prints "rows_per_sec=N commits_per_sec=M". The table pg_batch_kv is dropped
 * at the end.
 */
#include <libpq-fe.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
	const char *conninfo;
	int id;
	double secs;
	long batch;
	long vbytes;
	long rows;
	long commits;
	int failed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
exec(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "pg_batch: %s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	return ok ? 0 : -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const char *vals[2];
	int lens[2], fmts[2] = {1, 1};
	char key[64];
	unsigned char *val;
	PGconn *c;
	PGresult *res;
	double t0;
	long i, n = 0;

	val = malloc((size_t)w->vbytes);
	c = PQconnectdb(w->conninfo);
	if (val == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_batch: connect: %s", PQerrorMessage(c));
		w->failed = 1;
		goto out;
	}
	memset(val, 0xa5, (size_t)w->vbytes);
	res = PQprepare(c, "put",
	                "INSERT INTO pg_batch_kv(key, value) VALUES ($1, $2) "
	                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
	                2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg_batch: prepare: %s", PQerrorMessage(c));
		w->failed = 1;
		PQclear(res);
		goto out;
	}
	PQclear(res);
	t0 = now();
	while (now() - t0 < w->secs) {
		if (exec(c, "BEGIN") < 0)
			goto fail;
		for (i = 0; i < w->batch; i++) {
			snprintf(key, sizeof(key), "logical/bench/%d/%ld", w->id, n++);
			vals[0] = key;
			lens[0] = (int)strlen(key);
			vals[1] = (const char *)val;
			lens[1] = (int)w->vbytes;
			res = PQexecPrepared(c, "put", 2, vals, lens, fmts, 0);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				fprintf(stderr, "pg_batch: insert: %s", PQerrorMessage(c));
				PQclear(res);
				goto fail;
			}
			PQclear(res);
		}
		if (exec(c, "COMMIT") < 0)
			goto fail;
		w->rows += w->batch;
		w->commits++;
	}
	goto out;
fail:
	w->failed = 1;
out:
	PQfinish(c);
	free(val);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct worker *w;
	pthread_t *th;
	PGconn *c;
	double secs = 5, t0, t1;
	long batch = 64, vbytes = 256, rows = 0, commits = 0;
	int nconn = 1, i, failed = 0;

	if (argc < 2 || argc > 6) {
		fprintf(stderr,
		        "usage: pg_batch CONNINFO [SECONDS] [BATCH] [VALUE_BYTES] [CONNECTIONS]\n");
		return 2;
	}
	if (argc > 2)
		secs = atof(argv[2]);
	if (argc > 3)
		batch = atol(argv[3]);
	if (argc > 4)
		vbytes = atol(argv[4]);
	if (argc > 5)
		nconn = atoi(argv[5]);
	if (secs <= 0 || batch < 1 || vbytes < 1 || nconn < 1 || nconn > 1024) {
		fprintf(stderr, "pg_batch: bad arguments\n");
		return 2;
	}
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_batch: connect: %s", PQerrorMessage(c));
		return 1;
	}
	if (exec(c, "DROP TABLE IF EXISTS pg_batch_kv") < 0 ||
	    exec(c, "CREATE TABLE pg_batch_kv (key bytea PRIMARY KEY, value bytea NOT NULL)") < 0)
		return 1;
	w = calloc((size_t)nconn, sizeof(*w));
	th = calloc((size_t)nconn, sizeof(*th));
	if (w == NULL || th == NULL)
		return 1;
	t0 = now();
	for (i = 0; i < nconn; i++) {
		w[i] = (struct worker){.conninfo = argv[1],
		                       .id = i,
		                       .secs = secs,
		                       .batch = batch,
		                       .vbytes = vbytes};
		if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
			return 1;
	}
	for (i = 0; i < nconn; i++) {
		pthread_join(th[i], NULL);
		rows += w[i].rows;
		commits += w[i].commits;
		failed |= w[i].failed;
	}
	t1 = now();
	(void)exec(c, "DROP TABLE IF EXISTS pg_batch_kv");
	PQfinish(c);
	if (failed)
		return 1;
	printf("rows_per_sec=%.1f commits_per_sec=%.1f\n", (double)rows / (t1 - t0),
	       (double)commits / (t1 - t0));
	free(w);
	free(th);
	return 0;
}
