/* server.c - libmicrohttpd front end (epoll, thread pool sized to the cores).
 *
 * The response is queued on the LAST call of the access handler, after the
 * upload is drained, or MHD closes the connection after each request
 * (the libmicrohttpd keep-alive pitfall: answer only after the upload is drained). Bodies are
 * capped (413 past the limit) and wiped when freed: they carry secrets. */
#include "core/core.h"
#include "backend/request.h"
#include "http/http.h"
#include "http/http_tls.h"
#include "http/forward.h"
#include "lib/buf.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct stream_conn;

#define HTTP_MAX_WORKERS 256 /* deferral workers, at most (see defer) */
#define HTTP_WORKER_IDLE 10  /* seconds a deferral worker waits for a job before it exits */

struct http_server {
	/* The pool is two daemons sharing one listening socket: d with two
	 * threads starts first, so the server answers at once; d2 with the rest of
	 * the threads is started by the grow thread right after (a pool of 32
	 * threads takes about 1 ms to create, docs/BENCHMARKS.md "start-to-ready"). */
	struct MHD_Daemon *d;
	struct MHD_Daemon *d2;
	int lfd;
	unsigned flags;
	unsigned more; /* threads for d2 */
	pthread_t grow;
	bool grow_started;
	struct core *core;
	bool forward; /* HA standby: forward, not 307 (http_config) */
	size_t max_body;
	unsigned path_flags;                /* PATH_LEGACY_BYTES under the test hook, else 0 */
	char *tls_cert_path, *tls_key_path; /* re-read by http_tls_reload */
	struct http_tls *tls;               /* NULL: plain HTTP */
	struct cidr *xff;                   /* proxies trusted for X-Forwarded-For */
	size_t nxff;
	bool xff_reject; /* a header from another peer is refused (400), not ignored */
	struct http_telemetry telemetry; /* the config file's, for sys/metrics */
	pthread_mutex_t streams_mu;      /* open streamed responses (SSE) */
	struct stream_conn *streams;
	/* Deferred requests (see defer). jobs_mu guards the rest. */
	pthread_mutex_t jobs_mu;
	pthread_cond_t jobs_cond; /* workers wait here for jobs */
	pthread_cond_t gone;      /* http_stop waits here for nworkers == 0 */
	pthread_cond_t jobs_done; /* http_stop waits here for jobs_live == 0 */
	struct job *jobs_head, *jobs_tail;
	unsigned jobs_queued;  /* jobs no worker has taken yet */
	atomic_uint jobs_live; /* jobs not yet freed (job_free runs without jobs_mu) */
	atomic_bool jobs_stop; /* http_stop began: defer no more (set under jobs_mu) */
	bool workers_stop;     /* workers exit once the queue is empty */
	unsigned workers_idle; /* workers waiting on jobs_cond */
	unsigned nworkers;     /* running (detached) workers */
};

struct job;

struct conn_ctx {
	char *raw_path;     /* the request path as sent, still percent-encoded (on_uri) */
	char *raw_query;    /* "?..." as sent, or "" (on_uri): an HA redirect keeps it */
	const char *method; /* MHD's, for the request's lifetime (serve) */
	bool query_nul;     /* the query string as sent holds "%00" (on_uri) */
	/* where MHD's copy of the request target starts and its length up to the
	 * first NUL (on_uri); on_request compares them with where the version
	 * starts, so only to spot a NUL byte sent raw in the target (target_nul) */
	const char *target;
	size_t target_len;
	bool target_nul;
	bool started;    /* on_request has seen the headers */
	struct buf body; /* BUF_SECRET: a request body may carry secrets */
	bool too_big;
	struct job *job; /* a deferred request (see defer), until its answer is queued */
};

/* The free callback of response bodies (they may hold secrets). */
static void
wipe_free(void *p)
{
	secmem_free_str(p);
}

static void
conn_ctx_free(struct conn_ctx *cc)
{
	if (!cc)
		return;
	buf_free(&cc->body);
	free(cc->raw_path);
	free(cc->raw_query); /* not secret: tokens never travel in the query */
	free(cc);
}

/* MHD_OPTION_URI_LOG_CALLBACK: MHD calls this with the request target as the
 * client sent it, before it percent-decodes the path into a C string (where
 * "%00" would silently cut it short). The path is kept for http_path_normalize,
 * which decodes and checks it itself. The return value becomes the request's
 * context (on_request, on_completed; NULL when out of memory). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *s = cls;
	struct conn_ctx *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	buf_init(&cc->body, s->max_body, BUF_SECRET);
	cc->raw_path = strndup(uri ? uri : "", uri ? strcspn(uri, "?") : 0);
	cc->raw_query = strdup(uri ? uri + strcspn(uri, "?") : "");
	/* MHD's decoded query values would end at the NUL ("version=1%002" is 1) */
	cc->query_nul = uri && strstr(uri + strcspn(uri, "?"), "%00");
	cc->target = uri;
	cc->target_len = uri ? strlen(uri) : 0;
	if (!cc->raw_path || !cc->raw_query) {
		free(cc->raw_path);
		free(cc->raw_query);
		free(cc);
		return NULL;
	}
	return cc;
}

/* Copies the text of an HTML fragment (libmicrohttpd's error pages and log
 * lines that quote them) into out: tags dropped, a title ends with ": ", the
 * few entities MHD uses decoded, and control characters and bytes that are not
 * ASCII written as \xHH, so a log line stays one printable line. */
