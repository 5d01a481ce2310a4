/* fuzz_approle.c - the AppRole inputs a caller controls: secret-ID metadata (a
 * JSON string holding an object, or any JSON value), role names and CIDR lists.
 * Parsing never crashes; accepted metadata is an object of at most
 * APPROLE_META_MAX string values; a normalized name is lowercase and without '/'. */
#include "auth/approle/approle.h"
#include "lib/err.h"

#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_metadata(json_t *v)
{
	json_t *meta = NULL, *val;
	const char *err = NULL, *k;
	int r = approle_metadata_parse(v, &meta, &err);

	if (r < 0) {
		assert(r == CF_EINVAL && err && !meta);
		return;
	}
	assert(json_is_object(meta) && json_object_size(meta) <= APPROLE_META_MAX);
	json_object_foreach(meta, k, val) assert(json_is_string(val));
	json_decref(meta);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, name[APPROLE_NAME_MAX + 1];
	json_t *str, *doc;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* metadata as the JSON string the clients send, and as a parsed value */
	str = json_string(s);
	if (str)
		check_metadata(str);
	json_decref(str);
	doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (doc) {
		check_metadata(doc);
		if (json_is_array(doc))
			(void)approle_cidr_subset(doc, doc);
	}
	json_decref(doc);

	if (approle_name_normalize(s, name) == 0) {
		assert(*name && strlen(name) <= APPROLE_NAME_MAX && !strchr(name, '/'));
		for (const char *p = name; *p; p++)
			assert(!(*p >= 'A' && *p <= 'Z'));
	}
	free(s);
	return 0;
}
