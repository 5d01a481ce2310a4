/* test_http.c - path normalization, body decoding and the response envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/request.h"
#include "http/http.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

static void
test_http_path_normalize_table(void **state)
{
	static const struct {
		const char *in;
		int r;
		const char *out;
	} cases[] = {
	        {"/v1/secret/data/app", 0, "secret/data/app"},
	        {"/v1/secret//data///app", 0, "secret/data/app"},
	        {"/v1//secret/data/app/", 0, "secret/data/app/"},
	        {"/v1/secret/metadata/", 0, "secret/metadata/"},
	        {"/v1/sys/health", 0, "sys/health"},
	        {"/v1/secret/data/app/../other", CF_EINVAL, NULL},
	        {"/v1/../sys/seal", CF_EINVAL, NULL},
	        {"/v1/secret/./data", CF_EINVAL, NULL},
	        {"/v1/secret/data/a\\b", CF_EINVAL, NULL},
	        {"/v1/secret/data/a\tb", CF_EINVAL, NULL},
	        {"/v1/secret/data/..", CF_EINVAL, NULL},
	        {"/v1/secret/data/...", 0, "secret/data/..."},
	        {"/v1/", CF_ENOROUTE, NULL},
	        {"/v1//", CF_ENOROUTE, NULL},
	        {"/v2/secret", CF_ENOROUTE, NULL},
	        {"/secret", CF_ENOROUTE, NULL},
	        {"", CF_ENOROUTE, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		int r = http_path_normalize(cases[i].in, &out);
		if (r != cases[i].r)
			fail_msg("%s: got %d, want %d", cases[i].in, r, cases[i].r);
		if (r == 0) {
			assert_string_equal(out, cases[i].out);
			free(out);
		}
	}
}

static void
test_http_path_normalize_limits(void **state)
{
	char *big = malloc(HTTP_MAX_PATH + 16), *out = NULL;
	size_t n = 4;

	memcpy(big, "/v1/", 4);
	while (n < HTTP_MAX_PATH + 8)
		big[n++] = 'a';
	big[n] = '\0';
	assert_int_equal(http_path_normalize(big, &out), CF_EINVAL);
	/* too many segments */
	n = 4;
	for (int i = 0; i < HTTP_MAX_SEGMENTS + 2; i++) {
		big[n++] = 'a';
		big[n++] = '/';
	}
	big[n] = '\0';
	assert_int_equal(http_path_normalize(big, &out), CF_EINVAL);
	free(big);
}

static void
test_http_json_decode(void **state)
{
	char err[256];
	json_t *j = NULL;

	assert_int_equal(http_json_decode("", 0, &j, err, sizeof(err)), 0);
	assert_true(json_is_object(j) && json_object_size(j) == 0);
	json_decref(j);
	assert_int_equal(http_json_decode("null", 4, &j, err, sizeof(err)), 0);
	assert_true(json_is_object(j));
	json_decref(j);
	assert_int_equal(http_json_decode("{\"a\":1}", 7, &j, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	assert_int_equal(http_json_decode("{\"a\":", 5, &j, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "failed to parse JSON"));
	assert_int_equal(http_json_decode("[1,2]", 5, &j, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "object"));
	assert_int_equal(http_json_decode("{\"a\":1,\"a\":2}", 13, &j, err, sizeof(err)),
	                 CF_EINVAL);
}

static void
test_http_render_envelope(void **state)
{
	struct request rq = {0};
	struct response rs = {0};
	char *body;
	size_t len;
	json_t *j;

	memcpy(rq.id, "00000000-0000-4000-8000-000000000000", 37);
	rs.status = 200;
	rs.data = json_pack("{s:s}", "k", "v");
	rs.sys_inject = true;
	assert_int_equal(http_render(&rq, &rs, &body, &len), 0);
	j = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "k")),
	                    "v");
	assert_string_equal(json_string_value(json_object_get(j, "k")), "v"); /* injected */
	assert_true(json_is_null(json_object_get(j, "auth")));
	assert_string_equal(json_string_value(json_object_get(j, "lease_id")), "");
	json_decref(j);
	free(body);

	rs.status = 404;
	assert_int_equal(http_render(&rq, &rs, &body, &len), 0);
	assert_string_equal(body, "{\"errors\":[]}");
	free(body);

	rs.status = 204;
	assert_int_equal(http_render(&rq, &rs, &body, &len), 0);
	assert_null(body);
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_http_path_normalize_table),
	        cmocka_unit_test(test_http_path_normalize_limits),
	        cmocka_unit_test(test_http_json_decode),
	        cmocka_unit_test(test_http_render_envelope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
