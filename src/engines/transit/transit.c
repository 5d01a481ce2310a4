/* transit.c - the transit secrets engine: mount state (parsed-key cache,
 * auto-rotation scheduler), the route table and the handlers
 * (Vault's transit API). Cryptography lives in transit_key.c. */
#include "engines/transit/transit_int.h"
#include "engines/transit/transit.h"

#include "backend/backend.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_BUCKETS 256
#define ERRLEN        256

struct centry {
	struct tkey *k;
	struct centry *next;
};

struct sched {
	char *name;
	int64_t period; /* seconds */
	int64_t due;    /* unix seconds */
	struct sched *next;
};

struct transit_state {
	struct mount *m;
	/* Parsed keys. gen counts mutations, so a reader that loaded a record
	 * from storage before a mutation never caches it afterwards. */
	pthread_rwlock_t cache_lock;
	struct centry *buckets[CACHE_BUCKETS];
	uint64_t gen;
	/* Serializes every change of a key record (create, rotate, config, trim,
	 * delete, restore): read-modify-write of one JSON record. */
	pthread_mutex_t wmu;
	/* auto_rotate_period: keys with a period and their next due time. The
	 * thread sleeps on scond until the earliest due time or a change. */
	pthread_mutex_t smu;
	pthread_cond_t scond;
	pthread_t sthread;
	bool sstarted, stop;
	struct sched *sched;
	int64_t rotate_min;
};

static struct transit_state *
tstate(struct mount *m)
{
	assert(m->state != NULL);
	return m->state;
}

static uint32_t
name_hash(const char *s)
{
	return util_fnv1a_str(s) % CACHE_BUCKETS;
}

/* ---- cache ---- */

static char *
policy_key(const char *name)
{
	size_t n = strlen(TRANSIT_POLICY_PREFIX) + strlen(name) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s", TRANSIT_POLICY_PREFIX, name);
	return s;
}

static int
record_load(struct mount *m, const char *name, json_t **ret)
{
	char *key = policy_key(name);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_get_object(m->view, key, ret);
	free(key); /* not secret: a storage path */
	return r;
}

static int
record_store(struct mount *m, const char *name, json_t *rec)
{
	char *key = policy_key(name);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_put_json(m->view, key, rec);
	free(key); /* not secret: a storage path */
	return r;
}

/* Caller holds cache_lock for writing. Takes over k's reference (k may be
 * NULL: just remove). */
static int
cache_set_locked(struct transit_state *st, const char *name, struct tkey *k)
{
	struct centry **pp = &st->buckets[name_hash(name)], *e;

	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->k->name, name) == 0) {
			e = *pp;
			if (k) {
				tkey_unref(e->k);
				e->k = k;
			} else {
				*pp = e->next;
				tkey_unref(e->k);
				free(e);
			}
			return 0;
		}
	}
	if (!k)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e) {
		tkey_unref(k);
		return CF_ENOMEM;
	}
	e->k = k;
	e->next = st->buckets[name_hash(name)];
	st->buckets[name_hash(name)] = e;
	return 0;
}

/* After a mutation: publishes k (a reference is taken) or drops the entry. */
static void
cache_publish(struct transit_state *st, const char *name, struct tkey *k)
{
	pthread_rwlock_wrlock(&st->cache_lock);
	st->gen++;
	(void)cache_set_locked(st, name, tkey_ref(k));
	pthread_rwlock_unlock(&st->cache_lock);
}

int
transit_key_get(struct mount *m, const char *name, struct tkey **ret)
{
	struct transit_state *st = tstate(m);
	struct tkey *k = NULL;
	json_t *rec = NULL;
	uint64_t gen;
	int r;

	pthread_rwlock_rdlock(&st->cache_lock);
	for (struct centry *e = st->buckets[name_hash(name)]; e; e = e->next) {
		if (strcmp(e->k->name, name) == 0) {
			k = tkey_ref(e->k);
			break;
		}
	}
	gen = st->gen;
	pthread_rwlock_unlock(&st->cache_lock);
	if (k) {
		*ret = k;
		return 0;
	}
	r = record_load(m, name, &rec);
	if (r < 0)
		return r;
	r = tkey_parse(name, rec, &k);
	json_decref(rec);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&st->cache_lock);
	if (st->gen == gen)
		(void)cache_set_locked(st, name, tkey_ref(k));
	pthread_rwlock_unlock(&st->cache_lock);
	*ret = k;
	return 0;
}

/* ---- auto-rotation scheduler ---- */

static void
sched_set(struct transit_state *st, const char *name, int64_t period, int64_t last)
{
	struct sched **pp, *e = NULL;

	pthread_mutex_lock(&st->smu);
	for (pp = &st->sched; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			e = *pp;
			break;
		}
	}
	if (period <= 0) {
		if (e) {
			*pp = e->next;
			free(e->name);
			free(e);
		}
	} else {
		if (!e) {
			e = calloc(1, sizeof(*e));
			if (e)
				e->name = strdup(name);
			if (!e || !e->name) {
				/* XXX: out of memory: this key will not auto-rotate until
				 * its record changes or the mount is loaded again. */
				if (e)
					free(e);
				pthread_mutex_unlock(&st->smu);
				return;
			}
			e->next = st->sched;
			st->sched = e;
		}
		e->period = period;
		e->due = last + period;
	}
	pthread_cond_signal(&st->scond);
	pthread_mutex_unlock(&st->smu);
}

static int64_t
record_last_rotated(json_t *rec)
{
	json_t *v = json_object_get(rec, "last_rotated");

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : util_now();
}

/* Rotates name when it is due (under wmu, re-checked from storage). */
static int transit_rotate_locked(struct transit_state *st, const char *name, bool only_if_due);

static void
sched_load_all(struct transit_state *st)
{
	char **keys = NULL;
	size_t n = 0;

	if (view_list(st->m->view, TRANSIT_POLICY_PREFIX, &keys, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = NULL;
		pthread_mutex_lock(&st->wmu);
		if (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE) &&
		    record_load(st->m, keys[i], &rec) == 0) {
			json_t *p = json_object_get(rec, "auto_rotate_period");
			if (json_integer_value(p) > 0)
				sched_set(st, keys[i], json_integer_value(p),
				          record_last_rotated(rec));
			json_decref(rec);
		}
		pthread_mutex_unlock(&st->wmu);
	}
	storage_keys_free(keys, n);
}

