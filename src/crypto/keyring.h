/* keyring.h - the barrier's data-encryption keys, one per key term (internal to
 * src/crypto; the barrier is its only user).
 *
 * A keyring is immutable once built: rotation builds a new one with one more term.
 * The keys live in one sodium_malloc'd region (guard pages, mlock'd), kept
 * read-only, and wiped by keyring_free(). Term metadata and the per-term
 * encryption counters are not secret and live in ordinary memory.
 *
 * Plaintext format (stored sealed by the root key at "core/keyring"):
 *     "CFKR" | version (1, = 1) | count (4, BE) |
 *     count x { term (4, BE) | install time, unix ns (8, BE) | key (32) }
 * Terms are nonzero and strictly increasing; the last one is active. */
#ifndef CF_KEYRING_H
#define CF_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_KEY_BYTES 32
#define KEYRING_MAX_TERMS 100000

struct keyring;

/* A new keyring holding only term 1 with a fresh random key, installed at
 * install_ns. Returns 0, CF_ENOMEM. */
int keyring_generate(int64_t install_ns, struct keyring **ret);
/* A copy of kr with one more term (last term + 1, fresh random key), counters
 * carried over. kr is not changed. Returns 0, CF_ENOMEM, CF_ERANGE (too many
 * terms). The caller must keep kr from being counted into concurrently. */
int keyring_add_term(const struct keyring *kr, int64_t install_ns, struct keyring **ret);
/* A copy of kr without the terms older than `below` (the active term always
 * stays). Returns 0, CF_ENOMEM. */
int keyring_retire_below(const struct keyring *kr, uint32_t below, struct keyring **ret);
/* Wipes and frees; accepts NULL. */
void keyring_free(struct keyring *kr);

/* Serializes kr into a sodium_malloc'd buffer the caller frees with sodium_free().
 * Returns 0, CF_ENOMEM. */
int keyring_encode(const struct keyring *kr, uint8_t **ret_buf, size_t *ret_len);
/* Parses what keyring_encode wrote. Returns 0, CF_EINVAL (malformed), CF_ENOMEM. */
int keyring_decode(const uint8_t *buf, size_t len, struct keyring **ret);

/* Number of terms (>= 1). The active (newest) entry is at index count - 1. */
size_t keyring_count(const struct keyring *kr);
/* Index of term in *ret_idx; CF_ENOTFOUND if kr has no such term. */
int keyring_find(const struct keyring *kr, uint32_t term, size_t *ret_idx);
uint32_t keyring_term_at(const struct keyring *kr, size_t idx);
int64_t keyring_install_ns_at(const struct keyring *kr, size_t idx);
/* The key of entry idx, KEYRING_KEY_BYTES long, valid (read-only) until kr is freed. */
const uint8_t *keyring_key_at(const struct keyring *kr, size_t idx);
/* Encryption counter of entry idx (atomic, relaxed). */
void keyring_count_encryption(struct keyring *kr, size_t idx);
uint64_t keyring_encryptions_at(const struct keyring *kr, size_t idx);

#endif
