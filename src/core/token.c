/* token.c - the token store (Vault's tokens and accessors, Vault's token TTL and revocation rules).
 *
 * Layout inside the view (prefix "sys/token/"):
 *     id/<sha256 hex>            the entry, compact JSON
 *     accessor/<accessor>        the hash of the token, as text
 *     parent/<parent>/<child>    "1": the token tree, walked on revocation
 *     roles/<name>               token roles (JSON; token_backend.c owns the format)
 * No token string is ever written: only its SHA-256.
 *
 * Locking: one rwlock. Lookups read under the read lock; everything that writes
 * (create, use, renew, revoke, each tidy step) takes the write lock, so a token can
 * never be attached to a parent that is being revoked. The entry cache has its own
 * mutex; it is filled only under the read lock and emptied under the write lock,
 * so a lookup can never put back an entry a revocation has just removed. The
 * revoke hook runs after the write lock is released (it revokes leases, which may
 * be slow and must not block every token lookup). */
#include "core/token.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX       "hvs."
#define TOKEN_RANDOM_CHARS 24
#define TOKEN_MAX_LEN      1024
#define ACCESSOR_CHARS     24
#define CACHE_SLOTS        4096 /* direct-mapped on the first 3 hex digits of the hash */
#define NS_PER_S           1000000000LL
#define REVOKE_MAX         (1 << 22) /* tokens in one subtree: guards a corrupted tree */
#define KEY_MAX            256

struct token_store {
	struct view *v;
	pthread_rwlock_t lock;
	pthread_mutex_t cache_mu;
	struct token_entry *cache[CACHE_SLOTS];
	void (*hook)(void *arg, const char *hash);
	void *hook_arg;
	int64_t (*clock)(void *arg);
	void *clock_arg;
};

/* A growable list of hashes (each char[65]). */
struct hashlist {
	char (*h)[65];
	size_t *up; /* index of the parent in the list, or SIZE_MAX */
	size_t n, cap;
};

static int64_t
now_ns(struct token_store *ts)
{
	return ts->clock ? ts->clock(ts->clock_arg) : util_now_ns();
}

static bool
is_hash(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return i == 64;
}

static bool
is_base62(const char *s, size_t maxlen)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
		if (i >= maxlen)
			return false;
	}
	return i > 0;
}

/* out = prefix a, or prefix a "/" b when b is set (b may be ""). */
static int
keyf(char *out, const char *prefix, const char *a, const char *b)
{
	int n = b ? snprintf(out, KEY_MAX, "%s%s/%s", prefix, a, b)
	          : snprintf(out, KEY_MAX, "%s%s", prefix, a);

	if (n < 0 || n >= KEY_MAX)
		return CF_EINVAL;
	return 0;
}

static int
hashlist_add_up(struct hashlist *l, const char *h, size_t up)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p;
		if (cap > REVOKE_MAX)
			return CF_ERANGE;
		p = realloc(l->h, cap * sizeof(*l->h));
		if (!p)
			return CF_ENOMEM;
		l->h = p;
		p = realloc(l->up, cap * sizeof(*l->up));
		if (!p)
			return CF_ENOMEM;
		l->up = p;
		l->cap = cap;
	}
	memcpy(l->h[l->n], h, 65);
	l->up[l->n] = up;
	l->n++;
	return 0;
}

static int
hashlist_add(struct hashlist *l, const char *h)
{
	return hashlist_add_up(l, h, SIZE_MAX);
}

static void
hashlist_free(struct hashlist *l)
{
	free(l->h);
	free(l->up);
	memset(l, 0, sizeof(*l));
}

/* ---- entries ---- */

void
token_hash(const char *token, char out[65])
{
	util_sha256_hex(token, strlen(token), out);
}

void
token_entry_free(struct token_entry *te)
{
	if (!te)
		return;
	json_decref(te->policies);
	json_decref(te->meta);
	json_decref(te->bound_cidrs);
	free(te->display_name);
	free(te->path);
	free(te->role);
	free(te->mount_accessor);
	free(te);
}

static char *
dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

struct token_entry *
token_entry_dup(const struct token_entry *te)
{
	struct token_entry *d;
	bool oom = false;

	if (!te)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	*d = *te;
	d->policies = te->policies ? json_deep_copy(te->policies) : NULL;
	d->meta = te->meta ? json_deep_copy(te->meta) : NULL;
	d->bound_cidrs = te->bound_cidrs ? json_deep_copy(te->bound_cidrs) : NULL;
	d->display_name = dup_or_null(te->display_name, &oom);
	d->path = dup_or_null(te->path, &oom);
	d->role = dup_or_null(te->role, &oom);
	d->mount_accessor = dup_or_null(te->mount_accessor, &oom);
	if (oom || (te->policies && !d->policies) || (te->meta && !d->meta)) {
		token_entry_free(d);
		return NULL;
	}
	return d;
}

static int
set_new(json_t *o, const char *k, json_t *v)
{
	if (!v)
		return CF_ENOMEM;
	return json_object_set_new(o, k, v) == 0 ? 0 : CF_ENOMEM;
}

static int
set_str(json_t *o, const char *k, const char *s)
{
	if (!s)
		return 0;
	return set_new(o, k, json_string(s));
}

