/* share.c - unseal key shares as text, and collected share sets (share.h). */
#include "crypto/share.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

size_t
share_len_for(int threshold)
{
	return threshold == 1 ? SHARE_KEY_BYTES : SHARE_BYTES;
}

/* True when text is an even number of hex digits (Vault tries hex first). */
static bool
is_hex(const char *text, size_t n)
{
	if (n % 2 != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') ||
		      (text[i] >= 'A' && text[i] <= 'F')))
			return false;
	return true;
}

/* Base64 into out (cap bytes), padded or not; sets *ret_len. 0 or CF_EINVAL. */
static int
parse_b64(const char *text, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
	int variant = n % 4 == 0 ? sodium_base64_VARIANT_ORIGINAL
	                         : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
	const char *end = NULL;

	if (sodium_base642bin(out, cap, text, n, NULL, ret_len, &end, variant) != 0 ||
	    end != text + n)
		return CF_EINVAL;
	return 0;
}

int
share_parse(const char *text, uint8_t *out, size_t want, char *why, size_t whylen)
{
	uint8_t buf[SHARE_TEXT_MAX];
	size_t n, len = 0;
	int r = CF_EINVAL;

	if (!text || want == 0 || want > SHARE_BYTES) {
		snprintf(why, whylen, "no share given");
		return CF_EINVAL;
	}
	n = strlen(text);
	if (n == 0) {
		snprintf(why, whylen, "the share is empty");
		goto out;
	}
	if (n > SHARE_TEXT_MAX) {
		snprintf(why, whylen, "the share is %zu characters long, more than any share", n);
		goto out;
	}
	/* Hex first, as Vault; but text of hex digits only may also be the base64
	 * of a share (about one share in 10^20): when the hex reading has the
	 * wrong length and the base64 one the right length, the share is base64. */
	if (is_hex(text, n) && n / 2 == want) {
		if (sodium_hex2bin(out, want, text, n, NULL, &len, NULL) != 0 || len != want) {
			snprintf(why, whylen, "not a valid hex string");
			goto out;
		}
	} else if (parse_b64(text, n, buf, sizeof(buf), &len) == 0 && len == want) {
		memcpy(out, buf, want);
	} else if (is_hex(text, n)) {
		snprintf(why, whylen, "it is hex for %zu bytes; a share of this server is %zu",
		         n / 2, want);
		goto out;
	} else if (parse_b64(text, n, buf, sizeof(buf), &len) == 0) {
		snprintf(why, whylen, "it decodes to %zu bytes; a share of this server is %zu", len,
		         want);
		goto out;
	} else {
		snprintf(why, whylen, "not a valid hex or base64 string");
		goto out;
	}
	if (want == SHARE_BYTES && out[SHARE_BYTES - 1] == 0) {
		snprintf(why, whylen, "its x coordinate (last byte) is 0, which no share has");
		goto out;
	}
	r = 0;
out:
	secmem_wipe(buf, sizeof(buf));
	if (r < 0)
		secmem_wipe(out, want);
	return r;
}

int
share_set_add(struct share_set *s, const uint8_t *share, size_t len)
{
	uint8_t *copy;

	if (len == 0 || (s->n > 0 && len != s->len))
		return CF_EINVAL;
	for (unsigned i = 0; i < s->n; i++) {
		if (sodium_memcmp(s->share[i], share, len) == 0)
			return CF_EEXIST;
		/* Two shares with one x byte cannot be combined (shamir_combine). */
		if (len == SHARE_BYTES && s->share[i][len - 1] == share[len - 1])
			return CF_EINVAL;
	}
	if (s->n >= SHAMIR_MAX_SHARES)
		return CF_ERANGE;
	copy = sodium_malloc(len);
	if (!copy)
		return CF_ENOMEM;
	memcpy(copy, share, len);
	s->share[s->n++] = copy;
	s->len = len;
	return 0;
}

int
share_set_combine(const struct share_set *s, uint8_t key[SHARE_KEY_BYTES])
{
	if (s->n == 0)
		return CF_EINVAL;
	if (s->len == SHARE_KEY_BYTES) {
		if (s->n != 1)
			return CF_EINVAL;
		memcpy(key, s->share[0], SHARE_KEY_BYTES);
		return 0;
	}
	if (s->len != SHARE_BYTES)
		return CF_EINVAL;
	return shamir_combine((const uint8_t *const *)s->share, s->n, s->len, key);
}

void
share_set_clear(struct share_set *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		sodium_free(s->share[i]); /* wipes */
		s->share[i] = NULL;
	}
	s->n = 0;
	s->len = 0;
}
