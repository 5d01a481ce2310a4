/* database.c - the database secrets engine, PostgreSQL plugin (Vault's database secrets API):
 * connection configs, pools, dynamic roles, creds and their lease hooks. Static
 * roles live in dbstatic.c. See docs/internals/database.md.
 *
 * Storage (relative to the mount's view): config/<name>, role/<name>,
 * static-role/<name>. Passwords are stored only through the barrier and are
 * never returned except as issued credentials. */
#include "engines/database/database_int.h"
#include "engines/database/database.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <fnmatch.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_DEFAULT_ROOT_ROTATION "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';"
#define DB_DEFAULT_RENEW         "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';"

static const char *const db_default_revocation[] = {
        "REASSIGN OWNED BY \"{{name}}\" TO \"{{username}}\"",
        "DROP OWNED BY \"{{name}}\"",
        "DROP ROLE IF EXISTS \"{{name}}\"",
};
static const char *const db_default_revocation_cu[] = {
        "REASSIGN OWNED BY \"{{name}}\" TO CURRENT_USER",
        "DROP OWNED BY \"{{name}}\"",
        "DROP ROLE IF EXISTS \"{{name}}\"",
};

/* ---- helpers ---- */

int
db_fail(struct response *rs, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)response_errorf(rs, "%s", msg);
	secmem_wipe(msg, sizeof(msg));
	return code;
}

static char *
db_key(const char *prefix, const char *name)
{
	size_t n = strlen(prefix) + strlen(name) + 1;
	char *k = malloc(n);

	if (k)
		(void)snprintf(k, n, "%s%s", prefix, name);
	return k;
}

int
db_load(struct db_state *st, const char *prefix, const char *name, json_t **ret)
{
	char *key = db_key(prefix, name);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_get_object(st->m->view, key, ret);
	free(key); /* not secret: a storage path */
	return r;
}

int
db_exists(struct request *rq, const char *prefix, bool *ret_exists)
{
	char *key = db_key(prefix, rq->cap[0]);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_object_exists(rq->mount->view, key, ret_exists);
	free(key); /* not secret: a storage path */
	return r;
}

int
db_store(struct db_state *st, const char *prefix, const char *name, json_t *v)
{
	char *key = db_key(prefix, name);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_put_json(st->m->view, key, v);
	free(key); /* not secret: a storage path */
	return r;
}

int
db_remove(struct db_state *st, const char *prefix, const char *name)
{
	char *key = db_key(prefix, name);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = view_delete(st->m->view, key);
	free(key); /* not secret: a storage path */
	return r == CF_ENOTFOUND ? 0 : r;
}

int
db_config_load(struct db_state *st, const char *name, json_t **ret)
{
	return db_load(st, "config/", name, ret);
}

const char *
db_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

int64_t
db_jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

const char *
db_password_value(json_t *cfg, const char *pw, char *buf, size_t len)
{
	if (strcmp(db_jstr(cfg, "password_authentication"), "scram-sha-256") != 0)
		return pw;
	if (dbtext_scram_verifier(pw, NULL, buf, len) < 0)
		return pw; /* the server hashes it then (password_encryption) */
	return buf;
}

bool
db_role_allowed(json_t *cfg, const char *role)
{
	json_t *allowed = json_object_get(cfg, "allowed_roles"), *v;
	size_t i;

	json_array_foreach(allowed, i, v)
	{
		const char *pat = json_string_value(v);
		if (!pat)
			continue;
		if (strcmp(pat, "*") == 0 || strcmp(pat, role) == 0 || fnmatch(pat, role, 0) == 0)
			return true;
	}
	return false;
}

/* ---- plans ---- */

static int
plan_push(struct db_plan *pl, char *sql)
{
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 8;
		char **n = realloc(pl->sql, cap * sizeof(*n));
		if (!n) {
			secmem_free_str(sql);
			return CF_ENOMEM;
		}
		pl->sql = n;
		pl->cap = cap;
	}
	pl->sql[pl->n++] = sql;
	return 0;
}

int
db_plan_add(struct db_plan *pl, json_t *stmts, const struct dbtext_vars *v)
{
	json_t *pieces = json_array(), *t, *p;
	size_t i, j;
	int r = 0;

	if (!pieces)
		return CF_ENOMEM;
	json_array_foreach(stmts, i, t)
	{
		if (!json_is_string(t))
			continue;
		r = dbtext_stmt_split(json_string_value(t), pieces);
		if (r < 0)
			goto out;
	}
	json_array_foreach(pieces, j, p)
	{
		char *sql = NULL;
		r = dbtext_render(json_string_value(p), v, &sql);
		if (r < 0)
			goto out;
		r = plan_push(pl, sql);
		if (r < 0)
			goto out;
	}
out:
	json_decref(pieces);
	return r;
}

