/* rotation_target.c - what a rotation does to each kind of target, always
 * through the engines' own routes (internal requests, never their storage):
 *
 *   kv        create: generate the new values from the latest version; kept in
 *             the job's encrypted state (not in KV) until finish, so readers of
 *             "latest" keep the current version; finish writes them as a new
 *             version with cas; revoke destroys the previous version.
 *   database  set: POST <mount>rotate-role/<role> (the engine sets the password
 *             on the idle user of an alternating pair and switches); test: the
 *             engine answers static-creds with the new rotation time; revoke: the
 *             engine's own grace gives the old user an unknown password.
 *   transit   set: POST <mount>keys/<name>/rotate; revoke: rewrap-kv for each
 *             `rewrap` entry, then min_decryption_version = revoked + 1.
 *   pki       rotation_pki.c: issue a certificate, keep it in KV v2.
 *
 * Each step first looks at what is already done (by the base version it stored
 * in the pending record), so running it again after a crash does nothing twice. */
#include "rotation/rotation_int.h"

#include "core/core.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rotation_call(struct rctx *x, enum op op, const char *path, json_t *body, struct response *rs)
{
	struct request rq = {0};
	int status;

	memset(rs, 0, sizeof(*rs));
	rq.op = op;
	rq.internal = true;
	rq.path = strdup(path);
	rq.data = body ? json_deep_copy(body) : json_object();
	if (x->outer) {
		rq.remote_addr = x->outer->remote_addr;
		rq.remote_port = x->outer->remote_port;
	}
	if (!rq.path || !rq.data) {
		request_free_fields(&rq);
		rs->status = 500;
		return 500;
	}
	if (x->nested) {
		status = core_handle_nested(x->c, &rq, rs);
		request_free_fields(&rq);
		return status;
	}
	/* The scheduler: take the core lock for this request only, with timed
	 * waits, giving up when a seal (which holds the lock for writing while it
	 * stops the scheduler) is under way. */
	for (;;) {
		if (rotation_stopping(x->rm)) {
			x->sealing = true;
			snprintf(x->err, sizeof(x->err), "the server is sealing");
			request_free_fields(&rq);
			rs->status = 503;
			return 503;
		}
		if (core_lock_shared(x->c, 100))
			break;
	}
	status = core_handle_nested(x->c, &rq, rs);
	core_unlock_shared(x->c);
	request_free_fields(&rq);
	return status;
}

int
rotation_call_fail(struct rctx *x, struct response *rs, int status, const char *what)
{
	const char *e = json_string_value(json_array_get(rs->errors, 0));

	snprintf(x->err, sizeof(x->err), "%s: %s (HTTP %d)", what, e && *e ? e : "failed", status);
	return status == 404 ? CF_ENOTFOUND : status == 400 ? CF_EINVAL : CF_EUPSTREAM;
}

static void
path2(char *out, size_t len, json_t *cfg, const char *verb, const char *suffix)
{
	snprintf(out, len, "%s%s%s%s", json_string_value(json_object_get(cfg, "mount")), verb,
	         json_string_value(json_object_get(cfg, "path")), suffix ? suffix : "");
}

/* ---- hashing ---- */

int
rotation_hash_value(json_t *st, const char *value, uint8_t out[32])
{
	const char *salt = json_string_value(json_object_get(st, "salt"));
	uint8_t key[32];
	size_t n = 0;

	if (!salt || util_unhex(salt, key, sizeof(key), &n) < 0 || n != sizeof(key))
		return CF_EINTERNAL;
	crypto_auth_hmacsha256(out, (const uint8_t *)value, strlen(value), key);
	secmem_wipe(key, sizeof(key));
	return 0;
}

json_t *
rotation_hash_fields(json_t *st, json_t *cfg, json_t *data)
{
	json_t *out = json_object(), *keys = json_object_get(cfg, "keys"), *v;
	const char *k;
	uint8_t h[32];
	char hex[65];

	if (!out || !json_is_object(data))
		return out;
	if (!json_is_object(keys)) {
		/* database: the password */
		v = json_object_get(data, "password");
		if (json_is_string(v) && rotation_hash_value(st, json_string_value(v), h) == 0) {
			util_hex(h, sizeof(h), hex);
			json_object_set_new(out, "password", json_string(hex));
		}
		return out;
	}
	json_object_foreach(keys, k, v)
	{
		json_t *val = json_object_get(data, k);
		if (!json_is_string(val) || rotation_hash_value(st, json_string_value(val), h) < 0)
			continue;
		util_hex(h, sizeof(h), hex);
		json_object_set_new(out, k, json_string(hex));
	}
	return out;
}

