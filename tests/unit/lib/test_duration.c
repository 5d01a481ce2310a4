/* test_duration.c - Vault/Go duration parsing and formatting (Vault's duration format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"

#include <jansson.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *in;
	int r;
	int64_t secs;
} parse_vectors[] = {
	{ "", 0, 0 },
	{ "0", 0, 0 },
	{ "300", 0, 300 },
	{ "+300", 0, 300 },
	{ "0s", 0, 0 },
	{ "45s", 0, 45 },
	{ "1m", 0, 60 },
	{ "1h30m", 0, 5400 },
	{ "1h30m15s", 0, 5415 },
	{ "72h", 0, 259200 },
	{ "768h", 0, 2764800 },
	{ "1d", 0, 86400 },
	{ "2d12h", 0, 216000 },
	{ "1.5s", 0, 1 },
	{ "1.5h", 0, 5400 },
	{ ".5m", 0, 30 },
	{ "1.m", 0, 60 },
	{ "1500ms", 0, 1 },
	{ "2000000us", 0, 2 },
	{ "3000000000ns", 0, 3 },
	{ "1\xc2\xb5s", 0, 0 },
	{ "1\xce\xbcs", 0, 0 },
	{ "3h25m19s", 0, 12319 },
	{ "1s1s1s", 0, 3 },
	/* the limit, DURATION_MAX_SECS: 100 years of 365 days */
	{ "3153600000", 0, 3153600000LL },
	{ "876000h", 0, 3153600000LL },
	{ "36500d", 0, 3153600000LL },
	{ "875999h59m59.999999999s", 0, 3153599999LL },
	{ "+876000h0s", 0, 3153600000LL },
	/* errors */
	{ "-1", CF_EINVAL, 0 },
	{ "-5s", CF_EINVAL, 0 },
	{ "+", CF_EINVAL, 0 },
	{ "1.5", CF_EINVAL, 0 },
	{ "1h30", CF_EINVAL, 0 },
	{ "s", CF_EINVAL, 0 },
	{ ".s", CF_EINVAL, 0 },
	{ "1x", CF_EINVAL, 0 },
	{ "1hh", CF_EINVAL, 0 },
	{ "1 h", CF_EINVAL, 0 },
	{ " 1h", CF_EINVAL, 0 },
	{ "1h ", CF_EINVAL, 0 },
	{ "abc", CF_EINVAL, 0 },
	{ "1.2.3s", CF_EINVAL, 0 },
	/* past the limit, and past what seconds or nanoseconds can hold */
	{ "3153600001", CF_ERANGE, 0 },
	{ "876000h1ns", CF_ERANGE, 0 },
	{ "876001h", CF_ERANGE, 0 },
	{ "36501d", CF_ERANGE, 0 },
	{ "2200000h", CF_ERANGE, 0 },
	{ "9999999999999h", CF_ERANGE, 0 },
	{ "9223372036854775807", CF_ERANGE, 0 },
	{ "9223372036854775808", CF_ERANGE, 0 },
	{ "18446744073709551616", CF_ERANGE, 0 },
	{ "2562047788015215h30m7s", CF_ERANGE, 0 },
	{ "2562047h47m16.854775808s", CF_ERANGE, 0 },
	{ "438000h438000h1s", CF_ERANGE, 0 },
	{ "99999999999999999999999999999999999h", CF_ERANGE, 0 },
	{ "106751991167300d1d", CF_ERANGE, 0 },
};
/* clang-format on */

static void
test_duration_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_vectors) / sizeof(parse_vectors[0]); i++) {
		int64_t secs = -42;
		int r = duration_parse(parse_vectors[i].in, &secs);
		if (r != parse_vectors[i].r)
			fail_msg("\"%s\": r=%d, want %d", parse_vectors[i].in, r,
			         parse_vectors[i].r);
		if (r == 0 && secs != parse_vectors[i].secs)
			fail_msg("\"%s\": %lld, want %lld", parse_vectors[i].in, (long long)secs,
			         (long long)parse_vectors[i].secs);
		if (r != 0)
			assert_int_equal(secs, -42); /* out-param untouched on failure */
	}
}

