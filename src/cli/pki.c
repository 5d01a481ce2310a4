/* pki.c - `coffer pki issue ROLE common_name=... [key=value ...]`: issues a
 * certificate from a PKI mount (POST <mount>/issue/<role>, Vault's PKI API) and
 * writes it to files: PREFIX.crt, PREFIX.key (mode 0600) and PREFIX.ca.pem, or
 * one PREFIX.pem bundle (key, certificate, chain; mode 0600). Every file is
 * written to a temporary file in its directory and renamed, so a reader never
 * sees half a key and an existing file is replaced whole. */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "lib/secmem.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	OPT_MOUNT = CLI_OPT_LOCAL,
	OPT_OUT,
	OPT_PEMFORMAT,
};

#define PKI_CLI_PATH_MAX 1024
#define PATH_MAX_CLI     4096

/* Writes len bytes of data to path with mode, through a temporary file in the
 * same directory that is renamed over path. Returns 0 or -1 (message
 * printed; the temporary file is gone). */
static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX_CLI];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		cli_err("%s: the file name is too long", path);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* prefix + ext into path; -1 (message printed) when too long. */
static int
file_name(char path[PATH_MAX_CLI], const char *prefix, const char *ext)
{
	if ((size_t)snprintf(path, PATH_MAX_CLI, "%s%s", prefix, ext) >= PATH_MAX_CLI) {
		cli_err("%s: the file name is too long", prefix);
		return -1;
	}
	return 0;
}

/* Appends s and a newline when it lacks one. */
static void
pem_append(char **buf, size_t *len, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *nb;

	if (n == 0)
		return;
	nb = malloc(*len + n + 2);
	if (!nb)
		cli_oom();
	if (*buf) {
		memcpy(nb, *buf, *len);
		secmem_free(*buf, *len + 1);
	}
	memcpy(nb + *len, s, n);
	*len += n;
	if (s[n - 1] != '\n')
		nb[(*len)++] = '\n';
	nb[*len] = '\0';
	*buf = nb;
}

/* The chain of an issue answer (ca_chain, else issuing_ca) as PEM text. */
static void
chain_pem(json_t *data, char **buf, size_t *len)
{
	json_t *chain = json_object_get(data, "ca_chain"), *v;
	size_t i;

	json_array_foreach(chain, i, v) pem_append(buf, len, json_string_value(v));
	if (!*buf)
		pem_append(buf, len, json_string_value(json_object_get(data, "issuing_ca")));
}

/* Writes the files of an issue answer under prefix. */
static int
write_files(json_t *data, const char *prefix, bool bundle, json_t *written)
{
	const char *cert = json_string_value(json_object_get(data, "certificate"));
	const char *key = json_string_value(json_object_get(data, "private_key"));
	char path[PATH_MAX_CLI], *chain = NULL, *all = NULL;
	size_t clen = 0, alen = 0;
	int r = -1;

	if (!cert || !key) {
		cli_err("the answer has no certificate and private key");
		return -1;
	}
	chain_pem(data, &chain, &clen);
	if (bundle) {
		pem_append(&all, &alen, key);
		pem_append(&all, &alen, cert);
		pem_append(&all, &alen, chain);
		if (file_name(path, prefix, ".pem") < 0 || write_atomic(path, all, alen, 0600) < 0)
			goto out;
		json_array_append_new(written, json_string(path));
		r = 0;
		goto out;
	}
	/* The key first: a certificate without its key is of no use. */
	pem_append(&all, &alen, key);
	if (file_name(path, prefix, ".key") < 0 || write_atomic(path, all, alen, 0600) < 0)
		goto out;
	json_array_append_new(written, json_string(path));
	secmem_free(all, alen + 1);
	all = NULL;
	alen = 0;
	pem_append(&all, &alen, cert);
	if (file_name(path, prefix, ".crt") < 0 || write_atomic(path, all, alen, 0644) < 0)
		goto out;
	json_array_append_new(written, json_string(path));
	if (chain) {
		if (file_name(path, prefix, ".ca.pem") < 0 ||
		    write_atomic(path, chain, clen, 0644) < 0)
			goto out;
		json_array_append_new(written, json_string(path));
	}
	r = 0;
out:
	if (all)
		secmem_free(all, alen + 1);
	if (chain)
		secmem_free(chain, clen + 1);
	return r;
}

