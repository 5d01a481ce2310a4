/* seal_int.h - what seal.c (the offline modes of coffer seal / unseal) and
 * seal_server.c (the modes that go through the server) share. */
#ifndef CF_CLI_SEAL_INT_H
#define CF_CLI_SEAL_INT_H

#include "crypto/kseal.h"
#include "lib/buf.h"
#include "tools/sealed/yaml.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SEAL_MAX_KEYS 64 /* --private-key files */

/* The flags of both commands (environment applied, then the command line). */
struct seal_args {
	const char *in;   /* -f: input file, NULL or "-" for stdin */
	const char *out;  /* -w / -o FILE: output file, NULL for stdout */
	int format;       /* enum yaml_format, or -1 when not given */
	const char *cert; /* --cert: file or URL */
	bool scope_given; /* --scope given */
	enum kseal_scope scope;
	const char *name; /* --name */
	const char *ns;   /* -n / --namespace */
	bool raw;
	const char *from_file; /* --from-file [key=]path */
	bool from_file_env;    /* ... came from the environment */
	const char *merge_into;
	bool allow_empty;
	bool fetch_cert, reencrypt, validate, recovery;
	char *keys[SEAL_MAX_KEYS]; /* --private-key files (owned) */
	size_t nkeys;
	bool keys_env; /* keys came from the environment */
};

void seal_args_free(struct seal_args *a);

/* The output format for a file path (NULL: stdout): --format / -o, else YAML
 * for a .yaml / .yml name, else JSON. */
enum yaml_format seal_format(const struct seal_args *a, const char *path);

/* Reads path (NULL or "-": stdin) into a new array of documents. Errors are
 * printed; returns 0 or a negative CF_E* code. */
int seal_read_docs(const char *path, json_t **ret);

/* Writes b to path atomically (a temp file in the same directory renamed over
 * it; mode 0600 when secret, else 0644), or to stdout when path is NULL or
 * "-". Errors are printed; returns 0 or a negative code. */
int seal_output(const char *path, const struct buf *b, bool secret);

/* ---- seal_server.c ---- */

/* Whether a server is named: --address, COFFER_ADDR or VAULT_ADDR. */
bool seal_have_server(void);
/* GET url (http or https; TLS settings from COFFER_CACERT / COFFER_SKIP_VERIFY)
 * into a new NUL-terminated buffer of at most 1 MiB; a status other than 200
 * is an error. Errors are printed; returns 0 or a negative code. */
int seal_http_get(const char *url, char **ret, size_t *ret_len);
/* The server's active sealing certificate (GET /v1/sys/sealing/cert). */
int seal_fetch_cert(char **ret, size_t *ret_len);
/* --fetch-cert: prints the certificate (--cert's, else the server's). */
int seal_print_cert(const struct seal_args *a);
/* --re-encrypt: every document re-sealed to the active key by the server. */
int seal_reencrypt(const struct seal_args *a);
/* --validate: returns 0 when every item opens with a key that is not
 * compromised, CLI_EXIT_FINDING (after one line per failing item), or a
 * negative code. */
int seal_validate(const struct seal_args *a);

#endif
