/* srp.c - coffer srp register: enrols a user of the srp auth method
 * (docs/internals/auth.md, SRP) without the password ever reaching the server. The CLI
 * draws the salt, computes the verifier from the password typed here and posts
 * only the pair to auth/<path>/users/<name>. */
#include "crypto/srp6a.h"
#include "auth/srp/srp.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

enum {
	OPT_PATH = CLI_OPT_LOCAL,
};

static const char register_usage[] =
        "Usage: coffer srp register [--path=MOUNT] USERNAME [KEY=VALUE ...]\n\n"
        "Registers USERNAME with the srp auth method, or gives it a new password.\n"
        "Prompts for the password (twice on a terminal; one line from standard\n"
        "input otherwise), draws a random 32-byte salt, computes the SRP verifier\n"
        "here and posts the salt and verifier: the password never leaves this\n"
        "process. KEY=VALUE operands add the user's token fields, e.g.\n"
        "token_policies=dev,ops token_ttl=1h. Needs a token with create/update on\n"
        "auth/MOUNT/users/USERNAME.\n\n"
        "  --path=MOUNT   the mount of the srp method (default: srp)\n";

/* The mount path without "auth/" and slashes: "auth/srp/" -> "srp". */
static char *
bare_mount(const char *m)
{
	char *p;
	size_t n;

	while (*m == '/')
		m++;
	if (strncmp(m, "auth/", 5) == 0)
		m += 5;
	p = cli_strdup(m);
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	return p;
}

static int
read_password(char *buf, size_t len)
{
	char again[PASSWORD_MAX];
	int r;

	r = cli_read_secret_line("Password (will be hidden): ", buf, len);
	if (r < 0) {
		cli_err("no password given");
		return r;
	}
	if (!isatty(STDIN_FILENO))
		return 0;
	r = cli_read_secret_line("Password again: ", again, sizeof(again));
	if (r == 0 && strcmp(again, buf) != 0)
		r = CF_EINVAL;
	secmem_wipe(again, sizeof(again));
	if (r < 0)
		cli_err("the passwords do not match");
	return r;
}

static int
srp_register(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"path", required_argument, NULL, OPT_PATH},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	const struct srp6a_group *grp = srp6a_group_default();
	struct client_resp resp = {0};
	const char *mount = "srp", *user;
	char password[PASSWORD_MAX], hex[2 * SRP_N_BYTES + 1], *bare = NULL, *path = NULL;
	uint8_t salt[SRP_SALT_BYTES], x[SRP_HASH_BYTES], v[SRP_N_BYTES];
	json_t *body = NULL;
	size_t n;
	int o, r = CF_EINVAL;

	while ((o = cli_getopt(argc, argv, opts, register_usage)) != -1)
		if (o == OPT_PATH)
			mount = optarg;
	if (optind >= argc)
		return cli_usage_err("missing USERNAME");
	user = argv[optind];
	if (!srp_parse_username(user))
		return cli_usage_err("invalid USERNAME \"%s\": lowercase letters, digits and "
		                     "._@+- only, starting with a letter or digit",
		                     user);
	if (!grp)
		cli_oom();
	body = json_object();
	if (!body)
		cli_oom();
	for (int i = optind + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char *key;
		if (!eq || eq == argv[i]) {
			json_decref(body);
			return cli_usage_err("expected KEY=VALUE, not \"%s\"", argv[i]);
		}
		key = cli_strdup(argv[i]);
		key[eq - argv[i]] = '\0';
		if (strcmp(key, "salt") == 0 || strcmp(key, "verifier") == 0) {
			free(key); /* not secret: the name of a KEY=VALUE operand */
			json_decref(body);
			return cli_usage_err("the salt and verifier are computed here");
		}
		cli_json_set(body, key, json_string(eq + 1));
		free(key); /* not secret: the name of a KEY=VALUE operand */
	}

	r = read_password(password, sizeof(password));
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    srp6a_x(grp, salt, sizeof(salt), user, strlen(user), password, strlen(password), x) !=
	            0 ||
	    srp6a_pow_g(grp, x, sizeof(x), v) != 0) {
		cli_err("cannot compute the SRP verifier");
		goto out;
	}
	secmem_wipe(password, sizeof(password));
	util_hex(salt, sizeof(salt), hex);
	cli_json_set(body, "salt", json_string(hex));
	util_hex(v, sizeof(v), hex);
	cli_json_set(body, "verifier", json_string(hex));

	bare = bare_mount(mount);
	n = strlen(bare) + strlen(user) + sizeof("auth//users/");
	path = malloc(n);
	if (!path)
		cli_oom();
	snprintf(path, n, "auth/%s/users/%s", bare, user);
	r = cli_request("POST", path, NULL, body, &resp);
	if (r == 0)
		cli_success("Success! Registered %s at auth/%s/ (the password stayed here)", user,
		            bare);
out:
	secmem_wipe(password, sizeof(password));
	secmem_wipe(x, sizeof(x));
	secmem_wipe(v, sizeof(v));
	secmem_wipe(hex, sizeof(hex));
	json_decref(body);
	client_resp_clear(&resp);
	free(bare);
	free(path);
	return cli_exit(r);
}

static const struct cli_cmd srp_cmds[] = {
        {"register", srp_register, "register a user (salt + verifier computed here)"},
        {NULL, NULL, NULL},
};

int
srp_main(int argc, char **argv)
{
	return cli_dispatch("srp", srp_cmds, argc, argv);
}
