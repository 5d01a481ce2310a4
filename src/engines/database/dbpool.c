/* dbpool.c - PostgreSQL connection pool with bounded, non-blocking I/O (see
 * dbpool.h). */
#include "engines/database/dbpool.h"

#include "engines/database/dbtext.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLICE_MS 100 /* how often waits look at the pool's down flag */

struct dbconn {
	PGconn *pg;
	int64_t born; /* unix seconds */
	struct dbconn *next;
};

struct dbpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool closed;
	char *conninfo; /* SECRET */
	char *secrets[2];
	int max_open, max_idle;
	int64_t max_lifetime;
	int nopen; /* idle + busy + being opened */
	int nidle;
	struct dbconn *idle; /* most recently used first */
	int64_t down_since;  /* monotonic ms of the last hang detected, 0 = never */
	int64_t abort_at;    /* monotonic ms of the last interrupt (seal), 0 = never */
	int64_t down_until;  /* monotonic ms: fail at once until then */
};

struct dbtx {
	struct dbpool *p;
	struct dbconn *c;
	int64_t start; /* monotonic ms */
	bool broken;
	bool committing; /* its COMMIT is in flight: a seal does not interrupt it */
};

static int64_t
mono_ms(void)
{
	return util_mono_ns() / 1000000;
}

static void
notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs ("role does not exist, skipping") are not errors */
}

static char *
scrubbed(struct dbpool *p, const char *msg, const char *const *extra, size_t n)
{
	const char *all[2 + 8];
	size_t k = 0;
	char *out, *nl;

	all[k++] = p->secrets[0];
	all[k++] = p->secrets[1];
	for (size_t i = 0; i < n && k < sizeof(all) / sizeof(all[0]); i++)
		all[k++] = extra[i];
	out = dbtext_scrub(msg, all, k);
	if (!out)
		return NULL;
	/* libpq ends messages with a newline; drop trailing blanks */
	nl = out + strlen(out);
	while (nl > out && (nl[-1] == '\n' || nl[-1] == ' ' || nl[-1] == '\r'))
		*--nl = '\0';
	return out;
}

static void
set_err(char **ret_err, const char *msg)
{
	if (!ret_err)
		return;
	secmem_free_str(*ret_err);
	*ret_err = strdup(msg);
}

/* ---- the down flag ---- */

