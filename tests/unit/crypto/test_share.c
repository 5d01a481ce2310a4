/* test_share.c - unseal share text parsing and share sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/share.h"
#include "lib/err.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* A share of 33 bytes 0x01..0x21 (x = 0x21) and the 32-byte key 0x00..0x1f. */
static void
fill(uint8_t *b, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(first + i);
}

static void
test_share_parse_table(void **state)
{
	static const struct {
		const char *text;
		size_t want;
		int r;
		const char *why; /* substring of the reason when refused */
	} cases[] = {
	        {"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021", 33, 0, NULL},
	        {"0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021", 33, 0, NULL},
	        {"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh", 33, 0, NULL},
	        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 32, 0, NULL},
	        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 32, 0, NULL},
	        {"AAAA", 33, CF_EINVAL, "hex for 2 bytes"},
	        {"AAE=", 33, CF_EINVAL, "decodes to 2 bytes"},
	        {"", 33, CF_EINVAL, "empty"},
	        {"not base64!", 33, CF_EINVAL, "hex or base64"},
	        {"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh", 32, CF_EINVAL, "33"},
	        {"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2000", 33,
	         CF_EINVAL, "x coordinate"},
	        {"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", 33, CF_EINVAL,
	         "hex for 32 bytes"},
	        {"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh\n", 33, CF_EINVAL, "hex or base64"},
	};
	uint8_t out[SHARE_BYTES], want[SHARE_BYTES];
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		memset(out, 0xa5, sizeof(out));
		int r = share_parse(cases[i].text, out, cases[i].want, why, sizeof(why));
		if (r != cases[i].r)
			fail_msg("case %zu (%s): %d, want %d (%s)", i, cases[i].text, r, cases[i].r,
			         why);
		if (r == 0) {
			fill(want, sizeof(want), cases[i].want == 33 ? 1 : 0);
			assert_memory_equal(out, want, cases[i].want);
		} else {
			if (!strstr(why, cases[i].why))
				fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, why,
				         cases[i].why);
			for (size_t j = 0; j < cases[i].want; j++)
				assert_int_equal(out[j], 0); /* wiped */
		}
	}
	assert_int_equal(share_len_for(1), 32);
	assert_int_equal(share_len_for(3), 33);
}

/* The base64 of 33 bytes 0xdd is "3d3d...": hex digits only, but 22 bytes as
 * hex. A share that happens to encode so is still read as base64 (the fuzzer
 * found it: sys/init hands out both forms). */
static void
test_share_parse_base64_of_hex_digits(void **state)
{
	uint8_t share[SHARE_BYTES], out[SHARE_BYTES];
	char b64[64], why[128] = "";

	(void)state;
	memset(share, 0xdd, sizeof(share));
	sodium_bin2base64(b64, sizeof(b64), share, sizeof(share), sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(strspn(b64, "0123456789abcdefABCDEF"), strlen(b64));
	assert_int_equal(share_parse(b64, out, SHARE_BYTES, why, sizeof(why)), 0);
	assert_memory_equal(out, share, SHARE_BYTES);
	/* hex digits that are neither a share in hex nor in base64: the hex reason */
	assert_int_equal(share_parse("3d3d3d3d", out, SHARE_BYTES, why, sizeof(why)), CF_EINVAL);
	assert_non_null(strstr(why, "hex for 4 bytes"));
}

static void
test_share_set_add_and_combine(void **state)
{
	uint8_t key[SHARE_KEY_BYTES], got[SHARE_KEY_BYTES], *sh[5], same_x[SHARE_BYTES];
	struct share_set set = {0};

	(void)state;
	randombytes_buf(key, sizeof(key));
	for (int i = 0; i < 5; i++)
		sh[i] = malloc(SHARE_BYTES);
	assert_int_equal(shamir_split(key, sizeof(key), 5, 3, sh), 0);

	assert_int_equal(share_set_combine(&set, got), CF_EINVAL);
	assert_int_equal(share_set_add(&set, sh[4], SHARE_BYTES), 0);
	assert_int_equal(share_set_add(&set, sh[4], SHARE_BYTES), CF_EEXIST);
	memcpy(same_x, sh[4], SHARE_BYTES);
	same_x[0] ^= 1;
	assert_int_equal(share_set_add(&set, same_x, SHARE_BYTES), CF_EINVAL);
	assert_int_equal(share_set_add(&set, sh[1], SHARE_KEY_BYTES), CF_EINVAL);
	assert_int_equal(set.n, 1);
	assert_int_equal(share_set_add(&set, sh[1], SHARE_BYTES), 0);
	assert_int_equal(share_set_add(&set, sh[2], SHARE_BYTES), 0);
	assert_int_equal(share_set_combine(&set, got), 0);
	assert_memory_equal(got, key, sizeof(key));
	share_set_clear(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.share[0]);

	/* threshold 1: the raw key, alone */
	assert_int_equal(share_set_add(&set, key, SHARE_KEY_BYTES), 0);
	assert_int_equal(share_set_combine(&set, got), 0);
	assert_memory_equal(got, key, sizeof(key));
	share_set_clear(&set);
	for (int i = 0; i < 5; i++)
		free(sh[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_share_parse_table),
	        cmocka_unit_test(test_share_parse_base64_of_hex_digits),
	        cmocka_unit_test(test_share_set_add_and_combine),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
