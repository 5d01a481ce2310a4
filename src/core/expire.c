/* expire.c - the expiration manager (see expire.h and docs/internals/leases.md).
 *
 * Memory: a hash table of lease nodes keyed by lease id and a binary min-heap of
 * the same nodes ordered by the time they are due (expiry, or the next retry).
 * Storage stays the source of truth: lookups and renewals read the record, the
 * heap only says when to act. One mutex (mu) guards both structures; it is a
 * leaf lock: nothing that can block (storage, a backend) runs under it.
 *
 * Threads: EXPIRE_WORKERS workers pop due nodes and revoke them, so one slow
 * database does not hold back the rest; a loader walks storage at unseal. Workers
 * take the core lock for reading around each revocation (the mount and its state
 * must stay valid) with a timed wait, so a seal that holds the lock for writing
 * and waits for them to stop never deadlocks. */
#include "core/expire.h"
#include "core/core_int.h"
#include "core/token.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPIRE_WORKERS     4
#define RETRY_MIN_NS       (1000000000LL)
#define RETRY_MAX_NS       (30 * 1000000000LL)
#define NS                 1000000000LL
#define LEASE_SUFFIX_CHARS 24
/* Heap nodes whose id starts with this watch a token's expiry, not a lease: when
 * the token has expired its leases are revoked (the token store revokes it on
 * sight and calls expire_token_revoked). Never stored. */
#define WATCH_PREFIX "!tok:"
#define WATCH_LEN    5

struct lnode {
	char *id;
	int64_t due; /* unix ns: expiry or next retry */
	size_t hidx; /* position in the heap, or SIZE_MAX when not queued */
	int attempts;
	bool busy; /* a worker is revoking it */
	struct lnode *next;
};

struct expiration {
	struct core *c;
	struct view *view;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lnode **buckets;
	size_t nbuckets, count;
	struct lnode **heap;
	size_t hlen, hcap;

	bool running, stop, loaded;
	/* Leases being revoked right now (by a worker or a request): a second
	 * revoker waits, then finds the record gone, so a backend never revokes
	 * the same lease twice at once. Under claim_mu. */
	pthread_mutex_t claim_mu;
	pthread_cond_t claim_cv;
	struct claim *claims;
	pthread_t workers[EXPIRE_WORKERS];
	pthread_t loader;
	int nworkers;
	bool have_loader;
};

struct claim {
	char *id;
	struct claim *next;
};

/* ---- hash table and heap (under mu) ---- */

static size_t
hash_id(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct lnode *
node_find(struct expiration *e, const char *id)
{
	struct lnode *n = e->buckets[hash_id(id) % e->nbuckets];
	while (n && strcmp(n->id, id) != 0)
		n = n->next;
	return n;
}

static int
table_grow(struct expiration *e)
{
	size_t nb = e->nbuckets * 2;
	struct lnode **b = calloc(nb, sizeof(*b));
	if (!b)
		return CF_ENOMEM;
	for (size_t i = 0; i < e->nbuckets; i++) {
		struct lnode *n = e->buckets[i], *next;
		for (; n; n = next) {
			size_t k = hash_id(n->id) % nb;
			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(e->buckets);
	e->buckets = b;
	e->nbuckets = nb;
	return 0;
}

static void
heap_swap(struct expiration *e, size_t a, size_t b)
{
	struct lnode *t = e->heap[a];
	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->heap[a]->hidx = a;
	e->heap[b]->hidx = b;
}

static void
heap_up(struct expiration *e, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (e->heap[p]->due <= e->heap[i]->due)
			break;
		heap_swap(e, p, i);
		i = p;
	}
}

static void
heap_down(struct expiration *e, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < e->hlen && e->heap[l]->due < e->heap[m]->due)
			m = l;
		if (r < e->hlen && e->heap[r]->due < e->heap[m]->due)
			m = r;
		if (m == i)
			break;
		heap_swap(e, i, m);
		i = m;
	}
}

static int
heap_push(struct expiration *e, struct lnode *n)
{
	if (e->hlen == e->hcap) {
		size_t cap = e->hcap ? e->hcap * 2 : 256;
		struct lnode **h = realloc(e->heap, cap * sizeof(*h));
		if (!h)
			return CF_ENOMEM;
		e->heap = h;
		e->hcap = cap;
	}
	n->hidx = e->hlen;
	e->heap[e->hlen++] = n;
	heap_up(e, n->hidx);
	return 0;
}

static void
heap_remove(struct expiration *e, struct lnode *n)
{
	size_t i = n->hidx;
	if (i == SIZE_MAX)
		return;
	e->hlen--;
	if (i != e->hlen) {
		e->heap[i] = e->heap[e->hlen];
		e->heap[i]->hidx = i;
		heap_down(e, i);
		heap_up(e, i);
	}
	n->hidx = SIZE_MAX;
}

