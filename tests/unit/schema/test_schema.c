/* test_schema.c - environment schema checks (src/tools/env/schema.c): a table
 * of passing and failing values per rule, coercion edge cases, defaults,
 * schema errors, and that no failure message holds a secret's value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "tools/env/dotenv.h"
#include "tools/env/schema.h"

#include <stdio.h>
#include <string.h>

/* One variable V with the rules in prop; value NULL means V is not set; rule
 * NULL means the check passes, else the one rule expected to fail. */
/* clang-format off */
static const struct {
	const char *prop;
	const char *value;
	const char *rule;
} vectors[] = {
	/* integer: optional sign and digits only */
	{ "{\"type\":\"integer\"}", "42", NULL },
	{ "{\"type\":\"integer\"}", "-7", NULL },
	{ "{\"type\":\"integer\"}", "+7", NULL },
	{ "{\"type\":\"integer\"}", "007", NULL },
	{ "{\"type\":\"integer\"}", "9223372036854775807", NULL },
	{ "{\"type\":\"integer\"}", "-9223372036854775808", NULL },
	{ "{\"type\":\"integer\"}", "9223372036854775808", "type" },
	{ "{\"type\":\"integer\"}", "", "type" },
	{ "{\"type\":\"integer\"}", "-", "type" },
	{ "{\"type\":\"integer\"}", "1.0", "type" },
	{ "{\"type\":\"integer\"}", "1e3", "type" },
	{ "{\"type\":\"integer\"}", " 1", "type" },
	{ "{\"type\":\"integer\"}", "1 ", "type" },
	{ "{\"type\":\"integer\"}", "0x10", "type" },
	{ "{\"type\":\"integer\"}", "12abc", "type" },
	/* number: finite decimal with optional exponent */
	{ "{\"type\":\"number\"}", "3.14", NULL },
	{ "{\"type\":\"number\"}", "-0.5", NULL },
	{ "{\"type\":\"number\"}", ".5", NULL },
	{ "{\"type\":\"number\"}", "5.", NULL },
	{ "{\"type\":\"number\"}", "1e10", NULL },
	{ "{\"type\":\"number\"}", "1E-3", NULL },
	{ "{\"type\":\"number\"}", "12", NULL },
	{ "{\"type\":\"number\"}", "1e400", "type" },
	{ "{\"type\":\"number\"}", "NaN", "type" },
	{ "{\"type\":\"number\"}", "Infinity", "type" },
	{ "{\"type\":\"number\"}", "inf", "type" },
	{ "{\"type\":\"number\"}", "0x1p3", "type" },
	{ "{\"type\":\"number\"}", "1e", "type" },
	{ "{\"type\":\"number\"}", ".", "type" },
	{ "{\"type\":\"number\"}", "", "type" },
	{ "{\"type\":\"number\"}", "1,5", "type" },
	/* boolean: true/false/1/0/yes/no/on/off, any case */
	{ "{\"type\":\"boolean\"}", "true", NULL },
	{ "{\"type\":\"boolean\"}", "FALSE", NULL },
	{ "{\"type\":\"boolean\"}", "Yes", NULL },
	{ "{\"type\":\"boolean\"}", "no", NULL },
	{ "{\"type\":\"boolean\"}", "ON", NULL },
	{ "{\"type\":\"boolean\"}", "off", NULL },
	{ "{\"type\":\"boolean\"}", "1", NULL },
	{ "{\"type\":\"boolean\"}", "0", NULL },
	{ "{\"type\":\"boolean\"}", "t", "type" },
	{ "{\"type\":\"boolean\"}", "y", "type" },
	{ "{\"type\":\"boolean\"}", "2", "type" },
	{ "{\"type\":\"boolean\"}", "", "type" },
	{ "{\"type\":\"boolean\"}", " true", "type" },
	/* url */
	{ "{\"type\":\"url\"}", "https://example.com", NULL },
	{ "{\"type\":\"url\"}", "postgres://u:p@db:5432/app?sslmode=off", NULL },
	{ "{\"type\":\"url\"}", "http://[::1]:8200/v1", NULL },
	{ "{\"type\":\"url\"}", "redis://localhost", NULL },
	{ "{\"type\":\"url\"}", "example.com", "type" },
	{ "{\"type\":\"url\"}", "https://", "type" },
	{ "{\"type\":\"url\"}", "https://:80", "type" },
	{ "{\"type\":\"url\"}", "https://a b", "type" },
	{ "{\"type\":\"url\"}", "https://host:99999", "type" },
	{ "{\"type\":\"url\"}", "1http://host", "type" },
	{ "{\"type\":\"url\"}", "mailto:a@b.c", "type" },
	{ "{\"format\":\"url\"}", "https://example.com/x", NULL },
	{ "{\"format\":\"url\"}", "nope", "format" },
	{ "{\"format\":\"uri\"}", "mailto:a@b.c", NULL },
	{ "{\"format\":\"uri\"}", "urn:isbn:123", NULL },
	{ "{\"format\":\"uri\"}", "relative/path", "format" },
	{ "{\"format\":\"uri\"}", "a:", "format" },
	/* email */
	{ "{\"type\":\"email\"}", "ops@example.com", NULL },
	{ "{\"type\":\"email\"}", "first.last+tag@mail.example.co.uk", NULL },
	{ "{\"type\":\"email\"}", "ops@localhost", "type" },
	{ "{\"type\":\"email\"}", "@example.com", "type" },
	{ "{\"type\":\"email\"}", "a@b@example.com", "type" },
	{ "{\"type\":\"email\"}", "a b@example.com", "type" },
	{ "{\"type\":\"email\"}", "a@-x.com", "type" },
	{ "{\"type\":\"email\"}", "a@x..com", "type" },
	{ "{\"format\":\"email\"}", "a@x.io", NULL },
	{ "{\"format\":\"email\"}", "x", "format" },
	/* enum, as keyword and as type */
	{ "{\"enum\":[\"debug\",\"info\"]}", "info", NULL },
	{ "{\"enum\":[\"debug\",\"info\"]}", "INFO", "enum" },
	{ "{\"enum\":[\"debug\",\"info\"]}", "", "enum" },
	{ "{\"type\":\"enum\",\"enum\":[\"a\",\"b\"]}", "b", NULL },
	{ "{\"type\":\"enum\",\"enum\":[\"a\",\"b\"]}", "c", "enum" },
	{ "{\"enum\":[1,2,3]}", "2", NULL },
	{ "{\"enum\":[1,2,3]}", "+2", NULL },
	{ "{\"enum\":[1,2,3]}", "4", "enum" },
	{ "{\"enum\":[true]}", "yes", NULL },
	{ "{\"enum\":[true]}", "no", "enum" },
	{ "{\"enum\":[0.5]}", "0.50", NULL },
	/* lengths count characters, not bytes */
	{ "{\"minLength\":3}", "abc", NULL },
	{ "{\"minLength\":3}", "ab", "minLength" },
	{ "{\"minLength\":3}", "", "minLength" },
	{ "{\"maxLength\":3}", "abc", NULL },
	{ "{\"maxLength\":3}", "abcd", "maxLength" },
	{ "{\"maxLength\":3}", "\xc3\xa9\xc3\xa9\xc3\xa9", NULL },
	{ "{\"maxLength\":2}", "\xc3\xa9\xc3\xa9\xc3\xa9", "maxLength" },
	{ "{\"minLength\":0}", "", NULL },
	/* pattern: a search, not anchored */
	{ "{\"pattern\":\"^[a-z]+$\"}", "abc", NULL },
	{ "{\"pattern\":\"^[a-z]+$\"}", "abc1", "pattern" },
	{ "{\"pattern\":\"[0-9]\"}", "abc1def", NULL },
	{ "{\"pattern\":\"[0-9]\"}", "abcdef", "pattern" },
	{ "{\"pattern\":\"^\\\\p{Lu}\"}", "\xc3\x89t\xc3\xa9", NULL },
	{ "{\"pattern\":\"(a+)+$\"}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "pattern" },
	/* minimum and maximum, after coercion */
	{ "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}", "1", NULL },
	{ "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}", "65535", NULL },
	{ "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}", "0", "minimum" },
	{ "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}", "65536", "maximum" },
	{ "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}", "-5", "minimum" },
	{ "{\"type\":\"integer\",\"minimum\":0.5}", "1", NULL },
	{ "{\"type\":\"integer\",\"minimum\":0.5}", "0", "minimum" },
	{ "{\"type\":\"integer\",\"minimum\":1}", "x", "type" },
	{ "{\"type\":\"number\",\"maximum\":1.5}", "1.5", NULL },
	{ "{\"type\":\"number\",\"maximum\":1.5}", "1.50001", "maximum" },
	{ "{\"type\":\"number\",\"minimum\":-1}", "-1e0", NULL },
	{ "{\"type\":\"number\",\"minimum\":-1}", "-1.1", "minimum" },
	/* secret: must not be empty */
	{ "{\"secret\":true}", "x", NULL },
	{ "{\"secret\":true}", "", "secret" },
	{ "{\"secret\":false}", "", NULL },
	/* an absent variable breaks only "required" */
	{ "{\"type\":\"integer\",\"minLength\":5,\"secret\":true}", NULL, NULL },
	/* notes are accepted */
	{ "{\"description\":\"the port\",\"title\":\"t\",\"examples\":[1]}", "x", NULL },
	{ "{\"type\":\"string\"}", "anything at all", NULL },
	{ "{}", "", NULL },
};
/* clang-format on */

/* An environment of one variable V=value (none when value is NULL). */
static void
env_one(struct dotenv *env, const char *value)
{
	memset(env, 0, sizeof(*env));
	if (value)
		assert_int_equal(dotenv_set(env, "V", value, strlen(value)), 0);
}

static struct schema *
load_ok(const char *text)
{
	struct schema *s = NULL;
	char err[256] = "";
	int r;

	r = schema_load(text, strlen(text), &s, err, sizeof(err));
	if (r != 0)
		fail_msg("schema %s: %s", text, err);
	return s;
}

static void
test_schema_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct schema_report rep = {0};
		struct dotenv env;
		struct schema *s;
		char text[512];

		(void)snprintf(text, sizeof(text), "{\"properties\":{\"V\":%s}}", vectors[i].prop);
		s = load_ok(text);
		env_one(&env, vectors[i].value);
		assert_int_equal(schema_check(s, &env, &rep), 0);
		if (!vectors[i].rule) {
			if (rep.nfail != 0)
				fail_msg("#%zu %s with \"%s\": failed %s", i, vectors[i].prop,
				         vectors[i].value, rep.fail[0].rule);
		} else {
			if (rep.nfail != 1 || strcmp(rep.fail[0].rule, vectors[i].rule) != 0)
				fail_msg("#%zu %s with \"%s\": want one %s failure, got %zu (%s)",
				         i, vectors[i].prop, vectors[i].value, vectors[i].rule,
				         rep.nfail, rep.nfail ? rep.fail[0].rule : "-");
			assert_string_equal(rep.fail[0].var, "V");
		}
		assert_int_equal(rep.nchecked, 1);
		schema_report_free(&rep);
		dotenv_free(&env);
		schema_free(s);
	}
}

