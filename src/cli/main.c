/* main.c - the coffer command table (docs/cli.md). Usage is printed by walking
 * the table; each command lives in its own file (wireguard-tools src/wg.c). */
#include "cli/cli.h"
#include "lib/curl_dl.h"
#include "lib/jsonx.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_cmd commands[] = {
        {"server", server_main, "run the server"},
        {"operator", operator_main, "initialize, unseal, seal, rotate and inspect the server"},
        {"kv", kv_main, "read and write key/value secrets (KV v1 and v2)"},
        {"read", generic_read_main, "read data at any API path"},
        {"write", generic_write_main, "write data to any API path"},
        {"list", generic_list_main, "list keys at any API path"},
        {"delete", generic_delete_main, "delete data at any API path"},
        {"unwrap", generic_unwrap_main, "unwrap a response-wrapping token once"},
        {"token", token_main, "create, look up, renew and revoke tokens"},
        {"lease", lease_main, "look up, renew and revoke leases of dynamic secrets"},
        {"transit", transit_main, "encrypt, decrypt and rotate with transit keys"},
        {"pki", pki_main, "issue certificates from a PKI mount into files"},
        {"policy", policy_main, "write, read, list and delete ACL policies"},
        {"secrets", secrets_main, "enable, disable, list and tune secrets engines"},
        {"audit", audit_main, "manage audit devices and verify audit logs"},
        {"auth", auth_main, "enable, disable, list and tune auth methods"},
        {"login", login_main, "log in with an auth method and store the token"},
        {"srp", srp_main, "register users of the srp auth method (zero-knowledge)"},
        {"rotation", rotation_main, "create, inspect and run secret rotation jobs"},
        {"notify", notify_main, "manage webhooks that receive events and alerts"},
        {"events", events_main, "follow the server's event stream"},
        {"env", env_main, "parse, check, encrypt and guard .env files (offline)"},
        {"run", run_main, "run a command with secrets in its environment, masked in its output"},
        {"scan", scan_main, "find hardcoded credentials in files and git history (offline)"},
        {"seal", seal_main, "seal Kubernetes Secrets into SealedSecrets (kubeseal-compatible)"},
        {"unseal", unseal_main, "open SealedSecrets with private keys (kubeseal recovery unseal)"},
        {NULL, NULL, NULL},
};

static void
usage(FILE *f)
{
	const struct cli_cmd *c;

	fputs("Usage: coffer [--address=URL] [--token=TOKEN] [--format=table|json] <command> "
	      "[<args>]\n"
	      "       coffer --version\n\n"
	      "Commands:\n",
	      f);
	for (c = commands; c->name; c++)
		fprintf(f, "  %-12s%s\n", c->name, c->summary);
	fputs("\nRun 'coffer <command> --help' for the options of a command.\n", f);
}

static void
set_format_from_env(void)
{
	const char *f = getenv("COFFER_FORMAT");

	if (!f || !*f)
		f = getenv("VAULT_FORMAT");
	if (f && strcmp(f, "json") == 0)
		arg_format = CLI_FORMAT_JSON;
}

enum {
	OPT_VERSION = CLI_OPT_LOCAL,
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"version", no_argument, NULL, OPT_VERSION},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	static char main_usage[2048];
	const struct cli_cmd *c;
	FILE *f;
	int r = CLI_EXIT_ERROR, o;

	/* Request and response bodies carry secrets: jansson wipes what it frees. */
	jsonx_init();
	set_format_from_env();

	f = fmemopen(main_usage, sizeof(main_usage) - 1, "w");
	if (f) {
		usage(f);
		fclose(f);
	}
	while ((o = cli_getopt_global(argc, argv, opts, main_usage)) != -1) {
		if (o == OPT_VERSION) {
			printf("coffer %s\n", COFFER_VERSION);
			r = CLI_EXIT_OK;
			goto out;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		goto out;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		r = CLI_EXIT_OK;
		goto out;
	}
	if (strcmp(argv[optind], "version") == 0) {
		printf("coffer %s\n", COFFER_VERSION);
		r = CLI_EXIT_OK;
		goto out;
	}
	for (c = commands; c->name; c++) {
		if (strcmp(argv[optind], c->name) == 0)
			break;
	}
	if (!c->name) {
		r = cli_usage_err("unknown command \"%s\"", argv[optind]);
		goto out;
	}
	cli_set_command(c->name, NULL);
	if (strcmp(c->name, "server") != 0) {
		/* Only client commands map libcurl; the server never loads it. */
		if (curl_dl_load() != 0) {
			cli_err("libcurl (%s) is not installed", CURL_DL_SONAME);
			goto out;
		}
		if (curl_dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			cli_err("cannot initialize libcurl");
			goto out;
		}
	}
	r = c->fn(argc - optind, argv + optind);
	if (strcmp(c->name, "server") != 0)
		curl_dl.global_cleanup();
out:
	cli_cleanup();
	fflush(stdout);
	if (ferror(stdout) && r == CLI_EXIT_OK)
		r = CLI_EXIT_ERROR;
	return r;
}
