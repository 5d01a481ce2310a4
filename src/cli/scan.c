/* scan.c - `coffer scan`: hardcoded credentials in files, stdin and (through
 * the hooks of scan_cli.h) git history and the index (docs/scanner.md). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/scan_cli.h"
#include "lib/err.h"
#include "tools/scan/output.h"
#include "tools/scan/report.h"
#include "tools/scan/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The modes and the config file plug in here (scan_cli.h); NULL: not built
 * in, and the flags that need them fail with a clear error. */
static const scan_cli_mode_fn scan_git_mode = NULL;    /* --git [--since] */
static const scan_cli_mode_fn scan_staged_mode = NULL; /* --staged */
static const scan_cli_hook_fn scan_install_hook = NULL;
static const struct scan_cli_config *const scan_config = NULL;

static const char scan_usage[] =
        "Usage: coffer scan [PATH ...] [--git [--since=REV] | --staged]\n"
        "                   [--format=text|json|sarif] [--redact[=N]]\n"
        "                   [--baseline=FILE] [--write-baseline=FILE] [--config=FILE]\n"
        "                   [--max-size=SIZE] [--no-ignore] [--no-progress]\n"
        "       coffer scan --install-hook [--force]\n\n"
        "Finds hardcoded credentials (API tokens, private keys, passwords in URLs\n"
        "and assignments) in the files under each PATH (default .; - reads stdin).\n"
        "Honours .gitignore and .cofferignore; skips .git/, binary files and files\n"
        "over 10 MiB. Exit status: 0 no findings, 1 findings, 2 an error (or\n"
        "nothing could be scanned).\n\n"
        "Options:\n"
        "  --git                  scan every blob reachable from every ref\n"
        "  --since=REV            with --git: only commits after REV\n"
        "  --staged               scan the staged changes (for a pre-commit hook)\n"
        "  --format=text|json|sarif  output format (default text)\n"
        "  --redact[=N]           hide the last N%% of each secret (no N: 100);\n"
        "                         default: the first 4 characters then ...; 0 shows all\n"
        "  --baseline=FILE        drop findings whose fingerprint is in FILE (a\n"
        "                         previous --format=json report)\n"
        "  --write-baseline=FILE  write this run's findings to FILE as a baseline\n"
        "  --config=FILE          rules and allowlists (default .coffer-scan.toml)\n"
        "  --max-size=SIZE        skip files larger than SIZE (bytes, or K, M, G;\n"
        "                         default 10M)\n"
        "  --no-ignore            do not read .gitignore and .cofferignore\n"
        "  --no-progress          no progress line on stderr\n"
        "  --install-hook         write a git pre-commit hook running --staged\n"
        "  --force                with --install-hook: replace an existing hook\n";

enum {
	OPT_FORMAT = CLI_OPT_LOCAL,
	OPT_GIT,
	OPT_STAGED,
	OPT_SINCE,
	OPT_CONFIG,
	OPT_BASELINE,
	OPT_WRITE_BASELINE,
	OPT_REDACT,
	OPT_MAX_SIZE,
	OPT_NO_IGNORE,
	OPT_NO_PROGRESS,
	OPT_INSTALL_HOOK,
	OPT_FORCE,
};

/* "10M", "512K", "1G", "1048576" to bytes. */
static int
parse_size(const char *s, size_t *ret)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return CF_EINVAL;
	v = strtoull(s, &end, 10);
	if (errno)
		return CF_EINVAL;
	if (*end &&
	    (end[1] == '\0' || strcasecmp(end + 1, "iB") == 0 || strcasecmp(end + 1, "B") == 0)) {
		switch (*end) {
		case 'k':
		case 'K':
			mul = 1ull << 10;
			break;
		case 'm':
		case 'M':
			mul = 1ull << 20;
			break;
		case 'g':
		case 'G':
			mul = 1ull << 30;
			break;
		default:
			return CF_EINVAL;
		}
	} else if (*end) {
		return CF_EINVAL;
	}
	if (v > SIZE_MAX / mul)
		return CF_EINVAL;
	*ret = (size_t)(v * mul);
	return 0;
}

