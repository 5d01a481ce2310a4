/* kvpath.c - KV path arithmetic (see kvpath.h). */
#include "cli/kvpath.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
kvpath_clean(const char *path, bool keep_trailing)
{
	size_t n = strlen(path), o = 0, i;
	bool trailing;
	char *out;

	out = malloc(n + 1);
	if (!out)
		return NULL;
	while (*path == '/')
		path++;
	n = strlen(path);
	trailing = n > 0 && path[n - 1] == '/';
	for (i = 0; i < n; i++) {
		if (path[i] == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = path[i];
	}
	while (o > 0 && out[o - 1] == '/')
		o--;
	if (keep_trailing && trailing && o > 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

static int
version_of(const json_t *m)
{
	json_t *v = json_object_get(json_object_get(m, "options"), "version");

	if (json_is_string(v) && strcmp(json_string_value(v), "2") == 0)
		return 2;
	if (json_is_integer(v) && json_integer_value(v) == 2)
		return 2;
	return 1;
}

int
kvpath_mount_lookup(const json_t *mounts, const char *path, char **ret_mount, int *ret_version)
{
	void *it;
	json_t *data = json_object_get(mounts, "data"), *m, *best = NULL;
	const char *key, *best_key = NULL;
	size_t plen = strlen(path), klen, best_len = 0;
	char *mount;

	if (!json_is_object(data))
		data = (json_t *)mounts;
	for (it = json_object_iter(data); it; it = json_object_iter_next(data, it)) {
		key = json_object_iter_key(it);
		m = json_object_iter_value(it);
		klen = strlen(key);
		if (!json_is_object(m) || klen == 0 || key[klen - 1] != '/')
			continue;
		/* key "secret/" matches "secret", "secret/" and "secret/x". */
		if (plen + 1 < klen || strncmp(path, key, klen - 1) != 0)
			continue;
		if (path[klen - 1] != '/' && path[klen - 1] != '\0')
			continue;
		if (klen > best_len) {
			best = m;
			best_key = key;
			best_len = klen;
		}
	}
	if (!best)
		return CF_ENOTFOUND;
	mount = strdup(best_key);
	if (!mount)
		return CF_ENOMEM;
	*ret_mount = mount;
	*ret_version = version_of(best);
	return 0;
}

const char *
kvpath_rest(const char *mount, const char *path)
{
	size_t n = strlen(mount);

	if (strlen(path) < n)
		return "";
	return path + n;
}

char *
kvpath_join(const char *mount, const char *verb, const char *rest)
{
	size_t n = strlen(mount) + strlen(verb) + strlen(rest) + 2;
	char *out = malloc(n);

	if (!out)
		return NULL;
	if (*verb && *rest)
		snprintf(out, n, "%s%s/%s", mount, verb, rest);
	else
		snprintf(out, n, "%s%s%s", mount, verb, rest);
	return out;
}
