/* output.h - prints the findings of a `coffer scan` run as text for people,
 * as one JSON array, or as SARIF 2.1.0 (docs/scanner.md "Output formats").
 *
 * Secrets are redacted unless redact is 0: redact = N (1..100) hides the
 * last N per cent of the secret's characters (rounded up) and appends "…", so
 * 100 prints "…" alone. The default keeps the first 4 characters and appends
 * "…". Bytes that are not UTF-8 are printed as \xNN, and in text output
 * control characters too, so a hostile file cannot drive the terminal. */
#ifndef CF_TOOLS_SCAN_OUTPUT_H
#define CF_TOOLS_SCAN_OUTPUT_H

#include "tools/scan/report.h"

#include <stdbool.h>
#include <stdio.h>

enum scan_format {
	SCAN_FORMAT_TEXT,
	SCAN_FORMAT_JSON,
	SCAN_FORMAT_SARIF,
};

#define SCAN_REDACT_DEFAULT (-1)

struct scan_output_opts {
	enum scan_format format;
	int redact; /* SCAN_REDACT_DEFAULT, or 0..100 */
	bool color; /* text only: ANSI colours (the caller checks for a TTY) */
};

/* The redacted form of secret (len bytes) as a new NUL-terminated UTF-8
 * string, or NULL on out of memory. */
char *scan_output_redact(const char *secret, size_t len, int redact);

/* Writes the (sorted) findings of r to f. The text format ends with a
 * summary line; notes are not printed here (the caller prints them on
 * stderr). Returns 0, or CF_EIO when writing fails, or CF_ENOMEM. */
int scan_output_write(FILE *f, const struct scan_report *r, const struct scan_output_opts *o);

#endif