static void *
sched_main(void *arg)
{
	struct transit_state *st = arg;

	sched_load_all(st);
	pthread_mutex_lock(&st->smu);
	while (!st->stop) {
		struct sched *e, *first = NULL;
		int64_t now = util_now();

		for (e = st->sched; e; e = e->next)
			if (!first || e->due < first->due)
				first = e;
		if (!first) {
			pthread_cond_wait(&st->scond, &st->smu);
			continue;
		}
		if (first->due > now) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(first->due - now);
			(void)pthread_cond_timedwait(&st->scond, &st->smu, &ts);
			continue;
		}
		/* Due: rotate outside smu (rotation takes wmu, then smu). */
		char *name = strdup(first->name);
		first->due = now + 60; /* retried in a minute if the rotation fails */
		pthread_mutex_unlock(&st->smu);
		if (name) {
			int r;
			pthread_mutex_lock(&st->wmu);
			r = transit_rotate_locked(st, name, true);
			pthread_mutex_unlock(&st->wmu);
			if (r < 0 && r != CF_ENOTFOUND)
				log_error("transit: auto-rotation of key %s failed: %s", name,
				          cf_strerror(r));
			else if (r == 0)
				log_info("transit: key %s rotated (auto_rotate_period)", name);
			free(name);
		}
		pthread_mutex_lock(&st->smu);
	}
	pthread_mutex_unlock(&st->smu);
	return NULL;
}

/* ---- mount state ---- */

static int
transit_init(struct mount *m, struct core *c)
{
	struct transit_state *st = calloc(1, sizeof(*st));
	const char *floor_env = util_test_hook("COFFER_TRANSIT_MIN_ROTATE_PERIOD");
	pthread_condattr_t ca;

	(void)c;
	if (!st)
		return CF_ENOMEM;
	st->m = m;
	st->rotate_min = TRANSIT_ROTATE_MIN;
	/* Test knob (docs/internals/transit.md): lowers the 1h floor of
	 * auto_rotate_period so the scheduler can be exercised in seconds. */
	if (floor_env && *floor_env) {
		int64_t s;
		if (duration_parse(floor_env, &s) == 0 && s >= 1)
			st->rotate_min = s;
	}
	pthread_rwlock_init(&st->cache_lock, NULL);
	pthread_mutex_init(&st->wmu, NULL);
	pthread_mutex_init(&st->smu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&st->scond, &ca);
	pthread_condattr_destroy(&ca);
	m->state = st;
	if (m->view) {
		if (pthread_create(&st->sthread, NULL, sched_main, st) == 0)
			st->sstarted = true;
		else
			log_error(
			        "transit %s: no auto-rotation thread; auto_rotate_period will not "
			        "rotate keys until the mount is loaded again",
			        m->path ? m->path : "");
	}
	return 0;
}

static void
transit_cleanup(struct mount *m)
{
	struct transit_state *st = m->state;

	if (!st)
		return;
	pthread_mutex_lock(&st->smu);
	__atomic_store_n(&st->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&st->scond);
	pthread_mutex_unlock(&st->smu);
	if (st->sstarted)
		pthread_join(st->sthread, NULL);
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		while (st->buckets[i]) {
			struct centry *e = st->buckets[i];
			st->buckets[i] = e->next;
			tkey_unref(e->k);
			free(e);
		}
	}
	while (st->sched) {
		struct sched *e = st->sched;
		st->sched = e->next;
		free(e->name);
		free(e);
	}
	transit_crypto_wipe();
	pthread_rwlock_destroy(&st->cache_lock);
	pthread_mutex_destroy(&st->wmu);
	pthread_mutex_destroy(&st->smu);
	pthread_cond_destroy(&st->scond);
	free(st);
	m->state = NULL;
}

/* ---- request helpers ---- */

