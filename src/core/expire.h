/* expire.h - the expiration manager: leases on dynamic secrets.
 *
 * A backend hands out a secret with a lifetime by setting rs->secret (see
 * request.h); the core registers a lease for it here. Every lease is a record
 * stored through the barrier, and an in-memory min-heap of expiry times drives
 * revocation: worker threads sleep until the earliest lease is due, call the
 * backend's lease_revoke hook and delete the record only when that succeeded.
 * A failed revocation is retried with exponential backoff (1 s doubling to
 * 30 s) and is never dropped. At unseal a loader thread walks the stored
 * leases in the background, so a large lease table never delays serving; leases
 * that expired while the server was down are revoked as soon as they load.
 *
 * Storage layout (view "sys/expire/"):
 *     id/<lease id>               the lease record (JSON)
 *     token/<token hash>/<suffix> the lease id, an index to revoke a token's leases
 *
 * See docs/internals/leases.md. */
#ifndef CF_EXPIRE_H
#define CF_EXPIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/field.h"
#include "backend/request.h"

struct core;
struct expiration;

int expire_new(struct core *c, struct expiration **ret);
void expire_free(struct expiration *e);

/* After unseal (core lock held for writing): start the loader and the workers. */
int expire_start(struct expiration *e);
/* Before seal (core lock held for writing): stop and join every thread, forget
 * the in-memory heap. Records stay in storage. */
void expire_stop(struct expiration *e);

/* Registers the lease of rs->secret issued by request rq (core lock held for
 * reading). Fills rs->lease_id and rs->lease_duration. On failure the secret
 * is revoked at once and the response data wiped. */
int expire_register(struct expiration *e, struct request *rq, struct response *rs);

/* Token revocation hook: schedules the token's leases for revocation now. */
void expire_token_revoked(void *arg, const char *token_hash);

/* Revokes every lease whose id starts with prefix (core lock held, for reading
 * or writing). force: delete the records even when the backend fails. */
int expire_revoke_prefix(struct expiration *e, const char *prefix, bool force, char *err,
                         size_t errlen);

/* Number of leases known in memory and whether the background load finished. */
void expire_stats(struct expiration *e, size_t *ret_pending, bool *ret_loaded);
/* Calls fn with the id of every lease known in memory (sys/metrics counts them
 * by mount), under the manager's mutex: fn must not call back into it. */
void expire_walk(struct expiration *e, void (*fn)(void *arg, const char *lease_id), void *arg);

/* The sys/leases routes and the legacy sys/renew and sys/revoke ones (sys.c lists them),
 * and their parameters (backend/field.h). */
extern const struct field expire_lookup_fields[];
extern const struct field expire_renew_fields[];
extern const struct field expire_revoke_fields[];
extern const struct field expire_revoke_prefix_fields[];
int expire_sys_lookup(struct request *rq, struct response *rs);
int expire_sys_list(struct request *rq, struct response *rs);
int expire_sys_renew(struct request *rq, struct response *rs);
int expire_sys_revoke(struct request *rq, struct response *rs);
int expire_sys_revoke_prefix(struct request *rq, struct response *rs);
int expire_sys_revoke_force(struct request *rq, struct response *rs);
int expire_sys_tidy(struct request *rq, struct response *rs);

#endif