/* Inserts or re-schedules a lease. keep_earlier: do not postpone a node that is
 * already due sooner (the loader must not undo a token revocation). */
static int
schedule_locked(struct expiration *e, const char *id, int64_t due, bool keep_earlier)
{
	struct lnode *n = node_find(e, id);
	if (!n) {
		if (e->count + 1 > e->nbuckets && table_grow(e) < 0)
			return CF_ENOMEM;
		n = calloc(1, sizeof(*n));
		if (!n || !(n->id = strdup(id))) {
			free(n);
			return CF_ENOMEM;
		}
		size_t k = hash_id(id) % e->nbuckets;
		n->next = e->buckets[k];
		e->buckets[k] = n;
		e->count++;
		n->hidx = SIZE_MAX;
	}
	if (n->busy)
		return 0; /* a worker has it; it re-queues on failure */
	if (n->hidx != SIZE_MAX) {
		if (keep_earlier && n->due <= due)
			return 0;
		n->due = due;
		heap_down(e, n->hidx);
		heap_up(e, n->hidx);
		return 0;
	}
	n->due = due;
	return heap_push(e, n);
}

static void
node_forget_locked(struct expiration *e, const char *id)
{
	size_t k = hash_id(id) % e->nbuckets;
	struct lnode **pp = &e->buckets[k];
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	struct lnode *n = *pp;
	*pp = n->next;
	heap_remove(e, n);
	free(n->id);
	free(n);
	e->count--;
}

static void
schedule(struct expiration *e, const char *id, int64_t due, bool keep_earlier)
{
	pthread_mutex_lock(&e->mu);
	if (schedule_locked(e, id, due, keep_earlier) < 0)
		log_error("lease %s could not be scheduled: out of memory", id);
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static void
forget(struct expiration *e, const char *id)
{
	pthread_mutex_lock(&e->mu);
	node_forget_locked(e, id);
	pthread_mutex_unlock(&e->mu);
}

static void
table_clear_locked(struct expiration *e)
{
	for (size_t i = 0; i < e->nbuckets; i++) {
		struct lnode *n = e->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n->id);
			free(n);
		}
		e->buckets[i] = NULL;
	}
	e->count = 0;
	e->hlen = 0;
}

/* ---- records ---- */

static char *
record_key(const char *id)
{
	size_t len = strlen(id) + 4;
	char *k = malloc(len);
	if (k)
		snprintf(k, len, "id/%s", id);
	return k;
}

static int
record_get(struct expiration *e, const char *id, json_t **ret)
{
	char *k = record_key(id);
	int r;
	if (!k)
		return CF_ENOMEM;
	r = view_get_json(e->view, k, ret);
	free(k);
	return r;
}

static int
record_put(struct expiration *e, const char *id, json_t *rec)
{
	char *k = record_key(id);
	int r;
	if (!k)
		return CF_ENOMEM;
	r = view_put_json(e->view, k, rec);
	free(k);
	return r;
}

static int64_t
rec_int(json_t *rec, const char *key)
{
	int64_t v = 0;
	(void)jsonx_int(rec, key, &v);
	return v;
}

static const char *
rec_str(json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));
	return s ? s : "";
}

/* The index key token/<hash>/<suffix> of a lease. */
static int
index_key(json_t *rec, const char *id, char *out, size_t len)
{
	const char *hash = rec_str(rec, "token_hash");
	const char *suffix = strrchr(id, '/');
	if (!*hash)
		return CF_ENOTFOUND;
	if ((size_t)snprintf(out, len, "token/%s/%s", hash, suffix ? suffix + 1 : id) >= len)
		return CF_EINVAL;
	return 0;
}

/* Deletes the record and its index entry in one transaction. */
static int
record_delete(struct expiration *e, const char *id, json_t *rec)
{
	char ik[256];
	char *k = record_key(id);
	struct storage_op ops[2] = {{.kind = STORAGE_DELETE}, {.kind = STORAGE_DELETE}};
	size_t n = 1;
	int r;

	if (!k)
		return CF_ENOMEM;
	ops[0].key = k;
	if (index_key(rec, id, ik, sizeof(ik)) == 0) {
		ops[1].key = ik;
		n = 2;
	}
	r = view_txn(e->view, ops, n);
	free(k);
	return r;
}

