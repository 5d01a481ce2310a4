/* test_hcl.c - the HCL subset parser: HCL text in, expected JSON out, and errors
 * with line/column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "lib/hcl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses hcl and compares with the JSON text want. */
static void
check_ok(const char *hcl, const char *want)
{
	char err[256] = "";
	json_t *got = NULL, *exp;
	json_error_t jerr;
	int r = hcl_parse(hcl, strlen(hcl), &got, err, sizeof(err));

	if (r != 0)
		fail_msg("parse of [%s] failed: %d %s", hcl, r, err);
	exp = json_loads(want, 0, &jerr);
	if (exp == NULL)
		fail_msg("bad test JSON %s: %s", want, jerr.text);
	if (!json_equal(got, exp)) {
		char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("[%s]\n got %s\nwant %s", hcl, s, want);
	}
	json_decref(got);
	json_decref(exp);
}

/* Parses hcl, expects CF_EINVAL and an error starting with want_prefix. */
static void
check_err(const char *hcl, size_t len, const char *want_prefix)
{
	char err[256] = "";
	json_t *got = (json_t *)0x1;
	int r = hcl_parse(hcl, len, &got, err, sizeof(err));

	if (r != CF_EINVAL)
		fail_msg("[%s]: r=%d, want CF_EINVAL", hcl, r);
	assert_ptr_equal(got, (json_t *)0x1); /* untouched */
	if (strncmp(err, want_prefix, strlen(want_prefix)) != 0)
		fail_msg("[%s]: error \"%s\", want prefix \"%s\"", hcl, err, want_prefix);
}

/* clang-format off */
static const struct {
	const char *hcl;
	const char *json;
} ok_vectors[] = {
	{ "", "{}" },
	{ "  \n# only a comment\n// another\n/* and\nanother */\n", "{}" },
	{ "a = 1", "{\"a\": 1}" },
	{ "a = -12\nb = 1.5\nc = 2e3", "{\"a\": -12, \"b\": 1.5, \"c\": 2000.0}" },
	{ "a = true b = false", "{\"a\": true, \"b\": false}" },
	{ "a = \"x\", b = \"y\"", "{\"a\": \"x\", \"b\": \"y\"}" },
	{ "\"quoted key\" = \"v\"", "{\"quoted key\": \"v\"}" },
	{ "a = \"q\\\"b\\\\s\\nn\\tt\"", "{\"a\": \"q\\\"b\\\\s\\nn\\tt\"}" },
	{ "a = \"\\u00e9\\U0001F600\"", "{\"a\": \"\\u00e9\\ud83d\\ude00\"}" },
	{ "a = \"caf\xc3\xa9\"", "{\"a\": \"caf\\u00e9\"}" },
	{ "a = \"${not.interpolated}\"", "{\"a\": \"${not.interpolated}\"}" },
	{ "a = []", "{\"a\": []}" },
	{ "a = [\"x\", \"y\",]", "{\"a\": [\"x\", \"y\"]}" },
	{ "a = [\n  \"x\", # c\n  \"y\"\n]", "{\"a\": [\"x\", \"y\"]}" },
	{ "a = [[1], {b = 2}]", "{\"a\": [[1], {\"b\": 2}]}" },
	{ "a = { b = 1, \"c\" = [] }", "{\"a\": {\"b\": 1, \"c\": []}}" },
	{ "path \"secret/+\" { capabilities = [\"read\"] }",
	 "{\"path\": {\"secret/+\": {\"capabilities\": [\"read\"]}}}"},
	{ "path \"a\" { x = 1 }\npath \"b\" { x = 2 }",
	 "{\"path\": {\"a\": {\"x\": 1}, \"b\": {\"x\": 2}}}"},
	/* the same label twice: keys merged, lists concatenated */
	{ "path \"a\" { c = [\"read\"] }\npath \"a\" { c = [\"list\"] d = 1 }",
	 "{\"path\": {\"a\": {\"c\": [\"read\", \"list\"], \"d\": 1}}}"},
	{ "path \"a\" { p = \"x\" }\npath \"a\" { p = \"x\" }",
	 "{\"path\": {\"a\": {\"p\": \"x\"}}}"},
	{ "block { a = 1 }", "{\"block\": {\"a\": 1}}" },
	{ "r \"x\" \"y\" { a = 1 }", "{\"r\": {\"x\": {\"y\": {\"a\": 1}}}}" },
	{ "r x { a = 1 }", "{\"r\": {\"x\": {\"a\": 1}}}" },
	{ "path \"a\" {\n  allowed_parameters = {\n    \"*\" = []\n    \"k\" = [\"v\", 1]\n  }\n}",
	 "{\"path\": {\"a\": {\"allowed_parameters\": {\"*\": [], \"k\": [\"v\", 1]}}}}"},
	{ "a = <<EOF\nline1\n  line2\nEOF\n", "{\"a\": \"line1\\n  line2\\n\"}" },
	{ "a = <<EOF\nEOF", "{\"a\": \"\"}" },
	{ "a = <<-EOT\n    x\n      y\n    EOT\nb = 1", "{\"a\": \"x\\n  y\\n\", \"b\": 1}" },
	{ "a = <<-EOT\n  x\n y\n  EOT", "{\"a\": \"  x\\n y\\n\"}" },
	{ "a = <<EOF\r\nwin\r\nEOF\r\n", "{\"a\": \"win\\r\\n\"}" },
	{ "a.b-c_d = 1", "{\"a.b-c_d\": 1}" },
	{ "a = 9223372036854775807\nb = -9223372036854775808",
	 "{\"a\": 9223372036854775807, \"b\": -9223372036854775808}"},
};
/* clang-format on */