static void
html_text(const char *in, size_t n, char *out, size_t cap)
{
	static const struct {
		const char *ent, *ch;
	} ents[] = {{"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#39;", "'"}};
	size_t w = 0, i = 0;

	while (i < n && in[i] && w + 5 < cap) {
		unsigned char c = (unsigned char)in[i];
		bool done = false;
		if (c == '<') {
			const char *e = memchr(in + i, '>', n - i);
			if (e) {
				if ((size_t)(e - (in + i)) == 7 &&
				    strncasecmp(in + i, "</title", 7) == 0) {
					out[w++] = ':';
					out[w++] = ' ';
				}
				i = (size_t)(e - in) + 1;
				continue;
			}
		}
		if (c == '&') {
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]) && !done; k++) {
				size_t el = strlen(ents[k].ent);
				if (n - i >= el && strncmp(in + i, ents[k].ent, el) == 0) {
					out[w++] = ents[k].ch[0];
					i += el;
					done = true;
				}
			}
			if (done)
				continue;
		}
		if (c == '\n' || c == '\r' || c == '\t') {
			if (w > 0 && out[w - 1] != ' ')
				out[w++] = ' ';
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(out + w, cap - w, "\\x%02x", c);
			w += 4;
		} else {
			out[w++] = (char)c;
		}
		i++;
	}
	while (w > 0 && out[w - 1] == ' ')
		w--;
	out[w] = '\0';
}

/* MHD_OPTION_EXTERNAL_LOGGER: libmicrohttpd's own messages (a client that sent
 * a malformed request, a failed accept) as one timestamped line of ours instead
 * of raw text, sometimes HTML, on stderr. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024], text[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	html_text(msg, strlen(msg), text, sizeof(text));
	log_info("http: %s", text);
}

/* libmicrohttpd answers some requests itself (a request line or headers too
 * large for its per-connection memory, a malformed request, a missing Host, an
 * unsupported HTTP version, a bad chunked body) with a static HTML page, and
 * 0.9.75 has no option to replace those. Each page is built by a call
 * MHD_create_response_from_buffer(len, page, MHD_RESPMEM_PERSISTENT) inside the
 * library; the link wraps that function (-Wl,--wrap in meson.build), so a page
 * becomes our {"errors":[...]} envelope with the usual headers. Every other
 * call, ours included, goes straight through. */
struct MHD_Response *__real_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);

struct MHD_Response *
__wrap_MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
	static const char page[] = "<html><head><title>";
	struct MHD_Response *resp;
	char text[512];
	json_t *j;
	char *body;

	if (mode != MHD_RESPMEM_PERSISTENT || size < sizeof(page) - 1 ||
	    memcmp(buffer, page, sizeof(page) - 1) != 0)
		return __real_MHD_create_response_from_buffer(size, buffer, mode);
	html_text(buffer, size, text, sizeof(text));
	j = json_pack("{s:[s]}", "errors", text);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return __real_MHD_create_response_from_buffer(0, (void *)"",
		                                              MHD_RESPMEM_PERSISTENT);
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free);
	if (!resp) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return resp;
}

static void job_free(struct http_server *s, struct job *j);

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *cc = *con_cls;

	if (cc && cc->job) /* the client went away before its deferred answer was queued */
		job_free(cls, cc->job);
	conn_ctx_free(cc);
	*con_cls = NULL;
}

/* retry_after > 0 adds a Retry-After header (429 answers of the login limits). */
static enum MHD_Result
queue_json_retry(struct MHD_Connection *conn, int status, char *body, size_t len,
                 int64_t retry_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body)
		resp = MHD_create_response_from_buffer_with_free_callback(len, body, wipe_free);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		secmem_free_str(body);
		return MHD_NO;
	}
	if (body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (retry_after > 0) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
queue_json(struct MHD_Connection *conn, int status, char *body, size_t len)
{
	return queue_json_retry(conn, status, body, len, 0);
}

static enum MHD_Result
queue_error(struct MHD_Connection *conn, int status, const char *msg)
{
	json_t *j = json_pack("{s:[s]}", "errors", msg);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return queue_json(conn, status, body, body ? strlen(body) : 0);
}

struct query_ctx {
	json_t *q;
	bool bad;
};

/* MHD_get_connection_values callback for the query: the first value of each
 * key goes into q. A key or value that is not UTF-8 (which jansson refuses)
 * sets bad and stops, so it is a 400 rather than a parameter silently left
 * out (a "?version=%ff" that read the latest version). */
static enum MHD_Result
add_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_ctx *qc = cls;

	if (!key || json_object_get(qc->q, key))
		return MHD_YES;
	if (json_object_set_new(qc->q, key, json_string(value ? value : "")) < 0) {
		qc->bad = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Maps the HTTP method (and ?list=) to a logical operation. */
static int
method_op(const char *method, json_t *query, enum op *ret)
{
	if (strcmp(method, "GET") == 0) {
		const char *list = json_string_value(json_object_get(query, "list"));
		bool b = false;
		if (list && util_parse_bool(list, &b) < 0)
			return CF_EINVAL;
		*ret = b ? OP_LIST : OP_READ;
	} else if (strcmp(method, "LIST") == 0) {
		*ret = OP_LIST;
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		*ret = OP_UPDATE;
	} else if (strcmp(method, "PATCH") == 0) {
		*ret = OP_PATCH;
	} else if (strcmp(method, "DELETE") == 0) {
		*ret = OP_DELETE;
	} else if (strcmp(method, "HEAD") == 0) {
		*ret = OP_HEAD;
	} else {
		return CF_EMETHOD;
	}
	return 0;
}

static char *
request_token(struct MHD_Connection *conn)
{
	const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vault-Token");
	if (!t || !*t) {
		const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		if (a && strncasecmp(a, "Bearer ", 7) == 0)
			t = a + 7;
	}
	return t && *t ? strdup(t) : NULL;
}

static void
remote_addr(struct MHD_Connection *conn, char *buf, size_t len, int *ret_port)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	buf[0] = '\0';
	*ret_port = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
		*ret_port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
		*ret_port = ntohs(in6->sin6_port);
	}
}

