/* field.c - one parser for the parameters every route describes (field.h). */
#include "backend/field.h"
#include "backend/request.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool
is_json_slot(enum field_type t)
{
	return t == FIELD_STRLIST || t == FIELD_POLICIES || t == FIELD_CIDRS || t == FIELD_STRMAP ||
	       t == FIELD_OBJECT || t == FIELD_CUSTOM;
}

static bool
given(json_t *data, const char *key)
{
	json_t *v = key && json_is_object(data) ? json_object_get(data, key) : NULL;

	return v && !json_is_null(v);
}

/* The key data gives the field under (its name, else its alias), or NULL. */
static const char *
given_key(const struct field *f, json_t *data)
{
	if (given(data, f->name))
		return f->name;
	if (f->alias && given(data, f->alias))
		return f->alias;
	return NULL;
}

static int
invalid(struct response *rs, const char *key, const char *what)
{
	(void)response_errorf(rs, "invalid value for %s: %s", key, what);
	return CF_EINVAL;
}

static int
check_range(const struct field *f, const char *key, int64_t v, struct response *rs)
{
	char lim[64];

	if (!(f->flags & FIELD_RANGE) || (v >= f->min && v <= f->max))
		return 0;
	if (v < f->min && f->min == 0) {
		(void)response_errorf(rs, "%s cannot be negative", key);
		return CF_EINVAL;
	}
	if (f->type == FIELD_DURATION)
		duration_format(v < f->min ? f->min : f->max, lim, sizeof(lim));
	else
		snprintf(lim, sizeof(lim), "%" PRId64, v < f->min ? f->min : f->max);
	(void)response_errorf(rs, "invalid value for %s: must be at %s %s", key,
	                      v < f->min ? "least" : "most", lim);
	return CF_EINVAL;
}

/* The value data gives under key, normalized as f's type: a new reference in
 * *ret. Returns 0, CF_EINVAL with a message in rs, or CF_ENOMEM. */
static int
normalize(const struct field *f, json_t *data, const char *key, json_t **ret, struct response *rs)
{
	const char *s, *bad = NULL;
	json_t *v = NULL;
	int64_t n = 0;
	bool b = false;
	int r;

	switch (f->type) {
	case FIELD_STRING:
		if (jsonx_str(data, key, &s) < 0)
			return invalid(rs, key, "must be a string");
		v = json_incref(json_object_get(data, key));
		break;
	case FIELD_INT:
		if (jsonx_int(data, key, &n) < 0)
			return invalid(rs, key, "must be an integer");
		r = check_range(f, key, n, rs);
		if (r < 0)
			return r;
		v = json_integer(n);
		break;
	case FIELD_DURATION:
		v = json_object_get(data, key);
		if ((f->flags & FIELD_RANGE) && f->min < 0 && json_is_integer(v)) {
			/* a range below 0 gives negative seconds a meaning ("-1: off") */
			n = json_integer_value(v);
			v = NULL;
		} else {
			v = NULL;
			r = jsonx_duration(data, key, &n);
			if (r < 0)
				return invalid(rs, key, duration_strerror(r));
		}
		r = check_range(f, key, n, rs);
		if (r < 0)
			return r;
		v = json_integer(n);
		break;
	case FIELD_BOOL:
		if (jsonx_bool(data, key, &b) < 0)
			return invalid(rs, key, "must be a boolean");
		v = json_boolean(b);
		break;
	case FIELD_STRLIST:
	case FIELD_CIDRS:
		r = jsonx_strlist(data, key, &v);
		if (r == CF_ENOMEM)
			return r;
		if (r < 0)
			return invalid(rs, key, "must be a list of strings");
		if (f->type == FIELD_CIDRS && cidr_list_validate(v, &bad) < 0) {
			(void)response_errorf(rs, "invalid CIDR block in %s: %s", key, bad);
			json_decref(v);
			return CF_EINVAL;
		}
		break;
	case FIELD_POLICIES:
		r = jsonx_policylist(data, key, &v);
		if (r == CF_ENOMEM)
			return r;
		if (r < 0)
			return invalid(rs, key, "must be a list of strings");
		break;
	case FIELD_STRMAP:
		r = jsonx_strmap(data, key, &v);
		if (r == CF_ENOMEM)
			return r;
		if (r < 0)
			return invalid(rs, key, "must be a map");
		break;
	case FIELD_OBJECT:
		v = json_object_get(data, key);
		if (!json_is_object(v))
			return invalid(rs, key, "must be an object");
		v = json_deep_copy(v);
		break;
	case FIELD_CUSTOM: {
		char err[256] = "";
		r = f->parse(json_object_get(data, key), &v, err, sizeof(err));
		if (r == CF_EINVAL) {
			(void)response_errorf(rs, "%s: %s", key, err[0] ? err : "invalid value");
			return r;
		}
		if (r < 0)
			return r;
		break;
	}
	}
	if (!v)
		return CF_ENOMEM;
	*ret = v;
	return 0;
}

/* f's default, normalized: a new reference in *ret (NULL when f has none).
 * A default that does not parse is a bug in the table. */