/* The mount that issued a lease, if it is still mounted (core lock held). */
static struct mount *
lease_mount(struct core *c, json_t *rec)
{
	const char *rel;
	struct mount *m = mount_find(c, rec_str(rec, "path"), &rel);
	if (!m || strcmp(m->uuid, rec_str(rec, "mount_uuid")) != 0)
		return NULL;
	return m;
}

static bool core_rdlock(struct expiration *e);

static bool
claimed(struct expiration *e, const char *id)
{
	for (struct claim *c = e->claims; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return true;
	return false;
}

/* Waits until no one else revokes id, then claims it. */
static int
claim(struct expiration *e, const char *id)
{
	struct claim *c = calloc(1, sizeof(*c));

	if (!c || !(c->id = strdup(id))) {
		free(c);
		return CF_ENOMEM;
	}
	pthread_mutex_lock(&e->claim_mu);
	while (claimed(e, id))
		pthread_cond_wait(&e->claim_cv, &e->claim_mu);
	c->next = e->claims;
	e->claims = c;
	pthread_mutex_unlock(&e->claim_mu);
	return 0;
}

static void
unclaim(struct expiration *e, const char *id)
{
	pthread_mutex_lock(&e->claim_mu);
	for (struct claim **pp = &e->claims; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct claim *c = *pp;
			*pp = c->next;
			free(c->id);
			free(c);
			break;
		}
	}
	pthread_cond_broadcast(&e->claim_cv);
	pthread_mutex_unlock(&e->claim_mu);
}

/* Revokes one lease. Returns 0 when the lease is gone (revoked now or before),
 * else the backend's or storage's error. holds_lock: the caller holds the core
 * lock (a request); otherwise (a worker) the lock is taken only to find the
 * mount and take a reference on it, and the backend runs without it, so a
 * revocation waiting on a database never holds up seal or mount changes. */
static int
revoke_one(struct expiration *e, const char *id, bool force, const char *event_type,
           bool holds_lock)
{
	json_t *rec = NULL;
	struct mount *m;
	int r = record_get(e, id, &rec);

	if (r == CF_ENOTFOUND) {
		forget(e, id);
		return 0;
	}
	if (r < 0)
		return r;
	if (!holds_lock && !core_rdlock(e)) {
		json_decref(rec);
		return CF_ESEALED;
	}
	m = lease_mount(e->c, rec);
	if (m)
		mount_ref(m);
	if (!holds_lock)
		pthread_rwlock_unlock(&e->c->lock);
	/* One revoker at a time per lease; whoever comes second finds it gone.
	 * Claimed only after the core lock phase: a claim holder never waits for
	 * the core lock, so a request holding it may wait for the claim. */
	json_decref(rec);
	rec = NULL;
	r = claim(e, id);
	if (r == 0)
		r = record_get(e, id, &rec);
	if (r < 0) {
		if (r != CF_ENOMEM)
			unclaim(e, id);
		mount_unref(m);
		if (r == CF_ENOTFOUND) {
			forget(e, id);
			return 0;
		}
		return r;
	}
	if (m && m->bt->lease_revoke) {
		r = m->bt->lease_revoke(m, json_object_get(rec, "internal"));
		if (r < 0 && !force) {
			unclaim(e, id);
			mount_unref(m);
			json_decref(rec);
			return r;
		}
		if (r < 0)
			log_info("lease %s: backend revocation failed (%s); record removed (force)",
			         id, cf_strerror(r));
	}
	mount_unref(m);
	r = record_delete(e, id, rec);
	if (r == 0) {
		struct event ev = {.type = event_type,
		                   .mount = rec_str(rec, "mount_path"),
		                   .path = id,
		                   .severity = EV_INFO};
		forget(e, id);
		log_verbose("lease %s revoked", id);
		if (core_emit_event(e->c, &ev, NULL) < 0)
			log_error("lease %s: the %s event could not be stored", id, event_type);
	}
	unclaim(e, id);
	json_decref(rec);
	return r;
}

/* A token watch is due: the token expired (then its leases go), was renewed
 * (watch again at its new expiry) or is gone already. */
static int
watch_token(struct expiration *e, const char *id)
{
	struct token_entry *te = NULL;
	const char *hash = id + WATCH_LEN;
	int r = token_lookup_hash(e->c->tokens, hash, &te);

	if (r == 0) {
		int64_t next = te->expire_time;
		token_entry_free(te);
		if (next) {
			pthread_mutex_lock(&e->mu);
			struct lnode *n = node_find(e, id);
			if (n) {
				n->busy = false;
				(void)schedule_locked(e, id, next, false);
			}
			pthread_mutex_unlock(&e->mu);
			return 0;
		}
	} else if (r == CF_ENOTFOUND) {
		expire_token_revoked(e, hash);
	} else {
		return r;
	}
	forget(e, id);
	return 0;
}

