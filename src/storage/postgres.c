/* postgres.c - the PostgreSQL storage backend ("postgres:URL").
 *
 * URL: a libpq connection URI, postgresql://[user[:password]@]host[:port]/db?...,
 * whose query may also carry coffer's own parameters, taken out before libpq sees
 * it: schema=NAME (default public), max_connections=N (default 16) and
 * timeout=SECONDS (default 10).
 *
 * Schema: one table "<schema>".coffer_kv(key bytea PRIMARY KEY, value bytea),
 * created on first open (with the schema) under an advisory lock, so several
 * servers starting at once do not race. Keys are bytea, not text: a key is any
 * byte string (a UTF-8 database refuses invalid UTF-8 in text), and bytea
 * compares bytewise, the order SQLite's BINARY collation gives, so a prefix is
 * one range [prefix, upper bound) of the primary key index.
 *
 * Lists: one statement per list, a loose index scan (a recursive query that
 * seeks past each folder), so listing a folder of a million keys returns its
 * entries, not the million keys.
 *
 * Connections: libpq is loaded with dlopen() on first open (servers on SQLite
 * never map it). Every connection runs in pipeline mode, non-blocking: a call
 * sends its statements and a sync at once and waits with poll() for at most the
 * timeout, so a server that went silent costs a request the timeout, never a
 * hang (statement_timeout, at 90 % of it, lets the server give up first). After a
 * failed connect or a timeout, new connections wait PG_HOLD_OFF_MS, so a request
 * that touches storage several times pays one timeout. A connection that failed
 * or timed out is closed; the next call opens a fresh one (reconnect), and a call
 * that met a connection broken while idle (the server restarted) retries once on
 * a fresh one. Reads use a pool of connections; writes one write connection.
 *
 * Writes: group commit, as in sqlite.c. A lone writer commits in its own thread;
 * otherwise put/delete/txn queue a request and the committer thread runs
 * everything queued as ONE transaction, sent as one pipeline (BEGIN, each op,
 * COMMIT: one round trip and one WAL flush for the whole batch). If the batch
 * fails on a statement, each request runs again alone, so one bad request cannot
 * fail the others. If the connection is lost with the outcome of COMMIT unknown,
 * the batch is re-run on a fresh connection: its ops in the same order are
 * idempotent. See docs/internals/storage.md. */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_SONAME          "libpq.so.5"
#define PG_DEFAULT_SCHEMA  "public"
#define PG_DEFAULT_CONNS   16
#define PG_MAX_CONNS       1024
#define PG_DEFAULT_TIMEOUT 10 /* seconds */
#define PG_MAX_TIMEOUT     3600
#define PG_MAX_SCHEMA      63 /* NAMEDATALEN - 1 */
#define PG_MAX_IDLE        32
#define PG_BYTEA_OID       17
#define PG_SLOW_COMMIT_NS  1000000
#define PG_HOLD_OFF_MS     1000 /* after a failed connect or a timeout, fail at once */
#define PG_SCHEMA_LOCK_KEY "7301245811270381403" /* advisory lock around the DDL */
#define PG_FAULT_SQL       "SELECT 1/0"          /* what an op on the fault key runs */
#define PG_HA_CLASS        1668245094            /* first key of the HA lock ("coff") */
#define PG_HA_CHECK_MS     2000                  /* a lock check waits at most this */

/* Fencing state of this node's writes (see the HA lock section). */
enum pg_fence {
	PG_FENCE_OFF = 0, /* no HA yet (a sealed node, init, migrate): writes as usual */
	PG_FENCE_HELD,    /* this node holds the lock: each write checks it still does */
	PG_FENCE_OUT,     /* a standby, or the lock was lost: writes are refused */
};

/* libpq, loaded at run time. */
static struct {
	bool loaded;
	PQconninfoOption *(*conninfo_parse)(const char *conninfo, char **errmsg);
	void (*conninfo_free)(PQconninfoOption *opts);
	void (*freemem)(void *p);
	PGconn *(*connect_start_params)(const char *const *kw, const char *const *val,
	                                int expand_dbname);
	PostgresPollingStatusType (*connect_poll)(PGconn *c);
	void (*finish)(PGconn *c);
	ConnStatusType (*status)(const PGconn *c);
	char *(*error_message)(const PGconn *c);
	int (*socket)(const PGconn *c);
	int (*set_nonblocking)(PGconn *c, int arg);
	int (*enter_pipeline_mode)(PGconn *c);
	int (*pipeline_sync)(PGconn *c);
	int (*send_prepare)(PGconn *c, const char *name, const char *sql, int nparams,
	                    const Oid *types);
	int (*send_query_prepared)(PGconn *c, const char *name, int nparams,
	                           const char *const *vals, const int *lens, const int *fmts,
	                           int result_format);
	int (*send_query_params)(PGconn *c, const char *sql, int nparams, const Oid *types,
	                         const char *const *vals, const int *lens, const int *fmts,
	                         int result_format);
	int (*flush)(PGconn *c);
	int (*consume_input)(PGconn *c);
	int (*is_busy)(PGconn *c);
	PGresult *(*get_result)(PGconn *c);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_message)(const PGresult *res);
	int (*ntuples)(const PGresult *res);
	char *(*getvalue)(const PGresult *res, int row, int col);
	int (*getlength)(const PGresult *res, int row, int col);
	int (*getisnull)(const PGresult *res, int row, int col);
	void (*clear)(PGresult *res);
	PQnoticeProcessor (*set_notice_processor)(PGconn *c, PQnoticeProcessor fn, void *arg);
	PGTransactionStatusType (*transaction_status)(const PGconn *c);
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;

#define PQ_SYM(field, name)                                                                        \
	do {                                                                                       \
		void *p_ = dlsym(lib, name);                                                       \
		if (p_ == NULL)                                                                    \
			goto fail;                                                                 \
		*(void **)&tmp.field = p_; /* POSIX: dlsym data pointer to function pointer */     \
	} while (0)

static void
pq_load_once(void)
{
	__typeof__(pq) tmp = {0};
	void *lib = dlopen(PG_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL)
		return;
	PQ_SYM(conninfo_parse, "PQconninfoParse");
	PQ_SYM(conninfo_free, "PQconninfoFree");
	PQ_SYM(freemem, "PQfreemem");
	PQ_SYM(connect_start_params, "PQconnectStartParams");
	PQ_SYM(connect_poll, "PQconnectPoll");
	PQ_SYM(finish, "PQfinish");
	PQ_SYM(status, "PQstatus");
	PQ_SYM(error_message, "PQerrorMessage");
	PQ_SYM(socket, "PQsocket");
	PQ_SYM(set_nonblocking, "PQsetnonblocking");
	PQ_SYM(enter_pipeline_mode, "PQenterPipelineMode");
	PQ_SYM(pipeline_sync, "PQpipelineSync");
	PQ_SYM(send_prepare, "PQsendPrepare");
	PQ_SYM(send_query_prepared, "PQsendQueryPrepared");
	PQ_SYM(send_query_params, "PQsendQueryParams");
	PQ_SYM(flush, "PQflush");
	PQ_SYM(consume_input, "PQconsumeInput");
	PQ_SYM(is_busy, "PQisBusy");
	PQ_SYM(get_result, "PQgetResult");
	PQ_SYM(result_status, "PQresultStatus");
	PQ_SYM(result_error_message, "PQresultErrorMessage");
	PQ_SYM(ntuples, "PQntuples");
	PQ_SYM(getvalue, "PQgetvalue");
	PQ_SYM(getlength, "PQgetlength");
	PQ_SYM(getisnull, "PQgetisnull");
	PQ_SYM(clear, "PQclear");
	PQ_SYM(set_notice_processor, "PQsetNoticeProcessor");
	PQ_SYM(transaction_status, "PQtransactionStatus");
	tmp.loaded = true;
	pq = tmp;
	return;
fail:
	dlclose(lib);
}

