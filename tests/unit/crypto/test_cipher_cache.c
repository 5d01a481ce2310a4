/* test_cipher_cache.c - the per-thread AEAD contexts (crypto/cipher_cache.h):
 * known answers, round trips for each algorithm, a bad tag, a wipe between
 * operations, and threads that exit (ASan's leak check sees their contexts
 * freed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/cipher_cache.h"
#include "lib/err.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* AES-256-GCM, key and nonce all zeros (the GCM specification's test cases 13
 * and 14). */
static void
test_cipher_cache_known_answer(void **state)
{
	static const uint8_t tag13[16] = {0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
	                                  0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b};
	static const uint8_t ct14[16] = {0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
	                                 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18};
	static const uint8_t tag14[16] = {0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
	                                  0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19};
	uint8_t key[32] = {0}, nonce[12] = {0}, pt[16] = {0}, out[16], tag[16];

	(void)state;
	assert_int_equal(cipher_cache_aead(CIPHER_AES256_GCM, 1, key, nonce, NULL, 0, NULL, 0, out,
	                                   tag, sizeof(tag)),
	                 0);
	assert_memory_equal(tag, tag13, 16);
	assert_int_equal(cipher_cache_aead(CIPHER_AES256_GCM, 1, key, nonce, NULL, 0, pt, 16, out,
	                                   tag, sizeof(tag)),
	                 0);
	assert_memory_equal(out, ct14, 16);
	assert_memory_equal(tag, tag14, 16);
}

static void
round_trip(enum cipher_cache_alg alg)
{
	uint8_t key[32], nonce[12], out[64], back[64], tag[16];
	static const uint8_t aad[] = "logical/path";
	static const char msg[] = "attack at dawn, then again at noon";

	memset(key, 0x42 + (int)alg, sizeof(key));
	memset(nonce, 7, sizeof(nonce));
	assert_int_equal(cipher_cache_aead(alg, 1, key, nonce, aad, sizeof(aad),
	                                   (const uint8_t *)msg, sizeof(msg), out, tag,
	                                   sizeof(tag)),
	                 0);
	assert_memory_not_equal(out, msg, sizeof(msg));
	assert_int_equal(cipher_cache_aead(alg, 0, key, nonce, aad, sizeof(aad), out, sizeof(msg),
	                                   back, tag, sizeof(tag)),
	                 0);
	assert_memory_equal(back, msg, sizeof(msg));
	/* a flipped tag bit, other AAD: CF_ECRYPTO */
	tag[0] ^= 1;
	assert_int_equal(cipher_cache_aead(alg, 0, key, nonce, aad, sizeof(aad), out, sizeof(msg),
	                                   back, tag, sizeof(tag)),
	                 CF_ECRYPTO);
	tag[0] ^= 1;
	assert_int_equal(cipher_cache_aead(alg, 0, key, nonce, aad, sizeof(aad) - 1, out,
	                                   sizeof(msg), back, tag, sizeof(tag)),
	                 CF_ECRYPTO);
}

static void
test_cipher_cache_round_trips(void **state)
{
	(void)state;
	round_trip(CIPHER_AES128_GCM);
	round_trip(CIPHER_AES256_GCM);
	round_trip(CIPHER_CHACHA20_POLY1305);
	/* after a wipe the contexts are set up again */
	cipher_cache_wipe();
	round_trip(CIPHER_AES256_GCM);
	round_trip(CIPHER_CHACHA20_POLY1305);
}

static void
test_cipher_cache_bad_args(void **state)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, out[1], tag[16];

	(void)state;
	assert_int_equal(cipher_cache_aead(CIPHER_CACHE_N, 1, key, nonce, NULL, 0, NULL, 0, out,
	                                   tag, sizeof(tag)),
	                 CF_EINVAL);
	assert_int_equal(
	        cipher_cache_aead(CIPHER_AES256_GCM, 1, key, nonce, NULL, 0, NULL, 0, out, tag, 17),
	        CF_EINVAL);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		round_trip((enum cipher_cache_alg)(i % CIPHER_CACHE_N));
	return NULL;
}

/* Threads use their own contexts while another wipes them all; each exiting
 * thread frees its contexts. */
static void
test_cipher_cache_threads(void **state)
{
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 20; i++)
		cipher_cache_wipe();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cipher_cache_known_answer),
	        cmocka_unit_test(test_cipher_cache_round_trips),
	        cmocka_unit_test(test_cipher_cache_bad_args),
	        cmocka_unit_test(test_cipher_cache_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
