/* env_crypt.c - `coffer env encrypt|decrypt|get|set|keypair`: .env files
 * encrypted as dotenvx encrypts them (docs/env.md "Encryption (dotenvx)"). The
 * work is in tools/env/dotenvx.h; this file parses arguments and prints. */
#include "cli/cli.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "tools/env/dotenv.h"
#include "tools/env/dotenvx.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAX_ARGS 64

enum {
	OPT_FILE = CLI_OPT_LOCAL,
	OPT_KEYS_FILE,
	OPT_KEY,
	OPT_STDOUT,
	OPT_PLAIN,
	OPT_FMT,
};

/* clang-format off */
#define CRYPT_OPTIONS \
	{ "f", required_argument, NULL, OPT_FILE }, \
	{ "file", required_argument, NULL, OPT_FILE }, \
	{ "fk", required_argument, NULL, OPT_KEYS_FILE }, \
	{ "keys-file", required_argument, NULL, OPT_KEYS_FILE }, \
	{ "env-keys-file", required_argument, NULL, OPT_KEYS_FILE }, \
	{ "k", required_argument, NULL, OPT_KEY }, \
	{ "key", required_argument, NULL, OPT_KEY }, \
	{ "stdout", no_argument, NULL, OPT_STDOUT }, \
	{ "plain", no_argument, NULL, OPT_PLAIN }, \
	{ "format", required_argument, NULL, OPT_FMT }
/* clang-format on */

static const struct option crypt_opts[] = {
        CRYPT_OPTIONS,
        CLI_HELP_OPTION, /* offline: no server options */
        {0},
};

struct crypt_args {
	char *files[MAX_ARGS];
	size_t nfiles;
	char *keys[MAX_ARGS];
	size_t nkeys;
	const char *keys_file;
	const char *format;
	bool to_stdout, plain;
};

