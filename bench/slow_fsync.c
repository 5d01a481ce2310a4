/*
 * slow_fsync.c - an LD_PRELOAD library that makes fsync() and fdatasync() take at
 * least SLOW_FSYNC_US microseconds (default 4000), to measure durable writes on a
 * disk of the class the targets were written for (≈ 250-310 flushes/s) when the disk
 * at hand acknowledges a flush in well under a millisecond.
 *
 * Each call does the real flush, then sleeps out the rest of the delay. Calls are
 * serialized across the threads of one process (a mutex held for the whole call),
 * as a single device queue would serialize cache flushes: a process that flushes
 * from two threads (coffer's committer and checkpointer) pays for both.
 *
 * bench/run preloads it, with the same delay, into fsync_loop, sqlite_batch and a
 * coffer server of their own, so the reference programs and coffer see the same
 * disk. It models flush latency only; writes and reads stay as fast as the real
 * disk makes them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t slow_mu = PTHREAD_MUTEX_INITIALIZER;

static long
delay_us(void)
{
	static long us = -1;
	const char *v;

	if (us < 0) {
		v = getenv("SLOW_FSYNC_US");
		us = v != NULL ? atol(v) : 4000;
		if (us < 0)
			us = 0;
	}
	return us;
}

/* Runs the real call, then sleeps until delay_us() has passed since it began. */
static int
slow(const char *name, int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);
	struct timespec until;
	long us = delay_us();
	int rc;

	pthread_mutex_lock(&slow_mu);
	clock_gettime(CLOCK_MONOTONIC, &until);
	rc = real != NULL ? real(fd) : -1;
	until.tv_sec += us / 1000000;
	until.tv_nsec += (us % 1000000) * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0)
		; /* EINTR */
	pthread_mutex_unlock(&slow_mu);
	return rc;
}

int
fsync(int fd)
{
	return slow("fsync", fd);
}

int
fdatasync(int fd)
{
	return slow("fdatasync", fd);
}
