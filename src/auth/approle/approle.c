/* approle.c - the AppRole auth method (Vault's AppRole API): roles with a role ID
 * and secret IDs, and login with both. See approle.h and docs/internals/auth.md.
 *
 * Storage (the mount's view, encrypted by the barrier; keys are not encrypted,
 * so no key holds a role ID or secret ID, only their HMACs):
 *   config/hmac_key                 {"key": hex}: the mount's HMAC-SHA256 key
 *   role/<name>                     the role (role_id, bind_secret_id, ..., token_*)
 *   role_id/<hmac(role_id)>         {"name": <role>}: the role ID index
 *   secret_id/<role>/<hmac(id)>     a secret ID's entry (never the ID itself)
 *   accessor/<role>/<accessor>      {"secret_id_hmac": hex}
 *
 * Locking: a per-mount rwlock, taken for writing by role changes (write,
 * delete, role-id) and for reading by everything else; the entries of one secret
 * ID (its record and accessor) change only under its own lock (sid_lock, keyed by
 * role name and HMAC), so uses are counted exactly under concurrent logins while
 * logins with other secret IDs, of the same role too, share their commits. */
#include "auth/approle/approle.h"

#include "auth/auth.h"
#include "backend/backend.h"
#include "backend/request.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/keylock.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN   (APPROLE_NAME_MAX + APPROLE_HMAC_HEX + 32)
#define BAD_LOGIN "invalid role_id or secret_id"
#define NS        1000000000LL

struct approle {
	struct auth_limiter *lim;
	pthread_rwlock_t rw;
	struct keylocks locks; /* secret IDs being changed (sid_lock) */
	unsigned char *key;    /* APPROLE_KEY_BYTES, sodium_malloc'd, read-only */
};

/* ---- mount state ---- */

static int
key_load(struct mount *m, unsigned char *key)
{
	json_t *o = NULL;
	const char *hex;
	char buf[2 * APPROLE_KEY_BYTES + 1];
	size_t n = 0;
	int r = view_get_json(m->view, "config/hmac_key", &o);

	if (r == CF_ENOTFOUND) {
		randombytes_buf(key, APPROLE_KEY_BYTES);
		util_hex(key, APPROLE_KEY_BYTES, buf);
		o = json_pack("{s:s}", "key", buf);
		secmem_wipe(buf, sizeof(buf));
		r = o ? view_put_json(m->view, "config/hmac_key", o) : CF_ENOMEM;
		json_decref(o);
		return r;
	}
	if (r < 0)
		return r;
	hex = json_string_value(json_object_get(o, "key"));
	r = hex ? util_unhex(hex, key, APPROLE_KEY_BYTES, &n) : CF_EIO;
	json_decref(o);
	if (r == 0 && n != APPROLE_KEY_BYTES)
		r = CF_EIO;
	return r;
}

static void
ar_cleanup(struct mount *m)
{
	struct approle *s = m->state;

	if (!s)
		return;
	auth_limiter_free(s->lim);
	pthread_rwlock_destroy(&s->rw);
	keylocks_destroy(&s->locks);
	sodium_free(s->key);
	free(s);
	m->state = NULL;
}

static int
ar_init(struct mount *m, struct core *c)
{
	struct approle *s = calloc(1, sizeof(*s));
	int r;

	(void)c;
	if (!s)
		return CF_ENOMEM;
	pthread_rwlock_init(&s->rw, NULL);
	keylocks_init(&s->locks);
	m->state = s;
	s->key = sodium_malloc(APPROLE_KEY_BYTES);
	r = s->key ? auth_limiter_new(&s->lim) : CF_ENOMEM;
	if (r == 0)
		r = key_load(m, s->key);
	if (r < 0) {
		ar_cleanup(m);
		return r;
	}
	(void)sodium_mprotect_readonly(s->key);
	return 0;
}

static struct approle *
state(struct request *rq)
{
	return rq->mount->state;
}

/* Takes the lock of one secret ID of role name (by its HMAC); NULL when out of
 * memory. Give it back with keylock_give(&s->locks, l). */
static struct keylock *
sid_lock(struct approle *s, const char *name, const char *hmac)
{
	char key[APPROLE_NAME_MAX + 1 + APPROLE_HMAC_HEX];

	snprintf(key, sizeof(key), "%s/%s", name, hmac);
	return keylock_take(&s->locks, key);
}

/* ---- helpers ---- */

static int
bad(struct response *rs, const char *msg)
{
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

static int
role_get(struct mount *m, const char *name, json_t **ret)
{
	char key[KEY_LEN];

	snprintf(key, sizeof(key), "role/%s", name);
	return view_get_object(m->view, key, ret);
}

/* The role named by the first capture, or a 400 naming it (Vault's answer for
 * secret-ID operations on a missing role). */
static int
role_arg(struct request *rq, struct response *rs, char *name, json_t **ret)
{
	int r;

	if (approle_name_normalize(rq->cap[0], name) < 0)
		return bad(rs, "invalid role name");
	r = role_get(rq->mount, name, ret);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "role \"%s\" does not exist", name);
		return CF_EINVAL;
	}
	return r;
}

static int64_t
int_of(json_t *o, const char *key)
{
	int64_t v = 0;
	(void)jsonx_int(o, key, &v);
	return v;
}

