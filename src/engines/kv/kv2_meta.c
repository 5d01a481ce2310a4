/* kv2_meta.c - the KV v2 key metadata record and the metadata/ endpoints
 * (Vault's KV v2 API: GET/LIST/POST/PUT/PATCH/DELETE :mount/metadata/:path). */
#include "engines/kv/kv_int.h"

#include "backend/backend.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/path.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parsed-record cache for the read paths (kv2_meta_get): direct-mapped on a hash
 * of (view, path), KV2_CACHE_SLOTS entries for the whole process. Cached records
 * are shared and never modified. Every change of a record goes through
 * kv2_meta_commit or kv2_meta_purge under the key's path lock, which drop the
 * slot after the transaction and bump its generation; a reader only inserts what
 * it loaded when the generation it saw before loading is unchanged, so a load
 * that raced a write never re-inserts the old record. */
#define KV2_CACHE_SLOTS 1024
#define KV2_CACHE_LOCKS 64

struct kv2_cache_slot {
	const struct view *v;
	char *path;
	json_t *meta;
	uint64_t gen;
};

static struct kv2_cache_slot kv2_cache[KV2_CACHE_SLOTS];
static pthread_mutex_t kv2_cache_mu[KV2_CACHE_LOCKS];
static pthread_once_t kv2_cache_once = PTHREAD_ONCE_INIT;

static void
kv2_cache_init(void)
{
	for (size_t i = 0; i < KV2_CACHE_LOCKS; i++)
		pthread_mutex_init(&kv2_cache_mu[i], NULL);
}

static size_t
kv2_cache_slot(const struct view *v, const char *path)
{
	uint32_t h = util_fnv1a(UTIL_FNV1A_INIT, &v, sizeof(v));

	return util_fnv1a(h, path, strlen(path)) % KV2_CACHE_SLOTS;
}

static pthread_mutex_t *
kv2_cache_lock(size_t slot)
{
	pthread_mutex_t *mu;

	(void)pthread_once(&kv2_cache_once, kv2_cache_init);
	mu = &kv2_cache_mu[slot % KV2_CACHE_LOCKS];
	pthread_mutex_lock(mu);
	return mu;
}

/* Empties slot s (its lock held); returns the record to release after unlocking. */
static json_t *
kv2_cache_clear(struct kv2_cache_slot *s)
{
	json_t *old = s->meta;

	free(s->path);
	s->path = NULL;
	s->meta = NULL;
	s->v = NULL;
	s->gen++;
	return old;
}

void
kv2_meta_cache_drop(struct view *v, const char *path)
{
	size_t slot = kv2_cache_slot(v, path);
	pthread_mutex_t *mu = kv2_cache_lock(slot);
	json_t *old = kv2_cache_clear(&kv2_cache[slot]);

	pthread_mutex_unlock(mu);
	json_decref(old);
}

void
kv2_meta_cache_forget(struct view *v)
{
	for (size_t i = 0; i < KV2_CACHE_SLOTS; i++) {
		pthread_mutex_t *mu = kv2_cache_lock(i);
		json_t *old = NULL;

		if (kv2_cache[i].v == v)
			old = kv2_cache_clear(&kv2_cache[i]);
		pthread_mutex_unlock(mu);
		json_decref(old);
	}
}

int
kv2_meta_get(struct view *v, const char *path, json_t **ret)
{
	size_t slot = kv2_cache_slot(v, path);
	struct kv2_cache_slot *s = &kv2_cache[slot];
	pthread_mutex_t *mu = kv2_cache_lock(slot);
	json_t *j = NULL, *old = NULL;
	char *p;
	uint64_t gen;
	int r;

	if (s->meta && s->v == v && strcmp(s->path, path) == 0) {
		*ret = json_incref(s->meta);
		pthread_mutex_unlock(mu);
		return 0;
	}
	gen = s->gen;
	pthread_mutex_unlock(mu);

	r = kv2_meta_load(v, path, &j);
	if (r < 0)
		return r;
	p = strdup(path);
	mu = kv2_cache_lock(slot);
	if (p && s->gen == gen) {
		old = s->meta;
		free(s->path);
		s->v = v;
		s->path = p;
		s->meta = json_incref(j);
		p = NULL;
	}
	pthread_mutex_unlock(mu);
	free(p);
	json_decref(old);
	*ret = j;
	return 0;
}