static int
fail(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

/* Maps an operation's result to the handler's: messages become 400s. */
static int
op_fail(struct response *rs, int r, const char *err)
{
	if (r == CF_EINVAL || r == CF_ECRYPTO || (r == CF_ERANGE && *err)) {
		(void)response_errorf(rs, "%s", *err ? err : cf_strerror(r));
		return CF_EINVAL;
	}
	return r;
}

static int
name_check(const char *name, struct response *rs)
{
	size_t n = strlen(name);

	if (n == 0 || n > TRANSIT_NAME_MAX)
		return fail(rs, "invalid key name");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return fail(rs, "invalid key name");
	return 0;
}

/* A base64 field: *ret NULL when absent, null or (with empty_absent) "". */
static int
b64_field(json_t *obj, const char *key, bool empty_absent, uint8_t **ret, size_t *ret_len,
          char *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (!v || json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (!s) {
		snprintf(err, ERRLEN, "invalid %s: must be a base64 string", key);
		return CF_EINVAL;
	}
	if (*s == '\0') {
		if (empty_absent)
			return 0;
		*ret = malloc(1);
		return *ret ? 0 : CF_ENOMEM;
	}
	r = util_b64_decode(s, ret, ret_len);
	if (r == CF_EINVAL)
		snprintf(err, ERRLEN, "failed to base64-decode %s", key);
	return r;
}

/* Integer parameter of item, else of the request body, else def. */
static int
int_param(json_t *item, json_t *body, const char *key, int64_t def, int64_t *ret, char *err)
{
	int r = jsonx_int(item, key, ret);

	if (r == CF_ENOTFOUND && body && body != item)
		r = jsonx_int(body, key, ret);
	if (r == CF_ENOTFOUND) {
		*ret = def;
		return 0;
	}
	if (r < 0)
		snprintf(err, ERRLEN, "invalid %s: must be an integer", key);
	return r;
}

static const char *
str_param(json_t *item, json_t *body, const char *key)
{
	const char *s = json_string_value(json_object_get(item, key));

	if ((!s || !*s) && body && body != item)
		s = json_string_value(json_object_get(body, key));
	return s && *s ? s : NULL;
}

/* The batch_input array (NULL when absent). */
static int
batch_input(struct request *rq, struct response *rs, json_t **ret)
{
	json_t *b = json_object_get(rq->data, "batch_input");

	*ret = NULL;
	if (!b || json_is_null(b))
		return 0;
	if (!json_is_array(b))
		return fail(rs, "invalid batch_input: must be an array of objects");
	if (json_array_size(b) == 0)
		return fail(rs, "missing batch input to process");
	if (json_array_size(b) > TRANSIT_BATCH_MAX)
		return fail(rs, "too many batch items");
	*ret = b;
	return 0;
}

/* Finishes a batch answer. */
static int
batch_answer(struct request *rq, struct response *rs, json_t *results)
{
	int64_t partial = 0;
	int status;
	json_t *data;

	(void)jsonx_int(rq->data, "partial_failure_response_code", &partial);
	if (partial < 0 || partial > 599)
		partial = 0;
	status = transit_batch_status(results, (int)partial);
	data = json_pack("{s:o}", "batch_results", results);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	if (status != 200) {
		rs->status = status;
		rs->envelope_on_error = true;
	}
	return 0;
}

typedef int (*item_fn)(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err);

/* Runs fn for the request body or for every batch item. */
static int
run_items(struct request *rq, struct response *rs, struct tkey *k, item_fn fn)
{
	json_t *batch, *results, *item, *out = NULL;
	char err[ERRLEN];
	size_t i;
	int r;

	r = batch_input(rq, rs, &batch);
	if (r < 0)
		return r;
	if (!batch) {
		err[0] = '\0';
		r = fn(rq, k, rq->data, &out, err);
		if (r < 0)
			return op_fail(rs, r, err);
		response_set_data(rs, out);
		return 0;
	}
	results = json_array();
	if (!results)
		return CF_ENOMEM;
	json_array_foreach(batch, i, item)
	{
		err[0] = '\0';
		out = NULL;
		if (!json_is_object(item)) {
			r = CF_EINVAL;
			snprintf(err, ERRLEN, "invalid batch item: must be an object");
		} else {
			r = fn(rq, k, item, &out, err);
		}
		if (r == CF_ENOMEM) {
			json_decref(results);
			return r;
		}
		if (r < 0)
			out = transit_batch_error(*err ? err : cf_strerror(r), item);
		else if (transit_batch_reference(out, item) < 0) {
			json_decref(out);
			out = NULL;
		}
		if (!out || json_array_append_new(results, out) != 0) {
			json_decref(results);
			return CF_ENOMEM;
		}
	}
	return batch_answer(rq, rs, results);
}

/* ---- keys/ ---- */

static int
key_exists(struct request *rq, bool *ret)
{
	struct tkey *k = NULL;
	int r = transit_key_get(rq->mount, rq->cap[0], &k);

	if (r == CF_ENOTFOUND || r == CF_EIO) {
		*ret = false;
		return 0;
	}
	if (r < 0)
		return r;
	tkey_unref(k);
	*ret = true;
	return 0;
}

/* The parameters of keys/:name (create) and keys/:name/config (Vault's
 * transit API). Not given: the ints stay KEY_UNSET, the booleans as they were. */
#define KEY_UNSET INT64_MIN
struct key_params {
	const char *type;
	bool derived, convergent_encryption, exportable, allow_plaintext_backup, deletion_allowed;
	int64_t auto_rotate_period, min_decryption_version, min_encryption_version;
};

#define KP(m) offsetof(struct key_params, m)
static const struct field key_create_fields[] = {
        {"type", FIELD_STRING, 0, KP(type), .def = "aes256-gcm96",
         .desc = "the key type: aes256-gcm96, chacha20-poly1305, ed25519, ecdsa-p256, rsa-2048 "
                 "..."},
        {"derived", FIELD_BOOL, 0, KP(derived),
         .desc = "derive a key per context (context required on every use)"},
        {"convergent_encryption", FIELD_BOOL, 0, KP(convergent_encryption),
         .desc = "the same plaintext and context give the same ciphertext (needs derived)"},
        {"exportable", FIELD_BOOL, 0, KP(exportable), .desc = "the key may be exported"},
        {"allow_plaintext_backup", FIELD_BOOL, 0, KP(allow_plaintext_backup),
         .desc = "the key may be backed up in plaintext"},
        {"auto_rotate_period", FIELD_DURATION, 0, KP(auto_rotate_period),
         .desc = "0 (off) or at least an hour"},
        {NULL},
};
static const struct field key_config_fields[] = {
        {"min_decryption_version", FIELD_INT, 0, KP(min_decryption_version),
         .desc = "the oldest version that may decrypt"},
        {"min_encryption_version", FIELD_INT, 0, KP(min_encryption_version),
         .desc = "the oldest version that may encrypt; 0: the latest"},
        {"deletion_allowed", FIELD_BOOL, 0, KP(deletion_allowed),
         .desc = "whether the key may be deleted"},
        {"exportable", FIELD_BOOL, 0, KP(exportable), .desc = "cannot be turned off"},
        {"allow_plaintext_backup", FIELD_BOOL, 0, KP(allow_plaintext_backup),
         .desc = "cannot be turned off"},
        {"auto_rotate_period", FIELD_DURATION, 0, KP(auto_rotate_period),
         .desc = "0 (off) or at least an hour"},
        {NULL},
};
#undef KP

/* auto_rotate_period is 0 (off) or at least floor. */
static int
period_check(int64_t period, int64_t floor, struct response *rs)
{
	if (period == KEY_UNSET || period == 0 || period >= floor)
		return 0;
	if (floor == TRANSIT_ROTATE_MIN)
		return fail(rs, "auto rotate period must be 0 to disable or at least an hour");
	(void)response_errorf(rs, "auto rotate period must be 0 to disable or at least %llds",
	                      (long long)floor);
	return CF_EINVAL;
}

/* Creates key name from the body's options (under wmu). *ret_k is the new
 * key; CF_EEXIST when it is there already. */
static int
key_create_locked(struct request *rq, struct response *rs, const char *name, bool upsert_ctx,
                  struct tkey **ret_k)
{
	struct transit_state *st = tstate(rq->mount);
	struct key_params p = {.auto_rotate_period = KEY_UNSET};
	const struct tk_type *t;
	json_t *rec = NULL;
	struct tkey *k = NULL;
	int r;

	r = record_load(rq->mount, name, &rec);
	if (r == 0) {
		json_decref(rec);
		return CF_EEXIST;
	}
	if (r != CF_ENOTFOUND)
		return r;
	r = field_parse(key_create_fields, rq->data, &p, rs);
	if (r < 0)
		return r;
	t = tk_type_find(*p.type ? p.type : "aes256-gcm96");
	if (!t) {
		(void)response_errorf(rs, "unknown key type %s", p.type);
		return CF_EINVAL;
	}
	r = period_check(p.auto_rotate_period, st->rotate_min, rs);
	if (r < 0)
		return r;
	if (p.auto_rotate_period == KEY_UNSET)
		p.auto_rotate_period = 0;
	if (upsert_ctx)
		p.derived = true; /* Vault: an upsert with a context creates a derived key */
	if (p.derived && !t->derive) {
		(void)response_errorf(rs, "key derivation not supported for key type %s", t->name);
		return CF_EINVAL;
	}
	if (p.convergent_encryption && !p.derived)
		return fail(rs, "convergent encryption requires derivation to be enabled, so "
		                "context is required");
	if (p.convergent_encryption && !t->enc)
		return fail(rs, "convergent encryption not supported for keys of this type");
	r = tkey_record_new(t, p.derived, p.convergent_encryption, p.exportable,
	                    p.allow_plaintext_backup, &rec);
	if (r < 0)
		return r;
	if (json_object_set_new(rec, "auto_rotate_period",
	                        json_integer((json_int_t)p.auto_rotate_period)) != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	r = record_store(rq->mount, name, rec);
	if (r < 0)
		goto out;
	r = tkey_parse(name, rec, &k);
	if (r < 0)
		goto out;
	cache_publish(st, name, k);
	sched_set(st, name, p.auto_rotate_period, record_last_rotated(rec));
	*ret_k = k;
out:
	json_decref(rec);
	return r;
}

static int
key_write(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	struct tkey *k = NULL;
	int r;

	r = name_check(rq->cap[0], rs);
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->wmu);
	r = key_create_locked(rq, rs, rq->cap[0], false, &k);
	pthread_mutex_unlock(&st->wmu);
	if (r == CF_EEXIST)
		return 0; /* Vault: creating an existing key changes nothing */
	tkey_unref(k);
	return r;
}

static int
key_read(struct request *rq, struct response *rs)
{
	struct tkey *k = NULL;
	json_t *info;
	int r = transit_key_get(rq->mount, rq->cap[0], &k);

	if (r < 0)
		return r;
	info = tkey_info(k);
	tkey_unref(k);
	if (!info)
		return CF_ENOMEM;
	response_set_data(rs, info);
	return 0;
}

static int
key_delete(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	const char *name = rq->cap[0];
	json_t *rec = NULL;
	char *key = NULL;
	int r;

	pthread_mutex_lock(&st->wmu);
	r = record_load(rq->mount, name, &rec);
	if (r == CF_ENOTFOUND) {
		r = fail(rs, "could not delete key; not found");
		goto out;
	}
	if (r < 0)
		goto out;
	if (!json_is_true(json_object_get(rec, "deletion_allowed"))) {
		r = fail(rs, "deletion is not allowed for this key");
		goto out;
	}
	key = policy_key(name);
	r = key ? view_delete(rq->mount->view, key) : CF_ENOMEM;
	if (r < 0)
		goto out;
	cache_publish(st, name, NULL);
	sched_set(st, name, 0, 0);
out:
	pthread_mutex_unlock(&st->wmu);
	free(key); /* not secret: a storage path */
	json_decref(rec);
	return r;
}

static int
keys_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, TRANSIT_POLICY_PREFIX, 0, rs);
}