static bool
bool_of(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static json_t *
array_of(json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);
	return json_is_array(a) ? a : NULL;
}

/* A new reference to a, or a new empty array: for json_pack's "o". */
static json_t *
ref_or_array(json_t *a)
{
	return a ? json_incref(a) : json_array();
}

static bool
accessor_ok(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > 64)
		return false;
	for (; *a; a++)
		if (!((*a >= '0' && *a <= '9') || (*a >= 'a' && *a <= 'z') ||
		      (*a >= 'A' && *a <= 'Z') || *a == '-'))
			return false;
	return true;
}

static void
put_time(json_t *o, const char *key, int64_t ns)
{
	char buf[64];

	if (ns > 0)
		util_rfc3339(ns, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "0001-01-01T00:00:00Z");
	json_object_set_new(o, key, json_string(buf));
}

/* ---- roles ---- */

static int
role_exists(struct request *rq, bool *ret_exists)
{
	char name[APPROLE_NAME_MAX + 1], key[KEY_LEN];

	if (approle_name_normalize(rq->cap[0], name) < 0) {
		*ret_exists = false;
		return 0;
	}
	snprintf(key, sizeof(key), "role/%s", name);
	return view_object_exists(rq->mount->view, key, ret_exists);
}

static int
h_role_read(struct request *rq, struct response *rs)
{
	char name[APPROLE_NAME_MAX + 1];
	struct auth_token_cfg cfg;
	json_t *role = NULL, *out = NULL;
	int r;

	if (approle_name_normalize(rq->cap[0], name) < 0)
		return CF_ENOTFOUND;
	pthread_rwlock_rdlock(&state(rq)->rw);
	r = role_get(rq->mount, name, &role);
	pthread_rwlock_unlock(&state(rq)->rw);
	if (r < 0)
		return r;
	r = auth_token_cfg_init(&cfg);
	if (r == 0)
		r = auth_token_cfg_load(&cfg, role);
	if (r == 0) {
		json_t *sc = array_of(role, "secret_id_bound_cidrs");
		out = json_pack("{s:b, s:b, s:o, s:I, s:I}", "bind_secret_id",
		                bool_of(role, "bind_secret_id"), "local_secret_ids",
		                bool_of(role, "local_secret_ids"), "secret_id_bound_cidrs",
		                ref_or_array(sc), "secret_id_num_uses",
		                (json_int_t)int_of(role, "secret_id_num_uses"), "secret_id_ttl",
		                (json_int_t)int_of(role, "secret_id_ttl"));
		r = out ? auth_token_cfg_show(&cfg, out) : CF_ENOMEM;
	}
	if (r == 0) {
		response_set_data(rs, out);
		out = NULL;
	}
	json_decref(out);
	json_decref(role);
	auth_token_cfg_clear(&cfg);
	return r;
}

/* Points role_id at name: 400 when another role has it. Appends the storage
 * ops (put new index, delete old) to ops; keys are written into kbuf. */
static int
role_id_claim(struct request *rq, struct response *rs, const char *name, const char *old_id,
              const char *new_id, char idx_new[KEY_LEN], char idx_old[KEY_LEN], bool *ret_changed)
{
	struct approle *s = state(rq);
	char h[APPROLE_HMAC_HEX];
	json_t *o = NULL;
	const char *owner;
	int r;

	*ret_changed = false;
	if (old_id && strcmp(old_id, new_id) == 0)
		return 0;
	if (!*new_id || strlen(new_id) > APPROLE_SECRET_ID_MAX)
		return bad(rs, "invalid role_id");
	approle_hmac(s->key, new_id, h);
	snprintf(idx_new, KEY_LEN, "role_id/%s", h);
	r = view_get_json(rq->mount->view, idx_new, &o);
	if (r == 0) {
		owner = json_string_value(json_object_get(o, "name"));
		r = owner && strcmp(owner, name) == 0 ? 0 : bad(rs, "role_id already in use");
		json_decref(o);
		if (r < 0)
			return r;
	} else if (r != CF_ENOTFOUND) {
		return r;
	}
	idx_old[0] = '\0';
	if (old_id) {
		approle_hmac(s->key, old_id, h);
		snprintf(idx_old, KEY_LEN, "role_id/%s", h);
	}
	*ret_changed = true;
	return 0;
}

/* Writes role (and, when changed, the role ID index) in one transaction. */
static int
role_save(struct request *rq, const char *name, json_t *role, bool changed, const char *idx_new,
          const char *idx_old)
{
	char key[KEY_LEN], *rtxt = NULL, *itxt = NULL;
	struct storage_op ops[3];
	size_t n = 0;
	json_t *idx = NULL;
	int r = CF_ENOMEM;

	snprintf(key, sizeof(key), "role/%s", name);
	rtxt = json_dumps(role, JSON_COMPACT);
	if (!rtxt)
		goto out;
	ops[n++] = (struct storage_op){STORAGE_PUT, key, (const uint8_t *)rtxt, strlen(rtxt)};
	if (changed) {
		idx = json_pack("{s:s}", "name", name);
		itxt = idx ? json_dumps(idx, JSON_COMPACT) : NULL;
		if (!itxt)
			goto out;
		ops[n++] = (struct storage_op){STORAGE_PUT, idx_new, (const uint8_t *)itxt,
		                               strlen(itxt)};
		if (idx_old && *idx_old)
			ops[n++] = (struct storage_op){STORAGE_DELETE, idx_old, NULL, 0};
	}
	r = view_txn(rq->mount->view, ops, n);
out:
	free(rtxt);
	free(itxt);
	json_decref(idx);
	return r;
}

