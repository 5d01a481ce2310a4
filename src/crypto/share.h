/* share.h - unseal key shares as text, and the set of shares an operation has
 * collected so far (unseal, rekey, root token generation).
 *
 * A share is given as hex or base64 (Vault's sys/unseal accepts both). With a
 * threshold of 1 the "share" is the 32-byte unseal key itself; otherwise it is a
 * Shamir share of SHARE_BYTES: 32 y bytes and a non-zero x byte (shamir.h). */
#ifndef CF_SHARE_H
#define CF_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/shamir.h"

#define SHARE_KEY_BYTES 32                    /* the unseal key */
#define SHARE_BYTES     (SHARE_KEY_BYTES + 1) /* a Shamir share of it */
/* Longest share text accepted before decoding (hex of SHARE_BYTES, with room). */
#define SHARE_TEXT_MAX 128

/* The length of a share of a seal with this threshold: SHARE_KEY_BYTES for 1,
 * else SHARE_BYTES. */
size_t share_len_for(int threshold);

/* Decodes text (hex first, then base64 with or without padding) into out, which
 * holds want bytes, and checks the result is a well-formed share of that length
 * (a non-zero x byte when want is SHARE_BYTES). Returns 0, or CF_EINVAL with a
 * short reason in why ("not hex or base64", "decodes to 3 bytes, a share is 33")
 * and out wiped. Nothing is allocated: every byte decoded stays in out. */
int share_parse(const char *text, uint8_t *out, size_t want, char *why, size_t whylen)
        __attribute__((warn_unused_result));

/* Shares collected for one operation, each in sodium_malloc'd memory. All have
 * the length of the first one. Zero-initialize; release with share_set_clear. */
struct share_set {
	uint8_t *share[SHAMIR_MAX_SHARES];
	size_t len;
	unsigned n;
};

/* Adds a copy of share (len bytes). Returns 0; CF_EEXIST when this very share is
 * already in the set (compared in constant time); CF_EINVAL when len differs
 * from the set's, or another share has the same x byte; CF_ERANGE when the set
 * is full; CF_ENOMEM. The set is unchanged on error. */
int share_set_add(struct share_set *s, const uint8_t *share, size_t len)
        __attribute__((warn_unused_result));
/* Combines the set into the key (SHARE_KEY_BYTES into key): the single raw key
 * when the shares are SHARE_KEY_BYTES long, else Shamir. Returns 0, CF_EINVAL
 * (empty set, or several raw keys). Whether the key is right is for the caller
 * to check. */
int share_set_combine(const struct share_set *s, uint8_t key[SHARE_KEY_BYTES])
        __attribute__((warn_unused_result));
/* Wipes and frees every share; the set is empty again. */
void share_set_clear(struct share_set *s);

#endif