void
db_plan_free(struct db_plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		secmem_free_str(pl->sql[i]);
	free(pl->sql);
	pl->sql = NULL;
	pl->n = pl->cap = 0;
}

static int
plan_body(struct dbtx *tx, void *arg, char **ret_err)
{
	struct db_plan *pl = arg;
	int rows = 0, r;

	if (pl->check_user) {
		r = dbpool_query(tx, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
		                 pl->check_user, &rows, ret_err);
		if (r < 0)
			return r;
		if (rows == 0) {
			if (pl->missing_ok)
				return 0;
			free(*ret_err);
			*ret_err = NULL;
			if (asprintf(ret_err, "role \"%s\" does not exist", pl->check_user) < 0)
				*ret_err = NULL;
			return CF_EINVAL;
		}
	}
	if (pl->terminate_user) {
		r = dbpool_query(tx,
		                 "SELECT pg_catalog.pg_terminate_backend(pid) FROM "
		                 "pg_catalog.pg_stat_activity WHERE usename = $1 AND pid <> "
		                 "pg_catalog.pg_backend_pid()",
		                 pl->terminate_user, &rows, ret_err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < pl->n; i++) {
		r = dbpool_exec(tx, pl->sql[i], ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- pools ---- */

static int
pool_open(json_t *cfg, struct dbpool **ret, char **ret_err)
{
	struct dbpool_opts o = {0};
	char *conninfo = NULL, *literal = NULL;
	int r;

	r = dbtext_conn_render(db_jstr(cfg, "connection_url"), db_jstr(cfg, "username"),
	                       db_jstr(cfg, "password"),
	                       json_is_true(json_object_get(cfg, "disable_escaping")), &conninfo);
	if (r < 0)
		return r;
	r = dbtext_conn_literal_password(db_jstr(cfg, "connection_url"), &literal);
	if (r < 0)
		goto out;
	o.conninfo = conninfo;
	o.max_open = (int)db_jint(cfg, "max_open_connections");
	o.max_idle = (int)db_jint(cfg, "max_idle_connections");
	o.max_lifetime = db_jint(cfg, "max_connection_lifetime");
	o.secrets[0] = db_jstr(cfg, "password");
	o.secrets[1] = literal;
	r = dbpool_new(&o, ret);
	if (r == CF_EUNSUPPORTED && ret_err)
		*ret_err = strdup("libpq (" PG_DL_SONAME ") could not be loaded");
out:
	secmem_free_str(conninfo);
	secmem_free_str(literal);
	return r;
}

/* Returns a reference to the named database's pool, opening it from the stored
 * config on first use. A pool opened from a config read before a concurrent
 * db_pool_drop (config write, rotate-root, reset) is not kept: the generation
 * check makes the lookup start over with the newer config. */
static int
pool_get(struct db_state *st, const char *name, struct dbpool **ret, char **ret_err)
{
	struct db_pool_ent *e;
	struct dbpool *p = NULL;
	json_t *cfg = NULL;
	uint64_t gen;
	int r;

	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&st->pool_mu);
		for (e = st->pools; e; e = e->next) {
			if (strcmp(e->name, name) == 0) {
				dbpool_ref(e->pool);
				*ret = e->pool;
				pthread_mutex_unlock(&st->pool_mu);
				return 0;
			}
		}
		gen = st->pool_gen;
		pthread_mutex_unlock(&st->pool_mu);
		r = db_config_load(st, name, &cfg);
		if (r == CF_ENOTFOUND && ret_err) {
			if (asprintf(ret_err, "unknown database \"%s\"", name) < 0)
				*ret_err = NULL;
			return CF_EINVAL;
		}
		if (r < 0)
			return r;
		r = pool_open(cfg, &p, ret_err);
		json_decref(cfg);
		cfg = NULL;
		if (r < 0)
			return r;
		pthread_mutex_lock(&st->pool_mu);
		if (st->pool_gen == gen || tries >= 8)
			break;
		pthread_mutex_unlock(&st->pool_mu); /* config changed meanwhile: again */
		dbpool_unref(p);
		p = NULL;
	}
	for (e = st->pools; e; e = e->next) {
		if (strcmp(e->name, name) == 0) { /* another thread won the race */
			dbpool_ref(e->pool);
			*ret = e->pool;
			pthread_mutex_unlock(&st->pool_mu);
			dbpool_unref(p);
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(name))) {
		pthread_mutex_unlock(&st->pool_mu);
		free(e);
		dbpool_unref(p);
		return CF_ENOMEM;
	}
	e->pool = p;
	e->next = st->pools;
	st->pools = e;
	dbpool_ref(p);
	*ret = p;
	pthread_mutex_unlock(&st->pool_mu);
	return 0;
}

void
db_pool_drop(struct db_state *st, const char *name)
{
	struct db_pool_ent **pp, *e = NULL;

	pthread_mutex_lock(&st->pool_mu);
	st->pool_gen++;
	for (pp = &st->pools; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->pool_mu);
	if (!e)
		return;
	dbpool_close(e->pool);
	dbpool_unref(e->pool);
	free(e->name);
	free(e);
}

int
db_plan_run(struct db_state *st, const char *db_name, json_t *cfg, struct db_plan *pl,
            const char *const *secrets, size_t n, char **ret_err)
{
	struct dbpool *p = NULL;
	int r;

	(void)cfg;
	for (int tries = 0;; tries++) {
		r = pool_get(st, db_name, &p, ret_err);
		if (r < 0)
			return r;
		r = dbpool_txn(p, plan_body, pl, secrets, n, ret_err);
		/* The config changed under us (reset, rotate-root): use the new pool. */
		if (r == CF_EUPSTREAM && dbpool_closed(p) && tries < 3) {
			dbpool_unref(p);
			p = NULL;
			if (ret_err) {
				secmem_free_str(*ret_err);
				*ret_err = NULL;
			}
			continue;
		}
		dbpool_unref(p);
		return r;
	}
}

/* ---- config/:name ---- */

json_t *
db_arr_or_empty(json_t *rec, const char *key)
{
	json_t *a = json_object_get(rec, key);
	return a ? json_incref(a) : json_array();
}

/* The parameters of config/:name stored in its record, as given (Vault's
 * database secrets engine: configure connection). */
static const struct field config_fields[] = {
        {"plugin_version", FIELD_STRING, .desc = "accepted for Vault's clients; ignored"},
        {"connection_url", FIELD_STRING,
         .desc = "a PostgreSQL URL; {{username}} and "
                 "{{password}} are filled in"},
        {"username", FIELD_STRING, .desc = "the user coffer connects as"},
        {"password", FIELD_STRING, FIELD_SECRET, .desc = "that user's password"},
        {"password_authentication", FIELD_STRING, .desc = "password or scram-sha-256"},
        {"password_policy", FIELD_STRING, .desc = "not supported"},
        {"username_template", FIELD_STRING, .desc = "not supported"},
        {"max_open_connections", FIELD_INT, FIELD_RANGE, .def = "4", .min = 0, .max = 1000,
         .desc = "connections open at most"},
        {"max_idle_connections", FIELD_INT, FIELD_RANGE, .min = 0, .max = INT64_MAX,
         .desc = "idle connections kept"},
        {"max_connection_lifetime", FIELD_DURATION, .desc = "how long a connection is reused"},
        {"root_rotation_statements", FIELD_CUSTOM, .parse = dbtext_stmt_input,
         .desc = "SQL run to rotate the connection user's password"},
        {"disable_escaping", FIELD_BOOL,
         .desc = "leave special characters in username and password unescaped"},
        {"allowed_roles", FIELD_STRLIST, .def = "",
         .desc = "the roles that may use this connection (\"*\": all)"},
        {NULL},
};

/* The parameters of config/:name that are not kept as given. */
struct config_args {
	const char *plugin_name;
	bool verify_connection;
};
static const struct field config_args_fields[] = {
        {"plugin_name", FIELD_STRING, 0, offsetof(struct config_args, plugin_name),
         .desc = "postgresql-database-plugin"},
        {"verify_connection", FIELD_BOOL, 0, offsetof(struct config_args, verify_connection),
         .def = "true", .desc = "connect once to check the configuration before saving it"},
        {NULL},
};

/* The checks of a connection's record that its types do not make. */
static int
config_check(struct response *rs, json_t *rec)
{
	const char *s;

	if (*db_jstr(rec, "connection_url") == '\0')
		return db_fail(rs, CF_EINVAL, "connection_url cannot be empty");
	if (*db_jstr(rec, "password_policy") != '\0')
		return db_fail(rs, CF_EINVAL,
		               "password_policy is not supported: coffer uses the default policy");
	if (*db_jstr(rec, "username_template") != '\0')
		return db_fail(rs, CF_EINVAL,
		               "username_template is not supported: coffer uses the "
		               "default template");
	s = db_jstr(rec, "password_authentication");
	if (*s && strcmp(s, "password") != 0 && strcmp(s, "scram-sha-256") != 0)
		return db_fail(rs, CF_EINVAL,
		               "password_authentication must be password or scram-sha-256");
	return 0;
}

static int
config_write(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	const char *name = rq->cap[0];
	struct config_args a = {0};
	struct dbpool *probe = NULL;
	char *err = NULL, *literal = NULL;
	json_t *rec = NULL;
	int r;

	r = field_parse(config_args_fields, rq->data, &a, rs);
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->cfg_mu);
	r = db_config_load(st, name, &rec);
	if (r == CF_ENOTFOUND) {
		rec = json_object();
		r = rec ? field_defaults(config_fields, rec) : CF_ENOMEM;
	}
	if (r < 0)
		goto out;
	if (a.plugin_name && *a.plugin_name) {
		if (strcmp(a.plugin_name, DB_PLUGIN_NAME) != 0 &&
		    strcmp(a.plugin_name, "postgresql") != 0) {
			r = db_fail(rs, CF_EINVAL, "unsupported plugin_name \"%s\" (only %s)",
			            a.plugin_name, DB_PLUGIN_NAME);
			goto out;
		}
		json_object_set_new(rec, "plugin_name", json_string(DB_PLUGIN_NAME));
	}
	if (!json_object_get(rec, "plugin_name")) {
		r = db_fail(rs, CF_EINVAL, "plugin_name not set");
		goto out;
	}
	r = field_merge(config_fields, rq->data, rec, rs);
	if (r == 0)
		r = config_check(rs, rec);
	if (r < 0)
		goto out;
	json_object_set_new(rec, "verify_connection", json_boolean(a.verify_connection));
	if (a.verify_connection) {
		r = pool_open(rec, &probe, &err);
		if (r == 0)
			r = dbpool_ping(probe, &err);
		if (r < 0) {
			r = db_fail(
			        rs, CF_EINVAL,
			        "error creating database object: error verifying connection: %s",
			        err ? err : cf_strerror(r));
			goto out;
		}
	}
	r = db_store(st, "config/", name, rec);
	if (r < 0)
		goto out;
	db_pool_drop(st, name);
	r = dbtext_conn_literal_password(db_jstr(rec, "connection_url"), &literal);
	if (r == 0 && literal)
		(void)response_warnf(rs, "Password found in connection_url, use a templated url to "
		                         "enable root rotation and prevent read access to password "
		                         "information.");
	r = 0;
out:
	pthread_mutex_unlock(&st->cfg_mu);
	dbpool_unref(probe);
	secmem_free_str(err);
	secmem_free_str(literal);
	json_decref(rec);
	return r;
}

static int
config_read(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	json_t *rec = NULL, *data = NULL, *details;
	char *masked = NULL, life[32];
	int r;

	r = db_config_load(st, rq->cap[0], &rec);
	if (r < 0)
		return r;
	masked = dbtext_conn_mask(db_jstr(rec, "connection_url"));
	duration_format(db_jint(rec, "max_connection_lifetime"), life, sizeof(life));
	details = json_pack(
	        "{s:s?, s:s, s:I, s:I, s:s, s:s, s:b}", "connection_url", masked, "username",
	        db_jstr(rec, "username"), "max_open_connections",
	        (json_int_t)db_jint(rec, "max_open_connections"), "max_idle_connections",
	        (json_int_t)db_jint(rec, "max_idle_connections"), "max_connection_lifetime", life,
	        "password_authentication",
	        *db_jstr(rec, "password_authentication") ? db_jstr(rec, "password_authentication")
	                                                 : "password",
	        "disable_escaping", json_is_true(json_object_get(rec, "disable_escaping")));
	data = json_pack("{s:s, s:s, s:O, s:o?, s:s, s:o, s:b}", "plugin_name",
	                 db_jstr(rec, "plugin_name"), "plugin_version",
	                 db_jstr(rec, "plugin_version"), "allowed_roles",
	                 json_object_get(rec, "allowed_roles"), "connection_details", details,
	                 "password_policy", db_jstr(rec, "password_policy"),
	                 "root_credentials_rotate_statements",
	                 db_arr_or_empty(rec, "root_rotation_statements"), "verify_connection",
	                 json_is_true(json_object_get(rec, "verify_connection")));
	free(masked);
	json_decref(rec);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

static int
config_delete(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	int r;

	(void)rs;
	pthread_mutex_lock(&st->cfg_mu);
	r = db_remove(st, "config/", rq->cap[0]);
	db_pool_drop(st, rq->cap[0]);
	pthread_mutex_unlock(&st->cfg_mu);
	return r;
}

static int
config_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "config/", 0, rs);
}