/* Serializes an entry for storage (no hash: it is the key). */
static int
entry_encode(const struct token_entry *te, char **ret)
{
	json_t *o = json_object();
	char *txt;
	int r = o ? 0 : CF_ENOMEM;

	if (r == 0)
		r = set_str(o, "accessor", te->accessor);
	if (r == 0)
		r = set_str(o, "parent", te->parent);
	if (r == 0)
		r = set_new(o, "policies", json_deep_copy(te->policies));
	if (r == 0 && te->meta)
		r = set_new(o, "meta", json_deep_copy(te->meta));
	if (r == 0 && te->bound_cidrs)
		r = set_new(o, "bound_cidrs", json_deep_copy(te->bound_cidrs));
	if (r == 0)
		r = set_str(o, "display_name", te->display_name);
	if (r == 0)
		r = set_str(o, "path", te->path);
	if (r == 0)
		r = set_str(o, "role", te->role);
	if (r == 0)
		r = set_new(o, "creation_time", json_integer(te->creation_time));
	if (r == 0)
		r = set_new(o, "creation_ttl", json_integer(te->creation_ttl));
	if (r == 0)
		r = set_new(o, "expire_time", json_integer(te->expire_time));
	if (r == 0)
		r = set_new(o, "explicit_max_ttl", json_integer(te->explicit_max_ttl));
	if (r == 0)
		r = set_new(o, "period", json_integer(te->period));
	if (r == 0)
		r = set_new(o, "num_uses", json_integer(te->num_uses));
	if (r == 0)
		r = set_new(o, "renewable", json_boolean(te->renewable));
	if (r == 0)
		r = set_new(o, "no_default_policy", json_boolean(te->no_default_policy));
	if (r == 0)
		r = set_str(o, "type", te->type);
	if (r == 0)
		r = set_str(o, "mount_accessor", te->mount_accessor);
	if (r == 0) {
		txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		if (!txt)
			r = CF_ENOMEM;
		else
			*ret = txt;
	}
	json_decref(o);
	return r;
}

static const char *
get_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t
get_int(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Parses a stored entry. CF_EINVAL when it is not one of ours. */
static int
entry_decode(const char *hash, const uint8_t *val, size_t len, struct token_entry **ret)
{
	json_t *o = json_loadb((const char *)val, len, JSON_REJECT_DUPLICATES, NULL);
	struct token_entry *te = NULL;
	const char *acc, *parent, *type;
	json_t *pol, *meta, *item;
	bool oom = false;
	size_t i;
	int r = CF_EINVAL;

	if (!o || !json_is_object(o))
		goto out;
	acc = get_str(o, "accessor");
	parent = get_str(o, "parent");
	type = get_str(o, "type");
	pol = json_object_get(o, "policies");
	meta = json_object_get(o, "meta");
	if (!acc || !is_base62(acc, sizeof(te->accessor) - 1) || !json_is_array(pol))
		goto out;
	if (parent && *parent && !is_hash(parent))
		goto out;
	json_array_foreach(pol, i, item)
	{
		if (!json_is_string(item))
			goto out;
	}
	r = CF_ENOMEM;
	te = calloc(1, sizeof(*te));
	if (!te)
		goto out;
	memcpy(te->hash, hash, 65);
	snprintf(te->accessor, sizeof(te->accessor), "%s", acc);
	snprintf(te->parent, sizeof(te->parent), "%s", parent ? parent : "");
	snprintf(te->type, sizeof(te->type), "%s", type ? type : "service");
	te->policies = json_deep_copy(pol);
	te->meta = json_is_object(meta) && json_object_size(meta) > 0 ? json_deep_copy(meta) : NULL;
	if (json_is_array(json_object_get(o, "bound_cidrs")) &&
	    json_array_size(json_object_get(o, "bound_cidrs")) > 0)
		te->bound_cidrs = json_deep_copy(json_object_get(o, "bound_cidrs"));
	te->display_name = dup_or_null(
	        get_str(o, "display_name") ? get_str(o, "display_name") : "token", &oom);
	te->path = dup_or_null(get_str(o, "path") ? get_str(o, "path") : "auth/token/create", &oom);
	te->role = dup_or_null(get_str(o, "role"), &oom);
	te->mount_accessor = dup_or_null(get_str(o, "mount_accessor"), &oom);
	te->creation_time = get_int(o, "creation_time");
	te->creation_ttl = get_int(o, "creation_ttl");
	te->expire_time = get_int(o, "expire_time");
	te->explicit_max_ttl = get_int(o, "explicit_max_ttl");
	te->period = get_int(o, "period");
	te->num_uses = get_int(o, "num_uses");
	te->renewable = json_is_true(json_object_get(o, "renewable"));
	te->no_default_policy = json_is_true(json_object_get(o, "no_default_policy"));
	te->orphan = te->parent[0] == '\0';
	if (oom || !te->policies || (json_is_object(meta) && json_object_size(meta) && !te->meta))
		goto out;
	*ret = te;
	te = NULL;
	r = 0;
out:
	token_entry_free(te);
	json_decref(o);
	return r;
}

/* ---- cache ---- */

static size_t
cache_slot(const char *hash)
{
	size_t s = 0;

	for (int i = 0; i < 3; i++) {
		char c = hash[i];
		s = s * 16 + (size_t)(c >= 'a' ? c - 'a' + 10 : c - '0');
	}
	return s % CACHE_SLOTS;
}

static struct token_entry *
cache_get(struct token_store *ts, const char *hash)
{
	struct token_entry *te = NULL;
	size_t s = cache_slot(hash);

	pthread_mutex_lock(&ts->cache_mu);
	if (ts->cache[s] && strcmp(ts->cache[s]->hash, hash) == 0)
		te = token_entry_dup(ts->cache[s]);
	pthread_mutex_unlock(&ts->cache_mu);
	return te;
}

static void
cache_put(struct token_store *ts, const struct token_entry *te)
{
	struct token_entry *d = token_entry_dup(te), *old;
	size_t s = cache_slot(te->hash);

	if (!d)
		return; /* a cache miss later is fine */
	pthread_mutex_lock(&ts->cache_mu);
	old = ts->cache[s];
	ts->cache[s] = d;
	pthread_mutex_unlock(&ts->cache_mu);
	token_entry_free(old);
}

static void
cache_drop(struct token_store *ts, const char *hash)
{
	struct token_entry *old = NULL;
	size_t s = cache_slot(hash);

	pthread_mutex_lock(&ts->cache_mu);
	if (ts->cache[s] && strcmp(ts->cache[s]->hash, hash) == 0) {
		old = ts->cache[s];
		ts->cache[s] = NULL;
	}
	pthread_mutex_unlock(&ts->cache_mu);
	token_entry_free(old);
}

void
token_store_flush(struct token_store *ts)
{
	pthread_mutex_lock(&ts->cache_mu);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		token_entry_free(ts->cache[i]);
		ts->cache[i] = NULL;
	}
	pthread_mutex_unlock(&ts->cache_mu);
}

