/* test_config.c - `.coffer-scan.toml` (src/tools/scan/config.c): every
 * construct of the TOML subset read through the rules it builds, errors that
 * name the line, disabled rules, extra rules, secret groups and the
 * allowlists (global and per rule, by path, secret regex and stopword). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "tools/scan/config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kw_aws[] = {"akia", NULL};
static const char *const kw_pw[] = {"password", NULL};

/* Two stand-ins for the built-in rules: the configuration sees only ids. */
static const struct scan_rule builtin[] = {
        {"aws-access-key", "an AWS key id", "rotate it", kw_aws, "AKIA[A-Z0-9]{16}", 0, NULL, 0},
        {"generic-password", "a password", "rotate it", kw_pw, "password=(?<secret>\\S+)", 3.0,
         NULL, SCAN_RULE_GENERIC},
};
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

static int
parse(const char *text, struct scan_config *cfg, char *err, size_t errlen)
{
	return scan_config_parse(text, strlen(text), "t.toml", builtin, NBUILTIN, cfg, err, errlen);
}

static const struct scan_rule *
rule(const struct scan_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].id, id) == 0)
			return &cfg->rules[i];
	return NULL;
}

static void
test_empty(void **state)
{
	struct scan_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nrules, NBUILTIN);
	assert_false(scan_config_allows(&cfg, "aws-access-key", "a.py", "AKIAX", 5));
	scan_config_free(&cfg);
	assert_int_equal(parse("# only a comment\n\n   \t\r\n", &cfg, err, sizeof(err)), 0);
	scan_config_free(&cfg);
}

/* Strings: basic with every escape, literal, both multi-line forms. */
static void
test_strings(void **state)
{
	static const char text[] =
	        "[[rules]]   # an extra rule\n"
	        "id = \"s1\"\n"
	        "description = \"tab\\tq\\\"bs\\\\nl\\n\\u00e9\\U0001F600\\b\\f\\r\\e.\"\n"
	        "regex = 'lit\\d+\"'\n"
	        "keywords = [\"lit\"]\n"
	        "hint = \"\"\"\n"
	        "first \\\n"
	        "     joined\n"
	        "two \"quotes\" \"\" end\"\"\"\n"
	        "[[rules]]\n"
	        "'id' = 's2'\n"
	        "regex = '''\n"
	        "raw\\s+'x'\n"
	        "y'''\n"
	        "keywords = ['raw']\n"
	        "description = \"\"\"a\"\"\"\"\n";
	struct scan_config cfg;
	const struct scan_rule *r1, *r2;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	r1 = rule(&cfg, "s1");
	r2 = rule(&cfg, "s2");
	assert_non_null(r1);
	assert_non_null(r2);
	assert_string_equal(r1->description, "tab\tq\"bs\\nl\n\xc3\xa9\xf0\x9f\x98\x80\b\f\r\x1b.");
	assert_string_equal(r1->pattern, "lit\\d+\"");
	assert_string_equal(r1->hint, "first joined\ntwo \"quotes\" \"\" end");
	assert_string_equal(r2->pattern, "raw\\s+'x'\ny");
	assert_string_equal(r2->description, "a\"");
	assert_string_equal(r2->keywords[0], "raw");
	assert_null(r2->keywords[1]);
	scan_config_free(&cfg);
}

/* Arrays over lines with comments and a trailing comma, integers in every
 * base, floats, booleans, dotted keys, quoted keys. */