/* Returns 0, or CF_EUNSUPPORTED when libpq (14 or newer: pipeline mode) is missing. */
static int
pq_load(void)
{
	(void)pthread_once(&pq_once, pq_load_once);
	return pq.loaded ? 0 : CF_EUNSUPPORTED;
}

/* How a statement run ended (internal; callers see CF_EIO). */
enum pg_status {
	PG_OK = 0,
	PG_ESTMT,    /* a statement failed; the connection is fine */
	PG_ELOST,    /* the connection broke (closed now) */
	PG_ETIMEOUT, /* no answer in time (connection closed now) */
	PG_ENOMEM,
	PG_EFENCED, /* a write on a node that does not hold the HA lock */
};

struct pg_conn {
	PGconn *c;
	uint64_t epoch; /* the pool epoch it was opened in */
	bool used;      /* ran a call before: may have broken while idle */
	struct pg_conn *next;
};

/* One statement of a pipeline: a prepared statement or plain SQL, with up to two
 * bytea parameters (binary). res keeps a result with rows when keep is set. */
struct pg_q {
	const char *stmt;
	const char *sql;
	int nparams;
	const char *vals[2];
	int lens[2];
	bool keep;
	PGresult *res;
};

struct pg_req {
	const struct storage_op *ops;
	size_t n;
	int result;
	sem_t done;
	struct pg_req *next;
};

struct pg_storage {
	struct storage base; /* must be first */
	/* libpq connection parameters (NULL-terminated arrays; values may hold the
	 * password: wiped on close). */
	char **kw;
	char **val;
	char *where;  /* host:port/db, for log lines (no credentials) */
	char *schema; /* validated identifier */
	char sql_get[256], sql_put[320], sql_del[256], sql_list[1024], sql_list_to[1024];
	int64_t timeout_ms;
	size_t max_readers;

	/* Write side: wconn belongs to whoever set busy (a lone writer or the
	 * committer). mu guards the queue, busy, stopping, stats and fail_key. */
	struct pg_conn *wconn;
	pthread_t committer;
	bool committer_started;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct pg_req *head;
	struct pg_req *tail;
	bool busy;
	bool stopping;
	size_t last_size;
	struct storage_postgres_stats stats;
	atomic_bool has_fail_key;
	char *fail_key;
	atomic_llong commit_ns;
	atomic_bool down; /* the last connection attempt failed (log once per outage) */
	/* Until then (monotonic ms) new connections are not tried: each call of a
	 * request would otherwise wait the timeout again on a server that hangs. */
	atomic_llong hold_off_until;

	/* HA lock: lconn holds the advisory lock (PG_HA_CLASS, lock_key). lock_mu
	 * guards lconn; fence and fence_sql are guarded by mu (the writer reads
	 * them there at the start of each transaction). */
	pthread_mutex_t lock_mu;
	struct pg_conn *lconn;
	int32_t lock_key;
	enum pg_fence fence;
	char fence_sql[1024];

	/* Read pool. pool_mu guards idle, nidle, nreaders and epoch (bumped when a
	 * connection is found broken: older idle ones are dropped, not tried). */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cond;
	struct pg_conn *idle;
	size_t nidle;
	size_t nreaders;
	uint64_t epoch;
};

static struct pg_storage *
pg_of(struct storage *s)
{
	assert(s != NULL && s->ops == &storage_postgres_ops);
	return (struct pg_storage *)s;
}

static void
pg_notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

static int64_t
pg_now_ms(void)
{
	return util_mono_ns() / 1000000;
}

/* Waits until the connection's socket is ready for events or the deadline
 * (monotonic ms) passes. Returns 1 ready, 0 timed out, -1 error. */
static int
pg_wait(PGconn *c, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = pq.socket(c), .events = events};
	int64_t left;
	int r;

	if (pfd.fd < 0)
		return -1;
	for (;;) {
		left = deadline - pg_now_ms();
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void
pg_conn_free(struct pg_conn *pc)
{
	if (pc == NULL)
		return;
	pq.finish(pc->c);
	free(pc);
}

/* Marks the pool's connections as suspect after one was found broken (st): idle
 * ones opened before now are closed instead of tried; after a timeout, new ones
 * are not tried for PG_HOLD_OFF_MS either. */
static void
pg_epoch_bump(struct pg_storage *q, enum pg_status st)
{
	if (st == PG_ETIMEOUT)
		atomic_store(&q->hold_off_until, pg_now_ms() + PG_HOLD_OFF_MS);
	pthread_mutex_lock(&q->pool_mu);
	q->epoch++;
	pthread_mutex_unlock(&q->pool_mu);
	pthread_mutex_lock(&q->mu);
	q->stats.reconnects++;
	pthread_mutex_unlock(&q->mu);
}

/* The next result of a pipeline, waiting for it until deadline. Returns PG_OK
 * with *ret (NULL between two statements' results), PG_ELOST or PG_ETIMEOUT. */
static enum pg_status
pg_next(PGconn *c, int64_t deadline, PGresult **ret)
{
	int fl, w;

	for (;;) {
		fl = pq.flush(c);
		if (fl < 0)
			return PG_ELOST;
		if (!pq.is_busy(c)) {
			*ret = pq.get_result(c);
			return PG_OK;
		}
		w = pg_wait(c, (short)(POLLIN | (fl == 1 ? POLLOUT : 0)), deadline);
		if (w == 0)
			return PG_ETIMEOUT;
		if (w < 0 || pq.consume_input(c) == 0)
			return PG_ELOST;
	}
}

/* Sends the n statements and a sync as one pipeline and reads every result.
 * Returns PG_OK when all succeeded (results with keep set are left in q[i].res
 * for the caller to clear), PG_ESTMT when one failed (the rest were skipped;
 * nothing is kept), or PG_ELOST / PG_ETIMEOUT (the connection is then unusable:
 * the caller closes it). */
static enum pg_status
pg_pipeline(PGconn *c, struct pg_q *qs, size_t n, int64_t deadline)
{
	static const int fmts[2] = {1, 1};
	enum pg_status st = PG_OK, rs;
	ExecStatusType es;
	PGresult *res;
	size_t i;
	int ok;

	for (i = 0; i < n; i++) {
		qs[i].res = NULL;
		if (qs[i].stmt != NULL)
			ok = pq.send_query_prepared(c, qs[i].stmt, qs[i].nparams, qs[i].vals,
			                            qs[i].lens, fmts, 1);
		else
			ok = pq.send_query_params(c, qs[i].sql, 0, NULL, NULL, NULL, NULL, 1);
		if (!ok)
			return PG_ELOST;
	}
	if (!pq.pipeline_sync(c))
		return PG_ELOST;
	for (i = 0; i < n; i++) {
		/* each statement: its result, then NULL */
		rs = pg_next(c, deadline, &res);
		if (rs != PG_OK)
			goto lost;
		if (res == NULL) {
			st = PG_ELOST; /* out of step: do not trust this connection */
			goto lost;
		}
		es = pq.result_status(res);
		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
			if (st == PG_OK && es != PGRES_PIPELINE_ABORTED)
				log_verbose("postgres: statement failed: %s",
				            pq.result_error_message(res));
			st = PG_ESTMT;
		}
		if (st == PG_OK && qs[i].keep)
			qs[i].res = res;
		else
			pq.clear(res);
		rs = pg_next(c, deadline, &res);
		if (rs != PG_OK)
			goto lost;
		if (res != NULL) {
			pq.clear(res);
			st = PG_ELOST;
			goto lost;
		}
	}
	rs = pg_next(c, deadline, &res);
	if (rs != PG_OK)
		goto lost;
	es = res != NULL ? pq.result_status(res) : PGRES_FATAL_ERROR;
	pq.clear(res);
	if (es != PGRES_PIPELINE_SYNC) {
		st = PG_ELOST;
		goto lost;
	}
	if (st != PG_OK) {
		for (i = 0; i < n; i++) {
			pq.clear(qs[i].res);
			qs[i].res = NULL;
		}
	}
	return st;
lost:
	for (i = 0; i < n; i++) {
		pq.clear(qs[i].res);
		qs[i].res = NULL;
	}
	return rs != PG_OK ? rs : st;
}

