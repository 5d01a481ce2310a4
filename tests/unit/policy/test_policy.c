/* test_policy.c - ACL policies: parsing (HCL, JSON, base64, legacy), merging and
 * the choice of one rule per path (Vault's policy language). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/err.h"
#include "lib/util.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW   (CAP_READ | CAP_UPDATE)
#define CRUD (CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_DELETE)
#define ALL                                                                                        \
	(CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_DELETE | CAP_LIST | CAP_SUDO | CAP_PATCH |       \
	 CAP_SUBSCRIBE)

static struct policy *
parse_ok(const char *name, const char *text)
{
	struct policy *p = NULL;
	char err[256] = "";
	int r = policy_parse(name, text, &p, err, sizeof(err));

	if (r != 0)
		fail_msg("policy %s failed: %d %s", name, r, err);
	assert_non_null(p);
	return p;
}

static struct acl *
acl_of(const char *const *texts, size_t n)
{
	struct policy *p[8];
	struct acl *a = NULL;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		p[i] = parse_ok("p", texts[i]);
	assert_int_equal(acl_new(p, n, false, &a), 0);
	for (size_t i = 0; i < n; i++)
		policy_free(p[i]);
	return a;
}

struct cap_case {
	const char *path;
	unsigned caps;
};

static void
check_cases(const struct acl *a, const struct cap_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned got = acl_capabilities(a, c[i].path);
		if (got != c[i].caps)
			fail_msg("path \"%s\": caps 0x%x, want 0x%x", c[i].path, got, c[i].caps);
	}
}

/* ---- matching and priority ---- */

/* clang-format off */
static const char match_policy[] =
	"# exact, prefix and segment patterns\n"
	"path \"secret/exact\" { capabilities = [\"read\"] }\n"
	"path \"secret/foo*\" { capabilities = [\"list\"] }\n"
	"path \"secret/*\" { capabilities = [\"read\", \"update\"] }\n"
	"path \"secret/data/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\"] }\n"
	"path \"secret/data/locked\" { capabilities = [\"deny\"] }\n"
	"path \"secret/data/locked/*\" { capabilities = [\"deny\", \"read\"] }\n"
	"path \"secret/+/config\" { capabilities = [\"sudo\"] }\n"
	"path \"+/team\" { capabilities = [\"patch\"] }\n"
	"path \"kv/+/+/x\" { capabilities = [\"read\"] }\n"
	"path \"kv/a/+/x\" { capabilities = [\"update\"] }\n"
	"path \"m/+/+\" { capabilities = [\"read\"] }\n"
	"path \"m/+/b*\" { capabilities = [\"update\"] }\n"
	"path \"n/+/b/+\" { capabilities = [\"read\"] }\n"
	"path \"n/+/b/c\" { capabilities = [\"update\"] }\n"
	"path \"n/+/+/d\" { capabilities = [\"delete\"] }\n"
	"path \"o/+/a*\" { capabilities = [\"read\"] }\n"
	"path \"o/+/ab*\" { capabilities = [\"update\"] }\n"
	"path \"p/+/*\" { capabilities = [\"read\"] }\n"
	"path \"lit/*/mid\" { capabilities = [\"read\"] }\n"
	"path \"lit/a+b\" { capabilities = [\"update\"] }\n"
	"path \"/slash/x\" { capabilities = [\"read\"] }\n"
	"path \"empty\" { capabilities = [] }\n"
	"path \"all/*\" { capabilities = [\"create\", \"read\", \"update\", \"patch\", \"delete\", "
	"\"list\", \"sudo\", \"subscribe\"] }\n";
/* clang-format on */

