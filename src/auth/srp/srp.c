/* srp.c - the srp auth method: zero-knowledge password login with SRP-6a
 * (docs/internals/auth.md, SRP). The server stores a salt and a verifier per user, never a
 * password; login is init (A -> session, salt, B) then verify (M1 -> M2 and a
 * token). Arithmetic in crypto/srp6a.c, sessions in srp_session.c, brute-force limits
 * in srp_guard.c, unknown-user stand-ins in srp_fake.c. See
 * docs/internals/auth.md §srp.
 *
 * Storage (the mount's view, so inside the barrier): users/<name> = {salt,
 * verifier, token_*}, fake_key = {key}, config = {session_ttl}. */
#include "auth/auth.h"
#include "auth/srp/srp.h"
#include "crypto/srp6a.h"
#include "auth/srp/srp_int.h"
#include "backend/backend.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_TTL_MAX 3600 /* seconds */

#define MSG_BAD_LOGIN   "invalid username or password"
#define MSG_BAD_SESSION "invalid or expired session"
#define MSG_LOCKED      "too many failed login attempts, try again later"
#define MSG_RATE        "rate limit exceeded"

struct srp_state {
	struct srp_sessions *sessions;
	struct srp_guard *guard;
	pthread_mutex_t mu; /* fake_key and session_ttl */
	bool have_key, have_cfg;
	uint8_t fake_key[SRP_FAKE_KEY_BYTES];
	int64_t session_ttl; /* seconds */
};

/* ---- mount state ---- */

static int
srp_init(struct mount *m, struct core *c)
{
	struct srp_state *st = calloc(1, sizeof(*st));
	int r;

	(void)c;
	if (!st)
		return CF_ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	r = srp_sessions_new(SRP_MAX_SESSIONS, SRP_MAX_SESSIONS_PER_USER, &st->sessions);
	if (r == 0)
		r = srp_guard_new(&st->guard);
	if (r < 0 || !srp6a_group_default()) {
		srp_sessions_free(st->sessions);
		srp_guard_free(st->guard);
		pthread_mutex_destroy(&st->mu);
		free(st);
		return r < 0 ? r : CF_ENOMEM;
	}
	m->state = st;
	return 0;
}

static void
srp_cleanup(struct mount *m)
{
	struct srp_state *st = m->state;

	if (!st)
		return;
	srp_sessions_free(st->sessions); /* wipes b and v of every open session */
	srp_guard_free(st->guard);
	pthread_mutex_destroy(&st->mu);
	secmem_free(st, sizeof(*st));
	m->state = NULL;
}

/* The mount's fake_key (docs/internals/auth.md, SRP): created on first use, kept in the
 * barrier, cached in memory. */
static int
fake_key_get(struct mount *m, uint8_t out[SRP_FAKE_KEY_BYTES])
{
	struct srp_state *st = m->state;
	json_t *rec = NULL;
	const char *hex = NULL;
	char hx[2 * SRP_FAKE_KEY_BYTES + 1];
	int r = 0;

	pthread_mutex_lock(&st->mu);
	if (st->have_key)
		goto done;
	r = view_get_json(m->view, "fake_key", &rec);
	if (r == 0) {
		if (jsonx_str(rec, "key", &hex) < 0 ||
		    srp_parse_hex_exact(hex, st->fake_key, SRP_FAKE_KEY_BYTES) < 0)
			r = CF_EIO;
	} else if (r == CF_ENOTFOUND) {
		if (RAND_priv_bytes(st->fake_key, SRP_FAKE_KEY_BYTES) != 1) {
			r = CF_EINTERNAL;
			goto out;
		}
		util_hex(st->fake_key, SRP_FAKE_KEY_BYTES, hx);
		rec = json_pack("{s:s}", "key", hx);
		secmem_wipe(hx, sizeof(hx));
		r = rec ? view_put_json(m->view, "fake_key", rec) : CF_ENOMEM;
	}
	if (r < 0)
		goto out;
	st->have_key = true;
done:
	memcpy(out, st->fake_key, SRP_FAKE_KEY_BYTES);
out:
	if (r < 0)
		secmem_wipe(st->fake_key, sizeof(st->fake_key));
	pthread_mutex_unlock(&st->mu);
	json_decref(rec);
	return r;
}

