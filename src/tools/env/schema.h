/* schema.h - checking environment variables against a JSON Schema subset, and
 * dotenv-safe's check against an example file (docs/env.md "coffer env check").
 *
 * A schema is a JSON object:
 *
 *   { "properties": { "DB_PORT": { "type": "integer", "minimum": 1 }, ... },
 *     "required": [ "DB_PORT", ... ] }
 *
 * Every value is a string; the rules see it after coercion by its type
 * (integer, number, boolean, url, email, enum, string). Unknown keywords are an
 * error when the schema is loaded, so a misspelt rule is never silently
 * ignored. Failures name the variable and the rule, never a value: a report
 * can be printed whatever the variables hold.
 *
 * Values given to these functions may be secrets; nothing here copies a value
 * except schema_apply_defaults (which copies the schema's defaults into env). */
#ifndef CF_TOOLS_SCHEMA_H
#define CF_TOOLS_SCHEMA_H

#include "tools/env/dotenv.h"

#include <stdbool.h>
#include <stddef.h>

/* Largest schema file read (bytes), and most variables in one schema. */
#define SCHEMA_MAX_FILE (4u * 1024 * 1024)
#define SCHEMA_MAX_VARS 10000
/* Longest pattern accepted (bytes). */
#define SCHEMA_MAX_PATTERN 4096

struct schema;

/* One failed rule: "<var>: <message> (<rule>)". */
struct schema_failure {
	char *var;        /* the variable's name (owned) */
	const char *rule; /* the keyword that failed: "type", "required", ... (static) */
	char *message;    /* what was expected, e.g. "must be an integer" (owned);
	                     never contains the value */
};

/* What a check found. Zero it (or declare it `= {0}`) before first use; free it
 * with schema_report_free. */
struct schema_report {
	struct schema_failure *fail;
	size_t nfail;
	char **defaulted; /* names filled in from a "default" (owned) */
	size_t ndefaulted;
	size_t nchecked; /* variables the schema (or example) names */
};

/* Parses a schema from JSON text (len bytes). Returns 0 with *ret (free with
 * schema_free), or CF_EINVAL with the reason in err: the JSON error with its
 * line and column, or the property and keyword at fault. CF_ENOMEM. */
int schema_load(const char *text, size_t len, struct schema **ret, char *err, size_t errlen);

/* Reads and parses a schema file. CF_EIO when it cannot be read, CF_ETOOBIG past
 * SCHEMA_MAX_FILE; err names the path. Otherwise as schema_load. */
int schema_load_file(const char *path, struct schema **ret, char *err, size_t errlen);

/* Frees a schema; NULL is accepted. */
void schema_free(struct schema *s);

/* Sets every variable the schema gives a "default" and env lacks (a variable
 * that is set, even to "", keeps its value). The names set are added to
 * rep->defaulted when rep is not NULL. Returns 0 or CF_ENOMEM (env may then hold
 * some of the defaults). */
int schema_apply_defaults(const struct schema *s, struct dotenv *env, struct schema_report *rep);

/* Checks env against s, appending one failure per broken rule to rep and
 * setting rep->nchecked. Returns 0 (rep->nfail == 0 means it passed) or
 * CF_ENOMEM. Defaults are not applied here: call schema_apply_defaults first. */
int schema_check(const struct schema *s, const struct dotenv *env, struct schema_report *rep);

/* dotenv-safe's check: every key of example must be in env with a non-empty
 * value (its allowEmptyValues=false). Appends a failure (rule "example") per
 * missing or empty key. Returns 0 or CF_ENOMEM. */
int schema_check_example(const struct dotenv *example, const struct dotenv *env,
                         struct schema_report *rep);

/* Wipes nothing (a report holds no values) and frees everything in rep; rep is
 * left zeroed. */
void schema_report_free(struct schema_report *rep);

/* True when the schema marks name `"secret": true`. */
bool schema_is_secret(const struct schema *s, const char *name);

/* The variables a schema names (properties and required), in schema order:
 * the count, and the i-th name (borrowed from s). For callers that mask every
 * secret: for (i...) if (schema_is_secret(s, schema_var_name(s, i))) ... */
size_t schema_var_count(const struct schema *s);
const char *schema_var_name(const struct schema *s, size_t i);

#endif