/* clang-format off */
static const struct cap_case match_cases[] = {
	/* exact beats any glob */
	{ "secret/exact", CAP_READ },
	/* '*' only as last char: prefix glob, the longer prefix wins */
	{ "secret/foo", CAP_LIST },
	{ "secret/foobar", CAP_LIST },
	{ "secret/foo/x", CAP_LIST },
	{ "secret/fo", RW },
	{ "secret/", RW },
	{ "secret", CAP_DENY },
	{ "secretx", CAP_DENY },
	{ "secret/data/app", CRUD },
	{ "secret/data/", CRUD },
	/* deny */
	{ "secret/data/locked", CAP_DENY },
	{ "secret/data/locked/a", CAP_DENY },
	{ "secret/data/lockedx", CRUD },
	/* '+' = exactly one segment; ties on the first wildcard: '*' loses */
	{ "secret/x/config", CAP_SUDO },
	{ "secret//config", CAP_SUDO },
	{ "secret/x/y/config", RW },
	{ "secret/x/configs", RW },
	{ "secret/config", RW },
	/* '+' anywhere, including first */
	{ "a/team", CAP_PATCH },
	{ "a/b/team", CAP_DENY },
	{ "team", CAP_DENY },
	/* first wildcard later wins */
	{ "kv/a/b/x", CAP_UPDATE },
	{ "kv/z/b/x", CAP_READ },
	{ "kv/a/b/y", CAP_DENY },
	/* same first wildcard: ending in '*' loses */
	{ "m/a/b", CAP_READ },
	{ "m/a/bc", CAP_READ },
	{ "m/a/bc/d", CAP_UPDATE },
	/* same first wildcard, neither a glob: more '+' loses ... */
	{ "n/a/b/c", CAP_UPDATE },
	/* ... equal '+' count and length: lexicographically smaller loses */
	{ "n/a/b/d", CAP_READ },
	{ "n/a/x/d", CAP_DELETE },
	/* same first wildcard, both '*', same '+' count: shorter loses */
	{ "o/1/abc", CAP_UPDATE },
	{ "o/1/ac", CAP_READ },
	{ "o/1/b", CAP_DENY },
	/* '+' then '*' */
	{ "p/a/", CAP_READ },
	{ "p/a/b/c", CAP_READ },
	{ "p/a", CAP_DENY },
	/* '*' in the middle and '+' inside a segment are literal */
	{ "lit/*/mid", CAP_READ },
	{ "lit/x/mid", CAP_DENY },
	{ "lit/a+b", CAP_UPDATE },
	{ "lit/axb", CAP_DENY },
	/* a leading '/' in a pattern is ignored */
	{ "slash/x", CAP_READ },
	{ "/slash/x", CAP_DENY },
	/* a rule with no capabilities is chosen and denies */
	{ "empty", CAP_DENY },
	{ "all/x", ALL },
	/* nothing matches */
	{ "", CAP_DENY },
	{ "other/path", CAP_DENY },
};
/* clang-format on */

static void
test_policy_match_table(void **state)
{
	const char *t[] = {match_policy};
	struct acl *a;

	(void)state;
	a = acl_of(t, 1);
	assert_false(acl_is_root(a));
	check_cases(a, match_cases, sizeof(match_cases) / sizeof(match_cases[0]));
	assert_int_equal(acl_capabilities(a, NULL), CAP_DENY);
	assert_int_equal(acl_capabilities(NULL, "secret/x"), CAP_DENY);
	acl_free(a);
}

