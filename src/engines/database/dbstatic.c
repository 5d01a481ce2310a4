/* dbstatic.c - static roles: existing database users whose password coffer
 * rotates on a period or a cron schedule, with optional dual credentials
 * (Vault's database secrets API; rotation.md "Dual credentials"; docs/internals/database.md).
 *
 * Record static-role/<name> (through the barrier):
 *   db_name, username, alternate_username, rotation_period (s) | rotation_schedule
 *   + rotation_window (s), rotation_statements, credential_type, grace (s, 0 =
 *   default), and the rotation state: password (SECRET), active (the user whose
 *   password static-creds returns), last_vault_rotation (unix ns), next_rotation
 *   (unix s), previous_username + grace_ends (unix s) while a grace runs.
 *
 * Locking: st->rot_mu serializes every change of a static role (writes,
 * rotate-role, the scheduler). The scheduler thread sleeps on st->sched_cv until
 * the earliest due time (rotation, grace end or retry) or a kick. */
#include "engines/database/database_int.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/cron.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_DEFAULT_ROTATION   "ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';"
#define DB_MIN_PERIOD         5
#define DB_MIN_WINDOW         3600
#define DB_DEFAULT_GRACE_CRON 3600
#define DB_RETRY_MIN          5
#define DB_RETRY_MAX          300

static int64_t
grace_secs(json_t *rec)
{
	int64_t g = db_jint(rec, "grace"), p = db_jint(rec, "rotation_period");

	if (g > 0)
		return g;
	return p > 0 ? p : DB_DEFAULT_GRACE_CRON;
}

/* The first rotation time after t. Returns 0 or CF_EINVAL (no next time). */
static int
next_after(json_t *rec, int64_t t, int64_t *ret)
{
	int64_t p = db_jint(rec, "rotation_period");
	struct cron *c = NULL;
	int64_t n;
	int r;

	if (p > 0) {
		*ret = t + p;
		return 0;
	}
	r = cron_parse(db_jstr(rec, "rotation_schedule"), &c, NULL, 0);
	if (r < 0)
		return r;
	n = cron_next(c, t);
	cron_free(c);
	if (n < 0)
		return CF_EINVAL;
	*ret = n;
	return 0;
}

/* Sets a new password on the user not in use (or on username without an
 * alternate) and updates rec; the caller stores it. initial: the role is new,
 * so the alternate user (if any) also gets an unknown random password.
 * Returns 0 or a CF_E* code with the scrubbed driver message in *ret_err. */
static int
rotate(struct db_state *st, json_t *rec, bool initial, char **ret_err)
{
	const char *user = db_jstr(rec, "username"), *alt = db_jstr(rec, "alternate_username");
	const char *active = db_jstr(rec, "active"), *target = user;
	char pw[DB_PASSWORD_LEN + 1], scramble[DB_PASSWORD_LEN + 1];
	char h1[DB_SCRAM_LEN], h2[DB_SCRAM_LEN];
	const char *secrets[2] = {pw, scramble};
	json_t *cfg = NULL, *stmts, *def = NULL;
	struct db_plan pl = {0};
	struct dbtext_vars v = {0};
	int64_t now = util_now(), next = 0;
	char *prev = NULL;
	int r;

	scramble[0] = '\0';
	r = db_config_load(st, db_jstr(rec, "db_name"), &cfg);
	if (r < 0) {
		if (r == CF_ENOTFOUND) {
			*ret_err = strdup("the role's database configuration does not exist");
			r = CF_EINVAL;
		}
		return r;
	}
	if (*alt && !initial && strcmp(active, user) == 0)
		target = alt;
	dbtext_password(pw);
	stmts = json_object_get(rec, "rotation_statements");
	if (json_array_size(stmts) == 0)
		stmts = def = json_pack("[s]", DB_DEFAULT_ROTATION);
	v.name = v.username = target;
	v.password = db_password_value(cfg, pw, h1, sizeof(h1));
	pl.check_user = target;
	r = db_plan_add(&pl, stmts, &v);
	if (r == 0 && initial && *alt) {
		dbtext_password(scramble);
		v.name = v.username = alt;
		v.password = db_password_value(cfg, scramble, h2, sizeof(h2));
		r = db_plan_add(&pl, stmts, &v);
	}
	if (r == 0)
		r = next_after(rec, now, &next);
	if (r == 0)
		r = db_plan_run(st, db_jstr(rec, "db_name"), cfg, &pl, secrets, 2, ret_err);
	if (r < 0)
		goto out;
	/* Dual credentials: the user in use until now keeps working for the grace. */
	if (*alt && !initial && *active && strcmp(active, target) != 0)
		prev = strdup(active);
	if (prev) {
		json_object_set_new(rec, "previous_username", json_string(prev));
		json_object_set_new(rec, "grace_ends", json_integer(now + grace_secs(rec)));
	} else {
		json_object_del(rec, "previous_username");
		json_object_del(rec, "grace_ends");
	}
	json_object_set_new(rec, "active", json_string(target));
	json_object_set_new(rec, "password", json_string(pw));
	json_object_set_new(rec, "last_vault_rotation", json_integer(util_now_ns()));
	json_object_set_new(rec, "next_rotation", json_integer(next));
out:
	free(prev);
	secmem_wipe(pw, sizeof(pw));
	secmem_wipe(scramble, sizeof(scramble));
	secmem_wipe(h1, sizeof(h1));
	secmem_wipe(h2, sizeof(h2));
	db_plan_free(&pl);
	json_decref(def);
	json_decref(cfg);
	return r;
}