static void
test_values(void **state)
{
	static const char text[] = "title = \"t\"\n"
	                           "[[rules]]\n"
	                           "id = \"v1\"\n"
	                           "regex = '(a)(b)(?<x>c)(d)'\n"
	                           "keywords = [ # first\n"
	                           "  \"ab\",  # a comment\n"
	                           "\n"
	                           "  'cd',\n"
	                           "]\n"
	                           "secret_group = 0x4\n"
	                           "entropy = 3_0e-1\n"
	                           "multiline = true\n"
	                           "allowlist.stopwords = [\"Dummy\"]\n"
	                           "[[rules]]\n"
	                           "id = \"v2\"\n"
	                           "\"regex\" = '(a)(?<tok>b)'\n"
	                           "keywords = [\"a\"]\n"
	                           "secretGroup = +2\n"
	                           "entropy = 4\n"
	                           "multiline = false\n"
	                           "[[rules]]\n"
	                           "id = \"v3\"\n"
	                           "regex = '[(](x)'\n"
	                           "keywords = [\"x\"]\n"
	                           "secret_group = 0b1\n"
	                           "entropy = 0o7\n";
	struct scan_config cfg;
	const struct scan_rule *r;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	r = rule(&cfg, "v1");
	assert_non_null(r);
	assert_string_equal(r->keywords[0], "ab");
	assert_string_equal(r->keywords[1], "cd");
	assert_null(r->keywords[2]);
	assert_string_equal(r->pattern, "(a)(b)(?<x>c)(?<secret>d)");
	assert_true(r->min_entropy > 2.99 && r->min_entropy < 3.01);
	assert_int_equal(r->flags, SCAN_RULE_MULTILINE);
	assert_true(scan_config_allows(&cfg, "v1", "f", "xxDUMMYxx", 9));
	assert_false(scan_config_allows(&cfg, "v2", "f", "xxDUMMYxx", 9));
	r = rule(&cfg, "v2");
	assert_non_null(r);
	assert_string_equal(r->pattern, "(a)(?<secret>b)");
	assert_true(r->min_entropy == 4.0);
	assert_int_equal(r->flags, 0);
	r = rule(&cfg, "v3");
	assert_non_null(r);
	assert_string_equal(r->pattern, "[(](?<secret>x)");
	assert_true(r->min_entropy == 7.0);
	assert_int_equal(cfg.nrules, NBUILTIN + 3);
	scan_config_free(&cfg);
}

static void
test_disabled_and_replaced(void **state)
{
	static const char text[] = "disabled_rules = [\"generic-password\"]\n"
	                           "[[rules]]\n"
	                           "id = \"aws-access-key\"\n"
	                           "regex = 'AKIA[A-Z2-7]{16}'\n"
	                           "keywords = [\"AKIA\"]\n";
	struct scan_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nrules, 1);
	assert_null(rule(&cfg, "generic-password"));
	assert_string_equal(rule(&cfg, "aws-access-key")->pattern, "AKIA[A-Z2-7]{16}");
	scan_config_free(&cfg);
}

static void
test_allowlists(void **state)
{
	static const char text[] = "[allowlist]\n"
	                           "description = \"global\"\n"
	                           "paths = ['(^|/)testdata/', '\\.lock$']\n"
	                           "regexes = ['^EXAMPLE']\n"
	                           "stopwords = [\"PLACEHOLDER\"]\n"
	                           "[[rules]]\n"
	                           "id = \"generic-password\"\n"
	                           "[rules.allowlist]\n"
	                           "paths = ['^manual/']\n"
	                           "regexes = ['^hunter']\n"
	                           "stopwords = ['changeme']\n";
	struct scan_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nrules, NBUILTIN);
	/* global: every rule */
	assert_true(scan_config_allows(&cfg, "aws-access-key", "a/testdata/k.py", "s3cr3t", 6));
	assert_true(scan_config_allows(&cfg, "aws-access-key", "yarn.lock", "s3cr3t", 6));
	assert_true(scan_config_allows(&cfg, "aws-access-key", "a.py", "EXAMPLEKEY", 10));
	assert_true(scan_config_allows(&cfg, "aws-access-key", "a.py", "my_placeholder_1", 16));
	assert_false(scan_config_allows(&cfg, "aws-access-key", "a.py", "s3cr3t", 6));
	assert_false(scan_config_allows(&cfg, "aws-access-key", "testdata.py", "s3cr3t", 6));
	/* per rule: only that rule */
	assert_true(scan_config_allows(&cfg, "generic-password", "manual/x.txt", "s3cr3t", 6));
	assert_false(scan_config_allows(&cfg, "aws-access-key", "manual/x.txt", "s3cr3t", 6));
	assert_true(scan_config_allows(&cfg, "generic-password", "a.py", "hunter22", 8));
	assert_false(scan_config_allows(&cfg, "aws-access-key", "a.py", "hunter22", 8));
	assert_true(scan_config_allows(&cfg, "generic-password", "a.py", "xCHANGEMEx", 10));
	assert_false(scan_config_allows(&cfg, "aws-access-key", "a.py", "xCHANGEMEx", 10));
	scan_config_free(&cfg);
}