/* Whether name is one of the space-separated words of allowed. */
static bool
option_allowed(const char *allowed, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = allowed; *p;) {
		size_t w = strcspn(p, " ");

		if (w == n && strncmp(p, name, n) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

/* Parses the options every subcommand shares; `allowed` lists the ones this
 * subcommand takes. Leaves optind at the operands. */
static int
crypt_getopt(int argc, char **argv, const char *usage, const char *allowed, struct crypt_args *a)
{
	int o;

	memset(a, 0, sizeof(*a));
	while ((o = cli_getopt(argc, argv, crypt_opts, usage)) != -1) {
		char *val = optarg;
		const char *name = "";

		switch (o) {
		case OPT_FILE:
			name = "f";
			break;
		case OPT_KEYS_FILE:
			name = "fk";
			break;
		case OPT_KEY:
			name = "k";
			break;
		case OPT_STDOUT:
			name = "stdout";
			break;
		case OPT_PLAIN:
			name = "plain";
			break;
		case OPT_FMT:
			name = "format";
			break;
		default:
			return cli_usage_err("unknown option");
		}
		if (!option_allowed(allowed, name))
			return cli_usage_err("option %s is not for this command", argv[optind - 1]);
		switch (o) {
		case OPT_FILE:
			if (a->nfiles == MAX_ARGS)
				return cli_usage_err("too many files (at most %d)", MAX_ARGS);
			a->files[a->nfiles++] = val;
			break;
		case OPT_KEYS_FILE:
			a->keys_file = val;
			break;
		case OPT_KEY:
			if (a->nkeys == MAX_ARGS)
				return cli_usage_err("too many keys (at most %d)", MAX_ARGS);
			a->keys[a->nkeys++] = val;
			break;
		case OPT_STDOUT:
			a->to_stdout = true;
			break;
		case OPT_PLAIN:
			a->plain = true;
			break;
		case OPT_FMT:
			a->format = val;
			break;
		}
	}
	if (a->nfiles == 0)
		a->files[a->nfiles++] = ".env";
	return 0;
}

static void
crypt_opts_fill(const struct crypt_args *a, struct dotenvx_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keys_file = a->keys_file;
	o->only = a->keys;
	o->n_only = a->nkeys;
	o->environ = environ;
	o->to_stdout = a->to_stdout;
	o->out = stdout;
}

static int
crypt_error(int r, const char *err)
{
	cli_err("%s", err[0] ? err : cf_strerror(r));
	return CLI_EXIT_ERROR;
}

static const char encrypt_usage[] =
        "Usage: coffer env encrypt [-f FILE ...] [-fk KEYS_FILE] [-k KEY ...] [--stdout] [KEY "
        "...]\n"
        "\n"
        "  Encrypts the values of .env files in place as dotenvx does: a DOTENV_PUBLIC_KEY\n"
        "  header, KEY=encrypted:... values, the private key appended to .env.keys.\n"
        "  Keys ending in _PLAIN are left as they are. KEY operands or -k limit it to\n"
        "  those keys (shell patterns allowed).\n";

static const char decrypt_usage[] =
        "Usage: coffer env decrypt [-f FILE ...] [-fk KEYS_FILE] [-k KEY ...] [--stdout] [KEY "
        "...]\n"
        "\n"
        "  Decrypts the encrypted: values of .env files in place, with the private key from\n"
        "  DOTENV_PRIVATE_KEY[_ENV] in the environment or from .env.keys.\n";

static int
crypt_files(int argc, char **argv, const char *usage, bool encrypt)
{
	struct crypt_args a;
	struct dotenvx_opts o;
	char err[512] = "";
	int r;

	if (crypt_getopt(argc, argv, usage, "f fk k stdout", &a) != 0)
		return CLI_EXIT_ERROR;
	for (; optind < argc; optind++) {
		if (a.nkeys == MAX_ARGS)
			return cli_usage_err("too many keys (at most %d)", MAX_ARGS);
		a.keys[a.nkeys++] = argv[optind];
	}
	crypt_opts_fill(&a, &o);
	if (encrypt)
		r = dotenvx_encrypt_files(a.files, a.nfiles, &o, err, sizeof(err));
	else
		r = dotenvx_decrypt_files(a.files, a.nfiles, &o, err, sizeof(err));
	if (r < 0)
		return crypt_error(r, err);
	return CLI_EXIT_OK;
}

int
env_encrypt_main(int argc, char **argv)
{
	return crypt_files(argc, argv, encrypt_usage, true);
}

int
env_decrypt_main(int argc, char **argv)
{
	return crypt_files(argc, argv, decrypt_usage, false);
}

static const char get_usage[] =
        "Usage: coffer env get [KEY] [-f FILE ...] [-fk KEYS_FILE] [--format=json|shell]\n"
        "\n"
        "  Prints the decrypted value of KEY, or all values as one JSON object (with\n"
        "  --format=shell: KEY='value' lines). With several files the first one that\n"
        "  defines a key wins. Values are not expanded.\n";

/* 'value' for a POSIX shell: ' becomes '\''. */
static void
print_shell_quoted(const char *v, size_t n)
{
	putchar('\'');
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\'')
			fputs("'\\''", stdout);
		else
			putchar(v[i]);
	}
	putchar('\'');
}

static bool
utf8_valid(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);

	json_decref(v);
	return v != NULL;
}

/* A JSON string as JavaScript's JSON.stringify writes it: ", \ and control
 * characters escaped, those without a short form as \u00xx in lower case
 * (jansson would write upper case). */
static void
print_json_string(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (c < 0x20)
				printf("\\u%04x", c);
			else
				putchar(c);
		}
	}
	putchar('"');
}