int
http_xff_parse(const char *list, struct cidr **ret, size_t *ret_n, char *err, size_t errlen)
{
	struct cidr *v = NULL;
	size_t n = 0, cap = 0;
	char one[128];
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	for (const char *p = list ? list : ""; *p;) {
		size_t len = strcspn(p, ",");
		const char *t = p;

		p += len;
		if (*p == ',')
			p++;
		while (len > 0 && (*t == ' ' || *t == '\t')) {
			t++;
			len--;
		}
		while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		if (len >= sizeof(one)) {
			snprintf(err, errlen,
			         "x_forwarded_for_authorized_addrs: an entry is too long");
			r = CF_EINVAL;
			goto out;
		}
		memcpy(one, t, len);
		one[len] = '\0';
		if (n == cap) {
			struct cidr *nv = realloc(v, (cap ? cap * 2 : 4) * sizeof(*v));
			if (!nv) {
				r = CF_ENOMEM;
				goto out;
			}
			v = nv;
			cap = cap ? cap * 2 : 4;
		}
		if (cidr_parse(one, &v[n]) < 0) {
			snprintf(err, errlen,
			         "x_forwarded_for_authorized_addrs: %s is not a CIDR block", one);
			r = CF_EINVAL;
			goto out;
		}
		n++;
	}
	*ret = v;
	*ret_n = n;
	v = NULL;
out:
	free(v);
	return r;
}

/* The last X-Forwarded-For header a request carries (MHD_get_connection_values). */
static enum MHD_Result
xff_last(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	const char **last = cls;

	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
		*last = value;
	return MHD_YES;
}

/* The client's address: the TCP peer's, or, when the peer is a proxy listed in
 * x_forwarded_for_authorized_addrs and the request carries X-Forwarded-For,
 * the rightmost address of that header (the one the proxy itself added: hop
 * skips 0, as Vault's default). The port is then 0. Returns 0, or CF_EINVAL
 * with the reason in err (a header from a peer that is not authorized while
 * xff_reject is set, or a rightmost entry that is not an address); buf then
 * holds the peer's address. */
static int
client_addr(struct http_server *s, struct MHD_Connection *conn, char *buf, size_t len,
            int *ret_port, char *err, size_t errlen)
{
	const char *hdr = NULL, *last;
	unsigned char bin[16];
	char one[64];
	size_t n;
	bool trusted = false;

	remote_addr(conn, buf, len, ret_port);
	if (s->nxff == 0 && !s->xff_reject)
		return 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, xff_last, &hdr);
	if (hdr == NULL)
		return 0;
	for (size_t i = 0; i < s->nxff && !trusted; i++)
		trusted = cidr_contains(&s->xff[i], buf);
	if (!trusted) {
		if (!s->xff_reject)
			return 0; /* a forged header: ignored */
		snprintf(err, errlen, "client address not authorized for X-Forwarded-For");
		return CF_EINVAL;
	}
	last = strrchr(hdr, ',');
	last = last ? last + 1 : hdr;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strlen(last);
	while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(one)) {
		snprintf(err, errlen, "X-Forwarded-For: no address in its last entry");
		return CF_EINVAL;
	}
	memcpy(one, last, n);
	one[n] = '\0';
	if (inet_pton(AF_INET, one, bin) != 1 && inet_pton(AF_INET6, one, bin) != 1) {
		snprintf(err, errlen, "X-Forwarded-For: its last entry is not an IP address");
		return CF_EINVAL;
	}
	snprintf(buf, len, "%s", one);
	*ret_port = 0;
	return 0;
}

/* ---- streamed responses (struct response_stream: the SSE of sys/events/subscribe).
 * An idle stream must not hold a pool thread: when the stream has nothing, the
 * reader suspends the connection and the stream's wake function resumes it
 * (MHD_ALLOW_SUSPEND_RESUME). A resume that races ahead of the suspend is safe:
 * MHD then cancels the suspend. http_stop() ends every stream before stopping
 * the daemon, which refuses to stop with suspended connections. */
struct stream_conn {
	struct http_server *s;
	struct MHD_Connection *conn;
	struct response_stream *st;
	int closing; /* atomic: answer end-of-stream */
	struct stream_conn *next, *prev;
};

static void
stream_wake(void *arg)
{
	struct stream_conn *sc = arg;

	MHD_resume_connection(sc->conn);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_conn *sc = cls;
	long n;

	(void)pos;
	if (__atomic_load_n(&sc->closing, __ATOMIC_ACQUIRE))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = sc->st->read(sc->st->arg, buf, max);
	if (n > 0)
		return (ssize_t)n;
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	MHD_suspend_connection(sc->conn);
	return 0;
}

static void
stream_free(void *cls)
{
	struct stream_conn *sc = cls;
	struct http_server *s = sc->s;

	pthread_mutex_lock(&s->streams_mu);
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->streams = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	pthread_mutex_unlock(&s->streams_mu);
	sc->st->free(sc->st->arg); /* after this the stream never calls stream_wake */
	free(sc->st);
	free(sc);
}

/* Queues rs->stream (taking it over) as a chunked response of unknown size. */
static enum MHD_Result
queue_stream(struct http_server *s, struct MHD_Connection *conn, int status, struct response *rs)
{
	struct stream_conn *sc = calloc(1, sizeof(*sc));
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!sc)
		return queue_error(conn, 500, "out of memory");
	sc->s = s;
	sc->conn = conn;
	sc->st = rs->stream;
	rs->stream = NULL;
	sc->st->set_wake(sc->st->arg, stream_wake, sc);
	resp = MHD_create_response_from_callback(sc->st->length ? sc->st->length : MHD_SIZE_UNKNOWN,
	                                         4096, stream_read, sc, stream_free);
	if (!resp) {
		sc->st->free(sc->st->arg);
		free(sc->st);
		free(sc);
		return MHD_NO;
	}
	pthread_mutex_lock(&s->streams_mu);
	sc->next = s->streams;
	if (s->streams)
		s->streams->prev = sc;
	s->streams = sc;
	pthread_mutex_unlock(&s->streams_mu);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, sc->st->content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp); /* frees sc through stream_free if not queued */
	return ret;
}

