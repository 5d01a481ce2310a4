/* generic.c - `coffer read|write|list|delete PATH`: any API path, as `vault read`
 * and friends (Vault's method-to-operation mapping: GET, PUT, LIST, DELETE);
 * `--wrap-ttl` on read and write, and `coffer unwrap` (response wrapping). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "lib/curl_dl.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_FIELD = CLI_OPT_LOCAL,
	OPT_WRAP_TTL,
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

/* A wrapped answer's wrap_info under the names `vault` prints (wrapping_token,
 * wrapping_accessor, ...), in that order. Returns a new reference. */
static json_t *
wrap_fields(const json_t *info)
{
	static const char *const names[][2] = {
	        {"token", "wrapping_token"},
	        {"accessor", "wrapping_accessor"},
	        {"ttl", "wrapping_token_ttl"},
	        {"creation_time", "wrapping_token_creation_time"},
	        {"creation_path", "wrapping_token_creation_path"},
	        {"wrapped_accessor", "wrapped_accessor"},
	};
	json_t *out = json_object(), *v;
	char d[64];

	if (!out)
		cli_oom();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = json_object_get(info, names[i][0]);
		if (!v)
			continue;
		if (strcmp(names[i][0], "ttl") == 0 && json_is_integer(v)) {
			output_duration(json_integer_value(v), d, sizeof(d));
			cli_json_set(out, names[i][1], json_string(d));
		} else {
			cli_json_set(out, names[i][1], json_incref(v));
		}
	}
	return out;
}

static void
print_wrap_table(const json_t *resp)
{
	static const char *const headers[] = {"Key", "Value"};
	json_t *fields = wrap_fields(json_object_get(resp, "wrap_info")), *v;
	struct table *t = table_new(2, headers);
	const char *k;

	json_object_foreach(fields, k, v)
	{
		char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
		table_add_kv(t, k, s ? s : json_string_value(v));
		free(s); /* not secret: a number */
	}
	table_print(t, stdout);
	table_free(t);
	json_decref(fields);
}

/* Prints a read/write answer: one field, the JSON, or the table. */
static int
print_answer(const struct client_resp *resp, const char *field)
{
	json_t *auth, *fields, *wrap = json_object_get(resp->json, "wrap_info");
	int r;

	if (json_is_object(wrap)) {
		/* wrapped (--wrap-ttl): only the wrapping token and its details */
		if (!field) {
			cli_print(resp->json, print_wrap_table);
			return 0;
		}
		fields = wrap_fields(wrap);
		r = output_field(fields, field);
		json_decref(fields);
		if (r < 0)
			cli_err("field \"%s\" not present in the answer", field);
		return r;
	}
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

/* cli_request, with the answer wrapped for wrap_ttl when it is not NULL. */
static int
request_wrapped(const char *method, const char *path, const char *query, json_t *body,
                const char *wrap_ttl, struct client_resp *resp)
{
	struct client *c = NULL;
	int r = cli_client(&c);

	if (r == 0 && wrap_ttl)
		r = client_set_wrap_ttl(c, wrap_ttl);
	if (r == 0)
		r = cli_call(c, method, path, query, body, resp);
	client_free(c);
	return r;
}

static const char read_usage[] =
        "Usage: coffer read [--field=FIELD] [--wrap-ttl=TTL] PATH [key=value ...]\n\n"
        "Reads PATH (GET /v1/PATH); key=value pairs become query parameters.\n\n"
        "  --field=FIELD          print only this field of the data, raw\n"
        "  --wrap-ttl=TTL         wrap the answer in a single-use token valid for TTL\n"
        "                         (e.g. 5m); `coffer unwrap` reads it\n";

int
generic_read_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"field", required_argument, NULL, OPT_FIELD},
	        {"wrap-ttl", required_argument, NULL, OPT_WRAP_TTL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL, *wrap_ttl = NULL;
	char *path = NULL, *query = NULL;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, read_usage)) != -1) {
		if (o == OPT_FIELD)
			field = optarg;
		else if (o == OPT_WRAP_TTL)
			wrap_ttl = optarg;
	}
	if (optind >= argc)
		return cli_usage_err("missing PATH");
	path = clean(argv[optind], false);
	query = query_of(argc - optind - 1, argv + optind + 1);
	r = request_wrapped("GET", path, query, NULL, wrap_ttl, &resp);
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
        "Usage: coffer write [--field=FIELD] [--wrap-ttl=TTL] PATH [key=value ...]\n\n"
        "Writes to PATH (PUT /v1/PATH) with the pairs as a JSON object. A value may be\n"
        "@FILE or - (stdin; typed without echo when stdin is a terminal); an operand\n"
        "@FILE or - alone is a JSON object.\n\n"
        "  --field=FIELD          print only this field of the answer, raw\n"
        "  --wrap-ttl=TTL         wrap the answer in a single-use token valid for TTL\n"
        "                         (e.g. 5m); `coffer unwrap` reads it\n";

int
generic_write_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"field", required_argument, NULL, OPT_FIELD},
	        {"wrap-ttl", required_argument, NULL, OPT_WRAP_TTL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL, *wrap_ttl = NULL;
	json_t *body = NULL;
	char *path = NULL;
	char err[512], secret[SECRET_LINE_MAX];
	FILE *in;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, write_usage)) != -1) {
		if (o == OPT_FIELD)
			field = optarg;
		else if (o == OPT_WRAP_TTL)
			wrap_ttl = optarg;
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
	r = request_wrapped("PUT", path, NULL, body, wrap_ttl, &resp);
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

static const char unwrap_usage[] =
        "Usage: coffer unwrap [--field=FIELD] [TOKEN]\n\n"
        "Unwraps a response-wrapping token (POST /v1/sys/wrapping/unwrap) and prints\n"
        "the answer it holds. Without TOKEN the client token is the wrapping token;\n"
        "TOKEN - reads it from stdin. A wrapping token works once.\n\n"
        "  --field=FIELD          print only this field of the data, raw\n";

int
generic_unwrap_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"field", required_argument, NULL, OPT_FIELD},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *field = NULL;
	json_t *body = NULL;
	char line[512];
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, unwrap_usage)) != -1) {
		if (o == OPT_FIELD)
			field = optarg;
	}
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (optind < argc) {
		const char *tok = argv[optind];
		if (strcmp(tok, "-") == 0) {
			if (!fgets(line, sizeof(line), stdin)) {
				cli_err("no token on stdin");
				return CLI_EXIT_ERROR;
			}
			line[strcspn(line, "\r\n")] = '\0';
			tok = line;
		}
		body = json_pack("{s:s}", "token", tok);
		secmem_wipe(line, sizeof(line));
		if (!body)
			cli_oom();
	}
	r = cli_request("PUT", "sys/wrapping/unwrap", NULL, body, &resp);
	if (r < 0)
		goto out;
	if (resp.json)
		r = print_answer(&resp, field);
	else
		cli_success("Success! The wrapped answer was empty.");
out:
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}
