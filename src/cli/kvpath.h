/* kvpath.h - KV path arithmetic for `coffer kv`: which mount a path is on, its KV
 * version, and the API path of an operation (Vault's KV API). Pure functions. */
#ifndef CF_CLI_KVPATH_H
#define CF_CLI_KVPATH_H

#include <jansson.h>
#include <stdbool.h>

/* Normalizes a user path: drops leading '/', collapses "//", drops a trailing '/'
 * unless keep_trailing (then exactly one is kept when there was one). Returns a
 * new string, or NULL on OOM. */
char *kvpath_clean(const char *path, bool keep_trailing);

/* Finds the mount of path in a GET sys/mounts answer (its "data" object, or the
 * top-level copy): the longest mount path ("secret/") that prefixes path + "/".
 * Returns 0 with a new string in *ret_mount (ends in '/') and *ret_version (2 when
 * options.version is "2" or 2, else 1), or CF_ENOTFOUND / CF_ENOMEM. */
int kvpath_mount_lookup(const json_t *mounts, const char *path, char **ret_mount, int *ret_version);

/* The path below the mount: path without the mount prefix (may be ""). Borrowed
 * from path; mount must prefix path + "/". */
const char *kvpath_rest(const char *mount, const char *path);

/* "<mount><verb>/<rest>" ("secret/data/app/db"); "<mount><verb>" when rest is ""
 * and verb is non-empty; "<mount><rest>" when verb is "" (KV v1). Returns a new
 * string or NULL on OOM. */
char *kvpath_join(const char *mount, const char *verb, const char *rest);

#endif
