/* run_child.c - coffer run's supervisor: starts the child, forwards signals,
 * pumps its stdout and stderr through the maskers, restarts or signals it on
 * rotation (--watch), and returns its exit status (docs/env.md "coffer run").
 *
 * One thread, one poll loop over: a signalfd (the forwarded signals and
 * SIGCHLD, blocked since run_signals_block), the read ends of the child's
 * stdout and stderr pipes (non-blocking; the child's ends block as usual), and
 * the watcher's notification pipe. stdin is never touched: the child inherits
 * it. Without masking there are no pipes at all: the child writes to coffer's
 * own stdout and stderr. */
#include "cli/cli.h"
#include "cli/run_int.h"
#include "lib/err.h"
#include "tools/run/mask.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bytes moved per read: big, so 1 GB of output is a few thousand reads. */
#define PUMP_BUF (256u * 1024)
/* Pipe capacity asked for (Linux's default limit for unprivileged users). */
#define PIPE_BYTES (1 << 20)
/* A child told to stop for a restart gets SIGKILL after this long (ms). */
#define STOP_TIMEOUT_MS 10000

/* The signals passed on to the child. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static sigset_t saved_mask; /* coffer's mask before run_signals_block: the child's */

/* One output stream of the child. */
struct stream {
	int in;         /* read end of the child's pipe; -1 when closed */
	int out;        /* STDOUT_FILENO or STDERR_FILENO */
	struct mask *m; /* the masker writing to out */
	bool broken;    /* out failed (EPIPE): the rest is dropped */
};

struct sup {
	struct run_opts *o;
	struct client *c;
	struct run_secrets *secrets;
	bool masking;
	struct stream st[2];
	pid_t pid;        /* the running child; 0 when none */
	int status;       /* the exit status so far */
	char **next_envp; /* a restart waiting for the child to end */
	bool restarting;  /* the child was told to stop for a restart */
	struct timespec kill_at;
	char *buf;
};

void
run_signals_block(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* A closed stdout must be EPIPE to the pump, not death: blocked, SIGPIPE
	 * stays pending here and the child (whose mask is restored) gets its own. */
	sigaddset(&set, SIGPIPE);
	/* Threads started later (the watcher) inherit the mask. */
	sigprocmask(SIG_BLOCK, &set, &saved_mask);
}

/* ---- output ---- */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* an inherited non-blocking stdout */
				struct pollfd pfd = {.fd = fd, .events = POLLOUT};
				(void)poll(&pfd, 1, -1);
				continue;
			}
			return CF_EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
stream_sink(void *arg, const void *data, size_t n)
{
	struct stream *s = arg;

	return write_all(s->out, data, n);
}

/* Closes the pipe's read end: a child still writing gets EPIPE or SIGPIPE, as
 * it would writing to the closed output itself. */
static void
stream_close(struct stream *s)
{
	if (s->in >= 0)
		close(s->in);
	s->in = -1;
}

static void
stream_break(struct stream *s)
{
	s->broken = true;
	stream_close(s);
}

/* Reads once from the pipe. Returns the bytes read, 0 at EOF, -1 when there is
 * nothing now. */
