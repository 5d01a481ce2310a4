/* env_guard.c - `coffer env guard`: .env files that git tracks or does not
 * ignore, the fix, and the pre-commit hook (docs/env.md "coffer env guard"). */
#include "cli/cli.h"
#include "lib/err.h"
#include "tools/env/guard.h"
#include "tools/githook/githook.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char guard_usage[] =
        "Usage: coffer env guard [PATH] [--fix] [--install-hook [--force]]\n"
        "                        [--format=text|json]\n\n"
        "Reports the .env files of the git repository containing PATH (default .)\n"
        "that git tracks or that no .gitignore rule ignores; public files\n"
        "(.env.example, .env.sample, .env.template, .env.dist, .env.defaults,\n"
        ".env.schema*, .env.vault) and dotenvx-encrypted files are allowed.\n"
        "Prints the .gitignore lines that fix it, and `git rm --cached` for\n"
        "tracked files. Exit status: 0 none, 1 findings, 2 an error.\n\n"
        "Options:\n"
        "  --fix                  append the lines to the repository's .gitignore\n"
        "                         (the index is not changed: tracked files stay\n"
        "                         tracked until `git rm --cached`)\n"
        "  --install-hook         write a pre-commit hook that runs this check and\n"
        "                         `coffer scan --staged` (when coffer has it)\n"
        "  --force                replace a different existing pre-commit hook\n"
        "  --format=text|json     output format (default text)\n";

enum {
	OPT_FIX = CLI_OPT_LOCAL,
	OPT_INSTALL_HOOK,
	OPT_FORCE,
	OPT_FORMAT,
};

static const char *
kind_name(enum guard_kind k)
{
	return k == GUARD_TRACKED ? "tracked" : "unignored";
}

