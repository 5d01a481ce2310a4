/* auth.c - token fields, login tokens and login limits shared by the auth
 * methods; see auth.h and docs/internals/auth.md. */
#include "auth/auth.h"
#include "backend/backend.h"
#include "backend/view.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- token fields ---- */

int
auth_token_cfg_init(struct auth_token_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->policies = json_array();
	cfg->bound_cidrs = json_array();
	snprintf(cfg->type, sizeof(cfg->type), "default");
	if (!cfg->policies || !cfg->bound_cidrs) {
		auth_token_cfg_clear(cfg);
		return CF_ENOMEM;
	}
	return 0;
}

void
auth_token_cfg_clear(struct auth_token_cfg *cfg)
{
	json_decref(cfg->policies);
	json_decref(cfg->bound_cidrs);
	memset(cfg, 0, sizeof(*cfg));
}

/* The key to read: the new name if present, else the legacy alias if present. */
static const char *
pick(json_t *data, const char *name, const char *legacy)
{
	if (json_object_get(data, name))
		return name;
	if (legacy && json_object_get(data, legacy))
		return legacy;
	return NULL;
}

static int
bad(struct response *rs, const char *key)
{
	(void)response_errorf(rs, "invalid value for %s", key);
	return CF_EINVAL;
}

static int
upd_dur(json_t *data, struct response *rs, const char *name, const char *legacy, int64_t *v)
{
	const char *k = pick(data, name, legacy);
	int64_t secs = 0;
	int r;

	if (!k || json_is_null(json_object_get(data, k)))
		return 0;
	r = jsonx_duration(data, k, &secs);
	if (r < 0) {
		(void)response_errorf(rs, "invalid value for %s: %s", k, duration_strerror(r));
		return CF_EINVAL;
	}
	*v = secs;
	return 0;
}

int
auth_token_cfg_update(struct auth_token_cfg *cfg, json_t *data, struct response *rs,
                      const char *legacy_cidrs)
{
	const char *k, *bad_cidr = NULL;
	int r;

	if ((k = pick(data, "token_policies", "policies"))) {
		json_t *p = NULL;
		if (jsonx_policylist(data, k, &p) < 0)
			return bad(rs, k);
		json_decref(cfg->policies);
		cfg->policies = p;
	}
	if ((r = upd_dur(data, rs, "token_ttl", "ttl", &cfg->ttl)) < 0 ||
	    (r = upd_dur(data, rs, "token_max_ttl", "max_ttl", &cfg->max_ttl)) < 0 ||
	    (r = upd_dur(data, rs, "token_explicit_max_ttl", NULL, &cfg->explicit_max_ttl)) < 0 ||
	    (r = upd_dur(data, rs, "token_period", "period", &cfg->period)) < 0)
		return r;
	if (cfg->max_ttl > 0 && cfg->ttl > cfg->max_ttl) {
		(void)response_errorf(rs, "token_ttl cannot be greater than token_max_ttl");
		return CF_EINVAL;
	}
	if ((k = pick(data, "token_num_uses", "num_uses"))) {
		if (jsonx_int(data, k, &cfg->num_uses) < 0 || cfg->num_uses < 0)
			return bad(rs, k);
	}
	if (json_object_get(data, "token_no_default_policy") &&
	    jsonx_bool(data, "token_no_default_policy", &cfg->no_default_policy) < 0)
		return bad(rs, "token_no_default_policy");
	k = pick(data, "token_bound_cidrs", "bound_cidrs");
	if (!k && legacy_cidrs && json_object_get(data, legacy_cidrs))
		k = legacy_cidrs;
	if (k) {
		json_t *l = NULL;
		if (jsonx_strlist(data, k, &l) < 0)
			return bad(rs, k);
		if (cidr_list_validate(l, &bad_cidr) < 0) {
			(void)response_errorf(rs, "invalid CIDR block in %s: %s", k, bad_cidr);
			json_decref(l);
			return CF_EINVAL;
		}
		json_decref(cfg->bound_cidrs);
		cfg->bound_cidrs = l;
	}
	if (jsonx_str(data, "token_type", &k) == 0) {
		if (strcmp(k, "batch") == 0 || strcmp(k, "default-batch") == 0) {
			(void)response_errorf(rs, "batch tokens are not supported");
			return CF_EINVAL;
		}
		if (strcmp(k, "default") && strcmp(k, "service") && strcmp(k, "default-service"))
			return bad(rs, "token_type");
		snprintf(cfg->type, sizeof(cfg->type), "%s", k);
	}
	return 0;
}

