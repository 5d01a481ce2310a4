/* sealing_int.h - internals of src/sealing shared by its files (not an API).
 *
 * sealing.c      the key table, its storage, the generator thread (first key,
 *                renewal), rotate / compromise / import
 * sealing_sys.c  the sys/sealing/ handlers
 *
 * Locks, in the order they are taken: chg (serializes changes: storage write
 * and table update), mu (config, the generator's state; cv waits on it), rw
 * (the key table: shared while a request seals or unseals with the keys,
 * exclusive only to change the table, never across an RSA key generation or a
 * storage write). */
#ifndef CF_SEALING_INT_H
#define CF_SEALING_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/kseal.h"
#include "sealing/sealing.h"

#define SEALING_DEFAULT_RENEW_S (720LL * 3600)   /* 30 days, as the controller */
#define SEALING_CERT_TTL_S      (3650LL * 86400) /* 10 years, as the controller */
#define SEALING_CN_MAX          64               /* X.509 upper bound of a CN */
#define SEALING_WAIT_MS         20000            /* how long a request waits for a first key */
#define SEALING_RETRY_S         60               /* after a failed generation */
#define SEALING_MAX_KEYS        1024
#define SEALING_AUDIT_MAX       1000 /* SealedSecrets in one sys/sealing/audit */

enum skey_state {
	SKEY_ACTIVE,
	SKEY_RETIRED,
	SKEY_COMPROMISED,
};

enum skey_source {
	SKEY_GENERATED,
	SKEY_IMPORTED,
};

/* One loaded key pair. */
struct skey {
	char id[KSEAL_ID_LEN + 1];
	enum skey_state state;
	enum skey_source source;
	int64_t created;     /* unix seconds */
	struct kseal_key *k; /* with its private part and certificate */
	char *cert_pem;      /* the certificate as PEM (public) */
};

struct sealing_config {
	int64_t renew_period; /* seconds; 0: no automatic renewal */
	unsigned key_bits;
	char common_name[SEALING_CN_MAX + 1];
};

struct sealing {
	struct core *c;
	struct view *view; /* sys/sealing/ */

	pthread_mutex_t chg;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sealing_config cfg;
	bool running;        /* between start and stop */
	bool on_demand;      /* the first key is made when first needed */
	uint64_t epoch;      /* +1 at every stop: a key generated before is dropped */
	bool want;           /* a key generation is asked for */
	bool generating;     /* the generator thread is making one */
	_Atomic bool cancel; /* set by stop: the generation in progress gives up */
	int64_t retry_at;    /* unix seconds: no renewal before (after a failure) */
	bool thread_started;
	bool quit;
	pthread_t thread;
	int64_t wait_ms;

	pthread_rwlock_t rw;
	struct skey *keys; /* sorted: active, then retired, then compromised;
	                    * newest first within each */
	size_t nkeys;
};

const char *sealing_state_name(enum skey_state st);

/* The key table for reading: sealing_rdlock / sealing_unlock around every use
 * of s->keys. sealing_rdlock_active waits first, at most s->wait_ms, for an
 * active key (asking the generator for one); then returns with the lock held
 * and s->keys[0] active, or CF_ESEALED with a message in err (the key is still
 * being made, or the server is sealing). */
void sealing_rdlock(struct sealing *s);
int sealing_rdlock_active(struct sealing *s, char *err, size_t errlen);
void sealing_unlock(struct sealing *s);

/* The info object of a key (state, bits, not_before, not_after, created,
 * source). Caller holds the read lock. NULL on ENOMEM. */
json_t *sealing_key_info(const struct skey *k);
/* The index of the key with id, or -1. Caller holds the read lock. */
ssize_t sealing_find(struct sealing *s, const char *id);

void sealing_config_get(struct sealing *s, struct sealing_config *ret);
/* Stores cfg and applies it (the renewal timer is re-armed). 0 or a storage error. */
int sealing_config_set(struct sealing *s, const struct sealing_config *cfg);

/* Makes a new key (config's size and CN) in the calling thread and makes it
 * active; the active key turns retired. The caller holds the core lock for
 * reading (a request handler), not the sealing locks. *ret_id gets its id.
 * Returns 0, CF_ESEALED (sealed meanwhile), a storage error, CF_EINTERNAL. */
int sealing_rotate(struct sealing *s, char ret_id[KSEAL_ID_LEN + 1]);
/* Marks key id compromised; when it is the active key, a new key is made
 * active first. Returns 0, CF_ENOTFOUND, or sealing_rotate's errors. */
int sealing_compromise(struct sealing *s, const char *id);
/* Adds a loaded key pair (k is taken over in every case) as imported: active
 * when active, else retired. Returns 0 with *ret_id, CF_EEXIST (a key of the
 * same id is present), a storage error. */
int sealing_import(struct sealing *s, struct kseal_key *k, bool active,
                   char ret_id[KSEAL_ID_LEN + 1]);

#endif
