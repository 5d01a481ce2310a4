/* generic.c - `coffer read|write|list|delete PATH`: any API path, as `vault read`
 * and friends (Vault's method-to-operation mapping: GET, PUT, LIST, DELETE). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "lib/curl_dl.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_FIELD = CLI_OPT_LOCAL,
};

static char *
clean(const char *path, bool dir)
{
	char *p = kvpath_clean(path, false), *d;
	size_t n;

	if (!p)
		cli_oom();
	if (!dir || p[0] == '\0')
		return p;
	n = strlen(p) + 2;
	d = malloc(n);
	if (!d)
		cli_oom();
	snprintf(d, n, "%s/", p);
	free(p);
	return d;
}

/* key=value operands as a query string for GET and DELETE ("a=1&b=2"). Returns a
 * new string (NULL when there are no operands) or exits on a bad operand. */
#define CLI_QUERY_MAX (1u << 20) /* far more than any URL a server accepts */
static char *
query_of(int argc, char **argv)
{
	struct buf q = BUF_INIT(CLI_QUERY_MAX, 0);
	char *k, *v, *s;
	int i;

	if (argc == 0)
		return NULL;
	for (i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			buf_free(&q);
			exit(cli_usage_err("expected key=value, got \"%s\"", argv[i]));
		}
		k = curl_dl.easy_escape(NULL, argv[i], (int)(eq - argv[i]));
		v = curl_dl.easy_escape(NULL, eq + 1, 0);
		if (!k || !v || buf_printf(&q, "%s%s=%s", i ? "&" : "", k, v) < 0)
			cli_oom();
		curl_dl.free(k);
		curl_dl.free(v);
	}
	if (buf_detach(&q, &s, NULL) < 0)
		cli_oom();
	buf_free(&q);
	return s;
}

/* Prints a read/write answer: one field, the JSON, or the table. */
static int
print_answer(const struct client_resp *resp, const char *field)
{
	json_t *auth, *fields;
	int r;

	if (field) {
		auth = json_object_get(resp->json, "auth");
		if (json_is_object(auth)) {
			fields = output_auth_fields(auth);
			r = output_field(fields, field);
			json_decref(fields);
		} else {
			r = output_field(json_object_get(resp->json, "data"), field);
		}
		if (r < 0)
			cli_err("field \"%s\" not present in the answer", field);
		return r;
	}
	cli_print(resp->json, output_secret);
	return 0;
}

static const char read_usage[] =
        "Usage: coffer read [--field=FIELD] PATH [key=value ...]\n\n"
        "Reads PATH (GET /v1/PATH); key=value pairs become query parameters.\n\n"
        "  --field=FIELD          print only this field of the data, raw\n";

int
generic_read_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL;
	char *path = NULL, *query = NULL;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, read_usage)) != -1) {
		if (o == OPT_FIELD)
			field = optarg;
	}
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	path = clean(argv[optind], false);
	query = query_of(argc - optind - 1, argv + optind + 1);
	r = cli_request("GET", path, query, NULL, &resp);
	if (r < 0)
		goto out;
	if (!resp.json) {
		cli_err("no value found at %s", path);
		r = CF_ENOTFOUND;
		goto out;
	}
	r = print_answer(&resp, field);
out:
	client_resp_clear(&resp);
	free(path);
	free(query);
	return cli_exit(r);
}

#define SECRET_LINE_MAX 16384

/* Where a key=- operand reads from: stdin, unless stdin is a terminal; then the
 * value is typed at a prompt without echo (`coffer write auth/userpass/users/bob
 * password=-`) and served from buf. Returns the stream (fclose it unless it is
 * stdin; wipe buf after), or NULL after an error was printed. */
static FILE *
secret_stdin(int argc, char **argv, char *buf, size_t len)
{
	char prompt[160];
	const char *key = NULL;
	FILE *f;

	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (eq && eq != argv[i] && strcmp(eq + 1, "-") == 0) {
			key = argv[i];
			snprintf(prompt, sizeof(prompt), "%.*s (will be hidden): ",
			         (int)(eq - argv[i] > 100 ? 100 : eq - argv[i]), argv[i]);
			break;
		}
	}
	if (!key || !isatty(STDIN_FILENO))
		return stdin;
	if (cli_read_secret_line(prompt, buf, len) < 0) {
		cli_err("no value typed at the prompt");
		return NULL;
	}
	f = fmemopen(buf, strlen(buf), "r");
	if (!f)
		cli_oom();
	(void)setvbuf(f, NULL, _IONBF, 0); /* no stdio copy of the secret */
	return f;
}

static const char write_usage[] =
        "Usage: coffer write [--field=FIELD] PATH [key=value ...]\n\n"
        "Writes to PATH (PUT /v1/PATH) with the pairs as a JSON object. A value may be\n"
        "@FILE or - (stdin; typed without echo when stdin is a terminal); an operand\n"
        "@FILE or - alone is a JSON object.\n\n"
        "  --field=FIELD          print only this field of the answer, raw\n";

int
generic_write_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL;
	json_t *body = NULL;
	char *path = NULL;
	char err[512], secret[SECRET_LINE_MAX];
	FILE *in;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, write_usage)) != -1) {
		if (o == OPT_FIELD)
			field = optarg;
	}
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	path = clean(argv[optind], false);
	if (argc - optind > 1) {
		in = secret_stdin(argc - optind - 1, argv + optind + 1, secret, sizeof(secret));
		if (!in) {
			r = CF_EINVAL;
			goto out;
		}
		r = args_parse_kv(argc - optind - 1, argv + optind + 1, in, &body, err,
		                  sizeof(err));
		if (in != stdin)
			fclose(in);
		secmem_wipe(secret, sizeof(secret));
		if (r < 0) {
			cli_err("%s", err);
			goto out;
		}
	}
	r = cli_request("PUT", path, NULL, body, &resp);
	if (r < 0)
		goto out;
	if (resp.json)
		r = print_answer(&resp, field);
	else
		cli_success("Success! Data written to: %s", path);
out:
	json_decref(body);
	client_resp_clear(&resp);
	free(path);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer list PATH\n\n"
                                 "Lists the keys under PATH (LIST /v1/PATH/).\n";

int
generic_list_main(int argc, char **argv)
{
	struct client_resp resp = {0};
	char *path = NULL;
	int r;

	cli_getopt_common(argc, argv, list_usage);
	if (cli_operand_one(argc, "PATH") != 0)
		return CLI_EXIT_ERROR;
	path = clean(argv[optind], true);
	r = cli_request("LIST", path, NULL, NULL, &resp);
	if (r < 0)
		goto out;
	cli_print(resp.json, output_keys);
out:
	client_resp_clear(&resp);
	free(path);
	return cli_exit(r);
}

static const char delete_usage[] =
        "Usage: coffer delete PATH [key=value ...]\n\n"
        "Deletes PATH (DELETE /v1/PATH); key=value pairs become query parameters.\n";

int
generic_delete_main(int argc, char **argv)
{
	struct client_resp resp = {0};
	char *path = NULL, *query = NULL;
	int r;

	cli_getopt_common(argc, argv, delete_usage);
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	path = clean(argv[optind], false);
	query = query_of(argc - optind - 1, argv + optind + 1);
	r = cli_request("DELETE", path, query, NULL, &resp);
	if (r < 0)
		goto out;
	if (resp.json && arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else
		cli_success("Success! Data deleted (if it existed) at: %s", path);
out:
	client_resp_clear(&resp);
	free(path);
	free(query);
	return cli_exit(r);
}
