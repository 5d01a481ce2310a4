/* transit_kv.c - POST :mount/keys/:name/rewrap-kv {mount, prefix, field}:
 * moves the transit ciphertexts an application keeps in one field of its KV v2
 * secrets to the newest version of the key (coffer's own endpoint).
 *
 * It never touches KV storage: every LIST, read and write is an internal
 * request through the core with the caller's token, so the caller's ACL
 * applies to each of them and each is audited as the caller's. A write carries
 * options.cas = the version that was read, so a concurrent writer wins; the
 * secret is then read again (a few times) and the outcome reported. */
#include "engines/transit/transit_int.h"

#include "backend/backend.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REWRAP_ATTEMPTS     3
#define REWRAP_MAX_FAILURES 100
#define REWRAP_MAX_DEPTH    64

struct rewrap {
	struct request *outer;
	struct tkey *k;
	const char *mount; /* "secret" (no slashes around) */
	const char *prefix;
	const char *field;
	uint8_t *ctx;
	size_t ctxlen;
	int64_t rewrapped, skipped, errors, visited, cas_retries;
	bool truncated;
	json_t *failures;
};

/* One internal request with the caller's token. Returns the HTTP status; *rs
 * is the answer (the caller resets it). */
static int
internal(struct rewrap *w, enum op op, const char *path, json_t *body, struct response *rs)
{
	struct request rq = {0};
	int status;

	memset(rs, 0, sizeof(*rs));
	rq.op = op;
	rq.path = strdup(path);
	rq.data = body ? json_incref(body) : json_object();
	rq.client_token = w->outer->client_token ? strdup(w->outer->client_token) : NULL;
	rq.remote_addr = w->outer->remote_addr;
	rq.remote_port = w->outer->remote_port;
	rq.consumer = w->outer->consumer;
	/* a request the server made itself (the rotation manager) stays one */
	rq.internal = w->outer->internal;
	if (!rq.path || !rq.data || (w->outer->client_token && !rq.client_token)) {
		request_free_fields(&rq);
		return 500;
	}
	status = request_nested(w->outer, &rq, rs);
	request_free_fields(&rq);
	return status;
}

static void
fail_item(struct rewrap *w, const char *path, const char *msg)
{
	w->errors++;
	if (json_array_size(w->failures) < REWRAP_MAX_FAILURES)
		(void)json_array_append_new(w->failures,
		                            json_pack("{s:s, s:s}", "path", path, "error", msg));
}

static const char *
first_error(struct response *rs, const char *def)
{
	const char *e = json_string_value(json_array_get(rs->errors, 0));

	return e ? e : def;
}

