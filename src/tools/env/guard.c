/* guard.c - .env files that git tracks or does not ignore, and the .gitignore
 * lines that fix it (guard.h, docs/env.md). The pre-commit hook is written by
 * tools/githook. */
#include "tools/env/guard.h"

#include "tools/gitrepo.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "tools/env/dotenv.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libgit2's message for the last error, or a fallback. */

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

bool
guard_is_env_name(const char *name)
{
	if (strncmp(name, ".env", 4) != 0)
		return false;
	return name[4] == '\0' || name[4] == '.' || name[4] == '-' || name[4] == '_';
}

static const char *const public_names[] = {
        ".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults", ".env.vault",
};

bool
guard_is_public_name(const char *name)
{
	for (size_t i = 0; i < sizeof(public_names) / sizeof(public_names[0]); i++)
		if (strcmp(name, public_names[i]) == 0)
			return true;
	return strncmp(name, ".env.schema", 11) == 0;
}

bool
guard_is_encrypted(const char *text, size_t len)
{
	struct dotenv env = {0};
	bool pub = false, ok = true;
	char err[128];

	if (dotenv_parse(text, len, &env, err, sizeof(err)) < 0)
		return false;
	for (size_t i = 0; i < env.n && ok; i++) {
		const struct dotenv_entry *e = &env.v[i];

		if (strncmp(e->key, "DOTENV_PUBLIC_KEY", 17) == 0)
			pub = true;
		else if (strncmp(e->key, "DOTENV_PRIVATE_KEY", 18) == 0)
			ok = false;
		else if (e->value_len > 0 && strncmp(e->value, "encrypted:", 10) != 0)
			ok = false;
	}
	dotenv_free(&env);
	return ok && pub;
}

/* ---- scanning ---- */

static int
report_add(struct guard_report *rep, const char *path, enum guard_kind kind, bool ignored)
{
	struct guard_finding *v;

	v = realloc(rep->v, (rep->n + 1) * sizeof(*v));
	if (!v)
		return CF_ENOMEM;
	rep->v = v;
	v[rep->n].path = strdup(path);
	if (!v[rep->n].path)
		return CF_ENOMEM;
	v[rep->n].kind = kind;
	v[rep->n].ignored = ignored;
	rep->n++;
	return 0;
}

static int
finding_cmp(const void *a, const void *b)
{
	return strcmp(((const struct guard_finding *)a)->path,
	              ((const struct guard_finding *)b)->path);
}

/* Is the tracked file at entry a dotenvx-encrypted file, as staged? */
static bool
staged_encrypted(git_repository *repo, const git_index_entry *entry)
{
	git_blob *blob = NULL;
	bool enc = false;

	if (git_blob_lookup(&blob, repo, &entry->id) < 0)
		return false;
	if (git_blob_rawsize(blob) <= DOTENV_MAX_FILE)
		enc = guard_is_encrypted(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return enc;
}

/* Is the working-tree file at rel a dotenvx-encrypted file? */
static bool
file_encrypted(const char *workdir, const char *rel)
{
	char *full = NULL, *text = NULL;
	bool enc = false;
	struct stat st;
	ssize_t n;
	int fd = -1;

	if (asprintf(&full, "%s%s", workdir, rel) < 0)
		return false;
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DOTENV_MAX_FILE)
		goto out;
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		goto out;
	n = read(fd, text, (size_t)st.st_size);
	if (n == st.st_size)
		enc = guard_is_encrypted(text, (size_t)n);
out:
	if (text)
		secmem_free(text, (size_t)st.st_size + 1);
	if (fd >= 0)
		close(fd);
	free(full);
	return enc;
}

static int
scan_index(git_repository *repo, struct guard_report *out, char *err, size_t errlen)
{
	const git_index_entry *e;
	const char *last = NULL;
	git_index *idx = NULL;
	size_t n;
	int r = 0, ign;

	if (git_repository_index(&idx, repo) < 0) {
		util_errf(err, errlen, "reading the index: %s", gitrepo_msg());
		return CF_EIO;
	}
	n = git_index_entrycount(idx);
	for (size_t i = 0; i < n; i++) {
		const char *name;

		e = git_index_get_byindex(idx, i);
		if (!e || e->mode == GIT_FILEMODE_COMMIT)
			continue;
		/* conflict stages repeat a path: report it once */
		if (last && strcmp(last, e->path) == 0)
			continue;
		last = e->path;
		name = base_name(e->path);
		if (!guard_is_env_name(name) || guard_is_public_name(name))
			continue;
		if (staged_encrypted(repo, e))
			continue;
		if (git_ignore_path_is_ignored(&ign, repo, e->path) < 0) {
			util_errf(err, errlen, "reading ignore rules: %s", gitrepo_msg());
			r = CF_EIO;
			break;
		}
		r = report_add(out, e->path, GUARD_TRACKED, ign != 0);
		if (r < 0)
			break;
	}
	git_index_free(idx);
	return r;
}

