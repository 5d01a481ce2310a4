/* sealing.c - the sealing key table, its storage and the generator thread
 * (docs/internals/sealing.md).
 *
 * Storage (view sys/sealing/, through the barrier):
 *   config      {"renew_period": seconds, "key_bits": n, "common_name": s}
 *   keys/<id>   {"state", "source", "created", "certificate" (PEM),
 *                "private_key" (PEM PKCS#1, SECRET)}
 * A change of the active key rewrites the new and the old record in one
 * transaction, so storage never holds two active keys.
 *
 * The generator thread lives from the first start to sealing_free. It sleeps
 * on cv until a key is asked for (a first key, a request waiting for one) or
 * the active key's renewal is due, generates without any lock, then takes the
 * core lock for reading to store the key. A seal in between (stop: epoch + 1)
 * makes it drop the key instead. sys/sealing/rotate and a compromise of the
 * active key generate in the request's own thread, under the core lock for
 * reading only: other requests go on. */
#include "sealing/sealing_int.h"

#include "backend/view.h"
#include "core/core.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[] = {"active", "retired", "compromised"};
static const char *const source_names[] = {"generated", "imported"};

const char *
sealing_state_name(enum skey_state st)
{
	return state_names[st];
}

static int
parse_name(const char *const *names, size_t n, const char *s, int *ret)
{
	for (size_t i = 0; s && i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			*ret = (int)i;
			return 0;
		}
	}
	return CF_EINVAL;
}

static void
default_config(struct sealing_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->renew_period = SEALING_DEFAULT_RENEW_S;
	cfg->key_bits = KSEAL_DEFAULT_BITS;
}