static void
test_schema_required(void **state)
{
	const char *text = "{\"properties\":{\"A\":{\"type\":\"integer\"}},"
	                   "\"required\":[\"A\",\"B\"]}";
	struct schema_report rep = {0};
	struct dotenv env = {0};
	struct schema *s = load_ok(text);

	(void)state;
	assert_int_equal(schema_check(s, &env, &rep), 0);
	assert_int_equal(rep.nfail, 2);
	assert_string_equal(rep.fail[0].var, "A");
	assert_string_equal(rep.fail[0].rule, "required");
	assert_string_equal(rep.fail[1].var, "B");
	assert_int_equal(rep.nchecked, 2);
	schema_report_free(&rep);

	/* present, even empty, satisfies required (B has no other rule) */
	assert_int_equal(dotenv_set(&env, "A", "1", 1), 0);
	assert_int_equal(dotenv_set(&env, "B", "", 0), 0);
	assert_int_equal(schema_check(s, &env, &rep), 0);
	assert_int_equal(rep.nfail, 0);
	schema_report_free(&rep);
	dotenv_free(&env);
	schema_free(s);
}

static void
test_schema_defaults(void **state)
{
	const char *text = "{\"properties\":{"
	                   "\"PORT\":{\"type\":\"integer\",\"default\":8080},"
	                   "\"DEBUG\":{\"type\":\"boolean\",\"default\":false},"
	                   "\"RATIO\":{\"type\":\"number\",\"default\":0.5},"
	                   "\"MODE\":{\"default\":\"prod\"},"
	                   "\"SET\":{\"default\":\"no\"}},"
	                   "\"required\":[\"PORT\",\"MODE\"]}";
	struct schema_report rep = {0};
	struct dotenv env = {0};
	struct schema *s = load_ok(text);
	const struct dotenv_entry *e;

	(void)state;
	assert_int_equal(dotenv_set(&env, "SET", "", 0), 0);
	assert_int_equal(schema_apply_defaults(s, &env, &rep), 0);
	assert_int_equal(rep.ndefaulted, 4);
	assert_string_equal(rep.defaulted[0], "PORT");
	e = dotenv_find(&env, "PORT");
	assert_non_null(e);
	assert_string_equal(e->value, "8080");
	assert_string_equal(dotenv_find(&env, "DEBUG")->value, "false");
	assert_string_equal(dotenv_find(&env, "RATIO")->value, "0.5");
	assert_string_equal(dotenv_find(&env, "MODE")->value, "prod");
	/* a set variable keeps its value, even empty */
	assert_string_equal(dotenv_find(&env, "SET")->value, "");
	assert_int_equal(schema_check(s, &env, &rep), 0);
	assert_int_equal(rep.nfail, 0);
	schema_report_free(&rep);

	/* a NULL report is allowed (coffer run) */
	dotenv_free(&env);
	assert_int_equal(schema_apply_defaults(s, &env, NULL), 0);
	assert_int_equal(env.n, 5);
	dotenv_free(&env);
	schema_free(s);
}