int
auth_token_cfg_store(const struct auth_token_cfg *cfg, json_t *obj)
{
	json_t *v = json_pack("{s:O, s:O, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "token_policies",
	                      cfg->policies, "token_bound_cidrs", cfg->bound_cidrs, "token_ttl",
	                      (json_int_t)cfg->ttl, "token_max_ttl", (json_int_t)cfg->max_ttl,
	                      "token_explicit_max_ttl", (json_int_t)cfg->explicit_max_ttl,
	                      "token_period", (json_int_t)cfg->period, "token_num_uses",
	                      (json_int_t)cfg->num_uses, "token_no_default_policy",
	                      cfg->no_default_policy, "token_type", cfg->type);
	if (!v)
		return CF_ENOMEM;
	json_object_update(obj, v);
	json_decref(v);
	return 0;
}

int
auth_token_cfg_load(struct auth_token_cfg *cfg, json_t *obj)
{
	const char *t = NULL;
	json_t *p = json_object_get(obj, "token_policies"),
	       *c = json_object_get(obj, "token_bound_cidrs");

	if (json_is_array(p)) {
		json_decref(cfg->policies);
		cfg->policies = json_deep_copy(p);
	}
	if (json_is_array(c)) {
		json_decref(cfg->bound_cidrs);
		cfg->bound_cidrs = json_deep_copy(c);
	}
	(void)jsonx_int(obj, "token_ttl", &cfg->ttl);
	(void)jsonx_int(obj, "token_max_ttl", &cfg->max_ttl);
	(void)jsonx_int(obj, "token_explicit_max_ttl", &cfg->explicit_max_ttl);
	(void)jsonx_int(obj, "token_period", &cfg->period);
	(void)jsonx_int(obj, "token_num_uses", &cfg->num_uses);
	(void)jsonx_bool(obj, "token_no_default_policy", &cfg->no_default_policy);
	if (jsonx_str(obj, "token_type", &t) == 0)
		snprintf(cfg->type, sizeof(cfg->type), "%s", t);
	return cfg->policies && cfg->bound_cidrs ? 0 : CF_ENOMEM;
}

int
auth_token_cfg_show(const struct auth_token_cfg *cfg, json_t *out)
{
	int r = auth_token_cfg_store(cfg, out);
	json_t *legacy;

	if (r < 0)
		return r;
	legacy = json_pack("{s:O, s:O, s:I, s:I, s:I, s:I}", "policies", cfg->policies,
	                   "bound_cidrs", cfg->bound_cidrs, "ttl", (json_int_t)cfg->ttl, "max_ttl",
	                   (json_int_t)cfg->max_ttl, "period", (json_int_t)cfg->period, "num_uses",
	                   (json_int_t)cfg->num_uses);
	if (!legacy)
		return CF_ENOMEM;
	json_object_update(out, legacy);
	json_decref(legacy);
	return 0;
}

/* ---- login tokens ---- */

