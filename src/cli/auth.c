/* auth.c - `coffer auth enable|disable|list|tune` over sys/auth (vault-api.md
 * §2.3), including the login lockout settings of a mount (user_lockout_config). */
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
	OPT_DEFAULT_LEASE_TTL,
	OPT_MAX_LEASE_TTL,
	OPT_LOCKOUT_THRESHOLD,
	OPT_LOCKOUT_DURATION,
	OPT_LOCKOUT_COUNTER_RESET,
	OPT_DISABLE_LOCKOUT,
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

/* The mount path without "auth/" and slashes ("userpass"); "" when empty. */
static char *
auth_name(const char *path)
{
	char *p = kvpath_clean(path, false);

	if (!p)
		cli_oom();
	if (strncmp(p, "auth/", 5) == 0)
		memmove(p, p + 5, strlen(p + 5) + 1);
	return p;
}

/* "sys/auth/<name><suffix>" */
static char *
auth_api(const char *name, const char *suffix)
{
	size_t n = strlen(name) + strlen(suffix) + sizeof("sys/auth/");
	char *out = malloc(n);

	if (!out)
		cli_oom();
	snprintf(out, n, "sys/auth/%s%s", name, suffix);
	return out;
}

static const char enable_usage[] =
        "Usage: coffer auth enable [--path=PATH] [--description=TEXT]\n"
        "                          [--default-lease-ttl=DURATION] [--max-lease-ttl=DURATION]\n"
        "                          TYPE\n\n"
        "Enables an auth method of TYPE (userpass, approle, jwt, srp) at auth/PATH/.\n\n"
        "  --path=PATH                  where to mount it (default: TYPE)\n"
        "  --description=TEXT           a human-readable description\n"
        "  --default-lease-ttl=DUR      default TTL of the tokens it issues\n"
        "  --max-lease-ttl=DUR          maximum TTL of the tokens it issues\n";

static int
auth_enable(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"path", required_argument, NULL, OPT_PATH},
	        {"description", required_argument, NULL, OPT_DESCRIPTION},
	        {"default-lease-ttl", required_argument, NULL, OPT_DEFAULT_LEASE_TTL},
	        {"max-lease-ttl", required_argument, NULL, OPT_MAX_LEASE_TTL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *path = NULL, *type;
	char *api = NULL, *name = NULL;
	json_t *body;
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
		case OPT_DEFAULT_LEASE_TTL:
			cli_json_set(sub(body, "config"), "default_lease_ttl", json_string(optarg));
			break;
		case OPT_MAX_LEASE_TTL:
			cli_json_set(sub(body, "config"), "max_lease_ttl", json_string(optarg));
			break;
		}
	}
	if (cli_operand_one(argc, "TYPE") != 0) {
		json_decref(body);
		return CLI_EXIT_ERROR;
	}
	type = argv[optind];
	cli_json_set(body, "type", json_string(type));
	name = auth_name(path ? path : type);
	if (!*name) {
		(void)cli_usage_err("empty --path");
		r = CF_EINVAL;
		goto out;
	}
	api = auth_api(name, "");
	r = cli_request("POST", api, NULL, body, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Enabled %s auth method at: %s/", type, name);
out:
	free(api);
	free(name);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char disable_usage[] = "Usage: coffer auth disable PATH\n\n"
                                    "Disables the auth method at auth/PATH/, revoking every\n"
                                    "token it issued and deleting its data.\n";

static int
auth_disable(int argc, char **argv)
{
	struct client_resp resp = {0};
	char *api = NULL, *name = NULL;
	int r;

	cli_getopt_common(argc, argv, disable_usage);
	if (cli_operand_one(argc, "PATH") != 0)
		return CLI_EXIT_ERROR;
	name = auth_name(argv[optind]);
	if (!*name || strcmp(name, "token") == 0) {
		(void)cli_usage_err("cannot disable \"%s\"", argv[optind]);
		r = CF_EINVAL;
		goto out;
	}
	api = auth_api(name, "");
	r = cli_request("DELETE", api, NULL, NULL, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Disabled the auth method (if it existed) at: %s/", name);
out:
	free(api);
	free(name);
	client_resp_clear(&resp);
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

static int
auth_tune(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"default-lease-ttl", required_argument, NULL, OPT_DEFAULT_LEASE_TTL},
	        {"max-lease-ttl", required_argument, NULL, OPT_MAX_LEASE_TTL},
	        {"description", required_argument, NULL, OPT_DESCRIPTION},
	        {"lockout-threshold", required_argument, NULL, OPT_LOCKOUT_THRESHOLD},
	        {"lockout-duration", required_argument, NULL, OPT_LOCKOUT_DURATION},
	        {"lockout-counter-reset", required_argument, NULL, OPT_LOCKOUT_COUNTER_RESET},
	        {"disable-lockout", required_argument, NULL, OPT_DISABLE_LOCKOUT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	char *api = NULL, *name = NULL;
	json_t *body, *lock, *cur;
	long long n;
	bool b;
	int o, r;

	body = json_object();
	lock = json_object();
	if (!body || !lock)
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
		case OPT_LOCKOUT_THRESHOLD:
			if (args_parse_uint(optarg, &n) < 0 || n < 1) {
				r = cli_usage_err("--lockout-threshold: not a positive number: %s",
				                  optarg);
				goto usage;
			}
			cli_json_set(lock, "lockout_threshold", json_integer(n));
			break;
		case OPT_LOCKOUT_DURATION:
			cli_json_set(lock, "lockout_duration", json_string(optarg));
			break;
		case OPT_LOCKOUT_COUNTER_RESET:
			cli_json_set(lock, "lockout_counter_reset", json_string(optarg));
			break;
		case OPT_DISABLE_LOCKOUT:
			if (args_parse_bool(optarg, &b) < 0) {
				r = cli_usage_err("--disable-lockout: not a boolean: %s", optarg);
				goto usage;
			}
			cli_json_set(lock, "disable_lockout", json_boolean(b));
			break;
		}
	}
	if (cli_operand_one(argc, "PATH") != 0) {
		r = CLI_EXIT_ERROR;
		goto usage;
	}
	name = auth_name(argv[optind]);
	api = auth_api(name, "/tune");
	if (json_object_size(lock) > 0) {
		/* The server replaces user_lockout_config whole: merge into the current. */
		r = cli_request("GET", api, NULL, NULL, &resp);
		if (r < 0)
			goto out;
		cur = json_object_get(client_resp_data(&resp), "user_lockout_config");
		if (json_is_object(cur))
			json_object_update_missing(lock, cur);
		client_resp_clear(&resp);
		json_object_set(body, "user_lockout_config", lock);
	}
	r = cli_request("POST", api, NULL, body, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Tuned the auth method at: %s/", name);
out:
	free(api);
	free(name);
	json_decref(body);
	json_decref(lock);
	client_resp_clear(&resp);
	return cli_exit(r);
usage:
	json_decref(body);
	json_decref(lock);
	return r;
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
