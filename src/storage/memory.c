/* memory.c - the in-memory storage backend ("memory:"), for tests and --dev.
 *
 * A popcount-compressed patricia trie of entries (Tony Finch's qp-trie, with a
 * byte rather than a nibble tested at each branch) under a read-write lock; see
 * docs/internals/storage.md. A branch tests one byte of the key and holds one
 * twig per byte value present, packed in byte order and found with a popcount
 * of its 256-bit bitmap; a leaf points to an entry (key and value). A search
 * looks at single bytes on the way down, never compares keys there, and
 * compares one key at the leaf: a few cache lines per operation whatever the
 * number of keys, so the write rate holds as the store grows
 * (bench/memory_write.c). An in-order walk visits the keys in byte order,
 * which list() uses through a lower-bound seek.
 *
 * get and list run under the read lock, writes under the write lock. A txn
 * copies its input before it takes the lock. Under the lock only an insert
 * allocates (its twig array); if that fails, the ops applied before it are
 * undone, which never needs memory (a DELETE only marks its entry dead until
 * every op has applied), so a txn applies completely or not at all.
 * Values (ciphertext, but also the plain seal configuration) are wiped with
 * secmem when they are overwritten, deleted or freed. */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One key and its value, in one allocation: the key, its NUL, the value. */
struct mem_entry {
	uint8_t *val; /* after the key; wiped on free */
	size_t len;
	size_t klen;
	bool dead; /* deleted by the txn being applied (write lock held) */
	char key[];
};

/* A leaf (ntwigs 0) points to its entry; a branch (2..256 twigs) to its twig
 * block: one twig per byte value present at byte `index` of the keys below it,
 * in byte order, after a bitmap (bit c says whether byte c has one). Every key
 * below a branch has the same bytes before index. 16 bytes a node, so the
 * trie's upper levels stay in the caches. */
struct mem_twigs;
struct mem_node {
	union {
		struct mem_entry *leaf;
		struct mem_twigs *tw;
	} p;
	uint32_t index;
	uint32_t ntwigs;
};

struct mem_twigs {
	uint64_t bm[4];
	struct mem_node t[];
};

struct mem_storage {
	struct storage base; /* must be first */
	pthread_rwlock_t lock;
	struct mem_node root; /* meaningful when count > 0 */
	size_t count;
	size_t max_klen; /* longest key ever stored: bounds the trie's depth */
};

/* One op of a txn: a PUT's entry (allocated before the lock), a DELETE's key.
 * garbage is the entry the op replaced or removed, freed after the lock is
 * released; created says a PUT added a new leaf. */
struct mem_prep {
	enum storage_op_kind kind;
	const char *key;
	struct mem_entry *entry;
	struct mem_entry *garbage;
	bool created;
};

static struct mem_storage *
mem_of(struct storage *s)
{
	assert(s != NULL && s->ops == &storage_memory_ops);
	return (struct mem_storage *)s;
}

static void
mem_entry_free(struct mem_entry *e)
{
	if (e == NULL)
		return;
	secmem_wipe(e->val, e->len);
	free(e);
}

/* Byte index of key (klen bytes); past the end the key reads as NUL bytes,
 * which no key contains, so a key sorts before every longer key it starts. */
static unsigned
mem_byte(const char *key, size_t klen, uint32_t index)
{
	return index < klen ? (uint8_t)key[index] : 0;
}

/* Bits set in x (without a library call on CPUs the build does not assume
 * have POPCNT). */
static unsigned
mem_popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

static bool
mem_has(const struct mem_node *n, unsigned c)
{
	return (n->p.tw->bm[c >> 6] >> (c & 63)) & 1;
}

/* Position in the twigs of the twig for byte c (present or not). */
static unsigned
mem_pos(const struct mem_node *n, unsigned c)
{
	unsigned w = c >> 6, pos = 0, i;

	for (i = 0; i < w; i++)
		pos += mem_popcount64(n->p.tw->bm[i]);
	return pos + mem_popcount64(n->p.tw->bm[w] & ((1ull << (c & 63)) - 1));
}

