/* sqlite.c - the embedded storage backend ("sqlite:PATH"), SQLite in WAL mode.
 *
 * Schema: one table kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID, so a key
 * lookup and a prefix range scan are one B-tree walk each.
 *
 * Reads: a pool of read connections, each with its statements prepared once. A
 * reader pops an idle connection (or opens one), runs its query and pushes it back;
 * WAL lets readers run beside the writer, so reads never wait for a commit. A get
 * uses the write connection instead while nobody does (it never waits for it):
 * that connection's page cache survives commits, a pooled one's does not.
 *
 * Writes: group commit. A lone writer (nothing queued, write connection idle)
 * runs its own transaction in its own thread, with no hand-off. Otherwise
 * put/delete/txn queue a request and sleep on their own semaphore, and the
 * committer thread, which owns the write connection whenever no lone writer
 * does, takes
 * everything queued, runs it in ONE transaction (BEGIN IMMEDIATE ... COMMIT, with a
 * SAVEPOINT around each request so a failing request is undone alone), and wakes
 * each caller with its own result. With synchronous=FULL the COMMIT is one fsync of
 * the WAL however many requests it carries, so 64 concurrent writers share fsyncs
 * instead of queueing for 64 of them. If the whole transaction is lost (COMMIT
 * fails, or SQLite rolled it back on an I/O error), each request is retried in a
 * transaction of its own.
 *
 * Checkpoints: never inside a commit. The WAL hook wakes a checkpointer thread,
 * which copies the WAL into the database file on its own connection beside the
 * writers, then hands the committer a last short step that lets the next commit
 * start the WAL over (sq_checkpointer).
 *
 * Read cache: a small direct-mapped table of key -> stored bytes (the same bytes
 * that are in the file; the barrier encrypted them) answers repeated gets without
 * a SQLite read transaction. The committer drops each key it wrote, and bumps a
 * generation, before it wakes the writers, so a write answered is never followed
 * by a stale read; a reader that missed fills a slot only if no write ended while
 * it was reading. A slot may also say "not found". See docs/internals/storage.md. */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQ_BUSY_TIMEOUT_MS  10000
#define SQ_MAX_IDLE_READERS 32
#define SQ_JOURNAL_LIMIT    "67108864" /* truncate the WAL back to 64 MiB after checkpoints */
#define SQ_WRITE_CACHE      "-16384"   /* the write connection's page cache: 16 MiB */
#define SQ_CACHE_SLOTS      1024       /* power of two */
#define SQ_CACHE_MAX_VALUE  4096       /* larger values are not cached */
#define SQ_CKPT_FRAMES      256        /* checkpoint once the WAL holds this many new frames */
#define SQ_CKPT_COMMITS     64         /* ... and this many commits went by */
#define SQ_CKPT_TAIL        64         /* frames left to the committer (plus one commit's) */
#define SQ_CKPT_PASSES      4          /* concurrent passes per checkpoint, at most */
#define SQ_CKPT_HARD        16384      /* frames (64 MiB of 4 KiB pages): then RESTART */
#define SQ_SLOW_COMMIT_NS   1000000    /* commits this long make writers worth deferring */

/* What the committer does for the checkpointer when it next owns the write
 * connection (ck_finish). */
enum sq_finish {
	SQ_FINISH_NONE,
	SQ_FINISH_REARM,   /* only re-arm the WAL hook */
	SQ_FINISH_PASSIVE, /* copy the last few frames, so the next commit restarts the WAL */
	SQ_FINISH_RESTART, /* the same, waiting for readers: the WAL is past SQ_CKPT_HARD */
};

/* One read-cache slot: a copy of key and of its stored value (val NULL: the key
 * is not in the database), or empty (key NULL). */
struct sq_slot {
	char *key;
	uint8_t *val;
	size_t len;
};

/* One caller's write, queued for the committer. Lives on the caller's stack.
 * Once taken off the queue only the committer touches it, until it posts done
 * (which publishes result); the caller may return as soon as sem_wait does. */
struct sq_req {
	const struct storage_op *ops;
	size_t n;
	int result;
	sem_t done;
	struct sq_req *next;
};

/* A read connection and its prepared statements. */
struct sq_reader {
	sqlite3 *db;
	sqlite3_stmt *get;
	sqlite3_stmt *range;    /* key >= ?1 AND key < ?2 */
	sqlite3_stmt *range_to; /* key >= ?1 (prefix has no upper bound) */
	struct sq_reader *next;
};

struct sq_storage {
	struct storage base; /* must be first */
	char *path;

