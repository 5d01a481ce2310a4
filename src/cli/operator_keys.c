/* operator_keys.c - `coffer operator rekey` and `coffer operator generate-root`,
 * the unseal-key operations that take a quorum of shares (Vault's commands of
 * the same names and flags; the sys/rekey and sys/generate-root endpoints answer
 * raw JSON, no envelope). Shares are read as `operator unseal` reads them: the
 * KEY operand, or "-" / no operand for a hidden prompt or a line of stdin. */
#include "cli/cli.h"
#include "cli/args.h"
#include "cli/client.h"
#include "cli/operator.h"
#include "cli/output.h"
#include "cli/table.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_TEXT_MAX 1024
/* The OTP and root token length of sys/generate-root (core/token.h). */
#define OTP_LEN 28

static const char *const kv_headers[] = {"Key", "Value"};

enum {
	OPT_INIT = CLI_OPT_LOCAL,
	OPT_STATUS,
	OPT_CANCEL,
	OPT_NONCE,
	OPT_SHARES,
	OPT_THRESHOLD,
	OPT_VERIFY,
	OPT_DECODE,
	OPT_OTP,
	OPT_GENERATE_OTP,
	OPT_PGP,
};

static void
add_str(struct table *t, const char *name, const json_t *obj, const char *key)
{
	table_add_kv(t, name, operator_str(obj, key, ""));
}

static void
add_progress(struct table *t, const char *name, const json_t *obj, const char *of)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(obj, "progress")),
	         json_integer_value(json_object_get(obj, of)));
	table_add_kv(t, name, buf);
}

/* The nonce of the operation in progress at status_path (field), when the user
 * gave none. Returns a new string, or NULL with the error printed. */
static char *
current_nonce(struct client *c, const char *status_path, const char *hint)
{
	struct client_resp resp = {0};
	char *nonce = NULL;
	const char *n;

	if (cli_call(c, "GET", status_path, NULL, NULL, &resp) < 0)
		return NULL;
	n = operator_str(resp.json, "nonce", "");
	if (!*n || json_is_false(json_object_get(resp.json, "started")))
		cli_err("%s", hint);
	else
		nonce = cli_strdup(n);
	client_resp_clear(&resp);
	return nonce;
}

/* Sends one share with its nonce to api (PUT) and leaves the answer in resp.
 * Without nonce_arg the nonce is read from status_path; hint is the error when
 * no operation is in progress there. 0, or a negative CF_E* code (printed). */
static int
share_put(struct client *c, const char *api, const char *status_path, const char *hint,
          const char *key, const char *nonce_arg, struct client_resp *resp)
{
	char *nonce = NULL;
	json_t *body = NULL;
	int r;

	if (nonce_arg) {
		nonce = cli_strdup(nonce_arg);
	} else {
		nonce = current_nonce(c, status_path, hint);
		if (!nonce)
			return CF_EINVAL;
	}
	body = json_pack("{s:s, s:s}", "key", key, "nonce", nonce);
	if (!body) {
		cli_err("unseal key is not valid text");
		r = CF_EINVAL;
		goto out;
	}
	r = cli_call(c, "PUT", api, NULL, body, resp);
out:
	json_decref(body); /* jansson frees with the zeroing allocator */
	free(nonce);
	return r;
}

/* ---- operator rekey ---- */

static const char rekey_usage[] =
        "Usage: coffer operator rekey --init [--key-shares=N] [--key-threshold=T] [--verify]\n"
        "       coffer operator rekey [--nonce=NONCE] [--verify] [KEY | -]\n"
        "       coffer operator rekey --status [--verify]\n"
        "       coffer operator rekey --cancel [--verify]\n\n"
        "Replaces the unseal key shares with new ones (sys/rekey): start with --init,\n"
        "then run it once per current share until the threshold is reached; the new\n"
        "shares are printed and the old ones stop working. The server must be unsealed.\n"
        "KEY is read from the terminal without echo, or from stdin, when absent or \"-\".\n"
        "Flags may also be written with one dash, as Vault's (-init).\n\n"
        "  --init                 start a rekey\n"
        "  --key-shares=N         number of new shares (default 5)\n"
        "  --key-threshold=T      new shares needed to unseal (default 3)\n"
        "  --verify               with --init: the new shares take effect only once a\n"
        "                         threshold of them is given back with --verify; with a\n"
        "                         KEY, --status or --cancel: act on that verification\n"
        "  --nonce=NONCE          nonce of the operation (default: read from the server)\n"
        "  --status               print the progress of the rekey\n"
        "  --cancel               cancel the rekey (or, with --verify, restart the\n"
        "                         verification); the current shares stay valid\n";