/* ---- storage helpers (callers hold the lock as noted) ---- */

/* Reads id/<hash> from storage. CF_ENOTFOUND when absent. */
static int
load_entry(struct token_store *ts, const char *hash, struct token_entry **ret)
{
	char key[KEY_MAX];
	uint8_t *val = NULL;
	size_t len = 0;
	int r;

	r = keyf(key, "id/", hash, NULL);
	if (r < 0)
		return r;
	r = view_get(ts->v, key, &val, &len);
	if (r < 0)
		return r;
	r = entry_decode(hash, val, len, ret);
	free(val);
	return r;
}

/* Cache first, then storage (fills the cache). Caller holds the read lock. */
static int
load_entry_cached(struct token_store *ts, const char *hash, struct token_entry **ret)
{
	struct token_entry *te = cache_get(ts, hash);
	int r;

	if (te) {
		*ret = te;
		return 0;
	}
	r = load_entry(ts, hash, &te);
	if (r < 0)
		return r;
	cache_put(ts, te);
	*ret = te;
	return 0;
}

static int
key_exists(struct token_store *ts, const char *key, bool *ret)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int r = view_get(ts->v, key, &val, &len);

	free(val);
	if (r == CF_ENOTFOUND) {
		*ret = false;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = true;
	return 0;
}

/* Writes id/<hash> only. Caller holds the write lock. */
static int
store_entry(struct token_store *ts, const struct token_entry *te)
{
	char key[KEY_MAX], *blob = NULL;
	int r = keyf(key, "id/", te->hash, NULL);

	if (r == 0)
		r = entry_encode(te, &blob);
	if (r == 0)
		r = view_put(ts->v, key, (const uint8_t *)blob, strlen(blob));
	free(blob);
	cache_drop(ts, te->hash);
	return r;
}

static bool
is_expired(struct token_store *ts, const struct token_entry *te)
{
	return te->expire_time != 0 && now_ns(ts) >= te->expire_time;
}

/* Children of hash (from parent/<hash>/), appended to l with up as their parent
 * index. */
static int
list_children_up(struct token_store *ts, const char *hash, struct hashlist *l, size_t up)
{
	char key[KEY_MAX], **keys = NULL;
	size_t n = 0;
	int r = keyf(key, "parent/", hash, "");

	if (r == 0)
		r = view_list(ts->v, key, &keys, &n);
	if (r == CF_ENOTFOUND)
		r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (is_hash(keys[i]))
			r = hashlist_add_up(l, keys[i], up);
	}
	storage_keys_free(keys, n);
	return r;
}

static int
list_children(struct token_store *ts, const char *hash, struct hashlist *l)
{
	return list_children_up(ts, hash, l, SIZE_MAX);
}

/* Deletes one token: its entry, accessor and link from its parent. parent_hint
 * (or NULL) names the parent whose link led here, so a dangling link is dropped
 * even when the entry is already gone. Caller holds the write lock.
 * *ret_existed tells whether an entry was there. */
static int
revoke_one_locked(struct token_store *ts, const char *hash, const char *parent_hint,
                  bool *ret_existed)
{
	struct token_entry *te = NULL;
	char kid[KEY_MAX], kacc[KEY_MAX], kpar[KEY_MAX];
	struct storage_op ops[3];
	size_t n = 0;
	int r;

	*ret_existed = false;
	r = load_entry(ts, hash, &te);
	if (r < 0 && r != CF_ENOTFOUND && r != CF_EINVAL)
		return r;
	r = keyf(kid, "id/", hash, NULL);
	if (r < 0)
		goto out;
	ops[n++] = (struct storage_op){.kind = STORAGE_DELETE, .key = kid};
	if (te) {
		*ret_existed = true;
		r = keyf(kacc, "accessor/", te->accessor, NULL);
		if (r < 0)
			goto out;
		ops[n++] = (struct storage_op){.kind = STORAGE_DELETE, .key = kacc};
		if (te->parent[0])
			parent_hint = te->parent;
	}
	if (parent_hint && parent_hint[0]) {
		r = keyf(kpar, "parent/", parent_hint, hash);
		if (r < 0)
			goto out;
		ops[n++] = (struct storage_op){.kind = STORAGE_DELETE, .key = kpar};
	}
	r = view_txn(ts->v, ops, n);
out:
	cache_drop(ts, hash);
	token_entry_free(te);
	return r;
}

static void
run_hooks(struct token_store *ts, const struct hashlist *l)
{
	if (!ts->hook)
		return;
	for (size_t i = 0; i < l->n; i++)
		ts->hook(ts->hook_arg, l->h[i]);
}

/* Revokes hash and its subtree, children first. *ret_n counts revoked entries. */
static int
revoke_tree(struct token_store *ts, const char *hash, int *ret_n)
{
	struct hashlist tree = {0}, done = {0};
	int r;

	if (!is_hash(hash))
		return 0;
	pthread_rwlock_wrlock(&ts->lock);
	/* Breadth first: parents come before their children. */
	r = hashlist_add(&tree, hash);
	for (size_t i = 0; i < tree.n && r == 0; i++)
		r = list_children_up(ts, tree.h[i], &tree, i);
	/* A failed walk revokes nothing: a partial walk could leave live children
	 * of a deleted parent, which would escape revocation later. */
	for (size_t i = tree.n; i > 0 && r == 0; i--) {
		size_t up = tree.up[i - 1];
		bool existed;
		r = revoke_one_locked(ts, tree.h[i - 1], up == SIZE_MAX ? NULL : tree.h[up],
		                      &existed);
		if (r == 0 && existed)
			r = hashlist_add(&done, tree.h[i - 1]);
	}
	pthread_rwlock_unlock(&ts->lock);
	run_hooks(ts, &done);
	if (ret_n)
		*ret_n = (int)done.n;
	hashlist_free(&tree);
	hashlist_free(&done);
	return r;
}

