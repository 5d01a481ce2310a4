/* transit_int.h - internals of the transit secrets engine (Vault's transit API).
 * Not a public interface: other modules use transit_backend (engines/transit/transit.h).
 *
 * Files:
 *   transit_ct.c    pure string helpers: "vault:v<N>:<b64>" parsing and
 *                   formatting, batch result shaping (unit-tested, fuzzed)
 *   transit_key.c   named keys: the stored record, the parsed and cached
 *                   snapshot (struct tkey), and every cryptographic operation
 *   transit.c       mount state (key cache, auto-rotation scheduler), routes
 *   transit_kv.c    keys/:name/rewrap-kv (internal requests through the core)
 *
 * Storage (relative to the mount's view, see docs/internals/transit.md):
 *   policy/<name>   the key record, compact JSON, key material base64 inside
 *                   (the barrier encrypts the whole value) */
#ifndef CF_TRANSIT_INT_H
#define CF_TRANSIT_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/request.h"

struct mount;
struct view;

#define TRANSIT_POLICY_PREFIX  "policy/"
#define TRANSIT_NAME_MAX       128   /* bytes of a key name */
#define TRANSIT_BATCH_MAX      16384 /* items of one batch_input */
#define TRANSIT_RANDOM_MAX     (128 * 1024)
#define TRANSIT_MAX_VERSIONS   10000 /* live versions of one key */
#define TRANSIT_ROTATE_MIN     3600  /* auto_rotate_period floor (Vault: 1h) */
#define TRANSIT_NONCE_BYTES    12
#define TRANSIT_TAG_BYTES      16
#define TRANSIT_HMAC_KEY_BYTES 32
#define TRANSIT_CONTEXT_MAX    4096
#define TRANSIT_REWRAP_KV_MAX  10000 /* secrets one rewrap-kv call visits */

/* ---- transit_ct.c: pure helpers ---- */

/* Parses "vault:v<N>:<payload>" (ciphertext, HMAC or signature strings).
 * Returns 0 with *ret_version (1..INT32_MAX) and *ret_payload (points into s),
 * or CF_EINVAL with *ret_err set to Vault's message ("invalid ciphertext: no
 * prefix", ...). Never reads past the NUL. */
int transit_ct_parse(const char *s, int64_t *ret_version, const char **ret_payload,
                     const char **ret_err) __attribute__((warn_unused_result));
/* Decodes the payload of a parsed string: standard base64, or with url true the
 * unpadded URL alphabet (JWS signatures). malloc'd bytes in *ret (caller wipes
 * and frees). Returns 0 or CF_EINVAL / CF_ENOMEM. */
int transit_ct_decode(const char *payload, bool url, uint8_t **ret, size_t *ret_len);
/* "vault:v<N>:" + base64(in) (url: unpadded URL alphabet). malloc'd, NULL on ENOMEM. */
char *transit_ct_format(int64_t version, const uint8_t *in, size_t n, bool url);

/* Batch results (Vault's transit API "Batch"): an item that failed is
 * {"error": msg} (plus "reference" when the input had one). */
json_t *transit_batch_error(const char *msg, json_t *input);
/* Copies input's "reference" (when a string) into item. Returns 0 or CF_ENOMEM. */
int transit_batch_reference(json_t *item, json_t *input);
/* The status of a batch answer: 200 when no item carries a non-empty "error",
 * else partial (the request's partial_failure_response_code, 0 = 400), and 400
 * whenever every item failed. */
int transit_batch_status(const json_t *results, int partial);

/* ---- transit_key.c: keys ---- */

enum tk_kind {
	TK_AES128_GCM,
	TK_AES256_GCM,
	TK_CHACHA20,
	TK_ED25519,
	TK_ECDSA_P256,
	TK_ECDSA_P384,
	TK_ECDSA_P521,
	TK_RSA2048,
	TK_RSA3072,
	TK_RSA4096,
};

struct tk_type {
	const char *name; /* "aes256-gcm96" */
	enum tk_kind kind;
	size_t keylen;     /* symmetric key bytes, 0 for asymmetric */
	int bits;          /* RSA modulus bits */
	const char *group; /* EC group name */
	bool enc, sign, derive;
};

/* Type by name, or NULL. */
const struct tk_type *tk_type_find(const char *name);

struct tk_version {
	int64_t version;
	int64_t created; /* unix seconds */
	uint8_t *key;    /* symmetric key (sodium_malloc'd), or NULL */
	size_t keylen;
	uint8_t *hmac_key; /* TRANSIT_HMAC_KEY_BYTES, sodium_malloc'd */
	void *pkey;        /* EVP_PKEY * for asymmetric types */
	char *public_key;  /* PEM, or base64 raw for ed25519; NULL for symmetric */
};