/* The parameters of a role of its own (the token_* ones are auth_token_cfg's,
 * auth/auth.h), stored as given (Vault's AppRole API); the defaults are a new
 * role's. */
static const struct field role_fields[] = {
        {"bind_secret_id", FIELD_BOOL, .def = "true", .desc = "whether login needs a secret ID"},
        {"secret_id_bound_cidrs", FIELD_CIDRS, .def = "",
         .desc = "client addresses its secret IDs may log in from"},
        {"secret_id_num_uses", FIELD_INT, FIELD_RANGE, .def = "0", .min = 0, .max = INT64_MAX,
         .desc = "logins each secret ID allows; 0: unlimited"},
        {"secret_id_ttl", FIELD_DURATION, .def = "0",
         .desc = "how long a secret ID lives; 0: forever"},
        {NULL},
};
/* Read when the role is created only; hvac 0.11.2 sends enable_local_secret_ids. */
static const struct field role_create_fields[] = {
        {"local_secret_ids", FIELD_BOOL, .def = "false", .alias = "enable_local_secret_ids",
         .desc = "accepted for Vault's clients; set only at creation"},
        {NULL},
};
/* role_id on a role write (optional) and on role/:name/role-id (required). */
struct role_id_arg {
	const char *role_id;
};
static const struct field role_id_fields[] = {
        {"role_id", FIELD_STRING, 0, offsetof(struct role_id_arg, role_id),
         .desc = "default: a new UUID for a new role"},
        {NULL},
};
static const struct field role_id_required[] = {
        {"role_id", FIELD_STRING, FIELD_REQUIRED, offsetof(struct role_id_arg, role_id),
         .desc = "the role's new role ID"},
        {NULL},
};

static int
h_role_write(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], idx_new[KEY_LEN], idx_old[KEY_LEN], uuid[37];
	struct auth_token_cfg cfg;
	json_t *role = NULL, *data = rq->data;
	const char *rid = NULL, *old_id = NULL;
	struct role_id_arg ra = {0};
	bool created = false, changed = false;
	int r;

	if (approle_name_normalize(rq->cap[0], name) < 0)
		return bad(rs, "invalid role name");
	r = auth_token_cfg_init(&cfg);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&s->rw);
	r = role_get(rq->mount, name, &role);
	if (r == CF_ENOTFOUND) {
		created = true;
		role = json_object();
		r = role ? field_defaults(role_fields, role) : CF_ENOMEM;
		if (r == 0)
			r = field_defaults(role_create_fields, role);
	} else if (r == 0) {
		r = auth_token_cfg_load(&cfg, role);
	}
	if (r < 0)
		goto out;
	r = auth_token_cfg_update(&cfg, data, rs, "bound_cidr_list");
	if (r == 0)
		r = auth_token_cfg_store(&cfg, role);
	if (r < 0)
		goto out;
	r = field_merge(role_fields, data, role, rs);
	if (r == 0 && created)
		r = field_merge(role_create_fields, data, role, rs);
	if (r < 0)
		goto out;
	if (!bool_of(role, "bind_secret_id") &&
	    json_array_size(json_object_get(role, "secret_id_bound_cidrs")) == 0 &&
	    json_array_size(cfg.bound_cidrs) == 0) {
		r = bad(rs, "at least one constraint should be enabled on the role");
		goto out;
	}
	r = field_parse(role_id_fields, data, &ra, rs);
	if (r < 0)
		goto out;
	rid = ra.role_id;
	old_id = json_string_value(json_object_get(role, "role_id"));
	if (!rid && !old_id) {
		util_uuid(uuid);
		rid = uuid;
	}
	if (rid) {
		r = role_id_claim(rq, rs, name, old_id, rid, idx_new, idx_old, &changed);
		if (r < 0)
			goto out;
		if (changed)
			json_object_set_new(role, "role_id", json_string(rid));
	}
	r = role_save(rq, name, role, changed, idx_new, idx_old);
out:
	pthread_rwlock_unlock(&s->rw);
	json_decref(role);
	auth_token_cfg_clear(&cfg);
	return r;
}

static int
h_role_delete(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], key[KEY_LEN], h[APPROLE_HMAC_HEX];
	json_t *role = NULL;
	const char *rid;
	int r;

	(void)rs;
	if (approle_name_normalize(rq->cap[0], name) < 0)
		return 0;
	pthread_rwlock_wrlock(&s->rw);
	r = role_get(rq->mount, name, &role);
	if (r == CF_ENOTFOUND) {
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	snprintf(key, sizeof(key), "secret_id/%s/", name);
	r = view_delete_prefix(rq->mount->view, key);
	snprintf(key, sizeof(key), "accessor/%s/", name);
	if (r == 0)
		r = view_delete_prefix(rq->mount->view, key);
	rid = json_string_value(json_object_get(role, "role_id"));
	if (r == 0 && rid) {
		approle_hmac(s->key, rid, h);
		snprintf(key, sizeof(key), "role_id/%s", h);
		r = view_delete(rq->mount->view, key);
	}
	snprintf(key, sizeof(key), "role/%s", name);
	if (r == 0)
		r = view_delete(rq->mount->view, key);
out:
	pthread_rwlock_unlock(&s->rw);
	json_decref(role);
	return r;
}

