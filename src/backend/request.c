/* request.c - response helpers, route pattern matching and per-operation dispatch. */
#include "backend/request.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int append_fmt(json_t **arr, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static int
append_fmt(json_t **arr, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return CF_EINVAL;
	if (!*arr) {
		*arr = json_array();
		if (!*arr)
			return CF_ENOMEM;
	}
	/* A truncated message is still useful; keep what fits. */
	return json_array_append_new(*arr, json_string(buf)) == 0 ? 0 : CF_ENOMEM;
}

int
response_errorf(struct response *rs, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = append_fmt(&rs->errors, fmt, ap);
	va_end(ap);
	return r;
}

int
response_warnf(struct response *rs, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = append_fmt(&rs->warnings, fmt, ap);
	va_end(ap);
	return r;
}

void
response_set_data(struct response *rs, json_t *data)
{
	json_decref(rs->data);
	rs->data = data;
}

int
response_keys(struct response *rs, json_t *keys)
{
	json_t *d;

	if (json_array_size(keys) == 0) {
		json_decref(keys);
		return CF_ENOTFOUND;
	}
	d = json_object();
	if (!d) {
		json_decref(keys);
		return CF_ENOMEM;
	}
	if (json_object_set_new(d, "keys", keys) != 0) { /* keys stolen even so */
		json_decref(d);
		return CF_ENOMEM;
	}
	response_set_data(rs, d);
	return 0;
}

void
response_reset(struct response *rs)
{
	json_decref(rs->data);
	json_decref(rs->auth);
	auth_result_free(rs->login);
	json_decref(rs->warnings);
	json_decref(rs->raw);
	json_decref(rs->errors);
	json_decref(rs->wrap_info);
	json_decref(rs->secret);
	free(rs->lease_id);
	free(rs->redirect); /* not secret: a URL */
	if (rs->stream) {
		rs->stream->free(rs->stream->arg);
		free(rs->stream);
	}
	memset(rs, 0, sizeof(*rs));
}

void
request_free_fields(struct request *rq)
{
	free(rq->path);
	json_decref(rq->data);
	json_decref(rq->query);
	secmem_free_str(rq->client_token);
	free(rq->capbuf);
	free(rq->body);
	rq->body = NULL;
	rq->body_len = 0;
	rq->path = NULL;
	rq->data = rq->query = NULL;
	rq->client_token = NULL;
	rq->capbuf = NULL;
	rq->ncap = 0;
}

bool
route_match(const char *pattern, const char *path, struct request *rq)
{
	size_t plen = strlen(path);
	const char *p = pattern, *s = path;
	/* Offsets of captures in path: start and length. */
	size_t cs[REQUEST_MAX_CAPTURES], cl[REQUEST_MAX_CAPTURES];
	int n = 0;

	for (;;) {
		if (*p == '*' && p[1] == '\0') {
			if (n == REQUEST_MAX_CAPTURES)
				return false;
			cs[n] = (size_t)(s - path);
			cl[n] = plen - cs[n];
			n++;
			break;
		}
		if (*p == '+' && (p[1] == '/' || p[1] == '\0') && (p == pattern || p[-1] == '/')) {
			const char *e = strchr(s, '/');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			if (len == 0 || n == REQUEST_MAX_CAPTURES)
				return false;
			cs[n] = (size_t)(s - path);
			cl[n] = len;
			n++;
			s += len;
			p++;
			continue;
		}
		if (*p == '\0') {
			if (*s != '\0')
				return false;
			break;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (rq) {
		char *buf = malloc(plen + (size_t)n + 1), *w;
		if (!buf)
			return false;
		free(rq->capbuf);
		rq->capbuf = buf;
		w = buf;
		for (int i = 0; i < n; i++) {
			memcpy(w, path + cs[i], cl[i]);
			w[cl[i]] = '\0';
			rq->cap[i] = w;
			w += cl[i] + 1;
		}
		rq->ncap = n;
	}
	return true;
}

handler_fn
route_handler(const struct route *rt, enum op op)
{
	switch (op) {
	case OP_READ:
		return rt->read;
	case OP_LIST:
		return rt->list;
	case OP_CREATE:
	case OP_UPDATE:
		return rt->write;
	case OP_PATCH:
		return rt->patch;
	case OP_DELETE:
		return rt->delete;
	case OP_HEAD:
		return rt->head;
	}
	return NULL;
}

unsigned
route_ops(const struct route *rt)
{
	static const enum op all[] = {OP_READ, OP_LIST, OP_UPDATE, OP_PATCH, OP_DELETE, OP_HEAD};
	unsigned ops = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (route_handler(rt, all[i]))
			ops |= all[i] == OP_UPDATE ? OP_WRITE : all[i];
	return ops;
}

int
request_nested(const struct request *outer, struct request *rq, struct response *rs)
{
	if (!outer->nested || !outer->core) {
		(void)response_errorf(rs, "internal requests are not available here");
		rs->status = 500;
		return rs->status;
	}
	return outer->nested(outer->core, rq, rs);
}

void
auth_result_free(struct auth_result *a)
{
	if (!a)
		return;
	free(a->display_name); /* not secret: "<mount>-<user>" */
	json_decref(a->policies);
	json_decref(a->metadata);
	json_decref(a->bound_cidrs);
	free(a);
}

/* ---- a finished body handed out as a response_stream ---- */

struct body_stream {
	char *data;
	size_t len, off;
};

static long
body_read(void *arg, char *buf, size_t max)
{
	struct body_stream *b = arg;
	size_t n = b->len - b->off;

	if (n == 0)
		return RESPONSE_STREAM_END;
	if (n > max)
		n = max;
	memcpy(buf, b->data + b->off, n);
	b->off += n;
	return (long)n;
}

static void
body_set_wake(void *arg, void (*wake)(void *wake_arg), void *wake_arg)
{
	(void)arg, (void)wake, (void)wake_arg; /* never idle: all of it is ready */
}

static void
body_free(void *arg)
{
	struct body_stream *b = arg;

	free(b->data);
	free(b);
}

int
response_body(struct response *rs, const char *content_type, const void *body, size_t len)
{
	struct response_stream *s = calloc(1, sizeof(*s));
	struct body_stream *b = calloc(1, sizeof(*b));

	if (!s || !b || !(b->data = malloc(len ? len : 1))) {
		free(s);
		free(b);
		return CF_ENOMEM;
	}
	memcpy(b->data, body, len);
	b->len = len;
	*s = (struct response_stream){.content_type = content_type,
	                              .read = body_read,
	                              .set_wake = body_set_wake,
	                              .free = body_free,
	                              .arg = b,
	                              .length = len};
	if (rs->stream) {
		rs->stream->free(rs->stream->arg);
		free(rs->stream);
	}
	rs->stream = s;
	rs->status = 200;
	return 0;
}
