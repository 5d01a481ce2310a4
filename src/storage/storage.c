/* storage.c - backend selection, argument checks and the generic helpers.
 *
 * The storage_* wrappers check keys and sizes in one place, so backends may assume
 * valid input; then they call through the ops table (curl's protocol vtables). */
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/metrics.h"

#include <stdlib.h>
#include <string.h>

/* Every backend that storage_open() knows, by scheme name. */
static const struct storage_ops *const backends[] = {
        &storage_memory_ops,
        &storage_sqlite_ops,
        &storage_postgres_ops,
};

/* Ops per txn when storage_delete_prefix() flushes its deletes. */
#define DELETE_PREFIX_BATCH 256
/* The prefix plus a listed key is a stored key (at most STORAGE_MAX_KEY bytes);
 * twice that is slack, not a limit callers meet. */
#define DELETE_PREFIX_PATH_MAX (2 * STORAGE_MAX_KEY)

int
storage_open(const char *spec, struct storage **ret)
{
	const struct storage_ops *ops = NULL;
	const char *url = spec, *colon;
	size_t i, slen;
	struct storage *s = NULL;
	int r;

	if (spec == NULL || *spec == '\0')
		return CF_EINVAL;
	colon = strchr(spec, ':');
	if (colon != NULL) {
		slen = (size_t)(colon - spec);
		for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
			if (strlen(backends[i]->name) == slen &&
			    strncmp(backends[i]->name, spec, slen) == 0) {
				ops = backends[i];
				url = colon + 1;
				break;
			}
		}
		/* Schemes we lack: a word of letters before the colon is a scheme,
		 * not a file name. */
		if (ops == NULL && slen > 0 && strspn(spec, "abcdefghijklmnopqrstuvwxyz") == slen)
			return CF_EINVAL;
	}
	if (ops == NULL)
		ops = &storage_sqlite_ops; /* a bare path */
	r = ops->open(url, &s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

void
storage_close(struct storage *s)
{
	if (s == NULL)
		return;
	s->ops->close(s);
}

bool
storage_write_busy(struct storage *s)
{
	return s->ops->write_busy != NULL && s->ops->write_busy(s);
}

static bool
storage_key_ok(const char *key)
{
	return key != NULL && *key != '\0' && strnlen(key, STORAGE_MAX_KEY + 1) <= STORAGE_MAX_KEY;
}

/* Records one operation's latency (lib/metrics.h) under the backend's name. */
static int
storage_timed(struct storage *s, const char *op, uint64_t start_ns, int r)
{
	const char *labels[2] = {s->ops->name, op};

	metrics_observe_since(METRIC_STORAGE_DURATION, labels, start_ns);
	return r;
}

int
storage_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	uint64_t start;
	if (!storage_key_ok(key))
		return CF_EINVAL;
	start = metrics_now_ns();
	return storage_timed(s, "get", start, s->ops->get(s, key, ret_val, ret_len));
}

int
storage_put(struct storage *s, const char *key, const uint8_t *val, size_t len)
{
	uint64_t start;
	if (!storage_key_ok(key) || (val == NULL && len > 0))
		return CF_EINVAL;
	if (len > STORAGE_MAX_VALUE)
		return CF_ETOOBIG;
	start = metrics_now_ns();
	return storage_timed(s, "put", start, s->ops->put(s, key, val, len));
}

int
storage_delete(struct storage *s, const char *key)
{
	uint64_t start;
	if (!storage_key_ok(key))
		return CF_EINVAL;
	start = metrics_now_ns();
	return storage_timed(s, "delete", start, s->ops->del(s, key));
}

int
storage_list(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	uint64_t start;
	if (prefix == NULL || strnlen(prefix, STORAGE_MAX_KEY + 1) > STORAGE_MAX_KEY)
		return CF_EINVAL;
	start = metrics_now_ns();
	return storage_timed(s, "list", start, s->ops->list(s, prefix, ret_keys, ret_n));
}

int
storage_txn(struct storage *s, const struct storage_op *ops, size_t n)
{
	uint64_t start;
	size_t i;

	if (n == 0)
		return 0;
	if (ops == NULL)
		return CF_EINVAL;
	for (i = 0; i < n; i++) {
		if (!storage_key_ok(ops[i].key))
			return CF_EINVAL;
		if (ops[i].kind == STORAGE_PUT) {
			if (ops[i].value == NULL && ops[i].len > 0)
				return CF_EINVAL;
			if (ops[i].len > STORAGE_MAX_VALUE)
				return CF_ETOOBIG;
		} else if (ops[i].kind != STORAGE_DELETE) {
			return CF_EINVAL;
		}
	}
	start = metrics_now_ns();
	return storage_timed(s, "commit", start, s->ops->txn(s, ops, n));
}

void
storage_keys_free(char **keys, size_t n)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(keys[i]); /* not secret: storage key names */
	free(keys);            /* not secret: storage key names */
}

bool
storage_lock_supported(struct storage *s)
{
	return s->ops->lock_acquire != NULL;
}

int
storage_lock_acquire(struct storage *s, const char *advertise, bool *ret_acquired)
{
	if (s->ops->lock_acquire == NULL) {
		*ret_acquired = true;
		return 0;
	}
	return s->ops->lock_acquire(s, advertise, ret_acquired);
}

int
storage_lock_check(struct storage *s)
{
	return s->ops->lock_check != NULL ? s->ops->lock_check(s) : 0;
}

