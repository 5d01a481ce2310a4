/* test_glob.c - the one wildcard matcher (lib/glob.h): '*' only, as Vault's
 * go-glob, with the edge cases of each caller (JWT bound claims, event type
 * filters, token role policy globs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/glob.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *pat, *s;
	bool match;
} vectors[] = {
	/* empty pattern and empty subject */
	{ "", "", true },
	{ "", "a", false },
	{ "a", "", false },
	{ "*", "", true },
	{ "**", "", true },
	{ "***", "x", true },
	/* literal */
	{ "abc", "abc", true },
	{ "abc", "abcd", false },
	{ "abcd", "abc", false },
	{ "Abc", "abc", false },                 /* case-sensitive */
	/* prefix, suffix, infix */
	{ "prod-*", "prod-eu", true },
	{ "prod-*", "prod-", true },
	{ "prod-*", "xprod-eu", false },         /* anchored at the start */
	{ "*-eu", "prod-eu", true },
	{ "*-eu", "prod-eu-1", false },          /* anchored at the end */
	{ "a*b*c", "abc", true },
	{ "a*b*c", "aXbYc", true },
	{ "a*b*c", "aXbY", false },
	{ "a*b*c", "acb", false },
	{ "a*a", "a", false },                   /* one 'a' cannot be both ends */
	{ "a*a", "aa", true },
	{ "*ab", "aab", true },                  /* the star must backtrack */
	{ "*aab", "aaab", true },
	{ "a*ba*b", "abababab", true },
	/* only '*' is special: no '?', classes or escapes */
	{ "a?c", "abc", false },
	{ "a?c", "a?c", true },
	{ "[ab]", "a", false },
	{ "[ab]", "[ab]", true },
	{ "a\\*", "a\\xyz", true },              /* a backslash is a plain byte */
	{ "a\\*", "a*", false },
	/* JWT bound claims: subjects with ':' and '/' */
	{ "repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main", true },
	{ "repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/dev", false },
	{ "repo:org/*", "repo:org/a/b/c", true },  /* '*' crosses '/' */
	/* event type filters */
	{ "rotation.*", "rotation.completed", true },
	{ "rotation.*", "rotationx", false },
	{ "*.failed", "rotation.failed.x", false },
	{ "*ion.comp*", "rotation.completed", true },
	{ "secret.*", "secret.compromised", true },
	/* token role policy globs */
	{ "dev-*", "dev-team", true },
	{ "dev-*", "default", false },
	{ "*-admin", "root-admin", true },
	{ "*", "root", true },
	/* UTF-8 is matched as bytes */
	{ "caf\xc3\xa9-*", "caf\xc3\xa9-1", true },
	{ "caf*", "caf\xc3\xa9", true },
	/* a pattern that would be exponential for a naive recursive matcher */
	{ "*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
	{ "*aaaaaaaaaaaaaaaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false },
};
/* clang-format on */

static void
test_glob_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		if (glob_match(vectors[i].pat, vectors[i].s) != vectors[i].match)
			fail_msg("glob %zu: \"%s\" vs \"%s\": want %d", i, vectors[i].pat,
			         vectors[i].s, vectors[i].match);
}

/* A long hostile input finishes (bounded work, no recursion). */
static void
test_glob_long_inputs(void **state)
{
	static char pat[513], s[8193];

	(void)state;
	for (size_t i = 0; i < sizeof(pat) - 1; i++)
		pat[i] = i % 2 ? 'a' : '*';
	pat[sizeof(pat) - 2] = 'b';
	memset(s, 'a', sizeof(s) - 1);
	assert_false(glob_match(pat, s));
	s[sizeof(s) - 2] = 'b';
	assert_true(glob_match(pat, s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_glob_vectors),
	        cmocka_unit_test(test_glob_long_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
