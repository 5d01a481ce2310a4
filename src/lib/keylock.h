/* keylock.h - a lock per key, made on first use and freed when no thread holds
 * or wants it: for writers that hold their lock until their change is durable.
 * Writers of different keys never wait for each other, as they would on a fixed
 * set of striped mutexes (with 64 writers on 64 stripes most writes share a
 * stripe with another and wait out its whole commit). Memory follows the keys
 * being locked, not the keys that exist. */
#ifndef CF_KEYLOCK_H
#define CF_KEYLOCK_H

#include <pthread.h>

#define KEYLOCK_BUCKETS 64

struct keylock;

struct keylocks {
	pthread_mutex_t mu; /* guards the buckets and every keylock in them */
	struct keylock *bucket[KEYLOCK_BUCKETS];
};

void keylocks_init(struct keylocks *t);
/* No key may be locked any more. */
void keylocks_destroy(struct keylocks *t);
/* Waits for and takes the lock of key; returns it for keylock_give, or NULL when
 * out of memory. */
struct keylock *keylock_take(struct keylocks *t, const char *key);
void keylock_give(struct keylocks *t, struct keylock *l);

#endif
