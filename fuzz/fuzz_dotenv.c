/* fuzz_dotenv.c - the .env parser and expander (src/tools/env) on any bytes:
 * no crash, no read past the input; input is either refused with a reason or
 * parsed into entries whose spans lie inside the input, whose key is the text
 * at key_start, whose values are NUL-terminated at value_len; dotenv_scan and
 * dotenv_parse agree; a CR LF copy of a text without CR gives the same values;
 * expansion ends (or refuses a value that never settles) and keeps values
 * NUL-terminated. */
#include "lib/err.h"
#include "tools/env/dotenv.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *text;
	size_t len, visits;
};

static int
visit(void *arg, const struct dotenv_span *span, const char *key, const char *value,
      size_t value_len)
{
	struct ctx *c = arg;

	assert(span->entry_start <= span->key_start);
	assert(span->key_len > 0 && span->key_start + span->key_len <= c->len);
	assert(memcmp(c->text + span->key_start, key, span->key_len) == 0);
	assert(key[span->key_len] == '\0');
	assert(span->value_start <= span->value_end && span->value_end <= c->len);
	assert(span->key_start + span->key_len <= span->value_start);
	assert(span->line >= 1);
	assert(value[value_len] == '\0');
	c->visits++;
	return 0;
}

static void
check_entries(const struct dotenv *env, size_t len)
{
	for (size_t i = 0; i < env->n; i++) {
		const struct dotenv_entry *e = &env->v[i];
		assert(e->value != NULL && e->value[e->value_len] == '\0');
		assert(e->span.value_end <= len);
		assert(dotenv_find(env, e->key) == e);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const environ_[] = {"HOME=/home/x", "A=env", "EMPTY=", NULL};
	const char *text = (const char *)data;
	struct ctx c = {text, size, 0};
	struct dotenv env = {0}, crlf = {0};
	char err[256], *dup;
	size_t ncr = 0;
	int r;

	r = dotenv_scan(text, size, visit, &c, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(err[0] != '\0');
		assert(dotenv_parse(text, size, &env, err, sizeof(err)) == r || r == CF_ENOMEM);
		assert(env.n == 0);
		return 0;
	}
	r = dotenv_parse(text, size, &env, err, sizeof(err));
	if (r == CF_ENOMEM)
		return 0;
	assert(r == 0);
	assert(env.n <= c.visits);
	check_entries(&env, size);

	/* the same text with CR LF line ends reads the same */
	if (memchr(text, '\r', size) == NULL) {
		for (size_t i = 0; i < size; i++)
			ncr += text[i] == '\n';
		dup = malloc(size + ncr + 1);
		if (dup != NULL) {
			size_t o = 0;
			for (size_t i = 0; i < size; i++) {
				if (text[i] == '\n')
					dup[o++] = '\r';
				dup[o++] = text[i];
			}
			if (dotenv_parse(dup, o, &crlf, err, sizeof(err)) == 0) {
				assert(crlf.n == env.n);
				for (size_t i = 0; i < env.n; i++) {
					assert(strcmp(crlf.v[i].key, env.v[i].key) == 0);
					assert(crlf.v[i].value_len == env.v[i].value_len);
					assert(memcmp(crlf.v[i].value, env.v[i].value,
					              env.v[i].value_len) == 0);
				}
				check_entries(&crlf, o);
			}
			dotenv_free(&crlf);
			free(dup);
		}
	}

	r = dotenv_expand(&env, environ_, err, sizeof(err));
	assert(r == 0 || r == CF_EINVAL || r == CF_ENOMEM);
	if (r == CF_EINVAL)
		assert(err[0] != '\0');
	check_entries(&env, size);
	dotenv_free(&env);
	return 0;
}
