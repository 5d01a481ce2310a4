/* auth.c - `coffer auth enable|disable|list|tune` over sys/auth (Vault's
 * /sys/auth API), including the login lockout settings of a mount (user_lockout_config). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"

#include <stdlib.h>

enum {
	OPT_LOCKOUT_THRESHOLD = CLI_MOUNT_OPT_LOCAL,
	OPT_LOCKOUT_DURATION,
	OPT_LOCKOUT_COUNTER_RESET,
	OPT_DISABLE_LOCKOUT,
};

static const char enable_usage[] =
        "Usage: coffer auth enable [--path=PATH] [--description=TEXT]\n"
        "                          [--default-lease-ttl=DURATION] [--max-lease-ttl=DURATION]\n"
        "                          TYPE\n\n"
        "Enables an auth method of TYPE (userpass, approle, jwt, srp) at auth/PATH/.\n\n"
        "  --path=PATH                  where to mount it (default: TYPE)\n"
        "  --description=TEXT           a human-readable description\n"
        "  --default-lease-ttl=DUR      default TTL of the tokens it issues\n"
        "  --max-lease-ttl=DUR          maximum TTL of the tokens it issues\n";

static const struct option enable_opts[] = {
        {"path", required_argument, NULL, CLI_MOUNT_OPT_PATH},
        CLI_MOUNT_OPTIONS,
        CLI_COMMON_OPTIONS,
        {0},
};

static const struct cli_mount_cmd enable_cmd = {
        .api = "sys/auth",
        .auth = true,
        .usage = enable_usage,
        .opts = enable_opts,
};

static int
auth_enable(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_enable(argc, argv, &enable_cmd, &name);
	if (r == 0)
		cli_success("Success! Enabled %s auth method at: %s", argv[optind], name);
	free(name);
	return cli_exit(r);
}

static const char disable_usage[] = "Usage: coffer auth disable PATH\n\n"
                                    "Disables the auth method at auth/PATH/, revoking every\n"
                                    "token it issued and deleting its data.\n";

static const struct cli_mount_cmd disable_cmd = {
        .api = "sys/auth",
        .auth = true,
        .usage = disable_usage,
};

static int
auth_disable(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_disable(argc, argv, &disable_cmd, &name);
	if (r == 0)
		cli_success("Success! Disabled the auth method (if it existed) at: %s", name);
	free(name);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer auth list [--detailed]\n\n"
                                 "Lists the enabled auth methods.\n\n"
                                 "  --detailed             also print TTLs and options\n";

static int
auth_list(int argc, char **argv)
{
	return cli_mount_list(argc, argv, "sys/auth", list_usage);
}

static const char tune_usage[] =
        "Usage: coffer auth tune [--default-lease-ttl=DURATION] [--max-lease-ttl=DURATION]\n"
        "                        [--description=TEXT] [--lockout-threshold=N]\n"
        "                        [--lockout-duration=DURATION]\n"
        "                        [--lockout-counter-reset=DURATION]\n"
        "                        [--disable-lockout=BOOL] PATH\n\n"
        "Changes the settings of the auth method at auth/PATH/. The lockout options set\n"
        "its brute-force protection (user_lockout_config); those not given keep their\n"
        "current value.\n\n"
        "  --default-lease-ttl=DUR      default TTL of the tokens it issues\n"
        "  --max-lease-ttl=DUR          maximum TTL of the tokens it issues\n"
        "  --description=TEXT           a human-readable description\n"
        "  --lockout-threshold=N        failed logins of a user before it is locked\n"
        "  --lockout-duration=DUR       how long the lock lasts\n"
        "  --lockout-counter-reset=DUR  failures older than this do not count\n"
        "  --disable-lockout=BOOL       turn the per-user lockout off\n";

static const struct option tune_opts[] = {
        CLI_MOUNT_OPTIONS,
        {"lockout-threshold", required_argument, NULL, OPT_LOCKOUT_THRESHOLD},
        {"lockout-duration", required_argument, NULL, OPT_LOCKOUT_DURATION},
        {"lockout-counter-reset", required_argument, NULL, OPT_LOCKOUT_COUNTER_RESET},
        {"disable-lockout", required_argument, NULL, OPT_DISABLE_LOCKOUT},
        CLI_COMMON_OPTIONS,
        {0},
};

/* The lockout options, into body.user_lockout_config. */
static int
tune_option(int o, json_t *body)
{
	json_t *lock = cli_json_sub(body, "user_lockout_config");
	long long n;
	bool b;

	switch (o) {
	case OPT_LOCKOUT_THRESHOLD:
		if (args_parse_uint(optarg, &n) < 0 || n < 1)
			return cli_usage_err("--lockout-threshold: not a positive number: %s",
			                     optarg);
		cli_json_set(lock, "lockout_threshold", json_integer(n));
		break;
	case OPT_LOCKOUT_DURATION:
		cli_json_set(lock, "lockout_duration", json_string(optarg));
		break;
	case OPT_LOCKOUT_COUNTER_RESET:
		cli_json_set(lock, "lockout_counter_reset", json_string(optarg));
		break;
	case OPT_DISABLE_LOCKOUT:
		if (args_parse_bool(optarg, &b) < 0)
			return cli_usage_err("--disable-lockout: not a boolean: %s", optarg);
		cli_json_set(lock, "disable_lockout", json_boolean(b));
		break;
	}
	return 0;
}

/* The server replaces user_lockout_config whole: merge the options given into
 * the current settings. */
static int
tune_prepare(const char *api, json_t *body)
{
	struct client_resp resp = {0};
	json_t *lock = json_object_get(body, "user_lockout_config"), *cur;
	int r;

	if (!lock)
		return 0;
	r = cli_request("GET", api, NULL, NULL, &resp);
	if (r < 0)
		return r;
	cur = json_object_get(client_resp_data(&resp), "user_lockout_config");
	if (json_is_object(cur))
		json_object_update_missing(lock, cur);
	client_resp_clear(&resp);
	return 0;
}

static const struct cli_mount_cmd tune_cmd = {
        .api = "sys/auth",
        .auth = true,
        .usage = tune_usage,
        .opts = tune_opts,
        .option = tune_option,
        .prepare = tune_prepare,
};

static int
auth_tune(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_tune(argc, argv, &tune_cmd, &name);
	if (r == 0)
		cli_success("Success! Tuned the auth method at: %s", name);
	free(name);
	return cli_exit(r);
}

static const struct cli_cmd auth_cmds[] = {
        {"enable", auth_enable, "enable an auth method"},
        {"disable", auth_disable, "disable an auth method, revoking its tokens"},
        {"list", auth_list, "list enabled auth methods"},
        {"tune", auth_tune, "change a method's TTLs, description or login lockout"},
        {NULL, NULL, NULL},
};

int
auth_main(int argc, char **argv)
{
	return cli_dispatch("auth", auth_cmds, argc, argv);
}