	/* The write connection; used only by the committer thread after open. */
	sqlite3 *wdb;
	sqlite3_stmt *put;
	sqlite3_stmt *del;
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *sp;
	sqlite3_stmt *sp_rollback;
	sqlite3_stmt *sp_release;
	sqlite3_stmt *get; /* reads on wdb while it is idle (sq_wdb_try) */
	pthread_t committer;
	bool committer_started;
	/* Owned, like wdb, by whoever set busy (the WAL hook runs there too). */
	int ck_next;              /* the WAL hook wakes the checkpointer at this many frames */
	int ck_commits;           /* commits since it last did */
	atomic_int wal_frames;    /* frames in the WAL after the last commit */
	atomic_int commit_frames; /* frames the last commit added */
	atomic_llong commit_ns;   /* moving average of a batch's time, fsync included */

	/* The checkpointer thread and its connection; see sq_checkpointer. */
	sqlite3 *ckdb;
	pthread_t ckpt;
	bool ckpt_started;
	pthread_mutex_t ck_mu; /* guards ck_want and ck_stop */
	pthread_cond_t ck_cond;
	bool ck_want;
	bool ck_stop;

	/* mu guards the queue, busy, ck_finish, stopping, stats and fail_key. */
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct sq_req *head;
	struct sq_req *tail;
	bool busy;                /* a thread (the committer or a lone caller) is using wdb */
	size_t last_size;         /* requests in the last transaction (1: writers are alone) */
	enum sq_finish ck_finish; /* a checkpoint step the committer owes */
	bool stopping;
	struct storage_sqlite_stats stats;
	atomic_bool has_fail_key;
	char *fail_key;

	/* Idle read connections. */
	pthread_mutex_t pool_mu;
	struct sq_reader *idle;
	size_t nidle;

	/* cache_mu guards the read cache and cache_gen (bumped after every commit). */
	pthread_mutex_t cache_mu;
	uint64_t cache_gen;
	struct sq_slot cache[SQ_CACHE_SLOTS];
};

static struct sq_storage *
sq_of(struct storage *s)
{
	assert(s != NULL && s->ops == &storage_sqlite_ops);
	return (struct sq_storage *)s;
}

/* Steps a statement that returns no rows, then resets it. */
static int
sq_exec(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	(void)sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : CF_EIO;
}

static int
sq_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL) != SQLITE_OK)
		return CF_EIO;
	return 0;
}

/* Opens a connection with the settings both kinds share. */
static int
sq_connect(const char *path, int flags, sqlite3 **ret)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return CF_EIO;
	}
	(void)sqlite3_extended_result_codes(db, 1);
	if (sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		sqlite3_close(db);
		return CF_EIO;
	}
	*ret = db;
	return 0;
}

static void
sq_reader_free(struct sq_reader *rd)
{
	if (rd == NULL)
		return;
	sqlite3_finalize(rd->get);
	sqlite3_finalize(rd->range);
	sqlite3_finalize(rd->range_to);
	sqlite3_close(rd->db);
	free(rd);
}