int
storage_lock_leader(struct storage *s, char *buf, size_t len)
{
	if (s->ops->lock_leader == NULL)
		return CF_ENOTFOUND;
	return s->ops->lock_leader(s, buf, len);
}

void
storage_lock_release(struct storage *s)
{
	if (s->ops->lock_release != NULL)
		s->ops->lock_release(s);
}

/* Deletes the pending keys in one txn and empties the vector. */
static int
storage_flush_deletes(struct storage *s, struct storage_keyvec *pending)
{
	struct storage_op *ops;
	size_t i;
	int r;

	if (pending->n == 0)
		return 0;
	ops = calloc(pending->n, sizeof(*ops));
	if (ops == NULL)
		return CF_ENOMEM;
	for (i = 0; i < pending->n; i++) {
		ops[i].kind = STORAGE_DELETE;
		ops[i].key = pending->v[i];
	}
	r = s->ops->txn(s, ops, pending->n);
	free(ops);
	storage_keyvec_reset(pending);
	return r;
}

/* Collects the keys under prefix into pending, flushing full batches. prefix is
 * a scratch buffer: each key is appended for the recursion and cut off again. */
static int
storage_collect(struct storage *s, struct buf *prefix, struct storage_keyvec *pending)
{
	size_t plen = buf_len(prefix);
	char **keys = NULL;
	size_t n = 0, i, klen;
	int r;

	r = s->ops->list(s, buf_str(prefix), &keys, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		klen = strlen(keys[i]);
		r = buf_append(prefix, keys[i], klen);
		if (r < 0)
			goto out;
		if (klen > 0 && keys[i][klen - 1] == '/') {
			r = storage_collect(s, prefix, pending);
		} else {
			r = storage_keyvec_push(pending, buf_str(prefix), plen + klen);
			if (r == 0 && pending->n >= DELETE_PREFIX_BATCH)
				r = storage_flush_deletes(s, pending);
		}
		if (buf_truncate(prefix, plen) < 0 && r == 0)
			r = CF_EINTERNAL;
		if (r < 0)
			goto out;
	}
out:
	storage_keys_free(keys, n);
	return r;
}

int
storage_delete_prefix(struct storage *s, const char *prefix)
{
	struct storage_keyvec pending = {0};
	struct buf path = BUF_INIT(DELETE_PREFIX_PATH_MAX, 0);
	int r;

	if (prefix == NULL || strnlen(prefix, STORAGE_MAX_KEY + 1) > STORAGE_MAX_KEY)
		return CF_EINVAL;
	r = buf_append_str(&path, prefix);
	if (r == 0)
		r = storage_collect(s, &path, &pending);
	if (r == 0)
		r = storage_flush_deletes(s, &pending);
	storage_keyvec_reset(&pending);
	buf_free(&path);
	return r;
}

int
storage_keyvec_push(struct storage_keyvec *kv, const char *s, size_t len)
{
	char *c;

	if (kv->n == kv->cap) {
		size_t ncap = kv->cap ? kv->cap * 2 : 16;
		char **v = realloc(kv->v, ncap * sizeof(*v));
		if (v == NULL)
			return CF_ENOMEM;
		kv->v = v;
		kv->cap = ncap;
	}
	c = malloc(len + 1);
	if (c == NULL)
		return CF_ENOMEM;
	memcpy(c, s, len);
	c[len] = '\0';
	kv->v[kv->n++] = c;
	return 0;
}

void
storage_keyvec_reset(struct storage_keyvec *kv)
{
	storage_keys_free(kv->v, kv->n);
	memset(kv, 0, sizeof(*kv));
}

int
storage_list_add(struct storage_keyvec *kv, const char *key, size_t plen, size_t *ret_folder_len)
{
	const char *rest = key + plen, *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) + 1 : strlen(rest);
	int r;

	r = storage_keyvec_push(kv, rest, len);
	if (r < 0)
		return r;
	*ret_folder_len = slash ? len : 0;
	return 0;
}

/* Replaces n bytes at p (inside out) by "REDACTED". */
static int
storage_redact_span(struct buf *out, const char *spec, const char *p, size_t n, const char **cur)
{
	int r = buf_append(out, *cur, (size_t)(p - *cur));

	if (r == 0)
		r = buf_append_str(out, "REDACTED");
	*cur = p + n;
	return r;
}

char *
storage_spec_redact(const char *spec)
{
	struct buf out = BUF_INIT(2 * STORAGE_MAX_KEY + 64, 0);
	const char *cur = spec, *auth, *at, *colon, *p, *end;
	char *ret = NULL;
	size_t len;
	int r = 0;

	if (spec == NULL)
		return NULL;
	auth = strstr(spec, "://");
	if (auth != NULL) {
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		at = memrchr(auth, '@', (size_t)(end - auth));
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL)
			r = storage_redact_span(&out, spec, colon + 1, (size_t)(at - colon - 1),
			                        &cur);
	}
	/* password=... in the query, or in a key=value conninfo */
	for (p = cur; r == 0 && (p = strstr(p, "password=")) != NULL; p += 9) {
		if (p != spec && strchr("?& \t", p[-1]) == NULL)
			continue;
		len = strcspn(p + 9, "& \t");
		r = storage_redact_span(&out, spec, p + 9, len, &cur);
		p = cur - 9;
	}
	if (r == 0)
		r = buf_append_str(&out, cur);
	if (r == 0)
		r = buf_detach(&out, &ret, &len);
	buf_free(&out);
	return r == 0 ? ret : NULL;
}