/* ---- public API ---- */

int
token_store_new(struct view *v, struct token_store **ret)
{
	struct token_store *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return CF_ENOMEM;
	ts->v = v;
	if (pthread_rwlock_init(&ts->lock, NULL) != 0) {
		free(ts);
		return CF_ENOMEM;
	}
	if (pthread_mutex_init(&ts->cache_mu, NULL) != 0) {
		pthread_rwlock_destroy(&ts->lock);
		free(ts);
		return CF_ENOMEM;
	}
	*ret = ts;
	return 0;
}

void
token_store_free(struct token_store *ts)
{
	if (!ts)
		return;
	token_store_flush(ts);
	pthread_mutex_destroy(&ts->cache_mu);
	pthread_rwlock_destroy(&ts->lock);
	free(ts);
}

void
token_store_set_revoke_hook(struct token_store *ts, void (*hook)(void *arg, const char *hash),
                            void *arg)
{
	pthread_rwlock_wrlock(&ts->lock);
	ts->hook = hook;
	ts->hook_arg = arg;
	pthread_rwlock_unlock(&ts->lock);
}

void
token_store_set_clock(struct token_store *ts, int64_t (*clock)(void *arg), void *arg)
{
	pthread_rwlock_wrlock(&ts->lock);
	ts->clock = clock;
	ts->clock_arg = arg;
	pthread_rwlock_unlock(&ts->lock);
}

/* A new entry holding copies of p's values, without token hash or accessor
 * yet: creation time from the store's clock, expiry from p->ttl, never past
 * creation + explicit max TTL. Returns 0 with *ret (free with
 * token_entry_free), or CF_ENOMEM. */
static int
entry_from_params(struct token_store *ts, const struct token_params *p, struct token_entry **ret)
{
	struct token_entry *te;
	bool oom = false;
	int64_t now;
	int r = CF_ENOMEM;

	te = calloc(1, sizeof(*te));
	if (!te)
		goto out;
	te->policies = json_deep_copy(p->policies);
	if (json_is_array(p->bound_cidrs) && json_array_size(p->bound_cidrs) > 0)
		te->bound_cidrs = json_deep_copy(p->bound_cidrs);
	te->meta = json_is_object(p->meta) && json_object_size(p->meta) > 0
	                   ? json_deep_copy(p->meta)
	                   : NULL;
	te->display_name = dup_or_null(p->display_name ? p->display_name : "token", &oom);
	te->path = dup_or_null(p->path ? p->path : "auth/token/create", &oom);
	te->role = p->role && *p->role ? dup_or_null(p->role, &oom) : NULL;
	te->mount_accessor = dup_or_null(p->mount_accessor, &oom);
	if (oom || !te->policies ||
	    (json_is_object(p->meta) && json_object_size(p->meta) && !te->meta))
		goto out;

	now = now_ns(ts);
	te->creation_time = now / NS_PER_S;
	te->creation_ttl = p->ttl;
	te->explicit_max_ttl = p->explicit_max_ttl;
	te->period = p->period;
	te->num_uses = p->num_uses;
	te->renewable = p->renewable;
	te->no_default_policy = p->no_default_policy;
	snprintf(te->type, sizeof(te->type), "service");
	if (p->ttl > 0) {
		te->expire_time = now + p->ttl * NS_PER_S;
		/* Never past creation + explicit max (whole seconds, as Vault). */
		if (p->explicit_max_ttl > 0 &&
		    te->expire_time > (te->creation_time + p->explicit_max_ttl) * NS_PER_S)
			te->expire_time = (te->creation_time + p->explicit_max_ttl) * NS_PER_S;
	}
	if (p->parent_hash && *p->parent_hash)
		memcpy(te->parent, p->parent_hash, 65);
	te->orphan = te->parent[0] == '\0';
	*ret = te;
	te = NULL;
	r = 0;
out:
	token_entry_free(te);
	return r;
}

/* Writes the token string into token (room for id, or for a generated token
 * when id is NULL) and an accessor no entry uses yet into te, with the keys
 * the entry (kid) and its accessor (kacc) go under. A generated token that
 * collides is drawn again, up to four times. Caller holds ts->lock for
 * writing. Returns 0, CF_EEXIST (id is taken), CF_EINTERNAL (four collisions)
 * or a storage error. */
static int
pick_token(struct token_store *ts, const char *id, struct token_entry *te, char *token,
           char kid[KEY_MAX], char kacc[KEY_MAX])
{
	bool exists;
	int r;

	for (int attempt = 0;; attempt++) {
		if (attempt == 4)
			return CF_EINTERNAL;
		if (id) {
			memcpy(token, id, strlen(id) + 1);
		} else {
			memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
			util_random_base62(token + sizeof(TOKEN_PREFIX) - 1, TOKEN_RANDOM_CHARS);
		}
		token_hash(token, te->hash);
		r = keyf(kid, "id/", te->hash, NULL);
		if (r == 0)
			r = key_exists(ts, kid, &exists);
		if (r < 0)
			return r;
		if (exists) {
			if (id)
				return CF_EEXIST;
			continue;
		}
		util_random_base62(te->accessor, ACCESSOR_CHARS);
		r = keyf(kacc, "accessor/", te->accessor, NULL);
		if (r == 0)
			r = key_exists(ts, kacc, &exists);
		if (r < 0)
			return r;
		if (!exists)
			return 0;
	}
}

/* Stores te under kid, its accessor under kacc and, for a child, the link
 * under its parent, in one transaction. Caller holds ts->lock for writing. */
