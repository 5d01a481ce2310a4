/* seal_server.c - the modes of coffer seal that go through the server's
 * sealing API (docs/sealed-secrets.md): the certificate from
 * GET sys/sealing/cert, --re-encrypt through POST sys/sealing/reseal and
 * --validate through POST sys/sealing/audit. The private keys stay in the
 * server; plaintext never crosses the wire. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/seal_int.h"
#include "lib/curl_dl.h"
#include "lib/err.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define CERT_MAX (1024u * 1024)

bool
seal_have_server(void)
{
	const char *v = getenv("COFFER_ADDR");

	if (arg_address && *arg_address)
		return true;
	if (!v || !*v)
		v = getenv("VAULT_ADDR");
	return v && *v;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

int
seal_http_get(const char *url, char **ret, size_t *ret_len)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	struct buf b = BUF_INIT(CERT_MAX, 0);
	const char *ca = getenv("COFFER_CACERT"), *skip = getenv("COFFER_SKIP_VERIFY");
	bool no_verify = false;
	long status = 0;
	CURLcode cr;
	CURL *curl;
	int r = CF_EIO;

	if (!ca || !*ca)
		ca = getenv("VAULT_CACERT");
	if (!skip || !*skip)
		skip = getenv("VAULT_SKIP_VERIFY");
	if (skip && *skip && util_parse_bool(skip, &no_verify) < 0) {
		cli_err("COFFER_SKIP_VERIFY: not a boolean: %s", skip);
		return CF_EINVAL;
	}
	if (curl_dl_load() != 0) {
		cli_err("libcurl (%s) is not installed", CURL_DL_SONAME);
		return CF_EUNSUPPORTED;
	}
	curl = curl_dl.easy_init();
	if (!curl)
		cli_oom();
	curl_dl.easy_setopt(curl, CURLOPT_URL, url);
	curl_dl.easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
	curl_dl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_dl.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_dl.easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_dl.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_dl.easy_setopt(curl, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
	curl_dl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_dl.easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	if (ca && *ca)
		curl_dl.easy_setopt(curl, CURLOPT_CAINFO, ca);
	if (no_verify) {
		curl_dl.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_dl.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	cr = curl_dl.easy_perform(curl);
	if (cr == CURLE_WRITE_ERROR) {
		cli_err("certificate at %s: larger than %u bytes", url, CERT_MAX);
		r = CF_ETOOBIG;
		goto out;
	}
	if (cr != CURLE_OK) {
		cli_err("cannot fetch the certificate from %s: %s", url,
		        curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
		goto out;
	}
	curl_dl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		cli_err("cannot fetch the certificate from %s: HTTP %ld", url, status);
		r = status == 503 ? CF_ESEALED : CF_EIO;
		goto out;
	}
	r = buf_detach(&b, ret, ret_len);
	if (r < 0)
		cli_oom();
out:
	curl_dl.easy_cleanup(curl);
	buf_free(&b);
	return r;
}

int
seal_fetch_cert(char **ret, size_t *ret_len)
{
	struct client *c = NULL;
	char *url = NULL;
	int r;

	r = cli_client(&c);
	if (r < 0)
		return r;
	if (asprintf(&url, "%s/v1/sys/sealing/cert", client_address(c)) < 0)
		cli_oom();
	r = seal_http_get(url, ret, ret_len);
	free(url);
	client_free(c);
	return r;
}

int
seal_print_cert(const struct seal_args *a)
{
	struct buf out = BUF_INIT(CERT_MAX, 0);
	char *pem = NULL, err[512] = "";
	const char *src = a->cert;
	size_t len = 0;
	int r;

	if (src && (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)) {
		r = seal_http_get(src, &pem, &len);
	} else if (src) {
		if (strncmp(src, "file://", 7) == 0)
			src += 7;
		r = util_read_file(src, CERT_MAX, &pem, &len, err, sizeof(err));
		if (r < 0)
			cli_err("--cert: %s", err);
	} else {
		r = seal_fetch_cert(&pem, &len);
	}
	if (r < 0)
		goto out;
	r = buf_append(&out, pem, len);
	if (r == 0)
		r = seal_output(a->out, &out, false);
out:
	free(pem);
	buf_free(&out);
	return r;
}

/* The server's warnings, on stderr. */
static void
print_warnings(const json_t *resp)
{
	json_t *w = json_object_get(resp, "warnings"), *v;
	size_t i;

	json_array_foreach(w, i, v)
	{
		if (json_is_string(v))
			cli_err("warning: %s", json_string_value(v));
	}
}