int
sealing_new(struct core *c, struct sealing **ret)
{
	struct sealing *s = calloc(1, sizeof(*s));
	const char *e;
	int64_t v;

	if (!s)
		return CF_ENOMEM;
	s->c = c;
	s->view = view_new(core_barrier(c), "sys/sealing/");
	if (!s->view) {
		free(s);
		return CF_ENOMEM;
	}
	pthread_mutex_init(&s->chg, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_rwlock_init(&s->rw, NULL);
	default_config(&s->cfg);
	s->wait_ms = SEALING_WAIT_MS;
	s->on_demand = true;
	/* Test hook: how long a request waits for the first key. */
	e = util_test_hook("COFFER_SEALING_TEST_WAIT_MS");
	if (e && util_parse_int(e, &v) == 0 && v >= 0)
		s->wait_ms = v;
	*ret = s;
	return 0;
}

void
sealing_set_first_key_on_demand(struct sealing *s, bool on)
{
	pthread_mutex_lock(&s->mu);
	s->on_demand = on;
	pthread_mutex_unlock(&s->mu);
}

static void
skey_clear(struct skey *k)
{
	kseal_key_free(k->k);
	free(k->cert_pem);
	memset(k, 0, sizeof(*k));
}

/* Drops the table. Caller holds rw for writing (or is alone). */
static void
keys_clear(struct sealing *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		skey_clear(&s->keys[i]);
	free(s->keys); /* not secret: pointers; the keys were freed above */
	s->keys = NULL;
	s->nkeys = 0;
}

static int
skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;

	if (x->state != y->state)
		return x->state < y->state ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void
keys_sort(struct sealing *s)
{
	qsort(s->keys, s->nkeys, sizeof(s->keys[0]), skey_cmp);
}

void
sealing_rdlock(struct sealing *s)
{
	pthread_rwlock_rdlock(&s->rw);
}

void
sealing_unlock(struct sealing *s)
{
	pthread_rwlock_unlock(&s->rw);
}

ssize_t
sealing_find(struct sealing *s, const char *id)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* RFC 3339 in whole seconds, UTC. */
static void
rfc3339_s(int64_t t, char out[32])
{
	time_t sec = (time_t)t;
	struct tm tm;

	gmtime_r(&sec, &tm);
	if (strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

json_t *
sealing_key_info(const struct skey *k)
{
	char nb[32], na[32], cr[32];

	rfc3339_s((int64_t)kseal_key_not_before(k->k), nb);
	rfc3339_s((int64_t)kseal_key_not_after(k->k), na);
	rfc3339_s(k->created, cr);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "state", state_names[k->state], "bits",
	                 (json_int_t)kseal_key_bits(k->k), "not_before", nb, "not_after", na,
	                 "created", cr, "source", source_names[k->source]);
}

/* ---- loading ---- */

/* Fills k from a stored record (the PEM strings stay in rec, whose memory the
 * JSON allocator wipes when it is freed). Returns 0, CF_EIO (a malformed
 * record), CF_ENOMEM. */
static int
skey_from_record(const char *name, json_t *rec, struct skey *ret)
{
	const char *cert = json_string_value(json_object_get(rec, "certificate"));
	const char *priv = json_string_value(json_object_get(rec, "private_key"));
	json_t *created = json_object_get(rec, "created");
	struct skey k = {0};
	char err[256];
	int st, src, r;

	if (!cert || !priv || !json_is_integer(created) ||
	    parse_name(state_names, 3, json_string_value(json_object_get(rec, "state")), &st) < 0 ||
	    parse_name(source_names, 2, json_string_value(json_object_get(rec, "source")), &src) <
	            0)
		return CF_EIO;
	r = kseal_key_load(priv, strlen(priv), cert, strlen(cert), &k.k, err, sizeof(err));
	if (r < 0)
		return r == CF_ENOMEM ? r : CF_EIO;
	kseal_key_id(k.k, k.id);
	if (strcmp(k.id, name) != 0) {
		kseal_key_free(k.k);
		return CF_EIO;
	}
	r = kseal_key_pem(k.k, &k.cert_pem, NULL);
	if (r < 0) {
		kseal_key_free(k.k);
		return r;
	}
	k.state = (enum skey_state)st;
	k.source = (enum skey_source)src;
	k.created = json_integer_value(created);
	*ret = k;
	return 0;
}

static int
load_config(struct sealing *s, struct sealing_config *ret)
{
	json_t *rec = NULL, *v;
	const char *cn;
	int r;

	default_config(ret);
	r = view_get_object(s->view, "config", &rec);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	v = json_object_get(rec, "renew_period");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		ret->renew_period = json_integer_value(v);
	v = json_object_get(rec, "key_bits");
	if (json_is_integer(v) && json_integer_value(v) >= KSEAL_MIN_BITS &&
	    json_integer_value(v) <= KSEAL_MAX_BITS)
		ret->key_bits = (unsigned)json_integer_value(v);
	cn = json_string_value(json_object_get(rec, "common_name"));
	if (cn && strlen(cn) <= SEALING_CN_MAX)
		snprintf(ret->common_name, sizeof(ret->common_name), "%s", cn);
	json_decref(rec);
	return 0;
}

/* Reads every stored key into a new table (*ret, *ret_n; sorted, at most
 * one active). A record that does not load is logged and skipped. */
static int
load_keys(struct sealing *s, struct skey **ret, size_t *ret_n)
{
	char **names = NULL, key[64];
	struct skey *keys = NULL;
	size_t n = 0, nk = 0;
	int r;

	r = view_list(s->view, "keys/", &names, &n);
	if (r == CF_ENOTFOUND)
		r = 0, n = 0;
	if (r < 0)
		return r;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		storage_keys_free(names, n);
		return CF_ENOMEM;
	}
	for (size_t i = 0; i < n && nk < SEALING_MAX_KEYS; i++) {
		json_t *rec = NULL;
		if (strlen(names[i]) != KSEAL_ID_LEN)
			continue;
		snprintf(key, sizeof(key), "keys/%s", names[i]);
		r = view_get_object(s->view, key, &rec);
		if (r == 0)
			r = skey_from_record(names[i], rec, &keys[nk]);
		json_decref(rec);
		if (r == CF_ENOMEM)
			break;
		if (r < 0) {
			log_error("sealing: key %s could not be loaded: %s", names[i],
			          cf_strerror(r));
			continue;
		}
		nk++;
	}
	storage_keys_free(names, n);
	if (r == CF_ENOMEM) {
		for (size_t i = 0; i < nk; i++)
			skey_clear(&keys[i]);
		free(keys); /* not secret: pointers; the keys were freed above */
		return r;
	}
	qsort(keys, nk, sizeof(keys[0]), skey_cmp);
	/* Defended: storage holds one active key; if it ever held more, the
	 * newest seals and the others only unseal. */
	for (size_t i = 1; i < nk && keys[i].state == SKEY_ACTIVE; i++)
		keys[i].state = SKEY_RETIRED;
	qsort(keys, nk, sizeof(keys[0]), skey_cmp);
	*ret = keys;
	*ret_n = nk;
	return 0;
}

/* ---- the generator thread ---- */

static void *generator(void *arg);

/* Caller holds mu. */
static void
ensure_thread_locked(struct sealing *s)
{
	if (s->thread_started)
		return;
	if (pthread_create(&s->thread, NULL, generator, s) != 0) {
		log_error("sealing: the key generator thread could not start");
		return;
	}
	s->thread_started = true;
}

static bool
has_active_locked(struct sealing *s)
{
	bool a;

	pthread_rwlock_rdlock(&s->rw);
	a = s->nkeys > 0 && s->keys[0].state == SKEY_ACTIVE;
	pthread_rwlock_unlock(&s->rw);
	return a;
}

/* When the generator should next make a key (unix seconds; 0: nothing
 * planned). Caller holds mu. */
static int64_t
next_due_locked(struct sealing *s)
{
	int64_t due = 0;

	if (!s->running)
		return 0;
	if (s->want)
		return 1;
	pthread_rwlock_rdlock(&s->rw);
	if (s->nkeys > 0 && s->keys[0].state == SKEY_ACTIVE) {
		if (s->cfg.renew_period > 0)
			due = s->keys[0].created + s->cfg.renew_period;
	} else if (!s->on_demand) {
		due = 1; /* no active key: make one (retry_at spaces out failures) */
	}
	pthread_rwlock_unlock(&s->rw);
	if (due > 0 && due < s->retry_at)
		due = s->retry_at;
	return due;
}

static bool
current(struct sealing *s, uint64_t epoch)
{
	bool ok;

	pthread_mutex_lock(&s->mu);
	ok = s->running && !s->quit && s->epoch == epoch;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static int add_key(struct sealing *s, struct kseal_key *k, enum skey_source src, bool active,
                   char ret_id[KSEAL_ID_LEN + 1]);

/* Stores a key the generator made, under the core lock for reading, unless
 * the core sealed since (the epoch moved on). Takes k over. */
static int
install_generated(struct sealing *s, struct kseal_key *k, uint64_t epoch, char id[])
{
	int r;

	for (;;) {
		if (!current(s, epoch)) {
			kseal_key_free(k);
			return CF_ESEALED;
		}
		/* Timed, so that a seal waiting for the lock is not held up: it
		 * moves the epoch on, and the key is dropped. */
		if (core_lock_shared(s->c, 100))
			break;
	}
	if (current(s, epoch))
		r = add_key(s, k, SKEY_GENERATED, true, id);
	else {
		kseal_key_free(k);
		r = CF_ESEALED;
	}
	core_unlock_shared(s->c);
	return r;
}

static void
wait_until_locked(struct sealing *s, int64_t due)
{
	struct timespec ts = {.tv_sec = (time_t)due};

	if (due <= 0)
		pthread_cond_wait(&s->cv, &s->mu);
	else
		(void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void *
generator(void *arg)
{
	struct sealing *s = arg;
	struct sealing_config cfg;
	struct kseal_key *k;
	char id[KSEAL_ID_LEN + 1];
	uint64_t epoch;
	bool renewal;
	int64_t due;
	int r;

	pthread_mutex_lock(&s->mu);
	while (!s->quit) {
		due = next_due_locked(s);
		if (due == 0 || due > util_now()) {
			wait_until_locked(s, due);
			continue;
		}
		renewal = !s->want && has_active_locked(s);
		epoch = s->epoch;
		cfg = s->cfg;
		s->want = false;
		s->generating = true;
		atomic_store(&s->cancel, false);
		pthread_mutex_unlock(&s->mu);

		r = kseal_key_generate_cancel(cfg.key_bits, cfg.common_name, SEALING_CERT_TTL_S,
		                              &s->cancel, &k);
		if (r == CF_EIO && atomic_load(&s->cancel))
			r = CF_ESEALED; /* stopped: a seal or a shutdown does not wait for it */
		if (r == 0)
			r = install_generated(s, k, epoch, id);
		if (r == 0)
			log_info("sealing: new active key %s (%s, %u bits)", id,
			         renewal ? "renewal" : "first key", cfg.key_bits);
		else if (r != CF_ESEALED)
			log_error("sealing: a new key could not be made: %s", cf_strerror(r));

		pthread_mutex_lock(&s->mu);
		s->generating = false;
		if (r < 0 && r != CF_ESEALED)
			s->retry_at = util_now() + SEALING_RETRY_S;
		else
			s->retry_at = 0;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int
sealing_rdlock_active(struct sealing *s, char *err, size_t errlen)
{
	int64_t deadline = util_now_ns() + s->wait_ms * 1000000LL;
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000LL),
	                      .tv_nsec = (long)(deadline % 1000000000LL)};
	int r = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		pthread_rwlock_rdlock(&s->rw);
		if (s->nkeys > 0 && s->keys[0].state == SKEY_ACTIVE)
			break; /* returns holding rw */
		pthread_rwlock_unlock(&s->rw);
		if (!s->running) {
			snprintf(err, errlen, "the server is sealing");
			r = CF_ESEALED;
			break;
		}
		if (!s->generating) {
			s->want = true;
			ensure_thread_locked(s);
			pthread_cond_broadcast(&s->cv);
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) {
			if (has_active_locked(s))
				continue;
			snprintf(err, errlen, "the sealing key is being generated, retry");
			r = CF_ESEALED;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* ---- start / stop ---- */

int
sealing_start(struct sealing *s)
{
	struct sealing_config cfg;
	struct skey *keys = NULL;
	size_t n = 0;
	int r;

	r = load_config(s, &cfg);
	if (r < 0)
		return r;
	r = load_keys(s, &keys, &n);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&s->rw);
	keys_clear(s);
	s->keys = keys;
	s->nkeys = n;
	pthread_rwlock_unlock(&s->rw);

	pthread_mutex_lock(&s->mu);
	s->cfg = cfg;
	s->running = true;
	s->retry_at = 0;
	if (!s->on_demand && !has_active_locked(s))
		s->want = true;
	ensure_thread_locked(s);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void
sealing_stop(struct sealing *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->running = false;
	s->want = false;
	s->epoch++;
	atomic_store(&s->cancel, true);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_rwlock_wrlock(&s->rw);
	keys_clear(s);
	pthread_rwlock_unlock(&s->rw);
}

void
sealing_free(struct sealing *s)
{
	if (!s)
		return;
	sealing_stop(s);
	pthread_mutex_lock(&s->mu);
	s->quit = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	view_free(s->view);
	pthread_rwlock_destroy(&s->rw);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->chg);
	free(s);
}

/* ---- config ---- */

void
sealing_config_get(struct sealing *s, struct sealing_config *ret)
{
	pthread_mutex_lock(&s->mu);
	*ret = s->cfg;
	pthread_mutex_unlock(&s->mu);
}

int
sealing_config_set(struct sealing *s, const struct sealing_config *cfg)
{
	json_t *rec =
	        json_pack("{s:I, s:I, s:s}", "renew_period", (json_int_t)cfg->renew_period,
	                  "key_bits", (json_int_t)cfg->key_bits, "common_name", cfg->common_name);
	int r;

	if (!rec)
		return CF_ENOMEM;
	pthread_mutex_lock(&s->chg);
	r = view_put_json(s->view, "config", rec);
	if (r == 0) {
		pthread_mutex_lock(&s->mu);
		s->cfg = *cfg;
		s->retry_at = 0;
		pthread_cond_broadcast(&s->cv); /* re-arms the renewal timer */
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&s->chg);
	json_decref(rec);
	return r;
}

/* ---- changes ---- */

/* The stored record of a key. NULL on ENOMEM. The private key's PEM is copied
 * into the record and wiped. */
static json_t *
new_record(struct kseal_key *k, enum skey_source src, enum skey_state st, int64_t created)
{
	char *cert = NULL, *priv = NULL;
	json_t *rec = NULL;

	if (kseal_key_pem(k, &cert, &priv) == 0)
		rec = json_pack("{s:s, s:s, s:I, s:s, s:s}", "state", state_names[st], "source",
		                source_names[src], "created", (json_int_t)util_now(), "certificate",
		                cert, "private_key", priv);
	if (rec)
		json_object_set_new(rec, "created", json_integer((json_int_t)created));
	free(cert);
	secmem_free_str(priv);
	return rec;
}

/* The stored record of key id with its state changed (a new reference in
 * *ret). */
static int
restate_record(struct sealing *s, const char *id, enum skey_state st, json_t **ret)
{
	char key[64];
	json_t *rec = NULL;
	int r;

	snprintf(key, sizeof(key), "keys/%s", id);
	r = view_get_object(s->view, key, &rec);
	if (r < 0)
		return r;
	if (json_object_set_new(rec, "state", json_string(state_names[st])) < 0) {
		json_decref(rec);
		return CF_ENOMEM;
	}
	*ret = rec;
	return 0;
}

/* Writes up to two records in one transaction. Their JSON text holds a
 * private key: it is wiped. */
static int
store_records(struct sealing *s, const char *id1, json_t *rec1, const char *id2, json_t *rec2)
{
	struct storage_op ops[2];
	char k1[64], k2[64], *t1 = NULL, *t2 = NULL;
	size_t n = 0;
	int r = CF_ENOMEM;

	snprintf(k1, sizeof(k1), "keys/%s", id1);
	t1 = json_dumps(rec1, JSON_COMPACT);
	if (!t1)
		goto out;
	ops[n++] = (struct storage_op){STORAGE_PUT, k1, (const uint8_t *)t1, strlen(t1)};
	if (rec2) {
		snprintf(k2, sizeof(k2), "keys/%s", id2);
		t2 = json_dumps(rec2, JSON_COMPACT);
		if (!t2)
			goto out;
		ops[n++] = (struct storage_op){STORAGE_PUT, k2, (const uint8_t *)t2, strlen(t2)};
	}
	r = view_txn(s->view, ops, n);
out:
	secmem_free_str(t1);
	secmem_free_str(t2);
	return r;
}

/* Adds k (taken over in every case) to storage and the table; when active,
 * it becomes the active key and the active one turns retired. Caller holds
 * the core lock for reading. */
static int
add_key(struct sealing *s, struct kseal_key *k, enum skey_source src, bool active,
        char ret_id[KSEAL_ID_LEN + 1])
{
	struct skey nk = {.k = k, .source = src, .created = util_now()};
	json_t *rec = NULL, *old = NULL;
	char old_id[KSEAL_ID_LEN + 1] = "";
	struct skey *grown;
	int r;

	kseal_key_id(k, nk.id);
	nk.state = active ? SKEY_ACTIVE : SKEY_RETIRED;
	pthread_mutex_lock(&s->chg);
	pthread_rwlock_rdlock(&s->rw);
	r = sealing_find(s, nk.id) >= 0 ? CF_EEXIST : s->nkeys >= SEALING_MAX_KEYS ? CF_ERANGE : 0;
	if (r == 0 && active && s->nkeys > 0 && s->keys[0].state == SKEY_ACTIVE)
		memcpy(old_id, s->keys[0].id, sizeof(old_id));
	pthread_rwlock_unlock(&s->rw);
	if (r < 0)
		goto out;
	r = kseal_key_pem(k, &nk.cert_pem, NULL);
	if (r < 0)
		goto out;
	rec = new_record(k, src, nk.state, nk.created);
	if (!rec) {
		r = CF_ENOMEM;
		goto out;
	}
	if (old_id[0]) {
		r = restate_record(s, old_id, SKEY_RETIRED, &old);
		if (r < 0)
			goto out;
	}
	r = store_records(s, nk.id, rec, old_id, old);
	if (r < 0)
		goto out;
	pthread_rwlock_wrlock(&s->rw);
	grown = realloc(s->keys, (s->nkeys + 1) * sizeof(*s->keys)); /* not secret: pointers */
	if (!grown) {
		/* Stored, but not in memory: the next unseal loads it. */
		pthread_rwlock_unlock(&s->rw);
		r = CF_ENOMEM;
		goto out;
	}
	s->keys = grown;
	if (old_id[0])
		s->keys[0].state = SKEY_RETIRED;
	s->keys[s->nkeys++] = nk;
	keys_sort(s);
	pthread_rwlock_unlock(&s->rw);
	memcpy(ret_id, nk.id, KSEAL_ID_LEN + 1);
	nk.k = NULL;
	nk.cert_pem = NULL;
out:
	pthread_mutex_unlock(&s->chg);
	if (r == 0) {
		pthread_mutex_lock(&s->mu);
		pthread_cond_broadcast(&s->cv); /* waiters; the renewal timer */
		pthread_mutex_unlock(&s->mu);
	}
	json_decref(rec);
	json_decref(old);
	skey_clear(&nk);
	return r;
}

int
sealing_rotate(struct sealing *s, char ret_id[KSEAL_ID_LEN + 1])
{
	struct sealing_config cfg;
	struct kseal_key *k = NULL;
	int r;

	sealing_config_get(s, &cfg);
	r = kseal_key_generate(cfg.key_bits, cfg.common_name, SEALING_CERT_TTL_S, &k);
	if (r < 0)
		return r;
	r = add_key(s, k, SKEY_GENERATED, true, ret_id);
	if (r == 0)
		log_info("sealing: new active key %s (rotate, %u bits)", ret_id, cfg.key_bits);
	return r;
}

int
sealing_compromise(struct sealing *s, const char *id)
{
	char new_id[KSEAL_ID_LEN + 1];
	json_t *rec = NULL;
	ssize_t i;
	bool active, done;
	int r;

	sealing_rdlock(s);
	i = sealing_find(s, id);
	active = i >= 0 && s->keys[i].state == SKEY_ACTIVE;
	sealing_unlock(s);
	if (i < 0)
		return CF_ENOTFOUND;
	if (active) {
		r = sealing_rotate(s, new_id);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&s->chg);
	sealing_rdlock(s);
	i = sealing_find(s, id);
	/* Never leave the active key compromised (an import with active true
	 * may have made it active again meanwhile). */
	r = i < 0 ? CF_ENOTFOUND : s->keys[i].state == SKEY_ACTIVE ? CF_EINTERNAL : 0;
	done = i >= 0 && s->keys[i].state == SKEY_COMPROMISED;
	sealing_unlock(s);
	if (r < 0 || done)
		goto out;
	r = restate_record(s, id, SKEY_COMPROMISED, &rec);
	if (r == 0)
		r = store_records(s, id, rec, NULL, NULL);
	if (r < 0)
		goto out;
	pthread_rwlock_wrlock(&s->rw);
	i = sealing_find(s, id);
	if (i >= 0)
		s->keys[i].state = SKEY_COMPROMISED;
	keys_sort(s);
	pthread_rwlock_unlock(&s->rw);
	log_info("sealing: key %s marked compromised", id);
out:
	pthread_mutex_unlock(&s->chg);
	json_decref(rec);
	return r;
}

int
sealing_import(struct sealing *s, struct kseal_key *k, bool active, char ret_id[KSEAL_ID_LEN + 1])
{
	int r = add_key(s, k, SKEY_IMPORTED, active, ret_id);

	if (r == 0)
		log_info("sealing: key %s imported (%s)", ret_id, active ? "active" : "retired");
	return r;
}