/* The first byte value above c that has a twig; false when none. */
static bool
mem_above(const struct mem_node *n, unsigned c, unsigned *ret)
{
	unsigned w = c >> 6;
	uint64_t x = (c & 63) == 63 ? 0 : n->p.tw->bm[w] & ~((2ull << (c & 63)) - 1);

	for (;;) {
		if (x) {
			*ret = w * 64 + (unsigned)__builtin_ctzll(x);
			return true;
		}
		if (++w == 4)
			return false;
		x = n->p.tw->bm[w];
	}
}

static void
mem_flip(struct mem_twigs *tw, unsigned c)
{
	tw->bm[c >> 6] ^= 1ull << (c & 63);
}

/* A twig block with room for n twigs (bitmap copied from from, or zero). */
static struct mem_twigs *
mem_twigs_new(unsigned n, const struct mem_twigs *from)
{
	struct mem_twigs *tw = malloc(sizeof(*tw) + n * sizeof(struct mem_node));

	if (tw == NULL)
		return NULL;
	if (from)
		memcpy(tw->bm, from->bm, sizeof(tw->bm));
	else
		memset(tw->bm, 0, sizeof(tw->bm));
	return tw;
}

/* A leaf below n: the one on key's path as far as it goes, then the first twig.
 * Every key below a branch shares its nibbles before index, so if key is stored
 * at all, it is this leaf; otherwise this leaf shares key's nibbles up to the
 * first one where key leaves the trie. Caller holds the lock; count > 0. */
static struct mem_entry *
mem_best_leaf(const struct mem_node *n, const char *key, size_t klen)
{
	while (n->ntwigs) {
		unsigned c = mem_byte(key, klen, n->index);
		/* the block's last line along with its bitmap's: small blocks, the
		 * common case low in the trie, then cost one miss, not two */
		__builtin_prefetch(&n->p.tw->t[n->ntwigs - 1]);
		n = &n->p.tw->t[mem_has(n, c) ? mem_pos(n, c) : 0];
	}
	return n->p.leaf;
}

/* Index of the first byte where key differs from e's key; sets *ret_equal. */
static uint32_t
mem_first_diff(const struct mem_entry *e, const char *key, bool *ret_equal)
{
	size_t j = 0;

	/* The key spans two cache lines or more: ask for them all at once rather
	 * than one miss after the other. */
	for (j = 64; j < e->klen; j += 64)
		__builtin_prefetch(e->key + j);
	j = 0;
	while (e->key[j] != '\0' && e->key[j] == key[j])
		j++;
	*ret_equal = e->key[j] == key[j];
	return (uint32_t)j;
}

static struct mem_entry *
mem_leftmost(const struct mem_node *n)
{
	while (n->ntwigs)
		n = &n->p.tw->t[0];
	return n->p.leaf;
}

/* The node holding the entry of key, or NULL; *ret_parent is its branch (NULL
 * for the root). Caller holds the lock. */
static struct mem_node *
mem_find(struct mem_storage *m, const char *key, size_t klen, struct mem_node **ret_parent)
{
	struct mem_node *n = &m->root, *parent = NULL;

	if (m->count == 0)
		return NULL;
	while (n->ntwigs) {
		unsigned c = mem_byte(key, klen, n->index);
		__builtin_prefetch(&n->p.tw->t[n->ntwigs - 1]); /* as in mem_best_leaf */
		if (!mem_has(n, c))
			return NULL;
		parent = n;
		n = &n->p.tw->t[mem_pos(n, c)];
	}
	if (strcmp(n->p.leaf->key, key) != 0)
		return NULL;
	if (ret_parent)
		*ret_parent = parent;
	return n;
}

/* Stores p->entry: it replaces the entry of an equal key (left in p->garbage,
 * which may be one a DELETE of this txn marked dead) or becomes a new leaf
 * (p->created). Returns 0, or CF_ENOMEM with nothing changed. Caller holds the
 * write lock. */