int
env_get_main(int argc, char **argv)
{
	struct crypt_args a;
	struct dotenvx_opts o;
	struct dotenv env = {0};
	const struct dotenv_entry *e;
	char err[512] = "";
	size_t *order = NULL;
	int r, rc = CLI_EXIT_ERROR;

	if (crypt_getopt(argc, argv, get_usage, "f fk format", &a) != 0)
		return CLI_EXIT_ERROR;
	if (argc - optind > 1)
		return cli_usage_err("too many arguments");
	if (a.format && strcmp(a.format, "json") != 0 && strcmp(a.format, "shell") != 0)
		return cli_usage_err("unknown format \"%s\" (json or shell)", a.format);
	crypt_opts_fill(&a, &o);
	r = dotenvx_get(a.files, a.nfiles, &o, &env, err, sizeof(err));
	if (r < 0)
		return crypt_error(r, err);
	if (optind < argc) {
		e = dotenv_find(&env, argv[optind]);
		if (e == NULL) {
			cli_err("%s is not set in %s", argv[optind],
			        a.nfiles == 1 ? a.files[0] : "the files");
			rc = CLI_EXIT_FINDING;
			goto out;
		}
		fwrite(e->value, 1, e->value_len, stdout);
		putchar('\n');
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (a.format && strcmp(a.format, "shell") == 0) {
		for (size_t i = 0; i < env.n; i++) {
			printf("%s=", env.v[i].key);
			print_shell_quoted(env.v[i].value, env.v[i].value_len);
			putchar('\n');
		}
		rc = CLI_EXIT_OK;
		goto out;
	}
	order = calloc(env.n + 1, sizeof(*order));
	if (order == NULL)
		cli_oom();
	dotenv_js_order(&env, order); /* the key order of dotenvx's JSON.stringify */
	for (size_t i = 0; i < env.n; i++) {
		const struct dotenv_entry *x = &env.v[order[i]];

		if (!utf8_valid(x->value, x->value_len)) {
			cli_err("the value of %s is not valid UTF-8", x->key);
			goto out;
		}
	}
	putchar('{');
	for (size_t i = 0; i < env.n; i++) {
		const struct dotenv_entry *x = &env.v[order[i]];

		if (i > 0)
			putchar(',');
		print_json_string(x->key, strlen(x->key));
		putchar(':');
		print_json_string(x->value, x->value_len);
	}
	puts("}");
	rc = CLI_EXIT_OK;
out:
	free(order);
	dotenv_free(&env);
	return rc;
}

static const char set_usage[] =
        "Usage: coffer env set KEY VALUE [-f FILE] [-fk KEYS_FILE] [--plain]\n"
        "\n"
        "  Sets KEY to VALUE, encrypted (KEY=\"encrypted:...\") unless --plain or KEY ends\n"
        "  in _PLAIN. Creates the file and its key pair when missing.\n";

int
env_set_main(int argc, char **argv)
{
	struct crypt_args a;
	struct dotenvx_opts o;
	char err[512] = "";
	int r;

	if (crypt_getopt(argc, argv, set_usage, "f fk plain", &a) != 0)
		return CLI_EXIT_ERROR;
	if (argc - optind < 2)
		return cli_usage_err("missing %s", optind == argc ? "KEY and VALUE" : "VALUE");
	if (argc - optind > 2)
		return cli_usage_err("too many arguments");
	if (a.nfiles > 1)
		return cli_usage_err("set takes one -f FILE");
	crypt_opts_fill(&a, &o);
	r = dotenvx_set(a.files[0], argv[optind], argv[optind + 1], strlen(argv[optind + 1]),
	                a.plain, &o, err, sizeof(err));
	/* keep the value out of ps(1) output from now on */
	secmem_wipe(argv[optind + 1], strlen(argv[optind + 1]));
	if (r < 0)
		return crypt_error(r, err);
	return CLI_EXIT_OK;
}

static const char keypair_usage[] =
        "Usage: coffer env keypair [-f FILE] [-fk KEYS_FILE] [--format=json]\n"
        "\n"
        "  Prints the key pair of FILE as JSON: its public key and the private key found\n"
        "  for it (environment, then .env.keys), or a new pair when it has neither.\n";

int
env_keypair_main(int argc, char **argv)
{
	struct crypt_args a;
	struct dotenvx_opts o;
	char err[512] = "", pub[67], priv[65], *pubname = NULL, *privname = NULL, *s = NULL;
	json_t *obj;
	int r;

	if (crypt_getopt(argc, argv, keypair_usage, "f fk format", &a) != 0)
		return CLI_EXIT_ERROR;
	if (cli_operand_none(argc, argv) != 0)
		return CLI_EXIT_ERROR;
	if (a.format && strcmp(a.format, "json") != 0)
		return cli_usage_err("unknown format \"%s\" (json)", a.format);
	if (a.nfiles > 1)
		return cli_usage_err("keypair takes one -f FILE");
	crypt_opts_fill(&a, &o);
	r = dotenvx_keypair(a.files[0], &o, &pubname, &privname, pub, priv, err, sizeof(err));
	if (r < 0)
		return crypt_error(r, err);
	obj = json_object();
	if (obj == NULL)
		cli_oom();
	cli_json_set(obj, pubname, json_string(pub));
	cli_json_set(obj, privname, priv[0] ? json_string(priv) : json_null());
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s == NULL)
		cli_oom();
	puts(s);
	secmem_free_str(s);
	json_decref(obj);
	secmem_wipe(priv, sizeof(priv));
	free(pubname);
	free(privname);
	return CLI_EXIT_OK;
}