/* The session lifetime in seconds (auth/srp/config session_ttl). */
static int
session_ttl_get(struct mount *m, int64_t *ret)
{
	struct srp_state *st = m->state;
	json_t *rec = NULL;
	int64_t ttl = SRP_SESSION_TTL_DEFAULT;
	int r = 0;

	pthread_mutex_lock(&st->mu);
	if (!st->have_cfg) {
		r = view_get_json(m->view, "config", &rec);
		if (r == 0 && (jsonx_int(rec, "session_ttl", &ttl) < 0 || ttl <= 0))
			ttl = SRP_SESSION_TTL_DEFAULT;
		if (r == CF_ENOTFOUND)
			r = 0;
		if (r == 0) {
			st->session_ttl = ttl;
			st->have_cfg = true;
		}
	}
	*ret = st->session_ttl;
	pthread_mutex_unlock(&st->mu);
	json_decref(rec);
	return r;
}

/* ---- user records ---- */

static char *
user_key(const char *name)
{
	size_t n = sizeof("users/") + strlen(name);
	char *k = malloc(n);

	if (k)
		snprintf(k, n, "users/%s", name);
	return k;
}

/* Loads users/<name>: 0 with the record, CF_ENOTFOUND, or an error. */
static int
user_load(struct mount *m, const char *name, json_t **ret)
{
	char *k = user_key(name);
	int r;

	if (!k)
		return CF_ENOMEM;
	r = view_get_object(m->view, k, ret);
	free(k);
	return r;
}

/* The salt and verifier of a stored record. */
static int
user_secrets(json_t *rec, uint8_t salt[SRP_SALT_BYTES], uint8_t v[SRP_N_BYTES])
{
	const char *s = NULL, *vh = NULL;

	if (jsonx_str(rec, "salt", &s) < 0 || jsonx_str(rec, "verifier", &vh) < 0 ||
	    srp_parse_hex_exact(s, salt, SRP_SALT_BYTES) < 0 ||
	    srp_parse_hex_exact(vh, v, SRP_N_BYTES) < 0)
		return CF_EIO;
	return 0;
}

static int
bad_request(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

/* ---- GET params ---- */

static int
srp_params(struct request *rq, struct response *rs)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "group", SRP_GROUP_ID, "N",
	                      srp6a_default_n_hex, "g", "05", "hash", "sha256", "salt_bytes",
	                      SRP_SALT_BYTES, "encoding", "hex");

	(void)rq;
	if (!d)
		return CF_ENOMEM;
	response_set_data(rs, d);
	return 0;
}

/* ---- users ---- */

static int
srp_user_exists(struct request *rq, bool *ret_exists)
{
	char *k;
	int r;

	if (!srp_parse_username(rq->cap[0])) {
		*ret_exists = false;
		return 0;
	}
	k = user_key(rq->cap[0]);
	if (!k)
		return CF_ENOMEM;
	r = view_object_exists(rq->mount->view, k, ret_exists);
	free(k);
	return r;
}

static int
srp_user_write(struct request *rq, struct response *rs)
{
	const struct srp6a_group *grp = srp6a_group_default();
	const char *name = rq->cap[0], *s = NULL, *vh = NULL;
	uint8_t salt[SRP_SALT_BYTES], v[SRP_N_BYTES];
	char sh[2 * SRP_SALT_BYTES + 1], vx[2 * SRP_N_BYTES + 1];
	struct auth_token_cfg cfg;
	json_t *old = NULL, *rec = NULL;
	char *key = NULL;
	int r;

	if (!srp_parse_username(name))
		return bad_request(rs, "invalid username");
	if (jsonx_str(rq->data, "salt", &s) < 0 || srp_parse_hex_exact(s, salt, sizeof(salt)) < 0)
		return bad_request(rs, "invalid salt: want 32 bytes as hex");
	if (jsonx_str(rq->data, "verifier", &vh) < 0 || srp_parse_verifier(grp, vh, v) < 0)
		return bad_request(rs,
		                   "invalid verifier: want PAD(v) as 768 hex digits, 1 < v < N");
	r = auth_token_cfg_init(&cfg);
	if (r < 0)
		return r;
	/* A new pair keeps the token fields the request does not name. */
	r = user_load(rq->mount, name, &old);
	if (r == 0)
		r = auth_token_cfg_load(&cfg, old);
	else if (r == CF_ENOTFOUND)
		r = 0;
	if (r < 0)
		goto out;
	r = auth_token_cfg_update(&cfg, rq->data, rs, NULL);
	if (r < 0)
		goto out;
	/* stored lowercase, as the server writes all hex */
	util_hex(salt, sizeof(salt), sh);
	util_hex(v, sizeof(v), vx);
	rec = json_pack("{s:s, s:s}", "salt", sh, "verifier", vx);
	key = user_key(name);
	r = rec && key ? 0 : CF_ENOMEM;
	if (r == 0)
		r = auth_token_cfg_store(&cfg, rec);
	if (r == 0)
		r = view_put_json(rq->mount->view, key, rec);
	if (r == 0)
		log_info("srp: user %s registered on %s", name, rq->mount->path);
out:
	secmem_wipe(v, sizeof(v));
	secmem_wipe(vx, sizeof(vx));
	auth_token_cfg_clear(&cfg);
	json_decref(old);
	json_decref(rec);
	free(key); /* not secret: a storage path */
	return r;
}