int
seal_reencrypt(const struct seal_args *a)
{
	/* With only -f, the file is rewritten in place (kubeseal --re-encrypt). */
	const char *path = a->out ? a->out : a->in;
	struct buf out = BUF_INIT(64u * 1024 * 1024, 0);
	struct client_resp resp = {0};
	struct client *c = NULL;
	json_t *docs = NULL, *doc, *body, *sealed;
	size_t i;
	int r;

	r = seal_read_docs(a->in, &docs);
	if (r < 0)
		goto out;
	r = cli_client(&c);
	if (r < 0)
		goto out;
	json_array_foreach(docs, i, doc)
	{
		body = json_pack("{sO}", "sealed_secret", doc);
		if (!body)
			cli_oom();
		r = cli_call(c, "POST", "sys/sealing/reseal", NULL, body, &resp);
		json_decref(body);
		if (r < 0)
			goto out;
		print_warnings(resp.json);
		sealed = json_object_get(client_resp_data(&resp), "sealed_secret");
		if (!json_is_object(sealed)) {
			cli_err("sys/sealing/reseal: the answer has no sealed_secret");
			r = CF_EUPSTREAM;
			goto out;
		}
		r = yaml_write(&out, sealed, seal_format(a, path));
		client_resp_clear(&resp);
		if (r < 0) {
			cli_err("output: %s", cf_strerror(r));
			goto out;
		}
	}
	r = seal_output(path, &out, false);
out:
	client_resp_clear(&resp);
	client_free(c);
	json_decref(docs);
	buf_free(&out);
	return r;
}

/* One line per item of result that does not open with a usable key. Returns
 * the number of lines. */
static size_t
report_result(const json_t *result, const json_t *doc)
{
	const json_t *meta = json_object_get(doc, "metadata");
	const char *ns = json_string_value(json_object_get(result, "namespace"));
	const char *name = json_string_value(json_object_get(result, "name"));
	json_t *items = json_object_get(result, "items"), *it;
	const char *item, *state, *id;
	size_t bad = 0;

	if (!name)
		name = json_string_value(json_object_get(meta, "name"));
	if (!ns)
		ns = json_string_value(json_object_get(meta, "namespace"));
	json_object_foreach(items, item, it)
	{
		state = json_string_value(json_object_get(it, "state"));
		id = json_string_value(json_object_get(it, "key_id"));
		if (state && (strcmp(state, "active") == 0 || strcmp(state, "retired") == 0))
			continue;
		if (state && strcmp(state, "compromised") == 0)
			printf("%s/%s: spec.encryptedData.%s: sealed with compromised key %s\n",
			       ns ? ns : "", name ? name : "", item, id ? id : "?");
		else
			printf("%s/%s: spec.encryptedData.%s: no key of the server can decrypt "
			       "it\n",
			       ns ? ns : "", name ? name : "", item);
		bad++;
	}
	return bad;
}

int
seal_validate(const struct seal_args *a)
{
	struct client_resp resp = {0};
	json_t *docs = NULL, *body = NULL, *results;
	size_t bad = 0, i;
	int r;

	r = seal_read_docs(a->in, &docs);
	if (r < 0)
		goto out;
	body = json_pack("{sO}", "sealed_secrets", docs);
	if (!body)
		cli_oom();
	r = cli_request("POST", "sys/sealing/audit", NULL, body, &resp);
	if (r < 0)
		goto out;
	results = json_object_get(client_resp_data(&resp), "results");
	if (json_array_size(results) != json_array_size(docs)) {
		cli_err("sys/sealing/audit: the answer has %zu results for %zu documents",
		        json_array_size(results), json_array_size(docs));
		r = CF_EUPSTREAM;
		goto out;
	}
	for (i = 0; i < json_array_size(docs); i++)
		bad += report_result(json_array_get(results, i), json_array_get(docs, i));
	fflush(stdout);
	r = bad > 0 ? CLI_EXIT_FINDING : 0;
out:
	client_resp_clear(&resp);
	json_decref(body);
	json_decref(docs);
	return r;
}