static int
sq_reader_new(const char *path, struct sq_reader **ret)
{
	struct sq_reader *rd;
	int r;

	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return CF_ENOMEM;
	r = sq_connect(path, SQLITE_OPEN_READWRITE, &rd->db);
	if (r < 0)
		goto out;
	r = CF_EIO;
	if (sqlite3_exec(rd->db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	r = sq_prepare(rd->db, "SELECT value FROM kv WHERE key = ?1", &rd->get);
	if (r == 0)
		r = sq_prepare(rd->db,
		               "SELECT key FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key",
		               &rd->range);
	if (r == 0)
		r = sq_prepare(rd->db, "SELECT key FROM kv WHERE key >= ?1 ORDER BY key",
		               &rd->range_to);
out:
	if (r < 0) {
		sq_reader_free(rd);
		return r;
	}
	*ret = rd;
	return 0;
}

static int
sq_reader_get(struct sq_storage *q, struct sq_reader **ret)
{
	struct sq_reader *rd;

	pthread_mutex_lock(&q->pool_mu);
	rd = q->idle;
	if (rd != NULL) {
		q->idle = rd->next;
		q->nidle--;
	}
	pthread_mutex_unlock(&q->pool_mu);
	if (rd != NULL) {
		*ret = rd;
		return 0;
	}
	return sq_reader_new(q->path, ret);
}

static void
sq_reader_put(struct sq_storage *q, struct sq_reader *rd)
{
	pthread_mutex_lock(&q->pool_mu);
	if (q->nidle < SQ_MAX_IDLE_READERS) {
		rd->next = q->idle;
		q->idle = rd;
		q->nidle++;
		rd = NULL;
	}
	pthread_mutex_unlock(&q->pool_mu);
	sq_reader_free(rd);
}

static size_t
sq_slot_of(const char *key)
{
	return util_fnv1a_str(key) & (SQ_CACHE_SLOTS - 1);
}

static void
sq_slot_clear(struct sq_slot *sl)
{
	free(sl->key); /* not secret: a storage path */
	secmem_free(sl->val, sl->len);
	sl->key = NULL;
	sl->val = NULL;
	sl->len = 0;
}

/* Looks key up in the read cache. Returns false on a miss (setting *ret_gen for
 * sq_cache_fill); else true with *ret_r set to what a get answers: 0 with a copy
 * of the value in a new NUL-terminated buffer, CF_ENOTFOUND, or CF_ENOMEM. */
static bool
sq_cache_get(struct sq_storage *q, const char *key, uint8_t **ret_val, size_t *ret_len,
             uint64_t *ret_gen, int *ret_r)
{
	struct sq_slot *sl = &q->cache[sq_slot_of(key)];
	uint8_t *val;
	bool hit;
	int r = CF_ENOTFOUND;

	pthread_mutex_lock(&q->cache_mu);
	*ret_gen = q->cache_gen;
	hit = sl->key != NULL && strcmp(sl->key, key) == 0;
	if (hit && sl->val != NULL) {
		val = malloc(sl->len + 1);
		if (val == NULL) {
			r = CF_ENOMEM;
		} else {
			if (sl->len > 0)
				memcpy(val, sl->val, sl->len);
			val[sl->len] = '\0';
			*ret_val = val;
			*ret_len = sl->len;
			r = 0;
		}
	}
	pthread_mutex_unlock(&q->cache_mu);
	if (hit)
		*ret_r = r;
	return hit;
}

/* Caches key -> val[0..len) read from SQLite (val NULL: key is not there),
 * unless a commit ended since gen. */
static void
sq_cache_fill(struct sq_storage *q, const char *key, const uint8_t *val, size_t len, uint64_t gen)
{
	struct sq_slot *sl = &q->cache[sq_slot_of(key)];
	char *kcopy;
	uint8_t *vcopy = NULL;

	if (len > SQ_CACHE_MAX_VALUE)
		return;
	kcopy = strdup(key);
	if (kcopy == NULL)
		goto out;
	if (val != NULL) {
		vcopy = malloc(len ? len : 1);
		if (vcopy == NULL)
			goto out;
		if (len > 0)
			memcpy(vcopy, val, len);
	}
	pthread_mutex_lock(&q->cache_mu);
	if (q->cache_gen == gen) {
		sq_slot_clear(sl);
		sl->key = kcopy;
		sl->val = vcopy;
		sl->len = len;
		kcopy = NULL;
		vcopy = NULL;
	}
	pthread_mutex_unlock(&q->cache_mu);
out:
	free(kcopy);
	secmem_free(vcopy, len);
}

/* Drops every key the n requests from first wrote; called after their
 * transaction ended and before the writers are woken. */
static void
sq_cache_drop(struct sq_storage *q, const struct sq_req *first, size_t n)
{
	const struct sq_req *req;
	struct sq_slot *sl;
	size_t i, j;

	pthread_mutex_lock(&q->cache_mu);
	for (i = 0, req = first; i < n; i++, req = req->next) {
		for (j = 0; j < req->n; j++) {
			sl = &q->cache[sq_slot_of(req->ops[j].key)];
			if (sl->key != NULL && strcmp(sl->key, req->ops[j].key) == 0)
				sq_slot_clear(sl);
		}
	}
	q->cache_gen++;
	pthread_mutex_unlock(&q->cache_mu);
}

/* Is key the fault-injection key? (test hook; one relaxed load when unset) */
static bool
sq_fault(struct sq_storage *q, const char *key)
{
	bool hit;

	if (!atomic_load_explicit(&q->has_fail_key, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&q->mu);
	hit = q->fail_key != NULL && strcmp(q->fail_key, key) == 0;
	pthread_mutex_unlock(&q->mu);
	return hit;
}

/* Runs one request's ops on the write connection, inside a transaction. */
static int
sq_apply(struct sq_storage *q, const struct sq_req *req)
{
	const struct storage_op *op;
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < req->n; i++) {
		op = &req->ops[i];
		if (sq_fault(q, op->key))
			return CF_EIO;
		st = op->kind == STORAGE_PUT ? q->put : q->del;
		if (sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC) != SQLITE_OK)
			goto fail;
		/* a NULL pointer would bind SQL NULL, not an empty blob */
		if (op->kind == STORAGE_PUT &&
		    sqlite3_bind_blob64(st, 2, op->len ? (const void *)op->value : "", op->len,
		                        SQLITE_STATIC) != SQLITE_OK)
			goto fail;
		if (sq_exec(st) < 0)
			goto fail;
	}
	return 0;
fail:
	(void)sqlite3_reset(st);
	return CF_EIO;
}

/* sq_batch without savepoints found a failing request among several: run the
 * batch again with them. */
#define SQ_NEED_SAVEPOINTS 1

/* Runs the n requests starting at first in one transaction and sets each result.
 * With sp, each request runs inside a savepoint, so a failing one is undone alone
 * while the others commit; without, a failure among several rolls everything
 * back and returns SQ_NEED_SAVEPOINTS (failures are I/O errors, so batches
 * normally go without: two statements less per request on the committer).
 * Returns 0 if the transaction ended as planned (committed, or for a single failed
 * request rolled back), or CF_EIO if it was lost as a whole: then no request's
 * results are set and none of their writes is in the database. */
static int
sq_batch(struct sq_storage *q, struct sq_req *first, size_t n, bool sp)
{
	struct sq_req *req;
	size_t i, nops = 0, nisolated = 0;
	int r;

	if (sq_exec(q->begin) < 0)
		goto lost;
	for (i = 0, req = first; i < n; i++, req = req->next) {
		if (sp && sq_exec(q->sp) < 0)
			goto lost;
		r = sq_apply(q, req);
		if (r < 0) {
			if (sqlite3_get_autocommit(q->wdb))
				goto lost; /* SQLite rolled everything back */
			if (!sp) {
				(void)sq_exec(q->rollback);
				if (n > 1)
					return SQ_NEED_SAVEPOINTS;
				req->result = r;
				return 0;
			}
			if (sq_exec(q->sp_rollback) < 0)
				goto lost;
			nisolated++;
		} else {
			nops += req->n;
		}
		if (sp && sq_exec(q->sp_release) < 0)
			goto lost;
		req->result = r;
	}
	if (sq_exec(q->commit) < 0)
		goto lost;
	pthread_mutex_lock(&q->mu);
	q->stats.commits++;
	q->stats.requests += n;
	q->stats.ops += nops;
	q->stats.isolated += nisolated;
	pthread_mutex_unlock(&q->mu);
	metrics_count(METRIC_STORAGE_COMMITS, (const char *[]){"sqlite"}, 1);
	metrics_observe(METRIC_STORAGE_COMMIT_WRITES, (const char *[]){"sqlite"}, n);
	return 0;
lost:
	if (!sqlite3_get_autocommit(q->wdb))
		(void)sq_exec(q->rollback);
	return CF_EIO;
}

/* Runs the n requests starting at first as one batch (retrying each alone if the
 * batch is lost) and drops their keys from the read cache. Called by whoever set
 * busy: the committer thread, or a lone caller. */
static void
sq_run(struct sq_storage *q, struct sq_req *first, size_t n)
{
	struct sq_req *req;
	size_t i;
	int64_t t0 = util_mono_ns(), avg;
	int r = sq_batch(q, first, n, false);

	if (r == SQ_NEED_SAVEPOINTS)
		r = sq_batch(q, first, n, true);
	if (r < 0) {
		/* retry alone, so one bad request cannot fail the others */
		for (i = 0, req = first; i < n; i++, req = req->next)
			if (n == 1 || sq_batch(q, req, 1, false) < 0)
				req->result = CF_EIO;
	}
	sq_cache_drop(q, first, n);
	avg = atomic_load_explicit(&q->commit_ns, memory_order_relaxed);
	avg += (util_mono_ns() - t0 - avg) / 8;
	atomic_store_explicit(&q->commit_ns, avg, memory_order_relaxed);
}

/* The WAL hook: SQLite calls it on the write connection after each commit, with
 * the number of frames now in the WAL (so it runs in whichever thread owns wdb).
 * It wakes the checkpointer once the WAL holds SQ_CKPT_FRAMES frames more than
 * the last checkpoint left behind and SQ_CKPT_COMMITS commits went by (a batch of
 * many writers adds many frames at once), and then not again until that
 * checkpoint is finished: sq_ckpt_finish re-arms it. */
static int
sq_wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct sq_storage *q = arg;
	int last;

	(void)db;
	(void)name;
	last = atomic_exchange_explicit(&q->wal_frames, nframes, memory_order_relaxed);
	atomic_store_explicit(&q->commit_frames, nframes > last ? nframes - last : nframes,
	                      memory_order_relaxed);
	if (nframes < last && q->ck_next != INT_MAX)
		q->ck_next = SQ_CKPT_FRAMES; /* this commit restarted the WAL */
	q->ck_commits++;
	if (nframes < q->ck_next || q->ck_commits < SQ_CKPT_COMMITS)
		return SQLITE_OK;
	q->ck_next = INT_MAX;
	q->ck_commits = 0;
	pthread_mutex_lock(&q->ck_mu);
	q->ck_want = true;
	pthread_mutex_unlock(&q->ck_mu);
	pthread_cond_signal(&q->ck_cond);
	return SQLITE_OK;
}

