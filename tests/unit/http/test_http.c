/* test_http.c - path normalization, body decoding and the response envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/request.h"
#include "http/http.h"
#include "lib/err.h"
#include "lib/path.h"

#include <stdlib.h>
#include <string.h>

static void
test_http_path_normalize_table(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		int r;
		const char *out;
	} cases[] = {
	        {"/v1/secret/data/app", 0, 0, "secret/data/app"},
	        {"/v1/secret//data///app", 0, 0, "secret/data/app"},
	        {"/v1//secret/data/app/", 0, 0, "secret/data/app/"},
	        {"/v1/secret/metadata/", 0, 0, "secret/metadata/"},
	        {"/v1/sys/health", 0, 0, "sys/health"},
	        {"/v1/secret/data/app/../other", 0, CF_EINVAL, NULL},
	        {"/v1/../sys/seal", 0, CF_EINVAL, NULL},
	        {"/v1/secret/./data", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/a\\b", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/a\tb", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/..", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/...", 0, 0, "secret/data/..."},
	        {"/v1/", 0, CF_ENOROUTE, NULL},
	        {"/v1//", 0, CF_ENOROUTE, NULL},
	        {"/v2/secret", 0, CF_ENOROUTE, NULL},
	        {"/secret", 0, CF_ENOROUTE, NULL},
	        {"", 0, CF_ENOROUTE, NULL},
	        /* percent-decoding happens here, not in MHD */
	        {"/v1/secret/data/%61pp", 0, 0, "secret/data/app"},
	        {"/v1/secret/data/app%2Fx", 0, 0, "secret/data/app/x"},
	        {"/%76%31/sys/health", 0, 0, "sys/health"},
	        {"/v1/secret/data/app/%2e%2e/other", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/50%", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%zz", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/a%00b", 0, CF_EINVAL, NULL},
	        /* UTF-8 */
	        {"/v1/secret/data/caf%c3%a9", 0, 0, "secret/data/caf\xc3\xa9"},
	        {"/v1/secret/data/%f0%9f%94%91", 0, 0, "secret/data/\xf0\x9f\x94\x91"},
	        {"/v1/secret/data/%ff%fe", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%c0%80", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%e0%80%af", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%ed%a0%80", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%f4%90%80%80", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%c3", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%e2%82", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%80", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%7f", 0, CF_EINVAL, NULL},
	        /* \xHH escapes: only where a list writes one */
	        {"/v1/secret/data/%5cxff%5cxfe", 0, 0, "secret/data/\\xff\\xfe"},
	        {"/v1/secret/data/a%5cx5cb", 0, 0, "secret/data/a\\x5cb"},
	        {"/v1/secret/data/%5cx0a", 0, 0, "secret/data/\\x0a"},
	        {"/v1/secret/data/%5cx41", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cx2f", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cx2e%5cx2e", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cxc3%5cxa9", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cxFF", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cx00", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/%5cx", 0, CF_EINVAL, NULL},
	        {"/v1/secret/data/a%5cb", 0, CF_EINVAL, NULL},
	        /* the test hook's legacy mode lets bytes that are not UTF-8 through */
	        {"/v1/secret/data/%ff", PATH_LEGACY_BYTES, 0, "secret/data/\xff"},
	        {"/v1/secret/data/%00", PATH_LEGACY_BYTES, CF_EINVAL, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, err[256] = "";
		int r = http_path_normalize(cases[i].in, cases[i].flags, &out, err, sizeof(err));
		if (r != cases[i].r)
			fail_msg("%s: got %d, want %d", cases[i].in, r, cases[i].r);
		if (r == CF_EINVAL && strncmp(err, "invalid request path: ", 22) != 0)
			fail_msg("%s: message %s", cases[i].in, err);
		if (r == 0) {
			assert_string_equal(out, cases[i].out);
			free(out);
		}
	}
}

