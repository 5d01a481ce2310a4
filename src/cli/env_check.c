/* env_check.c - `coffer env check`: variables against a schema, or against an
 * example file as dotenv-safe checks them (docs/env.md "coffer env check"). */
#include "cli/cli.h"
#include "lib/err.h"
#include "tools/env/dotenv.h"
#include "tools/env/schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char check_usage[] =
        "Usage: coffer env check [-f FILE ...] --schema=FILE [options]\n"
        "       coffer env check [-f FILE ...] --example=FILE [options]\n\n"
        "Checks environment variables: those of the .env files (default .env,\n"
        "skipped when missing), with the process environment over them, against\n"
        "a JSON schema (types, lengths, patterns, bounds, required, secret), or\n"
        "against an example file whose every key must be set and non-empty.\n"
        "Messages name the variable and the rule, never a value.\n"
        "Exit status: 0 passed, 1 a check failed, 2 an error.\n\n"
        "Options:\n"
        "  -f FILE, --file=FILE   a .env file (repeatable; the first that sets a key wins)\n"
        "  --schema=FILE          the JSON schema\n"
        "  --example=FILE         the example file (dotenv-safe's .env.example)\n"
        "  --no-env               ignore the process environment\n"
        "  --format=text|json     output format (default text)\n";

enum {
	OPT_SCHEMA = CLI_OPT_LOCAL,
	OPT_EXAMPLE,
	OPT_NO_ENV,
	OPT_FORMAT,
};

/* Reports a parse error of path, naming the file when err does not. */
static void
file_err(const char *path, const char *err)
{
	if (strncmp(err, path, strlen(path)) == 0)
		cli_err("%s", err);
	else
		cli_err("%s: %s", path, err);
}

/* The variables: the files (the first that sets a key wins, as dotenv's
 * config() with several paths), then the process environment over them (as
 * dotenv never overrides a variable that is already set). */
static int
load_env(char **files, size_t nfiles, bool use_env, struct dotenv *env)
{
	static char *const default_file[] = {".env"};
	char err[512] = "";
	int r = 0;

	if (nfiles == 0) {
		files = (char **)default_file;
		nfiles = access(".env", F_OK) == 0 ? 1 : 0;
	}
	for (size_t i = 0; i < nfiles; i++) {
		struct dotenv one = {0};

		r = dotenv_parse_file(files[i], &one, err, sizeof(err));
		if (r < 0) {
			file_err(files[i], err);
			return r;
		}
		for (size_t k = 0; k < one.n && r == 0; k++)
			if (!dotenv_find(env, one.v[k].key))
				r = dotenv_set(env, one.v[k].key, one.v[k].value,
				               one.v[k].value_len);
		dotenv_free(&one);
		if (r < 0)
			cli_oom();
	}
	for (char **e = environ; use_env && e && *e; e++) {
		char *eq = strchr(*e, '='), *key;

		if (!eq || eq == *e)
			continue;
		key = strndup(*e, (size_t)(eq - *e));
		if (!key)
			cli_oom();
		r = dotenv_set(env, key, eq + 1, strlen(eq + 1));
		free(key); /* not secret: a variable's name */
		if (r < 0)
			cli_oom();
	}
	return 0;
}

static void
print_json(const struct schema_report *rep)
{
	json_t *o = json_object(), *fails = json_array(), *defs = json_array();

	if (!o || !fails || !defs)
		cli_oom();
	for (size_t i = 0; i < rep->nfail; i++) {
		json_t *f = json_pack("{s:s, s:s, s:s}", "variable", rep->fail[i].var, "rule",
		                      rep->fail[i].rule, "message", rep->fail[i].message);

		/* a name that is not UTF-8 (from the environment) cannot be in JSON */
		if (!f)
			f = json_pack("{s:s, s:s, s:s}", "variable", "(not UTF-8)", "rule",
			              rep->fail[i].rule, "message", rep->fail[i].message);
		if (!f || json_array_append_new(fails, f) < 0)
			cli_oom();
	}
	for (size_t i = 0; i < rep->ndefaulted; i++) {
		json_t *s = json_string(rep->defaulted[i]);

		if (!s || json_array_append_new(defs, s) < 0)
			cli_oom();
	}
	cli_json_set(o, "valid", json_boolean(rep->nfail == 0));
	cli_json_set(o, "checked", json_integer((json_int_t)rep->nchecked));
	cli_json_set(o, "failures", fails);
	cli_json_set(o, "defaults", defs);
	if (json_dumpf(o, stdout, JSON_INDENT(2)) < 0)
		cli_oom();
	fputc('\n', stdout);
	json_decref(o);
}

