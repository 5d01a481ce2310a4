/* srp_guard.c - brute-force limits of the srp auth method (docs/internals/auth.md, SRP):
 *
 *  - per username (known or not): the last SRP_LOCK_THRESHOLD failed verifies
 *    are remembered; when they fall within SRP_LOCK_WINDOW, the name is locked
 *    until SRP_LOCK_DURATION after the last of them, and a success forgets them;
 *  - per client address: a sliding log of the init calls of the last
 *    SRP_IP_WINDOW seconds, at most SRP_IP_LIMIT of them.
 *
 * Both tables are bounded. When one is full, entries that no longer matter
 * (nothing recent, no lock) go first, then the least recently active one. */
#include "auth/srp/srp_int.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_BUCKETS   4096
#define GUARD_MAX_USERS 100000
#define GUARD_MAX_ADDRS 8192
#define ADDR_MAX        64

struct user_ent {
	char name[SRP_USERNAME_MAX + 1];
	int64_t t[SRP_LOCK_THRESHOLD]; /* failure times, ring */
	int n, head;
	int64_t locked_until;
	int64_t last;
	struct user_ent *next;
};

struct addr_ent {
	char addr[ADDR_MAX];
	int64_t t[SRP_IP_LIMIT]; /* init times, ring */
	int n, head;
	int64_t last;
	struct addr_ent *next;
};

struct srp_guard {
	pthread_mutex_t mu;
	struct user_ent *users[GUARD_BUCKETS];
	struct addr_ent *addrs[GUARD_BUCKETS];
	size_t nusers, naddrs;
};

int
srp_guard_new(struct srp_guard **ret)
{
	struct srp_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return CF_ENOMEM;
	pthread_mutex_init(&g->mu, NULL);
	*ret = g;
	return 0;
}

void
srp_guard_free(struct srp_guard *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < GUARD_BUCKETS; i++) {
		struct user_ent *u, *un;
		struct addr_ent *a, *an;
		for (u = g->users[i]; u; u = un) {
			un = u->next;
			free(u);
		}
		for (a = g->addrs[i]; a; a = an) {
			an = a->next;
			free(a);
		}
	}
	pthread_mutex_destroy(&g->mu);
	free(g);
}

static size_t
str_hash(const char *s)
{
	return util_fnv1a_str(s) % GUARD_BUCKETS;
}

/* ---- usernames ---- */

static bool
user_idle(const struct user_ent *u, int64_t now)
{
	return now >= u->locked_until && (u->n == 0 || now - u->last > SRP_LOCK_WINDOW * SRP_NS);
}

/* Makes room for one more user entry; caller holds mu. */
static void
users_evict(struct srp_guard *g, int64_t now)
{
	struct user_ent **victim = NULL;

	for (size_t i = 0; i < GUARD_BUCKETS; i++) {
		struct user_ent **pp = &g->users[i];
		while (*pp) {
			struct user_ent *u = *pp;
			if (user_idle(u, now)) {
				*pp = u->next;
				free(u);
				g->nusers--;
				continue;
			}
			if (now >= u->locked_until && (!victim || u->last < (*victim)->last))
				victim = pp;
			pp = &u->next;
		}
	}
	if (g->nusers >= GUARD_MAX_USERS && victim) {
		struct user_ent *u = *victim;
		*victim = u->next;
		free(u);
		g->nusers--;
	}
}

static struct user_ent *
user_find(struct srp_guard *g, const char *name, bool create, int64_t now)
{
	size_t h = str_hash(name);
	struct user_ent *u;

	for (u = g->users[h]; u; u = u->next)
		if (strcmp(u->name, name) == 0)
			return u;
	if (!create || strlen(name) > SRP_USERNAME_MAX)
		return NULL;
	if (g->nusers >= GUARD_MAX_USERS)
		users_evict(g, now);
	if (g->nusers >= GUARD_MAX_USERS)
		return NULL; /* every entry is a live lock: keep them */
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	memcpy(u->name, name, strlen(name) + 1);
	u->next = g->users[h];
	g->users[h] = u;
	g->nusers++;
	return u;
}