static void
watch(struct expiration *e, const char *hash, int64_t when)
{
	char id[WATCH_LEN + 65];
	if (!*hash)
		return;
	snprintf(id, sizeof(id), "%s%s", WATCH_PREFIX, hash);
	schedule(e, id, when, true);
}

/* ---- worker threads ---- */

static void
abs_time(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / NS);
	ts->tv_nsec = (long)(ns % NS);
}

/* Takes the core lock for reading unless a stop is requested; false then. */
static bool
core_rdlock(struct expiration *e)
{
	for (;;) {
		struct timespec ts;
		abs_time(util_now_ns() + NS / 10, &ts);
		if (pthread_rwlock_timedrdlock(&e->c->lock, &ts) == 0)
			return true;
		pthread_mutex_lock(&e->mu);
		bool stop = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			return false;
	}
}

static void *
worker_main(void *arg)
{
	struct expiration *e = arg;

	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		int64_t now = util_now_ns();
		if (e->hlen == 0) {
			pthread_cond_wait(&e->cv, &e->mu);
			continue;
		}
		if (e->heap[0]->due > now) {
			struct timespec ts;
			abs_time(e->heap[0]->due, &ts);
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
			continue;
		}
		struct lnode *n = e->heap[0];
		char *id = strdup(n->id);
		if (!id) {
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		heap_remove(e, n);
		n->busy = true;
		pthread_mutex_unlock(&e->mu);

		int r = CF_ESEALED;
		if (strncmp(id, WATCH_PREFIX, WATCH_LEN) != 0) {
			r = revoke_one(e, id, false, "lease.expired", false);
		} else if (core_rdlock(e)) {
			r = watch_token(e, id);
			pthread_rwlock_unlock(&e->c->lock);
		}

		pthread_mutex_lock(&e->mu);
		n = node_find(e, id);
		if (n) {
			n->busy = false;
			if (r < 0) {
				int64_t delay = RETRY_MIN_NS << (n->attempts < 5 ? n->attempts : 5);
				if (delay > RETRY_MAX_NS)
					delay = RETRY_MAX_NS;
				n->attempts++;
				if (!e->stop)
					log_error("lease %s: revocation failed (attempt %d, retry "
					          "in %llds): "
					          "%s",
					          id, n->attempts, (long long)(delay / NS),
					          cf_strerror(r));
				n->due = util_now_ns() + delay;
				(void)heap_push(e, n);
			}
		}
		free(id);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---- the loader ---- */

static bool
stopping(struct expiration *e)
{
	pthread_mutex_lock(&e->mu);
	bool s = e->stop;
	pthread_mutex_unlock(&e->mu);
	return s;
}

struct load_ctx {
	struct expiration *e;
	size_t count;
};

/* One stored lease (id/...): schedules it. CF_ESEALED ends the walk when the
 * manager is stopping. */
static int
load_one(struct view *v, const char *key, void *arg)
{
	struct load_ctx *lc = arg;
	json_t *rec = NULL;

	if (stopping(lc->e))
		return CF_ESEALED;
	if (view_get_json(v, key, &rec) == 0) {
		schedule(lc->e, key + 3, rec_int(rec, "expire_time"), true);
		watch(lc->e, rec_str(rec, "token_hash"), util_now_ns());
		json_decref(rec);
		lc->count++;
	}
	return 0;
}

static void *
loader_main(void *arg)
{
	struct expiration *e = arg;
	int64_t t0 = util_now_ns();
	struct load_ctx lc = {e, 0};
	int r = view_walk(e->view, "id/", load_one, &lc);
	size_t count = lc.count;

	pthread_mutex_lock(&e->mu);
	e->loaded = r == 0;
	pthread_mutex_unlock(&e->mu);
	if (r == 0)
		log_info("leases: %zu loaded in %lld ms", count,
		         (long long)((util_now_ns() - t0) / 1000000));
	else if (r != CF_ESEALED)
		log_error_r(r, "leases: loading stopped after %zu", count);
	return NULL;
}

/* ---- lifecycle ---- */

int
expire_new(struct core *c, struct expiration **ret)
{
	struct expiration *e = calloc(1, sizeof(*e));
	if (!e)
		return CF_ENOMEM;
	e->c = c;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	pthread_mutex_init(&e->claim_mu, NULL);
	pthread_cond_init(&e->claim_cv, NULL);
	e->nbuckets = 1024;
	e->buckets = calloc(e->nbuckets, sizeof(*e->buckets));
	e->view = view_new(c->barrier, "sys/expire/");
	if (!e->buckets || !e->view) {
		expire_free(e);
		return CF_ENOMEM;
	}
	*ret = e;
	return 0;
}

void
expire_free(struct expiration *e)
{
	if (!e)
		return;
	expire_stop(e);
	if (e->buckets)
		table_clear_locked(e);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->claim_mu);
	pthread_cond_destroy(&e->claim_cv);
	free(e->buckets);
	free(e->heap);
	view_free(e->view);
	free(e);
}

int
expire_start(struct expiration *e)
{
	if (e->running)
		return 0;
	e->stop = false;
	e->loaded = false;
	e->running = true;
	if (pthread_create(&e->loader, NULL, loader_main, e) == 0)
		e->have_loader = true;
	for (int i = 0; i < EXPIRE_WORKERS; i++)
		if (pthread_create(&e->workers[e->nworkers], NULL, worker_main, e) == 0)
			e->nworkers++;
	if (!e->have_loader || e->nworkers == 0) {
		expire_stop(e);
		return CF_ENOMEM;
	}
	return 0;
}

void
expire_stop(struct expiration *e)
{
	if (!e->running)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (e->have_loader)
		pthread_join(e->loader, NULL);
	for (int i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	e->have_loader = false;
	e->nworkers = 0;
	pthread_mutex_lock(&e->mu);
	table_clear_locked(e);
	pthread_mutex_unlock(&e->mu);
	e->running = false;
}

void
expire_stats(struct expiration *e, size_t *ret_pending, bool *ret_loaded)
{
	pthread_mutex_lock(&e->mu);
	*ret_pending = e->count;
	*ret_loaded = e->loaded;
	pthread_mutex_unlock(&e->mu);
}

void
expire_walk(struct expiration *e, void (*fn)(void *arg, const char *lease_id), void *arg)
{
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; e->buckets && i < e->nbuckets; i++)
		for (struct lnode *n = e->buckets[i]; n; n = n->next)
			fn(arg, n->id);
	pthread_mutex_unlock(&e->mu);
}

/* ---- registration ---- */

int
expire_register(struct expiration *e, struct request *rq, struct response *rs)
{
	struct mount *m = rq->mount;
	int64_t now = util_now_ns(), ttl, max;
	char suffix[LEASE_SUFFIX_CHARS + 1], ik[256], *id = NULL, *k = NULL, *text = NULL;
	json_t *rec = NULL;
	int r;

	max = rs->lease_max_ttl > 0 ? rs->lease_max_ttl : mount_max_ttl(m);
	if (max > mount_max_ttl(m))
		max = mount_max_ttl(m);
	ttl = rs->lease_ttl > 0 ? rs->lease_ttl : mount_default_ttl(m);
	if (ttl > max)
		ttl = max;
	util_random_base62(suffix, LEASE_SUFFIX_CHARS);
	suffix[LEASE_SUFFIX_CHARS] = '\0';
	if (asprintf(&id, "%s/%s", rq->path, suffix) < 0) {
		id = NULL;
		r = CF_ENOMEM;
		goto fail;
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:O}", "lease_id",
	                id, "path", rq->path, "mount_path", m->path, "mount_uuid", m->uuid,
	                "token_hash", rq->te ? rq->te->hash : "", "issue_time", (json_int_t)now,
	                "expire_time", (json_int_t)(now + ttl * NS), "max_expire",
	                (json_int_t)(now + max * NS), "ttl", (json_int_t)ttl, "last_renewal",
	                (json_int_t)0, "renewable", rs->renewable, "internal", rs->secret);
	k = record_key(id);
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (!text || !k) {
		r = CF_ENOMEM;
		goto fail;
	}
	{
		struct storage_op ops[2] = {
		        {.kind = STORAGE_PUT,
		         .key = k,
		         .value = (uint8_t *)text,
		         .len = strlen(text)},
		        {.kind = STORAGE_PUT, .key = ik, .value = (uint8_t *)id, .len = strlen(id)},
		};
		size_t nops = index_key(rec, id, ik, sizeof(ik)) == 0 ? 2 : 1;
		r = view_txn(e->view, ops, nops);
	}
	if (r < 0)
		goto fail;
	schedule(e, id, now + ttl * NS, false);
	if (rq->te && rq->te->expire_time)
		watch(e, rq->te->hash, rq->te->expire_time);
	rs->lease_id = id;
	rs->lease_duration = ttl;
	free(k);
	free(text);
	json_decref(rec);
	return 0;
fail:
	log_error_r(r, "lease for %s could not be stored; revoking the secret", rq->path);
	if (m->bt->lease_revoke)
		(void)m->bt->lease_revoke(m, rs->secret);
	json_decref(rs->data);
	rs->data = NULL;
	free(id);
	free(k);
	free(text);
	json_decref(rec);
	return r;
}

