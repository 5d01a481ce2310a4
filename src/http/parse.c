/* parse.c - untrusted input: URL paths and JSON bodies. Both are fuzzed
 * (fuzz/fuzz_path.c, fuzz/fuzz_json.c). */
#include "http/http.h"
#include "lib/err.h"
#include "lib/path.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
http_path_normalize(const char *url, unsigned flags, char **ret, char *err, size_t errlen)
{
	size_t n = strlen(url), len = 0;
	char *dec, *path = NULL, msg[200];
	int r = CF_EINVAL;

	dec = malloc(n + 1);
	if (!dec)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (url[i] != '%') {
			dec[len++] = url[i];
			continue;
		}
		hi = i + 2 < n ? util_hex_digit(url[i + 1]) : -1;
		lo = hi < 0 ? -1 : util_hex_digit(url[i + 2]);
		if (lo < 0) {
			snprintf(err, errlen,
			         "invalid request path: a '%%' not followed by two hex "
			         "digits");
			goto out;
		}
		if (hi == 0 && lo == 0) {
			snprintf(err, errlen, "invalid request path: a NUL byte (%%00)");
			goto out;
		}
		dec[len++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dec[len] = '\0';
	if (len < 4 || memcmp(dec, "/v1/", 4) != 0) {
		r = CF_ENOROUTE;
		goto out;
	}
	r = path_normalize(dec + 4, len - 4, flags, &path, msg, sizeof(msg));
	if (r == CF_EINVAL)
		snprintf(err, errlen, "invalid request path: %s", msg);
	if (r == 0)
		*ret = path;
out:
	free(dec);
	return r;
}

int
http_json_decode(const char *body, size_t len, json_t **ret, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	size_t i = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
		i++;
	if (i == len) {
		*ret = json_object();
		return *ret ? 0 : CF_ENOMEM;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!j) {
		/* jansson ends its message with the text it stopped at ("near
		 * '\"hunter2'"): a piece of the body, which may be a password or a
		 * token, so the answer (and the audit log) get line and column only. */
		char *near = strstr(jerr.text, " near '");
		if (near)
			*near = '\0';
		snprintf(err, errlen, "failed to parse JSON input: %s (line %d, column %d)",
		         jerr.text, jerr.line, jerr.column);
		secmem_wipe(&jerr, sizeof(jerr));
		return CF_EINVAL;
	}
	if (json_is_null(j)) {
		json_decref(j);
		*ret = json_object();
		return *ret ? 0 : CF_ENOMEM;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "failed to parse JSON input: the body must be a JSON object");
		return CF_EINVAL;
	}
	*ret = j;
	return 0;
}