/* Role names never hold '/': a folder under role/ is not a role. */
static int
h_roles_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "role/", VIEW_LIST_NO_FOLDERS, rs);
}

/* GET role/:name/role-id */
static int
h_role_id_read(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1];
	json_t *role = NULL;
	int r;

	if (approle_name_normalize(rq->cap[0], name) < 0)
		return CF_ENOTFOUND;
	pthread_rwlock_rdlock(&s->rw);
	r = role_get(rq->mount, name, &role);
	pthread_rwlock_unlock(&s->rw);
	if (r < 0)
		return r;
	response_set_data(rs, json_pack("{s:s}", "role_id",
	                                json_string_value(json_object_get(role, "role_id")) ?: ""));
	json_decref(role);
	return rs->data ? 0 : CF_ENOMEM;
}

/* POST role/:name/role-id */
static int
h_role_id_write(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], idx_new[KEY_LEN], idx_old[KEY_LEN];
	struct role_id_arg ra = {0};
	json_t *role = NULL;
	const char *rid, *old_id;
	bool changed = false;
	int r = field_parse(role_id_required, rq->data, &ra, rs);

	if (r < 0)
		return r;
	rid = ra.role_id;
	pthread_rwlock_wrlock(&s->rw);
	r = role_arg(rq, rs, name, &role);
	if (r < 0)
		goto out;
	old_id = json_string_value(json_object_get(role, "role_id"));
	r = role_id_claim(rq, rs, name, old_id, rid, idx_new, idx_old, &changed);
	if (r < 0 || !changed)
		goto out;
	json_object_set_new(role, "role_id", json_string(rid));
	r = role_save(rq, name, role, true, idx_new, idx_old);
out:
	pthread_rwlock_unlock(&s->rw);
	json_decref(role);
	return r;
}

/* ---- secret IDs ---- */

static void
sid_key(char *out, const char *name, const char *hmac)
{
	snprintf(out, KEY_LEN, "secret_id/%s/%s", name, hmac);
}

static void
acc_key(char *out, const char *name, const char *accessor)
{
	snprintf(out, KEY_LEN, "accessor/%s/%s", name, accessor);
}

/* Deletes a secret-ID entry and its accessor together. */
static int
sid_delete(struct mount *m, const char *name, const char *hmac, json_t *entry)
{
	char k1[KEY_LEN], k2[KEY_LEN];
	const char *acc = json_string_value(json_object_get(entry, "secret_id_accessor"));
	struct storage_op ops[2] = {{STORAGE_DELETE, k1, NULL, 0}, {STORAGE_DELETE, k2, NULL, 0}};

	sid_key(k1, name, hmac);
	if (!acc || !accessor_ok(acc))
		return view_delete(m->view, k1);
	acc_key(k2, name, acc);
	return view_txn(m->view, ops, 2);
}

/* The live entry of a secret ID (by its HMAC), deleting it when expired.
 * CF_ENOTFOUND when there is none. Call with its sid_lock held. */
static int
sid_get(struct mount *m, const char *name, const char *hmac, json_t **ret)
{
	char key[KEY_LEN];
	json_t *e = NULL;
	int r;

	sid_key(key, name, hmac);
	r = view_get_object(m->view, key, &e);
	if (r < 0)
		return r;
	if (approle_expired(int_of(e, "expiration_time"), util_now_ns())) {
		r = sid_delete(m, name, hmac, e);
		json_decref(e);
		return r < 0 ? r : CF_ENOTFOUND;
	}
	*ret = e;
	return 0;
}

/* The lookup view of an entry (Vault's AppRole API). */
static json_t *
sid_show(json_t *e)
{
	json_t *md = json_object_get(e, "metadata");
	json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:I, s:I}", "cidr_list",
	                      ref_or_array(array_of(e, "cidr_list")), "token_bound_cidrs",
	                      ref_or_array(array_of(e, "token_bound_cidrs")), "metadata",
	                      json_is_object(md) ? json_incref(md) : json_object(),
	                      "secret_id_accessor",
	                      json_string_value(json_object_get(e, "secret_id_accessor")) ?: "",
	                      "secret_id_num_uses", (json_int_t)int_of(e, "secret_id_num_uses"),
	                      "secret_id_ttl", (json_int_t)int_of(e, "secret_id_ttl"));
	if (!o)
		return NULL;
	put_time(o, "creation_time", int_of(e, "creation_time"));
	put_time(o, "expiration_time", int_of(e, "expiration_time"));
	put_time(o, "last_updated_time", int_of(e, "last_updated_time"));
	return o;
}

/* The parameters of a new secret ID (Vault's AppRole API); num_uses and ttl
 * stay -1 when not given (the role's then apply). "metadata" is read by
 * approle_metadata_parse. */
struct sid_params {
	const char *secret_id;
	json_t *cidr_list, *token_bound_cidrs;
	int64_t num_uses, ttl;
};