static void
test_hcl_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_vectors) / sizeof(ok_vectors[0]); i++)
		check_ok(ok_vectors[i].hcl, ok_vectors[i].json);
}

/* clang-format off */
static const struct {
	const char *hcl;
	const char *err;
} err_vectors[] = {
	{ "a", "line 1, column 2: " },
	{ "a =", "line 1, column 4: expected a value" },
	{ "a = \"x", "line 1, column 5: unterminated string" },
	{ "a = \"x\ny\"", "line 1, column 5: unterminated string" },
	{ "\n\n  a = [1 2]", "line 3, column 10: expected ',' or ']'" },
	{ "a = [1,", "line 1, column 8: expected a value" },
	{ "p \"x\" {", "line 1, column 8: expected '}'" },
	{ "p \"x\" { a = 1 } }", "line 1, column 17: expected a key" },
	{ "a = b", "line 1, column 5: unexpected identifier" },
	{ "a = 1x", "line 1, column 6: unexpected character after number" },
	{ "a = 1.", "line 1, column 7: expected a digit" },
	{ "a = 1e", "line 1, column 7: expected a digit" },
	{ "a = 99999999999999999999", "line 1, column 5: number out of range" },
	{ "a = 1e999", "line 1, column 5: number out of range" },
	{ "a = \"\\q\"", "line 1, column 7: unknown escape" },
	{ "a = \"\\u12\"", "line 1, column 7: invalid \\u escape" },
	{ "a = \"\\ud800\"", "line 1, column 7: invalid code point" },
	{ "a = \"\\u0000\"", "line 1, column 7: invalid code point" },
	{ "a = \"\xff\"", "line 1, column 5: string is not valid UTF-8" },
	{ "a = \"\xc0\x80\"", "line 1, column 5: string is not valid UTF-8" },
	{ "a = \"\xed\xa0\x80\"", "line 1, column 5: string is not valid UTF-8" },
	{ "/* open", "line 1, column 1: unterminated comment" },
	{ "a = <<EOF\nno end\n", "line 1, column 5: unterminated heredoc" },
	{ "a = <<\nx\n", "line 1, column 7: heredoc needs a marker" },
	{ "a = <<EOF x\nEOF\n", "line 1, column 10: heredoc marker must end the line" },
	{ "a = 1\na = 2", "line 2, column 1: conflicting values for \"a\"" },
	{ "a = [1]\na = {}", "line 2, column 1: conflicting values for \"a\"" },
	{ "p \"x\" { v = 1 }\np \"x\" { v = 2 }", "line 2, column 1: conflicting values for \"p\"" },
	{ "p \"x\" = 1", "line 1, column 7: expected '=', a block label or '{'" },
	{ "a = {", "line 1, column 6: expected '}'" },
	{ "= 1", "line 1, column 1: expected a key" },
	{ "a = @", "line 1, column 5: expected a value" },
};
/* clang-format on */

static void
test_hcl_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_vectors) / sizeof(err_vectors[0]); i++)
		check_err(err_vectors[i].hcl, strlen(err_vectors[i].hcl), err_vectors[i].err);
}

