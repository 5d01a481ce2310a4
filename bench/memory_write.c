/*
 * memory_write.c - the in-memory backend's (--dev) put rate as it fills: new keys
 * inserted in random order while it holds about 1,000 keys, and again while it
 * holds about 100,000. An ordered structure keeps the second rate close to the
 * first; a sorted array that moves its tail on every insert does not.
 *
 * usage: memory_write [ROUNDS] [WINDOW] [VALUE_BYTES] [CYCLES]
 * Each round fills (untimed) one fresh "memory:" store to 1,000 keys and another
 * to 100,000. Then, CYCLES times, it times WINDOW puts of new keys into the
 * first and deletes them again (untimed), then does the same on the second;
 * each timed window follows an untimed one on the same store, so both start
 * with that store in the caches. Defaults: 7 rounds, 7 cycles, 1,000 puts,
 * 256-byte values (about one encrypted KV v2 version). Keys look like coffer's
 * (logical/<uuid>/data/<hex>), in an order that hashes a counter, so inserts
 * land all over the key space. Times are the thread's CPU time. The rates are
 * the medians of their windows; the ratio is the median of the ratios of the
 * windows taken side by side, so a drift of a shared machine hits both. Prints
 *   memory_put_rate@1k=N memory_put_rate@100k=M
 *   memory_write_ratio=X (rate@100k / rate@1k) target >= 0.8 PASS|FAIL
 * and exits 0 when the run completed (whatever the verdict), 1 on an error.
 * Built by meson (build/bench/memory_write); bench/run runs it.
 */
#include "storage/storage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SMALL  1000L
#define LARGE  100000L
#define TARGET 0.8

#define KEY_FMT "logical/6f0c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5/data/%016llx"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: the i-th key's name, spread over the key space */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int
put_range(struct storage *s, long from, long to, unsigned char *val, long vbytes)
{
	char key[96];
	long i;

	for (i = from; i < to; i++) {
		snprintf(key, sizeof(key), KEY_FMT, (unsigned long long)mix((uint64_t)i));
		val[i % vbytes] ^= 1;
		if (storage_put(s, key, val, (size_t)vbytes) != 0) {
			fprintf(stderr, "memory_write: put %s failed\n", key);
			return -1;
		}
	}
	return 0;
}

static int
del_range(struct storage *s, long from, long to)
{
	char key[96];
	long i;

	for (i = from; i < to; i++) {
		snprintf(key, sizeof(key), KEY_FMT, (unsigned long long)mix((uint64_t)i));
		if (storage_delete(s, key) != 0) {
			fprintf(stderr, "memory_write: delete %s failed\n", key);
			return -1;
		}
	}
	return 0;
}

/* Times cycles windows of puts of keys [at, at + window), each followed by
 * their (untimed) deletion; appends the rates to rates[*n]. */
static int
measure(struct storage *s, long at, long window, long cycles, unsigned char *val, long vbytes,
        double *rates, size_t *n)
{
	double t0;
	long c;

	for (c = 0; c < cycles; c++) {
		t0 = now();
		if (put_range(s, at, at + window, val, vbytes) < 0)
			return -1;
		rates[(*n)++] = (double)window / (now() - t0);
		if (del_range(s, at, at + window) < 0)
			return -1;
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	long rounds = 7, window = 1000, vbytes = 256, cycles = 7, r, c;
	double *small, *large, *ratios, warm[1], rs, rl, ratio;
	size_t ns = 0, nl = 0, nr = 0, nw;
	struct storage *a = NULL, *b = NULL;
	unsigned char *val;

	if (argc > 5) {
		fprintf(stderr, "usage: memory_write [ROUNDS] [WINDOW] [VALUE_BYTES] [CYCLES]\n");
		return 2;
	}
	if (argc > 1)
		rounds = atol(argv[1]);
	if (argc > 2)
		window = atol(argv[2]);
	if (argc > 3)
		vbytes = atol(argv[3]);
	if (argc > 4)
		cycles = atol(argv[4]);
	if (rounds < 1 || rounds > 1000 || window < 1 || window > SMALL || vbytes < 1 ||
	    cycles < 1 || cycles > 1000) {
		fprintf(stderr, "memory_write: bad arguments (WINDOW at most %ld)\n", SMALL);
		return 2;
	}
	small = calloc((size_t)(rounds * cycles), sizeof(*small));
	large = calloc((size_t)(rounds * cycles), sizeof(*large));
	ratios = calloc((size_t)(rounds * cycles), sizeof(*ratios));
	val = malloc((size_t)vbytes);
	if (small == NULL || large == NULL || ratios == NULL || val == NULL)
		return 1;
	memset(val, 0xa5, (size_t)vbytes);

	for (r = 0; r < rounds; r++) {
		if (storage_open("memory:", &a) != 0 || storage_open("memory:", &b) != 0) {
			fprintf(stderr, "memory_write: cannot open memory:\n");
			return 1;
		}
		if (put_range(a, 0, SMALL, val, vbytes) < 0 ||
		    put_range(b, 0, LARGE, val, vbytes) < 0)
			return 1;
		/* The two sizes alternate, each window after an untimed one that warms
		 * the caches for its store, so a drift of the machine hits both alike;
		 * the ratio is taken pair by pair. */
		for (c = 0; c < cycles; c++) {
			nw = 0;
			if (measure(a, SMALL, window, 1, val, vbytes, warm, &nw) < 0 ||
			    measure(a, SMALL, window, 1, val, vbytes, small, &ns) < 0)
				return 1;
			nw = 0;
			if (measure(b, LARGE, window, 1, val, vbytes, warm, &nw) < 0 ||
			    measure(b, LARGE, window, 1, val, vbytes, large, &nl) < 0)
				return 1;
			ratios[nr++] = large[nl - 1] / small[ns - 1];
		}
		storage_close(a);
		storage_close(b);
	}
	qsort(small, ns, sizeof(*small), cmp_double);
	qsort(large, nl, sizeof(*large), cmp_double);
	qsort(ratios, nr, sizeof(*ratios), cmp_double);
	rs = small[ns / 2];
	rl = large[nl / 2];
	ratio = ratios[nr / 2];
	printf("memory_put_rate@1k=%.0f memory_put_rate@100k=%.0f\n", rs, rl);
	printf("memory_write_ratio=%.2f (rate@100k / rate@1k) target >= %.1f %s\n", ratio, TARGET,
	       ratio >= TARGET ? "PASS" : "FAIL");
	free(small);
	free(large);
	free(ratios);
	free(val);
	return 0;
}