/* Commits rec as the new state of name: storage, cache, scheduler. */
static int
key_commit(struct transit_state *st, const char *name, json_t *rec)
{
	struct tkey *k = NULL;
	int r;

	r = tkey_parse(name, rec, &k);
	if (r < 0)
		return r;
	r = record_store(st->m, name, rec);
	if (r == 0) {
		cache_publish(st, name, k);
		sched_set(st, name, json_integer_value(json_object_get(rec, "auto_rotate_period")),
		          record_last_rotated(rec));
	}
	tkey_unref(k);
	return r;
}

static int
transit_rotate_locked(struct transit_state *st, const char *name, bool only_if_due)
{
	json_t *rec = NULL;
	int64_t now = util_now();
	int r;

	r = record_load(st->m, name, &rec);
	if (r < 0)
		return r;
	if (only_if_due) {
		int64_t p = json_integer_value(json_object_get(rec, "auto_rotate_period"));
		if (p <= 0 || record_last_rotated(rec) + p > now) {
			/* changed meanwhile: just reschedule */
			sched_set(st, name, p, record_last_rotated(rec));
			json_decref(rec);
			return 1;
		}
	}
	r = tkey_record_rotate(rec, now);
	if (r == 0)
		r = key_commit(st, name, rec);
	json_decref(rec);
	return r;
}

static int
key_rotate(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	int r;

	pthread_mutex_lock(&st->wmu);
	r = transit_rotate_locked(st, rq->cap[0], false);
	pthread_mutex_unlock(&st->wmu);
	if (r == CF_ENOTFOUND)
		return fail(rs, "key not found");
	if (r == CF_ERANGE)
		return fail(rs, "too many key versions: trim the key first");
	return r;
}

/* The version bounds of keys/:name/config: min_decryption_version (0 means 1)
 * up to the latest version and not below what trimming left,
 * min_encryption_version (0: the latest) not below it. */
static int
config_versions(struct response *rs, json_t *rec, const struct key_params *p)
{
	int64_t latest = json_integer_value(json_object_get(rec, "latest_version"));
	int64_t mind = json_integer_value(json_object_get(rec, "min_decryption_version"));
	int64_t mine = json_integer_value(json_object_get(rec, "min_encryption_version"));
	int64_t v = p->min_decryption_version;

	if (v != KEY_UNSET) {
		if (v < 0)
			return fail(rs, "min decryption version cannot be negative");
		if (v == 0)
			v = 1;
		if (v > latest) {
			(void)response_errorf(rs,
			                      "cannot set min decryption version of %lld, latest "
			                      "key version is %lld",
			                      (long long)v, (long long)latest);
			return CF_EINVAL;
		}
		if (v < json_integer_value(json_object_get(rec, "min_available_version")))
			return fail(rs, "cannot set min decryption version below the min available "
			                "version (the key was trimmed)");
		mind = v;
	}
	v = p->min_encryption_version;
	if (v != KEY_UNSET) {
		if (v < 0)
			return fail(rs, "min encryption version cannot be negative");
		if (v > latest) {
			(void)response_errorf(rs,
			                      "cannot set min encryption version of %lld, latest "
			                      "key version is %lld",
			                      (long long)v, (long long)latest);
			return CF_EINVAL;
		}
		mine = v;
	}
	if (mine > 0 && mine < mind)
		return fail(rs, "min encryption version should not be less than min decryption "
		                "version");
	json_object_set_new(rec, "min_decryption_version", json_integer((json_int_t)mind));
	json_object_set_new(rec, "min_encryption_version", json_integer((json_int_t)mine));
	return 0;
}

/* The switches of keys/:name/config; exportable and allow_plaintext_backup
 * only turn on. */
static int
config_flags(json_t *data, struct response *rs, json_t *rec, const struct key_params *p)
{
	if (field_given(key_config_fields, data, "deletion_allowed"))
		json_object_set_new(rec, "deletion_allowed", json_boolean(p->deletion_allowed));
	if (field_given(key_config_fields, data, "exportable")) {
		if (!p->exportable && json_is_true(json_object_get(rec, "exportable")))
			return fail(rs, "exportable key cannot be made non-exportable");
		json_object_set_new(rec, "exportable", json_boolean(p->exportable));
	}
	if (field_given(key_config_fields, data, "allow_plaintext_backup")) {
		if (!p->allow_plaintext_backup &&
		    json_is_true(json_object_get(rec, "allow_plaintext_backup")))
			return fail(rs, "plaintext backup cannot be disabled once allowed");
		json_object_set_new(rec, "allow_plaintext_backup",
		                    json_boolean(p->allow_plaintext_backup));
	}
	if (p->auto_rotate_period != KEY_UNSET)
		json_object_set_new(rec, "auto_rotate_period",
		                    json_integer((json_int_t)p->auto_rotate_period));
	return 0;
}

