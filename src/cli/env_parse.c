/* env_parse.c - `coffer env parse`: a .env file's keys and values as npm
 * dotenv reads them (--expand: as dotenv-expand expands them), printed as
 * JSON, as dotenv lines or as sh `export` lines (docs/env.md). */
#include "cli/cli.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "tools/env/dotenv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char usage[] =
        "Usage: coffer env parse [-f FILE | FILE] [--expand] [--format=json|dotenv|shell]\n"
        "\n"
        "Prints the keys and values of a .env file (default .env; - reads stdin)\n"
        "exactly as npm dotenv parses them. --expand expands references as\n"
        "dotenv-expand does, against the environment; command substitution $(...)\n"
        "is never run. Formats: json (default) one object in dotenv's key order;\n"
        "dotenv lines that dotenv reads back to the same values; shell `export\n"
        "KEY='value'` lines for sh (keys that are not shell names are skipped).\n";

enum {
	OPT_EXPAND = CLI_OPT_LOCAL,
	OPT_FORMAT,
};

enum out_format {
	FMT_JSON,
	FMT_DOTENV,
	FMT_SHELL,
};

/* The output, built whole and written at the end (values may be secrets: the
 * buffer is wiped, no stdio buffer keeps a copy). */
struct out {
	char *s;
	size_t len, cap;
};