static int
mem_insert(struct mem_storage *m, struct mem_prep *p)
{
	struct mem_entry *e = p->entry, *near;
	struct mem_node *n = &m->root, leaf = {.p.leaf = e, .ntwigs = 0};
	struct mem_twigs *t;
	uint32_t idx;
	unsigned pos, k, c;
	bool equal;

	if (m->count == 0) {
		m->root = leaf;
		goto created;
	}
	near = mem_best_leaf(&m->root, e->key, e->klen);
	idx = mem_first_diff(near, e->key, &equal);
	if (equal) {
		n = mem_find(m, e->key, e->klen, NULL);
		p->garbage = n->p.leaf;
		n->p.leaf = e;
		p->entry = NULL;
		return 0;
	}
	/* Down the common path to where the new key branches off at byte idx. */
	while (n->ntwigs && n->index < idx)
		n = &n->p.tw->t[mem_pos(n, mem_byte(e->key, e->klen, n->index))];
	c = mem_byte(e->key, e->klen, idx);
	if (n->ntwigs && n->index == idx) {
		/* one more twig in an existing branch */
		k = n->ntwigs;
		pos = mem_pos(n, c);
		t = mem_twigs_new(k + 1, n->p.tw);
		if (t == NULL)
			return CF_ENOMEM;
		memcpy(t->t, n->p.tw->t, pos * sizeof(t->t[0]));
		t->t[pos] = leaf;
		memcpy(t->t + pos + 1, n->p.tw->t + pos, (k - pos) * sizeof(t->t[0]));
		mem_flip(t, c);
		free(n->p.tw);
		n->p.tw = t;
		n->ntwigs = k + 1;
	} else {
		/* n and everything below it share byte idx (near's); a new branch
		 * at idx takes n and the new leaf as its two twigs */
		unsigned oc = mem_byte(near->key, near->klen, idx);
		t = mem_twigs_new(2, NULL);
		if (t == NULL)
			return CF_ENOMEM;
		t->t[oc < c ? 0 : 1] = *n;
		t->t[oc < c ? 1 : 0] = leaf;
		mem_flip(t, oc);
		mem_flip(t, c);
		n->p.tw = t;
		n->index = idx;
		n->ntwigs = 2;
	}
created:
	if (e->klen > m->max_klen)
		m->max_klen = e->klen;
	m->count++;
	p->created = true;
	p->entry = NULL;
	return 0;
}

/* Takes key's leaf out of the trie and returns its entry (NULL when key is not
 * stored). Cannot fail: a shrunk twig array that cannot be allocated keeps the
 * old one (its tail unused). Caller holds the write lock. */
static struct mem_entry *
mem_unlink(struct mem_storage *m, const char *key)
{
	struct mem_node *parent = NULL, *n;
	struct mem_twigs *t, *old;
	size_t klen = strlen(key);
	struct mem_entry *e;
	unsigned k, pos;

	n = mem_find(m, key, klen, &parent);
	if (n == NULL)
		return NULL;
	e = n->p.leaf;
	m->count--;
	if (parent == NULL)
		return e; /* it was the only key */
	k = parent->ntwigs;
	old = parent->p.tw;
	pos = (unsigned)(n - old->t);
	mem_flip(old, mem_byte(key, klen, parent->index));
	if (k == 2) {
		*parent = old->t[1 - pos]; /* a branch of one twig is that twig */
		free(old);
		return e;
	}
	parent->ntwigs = k - 1;
	t = mem_twigs_new(k - 1, old);
	if (t == NULL) {
		memmove(old->t + pos, old->t + pos + 1, (k - 1 - pos) * sizeof(old->t[0]));
		return e;
	}
	memcpy(t->t, old->t, pos * sizeof(t->t[0]));
	memcpy(t->t + pos, old->t + pos + 1, (k - 1 - pos) * sizeof(t->t[0]));
	parent->p.tw = t;
	free(old);
	return e;
}

