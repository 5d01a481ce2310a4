/* audit.c - `coffer audit enable|disable|list` over sys/audit (Vault's
 * /sys/audit API), and `coffer audit verify`, an offline check of a file device's keyed
 * chain and signed checkpoints (docs/internals/audit.md). */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

enum {
	OPT_PATH = CLI_OPT_LOCAL,
	OPT_DESCRIPTION,
	OPT_LOCAL,
	OPT_DETAILED,
	OPT_PUBLIC_KEY,
	OPT_ALLOW_PARTIAL,
};

/* For the paths of a device (sys/audit/<name>, listed as "<name>/"). */
static const struct cli_mount_cmd device_cmd = {.api = "sys/audit"};

static const char enable_usage[] =
        "Usage: coffer audit enable [--path=NAME] [--description=TEXT] [--local] TYPE "
        "[key=value ...]\n\n"
        "Enables an audit device of TYPE (file) with its options, e.g.\n"
        "  coffer audit enable file file_path=/var/log/coffer/audit.log\n"
        "File options: file_path (or stdout, discard), mode, format, prefix, log_raw,\n"
        "hmac_accessor, elide_list_responses.\n\n"
        "  --path=NAME            the device's name (default: TYPE)\n"
        "  --description=TEXT     a human-readable description\n"
        "  --local                do not replicate the device\n";

