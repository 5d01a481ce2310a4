/* test_ecies.c - ECIES over secp256k1 as eciesjs does it: a vector made once
 * by dotenvx (eciesjs) decrypts, round trips, and every malformed payload
 * (tampered tag or ciphertext, short, compressed ephemeral key, 12-byte nonce
 * layout, wrong key) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/ecies.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Made by `@dotenvx/primitives` encrypt() for this key pair. */
static const char kat_priv[] = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
static const char kat_pub[] = "02085fe2ca7a5758957ea811bd8e743d9cee6bc20072f1470a888c43a1091a8e8b";
static const char kat_ct[] = "BOYcm5C0PfiXVCsLp9rqEZM6aMS+"
                             "7X4dpzTU3uyD0i3MSEgEfxwaBgbwCsfTdJBCpOy0HR3CzJGu3tv367hzsa9DlfL7"
                             "3aqPsGN1lgePWU7nFWC/zaG2YazCU6cKqvSl39Hw6g3H3EUpLEbwsgHx800=";
static const char kat_pt[] = "h\xc3\xa9llo\nworld \"q\"";
static const char kat_empty[] = "BNuEAfykCvoCRFX6hUIQgjxeqRETxDrq0QZxizlgIHwVfmPPAVTRIgZFk4cbnS7vbK"
                                "pCtbVm39HVLsdiuA9SJZpwTUFO"
                                "biXibcpL1Gn5ikGIvX/+LIxZIxJPHFPZLMHeEA==";

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got;

	assert_int_equal(util_unhex(hex, out, n, &got), 0);
	assert_int_equal(got, n);
}

static void
test_ecies_known_answer(void **state)
{
	uint8_t priv[32], pub[33], want_pub[33], out[64], *ct;
	size_t n, got;

	(void)state;
	unhex(kat_priv, priv, 32);
	unhex(kat_pub, want_pub, 33);
	assert_int_equal(ecies_public_from_private(priv, pub), 0);
	assert_memory_equal(pub, want_pub, 33);

	assert_int_equal(util_b64_decode(kat_ct, &ct, &n), 0);
	assert_int_equal(n, ECIES_OVERHEAD + strlen(kat_pt));
	assert_int_equal(ecies_decrypt(priv, ct, n, out, &got), 0);
	assert_int_equal(got, strlen(kat_pt));
	assert_memory_equal(out, kat_pt, got);
	secmem_free(ct, n);

	assert_int_equal(util_b64_decode(kat_empty, &ct, &n), 0);
	assert_int_equal(n, ECIES_OVERHEAD);
	assert_int_equal(ecies_decrypt(priv, ct, n, out, &got), 0);
	assert_int_equal(got, 0);
	secmem_free(ct, n);
}

static void
test_ecies_round_trip(void **state)
{
	uint8_t priv[32], pub[33], pub2[33], payload[ECIES_OVERHEAD + 300], out[300];
	uint8_t uncomp[65];
	size_t lens[] = {0, 1, 15, 16, 17, 300}, got;

	(void)state;
	assert_int_equal(ecies_keypair(priv, pub), 0);
	assert_true(pub[0] == 2 || pub[0] == 3);
	assert_int_equal(ecies_public_from_private(priv, pub2), 0);
	assert_memory_equal(pub, pub2, 33);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t pt[300];

		util_random(pt, lens[i]);
		assert_int_equal(ecies_encrypt(pub, 33, pt, lens[i], payload), 0);
		assert_int_equal(payload[0], 0x04);
		assert_int_equal(ecies_decrypt(priv, payload, lens[i] + ECIES_OVERHEAD, out, &got),
		                 0);
		assert_int_equal(got, lens[i]);
		assert_memory_equal(out, pt, lens[i]);
	}
	/* An uncompressed receiver key works too (the payload's own E is one). */
	memcpy(uncomp, payload, 65);
	assert_int_equal(ecies_public_check(uncomp, 65), 0);
	assert_int_equal(ecies_encrypt(uncomp, 65, (const uint8_t *)"x", 1, payload), 0);
}