#define SP(m) offsetof(struct sid_params, m)
/* What both routes read; custom-secret-id reads the secret ID as well. */
/* clang-format off */
#define SECRET_ID_COMMON_FIELDS \
	{"cidr_list", FIELD_CIDRS, 0, SP(cidr_list), \
	 .desc = "client addresses this secret ID may log in from"}, \
	{"token_bound_cidrs", FIELD_CIDRS, 0, SP(token_bound_cidrs), \
	 .desc = "client addresses the tokens it logs in to may be used from"}, \
	{"num_uses", FIELD_INT, FIELD_RANGE, SP(num_uses), .min = 0, .max = INT64_MAX, \
	 .desc = "logins it allows; default: the role's"}, \
	{"ttl", FIELD_DURATION, 0, SP(ttl), .desc = "how long it lives; default: the role's"}
/* clang-format on */
static const struct field secret_id_fields[] = {
        SECRET_ID_COMMON_FIELDS,
        {NULL},
};
static const struct field custom_secret_id_fields[] = {
        {"secret_id", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET, SP(secret_id),
         .desc = "the secret ID to store"},
        SECRET_ID_COMMON_FIELDS,
        {NULL},
};
#undef SECRET_ID_COMMON_FIELDS
#undef SP

/* POST role/:name/secret-id and role/:name/custom-secret-id */
static int
issue(struct request *rq, struct response *rs, bool custom)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], uuid[37], acc[37], h[APPROLE_HMAC_HEX];
	char k1[KEY_LEN], k2[KEY_LEN];
	json_t *role = NULL, *meta = NULL, *e = NULL, *ae = NULL, *old = NULL;
	struct sid_params p = {.num_uses = -1, .ttl = -1};
	bool locked = false;
	char *t1 = NULL, *t2 = NULL;
	const char *sid = NULL, *err = NULL;
	int64_t uses, ttl, now = util_now_ns();
	struct keylock *lk;
	int r;

	r = field_parse(custom ? custom_secret_id_fields : secret_id_fields, rq->data, &p, rs);
	if (r < 0)
		goto out;
	sid = p.secret_id;
	if (custom && strlen(sid) > APPROLE_SECRET_ID_MAX) {
		r = bad(rs, "secret_id too long");
		goto out;
	}
	pthread_rwlock_rdlock(&s->rw);
	locked = true;
	r = role_arg(rq, rs, name, &role);
	if (r < 0)
		goto out;
	if (!bool_of(role, "bind_secret_id")) {
		r = bad(rs, "bind_secret_id is not set on the role");
		goto out;
	}
	r = approle_metadata_parse(json_object_get(rq->data, "metadata"), &meta, &err);
	if (r < 0) {
		r = bad(rs, err);
		goto out;
	}
	if (p.cidr_list &&
	    !approle_cidr_subset(p.cidr_list, array_of(role, "secret_id_bound_cidrs"))) {
		r = bad(rs, "cidr_list must be a subset of the role's secret_id_bound_cidrs");
		goto out;
	}
	if (p.token_bound_cidrs &&
	    !approle_cidr_subset(p.token_bound_cidrs, array_of(role, "token_bound_cidrs"))) {
		r = bad(rs, "token_bound_cidrs must be a subset of the role's token_bound_cidrs");
		goto out;
	}
	uses = int_of(role, "secret_id_num_uses");
	ttl = int_of(role, "secret_id_ttl");
	if (p.num_uses >= 0) {
		if (uses > 0 && (p.num_uses == 0 || p.num_uses > uses)) {
			r = bad(rs, "num_uses cannot be higher than the role's secret_id_num_uses");
			goto out;
		}
		uses = p.num_uses;
	}
	if (p.ttl >= 0) {
		if (ttl > 0 && (p.ttl == 0 || p.ttl > ttl)) {
			r = bad(rs, "ttl cannot be longer than the role's secret_id_ttl");
			goto out;
		}
		ttl = p.ttl;
	}
	if (!custom) {
		util_uuid(uuid);
		sid = uuid;
	}
	util_uuid(acc);
	approle_hmac(s->key, sid, h);
	e = json_pack("{s:s, s:o, s:o, s:O, s:I, s:I, s:I, s:I, s:I}", "secret_id_accessor", acc,
	              "cidr_list", ref_or_array(p.cidr_list), "token_bound_cidrs",
	              ref_or_array(p.token_bound_cidrs), "metadata", meta, "secret_id_num_uses",
	              (json_int_t)uses, "secret_id_ttl", (json_int_t)ttl, "creation_time",
	              (json_int_t)now, "expiration_time",
	              (json_int_t)(ttl > 0 ? now + ttl * NS : 0), "last_updated_time",
	              (json_int_t)now);
	ae = json_pack("{s:s}", "secret_id_hmac", h);
	t1 = e ? json_dumps(e, JSON_COMPACT) : NULL;
	t2 = ae ? json_dumps(ae, JSON_COMPACT) : NULL;
	if (!t1 || !t2) {
		r = CF_ENOMEM;
		goto out;
	}
	sid_key(k1, name, h);
	acc_key(k2, name, acc);
	lk = sid_lock(s, name, h);
	if (!lk) {
		r = CF_ENOMEM;
		goto out;
	}
	r = sid_get(rq->mount, name, h, &old);
	if (r == 0) {
		r = bad(rs, "SecretID is already registered");
	} else if (r == CF_ENOTFOUND) {
		struct storage_op ops[2] = {
		        {STORAGE_PUT, k1, (const uint8_t *)t1, strlen(t1)},
		        {STORAGE_PUT, k2, (const uint8_t *)t2, strlen(t2)},
		};
		r = view_txn(rq->mount->view, ops, 2);
	}
	keylock_give(&s->locks, lk);
	if (r < 0)
		goto out;
	response_set_data(rs, json_pack("{s:s, s:s, s:I, s:I}", "secret_id", sid,
	                                "secret_id_accessor", acc, "secret_id_ttl", (json_int_t)ttl,
	                                "secret_id_num_uses", (json_int_t)uses));
	r = rs->data ? 0 : CF_ENOMEM;