static void
test_duration_parse_ns(void **state)
{
	int64_t ns = 0;

	(void)state;
	assert_int_equal(duration_parse_ns("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000);
	assert_int_equal(duration_parse_ns("1ns", &ns), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(duration_parse_ns("1.000000001s", &ns), 0);
	assert_int_equal(ns, 1000000001);
	assert_int_equal(duration_parse_ns("0.1h", &ns), 0);
	assert_int_equal(ns, 360000000000LL);
	assert_int_equal(duration_parse_ns("300", &ns), 0);
	assert_int_equal(ns, 300000000000LL);
	/* The 100-year limit holds in nanoseconds too, far inside an int64. */
	assert_int_equal(duration_parse_ns("876000h", &ns), 0);
	assert_int_equal(ns, DURATION_MAX_SECS * 1000000000LL);
	assert_int_equal(duration_parse_ns("875999h59m59.999999999s", &ns), 0);
	assert_int_equal(ns, DURATION_MAX_SECS * 1000000000LL - 1);
	assert_int_equal(duration_parse_ns("876000h1ns", &ns), CF_ERANGE);
	assert_int_equal(duration_parse_ns("2562047h47m16.854775807s", &ns), CF_ERANGE);
	assert_int_equal(duration_parse_ns("9223372037", &ns), CF_ERANGE);
	assert_int_equal(duration_parse_ns(NULL, &ns), CF_EINVAL);
}

/* clang-format off */
static const struct {
	int64_t secs;
	const char *out;
} format_vectors[] = {
	{ 0, "0s" },
	{ 1, "1s" },
	{ 45, "45s" },
	{ 60, "1m0s" },
	{ 61, "1m1s" },
	{ 3600, "1h0m0s" },
	{ 12319, "3h25m19s" },
	{ 2764800, "768h0m0s" },
	{ -90, "-1m30s" },
	{ INT64_MAX, "2562047788015215h30m7s" },
	{ INT64_MIN, "-2562047788015215h30m8s" },
};
/* clang-format on */

static void
test_duration_format_vectors(void **state)
{
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(format_vectors) / sizeof(format_vectors[0]); i++) {
		duration_format(format_vectors[i].secs, buf, sizeof(buf));
		assert_string_equal(buf, format_vectors[i].out);
	}
}

static void
test_duration_format_truncates(void **state)
{
	char buf[4] = "xxx";

	(void)state;
	duration_format(12319, buf, sizeof(buf));
	assert_string_equal(buf, "3h2");
	duration_format(12319, buf, 0); /* nothing written */
	assert_string_equal(buf, "3h2");
}

static void
test_duration_roundtrip(void **state)
{
	static const int64_t v[] = {0,
	                            1,
	                            59,
	                            60,
	                            3599,
	                            3600,
	                            86399,
	                            2764800,
	                            31536000,
	                            DURATION_MAX_SECS - 1,
	                            DURATION_MAX_SECS};
	char buf[64];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		duration_format(v[i], buf, sizeof(buf));
		assert_int_equal(duration_parse(buf, &back), 0);
		assert_int_equal(back, v[i]);
	}
}

static void
test_duration_check(void **state)
{
	(void)state;
	assert_int_equal(duration_check(0), 0);
	assert_int_equal(duration_check(DURATION_MAX_SECS), 0);
	assert_int_equal(duration_check(DURATION_MAX_SECS + 1), CF_ERANGE);
	assert_int_equal(duration_check(INT64_MAX), CF_ERANGE);
	assert_int_equal(duration_check(-1), CF_EINVAL);
	assert_int_equal(duration_check(INT64_MIN), CF_EINVAL);
	assert_non_null(strstr(duration_strerror(CF_ERANGE), DURATION_MAX_TEXT));
	assert_non_null(strstr(duration_strerror(CF_EINVAL), "not a duration"));
}

/* Formatting still covers every int64 (stored values predating the limit),
 * but past the limit the text no longer parses. */
static void
test_duration_format_beyond_limit(void **state)
{
	char buf[64];
	int64_t back = -42;

	(void)state;
	duration_format(DURATION_MAX_SECS + 1, buf, sizeof(buf));
	assert_string_equal(buf, "876000h0m1s");
	assert_int_equal(duration_parse(buf, &back), CF_ERANGE);
	assert_int_equal(back, -42);
}

/* Request parameters: numbers are checked as strictly as strings. */
static void
test_duration_jsonx_numbers(void **state)
{
	/* clang-format off */
	static const struct {
		const char *json;
		int r;
		int64_t secs;
	} v[] = {
		{ "{\"t\": 0}", 0, 0 },
		{ "{\"t\": 3153600000}", 0, 3153600000LL },
		{ "{\"t\": 3153600000.9}", 0, 3153600000LL },
		{ "{\"t\": 1.5}", 0, 1 },
		{ "{\"t\": \"876000h\"}", 0, 3153600000LL },
		{ "{\"t\": 3153600001}", CF_ERANGE, 0 },
		{ "{\"t\": 3153600001.0}", CF_ERANGE, 0 },
		{ "{\"t\": 9223372036854775807}", CF_ERANGE, 0 },
		{ "{\"t\": 1e300}", CF_ERANGE, 0 },
		{ "{\"t\": 9.3e18}", CF_ERANGE, 0 },
		{ "{\"t\": \"2200000h\"}", CF_ERANGE, 0 },
		{ "{\"t\": -1}", CF_EINVAL, 0 },
		{ "{\"t\": -9223372036854775808}", CF_EINVAL, 0 },
		{ "{\"t\": -0.5}", CF_EINVAL, 0 },
		{ "{\"t\": -1e300}", CF_EINVAL, 0 },
		{ "{\"t\": true}", CF_EINVAL, 0 },
		{ "{\"t\": \"-1h\"}", CF_EINVAL, 0 },
		{ "{\"t\": null}", CF_ENOTFOUND, 0 },
		{ "{}", CF_ENOTFOUND, 0 },
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *o = json_loads(v[i].json, 0, NULL);
		int64_t secs = -42;
		int r;

		assert_non_null(o);
		r = jsonx_duration(o, "t", &secs);
		if (r != v[i].r)
			fail_msg("%s: r=%d, want %d", v[i].json, r, v[i].r);
		assert_int_equal(secs, r == 0 ? v[i].secs : -42);
		json_decref(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_duration_parse_vectors),
	        cmocka_unit_test(test_duration_parse_ns),
	        cmocka_unit_test(test_duration_format_vectors),
	        cmocka_unit_test(test_duration_format_truncates),
	        cmocka_unit_test(test_duration_roundtrip),
	        cmocka_unit_test(test_duration_check),
	        cmocka_unit_test(test_duration_format_beyond_limit),
	        cmocka_unit_test(test_duration_jsonx_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
