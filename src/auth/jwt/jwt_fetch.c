/* jwt_fetch.c - JWKS and OIDC discovery fetches with libcurl; see jwt_fetch.h. */
#include "auth/jwt/jwt_fetch.h"
#include "lib/buf.h"
#include "lib/curl_dl.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"
#define URL_MAX          2048

struct body {
	struct buf b;
	bool too_big;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t len = size * nmemb;
	int r;

	r = buf_append(&b->b, data, len);
	if (r == CF_ETOOBIG)
		b->too_big = true;
	return r < 0 ? 0 : len; /* 0 aborts the transfer */
}

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap); /* a truncated reason is still a reason */
	va_end(ap);
	return r;
}

static bool
url_ok(const char *url)
{
	return url && strlen(url) < URL_MAX &&
	       (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
}

int
jwt_fetch(const char *url, const char *ca_pem, char **ret_body, size_t *ret_len, char *err,
          size_t errlen)
{
	struct body b = {0};
	char curlerr[CURL_ERROR_SIZE] = "";
	struct curl_blob blob;
	long status = 0;
	CURLcode cr;
	CURL *c;
	int r;

	err[0] = '\0';
	buf_init(&b.b, JWT_FETCH_MAX_BYTES, 0);
	if (!url_ok(url))
		return fail(err, errlen, CF_EINVAL, "URL must start with https:// or http://");
	if (curl_dl_init() != 0)
		return fail(err, errlen, CF_EUPSTREAM, "libcurl (%s) is not available",
		            CURL_DL_SONAME);
	c = curl_dl.easy_init();
	if (!c)
		return CF_ENOMEM;
	curl_dl.easy_setopt(c, CURLOPT_URL, url);
	curl_dl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_dl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_dl.easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_dl.easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_dl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM timeouts */
	curl_dl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)JWT_FETCH_CONNECT_TIMEOUT);
	curl_dl.easy_setopt(c, CURLOPT_TIMEOUT, (long)JWT_FETCH_TIMEOUT);
	curl_dl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_dl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_dl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_dl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_dl.easy_setopt(c, CURLOPT_MAXFILESIZE, (long)JWT_FETCH_MAX_BYTES);
	curl_dl.easy_setopt(c, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
	if (ca_pem && ca_pem[0]) {
		blob.data = (void *)ca_pem;
		blob.len = strlen(ca_pem);
		blob.flags = CURL_BLOB_COPY;
		curl_dl.easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	cr = curl_dl.easy_perform(c);
	if (cr == CURLE_OK)
		curl_dl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_dl.easy_cleanup(c);
	if (b.too_big || cr == CURLE_FILESIZE_EXCEEDED)
		r = fail(err, errlen, CF_EUPSTREAM, "response larger than %d bytes",
		         JWT_FETCH_MAX_BYTES);
	else if (cr != CURLE_OK)
		r = fail(err, errlen, CF_EUPSTREAM, "%s",
		         curlerr[0] ? curlerr : curl_dl.easy_strerror(cr));
	else if (status != 200)
		r = fail(err, errlen, CF_EUPSTREAM, "HTTP status %ld", status);
	else if (buf_len(&b.b) == 0)
		r = fail(err, errlen, CF_EUPSTREAM, "empty response");
	else
		r = buf_detach(&b.b, ret_body, ret_len);
	buf_free(&b.b);
	return r;
}

/* "a" and "a/" name the same issuer. */
static bool
issuer_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '/')
		la--;
	if (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

int
jwt_fetch_discovery(const char *issuer_url, const char *ca_pem, char **ret_issuer,
                    char **ret_jwks_uri, char *err, size_t errlen)
{
	char url[URL_MAX + sizeof(DISCOVERY_SUFFIX)], *body = NULL, *iss = NULL, *jwks = NULL;
	size_t len = strlen(issuer_url), blen = 0;
	const char *i, *j;
	json_t *doc = NULL;
	int r;

	if (!url_ok(issuer_url))
		return fail(err, errlen, CF_EINVAL, "URL must start with https:// or http://");
	if (len && issuer_url[len - 1] == '/')
		len--;
	(void)snprintf(url, sizeof(url), "%.*s%s", (int)len, issuer_url, DISCOVERY_SUFFIX);
	r = jwt_fetch(url, ca_pem, &body, &blen, err, errlen);
	if (r < 0)
		return r;
	doc = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);
	i = json_string_value(json_object_get(doc, "issuer"));
	j = json_string_value(json_object_get(doc, "jwks_uri"));
	if (!json_is_object(doc))
		r = fail(err, errlen, CF_EUPSTREAM, "discovery document is not a JSON object");
	else if (!i || !issuer_equal(i, issuer_url))
		r = fail(err, errlen, CF_EUPSTREAM,
		         "issuer in the discovery document does not match the discovery URL");
	else if (!j || !url_ok(j))
		r = fail(err, errlen, CF_EUPSTREAM, "discovery document has no http(s) jwks_uri");
	else if (!(iss = strdup(i)) || !(jwks = strdup(j)))
		r = CF_ENOMEM;
	if (r == 0) {
		*ret_issuer = iss;
		*ret_jwks_uri = jwks;
		iss = jwks = NULL;
	}
	free(iss);
	free(jwks);
	json_decref(doc);
	free(body);
	return r;
}
