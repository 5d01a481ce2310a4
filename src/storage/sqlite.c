/* sqlite.c - the embedded storage backend ("sqlite:PATH"), SQLite in WAL mode.
 *
 * Schema: one table kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID, so a key
 * lookup and a prefix range scan are one B-tree walk each.
 *
 * Reads: a pool of read connections, each with its statements prepared once. A
 * reader pops an idle connection (or opens one), runs its query and pushes it back;
 * WAL lets readers run beside the writer, so reads never wait for a commit.
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
 * Read cache: a small direct-mapped table of key -> stored bytes (the same bytes
 * that are in the file; the barrier encrypted them) answers repeated gets without
 * a SQLite read transaction. The committer drops each key it wrote, and bumps a
 * generation, before it wakes the writers, so a write answered is never followed
 * by a stale read; a reader that missed fills a slot only if no write ended while
 * it was reading. See docs/internals/storage.md. */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
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
#define SQ_CACHE_SLOTS      1024       /* power of two */
#define SQ_CACHE_MAX_VALUE  4096       /* larger values are not cached */

/* One read-cache slot: a copy of key and of its stored value, or empty. */
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
	pthread_t committer;
	bool committer_started;

	/* mu guards the queue, busy, stopping, stats and fail_key. */
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct sq_req *head;
	struct sq_req *tail;
	bool busy;        /* a thread (the committer or a lone caller) is using wdb */
	size_t last_size; /* requests in the last transaction (1: writers are alone) */
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
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h & (SQ_CACHE_SLOTS - 1);
}

static void
sq_slot_clear(struct sq_slot *sl)
{
	free(sl->key);
	if (sl->val != NULL)
		explicit_bzero(sl->val, sl->len);
	free(sl->val);
	sl->key = NULL;
	sl->val = NULL;
	sl->len = 0;
}

/* Copies key's cached value into a new NUL-terminated buffer. Returns 0,
 * CF_ENOTFOUND on a miss (setting *ret_gen for sq_cache_fill), or CF_ENOMEM. */
