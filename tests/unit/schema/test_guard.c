/* test_guard.c - the pure parts of the .env commit guard (src/tools/env/guard.c):
 * which names are .env files, which are public, which contents count as
 * dotenvx-encrypted, and the .gitignore line of a path. The git parts are
 * tested in tests/integration/test_env_guard.py against real repositories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tools/env/guard.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct {
	const char *name;
	bool env, pub;
} names[] = {
	{ ".env", true, false },
	{ ".env.local", true, false },
	{ ".env.production", true, false },
	{ ".env-old", true, false },
	{ ".env_backup", true, false },
	{ ".env.keys", true, false },
	{ ".env.example", true, true },
	{ ".env.sample", true, true },
	{ ".env.template", true, true },
	{ ".env.dist", true, true },
	{ ".env.defaults", true, true },
	{ ".env.vault", true, true },
	{ ".env.schema", true, true },
	{ ".env.schema.json", true, true },
	{ ".env.example.local", true, false },
	{ ".envrc", false, false },
	{ "app.env", false, false },
	{ "env", false, false },
	{ ".en", false, false },
	{ "", false, false },
};

static const struct {
	const char *text;
	bool encrypted;
} contents[] = {
	{ "#/---[DOTENV_PUBLIC_KEY]---/\nDOTENV_PUBLIC_KEY=\"02ab\"\n# .env\nA=\"encrypted:BD9x\"\n", true },
	{ "DOTENV_PUBLIC_KEY_PRODUCTION=\"02ab\"\nA=encrypted:xyz\nEMPTY=\n", true },
	{ "DOTENV_PUBLIC_KEY=\"02ab\"\n", true },
	{ "DOTENV_PUBLIC_KEY=\"02ab\"\nA=\"encrypted:BD9x\"\nB=plain\n", false },
	{ "DOTENV_PUBLIC_KEY=\"02ab\"\nDOTENV_PRIVATE_KEY=\"ff00\"\n", false },
	{ "A=\"encrypted:BD9x\"\n", false },
	{ "A=1\n", false },
	{ "", false },
	{ "DOTENV_PUBLIC_KEY=02ab\n\xff\xfe\n", false },
};
/* clang-format on */

static void
test_guard_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (guard_is_env_name(names[i].name) != names[i].env)
			fail_msg("guard_is_env_name(\"%s\")", names[i].name);
		if (guard_is_public_name(names[i].name) != names[i].pub)
			fail_msg("guard_is_public_name(\"%s\")", names[i].name);
	}
}

static void
test_guard_encrypted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++)
		if (guard_is_encrypted(contents[i].text, strlen(contents[i].text)) !=
		    contents[i].encrypted)
			fail_msg("#%zu: want %d", i, contents[i].encrypted);
}

static void
test_guard_ignore_line(void **state)
{
	static const char *const v[][2] = {
	        {".env", ".env"},         {"a/b/.env.local", ".env.local"},
	        {".env.*x", ".env.\\*x"}, {"d/.env[1]?", ".env\\[1]\\?"},
	        {".env\\x", ".env\\\\x"}, {".env ", ".env\\ "},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *line = guard_ignore_line(v[i][0]);

		assert_non_null(line);
		assert_string_equal(line, v[i][1]);
		free(line);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_guard_names),
	        cmocka_unit_test(test_guard_encrypted),
	        cmocka_unit_test(test_guard_ignore_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
