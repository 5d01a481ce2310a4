/* githook.h - the git pre-commit hook that coffer installs. One hook serves
 * both `coffer env guard --install-hook` and `coffer scan --install-hook`
 * (docs/env.md, docs/scanner.md "Pre-commit hook"): it runs
 * `coffer env guard` and, when `coffer scan --help` succeeds,
 * `coffer scan --staged`, and stops the commit when either fails. */
#ifndef CF_TOOLS_GITHOOK_H
#define CF_TOOLS_GITHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the pre-commit hook of the repository that contains path (NULL:
 * found as git finds it from the environment) into its hooks directory
 * (core.hooksPath when set, else <git common dir>/hooks), mode 0755,
 * atomically. coffer is the absolute path of the binary (NULL: this very
 * binary), with `coffer` on PATH as fallback when that path is gone. An existing hook with other
 * content is CF_EEXIST unless force. Returns 0 with the hook's path in
 * *ret_path (free it) and *ret_same true when the same hook was already
 * there; CF_ENOTFOUND (not in a repository), CF_EINVAL (bare repository),
 * CF_EEXIST, CF_EIO or CF_ENOMEM with err set. */
int githook_install(const char *path, const char *coffer, bool force, char **ret_path,
                    bool *ret_same, char *err, size_t errlen);

#endif
