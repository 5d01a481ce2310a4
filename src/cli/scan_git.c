/* scan_git.c - `coffer scan --git`, `--staged`, `--install-hook` and
 * `.coffer-scan.toml`, wired into src/cli/scan.c (scan_git.h,
 * docs/scanner.md). */
#include "cli/scan_git.h"

#include "cli/cli.h"
#include "lib/err.h"
#include "tools/githook/githook.h"
#include "tools/scan/config.h"
#include "tools/scan/git.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The repository to open: the operand, or NULL (found as git finds it, so a
 * pre-commit hook gets GIT_DIR and GIT_INDEX_FILE) for the default ".". */
static int
repo_path(const struct scan_cli_opts *o, const char **ret)
{
	if (o->npaths > 1)
		return cli_usage_err("--git, --staged and --install-hook take one directory");
	*ret = strcmp(o->paths[0], ".") == 0 ? NULL : o->paths[0];
	return 0;
}

int
scan_cli_git(const struct scan_cli_opts *o, const struct scan_engine *e, struct scan_report *rep)
{
	struct scan_git_opts g = {.since = o->since, .max_size = o->max_size};
	char err[1024] = "";
	int r;

	if (repo_path(o, &g.path) != 0)
		return CF_EINVAL;
	r = scan_git_history(e, &g, rep, err, sizeof(err));
	if (r < 0)
		cli_err("%s", err);
	return r;
}

int
scan_cli_staged(const struct scan_cli_opts *o, const struct scan_engine *e, struct scan_report *rep)
{
	struct scan_git_opts g = {.max_size = o->max_size};
	char err[1024] = "";
	int r;

	if (repo_path(o, &g.path) != 0)
		return CF_EINVAL;
	r = scan_git_staged(e, &g, rep, err, sizeof(err));
	if (r < 0)
		cli_err("%s", err);
	return r;
}

int
scan_cli_install_hook(const struct scan_cli_opts *o)
{
	const char *path;
	char err[1024] = "", *hook = NULL;
	bool same = false;
	int r;

	if (repo_path(o, &path) != 0)
		return CLI_EXIT_ERROR;
	r = githook_install(path, NULL, o->force, &hook, &same, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		return CLI_EXIT_ERROR;
	}
	printf("pre-commit hook %s: %s\n", same ? "already installed" : "installed", hook);
	free(hook);
	return CLI_EXIT_OK;
}

/* ---- the config file ---- */

static int
config_load(const struct scan_cli_opts *o, struct scan_rule **rules, size_t *n, void **state)
{
	struct scan_config *cfg = calloc(1, sizeof(*cfg));
	char err[1024] = "", *path = NULL;
	const char *root = o->paths[0];
	struct stat st;
	int r;

	if (!cfg)
		cli_oom();
	/* the default file sits at the scanned root (a directory operand) */
	if (o->config) {
		path = strdup(o->config);
	} else if (strcmp(root, ".") == 0 || strcmp(root, "-") == 0 || o->git || o->staged ||
	           stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		path = strdup(".coffer-scan.toml");
	} else if (asprintf(&path, "%s%s.coffer-scan.toml", root,
	                    root[strlen(root) - 1] == '/' ? "" : "/") < 0) {
		path = NULL;
	}
	if (!path)
		cli_oom();
	r = scan_config_load(path, o->config != NULL, *rules, *n, cfg, err, sizeof(err));
	free(path);
	if (r == CF_ENOMEM)
		cli_oom();
	if (r < 0) {
		cli_err("%s", err);
		free(cfg);
		return r;
	}
	/* the rule array goes to the caller; the extra rules' strings stay in cfg */
	free(*rules);
	*rules = cfg->rules;
	*n = cfg->nrules;
	cfg->rules = NULL;
	*state = cfg;
	return 0;
}

static int
config_filter(void *state, struct scan_report *rep)
{
	if (state)
		(void)scan_config_filter(state, rep);
	return 0;
}

static void
config_release(void *state)
{
	if (state) {
		scan_config_free(state);
		free(state);
	}
}

const struct scan_cli_config scan_cli_config_file = {config_load, config_filter, config_release};
