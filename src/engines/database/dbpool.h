/* dbpool.h - a small pool of PostgreSQL connections for one configured
 * database (docs/internals/database.md, "Pool").
 *
 * At most max_open connections exist at once; up to max_idle of them are kept
 * open between operations. A caller that finds every connection busy waits (at
 * most DBPOOL_WAIT_MS). A connection that broke while idle (the server
 * restarted) is detected when its BEGIN fails, closed, and the operation
 * retried on a fresh connection.
 *
 * Every libpq call is non-blocking with a deadline, so a database that hangs
 * (stopped, or TCP accepting but no answer) cannot hold a thread for long: a
 * connection handshake that does not finish within DBPOOL_HANDSHAKE_MS fails;
 * a statement without an answer for DBPOOL_PROBE_AFTER_MS makes the pool try a
 * fresh connection, and if that handshake also hangs the database is declared
 * hung. Then the pool is "down" for DBPOOL_DOWN_MS: operations in flight on it
 * give up, new ones fail at once. Statements on a live server may run up to
 * DBPOOL_STMT_MAX_MS.
 *
 * Pools are reference counted: dbpool_new returns one reference; every
 * operation holds its own. dbpool_close makes the pool refuse new work and close
 * its connections as they come back (reset, config change, rotate-root).
 * Thread-safe. Error texts are scrubbed of the pool's secrets and of the ones
 * the caller names. */
#ifndef CF_DB_POOL_H
#define CF_DB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/database/pg_dl.h"

#define DBPOOL_HANDSHAKE_MS   2000
#define DBPOOL_PROBE_AFTER_MS 1000
#define DBPOOL_PROBE_EVERY_MS 5000
#define DBPOOL_DOWN_MS        3000
#define DBPOOL_STMT_MAX_MS    120000
#define DBPOOL_WAIT_MS        30000

struct dbpool;
struct dbtx;

struct dbpool_opts {
	const char *conninfo; /* rendered URL or DSN; SECRET; copied */
	int max_open;         /* <= 0: 4 */
	int max_idle;         /* <= 0: max_open */
	int64_t max_lifetime; /* seconds; 0 = unlimited */
	/* Secrets scrubbed from every error text (root password, literal URL
	 * password); copied. */
	const char *secrets[2];
};

int dbpool_new(const struct dbpool_opts *o, struct dbpool **ret);
void dbpool_ref(struct dbpool *p);
/* Drops a reference; the last one closes every connection and wipes conninfo. */
void dbpool_unref(struct dbpool *p);
/* Refuses new operations; idle connections close now, busy ones when released. */
void dbpool_close(struct dbpool *p);
/* Makes the operations in flight give up within a wait slice (100 ms) and the
 * waiters for a connection return; operations started later are not affected.
 * Called when the server seals, so no thread stays in the database. */
void dbpool_interrupt(struct dbpool *p);
/* True once dbpool_close ran: the caller should get the current pool again. */
bool dbpool_closed(struct dbpool *p);

/* Opens one connection outside the pool and closes it (verify_connection).
 * Returns 0, or CF_EUPSTREAM with the scrubbed reason in *ret_err (malloc'd). */
int dbpool_ping(struct dbpool *p, char **ret_err);

/* A transaction body: runs statements with dbpool_exec/dbpool_query.
 * Returns 0 or a CF_E* code (with *ret_err set by those helpers). */
typedef int (*dbpool_txn_fn)(struct dbtx *tx, void *arg, char **ret_err);

/* Runs fn between BEGIN and COMMIT on one pooled connection; ROLLBACK when fn
 * or COMMIT fails. secrets (n of them, may be 0) are scrubbed from the error
 * text too. Returns 0; CF_EINVAL when a statement failed (the driver's message
 * in *ret_err); CF_EUPSTREAM when no connection could be made, it broke, or the
 * database does not answer. */
int dbpool_txn(struct dbpool *p, dbpool_txn_fn fn, void *arg, const char *const *secrets, size_t n,
               char **ret_err);

/* Helpers for transaction bodies. dbpool_exec runs one statement; on failure it
 * sets *ret_err to the driver's message (raw: dbpool_txn scrubs it) and returns
 * CF_EINVAL (CF_EUPSTREAM when the connection broke or the database hangs). */
int dbpool_exec(struct dbtx *tx, const char *sql, char **ret_err);
/* Runs a one-parameter query and sets *ret_rows to its number of rows. */
int dbpool_query(struct dbtx *tx, const char *sql, const char *param, int *ret_rows,
                 char **ret_err);

#endif
