/* rotation_job.c - a job's configuration: templates, validation and the
 * normalized form that is stored (docs/internals/rotation.md "Objects", "Details"). */
#include "rotation/rotation_int.h"

#include "lib/cron.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/path.h"

#include <stdio.h>
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
        {"tls-certificate", "pki", NULL, "0", NULL, false},
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

int
rotation_job_config(const char *name, json_t *body, json_t *old, json_t **ret, char *err,
                    size_t errlen)
{
	const struct template *t = NULL;
	const char *k, *s, *target;
	json_t *cfg, *v, *keys, *nkeys = NULL, *def = NULL;
	bool has_sched, has_period;
	char buf[1024];
	struct cron *cr = NULL;
	int r = CF_EINVAL;

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

	cfg = old ? json_deep_copy(old) : json_object();
	if (!cfg)
		return CF_ENOMEM;
	if (has_sched)
		json_object_del(cfg, "period");
	if (has_period)
		json_object_del(cfg, "schedule");
	if (old) {
		for (size_t i = 0; body_fields[i]; i++) {
			const char *f = body_fields[i];
			if (json_object_get(body, f) &&
			    (strcmp(f, "target") == 0 || strcmp(f, "mount") == 0 ||
			     strcmp(f, "path") == 0 || strcmp(f, "template") == 0)) {
				json_t *a = json_object_get(body, f), *b = json_object_get(old, f);
				/* mount is compared normalized below */
				if (strcmp(f, "mount") != 0 && !json_equal(a, b)) {
					snprintf(err, errlen,
					         "%s cannot be changed: delete the job and create "
					         "it again",
					         f);
					goto fail;
				}
			}
		}
	}
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "mount") == 0 && old)
			continue;
		json_object_set(cfg, k, v);
	}
	json_object_set_new(cfg, "name", json_string(name));

	/* template */
	v = json_object_get(cfg, "template");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "template must be a string");
			goto fail;
		}
		t = template_find(json_string_value(v));
		if (!t) {
			snprintf(err, errlen, "unknown template: %s", json_string_value(v));
			goto fail;
		}
		if (!t->supported) {
			snprintf(err, errlen, "template %s: target %s is not supported yet",
			         t->name, t->target);
			r = CF_EINVAL;
			goto fail;
		}
		if (!old) {
			if (!json_object_get(cfg, "target"))
				json_object_set_new(cfg, "target", json_string(t->target));
			if (!has_sched && !has_period && t->period)
				json_object_set_new(cfg, "period", json_string(t->period));
			if (!json_object_get(cfg, "grace"))
				json_object_set_new(cfg, "grace", json_string(t->grace));
		}
		if (t->gen)
			def = json_loads(t->gen, 0, NULL);
	}

	/* target, mount, path */
	target = json_string_value(json_object_get(cfg, "target"));
	if (!target) {
		snprintf(err, errlen, "missing target (kv, database, transit)");
		goto fail;
	}
	if (strcmp(target, "pki") == 0 || strcmp(target, "sealing-key") == 0) {
		snprintf(err, errlen, "target %s is not supported yet", target);
		goto fail;
	}
	if (!rotation_target(target)) {
		snprintf(err, errlen, "unknown target: %s", target);
		goto fail;
	}
	if (t && strcmp(t->target, target) != 0) {
		snprintf(err, errlen, "template %s is for target %s, not %s", t->name, t->target,
		         target);
		goto fail;
	}
	if (!old || json_object_get(body, "mount")) {
		s = json_string_value(json_object_get(body, "mount"));
		if (!s)
			s = json_string_value(json_object_get(cfg, "mount"));
		while (s && *s == '/')
			s++;
		if (!s || !*s || strlen(s) > 256) {
			snprintf(err, errlen, "missing mount");
			goto fail;
		}
		snprintf(buf, sizeof(buf), "%s%s", s, s[strlen(s) - 1] == '/' ? "" : "/");
		if (old && strcmp(json_string_value(json_object_get(old, "mount")), buf) != 0) {
			snprintf(err, errlen,
			         "mount cannot be changed: delete the job and create it again");
			goto fail;
		}
		json_object_set_new(cfg, "mount", json_string(buf));
	}
	s = json_string_value(json_object_get(cfg, "path"));
	while (s && *s == '/')
		s++;
	if (!s || !*s || strlen(s) > 512 || s[strlen(s) - 1] == '/') {
		snprintf(err, errlen, "missing path (the %s)",
		         strcmp(target, "kv") == 0         ? "secret path"
		         : strcmp(target, "database") == 0 ? "static role"
		                                           : "key name");
		goto fail;
	}
	/* The path becomes a request path (the job's internal requests skip the
	 * HTTP edge): normalised and checked the same way (lib/path.h). */
	{
		char *norm = NULL, perr[200];
		int pr = path_normalize(s, strlen(s), 0, &norm, perr, sizeof(perr));
		if (pr == CF_ENOMEM) {
			r = pr;
			goto fail;
		}
		if (pr < 0) {
			snprintf(err, errlen, "invalid path: %s", perr);
			goto fail;
		}
		json_object_set_new(cfg, "path", json_string(norm));
		free(norm);
	}

	/* keys */
	keys = json_object_get(cfg, "keys");
	if (strcmp(target, "kv") == 0) {
		if (!json_is_object(keys) || json_object_size(keys) == 0) {
			snprintf(err, errlen,
			         "keys is required for kv jobs: a map of field name to generator");
			goto fail;
		}
		if (json_object_size(keys) > 64) {
			snprintf(err, errlen, "too many keys (at most 64)");
			goto fail;
		}
		nkeys = json_object();
		json_object_foreach(keys, k, v)
		{
			json_t *g = NULL;
			char e2[256];
			if (!*k || strlen(k) > ROT_NAME_MAX) {
				snprintf(err, errlen, "invalid key name");
				goto fail;
			}
			r = rotation_gen_parse(v, def, &g, e2, sizeof(e2));
			if (r < 0) {
				snprintf(err, errlen, "keys.%s: %s", k, e2);
				goto fail;
			}
			json_object_set_new(nkeys, k, g);
		}
		json_object_set_new(cfg, "keys", nkeys);
		nkeys = NULL;
		r = CF_EINVAL;
	} else if (keys && !json_is_null(keys)) {
		snprintf(err, errlen, "keys applies to kv jobs only");
		goto fail;
	}

	/* schedule / period / grace / jitter */
	v = json_object_get(cfg, "schedule");
	if (v && !json_is_null(v)) {
		char e2[256];
		if (!json_is_string(v)) {
			snprintf(err, errlen, "schedule must be a cron string");
			goto fail;
		}
		if (cron_parse(json_string_value(v), &cr, e2, sizeof(e2)) < 0) {
			snprintf(err, errlen, "invalid schedule: %s", e2);
			goto fail;
		}
		cron_free(cr);
	} else {
		json_object_del(cfg, "schedule");
	}
	if (duration_field(cfg, "period", 1, err, errlen) < 0 ||
	    duration_field(cfg, "grace", 0, err, errlen) < 0 ||
	    duration_field(cfg, "jitter", 0, err, errlen) < 0)
		goto fail;
	if (!json_object_get(cfg, "grace")) {
		json_object_set_new(cfg, "grace", json_integer(0));
		json_object_set_new(cfg, "grace_s", json_integer(0));
	}
	if (!json_object_get(cfg, "jitter")) {
		json_object_set_new(cfg, "jitter", json_integer(0));
		json_object_set_new(cfg, "jitter_s", json_integer(0));
	}

	/* booleans and enums */
	{
		bool b = false;
		int rr = jsonx_bool(cfg, "revoke_when_adopted", &b);
		if (rr == CF_EINVAL) {
			snprintf(err, errlen, "invalid revoke_when_adopted");
			goto fail;
		}
		json_object_set_new(cfg, "revoke_when_adopted", json_boolean(b));
	}
	v = json_object_get(cfg, "on_incomplete_adoption");
	if (!v || json_is_null(v)) {
		json_object_set_new(cfg, "on_incomplete_adoption", json_string("revoke"));
	} else if (!json_is_string(v) || (strcmp(json_string_value(v), "revoke") != 0 &&
	                                  strcmp(json_string_value(v), "extend") != 0)) {
		snprintf(err, errlen, "on_incomplete_adoption must be revoke or extend");
		goto fail;
	}

	/* transit: rewrap targets [{mount, prefix, field}] */
	v = json_object_get(cfg, "rewrap");
	if (v && !json_is_null(v)) {
		size_t i;
		json_t *it;
		if (strcmp(target, "transit") != 0 || !json_is_array(v) ||
		    json_array_size(v) > 32) {
			snprintf(
			        err, errlen,
			        "rewrap applies to transit jobs: a list of {mount, prefix, field}");
			goto fail;
		}
		json_array_foreach(v, i, it)
		{
			if (!json_is_string(json_object_get(it, "mount")) ||
			    !json_is_string(json_object_get(it, "field"))) {
				snprintf(err, errlen, "rewrap[%zu]: mount and field are required",
				         i);
				goto fail;
			}
		}
	}
	json_decref(def);
	*ret = cfg;
	return 0;
fail:
	json_decref(nkeys);
	json_decref(def);
	json_decref(cfg);
	return r == CF_ENOMEM ? r : CF_EINVAL;
}