/* The checkpointer thread. Woken by the WAL hook, it copies the WAL back into the
 * database file on its own connection with PASSIVE checkpoints, which take no
 * lock a writer needs, so commits go on meanwhile and none of them waits for the
 * copy or its fsync. It repeats while that goes on (each pass copies what was
 * committed during the last one) until at most SQ_CKPT_TAIL frames (plus one
 * commit's) are left, and then asks the committer for the last step (ck_finish),
 * run while no commit can land: copy the tail, so that the WAL is wholly in the database file and
 * the next commit starts the WAL over from its beginning. A WAL that restarts stays small, and is
 * rewritten in place (an fdatasync that changes no file size). */
static void *
sq_checkpointer(void *arg)
{
	struct sq_storage *q = arg;
	int rc, log, done, prev, now, pass;
	enum sq_finish mode;
	bool wake;

	pthread_mutex_lock(&q->ck_mu);
	for (;;) {
		while (!q->ck_want && !q->ck_stop)
			pthread_cond_wait(&q->ck_cond, &q->ck_mu);
		if (q->ck_stop)
			break;
		q->ck_want = false;
		pthread_mutex_unlock(&q->ck_mu);

		mode = SQ_FINISH_REARM;
		prev = -1;
		for (pass = 0; pass < SQ_CKPT_PASSES; pass++) {
			rc = sqlite3_wal_checkpoint_v2(q->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
			                               &log, &done);
			if (rc != SQLITE_OK || log < 0)
				break;
			now = atomic_load_explicit(&q->wal_frames, memory_order_relaxed);
			if (log >= SQ_CKPT_HARD) {
				mode = SQ_FINISH_RESTART;
				break;
			}
			if (now < done)
				break; /* the WAL restarted meanwhile */
			if (now - done <=
			    SQ_CKPT_TAIL +
			            atomic_load_explicit(&q->commit_frames, memory_order_relaxed)) {
				mode = SQ_FINISH_PASSIVE;
				break;
			}
			if (done == prev)
				break; /* readers on older snapshots hold it back */
			prev = done;
		}
		pthread_mutex_lock(&q->mu);
		q->ck_finish = mode;
		wake = !q->busy; /* else the owner of wdb sees ck_finish when it is done */
		pthread_mutex_unlock(&q->mu);
		if (wake)
			pthread_cond_signal(&q->work);
		pthread_mutex_lock(&q->ck_mu);
	}
	pthread_mutex_unlock(&q->ck_mu);
	return NULL;
}

