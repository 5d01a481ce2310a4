/* fuzz_events_filter.c - the untrusted inputs of the event stream: the
 * `types` filter (?types=... and webhook configs) and the Last-Event-ID header.
 * Parsing never crashes and fails only with CF_EINVAL; every accepted glob
 * matches itself with its stars removed, matches only within bounded work, and
 * secret.compromised passes every filter. Last-Event-ID round-trips through
 * its decimal form. */
#include "events/events_int.h"
#include "lib/err.h"
#include "lib/glob.h"

#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
        "rotation.started", "rotation.completed", "rotation.failed",
        "rotation.revoked", "adoption.completed", "adoption.incomplete",
        "lease.expired",    "lease.revoked",      "test.ping",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, err[160], back[32];
	json_t *globs = NULL, *v;
	uint64_t id;
	size_t i, j;
	int r;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = events_parse_last_id(s, &id);
	if (r == 0) {
		snprintf(back, sizeof(back), "%" PRIu64, id);
		/* leading zeros are accepted; the value is what round-trips */
		{
			uint64_t id2;
			assert(events_parse_last_id(back, &id2) == 0 && id2 == id);
		}
	} else {
		assert(r == CF_EINVAL);
	}

	r = events_globs_parse(s, &globs, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(globs == NULL);
		goto out;
	}
	assert(json_array_size(globs) <= EVENTS_MAX_GLOBS);
	json_array_foreach(globs, i, v)
	{
		const char *g = json_string_value(v);
		char plain[EVENTS_GLOB_MAX + 1];
		size_t k = 0;

		assert(g && events_glob_check(g) == 0);
		for (j = 0; g[j]; j++)
			if (g[j] != '*')
				plain[k++] = g[j];
		plain[k] = '\0';
		assert(glob_match(g, plain));
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			(void)glob_match(g, types[j]);
		(void)glob_match(g, s); /* the raw input as a type */
	}
	assert(events_types_match(globs, "secret.compromised"));
out:
	json_decref(globs);
	free(s);
	return 0;
}
