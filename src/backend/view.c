/* view.c - prefixed window on the barrier.
 *
 * Keys are text: a stored name that is not valid UTF-8 (older versions stored
 * whatever a client sent) is spelled with \xHH escapes (lib/path.h). The view
 * turns the escapes of a key into bytes before it reaches the barrier, and
 * escapes the names view_list returns, so such an entry can be listed, read
 * and deleted like any other and one bad name never breaks a list. */
#include "backend/view.h"
#include "backend/request.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/path.h"
#include "lib/secmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct view {
	struct barrier *b;
	char *prefix;
	size_t plen;
};

struct view *
view_new(struct barrier *b, const char *prefix)
{
	struct view *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->b = b;
	v->prefix = strdup(prefix);
	if (!v->prefix) {
		free(v);
		return NULL;
	}
	v->plen = strlen(prefix);
	return v;
}

void
view_free(struct view *v)
{
	if (!v)
		return;
	free(v->prefix);
	free(v);
}

const char *
view_prefix(const struct view *v)
{
	return v->prefix;
}

/* Full key into buf (stack for short keys, heap otherwise), escapes turned
 * back into the bytes they stand for. */
static char *
full_key(const struct view *v, const char *key, char *stack, size_t cap)
{
	size_t klen = strlen(key);
	char *out = stack;

	if (v->plen + klen + 1 > cap) {
		out = malloc(v->plen + klen + 1);
		if (!out)
			return NULL;
	}
	memcpy(out, v->prefix, v->plen);
	memcpy(out + v->plen, key, klen + 1);
	if (memchr(key, '\\', klen))
		path_unescape(out + v->plen);
	return out;
}

#define WITH_KEY(v, key, expr)                                                                     \
	do {                                                                                       \
		char stack_[512];                                                                  \
		char *k_ = full_key(v, key, stack_, sizeof(stack_));                               \
		if (!k_)                                                                           \
			return CF_ENOMEM;                                                          \
		r = (expr);                                                                        \
		if (k_ != stack_)                                                                  \
			free(k_);                                                                  \
	} while (0)

int
view_get(struct view *v, const char *key, uint8_t **ret_val, size_t *ret_len)
{
	int r;
	WITH_KEY(v, key, barrier_get(v->b, k_, ret_val, ret_len));
	return r;
}

/* A key spelled with escapes names an entry an older version stored under a
 * name that is not UTF-8: it may be rewritten (a KV version, a soft delete, a
 * transit key's config), never created, so no new such name is ever stored.
 * Returns 0 when the entry at full (the unescaped key) exists, CF_EINVAL when
 * it does not, or a storage error. */
static int
escaped_key_exists(struct view *v, const char *full)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int r = barrier_get(v->b, full, &val, &len);

	secmem_free(val, len);
	return r == CF_ENOTFOUND ? CF_EINVAL : r;
}

static int
put_full(struct view *v, const char *key, const char *full, const uint8_t *val, size_t len)
{
	int r = strchr(key, '\\') ? escaped_key_exists(v, full) : 0;

	return r < 0 ? r : barrier_put(v->b, full, val, len);
}

int
view_put(struct view *v, const char *key, const uint8_t *val, size_t len)
{
	int r;
	WITH_KEY(v, key, put_full(v, key, k_, val, len));
	return r;
}

int
view_delete(struct view *v, const char *key)
{
	int r;
	WITH_KEY(v, key, barrier_delete(v->b, k_));
	return r;
}

int
view_list(struct view *v, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	char **keys = NULL;
	size_t n = 0;
	int r;

	WITH_KEY(v, prefix, barrier_list(v->b, k_, &keys, &n));
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *esc;
		if (path_is_plain(keys[i]))
			continue;
		r = path_escape(keys[i], &esc);
		if (r == 0) {
			free(keys[i]); /* not secret: storage key names */
			keys[i] = esc;
		}
	}
	if (r < 0) {
		storage_keys_free(keys, n);
		return r;
	}
	*ret_keys = keys;
	*ret_n = n;
	return 0;
}

