/* test_approle.c - the pure parts of the AppRole method (approle.h): role
 * names, secret-ID metadata, CIDR subsets, the HMAC of IDs, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/approle/approle.h"
#include "lib/err.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

static void
test_approle_name_normalize(void **state)
{
	char out[APPROLE_NAME_MAX + 1];

	(void)state;
	assert_int_equal(approle_name_normalize("My-App_1", out), 0);
	assert_string_equal(out, "my-app_1");
	assert_int_equal(approle_name_normalize("", out), CF_EINVAL);
	assert_int_equal(approle_name_normalize("a/b", out), CF_EINVAL);
	assert_int_equal(approle_name_normalize("a\nb", out), CF_EINVAL);
}

/* clang-format off */
static const struct {
	const char *json; /* the request's "metadata" value, as JSON */
	int r;
	const char *want; /* the parsed object, as compact sorted JSON */
} meta_vectors[] = {
	{ "null", 0, "{}" },
	{ "\"\"", 0, "{}" },
	{ "\"{\\\"env\\\":\\\"prod\\\"}\"", 0, "{\"env\":\"prod\"}" },
	{ "{\"env\":\"prod\",\"team\":\"a\"}", 0, "{\"env\":\"prod\",\"team\":\"a\"}" },
	{ "\"not json\"", CF_EINVAL, NULL },
	{ "\"[1,2]\"", CF_EINVAL, NULL },
	{ "\"{\\\"n\\\":1}\"", CF_EINVAL, NULL },
	{ "\"{\\\"a\\\":\\\"1\\\",\\\"a\\\":\\\"2\\\"}\"", CF_EINVAL, NULL },
	{ "{\"n\":{\"x\":\"y\"}}", CF_EINVAL, NULL },
	{ "42", CF_EINVAL, NULL },
	{ "[\"a\"]", CF_EINVAL, NULL },
};
/* clang-format on */

static void
test_approle_metadata_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(meta_vectors) / sizeof(meta_vectors[0]); i++) {
		json_t *in = json_loads(meta_vectors[i].json, JSON_DECODE_ANY, NULL), *out = NULL;
		const char *err = NULL;
		int r;

		assert_non_null(in);
		r = approle_metadata_parse(json_is_null(in) ? NULL : in, &out, &err);
		assert_int_equal(r, meta_vectors[i].r);
		if (r == 0) {
			char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
			assert_string_equal(s, meta_vectors[i].want);
			free(s);
			json_decref(out);
		} else {
			assert_non_null(err);
		}
		json_decref(in);
	}
}

static void
test_approle_metadata_too_many_keys(void **state)
{
	json_t *in = json_object(), *out = NULL;
	const char *err = NULL;
	char k[16];

	(void)state;
	for (int i = 0; i <= APPROLE_META_MAX; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(in, k, json_string("v"));
	}
	assert_int_equal(approle_metadata_parse(in, &out, &err), CF_EINVAL);
	json_decref(in);
}

/* clang-format off */
static const struct {
	const char *sub, *super;
	bool ok;
} subset_vectors[] = {
	{ "[]", "[]", true },
	{ "[\"10.0.0.0/8\"]", "[]", true },
	{ "[\"10.1.0.0/16\"]", "[\"10.0.0.0/8\"]", true },
	{ "[\"10.1.2.3\"]", "[\"10.0.0.0/8\"]", true },
	{ "[\"10.0.0.0/8\"]", "[\"10.0.0.0/8\"]", true },
	{ "[\"10.0.0.0/7\"]", "[\"10.0.0.0/8\"]", false },
	{ "[\"11.0.0.0/16\"]", "[\"10.0.0.0/8\"]", false },
	{ "[\"10.1.0.0/16\",\"192.168.1.0/24\"]", "[\"10.0.0.0/8\",\"192.168.0.0/16\"]", true },
	{ "[\"10.1.0.0/16\",\"192.169.1.0/24\"]", "[\"10.0.0.0/8\",\"192.168.0.0/16\"]", false },
	{ "[\"127.0.0.1/32\"]", "[\"127.0.0.0/8\"]", true },
	{ "[\"2001:db8:1::/48\"]", "[\"2001:db8::/32\"]", true },
	{ "[\"2001:db9::/48\"]", "[\"2001:db8::/32\"]", false },
	{ "[\"10.0.0.0/8\"]", "[\"::/0\"]", false },
	{ "[\"garbage\"]", "[\"0.0.0.0/0\"]", false },
	{ "[\"10.0.0.0/12\"]", "[\"10.0.0.0/12\"]", true },
	{ "[\"10.16.0.0/12\"]", "[\"10.0.0.0/12\"]", false },
};
/* clang-format on */

static void
test_approle_cidr_subset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(subset_vectors) / sizeof(subset_vectors[0]); i++) {
		json_t *sub = json_loads(subset_vectors[i].sub, 0, NULL);
		json_t *super = json_loads(subset_vectors[i].super, 0, NULL);

		assert_non_null(sub);
		assert_non_null(super);
		if (approle_cidr_subset(sub, super) != subset_vectors[i].ok)
			fail_msg("vector %zu: %s in %s", i, subset_vectors[i].sub,
			         subset_vectors[i].super);
		json_decref(sub);
		json_decref(super);
	}
}

static void
test_approle_hmac(void **state)
{
	unsigned char key[APPROLE_KEY_BYTES], key2[APPROLE_KEY_BYTES];
	char out[APPROLE_HMAC_HEX], out2[APPROLE_HMAC_HEX];

	(void)state;
	for (int i = 0; i < APPROLE_KEY_BYTES; i++) {
		key[i] = (unsigned char)i;
		key2[i] = (unsigned char)(i + 1);
	}
	/* python3: hmac.new(bytes(range(32)), b"68da...", hashlib.sha256).hexdigest() */
	approle_hmac(key, "68da2f03-a60b-4a43-9f6d-02910b1a6b01", out);
	assert_string_equal(out,
	                    "e6bba3e13b104083e68300cc6148b2ad5b89839ebf061510329f0b0d48393dd1");
	/* another mount's key gives another hash */
	approle_hmac(key2, "68da2f03-a60b-4a43-9f6d-02910b1a6b01", out2);
	assert_string_not_equal(out, out2);
}

static void
test_approle_expired(void **state)
{
	(void)state;
	assert_false(approle_expired(0, 1000));
	assert_false(approle_expired(2000, 1999));
	assert_true(approle_expired(2000, 2000));
	assert_true(approle_expired(2000, 3000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_approle_name_normalize),
	        cmocka_unit_test(test_approle_metadata_parse),
	        cmocka_unit_test(test_approle_metadata_too_many_keys),
	        cmocka_unit_test(test_approle_cidr_subset),
	        cmocka_unit_test(test_approle_hmac),
	        cmocka_unit_test(test_approle_expired),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
