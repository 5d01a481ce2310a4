/* test_util.c - the small helpers of lib/util.h: hex and base64 both ways (bad
 * input refused, nothing returned), SHA-256 on both sides of its libsodium /
 * OpenSSL split, UUIDs and random strings in their alphabets, RFC 3339 times,
 * ParseBool, integers, constant-time string equality and FNV-1a. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#define N(v) (sizeof(v) / sizeof((v)[0]))

static void
test_util_hex(void **state)
{
	static const uint8_t bin[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(bin) + 1];
	uint8_t back[8];
	size_t len = 0;

	util_hex(bin, sizeof(bin), out);
	assert_string_equal(out, "00017f80abff");
	util_hex(bin, 0, out);
	assert_string_equal(out, "");

	assert_int_equal(util_unhex("00017F80abFF", back, sizeof(back), &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(back, bin, sizeof(bin));
	assert_int_equal(util_unhex("", back, sizeof(back), &len), 0);
	assert_int_equal(len, 0);
}

/* Bad hex is refused, the length untouched and the buffer wiped. */
static void
test_util_unhex_refuses(void **state)
{
	static const char *const bad[] = {"abc", "zz", "0g", "00 11", "0x00", "001122334455667788"};

	for (size_t i = 0; i < N(bad); i++) {
		uint8_t out[8];
		size_t len = 12345;

		memset(out, 0x5a, sizeof(out));
		if (util_unhex(bad[i], out, sizeof(out), &len) != CF_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(len, 12345);
	}
	{
		/* a good prefix then a bad digit: the decoded prefix is wiped */
		uint8_t out[4], zero[4] = {0};
		size_t len;
		memset(out, 0x5a, sizeof(out));
		assert_int_equal(util_unhex("aabbccgg", out, sizeof(out), &len), CF_EINVAL);
		assert_memory_equal(out, zero, sizeof(out));
	}
}

static void
test_util_hex_digit(void **state)
{
	static const struct {
		int c, v;
	} v[] = {{'0', 0},  {'9', 9},  {'a', 10}, {'f', 15}, {'A', 10}, {'F', 15},
	         {'g', -1}, {'G', -1}, {'/', -1}, {':', -1}, {' ', -1}, {0, -1}};

	for (size_t i = 0; i < N(v); i++)
		assert_int_equal(util_hex_digit(v[i].c), v[i].v);
}

/* RFC 4648 test vectors, both ways. */
static void
test_util_base64(void **state)
{
	/* clang-format off */
	static const struct {
		const char *bin, *b64;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	/* clang-format on */
	for (size_t i = 0; i < N(v); i++) {
		char *enc = util_b64_encode(v[i].bin, strlen(v[i].bin));
		uint8_t *dec = NULL;
		size_t len = 0;

		assert_non_null(enc);
		assert_string_equal(enc, v[i].b64);
		free(enc);
		assert_int_equal(util_b64_decode(v[i].b64, &dec, &len), 0);
		assert_int_equal(len, strlen(v[i].bin));
		assert_memory_equal(dec, v[i].bin, len);
		secmem_free(dec, len);
	}
	{
		/* padding is optional; binary bytes survive */
		static const uint8_t bin[] = {0xfb, 0xff, 0x00, 0x10};
		uint8_t *dec = NULL;
		size_t len = 0;
		assert_int_equal(util_b64_decode("+/8AEA", &dec, &len), 0);
		assert_int_equal(len, sizeof(bin));
		assert_memory_equal(dec, bin, sizeof(bin));
		secmem_free(dec, len);
	}
}

static void
test_util_base64_refuses(void **state)
{
	/* URL-safe alphabet, stray characters, bad padding, a trailing NUL-free tail */
	static const char *const bad[] = {
	        "Zm9v!", "Zm-_", "Zg=", "Z===", "Zm9vYg==Zg==", "Zm9v Yg==", "=Zm9v"};

	for (size_t i = 0; i < N(bad); i++) {
		uint8_t *dec = (uint8_t *)"untouched";
		size_t len = 7;

		if (util_b64_decode(bad[i], &dec, &len) != CF_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_string_equal((char *)dec, "untouched");
		assert_int_equal(len, 7);
	}
}

/* FIPS 180-2 vectors; the long one crosses to OpenSSL (inputs over 256 bytes). */
static void
test_util_sha256_hex(void **state)
{
	char out[65];
	char *million = malloc(1000000);

	util_sha256_hex("", 0, out);
	assert_string_equal(out,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	util_sha256_hex("abc", 3, out);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	util_sha256_hex(million, 1000000, out);
	assert_string_equal(out,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* past the split (OpenSSL) the digest is libsodium's too */
	{
		uint8_t md[crypto_hash_sha256_BYTES];
		char want[65];
		crypto_hash_sha256(md, (const uint8_t *)million, 300);
		util_hex(md, sizeof(md), want);
		util_sha256_hex(million, 300, out);
		assert_string_equal(out, want);
	}
	free(million);
}

static void
assert_uuid_v4(const char *u)
{
	assert_int_equal(strlen(u), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(u[i], '-');
		else
			assert_true(strchr("0123456789abcdef", u[i]) != NULL);
	}
	assert_int_equal(u[14], '4');               /* version 4 */
	assert_true(strchr("89ab", u[19]) != NULL); /* RFC 4122 variant */
}

static void
test_util_uuid(void **state)
{
	char a[37], b[37];

	util_uuid(a);
	util_uuid(b);
	assert_uuid_v4(a);
	assert_uuid_v4(b);
	assert_string_not_equal(a, b);
	/* request IDs: the same shape; 200 in a row (more than one batch) all differ */
	{
		static char ids[200][37];
		for (int i = 0; i < 200; i++) {
			util_request_id(ids[i]);
			assert_uuid_v4(ids[i]);
			for (int j = 0; j < i; j++)
				assert_string_not_equal(ids[i], ids[j]);
		}
	}
}

static void
test_util_random(void **state)
{
	char s[65];
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

	util_random_base62(s, 64);
	assert_int_equal(strlen(s), 64);
	for (int i = 0; i < 64; i++)
		assert_true(strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		                   s[i]) != NULL);
	util_random_base62(s, 0);
	assert_string_equal(s, "");
	util_random(a, sizeof(a));
	util_random(b, sizeof(b));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_util_rfc3339(void **state)
{
	/* clang-format off */
	static const struct {
		int64_t ns;
		const char *text;
	} v[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z" },
		{ 1521685446945319214LL, "2018-03-22T02:24:06.945319214Z" },
		{ 951782400000000001LL, "2000-02-29T00:00:00.000000001Z" },
		{ 4102444799999999999LL, "2099-12-31T23:59:59.999999999Z" },
	};
	/* clang-format on */
	for (size_t i = 0; i < N(v); i++) {
		char out[40];
		int64_t back = -1;

		util_rfc3339(v[i].ns, out, sizeof(out));
		assert_string_equal(out, v[i].text);
		assert_int_equal(util_parse_rfc3339(out, &back), 0);
		assert_int_equal(back, v[i].ns);
	}
}

static void
test_util_parse_rfc3339(void **state)
{
	/* clang-format off */
	static const struct {
		const char *text;
		int r;
		int64_t ns;
	} v[] = {
		{ "2018-03-22T02:24:06Z", 0, 1521685446000000000LL },
		{ "2018-03-22T02:24:06.5Z", 0, 1521685446500000000LL },
		{ "2018-03-22T02:24:06.1234567891Z", 0, 1521685446123456789LL },	/* digits past 9 dropped */
		{ "2018-03-22T02:24:06", CF_EINVAL, 0 },
		{ "2018-03-22T02:24:06+01:00", CF_EINVAL, 0 },
		{ "2018-03-22 02:24:06Z", CF_EINVAL, 0 },
		{ "2018-03-22T02:24:06ZZ", CF_EINVAL, 0 },
		{ "yesterday", CF_EINVAL, 0 },
		{ "", CF_EINVAL, 0 },
	};
	/* clang-format on */
	for (size_t i = 0; i < N(v); i++) {
		int64_t ns = -1;
		int r = util_parse_rfc3339(v[i].text, &ns);

		if (r != v[i].r)
			fail_msg("\"%s\": got %d, want %d", v[i].text, r, v[i].r);
		if (r == 0 && ns != v[i].ns)
			fail_msg("\"%s\": got %lld", v[i].text, (long long)ns);
		if (r < 0)
			assert_int_equal(ns, -1);
	}
}

/* Go's strconv.ParseBool, exactly: nothing else is a boolean. */
static void
test_util_parse_bool(void **state)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	static const char *const bad[] = {"",  "yes",   "no",    "on", "tRUE",
	                                  "2", " true", "true ", "01"};
	bool b;

	for (size_t i = 0; i < N(yes); i++) {
		b = false;
		assert_int_equal(util_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < N(no); i++) {
		b = true;
		assert_int_equal(util_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < N(bad); i++) {
		b = true;
		if (util_parse_bool(bad[i], &b) != CF_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(b);
	}
}

static void
test_util_parse_int(void **state)
{
	/* clang-format off */
	static const struct {
		const char *text;
		int r;
		int64_t v;
	} v[] = {
		{ "0", 0, 0 }, { "42", 0, 42 }, { "-42", 0, -42 }, { "+7", 0, 7 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", CF_EINVAL, 0 },
		{ "", CF_EINVAL, 0 }, { "12a", CF_EINVAL, 0 }, { "1.5", CF_EINVAL, 0 },
		{ "0x10", CF_EINVAL, 0 }, { "1 ", CF_EINVAL, 0 }, { "-", CF_EINVAL, 0 },
	};
	/* clang-format on */
	for (size_t i = 0; i < N(v); i++) {
		int64_t got = -99;
		int r = util_parse_int(v[i].text, &got);

		if (r != v[i].r)
			fail_msg("\"%s\": got %d, want %d", v[i].text, r, v[i].r);
		if (r == 0 && got != v[i].v)
			fail_msg("\"%s\": got %lld", v[i].text, (long long)got);
		if (r < 0)
			assert_int_equal(got, -99);
	}
	assert_int_equal(util_parse_int(NULL, &(int64_t){0}), CF_EINVAL);
}

static void
test_util_streq_ct(void **state)
{
	assert_true(util_streq_ct("", ""));
	assert_true(util_streq_ct("hvs.secret", "hvs.secret"));
	assert_false(util_streq_ct("hvs.secret", "hvs.secreT"));
	assert_false(util_streq_ct("hvs.secret", "hvs.secre"));
	assert_false(util_streq_ct("a", ""));
}

/* Published FNV-1a 32-bit values; the string form agrees with the byte form. */
static void
test_util_fnv1a(void **state)
{
	assert_int_equal(util_fnv1a_str(""), 0x811c9dc5u);
	assert_int_equal(util_fnv1a_str("a"), 0xe40c292cu);
	assert_int_equal(util_fnv1a_str("foobar"), 0xbf9cf968u);
	assert_int_equal(util_fnv1a(UTIL_FNV1A_INIT, "foobar", 6), 0xbf9cf968u);
	/* continuing a hash is hashing the concatenation */
	assert_int_equal(util_fnv1a(util_fnv1a(UTIL_FNV1A_INIT, "foo", 3), "bar", 3), 0xbf9cf968u);
}

static void
test_util_clocks(void **state)
{
	int64_t ns = util_now_ns(), s = util_now();
	int64_t m1 = util_mono_ns(), m2 = util_mono_ns();

	/* 2020-01-01 < now; the two wall clocks agree within a second */
	assert_true(ns > 1577836800LL * 1000000000LL);
	assert_true(ns / 1000000000LL - s <= 1 && s - ns / 1000000000LL <= 1);
	assert_true(m2 >= m1);
}

/* Test builds (make unit uses build-test) read the hooks from the environment. */
static void
test_util_test_hook(void **state)
{
	assert_int_equal(setenv("COFFER_TEST_UTIL_HOOK", "7", 1), 0);
#ifdef COFFER_TEST_HOOKS
	assert_string_equal(util_test_hook("COFFER_TEST_UTIL_HOOK"), "7");
#else
	assert_null(util_test_hook("COFFER_TEST_UTIL_HOOK"));
#endif
	assert_null(util_test_hook("COFFER_TEST_UTIL_HOOK_UNSET"));
	unsetenv("COFFER_TEST_UTIL_HOOK");
}

static int
setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* util_read_file: the whole file, NUL-terminated; missing, too large and
 * unreadable files each with their own code and the path in the message. */
static void
test_util_read_file(void **state)
{
	char dir[] = "/tmp/cf-test-util-XXXXXX", path[128], err[256], *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/f", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < 10000; i++)
		fputc('a' + i % 26, f);
	fclose(f);

	assert_int_equal(util_read_file(path, 10000, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 10000);
	assert_int_equal(text[len], '\0');
	assert_int_equal(text[9999], 'a' + 9999 % 26);
	free(text);

	assert_int_equal(util_read_file(path, 9999, &text, &len, err, sizeof(err)), CF_ETOOBIG);
	assert_null(text);
	assert_non_null(strstr(err, path));

	(void)snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(util_read_file(path, 100, &text, &len, err, sizeof(err)), CF_ENOTFOUND);
	assert_null(text);
	assert_non_null(strstr(err, "missing"));

	assert_int_equal(util_read_file(dir, 100, &text, &len, err, sizeof(err)), CF_EIO);
	assert_null(text);

	(void)snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_util_hex),
	        cmocka_unit_test(test_util_unhex_refuses),
	        cmocka_unit_test(test_util_hex_digit),
	        cmocka_unit_test(test_util_base64),
	        cmocka_unit_test(test_util_base64_refuses),
	        cmocka_unit_test(test_util_sha256_hex),
	        cmocka_unit_test(test_util_uuid),
	        cmocka_unit_test(test_util_random),
	        cmocka_unit_test(test_util_rfc3339),
	        cmocka_unit_test(test_util_parse_rfc3339),
	        cmocka_unit_test(test_util_parse_bool),
	        cmocka_unit_test(test_util_parse_int),
	        cmocka_unit_test(test_util_streq_ct),
	        cmocka_unit_test(test_util_fnv1a),
	        cmocka_unit_test(test_util_clocks),
	        cmocka_unit_test(test_util_test_hook),
	        cmocka_unit_test(test_util_read_file),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
