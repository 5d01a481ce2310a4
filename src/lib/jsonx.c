/* jsonx.c - weakly typed request parameter getters and the zeroing allocator. */
#include "lib/jsonx.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <ctype.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request bodies carry secrets: every buffer jansson frees is wiped first.
 * Plain malloc underneath, so strings from json_dumps() may be given to free(). */
static void
zfree(void *ptr)
{
	if (!ptr)
		return;
	secmem_free(ptr, malloc_usable_size(ptr));
}

void
jsonx_init(void)
{
	json_set_alloc_funcs(malloc, zfree);
}

static json_t *
get(json_t *obj, const char *key)
{
	json_t *v;
	if (!obj || !json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return NULL;
	return v;
}

int
jsonx_str(json_t *obj, const char *key, const char **ret)
{
	json_t *v = get(obj, key);
	if (!v)
		return CF_ENOTFOUND;
	if (!json_is_string(v))
		return CF_EINVAL;
	*ret = json_string_value(v);
	return 0;
}

int
jsonx_int(json_t *obj, const char *key, int64_t *ret)
{
	json_t *v = get(obj, key);
	if (!v)
		return CF_ENOTFOUND;
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != (double)(int64_t)d)
			return CF_EINVAL;
		*ret = (int64_t)d;
		return 0;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) == 0) {
			*ret = 0;
			return 0;
		}
		return util_parse_int(json_string_value(v), ret);
	}
	return CF_EINVAL;
}

int
jsonx_bool(json_t *obj, const char *key, bool *ret)
{
	json_t *v = get(obj, key);
	if (!v)
		return CF_ENOTFOUND;
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*ret = json_integer_value(v) == 1;
		return 0;
	}
	if (json_is_string(v))
		return util_parse_bool(json_string_value(v), ret);
	return CF_EINVAL;
}

int
jsonx_duration(json_t *obj, const char *key, int64_t *ret_secs)
{
	json_t *v = get(obj, key);
	int r;

	if (!v)
		return CF_ENOTFOUND;
	if (json_is_integer(v)) {
		r = duration_check(json_integer_value(v));
		if (r < 0)
			return r;
		*ret_secs = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* NaN fails both comparisons; the range test precedes the cast,
		 * which would be undefined for a value beyond int64. */
		if (!(d >= 0))
			return CF_EINVAL;
		if (!(d < (double)DURATION_MAX_SECS + 1))
			return CF_ERANGE;
		*ret_secs = (int64_t)d;
		return 0;
	}
	if (json_is_string(v))
		return duration_parse(json_string_value(v), ret_secs);
	return CF_EINVAL;
}

static int
append_trimmed(json_t *arr, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return 0;
	return json_array_append_new(arr, json_stringn(s, n)) == 0 ? 0 : CF_ENOMEM;
}

int
jsonx_strlist(json_t *obj, const char *key, json_t **ret)
{
	json_t *v = get(obj, key), *arr, *item;
	size_t i;
	int r = 0;

	if (!v)
		return CF_ENOTFOUND;
	arr = json_array();
	if (!arr)
		return CF_ENOMEM;
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *c;
		while ((c = strchr(s, ',')) != NULL && r == 0) {
			r = append_trimmed(arr, s, (size_t)(c - s));
			s = c + 1;
		}
		if (r == 0)
			r = append_trimmed(arr, s, strlen(s));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item)) {
				r = CF_EINVAL;
				break;
			}
			r = append_trimmed(arr, json_string_value(item), json_string_length(item));
			if (r < 0)
				break;
		}
	} else {
		r = CF_EINVAL;
	}
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
jsonx_policies_normalize(json_t *arr)
{
	size_t n = json_array_size(arr), i, k = 0;
	char **v = calloc(n + 1, sizeof(char *));
	json_t *out = json_array(), *item;

	if (!v || !out)
		goto fail;
	json_array_foreach(arr, i, item)
	{
		const char *s = json_string_value(item);
		size_t len;
		if (!s)
			continue;
		while (isspace((unsigned char)*s))
			s++;
		len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0)
			continue;
		v[k] = strndup(s, len);
		if (!v[k])
			goto fail;
		for (char *p = v[k]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		k++;
	}
	qsort(v, k, sizeof(char *), cmp_str);
	for (i = 0; i < k; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (json_array_append_new(out, json_string(v[i])) != 0)
			goto fail;
	}
	for (i = 0; i < k; i++)
		free(v[i]);
	free(v);
	return out;
fail:
	if (v)
		for (i = 0; i < k; i++)
			free(v[i]);
	free(v);
	json_decref(out);
	return NULL;
}

int
jsonx_policylist(json_t *obj, const char *key, json_t **ret)
{
	json_t *raw, *norm;
	int r = jsonx_strlist(obj, key, &raw);
	if (r < 0)
		return r;
	norm = jsonx_policies_normalize(raw);
	json_decref(raw);
	if (!norm)
		return CF_ENOMEM;
	*ret = norm;
	return 0;
}

int
jsonx_strmap(json_t *obj, const char *key, json_t **ret)
{
	json_t *v = get(obj, key), *out, *val;
	const char *k;

	if (!v)
		return CF_ENOTFOUND;
	if (!json_is_object(v))
		return CF_EINVAL;
	out = json_object();
	if (!out)
		return CF_ENOMEM;
	json_object_foreach(v, k, val)
	{
		json_t *s;
		if (json_is_string(val)) {
			s = json_copy(val);
		} else {
			char *txt = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
			s = txt ? json_string(txt) : NULL;
			free(txt);
		}
		if (!s || json_object_set_new(out, k, s) != 0) {
			json_decref(out);
			return CF_ENOMEM;
		}
	}
	*ret = out;
	return 0;
}

bool
jsonx_array_has(json_t *arr, const char *s)
{
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item)
	{
		if (json_is_string(item) && strcmp(json_string_value(item), s) == 0)
			return true;
	}
	return false;
}
