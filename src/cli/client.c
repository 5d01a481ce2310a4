/* client.c - libcurl transport for the CLI (see client.h). */
#include "cli/client.h"
#include "lib/buf.h"
#include "lib/curl_dl.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENT_DEFAULT_ADDR "http://127.0.0.1:8200"
#define CLIENT_TOKEN_FILE   ".coffer-token"
#define CLIENT_TOKEN_MAX    4096
#define CLIENT_TIMEOUT      60L

struct client {
	char *address; /* no trailing '/' */
	char *token;   /* secret; NULL when none */
	char *cacert;
	bool skip_verify;
	long timeout;
	char *wrap_ttl; /* X-Vault-Wrap-TTL value, or NULL */
};

/* A response body. The buffer is BUF_SECRET: an answer may carry a secret, so
 * no stale copy is left in freed memory. */
struct body {
	struct buf b;
	bool too_big;
};

static const char *
env2(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (v && *v)
		return v;
	v = getenv(b);
	if (v && *v)
		return v;
	return NULL;
}

/* The path of ~/.coffer-token ($HOME, else the password database). Returns 0,
 * or CF_ENOTFOUND when there is no home directory or the path does not fit. */
static int
token_file_path(char *path, size_t size)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	int w;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		if (!pw)
			return CF_ENOTFOUND;
		home = pw->pw_dir;
	}
	w = snprintf(path, size, "%s/%s", home, CLIENT_TOKEN_FILE);
	if (w < 0 || (size_t)w >= size)
		return CF_ENOTFOUND;
	return 0;
}

/* Reads the first line of ~/.coffer-token into a new buffer; NULL when absent. */
static char *
token_from_file(void)
{
	char path[4096], line[CLIENT_TOKEN_MAX];
	char *tok = NULL;
	FILE *f = NULL;
	size_t n;

	if (token_file_path(path, sizeof(path)) < 0)
		return NULL;
	f = fopen(path, "re");
	if (!f)
		return NULL;
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer keeps a copy of the token */
	if (!fgets(line, sizeof(line), f))
		goto out;
	n = strcspn(line, "\r\n");
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	line[n] = '\0';
	if (n > 0)
		tok = strdup(line);
out:
	secmem_wipe(line, sizeof(line));
	fclose(f);
	return tok;
}

int
client_new(const char *address, const char *token, struct client **ret, char *err, size_t errlen)
{
	struct client *c;
	const char *v;
	int64_t t;
	size_t n;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return CF_ENOMEM;
	c->timeout = CLIENT_TIMEOUT;

	if (!address)
		address = env2("COFFER_ADDR", "VAULT_ADDR");
	if (!address)
		address = CLIENT_DEFAULT_ADDR;
	c->address = strdup(address);
	if (!c->address) {
		r = CF_ENOMEM;
		goto fail;
	}
	n = strlen(c->address);
	while (n > 0 && c->address[n - 1] == '/')
		c->address[--n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "empty server address");
		r = CF_EINVAL;
		goto fail;
	}

	if (!token)
		token = env2("COFFER_TOKEN", "VAULT_TOKEN");
	if (token) {
		c->token = strdup(token);
		if (!c->token) {
			r = CF_ENOMEM;
			goto fail;
		}
	} else {
		c->token = token_from_file();
	}

	v = env2("COFFER_CACERT", "VAULT_CACERT");
	if (v) {
		if (access(v, R_OK) != 0) {
			snprintf(err, errlen, "cannot read CA certificate %s: %s", v,
			         strerror(errno));
			r = CF_EINVAL;
			goto fail;
		}
		c->cacert = strdup(v);
		if (!c->cacert) {
			r = CF_ENOMEM;
			goto fail;
		}
	}
	v = env2("COFFER_SKIP_VERIFY", "VAULT_SKIP_VERIFY");
	if (v && util_parse_bool(v, &c->skip_verify) < 0) {
		snprintf(err, errlen, "COFFER_SKIP_VERIFY: not a boolean: %s", v);
		r = CF_EINVAL;
		goto fail;
	}
	v = env2("COFFER_CLIENT_TIMEOUT", "VAULT_CLIENT_TIMEOUT");
	if (v) {
		if (util_parse_int(v, &t) < 0 || t <= 0 || t > 86400) {
			snprintf(err, errlen, "COFFER_CLIENT_TIMEOUT: not a number of seconds: %s",
			         v);
			r = CF_EINVAL;
			goto fail;
		}
		c->timeout = (long)t;
	}
	*ret = c;
	return 0;
fail:
	client_free(c);
	return r;
}

void
client_free(struct client *c)
{
	if (!c)
		return;
	free(c->address);
	secmem_free_str(c->token);
	free(c->cacert);
	free(c->wrap_ttl);
	free(c);
}

