/* storage.h - the physical storage ops table.
 *
 * Keys are '/'-separated strings ("core/keyring", "logical/<uuid>/foo/bar").
 * Values are opaque bytes (already encrypted by the barrier above).
 *
 * Backends: "memory:" (tests, --dev), "sqlite:PATH" (embedded default) and
 * "postgres:URL" (several servers on one PostgreSQL). Every backend is safe to
 * call from many threads at once. A put/delete/txn that returned 0 is durable (on
 * disk for sqlite, committed for postgres); sqlite and postgres batch concurrent
 * writers into one transaction (group commit).
 *
 * Ownership: values and key arrays returned to the caller are malloc'd and owned by
 * the caller; free them with free() / storage_keys_free(). A returned value is
 * followed by one NUL byte that *ret_len does not count, so text values can be used
 * as C strings.
 *
 * Limits (checked by the storage_* wrappers, before any backend sees the call): a key
 * is a non-empty C string of at most STORAGE_MAX_KEY bytes, a value at most
 * STORAGE_MAX_VALUE bytes; larger ones fail with CF_EINVAL / CF_ETOOBIG.
 * See docs/internals/storage.md. */
#ifndef CF_STORAGE_H
#define CF_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct storage;

#define STORAGE_MAX_KEY   4096
#define STORAGE_MAX_VALUE (32u << 20)

enum storage_op_kind { STORAGE_PUT, STORAGE_DELETE };

struct storage_op {
	enum storage_op_kind kind;
	const char *key;
	const uint8_t *value; /* PUT only */
	size_t len;           /* PUT only */
};

struct storage_ops {
	const char *name; /* "memory", "sqlite", "postgres" */
	/* url is the part after "name:" */
	int (*open)(const char *url, struct storage **ret);
	void (*close)(struct storage *s);
	int (*get)(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len);
	int (*put)(struct storage *s, const char *key, const uint8_t *val, size_t len);
	int (*del)(struct storage *s, const char *key);
	/* Immediate children of prefix (prefix normally ends in '/'), sorted: leaf keys by
	 * their remaining name ("foo"), deeper keys once as their next folder ("bar/"). */
	int (*list)(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n);
	/* Applies all ops atomically and durably, in order. */
	int (*txn)(struct storage *s, const struct storage_op *ops, size_t n);
	/* HA lock (postgres): try to become active. NULL for single-node backends,
	 * which are always active. See storage_lock_acquire() and the calls below. */
	int (*lock_acquire)(struct storage *s, const char *advertise, bool *ret_acquired);
	void (*lock_release)(struct storage *s);
	int (*lock_check)(struct storage *s);
	int (*lock_leader)(struct storage *s, char *buf, size_t len);
	/* Whether a write started now would wait behind a commit in progress, and
	 * commits are slow enough (sqlite: 1 ms or more on average) that a caller
	 * should not hold a shared thread through the wait (a hint for the HTTP
	 * front end, which then runs the request off its pool thread). NULL: never. */
	bool (*write_busy)(struct storage *s);
};

/* Every backend struct starts with this header. */
struct storage {
	const struct storage_ops *ops;
};

/* Opens "memory:", "sqlite:/path/file.db" (or a bare path, meaning sqlite),
 * "postgres:postgresql://user:pw@host:port/db?schema=S" (see postgres.c).
 * Returns 0, CF_EINVAL (unknown scheme, bad URL), CF_EIO, CF_EUNSUPPORTED (postgres
 * without libpq). storage_close() drains pending
 * writes first; no other call on s may be running or start once close has begun. */
int storage_open(const char *spec, struct storage **ret);
void storage_close(struct storage *s);

/* Returns 0, or CF_ENOTFOUND when the key does not exist, CF_EIO, CF_ENOMEM. */
int storage_get(struct storage *s, const char *key, uint8_t **ret_val, size_t *ret_len);
int storage_put(struct storage *s, const char *key, const uint8_t *val, size_t len);
/* put, delete and txn return 0, CF_EINVAL (bad key or op), CF_ETOOBIG, CF_ENOMEM,
 * CF_EIO. A txn that fails applied none of its ops. n == 0 is a no-op.
 * Deleting a missing key is not an error. */
