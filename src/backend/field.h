/* field.h - request parameters described as data (docs/internals/backend.md).
 *
 * A backend describes the parameters of a route as a table of struct field,
 * ended by an entry whose name is NULL, in the spirit of Vault's FieldSchema
 * (framework.FieldSchema) and OpenSSH's keyword tables. One parser reads them:
 *
 *   field_parse()  fills a caller's C struct (each field at its offset),
 *   field_merge()  copies the parameters a request gave into a stored JSON
 *                  record ("update only what was given"),
 *   field_defaults() sets the defaults a new JSON record lacks.
 *
 * Types are read with Vault's weak typing (lib/jsonx.h): numbers may arrive as
 * numeric strings, booleans as "true"/"1", lists as a JSON array or one
 * comma-separated string (Vault's TypeCommaStringSlice), durations as seconds
 * or Go duration strings (lib/duration.h). A key that is absent or JSON null is
 * not given. Keys the table does not name are ignored, as Vault ignores them.
 *
 * A bad value answers CF_EINVAL with one message in rs->errors that names the
 * field: "invalid value for <name>: <what it must be>", "missing <name>",
 * "<name> cannot be negative", "invalid CIDR block in <name>: <block>". The
 * route tables carry these tables (struct route's fields) so docs/api.md can
 * list each route's parameters. */
#ifndef CF_FIELD_H
#define CF_FIELD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct response;

/* What a field holds, and the C type field_parse stores at its offset. */
enum field_type {
	FIELD_STRING = 1, /* const char *: a JSON string, borrowed from the request
	                   * data (or the default's literal) */
	FIELD_INT,        /* int64_t: integer, integral real, numeric string, "" = 0 */
	FIELD_BOOL,       /* bool: true/false, "true"/"false"/"1"/"0"..., 0/1 */
	FIELD_DURATION,   /* int64_t seconds: a number, or a duration string ("90m");
	                   * negative numbers only when FIELD_RANGE's min allows them */
	FIELD_STRLIST,    /* json_t * (owned): array of strings, trimmed, empties dropped */
	FIELD_POLICIES,   /* json_t * (owned): a STRLIST lowercased, de-duplicated, sorted */
	FIELD_CIDRS,      /* json_t * (owned): a STRLIST of CIDR blocks or addresses */
	FIELD_STRMAP,     /* json_t * (owned): object; non-string values become JSON text */
	FIELD_OBJECT,     /* json_t * (owned): any JSON object, as given */
	FIELD_CUSTOM,     /* json_t * (owned): what the field's parse function makes of it */
};

enum {
	FIELD_REQUIRED = 1u << 0,   /* not given (or "" for a string): "missing <name>" */
	FIELD_SECRET = 1u << 1,     /* a credential: documented as such, never echoed */
	FIELD_DEPRECATED = 1u << 2, /* accepted for older clients; documented so */
	FIELD_RANGE = 1u << 3,      /* INT or DURATION: min <= value <= max */
};

struct field {
	const char *name;
	enum field_type type;
	unsigned flags;
	/* field_parse: offset of the value in the caller's struct (offsetof). */
	size_t offset;
	/* The default, written as a client would send it as a string ("768h",
	 * "true", "default", "a,b"; JSON text for STRMAP, OBJECT and CUSTOM), or NULL. */
	const char *def;
	int64_t min, max; /* with FIELD_RANGE */
	/* An older name read when name is absent; values are stored under name. */
	const char *alias;
	/* The message for a FIELD_REQUIRED field that is missing, when Vault words
	 * it otherwise than "missing <name>". */
	const char *missing;
	const char *desc; /* one line for the API docs */
	/* FIELD_CUSTOM: reads val (never JSON null) into a new reference in *ret;
	 * returns 0, CF_ENOMEM, or CF_EINVAL with a message in err, which the
	 * answer gives as "<name>: <err>". */
	int (*parse)(json_t *val, json_t **ret, char *err, size_t errlen);
};

/* Fills out from data: for each field, the given value, else its default (when
 * it has one), else nothing (what out held stays). A json_t * slot must hold
 * NULL or a reference out owns: a new value replaces (and releases) it.
 * Returns 0, CF_EINVAL with a message in rs, or CF_ENOMEM. On error out may be
 * partly filled; field_free releases it either way. */
int field_parse(const struct field *fields, json_t *data, void *out, struct response *rs);
/* Releases the json_t * slots of out (and sets them to NULL). */
void field_free(const struct field *fields, void *out);

/* Sets in rec (a JSON object) every field data gives, normalized: strings,
 * integers (INT and DURATION), booleans, arrays, objects. Nothing is changed
 * unless every given field is valid. Returns 0, CF_EINVAL with a message in
 * rs, or CF_ENOMEM. FIELD_REQUIRED is not checked here: an update may omit
 * what the record has. */
int field_merge(const struct field *fields, json_t *data, json_t *rec, struct response *rs);
/* Sets in rec, normalized, the default of every field rec lacks. Returns 0 or
 * CF_ENOMEM. */
int field_defaults(const struct field *fields, json_t *rec);

/* The field named name (not an alias), or NULL. */
const struct field *field_find(const struct field *fields, const char *name);
/* Whether data gives the field named name (under its name or its alias). */
bool field_given(const struct field *fields, json_t *data, const char *name);
/* The type as the API docs name it: "string", "int", "bool", "duration",
 * "comma-string-list", "policy-list", "cidr-list", "map", "object", "custom". */
const char *field_type_name(enum field_type type);

#endif
