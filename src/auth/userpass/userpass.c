/* userpass.c - the userpass auth method (Vault's userpass API): users with an
 * argon2id password hash and the common token fields, and login by name and
 * password. See userpass.h and docs/internals/auth.md.
 *
 * Storage (the mount's view, encrypted by the barrier):
 *   user/<lowercased name>  {"password_hash": "$argon2id$...", token_* fields}
 *
 * Deviation from Vault: passwords are hashed with argon2id, which is memory-hard, not bcrypt. */
#include "auth/userpass/userpass.h"

#include "auth/auth.h"
#include "backend/backend.h"
#include "backend/request.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_PREFIX "user/"
#define KEY_MAX     (sizeof(USER_PREFIX) + USERPASS_NAME_MAX + 1)
#define BAD_LOGIN   "invalid username or password"

/* ---- pure parts (userpass.h) ---- */

int
userpass_name_normalize(const char *name, char *out)
{
	size_t i;

	if (!name || !*name)
		return CF_EINVAL;
	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];
		if (i >= USERPASS_NAME_MAX || c < 0x20 || c == 0x7f || c == '/')
			return CF_EINVAL;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	out[i] = '\0';
	return 0;
}

/* At most USERPASS_MAX_HASHING argon2id runs at once, process-wide: each holds
 * USERPASS_MEMLIMIT bytes, so a burst of logins cannot exhaust memory. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_busy;

static void
gate_enter(void)
{
	pthread_mutex_lock(&gate_mu);
	while (gate_busy >= USERPASS_MAX_HASHING)
		pthread_cond_wait(&gate_cv, &gate_mu);
	gate_busy++;
	pthread_mutex_unlock(&gate_mu);
}

static void
gate_leave(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_busy--;
	pthread_cond_signal(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

int
userpass_hash(const char *password, size_t len, char *out)
{
	int r;

	if (len == 0 || len > USERPASS_PASSWORD_MAX)
		return CF_EINVAL;
	gate_enter();
	r = crypto_pwhash_str(out, password, len, USERPASS_OPSLIMIT, USERPASS_MEMLIMIT);
	gate_leave();
	return r == 0 ? 0 : CF_ENOMEM;
}

bool
userpass_verify(const char *hash, const char *dummy, const char *password, size_t len)
{
	bool ok = true;
	int r;

	/* Too long: do the work of a normal password, then fail. */
	if (len > USERPASS_PASSWORD_MAX) {
		len = USERPASS_PASSWORD_MAX;
		ok = false;
	}
	if (!hash || strncmp(hash, "$argon2id$", 10) != 0) {
		if (!dummy)
			return false;
		hash = dummy;
		ok = false;
	}
	gate_enter();
	r = crypto_pwhash_str_verify(hash, password, len);
	gate_leave();
	return ok && r == 0;
}

/* ---- the mount ---- */

struct userpass {
	struct auth_limiter *lim;
	pthread_mutex_t mu; /* read-modify-write of user entries */
	/* A hash of a random password with the same parameters: an unknown user is
	 * verified against it, so it costs what a known one costs. */
	char dummy[USERPASS_HASH_BYTES];
};

static int
up_init(struct mount *m, struct core *c)
{
	struct userpass *s = calloc(1, sizeof(*s));
	unsigned char pw[32];
	int r;

	(void)c;
	if (!s)
		return CF_ENOMEM;
	r = auth_limiter_new(&s->lim);
	if (r < 0) {
		free(s);
		return r;
	}
	randombytes_buf(pw, sizeof(pw));
	r = userpass_hash((const char *)pw, sizeof(pw), s->dummy);
	secmem_wipe(pw, sizeof(pw));
	if (r < 0) {
		auth_limiter_free(s->lim);
		free(s);
		return r;
	}
	pthread_mutex_init(&s->mu, NULL);
	m->state = s;
	return 0;
}

static void
up_cleanup(struct mount *m)
{
	struct userpass *s = m->state;

	if (!s)
		return;
	auth_limiter_free(s->lim);
	pthread_mutex_destroy(&s->mu);
	free(s);
	m->state = NULL;
}

static struct userpass *
state(struct request *rq)
{
	return rq->mount->state;
}

static int
name_arg(struct request *rq, struct response *rs, char *out)
{
	if (userpass_name_normalize(rq->cap[0], out) < 0) {
		(void)response_errorf(rs, "invalid username");
		return CF_EINVAL;
	}
	return 0;
}

static void
user_key(const char *name, char *key)
{
	snprintf(key, KEY_MAX, USER_PREFIX "%s", name);
}

static int
user_get(struct mount *m, const char *name, json_t **ret)
{
	char key[KEY_MAX];

	user_key(name, key);
	return view_get_object(m->view, key, ret);
}

static int
user_put(struct mount *m, const char *name, json_t *u)
{
	char key[KEY_MAX];

	user_key(name, key);
	return view_put_json(m->view, key, u);
}