/* Runs one plain statement (no parameters) as its own pipeline. */
static enum pg_status
pg_exec1(PGconn *c, const char *sql, int64_t deadline)
{
	struct pg_q one = {.sql = sql};

	return pg_pipeline(c, &one, 1, deadline);
}

/* Prepares the statements every connection uses. */
static enum pg_status
pg_prepare(struct pg_storage *q, PGconn *c, int64_t deadline)
{
	static const Oid types[2] = {PG_BYTEA_OID, PG_BYTEA_OID};
	const struct {
		const char *name;
		const char *sql;
		int nparams;
	} stmts[] = {
	        {"get", q->sql_get, 1},   {"put", q->sql_put, 2},         {"del", q->sql_del, 1},
	        {"list", q->sql_list, 2}, {"list_to", q->sql_list_to, 1},
	};
	enum pg_status st, rs;
	PGresult *res;
	size_t i, n = sizeof(stmts) / sizeof(stmts[0]);

	for (i = 0; i < n; i++)
		if (!pq.send_prepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, types))
			return PG_ELOST;
	if (!pq.pipeline_sync(c))
		return PG_ELOST;
	st = PG_OK;
	for (i = 0; i < n; i++) {
		rs = pg_next(c, deadline, &res);
		if (rs != PG_OK)
			return rs;
		if (res == NULL)
			return PG_ELOST;
		if (pq.result_status(res) != PGRES_COMMAND_OK)
			st = PG_ESTMT;
		pq.clear(res);
		rs = pg_next(c, deadline, &res);
		if (rs != PG_OK)
			return rs;
		if (res != NULL) {
			pq.clear(res);
			return PG_ELOST;
		}
	}
	rs = pg_next(c, deadline, &res);
	if (rs != PG_OK)
		return rs;
	if (res == NULL || pq.result_status(res) != PGRES_PIPELINE_SYNC)
		st = PG_ELOST;
	pq.clear(res);
	return st;
}

/* Opens a connection (non-blocking, pipeline mode, statement_timeout set), with
 * the statements prepared unless prepare is false (before the table exists).
 * Returns 0 or CF_EIO / CF_ENOMEM; the reason goes to the log, without
 * credentials (libpq's messages name host, port and user, never a password). */
static int
pg_connect(struct pg_storage *q, bool prepare, struct pg_conn **ret)
{
	int64_t deadline = pg_now_ms() + q->timeout_ms;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	struct pg_conn *pc;
	char set[64];
	int w;

	if (pg_now_ms() < atomic_load(&q->hold_off_until))
		return CF_EIO;
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return CF_ENOMEM;
	pc->c = pq.connect_start_params((const char *const *)q->kw, (const char *const *)q->val, 0);
	if (pc->c == NULL) {
		free(pc);
		return CF_ENOMEM;
	}
	if (pq.status(pc->c) == CONNECTION_BAD)
		goto fail;
	while (ps != PGRES_POLLING_OK) {
		if (ps == PGRES_POLLING_FAILED)
			goto fail;
		w = pg_wait(pc->c, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (w <= 0)
			goto fail;
		ps = pq.connect_poll(pc->c);
	}
	(void)pq.set_notice_processor(pc->c, pg_notice_ignore, NULL);
	if (pq.set_nonblocking(pc->c, 1) != 0 || !pq.enter_pipeline_mode(pc->c))
		goto fail;
	/* a little under the client's deadline: the server cancels a stuck statement
	 * first, and the connection stays usable */
	(void)snprintf(set, sizeof(set), "SET statement_timeout = %lld",
	               (long long)(q->timeout_ms * 9 / 10));
	if (pg_exec1(pc->c, set, deadline) != PG_OK)
		goto fail;
	if (prepare && pg_prepare(q, pc->c, deadline) != PG_OK)
		goto fail;
	pthread_mutex_lock(&q->pool_mu);
	pc->epoch = q->epoch;
	pthread_mutex_unlock(&q->pool_mu);
	if (atomic_exchange(&q->down, false))
		log_info("postgres storage at %s: connected again", q->where);
	*ret = pc;
	return 0;
fail:
	atomic_store(&q->hold_off_until, pg_now_ms() + PG_HOLD_OFF_MS);
	/* once per outage, not once per request; libpq's message is one line here */
	if (!atomic_exchange(&q->down, true)) {
		const char *why = pg_now_ms() >= deadline ? "timed out" : pq.error_message(pc->c);

		log_error("postgres storage at %s: cannot connect: %.*s", q->where,
		          (int)strcspn(why, "\n"), why);
	}
	pg_conn_free(pc);
	return CF_EIO;
}

/* Takes a read connection: an idle one of the current epoch, or a new one if
 * fewer than max_readers are open, else waits for one until the timeout.
 * Returns 0 or CF_EIO / CF_ENOMEM. */
static int
pg_reader_get(struct pg_storage *q, struct pg_conn **ret)
{
	struct timespec until;
	struct pg_conn *pc, *stale = NULL;
	int r;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(q->timeout_ms / 1000);
	until.tv_nsec += (long)(q->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->pool_mu);
	for (;;) {
		while ((pc = q->idle) != NULL && pc->epoch != q->epoch) {
			q->idle = pc->next;
			q->nidle--;
			q->nreaders--;
			pc->next = stale;
			stale = pc;
		}
		if (pc != NULL) {
			q->idle = pc->next;
			q->nidle--;
			break;
		}
		if (q->nreaders < q->max_readers) {
			q->nreaders++;
			break;
		}
		if (pthread_cond_timedwait(&q->pool_cond, &q->pool_mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&q->pool_mu);
			r = CF_EIO;
			goto out;
		}
	}
	pthread_mutex_unlock(&q->pool_mu);
	r = 0;
	if (pc == NULL) {
		r = pg_connect(q, true, &pc);
		if (r < 0) {
			pthread_mutex_lock(&q->pool_mu);
			q->nreaders--;
			pthread_mutex_unlock(&q->pool_mu);
			pthread_cond_signal(&q->pool_cond);
			goto out;
		}
	}
	*ret = pc;
out:
	while ((pc = stale) != NULL) {
		stale = pc->next;
		pg_conn_free(pc);
	}
	return r;
}

/* Returns a read connection to the pool, or closes it (broken: NULL c). */
static void
pg_reader_put(struct pg_storage *q, struct pg_conn *pc, bool broken)
{
	pthread_mutex_lock(&q->pool_mu);
	if (!broken && pc->epoch == q->epoch && q->nidle < PG_MAX_IDLE) {
		pc->used = true;
		pc->next = q->idle;
		q->idle = pc;
		q->nidle++;
		pc = NULL;
	} else {
		q->nreaders--;
	}
	pthread_mutex_unlock(&q->pool_mu);
	pthread_cond_signal(&q->pool_cond);
	pg_conn_free(pc);
}

/* Runs a read pipeline on a pooled connection, once more on a fresh one if the
 * pooled one turned out broken while idle. */
static int
pg_read(struct pg_storage *q, struct pg_q *qs, size_t n)
{
	struct pg_conn *pc = NULL;
	enum pg_status st;
	bool was_used;
	int r, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		r = pg_reader_get(q, &pc);
		if (r < 0)
			return r;
		was_used = pc->used;
		st = pg_pipeline(pc->c, qs, n, pg_now_ms() + q->timeout_ms);
		if (st == PG_ELOST || st == PG_ETIMEOUT) {
			pg_reader_put(q, pc, true);
			pg_epoch_bump(q, st);
			log_error("postgres storage at %s: connection %s", q->where,
			          st == PG_ELOST ? "lost" : "timed out");
			if (st == PG_ELOST && was_used)
				continue;
			return CF_EIO;
		}
		pg_reader_put(q, pc, false);
		return st == PG_OK ? 0 : CF_EIO;
	}
	return CF_EIO;
}