out:
	if (locked)
		pthread_rwlock_unlock(&s->rw);
	secmem_wipe(uuid, sizeof(uuid));
	json_decref(role);
	json_decref(meta);
	field_free(secret_id_fields, &p);
	json_decref(e);
	json_decref(ae);
	json_decref(old);
	free(t1);
	free(t2);
	return r;
}

static int
h_secret_id(struct request *rq, struct response *rs)
{
	return issue(rq, rs, false);
}

/* LIST role/:name/secret-id: the accessors of its secret IDs. */
static int
h_secret_id_list(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], key[KEY_LEN];
	json_t *role = NULL;
	int r;

	pthread_rwlock_rdlock(&s->rw);
	r = role_arg(rq, rs, name, &role);
	if (r == 0) {
		snprintf(key, sizeof(key), "accessor/%s/", name);
		r = view_list_response(rq->mount->view, key, VIEW_LIST_NO_FOLDERS, rs);
	}
	pthread_rwlock_unlock(&s->rw);
	json_decref(role);
	return r;
}

static int
h_custom_secret_id(struct request *rq, struct response *rs)
{
	return issue(rq, rs, true);
}

/* The HMAC of the secret ID a request names: by "secret_id" or, when
 * by_accessor, through "secret_id_accessor". CF_ENOTFOUND when the accessor is
 * unknown. */
struct sid_arg {
	const char *v;
};
static const struct field sid_fields[] = {
        {"secret_id", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET, offsetof(struct sid_arg, v),
         .desc = "the secret ID"},
        {NULL},
};
static const struct field sid_accessor_fields[] = {
        {"secret_id_accessor", FIELD_STRING, FIELD_REQUIRED, offsetof(struct sid_arg, v),
         .desc = "the secret ID's accessor"},
        {NULL},
};

static int
target_hmac(struct request *rq, struct response *rs, const char *name, bool by_accessor, char *out)
{
	struct approle *s = state(rq);
	struct sid_arg a = {0};
	char key[KEY_LEN];
	const char *v, *h;
	json_t *o = NULL;
	int r = field_parse(by_accessor ? sid_accessor_fields : sid_fields, rq->data, &a, rs);

	if (r < 0)
		return r;
	v = a.v;
	if (!by_accessor) {
		approle_hmac(s->key, v, out);
		return 0;
	}
	if (!accessor_ok(v))
		return CF_ENOTFOUND;
	acc_key(key, name, v);
	r = view_get_json(rq->mount->view, key, &o);
	if (r < 0)
		return r;
	h = json_string_value(json_object_get(o, "secret_id_hmac"));
	if (h && strlen(h) == APPROLE_HMAC_HEX - 1)
		memcpy(out, h, APPROLE_HMAC_HEX);
	else
		r = CF_EIO;
	json_decref(o);
	return r;
}

/* secret-id/lookup|destroy and secret-id-accessor/lookup|destroy. An unknown
 * secret ID is 204 (Vault); an unknown accessor is 400. */
static int
sid_op(struct request *rq, struct response *rs, bool by_accessor, bool destroy)
{
	struct approle *s = state(rq);
	char name[APPROLE_NAME_MAX + 1], h[APPROLE_HMAC_HEX];
	json_t *role = NULL, *e = NULL;
	struct keylock *lk;
	int r;

	pthread_rwlock_rdlock(&s->rw);
	r = role_arg(rq, rs, name, &role);
	if (r == 0)
		r = target_hmac(rq, rs, name, by_accessor, h);
	if (r < 0)
		goto notfound;
	lk = sid_lock(s, name, h);
	if (!lk) {
		r = CF_ENOMEM;
		goto notfound;
	}
	r = sid_get(rq->mount, name, h, &e);
	if (r == 0 && destroy)
		r = sid_delete(rq->mount, name, h, e);
	keylock_give(&s->locks, lk);
	if (r == 0 && !destroy) {
		response_set_data(rs, sid_show(e));
		r = rs->data ? 0 : CF_ENOMEM;
	}
notfound:
	if (r == CF_ENOTFOUND) {
		if (by_accessor) {
			(void)response_errorf(rs, "failed to find accessor entry for "
			                          "secret_id_accessor");
			r = CF_EINVAL;
		} else {
			r = 0; /* 204 */
		}
	}
	pthread_rwlock_unlock(&s->rw);
	json_decref(role);
	json_decref(e);
	return r;
}

static int
h_sid_lookup(struct request *rq, struct response *rs)
{
	return sid_op(rq, rs, false, false);
}

static int
h_sid_destroy(struct request *rq, struct response *rs)
{
	return sid_op(rq, rs, false, true);
}