int
client_set_wrap_ttl(struct client *c, const char *ttl)
{
	char *t = ttl ? strdup(ttl) : NULL;

	if (ttl && !t)
		return CF_ENOMEM;
	free(c->wrap_ttl);
	c->wrap_ttl = t;
	return 0;
}

const char *
client_address(const struct client *c)
{
	return c->address;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	int r;

	r = buf_append(&b->b, data, n);
	if (r == CF_ETOOBIG)
		b->too_big = true;
	return r < 0 ? 0 : n;
}

/* Percent-encodes path (keeping '/' and RFC 3986 unreserved characters) after
 * dropping leading slashes. Returns a new string or NULL. */
static char *
encode_path(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, i;
	const unsigned char *s;
	char *out, *o;

	while (*path == '/')
		path++;
	for (s = (const unsigned char *)path; *s; s++)
		n++;
	out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0, s = (const unsigned char *)path; s[i]; i++) {
		unsigned char ch = s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    ch == '/') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Wipes every string of a header list (they may hold the token) and frees it. */
static void
headers_free(struct curl_slist *h)
{
	struct curl_slist *i;

	for (i = h; i; i = i->next)
		if (i->data)
			secmem_wipe(i->data, strlen(i->data));
	curl_dl.slist_free_all(h);
}

/* The URL of /v1/<path>[?query] on c's server (path percent-encoded). Returns
 * 0 with *ret malloc'd, or CF_ENOMEM. */
static int
request_url(const struct client *c, const char *path, const char *query, char **ret)
{
	char *epath, *url = NULL;
	size_t n;
	int r = CF_ENOMEM;

	epath = encode_path(path);
	if (!epath)
		goto out;
	n = strlen(c->address) + strlen(epath) + (query ? strlen(query) : 0) + 8;
	url = malloc(n);
	if (!url)
		goto out;
	snprintf(url, n, "%s/v1/%s%s%s", c->address, epath, query ? "?" : "", query ? query : "");
	*ret = url;
	r = 0;
out:
	free(epath);
	return r;
}

/* Appends line (copied) to *headers. Returns 0 or CF_ENOMEM (*headers unchanged). */
static int
headers_add(struct curl_slist **headers, const char *line)
{
	struct curl_slist *h = curl_dl.slist_append(*headers, line);

	if (!h)
		return CF_ENOMEM;
	*headers = h;
	return 0;
}

/* Appends "X-Vault-Token: <token>" to *headers when c has a token. The line
 * built here is wiped once curl has its copy (headers_free wipes that one).
 * Returns 0 or CF_ENOMEM. */
static int
headers_add_token(const struct client *c, struct curl_slist **headers)
{
	char *hdr;
	size_t n;
	int r;

	if (!c->token || !*c->token)
		return 0;
	n = strlen(c->token) + sizeof("X-Vault-Token: ");
	hdr = malloc(n);
	if (!hdr)
		return CF_ENOMEM;
	snprintf(hdr, n, "X-Vault-Token: %s", c->token);
	r = headers_add(headers, hdr);
	secmem_free_str(hdr);
	return r;
}

/* What every request of c sets alike: the error buffer (CURL_ERROR_SIZE
 * bytes), no signals, the connect timeout, http(s) only, the user agent and
 * the TLS settings of the environment. */