/* Each problem is named, and no raw byte of the path is echoed. */
static void
test_http_path_normalize_messages(void **state)
{
	static const struct {
		const char *in;
		const char *says;
	} cases[] = {
	        {"/v1/secret/data/%ff", "never occurs in UTF-8 (byte 0xff)"},
	        {"/v1/secret/data/%c0%80", "overlong"},
	        {"/v1/secret/data/%ed%a0%80", "surrogate"},
	        {"/v1/secret/data/%e2%82", "truncated"},
	        {"/v1/secret/data/a%00b", "NUL"},
	        {"/v1/secret/data/a%01b", "control character (0x01)"},
	        {"/v1/secret/data/%", "'%' not followed by two hex digits"},
	        {"/v1/a/../b", "\"..\" segment"},
	        {"/v1/a/%5cx41", "escape"},
	        {"/v1/a/b%5cc", "backslash"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, err[256] = "";
		assert_int_equal(http_path_normalize(cases[i].in, 0, &out, err, sizeof(err)),
		                 CF_EINVAL);
		if (!strstr(err, cases[i].says))
			fail_msg("%s: message \"%s\" does not say \"%s\"", cases[i].in, err,
			         cases[i].says);
		for (const unsigned char *p = (const unsigned char *)err; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
}

/* The escape round trip the storage view relies on. */
static void
test_path_escape_round_trip(void **state)
{
	static const char *names[] = {
	        "plain",    "caf\xc3\xa9",  "\xff\xfe",  "a\\b", "\\x41", "tab\there",
	        "\xc0\x80", "\xed\xa0\x80", "x\xe2\x82", "\x7f", "",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *esc = NULL, *norm = NULL, err[256];
		assert_int_equal(path_escape(names[i], &esc), 0);
		assert_int_equal(path_is_plain(names[i]), strcmp(esc, names[i]) == 0);
		/* a listed name is a path a read may use, spelled the same */
		if (*esc) {
			assert_int_equal(
			        path_normalize(esc, strlen(esc), 0, &norm, err, sizeof(err)), 0);
			assert_string_equal(norm, esc);
			free(norm);
		}
		path_unescape(esc);
		assert_string_equal(esc, names[i]);
		free(esc);
	}
}

static void
test_http_path_normalize_limits(void **state)
{
	char *big = malloc(PATH_MAX_BYTES + 16), *out = NULL, err[256];
	size_t n = 4;

	memcpy(big, "/v1/", 4);
	while (n < PATH_MAX_BYTES + 8)
		big[n++] = 'a';
	big[n] = '\0';
	assert_int_equal(http_path_normalize(big, 0, &out, err, sizeof(err)), CF_EINVAL);
	/* too many segments */
	n = 4;
	for (int i = 0; i < PATH_MAX_SEGMENTS + 2; i++) {
		big[n++] = 'a';
		big[n++] = '/';
	}
	big[n] = '\0';
	assert_int_equal(http_path_normalize(big, 0, &out, err, sizeof(err)), CF_EINVAL);
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
	/* the message never quotes the body: it may hold a password */
	assert_int_equal(
	        http_json_decode("{\"password\":\"hunter2\x01x\"}", 24, &j, err, sizeof(err)),
	        CF_EINVAL);
	assert_null(strstr(err, "hunter"));
	assert_non_null(strstr(err, "control character"));
	assert_int_equal(http_json_decode("{\"password\":\"hunter2", 20, &j, err, sizeof(err)),
	                 CF_EINVAL);
	assert_null(strstr(err, "hunter"));
	assert_int_equal(http_json_decode("{\"token\":hunter2}", 17, &j, err, sizeof(err)),
	                 CF_EINVAL);
	assert_null(strstr(err, "hun"));
	assert_non_null(strstr(err, "column"));
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
	        cmocka_unit_test(test_http_path_normalize_messages),
	        cmocka_unit_test(test_path_escape_round_trip),
	        cmocka_unit_test(test_http_json_decode),
	        cmocka_unit_test(test_http_render_envelope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
