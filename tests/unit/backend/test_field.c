/* test_field.c - field schemas: field_parse into a struct, field_merge into a
 * stored JSON record, defaults, required fields, ranges, wrong types, comma
 * lists, durations, aliases and unknown keys (backend/field.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backend/field.h"
#include "backend/request.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct params {
	const char *name;
	const char *secret;
	int64_t count;
	int64_t ttl;
	bool on;
	json_t *tags;
	json_t *policies;
	json_t *cidrs;
	json_t *meta;
	json_t *obj;
};

/* clang-format off */
static const struct field params_fields[] = {
	{"name", FIELD_STRING, FIELD_REQUIRED, offsetof(struct params, name)},
	{"secret", FIELD_STRING, FIELD_SECRET, offsetof(struct params, secret), .def = ""},
	{"count", FIELD_INT, FIELD_RANGE, offsetof(struct params, count), .def = "3",
	 .min = 0, .max = 10},
	{"ttl", FIELD_DURATION, FIELD_RANGE, offsetof(struct params, ttl), .def = "1h",
	 .min = 0, .max = 86400, .alias = "lease"},
	{"on", FIELD_BOOL, 0, offsetof(struct params, on), .def = "true"},
	{"tags", FIELD_STRLIST, 0, offsetof(struct params, tags)},
	{"policies", FIELD_POLICIES, 0, offsetof(struct params, policies), .def = "default"},
	{"cidrs", FIELD_CIDRS, 0, offsetof(struct params, cidrs)},
	{"meta", FIELD_STRMAP, 0, offsetof(struct params, meta)},
	{"obj", FIELD_OBJECT, FIELD_DEPRECATED, offsetof(struct params, obj), .def = "{}"},
	{NULL},
};
/* clang-format on */

/* The struct as JSON, for comparing with the vectors' expectations. */
static json_t *
params_json(const struct params *p)
{
	return json_pack("{s:s?, s:s?, s:I, s:I, s:b, s:O?, s:O?, s:O?, s:O?, s:O?}", "name",
	                 p->name, "secret", p->secret, "count", (json_int_t)p->count, "ttl",
	                 (json_int_t)p->ttl, "on", p->on, "tags", p->tags, "policies", p->policies,
	                 "cidrs", p->cidrs, "meta", p->meta, "obj", p->obj);
}

#define DEFAULTS                                                                                   \
	"\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":null,"                      \
	"\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}"