static void
test_policy_glob_everything(void **state)
{
	const char *t[] = {"path \"*\" { capabilities = [\"read\"] }\n"
	                   "path \"+\" { capabilities = [\"list\"] }\n"};
	static const struct cap_case c[] = {
	        {"", CAP_LIST},
	        {"x", CAP_LIST},
	        {"x/", CAP_READ},
	        {"x/y/z", CAP_READ},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 1);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

/* More nested literal prefixes than the lookup remembers: the fallback scan
 * must give the same answers. */
static void
test_policy_many_nested_prefixes(void **state)
{
	char *text = malloc(64 * 1024), path[256];
	size_t off = 0;
	struct policy *p;
	struct acl *a = NULL;

	(void)state;
	assert_non_null(text);
	for (int i = 1; i <= 150; i++) {
		/* "x*", "xx*", ... up to 150 x's */
		off += (size_t)snprintf(
		        text + off, 64 * 1024 - off, "path \"%.*s*\" { capabilities = [\"%s\"] }\n",
		        i,
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		        "xxxxxxxxxxxxxxxxxxxx",
		        i % 2 ? "read" : "list");
	}
	p = parse_ok("nested", text);
	assert_int_equal(acl_new(&p, 1, false, &a), 0);
	policy_free(p);
	for (int n = 1; n <= 200; n++) {
		unsigned want = n >= 150 ? CAP_LIST : (n % 2 ? CAP_READ : CAP_LIST);
		memset(path, 'x', (size_t)n);
		path[n] = '\0';
		if (acl_capabilities(a, path) != want)
			fail_msg("len %d: 0x%x want 0x%x", n, acl_capabilities(a, path), want);
		path[n] = '/';
		path[n + 1] = '\0';
		if (acl_capabilities(a, path) != want)
			fail_msg("len %d/: 0x%x want 0x%x", n, acl_capabilities(a, path), want);
	}
	assert_int_equal(acl_capabilities(a, "y"), CAP_DENY);
	acl_free(a);
	free(text);
}

/* ---- merging ---- */

static void
test_policy_merge_two(void **state)
{
	const char *t[] = {
	        "path \"secret/a\" { capabilities = [\"read\"] }\n"
	        "path \"secret/b\" { capabilities = [\"read\"] }\n"
	        "path \"secret/*\" { capabilities = [\"list\"] }\n"
	        "path \"shared/+\" { capabilities = [\"create\"] }\n",
	        "path \"secret/a\" { capabilities = [\"update\"] }\n"
	        "path \"secret/b\" { capabilities = [\"deny\"] }\n"
	        "path \"/secret/*\" { capabilities = [\"read\"] }\n"
	        "path \"other\" { capabilities = [\"sudo\"] }\n",
	};
	static const struct cap_case c[] = {
	        {"secret/a", CAP_READ | CAP_UPDATE}, /* identical patterns unioned */
	        {"secret/b", CAP_DENY},              /* deny absorbs */
	        {"secret/c", CAP_LIST | CAP_READ},   /* also across a leading '/' */
	        {"shared/x", CAP_CREATE},
	        {"other", CAP_SUDO},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 2);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

/* Parameter constraints are merged across policies like Vault's: allowed keys
 * and values are unioned, an empty list (any value) wins; checked on the rule
 * chosen for the path (here a glob). */
static void
test_policy_params_merged_and_checked(void **state)
{
	const char *t[] = {
	        "path \"kv/*\" { capabilities = [\"update\"]\n"
	        "  allowed_parameters = { \"color\" = [\"red\"] \"n\" = [1, 2] }\n"
	        "  required_parameters = [\"color\"] }\n",
	        "path \"kv/*\" { capabilities = [\"create\"]\n"
	        "  allowed_parameters = { \"color\" = [\"gr*\"] \"tags\" = [] }\n"
	        "  denied_parameters = { \"tags\" = [\"admin\"] } }\n",
	};
	struct acl *a;
	char err[128];
	json_t *ok1 = json_pack("{s:s, s:i}", "color", "red", "n", 2);
	json_t *ok2 = json_pack("{s:s, s:[s,s]}", "Color", "green", "tags", "x", "y");
	json_t *bad_value = json_pack("{s:s}", "color", "blue");
	json_t *bad_key = json_pack("{s:s, s:s}", "color", "red", "size", "xl");
	json_t *bad_num = json_pack("{s:s, s:i}", "color", "red", "n", 3);
	json_t *denied = json_pack("{s:s, s:[s,s]}", "color", "red", "tags", "x", "admin");
	json_t *missing = json_pack("{s:[s]}", "tags", "x");

	(void)state;
	a = acl_of(t, 2);
	assert_int_equal(acl_capabilities(a, "kv/x"), CAP_CREATE | CAP_UPDATE);
	assert_int_equal(acl_check_params(a, "kv/x", ok1, err, sizeof(err)), 0);
	assert_int_equal(acl_check_params(a, "kv/x", ok2, err, sizeof(err)), 0);
	assert_int_equal(acl_check_params(a, "kv/x", bad_value, err, sizeof(err)), CF_EDENIED);
	assert_non_null(strstr(err, "color"));
	assert_int_equal(acl_check_params(a, "kv/x", bad_key, err, sizeof(err)), CF_EDENIED);
	assert_non_null(strstr(err, "size"));
	assert_int_equal(acl_check_params(a, "kv/x", bad_num, err, sizeof(err)), CF_EDENIED);
	assert_int_equal(acl_check_params(a, "kv/x", denied, err, sizeof(err)), CF_EDENIED);
	assert_int_equal(acl_check_params(a, "kv/x", missing, err, sizeof(err)), CF_EDENIED);
	assert_non_null(strstr(err, "required"));
	/* another path has no constraints */
	assert_int_equal(acl_check_params(a, "other", bad_key, err, sizeof(err)), 0);
	acl_free(a);
	json_decref(ok1);
	json_decref(ok2);
	json_decref(bad_value);
	json_decref(bad_key);
	json_decref(bad_num);
	json_decref(denied);
	json_decref(missing);
}

static void
test_policy_merge_within_policy(void **state)
{
	const char *t[] = {"path \"x\" { capabilities = [\"read\"] }\n"
	                   "path \"x\" { capabilities = [\"list\"] }\n"
	                   "path \"y\" { capabilities = [\"read\"] }\n"
	                   "path \"/y\" { capabilities = [\"deny\"] }\n"};
	static const struct cap_case c[] = {
	        {"x", CAP_READ | CAP_LIST},
	        {"y", CAP_DENY},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 1);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

static void
test_policy_empty_acl(void **state)
{
	struct acl *a = NULL;

	(void)state;
	assert_int_equal(acl_new(NULL, 0, false, &a), 0);
	assert_int_equal(acl_capabilities(a, "anything"), CAP_DENY);
	acl_free(a);
	acl_free(NULL);
}

static void
test_policy_root(void **state)
{
	struct policy *p = parse_ok("p", "path \"x\" { capabilities = [\"deny\"] }");
	struct acl *a = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(acl_new(&p, 1, true, &a), 0);
	policy_free(p);
	assert_true(acl_is_root(a));
	assert_int_equal(acl_capabilities(a, "x"), CAP_ROOT | ALL);
	assert_int_equal(acl_capabilities(a, "sys/anything"), CAP_ROOT | ALL);
	j = acl_caps_json(acl_capabilities(a, "x"));
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_array_get(j, 0)), "root");
	json_decref(j);
	acl_free(a);
}

/* ---- legacy, JSON and base64 forms ---- */

static void
test_policy_legacy(void **state)
{
	const char *t[] = {
	        "path \"r\" { policy = \"read\" }\n"
	        "path \"w\" { policy = \"write\" }\n"
	        "path \"s\" { policy = \"sudo\" }\n"
	        "path \"d\" { policy = \"deny\" }\n"
	        "path \"both\" { policy = \"read\"\n capabilities = [\"patch\"] }\n"
	        "path \"both-deny\" { policy = \"deny\"\n capabilities = [\"read\"] }\n"};
	static const struct cap_case c[] = {
	        {"r", CAP_READ | CAP_LIST},
	        {"w", CRUD | CAP_LIST},
	        {"s", CRUD | CAP_LIST | CAP_SUDO},
	        {"d", CAP_DENY},
	        {"both", CAP_READ | CAP_LIST | CAP_PATCH},
	        {"both-deny", CAP_DENY},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 1);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

static void
test_policy_json_form(void **state)
{
	/* hvac: pretty-printed, sorted keys; node-vault: legacy "policy" */
	const char *t[] = {
	        "\n  {\n    \"path\": {\n      \"secret/*\": {\n        \"capabilities\": [\n"
	        "          \"read\",\n          \"list\"\n        ]\n      },\n"
	        "      \"secret/+/x\": {\"capabilities\": [\"update\"]}\n    }\n  }\n",
	        "{\"path\":{\"kv/*\":{\"policy\":\"write\"}}}",
	        ("{\"path\": [{\"arr/a\": {\"capabilities\": [\"read\"]}},"
	         " {\"arr/b\": [{\"capabilities\": [\"read\"]}, {\"capabilities\": "
	         "[\"list\"]}]}]}"),
	};
	static const struct cap_case c[] = {
	        {"secret/a", CAP_READ | CAP_LIST}, {"secret/a/x", CAP_UPDATE},
	        {"kv/k", CRUD | CAP_LIST},         {"arr/a", CAP_READ},
	        {"arr/b", CAP_READ | CAP_LIST},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 3);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

static void
test_policy_base64_form(void **state)
{
	static const char hcl[] = "path \"b64/*\" { capabilities = [\"read\"] }\n";
	static const char json[] = "{\"path\": {\"j64\": {\"capabilities\": [\"list\"]}}}";
	char *e1 = util_b64_encode(hcl, strlen(hcl)), *e2 = util_b64_encode(json, strlen(json));
	char wrapped[256];
	const char *t[3];
	static const struct cap_case c[] = {
	        {"b64/x", CAP_READ},
	        {"j64", CAP_LIST},
	};
	struct acl *a;

	(void)state;
	assert_non_null(e1);
	assert_non_null(e2);
	/* Go's decoder skips CR and LF. */
	assert_true(strlen(e2) > 10);
	assert_true((size_t)snprintf(wrapped, sizeof(wrapped), "%.8s\r\n%s\n", e2, e2 + 8) <
	            sizeof(wrapped));
	t[0] = e1;
	t[1] = e2;
	t[2] = wrapped;
	a = acl_of(t, 3);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
	free(e1);
	free(e2);
}

/* ---- errors ---- */

/* clang-format off */
static const struct {
	const char *text;
	const char *err; /* substring */
} err_vectors[] = {
	{ "path \"x\" { capabilities = [\"read\", \"fly\"] }", "invalid capability \"fly\"" },
	{ "path \"x\" { capabilities = [\"Read\"] }", "invalid capability \"Read\"" },
	{ "path \"x\" { capabilities = [\"root\"] }", "invalid capability \"root\"" },
	{ "path \"x\" { capabilities = [\"deny\", \"fly\"] }", "invalid capability" },
	{ "path \"x\" { capabilities = \"read\" }", "must be a list of strings" },
	{ "path \"x\" { capabilities = [1] }", "must be a list of strings" },
	{ "path \"x\" { policy = \"admin\" }", "invalid policy \"admin\"" },
	{ "path \"x\" { policy = 1 }", "invalid policy" },
	{ "path \"x/+*\" { capabilities = [\"read\"] }", "'+*' is forbidden" },
	{ "path \"x\" { capabilites = [\"read\"] }", "invalid key \"capabilites\"" },
	{ "paths \"x\" { capabilities = [\"read\"] }", "invalid key \"paths\"" },
	{ "path = \"x\"", "\"path\" must be an object" },
	{ "path \"x\" { min_wrapping_ttl = \"soon\" }", "invalid min_wrapping_ttl" },
	{ "path \"x\" { max_wrapping_ttl = -1 }", "invalid max_wrapping_ttl" },
	/* the 100-year duration limit holds for numbers and strings alike */
	{ "path \"x\" { max_wrapping_ttl = 3153600001 }", "invalid max_wrapping_ttl" },
	{ "path \"x\" { max_wrapping_ttl = \"2200000h\" }", "invalid max_wrapping_ttl" },
	{ "{\"path\": {\"x\": {\"min_wrapping_ttl\": 9223372036854775807}}}",
	  "invalid min_wrapping_ttl" },
	{ "path \"x\" { min_wrapping_ttl = \"1h\"\n max_wrapping_ttl = \"1m\" }",
	 "max_wrapping_ttl cannot be less than min_wrapping_ttl"},
	{ "path \"x\" { allowed_parameters = [\"a\"] }", "allowed_parameters must be a map" },
	{ "path \"x\" { denied_parameters = { a = \"b\" } }", "denied_parameters[\"a\"] must be" },
	{ "path \"x\" { required_parameters = [1] }", "required_parameters must be a list" },
	{ "path \"x\" capabilities = [\"read\"]", "line 1, column 23:" },
	{ "path \"x\" {\n  capabilities = [\"read\"\n}", "line 3, column 1: expected ','" },
	{ "{\"path\": {\"x\": {\"capabilities\": [\"read\"]}}", "line 1," },
	{ "{\"path\": {}, \"path\": {}}", "duplicate" },
	{ "{\"path\": {\"x\": 1}}", "expected an object" },
	{ "[]", "line 1, column 1:" },
};
/* clang-format on */

static void
test_policy_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_vectors) / sizeof(err_vectors[0]); i++) {
		struct policy *p = (struct policy *)0x1;
		char err[256] = "";
		int r = policy_parse("bad", err_vectors[i].text, &p, err, sizeof(err));
		if (r != CF_EINVAL)
			fail_msg("[%s]: r=%d, want CF_EINVAL", err_vectors[i].text, r);
		assert_ptr_equal(p, (struct policy *)0x1);
		if (strstr(err, err_vectors[i].err) == NULL)
			fail_msg("[%s]: error \"%s\" lacks \"%s\"", err_vectors[i].text, err,
			         err_vectors[i].err);
	}
}

