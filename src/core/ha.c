/* ha.c - active/standby on a storage with a lock (postgres).
 *
 * Each node is unsealed on its own. An unsealed node is a standby until its HA
 * thread takes the storage lock; then it loads what an unseal loads (mount table,
 * policies, tokens, leases, rotation state, the outbox: everything is read from
 * storage, no cache survives from before) and answers as the active node. The
 * thread checks the lock every HA_TICK_MS; when it is lost (or given up by
 * sys/step-down) the node turns standby at once (requests are redirected from
 * that moment, the storage refuses its writes: the fence in storage.h) and then
 * tears down what it loaded, as a seal does, keeping its keys. A standby answers
 * the seal routes, sys/health and sys/leader itself and redirects every other
 * request (307) to the address the active node advertised beside the lock.
 * See docs/internals/core.md ("HA") and docs/ha.md. */
#include "core/core_int.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "storage/storage.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HA_TICK_MS      250
#define HA_STEP_DOWN_MS 5000 /* a node that stepped down does not retry for this long */
#define HA_RETRY_MS     1000 /* after a failed takeover */

struct ha {
	struct core *c;
	char *api_addr;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards stop, kick and the condition */
	pthread_cond_t cond;
	bool stop;
	bool kick;
	atomic_bool unsealed; /* this node's barrier is unsealed */
	atomic_bool active;   /* holds the lock and has loaded: serves requests */
	atomic_bool loaded;   /* changed under c->lock: what an unseal loads is loaded */
	_Atomic int64_t active_since;
	_Atomic int64_t hold_until_ms;
};

static int64_t
ha_now_ms(void)
{
	return util_mono_ns() / 1000000;
}

/* Takes over: under the core lock (no request runs), reloads the keyring and
 * everything an unseal loads. */
static void
ha_promote(struct ha *h)
{
	struct core *c = h->c;
	int r;

	pthread_rwlock_wrlock(&c->lock);
	if (barrier_sealed(c->barrier)) {
		pthread_rwlock_unlock(&c->lock);
		storage_lock_release(c->storage);
		return;
	}
	if (h->loaded) { /* left over from a step-down not yet torn down */
		core_teardown(c);
		h->loaded = false;
	}
	r = barrier_reload(c->barrier);
	if (r == 0)
		r = core_post_unseal(c);
	if (r < 0) {
		core_teardown(c);
		pthread_rwlock_unlock(&c->lock);
		storage_lock_release(c->storage);
		atomic_store(&h->hold_until_ms, ha_now_ms() + HA_RETRY_MS);
		log_error("HA: cannot take over as the active node: %s", cf_strerror(r));
		return;
	}
	h->loaded = true;
	atomic_store(&h->active_since, util_now());
	atomic_store(&h->active, true);
	pthread_rwlock_unlock(&c->lock);
	log_info("HA: this node is now the active node (%s)", h->api_addr);
}

/* Tears down what the active node loaded (after active was cleared). */
static void
ha_unload(struct ha *h)
{
	struct core *c = h->c;

	pthread_rwlock_wrlock(&c->lock);
	if (h->loaded && !atomic_load(&h->active) && !barrier_sealed(c->barrier)) {
		core_teardown(c);
		h->loaded = false;
		log_info("HA: this node is now a standby");
	}
	pthread_rwlock_unlock(&c->lock);
}

static void
ha_step(struct ha *h)
{
	struct core *c = h->c;
	bool got = false;

	if (atomic_load(&h->active)) {
		if (storage_lock_check(c->storage) == 0)
			return;
		atomic_store(&h->active, false); /* redirect from now on */
		log_error("HA: the lock was lost: stepping down");
		ha_unload(h);
		return;
	}
	if (h->loaded)
		ha_unload(h); /* stepped down by sys/step-down */
	if (!atomic_load(&h->unsealed) || ha_now_ms() < atomic_load(&h->hold_until_ms))
		return;
	if (storage_lock_acquire(c->storage, h->api_addr, &got) < 0 || !got)
		return;
	ha_promote(h);
}