static int
pg_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	struct pg_storage *q = pg_of(s);
	struct pg_q one = {.stmt = "get", .nparams = 1, .keep = true};
	uint8_t *val;
	size_t len;
	int r;

	one.vals[0] = key;
	one.lens[0] = (int)strlen(key);
	r = pg_read(q, &one, 1);
	if (r < 0)
		return r;
	if (pq.ntuples(one.res) == 0) {
		r = CF_ENOTFOUND;
		goto out;
	}
	len = (size_t)pq.getlength(one.res, 0, 0);
	val = malloc(len + 1);
	if (val == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(val, pq.getvalue(one.res, 0, 0), len);
	val[len] = '\0';
	*ret_val = val;
	*ret_len = len;
	r = 0;
out:
	pq.clear(one.res);
	return r;
}

/* The smallest string greater than every string that starts with p[0..plen),
 * written into ub with its length; false if there is none (p empty or all 0xff). */
static bool
pg_upper_bound(const char *p, size_t plen, char *ub, size_t *ret_len)
{
	size_t i = plen;

	while (i > 0 && (unsigned char)p[i - 1] == 0xff)
		i--;
	if (i == 0)
		return false;
	memcpy(ub, p, i);
	ub[i - 1] = (char)((unsigned char)ub[i - 1] + 1);
	*ret_len = i;
	return true;
}

