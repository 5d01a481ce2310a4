/* jsonx.h - reading request parameters with Vault's weak typing (Vault's request body rules).
 *
 * Every getter returns 0 and writes *ret when the key is present and valid,
 * CF_ENOTFOUND when the key is absent or JSON null (out untouched), and CF_EINVAL
 * with a message in err (if non-NULL) when the value has the wrong type. */
#ifndef CF_JSONX_H
#define CF_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Installs the zeroing allocator into jansson (call once at start-up). */
void jsonx_init(void);

/* Strings: only JSON strings (numbers are rendered to text). *ret borrows from obj. */
int jsonx_str(json_t *obj, const char *key, const char **ret);
/* Ints: JSON integers, integral reals, or numeric strings. */
int jsonx_int(json_t *obj, const char *key, int64_t *ret);
/* Bools: true/false, or strings accepted by util_parse_bool, or 0/1 numbers. */
int jsonx_bool(json_t *obj, const char *key, bool *ret);
/* Durations: integer seconds or duration strings (duration_parse), from 0 to
 * DURATION_MAX_SECS. A negative number or a string that is not a duration is
 * CF_EINVAL, a longer one CF_ERANGE; duration_strerror() words either. */
int jsonx_duration(json_t *obj, const char *key, int64_t *ret_secs);
/* Comma lists: JSON array of strings or one comma-separated string; items trimmed,
 * empties dropped. Returns a new JSON array reference in *ret. */
int jsonx_strlist(json_t *obj, const char *key, json_t **ret);
/* Policy lists: jsonx_strlist then lowercased, de-duplicated and sorted. */
int jsonx_policylist(json_t *obj, const char *key, json_t **ret);
/* Maps string->string: JSON object; non-string values are rendered to strings.
 * Returns a new reference. */
int jsonx_strmap(json_t *obj, const char *key, json_t **ret);

/* Normalizes a JSON array of strings: lowercases, trims, de-duplicates, sorts.
 * Returns a new reference or NULL on ENOMEM. */
json_t *jsonx_policies_normalize(json_t *arr);
/* True when arr (array of strings) contains s. */
bool jsonx_array_has(json_t *arr, const char *s);

#endif
