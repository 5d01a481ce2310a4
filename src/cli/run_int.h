/* run_int.h - private to src/cli/run*.c: the pieces of `coffer run` (docs/env.md
 * "coffer run").
 *
 * run.c parses the command line and assembles the child's environment from
 * .env files, server secrets and the parent environment; run_child.c starts the
 * child, forwards signals and pumps its output through the maskers;
 * run_watch.c follows the server's event stream for --watch. */
#ifndef CF_CLI_RUN_INT_H
#define CF_CLI_RUN_INT_H

#include <stdbool.h>
#include <stddef.h>

struct client;

/* Exit status when COMMAND cannot be found or run (as shells answer). */
#define RUN_EXIT_NOT_FOUND  127
#define RUN_EXIT_CANNOT_RUN 126

/* Values to mask: copies owned by the list (wiped by run_secrets_clear).
 * Duplicates are kept once. */
struct run_secrets {
	char **v;
	size_t *lens;
	size_t n, cap;
};

/* Adds a copy of v (len bytes); dies on OOM. Empty values are ignored. */
void run_secrets_add(struct run_secrets *s, const char *v, size_t len);
/* Wipes and frees every value; the list is left empty. */
void run_secrets_clear(struct run_secrets *s);

/* One --path: a KV secret, or the secret a rotation job rotates. */
struct run_source {
	const char *arg; /* as given on the command line */
	const char *job; /* "rotation:NAME": the job NAME, else NULL */
	char *mount;     /* the mount ("secret/"), set by run_sources_resolve */
	char *path;      /* the secret below the mount ("app/db"), set by run_sources_resolve */
	char *role;      /* database jobs: the static role, else NULL */
	int version;     /* KV version of the mount: 1 or 2 */
};

struct run_opts {
	const char **files; /* -f, in order */
	size_t nfiles;
	struct run_source *sources; /* --path, in order */
	size_t nsources;
	const char *schema; /* --schema, or NULL */
	bool no_mask;
	bool override;
	bool watch;
	bool schema_failed; /* set by run_env_build: the --schema check failed */
	int signal;         /* --signal with --watch; 0 restarts the child instead */
	char **argv;        /* COMMAND [ARGS ...], NULL-terminated */
};

/* Finds the mount and path of every --path (for a rotation job: from its
 * status) without reading the secrets. Returns 0, or a negative CF_E* code with
 * the error printed. */
int run_sources_resolve(struct run_opts *o, struct client *c);

/* Builds the child's environment (every source read afresh) into *ret_envp, a
 * NULL-terminated array of malloc'd "KEY=VALUE" strings (free it with
 * run_envp_free, which wipes them), and adds every secret value to *secrets.
 * c is the API client (NULL when there is no --path). Returns 0, or a negative
 * CF_E* code with the error printed; nothing is returned then. */
int run_env_build(struct run_opts *o, struct client *c, char ***ret_envp,
                  struct run_secrets *secrets);
void run_envp_free(char **envp);

/* Follows the event stream for --watch on a client of its own (taken over: the
 * watcher frees it). Starts a thread and returns once the stream is open, with
 * *ret_fd readable whenever an event names one of o->sources (a byte per
 * event; read them all and act once). Returns 0, or a negative code with the
 * error printed. The thread ends with the process. */
int run_watch_start(const struct run_opts *o, struct client *c, int *ret_fd);

/* Blocks the signals coffer run passes on (and SIGCHLD, SIGPIPE) in the
 * calling thread, before any other thread starts; the child gets the previous
 * mask back. */
void run_signals_block(void);

/* Starts the child with envp (wiped and freed here once it runs), masking
 * secrets in its output (unless o->no_mask or there are none), forwards
 * signals, restarts it on watch events (watch_fd, -1 without --watch), and
 * returns the exit status of coffer run: the child's code, 128 + the signal
 * that killed it, or RUN_EXIT_NOT_FOUND / RUN_EXIT_CANNOT_RUN / CLI_EXIT_ERROR
 * with the error printed. secrets is cleared before it returns. */
int run_supervise(struct run_opts *o, struct client *c, char **envp, struct run_secrets *secrets,
                  int watch_fd);

#endif