/* Every rule broken by a secret value: no message may contain it. */
static void
test_schema_secret_never_in_messages(void **state)
{
	static const char *const values[] = {
	        "hunter2-TOPSECRET-9f8e7d",
	        "TOPSECRET",
	        "https://user:TOPSECRETPW@db.example.com",
	        "99999999999999999TOPSECRET",
	};
	const char *text = "{\"properties\":{\"API_KEY\":{\"secret\":true,\"type\":\"integer\","
	                   "\"format\":\"email\",\"minLength\":100,\"maxLength\":2,"
	                   "\"pattern\":\"^nomatch$\",\"enum\":[\"a\",\"b\"]},"
	                   "\"DB_URL\":{\"secret\":true,\"type\":\"url\",\"pattern\":\"^x\"}}}";
	struct schema *s = load_ok(text);

	(void)state;
	assert_true(schema_is_secret(s, "API_KEY"));
	assert_true(schema_is_secret(s, "DB_URL"));
	assert_false(schema_is_secret(s, "OTHER"));
	assert_int_equal(schema_var_count(s), 2);
	assert_string_equal(schema_var_name(s, 1), "DB_URL");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct schema_report rep = {0};
		struct dotenv env = {0};

		assert_int_equal(dotenv_set(&env, "API_KEY", values[i], strlen(values[i])), 0);
		assert_int_equal(dotenv_set(&env, "DB_URL", values[i], strlen(values[i])), 0);
		assert_int_equal(schema_check(s, &env, &rep), 0);
		assert_true(rep.nfail >= 6);
		for (size_t k = 0; k < rep.nfail; k++) {
			assert_null(strstr(rep.fail[k].message, "TOPSECRET"));
			assert_null(strstr(rep.fail[k].var, "TOPSECRET"));
		}
		schema_report_free(&rep);
		dotenv_free(&env);
	}
	schema_free(s);
}