/* --write-baseline: every finding of this run (before the baseline filter)
 * as the JSON array --format=json prints. */
static int
write_baseline(const char *path, const struct scan_report *rep, int redact)
{
	struct scan_output_opts o = {.format = SCAN_FORMAT_JSON, .redact = redact};
	char tmp[4096];
	FILE *f;
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp)) {
		cli_err("baseline %s: path too long", path);
		return CF_EINVAL;
	}
	fd = mkstemp(tmp);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		cli_err("baseline %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return CF_EIO;
	}
	r = scan_output_write(f, rep, &o);
	if (fclose(f) != 0 && r == 0)
		r = CF_EIO;
	if (r == 0 && rename(tmp, path) != 0)
		r = CF_EIO;
	if (r < 0) {
		unlink(tmp);
		cli_err("baseline %s: cannot write it (%s)", path, cf_strerror(r));
	}
	return r;
}

static int
paths_mode(const struct scan_cli_opts *o, const struct scan_engine *e, struct scan_report *rep)
{
	struct walk_opts w = {
	        .engine = e,
	        .report = rep,
	        .max_size = o->max_size,
	        .progress = o->progress,
	        .no_ignore = o->no_ignore,
	};
	int r = walk_scan(&w, o->paths, o->npaths);

	if (r < 0)
		cli_err("%s", cf_strerror(r));
	return r;
}

static int
parse_args(int argc, char **argv, struct scan_cli_opts *o)
{
	static const struct option opts[] = {
	        {"format", required_argument, NULL, OPT_FORMAT},
	        {"git", no_argument, NULL, OPT_GIT},
	        {"staged", no_argument, NULL, OPT_STAGED},
	        {"since", required_argument, NULL, OPT_SINCE},
	        {"config", required_argument, NULL, OPT_CONFIG},
	        {"baseline", required_argument, NULL, OPT_BASELINE},
	        {"write-baseline", required_argument, NULL, OPT_WRITE_BASELINE},
	        {"redact", optional_argument, NULL, OPT_REDACT},
	        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
	        {"no-ignore", no_argument, NULL, OPT_NO_IGNORE},
	        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	        {"install-hook", no_argument, NULL, OPT_INSTALL_HOOK},
	        {"force", no_argument, NULL, OPT_FORCE},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	static char *dot[] = {".", NULL};
	long long n;
	int c;

	o->out.redact = SCAN_REDACT_DEFAULT;
	if (arg_format == CLI_FORMAT_JSON) /* `coffer --format=json scan` */
		o->out.format = SCAN_FORMAT_JSON;
	o->max_size = WALK_DEFAULT_MAX_SIZE;
	o->progress = isatty(STDERR_FILENO);
	while ((c = cli_getopt(argc, argv, opts, scan_usage)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				o->out.format = SCAN_FORMAT_JSON;
			else if (strcmp(optarg, "sarif") == 0)
				o->out.format = SCAN_FORMAT_SARIF;
			else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "table") == 0)
				o->out.format = SCAN_FORMAT_TEXT;
			else
				return cli_usage_err("unknown format \"%s\" (text, json or sarif)",
				                     optarg);
			break;
		case OPT_GIT:
			o->git = true;
			break;
		case OPT_STAGED:
			o->staged = true;
			break;
		case OPT_SINCE:
			o->since = optarg;
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_BASELINE:
			o->baseline = optarg;
			break;
		case OPT_WRITE_BASELINE:
			o->write_baseline = optarg;
			break;
		case OPT_REDACT:
			if (!optarg) {
				o->out.redact = 100;
			} else if (args_parse_uint(optarg, &n) < 0 || n > 100) {
				return cli_usage_err(
				        "--redact wants a number from 0 to 100, not \"%s\"",
				        optarg);
			} else {
				o->out.redact = (int)n;
			}
			break;
		case OPT_MAX_SIZE:
			if (parse_size(optarg, &o->max_size) < 0)
				return cli_usage_err(
				        "--max-size wants a size such as 10M, not \"%s\"", optarg);
			break;
		case OPT_NO_IGNORE:
			o->no_ignore = true;
			break;
		case OPT_NO_PROGRESS:
			o->progress = false;
			break;
		case OPT_INSTALL_HOOK:
			o->install_hook = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		default:
			return CLI_EXIT_ERROR;
		}
	}
	o->paths = argv + optind;
	o->npaths = (size_t)(argc - optind);
	if (o->npaths == 0) {
		o->paths = dot;
		o->npaths = 1;
	}
	if (o->git && o->staged)
		return cli_usage_err("--git and --staged cannot be combined");
	if (o->since && !o->git)
		return cli_usage_err("--since needs --git");
	if (o->force && !o->install_hook)
		return cli_usage_err("--force needs --install-hook");
	return 0;
}