int
auth_login_token(struct request *rq, struct response *rs, const struct auth_token_cfg *cfg,
                 const char *name, json_t *metadata)
{
	struct mount *m = rq->mount;
	struct auth_result *a;
	char display[160], mname[96];
	int64_t mmax = mount_max_ttl(m), ttl, max, emax;
	json_t *pols;
	size_t ml;

	/* "auth/userpass/" -> "userpass" */
	snprintf(mname, sizeof(mname), "%s",
	         strncmp(m->path, "auth/", 5) == 0 ? m->path + 5 : m->path);
	ml = strlen(mname);
	if (ml && mname[ml - 1] == '/')
		mname[ml - 1] = '\0';
	for (char *p = mname; *p; p++)
		if (*p == '/')
			*p = '-';
	snprintf(display, sizeof(display), "%s-%s", mname, name);

	pols = json_deep_copy(cfg->policies);
	if (pols && !cfg->no_default_policy && !jsonx_array_has(pols, "default"))
		json_array_append_new(pols, json_string("default"));
	if (pols) {
		json_t *n = jsonx_policies_normalize(pols);
		json_decref(pols);
		pols = n;
	}
	if (!pols)
		return CF_ENOMEM;

	max = cfg->max_ttl > 0 && cfg->max_ttl < mmax ? cfg->max_ttl : mmax;
	ttl = cfg->ttl > 0 ? cfg->ttl : mount_default_ttl(m);
	if (ttl > max)
		ttl = max;
	emax = cfg->explicit_max_ttl;
	if (cfg->period > 0) {
		ttl = cfg->period;
		if (emax > 0 && ttl > emax)
			ttl = emax;
	} else if (emax == 0 || emax > max) {
		/* renewals never take the token past the role's or mount's max TTL */
		emax = max;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		json_decref(pols);
		return CF_ENOMEM;
	}
	a->policies = pols;
	a->display_name = strdup(display);
	a->metadata = json_incref(metadata);
	a->bound_cidrs = json_incref(cfg->bound_cidrs);
	a->ttl = ttl;
	a->explicit_max_ttl = emax;
	a->period = cfg->period;
	a->num_uses = cfg->num_uses;
	a->renewable = true;
	a->no_default_policy = cfg->no_default_policy;
	if (!a->display_name) {
		auth_result_free(a);
		return CF_ENOMEM;
	}
	auth_result_free(rs->login);
	rs->login = a;
	return 0;
}

/* ---- limits ---- */

#define LIMITER_SLOTS    8 /* failures remembered per key; thresholds above are capped */
#define LIMITER_MAX_KEYS 100000
#define LIMITER_BUCKETS  4096

void
auth_limits_of(const struct mount *m, struct auth_limits *ret)
{
	json_t *c = m && m->extra_config ? json_object_get(m->extra_config, "user_lockout_config")
	                                 : NULL;
	int64_t v;

	ret->threshold = 5;
	ret->counter_reset = 60;
	ret->duration = 60;
	ret->disabled = false;
	ret->addr_threshold = 30;
	ret->addr_window = 60;
	if (!json_is_object(c))
		return;
	if (jsonx_int(c, "lockout_threshold", &v) == 0 && v > 0)
		ret->threshold = v > LIMITER_SLOTS ? LIMITER_SLOTS : (int)v;
	if (jsonx_duration(c, "lockout_duration", &v) == 0 && v > 0)
		ret->duration = v;
	if (jsonx_duration(c, "lockout_counter_reset", &v) == 0 && v > 0)
		ret->counter_reset = v;
	(void)jsonx_bool(c, "disable_lockout", &ret->disabled);
	if (jsonx_int(c, "address_threshold", &v) == 0 && v > 0)
		ret->addr_threshold = v > LIMITER_SLOTS * 4 ? LIMITER_SLOTS * 4 : (int)v;
}

struct lim_entry {
	char *key;                    /* "u:<user>" or "a:<addr>" */
	int64_t t[LIMITER_SLOTS * 4]; /* failure times, unix ns, ring */
	int n, head;
	int64_t last;
	struct lim_entry *next;
};

struct auth_limiter {
	pthread_mutex_t mu;
	struct lim_entry *b[LIMITER_BUCKETS];
	size_t count;
};

int
auth_limiter_new(struct auth_limiter **ret)
{
	struct auth_limiter *l = calloc(1, sizeof(*l));
	if (!l)
		return CF_ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	*ret = l;
	return 0;
}

void
auth_limiter_free(struct auth_limiter *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < LIMITER_BUCKETS; i++) {
		struct lim_entry *e = l->b[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e->key); /* not secret: a user name or client address */
			free(e);
		}
	}
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static size_t
lim_hash(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h % LIMITER_BUCKETS;
}