static void
print_rekey_status(const json_t *st, bool verify)
{
	struct table *t = table_new(2, kv_headers);

	add_str(t, "Nonce", st, "nonce");
	if (verify) {
		operator_add_bool(t, "Started", st, "started");
		operator_add_int(t, "New Shares", st, "n");
		operator_add_int(t, "New Threshold", st, "t");
		add_progress(t, "Verification Progress", st, "t");
	} else {
		operator_add_bool(t, "Started", st, "started");
		add_progress(t, "Rekey Progress", st, "required");
		operator_add_int(t, "New Shares", st, "n");
		operator_add_int(t, "New Threshold", st, "t");
		operator_add_bool(t, "Verification Required", st, "verification_required");
		if (json_object_get(st, "verification_nonce"))
			add_str(t, "Verification Nonce", st, "verification_nonce");
	}
	table_print(t, stdout);
	table_free(t);
}

static void
print_rekey_done(const json_t *res)
{
	json_t *keys = json_object_get(res, "keys_base64");
	size_t i;

	if (!json_is_array(keys))
		keys = json_object_get(res, "keys");
	for (i = 0; i < json_array_size(keys); i++)
		printf("Key %zu: %s\n", i + 1, json_string_value(json_array_get(keys, i)));
	printf("\nOperation nonce: %s\n\n", operator_str(res, "nonce", ""));
	if (json_is_true(json_object_get(res, "verification_required"))) {
		printf("coffer has created %zu new key shares, but they are NOT active yet: the\n"
		       "current shares still unseal the server. Give a threshold of the NEW "
		       "shares\n"
		       "back with `coffer operator rekey --verify --nonce=%s`\n"
		       "to make them take effect.\n",
		       json_array_size(keys), operator_str(res, "verification_nonce", ""));
	} else {
		printf("coffer unseal keys rekeyed with %zu key shares. Please securely "
		       "distribute\n"
		       "the key shares printed above; the previous shares no longer unseal the\n"
		       "server.\n",
		       json_array_size(keys));
	}
}

