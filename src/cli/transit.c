/* transit.c - `coffer transit encrypt|decrypt|rotate KEY` over a transit mount
 * (Vault's transit API). The commands do the base64 the API wants: encrypt takes the
 * plaintext as given, decrypt prints it decoded. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_MOUNT = CLI_OPT_LOCAL,
	OPT_CONTEXT,
};

#define TRANSIT_CLI_MAX_INPUT (32u * 1024 * 1024) /* the server's body cap */

static const char *arg_mount = "transit";
static const char *arg_context;

/* clang-format off */
#define TRANSIT_OPTIONS \
	{ "mount", required_argument, NULL, OPT_MOUNT }, \
	{ "context", required_argument, NULL, OPT_CONTEXT }
/* clang-format on */

static void
transit_opt(int o)
{
	if (o == OPT_MOUNT)
		arg_mount = optarg;
	else if (o == OPT_CONTEXT)
		arg_context = optarg;
}

/* "<mount>/<verb>/<key><suffix>" without doubled slashes. */
static void
transit_path(char *buf, size_t len, const char *verb, const char *key, const char *suffix)
{
	size_t n = strlen(arg_mount);

	while (n > 0 && arg_mount[n - 1] == '/')
		n--;
	if ((size_t)snprintf(buf, len, "%.*s/%s/%s%s", (int)n, arg_mount, verb, key, suffix) >=
	    len) {
		cli_usage_err("KEY or --mount is too long");
		exit(CLI_EXIT_ERROR);
	}
}

/* Adds base64(--context) to body. */
static void
transit_add_context(json_t *body)
{
	char *b64;

	if (!arg_context)
		return;
	b64 = util_b64_encode(arg_context, strlen(arg_context));
	if (!b64)
		cli_oom();
	cli_json_set(body, "context", json_string(b64));
	free(b64);
}

/* Reads all of stdin (less than TRANSIT_CLI_MAX_INPUT bytes). Returns a malloc'd
 * buffer, or NULL on a read error or when the input is too long. */
static uint8_t *
read_stdin(size_t *ret_len)
{
	struct buf b = BUF_INIT(TRANSIT_CLI_MAX_INPUT - 1, BUF_SECRET);
	uint8_t chunk[4096];
	char *p = NULL;
	ssize_t got;
	int r = 0;

	for (;;) {
		got = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (got < 0)
			r = CF_EIO;
		if (got <= 0)
			break;
		r = buf_append(&b, chunk, (size_t)got);
		if (r == CF_ENOMEM)
			cli_oom();
		if (r < 0)
			break;
	}
	secmem_wipe(chunk, sizeof(chunk));
	if (r == 0 && buf_detach(&b, &p, ret_len) < 0)
		cli_oom();
	buf_free(&b);
	return (uint8_t *)p;
}

static const char encrypt_usage[] =
        "Usage: coffer transit encrypt [--mount=PATH] [--context=TEXT] KEY [PLAINTEXT|-]\n\n"
        "Encrypts PLAINTEXT (or all of stdin, for - or no operand) with transit key KEY\n"
        "and prints the ciphertext (vault:v<N>:...). The plaintext is base64-encoded for\n"
        "the API by this command. A missing key is created (aes256-gcm96) when the\n"
        "token may create it.\n\n"
        "  --mount=PATH     the transit mount (default transit)\n"
        "  --context=TEXT   key derivation context (derived keys)\n";

