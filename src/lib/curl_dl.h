/* curl_dl.h - libcurl loaded at run time (dlopen) so a process maps libcurl
 * and its dependency tree only when it makes outgoing HTTP requests: the CLI's
 * client commands, and in the server the JWT auth method's JWKS and OIDC
 * discovery fetches. <curl/curl.h> is used for types and constants only; calls
 * go through the curl_dl function-pointer table, which curl_dl_load() (CLI,
 * single-threaded start-up) or curl_dl_init() (server threads) fills in. */
#ifndef CF_CURL_DL_H
#define CF_CURL_DL_H

#include <curl/curl.h>
#include <stdbool.h>

#define CURL_DL_SONAME "libcurl.so.4"

struct curl_dl {
	bool loaded;
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	char *(*easy_escape)(CURL *curl, const char *string, int length);
	void (*free)(void *p);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *data);
	void (*slist_free_all)(struct curl_slist *list);
};

extern struct curl_dl curl_dl;

/* Load CURL_DL_SONAME and resolve every entry of curl_dl (idempotent).
 * Returns 0, or -1 when the library or one of its symbols is missing. */
int curl_dl_load(void);

/* Thread-safe, idempotent: curl_dl_load() and curl_global_init() once per
 * process (pthread_once), for callers on server threads. Never cleaned up.
 * Returns 0, or -1 when libcurl is missing or cannot be initialized. */
int curl_dl_init(void);

#endif
