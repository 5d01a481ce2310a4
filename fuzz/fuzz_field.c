/* fuzz_field.c - field_parse and field_merge (backend/field.h) over any JSON body:
 * never crash or leak, and
 * - a refusal is CF_EINVAL with exactly one message (or CF_ENOMEM);
 * - what field_parse accepts has each value of its field's type, within range;
 * - what field_merge stores is normalized: merging the record into a copy of
 *   itself changes nothing (the round trip). */
#include "backend/field.h"
#include "backend/request.h"
#include "lib/err.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct all {
	const char *s, *req;
	int64_t i, d, lee;
	bool b;
	json_t *list, *pol, *cidrs, *map, *obj, *cust;
};

/* A custom field: an array of at most 3 numbers, kept as given. */
static int
parse_nums(json_t *val, json_t **ret, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(val) || json_array_size(val) > 3) {
		snprintf(err, errlen, "want up to 3 numbers");
		return CF_EINVAL;
	}
	json_array_foreach(val, i, v)
	{
		if (!json_is_number(v)) {
			snprintf(err, errlen, "want numbers");
			return CF_EINVAL;
		}
	}
	*ret = json_incref(val);
	return 0;
}

static const struct field all_fields[] = {
        {"s", FIELD_STRING, FIELD_SECRET, offsetof(struct all, s), .def = "x"},
        {"req", FIELD_STRING, FIELD_REQUIRED, offsetof(struct all, req)},
        {"i", FIELD_INT, FIELD_RANGE, offsetof(struct all, i), .min = -5, .max = 1000},
        {"d", FIELD_DURATION, 0, offsetof(struct all, d), .def = "1h", .alias = "lease"},
        {"b", FIELD_BOOL, 0, offsetof(struct all, b), .def = "false"},
        {"list", FIELD_STRLIST, 0, offsetof(struct all, list), .def = "a,b"},
        {"pol", FIELD_POLICIES, 0, offsetof(struct all, pol)},
        {"cidrs", FIELD_CIDRS, 0, offsetof(struct all, cidrs)},
        {"map", FIELD_STRMAP, 0, offsetof(struct all, map)},
        {"obj", FIELD_OBJECT, 0, offsetof(struct all, obj), .def = "{\"k\":1}"},
        {"lee", FIELD_DURATION, FIELD_RANGE, offsetof(struct all, lee), .min = -1, .max = 86400},
        {"cust", FIELD_CUSTOM, 0, offsetof(struct all, cust), .parse = parse_nums},
        {NULL},
};

static void
check_strings(json_t *arr)
{
	size_t i;
	json_t *v;

	assert(json_is_array(arr));
	json_array_foreach(arr, i, v) assert(json_is_string(v) && json_string_length(v) > 0);
}

static void
check_parsed(const struct all *a)
{
	const char *k;
	json_t *v;

	assert(a->s && a->req && *a->req);
	assert(a->i >= -5 && a->i <= 1000);
	assert(a->d >= 0);
	check_strings(a->list);
	if (a->pol)
		check_strings(a->pol);
	if (a->cidrs)
		check_strings(a->cidrs);
	if (a->map) {
		assert(json_is_object(a->map));
		json_object_foreach(a->map, k, v) assert(json_is_string(v));
	}
	assert(json_is_object(a->obj));
	assert(a->lee >= -1 && a->lee <= 86400);
	assert(!a->cust || (json_is_array(a->cust) && json_array_size(a->cust) <= 3));
}

static void
check_refusal(int r, struct response *rs)
{
	assert(r == CF_EINVAL || r == CF_ENOMEM);
	assert(r != CF_EINVAL || json_array_size(rs->errors) == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct all a = {0};
	struct response rs = {0};
	json_t *body = json_loadb((const char *)data, size,
	                          JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	json_t *rec = NULL, *again = NULL;
	int r;

	if (!body)
		return 0;
	r = field_parse(all_fields, body, &a, &rs);
	if (r == 0)
		check_parsed(&a);
	else
		check_refusal(r, &rs);
	field_free(all_fields, &a);
	response_reset(&rs);

	rec = json_object();
	r = rec ? field_merge(all_fields, body, rec, &rs) : CF_ENOMEM;
	if (r == 0) {
		/* normalized values read back as themselves */
		again = json_deep_copy(rec);
		if (again) {
			r = field_merge(all_fields, rec, again, &rs);
			assert(r == 0 || r == CF_ENOMEM);
			assert(r != 0 || json_equal(rec, again));
		}
	} else {
		check_refusal(r, &rs);
		assert(!rec || json_object_size(rec) == 0);
	}
	json_decref(again);
	json_decref(rec);
	response_reset(&rs);
	json_decref(body);
	return 0;
}