static ssize_t
stream_pump(struct sup *s, struct stream *st)
{
	ssize_t n;

	do
		n = read(st->in, s->buf, PUMP_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	if (n <= 0) { /* EOF, or an error that ends the stream the same way */
		if (!st->broken && mask_flush(st->m) < 0)
			st->broken = true;
		stream_close(st);
		return 0;
	}
	if (!st->broken && mask_write(st->m, s->buf, (size_t)n) < 0)
		stream_break(st);
	return n;
}

/* After the child ended: everything it wrote is in the pipe already. Reads
 * until the pipe is empty (not until EOF: a background grandchild may hold the
 * write end open for ever), then flushes the masker. */
static void
stream_drain(struct sup *s, struct stream *st)
{
	while (st->in >= 0 && stream_pump(s, st) > 0)
		;
	if (st->in >= 0 && !st->broken && mask_flush(st->m) < 0)
		st->broken = true;
	stream_close(st);
}

/* (Re)creates both maskers over the current secret list; old ones are flushed.
 * XXX with --signal the child keeps writing across the swap: a secret split
 * exactly there is not matched (the flushed head, the new masker's tail). */
static int
maskers_build(struct sup *s)
{
	int i, r;

	for (i = 0; i < 2; i++) {
		struct stream *st = &s->st[i];
		if (st->m && !st->broken && mask_flush(st->m) < 0)
			stream_break(st);
		mask_free(st->m);
		st->m = NULL;
		r = mask_new((const char *const *)s->secrets->v, s->secrets->lens, s->secrets->n,
		             stream_sink, st, &st->m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the child ---- */

/* The file execvp would run for cmd, searching PATH of the child's environment
 * (not coffer's): 0 with a new string, ENOENT, EACCES or ENOMEM. */
static int
command_find(const char *cmd, char **envp, char **ret)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p, *end;
	int found = ENOENT;
	size_t i, dl, cl = strlen(cmd);
	struct stat sb;
	char *f;

	if (strchr(cmd, '/')) {
		*ret = strdup(cmd);
		return *ret ? 0 : ENOMEM;
	}
	if (cl == 0)
		return ENOENT;
	for (i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		dl = (size_t)(end - p);
		f = malloc(dl + cl + 3);
		if (!f)
			return ENOMEM;
		if (dl == 0)
			snprintf(f, dl + cl + 3, "./%s",
			         cmd); /* an empty entry: the current directory */
		else
			snprintf(f, dl + cl + 3, "%.*s/%s", (int)dl, p, cmd);
		if (stat(f, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(f, X_OK) == 0) {
				*ret = f;
				return 0;
			}
			found = EACCES;
		}
		free(f);
		if (*end == '\0')
			break;
	}
	return found;
}

static int
pipe_open(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return CF_EIO;
	/* only coffer's end is non-blocking: the child writes as to any pipe */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		close(fds[0]);
		close(fds[1]);
		return CF_EIO;
	}
	(void)fcntl(fds[0], F_SETPIPE_SZ, PIPE_BYTES); /* fewer wake-ups; best effort */
	return 0;
}

/* Starts o->argv with envp (wiped and freed here in every case). Returns 0,
 * or the exit status coffer should end with (error printed). */
static int
child_start(struct sup *s, char **envp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	char *file = NULL;
	sigset_t dfl;
	int rc, status = CLI_EXIT_ERROR;
	size_t i;

	rc = command_find(s->o->argv[0], envp, &file);
	if (rc == ENOMEM)
		cli_oom();
	if (rc != 0) {
		if (rc == ENOENT) {
			cli_err("%s: not found", s->o->argv[0]);
			status = RUN_EXIT_NOT_FOUND;
		} else {
			cli_err("%s: %s", s->o->argv[0], strerror(rc));
			status = RUN_EXIT_CANNOT_RUN;
		}
		run_envp_free(envp);
		return status;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (s->masking) {
		if (pipe_open(out) < 0 || pipe_open(err) < 0) {
			cli_err("cannot create a pipe: %s", strerror(errno));
			goto out;
		}
		/* dup2 clears close-on-exec on 1 and 2; every other fd of coffer has it */
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	}
	/* The child starts with coffer's original mask and default handlers for
	 * the signals coffer handles itself. */
	sigemptyset(&dfl);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&dfl, forwarded[i]);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &saved_mask);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&s->pid, file, &fa, &attr, s->o->argv, envp);
	if (rc != 0) {
		s->pid = 0;
		cli_err("%s: %s", s->o->argv[0], rc == ENOENT ? "not found" : strerror(rc));
		status = rc == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_RUN;
		goto out;
	}
	if (s->masking) {
		s->st[0].in = out[0];
		s->st[1].in = err[0];
		s->st[0].broken = s->st[1].broken = false;
		out[0] = err[0] = -1;
	}
	status = 0;
out:
	for (i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(file);
	/* The child has its copy; the masker keeps its own. */
	run_envp_free(envp);
	return status;
}

static void
now_plus_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Milliseconds until ts (0 when past). */
static int
ms_until(const struct timespec *ts)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(ts->tv_sec - now.tv_sec) * 1000 + (ts->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)(ms > 60000 ? 60000 : ms);
}

/* Reaps the child if it ended. */
static void
child_reap(struct sup *s)
{
	int ws;
	pid_t w;

	if (s->pid == 0)
		return;
	do
		w = waitpid(s->pid, &ws, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w != s->pid)
		return;
	s->pid = 0;
	if (WIFEXITED(ws))
		s->status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		s->status = 128 + WTERMSIG(ws);
	else
		s->status = CLI_EXIT_ERROR;
}

/* A rotation of a watched secret: read the secrets again, mask old and new,
 * then signal the child or stop it for a restart. */