static int
srp_user_read(struct request *rq, struct response *rs)
{
	struct auth_token_cfg cfg;
	json_t *rec = NULL, *out = NULL;
	const char *s = NULL;
	int r;

	if (!srp_parse_username(rq->cap[0]))
		return bad_request(rs, "invalid username");
	r = user_load(rq->mount, rq->cap[0], &rec);
	if (r < 0)
		return r;
	r = auth_token_cfg_init(&cfg);
	if (r < 0)
		goto out;
	r = auth_token_cfg_load(&cfg, rec);
	out = json_object();
	if (r == 0 && !out)
		r = CF_ENOMEM;
	if (r == 0)
		r = auth_token_cfg_show(&cfg, out);
	/* never the verifier; the salt is public anyway (init hands it out) */
	if (r == 0 && jsonx_str(rec, "salt", &s) == 0 &&
	    json_object_set_new(out, "salt", json_string(s)) != 0)
		r = CF_ENOMEM;
	if (r == 0) {
		response_set_data(rs, out);
		out = NULL;
	}
	auth_token_cfg_clear(&cfg);
out:
	json_decref(out);
	json_decref(rec);
	return r;
}

static int
srp_user_delete(struct request *rq, struct response *rs)
{
	char *key;
	int r;

	if (!srp_parse_username(rq->cap[0]))
		return bad_request(rs, "invalid username");
	key = user_key(rq->cap[0]);
	if (!key)
		return CF_ENOMEM;
	r = view_delete(rq->mount->view, key);
	free(key); /* not secret: a storage path */
	if (r == CF_ENOTFOUND)
		r = 0;
	if (r == 0)
		log_info("srp: user %s deleted on %s", rq->cap[0], rq->mount->path);
	return r;
}

static int
srp_users_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "users/", 0, rs);
}

/* ---- config ---- */

static int
srp_config_read(struct request *rq, struct response *rs)
{
	int64_t ttl;
	json_t *rec;
	int r;

	r = session_ttl_get(rq->mount, &ttl);
	if (r < 0)
		return r;
	rec = json_pack("{s:I}", "session_ttl", (json_int_t)ttl);
	if (!rec)
		return CF_ENOMEM;
	response_set_data(rs, rec);
	return 0;
}

/* The config's one parameter: how long a login/init session waits for its
 * login/verify. */
static const struct field config_fields[] = {
        {"session_ttl", FIELD_DURATION, FIELD_RANGE, 0, .min = 1, .max = SESSION_TTL_MAX,
         .desc = "1s to 1h"},
        {NULL},
};

static int
srp_config_write(struct request *rq, struct response *rs)
{
	struct srp_state *st = rq->mount->state;
	int64_t ttl;
	json_t *rec;
	int r;

	r = session_ttl_get(rq->mount, &ttl);
	if (r == 0)
		r = field_parse(config_fields, rq->data, &ttl, rs);
	if (r < 0)
		return r;
	rec = json_pack("{s:I}", "session_ttl", (json_int_t)ttl);
	if (!rec)
		return CF_ENOMEM;
	pthread_mutex_lock(&st->mu);
	r = view_put_json(rq->mount->view, "config", rec);
	if (r == 0)
		st->session_ttl = ttl;
	pthread_mutex_unlock(&st->mu);
	json_decref(rec);
	return r;
}

