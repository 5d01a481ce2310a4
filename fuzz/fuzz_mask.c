/* fuzz_mask.c - the streaming masker (tools/run/mask.h): secrets and text both
 * come from the input, the text is fed in chunk sizes the input chooses, and
 *   - the output equals what one mask_write() of the whole text gives (a match
 *     split across writes is caught, nothing is held back at the end);
 *   - no secret survives in the output (one with a '*' could be spelt by the
 *     replacement itself, so those are not looked for);
 *   - nothing crashes or reads out of bounds.
 * Input: a byte n (1 + n % 4 secrets), then per secret a length byte (% 40) and
 * its bytes, then a byte k and k chunk sizes (used in turn, 0 read as 1), then
 * the text. */
#include "tools/run/mask.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	uint8_t *p;
	size_t n, cap;
};

static int
sink_fn(void *arg, const void *d, size_t n)
{
	struct sink *s = arg;
	assert(n > 0);
	if (s->n + n > s->cap) {
		size_t nc = (s->n + n) * 2;
		uint8_t *np = realloc(s->p, nc);
		if (np == NULL)
			abort();
		s->p = np;
		s->cap = nc;
	}
	memcpy(s->p + s->n, d, n);
	s->n += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *secrets[4];
	size_t lens[4], nsec, at = 0;
	struct sink whole = {0}, parts = {0};
	struct mask *m = NULL;

	if (size < 2)
		return 0;
	nsec = 1 + data[at++] % 4;
	for (size_t i = 0; i < nsec; i++) {
		if (at >= size)
			return 0;
		lens[i] = data[at++] % 40;
		if (size - at < lens[i])
			return 0;
		secrets[i] = (const char *)data + at;
		at += lens[i];
	}
	if (at >= size)
		return 0;
	size_t k = data[at++];
	if (size - at < k)
		return 0;
	const uint8_t *sizes = data + at;
	at += k;
	const uint8_t *text = data + at;
	size_t n = size - at;

	if (mask_new(secrets, lens, nsec, sink_fn, &whole, &m) < 0)
		return 0;
	assert(mask_write(m, text, n) == 0);
	assert(mask_flush(m) == 0);
	mask_free(m);

	if (mask_new(secrets, lens, nsec, sink_fn, &parts, &m) < 0)
		abort();
	for (size_t off = 0, c = 0; off < n; c++) {
		size_t step = k ? sizes[c % k] : 1;
		if (step == 0)
			step = 1;
		if (step > n - off)
			step = n - off;
		assert(mask_write(m, text + off, step) == 0);
		off += step;
	}
	assert(mask_flush(m) == 0);
	mask_free(m);

	assert(parts.n == whole.n);
	assert(whole.n == 0 || memcmp(parts.p, whole.p, whole.n) == 0);
	for (size_t i = 0; i < nsec; i++) {
		if (lens[i] < MASK_MIN_LEN || memchr(secrets[i], '*', lens[i]) != NULL)
			continue;
		assert(whole.n < lens[i] || memmem(whole.p, whole.n, secrets[i], lens[i]) == NULL);
	}
	free(whole.p);
	free(parts.p);
	return 0;
}