/* A request's outcome, computed by whichever thread ran it (pool thread or
 * deferral worker) and queued on the connection by its pool thread. */
struct answer {
	int status;
	char *body; /* owned until queued; wiped when freed */
	size_t len;
	int64_t retry_after;
	char *redirect;                 /* owned: an HA standby's 307 (the active node's URL) */
	struct response_stream *stream; /* owned: a 2xx streamed answer */
	bool render_failed;
};

static void
answer_free(struct answer *a)
{
	secmem_free_str(a->body);
	a->body = NULL;
	free(a->redirect); /* not secret: a URL */
	a->redirect = NULL;
	if (a->stream) {
		a->stream->free(a->stream->arg);
		free(a->stream);
		a->stream = NULL;
	}
}

/* Runs rq through the core and renders the outcome into a; frees rq's fields. */
static void
run_request(struct http_server *s, struct request *rq, struct answer *a)
{
	struct response rs = {0};

	a->status = core_handle(s->core, rq, &rs);
	if (rs.stream && a->status >= 200 && a->status < 300) {
		a->stream = rs.stream;
		rs.stream = NULL;
	} else {
		a->render_failed = http_render(rq, &rs, &a->body, &a->len) < 0;
		a->retry_after = rs.retry_after;
		a->redirect = rs.redirect;
		rs.redirect = NULL;
	}
	response_reset(&rs);
	request_free_fields(rq);
}

/* An HA standby's answer: 307 with Location: the active node's URL + the
 * request target as the client sent it (path and query). */
static enum MHD_Result
queue_redirect(struct MHD_Connection *conn, const char *base, const char *path, const char *query)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t blen = strlen(base), plen = strlen(path), qlen = strlen(query);
	char *loc;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	loc = malloc(blen + plen + qlen + 1);
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!loc || !resp) {
		free(loc);
		if (resp)
			MHD_destroy_response(resp);
		return MHD_NO;
	}
	memcpy(loc, base, blen);
	memcpy(loc + blen, path, plen);
	memcpy(loc + blen + plen, query, qlen + 1);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, 307, resp);
	MHD_destroy_response(resp);
	free(loc); /* not secret: a URL */
	return ret;
}

/* --forward: the active node's answer to the same request. */
static enum MHD_Result
queue_forward(struct MHD_Connection *conn, const char *base, const struct conn_ctx *cc)
{
	char url[2048], *body = NULL;
	size_t len = 0;
	int status = 0, r, n;

	n = snprintf(url, sizeof(url), "%s%s%s", base, cc->raw_path, cc->raw_query);
	if (n < 0 || (size_t)n >= sizeof(url))
		return queue_error(conn, 414, "request target too long to forward");
	r = http_forward(conn, cc->method ? cc->method : "GET", url, buf_str(&cc->body),
	                 buf_len(&cc->body), &status, &body, &len);
	if (r < 0)
		return queue_error(conn, 503,
		                   "this node is a standby and cannot reach the active "
		                   "node");
	return queue_json(conn, status, body, len);
}

/* Queues a on conn, handing its body or stream over. cc: the request's context
 * (its target, for a redirect), NULL for answers that cannot be one. */
static enum MHD_Result
queue_answer(struct http_server *s, struct MHD_Connection *conn, struct answer *a,
             const struct conn_ctx *cc)
{
	struct response rs = {0};
	enum MHD_Result ret;
	char *body = a->body;

	if (a->redirect && a->status == 307 && cc && s->forward)
		return queue_forward(conn, a->redirect, cc);
	if (a->redirect && a->status == 307 && cc)
		return queue_redirect(conn, a->redirect, cc->raw_path, cc->raw_query);

	a->body = NULL;
	if (a->stream) {
		rs.stream = a->stream;
		a->stream = NULL;
		ret = queue_stream(s, conn, a->status, &rs);
		response_reset(&rs);
		return ret;
	}
	if (a->render_failed)
		return queue_error(conn, 500, "internal error rendering the response");
	return queue_json_retry(conn, a->status, body, a->len, a->retry_after);
}

/* ---- deferred requests. A durable write waits until its group commit is on
 * disk; done on the pool thread, that wait also holds up every other connection
 * the thread serves, so the commit batches could never hold more writes than
 * the pool has threads (and fewer, as connections spread unevenly). When the
 * storage reports a slow commit in progress (core_write_busy), a request that
 * may write is handed to a deferral worker instead: its connection is suspended,
 * the worker runs it, stores the answer and resumes the connection, and MHD
 * calls the access handler again, which queues the answer (serve). Workers are
 * started on demand, up to HTTP_MAX_WORKERS, and exit after HTTP_WORKER_IDLE
 * seconds without work; an idle or read-only server starts none. http_stop
 * waits for every deferred request to be answered first. */

struct job {
	struct MHD_Connection *conn;
	struct request rq;
	char addr[64];
	struct answer a;
	struct job *next;
};

static void
job_free(struct http_server *s, struct job *j)
{
	answer_free(&j->a);
	free(j);
	/* jobs_mu only for the last job once http_stop waits: it sets jobs_stop
	 * before it reads jobs_live (both sequentially consistent), so either it
	 * sees 0 or this sees jobs_stop. */
	if (atomic_fetch_sub(&s->jobs_live, 1) == 1 && atomic_load(&s->jobs_stop)) {
		pthread_mutex_lock(&s->jobs_mu);
		pthread_cond_broadcast(&s->jobs_done);
		pthread_mutex_unlock(&s->jobs_mu);
	}
}

