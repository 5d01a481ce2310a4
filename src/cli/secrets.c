/* secrets.c - `coffer secrets enable|disable|list|tune` over sys/mounts
 * (vault-api.md §2.2). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/kvpath.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_PATH = CLI_OPT_LOCAL,
	OPT_DESCRIPTION,
	OPT_VERSION,
	OPT_DEFAULT_LEASE_TTL,
	OPT_MAX_LEASE_TTL,
	OPT_OPTIONS,
};

/* obj[key], created as an empty object on first use. */
static json_t *
sub(json_t *obj, const char *key)
{
	json_t *o = json_object_get(obj, key);

	if (o)
		return o;
	o = json_object();
	cli_json_set(obj, key, o);
	return o;
}

/* "sys/mounts/<path>[/suffix]" for a user mount path, cleaned of slashes. */
static char *
mount_api(const char *path, const char *suffix)
{
	char *p = kvpath_clean(path, false), *out;
	size_t n;

	if (!p)
		cli_oom();
	n = strlen(p) + strlen(suffix) + sizeof("sys/mounts/");
	out = malloc(n);
	if (!out)
		cli_oom();
	snprintf(out, n, "sys/mounts/%s%s", p, suffix);
	free(p);
	return out;
}

/* The mount path as listed ("secret/"). */
static char *
mount_name(const char *path)
{
	char *p = kvpath_clean(path, false), *out;
	size_t n;

	if (!p)
		cli_oom();
	n = strlen(p) + 2;
	out = malloc(n);
	if (!out)
		cli_oom();
	snprintf(out, n, "%s/", p);
	free(p);
	return out;
}

static const char enable_usage[] =
        "Usage: coffer secrets enable [--path=PATH] [--description=TEXT] [--version=N]\n"
        "                             [--default-lease-ttl=DURATION]\n"
        "                             [--max-lease-ttl=DURATION] [--options=KEY=VALUE ...] "
        "TYPE\n\n"
        "Mounts a secrets engine of TYPE (kv, kv-v2, transit, database, ...).\n\n"
        "  --path=PATH                  where to mount it (default: TYPE)\n"
        "  --description=TEXT           a human-readable description\n"
        "  --version=N                  KV version (kv-v2 is kv with --version=2)\n"
        "  --default-lease-ttl=DUR      default TTL of leases from this mount\n"
        "  --max-lease-ttl=DUR          maximum TTL of leases from this mount\n"
        "  --options=KEY=VALUE          an engine option (repeatable)\n";