/* Sends one share to sys/rekey/update (or verify) and prints the outcome. */
static int
rekey_submit(struct client *c, const char *key, const char *nonce_arg, bool verify)
{
	struct client_resp resp = {0};
	int r;

	r = share_put(c, verify ? "sys/rekey/verify" : "sys/rekey/update",
	              verify ? "sys/rekey/verify" : "sys/rekey/init",
	              "no rekey in progress: start one with --init", key, nonce_arg, &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else if (!json_is_true(json_object_get(resp.json, "complete")))
		print_rekey_status(resp.json, verify);
	else if (verify)
		cli_success("Success! Rekey verified: the new unseal key shares are now in use "
		            "(nonce %s).",
		            operator_str(resp.json, "nonce", ""));
	else
		print_rekey_done(resp.json);
out:
	client_resp_clear(&resp);
	return r;
}

int
operator_rekey_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"init", no_argument, NULL, OPT_INIT},
	        {"status", no_argument, NULL, OPT_STATUS},
	        {"cancel", no_argument, NULL, OPT_CANCEL},
	        {"nonce", required_argument, NULL, OPT_NONCE},
	        {"key-shares", required_argument, NULL, OPT_SHARES},
	        {"key-threshold", required_argument, NULL, OPT_THRESHOLD},
	        {"verify", no_argument, NULL, OPT_VERIFY},
	        {"pgp-keys", required_argument, NULL, OPT_PGP},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	bool init = false, status = false, cancel = false, verify = false;
	long long shares = 5, threshold = 3;
	struct client_resp resp = {0};
	struct client *c = NULL;
	const char *nonce = NULL;
	char key[KEY_TEXT_MAX];
	json_t *body = NULL;
	int o, r, modes;

	key[0] = '\0';
	while ((o = cli_getopt(argc, argv, opts, rekey_usage)) != -1) {
		switch (o) {
		case OPT_INIT:
			init = true;
			break;
		case OPT_STATUS:
			status = true;
			break;
		case OPT_CANCEL:
			cancel = true;
			break;
		case OPT_VERIFY:
			verify = true;
			break;
		case OPT_NONCE:
			nonce = optarg;
			break;
		case OPT_SHARES:
			if (args_parse_uint(optarg, &shares) < 0)
				return cli_usage_err("--key-shares: not a number: %s", optarg);
			break;
		case OPT_THRESHOLD:
			if (args_parse_uint(optarg, &threshold) < 0)
				return cli_usage_err("--key-threshold: not a number: %s", optarg);
			break;
		case OPT_PGP:
			return cli_usage_err(
			        "--pgp-keys: PGP-encrypted unseal keys are not supported");
		}
	}
	modes = init + status + cancel;
	if (modes > 1)
		return cli_usage_err("--init, --status and --cancel exclude each other");
	if (modes == 1 && optind < argc)
		return cli_usage_err("--init, --status and --cancel take no KEY");
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (init && (shares < 1 || shares > 255 || threshold < 1 || threshold > shares ||
	             (shares > 1 && threshold < 2)))
		return cli_usage_err("need 1 <= key-threshold <= key-shares <= 255, and a "
		                     "threshold of at least 2 when there is more than one share");
	if (modes == 0 && operator_read_key(argc, argv, key, sizeof(key)) < 0) {
		r = CF_EINVAL;
		goto out;
	}
	r = cli_client(&c);
	if (r < 0)
		goto out;
	if (modes == 0) {
		r = rekey_submit(c, key, nonce, verify);
		goto out;
	}
	if (init) {
		body = json_pack("{s:I, s:I, s:b}", "secret_shares", (json_int_t)shares,
		                 "secret_threshold", (json_int_t)threshold, "require_verification",
		                 verify);
		if (!body)
			cli_oom();
		r = cli_call(c, "PUT", "sys/rekey/init", NULL, body, &resp);
		verify = false; /* the answer is the rekey's status */
	} else if (status) {
		r = cli_call(c, "GET", verify ? "sys/rekey/verify" : "sys/rekey/init", NULL, NULL,
		             &resp);
	} else {
		if (nonce) {
			body = json_pack("{s:s}", "nonce", nonce);
			if (!body)
				cli_oom();
		}
		r = cli_call(c, "DELETE", verify ? "sys/rekey/verify" : "sys/rekey/init", NULL,
		             body, &resp);
		if (r == 0 && !verify) {
			cli_success("Success! Canceled rekeying (if it was started)");
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else
		print_rekey_status(resp.json, verify);
out:
	secmem_wipe(key, sizeof(key));
	json_decref(body);
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}

/* ---- operator generate-root ---- */

static const char genroot_usage[] =
        "Usage: coffer operator generate-root --init [--otp=OTP]\n"
        "       coffer operator generate-root [--nonce=NONCE] [KEY | -]\n"
        "       coffer operator generate-root --status\n"
        "       coffer operator generate-root --cancel\n"
        "       coffer operator generate-root --decode=ENCODED --otp=OTP\n"
        "       coffer operator generate-root --generate-otp\n\n"
        "Generates a new root token from a quorum of unseal key shares\n"
        "(sys/generate-root), as after losing or revoking every root token. --init\n"
        "prints a one-time password (OTP) once: keep it. Then run the command once per\n"
        "share; the last one prints the encoded token, which --decode turns back into\n"
        "the token with the OTP. KEY is read from the terminal without echo, or from\n"
        "stdin, when absent or \"-\". Flags may also be written with one dash (-init).\n\n"
        "  --init                 start a root token generation\n"
        "  --otp=OTP              with --init: use this OTP (28 characters) instead of\n"
        "                         one from the server; with --decode: the OTP to use\n"
        "  --nonce=NONCE          nonce of the attempt (default: read from the server)\n"
        "  --status               print the progress of the attempt\n"
        "  --cancel               cancel the attempt\n"
        "  --decode=ENCODED       print the root token encoded as ENCODED (\"-\": stdin)\n"
        "  --generate-otp         print a new OTP, for --init --otp\n";

static void
print_genroot_status(const json_t *st)
{
	struct table *t = table_new(2, kv_headers);

	add_str(t, "Nonce", st, "nonce");
	operator_add_bool(t, "Started", st, "started");
	add_progress(t, "Progress", st, "required");
	operator_add_bool(t, "Complete", st, "complete");
	if (*operator_str(st, "encoded_token", ""))
		add_str(t, "Encoded Token", st, "encoded_token");
	if (*operator_str(st, "otp", ""))
		add_str(t, "OTP", st, "otp");
	operator_add_int(t, "OTP Length", st, "otp_length");
	table_print(t, stdout);
	table_free(t);
}

/* Decodes Vault 1.10+'s encoded root token: base64 (padded or not) of
 * token XOR otp. Prints the token. */
static int
genroot_decode(const char *encoded, const char *otp)
{
	size_t n = strlen(encoded), olen = strlen(otp), len = 0;
	uint8_t raw[KEY_TEXT_MAX];
	char token[KEY_TEXT_MAX];
	const char *end = NULL;
	int variant = n % 4 == 0 ? sodium_base64_VARIANT_ORIGINAL
	                         : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
	int r = CF_EINVAL;

	if (sodium_base642bin(raw, sizeof(raw) - 1, encoded, n, NULL, &len, &end, variant) != 0 ||
	    end != encoded + n) {
		cli_err("--decode: the encoded token is not base64");
		goto out;
	}
	if (len != olen) {
		cli_err("--otp: the OTP has %zu characters but the encoded token %zu bytes; they "
		        "must match (was it the OTP of this attempt?)",
		        olen, len);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		token[i] = (char)(raw[i] ^ (uint8_t)otp[i]);
	token[len] = '\0';
	/* A wrong OTP gives bytes, not a token: never print them (they could hold
	 * terminal control sequences). Tokens are "hvs." and base62. */
	if (strspn(token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") !=
	    len) {
		cli_err("--decode: the result is not a token: was the OTP the one printed by "
		        "--init for this attempt?");
		goto out;
	}
	if (arg_format == CLI_FORMAT_JSON) {
		json_t *j = json_pack("{s:s}", "token", token);
		if (!j)
			cli_oom();
		output_json(j);
		json_decref(j);
	} else {
		printf("%s\n", token);
	}
	r = 0;
out:
	secmem_wipe(raw, sizeof(raw));
	secmem_wipe(token, sizeof(token));
	return r;
}

static int
genroot_submit(struct client *c, const char *key, const char *nonce_arg)
{
	struct client_resp resp = {0};
	int r;

	r = share_put(c, "sys/generate-root/update", "sys/generate-root/attempt",
	              "no root token generation in progress: start one with --init", key, nonce_arg,
	              &resp);
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else
		print_genroot_status(resp.json);
	if (arg_format != CLI_FORMAT_JSON && json_is_true(json_object_get(resp.json, "complete")))
		printf("\nDecode the token with: coffer operator generate-root "
		       "--decode=%s --otp=<OTP from --init>\n",
		       operator_str(resp.json, "encoded_token", ""));
out:
	client_resp_clear(&resp);
	return r;
}

int
operator_generate_root_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"init", no_argument, NULL, OPT_INIT},
	        {"status", no_argument, NULL, OPT_STATUS},
	        {"cancel", no_argument, NULL, OPT_CANCEL},
	        {"nonce", required_argument, NULL, OPT_NONCE},
	        {"otp", required_argument, NULL, OPT_OTP},
	        {"decode", required_argument, NULL, OPT_DECODE},
	        {"generate-otp", no_argument, NULL, OPT_GENERATE_OTP},
	        {"pgp-key", required_argument, NULL, OPT_PGP},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	bool init = false, status = false, cancel = false, gen_otp = false;
	const char *nonce = NULL, *otp = NULL, *decode = NULL;
	struct client_resp resp = {0};
	struct client *c = NULL;
	char key[KEY_TEXT_MAX], otpbuf[OTP_LEN + 1];
	json_t *body = NULL;
	int o, r, modes;

	key[0] = '\0';
	while ((o = cli_getopt(argc, argv, opts, genroot_usage)) != -1) {
		switch (o) {
		case OPT_INIT:
			init = true;
			break;
		case OPT_STATUS:
			status = true;
			break;
		case OPT_CANCEL:
			cancel = true;
			break;
		case OPT_NONCE:
			nonce = optarg;
			break;
		case OPT_OTP:
			otp = optarg;
			break;
		case OPT_DECODE:
			decode = optarg;
			break;
		case OPT_GENERATE_OTP:
			gen_otp = true;
			break;
		case OPT_PGP:
			return cli_usage_err(
			        "--pgp-key: PGP-encrypted root tokens are not supported; "
			        "use the OTP that --init prints");
		}
	}
	modes = init + status + cancel + (decode != NULL) + gen_otp;
	if (modes > 1)
		return cli_usage_err("--init, --status, --cancel, --decode and --generate-otp "
		                     "exclude each other");
	if (modes == 1 && optind < argc)
		return cli_usage_err("--init, --status, --cancel, --decode and --generate-otp "
		                     "take no KEY");
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (otp && !init && !decode)
		return cli_usage_err("--otp goes with --init or --decode");
	if (gen_otp) {
		util_random_base62(otpbuf, OTP_LEN);
		otpbuf[OTP_LEN] = '\0';
		printf("%s\n", otpbuf);
		secmem_wipe(otpbuf, sizeof(otpbuf));
		return CLI_EXIT_OK;
	}
	if (decode) {
		if (!otp)
			return cli_usage_err("--decode needs the --otp that --init printed");
		if (strcmp(decode, "-") == 0) {
			if (cli_read_secret_line("Encoded token: ", key, sizeof(key)) < 0)
				return cli_usage_err("--decode=-: no encoded token on stdin");
			decode = key;
		}
		r = genroot_decode(decode, otp);
		secmem_wipe(key, sizeof(key));
		return cli_exit(r);
	}
	if (modes == 0 && operator_read_key(argc, argv, key, sizeof(key)) < 0) {
		r = CF_EINVAL;
		goto out;
	}
	r = cli_client(&c);
	if (r < 0)
		goto out;
	if (modes == 0) {
		r = genroot_submit(c, key, nonce);
		goto out;
	}
	if (init) {
		body = otp ? json_pack("{s:s}", "otp", otp) : json_object();
		if (!body)
			cli_oom();
		r = cli_call(c, "PUT", "sys/generate-root/attempt", NULL, body, &resp);
	} else if (status) {
		r = cli_call(c, "GET", "sys/generate-root/attempt", NULL, NULL, &resp);
	} else {
		r = cli_call(c, "DELETE", "sys/generate-root/attempt", NULL, NULL, &resp);
		if (r == 0) {
			cli_success("Success! Root token generation canceled (if it was started)");
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (arg_format == CLI_FORMAT_JSON)
		output_json(resp.json);
	else
		print_genroot_status(resp.json);
out:
	secmem_wipe(key, sizeof(key));
	json_decref(body);
	client_resp_clear(&resp);
	client_free(c);
	return cli_exit(r);
}
