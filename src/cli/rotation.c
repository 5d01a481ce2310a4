/* rotation.c - coffer rotation create|status|list|delete|rotate|compromise|history
 * over sys/rotation/ (docs/internals/rotation.md "HTTP API"). */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "cli/table.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_TEMPLATE = CLI_OPT_LOCAL,
	OPT_TARGET,
	OPT_MOUNT,
	OPT_PATH,
	OPT_KEY,
	OPT_KEYS_JSON,
	OPT_SCHEDULE,
	OPT_PERIOD,
	OPT_GRACE,
	OPT_JITTER,
	OPT_EARLY,
	OPT_INCOMPLETE,
	OPT_ROLE,
	OPT_COMMON_NAME,
	OPT_ALT_NAMES,
	OPT_IP_SANS,
	OPT_TTL,
	OPT_RENEW_BEFORE,
	OPT_KV_MOUNT,
	OPT_REASON,
};

#define ROT_CLI_PATH_MAX 512

static void
job_path(char *buf, size_t len, const char *name, const char *suffix)
{
	if ((size_t)snprintf(buf, len, "sys/rotation/jobs/%s%s", name, suffix) >= len) {
		cli_usage_err("NAME is too long");
		exit(CLI_EXIT_ERROR);
	}
}

static const char create_usage[] =
        "Usage: coffer rotation create [options] NAME\n\n"
        "Creates or updates the rotation job NAME. Options not given keep their\n"
        "value on update (or the template's default on create).\n\n"
        "  --template=NAME           api-key, database-password, session-secret,\n"
        "                            encryption-key, tls-certificate\n"
        "  --target=kv|database|transit|pki\n"
        "  --mount=PATH              the KV v2, database, transit or PKI mount\n"
        "  --path=PATH               the secret path, static role or key name (pki:\n"
        "                            the secret path in --kv-mount)\n"
        "  --key=FIELD[=GENERATOR]   a field to rotate (repeatable); without a\n"
        "                            generator the template's default is used\n"
        "  --keys-json=JSON          the whole keys map, generator parameters included\n"
        "  --schedule=CRON           5-field cron in UTC (or @daily ...)\n"
        "  --period=DUR              rotate when the current version is this old\n"
        "  --grace=DUR               how long the previous version stays valid\n"
        "  --jitter=DUR              spread scheduled rotations over this long\n"
        "  --revoke-when-adopted     revoke early once every consumer adopted\n"
        "  --on-incomplete-adoption=revoke|extend\n"
        "pki jobs (template tls-certificate):\n"
        "  --role=NAME               the PKI role to issue with\n"
        "  --common-name=NAME        the certificate's common name\n"
        "  --alt-names=A,B           DNS subject alternative names\n"
        "  --ip-sans=IP,IP           IP subject alternative names\n"
        "  --ttl=DUR                 lifetime of each certificate\n"
        "  --renew-before=DUR        renew this long before expiry (default 720h)\n"
        "  --kv-mount=PATH           the KV v2 mount that keeps it (default secret)\n";