int
scan_main(int argc, char **argv)
{
	struct scan_cli_opts o = {0};
	struct scan_report rep;
	struct scan_rule *rules = NULL;
	struct scan_engine *engine = NULL;
	void *cfg = NULL;
	scan_cli_mode_fn mode = paths_mode;
	char err[512] = "";
	size_t nrules = 0, dropped = 0;
	int r, status = CLI_EXIT_ERROR;

	cli_set_command("scan", NULL);
	r = parse_args(argc, argv, &o);
	if (r != 0)
		return r;
	if (o.install_hook) {
		if (!scan_install_hook) {
			cli_err("--install-hook is not built into this coffer; use `coffer env "
			        "guard --install-hook`");
			return CLI_EXIT_ERROR;
		}
		return scan_install_hook(&o);
	}
	if (o.git || o.staged) {
		mode = o.git ? scan_git_mode : scan_staged_mode;
		if (!mode) {
			cli_err("%s is not built into this coffer", o.git ? "--git" : "--staged");
			return CLI_EXIT_ERROR;
		}
	}
	if (scan_report_init(&rep) < 0)
		cli_oom();
	if (scan_builtin_rules(&rules, &nrules) < 0)
		cli_oom();
	if (scan_config && scan_config->load(&o, &rules, &nrules, &cfg) < 0)
		goto out;
	r = scan_engine_new(rules, nrules, &engine, err, sizeof(err));
	if (r < 0) {
		cli_err("rules: %s", *err ? err : cf_strerror(r));
		goto out;
	}
	r = mode(&o, engine, &rep);
	if (r < 0)
		goto out;
	if (scan_config && scan_config->filter && scan_config->filter(cfg, &rep) < 0)
		goto out;
	scan_report_sort(&rep);
	if (o.write_baseline && write_baseline(o.write_baseline, &rep, o.out.redact) < 0)
		goto out;
	if (o.baseline && scan_report_baseline(&rep, o.baseline, &dropped, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		goto out;
	}
	for (size_t i = 0; i < rep.nnotes; i++)
		fprintf(stderr, "coffer: scan: %s\n", rep.notes[i]);
	o.out.color =
	        o.out.format == SCAN_FORMAT_TEXT && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	r = scan_output_write(stdout, &rep, &o.out);
	if (r < 0) {
		cli_err("writing the report: %s", cf_strerror(r));
		goto out;
	}
	if (rep.files_scanned == 0 && rep.nnotes > 0)
		cli_err("nothing could be scanned");
	else
		status = rep.n ? CLI_EXIT_FINDING : CLI_EXIT_OK;
out:
	if (scan_config && scan_config->release)
		scan_config->release(cfg);
	scan_engine_free(engine);
	free(rules);
	scan_report_free(&rep);
	return status;
}