static int
default_value(const struct field *f, json_t **ret)
{
	struct response rs = {0};
	json_t *holder, *dv;
	int r;

	*ret = NULL;
	if (!f->def)
		return 0;
	if (f->type == FIELD_STRMAP || f->type == FIELD_OBJECT || f->type == FIELD_CUSTOM)
		dv = json_loads(f->def, JSON_DECODE_ANY, NULL);
	else
		dv = json_string(f->def);
	holder = json_object();
	if (!dv || !holder) {
		json_decref(dv);
		json_decref(holder);
		return CF_ENOMEM;
	}
	if (json_object_set_new(holder, f->name, dv) != 0) { /* dv stolen even so */
		json_decref(holder);
		return CF_ENOMEM;
	}
	r = normalize(f, holder, f->name, ret, &rs);
	json_decref(holder);
	response_reset(&rs);
	assert(r != CF_EINVAL);
	return r == CF_EINVAL ? CF_EINTERNAL : r;
}

/* Stores the normalized value v (borrowed) in out's slot for f. A string is
 * borrowed from str, which outlives out's use (the request data or f->def). */
static void
store(const struct field *f, void *out, json_t *v, const char *str)
{
	char *slot = (char *)out + f->offset;

	switch (f->type) {
	case FIELD_STRING:
		*(const char **)(void *)slot = str;
		break;
	case FIELD_INT:
	case FIELD_DURATION:
		*(int64_t *)(void *)slot = json_integer_value(v);
		break;
	case FIELD_BOOL:
		*(bool *)(void *)slot = json_is_true(v);
		break;
	default:
		json_decref(*(json_t **)(void *)slot);
		*(json_t **)(void *)slot = json_incref(v);
		break;
	}
}

static bool
missing(const struct field *f, json_t *data, const char *key)
{
	json_t *v;

	if (!key)
		return true;
	v = json_object_get(data, key);
	return f->type == FIELD_STRING && json_is_string(v) && json_string_length(v) == 0;
}

int
field_parse(const struct field *fields, json_t *data, void *out, struct response *rs)
{
	const struct field *f;
	const char *key;
	json_t *v;
	int r = 0;

	for (f = fields; f->name && r == 0; f++) {
		key = given_key(f, data);
		if ((f->flags & FIELD_REQUIRED) && missing(f, data, key)) {
			if (f->missing)
				(void)response_errorf(rs, "%s", f->missing);
			else
				(void)response_errorf(rs, "missing %s", f->name);
			return CF_EINVAL;
		}
		v = NULL;
		if (key)
			r = normalize(f, data, key, &v, rs);
		else
			r = default_value(f, &v);
		if (r == 0 && v)
			store(f, out, v,
			      f->type != FIELD_STRING ? NULL
			      : key ? json_string_value(json_object_get(data, key))
			            : f->def);
		json_decref(v);
	}
	return r;
}

void
field_free(const struct field *fields, void *out)
{
	for (const struct field *f = fields; f->name; f++) {
		json_t **slot;
		if (!is_json_slot(f->type))
			continue;
		slot = (json_t **)(void *)((char *)out + f->offset);
		json_decref(*slot);
		*slot = NULL;
	}
}

int
field_merge(const struct field *fields, json_t *data, json_t *rec, struct response *rs)
{
	json_t *next = json_object(), *v;
	const char *key;
	int r = next ? 0 : CF_ENOMEM;

	/* Every value first, so a bad one leaves rec as it was. */
	for (const struct field *f = fields; r == 0 && f->name; f++) {
		key = given_key(f, data);
		if (!key)
			continue;
		r = normalize(f, data, key, &v, rs);
		if (r == 0 && json_object_set_new(next, f->name, v) != 0)
			r = CF_ENOMEM;
	}
	if (r == 0 && json_object_update(rec, next) != 0)
		r = CF_ENOMEM;
	json_decref(next);
	return r;
}

int
field_defaults(const struct field *fields, json_t *rec)
{
	json_t *v;
	int r;

	for (const struct field *f = fields; f->name; f++) {
		if (!f->def || json_object_get(rec, f->name))
			continue;
		r = default_value(f, &v);
		if (r < 0)
			return r;
		if (json_object_set_new(rec, f->name, v) != 0)
			return CF_ENOMEM;
	}
	return 0;
}

const struct field *
field_find(const struct field *fields, const char *name)
{
	for (const struct field *f = fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

bool
field_given(const struct field *fields, json_t *data, const char *name)
{
	const struct field *f = field_find(fields, name);

	if (!f)
		return given(data, name);
	return given_key(f, data) != NULL;
}

const char *
field_type_name(enum field_type type)
{
	switch (type) {
	case FIELD_STRING:
		return "string";
	case FIELD_INT:
		return "int";
	case FIELD_BOOL:
		return "bool";
	case FIELD_DURATION:
		return "duration";
	case FIELD_STRLIST:
		return "comma-string-list";
	case FIELD_POLICIES:
		return "policy-list";
	case FIELD_CIDRS:
		return "cidr-list";
	case FIELD_STRMAP:
		return "map";
	case FIELD_OBJECT:
		return "object";
	case FIELD_CUSTOM:
		return "custom";
	}
	return "unknown";
}