/* ---- login ---- */

static int
srp_login_init(struct request *rq, struct response *rs)
{
	const struct srp6a_group *grp = srp6a_group_default();
	struct srp_state *st = rq->mount->state;
	struct srp_session *s = NULL;
	uint8_t key[SRP_FAKE_KEY_BYTES], fsalt[SRP_SALT_BYTES], fv[SRP_N_BYTES];
	char sid[2 * SRP_SESSION_ID_BYTES + 1], salt[2 * SRP_SALT_BYTES + 1],
	        B[2 * SRP_N_BYTES + 1];
	const char *user = NULL, *ahex = NULL;
	int64_t now = util_now_ns(), retry = 0, ttl;
	json_t *rec = NULL, *d;
	int r;

	if (srp_guard_addr(st->guard, rq->remote_addr, now, &retry) < 0) {
		(void)response_errorf(rs, MSG_RATE);
		rs->retry_after = retry;
		return CF_ERATELIMIT;
	}
	if (jsonx_str(rq->data, "username", &user) < 0 || !srp_parse_username(user))
		return bad_request(rs, "invalid username");
	if (srp_guard_locked(st->guard, user, now, &retry) < 0) {
		(void)response_errorf(rs, MSG_LOCKED);
		rs->retry_after = retry;
		return CF_ERATELIMIT;
	}
	s = srp_session_new();
	if (!s)
		return CF_ENOMEM;
	if (jsonx_str(rq->data, "A", &ahex) < 0 || srp_parse_A(grp, ahex, s->A) < 0) {
		r = bad_request(rs, "invalid A");
		goto out;
	}
	r = session_ttl_get(rq->mount, &ttl);
	if (r == 0)
		r = fake_key_get(rq->mount, key);
	if (r < 0)
		goto out;
	/* Every init derives the fake salt and verifier, known user or not, so
	 * both cost the same (docs/internals/auth.md, SRP, "Unknown users"). */
	r = srp_fake_salt(key, user, fsalt);
	if (r == 0)
		r = srp_fake_verifier(grp, key, user, fv);
	if (r < 0)
		goto out;
	r = user_load(rq->mount, user, &rec);
	if (r == 0) {
		r = user_secrets(rec, s->salt, s->v);
		if (r < 0)
			goto out;
		s->known = true;
	} else if (r == CF_ENOTFOUND) {
		memcpy(s->salt, fsalt, sizeof(fsalt));
		memcpy(s->v, fv, sizeof(fv));
		s->known = false;
	} else {
		goto out;
	}
	memcpy(s->user, user, strlen(user) + 1);
	r = CF_EINTERNAL;
	if (RAND_priv_bytes(s->b, sizeof(s->b)) != 1 || RAND_bytes(s->id, sizeof(s->id)) != 1)
		goto out;
	r = srp6a_server_B(grp, s->v, s->b, sizeof(s->b), s->B);
	if (r < 0)
		goto out;
	s->expires = now + ttl * SRP_NS;
	util_hex(s->id, sizeof(s->id), sid);
	util_hex(s->salt, sizeof(s->salt), salt);
	util_hex(s->B, sizeof(s->B), B);
	d = json_pack("{s:s, s:s, s:s}", "session", sid, "salt", salt, "B", B);
	if (!d) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)srp_sessions_put(st->sessions, s, now);
	s = NULL;
	response_set_data(rs, d);
	r = 0;
out:
	if (r < 0 && r != CF_EINVAL)
		log_error_r(r, "srp: login init on %s failed", rq->mount->path);
	srp_session_free(s);
	json_decref(rec);
	secmem_wipe(key, sizeof(key));
	secmem_wipe(fv, sizeof(fv));
	secmem_wipe(sid, sizeof(sid));
	return r;
}

/* Whether users/<name> still holds the salt and verifier the session was
 * started with (not deleted nor replaced since). */
static bool
still_registered(struct mount *m, const struct srp_session *s)
{
	uint8_t salt[SRP_SALT_BYTES], v[SRP_N_BYTES];
	json_t *rec = NULL;
	bool same = false;

	if (user_load(m, s->user, &rec) == 0 && user_secrets(rec, salt, v) == 0)
		same = CRYPTO_memcmp(salt, s->salt, sizeof(salt)) == 0 &&
		       CRYPTO_memcmp(v, s->v, sizeof(v)) == 0;
	json_decref(rec);
	secmem_wipe(v, sizeof(v));
	return same;
}

