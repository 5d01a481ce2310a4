/* ecies.h - ECIES over secp256k1, byte-compatible with the npm package eciesjs
 * in its default configuration (the scheme dotenvx uses for `encrypted:`
 * values; docs/internals/dotenvx.md).
 *
 * Payload of ecies_encrypt(), in this order:
 *   E      65 bytes  ephemeral public key, uncompressed (0x04 || X || Y)
 *   nonce  16 bytes  random AES-GCM IV (16 bytes, not the usual 12)
 *   tag    16 bytes  GCM tag, before the ciphertext
 *   ct     n bytes   AES-256-GCM of the plaintext, no AAD
 * The AES key is HKDF-SHA256(IKM = E || S, no salt, empty info, 32 bytes),
 * where S = e * P is the full shared point, uncompressed (65 bytes).
 *
 * Keys: a private key is 32 bytes in 1..n-1 (n the curve order); a public key
 * is a point, 33 bytes compressed (what this module writes) or 65 bytes
 * uncompressed (accepted as a receiver key). Scalar multiplication with the
 * private key runs in OpenSSL's constant-time ladder; every intermediate
 * secret (ephemeral key, shared point, AES key) is wiped before return. */
#ifndef CF_CRYPTO_ECIES_H
#define CF_CRYPTO_ECIES_H

#include <stddef.h>
#include <stdint.h>

#define ECIES_PRIVATE_BYTES 32
#define ECIES_PUBLIC_BYTES  33 /* compressed */
#define ECIES_UNCOMP_BYTES  65
#define ECIES_NONCE_BYTES   16
#define ECIES_TAG_BYTES     16
#define ECIES_OVERHEAD      (ECIES_UNCOMP_BYTES + ECIES_NONCE_BYTES + ECIES_TAG_BYTES)
#define ECIES_MAX_PLAINTEXT (64u * 1024 * 1024)

/* A fresh key pair from the CSPRNG. Writes ret_private (wipe it after use) and
 * ret_public (compressed). Returns 0 or CF_EINTERNAL (OpenSSL failure). */
int ecies_keypair(uint8_t ret_private[ECIES_PRIVATE_BYTES], uint8_t ret_public[ECIES_PUBLIC_BYTES]);

/* The compressed public key of a private key. Returns 0, CF_EINVAL when priv is
 * not a valid private key (zero or not below the curve order), CF_EINTERNAL. */
int ecies_public_from_private(const uint8_t priv[ECIES_PRIVATE_BYTES],
                              uint8_t ret_public[ECIES_PUBLIC_BYTES]);

/* Checks that pub (33 or 65 bytes) is a point on the curve. 0 or CF_EINVAL. */
int ecies_public_check(const uint8_t *pub, size_t publen);

/* Encrypts pt (ptlen bytes, at most ECIES_MAX_PLAINTEXT) to the public key pub
 * (33 or 65 bytes). out must have room for ptlen + ECIES_OVERHEAD bytes; that
 * is the length written. Returns 0, CF_EINVAL (bad public key, too long),
 * CF_EINTERNAL. */
int ecies_encrypt(const uint8_t *pub, size_t publen, const uint8_t *pt, size_t ptlen, uint8_t *out);

/* Decrypts a payload with the private key priv. out needs room for
 * len - ECIES_OVERHEAD bytes; *ret_len is set to that on success. Returns 0,
 * CF_EINVAL (payload too short, ephemeral key not an uncompressed point on the
 * curve, invalid private key), CF_ECRYPTO (the tag does not verify: wrong key
 * or tampered data; out is wiped), CF_EINTERNAL. */
int ecies_decrypt(const uint8_t priv[ECIES_PRIVATE_BYTES], const uint8_t *payload, size_t len,
                  uint8_t *out, size_t *ret_len) __attribute__((warn_unused_result));

#endif