/* A deferral worker: runs queued jobs; exits after HTTP_WORKER_IDLE seconds
 * without one (a burst of writes leaves no threads behind) or at stop. */
static void *
worker_main(void *arg)
{
	struct http_server *s = arg;
	struct timespec until;
	struct job *j;
	bool timed_out;

	pthread_mutex_lock(&s->jobs_mu);
	for (;;) {
		timed_out = false;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += HTTP_WORKER_IDLE;
		while (!s->jobs_head && !s->workers_stop && !timed_out) {
			s->workers_idle++;
			timed_out = pthread_cond_timedwait(&s->jobs_cond, &s->jobs_mu, &until) ==
			            ETIMEDOUT;
			s->workers_idle--;
		}
		if (!s->jobs_head)
			break;
		j = s->jobs_head;
		s->jobs_head = j->next;
		if (!s->jobs_head)
			s->jobs_tail = NULL;
		s->jobs_queued--;
		pthread_mutex_unlock(&s->jobs_mu);
		run_request(s, &j->rq, &j->a);
		/* After this the connection's pool thread owns j (serve frees it). */
		MHD_resume_connection(j->conn);
		pthread_mutex_lock(&s->jobs_mu);
	}
	if (--s->nworkers == 0)
		pthread_cond_broadcast(&s->gone);
	pthread_mutex_unlock(&s->jobs_mu);
	return NULL;
}

/* Starts a detached worker; caller holds jobs_mu. */
static void
worker_start(struct http_server *s)
{
	pthread_attr_t attr;
	pthread_t t;

	if (pthread_attr_init(&attr) != 0)
		return;
	if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
	    pthread_create(&t, &attr, worker_main, s) == 0)
		s->nworkers++;
	pthread_attr_destroy(&attr);
}

/* Hands rq (taken over on success) to a worker and suspends conn. Returns false,
 * leaving rq to the caller, when deferring is not possible. */
static bool
defer(struct http_server *s, struct MHD_Connection *conn, struct conn_ctx *cc, struct request *rq)
{
	struct job *j;
	bool ok = false;

	j = calloc(1, sizeof(*j));
	if (!j)
		return false;
	pthread_mutex_lock(&s->jobs_mu);
	if (atomic_load(&s->jobs_stop))
		goto out;
	if (s->jobs_queued >= s->workers_idle && s->nworkers < HTTP_MAX_WORKERS)
		worker_start(s);
	if (s->nworkers == 0)
		goto out;
	j->conn = conn;
	j->rq = *rq;
	snprintf(j->addr, sizeof(j->addr), "%s", rq->remote_addr ? rq->remote_addr : "");
	j->rq.remote_addr = j->addr;
	cc->job = j;
	atomic_fetch_add(&s->jobs_live, 1);
	/* Suspended before any worker can see the job: its resume cannot come first. */
	MHD_suspend_connection(conn);
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs_head = j;
	s->jobs_tail = j;
	s->jobs_queued++;
	pthread_cond_signal(&s->jobs_cond);
	ok = true;
out:
	pthread_mutex_unlock(&s->jobs_mu);
	if (!ok)
		free(j);
	return ok;
}

/* Whether rq should run on a deferral worker: it may write, and a write now
 * would wait behind a slow commit in progress. */
static bool
should_defer(struct http_server *s, const struct request *rq)
{
	return (rq->op == OP_UPDATE || rq->op == OP_PATCH || rq->op == OP_DELETE) &&
	       core_write_busy(s->core);
}

/* Paths may spell stored names that are not UTF-8 with \xHH escapes
 * (lib/path.h); the storage view lets such a name be read, rewritten and
 * deleted, never created. */
static unsigned
path_flags(const struct http_server *s)
{
	return s->path_flags;
}

/* Whether the request's media type is want. Parameters such as
 * "; charset=utf-8" are allowed; anything else after the type
 * ("application/merge-patch+json garbage") is not. */