static int
scan_untracked(git_repository *repo, struct guard_report *out, char *err, size_t errlen)
{
	git_status_options opts = GIT_STATUS_OPTIONS_INIT;
	git_status_list *list = NULL;
	const git_status_entry *s;
	size_t n;
	int r = 0;

	opts.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
	if (git_status_list_new(&list, repo, &opts) < 0) {
		util_errf(err, errlen, "reading the status: %s", gitrepo_msg());
		return CF_EIO;
	}
	n = git_status_list_entrycount(list);
	for (size_t i = 0; i < n; i++) {
		const char *path, *name;

		s = git_status_byindex(list, i);
		if (!s || !(s->status & GIT_STATUS_WT_NEW) || !s->index_to_workdir)
			continue;
		path = s->index_to_workdir->new_file.path;
		name = base_name(path);
		if (!guard_is_env_name(name) || guard_is_public_name(name))
			continue;
		if (file_encrypted(git_repository_workdir(repo), path))
			continue;
		r = report_add(out, path, GUARD_UNIGNORED, false);
		if (r < 0)
			break;
	}
	git_status_list_free(list);
	return r;
}

int
guard_scan(const char *path, struct guard_report *out, char *err, size_t errlen)
{
	struct guard_report rep = {0};
	git_repository *repo = NULL;
	int r;

	r = gitrepo_open(path, true, &repo, err, errlen);
	if (r < 0)
		goto out;
	rep.workdir = strdup(git_repository_workdir(repo));
	if (!rep.workdir) {
		r = CF_ENOMEM;
		goto out;
	}
	r = scan_index(repo, &rep, err, errlen);
	if (r < 0)
		goto out;
	r = scan_untracked(repo, &rep, err, errlen);
	if (r < 0)
		goto out;
	if (rep.n > 1)
		qsort(rep.v, rep.n, sizeof(rep.v[0]), finding_cmp);
	*out = rep;
	memset(&rep, 0, sizeof(rep));
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	guard_report_free(&rep);
	gitrepo_close(repo);
	return r;
}

void
guard_report_free(struct guard_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		free(rep->v[i].path);
	free(rep->v);
	free(rep->workdir);
	memset(rep, 0, sizeof(*rep));
}

/* ---- fixing ---- */

char *
guard_ignore_line(const char *path)
{
	const char *name = base_name(path);
	char *line, *p;

	line = malloc(strlen(name) * 2 + 1);
	if (!line)
		return NULL;
	p = line;
	for (; *name; name++) {
		if (strchr("*?[\\", *name))
			*p++ = '\\';
		*p++ = *name;
	}
	*p = '\0';
	/* a trailing space would be dropped by git unless escaped */
	if (p > line && p[-1] == ' ') {
		p[-1] = '\\';
		*p++ = ' ';
		*p = '\0';
	}
	return line;
}

/* Does text (len bytes) have line as one of its lines (a CR before the
 * newline ignored)? */
static bool
has_line(const char *text, size_t len, const char *line)
{
	size_t ll = strlen(line), i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - i;

		if (n > 0 && text[end - 1] == '\r')
			n--;
		if (n == ll && memcmp(text + i, line, ll) == 0)
			return true;
		i = end + 1;
	}
	return false;
}

int
guard_fix(const struct guard_report *rep, size_t *ret_added, char *err, size_t errlen)
{
	char *path = NULL, *text = NULL, *line = NULL;
	size_t len = 0, added = 0;
	FILE *f = NULL;
	int r;

	if (asprintf(&path, "%s.gitignore", rep->workdir) < 0) {
		path = NULL;
		r = CF_ENOMEM;
		goto out;
	}
	/* a missing file reads as empty */
	r = util_read_file(path, 64u * 1024 * 1024, &text, &len, err, errlen);
	if (r == CF_ENOTFOUND)
		r = 0;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rep->n; i++) {
		if (rep->v[i].ignored)
			continue;
		line = guard_ignore_line(rep->v[i].path);
		if (!line) {
			r = CF_ENOMEM;
			goto out;
		}
		/* two findings with one basename need one line */
		if (has_line(text, len, line)) {
			free(line);
			line = NULL;
			continue;
		}
		if (!f) {
			f = fopen(path, "ab");
			if (!f) {
				util_errf(err, errlen, "%s: %s", path, strerror(errno));
				r = CF_EIO;
				goto out;
			}
			if (len > 0 && text[len - 1] != '\n')
				fputc('\n', f);
		}
		fprintf(f, "%s\n", line);
		added++;
		/* remember it, so a second finding with the same line is skipped */
		{
			size_t ll = strlen(line);
			char *t = realloc(text, len + ll + 2);

			if (!t) {
				r = CF_ENOMEM;
				goto out;
			}
			text = t;
			if (len > 0 && text[len - 1] != '\n')
				text[len++] = '\n';
			memcpy(text + len, line, ll);
			len += ll;
			text[len++] = '\n';
		}
		free(line);
		line = NULL;
	}
	if (f) {
		r = fclose(f) == 0 ? 0 : CF_EIO;
		f = NULL;
		if (r < 0) {
			util_errf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	*ret_added = added;
	r = 0;
out:
	if (f)
		fclose(f);
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	free(line);
	free(text);
	free(path);
	return r;
}
