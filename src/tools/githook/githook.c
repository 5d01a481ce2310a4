/* githook.c - the git pre-commit hook that coffer writes for `coffer env guard
 * --install-hook` and `coffer scan --install-hook` (githook.h). */
#include "tools/githook/githook.h"

#include "tools/gitrepo.h"
#include "lib/util.h"

#include "lib/err.h"

#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libgit2's message for the last error, or a fallback. */

/* s in single quotes for sh: ' becomes '\''. */
static int
sh_quote(const char *s, char **ret)
{
	size_t n = 2;
	char *q, *p;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = malloc(n + 1);
	if (!q)
		return CF_ENOMEM;
	p = q;
	*p++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	*ret = q;
	return 0;
}

static int
hook_text(const char *coffer, char **ret)
{
	char *q = NULL;
	int r, n;

	r = sh_quote(coffer, &q);
	if (r < 0)
		return r;
	n = asprintf(ret,
	             "#!/bin/sh\n"
	             "# pre-commit hook written by `coffer env guard --install-hook` or\n"
	             "# `coffer scan --install-hook` (the same hook).\n"
	             "# Stops the commit when a .env file is staged or not ignored, and,\n"
	             "# once this coffer has `coffer scan`, when the staged changes hold a\n"
	             "# secret. See docs/env.md in coffer's sources.\n"
	             "coffer=%s\n"
	             "if [ ! -x \"$coffer\" ]; then\n"
	             "\tcoffer=coffer\n"
	             "fi\n"
	             "\"$coffer\" env guard || exit 1\n"
	             "if \"$coffer\" scan --help >/dev/null 2>&1; then\n"
	             "\t\"$coffer\" scan --staged || exit 1\n"
	             "fi\n"
	             "exit 0\n",
	             q);
	free(q);
	return n < 0 ? CF_ENOMEM : 0;
}

/* mkdir -p dir (mode 0755 for what it creates). */
static int
mkdir_p(const char *dir, char *err, size_t errlen)
{
	char *p = strdup(dir), *s;
	int r = 0;

	if (!p)
		return CF_ENOMEM;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			util_errf(err, errlen, "%s: %s", p, strerror(errno));
			r = CF_EIO;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return r;
}

/* The hooks directory: core.hooksPath (relative to the working directory, as
 * git reads it) or <common dir>/hooks. */
static int
hooks_dir(git_repository *repo, char **ret, char *err, size_t errlen)
{
	git_config *cfg = NULL;
	git_buf buf = {0};
	int r, g;

	if (git_repository_config_snapshot(&cfg, repo) < 0) {
		util_errf(err, errlen, "reading the git config: %s", gitrepo_msg());
		return CF_EIO;
	}
	g = git_config_get_path(&buf, cfg, "core.hooksPath");
	if (g == 0 && buf.ptr[0] == '/')
		r = asprintf(ret, "%s", buf.ptr);
	else if (g == 0)
		r = asprintf(ret, "%s%s", git_repository_workdir(repo), buf.ptr);
	else
		r = asprintf(ret, "%shooks", git_repository_commondir(repo));
	git_buf_dispose(&buf);
	git_config_free(cfg);
	if (r < 0)
		return CF_ENOMEM;
	return 0;
}

/* The absolute path of this binary, else "coffer" (found on PATH). */
static void
self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0 || buf[0] != '/')
		n = snprintf(buf, len, "coffer");
	buf[n] = '\0';
}

int
githook_install(const char *path, const char *coffer, bool force, char **ret_path, bool *ret_same,
                char *err, size_t errlen)
{
	git_repository *repo = NULL;
	char *dir = NULL, *hook = NULL, *tmp = NULL, *text = NULL, *old = NULL;
	size_t oldlen = 0, tlen;
	char self[PATH_MAX];
	bool same = false;
	int r, fd = -1;

	if (!coffer)
		self_path(self, sizeof(self));
	r = gitrepo_open(path, true, &repo, err, errlen);
	if (r < 0)
		goto out;
	r = hooks_dir(repo, &dir, err, errlen);
	if (r < 0)
		goto out;
	if (asprintf(&hook, "%s/pre-commit", dir) < 0) {
		hook = NULL;
		r = CF_ENOMEM;
		goto out;
	}
	r = hook_text(coffer ? coffer : self, &text);
	if (r < 0)
		goto out;
	tlen = strlen(text);
	/* a missing file reads as empty */
	r = util_read_file(hook, 64u * 1024 * 1024, &old, &oldlen, err, errlen);
	if (r == CF_ENOTFOUND)
		r = 0;
	if (r < 0)
		goto out;
	if (old && oldlen == tlen && memcmp(old, text, tlen) == 0) {
		same = true;
		goto done;
	}
	if (old && !force) {
		util_errf(err, errlen, "%s exists and is not this hook (--force replaces it)",
		          hook);
		r = CF_EEXIST;
		goto out;
	}
	r = mkdir_p(dir, err, errlen);
	if (r < 0)
		goto out;
	if (asprintf(&tmp, "%s.coffer-XXXXXX", hook) < 0) {
		tmp = NULL;
		r = CF_ENOMEM;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		util_errf(err, errlen, "%s: %s", dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		r = CF_EIO;
		goto out;
	}
	if (write(fd, text, tlen) != (ssize_t)tlen || fchmod(fd, 0755) < 0 || fsync(fd) < 0 ||
	    close(fd) < 0) {
		fd = -1;
		util_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		r = CF_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, hook) < 0) {
		util_errf(err, errlen, "%s: %s", hook, strerror(errno));
		r = CF_EIO;
		goto out;
	}
	free(tmp);
	tmp = NULL;
done:
	*ret_path = hook;
	hook = NULL;
	*ret_same = same;
	r = 0;
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	if (fd >= 0)
		close(fd);
	if (tmp) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(old);
	free(text);
	free(hook);
	free(dir);
	gitrepo_close(repo);
	return r;
}
