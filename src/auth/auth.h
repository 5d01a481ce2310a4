/* auth.h - what every login method shares (Vault's common token fields of auth roles, Vault's auth
 * block):
 *
 *  - the common token fields of users and roles (token_ttl, token_policies, ...,
 *    with the legacy aliases the clients still send), parsed, stored and shown
 *    the same way everywhere;
 *  - what a login authenticated (struct auth_result), from which the core
 *    mints the login token and the `auth` block of the answer;
 *  - brute-force protection: failed logins counted per username and per client
 *    address, answered 429 with Retry-After once over the limit (the limits are
 *    the mount's `user_lockout_config`, set with sys/auth/<path>/tune).
 *
 * The methods themselves live in src/auth/<name>/ and are registered with the
 * mount-type registry by the server's wiring (src/server/server.c). See
 * docs/internals/auth.md. */
#ifndef CF_AUTH_H
#define CF_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/request.h"

struct mount;

/* ---- common token fields ---- */

struct auth_token_cfg {
	json_t *policies;    /* sorted, de-duplicated array of strings; owned, never NULL */
	json_t *bound_cidrs; /* array of CIDR strings; owned, never NULL */
	int64_t ttl, max_ttl, explicit_max_ttl, period; /* seconds, 0 = inherit / none */
	int64_t num_uses;
	bool no_default_policy;
	char type[16]; /* "default", "service", "default-service" (batch is refused) */
};

/* Empty defaults (no policies, inherit every TTL). Returns 0 or CF_ENOMEM. */
int auth_token_cfg_init(struct auth_token_cfg *cfg);
void auth_token_cfg_clear(struct auth_token_cfg *cfg);
/* Applies the token_* fields present in data (a legacy alias counts only when
 * the new name is absent: policies, ttl, max_ttl, period, num_uses, bound_cidrs,
 * and legacy_cidrs, e.g. approle's "bound_cidr_list", if not NULL). Fields not
 * present keep their value. A bad value: an error in rs and CF_EINVAL. */
int auth_token_cfg_update(struct auth_token_cfg *cfg, json_t *data, struct response *rs,
                          const char *legacy_cidrs);
/* Sets the token_* keys of cfg on obj (for storage). Returns 0 or CF_ENOMEM. */
int auth_token_cfg_store(const struct auth_token_cfg *cfg, json_t *obj);
/* Reads what auth_token_cfg_store wrote (cfg must be initialized). */
int auth_token_cfg_load(struct auth_token_cfg *cfg, json_t *obj);
/* Sets the read view on out: the token_* fields (durations as integer seconds)
 * plus the legacy names (policies, ttl, max_ttl, period, num_uses, bound_cidrs). */
int auth_token_cfg_show(const struct auth_token_cfg *cfg, json_t *out);

/* Ends a successful login on rq->mount: sets rs->login to what it
 * authenticated, from which the core's ladder mints the token after the
 * handler returns and fills rs->auth: an orphan service token with cfg's
 * policies (plus "default" unless no_default_policy), TTLs bounded by the
 * mount's, bound_cidrs, display name "<mount path without auth/ and />-<name>"
 * and the metadata (borrowed, may be NULL; a reference is kept). Returns 0 or
 * CF_ENOMEM. */
int auth_login_token(struct request *rq, struct response *rs, const struct auth_token_cfg *cfg,
                     const char *name, json_t *metadata);

/* ---- stored users and roles ---- */

/* ---- brute-force protection ---- */

struct auth_limits {
	int threshold;         /* failures allowed; the next attempt is refused */
	int64_t counter_reset; /* seconds: failures older than this do not count */
	int64_t duration;      /* seconds the lock lasts after the threshold-th failure */
	bool disabled;
	int addr_threshold; /* the same, per client address (failures) */
	int64_t addr_window;
};

/* The limits of a mount: its `user_lockout_config` (lockout_threshold,
 * lockout_duration, lockout_counter_reset, disable_lockout; Vault's names), else
 * 5 failures a minute per user, locked for a minute, and 30 failures a minute per
 * address. */
void auth_limits_of(const struct mount *m, struct auth_limits *ret);

struct auth_limiter;
int auth_limiter_new(struct auth_limiter **ret);
void auth_limiter_free(struct auth_limiter *l);
/* Before checking credentials. 0: go on; CF_ERATELIMIT: refuse, with the
 * seconds to wait in *ret_retry_after. user is compared case-sensitively (the
 * method lowercases it first when its names are case-insensitive); addr may be
 * NULL. Unknown and known users are treated alike. */
int auth_limiter_check(struct auth_limiter *l, const struct auth_limits *lim, const char *user,
                       const char *addr, int64_t *ret_retry_after);
/* After a failed login (wrong password, unknown user, bad JWT, ...). */
void auth_limiter_failed(struct auth_limiter *l, const struct auth_limits *lim, const char *user,
                         const char *addr);
/* After a successful login: the user's failures are forgotten. */
void auth_limiter_succeeded(struct auth_limiter *l, const char *user);
/* Fills a 429 answer (message, Retry-After) and returns CF_ERATELIMIT. */
int auth_too_many(struct response *rs, int64_t retry_after);

#endif
