/* fuzz_db_statements.c - the database engine's statement parser: every input form
 * (string, JSON array, base64 of either) decodes without crashing into at most
 * DB_STMT_MAX_COUNT strings; splitting yields trimmed, non-empty pieces; rendering
 * replaces every known placeholder; scrubbing leaves no copy of the secret. */
#include "engines/database/dbtext.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_pieces(json_t *pieces)
{
	size_t i;
	json_t *p;

	assert(json_array_size(pieces) <= DB_STMT_MAX_COUNT);
	json_array_foreach(pieces, i, p)
	{
		const char *s = json_string_value(p);
		size_t n;
		assert(s != NULL);
		n = strlen(s);
		assert(n > 0);
		assert(!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]));
	}
}

static void
check_render(const char *tmpl)
{
	const struct dbtext_vars v = {.name = "v-n",
	                              .username = "u",
	                              .password = "Secret-pw-9",
	                              .expiration = "2024-05-01 12:00:00+0000"};
	const char *secrets[1] = {"Secret-pw-9"};
	char *out = NULL, *scrubbed;

	if (dbtext_render(tmpl, &v, &out) < 0)
		return;
	/* every {{name}} of the template is replaced (the values hold no braces) */
	assert(strstr(out, "{{name}}") == NULL);
	assert(strstr(out, "{{password}}") == NULL);
	scrubbed = dbtext_scrub(out, secrets, 1);
	if (scrubbed) {
		assert(strstr(scrubbed, "Secret-pw-9") == NULL);
		assert(strstr(scrubbed, "Secret") == NULL);
		free(scrubbed);
	}
	secmem_free_str(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *val, *list = NULL, *pieces;
	char *s, err[128];
	size_t i;
	json_t *t;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* as a JSON value when it is one, else as one string */
	val = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!val)
		val = json_string(s);
	if (!val)
		goto out;
	if (dbtext_stmt_input(val, &list, err, sizeof(err)) < 0) {
		assert(list == NULL);
		goto out;
	}
	assert(json_is_array(list));
	pieces = json_array();
	json_array_foreach(list, i, t)
	{
		assert(json_is_string(t));
		if (dbtext_stmt_split(json_string_value(t), pieces) < 0)
			break;
	}
	check_pieces(pieces);
	json_array_foreach(pieces, i, t) check_render(json_string_value(t));
	json_decref(pieces);
out:
	json_decref(list);
	json_decref(val);
	free(s);
	return 0;
}
