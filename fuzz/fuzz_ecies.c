/* fuzz_ecies.c - an arbitrary `encrypted:` value (dotenvx format) is decoded
 * and decrypted with a fixed private key without crashing or reading past the
 * input: it is refused (CF_EINVAL, CF_ECRYPTO) or gives back exactly
 * len(payload) - 97 bytes. The same bytes are also tried as a raw ECIES
 * payload. A value that decrypts re-encrypts and decrypts to the same text. */
#include "crypto/ecies.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "tools/env/dotenvx.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key of the seed corpus (and of the unit test's dotenvx-made vector). */
static const uint8_t fuzz_priv[ECIES_PRIVATE_BYTES] = {
        0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x1f, 0x2e, 0x3d,
        0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a,
        0x79, 0x88, 0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pub[ECIES_PUBLIC_BYTES], *out, *again;
	char *plain = NULL, *value;
	size_t n = 0, got = 0;
	int r;

	if (size > 64 * 1024)
		return 0;
	/* as the text after KEY= */
	value = malloc(size + 1);
	assert(value != NULL);
	memcpy(value, data, size);
	value[size] = '\0';
	r = dotenvx_decrypt_value(fuzz_priv, value, size, &plain, &n);
	assert(r == 0 || r == CF_EINVAL || r == CF_ECRYPTO);
	if (r == 0) {
		assert(plain[n] == '\0' && memchr(plain, '\0', n) == NULL);
		/* round trip through a fresh encryption */
		assert(ecies_public_from_private(fuzz_priv, pub) == 0);
		again = malloc(n + ECIES_OVERHEAD);
		out = malloc(n + 1);
		assert(again != NULL && out != NULL);
		assert(ecies_encrypt(pub, sizeof(pub), (const uint8_t *)plain, n, again) == 0);
		assert(ecies_decrypt(fuzz_priv, again, n + ECIES_OVERHEAD, out, &got) == 0);
		assert(got == n && memcmp(out, plain, n) == 0);
		free(again);
		secmem_free(out, n + 1);
		secmem_free(plain, n + 1);
	}
	free(value);
	/* as a raw payload */
	out = malloc(size >= ECIES_OVERHEAD ? size - ECIES_OVERHEAD + 1 : 1);
	assert(out != NULL);
	got = 12345;
	r = ecies_decrypt(fuzz_priv, data, size, out, &got);
	assert(r == 0 || r == CF_EINVAL || r == CF_ECRYPTO);
	assert(r != 0 || got == size - ECIES_OVERHEAD);
	assert(r == 0 || got == 12345);
	free(out);
	return 0;
}