static int
config_exists(struct request *rq, bool *ret_exists)
{
	return db_exists(rq, "config/", ret_exists);
}

/* ---- reset/:name, rotate-root/:name ---- */

static int
reset_handle(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	struct dbpool *p = NULL;
	json_t *cfg = NULL;
	char *err = NULL;
	int r;

	r = db_config_load(st, rq->cap[0], &cfg);
	if (r == CF_ENOTFOUND)
		return db_fail(rs, CF_EINVAL, "unknown database: %s", rq->cap[0]);
	if (r < 0)
		return r;
	db_pool_drop(st, rq->cap[0]);
	r = pool_get(st, rq->cap[0], &p, &err);
	if (r == 0)
		r = dbpool_ping(p, &err);
	if (r < 0)
		r = db_fail(rs, CF_EIO, "error reopening the connection: %s",
		            err ? err : cf_strerror(r));
	dbpool_unref(p);
	secmem_free_str(err);
	json_decref(cfg);
	return r;
}

static int
rotate_root_handle(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	const char *name = rq->cap[0];
	struct db_plan pl = {0};
	json_t *cfg = NULL, *stmts, *def = NULL;
	char pw[DB_PASSWORD_LEN + 1], scram[DB_SCRAM_LEN], *err = NULL;
	struct dbtext_vars v = {0};
	const char *secrets[1] = {pw};
	int r;

	pthread_mutex_lock(&st->cfg_mu);
	r = db_config_load(st, name, &cfg);
	if (r == CF_ENOTFOUND) {
		r = db_fail(rs, CF_EINVAL, "unknown database: %s", name);
		goto out;
	}
	if (r < 0)
		goto out;
	if (*db_jstr(cfg, "username") == '\0') {
		r = db_fail(rs, CF_EINVAL,
		            "unable to rotate root credentials: no username in "
		            "configuration");
		goto out;
	}
	if (!strstr(db_jstr(cfg, "connection_url"), "{{password}}")) {
		r = db_fail(rs, CF_EINVAL,
		            "unable to rotate root credentials: connection_url has no "
		            "{{password}} placeholder");
		goto out;
	}
	dbtext_password(pw);
	stmts = json_object_get(cfg, "root_rotation_statements");
	if (json_array_size(stmts) == 0)
		stmts = def = json_pack("[s]", DB_DEFAULT_ROOT_ROTATION);
	v.name = v.username = db_jstr(cfg, "username");
	v.password = db_password_value(cfg, pw, scram, sizeof(scram));
	r = db_plan_add(&pl, stmts, &v);
	if (r < 0)
		goto out;
	r = db_plan_run(st, name, cfg, &pl, secrets, 1, &err);
	if (r < 0) {
		r = db_fail(rs, r == CF_EINVAL ? CF_EINVAL : CF_EIO,
		            "failed to rotate root credentials: %s", err ? err : cf_strerror(r));
		goto out;
	}
	/* The database has the new password now: from here on, only we know it. */
	json_object_set_new(cfg, "password", json_string(pw));
	r = db_store(st, "config/", name, cfg);
	if (r < 0)
		log_error_r(r, "database %s: root password rotated but not stored", name);
	db_pool_drop(st, name);
	log_info("database %s: root credentials rotated", name);
out:
	pthread_mutex_unlock(&st->cfg_mu);
	secmem_wipe(pw, sizeof(pw));
	secmem_wipe(scram, sizeof(scram));
	db_plan_free(&pl);
	secmem_free_str(err);
	json_decref(def);
	json_decref(cfg);
	return r;
}