static int
key_config(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	struct key_params p = {.min_decryption_version = KEY_UNSET,
	                       .min_encryption_version = KEY_UNSET,
	                       .auto_rotate_period = KEY_UNSET};
	json_t *rec = NULL;
	int r;

	r = field_parse(key_config_fields, rq->data, &p, rs);
	if (r == 0)
		r = period_check(p.auto_rotate_period, st->rotate_min, rs);
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->wmu);
	r = record_load(rq->mount, rq->cap[0], &rec);
	if (r == CF_ENOTFOUND) {
		r = fail(rs, "no such key");
		goto out;
	}
	if (r == 0)
		r = config_versions(rs, rec, &p);
	if (r == 0)
		r = config_flags(rq->data, rs, rec, &p);
	if (r == 0)
		r = key_commit(st, rq->cap[0], rec);
out:
	pthread_mutex_unlock(&st->wmu);
	json_decref(rec);
	return r;
}

static int
key_trim(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	json_t *rec = NULL, *keys;
	int64_t v, mind, mine, avail;
	char num[24];
	int r;

	r = jsonx_int(rq->data, "min_available_version", &v);
	if (r == CF_ENOTFOUND)
		return fail(rs, "missing min_available_version");
	if (r < 0 || v <= 0)
		return fail(rs, "minimum available version should be positive");
	pthread_mutex_lock(&st->wmu);
	r = record_load(rq->mount, rq->cap[0], &rec);
	if (r == CF_ENOTFOUND) {
		r = fail(rs, "invalid key name");
		goto out;
	}
	if (r < 0)
		goto out;
	mind = json_integer_value(json_object_get(rec, "min_decryption_version"));
	mine = json_integer_value(json_object_get(rec, "min_encryption_version"));
	avail = json_integer_value(json_object_get(rec, "min_available_version"));
	if (v > mind) {
		r = fail(rs, "cannot set minimum available version to be greater than minimum "
		             "decryption version");
		goto out;
	}
	if (mine > 0 && v > mine) {
		r = fail(rs, "cannot set minimum available version to be greater than minimum "
		             "encryption version");
		goto out;
	}
	if (v < avail) {
		r = fail(rs, "minimum available version cannot be decremented");
		goto out;
	}
	keys = json_object_get(rec, "keys");
	for (int64_t n = avail > 0 ? avail : 1; n < v; n++) {
		snprintf(num, sizeof(num), "%lld", (long long)n);
		(void)json_object_del(keys, num);
	}
	json_object_set_new(rec, "min_available_version", json_integer((json_int_t)v));
	r = key_commit(st, rq->cap[0], rec);
out:
	pthread_mutex_unlock(&st->wmu);
	json_decref(rec);
	return r;
}

/* ---- encrypt / decrypt / rewrap / datakey ---- */

/* Looks the key up for an operation; missing -> 400 msg. */
static int
op_key_named(struct request *rq, struct response *rs, const char *name, const char *missing,
             struct tkey **ret)
{
	int r = name_check(name, rs);

	if (r < 0)
		return r;
	r = transit_key_get(rq->mount, name, ret);
	if (r == CF_ENOTFOUND)
		return fail(rs, missing);
	return r;
}

static int
op_key(struct request *rq, struct response *rs, const char *missing, struct tkey **ret)
{
	int r = name_check(rq->cap[0], rs);

	if (r < 0)
		return r;
	r = transit_key_get(rq->mount, rq->cap[0], ret);
	if (r == CF_ENOTFOUND)
		return fail(rs, missing);
	return r;
}

/* The named key's operation on the body or on every batch item. */
static int
keyed_items(struct request *rq, struct response *rs, const char *missing, item_fn fn)
{
	struct tkey *k = NULL;
	int r = op_key(rq, rs, missing, &k);

	if (r < 0)
		return r;
	r = run_items(rq, rs, k, fn);
	tkey_unref(k);
	return r;
}

/* An item's answer: {<field>: value, key_version: the version that was used}. */
static int
versioned(json_t **ret, const char *field, const char *value, int64_t used)
{
	*ret = json_pack("{s:s, s:I}", field, value, "key_version", (json_int_t)used);
	return *ret ? 0 : CF_ENOMEM;
}

static int
encrypt_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	uint8_t *pt = NULL, *ctx = NULL, *nonce = NULL;
	size_t ptlen = 0, ctxlen = 0, noncelen = 0;
	int64_t ver = 0, used = 0;
	char *ct = NULL;
	int r;

	if (!json_object_get(item, "plaintext") ||
	    json_is_null(json_object_get(item, "plaintext"))) {
		snprintf(err, ERRLEN, "missing plaintext to encrypt");
		return CF_EINVAL;
	}
	r = b64_field(item, "plaintext", false, &pt, &ptlen, err);
	if (r == 0)
		r = b64_field(item, "context", true, &ctx, &ctxlen, err);
	if (r == 0)
		r = b64_field(item, "nonce", true, &nonce, &noncelen, err);
	if (r == 0)
		r = int_param(item, rq->data, "key_version", 0, &ver, err);
	if (r == 0)
		r = tkey_encrypt(k, ver, ctx, ctxlen, nonce, noncelen, pt, ptlen, &ct, &used, err,
		                 ERRLEN);
	if (r == 0)
		r = versioned(ret, "ciphertext", ct, used);
	free(ct);
	secmem_free(pt, ptlen);
	secmem_free(ctx, ctxlen);
	secmem_free(nonce, noncelen);
	return r;
}

/* True when the body (or a batch item) carries a non-empty context. */
static bool
has_context(json_t *body)
{
	json_t *b = json_object_get(body, "batch_input"), *item;
	const char *c = json_string_value(json_object_get(body, "context"));
	size_t i;

	if (c && *c)
		return true;
	json_array_foreach(b, i, item)
	{
		c = json_string_value(json_object_get(item, "context"));
		if (c && *c)
			return true;
	}
	return false;
}

static int
tr_encrypt(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	struct tkey *k = NULL;
	int r;

	r = name_check(rq->cap[0], rs);
	if (r < 0)
		return r;
	r = transit_key_get(rq->mount, rq->cap[0], &k);
	if (r == CF_ENOTFOUND) {
		/* Vault's upsert: a create-capable caller gets the key made for it. */
		if (rq->op != OP_CREATE)
			return fail(rs, "encryption key not found");
		pthread_mutex_lock(&st->wmu);
		r = key_create_locked(rq, rs, rq->cap[0], has_context(rq->data), &k);
		pthread_mutex_unlock(&st->wmu);
		if (r == CF_EEXIST)
			r = transit_key_get(rq->mount, rq->cap[0], &k);
	}
	if (r < 0)
		return r;
	r = run_items(rq, rs, k, encrypt_item);
	tkey_unref(k);
	return r;
}

