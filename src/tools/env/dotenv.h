/* dotenv.h - .env files read exactly as npm dotenv's parse() reads them, and
 * expanded exactly as dotenv-expand expands them (docs/env.md).
 *
 * The parser never fails on content: what does not form an entry is skipped,
 * as dotenv skips it. It refuses only input that is not text (a NUL byte,
 * invalid UTF-8) or larger than DOTENV_MAX_FILE, so a caller never acts on
 * garbage. Values are copies the caller owns through struct dotenv; they may be
 * secrets, and dotenv_free() wipes them. */
#ifndef CF_TOOLS_DOTENV_H
#define CF_TOOLS_DOTENV_H

#include <stdbool.h>
#include <stddef.h>

/* Largest .env file read (bytes). */
#define DOTENV_MAX_FILE (64u * 1024 * 1024)

/* One KEY=value line (or multi-line quoted value) as found in the text.
 * Offsets are into the text given to dotenv_scan(), not a normalised copy, so a
 * rewriter (encrypt/decrypt/set) can replace exactly the value's bytes. */
struct dotenv_span {
	size_t line;        /* 1-based line of the key */
	size_t entry_start; /* first byte of the entry (of `export` or the key) */
	size_t key_start, key_len;
	size_t value_start, value_end; /* the value as written, quotes included;
	                                  value_start == value_end when empty */
	char quote;                    /* '"', '\'', '`', or 0 when unquoted */
	bool exported;                 /* written with an `export ` prefix */
};

struct dotenv_entry {
	char *key;
	char *value; /* NUL-terminated; never NULL */
	size_t value_len;
	struct dotenv_span span; /* where the last definition (the one kept) is */
};

/* Keys in order of first appearance; a repeated key keeps its first position
 * and takes its last value (dotenv's rule). Entries belong to the struct:
 * change a value only through dotenv_set() and release all with dotenv_free()
 * (parsed keys and values share a few large blocks, not one allocation each). */
struct dotenv_block;
struct dotenv {
	struct dotenv_entry *v;
	size_t n;
	size_t cap;                  /* private: entries allocated */
	struct dotenv_block *blocks; /* private: storage of parsed keys and values */
};

/* Called for every entry in file order, repeated keys included. value is the
 * parsed value (NUL-terminated, value_len bytes), valid during the call only.
 * A negative return stops the scan and is returned by dotenv_scan(). */
typedef int (*dotenv_visit_fn)(void *arg, const struct dotenv_span *span, const char *key,
                               const char *value, size_t value_len);

/* Scans text (len bytes; need not be NUL-terminated). Returns 0, the visitor's
 * negative code, CF_EINVAL with a reason in err (not text: NUL byte, invalid
 * UTF-8), CF_ETOOBIG, or CF_ENOMEM. err never contains file content. */
int dotenv_scan(const char *text, size_t len, dotenv_visit_fn visit, void *arg, char *err,
                size_t errlen);

/* Parses text into *out (zeroed by the caller or freshly declared). Same
 * returns as dotenv_scan(). On failure *out is left empty. A key named
 * `__proto__` is skipped, as it never shows in dotenv's result object
 * (dotenv_scan() still visits it). */
int dotenv_parse(const char *text, size_t len, struct dotenv *out, char *err, size_t errlen);

/* Reads and parses a file. CF_EIO when it cannot be read (err names the path
 * and errno's text). */
int dotenv_parse_file(const char *path, struct dotenv *out, char *err, size_t errlen);

/* The same for an open descriptor (stdin); name is used in messages only.
 * The descriptor is read to its end and left open. */
int dotenv_parse_fd(int fd, const char *name, struct dotenv *out, char *err, size_t errlen);

/* The entry for key, or NULL. */
const struct dotenv_entry *dotenv_find(const struct dotenv *env, const char *key);

/* Sets key to a copy of value (appended if new; the span of a new entry is
 * all zero). Returns 0 or CF_ENOMEM. */
int dotenv_set(struct dotenv *env, const char *key, const char *value, size_t value_len);

/* Sets the value of entry i (< env->n) to a copy of value. Returns 0 or
 * CF_ENOMEM (the entry keeps its old value then). */
int dotenv_set_at(struct dotenv *env, size_t i, const char *value, size_t value_len);

/* Expands every value in place as dotenv-expand does after dotenv.config():
 * environ is the process environment (NULL-terminated "K=V" strings, may be
 * NULL for none); a key already set there to a different non-empty value takes
 * that value unexpanded. Command substitution `$(...)` is never run: it is
 * left as written (docs/env.md says why). A value that keeps growing stops with
 * CF_EINVAL and the key named in err. */
int dotenv_expand(struct dotenv *env, char *const *environ, char *err, size_t errlen);

/* Writes into order[0, env->n) the entry indices in the order a JavaScript
 * object with these keys lists them (JSON.stringify, for...in): keys that are
 * array indices ("0" to "4294967294", no leading zero) first, ascending, then
 * the others in file order. */
void dotenv_js_order(const struct dotenv *env, size_t *order);

/* Wipes and frees every key and value; *env is left empty. */
void dotenv_free(struct dotenv *env);

#endif
