/* srp_int.h - the pieces of the srp auth method (docs/internals/auth.md, SRP) below its HTTP
 * handlers, exposed for the unit tests (tests/unit/auth/test_srp.c) and the
 * fuzzer (fuzz/fuzz_srp.c):
 *
 *  - srp_parse_*: request input checks (usernames, hex, A, verifier);
 *  - srp_fake_*: the stand-in salt and verifier of unknown usernames;
 *  - srp_sessions_*: the in-memory table of login sessions (single use, expiry,
 *    caps);
 *  - srp_guard_*: the per-username lockout and the per-address init limit.
 *
 * Times are unix nanoseconds passed in by the caller, so tests use their own
 * clock. See docs/internals/auth.md §srp. */
#ifndef CF_SRP_INT_H
#define CF_SRP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/srp/srp.h"
#include "crypto/srp6a.h"
#include "lib/err.h"

#define SRP_SESSION_ID_BYTES      32
#define SRP_USERNAME_MAX          128
#define SRP_MAX_SESSIONS          10000 /* in memory, per mount */
#define SRP_MAX_SESSIONS_PER_USER 16
#define SRP_SESSION_TTL_DEFAULT   60 /* seconds; auth/srp/config session_ttl */
#define SRP_LOCK_THRESHOLD        5
#define SRP_LOCK_WINDOW           900 /* seconds: 5 failures within 15 min ... */
#define SRP_LOCK_DURATION         900 /* ... lock until 15 min after the 5th */
#define SRP_IP_LIMIT              120 /* init calls per address ... */
#define SRP_IP_WINDOW             60  /* ... per minute */
#define SRP_NS                    1000000000LL

/* ---- parsing (srp_parse.c) ---- */

/* srp_parse_username, srp_parse_hex and srp_parse_hex_exact: auth/srp/srp.h. */
/* A from the client: 1..nlen bytes of hex with 0 < A < N (rule A). Writes
 * PAD(A), nlen bytes. CF_EINVAL otherwise. */
int srp_parse_A(const struct srp6a_group *grp, const char *hex, uint8_t *out) CF_WARN_UNUSED;
/* A registered verifier: exactly nlen bytes of hex, 1 < v < N. */
int srp_parse_verifier(const struct srp6a_group *grp, const char *hex, uint8_t *out) CF_WARN_UNUSED;

/* ---- unknown users (srp_fake.c) ---- */

#define SRP_FAKE_KEY_BYTES 32

/* HMAC-SHA256(key, "salt" | 0x00 | user): 32 bytes, stable per username. */
int srp_fake_salt(const uint8_t key[SRP_FAKE_KEY_BYTES], const char *user, uint8_t out[32]);
/* PAD(g^HMAC-SHA256(key, "verifier" | 0x00 | user) mod N). */
int srp_fake_verifier(const struct srp6a_group *grp, const uint8_t key[SRP_FAKE_KEY_BYTES],
                      const char *user, uint8_t *out);

/* ---- sessions (srp_session.c) ---- */

/* One login in progress. b, v, A and B are what verify needs; b and v are
 * secrets and wiped by srp_session_free. */
struct srp_session {
	uint8_t id[SRP_SESSION_ID_BYTES];
	char user[SRP_USERNAME_MAX + 1];
	bool known; /* the user existed at init (else v is the fake verifier) */
	uint8_t salt[SRP_SALT_BYTES];
	uint8_t A[SRP_N_BYTES], B[SRP_N_BYTES], v[SRP_N_BYTES];
	uint8_t b[SRP_EXP_BYTES];
	int64_t expires; /* unix ns */
	/* owned by the table */
	struct srp_session *older, *newer, *hnext;
};

/* Returns a zeroed session or NULL. */
struct srp_session *srp_session_new(void);
/* Wipes and frees. Accepts NULL. */
void srp_session_free(struct srp_session *s);

struct srp_sessions;

/* A table holding at most max sessions, per_user per username. Thread-safe. */
int srp_sessions_new(size_t max, size_t per_user, struct srp_sessions **ret);
void srp_sessions_free(struct srp_sessions *t);
/* Adds s (the table owns it from now on, even on error). Drops expired
 * sessions, then the username's oldest beyond per_user, then the oldest overall
 * beyond max. Returns 0. */
int srp_sessions_put(struct srp_sessions *t, struct srp_session *s, int64_t now);
/* Removes the session with that id (single use: whatever happens next) and
 * returns it in *ret (caller frees) if it had not expired at now. Returns 0, or
 * CF_ENOTFOUND for an unknown, used or expired id. */
int srp_sessions_take(struct srp_sessions *t, const uint8_t id[SRP_SESSION_ID_BYTES], int64_t now,
                      struct srp_session **ret) CF_WARN_UNUSED;
size_t srp_sessions_count(struct srp_sessions *t);

/* The server side of verify (grp must have nlen SRP_N_BYTES): computes u, S, K
 * and M1 from what init kept in s and compares M1 with m1 in constant time.
 * Returns 0 with M2 in ret_m2 when they match and s->known; CF_EDENIED when not
 * (wrong password, unknown user, u = 0); else another CF_E* code. The work is
 * the same whichever way it ends. */
int srp_session_check(const struct srp6a_group *grp, const struct srp_session *s,
                      const uint8_t m1[SRP_HASH_BYTES],
                      uint8_t ret_m2[SRP_HASH_BYTES]) CF_WARN_UNUSED;

/* ---- brute-force limits (srp_guard.c) ---- */

struct srp_guard;

int srp_guard_new(struct srp_guard **ret);
void srp_guard_free(struct srp_guard *g);
/* Counts one init call from addr. 0, or CF_ERATELIMIT when addr already made
 * SRP_IP_LIMIT calls in the last SRP_IP_WINDOW seconds (the refused call is not
 * counted), with the seconds to wait in *ret_retry_after. */
int srp_guard_addr(struct srp_guard *g, const char *addr, int64_t now,
                   int64_t *ret_retry_after) CF_WARN_UNUSED;
/* 0, or CF_ERATELIMIT while user is locked out, with the seconds left. */
int srp_guard_locked(struct srp_guard *g, const char *user, int64_t now,
                     int64_t *ret_retry_after) CF_WARN_UNUSED;
/* A failed verify for user (known or not). The SRP_LOCK_THRESHOLD-th failure
 * within SRP_LOCK_WINDOW locks the name for SRP_LOCK_DURATION from now. */
void srp_guard_failed(struct srp_guard *g, const char *user, int64_t now);
/* A successful login: the failures of user are forgotten. */
void srp_guard_succeeded(struct srp_guard *g, const char *user);

#endif
