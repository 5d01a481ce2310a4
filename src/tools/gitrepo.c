/* gitrepo.c - opening a git repository with libgit2 (gitrepo.h). */
#include "tools/gitrepo.h"

#include "lib/err.h"
#include "lib/util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

const char *
gitrepo_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

int
gitrepo_open(const char *path, bool need_workdir, git_repository **ret, char *err, size_t errlen)
{
	const char *name = path ? path : ".";
	int r;

	*ret = NULL;
	if (path && access(path, F_OK) < 0) {
		util_errf(err, errlen, "%s: %s", path, strerror(errno));
		return CF_ENOTFOUND;
	}
	if (git_libgit2_init() < 0) {
		util_errf(err, errlen, "libgit2: %s", gitrepo_msg());
		return CF_EIO;
	}
	if (path)
		r = git_repository_open_ext(ret, path, 0, NULL);
	else
		r = git_repository_open_ext(ret, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL);
	if (r == GIT_ENOTFOUND) {
		util_errf(err, errlen, "%s is not in a git repository", name);
		r = CF_ENOTFOUND;
	} else if (r < 0) {
		util_errf(err, errlen, "%s: %s", name, gitrepo_msg());
		r = CF_EIO;
	} else if (need_workdir && git_repository_is_bare(*ret)) {
		util_errf(err, errlen, "%s is a bare repository (no working directory)", name);
		git_repository_free(*ret);
		r = CF_EINVAL;
	}
	if (r < 0) {
		*ret = NULL;
		(void)git_libgit2_shutdown();
		return r;
	}
	return 0;
}

void
gitrepo_close(git_repository *repo)
{
	if (repo) {
		git_repository_free(repo);
		(void)git_libgit2_shutdown();
	}
}
