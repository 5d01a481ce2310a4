/* test_cli.c - the CLI's operand parsing and KV path arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/args.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parses argv (NULL-terminated) with stdin text in and compares with JSON want
 * (NULL: expect failure). */
static void
check_kv(const char *const *argv, const char *in, const char *want)
{
	char err[256] = "", *copy[16];
	json_t *got = NULL, *exp;
	FILE *f;
	int argc = 0, r;

	while (argv[argc]) {
		copy[argc] = (char *)argv[argc];
		argc++;
	}
	if (in)
		f = fmemopen((void *)in, strlen(in), "r");
	else
		f = fopen("/dev/null", "r");
	assert_non_null(f);
	r = args_parse_kv(argc, copy, f, &got, err, sizeof(err));
	fclose(f);
	if (!want) {
		assert_true(r < 0);
		assert_true(err[0] != '\0');
		return;
	}
	assert_int_equal(r, 0);
	exp = json_loads(want, 0, NULL);
	assert_non_null(exp);
	if (!json_equal(got, exp)) {
		char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		print_error("got %s want %s\n", s, want);
		free(s);
		fail();
	}
	json_decref(exp);
	json_decref(got);
}

static void
test_cli_kv_pairs(void **state)
{
	static const struct {
		const char *argv[6];
		const char *in;
		const char *want;
	} v[] = {
	        {{"a=1", "b=two", NULL}, NULL, "{\"a\":\"1\",\"b\":\"two\"}"},
	        {{"url=postgres://u@h/db?sslmode=require", NULL},
	         NULL,
	         "{\"url\":\"postgres://u@h/db?sslmode=require\"}"},
	        {{"empty=", NULL}, NULL, "{\"empty\":\"\"}"},
	        {{"k=1", "k=2", "k=3", NULL}, NULL, "{\"k\":[\"1\",\"2\",\"3\"]}"},
	        {{"p=-", NULL}, "s3cret\n", "{\"p\":\"s3cret\\n\"}"},
	        {{"-", NULL}, "{\"x\": 1, \"y\": [true]}", "{\"x\":1,\"y\":[true]}"},
	        {{"-", "z=9", NULL}, "{\"x\": 1}", "{\"x\":1,\"z\":\"9\"}"},
	        {{NULL}, NULL, "{}"},
	        {{"novalue", NULL}, NULL, NULL},
	        {{"=x", NULL}, NULL, NULL},
	        {{"a=-", "b=-", NULL}, "x", NULL},
	        {{"-", NULL}, "[1,2]", NULL},
	        {{"-", NULL}, "{\"a\":1,\"a\":2}", NULL},
	        {{"k=@/nonexistent/file", NULL}, NULL, NULL},
	        {{"@/nonexistent/file", NULL}, NULL, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_kv(v[i].argv, v[i].in, v[i].want);
}

static void
test_cli_kv_files(void **state)
{
	char tmpl[] = "/tmp/test_cli_XXXXXX", arg[64], arg2[64];
	const char *argv[3] = {arg, NULL, NULL};
	int fd;

	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"k\":\"v\"}", 9), 9);
	close(fd);
	snprintf(arg, sizeof(arg), "value=@%s", tmpl);
	check_kv(argv, NULL, "{\"value\":\"{\\\"k\\\":\\\"v\\\"}\"}");
	snprintf(arg, sizeof(arg), "@%s", tmpl);
	snprintf(arg2, sizeof(arg2), "k=w");
	argv[1] = arg2;
	/* A key from the file and the same key as an operand combine like a repeat. */
	check_kv(argv, NULL, "{\"k\":[\"v\",\"w\"]}");
	unlink(tmpl);
}