/* The report filter drops what the allowlists allow and keeps the rest. */
static void
test_filter(void **state)
{
	static const char text[] = "[allowlist]\nstopwords = [\"dummy\"]\n";
	struct scan_report rep = {.lock = PTHREAD_MUTEX_INITIALIZER};
	const char *secrets[] = {"real-one", "a-dummy-value", "other"};
	struct scan_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	rep.v = calloc(3, sizeof(*rep.v));
	assert_non_null(rep.v);
	for (size_t i = 0; i < 3; i++) {
		rep.v[i].file = strdup("f.py");
		rep.v[i].rule = &builtin[0];
		rep.v[i].secret = strdup(secrets[i]);
		rep.v[i].secret_len = strlen(secrets[i]);
		rep.v[i].fingerprint = strdup("f.py:aws-access-key:1");
	}
	rep.n = rep.cap = 3;
	assert_int_equal(scan_config_filter(&cfg, &rep), 1);
	assert_int_equal(rep.n, 2);
	assert_string_equal(rep.v[0].secret, "real-one");
	assert_string_equal(rep.v[1].secret, "other");
	for (size_t i = 0; i < rep.n; i++) {
		free(rep.v[i].file);
		free(rep.v[i].secret);
		free(rep.v[i].fingerprint);
	}
	free(rep.v);
	scan_config_free(&cfg);
}

struct bad {
	const char *text;
	const char *want; /* the start of err */
};