static int
pg_list(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	struct pg_storage *q = pg_of(s);
	struct storage_keyvec kv = {0};
	struct pg_q one = {.keep = true};
	struct buf key = BUF_INIT(STORAGE_MAX_KEY + 1, 0);
	size_t plen = strlen(prefix), ublen, flen, klen;
	char *ub;
	int r, i, n;

	ub = malloc(plen + 1);
	if (ub == NULL)
		return CF_ENOMEM;
	one.vals[0] = prefix;
	one.lens[0] = (int)plen;
	if (pg_upper_bound(prefix, plen, ub, &ublen)) {
		one.stmt = "list";
		one.nparams = 2;
		one.vals[1] = ub;
		one.lens[1] = (int)ublen;
	} else {
		one.stmt = "list_to";
		one.nparams = 1;
	}
	r = pg_read(q, &one, 1);
	if (r < 0)
		goto out;
	n = pq.ntuples(one.res);
	for (i = 0; i < n; i++) {
		klen = (size_t)pq.getlength(one.res, i, 0);
		buf_reset(&key);
		r = buf_append(&key, pq.getvalue(one.res, i, 0), klen);
		if (r < 0)
			goto out;
		if (CF_NEVER(klen < plen || memcmp(buf_str(&key), prefix, plen) != 0))
			continue;
		r = storage_list_add(&kv, buf_str(&key), plen, &flen);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	pq.clear(one.res);
	free(ub);
	buf_free(&key);
	if (r < 0) {
		storage_keyvec_reset(&kv);
		return r;
	}
	*ret_keys = kv.v;
	*ret_n = kv.n;
	return 0;
}

/* Is key the fault-injection key? (test hook; one relaxed load when unset) */
static bool
pg_fault(struct pg_storage *q, const char *key)
{
	bool hit;

	if (!atomic_load_explicit(&q->has_fail_key, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&q->mu);
	hit = q->fail_key != NULL && strcmp(q->fail_key, key) == 0;
	pthread_mutex_unlock(&q->mu);
	return hit;
}

/* Runs the n requests starting at first as one transaction on the write
 * connection (opening it if needed), one pipeline: BEGIN, every op, COMMIT.
 * Returns PG_OK (committed), PG_ESTMT (rolled back), PG_ELOST / PG_ETIMEOUT
 * (connection closed; the outcome of COMMIT unknown) or PG_ENOMEM. *ret_stale
 * tells a PG_ELOST on a connection that had been idle since an earlier call. */
static enum pg_status
pg_batch(struct pg_storage *q, struct pg_req *first, size_t n, bool *ret_stale)
{
	struct pg_q *qs;
	struct pg_req *req;
	enum pg_status st;
	size_t i, j, nq = 3;
	uint64_t epoch;
	enum pg_fence fence;
	char fence_sql[sizeof(q->fence_sql)];
	bool stale;

	*ret_stale = false;
	pthread_mutex_lock(&q->mu);
	fence = q->fence;
	memcpy(fence_sql, q->fence_sql, sizeof(fence_sql));
	pthread_mutex_unlock(&q->mu);
	if (fence == PG_FENCE_OUT) {
		log_verbose("postgres storage: write refused: this node does not hold the HA lock");
		return PG_EFENCED;
	}
	for (i = 0, req = first; i < n; i++, req = req->next)
		nq += req->n;
	pthread_mutex_lock(&q->pool_mu);
	epoch = q->epoch;
	pthread_mutex_unlock(&q->pool_mu);
	if (q->wconn != NULL && q->wconn->epoch != epoch) {
		/* another connection broke since this one was last used */
		pg_conn_free(q->wconn);
		q->wconn = NULL;
	}
	if (q->wconn == NULL && pg_connect(q, true, &q->wconn) < 0)
		return PG_ELOST;
	qs = calloc(nq, sizeof(*qs));
	if (qs == NULL)
		return PG_ENOMEM;
	qs[0].sql = "BEGIN";
	nq = 1;
	if (fence == PG_FENCE_HELD)
		qs[nq++].sql = fence_sql; /* fails unless the lock is still ours */
	for (i = 0, req = first; i < n; i++, req = req->next) {
		for (j = 0; j < req->n; j++) {
			const struct storage_op *op = &req->ops[j];
			struct pg_q *x = &qs[nq++];

			x->vals[0] = op->key;
			x->lens[0] = (int)strlen(op->key);
			if (pg_fault(q, op->key)) {
				x->sql = PG_FAULT_SQL;
			} else if (op->kind == STORAGE_PUT) {
				x->stmt = "put";
				x->nparams = 2;
				/* a NULL pointer would be SQL NULL, not an empty value */
				x->vals[1] = op->len > 0 ? (const char *)op->value : "";
				x->lens[1] = (int)op->len;
			} else {
				x->stmt = "del";
				x->nparams = 1;
			}
		}
	}
	qs[nq++].sql = "COMMIT";
	stale = q->wconn->used;
	q->wconn->used = true;
	st = pg_pipeline(q->wconn->c, qs, nq, pg_now_ms() + q->timeout_ms);
	free(qs);
	if (st == PG_ESTMT && pq.transaction_status(q->wconn->c) != PQTRANS_IDLE &&
	    pg_exec1(q->wconn->c, "ROLLBACK", pg_now_ms() + q->timeout_ms) != PG_OK)
		st = PG_ELOST; /* cannot tell what state it is in: close it */
	if (st == PG_ELOST || st == PG_ETIMEOUT) {
		pg_conn_free(q->wconn);
		q->wconn = NULL;
		pg_epoch_bump(q, st);
		log_error("postgres storage at %s: write connection %s", q->where,
		          st == PG_ELOST ? "lost" : "timed out");
		*ret_stale = st == PG_ELOST && stale;
	}
	return st;
}

/* pg_batch, re-run once on a fresh connection when the connection it used had
 * broken while idle (the server restarted since): its ops, in order, are
 * idempotent, so running them again is safe whether COMMIT landed or not. */
static enum pg_status
pg_batch_retry(struct pg_storage *q, struct pg_req *first, size_t n)
{
	enum pg_status st;
	bool stale;

	st = pg_batch(q, first, n, &stale);
	if (st == PG_ELOST && stale)
		st = pg_batch(q, first, n, &stale);
	return st;
}

/* Whether writes are refused now (the lock was lost or given up). */
static bool
pg_fenced(struct pg_storage *q)
{
	bool out;

	pthread_mutex_lock(&q->mu);
	out = q->fence == PG_FENCE_OUT;
	pthread_mutex_unlock(&q->mu);
	return out;
}

/* Runs the n requests starting at first: as one transaction, or, when a
 * statement failed, each alone; sets each result. Called by whoever set busy. */
static void
pg_run(struct pg_storage *q, struct pg_req *first, size_t n)
{
	struct pg_req *req;
	enum pg_status st;
	size_t i, nops = 0, ncommits = 0, nrequests = 0, nisolated = 0;
	int64_t t0 = util_mono_ns(), avg;

	st = pg_batch_retry(q, first, n);
	if (st == PG_ESTMT && pg_fenced(q))
		st = PG_EFENCED; /* the fence failed, not a request: none may run alone */
	if (st == PG_OK) {
		for (i = 0, req = first; i < n; i++, req = req->next) {
			req->result = 0;
			nops += req->n;
		}
		ncommits = 1;
		nrequests = n;
	} else if (st == PG_ESTMT && n > 1) {
		for (i = 0, req = first; i < n; i++, req = req->next) {
			st = pg_batch_retry(q, req, 1);
			req->result = st == PG_OK ? 0 : st == PG_ENOMEM ? CF_ENOMEM : CF_EIO;
			if (st == PG_OK) {
				ncommits++;
				nrequests++;
				nops += req->n;
			} else {
				nisolated++;
			}
		}
	} else {
		for (i = 0, req = first; i < n; i++, req = req->next)
			req->result = st == PG_ENOMEM ? CF_ENOMEM : CF_EIO;
	}
	pthread_mutex_lock(&q->mu);
	q->stats.commits += ncommits;
	q->stats.requests += nrequests;
	q->stats.ops += nops;
	q->stats.isolated += nrequests > 0 ? nisolated : 0;
	pthread_mutex_unlock(&q->mu);
	if (ncommits > 0) {
		metrics_count(METRIC_STORAGE_COMMITS, (const char *[]){"postgres"}, ncommits);
		metrics_observe(METRIC_STORAGE_COMMIT_WRITES, (const char *[]){"postgres"},
		                nrequests);
	}
	avg = atomic_load_explicit(&q->commit_ns, memory_order_relaxed);
	avg += (util_mono_ns() - t0 - avg) / 8;
	atomic_store_explicit(&q->commit_ns, avg, memory_order_relaxed);
}

static void *
pg_committer(void *arg)
{
	struct pg_storage *q = arg;
	struct pg_req *first, *req, *next;
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->busy || (q->head == NULL && !q->stopping))
			pthread_cond_wait(&q->work, &q->mu);
		if (q->head == NULL)
			break; /* stopping, and the queue is drained */
		first = q->head;
		q->head = q->tail = NULL;
		q->busy = true;
		pthread_mutex_unlock(&q->mu);

		for (n = 0, req = first; req != NULL; req = req->next)
			n++;
		pg_run(q, first, n);
		/* req is gone once posted: read next first */
		for (req = first; req != NULL; req = next) {
			next = req->next;
			(void)sem_post(&req->done);
		}
		pthread_mutex_lock(&q->mu);
		q->busy = false;
		q->last_size = n;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Queues ops for the committer and waits until they are committed (or failed);
 * a lone writer commits in its own thread, as in sqlite.c. */
static int
pg_write(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct pg_storage *q = pg_of(s);
	struct pg_req req = {.ops = ops, .n = n};
	bool wake;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		pthread_mutex_unlock(&q->mu);
		return CF_EIO;
	}
	if (!q->busy && q->head == NULL && q->last_size <= 1) {
		q->busy = true;
		pthread_mutex_unlock(&q->mu);
		pg_run(q, &req, 1);
		pthread_mutex_lock(&q->mu);
		q->busy = false;
		q->last_size = 1;
		wake = q->head != NULL || q->stopping;
		pthread_mutex_unlock(&q->mu);
		if (wake)
			pthread_cond_signal(&q->work);
		return req.result;
	}
	if (sem_init(&req.done, 0, 0) != 0) {
		pthread_mutex_unlock(&q->mu);
		return CF_ENOMEM;
	}
	wake = q->head == NULL && !q->busy;
	if (q->tail != NULL)
		q->tail->next = &req;
	else
		q->head = &req;
	q->tail = &req;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->work);
	while (sem_wait(&req.done) != 0)
		; /* EINTR */
	sem_destroy(&req.done);
	return req.result;
}

static int
pg_put(struct storage *s, const char *key, const uint8_t *val, size_t len)
{
	struct storage_op op = {STORAGE_PUT, key, val, len};

	return pg_write(s, &op, 1);
}

static int
pg_del(struct storage *s, const char *key)
{
	struct storage_op op = {STORAGE_DELETE, key, NULL, 0};

	return pg_write(s, &op, 1);
}

static bool
pg_write_busy(struct storage *s)
{
	struct pg_storage *q = pg_of(s);
	bool busy;

	if (atomic_load_explicit(&q->commit_ns, memory_order_relaxed) < PG_SLOW_COMMIT_NS)
		return false;
	pthread_mutex_lock(&q->mu);
	busy = q->busy || q->head != NULL;
	pthread_mutex_unlock(&q->mu);
	return busy;
}

static void
pg_free_params(char **v, bool secret)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++) {
		if (secret)
			secmem_free_str(v[i]);
		else
			free(v[i]); /* not secret: a libpq keyword */
	}
	free(v);
}

static void
pg_close(struct storage *s)
{
	struct pg_storage *q;
	struct pg_conn *pc;

	if (s == NULL)
		return;
	q = pg_of(s);
	if (q->committer_started) {
		pthread_mutex_lock(&q->mu);
		q->stopping = true;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->committer, NULL);
		log_info("postgres: %llu commits carried %llu writes",
		         (unsigned long long)q->stats.commits,
		         (unsigned long long)q->stats.requests);
	}
	pg_conn_free(q->wconn);
	pg_conn_free(q->lconn); /* gives the HA lock up */
	pthread_mutex_destroy(&q->lock_mu);
	while ((pc = q->idle) != NULL) {
		q->idle = pc->next;
		pg_conn_free(pc);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->pool_mu);
	pthread_cond_destroy(&q->pool_cond);
	pg_free_params(q->kw, false);
	pg_free_params(q->val, true);
	free(q->fail_key); /* not secret: a storage path */
	free(q->where);
	free(q->schema);
	free(q);
}

