/*
 * startup.c - spawn -> first HTTP 200, the start-to-ready time of a server.
 *
 * usage: startup RUNS PORT PATH [-q] -- COMMAND [ARG...]
 * Runs COMMAND RUNS times.  Each run fork/execs it (stdout/stderr to /dev/null
 * with -q), then polls 127.0.0.1:PORT every 0.5 ms with a fresh connection and
 * "GET PATH HTTP/1.1" until the status line says 200, records the time since
 * fork, and stops the child with SIGTERM (SIGKILL after 5 s).  Any argument
 * containing "{port}" gets the run's port substituted: run i uses PORT + i, so a
 * listener left in TIME_WAIT by run i-1 cannot fail run i.  A run that is not
 * ready within 10 s counts as a failure.
 * Prints one line per run ("run=1 ms=12.3") on stderr and a summary on stdout:
 *   startup_ms median=M min=A max=B runs=N failures=F
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_S 10.0

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One probe: 1 when the server answered 200, 0 otherwise. */
static int
probe(int port, const char *path)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	char req[512], resp[64];
	size_t got = 0;
	ssize_t n;
	int fd, ok = 0, len;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	len = snprintf(req, sizeof(req),
	               "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
	               port);
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < 12) {
		if (poll(&pfd, 1, 2000) <= 0)
			goto out;
		n = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	resp[got] = '\0';
	ok = strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 9, "200", 3) == 0;
out:
	close(fd);
	return ok;
}

/* 1 when something already accepts connections on the port. */
static int
port_taken(int port)
{
	struct sockaddr_in sa;
	int fd, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return r;
}

static void
stop(pid_t pid)
{
	double t0 = now();
	int st;

	kill(pid, SIGTERM);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now() - t0 > 5.0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return;
		}
		usleep(1000);
	}
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static char *
subst_port(const char *arg, int port)
{
	const char *p = strstr(arg, "{port}");
	char *s;
	size_t n;

	if (p == NULL)
		return strdup(arg);
	n = strlen(arg) + 16;
	s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%.*s%d%s", (int)(p - arg), arg, port, p + 6);
	return s;
}

int
main(int argc, char **argv)
{
	struct timespec half_ms = {0, 500000};
	double *ms, t0, t;
	int runs, port, i, j, quiet = 0, cmd, ok = 0, fail = 0, status;
	const char *path;
	char **av;
	pid_t pid;

	if (argc < 6) {
	usage:
		fprintf(stderr, "usage: startup RUNS PORT PATH [-q] -- COMMAND [ARG...]\n");
		return 2;
	}
	runs = atoi(argv[1]);
	port = atoi(argv[2]);
	path = argv[3];
	cmd = 4;
	if (strcmp(argv[cmd], "-q") == 0) {
		quiet = 1;
		cmd++;
	}
	if (cmd >= argc || strcmp(argv[cmd], "--") != 0 || cmd + 1 >= argc)
		goto usage;
	cmd++;
	if (runs < 1 || port < 1 || port + runs > 65535)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	ms = calloc((size_t)runs, sizeof(*ms));
	av = calloc((size_t)(argc - cmd + 1), sizeof(*av));
	if (ms == NULL || av == NULL)
		return 1;

	for (i = 0; i < runs; i++) {
		int p = port + i;

		/* Someone else's server on this port would answer for ours. */
		if (probe(p, path) || port_taken(p)) {
			fprintf(stderr, "run=%d failed (127.0.0.1:%d already in use)\n", i + 1, p);
			fail++;
			continue;
		}
		for (j = cmd; j < argc; j++)
			av[j - cmd] = subst_port(argv[j], p);
		t0 = now();
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			if (quiet) {
				int fd = open("/dev/null", O_WRONLY);

				dup2(fd, 1);
				dup2(fd, 2);
			}
			execvp(av[0], av);
			_exit(127);
		}
		t = -1;
		for (;;) {
			if (probe(p, path)) {
				t = now() - t0;
				break;
			}
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			if (now() - t0 > READY_TIMEOUT_S)
				break;
			nanosleep(&half_ms, NULL);
		}
		if (pid > 0)
			stop(pid);
		for (j = cmd; j < argc; j++)
			free(av[j - cmd]);
		if (t < 0) {
			fprintf(stderr, "run=%d failed%s\n", i + 1,
			        pid < 0 ? " (exited)" : " (timeout)");
			fail++;
			continue;
		}
		ms[ok++] = t * 1000.0;
		fprintf(stderr, "run=%d ms=%.1f\n", i + 1, t * 1000.0);
	}
	if (ok == 0) {
		printf("startup_ms median=NA min=NA max=NA runs=%d failures=%d\n", runs, fail);
		return 1;
	}
	qsort(ms, (size_t)ok, sizeof(*ms), cmp);
	printf("startup_ms median=%.1f min=%.1f max=%.1f runs=%d failures=%d\n",
	       ok % 2 ? ms[ok / 2] : (ms[ok / 2 - 1] + ms[ok / 2]) / 2, ms[0], ms[ok - 1], runs,
	       fail);
	return fail ? 1 : 0;
}
