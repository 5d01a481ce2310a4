/* guard.h - keeping .env files out of git (docs/env.md "coffer env guard").
 *
 * A finding is a .env file of the repository that git tracks (it is in the
 * index, so the next commit would contain it) or that is untracked and not
 * ignored (so `git add .` would pick it up). Public files (guard_is_public)
 * and dotenvx-encrypted files (guard_is_encrypted) are never findings.
 *
 * Paths in findings are relative to the repository's working directory, with
 * '/' separators, as git prints them. Nothing here reads or prints the values
 * of the files beyond deciding whether they are all encrypted. */
#ifndef CF_TOOLS_GUARD_H
#define CF_TOOLS_GUARD_H

#include <stdbool.h>
#include <stddef.h>

enum guard_kind {
	GUARD_TRACKED,   /* in the index */
	GUARD_UNIGNORED, /* untracked and no ignore rule covers it */
};

struct guard_finding {
	char *path; /* relative to the working directory (owned) */
	enum guard_kind kind;
	bool ignored; /* an ignore rule covers it (only a tracked file can be both) */
};

/* Zero it before use; free with guard_report_free. */
struct guard_report {
	struct guard_finding *v;
	size_t n;
	char *workdir; /* the repository's working directory, ending in '/' (owned) */
};

/* Is name (a file's last path component) a .env file: ".env", or ".env"
 * followed by '.', '-' or '_' (".env.local", ".env-prod", ".env_old")?
 * ".envrc" and "x.env" are not. */
bool guard_is_env_name(const char *name);

/* Is name a public .env file, meant to be committed: .env.example,
 * .env.sample, .env.template, .env.dist, .env.defaults, .env.vault and
 * .env.schema* (".env.keys" holds private keys and is never public). */
bool guard_is_public_name(const char *name);

/* Is text (len bytes) a dotenvx-encrypted file: a DOTENV_PUBLIC_KEY* entry,
 * no DOTENV_PRIVATE_KEY* entry, and every other value either empty or
 * "encrypted:..."? Text that does not parse is not. */
bool guard_is_encrypted(const char *text, size_t len);

/* Scans the repository that contains path (NULL: found as git finds it from
 * the environment, GIT_DIR and GIT_INDEX_FILE included, as a hook needs).
 * Returns 0 with the findings in *out (sorted by path), CF_ENOTFOUND when
 * path is in no git repository, CF_EINVAL for a bare repository, CF_EIO or
 * CF_ENOMEM; err says why. */
int guard_scan(const char *path, struct guard_report *out, char *err, size_t errlen);

/* Frees everything in rep; rep is left zeroed. */
void guard_report_free(struct guard_report *rep);

/* The .gitignore line that ignores the finding's file wherever it is: its
 * last path component with glob characters escaped. A new string (free it),
 * or NULL on ENOMEM. */
char *guard_ignore_line(const char *path);

/* Appends the ignore line of every finding that no rule ignores yet and that
 * <workdir>/.gitignore does not already have (creating the file with mode 0644 when missing; a
 * missing final newline is added first). The index is not touched. Returns 0 with the number of
 * lines added in *ret_added, or CF_EIO / CF_ENOMEM with err set. */
int guard_fix(const struct guard_report *rep, size_t *ret_added, char *err, size_t errlen);

/* The pre-commit hook is written by githook_install() (tools/githook). */

#endif