static int
rotation_create(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"template", required_argument, NULL, OPT_TEMPLATE},
	        {"target", required_argument, NULL, OPT_TARGET},
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        {"path", required_argument, NULL, OPT_PATH},
	        {"key", required_argument, NULL, OPT_KEY},
	        {"keys-json", required_argument, NULL, OPT_KEYS_JSON},
	        {"schedule", required_argument, NULL, OPT_SCHEDULE},
	        {"period", required_argument, NULL, OPT_PERIOD},
	        {"grace", required_argument, NULL, OPT_GRACE},
	        {"jitter", required_argument, NULL, OPT_JITTER},
	        {"revoke-when-adopted", no_argument, NULL, OPT_EARLY},
	        {"on-incomplete-adoption", required_argument, NULL, OPT_INCOMPLETE},
	        {"role", required_argument, NULL, OPT_ROLE},
	        {"common-name", required_argument, NULL, OPT_COMMON_NAME},
	        {"alt-names", required_argument, NULL, OPT_ALT_NAMES},
	        {"ip-sans", required_argument, NULL, OPT_IP_SANS},
	        {"ttl", required_argument, NULL, OPT_TTL},
	        {"renew-before", required_argument, NULL, OPT_RENEW_BEFORE},
	        {"kv-mount", required_argument, NULL, OPT_KV_MOUNT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	static const char *const names[] = {
	        [OPT_TEMPLATE - CLI_OPT_LOCAL] = "template",
	        [OPT_TARGET - CLI_OPT_LOCAL] = "target",
	        [OPT_MOUNT - CLI_OPT_LOCAL] = "mount",
	        [OPT_PATH - CLI_OPT_LOCAL] = "path",
	        [OPT_SCHEDULE - CLI_OPT_LOCAL] = "schedule",
	        [OPT_PERIOD - CLI_OPT_LOCAL] = "period",
	        [OPT_GRACE - CLI_OPT_LOCAL] = "grace",
	        [OPT_JITTER - CLI_OPT_LOCAL] = "jitter",
	        [OPT_INCOMPLETE - CLI_OPT_LOCAL] = "on_incomplete_adoption",
	        [OPT_ROLE - CLI_OPT_LOCAL] = "role",
	        [OPT_COMMON_NAME - CLI_OPT_LOCAL] = "common_name",
	        [OPT_ALT_NAMES - CLI_OPT_LOCAL] = "alt_names",
	        [OPT_IP_SANS - CLI_OPT_LOCAL] = "ip_sans",
	        [OPT_TTL - CLI_OPT_LOCAL] = "ttl",
	        [OPT_RENEW_BEFORE - CLI_OPT_LOCAL] = "renew_before",
	        [OPT_KV_MOUNT - CLI_OPT_LOCAL] = "kv_mount",
	};
	struct client_resp resp = {0};
	json_t *body = json_object(), *keys = NULL;
	char path[ROT_CLI_PATH_MAX];
	int o, r;

	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, create_usage)) != -1) {
		if (o == OPT_KEY) {
			char *f = cli_strdup(optarg), *eq = strchr(f, '=');
			if (eq)
				*eq++ = '\0';
			if (!*f) {
				free(f);
				json_decref(body);
				return cli_usage_err("--key: missing field name");
			}
			if (!keys)
				keys = json_object();
			if (!keys)
				cli_oom();
			cli_json_set(keys, f, eq && *eq ? json_string(eq) : json_object());
			free(f);
		} else if (o == OPT_KEYS_JSON) {
			json_decref(keys);
			keys = json_loads(optarg, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(keys)) {
				json_decref(keys);
				json_decref(body);
				return cli_usage_err("--keys-json: want a JSON object");
			}
		} else if (o == OPT_EARLY) {
			cli_json_set(body, "revoke_when_adopted", json_true());
		} else if (o >= CLI_OPT_LOCAL && o <= OPT_KV_MOUNT && names[o - CLI_OPT_LOCAL]) {
			cli_json_set(body, names[o - CLI_OPT_LOCAL], json_string(optarg));
		}
	}
	if (cli_operand_one(argc, "NAME") < 0) {
		json_decref(body);
		json_decref(keys);
		return CLI_EXIT_ERROR;
	}
	if (keys)
		cli_json_set(body, "keys", keys);
	job_path(path, sizeof(path), argv[optind], "");
	r = cli_request("PUT", path, NULL, body, &resp);
	if (r == 0) {
		if (arg_format == CLI_FORMAT_JSON)
			cli_print(resp.json, NULL);
		else
			cli_success("Success! Rotation job %s written (current version %lld)",
			            argv[optind],
			            (long long)json_integer_value(json_object_get(
			                    client_resp_data(&resp), "current_version")));
	}
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static void
print_status(const json_t *resp)
{
	json_t *data = json_object_get(resp, "data"), *cons, *c;
	struct table *t;
	size_t i;

	if (!json_is_object(data))
		return;
	cons = json_object_get(data, "consumers");
	json_incref(cons);
	json_object_del(data, "consumers");
	output_kv(data, 0);
	if (json_array_size(cons) > 0) {
		static const char *const hdr[] = {"Consumer", "Version", "Last read", "Adopted"};
		t = table_new(4, hdr);
		printf("\n");
		json_array_foreach(cons, i, c)
		{
			char ver[32];
			const char *cells[4];
			snprintf(ver, sizeof(ver), "%lld",
			         (long long)json_integer_value(json_object_get(c, "version")));
			cells[0] = json_string_value(json_object_get(c, "consumer"));
			cells[1] = ver;
			cells[2] = json_string_value(json_object_get(c, "last_read"));
			cells[3] = json_is_true(json_object_get(c, "adopted")) ? "yes" : "no";
			table_add(t, cells);
		}
		table_print(t, stdout);
		table_free(t);
	}
	json_decref(cons);
}

static const char status_usage[] = "Usage: coffer rotation status NAME\n\n"
                                   "Shows a job: its settings, state, versions, next rotation,\n"
                                   "last error and the consumers seen in the last 7 days.\n";