static int
secrets_enable(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"path", required_argument, NULL, OPT_PATH},
	        {"description", required_argument, NULL, OPT_DESCRIPTION},
	        {"version", required_argument, NULL, OPT_VERSION},
	        {"default-lease-ttl", required_argument, NULL, OPT_DEFAULT_LEASE_TTL},
	        {"max-lease-ttl", required_argument, NULL, OPT_MAX_LEASE_TTL},
	        {"options", required_argument, NULL, OPT_OPTIONS},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *path = NULL, *type;
	char *api = NULL, *name = NULL;
	json_t *body;
	long long v;
	int o, r;

	body = json_object();
	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, enable_usage)) != -1) {
		switch (o) {
		case OPT_PATH:
			path = optarg;
			break;
		case OPT_DESCRIPTION:
			cli_json_set(body, "description", json_string(optarg));
			break;
		case OPT_VERSION:
			if (args_parse_uint(optarg, &v) < 0 || v < 1 || v > 2) {
				json_decref(body);
				return cli_usage_err("--version: 1 or 2, not %s", optarg);
			}
			cli_json_set(sub(body, "options"), "version", json_string(optarg));
			break;
		case OPT_DEFAULT_LEASE_TTL:
			cli_json_set(sub(body, "config"), "default_lease_ttl", json_string(optarg));
			break;
		case OPT_MAX_LEASE_TTL:
			cli_json_set(sub(body, "config"), "max_lease_ttl", json_string(optarg));
			break;
		case OPT_OPTIONS:
			if (args_set_pair(sub(body, "options"), optarg) < 0) {
				json_decref(body);
				return cli_usage_err("--options: expected KEY=VALUE, got %s",
				                     optarg);
			}
			break;
		}
	}
	if (cli_operand_one(argc, "TYPE") != 0) {
		json_decref(body);
		return CLI_EXIT_ERROR;
	}
	type = argv[optind];
	if (!path)
		path = type;
	/* As vault does: kv-v2 is kv with options.version "2". */
	if (strcmp(type, "kv-v2") == 0) {
		type = "kv";
		cli_json_set(sub(body, "options"), "version", json_string("2"));
	}
	cli_json_set(body, "type", json_string(type));
	api = mount_api(path, "");
	name = mount_name(path);
	if (strcmp(name, "/") == 0) {
		r = cli_usage_err("empty --path");
		goto out;
	}
	r = cli_request("POST", api, NULL, body, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Enabled the %s secrets engine at: %s", argv[optind], name);
out:
	free(api);
	free(name);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char disable_usage[] = "Usage: coffer secrets disable PATH\n\n"
                                    "Unmounts the secrets engine at PATH, revoking its leases\n"
                                    "and deleting all of its data.\n";

static int
secrets_disable(int argc, char **argv)
{
	struct client_resp resp = {0};
	char *api = NULL, *name = NULL;
	int r;

	cli_getopt_common(argc, argv, disable_usage);
	if (cli_operand_one(argc, "PATH") != 0)
		return CLI_EXIT_ERROR;
	api = mount_api(argv[optind], "");
	name = mount_name(argv[optind]);
	r = cli_request("DELETE", api, NULL, NULL, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Disabled the secrets engine (if it existed) at: %s", name);
out:
	free(api);
	free(name);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer secrets list [--detailed]\n\n"
                                 "Lists the mounted secrets engines.\n\n"
                                 "  --detailed             also print TTLs and options\n";

static int
secrets_list(int argc, char **argv)
{
	return cli_mount_list(argc, argv, "sys/mounts", list_usage);
}

static const char tune_usage[] =
        "Usage: coffer secrets tune [--default-lease-ttl=DURATION]\n"
        "                           [--max-lease-ttl=DURATION] [--description=TEXT]\n"
        "                           [--options=KEY=VALUE ...] PATH\n\n"
        "Changes the settings of the secrets engine mounted at PATH.\n\n"
        "  --default-lease-ttl=DUR      default TTL of leases from this mount\n"
        "  --max-lease-ttl=DUR          maximum TTL of leases from this mount\n"
        "  --description=TEXT           a human-readable description\n"
        "  --options=KEY=VALUE          an engine option, e.g. version=2 (repeatable)\n";

static int
secrets_tune(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"default-lease-ttl", required_argument, NULL, OPT_DEFAULT_LEASE_TTL},
	        {"max-lease-ttl", required_argument, NULL, OPT_MAX_LEASE_TTL},
	        {"description", required_argument, NULL, OPT_DESCRIPTION},
	        {"options", required_argument, NULL, OPT_OPTIONS},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	char *api = NULL, *name = NULL;
	json_t *body;
	int o, r;

	body = json_object();
	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, tune_usage)) != -1) {
		switch (o) {
		case OPT_DEFAULT_LEASE_TTL:
			cli_json_set(body, "default_lease_ttl", json_string(optarg));
			break;
		case OPT_MAX_LEASE_TTL:
			cli_json_set(body, "max_lease_ttl", json_string(optarg));
			break;
		case OPT_DESCRIPTION:
			cli_json_set(body, "description", json_string(optarg));
			break;
		case OPT_OPTIONS:
			if (args_set_pair(sub(body, "options"), optarg) < 0) {
				json_decref(body);
				return cli_usage_err("--options: expected KEY=VALUE, got %s",
				                     optarg);
			}
			break;
		}
	}
	if (cli_operand_one(argc, "PATH") != 0) {
		json_decref(body);
		return CLI_EXIT_ERROR;
	}
	api = mount_api(argv[optind], "/tune");
	name = mount_name(argv[optind]);
	r = cli_request("POST", api, NULL, body, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Tuned the secrets engine at: %s", name);
out:
	free(api);
	free(name);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd secrets_cmds[] = {
        {"enable", secrets_enable, "mount a secrets engine"},
        {"disable", secrets_disable, "unmount a secrets engine and delete its data"},
        {"list", secrets_list, "list mounted secrets engines"},
        {"tune", secrets_tune, "change a mount's TTLs, description or options"},
        {NULL, NULL, NULL},
};

int
secrets_main(int argc, char **argv)
{
	return cli_dispatch("secrets", secrets_cmds, argc, argv);
}
