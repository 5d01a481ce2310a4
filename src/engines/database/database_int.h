/* database_int.h - private to src/engines/database: the mount state shared by
 * database.c (connections, roles, creds, leases) and dbstatic.c (static roles
 * and their scheduler). See docs/internals/database.md. */
#ifndef CF_DB_INT_H
#define CF_DB_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/field.h"
#include "backend/request.h"
#include "engines/database/dbpool.h"
#include "engines/database/dbtext.h"

#define DB_PLUGIN_NAME "postgresql-database-plugin"

struct db_pool_ent {
	char *name;
	struct dbpool *pool;
	struct db_pool_ent *next;
};

struct db_state {
	struct mount *m;
	/* Open pools by config name. Lock order: cfg_mu, rot_mu, pool_mu. */
	pthread_mutex_t pool_mu;
	struct db_pool_ent *pools;
	uint64_t pool_gen;      /* bumped by every db_pool_drop */
	pthread_mutex_t cfg_mu; /* config write/delete, rotate-root */
	pthread_mutex_t rot_mu; /* static-role writes and rotations */
	/* The static-role scheduler (dbstatic.c). */
	pthread_mutex_t sched_mu;
	pthread_cond_t sched_cv;
	bool sched_stop, sched_kick, sched_running;
	pthread_t sched;
	json_t *retry; /* role -> {"at": unix, "backoff": secs}; scheduler thread only */
};

/* One operation's statements, run in one transaction by db_plan_run. */
struct db_plan {
	/* When set: first look the role up in pg_roles; absent -> nothing to do
	 * (missing_ok) or CF_EINVAL "role ... does not exist". */
	const char *check_user;
	bool missing_ok;
	/* When set: terminate that role's sessions before the statements. */
	const char *terminate_user;
	char **sql; /* rendered statements; SECRET (may hold passwords) */
	size_t n, cap;
};

/* Splits each template of stmts (a JSON array of statement texts) and appends
 * it rendered with v to the plan. Returns 0, CF_ENOMEM, CF_EINVAL (too many). */
int db_plan_add(struct db_plan *pl, json_t *stmts, const struct dbtext_vars *v);
void db_plan_free(struct db_plan *pl);

/* Loads config/<name>. Returns 0, CF_ENOTFOUND, or a storage error. */
int db_config_load(struct db_state *st, const char *name, json_t **ret);
/* The value {{password}} takes in statements: pw, or its SCRAM-SHA-256 verifier
 * (written into buf) when cfg's password_authentication is "scram-sha-256". */
const char *db_password_value(json_t *cfg, const char *pw, char *buf, size_t len);
/* True when cfg's allowed_roles lets role use the connection ("*" and globs). */
bool db_role_allowed(json_t *cfg, const char *role);
/* Runs the plan on the named database's pool (opened from cfg on first use).
 * secrets (n) are scrubbed from the error text as well. Returns 0, CF_EINVAL
 * (a statement failed; *ret_err holds the driver's message), CF_EUPSTREAM (no
 * connection), or another CF_E* code. */
int db_plan_run(struct db_state *st, const char *db_name, json_t *cfg, struct db_plan *pl,
                const char *const *secrets, size_t n, char **ret_err);
/* Closes and forgets the named database's pool (config changed, reset). */
void db_pool_drop(struct db_state *st, const char *name);

/* Static roles (dbstatic.c). */
int db_static_start(struct db_state *st);
void db_static_stop(struct db_state *st);
void db_static_kick(struct db_state *st);
/* The handlers of static-roles/<name> (database.c's route table). */
int db_static_role_read(struct request *rq, struct response *rs);
int db_static_role_write(struct request *rq, struct response *rs);
int db_static_role_delete(struct request *rq, struct response *rs);
/* The parameters of static-roles/<name> (backend/field.h). */
extern const struct field db_static_role_fields[];
int db_static_role_list(struct request *rq, struct response *rs);
int db_static_role_exists(struct request *rq, bool *ret_exists);
int db_static_creds(struct request *rq, struct response *rs);
int db_static_rotate_role(struct request *rq, struct response *rs);

/* Shared helpers (database.c). Records live at <prefix><name> in the view. */
int db_load(struct db_state *st, const char *prefix, const char *name, json_t **ret);
/* exists_fn for a route whose record is prefix + rq->cap[0]. */
int db_exists(struct request *rq, const char *prefix, bool *ret_exists);
int db_store(struct db_state *st, const char *prefix, const char *name, json_t *v);
int db_remove(struct db_state *st, const char *prefix, const char *name);
/* A string member or "" / an integer member or 0. */
const char *db_jstr(json_t *o, const char *key);
int64_t db_jint(json_t *o, const char *key);
/* A new reference to the array member, or a new empty array. */
json_t *db_arr_or_empty(json_t *rec, const char *key);
/* Shared handler helpers (database.c). */
/* Answers 400 (or code) with the message; frees nothing. */
int db_fail(struct response *rs, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