/* The committer's share of a checkpoint, run while it owns wdb so that no commit
 * lands meanwhile: copy the tail the checkpointer left (PASSIVE), or at the hard
 * limit wait for readers too (RESTART), then re-arm the WAL hook. */
static void
sq_ckpt_finish(struct sq_storage *q, enum sq_finish mode)
{
	int log, done;

	if (mode == SQ_FINISH_PASSIVE || mode == SQ_FINISH_RESTART)
		(void)sqlite3_wal_checkpoint_v2(q->wdb, NULL,
		                                mode == SQ_FINISH_RESTART
		                                        ? SQLITE_CHECKPOINT_RESTART
		                                        : SQLITE_CHECKPOINT_PASSIVE,
		                                &log, &done);
	q->ck_next = atomic_load_explicit(&q->wal_frames, memory_order_relaxed) + SQ_CKPT_FRAMES;
}

static void *
sq_committer(void *arg)
{
	struct sq_storage *q = arg;
	struct sq_req *first, *req, *next;
	enum sq_finish mode;
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* Work is a non-empty queue or a checkpoint step, while nobody else
		 * uses wdb; stop once stopping, drained and idle. */
		while (q->busy ||
		       (q->head == NULL && q->ck_finish == SQ_FINISH_NONE && !q->stopping))
			pthread_cond_wait(&q->work, &q->mu);
		if (q->ck_finish != SQ_FINISH_NONE) {
			mode = q->ck_finish;
			q->ck_finish = SQ_FINISH_NONE;
			q->busy = true;
			pthread_mutex_unlock(&q->mu);
			sq_ckpt_finish(q, mode);
			pthread_mutex_lock(&q->mu);
			q->busy = false;
			continue;
		}
		if (q->head == NULL)
			break; /* stopping, and the queue is drained */
		first = q->head;
		q->head = q->tail = NULL;
		q->busy = true;
		pthread_mutex_unlock(&q->mu);

		for (n = 0, req = first; req != NULL; req = req->next)
			n++;
		sq_run(q, first, n);

		/* Wake without holding mu, so a woken writer does not block on it at
		 * once. req is gone once posted: read next first. */
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

/* Takes the write connection for one lookup if nobody uses it and nothing waits
 * for it. Its page cache outlives its own commits, while a pooled reader's is
 * dropped after every commit, so a lookup there reads its pages from memory
 * rather than from the files. Returns whether it did; sq_wdb_release gives it
 * back. */
static bool
sq_wdb_try(struct sq_storage *q)
{
	bool ok;

	pthread_mutex_lock(&q->mu);
	ok = !q->busy && q->head == NULL && q->ck_finish == SQ_FINISH_NONE && !q->stopping;
	if (ok)
		q->busy = true;
	pthread_mutex_unlock(&q->mu);
	return ok;
}

/* Gives wdb back after sq_wdb_try, or after a lone writer's commit (wrote: the
 * last transaction then carried a single request). */
static void
sq_wdb_release(struct sq_storage *q, bool wrote)
{
	bool wake;

	pthread_mutex_lock(&q->mu);
	q->busy = false;
	if (wrote)
		q->last_size = 1;
	/* Writers that queued meanwhile, a checkpoint step (or close) are the
	 * committer's. */
	wake = q->head != NULL || q->ck_finish != SQ_FINISH_NONE || q->stopping;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->work);
}