static int
h_acc_lookup(struct request *rq, struct response *rs)
{
	return sid_op(rq, rs, true, false);
}

static int
h_acc_destroy(struct request *rq, struct response *rs)
{
	return sid_op(rq, rs, true, true);
}

/* Tidies the secret ID behind accessor acc of role name: sid_get deletes it when
 * expired, and the accessor goes when its secret ID is gone (expired just now or
 * dangling). The accessor is read before the secret ID's lock is taken (it names
 * the HMAC the lock is keyed by); a login that spends the last use meanwhile
 * leaves nothing behind either. Returns 0 or a storage error. */
static int
tidy_one(struct approle *s, struct mount *m, const char *name, const char *acc, int *removed)
{
	char key[KEY_LEN], h[APPROLE_HMAC_HEX];
	json_t *a = NULL, *e = NULL;
	struct keylock *lk;
	const char *hm;
	int r;

	acc_key(key, name, acc);
	r = view_get_json(m->view, key, &a);
	hm = json_string_value(json_object_get(a, "secret_id_hmac"));
	if (r == 0 && hm && strlen(hm) == APPROLE_HMAC_HEX - 1)
		memcpy(h, hm, APPROLE_HMAC_HEX);
	else
		h[0] = '\0';
	json_decref(a);
	if (r < 0 || !h[0])
		return r == CF_ENOTFOUND ? 0 : r;
	lk = sid_lock(s, name, h);
	if (!lk)
		return CF_ENOMEM;
	r = sid_get(m, name, h, &e);
	if (r == CF_ENOTFOUND) {
		r = view_delete(m->view, key);
		(*removed)++;
	}
	keylock_give(&s->locks, lk);
	json_decref(e);
	return r;
}

/* POST tidy/secret-id: deletes expired secret IDs and accessors whose secret
 * ID is gone. Runs synchronously (the answer is 200 with a warning). */
static int
h_tidy(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char **roles = NULL, **ids = NULL, key[KEY_LEN];
	size_t nroles = 0, nids = 0;
	int removed = 0, r;

	pthread_rwlock_rdlock(&s->rw);
	r = view_list(rq->mount->view, "accessor/", &roles, &nroles);
	for (size_t i = 0; r == 0 && i < nroles; i++) {
		char name[APPROLE_NAME_MAX + 2];
		size_t len = strlen(roles[i]);

		if (len < 2 || len > APPROLE_NAME_MAX + 1 || roles[i][len - 1] != '/')
			continue;
		memcpy(name, roles[i], len - 1);
		name[len - 1] = '\0';
		snprintf(key, sizeof(key), "accessor/%s/", name);
		r = view_list(rq->mount->view, key, &ids, &nids);
		for (size_t j = 0; r == 0 && j < nids; j++)
			if (accessor_ok(ids[j]))
				r = tidy_one(s, rq->mount, name, ids[j], &removed);
		storage_keys_free(ids, nids);
		ids = NULL;
		nids = 0;
	}
	pthread_rwlock_unlock(&s->rw);
	storage_keys_free(roles, nroles);
	if (r < 0) {
		log_error_r(r, "%s: secret ID tidy failed", rq->mount->path);
		return r;
	}
	log_info("%s: secret ID tidy removed %d entries", rq->mount->path, removed);
	(void)response_warnf(rs, "Tidy operation successfully started. Any information from the "
	                         "operation will be printed to coffer's server logs.");
	return 0;
}

/* ---- login ---- */

/* Spends one use of a secret ID: the last use deletes it. Call with its sid_lock
 * held; e is the live entry. */
static int
sid_spend(struct mount *m, const char *name, const char *hmac, json_t *e)
{
	char key[KEY_LEN];
	int64_t uses = int_of(e, "secret_id_num_uses");

	if (uses <= 0)
		return 0;
	if (uses == 1)
		return sid_delete(m, name, hmac, e);
	json_object_set_new(e, "secret_id_num_uses", json_integer(uses - 1));
	json_object_set_new(e, "last_updated_time", json_integer(util_now_ns()));
	sid_key(key, name, hmac);
	return view_put_json(m->view, key, e);
}

static int
login_fail(struct request *rq, struct response *rs, const struct auth_limits *lim, const char *who,
           const char *msg)
{
	auth_limiter_failed(state(rq)->lim, lim, who, rq->remote_addr);
	return bad(rs, msg);
}

