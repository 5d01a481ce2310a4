/* approle.h - the pure parts of the AppRole auth method (Vault's AppRole API),
 * exposed for the unit tests. See docs/internals/auth.md. */
#ifndef CF_APPROLE_H
#define CF_APPROLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "lib/err.h"

#define APPROLE_NAME_MAX      128  /* bytes of a role name */
#define APPROLE_SECRET_ID_MAX 1024 /* bytes of a (custom) secret ID or role ID */
#define APPROLE_META_MAX      64   /* keys of secret-ID metadata */
#define APPROLE_KEY_BYTES     32   /* the per-mount HMAC key */
#define APPROLE_HMAC_HEX      65   /* 64 hex digits + NUL */

/* Copies a role name lowercased into out[APPROLE_NAME_MAX + 1] (names are
 * case-insensitive, as in Vault). Returns 0, or CF_EINVAL for an empty or too
 * long name or one with a control character or '/'. */
int approle_name_normalize(const char *name, char *out);

/* Secret-ID metadata (Vault's AppRole API): absent or null -> empty object; a
 * string holding a JSON object, or an object; every value must be a string, at
 * most APPROLE_META_MAX keys. Returns 0 with a new reference in *ret, or
 * CF_EINVAL with a static message in *ret_err. */
int approle_metadata_parse(json_t *v, json_t **ret, const char **ret_err);

/* True when every CIDR block of sub (array of strings) lies inside some block
 * of super. An empty super allows anything; an unparsable entry never fits. */
bool approle_cidr_subset(json_t *sub, json_t *super);

/* HMAC-SHA256 of s under key, as lowercase hex into out[APPROLE_HMAC_HEX]. */
void approle_hmac(const unsigned char *key, const char *s, char *out);

/* True when an entry that expires at exp_ns (unix ns, 0 = never) has expired
 * at now_ns. */
bool approle_expired(long long exp_ns, long long now_ns);

/* The method's backend type, registered by the server's wiring. */
extern const struct backend_type approle_backend;

#endif