static void
test_policy_too_large(void **state)
{
	size_t n = (1u << 20) + 2;
	char *big = malloc(n), err[128];
	struct policy *p = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, '#', n - 1);
	big[n - 1] = '\0';
	assert_int_equal(policy_parse("big", big, &p, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "larger than"));
	free(big);
}

static void
test_policy_empty_text(void **state)
{
	struct policy *p = parse_ok("Empty", "");
	struct acl *a = NULL;

	(void)state;
	assert_string_equal(policy_name(p), "empty");
	assert_int_equal(acl_new(&p, 1, false, &a), 0);
	assert_int_equal(acl_capabilities(a, "x"), CAP_DENY);
	acl_free(a);
	policy_free(p);
	policy_free(NULL);
}

/* ---- names, JSON output ---- */

static void
test_policy_name_lowercased(void **state)
{
	struct policy *p = parse_ok("My-Policy", "path \"x\" { capabilities = [\"read\"] }");

	(void)state;
	assert_string_equal(policy_name(p), "my-policy");
	policy_free(p);
}

static void
test_policy_caps_json(void **state)
{
	static const struct {
		unsigned caps;
		const char *json;
	} v[] = {
	        {0, "[\"deny\"]"},
	        {CAP_DENY, "[\"deny\"]"},
	        {CAP_DENY | CAP_READ, "[\"deny\"]"},
	        {CAP_READ | CAP_LIST, "[\"list\", \"read\"]"},
	        {ALL, "[\"create\", \"delete\", \"list\", \"patch\", \"read\", \"subscribe\", "
	              "\"sudo\", \"update\"]"},
	        {CAP_ROOT | ALL, "[\"root\"]"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *got = acl_caps_json(v[i].caps), *want = json_loads(v[i].json, 0, NULL);
		assert_non_null(got);
		assert_non_null(want);
		if (!json_equal(got, want))
			fail_msg("caps 0x%x: got %s", v[i].caps, json_dumps(got, JSON_COMPACT));
		json_decref(got);
		json_decref(want);
	}
}

static void
test_policy_cap_from_name(void **state)
{
	(void)state;
	assert_int_equal(acl_cap_from_name("read"), CAP_READ);
	assert_int_equal(acl_cap_from_name("deny"), CAP_DENY);
	assert_int_equal(acl_cap_from_name("subscribe"), CAP_SUBSCRIBE);
	assert_int_equal(acl_cap_from_name("patch"), CAP_PATCH);
	assert_int_equal(acl_cap_from_name("root"), 0);
	assert_int_equal(acl_cap_from_name("READ"), 0);
	assert_int_equal(acl_cap_from_name(""), 0);
	assert_int_equal(acl_cap_from_name(NULL), 0);
}

static void
test_policy_json_canonical(void **state)
{
	static const char text[] = "path \"/a/*\" {\n"
	                           "  policy = \"read\"\n"
	                           "  allowed_parameters = { \"Foo\" = [\"x\"], \"*\" = [] }\n"
	                           "  required_parameters = [\"foo\"]\n"
	                           "  min_wrapping_ttl = \"1m\"\n"
	                           "  max_wrapping_ttl = 3600\n"
	                           "  comment = \"ignored\"\n"
	                           "}\n"
	                           "path \"a/*\" { capabilities = [\"update\"]\n"
	                           "  allowed_parameters = { \"foo\" = [\"y\"] }\n"
	                           "  denied_parameters = { \"bar\" = [] }\n"
	                           "  min_wrapping_ttl = 30\n"
	                           "}\n"
	                           "path \"b\" { capabilities = [\"deny\", \"read\"] }\n";
	static const char want[] = "{\"path\": {"
	                           "\"a/*\": {\"capabilities\": [\"list\", \"read\", \"update\"],"
	                           "  \"allowed_parameters\": {\"foo\": [\"y\", \"x\"], \"*\": []},"
	                           "  \"denied_parameters\": {\"bar\": []},"
	                           "  \"required_parameters\": [\"foo\"],"
	                           "  \"min_wrapping_ttl\": 30, \"max_wrapping_ttl\": 3600},"
	                           "\"b\": {\"capabilities\": [\"deny\"]}}}";
	struct policy *p = parse_ok("c", text), *p2;
	json_t *got = policy_json(p), *exp = json_loads(want, 0, NULL), *again;
	char *dump;

	(void)state;
	assert_non_null(got);
	assert_non_null(exp);
	/* Merge order of parameter values is not part of the contract. */
	{
		json_t *ap = json_object_get(json_object_get(json_object_get(got, "path"), "a/*"),
		                             "allowed_parameters");
		json_t *foo = json_object_get(ap, "foo");
		assert_int_equal(json_array_size(foo), 2);
		if (strcmp(json_string_value(json_array_get(foo, 0)), "x") == 0)
			json_object_set_new(ap, "foo", json_pack("[ss]", "y", "x"));
	}
	if (!json_equal(got, exp))
		fail_msg("got %s", json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS));
	/* Round trip: the dump parses back to the same canonical form. */
	dump = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
	assert_non_null(dump);
	p2 = parse_ok("c", dump);
	again = policy_json(p2);
	assert_true(json_equal(got, again));
	json_decref(again);
	policy_free(p2);
	free(dump);
	json_decref(got);
	json_decref(exp);
	policy_free(p);
}