static int
store_new_entry(struct token_store *ts, const struct token_entry *te, const char *kid,
                const char *kacc)
{
	char kpar[KEY_MAX];
	char *blob = NULL;
	struct storage_op ops[3];
	size_t nops = 0;
	int r;

	r = entry_encode(te, &blob);
	if (r < 0)
		goto out;
	ops[nops++] = (struct storage_op){.kind = STORAGE_PUT,
	                                  .key = kid,
	                                  .value = (const uint8_t *)blob,
	                                  .len = strlen(blob)};
	ops[nops++] = (struct storage_op){
	        .kind = STORAGE_PUT, .key = kacc, .value = (const uint8_t *)te->hash, .len = 64};
	if (te->parent[0]) {
		r = keyf(kpar, "parent/", te->parent, te->hash);
		if (r < 0)
			goto out;
		ops[nops++] = (struct storage_op){
		        .kind = STORAGE_PUT, .key = kpar, .value = (const uint8_t *)"1", .len = 1};
	}
	r = view_txn(ts->v, ops, nops);
out:
	free(blob);
	return r;
}

int
token_create(struct token_store *ts, const struct token_params *p, char **ret_token,
             struct token_entry **ret_entry)
{
	struct token_entry *te = NULL, *parent = NULL;
	char *token = NULL;
	char kid[KEY_MAX], kacc[KEY_MAX];
	bool locked = false;
	int r;

	if (!p || !json_is_array(p->policies) || p->ttl < 0 || p->explicit_max_ttl < 0 ||
	    p->period < 0 || p->num_uses < 0)
		return CF_EINVAL;
	if (p->id && (!*p->id || strchr(p->id, '.') || strlen(p->id) > TOKEN_MAX_LEN))
		return CF_EINVAL;
	if (p->parent_hash && *p->parent_hash && !is_hash(p->parent_hash))
		return CF_EINVAL;

	r = entry_from_params(ts, p, &te);
	if (r < 0)
		goto out;
	token = calloc(1, p->id ? strlen(p->id) + 1 : sizeof(TOKEN_PREFIX) + TOKEN_RANDOM_CHARS);
	if (!token) {
		r = CF_ENOMEM;
		goto out;
	}

	pthread_rwlock_wrlock(&ts->lock);
	locked = true;
	if (te->parent[0]) {
		/* Under the write lock: the parent cannot be revoked before the link
		 * below is written, so no child escapes its parent's revocation. */
		r = load_entry(ts, te->parent, &parent);
		if (r == CF_ENOTFOUND || (r == 0 && is_expired(ts, parent)))
			r = CF_EDENIED;
		if (r < 0)
			goto out;
	}
	r = pick_token(ts, p->id, te, token, kid, kacc);
	if (r < 0)
		goto out;
	r = store_new_entry(ts, te, kid, kacc);
	if (r < 0)
		goto out;
	pthread_rwlock_unlock(&ts->lock);
	locked = false;

	if (ret_entry) {
		*ret_entry = te;
		te = NULL;
	}
	*ret_token = token;
	token = NULL;
	r = 0;
out:
	if (locked)
		pthread_rwlock_unlock(&ts->lock);
	secmem_free_str(token);
	token_entry_free(te);
	token_entry_free(parent);
	return r;
}

/* Shared by the lookups: tainted (used up) tokens are gone, expired ones are
 * revoked on sight. */
static int
lookup_hash(struct token_store *ts, const char *hash, struct token_entry **ret)
{
	struct token_entry *te = NULL;
	int r;

	pthread_rwlock_rdlock(&ts->lock);
	r = load_entry_cached(ts, hash, &te);
	pthread_rwlock_unlock(&ts->lock);
	if (r < 0)
		return r == CF_EINVAL ? CF_ENOTFOUND : r;
	if (te->num_uses < 0) {
		token_entry_free(te);
		return CF_ENOTFOUND;
	}
	if (is_expired(ts, te)) {
		token_entry_free(te);
		(void)revoke_tree(ts, hash, NULL);
		return CF_ENOTFOUND;
	}
	*ret = te;
	return 0;
}

int
token_lookup_hash(struct token_store *ts, const char *hash, struct token_entry **ret)
{
	return lookup_hash(ts, hash, ret);
}

int
token_lookup(struct token_store *ts, const char *token, struct token_entry **ret)
{
	char hash[65];
	int r;

	if (!token || !*token || strlen(token) > TOKEN_MAX_LEN)
		return CF_EDENIED;
	token_hash(token, hash);
	r = lookup_hash(ts, hash, ret);
	return r == CF_ENOTFOUND ? CF_EDENIED : r;
}

/* Accessor -> hash. CF_ENOTFOUND when unknown or malformed. */
static int
accessor_hash(struct token_store *ts, const char *accessor, char hash[65])
{
	char key[KEY_MAX];
	uint8_t *val = NULL;
	size_t len = 0;
	int r;

	if (!accessor || !is_base62(accessor, sizeof(((struct token_entry *)0)->accessor) - 1))
		return CF_ENOTFOUND;
	r = keyf(key, "accessor/", accessor, NULL);
	if (r == 0)
		r = view_get(ts->v, key, &val, &len);
	if (r < 0)
		return r;
	if (len != 64) {
		r = CF_ENOTFOUND;
	} else {
		memcpy(hash, val, 64);
		hash[64] = '\0';
		r = is_hash(hash) ? 0 : CF_ENOTFOUND;
	}
	free(val);
	return r;
}

int
token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **ret)
{
	char hash[65];
	int r = accessor_hash(ts, accessor, hash);

	if (r < 0)
		return r;
	return lookup_hash(ts, hash, ret);
}

int
token_use(struct token_store *ts, struct token_entry *te, bool *ret_last)
{
	struct token_entry *cur = NULL;
	int r;

	*ret_last = false;
	if (te->num_uses == 0)
		return 0;
	pthread_rwlock_wrlock(&ts->lock);
	/* Re-read under the lock: concurrent requests share the count. */
	r = load_entry(ts, te->hash, &cur);
	if (r == CF_ENOTFOUND || r == CF_EINVAL || (r == 0 && cur->num_uses < 0))
		r = CF_EDENIED;
	if (r < 0)
		goto out;
	if (cur->num_uses > 0) {
		cur->num_uses--;
		if (cur->num_uses == 0) {
			/* Tainted: no further lookup succeeds, even if the caller's
			 * revocation after the request never happens. */
			cur->num_uses = -1;
			*ret_last = true;
		}
		r = store_entry(ts, cur);
		if (r < 0) {
			*ret_last = false;
			goto out;
		}
	}
	te->num_uses = cur->num_uses;
out:
	pthread_rwlock_unlock(&ts->lock);
	token_entry_free(cur);
	return r;
}