/* A parsed key: an immutable snapshot shared by readers through a reference
 * count. Mutations build a new snapshot and swap it into the cache. */
struct tkey {
	int refs; /* atomic */
	char *name;
	const struct tk_type *type;
	bool derived, convergent, exportable, allow_plaintext_backup, deletion_allowed;
	int64_t latest, min_dec, min_enc, min_avail;
	int64_t auto_rotate_period; /* seconds, 0 = off */
	struct tk_version *ver;     /* versions min_avail(or 1)..latest, in order */
	size_t nver;
};

/* Record <-> snapshot. tkey_parse returns 0 with a new reference, CF_EIO for a
 * damaged record, CF_ENOMEM. */
int tkey_parse(const char *name, json_t *rec, struct tkey **ret);
struct tkey *tkey_ref(struct tkey *k);
void tkey_unref(struct tkey *k);
/* Version n of k, or NULL when it is not there (trimmed or beyond latest). */
const struct tk_version *tkey_version(const struct tkey *k, int64_t n);

/* A new record: type, flags, one version. Returns 0 with a new JSON reference. */
int tkey_record_new(const struct tk_type *t, bool derived, bool convergent, bool exportable,
                    bool allow_plaintext_backup, json_t **ret);
/* Adds version latest+1 (created now) to rec. Returns 0 or CF_ENOMEM/CF_EINTERNAL. */
int tkey_record_rotate(json_t *rec, int64_t now);

/* The key's read answer (Vault's transit API GET keys/:name). NULL on ENOMEM. */
json_t *tkey_info(const struct tkey *k);

/* Operations. Errors: CF_EINVAL with a message written to err (errlen bytes),
 * CF_ECRYPTO for a failed authentication ("cipher: message authentication
 * failed"), CF_ENOMEM, CF_EINTERNAL. ctx/ctxlen is the derivation context
 * (required when k->derived, refused otherwise). */
int tkey_encrypt(const struct tkey *k, int64_t version, const uint8_t *ctx, size_t ctxlen,
                 const uint8_t *nonce, size_t noncelen, const uint8_t *pt, size_t ptlen,
                 char **ret_ct, int64_t *ret_version, char *err, size_t errlen);
/* Plaintext into *ret_pt (malloc'd; free with secmem_free(pt, len)). */
int tkey_decrypt(const struct tkey *k, const char *ct, const uint8_t *ctx, size_t ctxlen,
                 uint8_t **ret_pt, size_t *ret_len, int64_t *ret_version, char *err, size_t errlen);

struct tk_sign_opts {
	const char *hash;    /* "sha2-256" default */
	const char *sig_alg; /* RSA: "pss" (default) or "pkcs1v15" */
	const char *marshal; /* ECDSA: "asn1" (default) or "jws" */
	bool prehashed;
	const uint8_t *ctx; /* derived ed25519 */
	size_t ctxlen;
};
int tkey_sign(const struct tkey *k, int64_t version, const struct tk_sign_opts *o,
              const uint8_t *in, size_t inlen, char **ret_sig, int64_t *ret_version, char *err,
              size_t errlen);
/* *ret_valid false for a signature that does not verify (not an error). */
int tkey_verify(const struct tkey *k, const struct tk_sign_opts *o, const uint8_t *in, size_t inlen,
                const char *sig, bool *ret_valid, char *err, size_t errlen);
int tkey_hmac(const struct tkey *k, int64_t version, const char *alg, const uint8_t *in,
              size_t inlen, char **ret_hmac, int64_t *ret_version, char *err, size_t errlen);
int tkey_hmac_verify(const struct tkey *k, const char *alg, const uint8_t *in, size_t inlen,
                     const char *mac, bool *ret_valid, char *err, size_t errlen);

/* Hash of in with a Vault algorithm name (sha2-256, sha3-512, ...): digest into
 * out (>= 64 bytes). Returns 0 or CF_EINVAL (unknown algorithm). */
int transit_hash(const char *alg, const uint8_t *in, size_t inlen, uint8_t *out, size_t *ret_len);
/* Export of version material: "encryption-key", "signing-key", "hmac-key".
 * Returns a malloc'd string (base64, or PEM for EC/RSA signing keys). */
int tkey_export(const struct tkey *k, const struct tk_version *v, const char *what, char **ret,
                char *err, size_t errlen);
/* Clears the expanded keys left in every thread's cipher contexts. */
void transit_crypto_wipe(void);

/* ---- transit.c: mount state ---- */

/* Looks a key up (cache, else storage). 0 with a reference, CF_ENOTFOUND. */
int transit_key_get(struct mount *m, const char *name, struct tkey **ret);

/* ---- transit_kv.c ---- */

int transit_rewrap_kv(struct request *rq, struct response *rs);

#endif