/* path quoted for a shell command line when it needs it. */
static char *
sh_word(const char *path)
{
	size_t n = 3;
	char *q, *p;

	if (path[strspn(path,
	                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-")] ==
	    '\0')
		return cli_strdup(path);
	for (const char *c = path; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = malloc(n);
	if (!q)
		cli_oom();
	p = q;
	*p++ = '\'';
	for (const char *c = path; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

/* The fix lines of rep, without repeats: a new array of owned strings. */
static char **
fix_lines(const struct guard_report *rep, size_t *ret_n)
{
	char **lines = calloc(rep->n + 1, sizeof(*lines));
	size_t n = 0;

	if (!lines)
		cli_oom();
	for (size_t i = 0; i < rep->n; i++) {
		char *l;
		bool dup = false;

		if (rep->v[i].ignored)
			continue;
		l = guard_ignore_line(rep->v[i].path);
		if (!l)
			cli_oom();
		for (size_t k = 0; k < n; k++)
			dup = dup || strcmp(lines[k], l) == 0;
		if (dup)
			free(l);
		else
			lines[n++] = l;
	}
	*ret_n = n;
	return lines;
}

static void
free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static void
print_text(const struct guard_report *rep, size_t added, bool fixed, const char *hook, bool same)
{
	size_t nlines, ntracked = 0;
	char **lines = fix_lines(rep, &nlines);

	if (hook)
		printf("pre-commit hook %s: %s\n", same ? "already installed" : "installed", hook);
	if (fixed)
		printf("added %zu line%s to %s.gitignore (the index is not changed)\n", added,
		       added == 1 ? "" : "s", rep->workdir);
	if (rep->n == 0) {
		printf("ok: no .env file is tracked or unignored\n");
		free_lines(lines, nlines);
		return;
	}
	for (size_t i = 0; i < rep->n; i++) {
		printf("%-10s %s\n", kind_name(rep->v[i].kind), rep->v[i].path);
		ntracked += rep->v[i].kind == GUARD_TRACKED;
	}
	if (nlines)
		printf("\nAdd to %s.gitignore (coffer env guard --fix does it):\n", rep->workdir);
	for (size_t i = 0; i < nlines; i++)
		printf("  %s\n", lines[i]);
	if (ntracked) {
		printf("%s stop tracking (the files stay on disk; a committed secret stays in "
		       "history: rotate it):\n",
		       nlines ? "Then" : "\nTo");
		for (size_t i = 0; i < rep->n; i++) {
			char *w;

			if (rep->v[i].kind != GUARD_TRACKED)
				continue;
			w = sh_word(rep->v[i].path);
			printf("  git rm --cached -- %s\n", w);
			free(w);
		}
	}
	free_lines(lines, nlines);
}

static void
print_json(const struct guard_report *rep, size_t added, bool fixed, const char *hook)
{
	json_t *o = json_object(), *fs = json_array(), *ls = json_array();
	size_t nlines;
	char **lines = fix_lines(rep, &nlines);

	if (!o || !fs || !ls)
		cli_oom();
	for (size_t i = 0; i < rep->n; i++) {
		char *line = guard_ignore_line(rep->v[i].path), *w;
		json_t *f;

		if (!line)
			cli_oom();
		f = json_pack("{s:s, s:s, s:s*}", "file", rep->v[i].path, "status",
		              kind_name(rep->v[i].kind), "gitignore",
		              rep->v[i].ignored ? NULL : line);
		/* a file name that is not UTF-8 cannot be in JSON */
		if (!f)
			f = json_pack("{s:s, s:s}", "file", "(not UTF-8)", "status",
			              kind_name(rep->v[i].kind));
		if (!f)
			cli_oom();
		free(line);
		if (rep->v[i].kind == GUARD_TRACKED) {
			w = sh_word(rep->v[i].path);
			if (asprintf(&line, "git rm --cached -- %s", w) < 0)
				cli_oom();
			free(w);
			if (json_object_set_new(f, "command", json_string(line)) < 0)
				cli_oom();
			free(line);
		}
		if (json_array_append_new(fs, f) < 0)
			cli_oom();
	}
	for (size_t i = 0; i < nlines; i++) {
		json_t *s = json_string(lines[i]);

		if (s && json_array_append_new(ls, s) < 0)
			cli_oom();
	}
	cli_json_set(o, "repository", json_string(rep->workdir));
	cli_json_set(o, "findings", fs);
	cli_json_set(o, "gitignore_lines", ls);
	if (fixed)
		cli_json_set(o, "gitignore_added", json_integer((json_int_t)added));
	if (hook)
		cli_json_set(o, "hook", json_string(hook));
	if (json_dumpf(o, stdout, JSON_INDENT(2)) < 0)
		cli_oom();
	fputc('\n', stdout);
	json_decref(o);
	free_lines(lines, nlines);
}

int
env_guard_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"fix", no_argument, NULL, OPT_FIX},
	        {"install-hook", no_argument, NULL, OPT_INSTALL_HOOK},
	        {"force", no_argument, NULL, OPT_FORCE},
	        {"format", required_argument, NULL, OPT_FORMAT},
	        CLI_HELP_OPTION, /* offline: no server options */
	        {0},
	};
	struct guard_report rep = {0};
	const char *path = NULL;
	char err[1024] = "", *hook = NULL;
	bool fix = false, install = false, force = false, json = arg_format == CLI_FORMAT_JSON,
	     same = false;
	size_t added = 0;
	int c, r;

	while ((c = cli_getopt(argc, argv, opts, guard_usage)) != -1) {
		switch (c) {
		case OPT_FIX:
			fix = true;
			break;
		case OPT_INSTALL_HOOK:
			install = true;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				json = true;
			else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "table") == 0)
				json = false;
			else
				return cli_usage_err("unknown format \"%s\" (text or json)",
				                     optarg);
			break;
		default:
			return CLI_EXIT_ERROR;
		}
	}
	if (argc - optind > 1)
		return cli_usage_err("unexpected argument \"%s\"", argv[optind + 1]);
	if (optind < argc)
		path = argv[optind];
	if (force && !install)
		return cli_usage_err("--force goes with --install-hook");
	if (install) {
		r = githook_install(path, NULL, force, &hook, &same, err, sizeof(err));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
	}
	r = guard_scan(path, &rep, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		goto out;
	}
	if (fix && rep.n > 0) {
		r = guard_fix(&rep, &added, err, sizeof(err));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
		/* report what is left: tracked files stay until git rm --cached */
		guard_report_free(&rep);
		r = guard_scan(path, &rep, err, sizeof(err));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
	}
	if (json)
		print_json(&rep, added, fix, hook);
	else
		print_text(&rep, added, fix, hook, same);
out:
	c = r < 0 ? CLI_EXIT_ERROR : rep.n ? CLI_EXIT_FINDING : CLI_EXIT_OK;
	guard_report_free(&rep);
	free(hook);
	return c;
}
