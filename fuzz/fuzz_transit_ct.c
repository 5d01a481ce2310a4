/* fuzz_transit_ct.c - the transit "vault:v<N>:<base64>" parser (ciphertexts,
 * HMACs, signatures) never crashes or reads past the input; whatever parses and
 * decodes formats back to a string that parses and decodes to the same version
 * and bytes (a round trip, both base64 alphabets). */
#include "engines/transit/transit_int.h"
#include "lib/err.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(int64_t version, const char *payload, bool url)
{
	uint8_t *raw = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	const char *p2, *err2;
	int64_t v2;
	char *s;

	if (transit_ct_decode(payload, url, &raw, &n) != 0)
		return;
	s = transit_ct_format(version, raw, n, url);
	assert(s != NULL);
	assert(transit_ct_parse(s, &v2, &p2, &err2) == 0);
	assert(v2 == version);
	assert(transit_ct_decode(p2, url, &again, &n2) == 0);
	assert(n2 == n && memcmp(again, raw, n) == 0);
	free(again);
	free(raw);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *payload = NULL, *err = NULL;
	int64_t version = -1;
	char *s;
	int r;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = transit_ct_parse(s, &version, &payload, &err);
	if (r != 0) {
		assert(r == CF_EINVAL && err != NULL &&
		       strncmp(err, "invalid ciphertext", 18) == 0);
		assert(version == -1);
	} else {
		assert(version >= 1 && version <= INT32_MAX);
		assert(payload > s && payload <= s + strlen(s));
		round_trip(version, payload, false);
		round_trip(version, payload, true);
	}
	free(s);
	return 0;
}
