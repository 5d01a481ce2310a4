/* fuzz_kseal_decrypt.c - one sealed value (crypto/kseal) on any bytes, against
 * an RSA-2048 key made once at start: no crash, no read past the input, and the
 * answer is an opened value of exactly size - 2 - 256 - 16 bytes or CF_EINVAL /
 * CF_ECRYPTO, never anything written on failure. The same bytes as a plaintext
 * seal and open again under a label taken from them, and with any one byte of
 * the sealed value flipped (chosen by the input) they no longer open. */
#include "crypto/kseal.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kseal_key *fuzz_key;

static void
key_init(void)
{
	if (fuzz_key == NULL)
		assert(kseal_key_generate(2048, "fuzz", 86400, &fuzz_key) == 0);
}

static void
seal_round_trip(const uint8_t *data, size_t size)
{
	size_t labellen = size > 0 ? data[0] % 32 : 0, n, got, idx = 7, pos;
	const uint8_t *label = data + (size > 0 ? 1 : 0);
	uint8_t *ct, *pt;

	if (labellen > size - (size > 0 ? 1 : 0))
		labellen = size > 0 ? size - 1 : 0;
	assert(kseal_encrypt(fuzz_key, label, labellen, data, size, &ct, &n) == 0);
	assert(n == 2 + 256 + size + 16);
	assert(kseal_decrypt(&fuzz_key, 1, label, labellen, ct, n, &pt, &got, &idx) == 0);
	assert(got == size && idx == 0 && memcmp(pt, data, size) == 0 && pt[got] == '\0');
	secmem_free(pt, got + 1);
	/* one byte flipped anywhere: refused */
	pos = size >= 2 ? ((size_t)data[size - 1] << 8 | data[size - 2]) % n : n - 1;
	ct[pos] ^= 0x80;
	pt = NULL;
	assert(kseal_decrypt(&fuzz_key, 1, label, labellen, ct, n, &pt, &got, NULL) < 0);
	assert(pt == NULL);
	free(ct);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pt = NULL;
	size_t got = 12345, idx = 99;
	int r;

	if (size > 64 * 1024)
		return 0;
	key_init();
	/* as a sealed value, under the cluster-wide and a strict label */
	r = kseal_decrypt(&fuzz_key, 1, "", 0, data, size, &pt, &got, &idx);
	assert(r == 0 || r == CF_EINVAL || r == CF_ECRYPTO);
	if (r == 0) {
		assert(got == size - 2 - 256 - 16 && idx == 0);
		secmem_free(pt, got + 1);
	} else
		assert(pt == NULL && got == 12345 && idx == 99);
	pt = NULL;
	r = kseal_decrypt(&fuzz_key, 1, "default/db", 10, data, size, &pt, &got, NULL);
	assert(r == 0 || r == CF_EINVAL || r == CF_ECRYPTO);
	if (r == 0)
		secmem_free(pt, got + 1);
	/* as a plaintext */
	seal_round_trip(data, size);
	return 0;
}
