/* lease.c - coffer lease lookup|renew|revoke (sys/leases/, Vault's sys/leases). */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum {
	OPT_INCREMENT = CLI_OPT_LOCAL,
	OPT_PREFIX,
	OPT_FORCE,
	OPT_SYNC,
};

static const char lookup_usage[] =
        "Usage: coffer lease lookup LEASE_ID\n\n"
        "Shows a lease: when it was issued, when it expires, whether it\n"
        "can be renewed and the seconds it has left.\n";

static int
lease_lookup(int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {0}};
	struct client_resp resp = {0};
	json_t *body;
	int r;

	while (cli_getopt(argc, argv, opts, lookup_usage) != -1) {
	}
	if (cli_operand_one(argc, "LEASE_ID") < 0)
		return CLI_EXIT_ERROR;
	body = json_pack("{s:s}", "lease_id", argv[optind]);
	if (!body)
		return cli_usage_err("LEASE_ID is not valid text");
	r = cli_request("PUT", "sys/leases/lookup", NULL, body, &resp);
	if (r == 0)
		cli_print(resp.json, output_secret);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char renew_usage[] =
        "Usage: coffer lease renew [--increment=DUR] LEASE_ID\n\n"
        "Extends a lease, never past the maximum TTL of its role or mount.\n\n"
        "  --increment=DUR   requested new TTL from now (default: the lease's own TTL)\n";

static int
lease_renew(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"increment", required_argument, NULL, OPT_INCREMENT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *inc = NULL;
	json_t *body;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, renew_usage)) != -1)
		if (o == OPT_INCREMENT)
			inc = optarg;
	if (cli_operand_one(argc, "LEASE_ID") < 0)
		return CLI_EXIT_ERROR;
	body = json_pack("{s:s}", "lease_id", argv[optind]);
	if (!body)
		return cli_usage_err("LEASE_ID is not valid text");
	if (inc)
		cli_json_set(body, "increment", json_string(inc));
	r = cli_request("PUT", "sys/leases/renew", NULL, body, &resp);
	if (r == 0)
		cli_print(resp.json, output_secret);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char revoke_usage[] =
        "Usage: coffer lease revoke [--prefix] [--force] [--sync=true|false] ID\n\n"
        "Revokes a lease now: the backend destroys the secret (a database user is\n"
        "dropped) and the lease is removed.\n\n"
        "  --prefix          ID is a prefix: revoke every lease under it (needs sudo)\n"
        "  --force           with --prefix: remove the leases even when the backend\n"
        "                    fails to revoke them (needs sudo; the secrets may live on)\n"
        "  --sync=false      return at once and revoke in the background\n";

static int
lease_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"prefix", no_argument, NULL, OPT_PREFIX},
	        {"force", no_argument, NULL, OPT_FORCE},
	        {"sync", required_argument, NULL, OPT_SYNC},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	bool prefix = false, force = false;
	const char *sync = NULL;
	char path[4096];
	json_t *body;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, revoke_usage)) != -1) {
		if (o == OPT_PREFIX)
			prefix = true;
		else if (o == OPT_FORCE)
			force = true;
		else if (o == OPT_SYNC)
			sync = optarg;
	}
	if (cli_operand_one(argc, "ID") < 0)
		return CLI_EXIT_ERROR;
	if (force && !prefix)
		return cli_usage_err("--force needs --prefix");
	if (sync && strcmp(sync, "true") != 0 && strcmp(sync, "false") != 0)
		return cli_usage_err("--sync: true or false, not %s", sync);
	body = json_object();
	if (!body)
		cli_oom();
	if (sync)
		cli_json_set(body, "sync", json_boolean(strcmp(sync, "true") == 0));
	if (prefix) {
		snprintf(path, sizeof(path), "sys/leases/%s/%s",
		         force ? "revoke-force" : "revoke-prefix", argv[optind]);
	} else {
		snprintf(path, sizeof(path), "sys/leases/revoke");
		cli_json_set(body, "lease_id", json_string(argv[optind]));
	}
	r = cli_request("PUT", path, NULL, body, &resp);
	if (r == 0) {
		if (prefix)
			cli_success("Success! Revoked any leases with prefix: %s", argv[optind]);
		else
			cli_success("Success! Revoked lease: %s", argv[optind]);
	}
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd lease_cmds[] = {
        {"lookup", lease_lookup, "show a lease"},
        {"renew", lease_renew, "extend a lease"},
        {"revoke", lease_revoke, "revoke a lease or every lease under a prefix"},
        {NULL, NULL, NULL},
};

int
lease_main(int argc, char **argv)
{
	return cli_dispatch("lease", lease_cmds, argc, argv);
}