/* ---- roles/:name ---- */

/* The parameters of roles/:name, stored as given (Vault's database secrets
 * engine: create role). credential_type may only be "password". */
static const struct field role_fields[] = {
        {"db_name", FIELD_STRING, .desc = "the connection (config/:name) to use"},
        {"default_ttl", FIELD_DURATION, .desc = "the TTL of its credentials; default: the mount's"},
        {"max_ttl", FIELD_DURATION,
         .desc = "the longest its credentials live; default: the mount's"},
        {"creation_statements", FIELD_CUSTOM, .parse = dbtext_stmt_input,
         .desc = "SQL that creates the user ({{name}}, {{password}}, {{expiration}})"},
        {"revocation_statements", FIELD_CUSTOM, .parse = dbtext_stmt_input,
         .desc = "SQL that drops the user"},
        {"rollback_statements", FIELD_CUSTOM, .parse = dbtext_stmt_input,
         .desc = "SQL run when creation fails"},
        {"renew_statements", FIELD_CUSTOM, .parse = dbtext_stmt_input,
         .desc = "SQL run when a lease is renewed"},
        {"credential_type", FIELD_STRING, .def = "password", .desc = "password"},
        {"credential_config", FIELD_OBJECT, .desc = "options of the credential type"},
        {NULL},
};

