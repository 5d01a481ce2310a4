/* seal_throughput.c - sealed values per second (bench/seal): kseal_encrypt()
 * and kseal_decrypt() of VALUE-byte values with one RSA key of BITS bits made at
 * start, in a single thread, each for SECONDS of CPU time, strict-scope label.
 * Rates are per CPU second, as `openssl speed` divides by user CPU time by
 * default: on a shared machine both sides then count only their own work.
 * Sealing costs one RSA public-key operation (OAEP encrypt of the 32-byte AES
 * key) plus AES-256-GCM; unsealing one private-key operation (OAEP decrypt) plus
 * AES-256-GCM: the RSA operation dominates both.
 *
 *   seal_throughput [-b BITS] [-s VALUE] [-d SECONDS]     (4096, 1024, 3)
 *
 * Before timing, a value is sealed and opened and compared; a mismatch exits 1.
 * Prints one line:
 *   seal_per_sec=X unseal_per_sec=Y bits=B value_bytes=N seconds=S */
#include "crypto/kseal.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL 16 /* distinct sealed values opened in turn */

static const char label[] = "bench/seal";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
seal_rate(const struct kseal_key *k, const uint8_t *value, size_t n, double secs)
{
	double t0 = now(), t;
	unsigned long count = 0;
	uint8_t *ct;
	size_t ctlen;

	do {
		for (int i = 0; i < 8; i++) {
			if (kseal_encrypt(k, label, strlen(label), value, n, &ct, &ctlen) != 0)
				exit(1);
			free(ct);
			count++;
		}
		t = now();
	} while (t - t0 < secs);
	return (double)count / (t - t0);
}

static double
unseal_rate(struct kseal_key *k, uint8_t *const *pool, size_t ctlen, double secs)
{
	double t0 = now(), t;
	unsigned long count = 0;
	uint8_t *pt;
	size_t ptlen;

	do {
		for (int i = 0; i < 4; i++) {
			if (kseal_decrypt(&k, 1, label, strlen(label), pool[count % POOL], ctlen,
			                  &pt, &ptlen, NULL) != 0)
				exit(1);
			secmem_free(pt, ptlen + 1);
			count++;
		}
		t = now();
	} while (t - t0 < secs);
	return (double)count / (t - t0);
}

int
main(int argc, char **argv)
{
	unsigned bits = 4096;
	size_t n = 1024, ctlen = 0, ptlen;
	double secs = 3;
	struct kseal_key *k = NULL;
	uint8_t *value, *pool[POOL], *pt;
	int c;

	while ((c = getopt(argc, argv, "b:s:d:")) != -1) {
		int64_t v;

		if (c == '?' || util_parse_int(optarg, &v) != 0 || v <= 0 || v > 16 * 1024 * 1024) {
			fprintf(stderr,
			        "usage: seal_throughput [-b BITS] [-s VALUE] [-d SECONDS]\n");
			return 2;
		}
		if (c == 'b')
			bits = (unsigned)v;
		else if (c == 's')
			n = (size_t)v;
		else
			secs = (double)v;
	}
	if (sodium_init() < 0 || kseal_key_generate(bits, "", 86400, &k) != 0) {
		fprintf(stderr, "seal_throughput: cannot make an RSA-%u key\n", bits);
		return 2;
	}
	value = malloc(n);
	if (value == NULL)
		return 2;
	util_random(value, n);
	for (int i = 0; i < POOL; i++) {
		if (kseal_encrypt(k, label, strlen(label), value, n, &pool[i], &ctlen) != 0)
			return 2;
	}
	/* the check: what is timed opens to the value */
	if (kseal_decrypt(&k, 1, label, strlen(label), pool[0], ctlen, &pt, &ptlen, NULL) != 0 ||
	    ptlen != n || memcmp(pt, value, n) != 0) {
		fprintf(stderr, "seal_throughput: a sealed value does not open to itself\n");
		return 1;
	}
	secmem_free(pt, ptlen + 1);

	double seal = seal_rate(k, value, n, secs);
	double unseal = unseal_rate(k, pool, ctlen, secs);
	printf("seal_per_sec=%.0f unseal_per_sec=%.1f bits=%u value_bytes=%zu seconds=%g\n", seal,
	       unseal, bits, n, secs);
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	free(value);
	kseal_key_free(k);
	return 0;
}