static int
transit_encrypt(int argc, char **argv)
{
	static const struct option opts[] = {TRANSIT_OPTIONS, CLI_COMMON_OPTIONS, {0}};
	struct client_resp resp = {0};
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char path[1024], *b64;
	const char *ct;
	json_t *body;
	int o, r, nops;

	while ((o = cli_getopt(argc, argv, opts, encrypt_usage)) != -1)
		transit_opt(o);
	nops = argc - optind;
	if (nops < 1)
		return cli_usage_err("missing KEY");
	if (nops > 2)
		return cli_usage_err("too many arguments");
	if (nops == 1 || strcmp(argv[optind + 1], "-") == 0) {
		pt = read_stdin(&ptlen);
		if (!pt) {
			cli_err("could not read the plaintext from stdin (at most 32 MiB)");
			return CLI_EXIT_ERROR;
		}
	} else {
		ptlen = strlen(argv[optind + 1]);
		pt = (uint8_t *)cli_strdup(argv[optind + 1]);
		secmem_wipe(argv[optind + 1], ptlen);
	}
	b64 = util_b64_encode(pt, ptlen);
	secmem_free(pt, ptlen);
	if (!b64)
		cli_oom();
	body = json_object();
	if (!body)
		cli_oom();
	cli_json_set(body, "plaintext", json_string(b64));
	secmem_free_str(b64);
	transit_add_context(body);
	transit_path(path, sizeof(path), "encrypt", argv[optind], "");
	r = cli_request("POST", path, NULL, body, &resp);
	if (r == 0) {
		if (arg_format == CLI_FORMAT_JSON) {
			output_json(resp.json);
		} else {
			ct = json_string_value(
			        json_object_get(json_object_get(resp.json, "data"), "ciphertext"));
			if (ct)
				printf("%s\n", ct);
			else
				cli_err("the answer has no ciphertext");
			r = ct ? 0 : -1;
		}
	}
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char decrypt_usage[] =
        "Usage: coffer transit decrypt [--mount=PATH] [--context=TEXT] KEY CIPHERTEXT\n\n"
        "Decrypts CIPHERTEXT (vault:v<N>:..., or - to read it from stdin) with transit\n"
        "key KEY and prints the plaintext, decoded from base64. A newline is added only\n"
        "when stdout is a terminal.\n\n"
        "  --mount=PATH     the transit mount (default transit)\n"
        "  --context=TEXT   key derivation context (derived keys)\n";

static int
transit_decrypt(int argc, char **argv)
{
	static const struct option opts[] = {TRANSIT_OPTIONS, CLI_COMMON_OPTIONS, {0}};
	struct client_resp resp = {0};
	uint8_t *in = NULL, *pt = NULL;
	size_t inlen = 0, ptlen = 0;
	char path[1024], *ct;
	const char *b64;
	json_t *body;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, decrypt_usage)) != -1)
		transit_opt(o);
	if (argc - optind < 2)
		return cli_usage_err(argc - optind < 1 ? "missing KEY" : "missing CIPHERTEXT");
	if (argc - optind > 2)
		return cli_usage_err("too many arguments");
	if (strcmp(argv[optind + 1], "-") == 0) {
		in = read_stdin(&inlen);
		if (!in) {
			cli_err("could not read the ciphertext from stdin");
			return CLI_EXIT_ERROR;
		}
		while (inlen > 0 &&
		       (in[inlen - 1] == '\n' || in[inlen - 1] == '\r' || in[inlen - 1] == ' '))
			inlen--;
		ct = malloc(inlen + 1);
		if (!ct)
			cli_oom();
		memcpy(ct, in, inlen);
		ct[inlen] = '\0';
		free(in);
	} else {
		ct = cli_strdup(argv[optind + 1]);
	}
	body = json_object();
	if (!body)
		cli_oom();
	cli_json_set(body, "ciphertext", json_string(ct));
	free(ct);
	transit_add_context(body);
	transit_path(path, sizeof(path), "decrypt", argv[optind], "");
	r = cli_request("POST", path, NULL, body, &resp);
	if (r == 0) {
		if (arg_format == CLI_FORMAT_JSON) {
			output_json(resp.json);
		} else {
			b64 = json_string_value(
			        json_object_get(json_object_get(resp.json, "data"), "plaintext"));
			if (!b64 || util_b64_decode(b64, &pt, &ptlen) < 0) {
				cli_err("the answer has no valid plaintext");
				r = -1;
			} else {
				fwrite(pt, 1, ptlen, stdout);
				if (isatty(STDOUT_FILENO))
					fputc('\n', stdout);
				secmem_free(pt, ptlen);
			}
		}
	}
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const char rotate_usage[] =
        "Usage: coffer transit rotate [--mount=PATH] KEY\n\n"
        "Adds a new version of transit key KEY; new encryptions use it, older\n"
        "ciphertexts still decrypt (down to min_decryption_version).\n\n"
        "  --mount=PATH     the transit mount (default transit)\n";

static int
transit_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"mount", required_argument, NULL, OPT_MOUNT}, CLI_COMMON_OPTIONS, {0}};
	struct client_resp resp = {0};
	char path[1024];
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, rotate_usage)) != -1)
		transit_opt(o);
	if (cli_operand_one(argc, "KEY") < 0)
		return CLI_EXIT_ERROR;
	transit_path(path, sizeof(path), "keys", argv[optind], "/rotate");
	r = cli_request("POST", path, NULL, NULL, &resp);
	if (r == 0)
		cli_success("Success! Rotated key %s", argv[optind]);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd transit_cmds[] = {
        {"encrypt", transit_encrypt, "encrypt data with a transit key"},
        {"decrypt", transit_decrypt, "decrypt a transit ciphertext"},
        {"rotate", transit_rotate, "add a new version of a transit key"},
        {NULL, NULL, NULL},
};

int
transit_main(int argc, char **argv)
{
	return cli_dispatch("transit", transit_cmds, argc, argv);
}
