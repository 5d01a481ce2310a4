/* forward.c - an HA standby started with --forward passes a request on to the
 * active node instead of redirecting the client (docs/ha.md): the same method,
 * path, query, headers (but the hop-by-hop ones and Host) and body, over libcurl;
 * the active node's status and body come back as the answer. Redirects of the
 * active node are not followed. The body may hold secrets: it is kept in a
 * BUF_SECRET buffer and wiped. */
#include "http/forward.h"
#include "lib/buf.h"
#include "lib/curl_dl.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FORWARD_TIMEOUT_S 60
#define FORWARD_MAX_BODY  (64u << 20)

struct hdr_ctx {
	struct curl_slist *list;
	bool failed;
};

static enum MHD_Result
add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	static const char *const skip[] = {
	        "host",   "content-length", "connection", "keep-alive", "transfer-encoding",
	        "expect", "upgrade",        "te",         "trailer"};
	struct hdr_ctx *h = cls;
	struct buf line = BUF_INIT(65536, BUF_SECRET); /* X-Vault-Token */
	struct curl_slist *n;

	(void)kind;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcasecmp(key, skip[i]) == 0)
			return MHD_YES;
	if (buf_printf(&line, "%s: %s", key, value ? value : "") < 0) {
		h->failed = true;
		return MHD_NO;
	}
	n = curl_dl.slist_append(h->list, buf_str(&line));
	buf_free(&line);
	if (n == NULL) {
		h->failed = true;
		return MHD_NO;
	}
	h->list = n;
	return MHD_YES;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

/* libcurl's copies of the headers: wipe them (the token) before freeing. */
static void
headers_free(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		secmem_wipe(l->data, strlen(l->data));
	curl_dl.slist_free_all(list);
}

int
http_forward(struct MHD_Connection *conn, const char *method, const char *url, const char *body,
             size_t len, int *ret_status, char **ret_body, size_t *ret_len)
{
	struct hdr_ctx h = {0};
	struct buf out = BUF_INIT(FORWARD_MAX_BODY, BUF_SECRET);
	CURL *c = NULL;
	CURLcode cr;
	long status = 0;
	int r;

	if (curl_dl_init() < 0)
		return CF_EUNSUPPORTED;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &h);
	if (h.failed) {
		r = CF_ENOMEM;
		goto out;
	}
	c = curl_dl.easy_init();
	if (c == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	curl_dl.easy_setopt(c, CURLOPT_URL, url);
	curl_dl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		curl_dl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_dl.easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	} else {
		curl_dl.easy_setopt(c, CURLOPT_POSTFIELDS, len > 0 ? body : "");
		curl_dl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_dl.easy_setopt(c, CURLOPT_HTTPHEADER, h.list);
	curl_dl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_dl.easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_dl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_dl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_dl.easy_setopt(c, CURLOPT_TIMEOUT, (long)FORWARD_TIMEOUT_S);
	curl_dl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cr = curl_dl.easy_perform(c);
	if (cr != CURLE_OK) {
		log_error("HA: cannot forward a request to the active node: %s",
		          curl_dl.easy_strerror(cr));
		r = CF_EUPSTREAM;
		goto out;
	}
	curl_dl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	r = buf_detach(&out, ret_body, ret_len);
	if (r < 0)
		goto out;
	*ret_status = (int)status;
out:
	if (c)
		curl_dl.easy_cleanup(c);
	headers_free(h.list);
	buf_free(&out);
	return r;
}
