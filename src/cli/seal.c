/* seal.c - `coffer seal` and `coffer unseal`: Kubernetes Secrets sealed into
 * Bitnami SealedSecrets and back, with kubeseal's flags
 * (docs/sealed-secrets.md "Command line"). The manifests are read and written
 * by tools/sealed/yaml.h, sealed and unsealed by crypto/sealedsecret.h; this
 * file parses the flags, finds the certificate and the keys, and writes the
 * output only when every document succeeded (a temp file renamed over the
 * target, so an error never leaves a partial file). The server modes
 * (--fetch-cert, no --cert, --re-encrypt, --validate) are in seal_server.c. */
#include "cli/seal_int.h"

#include "cli/args.h"
#include "cli/cli.h"
#include "crypto/kseal.h"
#include "crypto/sealedsecret.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "tools/sealed/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT (64u * 1024 * 1024)

enum {
	OPT_IN = CLI_OPT_LOCAL,
	OPT_OUT,
	OPT_O,
	OPT_FORMAT,
	OPT_CERT,
	OPT_SCOPE,
	OPT_NAME,
	OPT_NAMESPACE,
	OPT_RAW,
	OPT_FROM_FILE,
	OPT_MERGE_INTO,
	OPT_ALLOW_EMPTY,
	OPT_FETCH_CERT,
	OPT_REENCRYPT,
	OPT_VALIDATE,
	OPT_RECOVERY,
	OPT_PRIVATE_KEY,
	OPT_CONTROLLER,
};

/* Both commands take every flag, so `coffer seal --recovery-unseal` works as
 * kubeseal's; each checks the ones it does not use. The long names are
 * kubeseal's (so are the SEALED_SECRETS_<FLAG> variables). */
static const struct option seal_opts[] = {
        {"f", required_argument, NULL, OPT_IN},
        {"secret-file", required_argument, NULL, OPT_IN},
        {"w", required_argument, NULL, OPT_OUT},
        {"sealed-secret-file", required_argument, NULL, OPT_OUT},
        {"o", required_argument, NULL, OPT_O},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"cert", required_argument, NULL, OPT_CERT},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"name", required_argument, NULL, OPT_NAME},
        {"n", required_argument, NULL, OPT_NAMESPACE},
        {"namespace", required_argument, NULL, OPT_NAMESPACE},
        {"raw", no_argument, NULL, OPT_RAW},
        {"from-file", required_argument, NULL, OPT_FROM_FILE},
        {"merge-into", required_argument, NULL, OPT_MERGE_INTO},
        {"allow-empty-data", no_argument, NULL, OPT_ALLOW_EMPTY},
        {"fetch-cert", no_argument, NULL, OPT_FETCH_CERT},
        {"re-encrypt", no_argument, NULL, OPT_REENCRYPT},
        {"rotate", no_argument, NULL, OPT_REENCRYPT},
        {"validate", no_argument, NULL, OPT_VALIDATE},
        {"recovery-unseal", no_argument, NULL, OPT_RECOVERY},
        {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
        {"recovery-private-key", required_argument, NULL, OPT_PRIVATE_KEY},
        {"controller-name", required_argument, NULL, OPT_CONTROLLER},
        {"controller-namespace", required_argument, NULL, OPT_CONTROLLER},
        CLI_HELP_OPTION,
        CLI_SERVER_OPTIONS,
        {0},
};

static const char seal_usage[] =
        "Usage: coffer seal [--cert=FILE|URL] [--scope=strict|namespace-wide|cluster-wide]\n"
        "                   [--format=json|yaml] [--name=N] [-n NS] [-f FILE] [-w FILE|-o FILE]\n"
        "                   [--allow-empty-data] [--merge-into=FILE]\n"
        "       coffer seal --raw [--cert=FILE|URL] --scope=S [--name=N] [-n NS]\n"
        "                   [--from-file=[KEY=]FILE] [-w FILE]\n"
        "       coffer seal --fetch-cert | --re-encrypt | --validate   (through the server)\n"
        "       coffer seal --recovery-unseal --recovery-private-key=KEY[,KEY...]\n"
        "\n"
        "  Seals Kubernetes Secrets (YAML or JSON, several documents allowed; stdin or -f)\n"
        "  into Bitnami SealedSecrets, as kubeseal does. The certificate comes from --cert\n"
        "  (a PEM file, or an http(s):// or file:// URL), else from the server at\n"
        "  COFFER_ADDR (GET sys/sealing/cert). Output is JSON unless --format=yaml, -o yaml\n"
        "  or -w FILE.yaml; files are replaced atomically. Every flag may also come from\n"
        "  SEALED_SECRETS_<FLAG> (say SEALED_SECRETS_CERT); the command line wins.\n";