/* The grace of previous_username is over: give it an unknown password. */
static int
grace_end(struct db_state *st, json_t *rec, char **ret_err)
{
	const char *prev = db_jstr(rec, "previous_username");
	char pw[DB_PASSWORD_LEN + 1], h[DB_SCRAM_LEN];
	const char *secrets[1] = {pw};
	json_t *cfg = NULL, *stmts, *def = NULL;
	struct db_plan pl = {0};
	struct dbtext_vars v = {0};
	int r;

	if (*prev == '\0' || strcmp(prev, db_jstr(rec, "active")) == 0)
		goto done;
	r = db_config_load(st, db_jstr(rec, "db_name"), &cfg);
	if (r < 0)
		return r;
	dbtext_password(pw);
	stmts = json_object_get(rec, "rotation_statements");
	if (json_array_size(stmts) == 0)
		stmts = def = json_pack("[s]", DB_DEFAULT_ROTATION);
	v.name = v.username = prev;
	v.password = db_password_value(cfg, pw, h, sizeof(h));
	pl.check_user = prev;
	pl.missing_ok = true;
	r = db_plan_add(&pl, stmts, &v);
	if (r == 0)
		r = db_plan_run(st, db_jstr(rec, "db_name"), cfg, &pl, secrets, 1, ret_err);
	secmem_wipe(pw, sizeof(pw));
	secmem_wipe(h, sizeof(h));
	db_plan_free(&pl);
	json_decref(def);
	json_decref(cfg);
	if (r < 0)
		return r;
done:
	json_object_del(rec, "previous_username");
	json_object_del(rec, "grace_ends");
	return 0;
}

/* ---- scheduler ---- */

static void
retry_later(struct db_state *st, const char *name, int64_t now)
{
	json_t *e = json_object_get(st->retry, name);
	int64_t backoff = e ? db_jint(e, "backoff") * 2 : DB_RETRY_MIN;

	if (backoff > DB_RETRY_MAX)
		backoff = DB_RETRY_MAX;
	json_object_set_new(st->retry, name,
	                    json_pack("{s:I, s:I}", "at", (json_int_t)(now + backoff), "backoff",
	                              (json_int_t)backoff));
}

static void
due_min(int64_t *min, int64_t t)
{
	if (t > 0 && (*min == 0 || t < *min))
		*min = t;
}