static int
role_write(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	json_t *rec = NULL;
	const char *s;
	int64_t ttl, max;
	int r;

	r = db_load(st, "role/", rq->cap[0], &rec);
	if (r == CF_ENOTFOUND) {
		rec = json_object();
		r = rec ? 0 : CF_ENOMEM;
	}
	if (r < 0)
		return r;
	r = field_merge(role_fields, rq->data, rec, rs);
	if (r < 0)
		goto out;
	s = db_jstr(rec, "credential_type");
	if (*s && strcmp(s, "password") != 0) {
		r = db_fail(rs, CF_EINVAL, "credential_type %s is not supported", s);
		goto out;
	}
	json_object_set_new(rec, "credential_type", json_string("password"));
	if (*db_jstr(rec, "db_name") == '\0') {
		r = db_fail(rs, CF_EINVAL, "empty database name attribute");
		goto out;
	}
	if (json_array_size(json_object_get(rec, "creation_statements")) == 0) {
		r = db_fail(rs, CF_EINVAL, "empty creation statements");
		goto out;
	}
	ttl = db_jint(rec, "default_ttl");
	max = db_jint(rec, "max_ttl");
	if (max > 0 && ttl > max) {
		r = db_fail(rs, CF_EINVAL, "ttl cannot be greater than max_ttl");
		goto out;
	}
	r = db_store(st, "role/", rq->cap[0], rec);
out:
	json_decref(rec);
	return r;
}

