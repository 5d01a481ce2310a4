/* parse.c - untrusted input: URL paths and JSON bodies. Both are fuzzed
 * (fuzz/fuzz_path.c, fuzz/fuzz_json.c). */
#include "http/http.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
http_path_normalize(const char *url, char **ret)
{
	size_t n = strlen(url), depth = 0;
	const char *p;
	char *out, *w;

	if (n > HTTP_MAX_PATH)
		return CF_EINVAL;
	if (strncmp(url, "/v1/", 4) != 0)
		return CF_ENOROUTE;
	out = malloc(n + 1);
	if (!out)
		return CF_ENOMEM;
	w = out;
	p = url + 4;
	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (ch < 0x20 || ch == 0x7f || ch == '\\')
				goto bad;
		}
		if (++depth > HTTP_MAX_SEGMENTS)
			goto bad;
		if (w != out)
			*w++ = '/';
		memcpy(w, p, len);
		w += len;
		p += len;
	}
	if (w == out) {
		free(out);
		return CF_ENOROUTE;
	}
	/* A trailing '/' is significant for LIST. */
	if (n > 4 && url[n - 1] == '/')
		*w++ = '/';
	*w = '\0';
	*ret = out;
	return 0;
bad:
	free(out);
	return CF_EINVAL;
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
		snprintf(err, errlen, "failed to parse JSON input: %s (line %d, column %d)",
		         jerr.text, jerr.line, jerr.column);
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