int
kv2_meta_load(struct view *v, const char *path, json_t **ret)
{
	char *key = kv_keyf(KV2_META_PREFIX "%s", path);
	json_t *j = NULL;
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_get_json(v, key, &j);
	free(key); /* not secret: a storage path */
	if (r < 0)
		return r;
	if (!json_is_object(j) || !json_is_object(json_object_get(j, "versions"))) {
		json_decref(j);
		return CF_EIO;
	}
	*ret = j;
	return 0;
}

json_t *
kv2_meta_new(int64_t now)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:n, s:{}}", "created_time",
	                 (json_int_t)now, "updated_time", (json_int_t)now, "current_version",
	                 (json_int_t)0, "oldest_version", (json_int_t)0, "max_versions",
	                 (json_int_t)0, "cas_required", 0, "delete_version_after", (json_int_t)0,
	                 "custom_metadata", "versions");
}

int64_t
kv2_meta_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int
kv2_meta_set_int(json_t *obj, const char *key, int64_t v)
{
	return json_object_set_new(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : CF_ENOMEM;
}

json_t *
kv2_meta_version(json_t *meta, int64_t n)
{
	char k[24];

	snprintf(k, sizeof(k), "%lld", (long long)n);
	return json_object_get(json_object_get(meta, "versions"), k);
}

bool
kv2_meta_version_gone(json_t *vm, int64_t now)
{
	int64_t dt = kv2_meta_int(vm, "deletion_time");

	if (json_is_true(json_object_get(vm, "destroyed")))
		return true;
	return dt != 0 && dt <= now;
}

/* RFC3339 nano string of a stored ns time; "" for 0 (Vault's empty deletion_time). */
static json_t *
kv2_meta_time(int64_t ns)
{
	char buf[48];

	if (ns == 0)
		return json_string("");
	util_rfc3339(ns, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
kv2_meta_custom(json_t *meta)
{
	json_t *cm = json_object_get(meta, "custom_metadata");

	return json_is_object(cm) ? json_deep_copy(cm) : json_null();
}

json_t *
kv2_meta_render_version(json_t *meta, int64_t n)
{
	json_t *vm = kv2_meta_version(meta, n);

	if (!vm)
		return NULL;
	return json_pack("{s:o, s:o, s:o, s:b, s:I}", "created_time",
	                 kv2_meta_time(kv2_meta_int(vm, "created_time")), "custom_metadata",
	                 kv2_meta_custom(meta), "deletion_time",
	                 kv2_meta_time(kv2_meta_int(vm, "deletion_time")), "destroyed",
	                 json_is_true(json_object_get(vm, "destroyed")), "version", (json_int_t)n);
}

/* The full metadata read response. */
static json_t *
kv2_meta_render(json_t *meta)
{
	json_t *out, *versions, *vm;
	const char *k;
	char dva[64];

	versions = json_object();
	if (!versions)
		return NULL;
	json_object_foreach(json_object_get(meta, "versions"), k, vm)
	{
		json_t *e =
		        json_pack("{s:o, s:o, s:b}", "created_time",
		                  kv2_meta_time(kv2_meta_int(vm, "created_time")), "deletion_time",
		                  kv2_meta_time(kv2_meta_int(vm, "deletion_time")), "destroyed",
		                  json_is_true(json_object_get(vm, "destroyed")));
		if (!e || json_object_set_new(versions, k, e) != 0) {
			json_decref(versions);
			return NULL;
		}
	}
	duration_format(kv2_meta_int(meta, "delete_version_after"), dva, sizeof(dva));
	out = json_pack("{s:b, s:o, s:I, s:o, s:s, s:I, s:I, s:o, s:o}", "cas_required",
	                json_is_true(json_object_get(meta, "cas_required")), "created_time",
	                kv2_meta_time(kv2_meta_int(meta, "created_time")), "current_version",
	                (json_int_t)kv2_meta_int(meta, "current_version"), "custom_metadata",
	                kv2_meta_custom(meta), "delete_version_after", dva, "max_versions",
	                (json_int_t)kv2_meta_int(meta, "max_versions"), "oldest_version",
	                (json_int_t)kv2_meta_int(meta, "oldest_version"), "updated_time",
	                kv2_meta_time(kv2_meta_int(meta, "updated_time")), "versions", versions);
	return out;
}

/* min of the positive settings (Vault's KV v2 API delete_version_after). A
 * value stored before the duration limit existed counts as the limit, so that
 * now + dva in nanoseconds cannot overflow into the past. */
static int64_t
kv2_meta_effective_dva(int64_t key, int64_t mount)
{
	int64_t dva = mount > 0 ? mount : 0;

	if (key > 0 && (dva == 0 || key < dva))
		dva = key;
	return dva > DURATION_MAX_SECS ? DURATION_MAX_SECS : dva;
}

int
kv2_meta_add_version(json_t *meta, int64_t now, const struct kv2_config *cfg, int64_t *ret_version,
                     int64_t **ret_trim, size_t *ret_ntrim)
{
	json_t *versions = json_object_get(meta, "versions"), *vm;
	int64_t n = kv2_meta_int(meta, "current_version") + 1;
	int64_t dva = kv2_meta_effective_dva(kv2_meta_int(meta, "delete_version_after"),
	                                     cfg->delete_version_after);
	int64_t maxv = kv2_meta_int(meta, "max_versions");
	int64_t *trim = NULL, oldest, upto;
	size_t ntrim = 0;
	char k[24];

	if (!json_is_object(versions))
		return CF_EIO;
	if (maxv <= 0)
		maxv = cfg->max_versions;
	if (maxv <= 0)
		maxv = KV2_DEFAULT_MAX_VERSIONS;

	vm = json_pack("{s:I, s:I, s:b}", "created_time", (json_int_t)now, "deletion_time",
	               (json_int_t)(dva > 0 ? now + dva * 1000000000LL : 0), "destroyed", 0);
	snprintf(k, sizeof(k), "%lld", (long long)n);
	if (!vm || json_object_set_new(versions, k, vm) != 0)
		return CF_ENOMEM;
	if (kv2_meta_set_int(meta, "current_version", n) < 0 ||
	    kv2_meta_set_int(meta, "updated_time", now) < 0)
		return CF_ENOMEM;

	/* Vault's KeyMetadata.AddVersion: past max_versions, every version up to
	 * current - max is removed for good and oldest_version moves past them. */
	if ((int64_t)json_object_size(versions) > maxv) {
		upto = n - maxv;
		oldest = kv2_meta_int(meta, "oldest_version");
		if (oldest < 1)
			oldest = 1;
		if (CF_NEVER(upto < oldest))
			return CF_EINTERNAL;
		trim = calloc((size_t)(upto - oldest + 1), sizeof(*trim));
		if (!trim)
			return CF_ENOMEM;
		for (int64_t i = oldest; i <= upto; i++) {
			snprintf(k, sizeof(k), "%lld", (long long)i);
			if (json_object_get(versions, k)) {
				(void)json_object_del(versions, k);
				trim[ntrim++] = i;
			}
		}
		if (kv2_meta_set_int(meta, "oldest_version", upto + 1) < 0) {
			free(trim);
			return CF_ENOMEM;
		}
	}
	*ret_version = n;
	*ret_trim = trim;
	*ret_ntrim = ntrim;
	return 0;
}

char *
kv2_meta_version_key(const char *path, int64_t n)
{
	char h[65], *raw = strdup(path);

	if (!raw)
		return NULL;
	/* The hash is of the name as stored: a \xHH escape in a path stands for
	 * its byte (lib/path.h), as the storage view reads it. */
	path_unescape(raw);
	util_sha256_hex(raw, strlen(raw), h);
	free(raw);
	if (n < 0)
		return kv_keyf(KV2_VER_PREFIX "%s/", h);
	return kv_keyf(KV2_VER_PREFIX "%s/%lld", h, (long long)n);
}

int
kv2_meta_commit(struct view *v, const char *path, json_t *meta, int64_t put_ver, json_t *put_data,
                const int64_t *del, size_t ndel)
{
	size_t nops = 1 + (put_data ? 1 : 0) + ndel, i, k = 0;
	struct storage_op *ops = calloc(nops, sizeof(*ops));
	char **keys = calloc(nops, sizeof(char *));
	char *meta_txt = NULL, *data_txt = NULL;
	size_t meta_len = 0, data_len = 0;
	int r = CF_ENOMEM;

	if (!ops || !keys)
		goto out;
	r = kv_json_bytes(meta, &meta_txt, &meta_len);
	if (r < 0)
		goto out;
	r = CF_ENOMEM;
	keys[k] = kv_keyf(KV2_META_PREFIX "%s", path);
	if (!keys[k])
		goto out;
	ops[k] = (struct storage_op){STORAGE_PUT, keys[k], (const uint8_t *)meta_txt, meta_len};
	k++;
	if (put_data) {
		r = kv_json_bytes(put_data, &data_txt, &data_len);
		if (r < 0)
			goto out;
		r = CF_ENOMEM;
		keys[k] = kv2_meta_version_key(path, put_ver);
		if (!keys[k])
			goto out;
		ops[k] = (struct storage_op){STORAGE_PUT, keys[k], (const uint8_t *)data_txt,
		                             data_len};
		k++;
	}
	for (i = 0; i < ndel; i++, k++) {
		keys[k] = kv2_meta_version_key(path, del[i]);
		if (!keys[k])
			goto out;
		ops[k] = (struct storage_op){STORAGE_DELETE, keys[k], NULL, 0};
	}
	r = view_txn(v, ops, nops);
	kv2_meta_cache_drop(v, path);
out:
	if (keys)
		for (i = 0; i < nops; i++)
			free(keys[i]); /* not secret: storage key names */
	free(keys);                    /* not secret: storage key names */
	free(ops);
	secmem_free_str(meta_txt);
	secmem_free_str(data_txt);
	return r;
}

/* Removes the record and every version of path in one transaction. */
static int
kv2_meta_purge(struct view *v, const char *path, json_t *meta)
{
	json_t *versions = json_object_get(meta, "versions"), *vm;
	size_t n = json_object_size(versions), i = 0;
	int64_t *del = calloc(n ? n : 1, sizeof(*del));
	struct storage_op *ops = NULL;
	char **keys = NULL;
	const char *k;
	int r = CF_ENOMEM;

	if (!del)
		return CF_ENOMEM;
	json_object_foreach(versions, k, vm)
	{
		int64_t num;
		if (util_parse_int(k, &num) == 0)
			del[i++] = num;
	}
	n = i;
	ops = calloc(n + 1, sizeof(*ops));
	keys = calloc(n + 1, sizeof(char *));
	if (!ops || !keys)
		goto out;
	for (i = 0; i < n; i++) {
		keys[i] = kv2_meta_version_key(path, del[i]);
		if (!keys[i])
			goto out;
		ops[i] = (struct storage_op){STORAGE_DELETE, keys[i], NULL, 0};
	}
	keys[n] = kv_keyf(KV2_META_PREFIX "%s", path);
	if (!keys[n])
		goto out;
	ops[n] = (struct storage_op){STORAGE_DELETE, keys[n], NULL, 0};
	r = view_txn(v, ops, n + 1);
	kv2_meta_cache_drop(v, path);
out:
	if (keys)
		for (i = 0; i <= n; i++)
			free(keys[i]); /* not secret: storage key names */
	free(keys);                    /* not secret: storage key names */
	free(ops);
	free(del);
	return r;
}

/* Checks the custom_metadata limits (Vault's KV v2 API). */
static int
kv2_meta_custom_check(json_t *cm, struct response *rs)
{
	const char *k;
	json_t *v;
	int r = 0;

	if (json_object_size(cm) > KV_CUSTOM_META_MAX_KEYS) {
		(void)response_errorf(rs, "payload must contain at most %d keys, provided %zu",
		                      KV_CUSTOM_META_MAX_KEYS, json_object_size(cm));
		return CF_EINVAL;
	}
	json_object_foreach(cm, k, v)
	{
		size_t klen = strlen(k), vlen = json_string_length(v);
		bool printable = true;

		for (const unsigned char *p = (const unsigned char *)k; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				printable = false;
		if (klen == 0 || klen > KV_CUSTOM_META_MAX_KEY) {
			(void)response_errorf(rs,
			                      "length of key \"%.*s\" is %zu but must be between 1 "
			                      "and %d bytes",
			                      32, k, klen, KV_CUSTOM_META_MAX_KEY);
			r = CF_EINVAL;
		} else if (!printable) {
			(void)response_errorf(
			        rs, "custom_metadata key contains unprintable characters");
			r = CF_EINVAL;
		}
		if (vlen > KV_CUSTOM_META_MAX_VAL) {
			(void)response_errorf(rs,
			                      "length of value for key \"%.*s\" is %zu but max "
			                      "allowed is %d bytes",
			                      32, k, vlen, KV_CUSTOM_META_MAX_VAL);
			r = CF_EINVAL;
		}
	}
	return r;
}

/* Parsed metadata write/patch fields; has_* tell what the body set. */
struct kv2_meta_args {
	struct kv2_settings set;
	bool has_cm;
	json_t *cm; /* owned; for patch: the merge patch object (null values delete) */
};

static int
kv2_meta_args_parse(json_t *body, bool patch, struct kv2_meta_args *a, struct response *rs)
{
	int r;

	memset(a, 0, sizeof(*a));
	r = kv2_settings_parse(body, &a->set, rs);
	if (r < 0)
		return r;
	if (!patch) {
		r = jsonx_strmap(body, "custom_metadata", &a->cm);
		if (r == CF_ENOMEM)
			return r;
		if (r < 0 && r != CF_ENOTFOUND) {
			(void)response_errorf(rs, "invalid custom_metadata: must be a map of "
			                          "strings");
			return CF_EINVAL;
		}
		a->has_cm = r == 0;
		if (a->has_cm)
			return kv2_meta_custom_check(a->cm, rs);
		return 0;
	}
	/* Patch: keep nulls (they delete keys), render other scalars as strings. */
	{
		json_t *cm = json_object_get(body, "custom_metadata"), *v;
		const char *k;

		if (!cm || json_is_null(cm))
			return 0;
		if (!json_is_object(cm)) {
			(void)response_errorf(rs, "invalid custom_metadata: must be a map of "
			                          "strings");
			return CF_EINVAL;
		}
		a->cm = json_object();
		if (!a->cm)
			return CF_ENOMEM;
		a->has_cm = true;
		json_object_foreach(cm, k, v)
		{
			json_t *s;
			if (json_is_null(v) || json_is_string(v)) {
				s = json_incref(v);
			} else {
				char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
				s = txt ? json_string(txt) : NULL;
				free(txt);
			}
			if (!s || json_object_set_new(a->cm, k, s) != 0)
				return CF_ENOMEM;
		}
	}
	return 0;
}

static int
kv2_meta_apply(json_t *meta, struct kv2_meta_args *a, bool patch, int64_t now, struct response *rs)
{
	int r;

	if (a->set.max_versions >= 0 &&
	    kv2_meta_set_int(meta, "max_versions", a->set.max_versions) < 0)
		return CF_ENOMEM;
	if (a->set.has_cas &&
	    json_object_set_new(meta, "cas_required", json_boolean(a->set.cas_required)) != 0)
		return CF_ENOMEM;
	if (a->set.delete_version_after >= 0 &&
	    kv2_meta_set_int(meta, "delete_version_after", a->set.delete_version_after) < 0)
		return CF_ENOMEM;
	if (a->has_cm) {
		json_t *cm;
		if (patch) {
			cm = kv_merge_patch(json_object_get(meta, "custom_metadata"), a->cm);
			if (!cm)
				return CF_ENOMEM;
			r = kv2_meta_custom_check(cm, rs);
			if (r < 0) {
				json_decref(cm);
				return r;
			}
		} else {
			cm = json_incref(a->cm);
		}
		if (json_object_size(cm) == 0) {
			json_decref(cm);
			cm = json_null();
		}
		if (json_object_set_new(meta, "custom_metadata", cm) != 0)
			return CF_ENOMEM;
	}
	return kv2_meta_set_int(meta, "updated_time", now);
}

static int
kv2_meta_write(struct request *rq, struct response *rs, bool patch)
{
	const char *path = rq->cap[0];
	struct kv2_meta_args a;
	struct keylock *lk = NULL;
	json_t *meta = NULL;
	int64_t now;
	int r;

	r = kv_path_check(path, rs);
	if (r < 0)
		return r;
	r = kv2_meta_args_parse(rq->data, patch, &a, rs);
	if (r < 0)
		goto out;
	lk = kv2_lock(rq->mount, path);
	if (!lk) {
		r = CF_ENOMEM;
		goto out;
	}
	now = util_now_ns();
	r = kv2_meta_load(rq->mount->view, path, &meta);
	if (r == CF_ENOTFOUND && !patch) {
		meta = kv2_meta_new(now);
		r = meta ? 0 : CF_ENOMEM;
	}
	if (r < 0)
		goto out;
	r = kv2_meta_apply(meta, &a, patch, now, rs);
	if (r < 0)
		goto out;
	r = kv2_meta_commit(rq->mount->view, path, meta, 0, NULL, NULL, 0);
out:
	if (lk)
		kv2_unlock(rq->mount, lk);
	json_decref(meta);
	json_decref(a.cm);
	return r;
}

int
kv2_meta_read(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];
	size_t len = strlen(path);
	json_t *meta = NULL, *out;
	int r;

	if (len == 0 || path[len - 1] == '/')
		return CF_ENOTFOUND;
	r = kv2_meta_get(rq->mount->view, path, &meta);
	if (r < 0)
		return r;
	out = kv2_meta_render(meta);
	json_decref(meta);
	if (!out)
		return CF_ENOMEM;
	response_set_data(rs, out);
	return 0;
}

int
kv2_meta_delete(struct request *rq, struct response *rs)
{
	const char *path = rq->cap[0];
	struct keylock *lk;
	json_t *meta = NULL;
	int r;

	/* Nothing can live at an empty or folder path; DELETE stays idempotent. */
	if (*path == '\0' || path[strlen(path) - 1] == '/')
		return 0;
	lk = kv2_lock(rq->mount, path);
	if (!lk)
		return CF_ENOMEM;
	r = kv2_meta_load(rq->mount->view, path, &meta);
	if (r == CF_ENOTFOUND)
		r = 0;
	else if (r == 0)
		r = kv2_meta_purge(rq->mount->view, path, meta);
	kv2_unlock(rq->mount, lk);
	json_decref(meta);
	return r;
}

int
kv2_meta_list(struct request *rq, struct response *rs)
{
	return kv_list(rq->mount->view, KV2_META_PREFIX, rq->cap[0], rs);
}

int
kv2_meta_put(struct request *rq, struct response *rs)
{
	return kv2_meta_write(rq, rs, false);
}

int
kv2_meta_patch(struct request *rq, struct response *rs)
{
	return kv2_meta_write(rq, rs, true);
}

int
kv2_meta_exists(struct request *rq, bool *ret_exists)
{
	const char *path = rq->cap[0];
	size_t len = strlen(path);
	json_t *meta = NULL;
	int r;

	if (len == 0 || path[len - 1] == '/') {
		*ret_exists = false;
		return 0;
	}
	r = kv2_meta_get(rq->mount->view, path, &meta);
	if (r == CF_ENOTFOUND) {
		*ret_exists = false;
		return 0;
	}
	if (r < 0)
		return r;
	json_decref(meta);
	*ret_exists = true;
	return 0;
}