/* ---- the built-in default policy (Vault's built-in policies) ---- */

static void
test_policy_default(void **state)
{
	const char *t[] = {policy_default_text()};
	static const struct cap_case c[] = {
	        {"auth/token/lookup-self", CAP_READ},
	        {"auth/token/renew-self", CAP_UPDATE},
	        {"auth/token/revoke-self", CAP_UPDATE},
	        {"sys/capabilities-self", CAP_UPDATE},
	        {"sys/renew", CAP_UPDATE},
	        {"sys/leases/renew", CAP_UPDATE},
	        {"sys/leases/lookup", CAP_UPDATE},
	        {"sys/wrapping/wrap", CAP_UPDATE},
	        {"sys/wrapping/lookup", CAP_UPDATE},
	        {"sys/wrapping/unwrap", CAP_UPDATE},
	        {"sys/tools/hash", CAP_UPDATE},
	        {"sys/tools/hash/sha2-256", CAP_UPDATE},
	        {"sys/tools/random", CAP_UPDATE},
	        {"sys/tools/random/32", CAP_UPDATE},
	        {"sys/control-group/request", CAP_UPDATE},
	        {"sys/internal/ui/resultant-acl", CAP_READ},
	        {"identity/entity/id/{{identity.entity.id}}", CAP_READ},
	        {"identity/entity/name/{{identity.entity.name}}", CAP_READ},
	        {"cubbyhole/x", CRUD | CAP_LIST},
	        {"cubbyhole/", CRUD | CAP_LIST},
	        {"secret/x", CAP_DENY},
	        {"sys/mounts", CAP_DENY},
	        {"auth/token/create", CAP_DENY},
	};
	struct acl *a;

	(void)state;
	a = acl_of(t, 1);
	check_cases(a, c, sizeof(c) / sizeof(c[0]));
	acl_free(a);
}