static void
curl_setup(const struct client *c, CURL *curl, char *curlerr)
{
	curl_dl.easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
	curl_dl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_dl.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_dl.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_dl.easy_setopt(curl, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
	if (c->cacert)
		curl_dl.easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
	if (c->skip_verify) {
		curl_dl.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_dl.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* For a method that sends a body (POST, PUT, PATCH): its Content-Type (merge
 * patch for PATCH), no "Expect: 100-continue" round trip for large bodies,
 * and body as compact JSON in *ret_payload (NULL without a body; malloc'd, it
 * may hold a secret: secmem_free_str). Returns 0 or CF_ENOMEM. */
static int
request_body(const char *method, json_t *body, struct curl_slist **headers, char **ret_payload)
{
	int r;

	r = headers_add(headers, strcmp(method, "PATCH") == 0
	                                 ? "Content-Type: application/merge-patch+json"
	                                 : "Content-Type: application/json");
	if (r == 0)
		r = headers_add(headers, "Expect:");
	if (r < 0 || !body)
		return r;
	*ret_payload = json_dumps(body, JSON_COMPACT);
	return *ret_payload ? 0 : CF_ENOMEM;
}

int
client_request(struct client *c, const char *method, const char *path, const char *query,
               json_t *body, struct client_resp *resp, char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct body rb = {0};
	char *url = NULL, *payload = NULL;
	bool sends_body;
	json_error_t jerr;
	CURLcode cr;
	CURL *curl = NULL;
	long status = 0;
	int r;

	buf_init(&rb.b, CLIENT_MAX_BODY, BUF_SECRET);
	memset(resp, 0, sizeof(*resp));
	if (curl_dl_load() != 0) {
		snprintf(err, errlen, "libcurl (%s) is not installed", CURL_DL_SONAME);
		return CF_EUNSUPPORTED;
	}
	sends_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	             strcmp(method, "PATCH") == 0;
	r = request_url(c, path, query, &url);
	if (r == 0)
		r = headers_add_token(c, &headers);
	if (r == 0 && c->wrap_ttl) {
		char hdr[128];
		snprintf(hdr, sizeof(hdr), "X-Vault-Wrap-TTL: %.60s", c->wrap_ttl);
		r = headers_add(&headers, hdr);
	}
	if (r == 0 && sends_body)
		r = request_body(method, body, &headers, &payload);
	if (r < 0)
		goto out;

	curl = curl_dl.easy_init();
	if (!curl) {
		r = CF_ENOMEM;
		goto out;
	}
	curl_setup(c, curl, curlerr);
	curl_dl.easy_setopt(curl, CURLOPT_URL, url);
	curl_dl.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_dl.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_dl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_dl.easy_setopt(curl, CURLOPT_WRITEDATA, &rb);
	curl_dl.easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout);
	if (strcmp(method, "HEAD") == 0)
		curl_dl.easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (sends_body) {
		curl_dl.easy_setopt(curl, CURLOPT_POSTFIELDS, payload ? payload : "");
		curl_dl.easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
		                    (long)(payload ? strlen(payload) : 0));
	}

	cr = curl_dl.easy_perform(curl);
	if (rb.too_big) {
		snprintf(err, errlen, "response from %s larger than %u bytes", c->address,
		         CLIENT_MAX_BODY);
		r = CF_ETOOBIG;
		goto out;
	}
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "cannot reach %s: %s", c->address,
		         curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
		r = CF_EIO;
		goto out;
	}
	curl_dl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	resp->no_token = c->token == NULL;
	if (buf_len(&rb.b) > 0)
		resp->json =
		        json_loadb(buf_str(&rb.b), buf_len(&rb.b), 0, &jerr); /* NULL if not JSON */
	r = 0;
out:
	if (curl)
		curl_dl.easy_cleanup(curl);
	headers_free(headers);
	secmem_free_str(payload);
	buf_free(&rb.b);
	free(url);
	return r;
}

static const char *
status_text(long status)
{
	switch (status) {
	case 400:
		return "invalid request";
	case 403:
		return "permission denied";
	case 404:
		return "not found";
	case 405:
		return "unsupported operation";
	case 429:
		return "rate limit exceeded";
	case 500:
		return "internal server error";
	case 501:
		return "server is not initialized";
	case 502:
		return "bad gateway";
	case 503:
		return "server is sealed or unavailable";
	default:
		return "unexpected response";
	}
}

void
client_resp_error(const struct client_resp *resp, const char *path, char *err, size_t errlen)
{
	json_t *errs = resp->json ? json_object_get(resp->json, "errors") : NULL;
	size_t off = 0, i, k;
	const char *s;
	json_t *e;
	int w;

	if (errlen == 0)
		return;
	err[0] = '\0';
	if (json_is_array(errs)) {
		for (i = 0; i < json_array_size(errs); i++) {
			e = json_array_get(errs, i);
			s = json_string_value(e);
			if (!s || !*s)
				continue;
			w = snprintf(err + off, errlen - off, "%s%s", off ? "; " : "", s);
			if (w < 0 || (size_t)w >= errlen - off) {
				off = strlen(err);
				break;
			}
			off += (size_t)w;
		}
	}
	if (off == 0) {
		if (resp->status == 404 && path)
			w = snprintf(err, errlen, "no value found at %s", path);
		else
			w = snprintf(err, errlen, "%s", status_text(resp->status));
		off = (w < 0) ? 0 : ((size_t)w >= errlen ? errlen - 1 : (size_t)w);
	}
	/* One line: Vault's multi-error texts contain "\n\t* ". */
	for (k = 0; k < off; k++)
		if (err[k] == '\n' || err[k] == '\t' || err[k] == '\r')
			err[k] = ' ';
	if (off < errlen)
		snprintf(err + off, errlen - off, " (HTTP %ld)", resp->status);
	/* The usual reason for a 403 on a new setup: say so, and where we looked. */
	if (resp->no_token && (resp->status == 401 || resp->status == 403)) {
		char file[4096];
		off = strlen(err);
		if (token_file_path(file, sizeof(file)) < 0)
			snprintf(file, sizeof(file), "~/%s", CLIENT_TOKEN_FILE);
		snprintf(err + off, errlen - off,
		         ": no token is set (looked at --token, COFFER_TOKEN, VAULT_TOKEN and %s; "
		         "run coffer login or export COFFER_TOKEN)",
		         file);
	}
}