static void
on_rotation(struct sup *s)
{
	struct run_secrets fresh = {0};
	char **envp = NULL;
	size_t i;

	if (run_env_build(s->o, s->c, &envp, &fresh) < 0) {
		cli_err("a watched secret was rotated but could not be read again; the command "
		        "keeps running");
		return;
	}
	for (i = 0; i < fresh.n; i++)
		run_secrets_add(s->secrets, fresh.v[i], fresh.lens[i]);
	run_secrets_clear(&fresh);
	if (s->masking && maskers_build(s) < 0)
		cli_oom();
	if (s->o->signal) {
		/* The environment of a running process cannot change: the signal only
		 * tells the child to fetch the new value itself. */
		run_envp_free(envp);
		if (s->pid > 0)
			kill(s->pid, s->o->signal);
		return;
	}
	run_envp_free(s->next_envp);
	s->next_envp = envp;
	if (!s->restarting && s->pid > 0) {
		s->restarting = true;
		kill(s->pid, SIGTERM);
		now_plus_ms(&s->kill_at, STOP_TIMEOUT_MS);
	}
}

static void
on_signals(struct sup *s, int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(sfd, &si, sizeof(si));
		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo == SIGCHLD) {
			child_reap(s);
			continue;
		}
		/* Told to stop while a restart is under way: stop, do not restart. */
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT)
			s->restarting = false;
		/* A signal the terminal sent (^C, ^\, a resize, a hangup) went to its
		 * whole foreground process group, the child included: passing it on
		 * would deliver it twice. */
		if (si.ssi_code == SI_KERNEL && s->pid > 0 && getpgid(s->pid) == getpgrp())
			continue;
		if (s->pid > 0)
			kill(s->pid, (int)si.ssi_signo);
	}
}

static void
on_watch(struct sup *s, int fd)
{
	char b[64];
	bool any = false;
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0)
		any = true;
	if (any)
		on_rotation(s);
}

int
run_supervise(struct run_opts *o, struct client *c, char **envp, struct run_secrets *secrets,
              int watch_fd)
{
	struct sup s = {
	        .o = o,
	        .c = c,
	        .secrets = secrets,
	        .st = {{.in = -1, .out = STDOUT_FILENO}, {.in = -1, .out = STDERR_FILENO}},
	        .status = CLI_EXIT_ERROR,
	};
	struct pollfd pfd[4];
	sigset_t set;
	int sfd = -1, r, i, nfd, timeout;
	size_t k;

	s.masking = !o->no_mask && (secrets->n > 0 || o->watch);
	sigemptyset(&set);
	for (k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
		sigaddset(&set, forwarded[k]);
	sigaddset(&set, SIGCHLD);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		cli_err("signalfd: %s", strerror(errno));
		run_envp_free(envp);
		goto out;
	}
	if (s.masking) {
		s.buf = malloc(PUMP_BUF);
		if (!s.buf || maskers_build(&s) < 0)
			cli_oom();
	}
	r = child_start(&s, envp);
	if (r != 0) {
		s.status = r;
		goto out;
	}
	if (watch_fd < 0)
		run_secrets_clear(secrets); /* the maskers keep their own copies */
	for (;;) {
		nfd = 0;
		pfd[nfd++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (i = 0; i < 2; i++)
			pfd[nfd++] = (struct pollfd){.fd = s.st[i].in, .events = POLLIN};
		pfd[nfd++] = (struct pollfd){.fd = watch_fd, .events = POLLIN};
		timeout = s.restarting && s.pid > 0 ? ms_until(&s.kill_at) : -1;
		r = poll(pfd, (nfds_t)nfd, timeout);
		if (r < 0 && errno != EINTR) {
			cli_err("poll: %s", strerror(errno));
			break;
		}
		if (r > 0) {
			if (pfd[0].revents)
				on_signals(&s, sfd);
			for (i = 0; i < 2; i++)
				if (pfd[1 + i].revents && s.st[i].in >= 0)
					(void)stream_pump(&s, &s.st[i]);
			if (pfd[3].revents)
				on_watch(&s, watch_fd);
		}
		if (s.restarting && s.pid > 0 && ms_until(&s.kill_at) == 0) {
			kill(s.pid, SIGKILL);
			now_plus_ms(&s.kill_at, STOP_TIMEOUT_MS);
		}
		if (s.pid > 0)
			continue;
		/* The child ended: take what it wrote, then restart or finish. */
		for (i = 0; i < 2; i++)
			stream_drain(&s, &s.st[i]);
		if (!s.restarting)
			break;
		s.restarting = false;
		r = child_start(&s, s.next_envp);
		s.next_envp = NULL;
		if (r != 0) {
			s.status = r;
			break;
		}
	}
out:
	for (i = 0; i < 2; i++) {
		stream_close(&s.st[i]);
		mask_free(s.st[i].m);
	}
	run_envp_free(s.next_envp);
	run_secrets_clear(secrets);
	free(s.buf);
	if (sfd >= 0)
		close(sfd);
	return s.status;
}