static const char unseal_usage[] =
        "Usage: coffer unseal --private-key=KEY[,KEY...] [--private-key=...] [--format=json|yaml]\n"
        "                     [-f FILE] [-w FILE|-o FILE]\n"
        "\n"
        "  Opens SealedSecrets (stdin or -f) with private keys, as kubeseal --recovery-unseal\n"
        "  does, and prints the Secrets the controller would create. A key file is a PEM\n"
        "  private key (PKCS#1 or PKCS#8), or a JSON/YAML backup of the controller's key\n"
        "  Secrets (one Secret, several, or a v1 List; data[\"tls.key\"] is used). Every key\n"
        "  is tried for every value. The output holds plaintext: files are written 0600.\n";

/* ---- flags ---- */

static int
set_format(struct seal_args *a, const char *v, const char *flag)
{
	if (strcmp(v, "json") == 0)
		a->format = YAML_FORMAT_JSON;
	else if (strcmp(v, "yaml") == 0 || strcmp(v, "yml") == 0)
		a->format = YAML_FORMAT_YAML;
	else
		return cli_usage_err("%s: must be json or yaml, not \"%s\"", flag, v);
	return 0;
}

/* Adds the comma-separated key files of v. */
static int
add_keys(struct seal_args *a, const char *v)
{
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n > 0) {
			if (a->nkeys == SEAL_MAX_KEYS)
				return cli_usage_err("too many private keys (at most %d)",
				                     SEAL_MAX_KEYS);
			a->keys[a->nkeys] = strndup(p, n);
			if (!a->keys[a->nkeys])
				cli_oom();
			a->nkeys++;
		}
		p += n;
		p += *p == ',';
	}
	return 0;
}

/* Applies one flag with its value (NULL for a switch). from_env: the value
 * came from SEALED_SECRETS_<FLAG>. Returns 0 or CLI_EXIT_ERROR (reported). */
static int
apply(struct seal_args *a, int o, const char *v, bool from_env)
{
	switch (o) {
	case OPT_IN:
		a->in = v;
		break;
	case OPT_OUT:
		a->out = v;
		break;
	case OPT_O:
		/* kubeseal's -o is the format; coffer's usage line has -o FILE */
		if (strcmp(v, "json") == 0 || strcmp(v, "yaml") == 0 || strcmp(v, "yml") == 0)
			return set_format(a, v, "-o");
		a->out = v;
		break;
	case OPT_FORMAT:
		return set_format(a, v, "--format");
	case OPT_CERT:
		a->cert = v;
		break;
	case OPT_SCOPE:
		if (kseal_scope_parse(v, &a->scope) != 0)
			return cli_usage_err("--scope: must be strict, namespace-wide or "
			                     "cluster-wide, not \"%s\"",
			                     v);
		a->scope_given = true;
		break;
	case OPT_NAME:
		a->name = v;
		break;
	case OPT_NAMESPACE:
		a->ns = v;
		break;
	case OPT_RAW:
		a->raw = true;
		break;
	case OPT_FROM_FILE:
		if (a->from_file && !from_env && !a->from_file_env)
			return cli_usage_err("--from-file: --raw seals exactly one value");
		a->from_file = v;
		a->from_file_env = from_env;
		break;
	case OPT_MERGE_INTO:
		a->merge_into = v;
		break;
	case OPT_ALLOW_EMPTY:
		a->allow_empty = true;
		break;
	case OPT_FETCH_CERT:
		a->fetch_cert = true;
		break;
	case OPT_REENCRYPT:
		a->reencrypt = true;
		break;
	case OPT_VALIDATE:
		a->validate = true;
		break;
	case OPT_RECOVERY:
		a->recovery = true;
		break;
	case OPT_PRIVATE_KEY:
		if (!from_env && a->keys_env) {
			/* the command line replaces the environment's list */
			for (size_t i = 0; i < a->nkeys; i++)
				free(a->keys[i]); /* not secret: key file names */
			a->nkeys = 0;
			a->keys_env = false;
		}
		if (from_env)
			a->keys_env = true;
		return add_keys(a, v);
	case OPT_CONTROLLER:
		break; /* kubeseal's; coffer's server is found through COFFER_ADDR */
	default:
		return cli_usage_err("unknown option");
	}
	return 0;
}