/* ---- token revocation ---- */

void
expire_token_revoked(void *arg, const char *token_hash)
{
	struct expiration *e = arg;
	char prefix[128];
	char **keys = NULL;
	size_t n = 0;
	int64_t now = util_now_ns();

	snprintf(prefix, sizeof(prefix), "token/%s/", token_hash);
	if (view_list(e->view, prefix, &keys, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char k[256];
		uint8_t *val = NULL;
		size_t len = 0;
		snprintf(k, sizeof(k), "%s%s", prefix, keys[i]);
		if (view_get(e->view, k, &val, &len) == 0) {
			char *id = strndup((char *)val, len);
			if (id)
				schedule(e, id, now, false);
			free(id);
			free(val);
		}
	}
	storage_keys_free(keys, n);
}

/* ---- prefix revocation ---- */

static int
collect(struct expiration *e, const char *prefix, json_t *out)
{
	char **keys = NULL;
	size_t n = 0;
	int r = view_list(e->view, prefix, &keys, &n);

	if (r == CF_ENOTFOUND)
		return 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		char *k = NULL;
		if (asprintf(&k, "%s%s", prefix, keys[i]) < 0)
			r = CF_ENOMEM;
		else if (k[strlen(k) - 1] == '/')
			r = collect(e, k, out);
		else
			r = json_array_append_new(out, json_string(k + 3)) ? CF_ENOMEM : 0;
		free(k);
	}
	storage_keys_free(keys, n);
	return r;
}