static void
pool_mark_down(struct dbpool *p)
{
	int64_t now = mono_ms();

	pthread_mutex_lock(&p->mu);
	p->down_since = now;
	p->down_until = now + DBPOOL_DOWN_MS;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* True when a hang was detected after start, or (with interruptible) a seal
 * interrupted the pool since: the operation should give up. */
static bool
pool_gives_up(struct dbpool *p, int64_t start, bool interruptible)
{
	bool down;

	pthread_mutex_lock(&p->mu);
	down = (p->down_since > 0 && p->down_since >= start) ||
	       (interruptible && p->abort_at > 0 && p->abort_at >= start);
	pthread_mutex_unlock(&p->mu);
	return down;
}

static bool
pool_down_after(struct dbpool *p, int64_t start)
{
	return pool_gives_up(p, start, true);
}

/* Whether tx should give up. A COMMIT in flight is not interrupted by a seal:
 * giving up then would leave its outcome unknown, and a revocation that
 * PostgreSQL committed would count as failed and run again after unseal. It is
 * one short round trip, still bounded by the hang probe and the statement
 * timeout. */
static bool
tx_gives_up(const struct dbtx *tx)
{
	return pool_gives_up(tx->p, tx->start, !tx->committing);
}

void
dbpool_interrupt(struct dbpool *p)
{
	pthread_mutex_lock(&p->mu);
	p->abort_at = mono_ms();
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* ---- lifetime ---- */

int
dbpool_new(const struct dbpool_opts *o, struct dbpool **ret)
{
	struct dbpool *p;
	int r;

	r = pg_dl_load();
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return CF_ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->refs = 1;
	p->max_open = o->max_open > 0 ? o->max_open : 4;
	p->max_idle = o->max_idle > 0 ? o->max_idle : p->max_open;
	if (p->max_idle > p->max_open)
		p->max_idle = p->max_open;
	p->max_lifetime = o->max_lifetime;
	p->conninfo = strdup(o->conninfo);
	for (int i = 0; i < 2; i++)
		if (o->secrets[i] && *o->secrets[i])
			p->secrets[i] = strdup(o->secrets[i]);
	if (!p->conninfo) {
		dbpool_unref(p);
		return CF_ENOMEM;
	}
	*ret = p;
	return 0;
}

void
dbpool_ref(struct dbpool *p)
{
	pthread_mutex_lock(&p->mu);
	p->refs++;
	pthread_mutex_unlock(&p->mu);
}

static void
conn_free(struct dbconn *c)
{
	if (!c)
		return;
	if (c->pg)
		pg_dl.finish(c->pg);
	free(c);
}

void
dbpool_unref(struct dbpool *p)
{
	struct dbconn *c, *next;
	int left;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	left = --p->refs;
	pthread_mutex_unlock(&p->mu);
	if (left > 0)
		return;
	for (c = p->idle; c; c = next) {
		next = c->next;
		conn_free(c);
	}
	secmem_free_str(p->conninfo);
	secmem_free_str(p->secrets[0]);
	secmem_free_str(p->secrets[1]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void
dbpool_close(struct dbpool *p)
{
	struct dbconn *c, *next, *list;

	pthread_mutex_lock(&p->mu);
	p->closed = true;
	list = p->idle;
	p->idle = NULL;
	p->nopen -= p->nidle;
	p->nidle = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (c = list; c; c = next) {
		next = c->next;
		conn_free(c);
	}
}

bool
dbpool_closed(struct dbpool *p)
{
	bool closed;

	pthread_mutex_lock(&p->mu);
	closed = p->closed;
	pthread_mutex_unlock(&p->mu);
	return closed;
}

/* ---- connecting ---- */

/* Waits until fd is ready for events or ms pass. Returns poll's revents (0 on
 * timeout), or -1 on error. */
static int
wait_fd(int fd, short events, int64_t ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int r;

	if (fd < 0)
		return -1;
	if (ms < 0)
		ms = 0;
	do {
		r = poll(&pfd, 1, (int)ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	return r == 0 ? 0 : pfd.revents;
}

/* Opens a connection, giving the handshake DBPOOL_HANDSHAKE_MS. When abort_start
 * is non-zero the attempt also gives up once the pool is marked down after
 * abort_start. *ret_hung tells a handshake that got no answer in time (the pool
 * is then marked down). Returns 0, or CF_EUPSTREAM / CF_ENOMEM with the
 * scrubbed reason in *ret_err. */
static int
conn_open(struct dbpool *p, int64_t abort_start, struct dbconn **ret, bool *ret_hung,
          char **ret_err)
{
	const char *const kw[] = {"application_name", "dbname", NULL};
	const char *const val[] = {"coffer", p->conninfo, NULL};
	int64_t deadline = mono_ms() + DBPOOL_HANDSHAKE_MS;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct dbconn *c = calloc(1, sizeof(*c));
	char msg[160];

	if (ret_hung)
		*ret_hung = false;
	if (!c)
		return CF_ENOMEM;
	c->pg = pg_dl.connect_start_params(kw, val, 1);
	if (!c->pg) {
		free(c);
		set_err(ret_err, "out of memory");
		return CF_ENOMEM;
	}
	if (pg_dl.status(c->pg) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK) {
		int64_t left = deadline - mono_ms();
		int ev;

		if (st == PGRES_POLLING_FAILED) {
			if (ret_err) {
				secmem_free_str(*ret_err);
				*ret_err = scrubbed(p, pg_dl.error_message(c->pg), NULL, 0);
			}
			conn_free(c);
			return CF_EUPSTREAM;
		}
		if (left <= 0) {
			snprintf(msg, sizeof(msg),
			         "timeout expired: the database did not answer within %d ms",
			         DBPOOL_HANDSHAKE_MS);
			set_err(ret_err, msg);
			if (ret_hung)
				*ret_hung = true;
			conn_free(c);
			return CF_EUPSTREAM;
		}
		if (abort_start && pool_down_after(p, abort_start)) {
			set_err(ret_err, "the database is not responding");
			conn_free(c);
			return CF_EUPSTREAM;
		}
		ev = wait_fd(pg_dl.socket(c->pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		             left < SLICE_MS ? left : SLICE_MS);
		if (ev != 0)
			st = pg_dl.connect_poll(c->pg);
	}
	if (pg_dl.set_nonblocking(c->pg, 1) != 0) {
		set_err(ret_err, "could not make the connection non-blocking");
		conn_free(c);
		return CF_EUPSTREAM;
	}
	(void)pg_dl.set_notice_processor(c->pg, notice_ignore, NULL);
	c->born = util_now();
	*ret = c;
	return 0;
}

int
dbpool_ping(struct dbpool *p, char **ret_err)
{
	struct dbconn *c = NULL;
	int r;

	r = conn_open(p, 0, &c, NULL, ret_err);
	if (r < 0)
		return r;
	conn_free(c);
	return 0;
}

/* Is the server alive? A fresh handshake that gets no answer in time says no
 * (a server that answers at all, even with an error, is alive). */
static bool
probe_alive(struct dbpool *p)
{
	struct dbconn *c = NULL;
	char *err = NULL;
	bool hung = false;

	if (conn_open(p, 0, &c, &hung, &err) == 0)
		conn_free(c);
	secmem_free_str(err);
	return !hung;
}

/* ---- the pool ---- */

/* Takes an idle connection or opens one. *ret_reused tells which. */
static int
pool_acquire(struct dbpool *p, int64_t start, struct dbconn **ret, bool *ret_reused, char **ret_err)
{
	int64_t deadline = start + DBPOOL_WAIT_MS;
	struct dbconn *c = NULL;
	bool hung = false;
	int r;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		int64_t now = mono_ms();
		struct timespec ts;

		if (p->closed) {
			pthread_mutex_unlock(&p->mu);
			set_err(ret_err, "connection pool closed (the configuration changed)");
			return CF_EUPSTREAM;
		}
		if (now < p->down_until || (p->down_since > 0 && p->down_since >= start)) {
			pthread_mutex_unlock(&p->mu);
			set_err(ret_err, "the database is not responding");
			return CF_EUPSTREAM;
		}
		if (p->abort_at > 0 && p->abort_at >= start) {
			pthread_mutex_unlock(&p->mu);
			set_err(ret_err, "interrupted: the server is sealing");
			return CF_EUPSTREAM;
		}
		while (p->idle) {
			c = p->idle;
			p->idle = c->next;
			p->nidle--;
			if (p->max_lifetime > 0 && util_now() - c->born >= p->max_lifetime) {
				p->nopen--;
				pthread_mutex_unlock(&p->mu);
				conn_free(c);
				c = NULL;
				pthread_mutex_lock(&p->mu);
				continue;
			}
			break;
		}
		if (c) {
			pthread_mutex_unlock(&p->mu);
			c->next = NULL;
			*ret = c;
			*ret_reused = true;
			return 0;
		}
		if (p->nopen < p->max_open)
			break;
		if (now >= deadline) {
			pthread_mutex_unlock(&p->mu);
			set_err(ret_err, "timed out waiting for a free database connection");
			return CF_EUPSTREAM;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	p->nopen++; /* reserve the slot, connect without the lock */
	pthread_mutex_unlock(&p->mu);
	r = conn_open(p, start, &c, &hung, ret_err);
	if (hung)
		pool_mark_down(p);
	if (r < 0) {
		pthread_mutex_lock(&p->mu);
		p->nopen--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return r;
	}
	*ret = c;
	*ret_reused = false;
	return 0;
}

static void
pool_release(struct dbpool *p, struct dbconn *c, bool broken)
{
	bool keep;

	if (!broken && pg_dl.status(c->pg) != CONNECTION_OK)
		broken = true;
	if (!broken && pg_dl.transaction_status(c->pg) != PQTRANS_IDLE)
		broken = true; /* never hand out a connection inside a transaction */
	pthread_mutex_lock(&p->mu);
	keep = !broken && !p->closed && p->nidle < p->max_idle &&
	       !(p->max_lifetime > 0 && util_now() - c->born >= p->max_lifetime);
	if (keep) {
		c->next = p->idle;
		p->idle = c;
		p->nidle++;
	} else {
		p->nopen--;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (!keep)
		conn_free(c);
}

/* ---- statements ---- */

/* The driver's message for a failed result: severity, primary message and
 * detail, without the statement excerpt ("LINE 1: ...") that verbose messages
 * carry, since it may quote a password. Returns a new string or NULL. */
static char *
result_message(PGconn *conn, PGresult *res, const char *fallback)
{
	const char *sev, *prim, *det;
	char *out = NULL;

	if (!res) {
		const char *m = pg_dl.error_message(conn);
		return strdup(m && *m ? m : fallback);
	}
	sev = pg_dl.result_error_field(res, PG_DIAG_SEVERITY);
	prim = pg_dl.result_error_field(res, PG_DIAG_MESSAGE_PRIMARY);
	det = pg_dl.result_error_field(res, PG_DIAG_MESSAGE_DETAIL);
	if (!prim) {
		const char *m = pg_dl.result_error_message(res);
		if (!m || !*m)
			m = pg_dl.error_message(conn);
		return strdup(m && *m ? m : fallback);
	}
	if (asprintf(&out, "%s: %s%s%s", sev ? sev : "ERROR", prim, det ? " DETAIL: " : "",
	             det ? det : "") < 0)
		out = NULL;
	return out;
}

static bool
result_ok(PGresult *res)
{
	ExecStatusType st = pg_dl.result_status(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* Sends one statement (with one text parameter when param is set) and waits for
 * all its results, bounded as dbpool.h says. Returns 0 and the result to judge
 * in *ret_res (the first failed one, else the last), or CF_EUPSTREAM with
 * tx->broken set and *ret_err. */
static int
run_async(struct dbtx *tx, const char *sql, const char *param, PGresult **ret_res, char **ret_err)
{
	PGconn *pg = tx->c->pg;
	const char *const params[1] = {param};
	int64_t t0 = mono_ms(), last_probe = 0;
	PGresult *keep = NULL;
	int sent, f;
	char msg[160];

	if (param)
		sent = pg_dl.send_query_params(pg, sql, 1, NULL, params, NULL, NULL, 0);
	else
		sent = pg_dl.send_query(pg, sql);
	if (!sent)
		goto broken;
	while ((f = pg_dl.flush(pg)) == 1) {
		int ev = wait_fd(pg_dl.socket(pg), POLLIN | POLLOUT, SLICE_MS);
		if (ev < 0)
			goto broken;
		if ((ev & POLLIN) && !pg_dl.consume_input(pg))
			goto broken;
		if (tx_gives_up(tx))
			goto hung;
		if (mono_ms() - t0 > DBPOOL_STMT_MAX_MS)
			goto timeout;
	}
	if (f < 0)
		goto broken;
	for (;;) {
		int64_t now;
		int ev;

		while (!pg_dl.is_busy(pg)) {
			PGresult *r = pg_dl.get_result(pg);
			if (!r) {
				if (!keep)
					goto broken;
				*ret_res = keep;
				return 0;
			}
			if (!keep || (!result_ok(r) && result_ok(keep))) {
				if (keep)
					pg_dl.clear(keep);
				keep = r;
			} else if (result_ok(keep) && result_ok(r)) {
				pg_dl.clear(keep);
				keep = r;
			} else {
				pg_dl.clear(r);
			}
		}
		now = mono_ms();
		if (tx_gives_up(tx))
			goto hung;
		if (now - t0 > DBPOOL_STMT_MAX_MS)
			goto timeout;
		if (now - t0 >= DBPOOL_PROBE_AFTER_MS &&
		    now - last_probe >= DBPOOL_PROBE_EVERY_MS) {
			last_probe = now;
			if (!probe_alive(tx->p)) {
				pool_mark_down(tx->p);
				goto hung;
			}
			continue;
		}
		ev = wait_fd(pg_dl.socket(pg), POLLIN, SLICE_MS);
		if (ev < 0 || (ev != 0 && !pg_dl.consume_input(pg)))
			goto broken;
	}
broken:
	set_err(ret_err, pg_dl.error_message(pg) && *pg_dl.error_message(pg)
	                         ? pg_dl.error_message(pg)
	                         : "the connection to the database broke");
	goto fail;
hung:
	set_err(ret_err, "the database is not responding");
	goto fail;
timeout:
	snprintf(msg, sizeof(msg), "statement timed out after %d s", DBPOOL_STMT_MAX_MS / 1000);
	set_err(ret_err, msg);
fail:
	if (keep)
		pg_dl.clear(keep);
	tx->broken = true;
	return CF_EUPSTREAM;
}

int
dbpool_exec(struct dbtx *tx, const char *sql, char **ret_err)
{
	PGresult *res = NULL;
	int r;

	r = run_async(tx, sql, NULL, &res, ret_err);
	if (r < 0)
		return r;
	if (!result_ok(res)) {
		secmem_free_str(*ret_err);
		*ret_err = result_message(tx->c->pg, res, "statement failed");
		r = pg_dl.status(tx->c->pg) == CONNECTION_OK ? CF_EINVAL : CF_EUPSTREAM;
	}
	pg_dl.clear(res);
	return r;
}

int
dbpool_query(struct dbtx *tx, const char *sql, const char *param, int *ret_rows, char **ret_err)
{
	PGresult *res = NULL;
	int r;

	r = run_async(tx, sql, param, &res, ret_err);
	if (r < 0)
		return r;
	if (pg_dl.result_status(res) != PGRES_TUPLES_OK) {
		secmem_free_str(*ret_err);
		*ret_err = result_message(tx->c->pg, res, "query failed");
		r = pg_dl.status(tx->c->pg) == CONNECTION_OK ? CF_EINVAL : CF_EUPSTREAM;
	} else {
		*ret_rows = pg_dl.ntuples(res);
	}
	pg_dl.clear(res);
	return r;
}

int
dbpool_txn(struct dbpool *p, dbpool_txn_fn fn, void *arg, const char *const *secrets, size_t n,
           char **ret_err)
{
	char *err = NULL;
	int r, attempts = 0;
	int64_t start = mono_ms();

	for (;;) {
		struct dbtx tx = {.p = p, .start = start};
		bool reused = false;

		r = pool_acquire(p, start, &tx.c, &reused, &err);
		if (r < 0)
			break;
		r = dbpool_exec(&tx, "BEGIN", &err);
		if (r < 0) {
			/* A stale idle connection (server restarted, idle timeout):
			 * drop it and try again on another one. */
			pool_release(p, tx.c, true);
			if (reused && attempts++ < p->max_open + 1 && !pool_down_after(p, start)) {
				secmem_free_str(err);
				err = NULL;
				continue;
			}
			if (r == CF_EINVAL)
				r = CF_EUPSTREAM;
			break;
		}
		r = fn(&tx, arg, &err);
		if (r == 0) {
			tx.committing = true;
			r = dbpool_exec(&tx, "COMMIT", &err);
		}
		if (r < 0 && !tx.broken) {
			char *ignored = NULL;
			if (pg_dl.status(tx.c->pg) != CONNECTION_OK ||
			    dbpool_exec(&tx, "ROLLBACK", &ignored) < 0)
				tx.broken = true;
			secmem_free_str(ignored);
		}
		pool_release(p, tx.c, tx.broken);
		break;
	}
	if (r < 0 && ret_err) {
		*ret_err = scrubbed(p, err ? err : cf_strerror(r), secrets, n);
	}
	secmem_free_str(err);
	return r;
}