/* ---- cross-check against a direct transcription of Vault's algorithm ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Vault's acl.go: segment-wise for '+' patterns, HasPrefix for plain globs. */
static bool
ref_match(const char *pat, const char *path)
{
	char base[64], pb[64], *ps[16], *bs[16];
	size_t len = strlen(pat), nb = 0, np = 0;
	bool prefix = len > 0 && pat[len - 1] == '*';
	bool plus = false;

	snprintf(base, sizeof(base), "%.*s", (int)(prefix ? len - 1 : len), pat);
	snprintf(pb, sizeof(pb), "%s", path);
	bs[nb++] = base;
	for (char *c = base; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			bs[nb++] = c + 1;
		}
	}
	for (size_t i = 0; i < nb; i++)
		plus = plus || strcmp(bs[i], "+") == 0;
	if (!plus) {
		size_t bl = prefix ? len - 1 : len;
		return prefix ? strncmp(path, pat, bl) == 0 : strcmp(path, pat) == 0;
	}
	ps[np++] = pb;
	for (char *c = pb; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			ps[np++] = c + 1;
		}
	}
	if (np < nb || (!prefix && np != nb))
		return false;
	for (size_t i = 0; i < nb; i++) {
		if (strcmp(bs[i], "+") == 0 || strcmp(bs[i], ps[i]) == 0)
			continue;
		if (prefix && i == nb - 1 && strncmp(ps[i], bs[i], strlen(bs[i])) == 0)
			continue;
		return false;
	}
	return true;
}

