/* mask_throughput.c - the masker in-process (bench/mask): copies the bytes of
 * FILE into a CHUNK-byte buffer and pushes each buffer through mask_write(), the
 * way coffer run reads what the child wrote and masks it, beside the memcpy()
 * alone (what cat's read() costs at the least). Single-threaded CPU time.
 *
 *   mask_throughput [-c CHUNK] [-r REPS] FILE NAME ...
 *   mask_throughput -p NAME ...
 * NAME ...: environment variables holding the secrets (as for bench/spew).
 * -p: a filter instead, stdin masked to stdout with read() and write() of
 * CHUNK bytes, to stand in for coffer run in a pipeline.
 * Prints, medians of REPS (3) passes over the file:
 *   mask_mb_s=... memcpy_mb_s=... masked=N (matches replaced)
 *   mask_inprocess_ratio=R (memcpy+mask X MB/s / memcpy Y MB/s, N secrets, CHUNK-byte writes) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/run/mask.h"

struct count {
	size_t bytes, stars;
};

static int
count_sink(void *arg, const void *data, size_t n)
{
	struct count *c = arg;
	c->bytes += n;
	/* a replacement always arrives whole inside one sink call */
	for (const char *p = data, *end = p + n; (p = memchr(p, '*', (size_t)(end - p))) != NULL;) {
		if (end - p >= 5 && memcmp(p, MASK_REPLACEMENT, 5) == 0) {
			c->stars++;
			p += 5;
		} else {
			p++;
		}
	}
	return 0;
}

static int
null_sink(void *arg, const void *data, size_t n)
{
	struct count *c = arg;
	(void)data;
	c->bytes += n;
	return 0;
}

static int
fd_sink(void *arg, const void *data, size_t n)
{
	const char *p = data;
	(void)arg;
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -6; /* CF_EIO */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* -p: stdin to stdout through the masker. */
static int
filter(size_t chunk, char **names, int nnames)
{
	const char *secrets[64];
	size_t lens[64], nsec = 0;
	struct mask *m = NULL;
	char *buf = malloc(chunk);
	for (int i = 0; i < nnames && nsec < 64; i++) {
		const char *v = getenv(names[i]);
		if (v == NULL)
			return 2;
		secrets[nsec] = v;
		lens[nsec++] = strlen(v);
	}
	if (buf == NULL || mask_new(secrets, lens, nsec, fd_sink, NULL, &m) < 0)
		return 2;
	if (getenv("MASK_PIPE_SZ") != NULL) /* as coffer run sizes its pipes */
		(void)fcntl(0, F_SETPIPE_SZ, atoi(getenv("MASK_PIPE_SZ")));
	for (;;) {
		ssize_t r = read(0, buf, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (mask_write(m, buf, (size_t)r) < 0)
			return 1;
	}
	int rc = mask_flush(m) < 0;
	mask_free(m);
	free(buf);
	return rc;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	size_t chunk = 262144; /* coffer run's read size */
	int reps = 3, i = 1, pipe_mode = 0;
	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-p") == 0) {
			pipe_mode = 1;
			i--;
		} else if (i + 1 >= argc)
			break;
		else if (strcmp(argv[i], "-c") == 0)
			chunk = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-r") == 0)
			reps = atoi(argv[i + 1]);
	}
	if (pipe_mode && chunk > 0)
		return filter(chunk, argv + i, argc - i);
	if (i >= argc || chunk == 0 || reps < 1 || reps > 99) {
		fprintf(stderr, "usage: mask_throughput [-c CHUNK] [-r REPS] FILE NAME ...\n");
		return 2;
	}
	FILE *f = fopen(argv[i], "rb");
	if (f == NULL) {
		perror(argv[i]);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	size_t n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	char *in = malloc(n + 1), *dst = malloc(chunk);
	if (in == NULL || dst == NULL || fread(in, 1, n, f) != n) {
		fprintf(stderr, "mask_throughput: cannot read %s\n", argv[i]);
		return 2;
	}
	fclose(f);
	i++;

	const char *secrets[64];
	size_t lens[64], nsec = 0;
	for (; i < argc && nsec < 64; i++) {
		const char *v = getenv(argv[i]);
		if (v == NULL) {
			fprintf(stderr, "mask_throughput: %s is not set\n", argv[i]);
			return 2;
		}
		secrets[nsec] = v;
		lens[nsec++] = strlen(v);
	}

	/* one checked pass: how many replacements */
	struct count c = {0};
	struct mask *m = NULL;
	if (mask_new(secrets, lens, nsec, count_sink, &c, &m) < 0)
		return 2;
	for (size_t at = 0; at < n; at += chunk)
		(void)mask_write(m, in + at, n - at < chunk ? n - at : chunk);
	(void)mask_flush(m);
	mask_free(m);

	double tm[99], tc[99];
	volatile unsigned char sinkhole = 0;
	for (int r = 0; r < reps; r++) {
		struct count d = {0};
		if (mask_new(secrets, lens, nsec, null_sink, &d, &m) < 0)
			return 2;
		double t0 = now();
		for (size_t at = 0; at < n; at += chunk) {
			size_t k = n - at < chunk ? n - at : chunk;
			memcpy(dst, in + at, k);
			(void)mask_write(m, dst, k);
		}
		(void)mask_flush(m);
		tm[r] = now() - t0;
		mask_free(m);

		t0 = now();
		for (size_t at = 0; at < n; at += chunk) {
			size_t k = n - at < chunk ? n - at : chunk;
			memcpy(dst, in + at, k);
			sinkhole ^= (unsigned char)dst[k - 1];
		}
		tc[r] = now() - t0;
	}
	(void)sinkhole; /* read once: the loop above must not be optimised away */
	qsort(tm, (size_t)reps, sizeof(double), cmp_double);
	qsort(tc, (size_t)reps, sizeof(double), cmp_double);
	double mb = (double)n / 1e6;
	double mask_mbs = mb / tm[reps / 2], copy_mbs = mb / tc[reps / 2];
	printf("mask_mb_s=%.0f memcpy_mb_s=%.0f masked=%zu bytes=%zu\n", mask_mbs, copy_mbs,
	       c.stars, n);
	printf("mask_inprocess_ratio=%.2f (mask %.0f MB/s / memcpy %.0f MB/s, %zu secrets, "
	       "%zu-byte "
	       "writes)\n",
	       mask_mbs / copy_mbs, mask_mbs, copy_mbs, nsec, chunk);
	free(in);
	free(dst);
	return 0;
}
