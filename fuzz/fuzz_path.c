/* fuzz_path.c - request path normalization (http_path_normalize, path_normalize)
 * and the escape of stored names (path_escape, path_unescape). Never crashes, and:
 * - an accepted path is valid UTF-8 (shortest forms, no surrogates, nothing above
 *   U+10FFFF) with no NUL or other control character, no empty, "." or ".."
 *   segment, and a backslash only inside a canonical \xHH escape;
 * - percent-encoding an accepted path and normalizing it again gives the same
 *   path (idempotent), and so does normalizing it as a capabilities path;
 * - any byte string escapes to a name that is a valid path segment and
 *   unescapes back to itself (the lists' round trip). */
#include "http/http.h"
#include "lib/err.h"
#include "lib/path.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the valid UTF-8 sequence at s, or 0; written apart from lib/path.c
 * so the check does not trust the code it checks. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp, min;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		need = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static void
check_path(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = strlen(p), i = 0;
	const char *s = p;

	assert(n > 0 && p[0] != '/');
	while (i < n) {
		size_t k = utf8_len(u + i, n - i);
		assert(k > 0);
		assert(u[i] >= 0x20 && u[i] != 0x7f);
		if (u[i] == '\\')
			assert(p[i + 1] == 'x' && strchr("0123456789abcdef", p[i + 2]) &&
			       strchr("0123456789abcdef", p[i + 3]) && p[i + 2] && p[i + 3]);
		i += k;
	}
	while (*s) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (!e && len == 0)
			break; /* the trailing '/' of a LIST path */
		assert(len > 0);
		assert(!(len == 1 && s[0] == '.'));
		assert(!(len == 2 && s[0] == '.' && s[1] == '.'));
		if (!e)
			break;
		s = e + 1;
	}
}

/* "/v1/" + p with every byte percent-encoded. */
static char *
encode(const char *p)
{
	size_t n = strlen(p);
	char *out = malloc(4 + 3 * n + 1), *w;

	assert(out);
	memcpy(out, "/v1/", 4);
	w = out + 4;
	for (size_t i = 0; i < n; i++) {
		snprintf(w, 4, "%%%02x", (unsigned char)p[i]);
		w += 3;
	}
	*w = '\0';
	return out;
}

static void
check_escape(const uint8_t *data, size_t size)
{
	char *raw = malloc(size + 1), *esc = NULL, *norm = NULL, err[256];
	size_t n = 0;

	assert(raw);
	for (size_t i = 0; i < size; i++)
		if (data[i] != 0 && data[i] != '/')
			raw[n++] = (char)data[i];
	raw[n] = '\0';
	if (n == 0 || strcmp(raw, ".") == 0 || strcmp(raw, "..") == 0 || n > 256)
		goto out;
	assert(path_escape(raw, &esc) == 0);
	assert(path_is_plain(raw) == (strcmp(raw, esc) == 0));
	assert(path_normalize(esc, strlen(esc), 0, &norm, err, sizeof(err)) == 0);
	assert(strcmp(norm, esc) == 0);
	path_unescape(esc);
	assert(strcmp(esc, raw) == 0);
out:
	free(norm);
	free(esc);
	free(raw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 5), *out = NULL, *again = NULL, *caps = NULL, err[256];
	int r;

	if (!in)
		return 0;
	memcpy(in, "/v1/", 4);
	memcpy(in + 4, data, size);
	in[size + 4] = '\0';
	r = http_path_normalize(in, 0, &out, err, sizeof(err));
	if (r == 0) {
		char *re = encode(out);
		check_path(out);
		assert(http_path_normalize(re, 0, &again, err, sizeof(err)) == 0);
		assert(strcmp(out, again) == 0);
		/* sys/capabilities normalizes the decoded path: the same answer */
		assert(path_normalize(out, strlen(out), 0, &caps, err, sizeof(err)) == 0);
		assert(strcmp(out, caps) == 0);
		free(re);
		free(again);
		free(caps);
		free(out);
	} else {
		assert(r == CF_EINVAL || r == CF_ENOROUTE || r == CF_ENOMEM);
		if (r == CF_EINVAL)
			for (const unsigned char *p = (const unsigned char *)err; *p; p++)
				assert(*p >= 0x20 && *p < 0x7f); /* never a raw byte */
	}
	check_escape(data, size);
	free(in);
	return 0;
}