/* Does what is due for one role; returns its next due time (0: none). */
static int64_t
sched_one(struct db_state *st, const char *name)
{
	json_t *rec = NULL, *e;
	int64_t now = util_now(), due = 0, at;
	bool changed = false;
	char *err = NULL;
	int r;

	pthread_mutex_lock(&st->rot_mu);
	if (db_load(st, "static-role/", name, &rec) < 0)
		goto out;
	e = json_object_get(st->retry, name);
	at = e ? db_jint(e, "at") : 0;
	if (at > now) {
		due = at;
		goto out;
	}
	if (db_jint(rec, "grace_ends") > 0 && db_jint(rec, "grace_ends") <= now) {
		r = grace_end(st, rec, &err);
		if (r < 0) {
			log_error(
			        "database: static role %s: ending the grace of the previous user: "
			        "%s",
			        name, err ? err : cf_strerror(r));
			retry_later(st, name, now);
			goto retry;
		}
		log_info("database: static role %s: grace ended", name);
		changed = true;
	}
	if (db_jint(rec, "next_rotation") > 0 && db_jint(rec, "next_rotation") <= now) {
		int64_t win = db_jint(rec, "rotation_window"), next;
		if (*db_jstr(rec, "rotation_schedule") && win > 0 &&
		    now > db_jint(rec, "next_rotation") + win && next_after(rec, now, &next) == 0) {
			/* Missed its window: wait for the next scheduled time. */
			log_info("database: static role %s: rotation window missed", name);
			json_object_set_new(rec, "next_rotation", json_integer(next));
			changed = true;
		} else {
			secmem_free_str(err);
			err = NULL;
			r = rotate(st, rec, false, &err);
			if (r < 0) {
				log_error("database: static role %s: rotation failed: %s", name,
				          err ? err : cf_strerror(r));
				retry_later(st, name, now);
				goto retry;
			}
			log_info("database: static role %s: password rotated", name);
			changed = true;
		}
	}
	json_object_del(st->retry, name);
	goto store;
retry:
	due = db_jint(json_object_get(st->retry, name), "at");
store:
	if (changed) {
		r = db_store(st, "static-role/", name, rec);
		if (r < 0)
			log_error_r(r, "database: static role %s: storing the rotation", name);
	}
	due_min(&due, db_jint(rec, "next_rotation"));
	due_min(&due, db_jint(rec, "grace_ends"));
out:
	pthread_mutex_unlock(&st->rot_mu);
	secmem_free_str(err);
	json_decref(rec);
	return due;
}

static int64_t
sched_scan(struct db_state *st)
{
	char **keys = NULL;
	size_t n = 0;
	int64_t next = 0;

	if (view_list(st->m->view, "static-role/", &keys, &n) < 0)
		return util_now() + DB_RETRY_MAX;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&st->sched_mu);
		bool stop = st->sched_stop;
		pthread_mutex_unlock(&st->sched_mu);
		if (stop)
			break;
		due_min(&next, sched_one(st, keys[i]));
	}
	storage_keys_free(keys, n);
	return next;
}

