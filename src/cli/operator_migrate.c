/* operator_migrate.c - `coffer operator migrate --from=SPEC --to=SPEC`: copies a
 * server's storage to another backend (sqlite:PATH to postgres:URL, typically)
 * offline, in one pass.
 *
 * It works below the barrier: every entry is copied as stored, still encrypted,
 * so no key is needed and the store stays sealed; the new server is unsealed
 * with the same unseal keys. The target must be empty (a store is never merged
 * into another); the source is only read. Entries go over in transactions of
 * MIGRATE_BATCH, so a failure part way leaves a partial copy that a second run
 * refuses: empty the target and run again. See docs/internals/storage.md. */
#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MIGRATE_BATCH    256
#define MIGRATE_PATH_MAX (2 * STORAGE_MAX_KEY)

enum {
	OPT_FROM = CLI_OPT_LOCAL,
	OPT_TO,
};

static const char migrate_usage[] =
        "Usage: coffer operator migrate --from=SPEC --to=SPEC\n\n"
        "Copies every entry of a server's storage into another, empty, storage, as\n"
        "stored: still encrypted, so the copy is sealed and opens with the same unseal\n"
        "keys. Stop the server first. SPEC is a --storage value of coffer server:\n"
        "sqlite:PATH, postgres:URL.\n\n"
        "  --from=SPEC   the storage to copy (only read)\n"
        "  --to=SPEC     the storage to fill (must hold nothing yet)\n";

/* The copy in progress: a batch of ops whose keys and values it owns. */
struct migrate {
	struct storage *from;
	struct storage *to;
	struct storage_op ops[MIGRATE_BATCH];
	size_t n;
	uint64_t entries;
	uint64_t bytes;
};

static void
migrate_reset(struct migrate *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free((char *)m->ops[i].key);      /* not secret: a storage path */
		free((uint8_t *)m->ops[i].value); /* not secret: ciphertext */
	}
	m->n = 0;
}

static int
migrate_flush(struct migrate *m)
{
	int r = storage_txn(m->to, m->ops, m->n);

	if (r == 0)
		m->entries += m->n;
	migrate_reset(m);
	return r;
}

/* Adds the entry at key to the batch (a key listed a moment ago and gone now is
 * skipped). */
static int
migrate_entry(struct migrate *m, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;
	char *k;
	int r;

	r = storage_get(m->from, key, &val, &len);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	k = strdup(key);
	if (k == NULL) {
		free(val); /* not secret: ciphertext */
		return CF_ENOMEM;
	}
	m->ops[m->n++] = (struct storage_op){STORAGE_PUT, k, val, len};
	m->bytes += len;
	if (m->n == MIGRATE_BATCH)
		return migrate_flush(m);
	return 0;
}

/* Copies everything under prefix (a scratch buffer: each name is appended for
 * the recursion and cut off again). */
static int
migrate_walk(struct migrate *m, struct buf *prefix)
{
	size_t plen = buf_len(prefix), n = 0, i, klen;
	char **keys = NULL;
	int r;

	r = storage_list(m->from, buf_str(prefix), &keys, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		klen = strlen(keys[i]);
		r = buf_append(prefix, keys[i], klen);
		if (r < 0)
			break;
		if (klen > 0 && keys[i][klen - 1] == '/') {
			/* a folder; a key may also end in '/' itself */
			r = migrate_walk(m, prefix);
			if (r == 0)
				r = buf_truncate(prefix, plen + klen);
		}
		if (r == 0)
			r = migrate_entry(m, buf_str(prefix));
		if (buf_truncate(prefix, plen) < 0 && r == 0)
			r = CF_EINTERNAL;
		if (r < 0)
			break;
	}
	storage_keys_free(keys, n);
	return r;
}

static int
migrate_open(const char *what, const char *spec, struct storage **ret)
{
	char *shown = storage_spec_redact(spec);
	int r;

	if (shown == NULL)
		cli_oom();
	r = storage_open(spec, ret);
	if (r < 0)
		cli_err("cannot open %s storage %s: %s", what, shown, cf_strerror(r));
	free(shown); /* not secret: the password is redacted */
	return r;
}

int
operator_migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"from", required_argument, NULL, OPT_FROM},
	        {"to", required_argument, NULL, OPT_TO},
	        CLI_HELP_OPTION,
	        {0},
	};
	struct migrate *m = NULL;
	struct buf prefix = BUF_INIT(MIGRATE_PATH_MAX, 0);
	const char *from = NULL, *to = NULL;
	char **keys = NULL, *shown = NULL;
	struct stat sb;
	size_t n = 0;
	int o, r;

	while ((o = cli_getopt(argc, argv, opts, migrate_usage)) != -1) {
		if (o == OPT_FROM)
			from = optarg;
		else if (o == OPT_TO)
			to = optarg;
	}
	if (optind != argc)
		return cli_usage_err("unexpected argument %s", argv[optind]);
	if (from == NULL || to == NULL)
		return cli_usage_err("--from=SPEC and --to=SPEC are both required");
	if (strcmp(from, to) == 0)
		return cli_usage_err("--from and --to name the same storage");
	/* opening a SQLite file creates it: a mistyped source must not */
	if (strncmp(from, "sqlite:", 7) == 0 && stat(from + 7, &sb) != 0) {
		cli_err("no SQLite file at %s", from + 7);
		return CLI_EXIT_ERROR;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		cli_oom();
	r = migrate_open("source", from, &m->from);
	if (r < 0)
		goto out;
	r = migrate_open("target", to, &m->to);
	if (r < 0)
		goto out;
	r = storage_list(m->to, "", &keys, &n);
	if (r < 0) {
		cli_err("cannot read the target storage: %s", cf_strerror(r));
		goto out;
	}
	if (n > 0) {
		cli_err("the target storage is not empty; migrate copies into an empty one only");
		r = CF_EEXIST;
		goto out;
	}
	r = buf_append_str(&prefix, "");
	if (r == 0)
		r = migrate_walk(m, &prefix);
	if (r == 0)
		r = migrate_flush(m);
	if (r == 0 && m->entries == 0) {
		cli_err("the source storage holds nothing (not a coffer store?)");
		r = CF_ENOTFOUND;
		goto out;
	}
	if (r < 0) {
		cli_err("copy failed after %" PRIu64 " entries: %s (the target holds a partial "
		        "copy: empty it before another run)",
		        m->entries, cf_strerror(r));
		goto out;
	}
	shown = storage_spec_redact(to);
	if (shown == NULL)
		cli_oom();
	cli_success("Success! Copied %" PRIu64 " entries (%" PRIu64 " bytes) to %s", m->entries,
	            m->bytes, shown);
out:
	if (m != NULL) {
		migrate_reset(m);
		storage_close(m->to);
		storage_close(m->from);
	}
	free(m);
	storage_keys_free(keys, n);
	buf_free(&prefix);
	free(shown); /* not secret: the password is redacted */
	return cli_exit(r);
}