static int
audit_enable(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"path", required_argument, NULL, OPT_PATH},
	        {"description", required_argument, NULL, OPT_DESCRIPTION},
	        {"local", no_argument, NULL, OPT_LOCAL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	const char *path = NULL, *desc = NULL;
	char *api = NULL, *name = NULL;
	json_t *body = NULL, *options;
	bool local = false;
	int i, o, r;

	while ((o = cli_getopt(argc, argv, opts, enable_usage)) != -1) {
		switch (o) {
		case OPT_PATH:
			path = optarg;
			break;
		case OPT_DESCRIPTION:
			desc = optarg;
			break;
		case OPT_LOCAL:
			local = true;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage_err("missing TYPE");
	options = json_object();
	if (!options)
		cli_oom();
	for (i = optind + 1; i < argc; i++) {
		if (args_set_pair(options, argv[i]) < 0) {
			json_decref(options);
			return cli_usage_err("expected key=value, got \"%s\"", argv[i]);
		}
	}
	body = json_pack("{s:s, s:s, s:o, s:b}", "type", argv[optind], "description",
	                 desc ? desc : "", "options", options, "local", local);
	if (!body)
		cli_oom();
	cli_mount_paths(&device_cmd, path ? path : argv[optind], "", &api, &name);
	r = cli_request("PUT", api, NULL, body, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Enabled the %s audit device at: %s", argv[optind], name);
out:
	free(api);
	free(name);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char disable_usage[] = "Usage: coffer audit disable NAME\n\n"
                                    "Disables the audit device NAME.\n";

static const struct cli_mount_cmd disable_cmd = {
        .api = "sys/audit",
        .operand = "NAME",
        .usage = disable_usage,
};

static int
audit_disable(int argc, char **argv)
{
	char *name = NULL;
	int r;

	r = cli_mount_disable(argc, argv, &disable_cmd, &name);
	if (r == 0)
		cli_success("Success! Disabled audit device (if it was enabled) at: %s", name);
	free(name);
	return cli_exit(r);
}

static const char list_usage[] = "Usage: coffer audit list [--detailed]\n\n"
                                 "Lists the enabled audit devices.\n\n"
                                 "  --detailed             also print each device's options\n";

static int
audit_list(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"detailed", no_argument, NULL, OPT_DETAILED},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	static const char *const headers[] = {"Path", "Type", "Description", "Options"};
	struct client_resp resp = {0};
	struct table *t = NULL;
	const char **keys = NULL, *cells[4];
	bool detailed = false;
	json_t *data, *d;
	size_t i, n;
	char *optstr;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, list_usage)) != -1) {
		if (o == OPT_DETAILED)
			detailed = true;
	}
	if (cli_operand_none(argc, argv) != 0)
		return CLI_EXIT_ERROR;
	r = cli_request("GET", "sys/audit", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	data = client_resp_data(&resp);
	keys = output_mount_keys(data, &n);
	if (n == 0) {
		printf("No audit devices are enabled.\n");
		goto out;
	}
	t = table_new(detailed ? 4 : 3, headers);
	for (i = 0; i < n; i++) {
		d = json_object_get(data, keys[i]);
		cells[0] = keys[i];
		cells[1] = json_string_value(json_object_get(d, "type"));
		cells[2] = json_string_value(json_object_get(d, "description"));
		optstr = detailed ? output_value(json_object_get(d, "options")) : NULL;
		cells[3] = optstr;
		table_add(t, cells);
		free(optstr);
	}
	table_print(t, stdout);
out:
	table_free(t);
	free(keys); /* not secret: JSON key names */
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char verify_usage[] =
        "Usage: coffer audit verify [--public-key=KEY] [--allow-partial] FILE\n\n"
        "Checks a file audit device's log offline: every line's seq and keyed\n"
        "prev_hash, and every checkpoint. With --public-key (the base64 key of\n"
        "sys/audit/NAME/public-key) each checkpoint's signature is checked, which\n"
        "proves every line up to the last checkpoint authentic and complete.\n\n"
        "  --public-key=KEY   the device's Ed25519 public key (base64 or hex)\n"
        "  --allow-partial    accept lines after the last checkpoint (a live file);\n"
        "                     they are reported as unverified\n\n"
        "Exit status: 0 intact, 1 tampered or cut short (the first bad line is\n"
        "reported), 2 cannot check.\n";

static int
audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"public-key", required_argument, NULL, OPT_PUBLIC_KEY},
	        {"allow-partial", no_argument, NULL, OPT_ALLOW_PARTIAL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct audit_verify_report rep;
	const char *pk = NULL;
	bool partial = false;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, verify_usage)) != -1) {
		if (o == OPT_PUBLIC_KEY)
			pk = optarg;
		else if (o == OPT_ALLOW_PARTIAL)
			partial = true;
	}
	if (cli_operand_one(argc, "FILE") != 0)
		return CLI_EXIT_ERROR;
	r = audit_verify_file(argv[optind], pk, partial, &rep);
	if (r == CF_EINVAL) {
		if (arg_format == CLI_FORMAT_JSON)
			printf("{\"ok\": false, \"line\": %ld}\n", rep.bad_line);
		/* The verifier's message names the line. */
		if (rep.msg[0])
			cli_err("%s", rep.msg);
		else
			cli_err("line %ld: %s", rep.bad_line, cf_strerror(r));
		return CLI_EXIT_FINDING;
	}
	if (r < 0) {
		/* The verifier's messages name the file already. */
		if (rep.msg[0])
			cli_err("%s", rep.msg);
		else
			cli_err("%s: %s", argv[optind], cf_strerror(r));
		return CLI_EXIT_ERROR;
	}
	if (arg_format == CLI_FORMAT_JSON) {
		printf("{\"ok\": true, \"lines\": %ld, \"authenticated\": %s, "
		       "\"last_checkpoint_line\": %ld, \"unverified\": %ld}\n",
		       rep.lines, rep.authenticated ? "true" : "false", rep.last_cp_line,
		       rep.unverified);
		return CLI_EXIT_OK;
	}
	printf("ok: %ld lines verified\n", rep.lines - rep.unverified - rep.preamble - rep.other);
	if (rep.authenticated)
		printf("authentic and complete up to line %ld (checkpoint seq %llu%s)\n",
		       rep.last_cp_line, (unsigned long long)rep.last_cp_seq,
		       rep.last_cp_final ? ", final" : "");
	else
		printf("authenticity NOT proven: no --public-key given (the chain is only "
		       "consistent)\n");
	if (rep.unverified > 0)
		printf("unverified: lines %ld-%ld come after the last checkpoint\n",
		       rep.first_unverified, rep.first_unverified + rep.unverified - 1);
	else if (rep.last_cp_line > 0 && !rep.last_cp_final)
		printf("note: the log ends at a periodic checkpoint; lines cut after it show only "
		       "against the server (sys/audit-verify)\n");
	if (rep.preamble > 0)
		printf("not verified: %ld lines before the chain starts (an older log)\n",
		       rep.preamble);
	if (rep.other > 0)
		printf("not verified: %ld lines of chains signed by another key\n", rep.other);
	return CLI_EXIT_OK;
}

static const struct cli_cmd audit_cmds[] = {
        {"enable", audit_enable, "enable an audit device"},
        {"disable", audit_disable, "disable an audit device"},
        {"list", audit_list, "list enabled audit devices"},
        {"verify", audit_verify, "check the hash chain of an audit log file (offline)"},
        {NULL, NULL, NULL},
};

int
audit_main(int argc, char **argv)
{
	return cli_dispatch("audit", audit_cmds, argc, argv);
}