/* clang-format off */
static const struct {
	const char *body;
	int r;
	const char *error; /* the one message of a refused body */
	const char *want;  /* params_json of an accepted one */
} parse_vectors[] = {
	/* defaults fill what is not given; unknown keys are ignored, as Vault does */
	{ "{\"name\":\"a\"}", 0, NULL, "{\"name\":\"a\"," DEFAULTS "}" },
	{ "{\"name\":\"a\",\"nonsense\":[1,2],\"NAME\":\"b\"}", 0, NULL, "{\"name\":\"a\"," DEFAULTS "}" },
	/* null is not given */
	{ "{\"name\":\"a\",\"count\":null,\"ttl\":null}", 0, NULL, "{\"name\":\"a\"," DEFAULTS "}" },
	/* required */
	{ "{}", CF_EINVAL, "missing name", NULL },
	{ "{\"name\":\"\"}", CF_EINVAL, "missing name", NULL },
	{ "{\"name\":null}", CF_EINVAL, "missing name", NULL },
	{ "{\"name\":5}", CF_EINVAL, "invalid value for name: must be a string", NULL },
	/* strings: only JSON strings */
	{ "{\"name\":\"a\",\"secret\":true}", CF_EINVAL, "invalid value for secret: must be a string", NULL },
	/* ints: numbers, integral reals, numeric strings, "" */
	{ "{\"name\":\"a\",\"count\":7}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":7,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"count\":\"9\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":9,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"count\":2.0}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":2,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"count\":\"\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":0,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"count\":2.5}", CF_EINVAL, "invalid value for count: must be an integer", NULL },
	{ "{\"name\":\"a\",\"count\":\"seven\"}", CF_EINVAL, "invalid value for count: must be an integer", NULL },
	{ "{\"name\":\"a\",\"count\":[1]}", CF_EINVAL, "invalid value for count: must be an integer", NULL },
	/* ranges */
	{ "{\"name\":\"a\",\"count\":-1}", CF_EINVAL, "count cannot be negative", NULL },
	{ "{\"name\":\"a\",\"count\":11}", CF_EINVAL, "invalid value for count: must be at most 10", NULL },
	{ "{\"name\":\"a\",\"ttl\":\"25h\"}", CF_EINVAL, "invalid value for ttl: must be at most 24h0m0s", NULL },
	/* durations: seconds or Go duration strings; the alias is read when the name is absent */
	{ "{\"name\":\"a\",\"ttl\":\"90m\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":5400,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"ttl\":120}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":120,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"lease\":\"2m\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":120,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"lease\":\"2m\",\"ttl\":\"1m\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":60,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"ttl\":\"forever\"}", CF_EINVAL, "invalid value for ttl: ", NULL },
	{ "{\"name\":\"a\",\"ttl\":-1}", CF_EINVAL, "invalid value for ttl: ", NULL },
	{ "{\"name\":\"a\",\"lease\":\"2200000h\"}", CF_EINVAL, "invalid value for lease: ", NULL },
	/* bools */
	{ "{\"name\":\"a\",\"on\":false}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":false,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"on\":\"false\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":false,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"on\":0}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":false,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"on\":\"maybe\"}", CF_EINVAL, "invalid value for on: must be a boolean", NULL },
	{ "{\"name\":\"a\",\"on\":2}", CF_EINVAL, "invalid value for on: must be a boolean", NULL },
	/* lists: a JSON array or one comma-separated string, trimmed, empties dropped */
	{ "{\"name\":\"a\",\"tags\":\" x, y ,,z\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":[\"x\",\"y\",\"z\"],"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"tags\":[\"b\",\" a\"]}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":[\"b\",\"a\"],"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"tags\":[\"b\",1]}", CF_EINVAL, "invalid value for tags: must be a list of strings", NULL },
	{ "{\"name\":\"a\",\"tags\":{}}", CF_EINVAL, "invalid value for tags: must be a list of strings", NULL },
	/* policy lists: lowercased, de-duplicated, sorted */
	{ "{\"name\":\"a\",\"policies\":\"Web,admin,web\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"admin\",\"web\"],\"cidrs\":null,\"meta\":null,\"obj\":{}}" },
	/* CIDR lists */
	{ "{\"name\":\"a\",\"cidrs\":\"10.0.0.0/8, 127.0.0.1\"}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":[\"10.0.0.0/8\",\"127.0.0.1\"],\"meta\":null,\"obj\":{}}" },
	{ "{\"name\":\"a\",\"cidrs\":[\"10.0.0.0/8\",\"10.0.0.0/99\"]}", CF_EINVAL,
	  "invalid CIDR block in cidrs: 10.0.0.0/99", NULL },
	/* maps: values other than strings become their JSON text */
	{ "{\"name\":\"a\",\"meta\":{\"k\":\"v\",\"n\":1}}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":{\"k\":\"v\",\"n\":\"1\"},\"obj\":{}}" },
	{ "{\"name\":\"a\",\"meta\":\"k=v\"}", CF_EINVAL, "invalid value for meta: must be a map", NULL },
	/* objects: kept as given */
	{ "{\"name\":\"a\",\"obj\":{\"deep\":[1,{\"x\":null}]}}", 0, NULL,
	  "{\"name\":\"a\",\"secret\":\"\",\"count\":3,\"ttl\":3600,\"on\":true,\"tags\":null,"
	  "\"policies\":[\"default\"],\"cidrs\":null,\"meta\":null,\"obj\":{\"deep\":[1,{\"x\":null}]}}" },
	{ "{\"name\":\"a\",\"obj\":[1]}", CF_EINVAL, "invalid value for obj: must be an object", NULL },
};
/* clang-format on */

static void
test_field_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_vectors) / sizeof(parse_vectors[0]); i++) {
		struct params p = {0};
		struct response rs = {0};
		json_t *body = json_loads(parse_vectors[i].body, 0, NULL), *got, *want;
		int r;

		assert_non_null(body);
		r = field_parse(params_fields, body, &p, &rs);
		if (r != parse_vectors[i].r)
			fail_msg("%s: got %d, want %d", parse_vectors[i].body, r,
			         parse_vectors[i].r);
		if (r < 0) {
			const char *msg = json_string_value(json_array_get(rs.errors, 0));
			assert_int_equal(json_array_size(rs.errors), 1);
			if (strncmp(msg, parse_vectors[i].error, strlen(parse_vectors[i].error)) !=
			    0)
				fail_msg("%s: got \"%s\", want \"%s\"", parse_vectors[i].body, msg,
				         parse_vectors[i].error);
		} else {
			assert_null(rs.errors);
			got = params_json(&p);
			want = json_loads(parse_vectors[i].want, 0, NULL);
			assert_non_null(got);
			assert_non_null(want);
			if (!json_equal(got, want)) {
				char *g = json_dumps(got, JSON_SORT_KEYS);
				fail_msg("%s: got %s", parse_vectors[i].body, g);
			}
			json_decref(got);
			json_decref(want);
		}
		field_free(params_fields, &p);
		assert_null(p.tags);
		assert_null(p.obj);
		response_reset(&rs);
		json_decref(body);
	}
}

/* A value the struct already holds stays when the field is absent and has no
 * default; a new one replaces (and releases) it. */
static void
test_field_parse_keeps_and_replaces(void **state)
{
	struct params p = {0};
	struct response rs = {0};
	json_t *body = json_pack("{s:s, s:s}", "name", "a", "meta", "x");
	json_t *old_tags = json_pack("[s]", "kept");

	(void)state;
	p.tags = json_incref(old_tags);
	p.meta = json_object();
	assert_int_equal(field_parse(params_fields, body, &p, &rs), CF_EINVAL);
	/* the refused map left the slot alone */
	assert_true(json_is_object(p.meta));
	response_reset(&rs);
	json_object_set_new(body, "meta", json_pack("{s:s}", "k", "v"));
	assert_int_equal(field_parse(params_fields, body, &p, &rs), 0);
	assert_ptr_equal(p.tags, old_tags); /* absent, no default: kept */
	assert_string_equal(json_string_value(json_object_get(p.meta, "k")), "v");
	/* the string is borrowed from the request data */
	assert_ptr_equal(p.name, json_string_value(json_object_get(body, "name")));
	field_free(params_fields, &p);
	assert_int_equal(old_tags->refcount, 1);
	json_decref(old_tags);
	json_decref(body);
}

/* field_merge: only what the request gives, normalized, under the field's name;
 * a bad value changes nothing. */
static void
test_field_merge(void **state)
{
	struct response rs = {0};
	json_t *rec =
	        json_pack("{s:s, s:I, s:[s]}", "name", "a", "ttl", (json_int_t)60, "tags", "t");
	json_t *body, *want;

	(void)state;
	body = json_pack("{s:s, s:s, s:s, s:s, s:i}", "lease", "2m", "policies", "B,a", "on", "0",
	                 "unknown", "x", "count", 4);
	assert_int_equal(field_merge(params_fields, body, rec, &rs), 0);
	want = json_pack("{s:s, s:I, s:[s], s:[s,s], s:b, s:I}", "name", "a", "ttl",
	                 (json_int_t)120, "tags", "t", "policies", "a", "b", "on", 0, "count",
	                 (json_int_t)4);
	assert_true(json_equal(rec, want));
	json_decref(body);

	/* one bad field among good ones: rec unchanged */
	body = json_pack("{s:i, s:s}", "count", 5, "ttl", "soon");
	assert_int_equal(field_merge(params_fields, body, rec, &rs), CF_EINVAL);
	assert_true(json_equal(rec, want));
	assert_string_equal(
	        json_string_value(json_array_get(rs.errors, 0)),
	        "invalid value for ttl: not a duration: want seconds or a number with a "
	        "unit (s, m, h, d), such as 90 or 1h30m");
	response_reset(&rs);
	json_decref(body);

	/* required fields are not required of an update */
	body = json_object();
	assert_int_equal(field_merge(params_fields, body, rec, &rs), 0);
	assert_true(json_equal(rec, want));
	json_decref(body);
	json_decref(want);
	json_decref(rec);
}

static void
test_field_defaults(void **state)
{
	json_t *rec = json_pack("{s:I}", "count", (json_int_t)9);
	json_t *want =
	        json_pack("{s:I, s:s, s:I, s:b, s:[s], s:{}}", "count", (json_int_t)9, "secret", "",
	                  "ttl", (json_int_t)3600, "on", 1, "policies", "default", "obj");

	(void)state;
	assert_int_equal(field_defaults(params_fields, rec), 0);
	if (!json_equal(rec, want))
		fail_msg("got %s", json_dumps(rec, JSON_SORT_KEYS));
	json_decref(rec);
	json_decref(want);
}

static void
test_field_lookup(void **state)
{
	json_t *body = json_pack("{s:s, s:n, s:s}", "lease", "1m", "tags", "other", "x");

	(void)state;
	assert_non_null(field_find(params_fields, "ttl"));
	assert_null(field_find(params_fields, "lease")); /* an alias is not a field */
	assert_true(field_given(params_fields, body, "ttl"));
	assert_false(field_given(params_fields, body, "tags"));
	assert_false(field_given(params_fields, body, "name"));
	assert_true(field_given(params_fields, body, "other")); /* not in the table: the key */
	assert_string_equal(field_type_name(FIELD_STRLIST), "comma-string-list");
	assert_string_equal(field_type_name(FIELD_DURATION), "duration");
	json_decref(body);
}

/* A duration whose range reaches below 0 takes negative seconds as given (a
 * leeway of -1 turns a check off); strings stay non-negative. */
static void
test_field_duration_negative_range(void **state)
{
	struct {
		int64_t leeway;
	} p = {0};
	static const struct field f[] = {
	        {"leeway", FIELD_DURATION, FIELD_RANGE, 0, .min = -1, .max = 3600},
	        {NULL},
	};
	static const struct {
		const char *body;
		int r;
		int64_t want;
	} v[] = {
	        {"{\"leeway\":-1}", 0, -1},          {"{\"leeway\":\"90s\"}", 0, 90},
	        {"{\"leeway\":-2}", CF_EINVAL, 0},   {"{\"leeway\":\"-1\"}", CF_EINVAL, 0},
	        {"{\"leeway\":3601}", CF_EINVAL, 0}, {"{\"leeway\":\"2h\"}", CF_EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct response rs = {0};
		json_t *body = json_loads(v[i].body, 0, NULL);

		p.leeway = 7;
		assert_int_equal(field_parse(f, body, &p, &rs), v[i].r);
		if (v[i].r == 0)
			assert_int_equal(p.leeway, v[i].want);
		else
			assert_int_equal(json_array_size(rs.errors), 1);
		response_reset(&rs);
		json_decref(body);
	}
}

/* A custom field: the table's parse function reads it; its refusal names the
 * field. */
static int
parse_upper(json_t *val, json_t **ret, char *err, size_t errlen)
{
	const char *s = json_string_value(val);

	if (!s || !*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s)) {
		snprintf(err, errlen, "want capitals");
		return CF_EINVAL;
	}
	*ret = json_incref(val);
	return 0;
}

static void
test_field_custom(void **state)
{
	struct {
		json_t *word;
	} p = {0};
	static const struct field f[] = {
	        {"word", FIELD_CUSTOM, 0, 0, .def = "\"DEF\"", .parse = parse_upper},
	        {NULL},
	};
	struct response rs = {0};
	json_t *body = json_object(), *rec = json_object();

	(void)state;
	assert_int_equal(field_parse(f, body, &p, &rs), 0);
	assert_string_equal(json_string_value(p.word), "DEF");
	json_object_set_new(body, "word", json_string("ABC"));
	assert_int_equal(field_parse(f, body, &p, &rs), 0);
	assert_string_equal(json_string_value(p.word), "ABC");
	json_object_set_new(body, "word", json_string("abc"));
	assert_int_equal(field_merge(f, body, rec, &rs), CF_EINVAL);
	assert_string_equal(json_string_value(json_array_get(rs.errors, 0)), "word: want capitals");
	assert_int_equal(json_object_size(rec), 0);
	field_free(f, &p);
	assert_null(p.word);
	response_reset(&rs);
	json_decref(body);
	json_decref(rec);
}

/* A required field with Vault's own wording for its absence. */
static void
test_field_missing_message(void **state)
{
	struct {
		const char *plaintext;
	} p = {0};
	static const struct field f[] = {
	        {"plaintext", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET, 0,
	         .missing = "missing plaintext to encrypt"},
	        {NULL},
	};
	struct response rs = {0};
	json_t *body = json_object();

	(void)state;
	assert_int_equal(field_parse(f, body, &p, &rs), CF_EINVAL);
	assert_string_equal(json_string_value(json_array_get(rs.errors, 0)),
	                    "missing plaintext to encrypt");
	response_reset(&rs);
	json_decref(body);
}

static void
test_field_route_handler(void **state)
{
	static const struct route rows[] = {
	        {"a", .read = (handler_fn)1, .write = (handler_fn)2, .delete = (handler_fn)3},
	        {"b", R_SEALED_OK, .head = (handler_fn)4},
	};

	(void)state;
	assert_ptr_equal(route_handler(&rows[0], OP_READ), (handler_fn)1);
	assert_ptr_equal(route_handler(&rows[0], OP_CREATE), (handler_fn)2);
	assert_ptr_equal(route_handler(&rows[0], OP_UPDATE), (handler_fn)2);
	assert_ptr_equal(route_handler(&rows[0], OP_DELETE), (handler_fn)3);
	assert_null(route_handler(&rows[0], OP_LIST));
	assert_null(route_handler(&rows[0], OP_PATCH));
	assert_int_equal(route_ops(&rows[0]), OP_READ | OP_WRITE | OP_DELETE);
	/* flags come second; HEAD has a handler of its own (sys/health) */
	assert_ptr_equal(route_handler(&rows[1], OP_HEAD), (handler_fn)4);
	assert_null(route_handler(&rows[1], OP_READ));
	assert_int_equal(route_ops(&rows[1]), OP_HEAD);
}

static void
test_field_response_keys(void **state)
{
	struct response rs = {0};

	(void)state;
	assert_int_equal(response_keys(&rs, json_array()), CF_ENOTFOUND);
	assert_null(rs.data);
	assert_int_equal(response_keys(&rs, json_pack("[s,s]", "a", "b/")), 0);
	assert_int_equal(json_array_size(json_object_get(rs.data, "keys")), 2);
	response_reset(&rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_field_parse_vectors),
	        cmocka_unit_test(test_field_parse_keeps_and_replaces),
	        cmocka_unit_test(test_field_merge),
	        cmocka_unit_test(test_field_defaults),
	        cmocka_unit_test(test_field_lookup),
	        cmocka_unit_test(test_field_duration_negative_range),
	        cmocka_unit_test(test_field_custom),
	        cmocka_unit_test(test_field_missing_message),
	        cmocka_unit_test(test_field_route_handler),
	        cmocka_unit_test(test_field_response_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