static const char issue_usage[] =
        "Usage: coffer pki issue [options] ROLE common_name=NAME [key=value ...]\n\n"
        "Issues a certificate and a new private key with role ROLE (POST\n"
        "<mount>/issue/ROLE) and writes them to files: PREFIX.key (mode 0600),\n"
        "PREFIX.crt and PREFIX.ca.pem (the issuing chain), or one PREFIX.pem with\n"
        "--format=pem-bundle (key, certificate and chain; mode 0600). Files are\n"
        "replaced atomically. Prints the serial number and the expiration.\n"
        "Other parameters of the issue call go as key=value: alt_names=a,b\n"
        "ip_sans=127.0.0.1 ttl=720h ...\n\n"
        "  --mount=PATH          the PKI mount (default pki)\n"
        "  --out=PREFIX          where the files go (default: the common name)\n"
        "  --format=pem|pem-bundle|json\n"
        "                        separate files (default) or one bundle; json writes\n"
        "                        the files and prints the answer without the key\n";

static int
pki_issue(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"mount", required_argument, NULL, OPT_MOUNT},
	        {"out", required_argument, NULL, OPT_OUT},
	        {"format", required_argument, NULL, OPT_PEMFORMAT},
	        CLI_COMMON_OPTIONS,
	        {0},
	};
	const char *mount = "pki", *out = NULL, *cn, *serial;
	struct client_resp resp = {0};
	char path[PKI_CLI_PATH_MAX], err[512], prefix[PATH_MAX_CLI], when[64];
	json_t *body = NULL, *data, *written = NULL;
	bool bundle = false;
	size_t n;
	int o, r = -1;

	while ((o = cli_getopt(argc, argv, opts, issue_usage)) != -1) {
		if (o == OPT_MOUNT) {
			mount = optarg;
		} else if (o == OPT_OUT) {
			out = optarg;
		} else if (o == OPT_PEMFORMAT) {
			if (strcmp(optarg, "pem-bundle") == 0)
				bundle = true;
			else if (strcmp(optarg, "json") == 0)
				arg_format = CLI_FORMAT_JSON;
			else if (strcmp(optarg, "pem") != 0 && strcmp(optarg, "table") != 0)
				return cli_usage_err("--format: want pem, pem-bundle or json");
		}
	}
	if (argc - optind < 1)
		return cli_usage_err("missing ROLE");
	if (argc - optind < 2)
		return cli_usage_err("missing common_name=NAME");
	if (args_parse_kv(argc - optind - 1, argv + optind + 1, stdin, &body, err, sizeof(err)) <
	    0) {
		cli_err("%s", err);
		return CLI_EXIT_ERROR;
	}
	cn = json_string_value(json_object_get(body, "common_name"));
	if (!cn || !*cn) {
		json_decref(body);
		return cli_usage_err("missing common_name=NAME");
	}
	if (out && !*out) {
		json_decref(body);
		return cli_usage_err("--out: empty PREFIX");
	}
	/* default prefix: the common name, made a plain file name */
	snprintf(prefix, sizeof(prefix), "%s", out ? out : cn);
	if (!out)
		for (char *p = prefix; *p; p++)
			if (*p == '/' || *p == '*' || *p == ' ')
				*p = '_';
	json_object_set_new(body, "format", json_string("pem"));
	while (*mount == '/')
		mount++;
	n = strlen(mount);
	while (n > 0 && mount[n - 1] == '/')
		n--;
	if (n == 0 || (size_t)snprintf(path, sizeof(path), "%.*s/issue/%s", (int)n, mount,
	                               argv[optind]) >= sizeof(path)) {
		json_decref(body);
		return cli_usage_err("ROLE or --mount is invalid or too long");
	}
	r = cli_request("POST", path, NULL, body, &resp);
	if (r < 0)
		goto out;
	data = client_resp_data(&resp);
	written = json_array();
	if (!written)
		cli_oom();
	r = write_files(data, prefix, bundle, written);
	if (r < 0)
		goto out;
	serial = json_string_value(json_object_get(data, "serial_number"));
	if (arg_format == CLI_FORMAT_JSON) {
		json_t *o2 = json_pack("{s:O, s:O, s:O}", "serial_number",
		                       json_object_get(data, "serial_number"), "expiration",
		                       json_object_get(data, "expiration"), "files", written);
		if (!o2)
			cli_oom();
		cli_print(o2, NULL);
		json_decref(o2);
	} else {
		time_t t = (time_t)json_integer_value(json_object_get(data, "expiration"));
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("serial_number    %s\nexpiration       %s\n", serial ? serial : "", when);
		for (size_t i = 0; i < json_array_size(written); i++)
			printf("wrote            %s\n",
			       json_string_value(json_array_get(written, i)));
	}
out:
	json_decref(written);
	json_decref(body);
	client_resp_clear(&resp);
	return cli_exit(r);
}

static const struct cli_cmd pki_cmds[] = {
        {"issue", pki_issue, "issue a certificate and key from a role and write them to files"},
        {NULL, NULL, NULL},
};

int
pki_main(int argc, char **argv)
{
	return cli_dispatch("pki", pki_cmds, argc, argv);
}