/* Optional "password": 0 with *ret = NULL when absent, 400 when not a string
 * or empty. */
static int
password_arg(struct request *rq, struct response *rs, const char **ret, size_t *ret_len)
{
	json_t *v = json_object_get(rq->data, "password");

	*ret = NULL;
	*ret_len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		(void)response_errorf(rs, "missing password");
		return CF_EINVAL;
	}
	if (json_string_length(v) > USERPASS_PASSWORD_MAX) {
		(void)response_errorf(rs, "password longer than %d bytes", USERPASS_PASSWORD_MAX);
		return CF_EINVAL;
	}
	*ret = json_string_value(v);
	*ret_len = json_string_length(v);
	return 0;
}

static int
user_exists(struct request *rq, bool *ret_exists)
{
	char name[USERPASS_NAME_MAX + 1], key[KEY_MAX];

	if (userpass_name_normalize(rq->cap[0], name) < 0) {
		*ret_exists = false;
		return 0;
	}
	user_key(name, key);
	return view_object_exists(rq->mount->view, key, ret_exists);
}

/* Applies data (token fields, optional password hash) to the user, creating it
 * when create_ok. hash may be NULL. */
static int
user_update(struct request *rq, struct response *rs, const char *name, json_t *data,
            const char *hash, bool create_ok)
{
	struct userpass *s = state(rq);
	struct auth_token_cfg cfg;
	json_t *u = NULL;
	int r;

	r = auth_token_cfg_init(&cfg);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->mu);
	r = user_get(rq->mount, name, &u);
	if (r == CF_ENOTFOUND) {
		if (!create_ok) {
			(void)response_errorf(rs, "username does not exist");
			r = CF_EINVAL;
			goto out;
		}
		if (!hash) {
			(void)response_errorf(rs, "missing password");
			r = CF_EINVAL;
			goto out;
		}
		u = json_object();
		r = u ? 0 : CF_ENOMEM;
	} else if (r == 0) {
		r = auth_token_cfg_load(&cfg, u);
	}
	if (r < 0)
		goto out;
	r = auth_token_cfg_update(&cfg, data, rs, NULL);
	if (r == 0)
		r = auth_token_cfg_store(&cfg, u);
	if (r == 0 && hash && json_object_set_new(u, "password_hash", json_string(hash)) != 0)
		r = CF_ENOMEM;
	if (r == 0)
		r = user_put(rq->mount, name, u);
out:
	pthread_mutex_unlock(&s->mu);
	json_decref(u);
	auth_token_cfg_clear(&cfg);
	return r;
}

/* POST users/:name (create or update) */
static int
h_user_write(struct request *rq, struct response *rs)
{
	char name[USERPASS_NAME_MAX + 1], hash[USERPASS_HASH_BYTES];
	const char *pw;
	size_t len;
	int r;

	r = name_arg(rq, rs, name);
	if (r == 0)
		r = password_arg(rq, rs, &pw, &len);
	if (r < 0)
		return r;
	if (pw)
		r = userpass_hash(pw, len, hash);
	if (r == 0)
		r = user_update(rq, rs, name, rq->data, pw ? hash : NULL, true);
	secmem_wipe(hash, sizeof(hash));
	return r;
}

static int
h_user_read(struct request *rq, struct response *rs)
{
	char name[USERPASS_NAME_MAX + 1];
	struct auth_token_cfg cfg;
	json_t *u = NULL, *out = NULL;
	int r;

	if (userpass_name_normalize(rq->cap[0], name) < 0)
		return CF_ENOTFOUND;
	r = user_get(rq->mount, name, &u);
	if (r < 0)
		return r;
	r = auth_token_cfg_init(&cfg);
	if (r == 0)
		r = auth_token_cfg_load(&cfg, u);
	if (r == 0)
		r = (out = json_object()) ? 0 : CF_ENOMEM;
	if (r == 0)
		r = auth_token_cfg_show(&cfg, out);
	if (r == 0) {
		response_set_data(rs, out);
		out = NULL;
	}
	json_decref(out);
	json_decref(u);
	auth_token_cfg_clear(&cfg);
	return r;
}

static int
h_user_delete(struct request *rq, struct response *rs)
{
	char name[USERPASS_NAME_MAX + 1], key[KEY_MAX];

	(void)rs;
	if (userpass_name_normalize(rq->cap[0], name) < 0)
		return 0;
	user_key(name, key);
	return view_delete(rq->mount->view, key);
}

static int
h_users_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, USER_PREFIX, 0, rs);
}