static void
test_hcl_nul_bytes(void **state)
{
	static const char in_str[] = "a = \"x\0y\"";
	static const char in_body[] = "a = 1\0";

	(void)state;
	check_err(in_str, sizeof(in_str) - 1, "line 1, column 7: NUL byte in string");
	check_err(in_body, sizeof(in_body) - 1, "line 1, column 6: expected a key");
}

/* Only len bytes are read: no NUL terminator needed. */
static void
test_hcl_length_bounded(void **state)
{
	char buf[8];
	json_t *j = NULL;

	(void)state;
	memcpy(buf, "a = 12345", 8); /* "a = 1234", no NUL */
	assert_int_equal(hcl_parse(buf, 8, &j, NULL, 0), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1234);
	json_decref(j);
	assert_int_equal(hcl_parse(NULL, 0, &j, NULL, 0), 0);
	assert_int_equal(json_object_size(j), 0);
	json_decref(j);
}

static char *
nested(const char *open, const char *close, int n)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(8 + (size_t)n * (lo + lc) + 1), *p = s;

	assert_non_null(s);
	memcpy(p, "a = ", 4);
	p += 4;
	for (int i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	*p++ = '1';
	for (int i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void
test_hcl_depth_limit(void **state)
{
	char err[128];
	json_t *j = NULL;
	char *s;

	(void)state;
	s = nested("[", "]", 32);
	assert_int_equal(hcl_parse(s, strlen(s), &j, err, sizeof(err)), 0);
	json_decref(j);
	free(s);

	s = nested("[", "]", 33);
	assert_int_equal(hcl_parse(s, strlen(s), &j, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "nesting too deep"));
	free(s);

	/* Deep enough to blow a naive recursive parser's stack. */
	s = nested("{ b = ", " }", 100000);
	assert_int_equal(hcl_parse(s, strlen(s), &j, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "nesting too deep"));
	free(s);

	/* Block labels count as nesting too. */
	{
		char lab[512];
		size_t n = 0;
		lab[n++] = 'a';
		for (int i = 0; i < 40; i++) {
			memcpy(lab + n, " \"l\"", 4);
			n += 4;
		}
		memcpy(lab + n, " {}", 4);
		assert_int_equal(hcl_parse(lab, strlen(lab), &j, err, sizeof(err)), CF_EINVAL);
		assert_non_null(strstr(err, "nesting too deep"));
	}
}

static void
test_hcl_small_err_buffer(void **state)
{
	char err[8];
	json_t *j = NULL;

	(void)state;
	assert_int_equal(hcl_parse("a =", 3, &j, err, sizeof(err)), CF_EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(hcl_parse("a =", 3, &j, NULL, 0), CF_EINVAL);
}

static void
test_hcl_lines(void **state)
{
	const char *t = "# c\nstorage \"sqlite\" {\n  path = \"x\"\n}\n\nlistener \"tcp\" {\n"
	                "  address = \"a:1\"\n  telemetry {\n    u = true\n  }\n}\nm = { k = 1 }\n";
	char err[256];
	json_t *j = NULL, *lines = NULL;

	(void)state;
	assert_int_equal(hcl_parse_lines(t, strlen(t), &j, &lines, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(lines, "storage")), 2);
	assert_int_equal(json_integer_value(json_object_get(lines, "storage/sqlite")), 2);
	assert_int_equal(json_integer_value(json_object_get(lines, "storage/sqlite/path")), 3);
	assert_int_equal(json_integer_value(json_object_get(lines, "listener/tcp/address")), 7);
	assert_int_equal(json_integer_value(json_object_get(lines, "listener/tcp/telemetry/u")), 9);
	assert_int_equal(json_integer_value(json_object_get(lines, "m/k")), 12);
	assert_null(json_object_get(lines, "path"));
	/* the JSON is what hcl_parse gives */
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_object_get(json_object_get(j, "storage"), "sqlite"), "path")),
	        "x");
	json_decref(j);
	json_decref(lines);
	/* errors as hcl_parse, and nothing stored */
	lines = NULL;
	assert_int_equal(hcl_parse_lines("a = ", 4, &j, &lines, err, sizeof(err)), CF_EINVAL);
	assert_null(lines);
	assert_non_null(strstr(err, "line 1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hcl_parse_vectors),
	        cmocka_unit_test(test_hcl_errors),
	        cmocka_unit_test(test_hcl_nul_bytes),
	        cmocka_unit_test(test_hcl_length_bounded),
	        cmocka_unit_test(test_hcl_depth_limit),
	        cmocka_unit_test(test_hcl_small_err_buffer),
	        cmocka_unit_test(test_hcl_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
