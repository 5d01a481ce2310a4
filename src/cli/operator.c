/* operator.c - `coffer operator`: init, unseal, seal, status, rotate, step-down
 * (Vault's sys/health, init and seal, Vault's sys/rotate and key-status); rekey and generate-root
 * are in operator_keys.c. These sys/ endpoints answer raw JSON, no envelope. */
#include "cli/cli.h"
#include "cli/args.h"
#include "cli/client.h"
#include "cli/operator.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define UNSEAL_KEY_MAX 1024

static const char *const kv_headers[] = {"Key", "Value"};

const char *
operator_str(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : dflt;
}

void
operator_add_bool(struct table *t, const char *name, const json_t *obj, const char *key)
{
	table_add_kv(t, name, json_is_true(json_object_get(obj, key)) ? "true" : "false");
}

void
operator_add_int(struct table *t, const char *name, const json_t *obj, const char *key)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(obj, key)));
	table_add_kv(t, name, buf);
}

int
operator_read_key(int argc, char **argv, char *key, size_t len)
{
	int r;

	if (optind < argc && strcmp(argv[optind], "-") != 0) {
		if (strlen(argv[optind]) >= len) {
			(void)cli_usage_err("unseal key too long");
			return CF_EINVAL;
		}
		snprintf(key, len, "%s", argv[optind]);
		secmem_wipe(argv[optind], strlen(argv[optind]));
		return 0;
	}
	r = cli_read_secret_line("Unseal Key (will be hidden): ", key, len);
	if (r < 0)
		cli_err("no unseal key given");
	return r;
}

/* Prints a seal-status object as `vault status` does. */
static void
print_seal_status(const json_t *st)
{
	struct table *t = table_new(2, kv_headers);
	bool sealed = json_is_true(json_object_get(st, "sealed"));
	char buf[64];

	table_add_kv(t, "Seal Type", operator_str(st, "type", "shamir"));
	operator_add_bool(t, "Initialized", st, "initialized");
	operator_add_bool(t, "Sealed", st, "sealed");
	operator_add_int(t, "Total Shares", st, "n");
	operator_add_int(t, "Threshold", st, "t");
	if (sealed) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		         json_integer_value(json_object_get(st, "progress")),
		         json_integer_value(json_object_get(st, "t")));
		table_add_kv(t, "Unseal Progress", buf);
		table_add_kv(t, "Unseal Nonce", operator_str(st, "nonce", ""));
	}
	table_add_kv(t, "Version", operator_str(st, "version", ""));
	if (*operator_str(st, "build_date", ""))
		table_add_kv(t, "Build Date", operator_str(st, "build_date", ""));
	table_add_kv(t, "Storage Type", operator_str(st, "storage_type", ""));
	if (json_object_get(st, "cluster_name"))
		table_add_kv(t, "Cluster Name", operator_str(st, "cluster_name", ""));
	if (json_object_get(st, "cluster_id"))
		table_add_kv(t, "Cluster ID", operator_str(st, "cluster_id", ""));
	table_add_kv(t, "HA Enabled", "false");
	table_print(t, stdout);
	table_free(t);
}

static void
print_status(const json_t *st)
{
	if (arg_format == CLI_FORMAT_JSON)
		output_json(st);
	else
		print_seal_status(st);
}

static const char init_usage[] =
        "Usage: coffer operator init [--key-shares=N] [--key-threshold=T]\n"
        "       coffer operator init --status\n\n"
        "Initializes the server: creates the root key, splits it into N unseal key\n"
        "shares of which T unseal it, and prints the shares and the initial root token.\n\n"
        "  --key-shares=N         number of unseal key shares (default 5)\n"
        "  --key-threshold=T      shares needed to unseal (default 3)\n"
        "  --status               only report whether the server is initialized\n"
        "                         (exit 0 initialized, 2 not)\n";

enum {
	OPT_SHARES = CLI_OPT_LOCAL,
	OPT_THRESHOLD,
	OPT_STATUS,
	OPT_RESET,
	OPT_RETIRE,
	OPT_BATCH,
	OPT_INTERVAL,
};