static void *
sched_main(void *arg)
{
	struct db_state *st = arg;

	pthread_mutex_lock(&st->sched_mu);
	while (!st->sched_stop) {
		struct timespec ts = {0};
		bool kicked = st->sched_kick;
		int64_t next;

		st->sched_kick = false;
		pthread_mutex_unlock(&st->sched_mu);
		if (kicked)
			json_object_clear(st->retry); /* a change: try failing roles again now */
		next = sched_scan(st);
		pthread_mutex_lock(&st->sched_mu);
		if (st->sched_stop || st->sched_kick)
			continue;
		/* Nothing due: sleep until a static-role write kicks us. */
		ts.tv_sec = (time_t)(next > 0 ? next : util_now() + 86400);
		while (!st->sched_stop && !st->sched_kick &&
		       pthread_cond_timedwait(&st->sched_cv, &st->sched_mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&st->sched_mu);
	return NULL;
}

int
db_static_start(struct db_state *st)
{
	if (pthread_create(&st->sched, NULL, sched_main, st) != 0)
		return CF_ENOMEM;
	st->sched_running = true;
	return 0;
}

void
db_static_stop(struct db_state *st)
{
	if (!st->sched_running)
		return;
	pthread_mutex_lock(&st->sched_mu);
	st->sched_stop = true;
	pthread_cond_broadcast(&st->sched_cv);
	pthread_mutex_unlock(&st->sched_mu);
	pthread_join(st->sched, NULL);
	st->sched_running = false;
}

void
db_static_kick(struct db_state *st)
{
	pthread_mutex_lock(&st->sched_mu);
	st->sched_kick = true;
	pthread_cond_broadcast(&st->sched_cv);
	pthread_mutex_unlock(&st->sched_mu);
}

/* ---- static-roles/:name ---- */

/* The parameters of static-roles/:name (Vault's database secrets engine:
 * create static role); the durations stay -1 when not given. */
struct static_params {
	const char *db_name, *username, *alternate_username, *rotation_schedule, *credential_type;
	int64_t rotation_period, rotation_window, grace;
	json_t *rotation_statements;
};

#define SP(m) offsetof(struct static_params, m)
const struct field db_static_role_fields[] = {
        {"db_name", FIELD_STRING, 0, SP(db_name), .desc = "set when the role is created"},
        {"username", FIELD_STRING, 0, SP(username), .desc = "set when the role is created"},
        {"alternate_username", FIELD_STRING, 0, SP(alternate_username),
         .desc = "a second user the rotation alternates with"},
        {"rotation_period", FIELD_DURATION, 0, SP(rotation_period),
         .desc = "rotate the password this often"},
        {"rotation_schedule", FIELD_STRING, 0, SP(rotation_schedule), .desc = "cron"},
        {"rotation_window", FIELD_DURATION, 0, SP(rotation_window),
         .desc = "with rotation_schedule: how long after the time a rotation may start"},
        {"grace", FIELD_DURATION, 0, SP(grace),
         .desc = "how long the previous password keeps working"},
        {"rotation_statements", FIELD_CUSTOM, 0, SP(rotation_statements),
         .parse = dbtext_stmt_input, .desc = "SQL that sets the password ({{name}}, {{password}})"},
        {"credential_type", FIELD_STRING, 0, SP(credential_type), .desc = "password"},
        {NULL},
};
#undef SP

/* db_name and username are set once (Vault refuses to change them), so is an
 * alternate_username once the role has one. */
static int
static_names(struct response *rs, json_t *rec, const struct static_params *p, bool create)
{
	const char *s = p->alternate_username;

	if (p->db_name && *p->db_name) {
		if (!create && strcmp(p->db_name, db_jstr(rec, "db_name")) != 0)
			return db_fail(rs, CF_EINVAL, "cannot update static role db_name");
		json_object_set_new(rec, "db_name", json_string(p->db_name));
	}
	if (p->username && *p->username) {
		if (!create && strcmp(p->username, db_jstr(rec, "username")) != 0)
			return db_fail(rs, CF_EINVAL, "cannot update static account username");
		json_object_set_new(rec, "username", json_string(p->username));
	}
	if (*db_jstr(rec, "db_name") == '\0')
		return db_fail(rs, CF_EINVAL, "database name is required");
	if (*db_jstr(rec, "username") == '\0')
		return db_fail(rs, CF_EINVAL,
		               "username is a required field to create a static account");
	if (!s)
		return 0;
	if (!create && *db_jstr(rec, "alternate_username") &&
	    strcmp(s, db_jstr(rec, "alternate_username")) != 0)
		return db_fail(rs, CF_EINVAL, "cannot update static role alternate_username");
	if (strcmp(s, db_jstr(rec, "username")) == 0)
		return db_fail(rs, CF_EINVAL, "alternate_username must differ from username");
	if (*s)
		json_object_set_new(rec, "alternate_username", json_string(s));
	return 0;
}

/* rotation_period or rotation_schedule (with its window), and grace. Sets
 * *ret_timing when the timing changed. */
static int
static_timing(struct response *rs, json_t *rec, const struct static_params *p, bool *ret_timing)
{
	bool has_period = p->rotation_period > 0;
	bool has_sched = p->rotation_schedule && *p->rotation_schedule;
	char cerr[160] = "";
	struct cron *c = NULL;
	int r;

	if (has_period && has_sched)
		return db_fail(rs, CF_EINVAL,
		               "mutually exclusive fields rotation_period and "
		               "rotation_schedule were both specified");
	if (has_period) {
		if (p->rotation_period < DB_MIN_PERIOD)
			return db_fail(rs, CF_EINVAL, "rotation_period must be %d seconds or more",
			               DB_MIN_PERIOD);
		json_object_set_new(rec, "rotation_period", json_integer(p->rotation_period));
		json_object_del(rec, "rotation_schedule");
		json_object_del(rec, "rotation_window");
		*ret_timing = true;
	} else if (has_sched) {
		r = cron_parse(p->rotation_schedule, &c, cerr, sizeof(cerr));
		cron_free(c);
		if (r < 0)
			return db_fail(rs, CF_EINVAL, "could not parse rotation_schedule: %s",
			               cerr);
		json_object_set_new(rec, "rotation_schedule", json_string(p->rotation_schedule));
		json_object_del(rec, "rotation_period");
		*ret_timing = true;
	}
	if (p->rotation_window > 0) {
		if (!*db_jstr(rec, "rotation_schedule"))
			return db_fail(rs, CF_EINVAL,
			               "rotation_window is invalid with use of rotation_period");
		if (p->rotation_window < DB_MIN_WINDOW)
			return db_fail(rs, CF_EINVAL, "rotation_window must be %d seconds or more",
			               DB_MIN_WINDOW);
		json_object_set_new(rec, "rotation_window", json_integer(p->rotation_window));
	}
	if (!db_jint(rec, "rotation_period") && !*db_jstr(rec, "rotation_schedule"))
		return db_fail(rs, CF_EINVAL,
		               "one of rotation_schedule or rotation_period must be "
		               "provided to create a static account");
	if (p->grace >= 0)
		json_object_set_new(rec, "grace", json_integer(p->grace));
	return 0;
}

static int
static_write(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	struct static_params p = {.rotation_period = -1, .rotation_window = -1, .grace = -1};
	const char *name = rq->cap[0];
	json_t *rec = NULL, *cfg = NULL;
	bool create = false, timing = false;
	char *err = NULL;
	int r;

	r = field_parse(db_static_role_fields, rq->data, &p, rs);
	if (r < 0) {
		field_free(db_static_role_fields, &p);
		return r;
	}
	pthread_mutex_lock(&st->rot_mu);
	r = db_load(st, "static-role/", name, &rec);
	if (r == CF_ENOTFOUND) {
		create = true;
		rec = json_object();
		r = rec ? 0 : CF_ENOMEM;
	}
	if (r == 0)
		r = static_names(rs, rec, &p, create);
	if (r == 0)
		r = static_timing(rs, rec, &p, &timing);
	if (r < 0)
		goto out;
	if (p.rotation_statements)
		json_object_set(rec, "rotation_statements", p.rotation_statements);
	if (p.credential_type && *p.credential_type && strcmp(p.credential_type, "password") != 0) {
		r = db_fail(rs, CF_EINVAL, "credential_type %s is not supported",
		            p.credential_type);
		goto out;
	}
	json_object_set_new(rec, "credential_type", json_string("password"));
	r = db_config_load(st, db_jstr(rec, "db_name"), &cfg);
	if (r == CF_ENOTFOUND) {
		r = db_fail(rs, CF_EINVAL, "unknown database \"%s\"", db_jstr(rec, "db_name"));
		goto out;
	}
	if (r < 0)
		goto out;
	if (!db_role_allowed(cfg, name)) {
		r = db_fail(rs, CF_EINVAL, "\"%s\" is not an allowed role", name);
		goto out;
	}
	if (*db_jstr(rec, "alternate_username") && (create || !*db_jstr(rec, "active"))) {
		/* the alternate must exist before it can take over */
		struct db_plan pl = {.check_user = db_jstr(rec, "alternate_username")};
		r = db_plan_run(st, db_jstr(rec, "db_name"), cfg, &pl, NULL, 0, &err);
		if (r < 0) {
			r = db_fail(rs, r == CF_EINVAL ? CF_EINVAL : CF_EIO, "%s",
			            err ? err : cf_strerror(r));
			goto out;
		}
	}
	if (create) {
		r = rotate(st, rec, true, &err);
		if (r < 0) {
			r = db_fail(rs, r == CF_EINVAL ? CF_EINVAL : CF_EIO,
			            "error setting credentials: %s", err ? err : cf_strerror(r));
			goto out;
		}
	} else if (timing) {
		int64_t last = db_jint(rec, "last_vault_rotation") / 1000000000, next;
		r = next_after(rec, last, &next);
		if (r < 0) {
			r = db_fail(rs, CF_EINVAL, "rotation_schedule has no next time");
			goto out;
		}
		json_object_set_new(rec, "next_rotation", json_integer(next));
	}
	r = db_store(st, "static-role/", name, rec);
	if (r == 0 && create)
		log_info("database: static role %s created, password rotated", name);
out:
	pthread_mutex_unlock(&st->rot_mu);
	if (r == 0)
		db_static_kick(st);
	field_free(db_static_role_fields, &p);
	secmem_free_str(err);
	json_decref(cfg);
	json_decref(rec);
	return r;
}

static int
timing_fields(json_t *rec, json_t *data)
{
	if (db_jint(rec, "rotation_period") > 0)
		return json_object_set_new(data, "rotation_period",
		                           json_integer(db_jint(rec, "rotation_period")));
	if (json_object_set_new(data, "rotation_schedule",
	                        json_string(db_jstr(rec, "rotation_schedule"))) < 0)
		return -1;
	return json_object_set_new(data, "rotation_window",
	                           json_integer(db_jint(rec, "rotation_window")));
}

static int64_t
ttl_of(json_t *rec)
{
	int64_t ttl = db_jint(rec, "next_rotation") - util_now();
	return ttl > 0 ? ttl : 0;
}

static int
static_read(struct request *rq, struct response *rs)
{
	json_t *rec = NULL, *data;
	char last[48];
	int r;

	r = db_load(rq->mount->state, "static-role/", rq->cap[0], &rec);
	if (r < 0)
		return r;
	util_rfc3339(db_jint(rec, "last_vault_rotation"), last, sizeof(last));
	data = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "db_name", db_jstr(rec, "db_name"),
	                 "username", db_jstr(rec, "username"), "rotation_statements",
	                 db_arr_or_empty(rec, "rotation_statements"), "credential_type", "password",
	                 "last_vault_rotation", last, "ttl", (json_int_t)ttl_of(rec), "grace",
	                 (json_int_t)grace_secs(rec));
	if (data && *db_jstr(rec, "alternate_username"))
		json_object_set_new(data, "alternate_username",
		                    json_string(db_jstr(rec, "alternate_username")));
	if (data && timing_fields(rec, data) < 0) {
		json_decref(data);
		data = NULL;
	}
	json_decref(rec);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

int
db_static_role_read(struct request *rq, struct response *rs)
{
	return static_read(rq, rs);
}

int
db_static_role_write(struct request *rq, struct response *rs)
{
	return static_write(rq, rs);
}

/* The database user stays (Vault's database secrets API). */
int
db_static_role_delete(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	int r;

	(void)rs;
	pthread_mutex_lock(&st->rot_mu);
	r = db_remove(st, "static-role/", rq->cap[0]);
	pthread_mutex_unlock(&st->rot_mu);
	db_static_kick(st);
	return r;
}

int
db_static_role_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, "static-role/", 0, rs);
}