static void
test_ecies_refused(void **state)
{
	uint8_t priv[32], other[32], pub[33], opub[33], payload[ECIES_OVERHEAD + 8],
	        bad[ECIES_OVERHEAD + 8];
	uint8_t out[64];
	size_t n = ECIES_OVERHEAD + 8, got = 12345;
	const uint8_t pt[8] = "secret!!";

	(void)state;
	assert_int_equal(ecies_keypair(priv, pub), 0);
	assert_int_equal(ecies_keypair(other, opub), 0);
	assert_int_equal(ecies_encrypt(pub, 33, pt, 8, payload), 0);

	/* wrong private key */
	assert_int_equal(ecies_decrypt(other, payload, n, out, &got), CF_ECRYPTO);
	assert_int_equal(got, 12345);
	/* tampered tag, nonce, ciphertext */
	size_t spots[] = {65, 65 + 16, ECIES_OVERHEAD, n - 1};
	for (size_t i = 0; i < 4; i++) {
		memcpy(bad, payload, n);
		bad[spots[i]] ^= 1;
		assert_int_equal(ecies_decrypt(priv, bad, n, out, &got), CF_ECRYPTO);
	}
	/* short payloads */
	assert_int_equal(ecies_decrypt(priv, payload, ECIES_OVERHEAD - 1, out, &got), CF_EINVAL);
	assert_int_equal(ecies_decrypt(priv, payload, 0, out, &got), CF_EINVAL);
	/* compressed ephemeral key: E as 33 bytes, then nonce, tag, ct */
	memset(bad, 0, sizeof(bad));
	bad[0] = (payload[64] & 1) ? 0x03 : 0x02;
	memcpy(bad + 1, payload + 1, 32);
	memcpy(bad + 33, payload + 65, n - 65);
	assert_true(ecies_decrypt(priv, bad, n - 32, out, &got) < 0);
	/* a 12-byte nonce layout (E, nonce12, tag, ct) does not verify */
	memcpy(bad, payload, 65);
	memcpy(bad + 65, payload + 65, 12);
	memcpy(bad + 77, payload + 81, n - 81);
	assert_true(ecies_decrypt(priv, bad, n - 4, out, &got) < 0);
	/* tag after the ciphertext */
	memcpy(bad, payload, 81);
	memcpy(bad + 81, payload + 97, 8);
	memcpy(bad + 89, payload + 81, 16);
	assert_int_equal(ecies_decrypt(priv, bad, n, out, &got), CF_ECRYPTO);
	/* E not on the curve */
	memcpy(bad, payload, n);
	bad[40] ^= 1;
	assert_int_equal(ecies_decrypt(priv, bad, n, out, &got), CF_EINVAL);
	/* invalid private keys: zero, and the curve order */
	uint8_t zero[32] = {0}, order[32];
	unhex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", order, 32);
	assert_int_equal(ecies_public_from_private(zero, opub), CF_EINVAL);
	assert_int_equal(ecies_public_from_private(order, opub), CF_EINVAL);
	assert_int_equal(ecies_decrypt(order, payload, n, out, &got), CF_EINVAL);
	/* invalid public keys */
	memset(opub, 0, 33);
	opub[0] = 2;
	assert_int_equal(ecies_public_check(opub, 33), CF_EINVAL);
	assert_int_equal(ecies_public_check(pub, 32), CF_EINVAL);
	assert_int_equal(ecies_encrypt(opub, 33, pt, 8, bad), CF_EINVAL);
	secmem_wipe(priv, sizeof(priv));
	secmem_wipe(other, sizeof(other));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ecies_known_answer),
	        cmocka_unit_test(test_ecies_round_trip),
	        cmocka_unit_test(test_ecies_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