/* ---- kv ---- */

/* The latest version: *ret_version (0: no key), *ret_data (NULL when the key
 * is missing, deleted or destroyed; a new reference otherwise). */
static int
kv_read(struct rctx *x, json_t *cfg, int64_t *ret_version, json_t **ret_data)
{
	struct response rs;
	char p[2048];
	json_t *meta;
	int st, r = 0;

	path2(p, sizeof(p), cfg, "data/", NULL);
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	*ret_data = NULL;
	*ret_version = 0;
	meta = json_object_get(rs.data, "metadata");
	if (st == 200) {
		*ret_version = json_integer_value(json_object_get(meta, "version"));
		*ret_data = json_incref(json_object_get(rs.data, "data"));
	} else if (st == 404) {
		if (meta)
			*ret_version = json_integer_value(json_object_get(meta, "version"));
	} else {
		r = rotation_call_fail(x, &rs, st, "reading the secret");
	}
	response_reset(&rs);
	return r;
}

static int
kv_check(struct rctx *x, json_t *cfg)
{
	struct response rs;
	char p[512];
	int st;

	snprintf(p, sizeof(p), "%sconfig", json_string_value(json_object_get(cfg, "mount")));
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	response_reset(&rs);
	if (st != 200) {
		snprintf(x->err, sizeof(x->err), "mount %s is not a KV version 2 mount",
		         json_string_value(json_object_get(cfg, "mount")));
		return CF_EINVAL;
	}
	return 0;
}

static int
kv_create(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *data = NULL, *nd, *g;
	const char *k;
	int64_t ver;
	int r;

	(void)st;
	r = kv_read(x, cfg, &ver, &data);
	if (r < 0)
		return r;
	nd = data ? json_deep_copy(data) : json_object();
	json_decref(data);
	if (!nd)
		return CF_ENOMEM;
	json_object_foreach(json_object_get(cfg, "keys"), k, g)
	{
		r = rotation_gen_run(g, k, nd);
		if (r < 0) {
			snprintf(x->err, sizeof(x->err), "generating %s: %s", k, cf_strerror(r));
			json_decref(nd);
			return r;
		}
	}
	json_object_set_new(p, "data", nd);
	json_object_set_new(p, "base_version", json_integer(ver));
	return 0;
}

static int
nothing(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	(void)x;
	(void)cfg;
	(void)st;
	(void)p;
	return 0;
}

static int
kv_destroy(struct rctx *x, json_t *cfg, json_t *versions)
{
	struct response rs;
	char p[2048];
	json_t *body;
	int st, r = 0;

	if (json_array_size(versions) == 0)
		return 0;
	path2(p, sizeof(p), cfg, "destroy/", NULL);
	body = json_pack("{s:O}", "versions", versions);
	if (!body)
		return CF_ENOMEM;
	st = rotation_call(x, OP_UPDATE, p, body, &rs);
	json_decref(body);
	if (st >= 300)
		r = rotation_call_fail(x, &rs, st, "destroying versions");
	response_reset(&rs);
	return r;
}

/* Every version number the metadata lists. */
static int
kv_all_versions(struct rctx *x, json_t *cfg, json_t **ret)
{
	struct response rs;
	char p[2048];
	json_t *vers, *out;
	const char *k;
	json_t *v;
	int st;

	path2(p, sizeof(p), cfg, "metadata/", NULL);
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	out = json_array();
	if (!out) {
		response_reset(&rs);
		return CF_ENOMEM;
	}
	if (st == 200) {
		vers = json_object_get(rs.data, "versions");
		json_object_foreach(vers, k, v)
		{
			int64_t n;
			if (util_parse_int(k, &n) == 0 &&
			    !json_is_true(json_object_get(v, "destroyed")))
				json_array_append_new(out, json_integer(n));
		}
	} else if (st != 404) {
		int r = rotation_call_fail(x, &rs, st, "reading the metadata");
		response_reset(&rs);
		json_decref(out);
		return r;
	}
	response_reset(&rs);
	*ret = out;
	return 0;
}

/* Destroys every version below `below`. */
static int
kv_destroy_older(struct rctx *x, json_t *cfg, int64_t below)
{
	json_t *all = NULL, *keep, *v;
	size_t i;
	int r = kv_all_versions(x, cfg, &all);

	if (r < 0)
		return r;
	keep = json_array();
	if (!keep) {
		json_decref(all);
		return CF_ENOMEM;
	}
	json_array_foreach(all, i, v) if (json_integer_value(v) < below) json_array_append(keep, v);
	r = kv_destroy(x, cfg, keep);
	json_decref(keep);
	json_decref(all);
	return r;
}

