/* report.h - the findings of one `coffer scan` run, gathered from any number
 * of threads, then filtered (baseline, config allowlists), sorted and printed
 * as text, JSON or SARIF (docs/scanner.md).
 *
 * A finding keeps a copy of its secret for redaction and allowlists; the
 * report wipes it when freed. Problems that do not stop the scan (an
 * unreadable file, a broken symlink) are kept as one-line notes. */
#ifndef CF_TOOLS_SCAN_REPORT_H
#define CF_TOOLS_SCAN_REPORT_H

#include "tools/scan/scan.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct scan_finding {
	char *file; /* relative to the scanned root, '/' separators */
	size_t line, column;
	const struct scan_rule *rule;
	char *secret; /* the secret's bytes, NUL-terminated (wiped on free) */
	size_t secret_len;
	char *commit, *author, *date; /* --git only, else NULL; date in RFC 3339 */
	char *fingerprint;            /* file:rule:line, or commit:file:rule:line */
};

struct scan_report {
	pthread_mutex_t lock;
	struct scan_finding *v;
	size_t n, cap;
	char **notes; /* one line each: what could not be scanned and why */
	size_t nnotes, notes_cap;
	size_t files_scanned; /* files (or blobs) read to the end */
	size_t bytes_scanned;
};

/* Initialises an empty report. Returns 0 or CF_ENOMEM. */
int scan_report_init(struct scan_report *r);
/* Adds a finding for hit in data (the buffer the hit's offsets point into).
 * commit/author/date may be NULL. Thread-safe. Returns 0 or CF_ENOMEM. */
int scan_report_add(struct scan_report *r, const char *file, const char *data,
                    const struct scan_hit *hit, const char *commit, const char *author,
                    const char *date);
/* Adds a one-line note (no newline). Thread-safe. */
void scan_report_note(struct scan_report *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Counts one file (or blob) read to the end, of bytes bytes. Thread-safe. */
void scan_report_count(struct scan_report *r, size_t bytes);
/* Sorts the findings by file, line, column and rule (the output order), and
 * the notes by text. Not thread-safe: call it once the scan is done. */
void scan_report_sort(struct scan_report *r);
/* Drops the findings whose fingerprint appears in the baseline at path (a
 * JSON array as written by --format=json: each element's "fingerprint" is
 * read, everything else ignored) and sets *dropped to their number. Returns
 * 0, or CF_EINVAL with a one-line reason in err (unreadable, not JSON, not an
 * array, an element without a fingerprint) / CF_ENOMEM. Not thread-safe. */
int scan_report_baseline(struct scan_report *r, const char *path, size_t *dropped, char *err,
                         size_t errlen);
/* Wipes the secrets and frees everything. */
void scan_report_free(struct scan_report *r);

#endif
