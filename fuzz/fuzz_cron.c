/* fuzz_cron.c - cron_parse never crashes and fails only with CF_EINVAL and a
 * "cron: " message; a parsed schedule gives increasing whole-minute fire times
 * within the 5-year horizon, and asking again from just before a fire time
 * finds that same time. */
#include "lib/cron.h"
#include "lib/err.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HORIZON ((int64_t)5 * 366 * 86400)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron *c = NULL;
	char *s, err[128];
	int64_t after, t;
	int r;

	if (size > 512)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = cron_parse(s, &c, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL);
		assert(c == NULL);
		assert(strncmp(err, "cron: ", 6) == 0);
		goto out;
	}
	/* Start somewhere derived from the input so different instants get covered. */
	after = 1704067200; /* 2024-01-01 */
	for (size_t i = 0; i < size && i < 8; i++)
		after += (int64_t)data[i] * 7919 * (int64_t)(i + 1) * 60;
	for (int n = 0; n < 8; n++) {
		t = cron_next(c, after);
		if (t == -1)
			break;
		assert(t > after);
		assert(t - after <= HORIZON);
		assert(t % 60 == 0);
		assert(cron_next(c, t - 1) == t);
		assert(cron_next(c, after + (t - after) / 2) == t);
		after = t;
	}
	cron_free(c);
out:
	free(s);
	return 0;
}