/* Schemas that must be refused, and a word the error must contain. */
/* clang-format off */
static const struct {
	const char *text;
	const char *want;
} bad_schemas[] = {
	{ "{\"properties\":{\"A\":{\"type\":\"integer\"}", "line 1, column" },
	{ "{\n\"properties\": {\n  \"A\": {\"type\": \"integer\",}\n}}", "line 3" },
	{ "[]", "top level" },
	{ "{\"properties\":[]}", "properties must be an object" },
	{ "{\"propertes\":{}}", "unknown keyword \"propertes\"" },
	{ "{\"properties\":{\"A\":{\"minLenght\":1}}}", "unknown keyword \"minLenght\"" },
	{ "{\"properties\":{\"A\":{\"type\":\"int\"}}}", "unknown type \"int\"" },
	{ "{\"properties\":{\"A\":{\"type\":[\"string\"]}}}", "type must be a string" },
	{ "{\"properties\":{\"A\":{\"format\":\"date\"}}}", "unknown format" },
	{ "{\"properties\":{\"A\":{\"type\":\"enum\"}}}", "needs an enum list" },
	{ "{\"properties\":{\"A\":{\"enum\":[]}}}", "non-empty array" },
	{ "{\"properties\":{\"A\":{\"enum\":[{}]}}}", "enum values" },
	{ "{\"properties\":{\"A\":{\"minLength\":-1}}}", "non-negative integer" },
	{ "{\"properties\":{\"A\":{\"maxLength\":\"3\"}}}", "non-negative integer" },
	{ "{\"properties\":{\"A\":{\"pattern\":\"(\"}}}", "pattern" },
	{ "{\"properties\":{\"A\":{\"pattern\":1}}}", "pattern must be a string" },
	{ "{\"properties\":{\"A\":{\"minimum\":1}}}", "need type integer or number" },
	{ "{\"properties\":{\"A\":{\"type\":\"integer\",\"maximum\":\"9\"}}}", "must be a number" },
	{ "{\"properties\":{\"A\":{\"secret\":\"yes\"}}}", "secret must be true or false" },
	{ "{\"properties\":{\"A\":{\"default\":null}}}", "default must be" },
	{ "{\"properties\":{\"A\":1}}", "must be an object" },
	{ "{\"properties\":{\"A=B\":{}}}", "not a variable name" },
	{ "{\"properties\":{\"\":{}}}", "not a variable name" },
	{ "{\"required\":\"A\"}", "required must be an array" },
	{ "{\"required\":[1]}", "required[0]" },
	{ "{\"required\":[\"\"]}", "required[0]" },
	{ "{\"type\":\"array\"}", "unknown keyword \"type\"" },
	{ "{\"properties\":{\"A\":{}},\"properties\":{}}", "duplicate" },
	{ "", "line" },
};
/* clang-format on */