/* SEALED_SECRETS_<FLAG> for every long flag: upper case, '-' as '_'. */
static int
apply_env(struct seal_args *a)
{
	char name[64];
	const char *v;
	bool on;
	int r;

	for (const struct option *o = seal_opts; o->name; o++) {
		size_t n = strlen(o->name), i;

		if (o->val < CLI_OPT_LOCAL || n < 2 || n + sizeof("SEALED_SECRETS_") > sizeof(name))
			continue;
		memcpy(name, "SEALED_SECRETS_", sizeof("SEALED_SECRETS_") - 1);
		for (i = 0; i < n; i++)
			name[sizeof("SEALED_SECRETS_") - 1 + i] =
			        o->name[i] == '-' ? '_' : (char)toupper((unsigned char)o->name[i]);
		name[sizeof("SEALED_SECRETS_") - 1 + n] = '\0';
		v = getenv(name);
		if (!v || !*v)
			continue;
		if (o->has_arg == no_argument) {
			if (util_parse_bool(v, &on) != 0)
				return cli_usage_err("%s: not a boolean: %s", name, v);
			if (!on)
				continue;
			v = NULL;
		}
		r = apply(a, o->val, v, true);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, const char *usage, struct seal_args *a)
{
	int o, r;

	memset(a, 0, sizeof(*a));
	a->format = -1;
	r = apply_env(a);
	if (r != 0)
		return r;
	while ((o = cli_getopt(argc, argv, seal_opts, usage)) != -1) {
		r = apply(a, o, optarg, false);
		if (r != 0)
			return r;
	}
	return cli_operand_none(argc, argv);
}

void
seal_args_free(struct seal_args *a)
{
	for (size_t i = 0; i < a->nkeys; i++)
		free(a->keys[i]); /* not secret: key file names */
	a->nkeys = 0;
}

/* The output format: --format / -o, else YAML for -w FILE.yaml / .yml, else
 * JSON (kubeseal's default). */
enum yaml_format
seal_format(const struct seal_args *a, const char *out)
{
	size_t n;

	if (a->format >= 0)
		return (enum yaml_format)a->format;
	n = out ? strlen(out) : 0;
	if ((n > 5 && strcmp(out + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(out + n - 4, ".yml") == 0))
		return YAML_FORMAT_YAML;
	return YAML_FORMAT_JSON;
}

/* ---- input and output ---- */

int
seal_read_docs(const char *path, json_t **ret)
{
	char err[512] = "", *text = NULL;
	const char *name = path && strcmp(path, "-") != 0 ? path : "stdin";
	size_t len = 0;
	int r;

	r = args_read_file(path ? path : "-", &text, &len, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err[0] ? err : cf_strerror(r));
		return r;
	}
	r = yaml_read_docs(text, len, ret, NULL, err, sizeof(err));
	if (r < 0)
		cli_err("%s: %s", name, err);
	secmem_free(text, len + 1);
	return r;
}

/* Replaces path with data (len bytes) atomically: a temp file of the given
 * mode in the same directory, fsync, rename. On any error the temp file is
 * removed and path is untouched. */
static int
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char *dcopy = strdup(path), *tmp = NULL;
	const char *dir;
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd, r = CF_EIO;

	if (!dcopy)
		cli_oom();
	dir = dirname(dcopy);
	if (asprintf(&tmp, "%s/.coffer-seal.XXXXXX", dir) < 0)
		cli_oom();
	fd = mkstemp(tmp);
	if (fd < 0) {
		cli_err("%s: cannot create a file in %s: %s", path, dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, mode) < 0)
		goto io;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto io;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto io;
	n = close(fd);
	fd = -1;
	if (n < 0 || rename(tmp, path) < 0)
		goto io;
	free(tmp);
	tmp = NULL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	r = 0;
	goto out;
io:
	cli_err("%s: cannot write: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(dcopy);
	return r;
}

int
seal_output(const char *path, const struct buf *b, bool secret)
{
	size_t off = 0, len = buf_len(b);
	const char *p = buf_str(b);

	if (path && strcmp(path, "-") != 0)
		return write_file(path, p, len, secret ? 0600 : 0644);
	while (off < len) {
		size_t n = fwrite(p + off, 1, len - off, stdout);

		if (n == 0) {
			cli_err("cannot write to stdout");
			return CF_EIO;
		}
		off += n;
	}
	if (fflush(stdout) != 0) {
		cli_err("cannot write to stdout");
		return CF_EIO;
	}
	return 0;
}

/* "document N: " when the input held several, for error messages. */
static void
doc_prefix(char *p, size_t len, json_t *docs, size_t i)
{
	if (json_array_size(docs) > 1)
		snprintf(p, len, "document %zu: ", i + 1);
	else
		p[0] = '\0';
}

/* ---- the certificate ---- */

/* Reads a certificate from a file, a file:// URL or an http(s):// URL. */
static int
cert_read(const char *src, char **ret, size_t *ret_len)
{
	char err[512] = "";
	int r;

	if (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)
		return seal_http_get(src, ret, ret_len);
	if (strncmp(src, "file://", 7) == 0)
		src += 7;
	r = util_read_file(src, 1024 * 1024, ret, ret_len, err, sizeof(err));
	if (r < 0)
		cli_err("--cert: %s", err);
	return r;
}

/* The certificate to seal with: --cert, else the server's. */
static int
cert_load(const struct seal_args *a, struct kseal_key **ret)
{
	char err[512] = "", *pem = NULL;
	const char *what = a->cert ? a->cert : "the server's sealing certificate";
	size_t len = 0;
	int r;

	if (a->cert)
		r = cert_read(a->cert, &pem, &len);
	else if (seal_have_server())
		r = seal_fetch_cert(&pem, &len);
	else {
		cli_usage_err("no certificate: give --cert (a PEM file or a URL), or set "
		              "COFFER_ADDR to use the server's");
		return CF_EINVAL;
	}
	if (r < 0)
		return r;
	r = kseal_cert_load(pem, len, time(NULL), ret, err, sizeof(err));
	if (r < 0)
		cli_err("--cert: %s: %s", what, err[0] ? err : cf_strerror(r));
	free(pem);
	return r;
}

/* ---- coffer seal ---- */

static int
seal_docs(const struct seal_args *a)
{
	struct ss_seal_opts so = {
	        .scope_given = a->scope_given && a->scope != KSEAL_STRICT,
	        .scope = a->scope,
	        .name = a->name,
	        .ns = a->ns,
	        .allow_empty = a->allow_empty,
	};
	struct buf out = BUF_INIT(MAX_OUTPUT, 0);
	struct kseal_key *cert = NULL;
	json_t *docs = NULL, *doc, *sealed;
	char err[512], pre[32];
	size_t i;
	int r;

	r = seal_read_docs(a->in, &docs);
	if (r < 0)
		goto out;
	r = cert_load(a, &cert);
	if (r < 0)
		goto out;
	json_array_foreach(docs, i, doc)
	{
		err[0] = '\0';
		r = ss_seal(cert, doc, &so, &sealed, err, sizeof(err));
		if (r < 0) {
			doc_prefix(pre, sizeof(pre), docs, i);
			cli_err("%s%s", pre, err[0] ? err : cf_strerror(r));
			goto out;
		}
		r = yaml_write(&out, sealed, seal_format(a, a->out));
		json_decref(sealed);
		if (r < 0) {
			cli_err("output: %s", cf_strerror(r));
			goto out;
		}
	}
	r = seal_output(a->out, &out, false);
out:
	kseal_key_free(cert);
	json_decref(docs);
	buf_free(&out);
	return r;
}

/* kubeseal --merge-into: the input Secret sealed under FILE's name and
 * namespace, its items, labels and annotations merged into FILE's
 * SealedSecret, FILE rewritten (JSON unless --format says yaml). */
static int
seal_merge(const struct seal_args *a)
{
	struct ss_seal_opts so = {
	        .scope_given = a->scope_given && a->scope != KSEAL_STRICT,
	        .scope = a->scope,
	        .allow_empty = a->allow_empty,
	};
	struct buf out = BUF_INIT(MAX_OUTPUT, 0);
	struct kseal_key *cert = NULL;
	json_t *existing = NULL, *docs = NULL, *secret, *sealed = NULL, *meta;
	char err[512] = "";
	int r;

	r = seal_read_docs(a->merge_into, &existing);
	if (r < 0)
		goto out;
	if (json_array_size(existing) != 1) {
		cli_err("--merge-into: %s: holds %zu documents, not one SealedSecret",
		        a->merge_into, json_array_size(existing));
		r = CF_EINVAL;
		goto out;
	}
	r = ss_scope(json_array_get(existing, 0), NULL, NULL, err, sizeof(err));
	if (r < 0) {
		cli_err("--merge-into: %s: %s", a->merge_into, err);
		goto out;
	}
	r = seal_read_docs(a->in, &docs);
	if (r < 0)
		goto out;
	if (json_array_size(docs) != 1) {
		cli_err("--merge-into takes one Secret, not %zu documents", json_array_size(docs));
		r = CF_EINVAL;
		goto out;
	}
	meta = json_object_get(json_array_get(existing, 0), "metadata");
	so.name = json_string_value(json_object_get(meta, "name"));
	so.ns = json_string_value(json_object_get(meta, "namespace"));
	/* The file's namespace decides: the input's own is dropped first. */
	secret = json_array_get(docs, 0);
	if (so.ns && json_is_object(json_object_get(secret, "metadata")))
		json_object_del(json_object_get(secret, "metadata"), "namespace");
	r = cert_load(a, &cert);
	if (r < 0)
		goto out;
	r = ss_seal(cert, secret, &so, &sealed, err, sizeof(err));
	if (r < 0) {
		cli_err("%s", err[0] ? err : cf_strerror(r));
		goto out;
	}
	r = ss_merge(json_array_get(existing, 0), sealed, err, sizeof(err));
	if (r < 0) {
		cli_err("--merge-into: %s", err[0] ? err : cf_strerror(r));
		goto out;
	}
	r = yaml_write(&out, json_array_get(existing, 0),
	               a->format >= 0 ? (enum yaml_format)a->format : YAML_FORMAT_JSON);
	if (r < 0) {
		cli_err("output: %s", cf_strerror(r));
		goto out;
	}
	r = seal_output(a->merge_into, &out, false);
out:
	kseal_key_free(cert);
	json_decref(existing);
	json_decref(docs);
	json_decref(sealed);
	buf_free(&out);
	return r;
}

/* kubeseal --raw: one value, printed as base64 without a newline. */
static int
seal_raw(const struct seal_args *a)
{
	enum kseal_scope scope = a->scope_given ? a->scope : KSEAL_STRICT;
	struct buf out = BUF_INIT(MAX_OUTPUT, 0);
	struct kseal_key *cert = NULL;
	char err[512] = "", *value = NULL, *label = NULL, *b64 = NULL;
	const char *path = "-";
	uint8_t *ct = NULL;
	size_t len = 0, ctlen = 0;
	int r;

	if (scope != KSEAL_CLUSTER_WIDE && (!a->ns || !*a->ns))
		return cli_usage_err("--raw with scope %s needs --namespace",
		                     kseal_scope_name(scope));
	if (scope == KSEAL_STRICT && (!a->name || !*a->name))
		return cli_usage_err("--raw with scope strict needs --name");
	if (a->from_file) {
		const char *eq = strchr(a->from_file, '=');

		path = eq ? eq + 1 : a->from_file; /* kubeseal ignores the key= part */
		if (!*path)
			return cli_usage_err("--from-file: no file named");
	}
	r = args_read_file(path, &value, &len, err, sizeof(err));
	if (r < 0) {
		cli_err("--from-file: %s", err[0] ? err : cf_strerror(r));
		goto out;
	}
	r = kseal_label(scope, a->ns, a->name, &label);
	if (r < 0) {
		cli_err("--scope: %s", cf_strerror(r));
		goto out;
	}
	r = cert_load(a, &cert);
	if (r < 0)
		goto out;
	if (len > KSEAL_MAX_VALUE) {
		cli_err("value: larger than %u bytes", KSEAL_MAX_VALUE);
		r = CF_EINVAL;
		goto out;
	}
	r = kseal_encrypt(cert, label, strlen(label), value, len, &ct, &ctlen);
	if (r < 0) {
		cli_err("value: cannot seal it: %s", cf_strerror(r));
		goto out;
	}
	b64 = util_b64_encode(ct, ctlen);
	if (!b64)
		cli_oom();
	r = buf_append_str(&out, b64);
	if (r == 0)
		r = seal_output(a->out, &out, false);
out:
	secmem_free(value, len + 1);
	kseal_key_free(cert);
	free(label);
	free(ct);
	free(b64);
	buf_free(&out);
	return r;
}

/* ---- coffer unseal ---- */

struct keyring {
	struct kseal_key *k[SEAL_MAX_KEYS * 8];
	size_t n;
};

static int
keyring_add(struct keyring *kr, const char *file, const char *pem, size_t len, const char *where)
{
	char err[512] = "";
	int r;

	if (kr->n == sizeof(kr->k) / sizeof(kr->k[0])) {
		cli_err("%s: too many private keys", file);
		return CF_ETOOBIG;
	}
	r = kseal_key_load(pem, len, NULL, 0, &kr->k[kr->n], err, sizeof(err));
	if (r < 0) {
		cli_err("--private-key: %s: %s%s", file, where, err[0] ? err : cf_strerror(r));
		return r;
	}
	kr->n++;
	return 0;
}

/* One key Secret of a backup: its data["tls.key"]. */
static int
keyring_add_secret(struct keyring *kr, const char *file, const json_t *s, const char *where)
{
	json_t *v = json_object_get(json_object_get(s, "data"), "tls.key");
	uint8_t *pem = NULL;
	size_t len = 0;
	int r;

	if (!json_is_string(v)) {
		cli_err("--private-key: %s: %sdata.tls.key: missing (not a key Secret)", file,
		        where);
		return CF_EINVAL;
	}
	r = util_b64_decode(json_string_value(v), &pem, &len);
	if (r < 0) {
		cli_err("--private-key: %s: %sdata.tls.key: invalid base64", file, where);
		return r;
	}
	r = keyring_add(kr, file, (const char *)pem, len, where);
	secmem_free(pem, len);
	return r;
}

/* A key file: PEM, or a JSON/YAML backup of Secrets or v1 Lists of them. */
static int
keyring_load(struct keyring *kr, const char *file)
{
	char err[512] = "", where[64], *text = NULL;
	json_t *docs = NULL, *doc, *items, *item;
	size_t len = 0, i, j;
	int r;

	r = util_read_file(file, ARGS_MAX_FILE, &text, &len, err, sizeof(err));
	if (r < 0) {
		cli_err("--private-key: %s", err);
		return r;
	}
	if (strstr(text, "-----BEGIN ")) {
		r = keyring_add(kr, file, text, len, "");
		goto out;
	}
	r = yaml_read_docs(text, len, &docs, NULL, err, sizeof(err));
	if (r < 0) {
		cli_err("--private-key: %s: neither a PEM key nor a key backup: %s", file, err);
		goto out;
	}
	json_array_foreach(docs, i, doc)
	{
		items = json_object_get(doc, "items");
		if (json_is_array(items)) {
			json_array_foreach(items, j, item)
			{
				snprintf(where, sizeof(where), "document %zu: items[%zu]: ", i + 1,
				         j);
				r = keyring_add_secret(kr, file, item, where);
				if (r < 0)
					goto out;
			}
			continue;
		}
		snprintf(where, sizeof(where), "document %zu: ", i + 1);
		r = keyring_add_secret(kr, file, doc, json_array_size(docs) > 1 ? where : "");
		if (r < 0)
			goto out;
	}
out:
	json_decref(docs);
	secmem_free(text, len + 1);
	return r;
}

static int
unseal_docs(const struct seal_args *a)
{
	struct buf out = BUF_INIT(MAX_OUTPUT, BUF_SECRET);
	struct keyring kr = {0};
	json_t *docs = NULL, *doc, *secret;
	char err[512], pre[32];
	size_t i;
	int r = CF_EINVAL;

	if (a->nkeys == 0) {
		cli_usage_err("--private-key: give at least one private key file");
		goto out;
	}
	for (i = 0; i < a->nkeys; i++) {
		r = keyring_load(&kr, a->keys[i]);
		if (r < 0)
			goto out;
	}
	r = seal_read_docs(a->in, &docs);
	if (r < 0)
		goto out;
	json_array_foreach(docs, i, doc)
	{
		err[0] = '\0';
		r = ss_unseal(kr.k, kr.n, doc, &secret, err, sizeof(err));
		if (r < 0) {
			doc_prefix(pre, sizeof(pre), docs, i);
			cli_err("%s%s", pre, err[0] ? err : cf_strerror(r));
			goto out;
		}
		r = yaml_write(&out, secret, seal_format(a, a->out));
		json_decref(secret);
		if (r < 0) {
			cli_err("output: %s", cf_strerror(r));
			goto out;
		}
	}
	r = seal_output(a->out, &out, true);
out:
	for (i = 0; i < kr.n; i++)
		kseal_key_free(kr.k[i]);
	json_decref(docs);
	buf_free(&out);
	return r;
}

/* ---- the commands ---- */

/* Flags that only one mode takes, named when given to another. */
static int
check_modes(const struct seal_args *a, bool unseal)
{
	int modes = a->raw + (a->merge_into != NULL) + a->fetch_cert + a->reencrypt + a->validate;

	if (unseal) {
		if (modes > 0 || a->cert || a->scope_given || a->from_file || a->allow_empty)
			return cli_usage_err(
			        "unsealing takes --private-key, -f, -w/-o and --format "
			        "only");
		return 0;
	}
	if (modes > 1)
		return cli_usage_err("--raw, --merge-into, --fetch-cert, --re-encrypt and "
		                     "--validate exclude each other");
	if (a->nkeys > 0)
		return cli_usage_err("--private-key is for unsealing (coffer unseal, or "
		                     "--recovery-unseal)");
	if (a->from_file && !a->raw)
		return cli_usage_err("--from-file is for --raw");
	return 0;
}

int
unseal_main(int argc, char **argv)
{
	struct seal_args a;
	int r;

	r = parse_args(argc, argv, unseal_usage, &a);
	if (r == 0)
		r = check_modes(&a, true);
	if (r != 0) {
		seal_args_free(&a);
		return r;
	}
	r = unseal_docs(&a);
	seal_args_free(&a);
	return r < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

int
seal_main(int argc, char **argv)
{
	struct seal_args a;
	int r;

	r = parse_args(argc, argv, seal_usage, &a);
	if (r == 0)
		r = check_modes(&a, a.recovery);
	if (r != 0) {
		seal_args_free(&a);
		return r;
	}
	if (a.recovery)
		r = unseal_docs(&a);
	else if (a.fetch_cert)
		r = seal_print_cert(&a);
	else if (a.reencrypt)
		r = seal_reencrypt(&a);
	else if (a.validate)
		r = seal_validate(&a);
	else if (a.raw)
		r = seal_raw(&a);
	else if (a.merge_into)
		r = seal_merge(&a);
	else
		r = seal_docs(&a);
	seal_args_free(&a);
	if (r > 0)
		return r; /* seal_validate: CLI_EXIT_FINDING */
	return r < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