static int
decrypt_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	const char *ct = json_string_value(json_object_get(item, "ciphertext"));
	uint8_t *ctx = NULL, *pt = NULL;
	size_t ctxlen = 0, ptlen = 0;
	int64_t ver = 0;
	char *b64 = NULL;
	int r;

	(void)rq;
	if (!ct || !*ct) {
		snprintf(err, ERRLEN, "missing ciphertext to decrypt");
		return CF_EINVAL;
	}
	r = b64_field(item, "context", true, &ctx, &ctxlen, err);
	if (r == 0)
		r = tkey_decrypt(k, ct, ctx, ctxlen, &pt, &ptlen, &ver, err, ERRLEN);
	if (r == 0) {
		b64 = util_b64_encode(pt, ptlen);
		*ret = b64 ? json_pack("{s:s}", "plaintext", b64) : NULL;
		if (!*ret)
			r = CF_ENOMEM;
	}
	secmem_free_str(b64);
	secmem_free(pt, ptlen);
	secmem_free(ctx, ctxlen);
	return r;
}

static int
tr_decrypt(struct request *rq, struct response *rs)
{
	return keyed_items(rq, rs, "encryption key not found", decrypt_item);
}

static int
rewrap_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	const char *ct = json_string_value(json_object_get(item, "ciphertext"));
	uint8_t *ctx = NULL, *pt = NULL;
	size_t ctxlen = 0, ptlen = 0;
	int64_t ver = 0, want = 0, used = 0;
	char *nct = NULL;
	int r;

	if (!ct || !*ct) {
		snprintf(err, ERRLEN, "missing ciphertext to decrypt");
		return CF_EINVAL;
	}
	r = b64_field(item, "context", true, &ctx, &ctxlen, err);
	if (r == 0)
		r = int_param(item, rq->data, "key_version", 0, &want, err);
	if (r == 0)
		r = tkey_decrypt(k, ct, ctx, ctxlen, &pt, &ptlen, &ver, err, ERRLEN);
	if (r == 0)
		r = tkey_encrypt(k, want, ctx, ctxlen, NULL, 0, pt, ptlen, &nct, &used, err,
		                 ERRLEN);
	if (r == 0)
		r = versioned(ret, "ciphertext", nct, used);
	free(nct);
	secmem_free(pt, ptlen);
	secmem_free(ctx, ctxlen);
	return r;
}

static int
tr_rewrap(struct request *rq, struct response *rs)
{
	return keyed_items(rq, rs, "encryption key not found", rewrap_item);
}

/* datakey/:kind/:name: a fresh random key, returned wrapped (and in the clear
 * for kind plaintext). */
static int
tr_datakey(struct request *rq, struct response *rs)
{
	const char *kind = rq->cap[0];
	struct tkey *k = NULL;
	uint8_t *ctx = NULL, *nonce = NULL, dk[64];
	size_t ctxlen = 0, noncelen = 0;
	int64_t bits = 256, used = 0;
	char err[ERRLEN] = "", *ct = NULL, *b64 = NULL;
	json_t *out;
	int r;

	if (strcmp(kind, "plaintext") != 0 && strcmp(kind, "wrapped") != 0)
		return fail(rs, "invalid path: kind must be plaintext or wrapped");
	r = jsonx_int(rq->data, "bits", &bits);
	if (r == CF_EINVAL || (r == 0 && bits != 128 && bits != 256 && bits != 512))
		return fail(rs, "invalid bits given: must be 128, 256 or 512");
	r = op_key_named(rq, rs, rq->cap[1], "encryption key not found", &k);
	if (r < 0)
		return r;
	r = b64_field(rq->data, "context", true, &ctx, &ctxlen, err);
	if (r == 0)
		r = b64_field(rq->data, "nonce", true, &nonce, &noncelen, err);
	if (r < 0) {
		r = op_fail(rs, r, err);
		goto out;
	}
	util_random(dk, (size_t)bits / 8);
	r = tkey_encrypt(k, 0, ctx, ctxlen, nonce, noncelen, dk, (size_t)bits / 8, &ct, &used, err,
	                 sizeof(err));
	if (r < 0) {
		r = op_fail(rs, r, err);
		goto out;
	}
	out = json_pack("{s:s, s:I}", "ciphertext", ct, "key_version", (json_int_t)used);
	if (out && strcmp(kind, "plaintext") == 0) {
		b64 = util_b64_encode(dk, (size_t)bits / 8);
		if (!b64 || json_object_set_new(out, "plaintext", json_string(b64)) != 0) {
			json_decref(out);
			out = NULL;
		}
	}
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, out);
	r = 0;
out:
	secmem_wipe(dk, sizeof(dk));
	secmem_free_str(b64);
	free(ct);
	secmem_free(ctx, ctxlen);
	secmem_free(nonce, noncelen);
	tkey_unref(k);
	return r;
}

/* ---- random / hash ---- */

static bool
all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int
tr_random(struct request *rq, struct response *rs)
{
	const char *fmt = json_string_value(json_object_get(rq->data, "format"));
	int64_t bytes = 32;
	uint8_t *buf;
	char *out;
	int r;

	/* random[/:source][/:bytes]: a numeric segment is the byte count */
	for (int i = 0; i < rq->ncap; i++) {
		if (all_digits(rq->cap[i])) {
			if (util_parse_int(rq->cap[i], &bytes) < 0)
				return fail(rs, "invalid bytes");
		} else if (strcmp(rq->cap[i], "platform") != 0 && strcmp(rq->cap[i], "seal") != 0 &&
		           strcmp(rq->cap[i], "all") != 0) {
			return fail(rs, "unsupported entropy source");
		}
	}
	r = jsonx_int(rq->data, "bytes", &bytes);
	if (r == CF_EINVAL)
		return fail(rs, "invalid bytes");
	if (bytes < 1 || bytes > TRANSIT_RANDOM_MAX)
		return fail(rs, "the number of bytes requested must be between 1 and 131072");
	if (fmt && *fmt && strcmp(fmt, "base64") != 0 && strcmp(fmt, "hex") != 0)
		return fail(rs, "unsupported encoding format; must be \"hex\" or \"base64\"");
	buf = malloc((size_t)bytes);
	if (!buf)
		return CF_ENOMEM;
	util_random(buf, (size_t)bytes);
	if (fmt && strcmp(fmt, "hex") == 0) {
		out = malloc((size_t)bytes * 2 + 1);
		if (out)
			util_hex(buf, (size_t)bytes, out);
	} else {
		out = util_b64_encode(buf, (size_t)bytes);
	}
	secmem_free(buf, (size_t)bytes);
	if (!out)
		return CF_ENOMEM;
	response_set_data(rs, json_pack("{s:s}", "random_bytes", out));
	secmem_free_str(out);
	return rs->data ? 0 : CF_ENOMEM;
}