static int
rotation_status(int argc, char **argv)
{
	struct client_resp resp = {0};
	char path[ROT_CLI_PATH_MAX];
	int r;

	cli_getopt_common(argc, argv, status_usage);
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	job_path(path, sizeof(path), argv[optind], "");
	r = cli_request("GET", path, NULL, NULL, &resp);
	if (r == 0)
		cli_print(resp.json, print_status);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer rotation list\n\nLists the rotation jobs.\n";

static int
rotation_list(int argc, char **argv)
{
	struct client_resp resp = {0};
	int r;

	cli_getopt_common(argc, argv, list_usage);
	if (cli_operand_none(argc, argv) < 0)
		return CLI_EXIT_ERROR;
	r = cli_request("LIST", "sys/rotation/jobs", NULL, NULL, &resp);
	if (r == 0)
		cli_print(resp.json, output_keys);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char delete_usage[] =
        "Usage: coffer rotation delete NAME\n\n"
        "Stops rotating (the secret stays). A previous version still in grace is\n"
        "revoked at once.\n";

static int
rotation_delete(int argc, char **argv)
{
	struct client_resp resp = {0};
	char path[ROT_CLI_PATH_MAX];
	int r;

	cli_getopt_common(argc, argv, delete_usage);
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	job_path(path, sizeof(path), argv[optind], "");
	r = cli_request("DELETE", path, NULL, NULL, &resp);
	if (r == 0)
		cli_success("Success! Deleted rotation job %s", argv[optind]);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static int
rotate_common(int argc, char **argv, const char *usage, const char *verb, bool need_reason)
{
	static const struct option opts[] = {
	        {"reason", required_argument, NULL, OPT_REASON},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *reason = NULL;
	char path[ROT_CLI_PATH_MAX], suffix[32];
	json_t *body, *data, *prev;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, usage)) != -1)
		if (o == OPT_REASON)
			reason = optarg;
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	if (need_reason && (!reason || !*reason))
		return cli_usage_err("--reason is required");
	body = json_object();
	if (!body)
		cli_oom();
	if (reason)
		cli_json_set(body, "reason", json_string(reason));
	snprintf(suffix, sizeof(suffix), "/%s", verb);
	job_path(path, sizeof(path), argv[optind], suffix);
	r = cli_request("POST", path, NULL, body, &resp);
	if (r == 0) {
		data = client_resp_data(&resp);
		prev = json_object_get(data, "previous_version");
		if (arg_format == CLI_FORMAT_JSON)
			cli_print(resp.json, NULL);
		else if (json_is_integer(prev))
			cli_success("Success! %s is at version %lld (previous version %lld)",
			            argv[optind],
			            (long long)json_integer_value(json_object_get(data, "version")),
			            (long long)json_integer_value(prev));
		else
			cli_success(
			        "Success! %s is at version %lld (no previous version is valid)",
			        argv[optind],
			        (long long)json_integer_value(json_object_get(data, "version")));
	}
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char rotate_usage[] = "Usage: coffer rotation rotate [--reason=TEXT] NAME\n\n"
                                   "Rotates now; the previous version stays valid for the grace.\n";

static int
rotation_rotate(int argc, char **argv)
{
	return rotate_common(argc, argv, rotate_usage, "rotate", false);
}

static const char compromise_usage[] =
        "Usage: coffer rotation compromise --reason=TEXT NAME\n\n"
        "Emergency rotation: every existing version becomes invalid at once, a new\n"
        "version is promoted with no grace, subscribers get secret.compromised\n"
        "(force) and the audit log records the reason.\n";

static int
rotation_compromise(int argc, char **argv)
{
	return rotate_common(argc, argv, compromise_usage, "compromise", true);
}

static void
print_history(const json_t *resp)
{
	static const char *const hdr[] = {"Version", "Time", "Trigger", "Outcome", "Error"};
	json_t *rows = json_object_get(json_object_get(resp, "data"), "rotations"), *e;
	struct table *t = table_new(5, hdr);
	size_t i;

	json_array_foreach(rows, i, e)
	{
		char ver[32] = "";
		const char *cells[5];
		if (json_is_integer(json_object_get(e, "version")))
			snprintf(ver, sizeof(ver), "%lld",
			         (long long)json_integer_value(json_object_get(e, "version")));
		cells[0] = ver;
		cells[1] = json_string_value(json_object_get(e, "time"));
		cells[2] = json_string_value(json_object_get(e, "trigger"));
		cells[3] = json_string_value(json_object_get(e, "outcome"));
		cells[4] = json_string_value(json_object_get(e, "error"));
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
}

static const char history_usage[] = "Usage: coffer rotation history NAME\n\n"
                                    "Shows the last 100 rotations of a job, newest first.\n";

static int
rotation_history(int argc, char **argv)
{
	struct client_resp resp = {0};
	char path[ROT_CLI_PATH_MAX];
	int r;

	cli_getopt_common(argc, argv, history_usage);
	if (cli_operand_one(argc, "NAME") < 0)
		return CLI_EXIT_ERROR;
	job_path(path, sizeof(path), argv[optind], "/history");
	r = cli_request("GET", path, NULL, NULL, &resp);
	if (r == 0)
		cli_print(resp.json, print_history);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd rotation_cmds[] = {
        {"create", rotation_create, "create or update a rotation job"},
        {"status", rotation_status, "show a job's state, versions and consumers"},
        {"list", rotation_list, "list rotation jobs"},
        {"delete", rotation_delete, "stop rotating (ends any grace)"},
        {"rotate", rotation_rotate, "rotate now"},
        {"compromise", rotation_compromise, "emergency rotation: invalidate every version now"},
        {"history", rotation_history, "show the last 100 rotations"},
        {NULL, NULL, NULL},
};

int
rotation_main(int argc, char **argv)
{
	return cli_dispatch("rotation", rotation_cmds, argc, argv);
}
