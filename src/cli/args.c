/* args.c - operands to request bodies (see args.h). */
#include "cli/args.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
args_read_stream(FILE *f, const char *name, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(ARGS_MAX_FILE, BUF_SECRET); /* values may be secret */
	char chunk[4096];
	size_t n;
	int r = 0;

	for (;;) {
		n = fread(chunk, 1, sizeof(chunk), f);
		if (n == 0)
			break;
		r = buf_append(&b, chunk, n);
		if (r < 0)
			break;
	}
	secmem_wipe(chunk, sizeof(chunk));
	if (r == CF_ETOOBIG) {
		snprintf(err, errlen, "%s: larger than %u bytes", name, ARGS_MAX_FILE);
		goto out;
	}
	if (r < 0)
		goto out;
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		r = CF_EIO;
		goto out;
	}
	r = buf_detach(&b, ret, ret_len);
out:
	buf_free(&b);
	return r;
}

int
args_read_file(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	FILE *f;
	int r;

	if (strcmp(path, "-") == 0)
		return args_read_stream(stdin, "stdin", ret, ret_len, err, errlen);
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return CF_EIO;
	}
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer keeps a copy of a secret */
	r = args_read_stream(f, path, ret, ret_len, err, errlen);
	fclose(f);
	return r;
}

/* Adds key=v to obj; a repeated key turns into an array of all its values. */
static int
add_value(json_t *obj, const char *key, json_t *v)
{
	json_t *old = json_object_get(obj, key), *arr;

	if (!old)
		return json_object_set_new(obj, key, v) < 0 ? CF_ENOMEM : 0;
	if (json_is_array(old))
		return json_array_append_new(old, v) < 0 ? CF_ENOMEM : 0;
	arr = json_array();
	if (!arr || json_array_append(arr, old) < 0) {
		json_decref(v);
		json_decref(arr);
		return CF_ENOMEM;
	}
	if (json_array_append_new(arr, v) < 0) {
		json_decref(arr);
		return CF_ENOMEM;
	}
	return json_object_set_new(obj, key, arr) < 0 ? CF_ENOMEM : 0;
}

/* Reads a JSON object from src (a path or "-") and merges it into obj. */
static int
merge_json(json_t *obj, const char *src, FILE *in, char *err, size_t errlen)
{
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int r;

	if (strcmp(src, "-") == 0)
		r = args_read_stream(in, "stdin", &text, &len, err, errlen);
	else
		r = args_read_file(src, &text, &len, err, errlen);
	if (r < 0)
		return r;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		snprintf(err, errlen, "%s: not a JSON object%s%s",
		         strcmp(src, "-") == 0 ? "stdin" : src, j ? "" : ": ", j ? "" : jerr.text);
		r = CF_EINVAL;
		goto out;
	}
	if (json_object_update(obj, j) < 0)
		r = CF_ENOMEM;
out:
	json_decref(j);
	secmem_free(text, len);
	return r;
}

int
args_parse_kv(int argc, char *const *argv, FILE *in, json_t **ret, char *err, size_t errlen)
{
	bool used_stdin = false;
	json_t *obj;
	int i, r = 0;

	obj = json_object();
	if (!obj)
		return CF_ENOMEM;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *val;
		char *key = NULL, *text = NULL;
		size_t len = 0;
		json_t *v;

		if (!eq) {
			if (strcmp(a, "-") != 0 && a[0] != '@') {
				snprintf(err, errlen, "expected key=value, got \"%s\"", a);
				r = CF_EINVAL;
				goto out;
			}
			if (strcmp(a, "-") == 0) {
				if (used_stdin) {
					snprintf(err, errlen, "stdin can be read only once");
					r = CF_EINVAL;
					goto out;
				}
				used_stdin = true;
				r = merge_json(obj, a, in, err, errlen);
			} else {
				r = merge_json(obj, a + 1, in, err, errlen);
			}
			if (r < 0)
				goto out;
			continue;
		}
		if (eq == a) {
			snprintf(err, errlen, "empty key in \"%s\"", a);
			r = CF_EINVAL;
			goto out;
		}
		key = strndup(a, (size_t)(eq - a));
		if (!key) {
			r = CF_ENOMEM;
			goto out;
		}
		val = eq + 1;
		if (strcmp(val, "-") == 0) {
			if (used_stdin) {
				snprintf(err, errlen, "stdin can be read only once");
				free(key); /* not secret: the name of a KEY=VALUE operand */
				r = CF_EINVAL;
				goto out;
			}
			used_stdin = true;
			r = args_read_stream(in, "stdin", &text, &len, err, errlen);
		} else if (val[0] == '@') {
			r = args_read_file(val + 1, &text, &len, err, errlen);
		}
		if (r < 0) {
			free(key); /* not secret: the name of a KEY=VALUE operand */
			goto out;
		}
		v = text ? json_stringn(text, len) : json_string(val);
		secmem_free(text, len);
		if (!v) {
			snprintf(err, errlen, "value of %s is not valid UTF-8", key);
			free(key); /* not secret: the name of a KEY=VALUE operand */
			r = CF_EINVAL;
			goto out;
		}
		r = add_value(obj, key, v);
		free(key); /* not secret: the name of a KEY=VALUE operand */
		if (r < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	*ret = obj;
	return 0;
out:
	json_decref(obj);
	return r;
}

int
args_set_pair(json_t *obj, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char *key;
	json_t *v;
	int r;

	if (!eq || eq == pair)
		return CF_EINVAL;
	key = strndup(pair, (size_t)(eq - pair));
	if (!key)
		return CF_ENOMEM;
	v = json_string(eq + 1);
	if (!v) {
		free(key);        /* not secret: the name of a KEY=VALUE operand */
		return CF_EINVAL; /* not UTF-8 */
	}
	r = json_object_set_new(obj, key, v) < 0 ? CF_ENOMEM : 0;
	free(key); /* not secret: the name of a KEY=VALUE operand */
	return r;
}

int
args_parse_uint(const char *s, long long *ret)
{
	int64_t v;
	const char *p;

	if (!s || !*s)
		return CF_EINVAL;
	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return CF_EINVAL;
	if (util_parse_int(s, &v) < 0)
		return CF_EINVAL;
	*ret = (long long)v;
	return 0;
}

int
args_parse_versions(const char *s, json_t **ret)
{
	json_t *arr = json_array();
	const char *p = s, *end;
	char item[32];
	long long v;
	size_t n;

	if (!arr)
		return CF_ENOMEM;
	for (;;) {
		while (*p == ' ')
			p++;
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 0 || n >= sizeof(item))
			goto fail;
		memcpy(item, p, n);
		item[n] = '\0';
		if (args_parse_uint(item, &v) < 0 || v <= 0)
			goto fail;
		if (json_array_append_new(arr, json_integer(v)) < 0)
			goto fail;
		if (!end)
			break;
		p = end + 1;
	}
	*ret = arr;
	return 0;
fail:
	json_decref(arr);
	return CF_EINVAL;
}

int
args_parse_bool(const char *s, bool *ret)
{
	return util_parse_bool(s, ret);
}