static int
role_read(struct request *rq, struct response *rs)
{
	json_t *rec = NULL, *data;
	int r;

	r = db_load(rq->mount->state, "role/", rq->cap[0], &rec);
	if (r < 0)
		return r;
	data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:s}", "db_name",
	                 db_jstr(rec, "db_name"), "creation_statements",
	                 db_arr_or_empty(rec, "creation_statements"), "revocation_statements",
	                 db_arr_or_empty(rec, "revocation_statements"), "rollback_statements",
	                 db_arr_or_empty(rec, "rollback_statements"), "renew_statements",
	                 db_arr_or_empty(rec, "renew_statements"), "default_ttl",
	                 (json_int_t)db_jint(rec, "default_ttl"), "max_ttl",
	                 (json_int_t)db_jint(rec, "max_ttl"), "credential_type", "password");
	json_decref(rec);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

static int
role_delete(struct request *rq, struct response *rs)
{
	(void)rs;
	return db_remove(rq->mount->state, "role/", rq->cap[0]);
}

static int
role_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "role/", 0, rs);
}

static int
role_exists(struct request *rq, bool *ret_exists)
{
	return db_exists(rq, "role/", ret_exists);
}

/* ---- creds/:name ---- */

static int
creds_read(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	const char *role_name = rq->cap[0];
	json_t *role = NULL, *cfg = NULL, *data = NULL, *secret = NULL;
	char user[DB_USERNAME_MAX + 1], pw[DB_PASSWORD_LEN + 1], exp[DB_EXPIRATION_LEN];
	char scram[DB_SCRAM_LEN];
	const char *secrets[1] = {pw}, *db_name;
	struct db_plan pl = {0};
	struct dbtext_vars v = {0};
	int64_t now = util_now(), ttl, max;
	char *err = NULL;
	int r;

	pw[0] = '\0';
	r = db_load(st, "role/", role_name, &role);
	if (r == CF_ENOTFOUND)
		return db_fail(rs, CF_EINVAL, "unknown role: %s", role_name);
	if (r < 0)
		return r;
	db_name = db_jstr(role, "db_name");
	r = db_config_load(st, db_name, &cfg);
	if (r == CF_ENOTFOUND) {
		r = db_fail(rs, CF_EINVAL, "unknown database \"%s\" for role %s", db_name,
		            role_name);
		goto out;
	}
	if (r < 0)
		goto out;
	if (!db_role_allowed(cfg, role_name)) {
		r = db_fail(rs, CF_EINVAL, "\"%s\" is not an allowed role", role_name);
		goto out;
	}
	max = db_jint(role, "max_ttl") > 0 ? db_jint(role, "max_ttl") : mount_max_ttl(rq->mount);
	ttl = db_jint(role, "default_ttl") > 0 ? db_jint(role, "default_ttl")
	                                       : mount_default_ttl(rq->mount);
	if (ttl > max)
		ttl = max;
	dbtext_username(rq->display_name ? rq->display_name : "token", role_name, now, user);
	dbtext_password(pw);
	dbtext_expiration(now + ttl, exp, sizeof(exp));
	v.name = v.username = user;
	v.password = db_password_value(cfg, pw, scram, sizeof(scram));
	v.expiration = exp;
	r = db_plan_add(&pl, json_object_get(role, "creation_statements"), &v);
	if (r < 0)
		goto out;
	r = db_plan_run(st, db_name, cfg, &pl, secrets, 1, &err);
	if (r < 0) {
		/* Nothing was created (the transaction rolled back): no lease. */
		if (r == CF_EINVAL)
			r = db_fail(rs, CF_EINVAL, "error creating user: %s", err ? err : "");
		else
			r = db_fail(rs, CF_EIO, "error creating user: %s",
			            err ? err : cf_strerror(r));
		goto out;
	}
	r = CF_ENOMEM;
	data = json_pack("{s:s, s:s}", "username", user, "password", pw);
	secret = json_pack("{s:s, s:s, s:s, s:O?}", "db_name", db_name, "role", role_name,
	                   "username", user, "revocation_statements",
	                   json_object_get(role, "revocation_statements"));
	if (!data || !secret) {
		/* XXX the user exists in the database but no lease will drop it */
		log_error("database: created %s but could not build the response", user);
		goto out;
	}
	response_set_data(rs, data);
	data = NULL;
	rs->secret = secret;
	secret = NULL;
	rs->lease_ttl = ttl;
	rs->lease_max_ttl = db_jint(role, "max_ttl");
	rs->lease_duration = ttl;
	rs->renewable = true;
	log_verbose("database: issued %s for role %s", user, role_name);
	r = 0;
out:
	secmem_wipe(pw, sizeof(pw));
	secmem_wipe(scram, sizeof(scram));
	db_plan_free(&pl);
	secmem_free_str(err);
	json_decref(data);
	json_decref(secret);
	json_decref(cfg);
	json_decref(role);
	return r;
}