static bool
is_media_type(struct MHD_Connection *conn, const char *want)
{
	const char *ct =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n;

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n != strlen(want) || strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Whether the request's media type is JSON merge patch, which a PATCH must
 * carry (Vault answers 415 otherwise; RFC 7396). */
static bool
is_merge_patch(struct MHD_Connection *conn)
{
	return is_media_type(conn, "application/merge-patch+json");
}

/* Whether the body is not JSON but bytes a backend reads itself: an OCSP
 * request (RFC 6960 appendix A.1) posted to a pki mount's ocsp path. Only
 * there: elsewhere such a body is parsed as JSON (and refused) as before, so
 * no other route ever runs with its body dropped. */
static bool
is_raw_body(struct MHD_Connection *conn, const struct request *rq)
{
	size_t n = strlen(rq->path);

	return (rq->op == OP_CREATE || rq->op == OP_UPDATE) &&
	       (strcmp(rq->path, "ocsp") == 0 ||
	        (n > 5 && strcmp(rq->path + n - 5, "/ocsp") == 0)) &&
	       is_media_type(conn, "application/ocsp-request");
}

/* Answers a request refused before the core (bad path, malformed body, method,
 * parameter or header): the core audits it with its error like any refused
 * request (core_refuse), then the answer is rendered as usual. status is the HTTP
 * status, msg the error (NULL: an empty error list). rq's fields are freed. */
static enum MHD_Result
refuse(struct http_server *s, struct MHD_Connection *conn, struct request *rq, const char *url,
       int status, const char *msg)
{
	struct response rs = {0};
	struct answer a = {0};
	enum MHD_Result ret;
	char addr[64], xerr[128];

	if (!rq->path)
		rq->path = strdup(url ? url : "");
	if (!rq->client_token)
		rq->client_token = request_token(conn);
	if (client_addr(s, conn, addr, sizeof(addr), &rq->remote_port, xerr, sizeof(xerr)) < 0)
		remote_addr(conn, addr, sizeof(addr), &rq->remote_port);
	rq->remote_addr = addr;
	a.status = core_refuse(s->core, rq, &rs, status, msg);
	a.render_failed = http_render(rq, &rs, &a.body, &a.len) < 0;
	response_reset(&rs);
	request_free_fields(rq);
	ret = queue_answer(s, conn, &a, NULL);
	answer_free(&a);
	return ret;
}

static enum MHD_Result
serve(struct http_server *s, struct MHD_Connection *conn, const char *method, struct conn_ctx *cc)
{
	struct request rq = {0};
	struct answer a = {0};
	enum MHD_Result ret;
	char err[256], addr[64], *body = NULL;
	int r;

	if (cc->job) { /* resumed: a worker ran it */
		ret = queue_answer(s, conn, &cc->job->a, cc);
		job_free(s, cc->job);
		cc->job = NULL;
		return ret;
	}
	cc->method = method;
	if (cc->too_big)
		return refuse(s, conn, &rq, cc->raw_path, 413, "http: request body too large");
	rq.query = json_object();
	if (!rq.query)
		return queue_error(conn, 500, "out of memory");
	{
		struct query_ctx qc = {rq.query, false};
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, &qc);
		if (cc->target_nul)
			return refuse(s, conn, &rq, cc->raw_path, 400,
			              "invalid request path: a NUL byte");
		if (qc.bad || cc->query_nul)
			return refuse(s, conn, &rq, cc->raw_path, 400,
			              "invalid query string: a parameter that is not valid "
			              "UTF-8 or holds a NUL byte (%00)");
	}
	r = method_op(method, rq.query, &rq.op);
	if (r == CF_EMETHOD)
		return refuse(s, conn, &rq, cc->raw_path, 405, "unsupported method");
	if (r < 0)
		return refuse(s, conn, &rq, cc->raw_path, 400,
		              "invalid value for the list parameter");
	r = http_path_normalize(cc->raw_path, path_flags(s), &rq.path, err, sizeof(err));
	if (r < 0) {
		if (r == CF_EINVAL)
			return refuse(s, conn, &rq, cc->raw_path, 400, err);
		if (r == CF_ENOMEM)
			return refuse(s, conn, &rq, cc->raw_path, 500, "out of memory");
		return refuse(s, conn, &rq, cc->raw_path, 404, NULL);
	}
	if (rq.op == OP_PATCH && !is_merge_patch(conn))
		return refuse(s, conn, &rq, cc->raw_path, 415,
		              "PATCH requires Content-Type application/merge-patch+json");
	if (rq.op == OP_LIST && rq.path[strlen(rq.path) - 1] != '/') {
		size_t n = strlen(rq.path);
		char *p = realloc(rq.path, n + 2);
		if (!p) {
			request_free_fields(&rq);
			return queue_error(conn, 500, "out of memory");
		}
		p[n] = '/';
		p[n + 1] = '\0';
		rq.path = p;
	}
	if (is_raw_body(conn, &rq)) {
		r = CF_ENOMEM;
		rq.data = json_object();
		rq.body = malloc(buf_len(&cc->body) + 1);
		if (rq.data && rq.body) {
			memcpy(rq.body, buf_str(&cc->body), buf_len(&cc->body));
			rq.body_len = buf_len(&cc->body);
			r = 0;
		}
		if (r < 0)
			return refuse(s, conn, &rq, cc->raw_path, 500, "out of memory");
	} else {
		r = http_json_decode(buf_str(&cc->body), buf_len(&cc->body), &rq.data, err,
		                     sizeof(err));
	}
	if (r < 0)
		return refuse(s, conn, &rq, cc->raw_path, 400, err);
	if (json_object_get(rq.query, "help")) {
		request_free_fields(&rq);
		body = strdup("{\"help\":\"\"}");
		return queue_json(conn, 200, body, body ? strlen(body) : 0);
	}
	{
		/* Response wrapping (Vault's X-Vault-Wrap-TTL): seconds or a duration;
		 * the core wraps the answer and checks the TTL against the mount. */
		const char *wrap =
		        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vault-Wrap-TTL");
		if (wrap) {
			if (duration_parse(wrap, &rq.wrap_ttl) < 0 || rq.wrap_ttl <= 0)
				return refuse(s, conn, &rq, cc->raw_path, 400,
				              "invalid wrap TTL: a positive duration or number "
				              "of seconds is needed");
			rq.wrap_requested = true;
		}
	}
	if (client_addr(s, conn, addr, sizeof(addr), &rq.remote_port, err, sizeof(err)) < 0)
		return refuse(s, conn, &rq, cc->raw_path, 400, err);
	rq.client_token = request_token(conn);
	rq.remote_addr = addr;
	rq.consumer = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Coffer-Consumer");
	rq.last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");

	if (should_defer(s, &rq) && defer(s, conn, cc, &rq))
		return MHD_YES;
	run_request(s, &rq, &a);
	ret = queue_answer(s, conn, &a, cc);
	answer_free(&a);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct conn_ctx *cc = *con_cls; /* made by on_uri */

	if (!cc)
		return MHD_NO; /* on_uri ran out of memory */
	if (!cc->started) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		int64_t n;
		cc->started = true;
		/* MHD hands the target on as a C string, so a NUL byte sent raw in it
		 * ("POST /v1/secret/data/a<NUL>b HTTP/1.1") would cut it short: the
		 * request would be served as secret/data/a. MHD ends the target just
		 * before the HTTP version, in the same buffer; when the target is
		 * shorter than that span, it held a NUL. (Checked only where that
		 * layout holds: url is the target on_uri saw, a version follows it.) */
		if (url == cc->target && version && version[0] && version > url &&
		    (size_t)(version - url) != cc->target_len + 1)
			cc->target_nul = true;
		if (cl && util_parse_int(cl, &n) == 0 && (n < 0 || (uint64_t)n > s->max_body))
			cc->too_big = true;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		int r;

		*upload_size = 0;
		if (cc->too_big)
			return MHD_YES; /* drain and discard */
		r = buf_append(&cc->body, upload_data, n);
		if (r == CF_ETOOBIG)
			cc->too_big = true;
		return r == CF_ENOMEM ? MHD_NO : MHD_YES;
	}
	return serve(s, conn, method, cc);
}

