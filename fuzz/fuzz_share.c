/* fuzz_share.c - the unseal share parser (share_parse) never crashes or reads
 * past its input; a refused share leaves the output wiped and names a reason; an
 * accepted one has the right length and round-trips through hex and base64 (the
 * two forms sys/init hands out) to the same bytes. Shares that parse are then
 * fed to a share set, which refuses duplicates and combines without crashing. */
#include "crypto/share.h"
#include "lib/err.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const uint8_t *share, size_t want)
{
	char hex[2 * SHARE_BYTES + 1], b64[64], why[128];
	uint8_t back[SHARE_BYTES];

	sodium_bin2hex(hex, sizeof(hex), share, want);
	assert(share_parse(hex, back, want, why, sizeof(why)) == 0);
	assert(memcmp(back, share, want) == 0);
	sodium_bin2base64(b64, sizeof(b64), share, want, sodium_base64_VARIANT_ORIGINAL);
	assert(share_parse(b64, back, want, why, sizeof(why)) == 0);
	assert(memcmp(back, share, want) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t wants[] = {SHARE_KEY_BYTES, SHARE_BYTES};
	struct share_set set = {0};
	uint8_t out[SHARE_BYTES], key[SHARE_KEY_BYTES];
	char *s, why[128];
	int r;

	if (size > 4 * SHARE_TEXT_MAX)
		return 0;
	if (sodium_init() < 0)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		size_t want = wants[i];

		why[0] = '\0';
		memset(out, 0xa5, sizeof(out));
		r = share_parse(s, out, want, why, sizeof(why));
		if (r < 0) {
			assert(r == CF_EINVAL);
			assert(why[0] != '\0');
			for (size_t j = 0; j < want; j++)
				assert(out[j] == 0);
			continue;
		}
		assert(r == 0);
		if (want == SHARE_BYTES)
			assert(out[SHARE_BYTES - 1] != 0);
		round_trip(out, want);
		r = share_set_add(&set, out, want);
		assert(r == 0 || r == CF_ENOMEM);
		if (r == 0) {
			assert(share_set_add(&set, out, want) == CF_EEXIST);
			r = share_set_combine(&set, key);
			assert(r == 0 || r == CF_EINVAL);
		}
		share_set_clear(&set);
		assert(set.n == 0);
	}
	free(s);
	return 0;
}