int
srp_guard_locked(struct srp_guard *g, const char *user, int64_t now, int64_t *ret_retry_after)
{
	struct user_ent *u;
	int64_t left = 0;

	pthread_mutex_lock(&g->mu);
	u = user_find(g, user, false, now);
	if (u && now < u->locked_until)
		left = (u->locked_until - now + SRP_NS - 1) / SRP_NS;
	pthread_mutex_unlock(&g->mu);
	if (left <= 0)
		return 0;
	*ret_retry_after = left;
	return CF_ERATELIMIT;
}

void
srp_guard_failed(struct srp_guard *g, const char *user, int64_t now)
{
	struct user_ent *u;
	int64_t oldest;

	pthread_mutex_lock(&g->mu);
	u = user_find(g, user, true, now);
	if (!u || now < u->locked_until)
		goto out; /* a lock runs from the failure that set it */
	u->t[u->head] = now;
	u->head = (u->head + 1) % SRP_LOCK_THRESHOLD;
	if (u->n < SRP_LOCK_THRESHOLD)
		u->n++;
	u->last = now;
	if (u->n == SRP_LOCK_THRESHOLD) {
		oldest = u->t[u->head]; /* the ring is full: head is the oldest */
		if (now - oldest <= SRP_LOCK_WINDOW * SRP_NS) {
			u->locked_until = now + SRP_LOCK_DURATION * SRP_NS;
			u->n = 0;
			u->head = 0;
		}
	}
out:
	pthread_mutex_unlock(&g->mu);
}

void
srp_guard_succeeded(struct srp_guard *g, const char *user)
{
	struct user_ent *u;

	pthread_mutex_lock(&g->mu);
	u = user_find(g, user, false, 0);
	if (u) {
		u->n = 0;
		u->head = 0;
		u->locked_until = 0;
	}
	pthread_mutex_unlock(&g->mu);
}

/* ---- addresses ---- */

static void
addrs_evict(struct srp_guard *g, int64_t now)
{
	struct addr_ent **victim = NULL;

	for (size_t i = 0; i < GUARD_BUCKETS; i++) {
		struct addr_ent **pp = &g->addrs[i];
		while (*pp) {
			struct addr_ent *a = *pp;
			if (now - a->last > SRP_IP_WINDOW * SRP_NS) {
				*pp = a->next;
				free(a);
				g->naddrs--;
				continue;
			}
			if (!victim || a->last < (*victim)->last)
				victim = pp;
			pp = &a->next;
		}
	}
	if (g->naddrs >= GUARD_MAX_ADDRS && victim) {
		struct addr_ent *a = *victim;
		*victim = a->next;
		free(a);
		g->naddrs--;
	}
}

int
srp_guard_addr(struct srp_guard *g, const char *addr, int64_t now, int64_t *ret_retry_after)
{
	struct addr_ent *a;
	size_t h;
	int r = 0;

	if (!addr || !*addr)
		addr = "-";
	if (strlen(addr) >= ADDR_MAX)
		return 0; /* no address we know: nothing to count by */
	h = str_hash(addr);
	pthread_mutex_lock(&g->mu);
	for (a = g->addrs[h]; a; a = a->next)
		if (strcmp(a->addr, addr) == 0)
			break;
	if (!a) {
		if (g->naddrs >= GUARD_MAX_ADDRS)
			addrs_evict(g, now);
		a = calloc(1, sizeof(*a));
		if (!a)
			goto out; /* out of memory: let the call through */
		memcpy(a->addr, addr, strlen(addr) + 1);
		a->next = g->addrs[h];
		g->addrs[h] = a;
		g->naddrs++;
	}
	if (a->n == SRP_IP_LIMIT) {
		int64_t oldest = a->t[a->head]; /* full ring: head is the oldest */
		if (now - oldest < SRP_IP_WINDOW * SRP_NS) {
			*ret_retry_after =
			        (oldest + SRP_IP_WINDOW * SRP_NS - now + SRP_NS - 1) / SRP_NS;
			r = CF_ERATELIMIT;
			goto out;
		}
	}
	a->t[a->head] = now;
	a->head = (a->head + 1) % SRP_IP_LIMIT;
	if (a->n < SRP_IP_LIMIT)
		a->n++;
	a->last = now;
out:
	pthread_mutex_unlock(&g->mu);
	return r;
}
