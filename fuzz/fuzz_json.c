/* fuzz_json.c - request body decoding (http_json_decode): never crashes; what it
 * accepts is an object that survives a dump/load round trip unchanged. */
#include "http/http.h"
#include "lib/err.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *j = NULL, *again;
	char *txt;
	int r = http_json_decode((const char *)data, size, &j, err, sizeof(err));

	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(r != CF_EINVAL || err[0] != '\0');
		return 0;
	}
	assert(json_is_object(j));
	txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (txt) {
		again = NULL;
		r = http_json_decode(txt, strlen(txt), &again, err, sizeof(err));
		assert(r == 0);
		assert(json_equal(j, again));
		json_decref(again);
		free(txt);
	}
	json_decref(j);
	return 0;
}
