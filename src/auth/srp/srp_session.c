/* srp_session.c - login sessions between init and verify (docs/internals/auth.md, SRP,
 * "Sessions"): in memory only, single use, expiring, capped per username and
 * overall (the oldest is dropped first). Freed sessions are wiped: b, v and the
 * rest never outlive the login. */
#include "auth/srp/srp_int.h"
#include "lib/secmem.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_BUCKETS 4096

struct srp_sessions {
	pthread_mutex_t mu;
	size_t max, per_user, count;
	struct srp_session *oldest, *newest; /* age order */
	struct srp_session *b[SESSION_BUCKETS];
};

struct srp_session *
srp_session_new(void)
{
	return calloc(1, sizeof(struct srp_session));
}

void
srp_session_free(struct srp_session *s)
{
	if (!s)
		return;
	secmem_free(s, sizeof(*s));
}

int
srp_sessions_new(size_t max, size_t per_user, struct srp_sessions **ret)
{
	struct srp_sessions *t = calloc(1, sizeof(*t));

	if (!t)
		return CF_ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->max = max ? max : 1;
	t->per_user = per_user ? per_user : 1;
	*ret = t;
	return 0;
}

void
srp_sessions_free(struct srp_sessions *t)
{
	struct srp_session *s, *n;

	if (!t)
		return;
	for (s = t->oldest; s; s = n) {
		n = s->newer;
		srp_session_free(s);
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* The ids are 32 random bytes: their first bytes are a fine hash. */
static size_t
bucket(const uint8_t *id)
{
	return ((size_t)id[0] << 8 | id[1]) % SESSION_BUCKETS;
}

/* Unlinks s from the age list and its bucket; caller holds mu. */
static void
unlink_locked(struct srp_sessions *t, struct srp_session *s)
{
	struct srp_session **pp = &t->b[bucket(s->id)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	if (s->older)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	s->older = s->newer = s->hnext = NULL;
	t->count--;
}

static void
drop_locked(struct srp_sessions *t, struct srp_session *s)
{
	unlink_locked(t, s);
	srp_session_free(s);
}

int
srp_sessions_put(struct srp_sessions *t, struct srp_session *s, int64_t now)
{
	struct srp_session *it, *next, *user_oldest = NULL;
	size_t mine = 0;
	size_t h = bucket(s->id);

	s->older = s->newer = s->hnext = NULL;
	pthread_mutex_lock(&t->mu);
	/* One pass, oldest first: drop the expired, count this user's. */
	for (it = t->oldest; it; it = next) {
		next = it->newer;
		if (now >= it->expires) {
			drop_locked(t, it);
			continue;
		}
		if (strcmp(it->user, s->user) == 0) {
			if (!user_oldest)
				user_oldest = it;
			mine++;
		}
	}
	/* At most per_user: dropping the oldest of theirs one at a time. */
	while (mine >= t->per_user && user_oldest) {
		it = user_oldest;
		for (user_oldest = it->newer; user_oldest; user_oldest = user_oldest->newer)
			if (strcmp(user_oldest->user, s->user) == 0)
				break;
		drop_locked(t, it);
		mine--;
	}
	while (t->count >= t->max && t->oldest)
		drop_locked(t, t->oldest);
	s->hnext = t->b[h];
	t->b[h] = s;
	s->older = t->newest;
	if (t->newest)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
	t->count++;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
srp_sessions_take(struct srp_sessions *t, const uint8_t id[SRP_SESSION_ID_BYTES], int64_t now,
                  struct srp_session **ret)
{
	struct srp_session *s;

	pthread_mutex_lock(&t->mu);
	for (s = t->b[bucket(id)]; s; s = s->hnext)
		if (CRYPTO_memcmp(s->id, id, SRP_SESSION_ID_BYTES) == 0)
			break;
	if (s)
		unlink_locked(t, s);
	pthread_mutex_unlock(&t->mu);
	if (!s)
		return CF_ENOTFOUND;
	if (now >= s->expires) {
		srp_session_free(s);
		return CF_ENOTFOUND;
	}
	*ret = s;
	return 0;
}

size_t
srp_sessions_count(struct srp_sessions *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int
srp_session_check(const struct srp6a_group *grp, const struct srp_session *s,
                  const uint8_t m1[SRP_HASH_BYTES], uint8_t ret_m2[SRP_HASH_BYTES])
{
	uint8_t u[SRP_HASH_BYTES], S[SRP_N_BYTES], K[SRP_HASH_BYTES], want[SRP_HASH_BYTES];
	int ok = s->known, r;

	if (srp6a_nlen(grp) != SRP_N_BYTES || srp6a_hlen(grp) != SRP_HASH_BYTES)
		return CF_EINVAL;
	if (srp6a_u(grp, s->A, s->B, u) < 0) {
		ok = 0; /* u = 0 fails like a wrong password (docs/internals/auth.md, SRP) */
		memset(u, 0, sizeof(u));
	}
	r = srp6a_server_S(grp, s->A, s->v, u, s->b, sizeof(s->b), S);
	if (r == 0)
		r = srp6a_K(grp, S, K);
	if (r == 0)
		r = srp6a_M1(grp, s->user, strlen(s->user), s->salt, sizeof(s->salt), s->A, s->B, K,
		             want);
	if (r < 0)
		goto out;
	ok &= CRYPTO_memcmp(want, m1, SRP_HASH_BYTES) == 0;
	if (!ok) {
		r = CF_EDENIED;
		goto out;
	}
	r = srp6a_M2(grp, s->A, m1, K, ret_m2);
out:
	secmem_wipe(S, sizeof(S));
	secmem_wipe(K, sizeof(K));
	secmem_wipe(want, sizeof(want));
	return r;
}