/* A DELETE inside a txn only marks the entry dead (into p->garbage): undoing
 * that needs no memory. mem_txn_commit unlinks it. */
static void
mem_mark_dead(struct mem_storage *m, struct mem_prep *p)
{
	struct mem_node *n = mem_find(m, p->key, strlen(p->key), NULL);

	if (n != NULL && !n->p.leaf->dead) {
		n->p.leaf->dead = true;
		p->garbage = n->p.leaf;
	}
}

/* Undoes one applied op of a txn whose later op failed (ops are undone last
 * first). Cannot fail. Caller holds the write lock. */
static void
mem_undo(struct mem_storage *m, struct mem_prep *p)
{
	struct mem_node *n;

	if (p->kind == STORAGE_DELETE) {
		if (p->garbage != NULL)
			p->garbage->dead = false;
	} else if (p->created) {
		p->entry = mem_unlink(m, p->key);
	} else {
		n = mem_find(m, p->key, strlen(p->key), NULL);
		p->entry = n->p.leaf;
		n->p.leaf = p->garbage;
	}
	p->garbage = NULL;
	p->created = false;
}

/* After every op applied: unlinks the entries DELETEs marked dead, unless a
 * later PUT replaced them (that PUT then holds them as its garbage). */
static void
mem_txn_commit(struct mem_storage *m, struct mem_prep *prep, size_t n)
{
	struct mem_node *x;
	size_t i;

	for (i = 0; i < n; i++) {
		if (prep[i].kind != STORAGE_DELETE || prep[i].garbage == NULL)
			continue;
		x = mem_find(m, prep[i].key, strlen(prep[i].key), NULL);
		if (x != NULL && x->p.leaf == prep[i].garbage)
			(void)mem_unlink(m, prep[i].key);
		else
			prep[i].garbage = NULL;
	}
}

/* The first entry whose key is >= s (strcmp order), or NULL. path has room for
 * max(strlen(s), m->max_klen) + 1 nodes. Caller holds the lock. */
static struct mem_entry *
mem_seek(const struct mem_storage *m, const char *s, const struct mem_node **path)
{
	const struct mem_node *n = &m->root;
	struct mem_entry *near;
	size_t slen = strlen(s), depth = 0;
	uint32_t idx;
	unsigned c, above;
	bool equal;

	if (m->count == 0)
		return NULL;
	near = mem_best_leaf(n, s, slen);
	idx = mem_first_diff(near, s, &equal);
	if (equal)
		return near;
	while (n->ntwigs && n->index < idx) {
		path[depth++] = n;
		n = &n->p.tw->t[mem_pos(n, mem_byte(s, slen, n->index))];
	}
	c = mem_byte(s, slen, idx);
	if (n->ntwigs && n->index == idx) {
		/* s's byte is not here: the first twig above it, if any */
		if (mem_above(n, c, &above))
			return mem_leftmost(&n->p.tw->t[mem_pos(n, above)]);
	} else if (c < mem_byte(near->key, near->klen, idx)) {
		return mem_leftmost(n); /* every key below n sorts after s */
	}
	/* every key below n sorts before s: the next twig up the path */
	while (depth > 0) {
		n = path[--depth];
		if (mem_above(n, mem_byte(s, slen, n->index), &above))
			return mem_leftmost(&n->p.tw->t[mem_pos(n, above)]);
	}
	return NULL;
}