/* ---- lease hooks ---- */

static int
db_lease_revoke(struct mount *m, json_t *internal)
{
	struct db_state *st = m->state;
	const char *db_name = db_jstr(internal, "db_name"), *user = db_jstr(internal, "username");
	json_t *cfg = NULL, *role = NULL, *stmts, *def = NULL;
	struct db_plan pl = {0};
	struct dbtext_vars v = {0};
	char *err = NULL;
	int r;

	if (!st || !*db_name || !*user)
		return CF_EINVAL;
	r = db_config_load(st, db_name, &cfg);
	if (r < 0) {
		log_error_r(r, "database: revoking %s: database %s", user, db_name);
		return r;
	}
	if (db_load(st, "role/", db_jstr(internal, "role"), &role) == 0)
		stmts = json_object_get(role, "revocation_statements");
	else
		stmts = json_object_get(internal, "revocation_statements");
	v.name = user;
	if (json_array_size(stmts) == 0) {
		const char *const *d = *db_jstr(cfg, "username") ? db_default_revocation
		                                                 : db_default_revocation_cu;
		def = json_pack("[s,s,s]", d[0], d[1], d[2]);
		stmts = def;
		v.username = db_jstr(cfg, "username");
		/* Idempotent: a role already dropped is a success. */
		pl.check_user = user;
		pl.missing_ok = true;
	}
	/* A revoked credential keeps no open session, whatever the statements. */
	pl.terminate_user = user;
	r = db_plan_add(&pl, stmts, &v);
	if (r == 0)
		r = db_plan_run(st, db_name, cfg, &pl, NULL, 0, &err);
	if (r < 0)
		log_error("database: revoking %s: %s", user, err ? err : cf_strerror(r));
	else
		log_verbose("database: revoked %s", user);
	db_plan_free(&pl);
	secmem_free_str(err);
	json_decref(def);
	json_decref(role);
	json_decref(cfg);
	return r < 0 ? CF_EUPSTREAM : 0;
}