int storage_delete(struct storage *s, const char *key);
/* An empty result is 0 with *ret_n == 0 (and *ret_keys possibly NULL). */
int storage_list(struct storage *s, const char *prefix, char ***ret_keys, size_t *ret_n);
int storage_txn(struct storage *s, const struct storage_op *ops, size_t n);
void storage_keys_free(char **keys, size_t n);
/* Deletes every key that starts with prefix (walks storage_list recursively). */
int storage_delete_prefix(struct storage *s, const char *prefix);

/* HA lock. storage_lock_supported: whether the backend has one (postgres); a
 * server on it runs as one node of an active/standby group.
 * storage_lock_acquire tries once, without waiting: sets *ret_acquired (always
 * true on single-node backends) and, when acquired, advertises `advertise` (the
 * node's API address, no quote or backslash) as the leader's address. From then
 * on every write is fenced: it commits only while the lock is held. Returns 0,
 * CF_EINVAL (bad advertise) or CF_EIO.
 * storage_lock_check: 0 while the lock is held, CF_EIO once it is lost (its
 * connection broke); writes are refused from then on.
 * storage_lock_release gives the lock up (writes are refused from then on).
 * storage_lock_leader: the address the current holder advertised, into buf;
 * CF_ENOTFOUND when nobody holds the lock, CF_EIO. */
bool storage_lock_supported(struct storage *s);
int storage_lock_acquire(struct storage *s, const char *advertise, bool *ret_acquired);
int storage_lock_check(struct storage *s);
void storage_lock_release(struct storage *s);
int storage_lock_leader(struct storage *s, char *buf, size_t len);

/* Whether a write started now would wait behind a slow commit in progress (sqlite:
 * its committer is busy or has writers queued, and its batches take 1 ms or more
 * on average). A hint, read without waiting. */
bool storage_write_busy(struct storage *s);

extern const struct storage_ops storage_memory_ops;
extern const struct storage_ops storage_sqlite_ops;
extern const struct storage_ops storage_postgres_ops;

/* A copy of a storage spec fit for logs and error messages: the password of a
 * "postgres:" URL (user:PASSWORD@ and any password= parameter) replaced by
 * "REDACTED". Returns a malloc'd string (free it), or NULL when out of memory. */
char *storage_spec_redact(const char *spec);

/* sqlite backend counters (s must be a sqlite storage). commits counts COMMITs that
 * succeeded, requests the put/delete/txn calls they carried, ops the rows written:
 * requests / commits is the group-commit batching factor. isolated counts failed
 * requests undone by their savepoint while the rest of their batch committed. */
struct storage_sqlite_stats {
	uint64_t commits;
	uint64_t requests;
	uint64_t ops;
	uint64_t isolated;
};
void storage_sqlite_stats(struct storage *s, struct storage_sqlite_stats *ret);
/* Test hook (fault injection): while set, any op on exactly this key fails inside the
 * committer with CF_EIO, so tests can see that a failing caller does not hurt the
 * others in its batch. NULL clears it. The key is copied. */
int storage_sqlite_fail_key(struct storage *s, const char *key);

/* postgres backend counters (s must be a postgres storage), as for sqlite:
 * requests / commits is the group-commit batching factor; isolated counts
 * requests that failed alone after their batch failed on a statement while the
 * others in it committed; reconnects counts connections found broken (or timed
 * out) and dropped, to be replaced by fresh ones. */
struct storage_postgres_stats {
	uint64_t commits;
	uint64_t requests;
	uint64_t ops;
	uint64_t isolated;
	uint64_t reconnects;
};
void storage_postgres_stats(struct storage *s, struct storage_postgres_stats *ret);
/* Test hook (fault injection): while set, any op on exactly this key fails inside
 * its transaction (a statement that errors), as storage_sqlite_fail_key. NULL
 * clears it. The key is copied. */
int storage_postgres_fail_key(struct storage *s, const char *key);

#endif
