/* gitrepo.h - opening a git repository with libgit2, shared by the tools that
 * read one (env guard, the pre-commit hook writer, scan --git/--staged). */
#ifndef CF_TOOLS_GITREPO_H
#define CF_TOOLS_GITREPO_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

/* Opens the repository containing path, or, when path is NULL, the one git's
 * own environment names (GIT_DIR, GIT_INDEX_FILE...: what a hook must see).
 * need_workdir refuses a bare repository. Returns 0 with *ret (close it with
 * gitrepo_close), or CF_ENOTFOUND (no such path, not in a repository),
 * CF_EINVAL (bare) or CF_EIO, with a one-line reason in err. */
int gitrepo_open(const char *path, bool need_workdir, git_repository **ret, char *err,
                 size_t errlen);

/* Frees repo and the libgit2 reference gitrepo_open took; NULL is fine. */
void gitrepo_close(git_repository *repo);

/* libgit2's message for the last error on this thread, or a fallback. */
const char *gitrepo_msg(void);

#endif
