/* rotation_job.c - a job's configuration: templates, validation and the
 * normalized form that is stored (docs/internals/rotation.md "Objects", "Details"). */
#include "rotation/rotation_int.h"

#include "lib/cron.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct template
{
	const char *name;
	const char *target;
	const char *period; /* NULL: none */
	const char *grace;
	const char *gen; /* default generator, JSON */
	bool supported;
};

static const struct template templates[] = {
        {"api-key", "kv", "90d", "24h",
         "{\"generator\":\"api-key\",\"prefix\":\"sk_\",\"bytes\":32}", true},
        {"database-password", "database", "30d", "48h", NULL, true},
        {"session-secret", "kv", "24h", "0", "{\"generator\":\"base64\",\"bytes\":32}", true},
        {"tls-certificate", "pki", NULL, "0", NULL, true},
        {"encryption-key", "transit", NULL, "0", NULL, true},
};

static const char *const body_fields[] = {
        "target",
        "template",
        "mount",
        "path",
        "keys",
        "schedule",
        "period",
        "grace",
        "jitter",
        "revoke_when_adopted",
        "on_incomplete_adoption",
        "rewrap",
        "role",
        "common_name",
        "alt_names",
        "ip_sans",
        "ttl",
        "renew_before",
        "kv_mount",
        NULL,
};

bool
rotation_job_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > ROT_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static const struct template *
template_find(const char *name)
{
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i].name, name) == 0)
			return &templates[i];
	return NULL;
}

/* A duration field: string or integer seconds; stores the given value and
 * <key>_s. */
static int
duration_field(json_t *cfg, const char *key, int64_t min, char *err, size_t errlen)
{
	json_t *v = json_object_get(cfg, key);
	char k2[32];
	int64_t s;
	int r;

	snprintf(k2, sizeof(k2), "%s_s", key);
	if (!v || json_is_null(v)) {
		json_object_del(cfg, key);
		json_object_del(cfg, k2);
		return 0;
	}
	r = jsonx_duration(cfg, key, &s);
	if (r < 0) {
		snprintf(err, errlen, "invalid value for %s: %s", key, duration_strerror(r));
		return CF_EINVAL;
	}
	if (s < min) {
		snprintf(err, errlen, "invalid %s: want a duration of at least 1s", key);
		return CF_EINVAL;
	}
	json_object_set_new(cfg, k2, json_integer(s));
	return 0;
}

static int
fail(char *err, size_t errlen, int r, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return r;
}

/* The new configuration: old (when updating) with body's fields over it.
 * Refuses unknown fields, schedule with period, and changes of target, path or
 * template (mount is compared normalized by job_where). */
static int
job_merge(const char *name, json_t *body, json_t *old, json_t **ret, char *err, size_t errlen)
{
	bool has_sched, has_period;
	const char *k;
	json_t *cfg, *v;

	json_object_foreach(body, k, v)
	{
		bool known = false;
		for (size_t i = 0; body_fields[i]; i++)
			known |= strcmp(body_fields[i], k) == 0;
		if (!known) {
			snprintf(err, errlen, "unknown field: %s", k);
			return CF_EINVAL;
		}
	}
	has_sched = json_object_get(body, "schedule") &&
	            !json_is_null(json_object_get(body, "schedule"));
	has_period =
	        json_object_get(body, "period") && !json_is_null(json_object_get(body, "period"));
	if (has_sched && has_period)
		return fail(err, errlen, CF_EINVAL, "give either schedule or period, not both");
	if (old) {
		static const char *const fixed[] = {"target", "template", "path"};
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			json_t *a = json_object_get(body, fixed[i]);
			if (a && !json_equal(a, json_object_get(old, fixed[i]))) {
				snprintf(err, errlen,
				         "%s cannot be changed: delete the job and create "
				         "it again",
				         fixed[i]);
				return CF_EINVAL;
			}
		}
	}
	cfg = old ? json_deep_copy(old) : json_object();
	if (!cfg)
		return CF_ENOMEM;
	if (has_sched)
		json_object_del(cfg, "period");
	if (has_period)
		json_object_del(cfg, "schedule");
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "mount") == 0 && old)
			continue;
		json_object_set(cfg, k, v);
	}
	json_object_set_new(cfg, "name", json_string(name));
	*ret = cfg;
	return 0;
}

/* The template's target, period and grace fill what a new job leaves out;
 * *ret_def is its default generator (a new reference, or NULL). */