/* Parses a small positive integer URL parameter. */
static int
pg_param_int(const char *v, size_t len, int64_t max, int64_t *ret)
{
	char tmp[16];
	int64_t x;

	if (len == 0 || len >= sizeof(tmp))
		return CF_EINVAL;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (util_parse_int(tmp, &x) < 0 || x < 1 || x > max)
		return CF_EINVAL;
	*ret = x;
	return 0;
}

static bool
pg_schema_ok(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > PG_MAX_SCHEMA || (v[0] >= '0' && v[0] <= '9'))
		return false;
	for (i = 0; i < len; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
			return false;
	return true;
}

/* Takes coffer's own parameters out of the URL's query (schema, max_connections,
 * timeout) into q, and writes what is left, for libpq, to out. */
static int
pg_parse_url(struct pg_storage *q, const char *url, struct buf *out)
{
	const char *query, *p, *amp, *eq;
	size_t nlen, vlen;
	int64_t x;
	bool first = true;
	int r;

	if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
		return CF_EINVAL;
	query = strchr(url, '?');
	r = buf_append(out, url, query ? (size_t)(query - url) : strlen(url));
	if (r < 0 || query == NULL)
		return r;
	for (p = query + 1; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		nlen = eq ? (size_t)(eq - p) : (size_t)(amp - p);
		vlen = eq ? (size_t)(amp - eq - 1) : 0;
		if (nlen == 6 && strncmp(p, "schema", 6) == 0) {
			if (eq == NULL || !pg_schema_ok(eq + 1, vlen))
				return CF_EINVAL;
			free(q->schema);
			q->schema = strndup(eq + 1, vlen);
			if (q->schema == NULL)
				return CF_ENOMEM;
		} else if (nlen == 15 && strncmp(p, "max_connections", 15) == 0) {
			if (eq == NULL || pg_param_int(eq + 1, vlen, PG_MAX_CONNS, &x) < 0)
				return CF_EINVAL;
			q->max_readers = (size_t)x;
		} else if (nlen == 7 && strncmp(p, "timeout", 7) == 0) {
			if (eq == NULL || pg_param_int(eq + 1, vlen, PG_MAX_TIMEOUT, &x) < 0)
				return CF_EINVAL;
			q->timeout_ms = x * 1000;
		} else if (amp > p) {
			r = buf_append_char(out, first ? '?' : '&');
			if (r == 0)
				r = buf_append(out, p, (size_t)(amp - p));
			if (r < 0)
				return r;
			first = false;
		}
	}
	return 0;
}

/* Builds the libpq keyword/value arrays from the parsed URL, adding coffer's
 * defaults (application name, connect timeout) where the URL sets none. */
static int
pg_build_params(struct pg_storage *q, const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, num[24];
	const char *host = NULL, *port = NULL, *db = NULL;
	bool has_ct = false;
	size_t n = 0, i = 0;
	int r = CF_ENOMEM, len;

	opts = pq.conninfo_parse(conninfo, &err);
	if (opts == NULL) {
		if (err != NULL)
			pq.freemem(err); /* says what is wrong, quoting a parameter name */
		return err != NULL ? CF_EINVAL : CF_ENOMEM;
	}
	for (o = opts; o->keyword != NULL; o++)
		n++;
	q->kw = calloc(n + 3, sizeof(char *));
	q->val = calloc(n + 3, sizeof(char *));
	if (q->kw == NULL || q->val == NULL)
		goto out;
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0)
			has_ct = true;
		else if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			host = host ? host : o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		q->kw[i] = strdup(o->keyword);
		q->val[i] = strdup(o->val);
		if (q->kw[i] == NULL || q->val[i] == NULL)
			goto out;
		i++;
	}
	q->kw[i] = strdup("fallback_application_name");
	q->val[i] = strdup("coffer-storage");
	if (q->kw[i] == NULL || q->val[i] == NULL)
		goto out;
	i++;
	if (!has_ct) {
		(void)snprintf(num, sizeof(num), "%lld", (long long)(q->timeout_ms / 1000));
		q->kw[i] = strdup("connect_timeout");
		q->val[i] = strdup(num);
		if (q->kw[i] == NULL || q->val[i] == NULL)
			goto out;
	}
	len = asprintf(&q->where, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
	               db ? db : "(default)");
	if (len < 0) {
		q->where = NULL;
		goto out;
	}
	r = 0;
out:
	/* the options hold the password too */
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			secmem_wipe(o->val, strlen(o->val));
	pq.conninfo_free(opts);
	return r;
}

/* Creates the schema and the table unless they exist (checked first, so a role
 * without CREATE can use a store made for it), under an advisory lock. */
static int
pg_create_schema(struct pg_storage *q, PGconn *c)
{
	char sql[512];
	char ddl_schema[128], ddl_table[256];
	struct pg_q qs[5] = {0};
	const char *vals[2];
	int64_t deadline = pg_now_ms() + q->timeout_ms;
	bool has_schema, has_table;
	enum pg_status st;
	size_t n = 0;
	int len;

	len = snprintf(sql, sizeof(sql),
	               "SELECT to_regnamespace('\"%s\"') IS NOT NULL, "
	               "to_regclass('\"%s\".coffer_kv') IS NOT NULL",
	               q->schema, q->schema);
	if (len < 0 || (size_t)len >= sizeof(sql))
		return CF_EINVAL;
	qs[0].sql = sql;
	qs[0].keep = true;
	if (pg_pipeline(c, qs, 1, deadline) != PG_OK)
		return CF_EIO;
	/* binary bool: one byte */
	vals[0] = pq.getvalue(qs[0].res, 0, 0);
	vals[1] = pq.getvalue(qs[0].res, 0, 1);
	has_schema = vals[0] != NULL && vals[0][0] != 0;
	has_table = vals[1] != NULL && vals[1][0] != 0;
	pq.clear(qs[0].res);
	if (has_table)
		return 0;
	memset(qs, 0, sizeof(qs));
	qs[n++].sql = "BEGIN";
	qs[n++].sql = "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK_KEY ")";
	if (!has_schema) {
		(void)snprintf(ddl_schema, sizeof(ddl_schema), "CREATE SCHEMA IF NOT EXISTS \"%s\"",
		               q->schema);
		qs[n++].sql = ddl_schema;
	}
	(void)snprintf(ddl_table, sizeof(ddl_table),
	               "CREATE TABLE IF NOT EXISTS \"%s\".coffer_kv "
	               "(key bytea PRIMARY KEY, value bytea NOT NULL)",
	               q->schema);
	qs[n++].sql = ddl_table;
	qs[n++].sql = "COMMIT";
	st = pg_pipeline(c, qs, n, deadline);
	if (st != PG_OK) {
		log_error("postgres storage at %s: cannot create table \"%s\".coffer_kv", q->where,
		          q->schema);
		return CF_EIO;
	}
	return 0;
}

