/* notify.c - coffer notify webhook write|read|list|delete
 * (sys/notify/webhooks/:name, docs/internals/rotation.md "Events and notifications"). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "lib/err.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define WEBHOOKS "sys/notify/webhooks"

static int
webhook_path(const char *name, char *buf, size_t len)
{
	int w;

	if (!*name || strchr(name, '/'))
		return cli_usage_err("NAME must be a webhook name, not a path");
	w = snprintf(buf, len, "%s/%s", WEBHOOKS, name);
	if (w < 0 || (size_t)w >= len)
		return cli_usage_err("NAME is too long");
	return 0;
}

static const char write_usage[] =
        "Usage: coffer notify webhook write NAME url=URL [secret=-|@FILE|VALUE]\n"
        "           [types=GLOB,...] [jobs=JOB,...] [min_severity=info|warning|critical]\n"
        "           [format=json|slack]\n\n"
        "Creates or replaces a webhook. Every event that passes its filters is POSTed\n"
        "to URL, signed with the secret (X-Coffer-Signature: t=<unix>,v1=<hex\n"
        "HMAC-SHA256 of \"<unix>.<body>\">), and retried for 24 h until the receiver\n"
        "answers 2xx. secret.compromised events pass every filter.\n\n"
        "  url=URL            http:// or https:// receiver\n"
        "  secret=-           the signing secret, read from stdin (write-only: it is\n"
        "                     never shown again; omit it to keep the current one)\n"
        "  types=GLOBS        event types, e.g. rotation.*,secret.* (default: all)\n"
        "  jobs=NAMES         rotation jobs whose events it receives (default: all)\n"
        "  min_severity=SEV   info (default), warning or critical: an alert hook\n"
        "  format=slack       send {\"text\": \"<summary>\"} (Slack, Mattermost)\n";

static int
webhook_write(int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {0}};
	struct client_resp resp = {0};
	char path[512], err[256];
	json_t *body = NULL;
	int r;

	while (cli_getopt(argc, argv, opts, write_usage) != -1) {
	}
	if (optind >= argc)
		return cli_usage_err("missing NAME");
	if (webhook_path(argv[optind], path, sizeof(path)) < 0)
		return CLI_EXIT_ERROR;
	if (optind + 1 >= argc)
		return cli_usage_err("missing url=URL");
	r = args_parse_kv(argc - optind - 1, argv + optind + 1, stdin, &body, err, sizeof(err));
	if (r < 0)
		return cli_usage_err("%s", err);
	if (!json_object_get(body, "url")) {
		json_decref(body);
		return cli_usage_err("missing url=URL");
	}
	r = cli_request("PUT", path, NULL, body, &resp);
	if (r == 0)
		cli_success("Success! Data written to: %s", path);
	json_decref(body); /* the zeroing allocator wipes the secret */
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char read_usage[] = "Usage: coffer notify webhook read NAME\n\n"
                                 "Shows a webhook's URL and filters. The secret is "
                                 "write-only: only has_secret shows whether one is set.\n";

static void
print_webhook(const json_t *resp)
{
	output_secret(resp);
}

static int
webhook_read(int argc, char **argv)
{
	struct client_resp resp = {0};
	char path[512];
	int r;

	cli_getopt_common(argc, argv, read_usage);
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	if (webhook_path(argv[optind], path, sizeof(path)) < 0)
		return CLI_EXIT_ERROR;
	r = cli_request("GET", path, NULL, NULL, &resp);
	if (r == 0)
		cli_print(resp.json, print_webhook);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer notify webhook list\n\n"
                                 "Lists the names of the configured webhooks.\n";

static int
webhook_list(int argc, char **argv)
{
	struct client_resp resp = {0};
	int r;

	cli_getopt_common(argc, argv, list_usage);
	if (cli_operand_none(argc, argv) < 0)
		return CLI_EXIT_ERROR;
	r = cli_request("LIST", WEBHOOKS, NULL, NULL, &resp);
	if (r == 0)
		cli_print(resp.json, output_keys);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char delete_usage[] = "Usage: coffer notify webhook delete NAME\n\n"
                                   "Deletes a webhook; its pending deliveries are dropped.\n";

static int
webhook_delete(int argc, char **argv)
{
	struct client_resp resp = {0};
	char path[512];
	int r;

	cli_getopt_common(argc, argv, delete_usage);
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	if (webhook_path(argv[optind], path, sizeof(path)) < 0)
		return CLI_EXIT_ERROR;
	r = cli_request("DELETE", path, NULL, NULL, &resp);
	if (r == 0)
		cli_success("Success! Data deleted (if it existed) at: %s", path);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd webhook_cmds[] = {
        {"write", webhook_write, "create or replace a webhook"},
        {"read", webhook_read, "show a webhook (never its secret)"},
        {"list", webhook_list, "list webhooks"},
        {"delete", webhook_delete, "delete a webhook"},
        {NULL, NULL, NULL},
};

static int
notify_webhook(int argc, char **argv)
{
	return cli_dispatch("notify webhook", webhook_cmds, argc, argv);
}

static const struct cli_cmd notify_cmds[] = {
        {"webhook", notify_webhook, "manage webhooks that receive events and alerts"},
        {NULL, NULL, NULL},
};

int
notify_main(int argc, char **argv)
{
	return cli_dispatch("notify", notify_cmds, argc, argv);
}
