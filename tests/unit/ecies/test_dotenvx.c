/* test_dotenvx.c - the parts of tools/env/dotenvx that need no dotenvx binary:
 * key names per file name, one value decrypted with a dotenvx-made vector, and
 * dotenvx_decrypt_values() (what `coffer run` calls) with keys from the
 * environment, from .env.keys, wrong and missing. The file formats themselves
 * are checked against dotenvx in tests/integration/test_env_crypt.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/ecies.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "tools/env/dotenv.h"
#include "tools/env/dotenvx.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pair and vector of test_ecies.c, made by dotenvx. */
static const char kat_priv[] = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
static const char kat_value[] =
        "encrypted:BOYcm5C0PfiXVCsLp9rqEZM6aMS+7X4dpzTU3uyD0i3MSEgEfxwaBgbwCsfTdJBCpOy0HR3CzJGu3tv"
        "367hzsa9DlfL73aqPsGN1lgePWU7nFWC/zaG2YazCU6cKqvSl39Hw6g3H3EUpLEbwsgHx800=";
static const char kat_plain[] = "h\xc3\xa9llo\nworld \"q\"";
static const char other_priv[] = "0ab82743493692862659aa9ef65c0a8a0083042142f51dcf2c36f99223280962";

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void
test_dotenvx_key_names(void **state)
{
	static const struct {
		const char *path, *text, *pub, *priv;
	} cases[] = {
	        {".env", NULL, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY"},
	        {"/srv/app/.env", "A=1\n", "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY"},
	        {".env.production", NULL, "DOTENV_PUBLIC_KEY_PRODUCTION",
	         "DOTENV_PRIVATE_KEY_PRODUCTION"},
	        {"a/.env.production.local", NULL, "DOTENV_PUBLIC_KEY_PRODUCTION_LOCAL",
	         "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL"},
	        {".env.prod.eu.west", NULL, "DOTENV_PUBLIC_KEY_PROD_EU",
	         "DOTENV_PRIVATE_KEY_PROD_EU"},
	        {".env1", NULL, "DOTENV_PUBLIC_KEY_DEVELOPMENT1",
	         "DOTENV_PRIVATE_KEY_DEVELOPMENT1"},
	        {".ENV.Staging.TXT", NULL, "DOTENV_PUBLIC_KEY_STAGING",
	         "DOTENV_PRIVATE_KEY_STAGING"},
	        {".env.txt", NULL, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY"},
	        {".env.production",
	         "# x\nDOTENV_PUBLIC_KEY_CUSTOM=\"02ab\"\nDOTENV_PUBLIC_KEY_B=1\n",
	         "DOTENV_PUBLIC_KEY_CUSTOM", "DOTENV_PRIVATE_KEY_CUSTOM"},
	};
	char *pub, *priv, err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;

		assert_int_equal(dotenvx_key_names(cases[i].path, t, t ? strlen(t) : 0, &pub, &priv,
		                                   err, sizeof(err)),
		                 0);
		assert_string_equal(pub, cases[i].pub);
		assert_string_equal(priv, cases[i].priv);
		free(pub);
		free(priv);
	}
}

static void
test_dotenvx_decrypt_value(void **state)
{
	uint8_t priv[32], other[32];
	char *plain = NULL;
	size_t n, got;

	(void)state;
	assert_int_equal(util_unhex(kat_priv, priv, 32, &got), 0);
	assert_int_equal(util_unhex(other_priv, other, 32, &got), 0);
	assert_int_equal(dotenvx_decrypt_value(priv, kat_value, strlen(kat_value), &plain, &n), 0);
	assert_int_equal(n, strlen(kat_plain));
	assert_string_equal(plain, kat_plain);
	secmem_free(plain, n + 1);
	assert_int_equal(dotenvx_decrypt_value(other, kat_value, strlen(kat_value), &plain, &n),
	                 CF_ECRYPTO);
	assert_int_equal(dotenvx_decrypt_value(priv, "encrypted:", 10, &plain, &n), CF_EINVAL);
	assert_int_equal(dotenvx_decrypt_value(priv, "encrypted:@@@@", 14, &plain, &n), CF_EINVAL);
	assert_int_equal(
	        dotenvx_decrypt_value(priv, kat_value + 1, strlen(kat_value) - 1, &plain, &n),
	        CF_EINVAL);
}

/* Parses "A=<kat value>\nB=plain\n" (with a DOTENV_PUBLIC_KEY line when named). */
static void
parse_sample(struct dotenv *env, const char *pubname)
{
	char text[1024], err[128];

	snprintf(text, sizeof(text), "%s%s%sA=%s\nB=plain\n", pubname ? pubname : "",
	         pubname ? "=\"02085fe2ca7a5758957ea811bd8e743d9cee6bc20072f1470a888c43a1091a8e8b\""
	                 : "",
	         pubname ? "\n" : "", kat_value);
	memset(env, 0, sizeof(*env));
	assert_int_equal(dotenv_parse(text, strlen(text), env, err, sizeof(err)), 0);
}

static void
test_dotenvx_decrypt_values(void **state)
{
	struct dotenv env;
	char dir[] = "/tmp/coffer-dotenvx-XXXXXX", path[256], keys[256], err[256];
	char envvar[128], both[200];
	char *environ_ok[] = {envvar, NULL};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/.env.production", dir);
	snprintf(keys, sizeof(keys), "%s/.env.keys", dir);

	/* key from the environment, named after the file */
	snprintf(envvar, sizeof(envvar), "DOTENV_PRIVATE_KEY_PRODUCTION=%s", kat_priv);
	parse_sample(&env, NULL);
	assert_int_equal(dotenvx_decrypt_values(&env, path, environ_ok, err, sizeof(err)), 0);
	assert_string_equal(dotenv_find(&env, "A")->value, kat_plain);
	assert_string_equal(dotenv_find(&env, "B")->value, "plain");
	dotenv_free(&env);

	/* a DOTENV_PUBLIC_KEY_X line names the key; several keys, wrong one first */
	snprintf(both, sizeof(both), "DOTENV_PRIVATE_KEY_X=%s,%s", other_priv, kat_priv);
	environ_ok[0] = both;
	parse_sample(&env, "DOTENV_PUBLIC_KEY_X");
	assert_int_equal(dotenvx_decrypt_values(&env, path, environ_ok, err, sizeof(err)), 0);
	assert_string_equal(dotenv_find(&env, "A")->value, kat_plain);
	dotenv_free(&env);

	/* no key anywhere */
	parse_sample(&env, NULL);
	assert_int_equal(dotenvx_decrypt_values(&env, path, NULL, err, sizeof(err)), CF_EDENIED);
	assert_non_null(strstr(err, "DOTENV_PRIVATE_KEY_PRODUCTION"));
	dotenv_free(&env);

	/* the wrong key in .env.keys: the error names the key, not the value */
	f = fopen(keys, "w");
	assert_non_null(f);
	fprintf(f, "# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION=%s\n", other_priv);
	fclose(f);
	parse_sample(&env, NULL);
	assert_int_equal(dotenvx_decrypt_values(&env, path, NULL, err, sizeof(err)), CF_ECRYPTO);
	assert_non_null(strstr(err, "A"));
	assert_null(strstr(err, "world"));
	assert_null(strstr(err, other_priv));
	dotenv_free(&env);

	/* the right key in .env.keys */
	f = fopen(keys, "w");
	assert_non_null(f);
	fprintf(f, "DOTENV_PRIVATE_KEY_PRODUCTION=%s\n", kat_priv);
	fclose(f);
	parse_sample(&env, NULL);
	assert_int_equal(dotenvx_decrypt_values(&env, path, NULL, err, sizeof(err)), 0);
	assert_string_equal(dotenv_find(&env, "A")->value, kat_plain);
	dotenv_free(&env);

	assert_int_equal(unlink(keys), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dotenvx_key_names),
	        cmocka_unit_test(test_dotenvx_decrypt_value),
	        cmocka_unit_test(test_dotenvx_decrypt_values),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