static void
test_schema_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_schemas) / sizeof(bad_schemas[0]); i++) {
		struct schema *s = NULL;
		char err[256] = "";
		int r;

		r = schema_load(bad_schemas[i].text, strlen(bad_schemas[i].text), &s, err,
		                sizeof(err));
		if (r != CF_EINVAL || s != NULL)
			fail_msg("#%zu %s: r=%d", i, bad_schemas[i].text, r);
		if (!strstr(err, bad_schemas[i].want))
			fail_msg("#%zu %s: error \"%s\" lacks \"%s\"", i, bad_schemas[i].text, err,
			         bad_schemas[i].want);
	}
}

static void
test_schema_example(void **state)
{
	struct schema_report rep = {0};
	struct dotenv ex = {0}, env = {0};

	(void)state;
	assert_int_equal(dotenv_set(&ex, "A", "", 0), 0);
	assert_int_equal(dotenv_set(&ex, "B", "x", 1), 0);
	assert_int_equal(dotenv_set(&ex, "C", "", 0), 0);
	assert_int_equal(dotenv_set(&env, "A", "1", 1), 0);
	assert_int_equal(dotenv_set(&env, "B", "", 0), 0);
	assert_int_equal(dotenv_set(&env, "EXTRA", "1", 1), 0);
	assert_int_equal(schema_check_example(&ex, &env, &rep), 0);
	assert_int_equal(rep.nfail, 2);
	assert_string_equal(rep.fail[0].var, "B");
	assert_string_equal(rep.fail[0].rule, "example");
	assert_non_null(strstr(rep.fail[0].message, "empty"));
	assert_string_equal(rep.fail[1].var, "C");
	assert_non_null(strstr(rep.fail[1].message, "not set"));
	assert_int_equal(rep.nchecked, 3);
	schema_report_free(&rep);
	dotenv_free(&ex);
	dotenv_free(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_schema_rules),
	        cmocka_unit_test(test_schema_required),
	        cmocka_unit_test(test_schema_defaults),
	        cmocka_unit_test(test_schema_secret_never_in_messages),
	        cmocka_unit_test(test_schema_bad),
	        cmocka_unit_test(test_schema_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
