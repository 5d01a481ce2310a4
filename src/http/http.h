/* http.h - the libmicrohttpd front end: request parsing, limits, TLS, the JSON
 * envelope and status codes (Vault's API conventions). Knows nothing about secrets. */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr;
struct core;
struct request;
struct response;
struct http_server;

#define HTTP_DEFAULT_MAX_BODY (32u * 1024 * 1024)
#define HTTP_THREADS_PER_CORE 16u /* the default pool: per core, at most HTTP_MAX_THREADS */
#define HTTP_MAX_THREADS      256u

/* The config file's telemetry settings (telemetry block, and the listener's
 * telemetry block for unauthenticated_metrics_access), kept for sys/metrics. */
struct http_telemetry {
	int64_t prometheus_retention_s; /* prometheus_retention_time; 0 = not set */
	bool disable_hostname;
	bool unauthenticated_metrics_access; /* sys/metrics answers without a token */
};

struct http_config {
	const char *listen;   /* "HOST:PORT": an IPv4 address, a host name or "" (all) */
	const char *tls_cert; /* PEM file or NULL */
	const char *tls_key;
	size_t max_body;  /* bytes; 0 = default 32 MiB */
	unsigned threads; /* 0 = HTTP_THREADS_PER_CORE per core, at most HTTP_MAX_THREADS */
	/* X-Forwarded-For: comma-separated CIDR blocks of the proxies whose header
	 * names the client (NULL or "": the header is never used). From another
	 * peer the header is ignored, or refused with 400 when xff_reject. */
	const char *xff_authorized;
	bool xff_reject;
	struct http_telemetry telemetry;

	bool forward; /* HA standby: forward requests to the active node, not 307 */
};

/* Checks a listen address ("HOST:PORT") without binding: 0, or CF_EINVAL with a
 * message saying what is wrong (no port, a bad port, IPv6, a host that does not
 * resolve) in err. */
int http_listen_check(const char *listen, char *err, size_t errlen);
/* Starts serving. Returns 0, CF_EINVAL (bad listen address; TLS file missing,
 * unreadable or empty) or CF_EIO (bind failed, or the daemon did not start),
 * with a message naming the option or address and the reason in err. */
int http_start(const struct http_config *cfg, struct core *core, struct http_server **ret,
               char *err, size_t errlen);
/* Parses a comma-separated list of CIDR blocks (x_forwarded_for_authorized_addrs;
 * blanks around entries and empty entries are skipped) into a malloc'd array.
 * Returns 0 (*ret NULL when none), CF_EINVAL naming the bad entry in err, or
 * CF_ENOMEM. */
int http_xff_parse(const char *list, struct cidr **ret, size_t *ret_n, char *err, size_t errlen);
/* Reads the --tls-cert and --tls-key files again and serves them to new TLS
 * connections; established connections keep working on the old ones. On
 * error (CF_EINVAL, the reason naming the files in err) the current
 * certificate stays. */
int http_tls_reload(struct http_server *s, char *err, size_t errlen);
/* Stops accepting, finishes in-flight requests, frees. */
void http_stop(struct http_server *s);

/* Whether GnuTLS has been loaded (gnutls_dl.c): only a server with TLS loads it. */
bool http_tls_loaded(void);

/* Normalizes the path of a request as the client sent it (percent-encoded,
 * without the query): decodes it, requires "/v1/", and runs path_normalize
 * (lib/path.h) on the rest with flags. *ret is malloc'd, without "/v1/". Returns 0, CF_ENOROUTE
 * (not under /v1/, or empty), CF_EINVAL with the reason in err ("%00", a '%' without two hex
 * digits, and every problem path_normalize names) or CF_ENOMEM. */
int http_path_normalize(const char *url, unsigned flags, char **ret, char *err, size_t errlen);

/* Decodes a request body: empty or JSON null -> {}, else must be a JSON object
 * (duplicate keys rejected). On error returns CF_EINVAL with a message in err
 * that quotes no part of the body. */
int http_json_decode(const char *body, size_t len, json_t **ret, char *err, size_t errlen);

/* Renders rs into a body (malloc'd, may be NULL for 204) and its status. */
int http_render(const struct request *rq, const struct response *rs, char **ret_body,
                size_t *ret_len);

#endif
