/* output.c - table and JSON printing for the CLI (see output.h). */
#include "cli/output.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
output_json(const json_t *v)
{
	if (!v)
		return;
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
		fputc('\n', stdout);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted. Returns a new array of borrowed strings (count in *n). */
static const char **
sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys;
	size_t i = 0;
	void *it;

	keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
	if (!keys)
		cli_oom();
	for (it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it))
		keys[i++] = json_object_iter_key(it);
	qsort(keys, i, sizeof(*keys), cmp_str);
	*n = i;
	return keys;
}

/* The longest value output_value formats: far past any answer the client
 * accepts (CLIENT_MAX_BODY), so only a runaway would meet it. */
#define OUTPUT_VALUE_MAX (256u << 20)

/* Dies on a failed append, as the CLI does when memory runs out. */
static void
put_check(int r)
{
	if (r < 0)
		cli_oom();
}

static void
format_value(struct buf *b, const json_t *v, int depth)
{
	const char **keys;
	size_t i, n;
	json_t *e;

	switch (json_typeof(v)) {
	case JSON_STRING:
		put_check(buf_append(b, json_string_value(v), json_string_length(v)));
		break;
	case JSON_INTEGER:
		put_check(buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
		break;
	case JSON_REAL:
		put_check(buf_printf(b, "%g", json_real_value(v)));
		break;
	case JSON_TRUE:
		put_check(buf_append_str(b, "true"));
		break;
	case JSON_FALSE:
		put_check(buf_append_str(b, "false"));
		break;
	case JSON_NULL:
		put_check(buf_append_str(b, depth == 0 ? "n/a" : "<nil>"));
		break;
	case JSON_ARRAY:
		put_check(buf_append_char(b, '['));
		for (i = 0; i < json_array_size((json_t *)v); i++) {
			e = json_array_get((json_t *)v, i);
			if (i > 0)
				put_check(buf_append_char(b, ' '));
			format_value(b, e, depth + 1);
		}
		put_check(buf_append_char(b, ']'));
		break;
	case JSON_OBJECT:
		put_check(buf_append_str(b, "map["));
		keys = sorted_keys(v, &n);
		for (i = 0; i < n; i++) {
			if (i > 0)
				put_check(buf_append_char(b, ' '));
			put_check(buf_printf(b, "%s:", keys[i]));
			format_value(b, json_object_get(v, keys[i]), depth + 1);
		}
		free(keys); /* not secret: JSON key names */
		put_check(buf_append_char(b, ']'));
		break;
	}
}

char *
output_value(const json_t *v)
{
	struct buf b = BUF_INIT(OUTPUT_VALUE_MAX, BUF_SECRET); /* values may be secrets */
	char *s;

	if (v)
		format_value(&b, v, 0);
	else
		put_check(buf_append_str(&b, "n/a"));
	put_check(buf_detach(&b, &s, NULL));
	buf_free(&b);
	return s;
}

const char **
output_mount_keys(const json_t *data, size_t *ret_n)
{
	const char **keys, *key;
	size_t i, all, n = 0, kl;

	keys = sorted_keys(data, &all);
	for (i = 0; i < all; i++) {
		key = keys[i];
		kl = strlen(key);
		if (json_is_object(json_object_get(data, key)) && kl > 0 && key[kl - 1] == '/')
			keys[n++] = key;
	}
	*ret_n = n;
	return keys;
}

static void
add_value(struct table *t, const char *key, const json_t *v, unsigned flags)
{
	char *s;

	if ((flags & OUTPUT_NA_EMPTY) && json_is_string(v) && json_string_length(v) == 0) {
		table_add_kv(t, key, "n/a");
		return;
	}
	s = output_value(v);
	table_add_kv(t, key, s);
	secmem_free_str(s);
}

static const char *const kv_headers[] = {"Key", "Value"};

void
output_kv(const json_t *obj, unsigned flags)
{
	struct table *t;
	const char **keys;
	size_t i, n;

	if (!json_is_object(obj))
		return;
	t = table_new(2, kv_headers);
	keys = sorted_keys(obj, &n);
	for (i = 0; i < n; i++)
		add_value(t, keys[i], json_object_get(obj, keys[i]), flags);
	free(keys); /* not secret: JSON key names */
	table_print(t, stdout);
	table_free(t);
}

void
output_header(const char *title)
{
	printf("====== %s ======\n", title);
}

void
output_keys(const json_t *resp)
{
	json_t *data = json_object_get(resp, "data"), *keys, *k;
	size_t i;

	keys = json_object_get(json_is_object(data) ? data : resp, "keys");
	if (!json_is_array(keys))
		return;
	puts("Keys");
	puts("----");
	for (i = 0; i < json_array_size(keys); i++) {
		k = json_array_get(keys, i);
		if (json_is_string(k))
			puts(json_string_value(k));
	}
}

void
output_warnings(const json_t *resp)
{
	json_t *w = json_object_get(resp, "warnings"), *e;
	size_t i;

	if (!json_is_array(w) || json_array_size(w) == 0)
		return;
	fputs("WARNING! The following warnings were returned from the server:\n\n", stderr);
	for (i = 0; i < json_array_size(w); i++) {
		e = json_array_get(w, i);
		if (json_is_string(e))
			fprintf(stderr, "  * %s\n\n", json_string_value(e));
	}
}

void
output_duration(int64_t secs, char *buf, size_t len)
{
	int64_t h, m, s;
	char tmp[64];
	size_t n;

	if (secs == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (secs < 0) {
		snprintf(buf, len, "%" PRId64 "s", secs);
		return;
	}
	h = secs / 3600;
	m = (secs % 3600) / 60;
	s = secs % 60;
	/* Go's Duration.String(), then Vault's humanDuration trims "0m0s"/"0s". */
	if (h > 0)
		snprintf(tmp, sizeof(tmp), "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s);
	else if (m > 0)
		snprintf(tmp, sizeof(tmp), "%" PRId64 "m%" PRId64 "s", m, s);
	else
		snprintf(tmp, sizeof(tmp), "%" PRId64 "s", s);
	n = strlen(tmp);
	if (n > 3 && strcmp(tmp + n - 3, "m0s") == 0)
		tmp[n - 2] = '\0';
	if (h > 0 && m == 0) {
		char *p = strstr(tmp, "h0m");
		if (p)
			memmove(p + 1, p + 3, strlen(p + 3) + 1);
	}
	snprintf(buf, len, "%s", tmp);
}

static json_t *
dur_value(const json_t *v, bool zero_is_forever)
{
	char d[64];

	if (!json_is_integer(v))
		return json_deep_copy(v);
	if (json_integer_value(v) == 0 && zero_is_forever)
		return json_string("∞");
	output_duration(json_integer_value(v), d, sizeof(d));
	return json_string(d);
}

static void
set_copy(json_t *dst, const char *key, const json_t *v)
{
	json_t *c = v ? json_deep_copy(v) : json_null();

	if (!c || json_object_set_new(dst, key, c) < 0)
		cli_oom();
}

json_t *
output_auth_fields(const json_t *auth)
{
	json_t *out = json_object(), *meta, *v;
	const char **keys;
	char name[512];
	size_t i, n;

	if (!out)
		cli_oom();
	set_copy(out, "token", json_object_get(auth, "client_token"));
	set_copy(out, "token_accessor", json_object_get(auth, "accessor"));
	v = dur_value(json_object_get(auth, "lease_duration"), true);
	if (!v || json_object_set_new(out, "token_duration", v) < 0)
		cli_oom();
	set_copy(out, "token_renewable", json_object_get(auth, "renewable"));
	set_copy(out, "token_policies", json_object_get(auth, "token_policies"));
	set_copy(out, "identity_policies", json_object_get(auth, "identity_policies"));
	set_copy(out, "policies", json_object_get(auth, "policies"));
	meta = json_object_get(auth, "metadata");
	if (json_is_object(meta)) {
		keys = sorted_keys(meta, &n);
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "token_meta_%s", keys[i]);
			set_copy(out, name, json_object_get(meta, keys[i]));
		}
		free(keys); /* not secret: JSON key names */
	}
	return out;
}

/* Prints an object in insertion order. */
static void
output_ordered(const json_t *obj)
{
	void *it;
	struct table *t = table_new(2, kv_headers);
	const char *k;
	json_t *v;

	for (it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it)) {
		k = json_object_iter_key(it);
		v = json_object_iter_value(it);
		add_value(t, k, v, 0);
	}
	table_print(t, stdout);
	table_free(t);
}

