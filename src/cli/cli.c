/* cli.c - option handling, error reporting and API calls shared by all commands
 * (see cli.h). */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum cli_format arg_format = CLI_FORMAT_TABLE;
char *arg_address;
char *arg_token;

static char command_name[128]; /* "" before a command is chosen */

void
cli_set_command(const char *family, const char *sub)
{
	if (sub)
		snprintf(command_name, sizeof(command_name), "%s %s", family, sub);
	else
		snprintf(command_name, sizeof(command_name), "%s", family);
}

const char *
cli_command(void)
{
	return command_name;
}

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "coffer: %s%s", command_name, command_name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "coffer: %s%s", command_name, command_name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'coffer %s%s--help' for usage.\n", command_name,
	        command_name[0] ? " " : "");
	return CLI_EXIT_ERROR;
}

void
cli_oom(void)
{
	fputs("coffer: out of memory\n", stderr);
	exit(CLI_EXIT_ERROR);
}

char *
cli_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		cli_oom();
	return p;
}

void
cli_json_set(json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		cli_oom();
}

json_t *
cli_json_sub(json_t *obj, const char *key)
{
	json_t *o = json_object_get(obj, key);

	if (o)
		return o;
	o = json_object();
	cli_json_set(obj, key, o);
	return o;
}

void
cli_cleanup(void)
{
	secmem_free_str(arg_token);
	arg_token = NULL;
	free(arg_address);
	arg_address = NULL;
}

/* The help lines of the common options, in the order printed. */
static const struct {
	const char *name;
	int code;
	const char *line;
} common_help[] = {
        {"address", CLI_OPT_ADDRESS,
         "  --address=URL          server address (COFFER_ADDR, VAULT_ADDR)\n"},
        {"token", CLI_OPT_TOKEN,
         "  --token=TOKEN          client token (COFFER_TOKEN, VAULT_TOKEN, ~/.coffer-token)\n"},
        {"format", CLI_OPT_FORMAT, "  --format=table|json    output format (default table)\n"},
        {"help", 'h', "  -h, --help             this help\n"},
};

/* Whether the option the table gives name (its first entry: getopt takes
 * that one) is the common one with code. */
static bool
takes_common(const struct option *opts, const char *name, int code)
{
	for (; opts->name != NULL; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts->flag == NULL && opts->val == code;
	return false;
}

void
cli_help(const struct option *opts, const char *usage)
{
	size_t i;

	fputs(usage, stdout);
	fputs("\nCommon options:\n", stdout);
	for (i = 0; i < sizeof(common_help) / sizeof(common_help[0]); i++)
		if (common_help[i].code == 'h' ||
		    takes_common(opts, common_help[i].name, common_help[i].code))
			fputs(common_help[i].line, stdout);
}

bool
cli_common_option(int c, char *optval)
{
	switch (c) {
	case CLI_OPT_FORMAT:
		if (strcmp(optval, "table") == 0) {
			arg_format = CLI_FORMAT_TABLE;
		} else if (strcmp(optval, "json") == 0) {
			arg_format = CLI_FORMAT_JSON;
		} else {
			exit(cli_usage_err("unknown format \"%s\" (table or json)", optval));
		}
		return true;
	case CLI_OPT_ADDRESS:
		free(arg_address);
		arg_address = cli_strdup(optval);
		return true;
	case CLI_OPT_TOKEN:
		secmem_free_str(arg_token);
		arg_token = cli_strdup(optval);
		/* Keep the token out of ps(1) output from now on. */
		secmem_wipe(optval, strlen(optval));
		return true;
	default:
		return false;
	}
}

static int
getopt_impl(int argc, char **argv, const struct option *opts, const char *usage,
            const char *optstring)
{
	static char **last_argv;
	int c;

	if (argv != last_argv) {
		last_argv = argv;
		optind = 0; /* glibc: full re-initialization */
	}
	opterr = 0;
	for (;;) {
		c = getopt_long_only(argc, argv, optstring, opts, NULL);
		if (c == 'h') {
			cli_help(opts, usage);
			cli_cleanup();
			exit(CLI_EXIT_OK);
		}
		if (c == ':')
			exit(cli_usage_err("option %s needs a value", argv[optind - 1]));
		if (c == '?')
			exit(cli_usage_err("unknown option %s", argv[optind - 1]));
		if (c >= 0 && cli_common_option(c, optarg))
			continue;
		return c;
	}
}

int
cli_getopt(int argc, char **argv, const struct option *opts, const char *usage)
{
	return getopt_impl(argc, argv, opts, usage, ":h");
}

int
cli_getopt_global(int argc, char **argv, const struct option *opts, const char *usage)
{
	return getopt_impl(argc, argv, opts, usage, "+:h");
}

void
cli_getopt_common(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
	        CLI_COMMON_OPTIONS,
	        {0},
	};

	while (cli_getopt(argc, argv, opts, usage) != -1)
		;
}