/* clang-format off */
static const struct bad bad_vectors[] = {
	{ "a = 1\n", "t.toml:1: unknown key \"a\"" },
	{ "\n\nx = \n", "t.toml:3: expected a value" },
	{ "disabled_rules = [\"nope\"]\n", "t.toml:1: disabled_rules: no built-in rule \"nope\"" },
	{ "disabled_rules = [\n\"generic-password\",\n\"nope\"]\n", "t.toml:3: disabled_rules: no built-in" },
	{ "disabled_rules = \"aws-access-key\"\n", "t.toml:1: \"disabled_rules\" must be an array" },
	{ "disabled_rules = [1]\n", "t.toml:1: \"disabled_rules\" must be an array of strings" },
	{ "# c\ntitle = \"unterminated\n", "t.toml:2: unterminated string" },
	{ "title = \"\"\"\n\nnever closed\n", "t.toml:1: unterminated string" },
	{ "title = 'a' 'b'\n", "t.toml:1: unexpected '''" },
	{ "title = \"bad \\q escape\"\n", "t.toml:1: unknown escape \\q" },
	{ "title = \"\\ud800\"\n", "t.toml:1: \\u escape is not a valid" },
	{ "title = \"a\"\ntitle = \"b\"\n", "t.toml:2: key \"title\" is defined twice" },
	{ "[allowlist]\n[allowlist]\n", "t.toml:2: table \"allowlist\" is defined twice" },
	{ "[allowlist\n", "t.toml:1: expected ']' to close" },
	{ "[[rules]\n", "t.toml:1: expected ']]' to close" },
	{ "[allowlist]\npaths = ['(unclosed']\n", "t.toml:2: paths: bad regex at offset" },
	{ "[allowlist]\nstopwords = ['']\n", "t.toml:2: an empty stopword" },
	{ "[allowlist]\nwhat = 1\n", "t.toml:2: unknown key \"what\" in an allowlist" },
	{ "[allowlist]\npaths = [\n'a',\n'b'\n", "t.toml:2: unterminated array" },
	{ "[allowlist]\npaths = ['a' 'b']\n", "t.toml:2: expected ',' or ']'" },
	{ "[[rules]]\nregex = 'x'\nkeywords = ['x']\n", "t.toml:1: [[rules]] needs an id" },
	{ "[[rules]]\nid = 'r'\nkeywords = ['x']\n", "t.toml:1: rule \"r\" has no regex" },
	{ "[[rules]]\nid = 'r'\n", "t.toml:1: rule \"r\" needs a regex" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\n", "t.toml:1: rule \"r\" needs keywords" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\nkeywords = []\n", "t.toml:4: rule \"r\" needs at least one keyword" },
	{ "[[rules]]\nid = 'r'\nregex = 'x('\nkeywords = ['x']\n", "t.toml:3: regex: bad regex" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\nkeywords = ['x']\nentropy = 9.5\n", "t.toml:5: entropy must be" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\nkeywords = ['x']\nentropy = 'high'\n", "t.toml:5: entropy must be" },
	{ "[[rules]]\nid = 'r'\nregex = '(x)'\nkeywords = ['x']\nsecret_group = 2\n", "t.toml:5: secret_group must be a capture group of the regex (0 to 1)" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\nkeywords = ['x']\nflavour = 1\n", "t.toml:5: unknown key \"flavour\" in [[rules]]" },
	{ "[[rules]]\nid = 'bad id'\nregex = 'x'\nkeywords = ['x']\n", "t.toml:2: rule id \"bad id\"" },
	{ "[[rules]]\nid = 'r'\nregex = 'x'\nkeywords = ['x']\n[[rules]]\nid = 'r'\nregex = 'y'\nkeywords = ['y']\n", "t.toml:6: rule \"r\" is defined twice" },
	{ "[[rules]]\nid = 'ghost'\n[rules.allowlist]\nstopwords = ['a']\n", "t.toml:2: rule \"ghost\" is not a rule" },
	{ "[rules]\nid = 'r'\n", "t.toml:1: rules must be written as [[rules]]" },
	{ "[allowlist]\n[[allowlist]]\n", "t.toml:2: \"allowlist\" is already defined" },
	{ "title = 2026-12-07\n", "t.toml:1: dates and times are not supported" },
	{ "title = { a = 1 }\n", "t.toml:1: inline tables are not supported" },
	{ "title = 0x\n", "t.toml:1: malformed number" },
	{ "title = 1__0\n", "t.toml:1: expected a value, not \"1__0\"" },
	{ "title = 012\n", "t.toml:1: expected a value, not \"012\"" },
	{ "title = 99999999999999999999\n", "t.toml:1: number \"99999999999999999999\" out of range" },
	{ "title = tru\n", "t.toml:1: expected a value, not \"tru\"" },
	{ "title\n", "t.toml:1: expected '=' after the key \"title\"" },
	{ "= 1\n", "t.toml:1: expected a key" },
	{ "title = 'a'\ntitle.x = 1\n", "t.toml:2: \"title\" is already a value" },
	{ "title = \"a\x01\"\n", "t.toml:1: control character in a string" },
	{ "# c\x01\n", "t.toml:1: control character in a comment" },
	{ "title = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", "t.toml:1: arrays nested too deep" },
};
/* clang-format on */

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_vectors) / sizeof(bad_vectors[0]); i++) {
		struct scan_config cfg;
		char err[512] = "";
		int r = parse(bad_vectors[i].text, &cfg, err, sizeof(err));

		if (r != CF_EINVAL ||
		    strncmp(err, bad_vectors[i].want, strlen(bad_vectors[i].want)))
			fail_msg("vector %zu: got %d \"%s\", want \"%s\"", i, r, err,
			         bad_vectors[i].want);
		assert_null(strchr(err, '\n'));
		assert_int_equal(cfg.nrules, 0);
		assert_null(cfg.rules);
	}
}

static void
test_load(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", err[512] = "";
	struct scan_config cfg;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("disabled_rules = ['aws-access-key']\n\n[allowlist\n", f);
	fclose(f);
	assert_int_equal(scan_config_load(path, true, builtin, NBUILTIN, &cfg, err, sizeof(err)),
	                 CF_EINVAL);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_string_equal(err + strlen(path), ":3: expected ']' to close the table header");
	unlink(path);
	/* missing: built-ins only, unless it must exist */
	assert_int_equal(scan_config_load(path, false, builtin, NBUILTIN, &cfg, err, sizeof(err)),
	                 0);
	assert_int_equal(cfg.nrules, NBUILTIN);
	scan_config_free(&cfg);
	assert_int_equal(scan_config_load(path, true, builtin, NBUILTIN, &cfg, err, sizeof(err)),
	                 CF_EIO);
	assert_non_null(strstr(err, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty),      cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_values),     cmocka_unit_test(test_disabled_and_replaced),
	        cmocka_unit_test(test_allowlists), cmocka_unit_test(test_filter),
	        cmocka_unit_test(test_errors),     cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