static void
out_add(struct out *o, const char *s, size_t len)
{
	if (o->cap - o->len < len) {
		size_t cap = o->cap ? o->cap : 4096;
		char *p;
		while (cap - o->len < len)
			cap *= 2;
		p = malloc(cap);
		if (p == NULL)
			cli_oom();
		if (o->s != NULL) {
			memcpy(p, o->s, o->len);
			secmem_free(o->s, o->cap);
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, len);
	o->len += len;
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* A string as JSON.stringify writes it. */
static void
out_json_string(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t from = 0;

	out_add(o, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		out_add(o, s + from, i - from);
		out_add(o, esc, elen);
		from = i + 1;
	}
	out_add(o, s + from, len - from);
	out_add(o, "\"", 1);
}

static bool
shell_name(const char *k)
{
	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return false;
	for (size_t i = 1; k[i] != '\0'; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

/* `export KEY='value'` with each ' written as '\''. */
static void
out_shell(struct out *o, const struct dotenv_entry *e)
{
	const char *v = e->value, *q;
	size_t left = e->value_len;

	out_str(o, "export ");
	out_str(o, e->key);
	out_str(o, "='");
	while ((q = memchr(v, '\'', left)) != NULL) {
		out_add(o, v, (size_t)(q - v));
		out_str(o, "'\\''");
		left -= (size_t)(q - v) + 1;
		v = q + 1;
	}
	out_add(o, v, left);
	out_str(o, "'\n");
}

/* Whether `KEY=text` reads back, alone, as key = value. */
static bool
reads_back(const char *key, const char *text, size_t tlen, const struct dotenv_entry *e)
{
	struct out line = {0};
	struct dotenv back = {0};
	char err[128];
	bool ok;

	out_str(&line, key);
	out_add(&line, "=", 1);
	out_add(&line, text, tlen);
	out_add(&line, "\n", 1);
	ok = dotenv_parse(line.s, line.len, &back, err, sizeof(err)) == 0 && back.n == 1 &&
	     strcmp(back.v[0].key, key) == 0 && back.v[0].value_len == e->value_len &&
	     memcmp(back.v[0].value, e->value, e->value_len) == 0;
	dotenv_free(&back);
	secmem_free(line.s, line.cap);
	return ok;
}

/* One dotenv line: the first form that dotenv reads back to the same value,
 * trying a plain unquoted value (no quotes, no `$`, no spaces), '...', "..."
 * (LF and CR written as \n and \r), `...`, and last any unquoted value. A
 * quoted form is not used for a value ending in a backslash: its closing quote
 * would count as escaped, and what dotenv made of it would depend on the lines
 * after it. `$` prefers single quotes, which dotenvx does not expand either. */
static int
out_dotenv(struct out *o, const struct dotenv_entry *e)
{
	static const char quotes[] = {'\'', '"', '`'};
	const char *v = e->value;
	size_t len = e->value_len;
	struct out t = {0};
	bool ok = false;

	if (strpbrk(v, "'\"`$ ") == NULL && reads_back(e->key, v, len, e)) {
		out_add(&t, v, len);
		ok = true;
	}
	for (size_t k = 0; !ok && k < sizeof(quotes) && !(len > 0 && v[len - 1] == '\\'); k++) {
		t.len = 0;
		out_add(&t, &quotes[k], 1);
		for (size_t i = 0; i < len; i++) {
			if (quotes[k] == '"' && (v[i] == '\n' || v[i] == '\r'))
				out_str(&t, v[i] == '\n' ? "\\n" : "\\r");
			else
				out_add(&t, v + i, 1);
		}
		out_add(&t, &quotes[k], 1);
		ok = reads_back(e->key, t.s, t.len, e);
	}
	if (!ok && reads_back(e->key, v, len, e)) {
		t.len = 0;
		out_add(&t, v, len);
		ok = true;
	}
	if (ok) {
		out_str(o, e->key);
		out_add(o, "=", 1);
		out_add(o, t.s, t.len);
		out_add(o, "\n", 1);
	}
	secmem_free(t.s, t.cap);
	if (!ok) {
		cli_err("the value of %s cannot be written in dotenv form", e->key);
		return CF_EINVAL;
	}
	return 0;
}

static int
write_all(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDOUT_FILENO, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cli_err("writing the output: %s", strerror(errno));
			return CF_EIO;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

int
env_parse_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"f", required_argument, NULL, 'f'}, /* exact, so not a prefix of --format */
	        {"file", required_argument, NULL, 'f'},
	        {"expand", no_argument, NULL, OPT_EXPAND},
	        {"format", required_argument, NULL, OPT_FORMAT},
	        CLI_HELP_OPTION, /* offline: no server options */
	        {0},
	};
	enum out_format fmt = FMT_JSON;
	struct dotenv env = {0};
	struct out o = {0};
	const char *path = NULL;
	size_t *order = NULL;
	bool expand = false;
	char err[512];
	int c, r;

	cli_set_command("env", "parse");
	while ((c = cli_getopt(argc, argv, opts, usage)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case OPT_EXPAND:
			expand = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else if (strcmp(optarg, "dotenv") == 0)
				fmt = FMT_DOTENV;
			else if (strcmp(optarg, "shell") == 0)
				fmt = FMT_SHELL;
			else
				return cli_usage_err(
				        "unknown format \"%s\" (json, dotenv or shell)", optarg);
			break;
		default:
			return cli_usage_err("unknown option");
		}
	}
	if (optind < argc) {
		if (path != NULL || argc - optind > 1)
			return cli_usage_err("too many arguments");
		path = argv[optind];
	}
	if (path == NULL)
		path = ".env";

	if (strcmp(path, "-") == 0)
		r = dotenv_parse_fd(STDIN_FILENO, "stdin", &env, err, sizeof(err));
	else
		r = dotenv_parse_file(path, &env, err, sizeof(err));
	if (r == 0 && expand)
		r = dotenv_expand(&env, environ, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err[0] ? err : cf_strerror(r));
		goto out;
	}

	order = calloc(env.n ? env.n : 1, sizeof(*order));
	if (order == NULL)
		cli_oom();
	dotenv_js_order(&env, order);
	if (fmt == FMT_JSON)
		out_add(&o, "{", 1);
	for (size_t i = 0; i < env.n; i++) {
		const struct dotenv_entry *e = &env.v[order[i]];

		switch (fmt) {
		case FMT_JSON:
			if (i > 0)
				out_add(&o, ",", 1);
			out_json_string(&o, e->key, strlen(e->key));
			out_add(&o, ":", 1);
			out_json_string(&o, e->value, e->value_len);
			break;
		case FMT_DOTENV:
			r = out_dotenv(&o, e);
			if (r < 0)
				goto out;
			break;
		case FMT_SHELL:
			if (!shell_name(e->key)) {
				fprintf(stderr,
				        "coffer: env parse: %s skipped: not a shell variable "
				        "name\n",
				        e->key);
				break;
			}
			out_shell(&o, e);
			break;
		}
	}
	if (fmt == FMT_JSON)
		out_add(&o, "}\n", 2);
	r = write_all(o.s, o.len);
out:
	secmem_free(o.s, o.cap);
	free(order);
	dotenv_free(&env);
	return r < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