static int
db_lease_renew(struct mount *m, json_t *internal, int64_t new_expire)
{
	struct db_state *st = m->state;
	const char *db_name = db_jstr(internal, "db_name"), *user = db_jstr(internal, "username");
	json_t *cfg = NULL, *role = NULL, *stmts = NULL, *def = NULL;
	char exp[DB_EXPIRATION_LEN], *err = NULL;
	struct db_plan pl = {0};
	struct dbtext_vars v = {0};
	int r;

	if (!st || !*db_name || !*user)
		return CF_EINVAL;
	r = db_config_load(st, db_name, &cfg);
	if (r < 0)
		return r;
	if (db_load(st, "role/", db_jstr(internal, "role"), &role) == 0)
		stmts = json_object_get(role, "renew_statements");
	if (json_array_size(stmts) == 0)
		stmts = def = json_pack("[s]", DB_DEFAULT_RENEW);
	dbtext_expiration(new_expire, exp, sizeof(exp));
	v.name = v.username = user;
	v.expiration = exp;
	r = db_plan_add(&pl, stmts, &v);
	if (r == 0)
		r = db_plan_run(st, db_name, cfg, &pl, NULL, 0, &err);
	if (r < 0)
		log_error("database: renewing %s: %s", user, err ? err : cf_strerror(r));
	db_plan_free(&pl);
	secmem_free_str(err);
	json_decref(def);
	json_decref(role);
	json_decref(cfg);
	return r < 0 ? CF_EUPSTREAM : 0;
}

/* ---- mount state ---- */

/* Seal is coming: every operation in flight on this mount's pools gives up. */
static void
db_interrupt(struct mount *m)
{
	struct db_state *st = m->state;
	struct db_pool_ent *e;

	if (!st)
		return;
	pthread_mutex_lock(&st->pool_mu);
	for (e = st->pools; e; e = e->next)
		dbpool_interrupt(e->pool);
	pthread_mutex_unlock(&st->pool_mu);
}

static void
db_cleanup(struct mount *m)
{
	struct db_state *st = m->state;
	struct db_pool_ent *e, *next;

	if (!st)
		return;
	db_static_stop(st);
	for (e = st->pools; e; e = next) {
		next = e->next;
		dbpool_close(e->pool);
		dbpool_unref(e->pool);
		free(e->name);
		free(e);
	}
	json_decref(st->retry);
	pthread_mutex_destroy(&st->pool_mu);
	pthread_mutex_destroy(&st->cfg_mu);
	pthread_mutex_destroy(&st->rot_mu);
	pthread_mutex_destroy(&st->sched_mu);
	pthread_cond_destroy(&st->sched_cv);
	free(st);
	m->state = NULL;
}

static int
db_init(struct mount *m, struct core *c)
{
	struct db_state *st = calloc(1, sizeof(*st));
	pthread_condattr_t ca;
	int r;

	(void)c;
	if (!st)
		return CF_ENOMEM;
	st->m = m;
	pthread_mutex_init(&st->pool_mu, NULL);
	pthread_mutex_init(&st->cfg_mu, NULL);
	pthread_mutex_init(&st->rot_mu, NULL);
	pthread_mutex_init(&st->sched_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&st->sched_cv, &ca);
	pthread_condattr_destroy(&ca);
	st->retry = json_object();
	m->state = st;
	if (!st->retry) {
		db_cleanup(m);
		return CF_ENOMEM;
	}
	r = db_static_start(st);
	if (r < 0) {
		db_cleanup(m);
		return r;
	}
	return 0;
}

static const struct route database_routes[] = {
        {"config", .list = config_list},
        {"config/", .list = config_list},
        {"config/+", .read = config_read, .write = config_write, .delete = config_delete,
         .exists = config_exists, .fields = config_fields},
        {"reset/+", .write = reset_handle},
        {"rotate-root/+", .write = rotate_root_handle},
        {"roles", .list = role_list},
        {"roles/", .list = role_list},
        {"roles/+", .read = role_read, .write = role_write, .delete = role_delete,
         .exists = role_exists, .fields = role_fields},
        {"creds/+", .read = creds_read},
        {"static-roles", .list = db_static_role_list},
        {"static-roles/", .list = db_static_role_list},
        {"static-roles/+", .read = db_static_role_read, .write = db_static_role_write,
         .delete = db_static_role_delete, .exists = db_static_role_exists,
         .fields = db_static_role_fields},
        {"static-creds/+", .read = db_static_creds},
        {"rotate-role/+", .write = db_static_rotate_role},
};

const struct backend_type database_backend = {
        .type = "database",
        .routes = database_routes,
        .nroutes = sizeof(database_routes) / sizeof(database_routes[0]),
        .init = db_init,
        .cleanup = db_cleanup,
        .interrupt = db_interrupt,
        .lease_revoke = db_lease_revoke,
        .lease_renew = db_lease_renew,
};