json_t *
client_resp_data(const struct client_resp *resp)
{
	json_t *d;

	if (!resp->json)
		return NULL;
	d = json_object_get(resp->json, "data");
	if (json_is_object(d))
		return d;
	return resp->json;
}

void
client_resp_clear(struct client_resp *resp)
{
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

/* ---- streaming (server-sent events) ---- */

struct stream_ctx {
	CURL *curl;
	long status;
	bool (*on_data)(void *arg, const char *p, size_t n);
	void *arg;
	bool stopped;
	struct body err; /* the body of a non-2xx answer */
};

static size_t
on_stream(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_ctx *sc = arg;
	size_t n = size * nmemb;
	int r;

	if (sc->status == 0)
		curl_dl.easy_getinfo(sc->curl, CURLINFO_RESPONSE_CODE, &sc->status);
	if (sc->status < 200 || sc->status > 299) {
		r = buf_append(&sc->err.b, data, n);
		if (r == CF_ETOOBIG)
			return n; /* an error body: the start is enough */
		return r < 0 ? 0 : n;
	}
	if (!sc->on_data(sc->arg, data, n)) {
		sc->stopped = true;
		return 0; /* aborts the transfer */
	}
	return n;
}

int
client_stream(struct client *c, const char *path, const char *query, const char *last_event_id,
              bool (*on_data)(void *arg, const char *p, size_t n), void *arg,
              struct client_resp *resp, char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "", leid[64];
	struct curl_slist *headers = NULL;
	struct stream_ctx sc = {0};
	char *url = NULL;
	json_error_t jerr;
	CURLcode cr;
	int r;

	buf_init(&sc.err.b, 65536, BUF_SECRET);
	memset(resp, 0, sizeof(*resp));
	if (curl_dl_load() != 0) {
		snprintf(err, errlen, "libcurl (%s) is not installed", CURL_DL_SONAME);
		return CF_EUNSUPPORTED;
	}
	r = request_url(c, path, query, &url);
	if (r == 0)
		r = headers_add_token(c, &headers);
	if (r == 0)
		r = headers_add(&headers, "Accept: text/event-stream");
	if (r == 0 && last_event_id) {
		snprintf(leid, sizeof(leid), "Last-Event-ID: %s", last_event_id);
		r = headers_add(&headers, leid);
	}
	if (r < 0)
		goto out;
	sc.curl = curl_dl.easy_init();
	if (!sc.curl) {
		r = CF_ENOMEM;
		goto out;
	}
	sc.on_data = on_data;
	sc.arg = arg;
	curl_setup(c, sc.curl, curlerr);
	curl_dl.easy_setopt(sc.curl, CURLOPT_URL, url);
	curl_dl.easy_setopt(sc.curl, CURLOPT_HTTPGET, 1L);
	curl_dl.easy_setopt(sc.curl, CURLOPT_HTTPHEADER, headers);
	curl_dl.easy_setopt(sc.curl, CURLOPT_WRITEFUNCTION, on_stream);
	curl_dl.easy_setopt(sc.curl, CURLOPT_WRITEDATA, &sc);
	/* No overall timeout: the server sends a keepalive every 15 s, so a minute
	 * without a byte means the connection is dead. */
	curl_dl.easy_setopt(sc.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_dl.easy_setopt(sc.curl, CURLOPT_LOW_SPEED_TIME, 60L);
	cr = curl_dl.easy_perform(sc.curl);
	if (sc.status == 0)
		curl_dl.easy_getinfo(sc.curl, CURLINFO_RESPONSE_CODE, &sc.status);
	if (cr != CURLE_OK && !sc.stopped &&
	    (sc.status < 200 || sc.status > 299 || cr != CURLE_PARTIAL_FILE)) {
		if (sc.status >= 200 && sc.status <= 299)
			snprintf(err, errlen, "the event stream from %s broke: %s", c->address,
			         curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
		else
			snprintf(err, errlen, "cannot reach %s: %s", c->address,
			         curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
		resp->status = sc.status;
		r = CF_EIO;
		goto out;
	}
	resp->status = sc.status;
	resp->no_token = c->token == NULL;
	if (buf_len(&sc.err.b) > 0)
		resp->json = json_loadb(buf_str(&sc.err.b), buf_len(&sc.err.b), 0, &jerr);
	r = 0;
out:
	if (sc.curl)
		curl_dl.easy_cleanup(sc.curl);
	headers_free(headers);
	buf_free(&sc.err.b);
	free(url);
	return r;
}