static int
kv_finish(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise)
{
	json_t *data = NULL, *nd = NULL, *pd = json_object_get(p, "data"), *body, *keys, *g;
	struct response rs;
	const char *k;
	char path[2048], pub[ROT_NAME_MAX + 16];
	int64_t ver;
	int r, status;

	r = kv_read(x, cfg, &ver, &data);
	if (r < 0)
		return r;
	if (data && json_equal(data, pd)) {
		/* Written before a crash: nothing to do twice (a compromise still
		 * makes sure every older version is gone). */
		json_decref(data);
		if (compromise)
			r = kv_destroy_older(x, cfg, ver);
		if (r < 0)
			return r;
		json_object_set_new(p, "new_version", json_integer(ver));
		json_object_set_new(p, "hashes", rotation_hash_fields(st, cfg, pd));
		return 0;
	}
	if (compromise) {
		/* Every existing version becomes invalid before the new one exists. */
		json_decref(data);
		r = kv_destroy_older(x, cfg, INT64_MAX);
		if (r == 0)
			r = kv_read(x, cfg, &ver, &data);
		if (r < 0)
			return r;
	}
	if (data) {
		/* Carry over the fields someone wrote since create. */
		nd = json_deep_copy(data);
		keys = json_object_get(cfg, "keys");
		json_object_foreach(keys, k, g)
		{
			json_object_set(nd, k, json_object_get(pd, k));
			snprintf(pub, sizeof(pub), "%s_public", k);
			if (json_object_get(pd, pub))
				json_object_set(nd, pub, json_object_get(pd, pub));
		}
		json_object_set(p, "data", nd);
		json_decref(nd);
		pd = json_object_get(p, "data");
	}
	json_object_set_new(p, "prev_version", json_integer(compromise || !data ? 0 : ver));
	json_object_set_new(p, "prev_hashes",
	                    compromise || !data ? json_object()
	                                        : rotation_hash_fields(st, cfg, data));
	json_decref(data);
	/* The data about to be written is stored first, so a crash after the write
	 * finds it equal above. */
	r = x->save(x);
	if (r < 0)
		return r;
	path2(path, sizeof(path), cfg, "data/", NULL);
	body = json_pack("{s:O, s:{s:I}}", "data", pd, "options", "cas", (json_int_t)ver);
	if (!body)
		return CF_ENOMEM;
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status != 200) {
		r = rotation_call_fail(x, &rs, status, "writing the new version");
		response_reset(&rs);
		return r;
	}
	ver = json_integer_value(json_object_get(rs.data, "version"));
	response_reset(&rs);
	json_object_set_new(p, "new_version", json_integer(ver));
	json_object_set_new(p, "hashes", rotation_hash_fields(st, cfg, pd));
	return 0;
}

static int
kv_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version)
{
	json_t *v = json_pack("[I]", (json_int_t)version);
	int r;

	(void)st;
	if (!v)
		return CF_ENOMEM;
	r = kv_destroy(x, cfg, v);
	json_decref(v);
	return r;
}

/* ---- transit ---- */

static int
transit_latest(struct rctx *x, json_t *cfg, int64_t *ret)
{
	struct response rs;
	char p[2048];
	int st, r = 0;

	path2(p, sizeof(p), cfg, "keys/", NULL);
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	if (st == 200)
		*ret = json_integer_value(json_object_get(rs.data, "latest_version"));
	else
		r = rotation_call_fail(x, &rs, st, "reading the transit key");
	response_reset(&rs);
	return r;
}

static int
transit_check(struct rctx *x, json_t *cfg)
{
	int64_t v;

	return transit_latest(x, cfg, &v) < 0 ? CF_EINVAL : 0;
}

static int
transit_create(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	int64_t v;
	int r = transit_latest(x, cfg, &v);

	(void)st;
	if (r == 0)
		json_object_set_new(p, "base_version", json_integer(v));
	return r;
}

static int
transit_set(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	struct response rs;
	char path[2048];
	int64_t v;
	int r = transit_latest(x, cfg, &v), status;

	(void)st;
	if (r < 0)
		return r;
	if (v > json_integer_value(json_object_get(p, "base_version")))
		return 0; /* rotated before a crash */
	path2(path, sizeof(path), cfg, "keys/", "/rotate");
	status = rotation_call(x, OP_UPDATE, path, NULL, &rs);
	if (status >= 300)
		r = rotation_call_fail(x, &rs, status, "rotating the transit key");
	response_reset(&rs);
	return r;
}