static void *
ha_run(void *arg)
{
	struct ha *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		h->kick = false;
		pthread_mutex_unlock(&h->mu);
		ha_step(h);
		pthread_mutex_lock(&h->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += HA_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!h->stop && !h->kick &&
		       pthread_cond_timedwait(&h->cond, &h->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void
ha_kick(struct ha *h)
{
	pthread_mutex_lock(&h->mu);
	h->kick = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

int
ha_new(struct core *c, const char *api_addr, struct ha **ret)
{
	struct ha *h = calloc(1, sizeof(*h));
	sigset_t all, old;
	int rc;

	if (h == NULL)
		return CF_ENOMEM;
	h->c = c;
	h->api_addr = strdup(api_addr);
	if (h->api_addr == NULL) {
		free(h);
		return CF_ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cond, NULL);
	atomic_init(&h->unsealed, false);
	atomic_init(&h->active, false);
	atomic_init(&h->loaded, false);
	atomic_init(&h->active_since, 0);
	atomic_init(&h->hold_until_ms, 0);
	/* no signals here: the daemon takes them in one place */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&h->thread, NULL, ha_run, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ha_free(h);
		return CF_ENOMEM;
	}
	(void)pthread_setname_np(h->thread, "coffer-ha");
	h->started = true;
	*ret = h;
	return 0;
}

void
ha_free(struct ha *h)
{
	if (h == NULL)
		return;
	if (h->started) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cond);
	free(h->api_addr); /* not secret: a URL */
	free(h);
}

void
ha_unsealed(struct ha *h)
{
	struct core *c = h->c;
	bool got = false;
	int r;

	/* One try at once, so a lone node answers as active when unseal returns. */
	if (ha_now_ms() >= atomic_load(&h->hold_until_ms) &&
	    storage_lock_acquire(c->storage, h->api_addr, &got) == 0 && got) {
		r = core_post_unseal(c);
		if (r < 0) {
			core_teardown(c);
			storage_lock_release(c->storage);
			atomic_store(&h->hold_until_ms, ha_now_ms() + HA_RETRY_MS);
			log_error("HA: cannot become the active node: %s", cf_strerror(r));
		} else {
			atomic_store(&h->loaded, true);
			atomic_store(&h->active_since, util_now());
			atomic_store(&h->active, true);
			log_info("HA: this node is now the active node (%s)", h->api_addr);
		}
	}
	atomic_store(&h->unsealed, true);
	ha_kick(h);
}

void
ha_sealing(struct ha *h)
{
	atomic_store(&h->unsealed, false);
	atomic_store(&h->active, false);
	h->loaded = false; /* the seal tears down what was loaded */
	storage_lock_release(h->c->storage);
}

bool
ha_standby(struct ha *h)
{
	return h != NULL && atomic_load(&h->unsealed) && !atomic_load(&h->active);
}

int
ha_step_down(struct ha *h)
{
	if (h == NULL || !atomic_load(&h->active))
		return 0;
	atomic_store(&h->hold_until_ms, ha_now_ms() + HA_STEP_DOWN_MS);
	atomic_store(&h->active, false);
	storage_lock_release(h->c->storage); /* writes are refused from here on */
	log_info("HA: stepping down on request");
	ha_kick(h); /* the thread tears down (it needs the core lock) */
	return 0;
}

int
ha_leader(struct ha *h, bool *ret_self, char *addr, size_t len, int64_t *ret_since)
{
	*ret_self = false;
	*ret_since = 0;
	addr[0] = '\0';
	if (h == NULL)
		return CF_ENOTFOUND;
	if (atomic_load(&h->active)) {
		*ret_self = true;
		*ret_since = atomic_load(&h->active_since);
		snprintf(addr, len, "%s", h->api_addr);
		return 0;
	}
	return storage_lock_leader(h->c->storage, addr, len);
}