/* Queues ops for the committer and waits until they are durable (or failed).
 * A lone writer (queue empty, wdb idle, and the last transaction carried a
 * single request) commits in its own thread instead: two thread hand-offs less
 * on the path of a single client's write. */
static int
sq_write(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct sq_storage *q = sq_of(s);
	struct sq_req req = {.ops = ops, .n = n};
	bool wake;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		pthread_mutex_unlock(&q->mu);
		return CF_EIO;
	}
	/* Only while writers come one at a time: after a batch of several, the
	 * others are about to come back, and the committer gathers them (a lone
	 * commit then would make them all wait behind a transaction of one). */
	if (!q->busy && q->head == NULL && q->last_size <= 1 && q->ck_finish == SQ_FINISH_NONE) {
		q->busy = true;
		pthread_mutex_unlock(&q->mu);
		sq_run(q, &req, 1);
		sq_wdb_release(q, true);
		return req.result;
	}
	if (sem_init(&req.done, 0, 0) != 0) {
		pthread_mutex_unlock(&q->mu);
		return CF_ENOMEM;
	}
	/* The committer waits on work only with an empty queue or while busy. */
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

static bool
sq_write_busy(struct storage *s)
{
	struct sq_storage *q = sq_of(s);
	bool busy;

	/* Holding a thread through a commit of a few hundred µs costs less than
	 * handing the request over (docs/internals/http.md "Deferred writes"). */
	if (atomic_load_explicit(&q->commit_ns, memory_order_relaxed) < SQ_SLOW_COMMIT_NS)
		return false;
	pthread_mutex_lock(&q->mu);
	busy = q->busy || q->head != NULL;
	pthread_mutex_unlock(&q->mu);
	return busy;
}

static int
sq_put(struct storage *s, const char *key, const uint8_t *val, size_t len)
{
	struct storage_op op = {STORAGE_PUT, key, val, len};

	return sq_write(s, &op, 1);
}

static int
sq_del(struct storage *s, const char *key)
{
	struct storage_op op = {STORAGE_DELETE, key, NULL, 0};

	return sq_write(s, &op, 1);
}

/* Runs st (a get statement) for key and caches the answer. Returns 0 with the
 * value in a new NUL-terminated buffer, CF_ENOTFOUND, CF_EIO or CF_ENOMEM. */
static int
sq_lookup(struct sq_storage *q, sqlite3_stmt *st, const char *key, uint64_t gen, uint8_t **ret_val,
          size_t *ret_len)
{
	const void *blob;
	uint8_t *val;
	size_t len;
	int r, rc;

	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
		(void)sqlite3_reset(st);
		return CF_EIO;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = CF_ENOTFOUND;
		/* KV v2 looks a new secret's metadata up twice before writing it */
		sq_cache_fill(q, key, NULL, 0, gen);
	} else if (rc != SQLITE_ROW) {
		r = CF_EIO;
	} else {
		blob = sqlite3_column_blob(st, 0);
		len = (size_t)sqlite3_column_bytes(st, 0);
		val = malloc(len + 1);
		if (val == NULL) {
			r = CF_ENOMEM;
		} else {
			if (len > 0)
				memcpy(val, blob, len);
			val[len] = '\0';
			sq_cache_fill(q, key, val, len, gen);
			*ret_val = val;
			*ret_len = len;
			r = 0;
		}
	}
	(void)sqlite3_reset(st);
	return r;
}

static int
sq_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	struct sq_storage *q = sq_of(s);
	struct sq_reader *rd;
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t gen;
	int r;

	if (sq_cache_get(q, key, ret_val, ret_len, &gen, &r))
		return r;
	if (sq_wdb_try(q)) {
		r = sq_lookup(q, q->get, key, gen, &val, &len);
		sq_wdb_release(q, false);
	} else {
		r = sq_reader_get(q, &rd);
		if (r < 0)
			return r;
		r = sq_lookup(q, rd->get, key, gen, &val, &len);
		sq_reader_put(q, rd);
	}
	if (r < 0)
		return r;
	*ret_val = val;
	*ret_len = len;
	return 0;
}

/* Sets *ret_len to the length of the smallest string greater than every string
 * that starts with p[0..plen), written into ub; or returns false if there is none
 * (p is empty or all 0xff). */
