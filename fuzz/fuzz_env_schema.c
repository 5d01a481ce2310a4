/* fuzz_env_schema.c - the environment schema loader and checker on the same
 * bytes (src/tools/env/schema.c).
 *
 * schema_load: never crashes; an error is CF_EINVAL (or CF_ETOOBIG/CF_ENOMEM)
 * with a message. What it accepts is checked against a fixed environment and
 * against one that gives every variable of the schema a value (in turn: a
 * number, empty, a URL, an email, a boolean, a marked secret); defaults are
 * applied first. Every failure names a variable and a rule, and no message
 * carries the marked value unless the schema text itself has it. */
#include "lib/err.h"
#include "tools/env/dotenv.h"
#include "tools/env/schema.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK "FuzzSecretValue-7d3f"

static const char *const values[] = {
        "42", "", "https://db.example.com:5432/app", "ops@example.com", "TRUE", MARK "-tail",
};

static void
check(const struct schema *s, struct dotenv *env, bool marked_schema)
{
	struct schema_report rep = {0};
	int r;

	r = schema_apply_defaults(s, env, &rep);
	assert(r == 0 || r == CF_ENOMEM);
	if (r == 0)
		r = schema_check(s, env, &rep);
	assert(r == 0 || r == CF_ENOMEM);
	for (size_t i = 0; r == 0 && i < rep.nfail; i++) {
		assert(rep.fail[i].var && rep.fail[i].var[0]);
		assert(rep.fail[i].rule && rep.fail[i].message);
		assert(marked_schema || !strstr(rep.fail[i].message, MARK));
	}
	schema_report_free(&rep);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dotenv fixed = {0}, each = {0};
	struct schema *s = NULL;
	char err[512];
	bool marked;
	int r;

	r = schema_load((const char *)data, size, &s, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ETOOBIG || r == CF_ENOMEM);
		assert(err[0] != '\0');
		return 0;
	}
	marked = memmem(data, size, MARK, strlen(MARK)) != NULL;
	if (dotenv_set(&fixed, "PORT", "8080", 4) == 0 && dotenv_set(&fixed, "A", "", 0) == 0 &&
	    dotenv_set(&fixed, "KEY", MARK, strlen(MARK)) == 0)
		check(s, &fixed, marked);
	for (size_t i = 0; i < schema_var_count(s); i++) {
		const char *v = values[i % (sizeof(values) / sizeof(values[0]))];

		if (dotenv_set(&each, schema_var_name(s, i), v, strlen(v)) < 0)
			break;
	}
	check(s, &each, marked);
	dotenv_free(&fixed);
	dotenv_free(&each);
	schema_free(s);
	return 0;
}
