/* fuzz_duration.c - duration_parse never crashes; an accepted value lies within
 * [0, DURATION_MAX_SECS] (nanoseconds within DURATION_MAX_SECS * 1e9), formats
 * to a string that parses back to the same whole seconds, and the nanosecond
 * parser agrees with the seconds parser. */
#include "lib/duration.h"
#include "lib/err.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, buf[64];
	int64_t secs = -1, back = -1, ns = -1;
	int r, rn;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = duration_parse(s, &secs);
	rn = duration_parse_ns(s, &ns);
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ERANGE);
		assert(secs == -1);
		assert(rn == r);
		goto out;
	}
	assert(secs >= 0 && secs <= DURATION_MAX_SECS);
	assert(duration_check(secs) == 0);
	/* Both parsers share one limit, so they accept the same strings. */
	assert(rn == 0);
	assert(ns >= 0 && ns <= DURATION_MAX_SECS * 1000000000LL);
	assert(ns / 1000000000LL == secs);
	duration_format(secs, buf, sizeof(buf));
	assert(duration_parse(buf, &back) == 0);
	assert(back == secs);
out:
	free(s);
	return 0;
}