static int
tr_hash(struct request *rq, struct response *rs)
{
	const char *alg = rq->ncap > 0 ? rq->cap[0] : NULL;
	const char *fmt = json_string_value(json_object_get(rq->data, "format"));
	uint8_t *in = NULL, dig[64];
	size_t inlen = 0, dlen = 0;
	char err[ERRLEN] = "", *out = NULL;
	int r;

	if (!alg)
		alg = json_string_value(json_object_get(rq->data, "algorithm"));
	if (!alg || !*alg)
		alg = "sha2-256";
	if (fmt && *fmt && strcmp(fmt, "hex") != 0 && strcmp(fmt, "base64") != 0)
		return fail(rs, "unsupported encoding format; must be \"hex\" or \"base64\"");
	if (!json_is_string(json_object_get(rq->data, "input")))
		return fail(rs, "missing input to hash");
	r = b64_field(rq->data, "input", false, &in, &inlen, err);
	if (r < 0)
		return op_fail(rs, r, err);
	r = transit_hash(alg, in, inlen, dig, &dlen);
	free(in);
	if (r == CF_EINVAL) {
		(void)response_errorf(rs, "unsupported hash algorithm %s", alg);
		return r;
	}
	if (r < 0)
		return r;
	if (fmt && strcmp(fmt, "base64") == 0) {
		out = util_b64_encode(dig, dlen);
	} else {
		out = malloc(dlen * 2 + 1);
		if (out)
			util_hex(dig, dlen, out);
	}
	if (!out)
		return CF_ENOMEM;
	response_set_data(rs, json_pack("{s:s}", "sum", out));
	free(out);
	return rs->data ? 0 : CF_ENOMEM;
}

/* ---- hmac / sign / verify ---- */

/* The algorithm of hmac/sign/verify: from the URL, else the body. */
static const char *
url_alg(struct request *rq, const char *field)
{
	const char *a = rq->ncap > 1 ? rq->cap[1] : NULL;

	if (!a || !*a)
		a = json_string_value(json_object_get(rq->data, field));
	if ((!a || !*a) && strcmp(field, "hash_algorithm") == 0)
		a = json_string_value(json_object_get(rq->data, "algorithm"));
	return a && *a ? a : NULL;
}

static int
input_field(json_t *item, uint8_t **ret, size_t *ret_len, char *err)
{
	if (!json_is_string(json_object_get(item, "input"))) {
		snprintf(err, ERRLEN, "missing input");
		return CF_EINVAL;
	}
	return b64_field(item, "input", false, ret, ret_len, err);
}

static int
hmac_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	const char *alg = url_alg(rq, "algorithm");
	uint8_t *in = NULL;
	size_t inlen = 0;
	int64_t ver = 0, used = 0;
	char *mac = NULL;
	int r;

	r = input_field(item, &in, &inlen, err);
	if (r == 0)
		r = int_param(item, rq->data, "key_version", 0, &ver, err);
	if (r == 0)
		r = tkey_hmac(k, ver, alg, in, inlen, &mac, &used, err, ERRLEN);
	if (r == 0)
		r = versioned(ret, "hmac", mac, used);
	free(mac);
	secmem_free(in, inlen);
	return r;
}

static int
tr_hmac(struct request *rq, struct response *rs)
{
	return keyed_items(rq, rs, "encryption key not found", hmac_item);
}

static int
sign_opts(struct request *rq, json_t *item, struct tk_sign_opts *o, uint8_t **ctx, size_t *ctxlen,
          char *err)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->hash = url_alg(rq, "hash_algorithm");
	o->sig_alg = str_param(item, rq->data, "signature_algorithm");
	o->marshal = str_param(item, rq->data, "marshaling_algorithm");
	r = jsonx_bool(item, "prehashed", &o->prehashed);
	if (r == CF_ENOTFOUND && item != rq->data)
		r = jsonx_bool(rq->data, "prehashed", &o->prehashed);
	if (r == CF_EINVAL) {
		snprintf(err, ERRLEN, "invalid prehashed: must be a boolean");
		return r;
	}
	r = b64_field(item, "context", true, ctx, ctxlen, err);
	if (r == 0 && !*ctx && item != rq->data)
		r = b64_field(rq->data, "context", true, ctx, ctxlen, err);
	if (r < 0)
		return r;
	o->ctx = *ctx;
	o->ctxlen = *ctxlen;
	return 0;
}

static int
sign_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	struct tk_sign_opts o;
	uint8_t *in = NULL, *ctx = NULL;
	size_t inlen = 0, ctxlen = 0;
	int64_t ver = 0, used = 0;
	char *sig = NULL;
	int r;

	r = input_field(item, &in, &inlen, err);
	if (r == 0)
		r = sign_opts(rq, item, &o, &ctx, &ctxlen, err);
	if (r == 0)
		r = int_param(item, rq->data, "key_version", 0, &ver, err);
	if (r == 0)
		r = tkey_sign(k, ver, &o, in, inlen, &sig, &used, err, ERRLEN);
	if (r == 0)
		r = versioned(ret, "signature", sig, used);
	free(sig);
	secmem_free(in, inlen);
	secmem_free(ctx, ctxlen);
	return r;
}

static int
tr_sign(struct request *rq, struct response *rs)
{
	return keyed_items(rq, rs, "signing key not found", sign_item);
}

static int
verify_item(struct request *rq, struct tkey *k, json_t *item, json_t **ret, char *err)
{
	const char *sig = json_string_value(json_object_get(item, "signature"));
	const char *mac = json_string_value(json_object_get(item, "hmac"));
	struct tk_sign_opts o;
	uint8_t *in = NULL, *ctx = NULL;
	size_t inlen = 0, ctxlen = 0;
	bool valid = false;
	int r;

	if ((!sig || !*sig) == (!mac || !*mac)) {
		snprintf(err, ERRLEN, "provide one of 'signature' or 'hmac'");
		return CF_EINVAL;
	}
	r = input_field(item, &in, &inlen, err);
	if (r == 0 && sig && *sig) {
		r = sign_opts(rq, item, &o, &ctx, &ctxlen, err);
		if (r == 0)
			r = tkey_verify(k, &o, in, inlen, sig, &valid, err, ERRLEN);
	} else if (r == 0) {
		r = tkey_hmac_verify(k,
		                     url_alg(rq, "algorithm") ? url_alg(rq, "algorithm")
		                                              : url_alg(rq, "hash_algorithm"),
		                     in, inlen, mac, &valid, err, ERRLEN);
	}
	if (r == 0) {
		*ret = json_pack("{s:b}", "valid", valid);
		if (!*ret)
			r = CF_ENOMEM;
	}
	secmem_free(in, inlen);
	secmem_free(ctx, ctxlen);
	return r;
}