static bool
sq_upper_bound(const char *p, size_t plen, char *ub, size_t *ret_len)
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
sq_list(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	struct sq_storage *q = sq_of(s);
	struct storage_keyvec kv = {0};
	struct sq_reader *rd = NULL;
	sqlite3_stmt *st;
	const char *key;
	struct buf seek = BUF_INIT(STORAGE_MAX_KEY + 1, 0);
	char *ub = NULL;
	size_t plen = strlen(prefix), ublen, klen, flen;
	int r, rc;

	ub = malloc(plen + 1);
	if (ub == NULL)
		return CF_ENOMEM;
	r = sq_reader_get(q, &rd);
	if (r < 0)
		goto out;
	if (sq_upper_bound(prefix, plen, ub, &ublen)) {
		st = rd->range;
		if (sqlite3_bind_text(st, 2, ub, (int)ublen, SQLITE_STATIC) != SQLITE_OK) {
			r = CF_EIO;
			goto out;
		}
	} else {
		st = rd->range_to;
	}
	if (sqlite3_bind_text(st, 1, prefix, (int)plen, SQLITE_STATIC) != SQLITE_OK) {
		r = CF_EIO;
		goto out;
	}
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = CF_EIO;
			goto out;
		}
		key = (const char *)sqlite3_column_text(st, 0);
		klen = (size_t)sqlite3_column_bytes(st, 0);
		if (key == NULL || CF_NEVER(klen < plen || memcmp(key, prefix, plen) != 0))
			continue;
		r = storage_list_add(&kv, key, plen, &flen);
		if (r < 0)
			goto out;
		if (flen == 0)
			continue;
		/* Skip the folder: every key under prefix+"name/" sorts below
		 * prefix+"name0", since '0' is '/' + 1. */
		buf_reset(&seek);
		r = buf_append(&seek, key, plen + flen - 1);
		if (r == 0)
			r = buf_append_char(&seek, '/' + 1);
		if (r < 0)
			goto out;
		(void)sqlite3_reset(st);
		if (sqlite3_bind_text(st, 1, buf_str(&seek), (int)(plen + flen), SQLITE_STATIC) !=
		    SQLITE_OK) {
			r = CF_EIO;
			goto out;
		}
	}
out:
	if (rd != NULL) {
		(void)sqlite3_reset(rd->range);
		(void)sqlite3_reset(rd->range_to);
		(void)sqlite3_clear_bindings(rd->range);
		(void)sqlite3_clear_bindings(rd->range_to);
		sq_reader_put(q, rd);
	}
	free(ub);
	buf_free(&seek);
	if (r < 0) {
		storage_keyvec_reset(&kv);
		return r;
	}
	*ret_keys = kv.v;
	*ret_n = kv.n;
	return 0;
}

/* Creates the file 0600 (SQLite gives its -wal and -shm files the same mode) and
 * tightens an existing one. */
static int
sq_create_file(const char *path)
{
	static const char *const suffixes[] = {"-wal", "-shm"};
	char side[4096];
	size_t i;
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return CF_EIO;
	if (fchmod(fd, 0600) < 0) {
		close(fd);
		return CF_EIO;
	}
	close(fd);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		n = snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
		if (n < 0 || (size_t)n >= sizeof(side))
			return CF_EINVAL;
		if (chmod(side, 0600) < 0 && errno != ENOENT)
			return CF_EIO;
	}
	return 0;
}

static void
sq_close(struct storage *s)
{
	struct sq_storage *q;
	struct sq_reader *rd;

	if (s == NULL)
		return;
	q = sq_of(s);
	if (q->ckpt_started) {
		pthread_mutex_lock(&q->ck_mu);
		q->ck_stop = true;
		pthread_mutex_unlock(&q->ck_mu);
		pthread_cond_signal(&q->ck_cond);
		pthread_join(q->ckpt, NULL);
	}
	if (q->committer_started) {
		pthread_mutex_lock(&q->mu);
		q->stopping = true;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->committer, NULL);
	}
	/* The group-commit factor, for operators (and the tests that check it). */
	log_info("sqlite: %llu commits carried %llu writes", (unsigned long long)q->stats.commits,
	         (unsigned long long)q->stats.requests);
	while ((rd = q->idle) != NULL) {
		q->idle = rd->next;
		sq_reader_free(rd);
	}
	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++)
		sq_slot_clear(&q->cache[i]);
	sqlite3_close(q->ckdb);
	sqlite3_finalize(q->put);
	sqlite3_finalize(q->del);
	sqlite3_finalize(q->begin);
	sqlite3_finalize(q->commit);
	sqlite3_finalize(q->rollback);
	sqlite3_finalize(q->sp);
	sqlite3_finalize(q->sp_rollback);
	sqlite3_finalize(q->sp_release);
	sqlite3_finalize(q->get);
	/* The last connection to close checkpoints the WAL and removes it. */
	sqlite3_close(q->wdb);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->ck_mu);
	pthread_cond_destroy(&q->ck_cond);
	pthread_mutex_destroy(&q->pool_mu);
	pthread_mutex_destroy(&q->cache_mu);
	free(q->fail_key); /* not secret: a storage path */
	free(q->path);
	free(q);
}

