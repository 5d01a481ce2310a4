/* userpass.h - the pure parts of the userpass auth method (Vault's userpass API),
 * exposed for the unit tests: user names and password hashing.
 *
 * Passwords are argon2id strings from libsodium's crypto_pwhash_str with
 * USERPASS_OPSLIMIT / USERPASS_MEMLIMIT (libsodium's "interactive" limits). The
 * number of hashes computed at once is bounded process-wide (USERPASS_MAX_HASHING),
 * since each one takes USERPASS_MEMLIMIT bytes; callers beyond that wait.
 * See docs/internals/auth.md. */
#ifndef CF_USERPASS_H
#define CF_USERPASS_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "lib/err.h"

#define USERPASS_OPSLIMIT     crypto_pwhash_OPSLIMIT_INTERACTIVE
#define USERPASS_MEMLIMIT     crypto_pwhash_MEMLIMIT_INTERACTIVE
#define USERPASS_HASH_BYTES   crypto_pwhash_STRBYTES
#define USERPASS_NAME_MAX     128  /* bytes of a user name */
#define USERPASS_PASSWORD_MAX 4096 /* bytes of a password */
#define USERPASS_MAX_HASHING  4    /* argon2id computations running at once */

/* Copies name lowercased (ASCII) into out[USERPASS_NAME_MAX + 1]. Returns 0, or
 * CF_EINVAL for an empty or too long name, or one with a control character, '/'
 * or a leading/trailing space. */
int userpass_name_normalize(const char *name, char *out);

/* Hashes password (len bytes) into out[USERPASS_HASH_BYTES]. Returns 0,
 * CF_EINVAL (empty or longer than USERPASS_PASSWORD_MAX) or CF_ENOMEM. */
int userpass_hash(const char *password, size_t len, char *out);

/* True when password matches hash (constant time in the password: argon2id with
 * the hash's own parameters, compared with a constant-time compare). A malformed
 * hash is false after the same work as a wrong password would cost against
 * dummy, which must be a valid hash made by userpass_hash (pass NULL when hash is
 * known to be valid). */
bool userpass_verify(const char *hash, const char *dummy, const char *password,
                     size_t len) CF_WARN_UNUSED;

/* The method's backend type, registered by the server's wiring. */
extern const struct backend_type userpass_backend;

#endif
