/*
 * fsync_loop.c - the disk's durable-commit rate: the ceiling for one-at-a-time
 * durable writes (docs/BENCHMARKS.md: ~250-310/s, ~4 ms each on the project machine).
 *
 * usage: fsync_loop FILE [ITERATIONS]
 * Overwrites the same 4 KiB block of FILE and fdatasync()s it ITERATIONS times
 * (default 1000), then prints "fsync_ops_per_sec=N" on stdout.  FILE must live on
 * the same filesystem as the database under test; it is removed at the end.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char block[4096];
	long i, n = 1000;
	double t0, t1;
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fsync_loop FILE [ITERATIONS]\n");
		return 2;
	}
	if (argc == 3)
		n = atol(argv[2]);
	if (n < 1) {
		fprintf(stderr, "fsync_loop: bad iteration count\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(block, 'x', sizeof(block));
	/* Allocate the block and make the size durable first, so the loop measures
	 * pure overwrites (fdatasync then need not flush metadata). */
	if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fsync(fd) != 0) {
		perror("fsync_loop: prepare");
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		block[i % sizeof(block)] = (char)('a' + i % 26);
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block)) {
			perror("fsync_loop: pwrite");
			return 1;
		}
		if (fdatasync(fd) != 0) {
			perror("fsync_loop: fdatasync");
			return 1;
		}
	}
	t1 = now();
	close(fd);
	unlink(argv[1]);
	printf("fsync_ops_per_sec=%.1f\n", (double)n / (t1 - t0));
	return 0;
}