/* Writes the schema-qualified statements into q. */
static int
pg_build_sql(struct pg_storage *q)
{
	/* The loose index scan behind list: from each key found, seek to the next
	 * one past it, or past its whole folder (prefix + name + '0', as '0' is
	 * '/' + 1) when the key lies deeper than the prefix. $1 is the prefix. */
#define PG_NEXT                                                                                    \
	"CASE WHEN position(decode('2f','hex') IN substring(t.k FROM length($1) + 1)) = 0 "        \
	"THEN t.k || decode('00','hex') "                                                          \
	"ELSE substring(t.k FROM 1 FOR length($1) + "                                              \
	"position(decode('2f','hex') IN substring(t.k FROM length($1) + 1)) - 1) "                 \
	"|| decode('30','hex') END"
	const char *t = q->schema;
	int n[5];

	n[0] = snprintf(q->sql_get, sizeof(q->sql_get),
	                "SELECT value FROM \"%s\".coffer_kv WHERE key = $1", t);
	n[1] = snprintf(q->sql_put, sizeof(q->sql_put),
	                "INSERT INTO \"%s\".coffer_kv(key, value) VALUES ($1, $2) "
	                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
	                t);
	n[2] = snprintf(q->sql_del, sizeof(q->sql_del),
	                "DELETE FROM \"%s\".coffer_kv WHERE key = $1", t);
	n[3] = snprintf(q->sql_list, sizeof(q->sql_list),
	                "WITH RECURSIVE t(k) AS ("
	                "(SELECT key FROM \"%s\".coffer_kv WHERE key >= $1 AND key < $2 "
	                "ORDER BY key LIMIT 1) UNION ALL "
	                "SELECT (SELECT key FROM \"%s\".coffer_kv WHERE key >= " PG_NEXT
	                " AND key < $2 ORDER BY key LIMIT 1) FROM t WHERE t.k IS NOT NULL) "
	                "SELECT k FROM t WHERE k IS NOT NULL",
	                t, t);
	n[4] = snprintf(q->sql_list_to, sizeof(q->sql_list_to),
	                "WITH RECURSIVE t(k) AS ("
	                "(SELECT key FROM \"%s\".coffer_kv WHERE key >= $1 "
	                "ORDER BY key LIMIT 1) UNION ALL "
	                "SELECT (SELECT key FROM \"%s\".coffer_kv WHERE key >= " PG_NEXT
	                " ORDER BY key LIMIT 1) FROM t WHERE t.k IS NOT NULL) "
	                "SELECT k FROM t WHERE k IS NOT NULL",
	                t, t);
#undef PG_NEXT
	if (n[0] >= (int)sizeof(q->sql_get) || n[1] >= (int)sizeof(q->sql_put) ||
	    n[2] >= (int)sizeof(q->sql_del) || n[3] >= (int)sizeof(q->sql_list) ||
	    n[4] >= (int)sizeof(q->sql_list_to))
		return CF_EINTERNAL;
	return 0;
}

static int
pg_open(const char *url, struct storage **ret)
{
	struct pg_storage *q;
	struct buf conninfo = BUF_INIT(8192, BUF_SECRET);
	struct pg_conn *pc = NULL;
	sigset_t all, old;
	int r, rc;

	if (url == NULL || *url == '\0')
		return CF_EINVAL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return CF_ENOMEM;
	q->base.ops = &storage_postgres_ops;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_mutex_init(&q->pool_mu, NULL);
	pthread_cond_init(&q->pool_cond, NULL);
	pthread_mutex_init(&q->lock_mu, NULL);
	atomic_init(&q->has_fail_key, false);
	atomic_init(&q->commit_ns, 0);
	atomic_init(&q->down, false);
	atomic_init(&q->hold_off_until, 0);
	q->timeout_ms = PG_DEFAULT_TIMEOUT * 1000;
	q->max_readers = PG_DEFAULT_CONNS;
	r = pg_parse_url(q, url, &conninfo);
	if (r < 0)
		goto out;
	if (q->schema == NULL) {
		q->schema = strdup(PG_DEFAULT_SCHEMA);
		if (q->schema == NULL) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	/* one of the connections is the writer's */
	q->max_readers = q->max_readers > 1 ? q->max_readers - 1 : 1;
	r = pg_build_sql(q);
	if (r < 0)
		goto out;
	q->lock_key = (int32_t)(util_fnv1a_str(q->schema) & 0x7fffffff);
	r = pq_load();
	if (r < 0) {
		log_error("postgres storage: cannot load %s (libpq 14 or newer)", PG_SONAME);
		goto out;
	}
	r = pg_build_params(q, buf_str(&conninfo));
	if (r < 0)
		goto out;
	r = pg_connect(q, false, &pc);
	if (r < 0)
		goto out;
	r = pg_create_schema(q, pc->c);
	if (r < 0)
		goto out;
	if (pg_prepare(q, pc->c, pg_now_ms() + q->timeout_ms) != PG_OK) {
		r = CF_EIO;
		goto out;
	}
	q->wconn = pc;
	pc = NULL;
	/* The committer takes no signals: the daemon handles them in one place. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->committer, NULL, pg_committer, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)pthread_setname_np(q->committer, "coffer-pgcommit");
	q->committer_started = true;
	r = 0;
out:
	buf_free(&conninfo);
	pg_conn_free(pc);
	if (r < 0) {
		pg_close(&q->base);
		return r;
	}
	*ret = &q->base;
	return 0;
}

void
storage_postgres_stats(struct storage *s, struct storage_postgres_stats *ret)
{
	struct pg_storage *q = pg_of(s);

	pthread_mutex_lock(&q->mu);
	*ret = q->stats;
	pthread_mutex_unlock(&q->mu);
}

int
storage_postgres_fail_key(struct storage *s, const char *key)
{
	struct pg_storage *q = pg_of(s);
	char *copy = NULL, *old;

	if (key != NULL) {
		copy = strdup(key);
		if (copy == NULL)
			return CF_ENOMEM;
	}
	pthread_mutex_lock(&q->mu);
	old = q->fail_key;
	q->fail_key = copy;
	atomic_store(&q->has_fail_key, copy != NULL);
	pthread_mutex_unlock(&q->mu);
	free(old); /* not secret: a storage path */
	return 0;
}

/* ---- HA lock. The lock is a session advisory lock, pg_try_advisory_lock(
 * PG_HA_CLASS, lock_key), held by a dedicated connection (lconn): it is released
 * the moment that session ends, whatever the reason (the node died, the
 * connection was cut, pg_terminate_backend), so a standby can take it at once.
 * The holder also bumps a fencing epoch in the one row of "<schema>".coffer_ha
 * (id 1: epoch, holder's address, holder's backend pid, since) and from then on
 * every write transaction starts with fence_sql, which fails (division by zero)
 * unless that row still has this node's epoch AND pg_locks still shows this
 * node's lock session holding the lock. The row is read FOR SHARE: a new
 * holder's epoch bump waits until every write transaction that passed the check
 * has ended, so a write of the old holder either commits before the new holder
 * takes over (and the new holder, which loads its state after the bump, sees
 * it) or fails; the pg_locks test refuses writes as soon as the old lock session
 * is gone, without waiting for a new holder. */

/* Runs sql on the lock connection; *ret_res keeps the result when wanted. */
static enum pg_status
pg_lock_exec(struct pg_storage *q, const char *sql, int64_t deadline, PGresult **ret_res)
{
	struct pg_q one = {.sql = sql, .keep = ret_res != NULL};
	enum pg_status st = pg_pipeline(q->lconn->c, &one, 1, deadline);

	if (ret_res != NULL)
		*ret_res = st == PG_OK ? one.res : NULL;
	return st;
}

/* A binary big-endian integer of len bytes from a result cell. */
static int64_t
pg_cell_int(PGresult *res, int row, int col)
{
	const unsigned char *p = (const unsigned char *)pq.getvalue(res, row, col);
	int len = pq.getlength(res, row, col);
	uint64_t v = 0;

	for (int i = 0; i < len && i < 8; i++)
		v = v << 8 | p[i];
	if (len == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

static void
pg_lock_drop(struct pg_storage *q)
{
	pthread_mutex_lock(&q->mu);
	q->fence = PG_FENCE_OUT;
	pthread_mutex_unlock(&q->mu);
	pg_conn_free(q->lconn);
	q->lconn = NULL;
}

/* Opens the lock connection and makes sure the coffer_ha table exists. */
static int
pg_lock_connect(struct pg_storage *q)
{
	char sql[256];
	struct pg_q qs[4] = {0};
	int r;

	r = pg_connect(q, false, &q->lconn);
	if (r < 0)
		return r;
	(void)snprintf(sql, sizeof(sql),
	               "CREATE TABLE IF NOT EXISTS \"%s\".coffer_ha (id int PRIMARY KEY, "
	               "epoch bigint NOT NULL, holder text NOT NULL, pid int NOT NULL, "
	               "since bigint NOT NULL)",
	               q->schema);
	qs[0].sql = "BEGIN";
	qs[1].sql = "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK_KEY ")";
	qs[2].sql = sql;
	qs[3].sql = "COMMIT";
	if (pg_lock_exec(q, "SET application_name = 'coffer-ha-lock'", pg_now_ms() + q->timeout_ms,
	                 NULL) != PG_OK ||
	    pg_pipeline(q->lconn->c, qs, 4, pg_now_ms() + q->timeout_ms) != PG_OK) {
		pg_conn_free(q->lconn);
		q->lconn = NULL;
		return CF_EIO;
	}
	return 0;
}

/* Takes the lock if free; on success bumps the epoch and arms the fence. */
static int
pg_lock_acquire(struct storage *s, const char *advertise, bool *ret_acquired)
{
	struct pg_storage *q = pg_of(s);
	char sql[1024];
	PGresult *res = NULL;
	int64_t deadline, pid, epoch;
	bool got;
	int r = 0, n;

	*ret_acquired = false;
	if (advertise == NULL || strpbrk(advertise, "'\\") != NULL || strlen(advertise) > 512)
		return CF_EINVAL;
	pthread_mutex_lock(&q->lock_mu);
	if (q->lconn == NULL) {
		pthread_mutex_lock(&q->mu);
		q->fence = PG_FENCE_OUT; /* a standby from the first try on */
		pthread_mutex_unlock(&q->mu);
		r = pg_lock_connect(q);
		if (r < 0)
			goto out;
	}
	deadline = pg_now_ms() + q->timeout_ms;
	(void)snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d, %d), pg_backend_pid()",
	               PG_HA_CLASS, (int)q->lock_key);
	if (pg_lock_exec(q, sql, deadline, &res) != PG_OK) {
		pg_lock_drop(q);
		r = CF_EIO;
		goto out;
	}
	got = pq.getlength(res, 0, 0) == 1 && pq.getvalue(res, 0, 0)[0] != 0;
	pid = pg_cell_int(res, 0, 1);
	pq.clear(res);
	if (!got)
		goto out;
	(void)snprintf(sql, sizeof(sql),
	               "INSERT INTO \"%s\".coffer_ha AS h VALUES (1, 1, '%s', %lld, "
	               "extract(epoch FROM now())::bigint) ON CONFLICT (id) DO UPDATE SET "
	               "epoch = h.epoch + 1, holder = EXCLUDED.holder, pid = EXCLUDED.pid, "
	               "since = EXCLUDED.since RETURNING epoch",
	               q->schema, advertise, (long long)pid);
	if (pg_lock_exec(q, sql, deadline, &res) != PG_OK) {
		pg_lock_drop(q); /* ends the session: the lock goes with it */
		r = CF_EIO;
		goto out;
	}
	epoch = pg_cell_int(res, 0, 0);
	pq.clear(res);
	pthread_mutex_lock(&q->mu);
	n = snprintf(q->fence_sql, sizeof(q->fence_sql),
	             "SELECT 1 / (SELECT count(*)::int FROM (SELECT 1 FROM \"%s\".coffer_ha h "
	             "WHERE h.id = 1 AND h.epoch = %lld AND EXISTS (SELECT 1 FROM "
	             "pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.classid = %d "
	             "AND l.objid = %d AND l.objsubid = 2 AND l.pid = %lld AND l.granted) "
	             "FOR SHARE OF h) x)",
	             q->schema, (long long)epoch, PG_HA_CLASS, (int)q->lock_key, (long long)pid);
	q->fence = n > 0 && (size_t)n < sizeof(q->fence_sql) ? PG_FENCE_HELD : PG_FENCE_OUT;
	got = q->fence == PG_FENCE_HELD;
	pthread_mutex_unlock(&q->mu);
	if (!got) {
		pg_lock_drop(q);
		r = CF_EINTERNAL;
		goto out;
	}
	log_info("postgres storage at %s: HA lock acquired (epoch %lld)", q->where,
	         (long long)epoch);
	*ret_acquired = true;
out:
	pthread_mutex_unlock(&q->lock_mu);
	return r;
}

