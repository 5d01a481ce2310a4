/* policy.c - `coffer policy write|read|list|delete` over sys/policy
 * (Vault's sys/policy). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

static char *
policy_path(const char *name)
{
	size_t n = strlen(name) + sizeof("sys/policy/");
	char *p = malloc(n);

	if (!p)
		cli_oom();
	snprintf(p, n, "sys/policy/%s", name);
	return p;
}

/* Parses the common options and expects exactly want operands. */
static int
operands(int argc, char **argv, const char *usage, int want, const char *missing)
{
	cli_getopt_common(argc, argv, usage);
	if (argc - optind < want)
		return cli_usage_err("missing %s", missing);
	if (argc - optind > want)
		return cli_usage_err("unexpected argument \"%s\"", argv[optind + want]);
	return 0;
}

static const char write_usage[] =
        "Usage: coffer policy write NAME FILE|-\n\n"
        "Uploads an ACL policy (HCL or JSON) from FILE, or from stdin with -.\n";

static int
policy_write(int argc, char **argv)
{
	struct client_resp resp = {0};
	json_t *body = NULL;
	char *text = NULL, *path = NULL, err[512];
	size_t len = 0;
	int r;

	if (operands(argc, argv, write_usage, 2, "NAME and FILE") != 0)
		return CLI_EXIT_ERROR;
	r = args_read_file(argv[optind + 1], &text, &len, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err);
		goto out;
	}
	body = json_pack("{s:s%}", "policy", text, len);
	if (!body) {
		cli_err("%s: not valid UTF-8 text", argv[optind + 1]);
		r = CF_EINVAL;
		goto out;
	}
	path = policy_path(argv[optind]);
	r = cli_request("PUT", path, NULL, body, &resp);
	if (r < 0)
		goto out;
	if (resp.json)
		output_warnings(resp.json);
	cli_success("Success! Uploaded policy: %s", argv[optind]);
out:
	free(text);
	free(path);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char read_usage[] = "Usage: coffer policy read NAME\n\n"
                                 "Prints the text of a policy.\n";

static int
policy_read(int argc, char **argv)
{
	struct client_resp resp = {0};
	const char *rules;
	json_t *data;
	char *path = NULL;
	size_t n;
	int r;

	if (operands(argc, argv, read_usage, 1, "NAME") != 0)
		return CLI_EXIT_ERROR;
	path = policy_path(argv[optind]);
	r = cli_request("GET", path, NULL, NULL, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	data = client_resp_data(&resp);
	rules = json_string_value(json_object_get(data, "rules"));
	if (!rules)
		rules = json_string_value(json_object_get(data, "policy"));
	if (!rules) {
		cli_err("the answer has no policy text");
		r = CF_EINVAL;
		goto out;
	}
	n = strlen(rules);
	fputs(rules, stdout);
	if (n == 0 || rules[n - 1] != '\n')
		fputc('\n', stdout);
out:
	free(path);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer policy list\n\n"
                                 "Lists the names of all ACL policies.\n";

static int
policy_list(int argc, char **argv)
{
	struct client_resp resp = {0};
	json_t *data, *names, *v;
	size_t i;
	int r;

	if (operands(argc, argv, list_usage, 0, "") != 0)
		return CLI_EXIT_ERROR;
	r = cli_request("GET", "sys/policy", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	data = client_resp_data(&resp);
	names = json_object_get(data, "policies");
	if (!json_is_array(names))
		names = json_object_get(data, "keys");
	for (i = 0; i < json_array_size(names); i++) {
		v = json_array_get(names, i);
		if (json_is_string(v))
			puts(json_string_value(v));
	}
out:
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char delete_usage[] = "Usage: coffer policy delete NAME\n\n"
                                   "Deletes a policy (root and default cannot be deleted).\n";

static int
policy_delete(int argc, char **argv)
{
	struct client_resp resp = {0};
	char *path = NULL;
	int r;

	if (operands(argc, argv, delete_usage, 1, "NAME") != 0)
		return CLI_EXIT_ERROR;
	path = policy_path(argv[optind]);
	r = cli_request("DELETE", path, NULL, NULL, &resp);
	if (r == 0)
		cli_success("Success! Deleted policy: %s", argv[optind]);
	free(path);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd policy_cmds[] = {
        {"write", policy_write, "upload a policy from a file or stdin"},
        {"read", policy_read, "print a policy's text"},
        {"list", policy_list, "list policy names"},
        {"delete", policy_delete, "delete a policy"},
        {NULL, NULL, NULL},
};

int
policy_main(int argc, char **argv)
{
	return cli_dispatch("policy", policy_cmds, argc, argv);
}