static void
print_text(const struct schema_report *rep)
{
	for (size_t i = 0; i < rep->nfail; i++)
		printf("%s: %s (%s)\n", rep->fail[i].var, rep->fail[i].message, rep->fail[i].rule);
	if (rep->nfail)
		printf("%zu failed check%s\n", rep->nfail, rep->nfail == 1 ? "" : "s");
	else
		printf("ok: %zu variable%s checked\n", rep->nchecked,
		       rep->nchecked == 1 ? "" : "s");
	for (size_t i = 0; i < rep->ndefaulted; i++)
		printf("%s: not set, default used\n", rep->defaulted[i]);
}

int
env_check_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"f", required_argument, NULL, 'f'},
	        {"file", required_argument, NULL, 'f'},
	        {"schema", required_argument, NULL, OPT_SCHEMA},
	        {"example", required_argument, NULL, OPT_EXAMPLE},
	        {"no-env", no_argument, NULL, OPT_NO_ENV},
	        {"format", required_argument, NULL, OPT_FORMAT},
	        CLI_HELP_OPTION, /* offline: no server options */
	        {0},
	};
	struct schema_report rep = {0};
	struct dotenv env = {0}, example = {0};
	struct schema *schema = NULL;
	const char *schema_path = NULL, *example_path = NULL;
	char **files = NULL, err[512] = "";
	size_t nfiles = 0;
	bool use_env = true, json = arg_format == CLI_FORMAT_JSON;
	int c, r = 0;

	files = calloc((size_t)argc + 1, sizeof(*files));
	if (!files)
		cli_oom();
	while ((c = cli_getopt(argc, argv, opts, check_usage)) != -1) {
		switch (c) {
		case 'f':
			files[nfiles++] = optarg;
			break;
		case OPT_SCHEMA:
			schema_path = optarg;
			break;
		case OPT_EXAMPLE:
			example_path = optarg;
			break;
		case OPT_NO_ENV:
			use_env = false;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0) {
				json = true;
			} else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "table") == 0) {
				json = false;
			} else {
				free(files);
				return cli_usage_err("unknown format \"%s\" (text or json)",
				                     optarg);
			}
			break;
		default:
			free(files);
			return CLI_EXIT_ERROR;
		}
	}
	if (cli_operand_none(argc, argv) != 0) {
		free(files);
		return CLI_EXIT_ERROR;
	}
	if (!schema_path && !example_path) {
		free(files);
		return cli_usage_err("--schema=FILE or --example=FILE is required");
	}
	if (schema_path) {
		r = schema_load_file(schema_path, &schema, err, sizeof(err));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
	}
	if (example_path) {
		r = dotenv_parse_file(example_path, &example, err, sizeof(err));
		if (r < 0) {
			file_err(example_path, err);
			goto out;
		}
	}
	r = load_env(files, nfiles, use_env, &env);
	if (r < 0)
		goto out;
	if (schema) {
		r = schema_apply_defaults(schema, &env, &rep);
		if (r == 0)
			r = schema_check(schema, &env, &rep);
	}
	if (r == 0 && example_path) {
		size_t n = rep.nchecked;

		r = schema_check_example(&example, &env, &rep);
		rep.nchecked += n;
	}
	if (r < 0)
		cli_oom();
	if (json)
		print_json(&rep);
	else
		print_text(&rep);
out:
	free(files);
	dotenv_free(&env);
	dotenv_free(&example);
	schema_free(schema);
	c = r < 0 ? CLI_EXIT_ERROR : rep.nfail ? CLI_EXIT_FINDING : CLI_EXIT_OK;
	schema_report_free(&rep);
	return c;
}