static int
sq_cache_get(struct sq_storage *q, const char *key, uint8_t **ret_val, size_t *ret_len,
             uint64_t *ret_gen)
{
	struct sq_slot *sl = &q->cache[sq_slot_of(key)];
	uint8_t *val;
	int r = CF_ENOTFOUND;

	pthread_mutex_lock(&q->cache_mu);
	*ret_gen = q->cache_gen;
	if (sl->key != NULL && strcmp(sl->key, key) == 0) {
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
	return r;
}

/* Caches key -> val[0..len) read from SQLite, unless a commit ended since gen. */
static void
sq_cache_fill(struct sq_storage *q, const char *key, const uint8_t *val, size_t len, uint64_t gen)
{
	struct sq_slot *sl = &q->cache[sq_slot_of(key)];
	char *kcopy;
	uint8_t *vcopy;

	if (len > SQ_CACHE_MAX_VALUE)
		return;
	kcopy = strdup(key);
	vcopy = malloc(len ? len : 1);
	if (kcopy == NULL || vcopy == NULL)
		goto out;
	if (len > 0)
		memcpy(vcopy, val, len);
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
	if (vcopy != NULL)
		explicit_bzero(vcopy, len);
	free(vcopy);
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

/* Runs the n requests starting at first in one transaction and sets each result.
 * Returns 0 if the transaction ended as planned (committed, or for a single failed
 * request rolled back), or CF_EIO if it was lost as a whole: then no request's
 * results are set and none of their writes is in the database. */
static int
sq_batch(struct sq_storage *q, struct sq_req *first, size_t n)
{
	struct sq_req *req;
	size_t i, nops = 0, nisolated = 0;
	bool sp = n > 1;
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

	if (sq_batch(q, first, n) < 0) {
		/* retry alone, so one bad request cannot fail the others */
		for (i = 0, req = first; i < n; i++, req = req->next)
			if (n == 1 || sq_batch(q, req, 1) < 0)
				req->result = CF_EIO;
	}
	sq_cache_drop(q, first, n);
}

static void *
sq_committer(void *arg)
{
	struct sq_storage *q = arg;
	struct sq_req *first, *req, *next;
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* Work is a non-empty queue while nobody else uses wdb; stop once
		 * stopping, drained and idle. */
		while ((q->head == NULL || q->busy) &&
		       !(q->stopping && q->head == NULL && !q->busy))
			pthread_cond_wait(&q->work, &q->mu);
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
	if (!q->busy && q->head == NULL && q->last_size <= 1) {
		q->busy = true;
		pthread_mutex_unlock(&q->mu);
		sq_run(q, &req, 1);
		pthread_mutex_lock(&q->mu);
		q->busy = false;
		q->last_size = 1;
		/* Writers that queued meanwhile (or close) are the committer's. */
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

static int
sq_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	struct sq_storage *q = sq_of(s);
	struct sq_reader *rd;
	const void *blob;
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t gen;
	int r, rc;

	r = sq_cache_get(q, key, ret_val, ret_len, &gen);
	if (r != CF_ENOTFOUND)
		return r;
	r = sq_reader_get(q, &rd);
	if (r < 0)
		return r;
	if (sqlite3_bind_text(rd->get, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
		r = CF_EIO;
		goto out;
	}
	rc = sqlite3_step(rd->get);
	if (rc == SQLITE_DONE) {
		r = CF_ENOTFOUND;
	} else if (rc != SQLITE_ROW) {
		r = CF_EIO;
	} else {
		blob = sqlite3_column_blob(rd->get, 0);
		len = (size_t)sqlite3_column_bytes(rd->get, 0);
		val = malloc(len + 1);
		if (val == NULL) {
			r = CF_ENOMEM;
		} else {
			if (len > 0)
				memcpy(val, blob, len);
			val[len] = '\0';
			sq_cache_fill(q, key, val, len, gen);
		}
	}
out:
	(void)sqlite3_reset(rd->get);
	sq_reader_put(q, rd);
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
	char *ub = NULL, *seek = NULL;
	size_t plen = strlen(prefix), ublen, klen, flen, seekcap = 0;
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
		if (plen + flen > seekcap) {
			char *p = realloc(seek, plen + flen);
			if (p == NULL) {
				r = CF_ENOMEM;
				goto out;
			}
			seek = p;
			seekcap = plen + flen;
		}
		memcpy(seek, key, plen + flen);
		seek[plen + flen - 1] = '/' + 1;
		(void)sqlite3_reset(st);
		if (sqlite3_bind_text(st, 1, seek, (int)(plen + flen), SQLITE_STATIC) !=
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
	free(seek);
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
	if (q->committer_started) {
		pthread_mutex_lock(&q->mu);
		q->stopping = true;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->committer, NULL);
	}
	while ((rd = q->idle) != NULL) {
		q->idle = rd->next;
		sq_reader_free(rd);
	}
	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++)
		sq_slot_clear(&q->cache[i]);
	sqlite3_finalize(q->put);
	sqlite3_finalize(q->del);
	sqlite3_finalize(q->begin);
	sqlite3_finalize(q->commit);
	sqlite3_finalize(q->rollback);
	sqlite3_finalize(q->sp);
	sqlite3_finalize(q->sp_rollback);
	sqlite3_finalize(q->sp_release);
	sqlite3_close(q->wdb);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->pool_mu);
	pthread_mutex_destroy(&q->cache_mu);
	free(q->fail_key);
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
	atomic_init(&q->has_fail_key, false);
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
	if (sqlite3_exec(q->wdb,
	                 "PRAGMA synchronous=FULL;"
	                 "PRAGMA journal_size_limit=" SQ_JOURNAL_LIMIT ";"
	                 "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT "
	                 "ROWID;",
	                 NULL, NULL, NULL) != SQLITE_OK)
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
};