static int
job_template(json_t *cfg, json_t *body, bool create, const struct template **ret_t,
             json_t **ret_def, char *err, size_t errlen)
{
	json_t *v = json_object_get(cfg, "template");
	const struct template *t;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, errlen, CF_EINVAL, "template must be a string");
	t = template_find(json_string_value(v));
	if (!t) {
		snprintf(err, errlen, "unknown template: %s", json_string_value(v));
		return CF_EINVAL;
	}
	if (!t->supported) {
		snprintf(err, errlen, "template %s: target %s is not supported yet", t->name,
		         t->target);
		return CF_EINVAL;
	}
	if (create) {
		bool timed = (json_object_get(body, "schedule") &&
		              !json_is_null(json_object_get(body, "schedule"))) ||
		             (json_object_get(body, "period") &&
		              !json_is_null(json_object_get(body, "period")));
		if (!json_object_get(cfg, "target"))
			json_object_set_new(cfg, "target", json_string(t->target));
		if (!timed && t->period)
			json_object_set_new(cfg, "period", json_string(t->period));
		if (!json_object_get(cfg, "grace"))
			json_object_set_new(cfg, "grace", json_string(t->grace));
	}
	*ret_t = t;
	if (t->gen)
		*ret_def = json_loads(t->gen, 0, NULL);
	return 0;
}

/* target, mount (normalized to end in '/'; fixed once set) and path (a
 * request path, lib/path.h). */
static int
job_where(json_t *cfg, json_t *body, json_t *old, const struct template *t, char *err,
          size_t errlen)
{
	const char *s, *target = json_string_value(json_object_get(cfg, "target"));
	char buf[1024], *norm = NULL, perr[200];
	int r;

	if (!target)
		return fail(err, errlen, CF_EINVAL, "missing target (kv, database, transit, pki)");
	if (strcmp(target, "sealing-key") == 0) {
		snprintf(err, errlen, "target %s is not supported yet", target);
		return CF_EINVAL;
	}
	if (!rotation_target(target)) {
		snprintf(err, errlen, "unknown target: %s", target);
		return CF_EINVAL;
	}
	if (t && strcmp(t->target, target) != 0) {
		snprintf(err, errlen, "template %s is for target %s, not %s", t->name, t->target,
		         target);
		return CF_EINVAL;
	}
	if (!old || json_object_get(body, "mount")) {
		s = json_string_value(json_object_get(body, "mount"));
		if (!s)
			s = json_string_value(json_object_get(cfg, "mount"));
		while (s && *s == '/')
			s++;
		if (!s || !*s || strlen(s) > 256)
			return fail(err, errlen, CF_EINVAL, "missing mount");
		snprintf(buf, sizeof(buf), "%s%s", s, s[strlen(s) - 1] == '/' ? "" : "/");
		if (old && strcmp(json_string_value(json_object_get(old, "mount")), buf) != 0)
			return fail(err, errlen, CF_EINVAL,
			            "mount cannot be changed: delete the job and create it again");
		json_object_set_new(cfg, "mount", json_string(buf));
	}
	s = json_string_value(json_object_get(cfg, "path"));
	while (s && *s == '/')
		s++;
	if (!s || !*s || strlen(s) > 512 || s[strlen(s) - 1] == '/') {
		snprintf(err, errlen, "missing path (the %s)",
		         strcmp(target, "kv") == 0         ? "secret path"
		         : strcmp(target, "database") == 0 ? "static role"
		         : strcmp(target, "pki") == 0      ? "secret path in kv_mount"
		                                           : "key name");
		return CF_EINVAL;
	}
	/* The path becomes a request path (the job's internal requests skip the
	 * HTTP edge): normalised and checked the same way (lib/path.h). */
	r = path_normalize(s, strlen(s), 0, &norm, perr, sizeof(perr));
	if (r == CF_ENOMEM)
		return r;
	if (r < 0) {
		snprintf(err, errlen, "invalid path: %s", perr);
		return CF_EINVAL;
	}
	json_object_set_new(cfg, "path", json_string(norm));
	free(norm);
	return 0;
}

/* keys: for kv jobs, a map of field name to generator (def: the template's). */
static int
job_keys(json_t *cfg, const char *target, json_t *def, char *err, size_t errlen)
{
	json_t *keys = json_object_get(cfg, "keys"), *nkeys, *v;
	const char *k;

	if (strcmp(target, "kv") != 0) {
		if (keys && !json_is_null(keys))
			return fail(err, errlen, CF_EINVAL, "keys applies to kv jobs only");
		return 0;
	}
	if (!json_is_object(keys) || json_object_size(keys) == 0)
		return fail(err, errlen, CF_EINVAL,
		            "keys is required for kv jobs: a map of field name to generator");
	if (json_object_size(keys) > 64)
		return fail(err, errlen, CF_EINVAL, "too many keys (at most 64)");
	nkeys = json_object();
	if (!nkeys)
		return CF_ENOMEM;
	json_object_foreach(keys, k, v)
	{
		json_t *g = NULL;
		char e2[256];
		int r;
		if (!*k || strlen(k) > ROT_NAME_MAX) {
			json_decref(nkeys);
			return fail(err, errlen, CF_EINVAL, "invalid key name");
		}
		r = rotation_gen_parse(v, def, &g, e2, sizeof(e2));
		if (r < 0) {
			snprintf(err, errlen, "keys.%s: %s", k, e2);
			json_decref(nkeys);
			return r == CF_ENOMEM ? r : CF_EINVAL;
		}
		json_object_set_new(nkeys, k, g);
	}
	json_object_set_new(cfg, "keys", nkeys);
	return 0;
}

