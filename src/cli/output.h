/* output.h - how the CLI prints answers: `--format=json` prints the server's JSON
 * pretty; the default table format prints what `vault` prints (Key/Value tables,
 * "Keys" lists, section headers). All functions write to stdout unless noted. */
#ifndef CF_CLI_OUTPUT_H
#define CF_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum {
	OUTPUT_NA_EMPTY = 1u << 0, /* print "" as n/a (metadata tables) */
};

/* Pretty JSON (2-space indent) and a newline; nothing for NULL. */
void output_json(const json_t *v);

/* Formats one value the way Go's fmt prints it in Vault's tables: strings raw,
 * null as "n/a", arrays as "[a b]", objects as "map[k:v]" with sorted keys.
 * Returns a new string the caller frees (it may hold a secret: wipe it). */
char *output_value(const json_t *v);

/* Prints obj as a Key/Value table with sorted keys. */
void output_kv(const json_t *obj, unsigned flags);

/* The keys of a sys/mounts or sys/audit answer that name entries (object values,
 * keys ending in '/'), sorted. Returns a new array of borrowed strings (free it),
 * the count in *ret_n. */
const char **output_mount_keys(const json_t *data, size_t *ret_n);

/* Prints a section title as "====== title ======". */
void output_header(const char *title);

/* Prints data.keys (a list answer) under a "Keys" header. */
void output_keys(const json_t *resp);

/* Prints a logical answer: the auth block when there is one, else lease fields
 * (lease_id, lease_duration, lease_renewable, or refresh_interval) and data.
 * Warnings go to stderr. */
void output_secret(const json_t *resp);

/* Prints the warnings[] of an answer to stderr. */
void output_warnings(const json_t *resp);

/* Flattens an auth block into Vault's display keys (token, token_accessor,
 * token_duration, token_renewable, token_policies, identity_policies, policies,
 * token_meta_<k>). Returns a new reference. */
json_t *output_auth_fields(const json_t *auth);

/* Prints field of obj raw (strings as-is, other values as compact JSON), with a
 * newline only when stdout is a terminal (like `vault -field`). Returns 0, or
 * CF_ENOTFOUND when obj has no such field. */
int output_field(const json_t *obj, const char *field);

/* Humanized Go duration of secs, as Vault prints TTLs: "768h", "1h30m", "45s". */
void output_duration(int64_t secs, char *buf, size_t len);

#endif
