/* secrets.c - `coffer secrets enable|disable|list|tune` over sys/mounts
 * (Vault's sys/mounts). */
#include "cli/args.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_VERSION = CLI_MOUNT_OPT_LOCAL,
	OPT_OPTIONS,
};

/* --version and --options, into body.options. */
static int
secrets_option(int o, json_t *body)
{
	long long v;

	switch (o) {
	case OPT_VERSION:
		if (args_parse_uint(optarg, &v) < 0 || v < 1 || v > 2)
			return cli_usage_err("--version: 1 or 2, not %s", optarg);
		cli_json_set(cli_json_sub(body, "options"), "version", json_string(optarg));
		break;
	case OPT_OPTIONS:
		if (args_set_pair(cli_json_sub(body, "options"), optarg) < 0)
			return cli_usage_err("--options: expected KEY=VALUE, got %s", optarg);
		break;
	}
	return 0;
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

static const struct option enable_opts[] = {
        {"path", required_argument, NULL, CLI_MOUNT_OPT_PATH},
        CLI_MOUNT_OPTIONS,
        {"version", required_argument, NULL, OPT_VERSION},
        {"options", required_argument, NULL, OPT_OPTIONS},
        CLI_COMMON_OPTIONS,
        {0},
};

/* As vault does: kv-v2 is kv with options.version "2". */
static int
enable_prepare(const char *api, json_t *body)
{
	if (strcmp(json_string_value(json_object_get(body, "type")), "kv-v2") == 0) {
		cli_json_set(body, "type", json_string("kv"));
		cli_json_set(cli_json_sub(body, "options"), "version", json_string("2"));
	}
	return 0;
}

static const struct cli_mount_cmd enable_cmd = {
        .api = "sys/mounts",
        .usage = enable_usage,
        .opts = enable_opts,
        .option = secrets_option,
        .prepare = enable_prepare,
};

static int
secrets_enable(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_enable(argc, argv, &enable_cmd, &name);
	if (r == 0)
		cli_success("Success! Enabled the %s secrets engine at: %s", argv[optind], name);
	free(name);
	return cli_exit(r);
}

static const char disable_usage[] = "Usage: coffer secrets disable PATH\n\n"
                                    "Unmounts the secrets engine at PATH, revoking its leases\n"
                                    "and deleting all of its data.\n";

static const struct cli_mount_cmd disable_cmd = {
        .api = "sys/mounts",
        .usage = disable_usage,
};

static int
secrets_disable(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_disable(argc, argv, &disable_cmd, &name);
	if (r == 0)
		cli_success("Success! Disabled the secrets engine (if it existed) at: %s", name);
	free(name);
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

static const struct option tune_opts[] = {
        CLI_MOUNT_OPTIONS,
        {"options", required_argument, NULL, OPT_OPTIONS},
        CLI_COMMON_OPTIONS,
        {0},
};

static const struct cli_mount_cmd tune_cmd = {
        .api = "sys/mounts",
        .usage = tune_usage,
        .opts = tune_opts,
        .option = secrets_option,
};

static int
secrets_tune(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_tune(argc, argv, &tune_cmd, &name);
	if (r == 0)
		cli_success("Success! Tuned the secrets engine at: %s", name);
	free(name);
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