static int
operator_init_status(struct client *c)
{
	struct client_resp resp = {0};
	bool init;
	int r;

	r = cli_call(c, "GET", "sys/init", NULL, NULL, &resp);
	if (r < 0)
		return CLI_EXIT_ERROR;
	init = json_is_true(json_object_get(resp.json, "initialized"));
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else
		printf("%s\n", init ? "coffer is initialized" : "coffer is not initialized");
	client_resp_clear(&resp);
	return init ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
operator_init(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key-shares", required_argument, NULL, OPT_SHARES},
	        {"key-threshold", required_argument, NULL, OPT_THRESHOLD},
	        {"status", no_argument, NULL, OPT_STATUS},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	long long shares = 5, threshold = 3;
	struct client_resp resp = {0};
	struct client *c = NULL;
	json_t *body = NULL, *keys, *k;
	bool status = false;
	size_t i;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, init_usage)) != -1) {
		switch (o) {
		case OPT_SHARES:
			if (args_parse_uint(optarg, &shares) < 0)
				return cli_usage_err("--key-shares: not a number: %s", optarg);
			break;
		case OPT_THRESHOLD:
			if (args_parse_uint(optarg, &threshold) < 0)
				return cli_usage_err("--key-threshold: not a number: %s", optarg);
			break;
		case OPT_STATUS:
			status = true;
			break;
		}
	}
	if (cli_operand_none(argc, argv) != 0)
		return CLI_EXIT_ERROR;
	if (shares < 1 || shares > 255 || threshold < 1 || threshold > shares)
		return cli_usage_err("need 1 <= key-threshold <= key-shares <= 255");
	r = cli_client(&c);
	if (r < 0)
		goto out;
	if (status) {
		r = operator_init_status(c);
		client_free(c);
		return r;
	}
	body = json_pack("{s:I, s:I}", "secret_shares", (json_int_t)shares, "secret_threshold",
	                 (json_int_t)threshold);
	if (!body) {
		r = CF_ENOMEM;
		cli_err("out of memory");
		goto out;
	}
	r = cli_call(c, "PUT", "sys/init", NULL, body, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	keys = json_object_get(resp.json, "keys_base64");
	if (!json_is_array(keys))
		keys = json_object_get(resp.json, "keys");
	for (i = 0; i < json_array_size(keys); i++) {
		k = json_array_get(keys, i);
		printf("Unseal Key %zu: %s\n", i + 1, json_string_value(k));
	}
	printf("\nInitial Root Token: %s\n\n", operator_str(resp.json, "root_token", ""));
	printf("coffer initialized with %lld key shares and a key threshold of %lld. Please\n"
	       "securely distribute the key shares printed above. When the server is\n"
	       "re-sealed, restarted, or stopped, you must supply at least %lld of these keys\n"
	       "to unseal it before it can start servicing requests.\n\n"
	       "coffer does not store the unseal key. New unseal key shares can be made,\n"
	       "while the server is unsealed, from at least %lld of these keys: see\n"
	       "`coffer operator rekey`. A lost root token is replaced with `coffer\n"
	       "operator generate-root`, which needs the same quorum.\n",
	       shares, threshold, threshold, threshold);
out:
	json_decref(body);
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

static const char unseal_usage[] =
        "Usage: coffer operator unseal [KEY]\n"
        "       coffer operator unseal --reset\n\n"
        "Provides one unseal key share (hex or base64). Without KEY it is read from the\n"
        "terminal without echo, or from stdin. Prints the seal status afterwards.\n\n"
        "  --reset                discard the shares provided so far\n";

static int
operator_unseal(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"reset", no_argument, NULL, OPT_RESET},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	struct client *c = NULL;
	char key[UNSEAL_KEY_MAX];
	json_t *body = NULL;
	bool reset = false;
	int o, r;

	key[0] = '\0';
	while ((o = cli_getopt(argc, argv, opts, unseal_usage)) != -1) {
		if (o == OPT_RESET)
			reset = true;
	}
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (reset && optind < argc)
		return cli_usage_err("--reset takes no KEY");
	if (!reset) {
		r = operator_read_key(argc, argv, key, sizeof(key));
		if (r < 0)
			goto out;
	}
	r = cli_client(&c);
	if (r < 0)
		goto out;
	body = reset ? json_pack("{s:b}", "reset", 1) : json_pack("{s:s}", "key", key);
	if (!body) {
		r = CF_EINVAL;
		cli_err("unseal key is not valid text");
		goto out;
	}
	r = cli_call(c, "PUT", "sys/unseal", NULL, body, &resp);
	if (r < 0)
		goto out;
	print_status(resp.json);
out:
	secmem_wipe(key, sizeof(key));
	json_decref(body);
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

/* A subcommand that takes only the common options and no operands. */
static int
no_operands(int argc, char **argv, const char *usage)
{
	cli_getopt_common(argc, argv, usage);
	return cli_operand_none(argc, argv);
}

static const char seal_usage[] =
        "Usage: coffer operator seal\n\n"
        "Seals the server: it forgets its keys and answers 503 until unsealed again.\n";

static int
operator_seal(int argc, char **argv)
{
	struct client_resp resp = {0};
	struct client *c = NULL;
	int r;

	if (no_operands(argc, argv, seal_usage) != 0)
		return CLI_EXIT_ERROR;
	r = cli_client(&c);
	if (r < 0)
		goto out;
	r = cli_call(c, "PUT", "sys/seal", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! coffer is sealed.");
out:
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

static const char status_usage[] =
        "Usage: coffer operator status\n\n"
        "Prints the seal status. Exit status: 0 unsealed, 2 sealed or error.\n";

static int
operator_status(int argc, char **argv)
{
	struct client_resp resp = {0};
	struct client *c = NULL;
	bool sealed = true;
	int r;

	if (no_operands(argc, argv, status_usage) != 0)
		return CLI_EXIT_ERROR;
	r = cli_client(&c);
	if (r < 0)
		goto out;
	r = cli_call(c, "GET", "sys/seal-status", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	sealed = !json_is_false(json_object_get(resp.json, "sealed"));
	print_status(resp.json);
out:
	client_resp_clear(&resp);
	client_free(c);
	if (r < 0 || sealed)
		return CLI_EXIT_ERROR;
	return CLI_EXIT_OK;
}

static const char rotate_usage[] =
        "Usage: coffer operator rotate\n\n"
        "Adds a new barrier encryption key term (old terms still decrypt) and prints\n"
        "the key status.\n";

static int
operator_rotate(int argc, char **argv)
{
	struct client_resp resp = {0};
	struct client *c = NULL;
	struct table *t;
	json_t *ks;
	char buf[32];
	int r;

	if (no_operands(argc, argv, rotate_usage) != 0)
		return CLI_EXIT_ERROR;
	r = cli_client(&c);
	if (r < 0)
		goto out;
	r = cli_call(c, "PUT", "sys/rotate", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	client_resp_clear(&resp);
	r = cli_call(c, "GET", "sys/key-status", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
		goto out;
	}
	ks = client_resp_data(&resp);
	printf("Success! Rotated key\n\n");
	t = table_new(2, kv_headers);
	operator_add_int(t, "Key Term", ks, "term");
	table_add_kv(t, "Install Time", operator_str(ks, "install_time", ""));
	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(ks, "encryptions")));
	table_add_kv(t, "Encryption Count", buf);
	table_print(t, stdout);
	table_free(t);
out:
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

static const char reencrypt_usage[] =
        "Usage: coffer operator reencrypt [--batch-size=N] [--interval=DUR]\n"
        "       coffer operator reencrypt --status\n"
        "       coffer operator reencrypt --retire\n\n"
        "Re-encrypts every stored entry under the newest barrier key term, in the\n"
        "background (sys/rotate/reencrypt); run `coffer operator rotate` first. The\n"
        "job survives restarts. --status shows its progress; --retire drops the old\n"
        "key terms once no entry uses them (sys/rotate/retire).\n\n"
        "  --batch-size=N     entries per storage transaction (default 256)\n"
        "  --interval=DUR     pause between batches, to spare a busy server (default 0)\n";

static int
operator_reencrypt(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"status", no_argument, NULL, OPT_STATUS},
	        {"retire", no_argument, NULL, OPT_RETIRE},
	        {"batch-size", required_argument, NULL, OPT_BATCH},
	        {"interval", required_argument, NULL, OPT_INTERVAL},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	struct client_resp resp = {0};
	bool status = false, retire = false;
	json_t *body = json_object(), *data;
	int o, r;

	if (!body)
		cli_oom();
	while ((o = cli_getopt(argc, argv, opts, reencrypt_usage)) != -1) {
		switch (o) {
		case OPT_STATUS:
			status = true;
			break;
		case OPT_RETIRE:
			retire = true;
			break;
		case OPT_BATCH:
			cli_json_set(body, "batch_size", json_string(optarg));
			break;
		case OPT_INTERVAL:
			cli_json_set(body, "interval", json_string(optarg));
			break;
		}
	}
	if (optind != argc || (status && retire) ||
	    ((status || retire) && json_object_size(body) > 0)) {
		json_decref(body);
		return cli_usage_err("--status and --retire take no other option or operand");
	}
	if (status)
		r = cli_request("GET", "sys/rotate/reencrypt", NULL, NULL, &resp);
	else
		r = cli_request("PUT", retire ? "sys/rotate/retire" : "sys/rotate/reencrypt", NULL,
		                body, &resp);
	json_decref(body);
	if (r < 0)
		goto out;
	data = client_resp_data(&resp);
	if (arg_format == CLI_FORMAT_JSON) {
		output_json(resp.json);
	} else if (retire) {
		printf("Success! retired %" JSON_INTEGER_FORMAT
		       " key term(s); oldest term is now %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(data, "retired")),
		       json_integer_value(json_object_get(data, "oldest_term")));
	} else {
		output_warnings(resp.json);
		output_kv(data, 0);
	}
out:
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char step_down_usage[] =
        "Usage: coffer operator step-down\n\n"
        "Asks the active node to step down (a no-op on a single node).\n";

static int
operator_step_down(int argc, char **argv)
{
	struct client_resp resp = {0};
	struct client *c = NULL;
	int r;

	if (no_operands(argc, argv, step_down_usage) != 0)
		return CLI_EXIT_ERROR;
	r = cli_client(&c);
	if (r < 0)
		goto out;
	r = cli_call(c, "PUT", "sys/step-down", NULL, NULL, &resp);
	if (r < 0)
		goto out;
	cli_success("Success! Stepped down: %s", client_address(c));
out:
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

static const struct cli_cmd operator_cmds[] = {
        {"init", operator_init, "initialize the server, print unseal keys and root token"},
        {"unseal", operator_unseal, "provide an unseal key share"},
        {"seal", operator_seal, "seal the server"},
        {"status", operator_status, "print the seal status (exit 2 when sealed)"},
        {"rotate", operator_rotate, "rotate the barrier encryption key"},
        {"reencrypt", operator_reencrypt,
         "re-encrypt all data under the newest key; retire old keys"},
        {"step-down", operator_step_down, "make the active node step down"},
        {"rekey", operator_rekey_main, "replace the unseal key shares using a quorum of them"},
        {"generate-root", operator_generate_root_main,
         "generate a new root token from a quorum of unseal key shares"},
        {"migrate", operator_migrate_main,
         "copy a stopped server's storage (sealed) to another backend"},
        {NULL, NULL, NULL},
};

int
operator_main(int argc, char **argv)
{
	return cli_dispatch("operator", operator_cmds, argc, argv);
}