static int transit_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version);

static int
transit_finish(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise)
{
	int64_t v;
	int r = transit_latest(x, cfg, &v);

	(void)st;
	if (r < 0)
		return r;
	json_object_set_new(p, "new_version", json_integer(v));
	json_object_set_new(
	        p, "prev_version",
	        json_integer(compromise ? 0
	                                : json_integer_value(json_object_get(p, "base_version"))));
	json_object_set_new(p, "hashes", json_object());
	json_object_set_new(p, "prev_hashes", json_object());
	if (compromise) {
		/* no grace: older key versions stop decrypting now */
		r = transit_revoke(x, cfg, st, v - 1);
	}
	return r;
}

static int
transit_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version)
{
	struct response rs;
	char path[2048];
	json_t *rw = json_object_get(cfg, "rewrap"), *it, *body;
	size_t i;
	int status, r = 0;

	(void)st;
	if (version < 1)
		return 0;
	/* Rewrap first: data still under the old version must move before that
	 * version stops decrypting. */
	path2(path, sizeof(path), cfg, "keys/", "/rewrap-kv");
	json_array_foreach(rw, i, it)
	{
		status = rotation_call(x, OP_UPDATE, path, it, &rs);
		if (status != 200) {
			r = rotation_call_fail(x, &rs, status, "rewrapping");
		} else if (json_integer_value(json_object_get(rs.data, "errors")) > 0) {
			snprintf(x->err, sizeof(x->err), "rewrapping %s: %lld item(s) failed",
			         json_string_value(json_object_get(it, "mount")),
			         (long long)json_integer_value(json_object_get(rs.data, "errors")));
			r = CF_EUPSTREAM;
		}
		response_reset(&rs);
		if (r < 0)
			return r;
	}
	path2(path, sizeof(path), cfg, "keys/", "/config");
	body = json_pack("{s:I}", "min_decryption_version", (json_int_t)(version + 1));
	if (!body)
		return CF_ENOMEM;
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status >= 300)
		r = rotation_call_fail(x, &rs, status, "raising min_decryption_version");
	response_reset(&rs);
	return r;
}

/* ---- database ---- */

static int
db_creds(struct rctx *x, json_t *cfg, json_t **ret)
{
	struct response rs;
	char p[2048];
	int st, r = 0;

	path2(p, sizeof(p), cfg, "static-creds/", NULL);
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	if (st == 200)
		*ret = json_incref(rs.data);
	else
		r = rotation_call_fail(x, &rs, st, "reading the static credentials");
	response_reset(&rs);
	return r;
}

static int
db_check(struct rctx *x, json_t *cfg)
{
	struct response rs;
	char p[2048];
	int st;

	path2(p, sizeof(p), cfg, "static-roles/", NULL);
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	if (st != 200) {
		(void)rotation_call_fail(x, &rs, st, "reading the static role");
		response_reset(&rs);
		return CF_EINVAL;
	}
	response_reset(&rs);
	return 0;
}

static const char *
db_stamp(json_t *creds)
{
	const char *s = json_string_value(json_object_get(creds, "last_vault_rotation"));
	return s ? s : "";
}

static int
db_create(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *c = NULL;
	int r = db_creds(x, cfg, &c);

	(void)st;
	if (r < 0)
		return r;
	json_object_set_new(p, "base_stamp", json_string(db_stamp(c)));
	json_object_set_new(p, "prev_hashes", rotation_hash_fields(st, cfg, c));
	json_decref(c);
	return 0;
}

static int
db_rotate_role(struct rctx *x, json_t *cfg)
{
	struct response rs;
	char path[2048];
	int status, r = 0;

	json_t *body = json_object(), *grace = json_object_get(cfg, "grace");

	/* the job's grace governs the static role's previous user */
	if (body && grace)
		json_object_set(body, "grace", grace);
	path2(path, sizeof(path), cfg, "rotate-role/", NULL);
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status >= 300)
		r = rotation_call_fail(x, &rs, status, "rotating the static role");
	response_reset(&rs);
	return r;
}

