/* dbtext.h - the pure text work of the database engine: statement inputs,
 * placeholder templating, the expiration format, the default username template
 * and password policy, connection-string templating and scrubbing secrets out
 * of driver messages (Vault's database secrets API). No I/O, no locks: safe from any thread.
 *
 * Strings returned through ret are malloc'd and owned by the caller. Those that
 * may hold a password (rendered statements, rendered connection strings) must be
 * freed with secmem_free_str() (lib/secmem.h), which wipes them first. */
#ifndef CF_DB_TEXT_H
#define CF_DB_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define DB_PASSWORD_LEN   20 /* Vault's default password policy */
#define DB_USERNAME_MAX   63 /* PostgreSQL's identifier limit (NAMEDATALEN - 1) */
#define DB_EXPIRATION_LEN 32 /* buffer for "YYYY-MM-DD HH:MM:SS+0000" */
#define DB_SCRUB_MIN      4
#define DB_STMT_MAX_COUNT 256
#define DB_STMT_MAX_BYTES 65536

/* Statement inputs: val is a JSON array of strings, or one string. Each string
 * that is standard (padded) base64 of printable text is decoded first; text that
 * then starts with '[' and parses as a JSON array of strings contributes those
 * strings; any other text contributes itself. Blank strings are dropped.
 * Returns 0 and a new JSON array of strings in *ret (statement texts, not yet
 * split at ';'), CF_EINVAL with a message in err (wrong type, too many or too
 * long), or CF_ENOMEM. JSON null gives an empty array. */
int dbtext_stmt_input(json_t *val, json_t **ret, char *err, size_t errlen);

/* Splits one statement text at ';' outside quotes ('...', "...", $tag$...$tag$)
 * and comments (-- and / * * /); trims blanks; drops empty pieces. Appends the
 * pieces (new strings) to the array out. Returns 0 or CF_ENOMEM / CF_EINVAL
 * (more than DB_STMT_MAX_COUNT pieces in out). */
int dbtext_stmt_split(const char *text, json_t *out);

/* Values for the placeholders; a NULL member leaves its placeholder as written. */
struct dbtext_vars {
	const char *name;       /* {{name}} */
	const char *username;   /* {{username}} */
	const char *password;   /* {{password}}: SECRET */
	const char *expiration; /* {{expiration}} */
};

/* Replaces {{name}}, {{username}}, {{password}} and {{expiration}} in one SQL
 * statement. A value placed inside '...' has its ' doubled, inside "..." its "
 * doubled, so a value cannot end the literal or identifier it sits in. Returns 0
 * and a new string in *ret (free with secmem_free_str), or CF_ENOMEM. */
int dbtext_render(const char *tmpl, const struct dbtext_vars *v, char **ret);

/* Formats unix seconds as PostgreSQL's timestamptz input "YYYY-MM-DD HH:MM:SS+0000"
 * (UTC) into out (>= DB_EXPIRATION_LEN bytes). */
void dbtext_expiration(int64_t unix_secs, char *out, size_t len);

/* Copies at most max bytes of s into out (size > max), never cutting a UTF-8
 * sequence in two. */
void dbtext_truncate(const char *s, size_t max, char *out);

/* Vault's default username template:
 * printf "v-%s-%s-%s-%s" (DisplayName | truncate 8) (RoleName | truncate 8)
 * (random 20) (unix_time) | truncate 63. out must hold DB_USERNAME_MAX + 1 bytes.
 * display may be NULL ("token"). */
void dbtext_username(const char *display, const char *role, int64_t now, char *out);

/* Vault's default password policy: DB_PASSWORD_LEN characters of [A-Za-z0-9-]
 * with at least one lowercase, uppercase, digit and '-', uniform over the valid
 * strings (rejection sampling on libsodium's CSPRNG). out holds LEN + 1 bytes. */
void dbtext_password(char *out);
/* True when pw satisfies the default policy. */
bool dbtext_password_ok(const char *pw) CF_WARN_UNUSED;

/* PostgreSQL's SCRAM-SHA-256 verifier of pw (password_authentication
 * "scram-sha-256"): "SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>", with a
 * random 16-byte salt, or with salt (16 bytes) when given (tests). pw must be
 * ASCII (SASLprep is then the identity). out holds DB_SCRAM_LEN bytes.
 * Returns 0 or CF_ECRYPTO / CF_EINVAL. */
#define DB_SCRAM_LEN 160
int dbtext_scram_verifier(const char *pw, const uint8_t *salt, char *out, size_t len);

/* True when url is a postgres:// or postgresql:// URL (else a key=value DSN). */
bool dbtext_conn_is_url(const char *url);
/* Replaces {{username}} and {{password}} in a connection string: percent-encoded
 * in URL form; in DSN form backslash-escaped inside '...' and wrapped in quotes
 * outside them. raw (disable_escaping) substitutes the values as they are.
 * Returns 0 and *ret (free with secmem_free_str), or CF_ENOMEM. */
int dbtext_conn_render(const char *url, const char *username, const char *password, bool raw,
                       char **ret);
/* A password written literally in the connection string (URL userinfo or
 * password= in a query or DSN), not a {{password}} placeholder. Returns 0 and a
 * new string in *ret or NULL when there is none; CF_ENOMEM. */
int dbtext_conn_literal_password(const char *url, char **ret);
/* The connection string with any literal password replaced by "*****", for
 * display. Returns a new string or NULL (ENOMEM). */
char *dbtext_conn_mask(const char *url);

/* Returns a copy of msg in which every occurrence of each non-empty secret (as
 * written, percent-encoded, and quote-escaped), and every run of at least
 * DB_SCRUB_MIN characters that is a piece of one, is replaced by "*****"
 * (drivers quote statement fragments). Returns NULL on ENOMEM. */
char *dbtext_scrub(const char *msg, const char *const *secrets, size_t n);

#endif
