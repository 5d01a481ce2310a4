/* cli.h - the coffer command line: command table, shared option handling and
 * the error/exit conventions (docs/cli.md).
 *
 * Every command is a `x_main(argc, argv)` in its own file, listed in a table of
 * struct cli_cmd (wireguard-tools src/wg.c). argv[0] is the command's own name.
 * A command returns the process exit status: CLI_EXIT_OK, CLI_EXIT_FINDING (a
 * failed check) or CLI_EXIT_ERROR (usage or runtime error). Errors are printed
 * by the command itself, once, as `coffer: <command>: <what went wrong>`. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct client;
struct client_resp;

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FINDING = 1,
	CLI_EXIT_ERROR = 2,
};

enum cli_format {
	CLI_FORMAT_TABLE,
	CLI_FORMAT_JSON,
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Global options, parsed by main() before the command and by every command. The
 * token is a private copy (wiped by cli_cleanup); the caller's argv copy is wiped. */
extern enum cli_format arg_format;
extern char *arg_address;
extern char *arg_token;

/* Option codes of the common options (above any ASCII short option). */
enum {
	CLI_OPT_FORMAT = 0x1000,
	CLI_OPT_ADDRESS,
	CLI_OPT_TOKEN,
	CLI_OPT_LOCAL = 0x1100, /* first code free for a command's own long options */
};

/* Appended to every command's struct option table, before the terminating {0}:
 * CLI_COMMON_OPTIONS for a command that talks to the server. An offline command
 * takes CLI_HELP_OPTION only (and its own --format, if any), a command with no
 * output format of its own but a server CLI_HELP_OPTION and CLI_SERVER_OPTIONS;
 * -h then lists just the common options the table holds (cli_help). */
/* clang-format off */
#define CLI_HELP_OPTION \
	{ "help", no_argument, NULL, 'h' }
#define CLI_SERVER_OPTIONS \
	{ "address", required_argument, NULL, CLI_OPT_ADDRESS }, \
	{ "token", required_argument, NULL, CLI_OPT_TOKEN }
#define CLI_COMMON_OPTIONS \
	CLI_HELP_OPTION, \
	{ "format", required_argument, NULL, CLI_OPT_FORMAT }, \
	CLI_SERVER_OPTIONS
/* clang-format on */

/* The name errors are reported under ("kv get"). */
void cli_set_command(const char *family, const char *sub);
const char *cli_command(void);

/* Prints `coffer: <command>: <fmt...>` and a newline to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a usage error: the line above, then a hint to run --help. Returns
 * CLI_EXIT_ERROR so callers can `return cli_usage_err(...)`. */
int cli_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints usage and then the help lines of the common options opts takes: those
 * whose name the table gives the common code first (a command's own --format
 * entry before CLI_COMMON_OPTIONS hides the common one), and -h/--help. */
void cli_help(const struct option *opts, const char *usage);
/* Applies one common option (a CLI_OPT_* code) with its value: sets arg_format,
 * arg_address or arg_token (wiping the --token argument). Returns false when c
 * is not one; exits 2 on a bad --format value. */
bool cli_common_option(int c, char *optval);

/* getopt_long_only over argv (so both --name=value and Vault's -name=value work),
 * handling the common options itself. -h/--help prints cli_help to stdout and exits 0;
 * an unknown option or a bad common value prints an error and exits 2. Returns the
 * next command-specific option, or -1 when done (optind then indexes the operands).
 * The first call on a new argv restarts the scan. */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *usage);
/* The same, stopping at the first operand (main's options before the command). */
int cli_getopt_global(int argc, char **argv, const struct option *opts, const char *usage);

/* Walks cmds for argv[1] and runs it with argv + 1; prints the family usage (built
 * from the table) for -h/--help or no subcommand. */
int cli_dispatch(const char *family, const struct cli_cmd *cmds, int argc, char **argv);

/* Creates the API client from the global options and the environment. Prints the
 * error itself; returns 0 or a negative CF_E* code. */