/* Drops the keys with no failure in the last hour (the table is full). */
static void
prune(struct auth_limiter *l)
{
	int64_t cutoff = util_now_ns() - 3600 * 1000000000LL;

	for (size_t i = 0; i < LIMITER_BUCKETS; i++) {
		struct lim_entry **pp = &l->b[i];
		while (*pp) {
			struct lim_entry *e = *pp;
			if (e->last < cutoff) {
				*pp = e->next;
				free(e->key); /* not secret: a user name or client address */
				free(e);
				l->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	log_info("login limiter: table full, %zu keys kept after pruning", l->count);
}

static struct lim_entry *
lim_find(struct auth_limiter *l, const char *kind, const char *name, bool create)
{
	char key[320];
	struct lim_entry *e;
	size_t h;

	snprintf(key, sizeof(key), "%s:%s", kind, name);
	h = lim_hash(key);
	for (e = l->b[h]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (create && l->count >= LIMITER_MAX_KEYS)
		prune(l);
	if (!create || l->count >= LIMITER_MAX_KEYS)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	e->next = l->b[h];
	l->b[h] = e;
	l->count++;
	return e;
}

/* The time of the k-th most recent failure (k = 1 is the newest), or 0. */
static int64_t
nth_recent(const struct lim_entry *e, int k)
{
	int cap = (int)(sizeof(e->t) / sizeof(e->t[0]));
	if (k > e->n)
		return 0;
	return e->t[(e->head - k + cap) % cap];
}

/* Seconds the key is locked for, or 0. Locked: `threshold` failures within
 * `window`, and the newest of them less than `duration` ago. */
static int64_t
locked_for(const struct lim_entry *e, int threshold, int64_t window, int64_t duration, int64_t now)
{
	int64_t newest, oldest;

	if (!e || threshold <= 0 || e->n < threshold)
		return 0;
	newest = nth_recent(e, 1);
	oldest = nth_recent(e, threshold);
	if (newest - oldest > window * 1000000000LL)
		return 0;
	if (now >= newest + duration * 1000000000LL)
		return 0;
	return (newest + duration * 1000000000LL - now + 999999999LL) / 1000000000LL;
}

int
auth_limiter_check(struct auth_limiter *l, const struct auth_limits *lim, const char *user,
                   const char *addr, int64_t *ret_retry_after)
{
	int64_t now = util_now_ns(), u = 0, a = 0;

	pthread_mutex_lock(&l->mu);
	if (!lim->disabled && user)
		u = locked_for(lim_find(l, "u", user, false), lim->threshold, lim->counter_reset,
		               lim->duration, now);
	if (addr)
		a = locked_for(lim_find(l, "a", addr, false), lim->addr_threshold, lim->addr_window,
		               lim->addr_window, now);
	pthread_mutex_unlock(&l->mu);
	*ret_retry_after = u > a ? u : a;
	return *ret_retry_after > 0 ? CF_ERATELIMIT : 0;
}

static void
record(struct auth_limiter *l, const char *kind, const char *name, int64_t now)
{
	struct lim_entry *e = lim_find(l, kind, name, true);
	int cap = (int)(sizeof(e->t) / sizeof(e->t[0]));

	if (!e)
		return;
	e->t[e->head] = now;
	e->head = (e->head + 1) % cap;
	if (e->n < cap)
		e->n++;
	e->last = now;
}

void
auth_limiter_failed(struct auth_limiter *l, const struct auth_limits *lim, const char *user,
                    const char *addr)
{
	int64_t now = util_now_ns();

	pthread_mutex_lock(&l->mu);
	if (user && !lim->disabled)
		record(l, "u", user, now);
	if (addr)
		record(l, "a", addr, now);
	pthread_mutex_unlock(&l->mu);
}

void
auth_limiter_succeeded(struct auth_limiter *l, const char *user)
{
	pthread_mutex_lock(&l->mu);
	struct lim_entry *e = user ? lim_find(l, "u", user, false) : NULL;
	if (e) {
		e->n = 0;
		e->head = 0;
	}
	pthread_mutex_unlock(&l->mu);
}

int
auth_too_many(struct response *rs, int64_t retry_after)
{
	(void)response_errorf(rs, "too many failed login attempts, try again later");
	rs->retry_after = retry_after > 0 ? retry_after : 1;
	return CF_ERATELIMIT;
}