int
cli_operand_one(int argc, const char *what)
{
	if (optind >= argc)
		return cli_usage_err("missing %s", what);
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	return 0;
}

int
cli_operand_none(int argc, char **argv)
{
	if (optind != argc)
		return cli_usage_err("unexpected argument \"%s\"", argv[optind]);
	return 0;
}

int
cli_dispatch(const char *family, const struct cli_cmd *cmds, int argc, char **argv)
{
	const struct cli_cmd *c;
	FILE *f;
	int help, width = 12; /* the name column: names and two spaces */

	help = argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	                     strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "help") == 0);
	if (argc >= 2 && !help) {
		for (c = cmds; c->name; c++) {
			if (strcmp(argv[1], c->name) == 0) {
				cli_set_command(family, c->name);
				return c->fn(argc - 1, argv + 1);
			}
		}
		cli_set_command(family, NULL);
		return cli_usage_err("unknown subcommand \"%s\"", argv[1]);
	}
	f = help ? stdout : stderr;
	fprintf(f, "Usage: coffer %s <subcommand> [options] [args]\n\nSubcommands:\n", family);
	for (c = cmds; c->name; c++)
		if ((int)strlen(c->name) + 2 > width)
			width = (int)strlen(c->name) + 2;
	for (c = cmds; c->name; c++)
		fprintf(f, "  %-*s%s\n", width, c->name, c->summary);
	fprintf(f, "\nRun 'coffer %s <subcommand> --help' for the options of a subcommand.\n",
	        family);
	if (help)
		return CLI_EXIT_OK;
	cli_set_command(family, NULL);
	cli_err("missing subcommand");
	return CLI_EXIT_ERROR;
}

int
cli_client(struct client **ret)
{
	char err[512] = "";
	int r;

	r = client_new(arg_address, arg_token, ret, err, sizeof(err));
	if (r < 0)
		cli_err("%s", err[0] ? err : cf_strerror(r));
	return r;
}

/* The CF_E* code for an HTTP error status (the inverse of cf_http_status). */
static int
status_code(long status)
{
	switch (status) {
	case 400:
		return CF_EINVAL;
	case 403:
		return CF_EDENIED;
	case 404:
		return CF_ENOTFOUND;
	case 405:
		return CF_EMETHOD;
	case 413:
		return CF_ETOOBIG;
	case 501:
		return CF_EUNINIT;
	case 502:
		return CF_EUPSTREAM;
	case 503:
		return CF_ESEALED;
	default:
		return CF_EIO;
	}
}

int
cli_call(struct client *c, const char *method, const char *path, const char *query, json_t *body,
         struct client_resp *resp)
{
	char err[1024] = "";
	int r;

	r = client_request(c, method, path, query, body, resp, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err[0] ? err : cf_strerror(r));
		return r;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	client_resp_error(resp, path, err, sizeof(err));
	cli_err("%s", err);
	r = status_code(resp->status);
	client_resp_clear(resp);
	return r;
}

int
cli_request(const char *method, const char *path, const char *query, json_t *body,
            struct client_resp *resp)
{
	struct client *c = NULL;
	int r;