int cli_client(struct client **ret);
/* Performs one API request. Returns 0 for a 2xx answer (resp filled; free it with
 * client_resp_clear), else prints `coffer: cmd: <errors> (HTTP n)` and returns a
 * negative code (resp cleared). query may be NULL, body may be NULL. */
int cli_call(struct client *c, const char *method, const char *path, const char *query,
             json_t *body, struct client_resp *resp);
/* Maps a command result (0 or negative CF_E*) to an exit status. */
int cli_exit(int r);

/* Prints a "Success! ..." line to stdout, only in table format. */
void cli_success(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads one line of secret input (an unseal key): from the terminal without echo
 * after printing prompt to stderr, or from a non-terminal stdin. The newline is
 * stripped. Returns 0, or CF_EINVAL (empty, too long) / CF_EIO. */
int cli_read_secret_line(const char *prompt, char *buf, size_t len);

/* Prints "coffer: out of memory" and exits 2 (a CLI may die on OOM; the server never does). */
void cli_oom(void) __attribute__((noreturn));
/* Copies s into a fresh buffer, dying on OOM. */
char *cli_strdup(const char *s);
/* Sets obj[key] = v (stealing v), dying on OOM or when v is NULL. */
void cli_json_set(json_t *obj, const char *key, json_t *v);
/* obj[key] (borrowed), created as an empty object on first use; dies on OOM. */
json_t *cli_json_sub(json_t *obj, const char *key);

/* For commands with only the common options: runs cli_getopt over argv with the
 * common option table. */
void cli_getopt_common(int argc, char **argv, const char *usage);
/* Checks the operands left after option parsing (argv + optind). cli_operand_one
 * wants exactly one, reporting "missing <what>" or "too many arguments";
 * cli_operand_none wants none, reporting "unexpected argument". Return 0, or the
 * CLI_EXIT_ERROR of cli_usage_err. */
int cli_operand_one(int argc, const char *what);
int cli_operand_none(int argc, char **argv);

/* One API request on a fresh client (cli_client + cli_call), freeing the client
 * again. Returns 0 with *resp filled, or a negative code (error printed). */
int cli_request(const char *method, const char *path, const char *query, json_t *body,
                struct client_resp *resp);
/* Prints resp pretty with --format=json, else through print_table. */
void cli_print(const json_t *resp, void (*print_table)(const json_t *));
/* Wipes and frees the global token copy. */
void cli_cleanup(void);

/* ---- mount tables: `secrets` (sys/mounts), `auth` (sys/auth), `audit` (sys/audit) ---- */

/* `secrets list` and `auth list`: the mount table at api (sys/mounts or sys/auth)
 * as a table, or JSON with --format=json; --detailed adds TTLs and options. */
int cli_mount_list(int argc, char **argv, const char *api, const char *usage);

/* Codes of the options enable and tune share; a command's own options start at
 * CLI_MOUNT_OPT_LOCAL. */
enum {
	CLI_MOUNT_OPT_PATH = CLI_OPT_LOCAL,
	CLI_MOUNT_OPT_DESCRIPTION,
	CLI_MOUNT_OPT_DEFAULT_LEASE_TTL,
	CLI_MOUNT_OPT_MAX_LEASE_TTL,
	CLI_MOUNT_OPT_LOCAL,
};

/* --description, --default-lease-ttl and --max-lease-ttl, for an enable or tune
 * option table (enable adds --path). */
/* clang-format off */
#define CLI_MOUNT_OPTIONS \
	{ "description", required_argument, NULL, CLI_MOUNT_OPT_DESCRIPTION }, \
	{ "default-lease-ttl", required_argument, NULL, CLI_MOUNT_OPT_DEFAULT_LEASE_TTL }, \
	{ "max-lease-ttl", required_argument, NULL, CLI_MOUNT_OPT_MAX_LEASE_TTL }
/* clang-format on */

/* One enable, tune or disable command of a mount table. */
struct cli_mount_cmd {
	const char *api;     /* the table: "sys/mounts", "sys/auth" or "sys/audit" */
	bool auth;           /* auth methods: a leading "auth/" is dropped from a path,
	                      * and disable refuses the token method and "" */
	const char *operand; /* what disable calls its operand (NULL: "PATH") */
	const char *usage;
	const struct option *opts; /* enable and tune: the whole option table */
	/* Puts the command's own option o (its value in optarg) into body. Returns 0,
	 * or nonzero after printing a usage error. NULL when there are none. */
	int (*option)(int o, json_t *body);
	/* Last changes to body before it is sent to api. Returns 0, or a negative
	 * code with the error printed. NULL when there are none. */
	int (*prepare)(const char *api, json_t *body);
};

/* "<family> enable [options] TYPE": POST {type, description, config{TTLs}, own
 * options} to <api>/<path, default TYPE>. "<family> tune [options] PATH": POST
 * {description, TTLs, own options} to <api>/<path>/tune. "<family> disable PATH":
 * DELETE <api>/<path>. Each parses argv itself and returns 0 with *ret_name set to
 * the mount as listed ("secret/", free it; TYPE is argv[optind]), or a negative
 * code with the error printed; the caller prints the success line. */
int cli_mount_enable(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name);
int cli_mount_tune(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name);
int cli_mount_disable(int argc, char **argv, const struct cli_mount_cmd *cmd, char **ret_name);
/* The API path "<api>/<mount><suffix>" and the listed name "<mount>/" of the mount
 * a user named path (cleaned of slashes). Both are new strings; dies on OOM. */
void cli_mount_paths(const struct cli_mount_cmd *cmd, const char *path, const char *suffix,
                     char **ret_api, char **ret_name);

/* Command families (one file each). */
int operator_main(int argc, char **argv);
/* operator_keys.c: `operator rekey` and `operator generate-root`. */
int operator_rekey_main(int argc, char **argv);
int operator_generate_root_main(int argc, char **argv);
/* operator_migrate.c: `operator migrate` (offline, storage to storage). */
int operator_migrate_main(int argc, char **argv);
int kv_main(int argc, char **argv);
int generic_read_main(int argc, char **argv);
int generic_write_main(int argc, char **argv);
int generic_list_main(int argc, char **argv);
int generic_delete_main(int argc, char **argv);
int generic_unwrap_main(int argc, char **argv);
int token_main(int argc, char **argv);
int lease_main(int argc, char **argv);
int rotation_main(int argc, char **argv);
int transit_main(int argc, char **argv);
int pki_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int secrets_main(int argc, char **argv);
int audit_main(int argc, char **argv);
int auth_main(int argc, char **argv);
int login_main(int argc, char **argv);
int srp_main(int argc, char **argv);
int notify_main(int argc, char **argv);
int events_main(int argc, char **argv);
/* env.c: `coffer env` and its subcommands (env_*.c). */
int env_main(int argc, char **argv);
int env_parse_main(int argc, char **argv);
/* env_check.c, env_guard.c: `coffer env check` and `coffer env guard`. */
int env_check_main(int argc, char **argv);
int env_guard_main(int argc, char **argv);
/* env_crypt.c: `env encrypt|decrypt|get|set|keypair` (dotenvx encryption). */
int env_encrypt_main(int argc, char **argv);
int env_decrypt_main(int argc, char **argv);
int env_get_main(int argc, char **argv);
int env_set_main(int argc, char **argv);
int env_keypair_main(int argc, char **argv);
/* run.c: `coffer run` (run_*.c). */
int run_main(int argc, char **argv);
/* scan.c: `coffer scan` (hooks for its modes in scan_cli.h). */
int scan_main(int argc, char **argv);
/* seal.c: `coffer seal` and `coffer unseal` (seal_server.c: the server modes). */
int seal_main(int argc, char **argv);
int unseal_main(int argc, char **argv);
/* `coffer server` (src/cli/server.c); a stub answers when it is not built. */
int server_main(int argc, char **argv);

/* `coffer audit verify` calls audit_verify_file() from "audit/audit.h". */

#endif