int
view_list_response(struct view *v, const char *prefix, unsigned flags, struct response *rs)
{
	char **keys = NULL;
	size_t n = 0, len;
	json_t *arr;
	int r = view_list(v, prefix, &keys, &n);

	if (r < 0)
		return r;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		len = strlen(keys[i]);
		if ((flags & VIEW_LIST_NO_FOLDERS) && len && keys[i][len - 1] == '/')
			continue;
		if (json_array_append_new(arr, json_string(keys[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	storage_keys_free(keys, n);
	if (!arr)
		return CF_ENOMEM;
	return response_keys(rs, arr);
}

int
view_txn(struct view *v, const struct storage_op *ops, size_t n)
{
	struct storage_op *full = calloc(n ? n : 1, sizeof(*full));
	int r;
	size_t i;

	if (!full)
		return CF_ENOMEM;
	for (i = 0; i < n; i++) {
		char *k = full_key(v, ops[i].key, NULL, 0);
		if (!k) {
			r = CF_ENOMEM;
			goto out;
		}
		full[i] = ops[i];
		full[i].key = k;
		if (ops[i].kind == STORAGE_PUT && strchr(ops[i].key, '\\')) {
			r = escaped_key_exists(v, k);
			if (r < 0) {
				i++;
				goto out;
			}
		}
	}
	r = barrier_txn(v->b, full, n);
out:
	for (size_t j = 0; j < i; j++)
		free((char *)full[j].key); /* not secret: a storage path */
	free(full);
	return r;
}

int
view_walk(struct view *v, const char *prefix, view_walk_fn fn, void *arg)
{
	char **keys = NULL;
	size_t n = 0;
	int r = view_list(v, prefix, &keys, &n);

	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t len = strlen(prefix) + strlen(keys[i]) + 1;
		char *k = malloc(len);
		if (!k) {
			r = CF_ENOMEM;
			break;
		}
		snprintf(k, len, "%s%s", prefix, keys[i]);
		if (len > 1 && k[len - 2] == '/')
			r = view_walk(v, k, fn, arg);
		else
			r = fn(v, k, arg);
		free(k); /* not secret: a storage path */
	}
	storage_keys_free(keys, n);
	return r;
}

static int
delete_one(struct view *v, const char *key, void *arg)
{
	return view_delete(v, key);
}

int
view_delete_prefix(struct view *v, const char *prefix)
{
	return view_walk(v, prefix, delete_one, NULL);
}

int
view_get_json(struct view *v, const char *key, json_t **ret)
{
	uint8_t *val;
	size_t len;
	json_error_t jerr;
	json_t *j;
	int r = view_get(v, key, &val, &len);

	if (r < 0)
		return r;
	j = json_loadb((const char *)val, len, JSON_DECODE_ANY, &jerr);
	secmem_free(val, len);
	if (!j)
		return CF_EIO;
	*ret = j;
	return 0;
}

int
view_get_object(struct view *v, const char *key, json_t **ret)
{
	json_t *j = NULL;
	int r = view_get_json(v, key, &j);

	if (r < 0)
		return r;
	if (!json_is_object(j)) {
		json_decref(j);
		return CF_EIO;
	}
	*ret = j;
	return 0;
}

int
view_object_exists(struct view *v, const char *key, bool *ret_exists)
{
	json_t *o = NULL;
	int r = view_get_object(v, key, &o);

	json_decref(o);
	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	*ret_exists = r == 0;
	return 0;
}

int
view_put_json(struct view *v, const char *key, json_t *val)
{
	char *txt = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
	int r;

	if (!txt)
		return CF_ENOMEM;
	r = view_put(v, key, (const uint8_t *)txt, strlen(txt));
	secmem_free_str(txt);
	return r;
}
