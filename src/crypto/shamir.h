/* shamir.h - Shamir secret sharing over GF(2^8), constant time.
 *
 * Share format (as Vault): the share bytes are the y values for each secret byte
 * followed by one x-coordinate byte (1..255, distinct, random). So a share is
 * len + 1 bytes. Field arithmetic uses no secret-indexed tables and no
 * secret-dependent branches (log/exp tables are not used). */
#ifndef CF_SHAMIR_H
#define CF_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_MAX_SHARES 255

/* Splits secret[0..len) into n shares with threshold t (1 <= t <= n <= 255;
 * t == 1 only when n == 1, in which case the single share is the secret itself
 * plus an x byte). shares must point to n buffers of len + 1 bytes each.
 * Returns 0 or CF_EINVAL. */
int shamir_split(const uint8_t *secret, size_t len, unsigned n, unsigned t, uint8_t **shares);

/* Combines k shares of share_len bytes each (all the same length, distinct x bytes)
 * into out (share_len - 1 bytes). Returns 0, or CF_EINVAL on duplicate x bytes,
 * mismatched lengths or k < 1. Combining fewer than t shares succeeds but yields
 * garbage (the caller checks the key by decrypting with it). */
int shamir_combine(const uint8_t *const *shares, unsigned k, size_t share_len, uint8_t *out);

#endif