/* An entry for a PUT. Returns 0 or CF_ENOMEM. */
static int
mem_entry_new(const struct storage_op *op, struct mem_entry **ret)
{
	size_t klen = strlen(op->key);
	struct mem_entry *e;

	e = malloc(sizeof(*e) + klen + 1 + op->len);
	if (e == NULL)
		return CF_ENOMEM;
	memcpy(e->key, op->key, klen + 1);
	e->klen = klen;
	e->dead = false;
	e->len = op->len;
	e->val = (uint8_t *)e->key + klen + 1;
	if (op->len)
		memcpy(e->val, op->value, op->len);
	*ret = e;
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

/* Frees the subtree below n (depth bounded by the longest key). */
static void
mem_free_tree(struct mem_node *n)
{
	unsigned i, k;

	if (n->ntwigs == 0) {
		mem_entry_free(n->p.leaf);
		return;
	}
	k = n->ntwigs;
	for (i = 0; i < k; i++)
		mem_free_tree(&n->p.tw->t[i]);
	free(n->p.tw);
}

static void
mem_close(struct storage *s)
{
	struct mem_storage *m;

	if (s == NULL)
		return;
	m = mem_of(s);
	if (m->count > 0)
		mem_free_tree(&m->root);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static int
mem_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	struct mem_storage *m = mem_of(s);
	struct mem_node *n;
	uint8_t *val = NULL;
	size_t len = 0;
	int r = CF_ENOTFOUND;

	pthread_rwlock_rdlock(&m->lock);
	n = mem_find(m, key, strlen(key), NULL);
	if (n != NULL) {
		len = n->p.leaf->len;
		val = malloc(len + 1);
		if (val == NULL) {
			r = CF_ENOMEM;
		} else {
			if (len)
				memcpy(val, n->p.leaf->val, len);
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
	struct mem_prep local[4], *prep = local;
	size_t i;
	int r = 0;

	if (n == 0)
		return 0;
	if (n > sizeof(local) / sizeof(local[0]))
		prep = calloc(n, sizeof(*prep));
	else
		memset(local, 0, sizeof(local));
	if (prep == NULL)
		return CF_ENOMEM;
	for (i = 0; i < n; i++) {
		prep[i].kind = ops[i].kind;
		prep[i].key = ops[i].key;
		if (ops[i].kind == STORAGE_PUT) {
			r = mem_entry_new(&ops[i], &prep[i].entry);
			if (r < 0)
				goto out;
		}
	}

	pthread_rwlock_wrlock(&m->lock);
	for (i = 0; i < n && r == 0; i++) {
		if (prep[i].kind == STORAGE_PUT)
			r = mem_insert(m, &prep[i]);
		else
			mem_mark_dead(m, &prep[i]);
	}
	if (r < 0) {
		/* op i - 1 failed and changed nothing: undo the ones before it */
		for (i--; i-- > 0;)
			mem_undo(m, &prep[i]);
	} else {
		mem_txn_commit(m, prep, n);
	}
	pthread_rwlock_unlock(&m->lock);
out:
	/* Stored entries are NULL here; garbage is what the txn replaced or
	 * removed (nothing after an undo). */
	for (i = 0; i < n; i++) {
		mem_entry_free(prep[i].entry);
		mem_entry_free(prep[i].garbage);
	}
	if (prep != local)
		free(prep);
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
	size_t plen = strlen(prefix), flen, max;
	const struct mem_node **path = NULL;
	struct mem_entry *e;
	char *next = NULL;
	int r = 0;

	pthread_rwlock_rdlock(&m->lock);
	max = (plen > m->max_klen ? plen : m->max_klen) + 1;
	path = malloc((max + 1) * sizeof(*path));
	next = malloc(max + 1);
	if (path == NULL || next == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	e = mem_seek(m, prefix, path);
	while (e != NULL && strncmp(e->key, prefix, plen) == 0) {
		r = storage_list_add(&kv, e->key, plen, &flen);
		if (r < 0)
			break;
		if (flen == 0) {
			/* the next key: the smallest string after this one is key + "\1" */
			memcpy(next, e->key, e->klen);
			next[e->klen] = '\1';
			next[e->klen + 1] = '\0';
		} else {
			/* past the folder in one seek: '0' is '/' + 1 */
			memcpy(next, e->key, plen + flen);
			next[plen + flen - 1] = '0';
			next[plen + flen] = '\0';
		}
		e = mem_seek(m, next, path);
	}
out:
	pthread_rwlock_unlock(&m->lock);
	free(path);
	free(next);
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
