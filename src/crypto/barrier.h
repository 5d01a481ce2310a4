/* barrier.h - the encryption barrier between coffer and its storage.
 *
 * Every value written through the barrier is AES-256-GCM with a fresh 12-byte
 * nonce, prefixed by the 4-byte big-endian key term and a version byte, and
 * authenticated with the storage path as additional data (ciphertexts cannot be
 * moved between paths). Layout of a stored value:
 *     term (4, BE) | version (1, = 1) | nonce (12) | ciphertext | tag (16)
 *
 * Key hierarchy (docs/internals/crypto.md): the unseal key (32 bytes, reconstructed from Shamir
 * shares) decrypts "core/root-key"; the root key decrypts "core/keyring", which
 * holds the data-encryption key of every term. "core/seal-config" is stored
 * plain by the caller (core), not through the barrier.
 *
 * Keys live in sodium_malloc'd memory (guard pages, mlock), wiped on seal.
 * Encryption contexts are reused per thread (a fresh crypto context per operation is 15x slower).
 *
 * Thread safety: get/put/delete/list may be called from many threads; seal,
 * unseal, initialize and rotate take an internal write lock. */
#ifndef CF_BARRIER_H
#define CF_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define BARRIER_KEY_BYTES 32

struct barrier;

/* The barrier does not own storage. */
int barrier_new(struct storage *s, struct barrier **ret);
void barrier_free(struct barrier *b);

/* True once core/root-key exists in storage. */
int barrier_initialized(struct barrier *b, bool *ret);
/* Generates root key and term-1 keyring, stores them sealed by unseal_key.
 * Leaves the barrier unsealed. CF_EEXIST if already initialized. */
int barrier_initialize(struct barrier *b, const uint8_t unseal_key[BARRIER_KEY_BYTES]);
/* Loads the keyring with unseal_key. CF_EBADKEY if the key is wrong,
 * CF_EUNINIT if not initialized. Unsealing an unsealed barrier is a no-op 0.
 * A keyring that fails authentication gives CF_ECRYPTO; a missing or unparsable
 * one CF_EINTERNAL (damaged storage). */
int barrier_unseal(struct barrier *b, const uint8_t unseal_key[BARRIER_KEY_BYTES]);
/* Wipes every key from memory. */
void barrier_seal(struct barrier *b);
/* Re-reads the keyring from storage with the root key in memory (an HA standby
 * taking over: the active node may have rotated the key since this node was
 * unsealed). Returns 0, CF_ESEALED, CF_ECRYPTO, CF_EINTERNAL or a storage error;
 * on error the keyring in memory is kept. */
int barrier_reload(struct barrier *b);
/* Whether key is the unseal key the stored root key is sealed with (and that
 * root key is the one in use). Returns 0, CF_EBADKEY, CF_ESEALED, or a storage
 * error. For the quorum checks of rekey and root token generation. */
int barrier_check_unseal_key(struct barrier *b, const uint8_t key[BARRIER_KEY_BYTES])
        __attribute__((warn_unused_result));
/* Rekey: seals the root key in use under new_key and writes it, together with
 * the caller's extra ops (at most BARRIER_REKEY_EXTRA_MAX, written as given:
 * core/seal-config), in one storage transaction, so storage holds either the
 * old wrapping and old extras or the new ones, never a mix. The keyring and
 * every stored value are untouched. Returns 0, CF_ESEALED, CF_EINVAL (too many
 * extras, or one names a barrier key), or a storage error (nothing changed). */
#define BARRIER_REKEY_EXTRA_MAX 4
int barrier_rekey(struct barrier *b, const uint8_t new_key[BARRIER_KEY_BYTES],
                  const struct storage_op *extra, size_t nextra);
bool barrier_sealed(struct barrier *b);

/* Adds a new key term, used for all new writes; old terms still decrypt.
 * Persists the keyring. Returns the new term in *ret_term. CF_ESEALED when sealed. */
int barrier_rotate(struct barrier *b, uint32_t *ret_term);
/* Current term, its install time (unix ns) and the encryptions done with it
 * since unseal. */
int barrier_key_status(struct barrier *b, uint32_t *ret_term, int64_t *ret_install_ns,
                       uint64_t *ret_encryptions);

/* Storage ops through the barrier. All return CF_ESEALED when sealed.
 * barrier_get returns CF_ENOTFOUND for missing keys and CF_ECRYPTO when a value
 * fails authentication (tampered, or moved from another path). Its *ret_val is
 * malloc'd, followed by a NUL that *ret_len does not count, and owned by the
 * caller (wipe it if it is secret). put, delete and txn refuse the barrier's own
 * "core/root-key" and "core/keyring" with CF_EINVAL. Other errors come from
 * storage (storage.h). */
int barrier_get(struct barrier *b, const char *path, uint8_t **ret_val, size_t *ret_len);
int barrier_put(struct barrier *b, const char *path, const uint8_t *val, size_t len);
int barrier_delete(struct barrier *b, const char *path);
int barrier_list(struct barrier *b, const char *prefix, char ***ret_keys, size_t *ret_n);
/* Atomic: encrypts each PUT value, then storage_txn. */
int barrier_txn(struct barrier *b, const struct storage_op *ops, size_t n);

/* Pure helpers, exposed for unit tests and fuzzing: encrypt/decrypt one value with
 * an explicit key and term. *ret_ct / *ret_pt are malloc'd and owned by the caller;
 * *ret_pt is NUL-terminated (not counted). open_value returns CF_ECRYPTO for a
 * short, unknown-version or unauthentic value (whatever its term prefix). */
int barrier_seal_value(const uint8_t key[BARRIER_KEY_BYTES], uint32_t term, const char *path,
                       const uint8_t *pt, size_t len, uint8_t **ret_ct, size_t *ret_len);
int barrier_open_value(const uint8_t key[BARRIER_KEY_BYTES], const char *path, const uint8_t *ct,
                       size_t len, uint8_t **ret_pt, size_t *ret_len);
/* Re-encryption (sys/rotate/reencrypt). barrier_reencrypt rewrites, under the
 * active term, each value at keys[0..n) stored under an older term: it decrypts
 * and encrypts again (never wraps twice) and writes them all in one storage
 * transaction, holding the barrier's write lock so no concurrent write to the
 * same key can be lost. Keys that are missing or already current are skipped;
 * the caller must not pass keys the core stores plain (core/seal-config) or the
 * barrier's own. *ret_rewrapped counts the values rewritten. */
int barrier_reencrypt(struct barrier *b, char *const *keys, size_t n, size_t *ret_rewrapped);
/* The term a stored value was written under, without decrypting it. */
int barrier_stored_term(struct barrier *b, const char *path, uint32_t *ret_term);
/* Oldest and active terms of the keyring. */
int barrier_terms(struct barrier *b, uint32_t *ret_oldest, uint32_t *ret_active);
/* Drops every term older than `below` from the keyring and persists it. The
 * caller has checked that no stored value uses them: they become unreadable. */
int barrier_retire_terms(struct barrier *b, uint32_t below, size_t *ret_removed);
/* True for the keys the barrier does not encrypt with a term (its own). */
bool barrier_key_reserved(const char *path);

/* Term prefix of a stored value (for tests and re-encryption); CF_EINVAL if short. */
int barrier_value_term(const uint8_t *ct, size_t len, uint32_t *ret_term);

#endif
