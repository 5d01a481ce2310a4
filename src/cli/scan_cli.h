/* scan_cli.h - the options of `coffer scan` and the hooks through which the
 * modes beyond plain paths plug into src/cli/scan.c (docs/scanner.md).
 *
 * scan.c parses every flag into struct scan_cli_opts, builds the rule set
 * and the engine, then runs one mode that fills a struct scan_report; the
 * report is filtered (config hook, then baseline), sorted and printed the
 * same way whatever the mode. A mode or config loader is one function in
 * its own file, named in the hook table at the top of scan.c. */
#ifndef CF_CLI_SCAN_CLI_H
#define CF_CLI_SCAN_CLI_H

#include "tools/scan/output.h"
#include "tools/scan/report.h"
#include "tools/scan/scan.h"

#include <stdbool.h>
#include <stddef.h>

struct scan_cli_opts {
	char **paths; /* operands ("." when none; "-" = stdin) */
	size_t npaths;
	bool git;           /* --git: every blob reachable from every ref */
	bool staged;        /* --staged: the index */
	const char *since;  /* --since=REV (with --git), else NULL */
	const char *config; /* --config=FILE, else NULL (default .coffer-scan.toml) */
	bool install_hook;  /* --install-hook */
	bool force;         /* --force (with --install-hook) */
	const char *baseline, *write_baseline;
	struct scan_output_opts out;
	size_t max_size;
	bool progress; /* a progress line may be shown (stderr is a TTY, no --no-progress) */
	bool no_ignore;
};

/* A mode: scans what o asks with engine e into rep (findings with commit,
 * author and date for history; notes for what could not be read). Returns 0,
 * or a negative CF_E* code after printing its error with cli_err. */
typedef int (*scan_cli_mode_fn)(const struct scan_cli_opts *o, const struct scan_engine *e,
                                struct scan_report *rep);

/* --install-hook: does the whole job. Returns an exit status. */
typedef int (*scan_cli_hook_fn)(const struct scan_cli_opts *o);

/* The config file: called before the engine is built with the built-in rules
 * (*rules, *n; the array is malloc'd and may be replaced: disabled rules
 * removed, extra rules added; *state keeps what the filter needs), then
 * filter is called on the report before the baseline (allowlists by path,
 * secret, stopword), then release. load returns 0, or CF_EINVAL after
 * printing one line that names the config file and line. */
struct scan_cli_config {
	int (*load)(const struct scan_cli_opts *o, struct scan_rule **rules, size_t *n,
	            void **state);
	int (*filter)(void *state, struct scan_report *rep);
	void (*release)(void *state);
};

#endif
