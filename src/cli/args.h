/* args.h - pure helpers that turn command-line operands into request bodies.
 * No I/O except reading the files and stdin the operands name. */
#ifndef CF_CLI_ARGS_H
#define CF_CLI_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Largest file or stdin accepted for a value (the server's body cap). */
#define ARGS_MAX_FILE (32u * 1024 * 1024)

/* Reads all of path ("-" = stdin) into a new NUL-terminated buffer. Returns 0 with
 * *ret (wipe and free it) and *ret_len, or CF_EIO / CF_ETOOBIG / CF_ENOMEM with a
 * message in err. */
int args_read_file(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen);
/* Same, from an open stream (name is only for messages). */
int args_read_stream(FILE *f, const char *name, char **ret, size_t *ret_len, char *err,
                     size_t errlen);

/* Builds a JSON object from operands as `vault write` does (Vault's kvbuilder):
 *   key=value   a string value
 *   key=@FILE   the contents of FILE
 *   key=-       all of stdin
 *   @FILE       a JSON object read from FILE, merged in
 *   -           a JSON object read from stdin, merged in
 * A key given twice becomes an array of its values. stdin may be used once.
 * in is where "-" reads from (stdin in the CLI). Returns 0 with a new object in
 * *ret, or CF_EINVAL / CF_EIO with a message in err. */
int args_parse_kv(int argc, char *const *argv, FILE *in, json_t **ret, char *err, size_t errlen);

/* Sets obj[key] = value for one "key=value" flag value (--metadata=k=v); the
 * last one given wins. Returns 0 or CF_EINVAL (no '=', empty key) / CF_ENOMEM. */
int args_set_pair(json_t *obj, const char *pair);

/* Parses "1,2,3" (spaces allowed around items) into a new JSON array of positive
 * integers. Returns 0 or CF_EINVAL. */
int args_parse_versions(const char *s, json_t **ret);

/* Parses a non-negative decimal integer. Returns 0 or CF_EINVAL. */
int args_parse_uint(const char *s, long long *ret);

/* Parses a boolean as Go's strconv.ParseBool does. Returns 0 or CF_EINVAL. */
int args_parse_bool(const char *s, bool *ret);

#endif