int
token_revoke_tree(struct token_store *ts, const char *hash)
{
	return revoke_tree(ts, hash, NULL);
}

int
token_revoke_accessor(struct token_store *ts, const char *accessor)
{
	char hash[65];
	int r = accessor_hash(ts, accessor, hash);

	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	return revoke_tree(ts, hash, NULL);
}

int
token_revoke_orphan(struct token_store *ts, const char *hash)
{
	struct hashlist kids = {0}, done = {0};
	bool existed = false;
	int r;

	if (!is_hash(hash))
		return 0;
	pthread_rwlock_wrlock(&ts->lock);
	r = list_children(ts, hash, &kids);
	for (size_t i = 0; i < kids.n && r == 0; i++) {
		struct token_entry *c = NULL;
		char kid[KEY_MAX], klink[KEY_MAX], *blob = NULL;
		struct storage_op ops[2];
		size_t n = 0;

		r = keyf(klink, "parent/", hash, kids.h[i]);
		if (r < 0)
			break;
		r = load_entry(ts, kids.h[i], &c);
		if (r == 0) {
			c->parent[0] = '\0';
			c->orphan = true;
			r = entry_encode(c, &blob);
			if (r == 0)
				r = keyf(kid, "id/", kids.h[i], NULL);
			if (r == 0)
				ops[n++] = (struct storage_op){.kind = STORAGE_PUT,
				                               .key = kid,
				                               .value = (const uint8_t *)blob,
				                               .len = strlen(blob)};
		} else if (r == CF_ENOTFOUND || r == CF_EINVAL) {
			r = 0; /* dangling link */
		}
		if (r == 0) {
			ops[n++] = (struct storage_op){.kind = STORAGE_DELETE, .key = klink};
			r = view_txn(ts->v, ops, n);
		}
		cache_drop(ts, kids.h[i]);
		free(blob);
		token_entry_free(c);
	}
	if (r == 0)
		r = revoke_one_locked(ts, hash, NULL, &existed);
	pthread_rwlock_unlock(&ts->lock);
	if (r == 0 && existed && hashlist_add(&done, hash) == 0)
		run_hooks(ts, &done);
	hashlist_free(&kids);
	hashlist_free(&done);
	return r;
}

/* Vault's framework.CalculateTTL: see token.h. */
int
token_calculate_ttl(int64_t now, int64_t start, int64_t increment, int64_t backend_ttl,
                    int64_t period, int64_t max_ttl, int64_t explicit_max_ttl, int64_t default_ttl,
                    int64_t *ret_ttl, char *msg, size_t msglen)
{
	int64_t max = max_ttl, ttl, limit = 0;
	char a[48], b[48];

	if (msg && msglen)
		msg[0] = '\0';
	if (explicit_max_ttl > 0 && (max <= 0 || explicit_max_ttl < max))
		max = explicit_max_ttl;
	if (max <= 0) {
		if (msg)
			snprintf(msg, msglen, "max TTL must be greater than zero");
		return CF_EINVAL;
	}
	if (period > 0) {
		if (period > max) {
			duration_format(period, a, sizeof(a));
			duration_format(max, b, sizeof(b));
			if (msg)
				snprintf(msg, msglen,
				         "period of \"%s\" exceeded the effective max_ttl of "
				         "\"%s\"; "
				         "period value is capped accordingly",
				         a, b);
			period = max;
		}
		ttl = period;
		if (explicit_max_ttl > 0)
			limit = start + explicit_max_ttl;
	} else {
		ttl = increment > 0 ? increment : backend_ttl > 0 ? backend_ttl : default_ttl;
		limit = start + max;
	}
	if (limit) {
		int64_t valid = limit - now;
		if (valid <= 0) {
			if (msg)
				snprintf(msg, msglen, "past the max TTL, cannot renew");
			return CF_EINVAL;
		}
		if (ttl > valid) {
			duration_format(ttl, a, sizeof(a));
			duration_format(valid, b, sizeof(b));
			if (msg)
				snprintf(msg, msglen,
				         "TTL of \"%s\" exceeded the effective max_ttl of \"%s\"; "
				         "TTL value is capped accordingly",
				         a, b);
			ttl = valid;
		}
	}
	*ret_ttl = ttl;
	return 0;
}

int
token_renew_msg(struct token_store *ts, struct token_entry *te, int64_t increment, int64_t max_ttl,
                char *msg, size_t msglen)
{
	struct token_entry *cur = NULL;
	int64_t now, ttl, exp, max, limit = 0;
	bool expired = false;
	int r;

	if (msg && msglen)
		msg[0] = '\0';
	if (increment < 0)
		return CF_EINVAL;
	/* Tokens without a TTL (root) have nothing to extend. */
	if (te->expire_time == 0)
		return 0;
	if (!te->renewable) {
		if (msg)
			snprintf(msg, msglen, "token is not renewable");
		return CF_EINVAL;
	}
	pthread_rwlock_wrlock(&ts->lock);
	r = load_entry(ts, te->hash, &cur);
	if (r == CF_ENOTFOUND || r == CF_EINVAL || (r == 0 && cur->num_uses < 0))
		r = CF_EDENIED;
	if (r < 0)
		goto out;
	if (is_expired(ts, cur)) {
		expired = true;
		r = CF_EDENIED;
		goto out;
	}
	now = now_ns(ts);
	r = token_calculate_ttl(now / NS_PER_S, cur->creation_time, increment, cur->creation_ttl,
	                        cur->period, max_ttl, cur->explicit_max_ttl, max_ttl, &ttl, msg,
	                        msglen);
	if (r < 0)
		goto out;
	exp = now + ttl * NS_PER_S;
	/* The same limits in nanoseconds: never past creation + max. */
	max = max_ttl;
	if (cur->explicit_max_ttl > 0 && (max <= 0 || cur->explicit_max_ttl < max))
		max = cur->explicit_max_ttl;
	if (cur->period == 0)
		limit = cur->creation_time + max;
	else if (cur->explicit_max_ttl > 0)
		limit = cur->creation_time + cur->explicit_max_ttl;
	if (limit && exp > limit * NS_PER_S)
		exp = limit * NS_PER_S;
	cur->expire_time = exp;
	r = store_entry(ts, cur);
	if (r < 0)
		goto out;
	te->expire_time = cur->expire_time;
	te->num_uses = cur->num_uses;
out:
	pthread_rwlock_unlock(&ts->lock);
	if (expired)
		(void)revoke_tree(ts, te->hash, NULL);
	token_entry_free(cur);
	return r;
}

