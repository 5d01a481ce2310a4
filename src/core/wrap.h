/* wrap.h - response wrapping (Vault's concepts/response-wrapping and
 * api-docs/system/wrapping-*): an answer stored in the cubbyhole of a new
 * single-use token, and the sys/wrapping/ endpoints that hand it out once.
 *
 * A wrapping token has the one policy WRAP_POLICY (it may only call
 * sys/wrapping/unwrap, lookup and rewrap), one use, no parent and the wrap
 * TTL; its creation path is the path of the wrapped request. Its cubbyhole
 * holds "response" (the answer: data, auth, lease fields, warnings). Unwrapping
 * spends the use and revokes it; the revocation deletes its cubbyhole.
 *
 * Private to src/core (core.c calls it, sys/wrapping/ routes live here). */
#ifndef CF_WRAP_H
#define CF_WRAP_H

#include "backend/request.h"

struct core;

#define WRAP_POLICY "response-wrapping"

/* The text of WRAP_POLICY (built in; it can not be stored under that name). */
const char *wrap_policy_text(void);

/* Checks the wrap TTL of rq (rq->wrap_ttl > 0) before its handler runs:
 * above the mount's max lease TTL is CF_EINVAL with the reason in rs. */
int wrap_check_ttl(struct request *rq, struct response *rs);

/* Replaces a successful answer (data or auth) by its wrap_info: stores the
 * answer in a new wrapping token's cubbyhole and clears data, auth, warnings
 * and the lease fields of rs. Does nothing when rq asked for no wrapping, rs
 * is not a 200 with data or auth, or rs is already wrapped. Returns 0 or a
 * CF_E* code (rs is then unchanged and the caller answers the error; the
 * answer never leaves unwrapped). Core lock held. */
int wrap_response(struct core *c, struct request *rq, struct response *rs);

/* The sys/wrapping/ routes (registered by core_new). */
extern const struct route wrap_sys_routes[];
extern const size_t wrap_sys_nroutes;

#endif