static int
tr_verify(struct request *rq, struct response *rs)
{
	return keyed_items(rq, rs, "signature verification key not found", verify_item);
}

/* ---- export / backup / restore ---- */

static int
tr_export(struct request *rq, struct response *rs)
{
	const char *what = rq->cap[0], *name = rq->cap[1];
	const char *vs = rq->ncap > 2 ? rq->cap[2] : NULL;
	struct tkey *k = NULL;
	char err[ERRLEN] = "", num[24];
	json_t *keys = NULL;
	int64_t want = 0;
	int r;

	if (strcmp(what, "encryption-key") != 0 && strcmp(what, "signing-key") != 0 &&
	    strcmp(what, "hmac-key") != 0)
		return fail(rs, "invalid export type");
	if (vs && strcmp(vs, "latest") != 0 && (util_parse_int(vs, &want) < 0 || want <= 0))
		return fail(rs, "invalid version");
	r = transit_key_get(rq->mount, name, &k);
	if (r < 0)
		return r;
	if (!k->exportable) {
		r = fail(rs, "private key material is not exportable");
		goto out;
	}
	if (vs && strcmp(vs, "latest") == 0)
		want = k->latest;
	keys = json_object();
	if (!keys) {
		r = CF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < k->nver; i++) {
		const struct tk_version *v = &k->ver[i];
		char *mat = NULL;
		if (want && v->version != want)
			continue;
		r = tkey_export(k, v, what, &mat, err, sizeof(err));
		if (r < 0) {
			r = op_fail(rs, r, err);
			goto out;
		}
		snprintf(num, sizeof(num), "%lld", (long long)v->version);
		r = json_object_set_new(keys, num, json_string(mat)) == 0 ? 0 : CF_ENOMEM;
		secmem_free_str(mat);
		if (r < 0)
			goto out;
	}
	if (json_object_size(keys) == 0) {
		r = fail(rs, "version not found");
		goto out;
	}
	response_set_data(rs, json_pack("{s:s, s:s, s:O}", "name", name, "type", k->type->name,
	                                "keys", keys));
	r = rs->data ? 0 : CF_ENOMEM;
out:
	json_decref(keys);
	tkey_unref(k);
	return r;
}

static int
tr_backup(struct request *rq, struct response *rs)
{
	json_t *rec = NULL, *wrap = NULL;
	char *text = NULL, *b64 = NULL;
	int r;

	r = record_load(rq->mount, rq->cap[0], &rec);
	if (r < 0)
		return r;
	if (!json_is_true(json_object_get(rec, "exportable")) ||
	    !json_is_true(json_object_get(rec, "allow_plaintext_backup"))) {
		r = fail(rs, "plaintext backup is disallowed on the policy (needs exportable and "
		             "allow_plaintext_backup)");
		goto out;
	}
	wrap = json_pack("{s:s, s:O}", "name", rq->cap[0], "policy", rec);
	text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
	b64 = text ? util_b64_encode(text, strlen(text)) : NULL;
	if (!b64) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, json_pack("{s:s}", "backup", b64));
	r = rs->data ? 0 : CF_ENOMEM;
out:
	secmem_free_str(text);
	secmem_free_str(b64);
	json_decref(wrap);
	json_decref(rec);
	return r;
}

static int
tr_restore(struct request *rq, struct response *rs)
{
	struct transit_state *st = tstate(rq->mount);
	const char *b64 = json_string_value(json_object_get(rq->data, "backup"));
	const char *name = rq->ncap > 0 ? rq->cap[0] : NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_t *wrap = NULL, *rec, *old = NULL;
	struct tkey *k = NULL;
	bool force = false;
	int r;

	if (!b64 || !*b64)
		return fail(rs, "'backup' must be supplied");
	(void)jsonx_bool(rq->data, "force", &force);
	if (util_b64_decode(b64, &raw, &rawlen) < 0)
		return fail(rs, "failed to base64-decode backup");
	wrap = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
	secmem_free(raw, rawlen);
	rec = json_object_get(wrap, "policy");
	if (!name)
		name = json_string_value(json_object_get(wrap, "name"));
	if (!json_is_object(rec) || !name) {
		json_decref(wrap);
		return fail(rs, "invalid backup");
	}
	r = name_check(name, rs);
	if (r == 0)
		r = tkey_parse(name, rec, &k); /* validates the whole record */
	tkey_unref(k);
	if (r == CF_EIO)
		r = fail(rs, "invalid backup: damaged key record");
	if (r < 0) {
		json_decref(wrap);
		return r;
	}
	pthread_mutex_lock(&st->wmu);
	r = record_load(rq->mount, name, &old);
	json_decref(old);
	if (r == 0 && !force) {
		r = fail(rs, "key already exists");
	} else if (r == 0 || r == CF_ENOTFOUND) {
		r = key_commit(st, name, rec);
	}
	pthread_mutex_unlock(&st->wmu);
	json_decref(wrap);
	return r;
}

/* ---- routes ---- */

static const struct route transit_routes[] = {
        {"keys", .list = keys_list},
        {"keys/", .list = keys_list},
        {"keys/+", .read = key_read, .write = key_write, .delete = key_delete, .exists = key_exists,
         .fields = key_create_fields},
        {"keys/+/config", .write = key_config, .fields = key_config_fields},
        {"keys/+/rotate", .write = key_rotate},
        {"keys/+/trim", .write = key_trim},
        {"keys/+/rewrap-kv", .write = transit_rewrap_kv},
        {"export/+/+", .read = tr_export},
        {"export/+/+/+", .read = tr_export},
        {"encrypt/+", .write = tr_encrypt, .exists = key_exists},
        {"decrypt/+", .write = tr_decrypt},
        {"rewrap/+", .write = tr_rewrap},
        {"datakey/+/+", .write = tr_datakey},
        {"random", .write = tr_random},
        {"random/+", .write = tr_random},
        {"random/+/+", .write = tr_random},
        {"hash", .write = tr_hash},
        {"hash/+", .write = tr_hash},
        {"hmac/+", .write = tr_hmac},
        {"hmac/+/+", .write = tr_hmac},
        {"sign/+", .write = tr_sign},
        {"sign/+/+", .write = tr_sign},
        {"verify/+", .write = tr_verify},
        {"verify/+/+", .write = tr_verify},
        {"backup/+", .read = tr_backup},
        {"restore", .write = tr_restore},
        {"restore/+", .write = tr_restore},
};

const struct backend_type transit_backend = {
        .type = "transit",
        .routes = transit_routes,
        .nroutes = sizeof(transit_routes) / sizeof(transit_routes[0]),
        .init = transit_init,
        .cleanup = transit_cleanup,
};
