/* git.h - `coffer scan --git` (every blob reachable from every ref, each
 * finding once, at the commit that introduced it) and `coffer scan --staged`
 * (what is about to be committed), through libgit2 (docs/scanner.md "Git
 * history and staged changes").
 *
 * Both add their findings to a report with file paths relative to the
 * repository's top directory; --git findings also carry the commit (full
 * SHA), its author ("Name <email>") and author date (RFC 3339). Blobs that
 * look binary (a NUL byte in the first 8000 bytes, as git decides) and blobs
 * over the size limit are skipped. Blobs are scanned one after the other, in
 * commit order, on the calling thread: which commit a finding belongs to
 * depends on that order. */
#ifndef CF_TOOLS_SCAN_GIT_H
#define CF_TOOLS_SCAN_GIT_H

#include "tools/scan/report.h"
#include "tools/scan/scan.h"

#include <stddef.h>

struct scan_git_opts {
	/* A directory inside the repository; NULL: the repository git itself
	 * would use here (GIT_DIR, GIT_INDEX_FILE and the like honoured, as a
	 * pre-commit hook needs). */
	const char *path;
	/* --git only: scan only the commits after this revision (REV..all refs);
	 * NULL: the whole history. */
	const char *since;
	size_t max_size; /* blobs larger than this many bytes are skipped; 0: no limit */
};

/* Scans the history: every commit reachable from any ref (branches, tags,
 * remotes, stash) or HEAD, oldest first (topological, then commit time),
 * each commit's changes against its first parent (a root commit: its whole
 * tree). Each (path, blob) is scanned once; a finding whose (file, rule,
 * secret) was already reported at an earlier commit is not reported again,
 * so an unchanged secret is reported once, at the commit that introduced it,
 * and a secret deleted later is still found. Returns 0, CF_ENOTFOUND (not in
 * a repository; an unknown --since revision), CF_EIO or CF_ENOMEM with err
 * set. Blobs that cannot be read become notes of the report. */
int scan_git_history(const struct scan_engine *e, const struct scan_git_opts *o,
                     struct scan_report *rep, char *err, size_t errlen);

/* Scans the staged content: every file of the index that differs from HEAD
 * (all of them before the first commit), as it is in the index, not in the
 * working tree. Returns 0, CF_ENOTFOUND (not in a repository), CF_EINVAL (a
 * bare repository), CF_EIO or CF_ENOMEM with err set. */
int scan_git_staged(const struct scan_engine *e, const struct scan_git_opts *o,
                    struct scan_report *rep, char *err, size_t errlen);

#endif