void
output_secret(const json_t *resp)
{
	json_t *auth = json_object_get(resp, "auth"), *data, *fields, *v;
	const char *lease_id;
	struct table *t;
	const char **keys;
	char d[64];
	size_t i, n;
	int64_t ld;

	output_warnings(resp);
	if (json_is_object(auth)) {
		fields = output_auth_fields(auth);
		output_ordered(fields);
		json_decref(fields);
		return;
	}
	t = table_new(2, kv_headers);
	lease_id = json_string_value(json_object_get(resp, "lease_id"));
	ld = json_integer_value(json_object_get(resp, "lease_duration"));
	output_duration(ld, d, sizeof(d));
	if (lease_id && *lease_id) {
		table_add_kv(t, "lease_id", lease_id);
		table_add_kv(t, "lease_duration", d);
		v = json_object_get(resp, "renewable");
		table_add_kv(t, "lease_renewable", json_is_true(v) ? "true" : "false");
	} else if (ld > 0) {
		table_add_kv(t, "refresh_interval", d);
	}
	data = json_object_get(resp, "data");
	if (json_is_object(data)) {
		keys = sorted_keys(data, &n);
		for (i = 0; i < n; i++)
			add_value(t, keys[i], json_object_get(data, keys[i]), 0);
		free(keys); /* not secret: JSON key names */
	}
	if (table_rows(t) > 0)
		table_print(t, stdout);
	table_free(t);
}

int
output_field(const json_t *obj, const char *field)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, field) : NULL;
	char *s;

	if (!v)
		return CF_ENOTFOUND;
	if (json_is_string(v))
		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
	else {
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			cli_oom();
		fputs(s, stdout);
		secmem_free_str(s);
	}
	if (isatty(STDOUT_FILENO))
		fputc('\n', stdout);
	return 0;
}
