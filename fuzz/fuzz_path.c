/* fuzz_path.c - URL path normalization (http_path_normalize): never crashes, and
 * an accepted path has no empty, "." or ".." segment, no control character, and
 * normalizing "/v1/" + it again gives the same path (idempotent). */
#include "http/http.h"
#include "lib/err.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_segments(const char *p)
{
	size_t n = strlen(p);
	const char *s = p;

	assert(n > 0 && p[0] != '/');
	while (*s) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		assert(len > 0);
		assert(!(len == 1 && s[0] == '.'));
		assert(!(len == 2 && s[0] == '.' && s[1] == '.'));
		for (size_t i = 0; i < len; i++)
			assert((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
		if (!e)
			break;
		s = e + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 5), *out = NULL, *again = NULL;
	int r;

	if (!in)
		return 0;
	memcpy(in, "/v1/", 4);
	memcpy(in + 4, data, size);
	in[size + 4] = '\0';
	r = http_path_normalize(in, &out);
	if (r == 0) {
		char *re = malloc(strlen(out) + 5);
		check_segments(out);
		memcpy(re, "/v1/", 4);
		memcpy(re + 4, out, strlen(out) + 1);
		assert(http_path_normalize(re, &again) == 0);
		assert(strcmp(out, again) == 0);
		free(re);
		free(again);
		free(out);
	} else {
		assert(r == CF_EINVAL || r == CF_ENOROUTE || r == CF_ENOMEM);
	}
	free(in);
	return 0;
}