/* schedule (cron) or period, grace and jitter (stored with <key>_s). */
static int
job_timing(json_t *cfg, char *err, size_t errlen)
{
	json_t *v = json_object_get(cfg, "schedule");
	struct cron *cr = NULL;
	char e2[256];

	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return fail(err, errlen, CF_EINVAL, "schedule must be a cron string");
		if (cron_parse(json_string_value(v), &cr, e2, sizeof(e2)) < 0) {
			snprintf(err, errlen, "invalid schedule: %s", e2);
			return CF_EINVAL;
		}
		cron_free(cr);
	} else {
		json_object_del(cfg, "schedule");
	}
	if (duration_field(cfg, "period", 1, err, errlen) < 0 ||
	    duration_field(cfg, "grace", 0, err, errlen) < 0 ||
	    duration_field(cfg, "jitter", 0, err, errlen) < 0)
		return CF_EINVAL;
	if (!json_object_get(cfg, "grace")) {
		json_object_set_new(cfg, "grace", json_integer(0));
		json_object_set_new(cfg, "grace_s", json_integer(0));
	}
	if (!json_object_get(cfg, "jitter")) {
		json_object_set_new(cfg, "jitter", json_integer(0));
		json_object_set_new(cfg, "jitter_s", json_integer(0));
	}
	return 0;
}

/* revoke_when_adopted, on_incomplete_adoption and transit's rewrap targets
 * [{mount, prefix, field}]. */
static int
job_options(json_t *cfg, const char *target, char *err, size_t errlen)
{
	bool b = false;
	json_t *v, *it;
	size_t i;

	if (jsonx_bool(cfg, "revoke_when_adopted", &b) == CF_EINVAL)
		return fail(err, errlen, CF_EINVAL, "invalid revoke_when_adopted");
	json_object_set_new(cfg, "revoke_when_adopted", json_boolean(b));
	v = json_object_get(cfg, "on_incomplete_adoption");
	if (!v || json_is_null(v))
		json_object_set_new(cfg, "on_incomplete_adoption", json_string("revoke"));
	else if (!json_is_string(v) || (strcmp(json_string_value(v), "revoke") != 0 &&
	                                strcmp(json_string_value(v), "extend") != 0))
		return fail(err, errlen, CF_EINVAL,
		            "on_incomplete_adoption must be revoke or extend");
	v = json_object_get(cfg, "rewrap");
	if (!v || json_is_null(v))
		return 0;
	if (strcmp(target, "transit") != 0 || !json_is_array(v) || json_array_size(v) > 32)
		return fail(err, errlen, CF_EINVAL,
		            "rewrap applies to transit jobs: a list of {mount, prefix, field}");
	json_array_foreach(v, i, it)
	{
		if (!json_is_string(json_object_get(it, "mount")) ||
		    !json_is_string(json_object_get(it, "field"))) {
			snprintf(err, errlen, "rewrap[%zu]: mount and field are required", i);
			return CF_EINVAL;
		}
	}
	return 0;
}

/* A mount name normalized to end in '/' into buf; false when empty or too long. */
static bool
mount_norm(const char *s, char *buf, size_t len)
{
	while (s && *s == '/')
		s++;
	if (!s || !*s || strlen(s) > 256)
		return false;
	snprintf(buf, len, "%s%s", s, s[strlen(s) - 1] == '/' ? "" : "/");
	return true;
}

/* A comma list (string or array of strings) as one comma-joined string, or
 * removed when absent or empty. */
static int
comma_field(json_t *cfg, const char *key, char *err, size_t errlen)
{
	json_t *list = NULL, *v;
	char *joined;
	size_t i, n = 0;
	int r = jsonx_strlist(cfg, key, &list);

	if (r == CF_ENOTFOUND) {
		json_object_del(cfg, key);
		return 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s must be a comma-separated string or a list of strings",
		         key);
		return CF_EINVAL;
	}
	json_array_foreach(list, i, v) n += strlen(json_string_value(v)) + 1;
	if (n > 8192) {
		json_decref(list);
		snprintf(err, errlen, "%s is too long", key);
		return CF_EINVAL;
	}
	joined = calloc(1, n + 1);
	if (!joined) {
		json_decref(list);
		return CF_ENOMEM;
	}
	json_array_foreach(list, i, v)
	{
		if (i > 0)
			strcat(joined, ",");
		strcat(joined, json_string_value(v));
	}
	if (*joined)
		json_object_set_new(cfg, key, json_string(joined));
	else
		json_object_del(cfg, key);
	free(joined);
	json_decref(list);
	return 0;
}