/* True when the static role alternates between two users. */
static bool
db_alternating(struct rctx *x, json_t *cfg)
{
	struct response rs;
	char path[2048];
	bool alt = false;

	path2(path, sizeof(path), cfg, "static-roles/", NULL);
	if (rotation_call(x, OP_READ, path, NULL, &rs) == 200) {
		const char *a = json_string_value(json_object_get(rs.data, "alternate_username"));
		alt = a && *a;
	}
	response_reset(&rs);
	return alt;
}

static int
db_set(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *c = NULL;
	const char *s1;
	int r = db_creds(x, cfg, &c);
	bool done;

	(void)st;
	if (r < 0)
		return r;
	done = strcmp(db_stamp(c), json_string_value(json_object_get(p, "base_stamp"))) != 0;
	json_decref(c);
	if (!done) {
		r = db_rotate_role(x, cfg);
		if (r < 0)
			return r;
	}
	if (strcmp(json_string_value(json_object_get(p, "trigger")), "compromise") != 0 ||
	    !db_alternating(x, cfg))
		return 0;
	/* Compromise of an alternating pair: the first rotation leaves the user in
	 * use until now valid for the engine's grace. A second one gives that user
	 * a fresh password too, so no password that existed before the call still
	 * logs in (the other user keeps the one set a moment ago, never exposed). */
	r = db_creds(x, cfg, &c);
	if (r < 0)
		return r;
	s1 = json_string_value(json_object_get(p, "stamp1"));
	if (!s1) {
		json_object_set_new(p, "stamp1", json_string(db_stamp(c)));
		json_decref(c);
		r = x->save(x);
		if (r < 0)
			return r;
		return db_rotate_role(x, cfg);
	}
	done = strcmp(db_stamp(c), s1) != 0;
	json_decref(c);
	return done ? 0 : db_rotate_role(x, cfg);
}

static int
db_test(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *c = NULL;
	int r = db_creds(x, cfg, &c);

	(void)st;
	if (r < 0)
		return r;
	/* The engine tests the new password when it sets it (it logs in with it
	 * before it switches); here: the switch is visible. */
	if (strcmp(db_stamp(c), json_string_value(json_object_get(p, "base_stamp"))) == 0) {
		snprintf(x->err, sizeof(x->err), "the static role was not rotated");
		r = CF_EUPSTREAM;
	}
	json_decref(c);
	return r;
}

static int
db_finish(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise)
{
	json_t *c = NULL;
	const char *ge;
	int64_t cur = json_integer_value(json_object_get(st, "current_version")), ns;
	int r = db_creds(x, cfg, &c);

	if (r < 0)
		return r;
	json_object_set_new(p, "new_version", json_integer(cur + 1));
	json_object_set_new(p, "prev_version", json_integer(compromise ? 0 : cur));
	json_object_set_new(p, "hashes", rotation_hash_fields(st, cfg, c));
	if (compromise)
		json_object_set_new(p, "prev_hashes", json_object());
	ge = json_string_value(json_object_get(c, "grace_ends"));
	if (ge && util_parse_rfc3339(ge, &ns) == 0)
		json_object_set_new(p, "grace_ends", json_integer(ns));
	json_decref(c);
	return 0;
}

static int
db_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version)
{
	/* The engine ends the grace of the previous user itself (dbstatic.c). */
	(void)x;
	(void)cfg;
	(void)st;
	(void)version;
	return 0;
}

/* ---- for the pki target (rotation_pki.c): the KV v2 side of a job ---- */

int
rotation_kv_read(struct rctx *x, json_t *kvcfg, int64_t *ret_version, json_t **ret_data)
{
	return kv_read(x, kvcfg, ret_version, ret_data);
}

int
rotation_kv_destroy_older(struct rctx *x, json_t *kvcfg, int64_t below)
{
	return kv_destroy_older(x, kvcfg, below);
}

int
rotation_kv_revoke(struct rctx *x, json_t *kvcfg, int64_t version)
{
	return kv_revoke(x, kvcfg, NULL, version);
}

static const struct target_ops targets[] = {
        {"kv", kv_check, kv_create, nothing, nothing, kv_finish, kv_revoke},
        {"database", db_check, db_create, db_set, db_test, db_finish, db_revoke},
        {"transit", transit_check, transit_create, transit_set, nothing, transit_finish,
         transit_revoke},
        {"pki", rotation_pki_check, rotation_pki_create, rotation_pki_set, rotation_pki_test,
         rotation_pki_finish, rotation_pki_revoke},
};

const struct target_ops *
rotation_target(const char *name)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strcmp(targets[i].name, name) == 0)
			return &targets[i];
	return NULL;
}