static int
srp_login_verify(struct request *rq, struct response *rs)
{
	const struct srp6a_group *grp = srp6a_group_default();
	struct srp_state *st = rq->mount->state;
	struct srp_session *s = NULL;
	struct auth_token_cfg cfg;
	bool cfg_ok = false, ok;
	uint8_t id[SRP_SESSION_ID_BYTES], m1[SRP_HASH_BYTES], m2[SRP_HASH_BYTES];
	char m2hex[2 * SRP_HASH_BYTES + 1];
	const char *sh = NULL, *mh = NULL;
	int64_t now = util_now_ns(), retry;
	json_t *rec = NULL, *meta = NULL, *d = NULL;
	int r;

	if (jsonx_str(rq->data, "session", &sh) < 0 ||
	    srp_parse_hex_exact(sh, id, sizeof(id)) < 0 ||
	    srp_sessions_take(st->sessions, id, now, &s) < 0)
		return bad_request(rs, MSG_BAD_SESSION);
	/* the session is used up from here on, whatever happens */
	if (jsonx_str(rq->data, "M1", &mh) < 0 || srp_parse_hex_exact(mh, m1, sizeof(m1)) < 0) {
		r = bad_request(rs, "invalid M1");
		goto out;
	}
	r = srp_session_check(grp, s, m1, m2);
	if (r < 0 && r != CF_EDENIED)
		goto out;
	ok = r == 0;
	/* deleted or re-registered since init; locked out by other sessions since */
	if (ok && !still_registered(rq->mount, s))
		ok = false;
	if (ok && srp_guard_locked(st->guard, s->user, now, &retry) < 0)
		ok = false;
	if (!ok) {
		srp_guard_failed(st->guard, s->user, now);
		log_info("srp: failed login for %s on %s from %s", s->user, rq->mount->path,
		         rq->remote_addr ? rq->remote_addr : "-");
		r = bad_request(rs, MSG_BAD_LOGIN);
		goto out;
	}

	r = user_load(rq->mount, s->user, &rec);
	if (r == CF_ENOTFOUND) {
		r = bad_request(rs, MSG_BAD_LOGIN); /* deleted this very moment */
		goto out;
	}
	if (r == 0)
		r = auth_token_cfg_init(&cfg);
	if (r < 0)
		goto out;
	cfg_ok = true;
	r = auth_token_cfg_load(&cfg, rec);
	if (r < 0)
		goto out;
	meta = json_pack("{s:s}", "username", s->user);
	util_hex(m2, sizeof(m2), m2hex);
	d = json_pack("{s:s}", "M2", m2hex);
	if (!meta || !d) {
		r = CF_ENOMEM;
		goto out;
	}
	r = auth_login_token(rq, rs, &cfg, s->user, meta);
	if (r < 0)
		goto out;
	srp_guard_succeeded(st->guard, s->user);
	response_set_data(rs, d);
	d = NULL;
out:
	if (r < 0 && r != CF_EINVAL)
		log_error_r(r, "srp: login verify on %s failed", rq->mount->path);
	if (cfg_ok)
		auth_token_cfg_clear(&cfg);
	json_decref(rec);
	json_decref(meta);
	json_decref(d);
	srp_session_free(s);
	secmem_wipe(m2, sizeof(m2));
	return r;
}

/* docs/internals/auth.md, SRP */
static const struct route srp_routes[] = {
        {"params", .flags = R_NOAUTH, .read = srp_params},
        {"login/init", .flags = R_NOAUTH, .write = srp_login_init},
        {"login/verify", .flags = R_NOAUTH, .write = srp_login_verify},
        {"users/", .list = srp_users_list},
        {"users", .list = srp_users_list},
        {"users/+", .read = srp_user_read, .write = srp_user_write, .delete = srp_user_delete,
         .exists = srp_user_exists},
        {"config", .read = srp_config_read, .write = srp_config_write, .fields = config_fields},
};

const struct backend_type srp_backend = {
        .type = "srp",
        .routes = srp_routes,
        .nroutes = sizeof(srp_routes) / sizeof(srp_routes[0]),
        .init = srp_init,
        .cleanup = srp_cleanup,
};