static bool
ref_is_glob(const char *pat)
{
	size_t len = strlen(pat);

	return (len > 0 && pat[len - 1] == '*') || strstr(pat, "+") != NULL;
}

/* The priority rule of docs/internals/policy.md: true when a has lower priority than b. */
static bool
ref_lower(const char *a, const char *b)
{
	size_t fa = strcspn(a, "+*"), fb = strcspn(b, "+*");
	size_t la = strlen(a), lb = strlen(b), pa = 0, pb = 0;
	bool sa = a[la - 1] == '*', sb = b[lb - 1] == '*';

	if (fa != fb)
		return fa < fb;
	if (sa != sb)
		return sa;
	for (const char *c = a; *c; c++)
		pa += *c == '+';
	for (const char *c = b; *c; c++)
		pb += *c == '+';
	if (pa != pb)
		return pa > pb;
	if (la != lb)
		return la < lb;
	return strcmp(a, b) < 0;
}

static void
test_policy_random_vs_reference(void **state)
{
	static const char *const seg[] = {"a", "b", "ab", "+"};
	static const char *const pseg[] = {"a", "b", "ab", "abc", ""};
	char pats[24][64], text[4096], path[64];
	unsigned caps[24];

	(void)state;
	for (int round = 0; round < 1000; round++) {
		size_t npat = 1 + rnd(20), off = 0;
		struct policy *p;
		struct acl *a = NULL;

		for (size_t i = 0; i < npat; i++) {
			size_t n = 1 + rnd(4), o = 0;
			for (size_t k = 0; k < n; k++)
				o += (size_t)snprintf(pats[i] + o, sizeof(pats[i]) - o, "%s%s",
				                      k ? "/" : "", seg[rnd(4)]);
			switch (rnd(3)) {
			case 0: /* a trailing star segment */
				snprintf(pats[i] + o, sizeof(pats[i]) - o, "/*");
				break;
			case 1: /* "x*" unless it would make "+*" */
				if (pats[i][o - 1] != '+')
					snprintf(pats[i] + o, sizeof(pats[i]) - o, "*");
				break;
			default:
				break;
			}
			caps[i] = 0;
			for (size_t j = 0; j < i; j++) {
				if (strcmp(pats[i], pats[j]) == 0)
					caps[i] = caps[j]; /* duplicate: keep it consistent */
			}
			if (caps[i] == 0)
				caps[i] = (1u << (1 + rnd(8))) | (rnd(10) == 0 ? CAP_DENY : 0);
			if (caps[i] & CAP_DENY)
				caps[i] = CAP_DENY;
		}
		for (size_t i = 0; i < npat; i++) {
			json_t *names = acl_caps_json(caps[i]);
			char *s = json_dumps(names, JSON_COMPACT);
			off += (size_t)snprintf(text + off, sizeof(text) - off,
			                        "path \"%s\" { capabilities = %s }\n", pats[i], s);
			assert_true(off < sizeof(text));
			free(s);
			json_decref(names);
		}
		p = parse_ok("r", text);
		assert_int_equal(acl_new(&p, 1, false, &a), 0);
		policy_free(p);

		for (int q = 0; q < 50; q++) {
			size_t n = 1 + rnd(5), o = 0;
			int best = -1;
			unsigned want;
			for (size_t k = 0; k < n; k++)
				o += (size_t)snprintf(path + o, sizeof(path) - o, "%s%s",
				                      k ? "/" : "", pseg[rnd(5)]);
			for (size_t i = 0; i < npat; i++) {
				if (!ref_is_glob(pats[i]) && strcmp(pats[i], path) == 0) {
					best = (int)i;
					break;
				}
			}
			if (best < 0) {
				for (size_t i = 0; i < npat; i++) {
					if (!ref_is_glob(pats[i]) || !ref_match(pats[i], path))
						continue;
					if (best < 0 || ref_lower(pats[best], pats[i]))
						best = (int)i;
				}
			}
			want = best < 0 ? CAP_DENY : caps[best];
			if (acl_capabilities(a, path) != want)
				fail_msg("path \"%s\": got 0x%x want 0x%x (rule \"%s\")\n%s", path,
				         acl_capabilities(a, path), want,
				         best < 0 ? "-" : pats[best], text);
		}
		acl_free(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_policy_match_table),
	        cmocka_unit_test(test_policy_glob_everything),
	        cmocka_unit_test(test_policy_many_nested_prefixes),
	        cmocka_unit_test(test_policy_merge_two),
	        cmocka_unit_test(test_policy_merge_within_policy),
	        cmocka_unit_test(test_policy_empty_acl),
	        cmocka_unit_test(test_policy_root),
	        cmocka_unit_test(test_policy_legacy),
	        cmocka_unit_test(test_policy_json_form),
	        cmocka_unit_test(test_policy_base64_form),
	        cmocka_unit_test(test_policy_errors),
	        cmocka_unit_test(test_policy_too_large),
	        cmocka_unit_test(test_policy_empty_text),
	        cmocka_unit_test(test_policy_name_lowercased),
	        cmocka_unit_test(test_policy_caps_json),
	        cmocka_unit_test(test_policy_cap_from_name),
	        cmocka_unit_test(test_policy_json_canonical),
	        cmocka_unit_test(test_policy_params_merged_and_checked),
	        cmocka_unit_test(test_policy_default),
	        cmocka_unit_test(test_policy_random_vs_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
