/* walk.h - the file side of `coffer scan`: walks the operand paths, keeps
 * what should be scanned and scans it on one thread per online core
 * (docs/scanner.md "What is skipped").
 *
 * Skipped without a note: `.git/` directories, paths ignored by a
 * `.gitignore` (every one from the repository's top down to the file, and
 * `.git/info/exclude`) or a `.cofferignore` (same syntax, also outside a git
 * repository), files with a known binary extension or a NUL byte in their
 * first 8 KiB, empty files. Skipped with a note (one line each, the scan goes
 * on): files over the size limit, files that cannot be opened or read, broken
 * symlinks, symlinked directories already visited (loops), things that are
 * not regular files (FIFOs, sockets, devices). A name that is not valid UTF-8
 * is reported with \xNN escapes, and noted once.
 *
 * Each file is read whole (read() below 64 KiB, mmap() above). A file that
 * starts with a UTF-16 BOM is decoded to UTF-8 first; line numbers are those
 * of the decoded text. */
#ifndef CF_TOOLS_SCAN_WALK_H
#define CF_TOOLS_SCAN_WALK_H

#include "tools/scan/report.h"
#include "tools/scan/scan.h"

#include <stdbool.h>
#include <stddef.h>

#define WALK_DEFAULT_MAX_SIZE (10u * 1024 * 1024)

struct walk_opts {
	const struct scan_engine *engine;
	struct scan_report *report;
	size_t max_size;  /* bytes; larger files are skipped with a note */
	unsigned threads; /* 0: the number of online cores */
	bool no_ignore;   /* true: .gitignore / .cofferignore are not read */
	bool progress;    /* a progress line on stderr (the caller checks for a TTY) */
};

/* Scans every path (a directory, a file, or "-" for stdin, which is read
 * whole and named "<stdin>"). Findings and notes go to opts->report. A
 * directory's files are named relative to it; a file operand keeps the name
 * it was given. Returns 0 (problems with single files are notes), or
 * CF_ENOMEM. */
int walk_scan(const struct walk_opts *opts, char *const *paths, size_t npaths);

/* Scans one buffer under the name file (UTF-16 with a BOM decoded first).
 * ctx is the calling thread's. Returns 0 or CF_ENOMEM. */
int walk_scan_buffer(struct scan_ctx *ctx, struct scan_report *rep, const char *file,
                     const char *data, size_t len);

/* Ignore rules (.gitignore syntax), exposed for the fuzz target and tests. */
struct walk_ignore;
/* Parses the text of one ignore file whose directory is base ("" for the
 * root, else "a/b" without a trailing slash) and appends its rules to *ig
 * (created on first use). Returns 0 or CF_ENOMEM. */
int walk_ignore_add(struct walk_ignore **ig, const char *base, const char *text, size_t len);
/* True when path (relative to the root, '/' separators) is ignored; is_dir
 * for directories. The last matching rule wins; `!` rules re-include. */
bool walk_ignore_match(const struct walk_ignore *ig, const char *path, bool is_dir);
void walk_ignore_free(struct walk_ignore *ig);

#endif