/* POST login (unauthenticated): role_id, and secret_id when the role binds one. */
static int
h_login(struct request *rq, struct response *rs)
{
	struct approle *s = state(rq);
	char rh[APPROLE_HMAC_HEX], sh[APPROLE_HMAC_HEX], key[KEY_LEN];
	char name[APPROLE_NAME_MAX + 1];
	struct auth_token_cfg cfg;
	struct auth_limits lim;
	json_t *idx = NULL, *role = NULL, *e = NULL, *meta = NULL;
	const char *rid = NULL, *sid = NULL, *n;
	bool locked_rw = false, have_cfg = false;
	int64_t retry = 0;
	int r;

	if (jsonx_str(rq->data, "role_id", &rid) < 0 || !*rid)
		return bad(rs, "missing role_id");
	if (strlen(rid) > APPROLE_SECRET_ID_MAX)
		return bad(rs, BAD_LOGIN);
	/* Limits are per role ID (its HMAC, so the table holds no IDs) and address. */
	approle_hmac(s->key, rid, rh);
	auth_limits_of(rq->mount, &lim);
	if (auth_limiter_check(s->lim, &lim, rh, rq->remote_addr, &retry) < 0) {
		log_verbose("%s: login refused for a while (%lld s): too many failures",
		            rq->mount->path, (long long)retry);
		return auth_too_many(rs, retry);
	}

	pthread_rwlock_rdlock(&s->rw);
	locked_rw = true;
	snprintf(key, sizeof(key), "role_id/%s", rh);
	r = view_get_json(rq->mount->view, key, &idx);
	n = r == 0 ? json_string_value(json_object_get(idx, "name")) : NULL;
	if (r == 0 && (!n || approle_name_normalize(n, name) < 0))
		r = CF_EIO;
	if (r == 0)
		r = role_get(rq->mount, name, &role);
	if (r == CF_ENOTFOUND) {
		r = login_fail(rq, rs, &lim, rh, BAD_LOGIN);
		goto out;
	}
	if (r < 0)
		goto out;
	if (!cidr_list_allows(array_of(role, "secret_id_bound_cidrs"), rq->remote_addr)) {
		r = login_fail(rq, rs, &lim, rh,
		               "source address unauthorized through CIDR restrictions on the role");
		goto out;
	}
	if (bool_of(role, "bind_secret_id")) {
		struct keylock *lk;

		if (jsonx_str(rq->data, "secret_id", &sid) < 0 || !*sid ||
		    strlen(sid) > APPROLE_SECRET_ID_MAX) {
			r = login_fail(rq, rs, &lim, rh, BAD_LOGIN);
			goto out;
		}
		approle_hmac(s->key, sid, sh);
		lk = sid_lock(s, name, sh);
		if (!lk) {
			r = CF_ENOMEM;
			goto out;
		}
		r = sid_get(rq->mount, name, sh, &e);
		if (r == 0 && !cidr_list_allows(array_of(e, "cidr_list"), rq->remote_addr)) {
			keylock_give(&s->locks, lk);
			r = login_fail(rq, rs, &lim, rh,
			               "source address unauthorized through CIDR restrictions on "
			               "the secret ID");
			goto out;
		}
		if (r == 0)
			r = sid_spend(rq->mount, name, sh, e);
		keylock_give(&s->locks, lk);
		if (r == CF_ENOTFOUND) {
			r = login_fail(rq, rs, &lim, rh, BAD_LOGIN);
			goto out;
		}
		if (r < 0)
			goto out;
	}
	r = auth_token_cfg_init(&cfg);
	if (r < 0)
		goto out;
	have_cfg = true;
	r = auth_token_cfg_load(&cfg, role);
	if (r == 0 && e && json_array_size(array_of(e, "token_bound_cidrs")) > 0) {
		json_decref(cfg.bound_cidrs);
		cfg.bound_cidrs = json_deep_copy(array_of(e, "token_bound_cidrs"));
		r = cfg.bound_cidrs ? 0 : CF_ENOMEM;
	}
	if (r == 0) {
		json_t *sm = json_object_get(e, "metadata");
		meta = json_is_object(sm) ? json_deep_copy(sm) : json_object();
		if (!meta || json_object_set_new(meta, "role_name", json_string(name)) != 0)
			r = CF_ENOMEM;
	}
	pthread_rwlock_unlock(&s->rw);
	locked_rw = false;
	if (r < 0)
		goto out;
	auth_limiter_succeeded(s->lim, rh);
	r = auth_login_token(rq, rs, &cfg, name, meta);
out:
	if (locked_rw)
		pthread_rwlock_unlock(&s->rw);
	if (have_cfg)
		auth_token_cfg_clear(&cfg);
	json_decref(idx);
	json_decref(role);
	json_decref(e);
	json_decref(meta);
	return r;
}

static const struct route approle_routes[] = {
        {"login", .flags = R_NOAUTH, .write = h_login},
        {"role", .list = h_roles_list},
        {"role/", .list = h_roles_list},
        {"role/+", .read = h_role_read, .write = h_role_write, .delete = h_role_delete,
         .exists = role_exists, .fields = role_fields},
        {"role/+/role-id", .read = h_role_id_read, .write = h_role_id_write,
         .fields = role_id_required},
        {"role/+/secret-id", .list = h_secret_id_list, .write = h_secret_id,
         .fields = secret_id_fields},
        {"role/+/secret-id/", .list = h_secret_id_list},
        {"role/+/custom-secret-id", .write = h_custom_secret_id, .fields = custom_secret_id_fields},
        {"role/+/secret-id/lookup", .write = h_sid_lookup, .fields = sid_fields},
        {"role/+/secret-id/destroy", .write = h_sid_destroy, .fields = sid_fields},
        {"role/+/secret-id-accessor/lookup", .write = h_acc_lookup, .fields = sid_accessor_fields},
        {"role/+/secret-id-accessor/destroy", .write = h_acc_destroy,
         .fields = sid_accessor_fields},
        {"tidy/secret-id", .write = h_tidy},
};

const struct backend_type approle_backend = {
        .type = "approle",
        .routes = approle_routes,
        .nroutes = sizeof(approle_routes) / sizeof(approle_routes[0]),
        .init = ar_init,
        .cleanup = ar_cleanup,
};