int
expire_revoke_prefix(struct expiration *e, const char *prefix, bool force, char *err, size_t errlen)
{
	json_t *ids = json_array(), *v;
	char *p = NULL;
	size_t i;
	int r = 0, failed = 0, first = 0;

	if (!ids)
		return CF_ENOMEM;
	/* An exact lease id is revoked alone; anything else is a folder. */
	if (*prefix && prefix[strlen(prefix) - 1] != '/') {
		json_t *rec = NULL;
		if (record_get(e, prefix, &rec) == 0) {
			json_decref(rec);
			json_array_append_new(ids, json_string(prefix));
		}
	}
	if (json_array_size(ids) == 0) {
		size_t len = strlen(prefix);
		if (asprintf(&p, "id/%s%s", prefix, len && prefix[len - 1] != '/' ? "/" : "") < 0) {
			json_decref(ids);
			return CF_ENOMEM;
		}
		r = collect(e, p, ids);
		free(p);
	}
	json_array_foreach(ids, i, v)
	{
		if (r < 0)
			break;
		int rr = revoke_one(e, json_string_value(v), force, "lease.revoked", true);
		if (rr < 0) {
			if (!failed++)
				first = rr;
			snprintf(err, errlen, "failed to revoke lease %s: %s", json_string_value(v),
			         cf_strerror(rr));
			/* keep it queued so it is retried */
			schedule(e, json_string_value(v), util_now_ns() + RETRY_MIN_NS, false);
		}
	}
	json_decref(ids);
	if (r < 0)
		return r;
	return failed ? first : 0;
}

/* ---- sys routes ---- */

static struct expiration *
exp_of(struct request *rq)
{
	return rq->core->expire;
}

/* The parameters of the sys/leases routes (Vault's /sys/leases API). */
struct lease_params {
	const char *lease_id;
	int64_t increment;
	bool sync;
	const char *prefix;
};

#define LEASE_ID_FIELD                                                                             \
	{                                                                                          \
		"lease_id", FIELD_STRING, 0, offsetof(struct lease_params, lease_id),              \
		        .desc = "the lease's ID (sys/renew/<id> and sys/revoke/<id> take it in "   \
		                "the path)"                                                        \
	}
#define LEASE_SYNC_FIELD                                                                           \
	{                                                                                          \
		"sync", FIELD_BOOL, 0, offsetof(struct lease_params, sync),                        \
		        .def = "true",                                                             \
		        .desc = "revoke before answering; false queues the revocation"             \
	}

const struct field expire_lookup_fields[] = {LEASE_ID_FIELD, {NULL}};
const struct field expire_renew_fields[] = {
        LEASE_ID_FIELD,
        {"increment", FIELD_DURATION, 0, offsetof(struct lease_params, increment),
         .desc = "the TTL asked for, from now; none: the lease's own TTL"},
        {NULL},
};
const struct field expire_revoke_fields[] = {LEASE_ID_FIELD, LEASE_SYNC_FIELD, {NULL}};
const struct field expire_revoke_prefix_fields[] = {
        {"prefix", FIELD_STRING, 0, offsetof(struct lease_params, prefix),
         .desc = "revoke every lease whose ID starts with it (the path may give it instead)"},
        LEASE_SYNC_FIELD,
        {NULL},
};