/* POST users/:name/password */
static int
h_password(struct request *rq, struct response *rs)
{
	char name[USERPASS_NAME_MAX + 1], hash[USERPASS_HASH_BYTES];
	json_t *none = NULL;
	const char *pw;
	size_t len;
	int r;

	r = name_arg(rq, rs, name);
	if (r == 0)
		r = password_arg(rq, rs, &pw, &len);
	if (r < 0)
		return r;
	if (!pw) {
		(void)response_errorf(rs, "missing password");
		return CF_EINVAL;
	}
	r = userpass_hash(pw, len, hash);
	if (r == 0) {
		none = json_object();
		r = none ? user_update(rq, rs, name, none, hash, false) : CF_ENOMEM;
		json_decref(none);
	}
	secmem_wipe(hash, sizeof(hash));
	return r;
}

/* POST users/:name/policies: token_policies (or the legacy policies) only */
static int
h_policies(struct request *rq, struct response *rs)
{
	char name[USERPASS_NAME_MAX + 1];
	json_t *d;
	int r;

	r = name_arg(rq, rs, name);
	if (r < 0)
		return r;
	d = json_object();
	if (!d)
		return CF_ENOMEM;
	if (json_object_get(rq->data, "token_policies"))
		json_object_set(d, "token_policies", json_object_get(rq->data, "token_policies"));
	else if (json_object_get(rq->data, "policies"))
		json_object_set(d, "policies", json_object_get(rq->data, "policies"));
	r = user_update(rq, rs, name, d, NULL, false);
	json_decref(d);
	return r;
}

/* One verification against the dummy hash, for an unknown user: the result
 * does not matter, the time does. */
static void
burn(const char *dummy, const char *pw, size_t len)
{
	if (userpass_verify(dummy, NULL, pw, len))
		return;
}

/* POST login/:name (unauthenticated). Every failure answers the same text and,
 * for a known or unknown user alike, costs one argon2id verification. */
static int
h_login(struct request *rq, struct response *rs)
{
	struct userpass *s = state(rq);
	char name[USERPASS_NAME_MAX + 1];
	struct auth_token_cfg cfg;
	struct auth_limits lim;
	json_t *u = NULL, *meta = NULL, *pwv = json_object_get(rq->data, "password");
	const char *pw, *hash = NULL;
	int64_t retry = 0;
	bool ok;
	size_t len;
	int r;

	if (!json_is_string(pwv) || json_string_length(pwv) == 0) {
		(void)response_errorf(rs, "missing password");
		return CF_EINVAL;
	}
	pw = json_string_value(pwv);
	len = json_string_length(pwv);
	auth_limits_of(rq->mount, &lim);
	if (userpass_name_normalize(rq->cap[0], name) < 0) {
		/* No such user can exist; only the address is counted. */
		if (auth_limiter_check(s->lim, &lim, NULL, rq->remote_addr, &retry) < 0)
			return auth_too_many(rs, retry);
		burn(s->dummy, pw, len);
		auth_limiter_failed(s->lim, &lim, NULL, rq->remote_addr);
		(void)response_errorf(rs, BAD_LOGIN);
		return CF_EINVAL;
	}
	if (auth_limiter_check(s->lim, &lim, name, rq->remote_addr, &retry) < 0) {
		log_verbose("%s: login refused for a while (%lld s): too many failures",
		            rq->mount->path, (long long)retry);
		return auth_too_many(rs, retry);
	}
	r = user_get(rq->mount, name, &u);
	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	if (u)
		hash = json_string_value(json_object_get(u, "password_hash"));
	if (hash) {
		ok = userpass_verify(hash, s->dummy, pw, len);
	} else {
		burn(s->dummy, pw, len);
		ok = false;
	}
	if (!ok) {
		json_decref(u);
		auth_limiter_failed(s->lim, &lim, name, rq->remote_addr);
		(void)response_errorf(rs, BAD_LOGIN);
		return CF_EINVAL;
	}
	auth_limiter_succeeded(s->lim, name);

	r = auth_token_cfg_init(&cfg);
	if (r == 0)
		r = auth_token_cfg_load(&cfg, u);
	if (r == 0)
		r = (meta = json_pack("{s:s}", "username", name)) ? 0 : CF_ENOMEM;
	if (r == 0)
		r = auth_login_token(rq, rs, &cfg, name, meta);
	json_decref(meta);
	json_decref(u);
	auth_token_cfg_clear(&cfg);
	return r;
}

static const struct route userpass_routes[] = {
        {"users", .list = h_users_list},
        {"users/", .list = h_users_list},
        {"users/+", .read = h_user_read, .write = h_user_write, .delete = h_user_delete,
         .exists = user_exists},
        {"users/+/password", .write = h_password},
        {"users/+/policies", .write = h_policies},
        {"login/+", .flags = R_NOAUTH, .write = h_login},
};

const struct backend_type userpass_backend = {
        .type = "userpass",
        .routes = userpass_routes,
        .nroutes = sizeof(userpass_routes) / sizeof(userpass_routes[0]),
        .init = up_init,
        .cleanup = up_cleanup,
};