	r = cli_client(&c);
	if (r == 0)
		r = cli_call(c, method, path, query, body, resp);
	client_free(c);
	return r;
}

void
cli_print(const json_t *resp, void (*print_table)(const json_t *))
{
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp);
	else
		print_table(resp);
}

int
cli_exit(int r)
{
	return r < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

void
cli_success(const char *fmt, ...)
{
	va_list ap;

	if (arg_format != CLI_FORMAT_TABLE)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

int
cli_read_secret_line(const char *prompt, char *buf, size_t len)
{
	struct termios old, noecho;
	bool tty = isatty(STDIN_FILENO);
	bool restore = false;
	size_t n;
	int r = 0;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			noecho.c_lflag |= ECHONL;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0;
		}
	}
	if (!fgets(buf, (int)len, stdin)) {
		r = ferror(stdin) ? CF_EIO : CF_EINVAL;
		buf[0] = '\0';
		goto out;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		r = CF_EINVAL; /* longer than the buffer */
		secmem_wipe(buf, len);
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0)
		r = CF_EINVAL;
out:
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return r;
}

/* ---- mount tables (secrets, auth, audit) ---- */

static void
mount_ttl_cell(const char **cells, size_t i, char *buf, size_t len, const json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) != 0) {
		output_duration(json_integer_value(v), buf, len);
		cells[i] = buf;
	} else {
		cells[i] = "system";
	}
}

int
cli_mount_list(int argc, char **argv, const char *api, const char *usage)
{
	static const struct option opts[] = {
	        {"detailed", no_argument, NULL, CLI_OPT_LOCAL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	static const char *const headers[] = {"Path", "Type", "Accessor", "Description"};
	static const char *const dheaders[] = {"Path",    "Type",    "Accessor",   "Default TTL",
	                                       "Max TTL", "Options", "Description"};
	struct client_resp resp = {0};
	struct table *t = NULL;
	json_t *data, *m, *cfg;
	const char **keys = NULL, *cells[7];
	char dttl[64], mttl[64], *optstr;
	bool detailed = false;
	size_t i, n;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, usage)) != -1) {
		if (o == CLI_OPT_LOCAL)
			detailed = true;
	}
	if (cli_operand_none(argc, argv) != 0)
		return CLI_EXIT_ERROR;
	r = cli_request("GET", api, NULL, NULL, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	data = client_resp_data(&resp);
	keys = output_mount_keys(data, &n);
	t = detailed ? table_new(7, dheaders) : table_new(4, headers);
	for (i = 0; i < n; i++) {
		m = json_object_get(data, keys[i]);
		cells[0] = keys[i];
		cells[1] = json_string_value(json_object_get(m, "type"));
		cells[2] = json_string_value(json_object_get(m, "accessor"));
		if (!detailed) {
			cells[3] = json_string_value(json_object_get(m, "description"));
			table_add(t, cells);
			continue;
		}
		cfg = json_object_get(m, "config");
		mount_ttl_cell(cells, 3, dttl, sizeof(dttl),
		               json_object_get(cfg, "default_lease_ttl"));
		mount_ttl_cell(cells, 4, mttl, sizeof(mttl), json_object_get(cfg, "max_lease_ttl"));
		optstr = output_value(json_object_get(m, "options"));
		cells[5] = optstr;
		cells[6] = json_string_value(json_object_get(m, "description"));
		table_add(t, cells);
		free(optstr);
	}
	table_print(t, stdout);
out:
	table_free(t);
	free(keys); /* not secret: JSON key names */
	client_resp_clear(&resp);
	return cli_exit(r);
}

