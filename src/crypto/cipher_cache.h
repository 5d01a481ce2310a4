/* cipher_cache.h - per-thread AEAD cipher contexts, shared by every user.
 *
 * Setting up an EVP_CIPHER_CTX from scratch for each operation is about 15x
 * slower than reusing one (docs/BENCHMARKS.md), so each thread keeps one
 * context per algorithm, created on its first use; the ciphers themselves are
 * fetched once per process. The storage barrier (crypto/barrier.c) and the
 * transit engine both run their AEAD operations here.
 *
 * Secrets: a context keeps the expanded key of its last operation. Every
 * context is on one list, and cipher_cache_wipe resets them all (OpenSSL
 * clears the key schedule on reset); the barrier calls it when it seals. A
 * mutex per thread, uncontended except during that wipe, keeps the reset from
 * racing the thread's own use. When a thread exits, its contexts are freed
 * (EVP_CIPHER_CTX_free clears them) by a pthread key destructor.
 *
 * Thread-safe. */
#ifndef CF_CIPHER_CACHE_H
#define CF_CIPHER_CACHE_H

#include "lib/err.h"

#include <stddef.h>
#include <stdint.h>

enum cipher_cache_alg {
	CIPHER_AES128_GCM,
	CIPHER_AES256_GCM,
	CIPHER_CHACHA20_POLY1305,
	CIPHER_CACHE_N
};

/* One AEAD operation with the default 12-byte nonce on this thread's context
 * for alg. enc: in (len bytes) is encrypted into out and taglen bytes of tag
 * are written to tag. !enc: in is decrypted into out and tag is checked.
 * aad may be NULL when aadlen is 0. out has room for len bytes and may be in.
 * Returns 0; CF_ECRYPTO when the tag does not match (out then holds
 * unauthenticated bytes: the caller wipes it); CF_ETOOBIG past INT_MAX bytes;
 * CF_ENOMEM; CF_EINTERNAL when OpenSSL lacks the cipher or fails. */
int cipher_cache_aead(enum cipher_cache_alg alg, int enc, const uint8_t *key, const uint8_t *nonce,
                      const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
                      uint8_t *out, uint8_t *tag, size_t taglen) CF_WARN_UNUSED;

/* Resets every thread's contexts, clearing the expanded keys they hold. */
void cipher_cache_wipe(void);

#endif
