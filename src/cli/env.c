/* env.c - `coffer env`: the .env tools (docs/env.md). Each subcommand lives in
 * its own file; this is their table. */
#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd env_cmds[] = {
        {"parse", env_parse_main, "print a .env file's values as dotenv reads them"},
        {"encrypt", env_encrypt_main, "encrypt .env values in place (dotenvx format)"},
        {"decrypt", env_decrypt_main, "decrypt .env values in place"},
        {"get", env_get_main, "print decrypted values (one key, or all as JSON)"},
        {"set", env_set_main, "set a value, encrypted unless --plain"},
        {"keypair", env_keypair_main, "print the key pair of a .env file"},
        {"check", env_check_main, "check variables against a schema or an example file"},
        {"guard", env_guard_main, "find .env files git tracks or does not ignore"},
        {NULL, NULL, NULL},
};

int
env_main(int argc, char **argv)
{
	return cli_dispatch("env", env_cmds, argc, argv);
}
