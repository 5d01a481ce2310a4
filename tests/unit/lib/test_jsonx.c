/* test_jsonx.c - request parameters with Vault's weak typing: each getter on
 * good values, on absent and null keys, and on values of the wrong type;
 * durations at their limit; lists and policy lists normalized; maps rendered
 * to strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* Parses a JSON object literal; fails the test on a typo in the vectors. */
static json_t *
obj(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, JSON_DECODE_ANY, &e);

	if (!o)
		fail_msg("bad vector %s: %s", text, e.text);
	return o;
}

/* Compares an array of strings with its compact JSON text. */
static void
assert_json_text(json_t *v, const char *want)
{
	char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* clang-format off */
static const struct {
	const char *body;
	int r;
	const char *want;
} str_vectors[] = {
	{ "{\"k\":\"v\"}", 0, "v" },
	{ "{\"k\":\"\"}", 0, "" },
	{ "{}", CF_ENOTFOUND, NULL },
	{ "{\"k\":null}", CF_ENOTFOUND, NULL },
	{ "{\"other\":\"v\"}", CF_ENOTFOUND, NULL },
	{ "{\"k\":5}", CF_EINVAL, NULL },
	{ "{\"k\":true}", CF_EINVAL, NULL },
	{ "{\"k\":[\"v\"]}", CF_EINVAL, NULL },
	{ "{\"k\":{}}", CF_EINVAL, NULL },
	{ "[\"k\"]", CF_ENOTFOUND, NULL }, /* not an object */
};

static const struct {
	const char *body;
	int r;
	int64_t want;
} int_vectors[] = {
	{ "{\"k\":42}", 0, 42 },
	{ "{\"k\":-7}", 0, -7 },
	{ "{\"k\":0}", 0, 0 },
	{ "{\"k\":9007199254740993}", 0, 9007199254740993LL },
	{ "{\"k\":3.0}", 0, 3 },
	{ "{\"k\":3.5}", CF_EINVAL, 0 },
	{ "{\"k\":\"12\"}", 0, 12 },
	{ "{\"k\":\"-12\"}", 0, -12 },
	{ "{\"k\":\"\"}", 0, 0 },
	{ "{\"k\":\"12x\"}", CF_EINVAL, 0 },
	{ "{\"k\":\"0x10\"}", CF_EINVAL, 0 },
	{ "{\"k\":\"99999999999999999999\"}", CF_EINVAL, 0 },
	{ "{\"k\":true}", CF_EINVAL, 0 },
	{ "{\"k\":[1]}", CF_EINVAL, 0 },
	{ "{\"k\":null}", CF_ENOTFOUND, 0 },
	{ "{}", CF_ENOTFOUND, 0 },
};

static const struct {
	const char *body;
	int r;
	bool want;
} bool_vectors[] = {
	{ "{\"k\":true}", 0, true },
	{ "{\"k\":false}", 0, false },
	{ "{\"k\":1}", 0, true },
	{ "{\"k\":0}", 0, false },
	{ "{\"k\":\"true\"}", 0, true },
	{ "{\"k\":\"T\"}", 0, true },
	{ "{\"k\":\"1\"}", 0, true },
	{ "{\"k\":\"False\"}", 0, false },
	{ "{\"k\":\"f\"}", 0, false },
	{ "{\"k\":2}", CF_EINVAL, false },
	{ "{\"k\":-1}", CF_EINVAL, false },
	{ "{\"k\":\"yes\"}", CF_EINVAL, false },
	{ "{\"k\":\"tRUE\"}", CF_EINVAL, false },
	{ "{\"k\":\"\"}", CF_EINVAL, false },
	{ "{\"k\":1.0}", CF_EINVAL, false },
	{ "{\"k\":[]}", CF_EINVAL, false },
	{ "{\"k\":null}", CF_ENOTFOUND, false },
	{ "{}", CF_ENOTFOUND, false },
};

static const struct {
	const char *body;
	int r;
	int64_t want;
} duration_vectors[] = {
	{ "{\"k\":300}", 0, 300 },
	{ "{\"k\":0}", 0, 0 },
	{ "{\"k\":\"1h\"}", 0, 3600 },
	{ "{\"k\":\"90\"}", 0, 90 },
	{ "{\"k\":\"1h30m\"}", 0, 5400 },
	{ "{\"k\":\"\"}", 0, 0 },
	{ "{\"k\":2.9}", 0, 2 },
	{ "{\"k\":3153600000}", 0, DURATION_MAX_SECS },
	{ "{\"k\":\"876000h\"}", 0, DURATION_MAX_SECS },
	{ "{\"k\":3153600001}", CF_ERANGE, 0 },
	{ "{\"k\":\"876001h\"}", CF_ERANGE, 0 },
	{ "{\"k\":1e300}", CF_ERANGE, 0 },
	{ "{\"k\":-1}", CF_EINVAL, 0 },
	{ "{\"k\":-0.5}", CF_EINVAL, 0 },
	{ "{\"k\":\"-5s\"}", CF_EINVAL, 0 },
	{ "{\"k\":\"soon\"}", CF_EINVAL, 0 },
	{ "{\"k\":true}", CF_EINVAL, 0 },
	{ "{\"k\":[60]}", CF_EINVAL, 0 },
	{ "{\"k\":null}", CF_ENOTFOUND, 0 },
};

static const struct {
	const char *body;
	int r;
	const char *want;	/* compact JSON */
} strlist_vectors[] = {
	{ "{\"k\":\"a,b,c\"}", 0, "[\"a\",\"b\",\"c\"]" },
	{ "{\"k\":\" a , b ,,c, \"}", 0, "[\"a\",\"b\",\"c\"]" },
	{ "{\"k\":\"\"}", 0, "[]" },
	{ "{\"k\":\",,\"}", 0, "[]" },
	{ "{\"k\":\"B,a,B\"}", 0, "[\"B\",\"a\",\"B\"]" },	/* order and case kept */
	{ "{\"k\":[\" x \",\"y\",\"\"]}", 0, "[\"x\",\"y\"]" },
	{ "{\"k\":[]}", 0, "[]" },
	{ "{\"k\":[\"a,b\"]}", 0, "[\"a,b\"]" },	/* array items are not split */
	{ "{\"k\":[\"a\",1]}", CF_EINVAL, NULL },
	{ "{\"k\":5}", CF_EINVAL, NULL },
	{ "{\"k\":{\"a\":\"b\"}}", CF_EINVAL, NULL },
	{ "{\"k\":null}", CF_ENOTFOUND, NULL },
	{ "{}", CF_ENOTFOUND, NULL },
};

static const struct {
	const char *body;
	int r;
	const char *want;
} policylist_vectors[] = {
	{ "{\"k\":\"B,a,b, A \"}", 0, "[\"a\",\"b\"]" },
	{ "{\"k\":[\"Dev\",\"default\",\"dev\",\" \"]}", 0, "[\"default\",\"dev\"]" },
	{ "{\"k\":\"root\"}", 0, "[\"root\"]" },
	{ "{\"k\":\"\"}", 0, "[]" },
	{ "{\"k\":[true]}", CF_EINVAL, NULL },
	{ "{\"k\":null}", CF_ENOTFOUND, NULL },
};

static const struct {
	const char *body;
	int r;
	const char *want;
} strmap_vectors[] = {
	{ "{\"k\":{\"a\":\"x\"}}", 0, "{\"a\":\"x\"}" },
	{ "{\"k\":{\"n\":5,\"b\":true,\"z\":null,\"o\":{\"p\":1},\"l\":[1,\"2\"]}}", 0,
	  "{\"n\":\"5\",\"b\":\"true\",\"z\":\"null\",\"o\":\"{\\\"p\\\":1}\",\"l\":\"[1,\\\"2\\\"]\"}" },
	{ "{\"k\":{}}", 0, "{}" },
	{ "{\"k\":\"a=b\"}", CF_EINVAL, NULL },
	{ "{\"k\":[\"a\"]}", CF_EINVAL, NULL },
	{ "{\"k\":null}", CF_ENOTFOUND, NULL },
	{ "{}", CF_ENOTFOUND, NULL },
};
/* clang-format on */

#define N(v) (sizeof(v) / sizeof((v)[0]))

static void
test_jsonx_str(void **state)
{
	for (size_t i = 0; i < N(str_vectors); i++) {
		json_t *o = obj(str_vectors[i].body);
		const char *got = "untouched";
		int r = jsonx_str(o, "k", &got);

		if (r != str_vectors[i].r)
			fail_msg("%s: got %d, want %d", str_vectors[i].body, r, str_vectors[i].r);
		if (r == 0)
			assert_string_equal(got, str_vectors[i].want);
		else
			assert_string_equal(got, "untouched");
		json_decref(o);
	}
	assert_int_equal(jsonx_str(NULL, "k", &(const char *){NULL}), CF_ENOTFOUND);
}

static void
test_jsonx_int(void **state)
{
	for (size_t i = 0; i < N(int_vectors); i++) {
		json_t *o = obj(int_vectors[i].body);
		int64_t got = -99;
		int r = jsonx_int(o, "k", &got);

		if (r != int_vectors[i].r)
			fail_msg("%s: got %d, want %d", int_vectors[i].body, r, int_vectors[i].r);
		if (r == 0 && got != int_vectors[i].want)
			fail_msg("%s: got %lld", int_vectors[i].body, (long long)got);
		if (r == CF_ENOTFOUND)
			assert_int_equal(got, -99);
		json_decref(o);
	}
}

static void
test_jsonx_bool(void **state)
{
	for (size_t i = 0; i < N(bool_vectors); i++) {
		json_t *o = obj(bool_vectors[i].body);
		bool got = !bool_vectors[i].want;
		int r = jsonx_bool(o, "k", &got);

		if (r != bool_vectors[i].r)
			fail_msg("%s: got %d, want %d", bool_vectors[i].body, r, bool_vectors[i].r);
		if (r == 0 && got != bool_vectors[i].want)
			fail_msg("%s: got %d", bool_vectors[i].body, got);
		json_decref(o);
	}
}

static void
test_jsonx_duration(void **state)
{
	for (size_t i = 0; i < N(duration_vectors); i++) {
		json_t *o = obj(duration_vectors[i].body);
		int64_t got = -99;
		int r = jsonx_duration(o, "k", &got);

		if (r != duration_vectors[i].r)
			fail_msg("%s: got %d, want %d", duration_vectors[i].body, r,
			         duration_vectors[i].r);
		if (r == 0 && got != duration_vectors[i].want)
			fail_msg("%s: got %lld", duration_vectors[i].body, (long long)got);
		if (r < 0)
			assert_int_equal(got, -99);
		json_decref(o);
	}
}

/* The getters that return a new array or object: the compact JSON of what they
 * return, and nothing returned on an error. */
static void
run_new_ref_vectors(int (*fn)(json_t *, const char *, json_t **), const char *name,
                    const char *body, int want_r, const char *want)
{
	json_t *o = obj(body), *got = NULL;
	int r = fn(o, "k", &got);

	if (r != want_r)
		fail_msg("%s %s: got %d, want %d", name, body, r, want_r);
	if (r == 0) {
		assert_json_text(got, want);
		assert_int_equal(got->refcount, 1);
		json_decref(got);
	} else {
		assert_null(got);
	}
	json_decref(o);
}

static void
test_jsonx_strlist(void **state)
{
	for (size_t i = 0; i < N(strlist_vectors); i++)
		run_new_ref_vectors(jsonx_strlist, "strlist", strlist_vectors[i].body,
		                    strlist_vectors[i].r, strlist_vectors[i].want);
}

static void
test_jsonx_policylist(void **state)
{
	for (size_t i = 0; i < N(policylist_vectors); i++)
		run_new_ref_vectors(jsonx_policylist, "policylist", policylist_vectors[i].body,
		                    policylist_vectors[i].r, policylist_vectors[i].want);
}

static void
test_jsonx_strmap(void **state)
{
	for (size_t i = 0; i < N(strmap_vectors); i++)
		run_new_ref_vectors(jsonx_strmap, "strmap", strmap_vectors[i].body,
		                    strmap_vectors[i].r, strmap_vectors[i].want);
}

/* The input array is left as it was; non-strings are skipped. */
static void
test_jsonx_policies_normalize(void **state)
{
	json_t *in = obj("[\"Zeta\",\" alpha \",5,\"ZETA\",\"\",\"beta\"]");
	json_t *out = jsonx_policies_normalize(in);

	assert_non_null(out);
	assert_json_text(out, "[\"alpha\",\"beta\",\"zeta\"]");
	assert_json_text(in, "[\"Zeta\",\" alpha \",5,\"ZETA\",\"\",\"beta\"]");
	json_decref(out);
	json_decref(in);

	in = json_array();
	out = jsonx_policies_normalize(in);
	assert_non_null(out);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	json_decref(in);
}

static void
test_jsonx_array_has(void **state)
{
	json_t *a = obj("[\"default\",7,\"dev\"]");

	assert_true(jsonx_array_has(a, "default"));
	assert_true(jsonx_array_has(a, "dev"));
	assert_false(jsonx_array_has(a, "Dev"));
	assert_false(jsonx_array_has(a, "7"));
	assert_false(jsonx_array_has(a, "de"));
	assert_false(jsonx_array_has(NULL, "dev"));
	json_decref(a);
}

/* The zeroing allocator is installed and jansson's objects still work with it:
 * a string stored and freed comes back intact until it is freed. */
static void
test_jsonx_init_allocator(void **state)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	json_t *s;

	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, malloc);
	assert_ptr_not_equal(f, free);
	s = json_string("s3cret");
	assert_string_equal(json_string_value(s), "s3cret");
	json_decref(s);
}

static int
setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	jsonx_init();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jsonx_str),
	        cmocka_unit_test(test_jsonx_int),
	        cmocka_unit_test(test_jsonx_bool),
	        cmocka_unit_test(test_jsonx_duration),
	        cmocka_unit_test(test_jsonx_strlist),
	        cmocka_unit_test(test_jsonx_policylist),
	        cmocka_unit_test(test_jsonx_strmap),
	        cmocka_unit_test(test_jsonx_policies_normalize),
	        cmocka_unit_test(test_jsonx_array_has),
	        cmocka_unit_test(test_jsonx_init_allocator),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