/* Whether host is shaped like a host name (RFC 1123: letters, digits, '-' and
 * '.', not starting with either), so nothing else is sent to a resolver. */
static bool
host_name_ok(const char *host)
{
	size_t i, n = strlen(host);

	if (n == 0 || n > 253 || host[0] == '-' || host[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Parses "HOST:PORT" (HOST an IPv4 address, a host name resolved to its first
 * IPv4 address, or empty for every address). Returns 0, or CF_EINVAL with a
 * message naming what is wrong in err. */
static int
parse_listen(const char *listen, struct sockaddr_in *sa, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	const char *colon = strrchr(listen, ':');
	char host[256];
	int64_t port;
	int rc;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon) {
		snprintf(err, errlen, "--listen=%s: expected HOST:PORT, as 127.0.0.1:8200", listen);
		return CF_EINVAL;
	}
	if (listen[0] == '[' || memchr(listen, ':', (size_t)(colon - listen))) {
		snprintf(err, errlen,
		         "--listen=%s: IPv6 addresses are not supported; use an IPv4 address or a "
		         "host name",
		         listen);
		return CF_EINVAL;
	}
	if ((size_t)(colon - listen) >= sizeof(host)) {
		snprintf(err, errlen, "--listen: host name longer than %zu bytes",
		         sizeof(host) - 1);
		return CF_EINVAL;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	if (util_parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535) {
		snprintf(err, errlen, "--listen=%s: the port must be a number from 1 to 65535",
		         listen);
		return CF_EINVAL;
	}
	sa->sin_port = htons((uint16_t)port);
	if (host[0] == '\0') {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	if (!host_name_ok(host)) {
		snprintf(err, errlen,
		         "--listen=%s: \"%s\" is neither an IPv4 address nor a host name", listen,
		         host);
		return CF_EINVAL;
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL || res->ai_addrlen < sizeof(*sa)) {
		snprintf(err, errlen, "--listen=%s: cannot resolve host \"%s\": %s", listen, host,
		         rc != 0 ? gai_strerror(rc) : "no IPv4 address");
		if (res)
			freeaddrinfo(res);
		return CF_EINVAL;
	}
	sa->sin_addr = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

int
http_listen_check(const char *listen, char *err, size_t errlen)
{
	struct sockaddr_in sa;

	return parse_listen(listen, &sa, err, errlen);
}

/* Says why the TLS file of option opt (what, read_file gave NULL) cannot be
 * used. */
static void
tls_file_error(const char *opt, const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0)
		snprintf(err, errlen, "%s=%s: cannot open the TLS %s: %s", opt, path, what,
		         strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size >= (1 << 20))
		snprintf(err, errlen,
		         "%s=%s: the TLS %s is not a PEM file (empty, not a regular file or "
		         "1 MiB or more)",
		         opt, path, what);
	else
		snprintf(err, errlen, "%s=%s: cannot read the TLS %s: %s", opt, path, what,
		         strerror(errno));
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer keeps a copy of the key */
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
		} else {
			secmem_free(buf, (size_t)n + 1); /* a partly read TLS key */
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static struct MHD_Daemon *
start_daemon(struct http_server *s, unsigned threads)
{
	/* The logger first: MHD may log while it starts. TLS: the certificate
	 * comes from tls.c at each handshake, so SIGHUP can replace it. */
	if (s->tls)
		return MHD_start_daemon(
		        s->flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
		        on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, s->lfd,
		        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, 4096,
		        MHD_OPTION_CONNECTION_TIMEOUT, 120, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		        MHD_OPTION_HTTPS_CERT_CALLBACK, http_tls_retrieve, MHD_OPTION_END);
	return MHD_start_daemon(s->flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
	                        on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, s->lfd,
	                        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
	                        4096, MHD_OPTION_CONNECTION_TIMEOUT, 120,
	                        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
	                        on_completed, s, MHD_OPTION_END);
}

/* Reads the certificate and key files and makes them s->tls (new, or a swap
 * of the current set). CF_EINVAL with a message naming the option and file. */
static int
tls_load(struct http_server *s, char *err, size_t errlen)
{
	char *cert = read_file(s->tls_cert_path), *key = read_file(s->tls_key_path), e2[256];
	int r = CF_EINVAL;

	if (!cert) {
		tls_file_error("--tls-cert", "certificate", s->tls_cert_path, err, errlen);
		goto out;
	}
	if (!key) {
		tls_file_error("--tls-key", "key", s->tls_key_path, err, errlen);
		goto out;
	}
	r = s->tls ? http_tls_swap(s->tls, cert, key, e2, sizeof(e2))
	           : http_tls_new(cert, key, &s->tls, e2, sizeof(e2));
	if (r < 0)
		snprintf(err, errlen, "--tls-cert=%s --tls-key=%s: %s", s->tls_cert_path,
		         s->tls_key_path, r == CF_ENOMEM ? "out of memory" : e2);
out:
	free(cert);
	secmem_free_str(key);
	return r;
}

int
http_tls_reload(struct http_server *s, char *err, size_t errlen)
{
	if (!s || !s->tls) {
		snprintf(err, errlen, "the server does not serve TLS");
		return CF_EINVAL;
	}
	return tls_load(s, err, errlen);
}

/* Starts the rest of the thread pool beside the first daemon. */
static void *
grow_main(void *arg)
{
	struct http_server *s = arg;

	s->d2 = start_daemon(s, s->more);
	if (!s->d2)
		log_error("could not start %u more HTTP threads; serving with 2", s->more);
	return NULL;
}

static int
listen_socket(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, SOMAXCONN) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
http_start(const struct http_config *cfg, struct core *core, struct http_server **ret, char *err,
           size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	pthread_condattr_t ca;
	unsigned threads = cfg->threads;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	if (!s)
		return CF_ENOMEM;
	pthread_mutex_init(&s->streams_mu, NULL);
	pthread_mutex_init(&s->jobs_mu, NULL);
	/* workers wait for jobs with a CLOCK_MONOTONIC deadline */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->jobs_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->gone, NULL);
	pthread_cond_init(&s->jobs_done, NULL);
	s->lfd = -1;
	s->core = core;
	s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	s->forward = cfg->forward;
	/* tests: store names that are not UTF-8, as versions before the check did */
	if (util_test_hook("COFFER_TEST_LEGACY_PATHS"))
		s->path_flags = PATH_LEGACY_BYTES;
	/* ITC: MHD_quiesce_daemon needs it (http_stop). */
	s->flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
	           MHD_USE_ITC;
	if (parse_listen(cfg->listen, &sa, err, errlen) < 0) {
		http_stop(s);
		return CF_EINVAL;
	}
	/* Durable writes block their thread until the group commit is on disk, so a
	 * pool of one thread per core would cap commit batches at the core count;
	 * 16 threads per core measured best for reads and writes (docs/BENCHMARKS.md). */
	if (threads == 0)
		threads = (unsigned)(ncpu > 1 ? ncpu : 1) * HTTP_THREADS_PER_CORE;
	if (threads > HTTP_MAX_THREADS)
		threads = HTTP_MAX_THREADS;
	s->xff_reject = cfg->xff_reject;
	s->telemetry = cfg->telemetry;
	r = http_xff_parse(cfg->xff_authorized, &s->xff, &s->nxff, err, errlen);
	if (r < 0) {
		http_stop(s);
		return r;
	}
	if (cfg->tls_cert || cfg->tls_key) {
		s->tls_cert_path = strdup(cfg->tls_cert ? cfg->tls_cert : "");
		s->tls_key_path = strdup(cfg->tls_key ? cfg->tls_key : "");
		if (!s->tls_cert_path || !s->tls_key_path) {
			http_stop(s);
			return CF_ENOMEM;
		}
		if (tls_load(s, err, errlen) < 0) {
			http_stop(s);
			return CF_EINVAL;
		}
		s->flags |= MHD_USE_TLS;
	}
	s->lfd = listen_socket(&sa);
	if (s->lfd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, strerror(errno));
		http_stop(s);
		return CF_EIO;
	}
	/* Never fewer than two threads per daemon (libmicrohttpd's single-thread epoll mode
	 * collapses at 128+ connections). */
	s->more = threads >= 4 ? threads - 2 : 0;
	s->d = start_daemon(s, s->more ? 2 : threads);
	if (!s->d) {
		snprintf(err, errlen, "cannot start the HTTP server on %s%s", cfg->listen,
		         s->tls ? " (is GnuTLS installed?)" : "");
		http_stop(s);
		return CF_EIO;
	}
	if (s->tls)
		log_verbose("TLS: GnuTLS %s", http_tls_loaded() ? "loaded" : "not loaded");
	if (s->more)
		s->grow_started = pthread_create(&s->grow, NULL, grow_main, s) == 0;
	*ret = s;
	return 0;
}

/* Stops deferring, waits until every deferred request has been answered (the
 * pool threads queue the answers meanwhile), then stops the workers. */
static void
workers_stop(struct http_server *s)
{
	pthread_mutex_lock(&s->jobs_mu);
	atomic_store(&s->jobs_stop, true);
	while (atomic_load(&s->jobs_live) > 0)
		pthread_cond_wait(&s->jobs_done, &s->jobs_mu);
	s->workers_stop = true;
	pthread_cond_broadcast(&s->jobs_cond);
	while (s->nworkers > 0)
		pthread_cond_wait(&s->gone, &s->jobs_mu);
	pthread_mutex_unlock(&s->jobs_mu);
}

void
http_stop(struct http_server *s)
{
	struct stream_conn *sc;

	if (!s)
		return;
	if (s->grow_started)
		pthread_join(s->grow, NULL);
	workers_stop(s);
	if (s->d) {
		/* End the streams first: MHD refuses to stop with suspended connections. */
		pthread_mutex_lock(&s->streams_mu);
		for (sc = s->streams; sc; sc = sc->next) {
			__atomic_store_n(&sc->closing, 1, __ATOMIC_RELEASE);
			MHD_resume_connection(sc->conn);
		}
		pthread_mutex_unlock(&s->streams_mu);
		/* d2 gives the shared socket back (quiesce) so only d closes it. */
		if (s->d2) {
			(void)MHD_quiesce_daemon(s->d2);
			MHD_stop_daemon(s->d2);
		}
		MHD_stop_daemon(s->d);
	} else if (s->lfd >= 0) {
		close(s->lfd);
	}
	pthread_mutex_destroy(&s->streams_mu);
	pthread_mutex_destroy(&s->jobs_mu);
	pthread_cond_destroy(&s->jobs_cond);
	pthread_cond_destroy(&s->gone);
	pthread_cond_destroy(&s->jobs_done);
	http_tls_free(s->tls);
	free(s->tls_cert_path);
	free(s->tls_key_path);
	free(s->xff);
	free(s);
}