void
cli_mount_paths(const struct cli_mount_cmd *cmd, const char *path, const char *suffix,
                char **ret_api, char **ret_name)
{
	char *p = kvpath_clean(path, false), *api, *name;
	size_t an, nn;

	if (!p)
		cli_oom();
	/* Auth methods are routed under auth/, and users name them either way. */
	if (cmd->auth && strncmp(p, "auth/", 5) == 0)
		memmove(p, p + 5, strlen(p + 5) + 1);
	an = strlen(cmd->api) + strlen(p) + strlen(suffix) + 2;
	nn = strlen(p) + 2;
	api = malloc(an);
	name = malloc(nn);
	if (!api || !name)
		cli_oom();
	snprintf(api, an, "%s/%s%s", cmd->api, p, suffix);
	snprintf(name, nn, "%s/", p);
	free(p);
	*ret_api = api;
	*ret_name = name;
}

/* Sends body (NULL for none) to api with method, after cmd->prepare; frees api,
 * and hands name to *ret_name on success (frees it otherwise). */
static int
mount_send(const struct cli_mount_cmd *cmd, const char *method, char *api, char *name, json_t *body,
           char **ret_name)
{
	struct client_resp resp = {0};
	int r = 0;

	if (cmd->prepare)
		r = cmd->prepare(api, body);
	if (r == 0)
		r = cli_request(method, api, NULL, body, &resp);
	client_resp_clear(&resp);
	if (r == 0) {
		*ret_name = name;
		name = NULL;
	}
	free(api);
	free(name);
	return r;
}

/* enable (TYPE; the TTLs under "config", Vault's mount input) or tune (PATH; the
 * TTLs at the top): the options into a body POSTed to the mount. */
static int
mount_post(int argc, char **argv, const struct cli_mount_cmd *cmd, bool enable, char **ret_name)
{
	const char *path = NULL, *key;
	char *api = NULL, *name = NULL;
	json_t *body;
	int o, r;

	body = json_object();
	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, cmd->opts, cmd->usage)) != -1) {
		switch (o) {
		case CLI_MOUNT_OPT_PATH:
			path = optarg;
			break;
		case CLI_MOUNT_OPT_DESCRIPTION:
			cli_json_set(body, "description", json_string(optarg));
			break;
		case CLI_MOUNT_OPT_DEFAULT_LEASE_TTL:
		case CLI_MOUNT_OPT_MAX_LEASE_TTL:
			key = o == CLI_MOUNT_OPT_MAX_LEASE_TTL ? "max_lease_ttl"
			                                       : "default_lease_ttl";
			cli_json_set(enable ? cli_json_sub(body, "config") : body, key,
			             json_string(optarg));
			break;
		default:
			if (cmd->option && cmd->option(o, body) != 0) {
				r = CF_EINVAL;
				goto out;
			}
			break;
		}
	}
	if (cli_operand_one(argc, enable ? "TYPE" : "PATH") != 0) {
		r = CF_EINVAL;
		goto out;
	}
	if (enable)
		cli_json_set(body, "type", json_string(argv[optind]));
	cli_mount_paths(cmd, path ? path : argv[optind], enable ? "" : "/tune", &api, &name);
	if (enable && strcmp(name, "/") == 0) {
		(void)cli_usage_err("empty --path");
		free(api);
		free(name);
		r = CF_EINVAL;
		goto out;
	}
	r = mount_send(cmd, "POST", api, name, body, ret_name);
out:
	json_decref(body);
	return r;
}

int
cli_mount_enable(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name)
{
	return mount_post(argc, argv, cmd, true, ret_name);
}

int
cli_mount_tune(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name)
{
	return mount_post(argc, argv, cmd, false, ret_name);
}

int
cli_mount_disable(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name)
{
	char *api = NULL, *name = NULL;

	cli_getopt_common(argc, argv, cmd->usage);
	if (cli_operand_one(argc, cmd->operand ? cmd->operand : "PATH") != 0)
		return CF_EINVAL;
	cli_mount_paths(cmd, argv[optind], "", &api, &name);
	if (cmd->auth && (strcmp(name, "/") == 0 || strcmp(name, "token/") == 0)) {
		(void)cli_usage_err("cannot disable \"%s\"", argv[optind]);
		free(api);
		free(name);
		return CF_EINVAL;
	}
	return mount_send(cmd, "DELETE", api, name, NULL, ret_name);
}