int
db_static_role_exists(struct request *rq, bool *ret_exists)
{
	return db_exists(rq, "static-role/", ret_exists);
}

/* ---- static-creds/:name, rotate-role/:name ---- */

int
db_static_creds(struct request *rq, struct response *rs)
{
	json_t *rec = NULL, *data;
	char last[48], ends[48];
	int r;

	r = db_load(rq->mount->state, "static-role/", rq->cap[0], &rec);
	if (r == CF_ENOTFOUND)
		return db_fail(rs, CF_EINVAL, "unknown role: %s", rq->cap[0]);
	if (r < 0)
		return r;
	util_rfc3339(db_jint(rec, "last_vault_rotation"), last, sizeof(last));
	data = json_pack("{s:s, s:s, s:s, s:I}", "username", db_jstr(rec, "active"), "password",
	                 db_jstr(rec, "password"), "last_vault_rotation", last, "ttl",
	                 (json_int_t)ttl_of(rec));
	if (data && timing_fields(rec, data) < 0) {
		json_decref(data);
		data = NULL;
	}
	if (data && *db_jstr(rec, "previous_username") && db_jint(rec, "grace_ends") > util_now()) {
		util_rfc3339(db_jint(rec, "grace_ends") * 1000000000, ends, sizeof(ends));
		json_object_set_new(data, "previous_username",
		                    json_string(db_jstr(rec, "previous_username")));
		json_object_set_new(data, "grace_ends", json_string(ends));
	}
	json_decref(rec);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

int
db_static_rotate_role(struct request *rq, struct response *rs)
{
	struct db_state *st = rq->mount->state;
	json_t *rec = NULL;
	char *err = NULL;
	int r;

	pthread_mutex_lock(&st->rot_mu);
	r = db_load(st, "static-role/", rq->cap[0], &rec);
	if (r == CF_ENOTFOUND) {
		r = db_fail(rs, CF_EINVAL, "unknown role: %s", rq->cap[0]);
		goto out;
	}
	if (r < 0)
		goto out;
	{
		/* coffer extension: the rotation manager passes its job's grace, which
		 * then governs how long the previous user of a pair keeps working */
		int64_t g = 0;
		int gr = jsonx_duration(rq->data, "grace", &g);
		if (gr < 0 && gr != CF_ENOTFOUND) {
			r = db_fail(rs, CF_EINVAL, "invalid value for grace: %s",
			            duration_strerror(gr));
			goto out;
		}
		if (gr == 0 && g > 0)
			json_object_set_new(rec, "grace", json_integer(g));
	}
	r = rotate(st, rec, false, &err);
	if (r < 0) {
		r = db_fail(rs, r == CF_EINVAL ? CF_EINVAL : CF_EIO,
		            "error rotating credentials: %s", err ? err : cf_strerror(r));
		goto out;
	}
	r = db_store(st, "static-role/", rq->cap[0], rec);
	if (r == 0)
		log_info("database: static role %s rotated on request", rq->cap[0]);
out:
	pthread_mutex_unlock(&st->rot_mu);
	if (r == 0)
		db_static_kick(st);
	secmem_free_str(err);
	json_decref(rec);
	return r;
}