static int
sq_open(const char *url, struct storage **ret)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
	        {offsetof(struct sq_storage, put),
	         "INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)"},
	        {offsetof(struct sq_storage, del), "DELETE FROM kv WHERE key = ?1"},
	        {offsetof(struct sq_storage, begin), "BEGIN IMMEDIATE"},
	        {offsetof(struct sq_storage, commit), "COMMIT"},
	        {offsetof(struct sq_storage, rollback), "ROLLBACK"},
	        {offsetof(struct sq_storage, sp), "SAVEPOINT req"},
	        {offsetof(struct sq_storage, sp_rollback), "ROLLBACK TO req"},
	        {offsetof(struct sq_storage, sp_release), "RELEASE req"},
	        {offsetof(struct sq_storage, get), "SELECT value FROM kv WHERE key = ?1"},
	};
	struct sq_storage *q;
	sqlite3_stmt *st = NULL;
	sigset_t all, old;
	size_t i;
	int r, rc;

	if (url == NULL || *url == '\0')
		return CF_EINVAL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return CF_ENOMEM;
	q->base.ops = &storage_sqlite_ops;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_mutex_init(&q->pool_mu, NULL);
	pthread_mutex_init(&q->cache_mu, NULL);
	pthread_mutex_init(&q->ck_mu, NULL);
	pthread_cond_init(&q->ck_cond, NULL);
	atomic_init(&q->has_fail_key, false);
	atomic_init(&q->wal_frames, 0);
	atomic_init(&q->commit_frames, 0);
	q->ck_next = SQ_CKPT_FRAMES;
	q->path = strdup(url);
	if (q->path == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = sq_create_file(q->path);
	if (r < 0)
		goto out;
	r = sq_connect(q->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &q->wdb);
	if (r < 0)
		goto out;

	/* journal_mode answers with the mode it ended up in: insist on WAL. */
	r = CF_EIO;
	if (sq_prepare(q->wdb, "PRAGMA journal_mode=WAL", &st) < 0)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		goto out;
	/* Until it is reset, the statement keeps the locks of the switch to WAL,
	 * and the checkpointer's connection below would wait for them. */
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(q->wdb,
	                 "PRAGMA synchronous=FULL;"
	                 "PRAGMA journal_size_limit=" SQ_JOURNAL_LIMIT ";"
	                 "PRAGMA wal_autocheckpoint=0;"
	                 "PRAGMA cache_size=" SQ_WRITE_CACHE ";"
	                 "PRAGMA temp_store=MEMORY;" /* a batch's savepoint journal */
	                 "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT "
	                 "ROWID;",
	                 NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	/* Commits never checkpoint: the hook hands that to the checkpointer. (Set
	 * after wal_autocheckpoint, which installs a hook of its own.) */
	(void)sqlite3_wal_hook(q->wdb, sq_wal_hook, q);

	/* The checkpointer's connection syncs the database file before the WAL can
	 * be reused (synchronous=FULL), as the writer's own checkpoints did. */
	r = sq_connect(q->path, SQLITE_OPEN_READWRITE, &q->ckdb);
	if (r < 0)
		goto out;
	r = CF_EIO;
	if (sqlite3_exec(q->ckdb, "PRAGMA synchronous=FULL; PRAGMA schema_version;", NULL, NULL,
	                 NULL) != SQLITE_OK) /* a first read opens its WAL handle */
		goto out;
	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		r = sq_prepare(q->wdb, stmts[i].sql, (sqlite3_stmt **)((char *)q + stmts[i].off));
		if (r < 0)
			goto out;
	}
	/* The committer takes no signals: the daemon handles them in one place. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->committer, NULL, sq_committer, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)pthread_setname_np(q->committer, "coffer-commit");
	q->committer_started = true;
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->ckpt, NULL, sq_checkpointer, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)pthread_setname_np(q->ckpt, "coffer-ckpt");
	q->ckpt_started = true;
	r = 0;
out:
	sqlite3_finalize(st);
	if (r < 0) {
		sq_close(&q->base);
		return r;
	}
	*ret = &q->base;
	return 0;
}

void
storage_sqlite_stats(struct storage *s, struct storage_sqlite_stats *ret)
{
	struct sq_storage *q = sq_of(s);

	pthread_mutex_lock(&q->mu);
	*ret = q->stats;
	pthread_mutex_unlock(&q->mu);
}

int
storage_sqlite_fail_key(struct storage *s, const char *key)
{
	struct sq_storage *q = sq_of(s);
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
	free(old);
	return 0;
}

const struct storage_ops storage_sqlite_ops = {
        .name = "sqlite",
        .open = sq_open,
        .close = sq_close,
        .get = sq_get,
        .put = sq_put,
        .del = sq_del,
        .list = sq_list,
        .txn = sq_write,
        .lock_acquire = NULL,
        .lock_release = NULL,
        .write_busy = sq_write_busy,
};
