/* kseal.h - one sealed value of Bitnami Sealed Secrets, byte for byte, and
 * the RSA key pairs that seal and unseal them (docs/sealed-secrets.md).
 *
 * A sealed value, for a plaintext of n bytes (n may be 0):
 *   uint16 big-endian  len(R), the RSA modulus size in bytes (0x0200 for 4096)
 *   R                  RSA-OAEP(SHA-256, MGF1-SHA-256, label) of a fresh
 *                      32-byte AES key K
 *   C || tag           AES-256-GCM of the plaintext under K, nonce 12 zero
 *                      bytes (K is used once), no AAD, 16-byte tag after C
 * so its length is 2 + modulus bytes + n + 16. The label binds the value to
 * its scope: "<namespace>/<name>" (strict), "<namespace>" (namespace-wide),
 * empty (cluster-wide). A value carries no key id: unsealing tries every key.
 *
 * A key (struct kseal_key) is an RSA public key with its X.509 certificate,
 * and optionally the private key. Private keys live in OpenSSL's memory; every
 * other secret (K, plaintext copies) is wiped before return. */
#ifndef CF_CRYPTO_KSEAL_H
#define CF_CRYPTO_KSEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KSEAL_AES_KEY_BYTES 32
#define KSEAL_TAG_BYTES     16
#define KSEAL_MIN_BITS      2048
#define KSEAL_MAX_BITS      8192
#define KSEAL_DEFAULT_BITS  4096
#define KSEAL_MAX_VALUE     (1024u * 1024) /* a Kubernetes Secret's size limit */
#define KSEAL_ID_LEN        16             /* hex characters of a key id, without NUL */

enum kseal_scope {
	KSEAL_STRICT,
	KSEAL_NAMESPACE_WIDE,
	KSEAL_CLUSTER_WIDE,
};

/* "strict", "namespace-wide", "cluster-wide". */
const char *kseal_scope_name(enum kseal_scope s);
/* Parses one of those names. Returns 0 or CF_EINVAL. */
int kseal_scope_parse(const char *name, enum kseal_scope *ret);

/* The OAEP label of a scope as a new NUL-terminated string (its length is the
 * label's; cluster-wide gives ""). ns and name may be NULL where the scope does
 * not use them; strict needs both, namespace-wide needs ns. Returns 0, CF_EINVAL
 * (a needed part missing or empty) or CF_ENOMEM. */
int kseal_label(enum kseal_scope s, const char *ns, const char *name, char **ret);

struct kseal_key;

/* A new key pair of bits bits (KSEAL_MIN_BITS..KSEAL_MAX_BITS) with a
 * self-signed certificate as the Bitnami controller makes one: subject =
 * issuer = CN cn (may be ""), CA, key usage "encipher only", random 128-bit
 * serial, valid from now to now + ttl seconds. Returns 0, CF_EINVAL (bits out
 * of range, ttl <= 0 or over 1000 years, cn over 64 bytes), CF_EINTERNAL. */
int kseal_key_generate(unsigned bits, const char *cn, int64_t ttl, struct kseal_key **ret);
/* The same, giving up as soon as *cancel turns true (it is polled throughout
 * the prime search, so a generation of seconds stops within milliseconds):
 * then CF_EIO and nothing in *ret. cancel may be NULL. */
int kseal_key_generate_cancel(unsigned bits, const char *cn, int64_t ttl,
                              const _Atomic bool *cancel, struct kseal_key **ret);

/* Loads the first PEM certificate in pem (len bytes). Refuses a certificate
 * whose key is not RSA, whose modulus is outside KSEAL_MIN_BITS..MAX_BITS, or
 * which has expired at now (0 skips the expiry check). The key has no private
 * part. Returns 0, or CF_EINVAL with a one-line reason in err, or CF_ENOMEM. */
int kseal_cert_load(const char *pem, size_t len, time_t now, struct kseal_key **ret, char *err,
                    size_t errlen);

/* Loads a private key, PEM PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE
 * KEY"), and the certificate that goes with it (cert_pem may be NULL: the key
 * then has no certificate, enough for unsealing). Refuses a non-RSA key, a size
 * outside the limits, and a certificate whose public key differs from the
 * private key's. Returns 0, or CF_EINVAL with a one-line reason in err, or
 * CF_ENOMEM. */
int kseal_key_load(const char *key_pem, size_t key_len, const char *cert_pem, size_t cert_len,
                   struct kseal_key **ret, char *err, size_t errlen);

void kseal_key_free(struct kseal_key *k);

/* The key's id: the first KSEAL_ID_LEN hex characters of the SHA-256 of its
 * public key (DER SubjectPublicKeyInfo). The same for a certificate and its
 * private key, so sealed files can be matched to keys. */
void kseal_key_id(const struct kseal_key *k, char ret[KSEAL_ID_LEN + 1]);
/* Modulus size in bits. */
unsigned kseal_key_bits(const struct kseal_key *k);
/* Whether the key has its private part. */
bool kseal_key_has_private(const struct kseal_key *k);
/* The certificate's validity (0 when the key has no certificate). */
time_t kseal_key_not_before(const struct kseal_key *k);
time_t kseal_key_not_after(const struct kseal_key *k);

/* The certificate as PEM, and the private key as PEM PKCS#1 (the form the
 * controller stores in tls.key), as new NUL-terminated strings. ret_key_pem
 * may be NULL; it must be wiped when freed (secmem_free_str). Returns 0,
 * CF_EINVAL (no certificate, or no private key when asked for it), CF_ENOMEM. */
int kseal_key_pem(const struct kseal_key *k, char **ret_cert_pem, char **ret_key_pem);

/* Seals pt (ptlen bytes, at most KSEAL_MAX_VALUE) to k's public key with the
 * label (label_len bytes, may be 0). *ret is a new buffer of *ret_len bytes.
 * Returns 0, CF_EINVAL (too long), CF_ENOMEM, CF_EINTERNAL. */
int kseal_encrypt(const struct kseal_key *k, const void *label, size_t label_len, const void *pt,
                  size_t ptlen, uint8_t **ret, size_t *ret_len);

/* Unseals ct with the first of keys[0..nkeys-1] (those with a private part)
 * that opens it under the label. *ret is a new buffer of *ret_len bytes plus
 * a NUL (free it with secmem_free(*ret, *ret_len + 1)); *ret_index (may be
 * NULL) is the index of the key that opened it. Returns 0, CF_EINVAL (too
 * short, the length prefix does not match any key's modulus), CF_ECRYPTO (no
 * key could decrypt it: wrong key, wrong label/scope, tampered), CF_ENOMEM,
 * CF_EINTERNAL. */
int kseal_decrypt(struct kseal_key *const *keys, size_t nkeys, const void *label, size_t label_len,
                  const uint8_t *ct, size_t ctlen, uint8_t **ret, size_t *ret_len,
                  size_t *ret_index) __attribute__((warn_unused_result));

#endif