int
token_renew(struct token_store *ts, struct token_entry *te, int64_t increment, int64_t max_ttl)
{
	return token_renew_msg(ts, te, increment, max_ttl, NULL, 0);
}

static int
list_to_json(struct token_store *ts, const char *prefix, bool (*ok)(const char *), json_t **ret)
{
	char **keys = NULL;
	size_t n = 0;
	json_t *arr;
	int r;

	pthread_rwlock_rdlock(&ts->lock);
	r = view_list(ts->v, prefix, &keys, &n);
	pthread_rwlock_unlock(&ts->lock);
	if (r == CF_ENOTFOUND) {
		r = 0;
		n = 0;
	}
	if (r < 0)
		return r;
	arr = json_array();
	if (!arr) {
		r = CF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ok && !ok(keys[i]))
			continue;
		if (json_array_append_new(arr, json_string(keys[i])) != 0) {
			json_decref(arr);
			r = CF_ENOMEM;
			goto out;
		}
	}
	*ret = arr;
out:
	storage_keys_free(keys, n);
	return r;
}

static bool
is_accessor_key(const char *k)
{
	return is_base62(k, 31);
}

int
token_list_accessors(struct token_store *ts, json_t **ret)
{
	return list_to_json(ts, "accessor/", is_accessor_key, ret);
}

/* Tidy step for one parent folder: drops links to missing children, orphans
 * children whose parent is gone (as Vault's tidy does). */
static int
tidy_parent(struct token_store *ts, const char *ph)
{
	struct hashlist kids = {0};
	bool parent_exists = false;
	char kid[KEY_MAX];
	int r;

	pthread_rwlock_wrlock(&ts->lock);
	r = keyf(kid, "id/", ph, NULL);
	if (r == 0)
		r = key_exists(ts, kid, &parent_exists);
	if (r == 0)
		r = list_children(ts, ph, &kids);
	for (size_t i = 0; i < kids.n && r == 0; i++) {
		struct token_entry *c = NULL;
		char klink[KEY_MAX];
		int lr = load_entry(ts, kids.h[i], &c);

		r = keyf(klink, "parent/", ph, kids.h[i]);
		if (r < 0)
			break;
		if (lr == 0 && parent_exists && strcmp(c->parent, ph) == 0) {
			token_entry_free(c);
			continue;
		}
		if (lr == 0 && strcmp(c->parent, ph) == 0) {
			c->parent[0] = '\0';
			c->orphan = true;
			r = store_entry(ts, c);
		} else if (lr < 0 && lr != CF_ENOTFOUND && lr != CF_EINVAL) {
			r = lr;
		}
		if (r == 0)
			r = view_delete(ts->v, klink);
		token_entry_free(c);
	}
	pthread_rwlock_unlock(&ts->lock);
	hashlist_free(&kids);
	return r;
}

static int
tidy_accessor(struct token_store *ts, const char *acc)
{
	char hash[65], kid[KEY_MAX], kacc[KEY_MAX];
	bool exists = true;
	int r;

	pthread_rwlock_wrlock(&ts->lock);
	r = accessor_hash(ts, acc, hash);
	if (r == 0) {
		r = keyf(kid, "id/", hash, NULL);
		if (r == 0)
			r = key_exists(ts, kid, &exists);
	} else if (r == CF_ENOTFOUND) {
		exists = false; /* malformed value */
		r = 0;
	}
	if (r == 0 && !exists && keyf(kacc, "accessor/", acc, NULL) == 0)
		r = view_delete(ts->v, kacc);
	pthread_rwlock_unlock(&ts->lock);
	return r;
}

int
token_tidy(struct token_store *ts, int *ret_n)
{
	char **keys = NULL;
	size_t n = 0;
	int total = 0, r;

	/* 1. Expired and used-up tokens, with their subtrees. */
	r = view_list(ts->v, "id/", &keys, &n);
	if (r == CF_ENOTFOUND)
		r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct token_entry *te = NULL;
		int lr;
		if (!is_hash(keys[i]))
			continue;
		pthread_rwlock_rdlock(&ts->lock);
		lr = load_entry(ts, keys[i], &te);
		pthread_rwlock_unlock(&ts->lock);
		if (lr == 0 && (te->num_uses < 0 || is_expired(ts, te))) {
			int k = 0;
			r = revoke_tree(ts, keys[i], &k);
			total += k;
		} else if (lr < 0 && lr != CF_ENOTFOUND && lr != CF_EINVAL) {
			r = lr;
		}
		token_entry_free(te);
	}
	storage_keys_free(keys, n);
	keys = NULL;
	n = 0;
	if (r < 0)
		return r;

	/* 2. Accessors whose token is gone. */
	r = view_list(ts->v, "accessor/", &keys, &n);
	if (r == CF_ENOTFOUND)
		r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = tidy_accessor(ts, keys[i]);
	storage_keys_free(keys, n);
	keys = NULL;
	n = 0;
	if (r < 0)
		return r;

	/* 3. Parent links. */
	r = view_list(ts->v, "parent/", &keys, &n);
	if (r == CF_ENOTFOUND)
		r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		char ph[65];
		size_t len = strlen(keys[i]);
		if (len != 65 || keys[i][64] != '/')
			continue;
		memcpy(ph, keys[i], 64);
		ph[64] = '\0';
		if (is_hash(ph))
			r = tidy_parent(ts, ph);
	}
	storage_keys_free(keys, n);
	if (r == 0 && ret_n)
		*ret_n = total;
	return r;
}