/* lease_id from the body, else the URL rest (sys/renew/<id>, sys/revoke/<id>). */
static const char *
lease_arg(struct request *rq, const struct lease_params *p)
{
	if (p->lease_id && *p->lease_id)
		return p->lease_id;
	if (rq->ncap > 0 && *rq->cap[rq->ncap - 1])
		return rq->cap[rq->ncap - 1];
	return NULL;
}

static int
bad(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

int
expire_sys_lookup(struct request *rq, struct response *rs)
{
	struct lease_params lp = {0};
	const char *id;
	json_t *rec = NULL;
	char issue[40], expire[40], renewed[40];
	int64_t now = util_now_ns(), exp, last, ttl;
	int r = field_parse(expire_lookup_fields, rq->data, &lp, rs);

	if (r < 0)
		return r;
	id = lease_arg(rq, &lp);
	if (!id)
		return bad(rs, "missing lease id");
	r = record_get(exp_of(rq), id, &rec);
	if (r == CF_ENOTFOUND)
		return bad(rs, "invalid lease");
	if (r < 0)
		return r;
	exp = rec_int(rec, "expire_time");
	last = rec_int(rec, "last_renewal");
	ttl = exp > now ? (exp - now + NS / 2) / NS : 0;
	util_rfc3339(rec_int(rec, "issue_time"), issue, sizeof(issue));
	util_rfc3339(exp, expire, sizeof(expire));
	if (last)
		util_rfc3339(last, renewed, sizeof(renewed));
	rs->data = json_pack(
	        "{s:s, s:s, s:s, s:o, s:o, s:b, s:I}", "id", id, "issue_time", issue, "expire_time",
	        expire, "last_renewal", last ? json_string(renewed) : json_null(),
	        "last_renewal_time", last ? json_string(renewed) : json_null(), "renewable",
	        json_is_true(json_object_get(rec, "renewable")), "ttl", (json_int_t)ttl);
	json_decref(rec);
	return rs->data ? 0 : CF_ENOMEM;
}

int
expire_sys_list(struct request *rq, struct response *rs)
{
	const char *prefix = rq->ncap > 0 ? rq->cap[rq->ncap - 1] : "";
	size_t len = strlen(prefix);
	char *p = NULL;
	int r;

	if (asprintf(&p, "id/%s%s", prefix, len && prefix[len - 1] != '/' ? "/" : "") < 0)
		return CF_ENOMEM;
	r = view_list_response(exp_of(rq)->view, p, 0, rs);
	free(p);
	return r;
}

int
expire_sys_renew(struct request *rq, struct response *rs)
{
	struct expiration *e = exp_of(rq);
	struct lease_params lp = {0};
	const char *id;
	json_t *rec = NULL;
	struct mount *m;
	int64_t inc, now = util_now_ns(), exp, max;
	int r = field_parse(expire_renew_fields, rq->data, &lp, rs);

	if (r < 0)
		return r;
	id = lease_arg(rq, &lp);
	inc = lp.increment;
	if (!id)
		return bad(rs, "missing lease id");
	if (strncmp(id, "auth/", 5) == 0)
		return bad(rs,
		           "tokens cannot be renewed through this endpoint; use auth/token/renew");
	r = record_get(e, id, &rec);
	if (r == CF_ENOTFOUND)
		return bad(rs, "lease not found");
	if (r < 0)
		return r;
	if (!json_is_true(json_object_get(rec, "renewable"))) {
		json_decref(rec);
		return bad(rs, "lease is not renewable");
	}
	if (rec_int(rec, "expire_time") <= now) {
		json_decref(rec);
		return bad(rs, "lease expired");
	}
	if (inc == 0)
		inc = rec_int(rec, "ttl");
	max = rec_int(rec, "max_expire");
	exp = now + inc * NS;
	if (max && exp > max) {
		exp = max;
		(void)response_warnf(
		        rs,
		        "TTL of \"%llds\" exceeded the effective max_ttl of \"%llds\"; "
		        "TTL value is capped accordingly",
		        (long long)inc, (long long)((max - now) / NS));
	}
	m = lease_mount(rq->core, rec);
	if (!m) {
		json_decref(rec);
		return bad(rs, "the mount that issued this lease is gone");
	}
	if (m->bt->lease_renew) {
		r = m->bt->lease_renew(m, json_object_get(rec, "internal"), exp / NS);
		if (r < 0) {
			json_decref(rec);
			(void)response_errorf(rs, "failed to renew the lease: %s", cf_strerror(r));
			return r;
		}
	}
	json_object_set_new(rec, "expire_time", json_integer(exp));
	json_object_set_new(rec, "last_renewal", json_integer(now));
	r = record_put(e, id, rec);
	json_decref(rec);
	if (r < 0)
		return r;
	schedule(e, id, exp, false);
	rs->lease_id = strdup(id);
	rs->lease_duration = (exp - now + NS / 2) / NS;
	rs->renewable = true;
	if (!rs->lease_id)
		return CF_ENOMEM;
	rs->status = 200;
	return 0;
}

static int
revoke_common(struct request *rq, struct response *rs, const char *prefix, bool force, bool sync)
{
	char err[512] = "";
	int r;

	if (!sync && !force) {
		/* Asynchronous: queue the leases for the workers. */
		struct expiration *e = exp_of(rq);
		json_t *ids = json_array(), *v;
		size_t i;
		char *p = NULL;
		if (!ids)
			return CF_ENOMEM;
		json_t *rec = NULL;
		if (record_get(e, prefix, &rec) == 0) {
			json_array_append_new(ids, json_string(prefix));
			json_decref(rec);
		} else if (asprintf(&p, "id/%s%s", prefix,
		                    *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "") >= 0) {
			(void)collect(e, p, ids);
			free(p);
		}
		json_array_foreach(ids, i, v)
		        schedule(e, json_string_value(v), util_now_ns(), false);
		json_decref(ids);
		return 0;
	}
	r = expire_revoke_prefix(exp_of(rq), prefix, force, err, sizeof(err));
	if (r < 0 && *err)
		(void)response_errorf(rs, "%s", err);
	return r;
}

int
expire_sys_revoke(struct request *rq, struct response *rs)
{
	struct lease_params lp = {0};
	const char *id;
	json_t *rec = NULL;
	int r = field_parse(expire_revoke_fields, rq->data, &lp, rs);

	if (r < 0)
		return r;
	id = lease_arg(rq, &lp);
	if (!id)
		return bad(rs, "missing lease id");
	/* Revoking a lease that is already gone succeeds, as in Vault. */
	r = record_get(exp_of(rq), id, &rec);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	json_decref(rec);
	return revoke_common(rq, rs, id, false, lp.sync);
}

/* sys/leases/revoke-prefix/<prefix> and revoke-force/<prefix>: the prefix of
 * the path, else of the body. */
static int
revoke_prefix_common(struct request *rq, struct response *rs, bool force)
{
	struct lease_params lp = {0};
	const char *p = rq->ncap > 0 ? rq->cap[rq->ncap - 1] : "";
	int r = field_parse(expire_revoke_prefix_fields, rq->data, &lp, rs);

	if (r < 0)
		return r;
	if (!*p && lp.prefix)
		p = lp.prefix;
	if (!*p)
		return bad(rs, "missing prefix");
	return revoke_common(rq, rs, p, force, lp.sync);
}

int
expire_sys_revoke_prefix(struct request *rq, struct response *rs)
{
	return revoke_prefix_common(rq, rs, false);
}

int
expire_sys_revoke_force(struct request *rq, struct response *rs)
{
	return revoke_prefix_common(rq, rs, true);
}

/* Removes index entries whose lease record is gone (left by a crash between the
 * backend revocation and the index delete cannot happen: both go in one
 * transaction; this cleans up after older layouts and manual edits). */
int
expire_sys_tidy(struct request *rq, struct response *rs)
{
	struct expiration *e = exp_of(rq);
	char **toks = NULL;
	size_t nt = 0;
	int removed = 0;

	if (view_list(e->view, "token/", &toks, &nt) < 0)
		return 0;
	for (size_t i = 0; i < nt; i++) {
		char pre[160], **keys = NULL;
		size_t n = 0;
		snprintf(pre, sizeof(pre), "token/%s", toks[i]);
		if (view_list(e->view, pre, &keys, &n) < 0)
			continue;
		for (size_t j = 0; j < n; j++) {
			char k[320];
			uint8_t *val = NULL;
			size_t len = 0;
			json_t *rec = NULL;
			snprintf(k, sizeof(k), "%s%s", pre, keys[j]);
			if (view_get(e->view, k, &val, &len) < 0)
				continue;
			char *id = strndup((char *)val, len);
			free(val);
			if (id && record_get(e, id, &rec) == CF_ENOTFOUND &&
			    view_delete(e->view, k) == 0)
				removed++;
			json_decref(rec);
			free(id);
		}
		storage_keys_free(keys, n);
	}
	storage_keys_free(toks, nt);
	if (removed)
		(void)response_warnf(rs, "removed %d stale index entries", removed);
	return 0;
}
