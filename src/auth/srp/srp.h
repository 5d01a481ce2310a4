/* srp.h - the SRP auth method: its backend type (registered by the server
 * wiring, src/server/server.c) and what it shares with its clients: the input
 * rules both sides apply (usernames, hex encodings). The SRP-6a arithmetic and the
 * coffer profile (group, sizes) are in crypto/srp6a.h; the method's own
 * pieces (sessions, lockout, fake users) are in srp_int.h, private to
 * src/auth/srp and its tests. Implemented in srp_parse.c. */
#ifndef CF_SRP_H
#define CF_SRP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "lib/err.h"

extern const struct backend_type srp_backend;

/* True when s matches ^[a-z0-9][a-z0-9._@+-]{0,127}$. */
bool srp_parse_username(const char *s) CF_WARN_UNUSED;
/* Hex (either case; an odd digit count reads as if a 0 led) into out: 1..cap
 * bytes. Returns 0 and *ret_len, or CF_EINVAL. */
int srp_parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *ret_len) CF_WARN_UNUSED;
/* Exactly len bytes as 2*len hex digits, else CF_EINVAL. */
int srp_parse_hex_exact(const char *hex, uint8_t *out, size_t len) CF_WARN_UNUSED;

#endif