/* ---- roles ---- */

static bool
role_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > 128 || name[len - 1] == '.' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

int
token_role_get(struct token_store *ts, const char *name, json_t **ret)
{
	char key[KEY_MAX];
	int r;

	if (!role_name_ok(name))
		return CF_ENOTFOUND;
	r = keyf(key, "roles/", name, NULL);
	if (r < 0)
		return r;
	r = view_get_json(ts->v, key, ret);
	return r;
}

int
token_role_put(struct token_store *ts, const char *name, json_t *role)
{
	char key[KEY_MAX];
	int r;

	if (!role_name_ok(name) || !json_is_object(role))
		return CF_EINVAL;
	r = keyf(key, "roles/", name, NULL);
	if (r == 0)
		r = view_put_json(ts->v, key, role);
	return r;
}

int
token_role_delete(struct token_store *ts, const char *name)
{
	char key[KEY_MAX];
	int r;

	if (!role_name_ok(name))
		return 0;
	r = keyf(key, "roles/", name, NULL);
	if (r == 0)
		r = view_delete(ts->v, key);
	return r;
}

int
token_role_list(struct token_store *ts, json_t **ret)
{
	return list_to_json(ts, "roles/", role_name_ok, ret);
}

/* ---- JSON views ---- */

int64_t
token_ttl_remaining(const struct token_entry *te)
{
	int64_t left;

	if (te->expire_time == 0)
		return 0;
	left = te->expire_time - util_now_ns();
	if (left <= 0)
		return 0;
	/* Rounded, as Vault's lease ttl(). */
	return (left + NS_PER_S / 2) / NS_PER_S;
}

/* The granted TTL for the auth block: rounded up, so a token issued for 3600s
 * reports 3600 even a few microseconds later. */
static int64_t
lease_duration(const struct token_entry *te)
{
	int64_t left;

	if (te->expire_time == 0)
		return 0;
	left = te->expire_time - util_now_ns();
	if (left <= 0)
		return 0;
	return (left + NS_PER_S - 1) / NS_PER_S;
}

static json_t *
policies_or_empty(const struct token_entry *te)
{
	return te->policies ? json_deep_copy(te->policies) : json_array();
}

json_t *
token_info_json(const struct token_entry *te, const char *id)
{
	json_t *o = json_object();
	char t[48];
	int r = o ? 0 : CF_ENOMEM;

	if (r == 0)
		r = set_new(o, "accessor", json_string(te->accessor));
	if (r == 0)
		r = set_new(o, "creation_time", json_integer(te->creation_time));
	if (r == 0)
		r = set_new(o, "creation_ttl", json_integer(te->creation_ttl));
	if (r == 0)
		r = set_new(o, "display_name",
		            json_string(te->display_name ? te->display_name : "token"));
	if (r == 0)
		r = set_new(o, "entity_id", json_string(""));
	if (r == 0 && te->expire_time) {
		util_rfc3339(te->expire_time, t, sizeof(t));
		r = set_new(o, "expire_time", json_string(t));
	} else if (r == 0) {
		r = set_new(o, "expire_time", json_null());
	}
	if (r == 0)
		r = set_new(o, "explicit_max_ttl", json_integer(te->explicit_max_ttl));
	if (r == 0)
		r = set_new(o, "id", json_string(id ? id : ""));
	if (r == 0) {
		util_rfc3339(te->creation_time * NS_PER_S, t, sizeof(t));
		r = set_new(o, "issue_time", json_string(t));
	}
	if (r == 0)
		r = set_new(o, "meta", te->meta ? json_deep_copy(te->meta) : json_null());
	if (r == 0)
		r = set_new(o, "num_uses", json_integer(te->num_uses));
	if (r == 0)
		r = set_new(o, "orphan", json_boolean(te->parent[0] == '\0'));
	if (r == 0)
		r = set_new(o, "path", json_string(te->path ? te->path : ""));
	if (r == 0)
		r = set_new(o, "policies", policies_or_empty(te));
	if (r == 0)
		r = set_new(o, "renewable", json_boolean(te->renewable && te->expire_time != 0));
	if (r == 0)
		r = set_new(o, "ttl", json_integer(token_ttl_remaining(te)));
	if (r == 0)
		r = set_new(o, "type", json_string(te->type[0] ? te->type : "service"));
	if (r == 0 && te->period > 0)
		r = set_new(o, "period", json_integer(te->period));
	if (r == 0 && te->role)
		r = set_new(o, "role", json_string(te->role));
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
token_auth_json(const struct token_entry *te, const char *token)
{
	json_t *o = json_object();
	int r = o ? 0 : CF_ENOMEM;

	if (r == 0)
		r = set_new(o, "client_token", json_string(token ? token : ""));
	if (r == 0)
		r = set_new(o, "accessor", json_string(te->accessor));
	if (r == 0)
		r = set_new(o, "policies", policies_or_empty(te));
	if (r == 0)
		r = set_new(o, "token_policies", policies_or_empty(te));
	if (r == 0)
		r = set_new(o, "identity_policies", json_array());
	if (r == 0)
		r = set_new(o, "metadata", te->meta ? json_deep_copy(te->meta) : json_null());
	if (r == 0)
		r = set_new(o, "lease_duration", json_integer(lease_duration(te)));
	if (r == 0)
		r = set_new(o, "renewable", json_boolean(te->renewable && te->expire_time != 0));
	if (r == 0)
		r = set_new(o, "entity_id", json_string(""));
	if (r == 0)
		r = set_new(o, "token_type", json_string(te->type[0] ? te->type : "service"));
	if (r == 0)
		r = set_new(o, "orphan", json_boolean(te->parent[0] == '\0'));
	if (r == 0)
		r = set_new(o, "mfa_requirement", json_null());
	if (r == 0)
		r = set_new(o, "num_uses", json_integer(te->num_uses));
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