static void
test_cli_versions(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
	        {"1", "[1]"},   {"1,2,3", "[1,2,3]"}, {" 4 , 5 ", "[4,5]"}, {"", NULL},
	        {"1,,2", NULL}, {"0", NULL},          {"-1", NULL},         {"a", NULL},
	        {"1,", NULL},   {"2x", NULL},
	};
	json_t *got, *exp;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		got = NULL;
		if (!v[i].want) {
			assert_int_equal(args_parse_versions(v[i].in, &got), CF_EINVAL);
			continue;
		}
		assert_int_equal(args_parse_versions(v[i].in, &got), 0);
		exp = json_loads(v[i].want, 0, NULL);
		assert_true(json_equal(got, exp));
		json_decref(exp);
		json_decref(got);
	}
}

static void
test_cli_pairs_and_numbers(void **state)
{
	json_t *o = json_object();
	long long n = -1;
	bool b = false;

	assert_int_equal(args_set_pair(o, "team=a=b"), 0);
	assert_int_equal(args_set_pair(o, "team=c"), 0);
	assert_int_equal(args_set_pair(o, "empty="), 0);
	assert_int_equal(args_set_pair(o, "nokey"), CF_EINVAL);
	assert_int_equal(args_set_pair(o, "=v"), CF_EINVAL);
	assert_string_equal(json_string_value(json_object_get(o, "team")), "c");
	assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
	json_decref(o);

	assert_int_equal(args_parse_uint("42", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(args_parse_uint("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(args_parse_uint("-1", &n), CF_EINVAL);
	assert_int_equal(args_parse_uint("+1", &n), CF_EINVAL);
	assert_int_equal(args_parse_uint("", &n), CF_EINVAL);
	assert_int_equal(args_parse_uint("1e3", &n), CF_EINVAL);
	assert_int_equal(args_parse_uint("99999999999999999999", &n), CF_EINVAL);
	assert_int_equal(args_parse_bool("true", &b), 0);
	assert_true(b);
	assert_int_equal(args_parse_bool("0", &b), 0);
	assert_false(b);
	assert_int_equal(args_parse_bool("yes", &b), CF_EINVAL);
}

static void
test_cli_path_clean(void **state)
{
	static const struct {
		const char *in;
		bool keep;
		const char *want;
	} v[] = {
	        {"secret/app/db", false, "secret/app/db"},
	        {"/secret//app/db/", false, "secret/app/db"},
	        {"secret/app/", true, "secret/app/"},
	        {"secret/app//", true, "secret/app/"},
	        {"secret/app", true, "secret/app"},
	        {"///", true, ""},
	        {"", false, ""},
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		got = kvpath_clean(v[i].in, v[i].keep);
		assert_non_null(got);
		assert_string_equal(got, v[i].want);
		free(got);
	}
}

static void
test_cli_mount_lookup(void **state)
{
	static const char mounts[] =
	        "{\"data\": {"
	        "\"secret/\": {\"type\": \"kv\", \"options\": {\"version\": \"2\"}},"
	        "\"kv/\": {\"type\": \"kv\", \"options\": null},"
	        "\"kv/nested/\": {\"type\": \"kv\", \"options\": {\"version\": 2}},"
	        "\"sys/\": {\"type\": \"system\"}},"
	        "\"request_id\": \"x\"}";
	static const struct {
		const char *path;
		const char *mount;
		int version;
	} v[] = {
	        {"secret/app/db", "secret/", 2},
	        {"secret", "secret/", 2},
	        {"secret/", "secret/", 2},
	        {"kv/a", "kv/", 1},
	        {"kv/nested", "kv/nested/", 2},
	        {"kv/nested/x/y", "kv/nested/", 2},
	        {"kv/nestedx", "kv/", 1},
	        {"secretx/a", NULL, 0},
	        {"sec", NULL, 0},
	        {"other/a", NULL, 0},
	};
	json_t *m = json_loads(mounts, 0, NULL), *top;
	char *mount;
	size_t i;
	int ver;

	assert_non_null(m);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mount = NULL;
		ver = 0;
		if (!v[i].mount) {
			assert_int_equal(kvpath_mount_lookup(m, v[i].path, &mount, &ver),
			                 CF_ENOTFOUND);
			continue;
		}
		assert_int_equal(kvpath_mount_lookup(m, v[i].path, &mount, &ver), 0);
		assert_string_equal(mount, v[i].mount);
		assert_int_equal(ver, v[i].version);
		free(mount);
	}
	/* Without "data", the top-level copy is used (Vault's response shapes). */
	top = json_deep_copy(json_object_get(m, "data"));
	assert_int_equal(kvpath_mount_lookup(top, "secret/x", &mount, &ver), 0);
	assert_string_equal(mount, "secret/");
	free(mount);
	json_decref(top);
	json_decref(m);
}

static void
test_cli_path_join(void **state)
{
	char *p;

	p = kvpath_join("secret/", "data", "app/db");
	assert_string_equal(p, "secret/data/app/db");
	free(p);
	p = kvpath_join("secret/", "metadata", "");
	assert_string_equal(p, "secret/metadata");
	free(p);
	p = kvpath_join("kv/", "", "a/b");
	assert_string_equal(p, "kv/a/b");
	free(p);
	assert_string_equal(kvpath_rest("secret/", "secret/app/db"), "app/db");
	assert_string_equal(kvpath_rest("secret/", "secret"), "");
}

static void
test_cli_duration(void **state)
{
	static const struct {
		int64_t secs;
		const char *want;
	} v[] = {
	        {0, "0s"},
	        {45, "45s"},
	        {60, "1m"},
	        {90, "1m30s"},
	        {3600, "1h"},
	        {3605, "1h5s"},
	        {3661, "1h1m1s"},
	        {5400, "1h30m"},
	        {86400, "24h"},
	        {2764800, "768h"},
	        {2764799, "767h59m59s"},
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		output_duration(v[i].secs, buf, sizeof(buf));
		assert_string_equal(buf, v[i].want);
	}
}

static void
test_cli_value_format(void **state)
{
	static const struct {
		const char *json;
		const char *want;
	} v[] = {
	        {"\"x y\"", "x y"},
	        {"42", "42"},
	        {"true", "true"},
	        {"null", "n/a"},
	        {"[]", "[]"},
	        {"[1,\"a\",null]", "[1 a <nil>]"},
	        {"{\"b\":1,\"a\":[true]}", "map[a:[true] b:1]"},
	        {"{\"k\":{\"n\":null}}", "map[k:map[n:<nil>]]"},
	};
	json_t *j;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		j = json_loads(v[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		s = output_value(j);
		assert_string_equal(s, v[i].want);
		free(s);
		json_decref(j);
	}
}

/* Golden output of a table: header, dashes, 4-space glue, no trailing blanks. */
static void
test_cli_table_golden(void **state)
{
	static const char *const h[] = {"Path", "Type", "Description"};
	static const char *const r1[] = {"secret/", "kv", "key/value storage"};
	static const char *const r2[] = {"sys/", "system", ""};
	static const char *const r3[] = {"caf\xc3\xa9/", "kv", NULL};
	static const char want[] = "Path       Type      Description\n"
	                           "----       ----      -----------\n"
	                           "secret/    kv        key/value storage\n"
	                           "sys/       system\n"
	                           "caf\xc3\xa9/      kv\n";
	struct table *t = table_new(3, h);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	table_add(t, r1);
	table_add(t, r2);
	table_add(t, r3);
	assert_int_equal(table_rows(t), 3);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	table_print(t, f);
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
	table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cli_kv_pairs),
	        cmocka_unit_test(test_cli_kv_files),
	        cmocka_unit_test(test_cli_versions),
	        cmocka_unit_test(test_cli_pairs_and_numbers),
	        cmocka_unit_test(test_cli_path_clean),
	        cmocka_unit_test(test_cli_mount_lookup),
	        cmocka_unit_test(test_cli_path_join),
	        cmocka_unit_test(test_cli_duration),
	        cmocka_unit_test(test_cli_value_format),
	        cmocka_unit_test(test_cli_table_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