/* Rewraps path; one of rewrapped/skipped/errors goes up. */
static int
rewrap_one(struct rewrap *w, const char *path)
{
	char url[4096], err[256] = "";
	int attempt;

	if ((size_t)snprintf(url, sizeof(url), "%s/data/%s", w->mount, path) >= sizeof(url)) {
		fail_item(w, path, "path too long");
		return 0;
	}
	for (attempt = 0; attempt < REWRAP_ATTEMPTS; attempt++) {
		struct response rs;
		json_t *d, *data, *newdata = NULL, *body = NULL;
		const char *ct;
		int64_t ver, have, used = 0;
		const char *payload, *perr;
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		char *nct = NULL;
		int status, r;

		status = internal(w, OP_READ, url, NULL, &rs);
		if (status == 404) {
			response_reset(&rs);
			w->skipped++; /* deleted, destroyed or gone since the LIST */
			return 0;
		}
		if (status != 200) {
			fail_item(w, path, first_error(&rs, "read failed"));
			response_reset(&rs);
			return 0;
		}
		d = rs.data; /* {"data": {...}, "metadata": {...}} */
		data = json_object_get(d, "data");
		have = json_integer_value(
		        json_object_get(json_object_get(d, "metadata"), "version"));
		ct = json_string_value(json_object_get(data, w->field));
		if (!json_is_object(data) || have <= 0) {
			fail_item(w, path, "not a KV version 2 secret");
			response_reset(&rs);
			return 0;
		}
		if (!ct || transit_ct_parse(ct, &ver, &payload, &perr) != 0 ||
		    ver >= w->k->latest) {
			response_reset(&rs);
			w->skipped++; /* no ciphertext in the field, or already current */
			return 0;
		}
		r = tkey_decrypt(w->k, ct, w->ctx, w->ctxlen, &pt, &ptlen, &ver, err, sizeof(err));
		if (r == 0)
			r = tkey_encrypt(w->k, 0, w->ctx, w->ctxlen, NULL, 0, pt, ptlen, &nct,
			                 &used, err, sizeof(err));
		secmem_free(pt, ptlen);
		if (r < 0) {
			fail_item(w, path, *err ? err : cf_strerror(r));
			response_reset(&rs);
			return r == CF_ENOMEM ? r : 0;
		}
		newdata = json_deep_copy(data);
		response_reset(&rs);
		if (!newdata || json_object_set_new(newdata, w->field, json_string(nct)) != 0 ||
		    !(body = json_pack("{s:{s:I}, s:o}", "options", "cas", (json_int_t)have, "data",
		                       newdata))) {
			free(nct);
			return CF_ENOMEM;
		}
		free(nct);
		status = internal(w, OP_UPDATE, url, body, &rs);
		json_decref(body);
		if (status == 200) {
			response_reset(&rs);
			w->rewrapped++;
			return 0;
		}
		if (status == 400 && strstr(first_error(&rs, ""), "check-and-set")) {
			response_reset(&rs);
			w->cas_retries++;
			continue; /* a concurrent writer won: read again */
		}
		fail_item(w, path, first_error(&rs, "write failed"));
		response_reset(&rs);
		return 0;
	}
	fail_item(w, path, "check-and-set conflict: the secret kept changing; try again");
	return 0;
}

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Walks folder (relative to the mount's metadata/, "" or ending in '/'). */
static int
walk(struct rewrap *w, const char *folder, int depth)
{
	struct response rs;
	char url[4096];
	json_t *keys, *item;
	size_t i;
	int status, r = 0;

	if (depth > REWRAP_MAX_DEPTH)
		return 0;
	if ((size_t)snprintf(url, sizeof(url), "%s/metadata/%s", w->mount, folder) >= sizeof(url))
		return 0;
	status = internal(w, OP_LIST, url, NULL, &rs);
	if (status == 404) {
		response_reset(&rs);
		return 0;
	}
	if (status != 200) {
		fail_item(w, folder, first_error(&rs, "list failed"));
		response_reset(&rs);
		return 0;
	}
	keys = json_incref(json_object_get(rs.data, "keys"));
	response_reset(&rs);
	json_array_foreach(keys, i, item)
	{
		const char *name = json_string_value(item);
		char path[4096];
		size_t n;
		if (!name ||
		    (size_t)snprintf(path, sizeof(path), "%s%s", folder, name) >= sizeof(path))
			continue;
		n = strlen(path);
		if (n > 0 && path[n - 1] == '/') {
			/* descend only where the prefix can still match */
			if (has_prefix(path, w->prefix) || has_prefix(w->prefix, path))
				r = walk(w, path, depth + 1);
		} else if (has_prefix(path, w->prefix)) {
			if (w->visited >= TRANSIT_REWRAP_KV_MAX) {
				w->truncated = true;
				break;
			}
			w->visited++;
			r = rewrap_one(w, path);
		}
		if (r < 0 || w->truncated)
			break;
	}
	json_decref(keys);
	return r;
}

int
transit_rewrap_kv(struct request *rq, struct response *rs)
{
	struct rewrap w = {.outer = rq};
	const char *mount = json_string_value(json_object_get(rq->data, "mount"));
	const char *prefix = json_string_value(json_object_get(rq->data, "prefix"));
	const char *field = json_string_value(json_object_get(rq->data, "field"));
	const char *ctxs = json_string_value(json_object_get(rq->data, "context"));
	char mbuf[256], folder[4096];
	const char *slash;
	size_t n;
	json_t *out;
	int r;

	if (!mount || !*mount) {
		(void)response_errorf(rs, "missing mount: the KV version 2 mount to rewrap");
		return CF_EINVAL;
	}
	if (!field || !*field) {
		(void)response_errorf(rs, "missing field: the secret field that holds ciphertext");
		return CF_EINVAL;
	}
	while (*mount == '/')
		mount++;
	n = strlen(mount);
	while (n > 0 && mount[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(mbuf)) {
		(void)response_errorf(rs, "invalid mount");
		return CF_EINVAL;
	}
	memcpy(mbuf, mount, n);
	mbuf[n] = '\0';
	w.mount = mbuf;
	w.prefix = prefix ? prefix : "";
	while (*w.prefix == '/')
		w.prefix++;
	w.field = field;
	if (strlen(w.prefix) >= sizeof(folder)) {
		(void)response_errorf(rs, "invalid prefix");
		return CF_EINVAL;
	}
	if (ctxs && *ctxs && util_b64_decode(ctxs, &w.ctx, &w.ctxlen) < 0) {
		(void)response_errorf(rs, "failed to base64-decode context");
		return CF_EINVAL;
	}
	r = transit_key_get(rq->mount, rq->cap[0], &w.k);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "encryption key not found");
		r = CF_EINVAL;
		goto out;
	}
	if (r < 0)
		goto out;
	if (!w.k->type->enc) {
		(void)response_errorf(rs, "key type %s does not support encryption",
		                      w.k->type->name);
		r = CF_EINVAL;
		goto out;
	}
	w.failures = json_array();
	if (!w.failures) {
		r = CF_ENOMEM;
		goto out;
	}
	/* Start at the folder that holds the prefix ("app/db" -> "app/"). */
	slash = strrchr(w.prefix, '/');
	n = slash ? (size_t)(slash - w.prefix) + 1 : 0;
	memcpy(folder, w.prefix, n);
	folder[n] = '\0';
	r = walk(&w, folder, 0);
	if (r < 0)
		goto out;
	out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:O}", "rewrapped", (json_int_t)w.rewrapped,
	                "skipped", (json_int_t)w.skipped, "errors", (json_int_t)w.errors,
	                "cas_retries", (json_int_t)w.cas_retries, "key_version",
	                (json_int_t)w.k->latest, "truncated", w.truncated, "failures", w.failures);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, out);
	r = 0;
out:
	json_decref(w.failures);
	secmem_free(w.ctx, w.ctxlen);
	tkey_unref(w.k);
	return r;
}
