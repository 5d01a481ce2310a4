/* memory.c - the in-memory storage backend ("memory:"), for tests and --dev.
 *
 * One sorted array of entries under a read-write lock: get and list binary-search
 * it under the read lock, writes take the write lock. Inserts move the tail of the
 * array (O(n)), which is fine for the sizes a test or dev server holds. Writes
 * copy their input and reserve capacity before taking the lock, so a txn either
 * fails before touching anything or applies completely. */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mem_entry {
	char *key;
	uint8_t *val;
	size_t len;
};

struct mem_storage {
	struct storage base; /* must be first */
	pthread_rwlock_t lock;
	struct mem_entry *v; /* sorted by strcmp() of key */
	size_t n;
	size_t cap;
};

static struct mem_storage *
mem_of(struct storage *s)
{
	assert(s != NULL && s->ops == &storage_memory_ops);
	return (struct mem_storage *)s;
}

/* Values are ciphertext, but a few (seal config) are not; wipe them anyway. */
static void
mem_free_val(uint8_t *val, size_t len)
{
	if (val == NULL)
		return;
	secmem_free(val, len);
}

/* First index whose key is >= key. Caller holds the lock. */
static size_t
mem_lower_bound(const struct mem_storage *m, const char *key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index in [lo, n) whose key does not start with (and so sorts after) the
 * first len bytes of p; every key in [lo, result) starts with them. */
static size_t
mem_skip_prefix(const struct mem_storage *m, size_t lo, const char *p, size_t len)
{
	size_t hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strncmp(m->v[mid].key, p, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
mem_reserve(struct mem_storage *m, size_t extra)
{
	struct mem_entry *v;
	size_t cap;

	if (m->n + extra <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 64;
	while (cap < m->n + extra)
		cap *= 2;
	v = realloc(m->v, cap * sizeof(*v));
	if (v == NULL)
		return CF_ENOMEM;
	m->v = v;
	m->cap = cap;
	return 0;
}

/* Applies one prepared op; cannot fail (capacity was reserved). Takes ownership of
 * e->key and e->val; whatever must be freed afterwards is left in *garbage. */
static void
mem_apply(struct mem_storage *m, enum storage_op_kind kind, struct mem_entry *e,
          struct mem_entry *garbage)
{
	size_t i = mem_lower_bound(m, e->key);
	bool found = i < m->n && strcmp(m->v[i].key, e->key) == 0;

	memset(garbage, 0, sizeof(*garbage));
	if (kind == STORAGE_PUT) {
		if (found) {
			garbage->val = m->v[i].val;
			garbage->len = m->v[i].len;
			garbage->key = e->key;
			m->v[i].val = e->val;
			m->v[i].len = e->len;
		} else {
			assert(m->n < m->cap);
			memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(m->v[0]));
			m->v[i] = *e;
			m->n++;
		}
	} else {
		garbage->key = e->key;
		if (found) {
			garbage->key = m->v[i].key;
			garbage->val = m->v[i].val;
			garbage->len = m->v[i].len;
			free(e->key); /* not secret: a storage path */
			memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(m->v[0]));
			m->n--;
		}
	}
}

/* Copies an op's key and value into e. Returns 0 or CF_ENOMEM. */
static int
mem_copy_op(const struct storage_op *op, struct mem_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->key = strdup(op->key);
	if (e->key == NULL)
		return CF_ENOMEM;
	if (op->kind == STORAGE_PUT) {
		e->val = malloc(op->len ? op->len : 1);
		if (e->val == NULL) {
			free(e->key); /* not secret: a storage path */
			e->key = NULL;
			return CF_ENOMEM;
		}
		if (op->len)
			memcpy(e->val, op->value, op->len);
		e->len = op->len;
	}
	return 0;
}

static int
mem_open(const char *url, struct storage **ret)
{
	struct mem_storage *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CF_ENOMEM;
	if (pthread_rwlock_init(&m->lock, NULL) != 0) {
		free(m);
		return CF_ENOMEM;
	}
	m->base.ops = &storage_memory_ops;
	*ret = &m->base;
	return 0;
}

static void
mem_close(struct storage *s)
{
	struct mem_storage *m;

	if (s == NULL)
		return;
	m = mem_of(s);
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key); /* not secret: a storage path */
		mem_free_val(m->v[i].val, m->v[i].len);
	}
	free(m->v);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static int
mem_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	struct mem_storage *m = mem_of(s);
	uint8_t *val = NULL;
	size_t i, len = 0;
	int r = CF_ENOTFOUND;

	pthread_rwlock_rdlock(&m->lock);
	i = mem_lower_bound(m, key);
	if (i < m->n && strcmp(m->v[i].key, key) == 0) {
		len = m->v[i].len;
		val = malloc(len + 1);
		if (val == NULL) {
			r = CF_ENOMEM;
		} else {
			if (len)
				memcpy(val, m->v[i].val, len);
			val[len] = '\0';
			r = 0;
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (r < 0)
		return r;
	*ret_val = val;
	*ret_len = len;
	return 0;
}

static int
mem_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	struct mem_storage *m = mem_of(s);
	struct mem_entry *prep = NULL, *garbage = NULL;
	size_t i, done = 0, nput = 0;
	int r;

	if (n == 0)
		return 0;
	prep = calloc(n, sizeof(*prep));
	garbage = calloc(n, sizeof(*garbage));
	if (prep == NULL || garbage == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	for (done = 0; done < n; done++) {
		r = mem_copy_op(&ops[done], &prep[done]);
		if (r < 0)
			goto out;
		if (ops[done].kind == STORAGE_PUT)
			nput++;
	}

	pthread_rwlock_wrlock(&m->lock);
	r = mem_reserve(m, nput);
	if (r == 0) {
		for (i = 0; i < n; i++)
			mem_apply(m, ops[i].kind, &prep[i], &garbage[i]);
		done = 0; /* prep now belongs to the array */
	}
	pthread_rwlock_unlock(&m->lock);
out:
	for (i = 0; i < done; i++) {
		free(prep[i].key); /* not secret: a storage path */
		mem_free_val(prep[i].val, prep[i].len);
	}
	if (garbage != NULL && r == 0) {
		for (i = 0; i < n; i++) {
			free(garbage[i].key); /* not secret: a storage path */
			mem_free_val(garbage[i].val, garbage[i].len);
		}
	}
	free(prep);
	free(garbage);
	return r;
}

static int
mem_put(struct storage *s, const char *key, const uint8_t *val, size_t len)
{
	struct storage_op op = {STORAGE_PUT, key, val, len};

	return mem_txn(s, &op, 1);
}

static int
mem_del(struct storage *s, const char *key)
{
	struct storage_op op = {STORAGE_DELETE, key, NULL, 0};

	return mem_txn(s, &op, 1);
}

static int
mem_list(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	struct mem_storage *m = mem_of(s);
	struct storage_keyvec kv = {0};
	size_t plen = strlen(prefix), i, flen;
	int r = 0;

	pthread_rwlock_rdlock(&m->lock);
	i = mem_lower_bound(m, prefix);
	while (i < m->n && strncmp(m->v[i].key, prefix, plen) == 0) {
		r = storage_list_add(&kv, m->v[i].key, plen, &flen);
		if (r < 0)
			break;
		if (flen == 0)
			i++;
		else /* skip every key under this folder in one search */
			i = mem_skip_prefix(m, i, m->v[i].key, plen + flen);
	}
	pthread_rwlock_unlock(&m->lock);
	if (r < 0) {
		storage_keyvec_reset(&kv);
		return r;
	}
	*ret_keys = kv.v;
	*ret_n = kv.n;
	return 0;
}

const struct storage_ops storage_memory_ops = {
        .name = "memory",
        .open = mem_open,
        .close = mem_close,
        .get = mem_get,
        .put = mem_put,
        .del = mem_del,
        .list = mem_list,
        .txn = mem_txn,
        .lock_acquire = NULL,
        .lock_release = NULL,
};