/* A cheap round trip on the lock connection: if the session is gone, so is
 * the lock. */
static int
pg_lock_check(struct storage *s)
{
	struct pg_storage *q = pg_of(s);
	int64_t wait = q->timeout_ms < PG_HA_CHECK_MS ? q->timeout_ms : PG_HA_CHECK_MS;
	int r = 0;

	pthread_mutex_lock(&q->lock_mu);
	pthread_mutex_lock(&q->mu);
	if (q->fence != PG_FENCE_HELD)
		r = CF_EIO;
	pthread_mutex_unlock(&q->mu);
	if (r == 0 &&
	    (q->lconn == NULL || pg_lock_exec(q, "SELECT 1", pg_now_ms() + wait, NULL) != PG_OK)) {
		log_error("postgres storage at %s: HA lock connection lost: lock lost", q->where);
		pg_lock_drop(q);
		r = CF_EIO;
	}
	pthread_mutex_unlock(&q->lock_mu);
	return r;
}

static void
pg_lock_release(struct storage *s)
{
	struct pg_storage *q = pg_of(s);

	pthread_mutex_lock(&q->lock_mu);
	if (q->lconn != NULL)
		log_info("postgres storage at %s: HA lock released", q->where);
	pg_lock_drop(q); /* the session ends: so does the lock */
	pthread_mutex_unlock(&q->lock_mu);
}

/* The advertised address of the node whose lock session is alive. */
static int
pg_lock_leader(struct storage *s, char *buf, size_t len)
{
	struct pg_storage *q = pg_of(s);
	char sql[512];
	struct pg_q one = {.sql = sql, .keep = true};
	int r, l;

	(void)snprintf(sql, sizeof(sql),
	               "SELECT h.holder FROM \"%s\".coffer_ha h WHERE h.id = 1 AND EXISTS "
	               "(SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND "
	               "l.classid = %d AND l.objid = %d AND l.objsubid = 2 AND l.pid = h.pid "
	               "AND l.granted)",
	               q->schema, PG_HA_CLASS, (int)q->lock_key);
	r = pg_read(q, &one, 1); /* the table exists: every node's first try creates it */
	if (r < 0)
		return r;
	if (pq.ntuples(one.res) != 1) {
		r = CF_ENOTFOUND;
	} else {
		l = pq.getlength(one.res, 0, 0);
		if ((size_t)l >= len)
			l = (int)len - 1;
		memcpy(buf, pq.getvalue(one.res, 0, 0), (size_t)l);
		buf[l] = '\0';
	}
	pq.clear(one.res);
	return r;
}

const struct storage_ops storage_postgres_ops = {
        .name = "postgres",
        .open = pg_open,
        .close = pg_close,
        .get = pg_get,
        .put = pg_put,
        .del = pg_del,
        .list = pg_list,
        .txn = pg_write,
        .lock_acquire = pg_lock_acquire,
        .lock_release = pg_lock_release,
        .lock_check = pg_lock_check,
        .lock_leader = pg_lock_leader,
        .write_busy = pg_write_busy,
};