/* The fields of a pki job (role, common_name, alt_names, ip_sans, ttl,
 * renew_before, kv_mount); refuses them on other targets. A pki job renews by
 * the expiry of its certificate: no schedule, period or grace of its own, and
 * renew_before must be shorter than ttl (else every new certificate would be
 * due at once). */
static int
job_pki(json_t *cfg, json_t *body, json_t *old, const char *target, char *err, size_t errlen)
{
	static const char *const own[] = {"role", "common_name",  "alt_names", "ip_sans",
	                                  "ttl",  "renew_before", "kv_mount"};
	const char *role, *cn;
	char buf[300];
	int64_t ttl, rb;

	if (strcmp(target, "pki") != 0) {
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
			json_t *v = json_object_get(cfg, own[i]);
			if (v && !json_is_null(v)) {
				snprintf(err, errlen, "%s applies to pki jobs only", own[i]);
				return CF_EINVAL;
			}
		}
		return 0;
	}
	if (json_object_get(cfg, "schedule") || json_object_get(cfg, "period_s"))
		return fail(err, errlen, CF_EINVAL,
		            "a pki job renews its certificate renew_before its expiry: schedule "
		            "and period do not apply");
	if (json_object_get(body, "grace") && !json_is_null(json_object_get(body, "grace")))
		return fail(err, errlen, CF_EINVAL,
		            "a pki job keeps the previous certificate until it expires: grace "
		            "does not apply");
	role = json_string_value(json_object_get(cfg, "role"));
	if (!role || !*role || strlen(role) > ROT_NAME_MAX || strchr(role, '/'))
		return fail(err, errlen, CF_EINVAL, "missing role (the PKI role to issue with)");
	cn = json_string_value(json_object_get(cfg, "common_name"));
	if (!cn || !*cn || strlen(cn) > 255)
		return fail(err, errlen, CF_EINVAL, "missing common_name");
	if (comma_field(cfg, "alt_names", err, errlen) < 0 ||
	    comma_field(cfg, "ip_sans", err, errlen) < 0)
		return CF_EINVAL;
	if (!json_object_get(cfg, "renew_before"))
		json_object_set_new(cfg, "renew_before", json_string("720h"));
	if (duration_field(cfg, "ttl", 1, err, errlen) < 0 ||
	    duration_field(cfg, "renew_before", 1, err, errlen) < 0)
		return CF_EINVAL;
	ttl = json_integer_value(json_object_get(cfg, "ttl_s"));
	rb = json_integer_value(json_object_get(cfg, "renew_before_s"));
	if (ttl > 0 && rb >= ttl) {
		snprintf(err, errlen,
		         "renew_before (%lld s) must be shorter than ttl (%lld s): the "
		         "certificate would be renewed as soon as it is issued",
		         (long long)rb, (long long)ttl);
		return CF_EINVAL;
	}
	if (!mount_norm(json_string_value(json_object_get(cfg, "kv_mount"))
	                        ? json_string_value(json_object_get(cfg, "kv_mount"))
	                        : "secret",
	                buf, sizeof(buf)))
		return fail(err, errlen, CF_EINVAL, "invalid kv_mount");
	if (old && json_string_value(json_object_get(old, "kv_mount")) &&
	    strcmp(json_string_value(json_object_get(old, "kv_mount")), buf) != 0)
		return fail(err, errlen, CF_EINVAL,
		            "kv_mount cannot be changed: delete the job and create it again");
	json_object_set_new(cfg, "kv_mount", json_string(buf));
	return 0;
}

int
rotation_job_config(const char *name, json_t *body, json_t *old, json_t **ret, char *err,
                    size_t errlen)
{
	const struct template *t = NULL;
	json_t *cfg = NULL, *def = NULL;
	const char *target;
	int r;

	r = job_merge(name, body, old, &cfg, err, errlen);
	if (r == 0)
		r = job_template(cfg, body, !old, &t, &def, err, errlen);
	if (r == 0)
		r = job_where(cfg, body, old, t, err, errlen);
	if (r < 0)
		goto fail;
	target = json_string_value(json_object_get(cfg, "target"));
	r = job_keys(cfg, target, def, err, errlen);
	if (r == 0)
		r = job_timing(cfg, err, errlen);
	if (r == 0)
		r = job_options(cfg, target, err, errlen);
	if (r == 0)
		r = job_pki(cfg, body, old, target, err, errlen);
	if (r < 0)
		goto fail;
	json_decref(def);
	*ret = cfg;
	return 0;
fail:
	json_decref(def);
	json_decref(cfg);
	return r == CF_ENOMEM ? r : CF_EINVAL;
}
