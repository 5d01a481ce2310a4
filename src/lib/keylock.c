/* keylock.c - a lock per key (keylock.h): a hash table of the keys being locked,
 * each entry with a condition variable and a count of the threads that hold or
 * want it; the last to let go frees it. */
#include "lib/keylock.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct keylock {
	struct keylock *next; /* in its bucket */
	pthread_cond_t turn;  /* signalled when the holder lets go */
	unsigned users;       /* the holder and the waiters */
	unsigned bucket;
	bool held;
	char key[];
};

void
keylocks_init(struct keylocks *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
}

void
keylocks_destroy(struct keylocks *t)
{
	pthread_mutex_destroy(&t->mu);
}

struct keylock *
keylock_take(struct keylocks *t, const char *key)
{
	size_t n = strlen(key);
	unsigned h = util_fnv1a(UTIL_FNV1A_INIT, key, n) % KEYLOCK_BUCKETS;
	struct keylock *l;

	pthread_mutex_lock(&t->mu);
	for (l = t->bucket[h]; l && strcmp(l->key, key) != 0; l = l->next)
		;
	if (!l) {
		l = malloc(sizeof(*l) + n + 1);
		if (!l) {
			pthread_mutex_unlock(&t->mu);
			return NULL;
		}
		pthread_cond_init(&l->turn, NULL);
		l->users = 0;
		l->bucket = h;
		l->held = false;
		memcpy(l->key, key, n + 1);
		l->next = t->bucket[h];
		t->bucket[h] = l;
	}
	l->users++;
	while (l->held)
		pthread_cond_wait(&l->turn, &t->mu);
	l->held = true;
	pthread_mutex_unlock(&t->mu);
	return l;
}

void
keylock_give(struct keylocks *t, struct keylock *l)
{
	struct keylock **p;

	pthread_mutex_lock(&t->mu);
	l->held = false;
	if (--l->users > 0) {
		pthread_cond_signal(&l->turn);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	for (p = &t->bucket[l->bucket]; *p != l; p = &(*p)->next)
		;
	*p = l->next;
	pthread_mutex_unlock(&t->mu);
	pthread_cond_destroy(&l->turn);
	secmem_wipe(l->key, strlen(l->key)); /* names of secrets or secret-ID HMACs */
	free(l);
}
