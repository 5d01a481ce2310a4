/* cubbyhole.h - the cubbyhole secrets engine (Vault's cubbyhole API): a private
 * key/value space per token. Every token reads and writes only its own
 * cubbyhole; no token, root included, can see another's, and the core deletes
 * a token's cubbyhole when the token is revoked or expires (cubbyhole_purge).
 *
 * The core mounts it at cubbyhole/ in every server; it can be neither
 * disabled nor mounted elsewhere. The server's wiring registers the type. */
#ifndef CF_CUBBYHOLE_H
#define CF_CUBBYHOLE_H

#include "backend/backend.h"

extern const struct backend_type cubbyhole_backend;

#endif
