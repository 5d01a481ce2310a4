/* audit_int.h - internals of src/audit shared by its files (not a public API).
 *
 * audit_file.c: the file sink with its hash chain (one per file device).
 * audit_json.c: the JSON writer entries are built with.
 * audit_verify.c: the offline chain check. */
#ifndef CF_AUDIT_INT_H
#define CF_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

/* "0600": the default mode of a new audit file. */
#define AUDIT_FILE_DEFAULT_MODE 0600
/* A line longer than this is not read back when a chain is continued. */
#define AUDIT_LINE_MAX (64u << 20)
/* Interval of the background fdatasync, in milliseconds. */
#define AUDIT_SYNC_MS 100
/* Deferred lines are written by the next batch or by the background thread,
 * which looks every AUDIT_FLUSH_MS while the file is busy (AUDIT_SYNC_MS when
 * idle); a deferred line that finds more than AUDIT_PEND_MAX bytes pending (and
 * no write in progress) writes them at once. */
#define AUDIT_FLUSH_MS 10
#define AUDIT_PEND_MAX (256u << 10)

struct audit_file;

/* Creates a sink for file_path ("stdout" and "discard" are special) without opening
 * it. mode 0 leaves the file's mode alone. prefix (may be NULL) is written before
 * each JSON object and is part of the hashed line. wipe: the lines may carry
 * plaintext secrets (log_raw), so written batches are wiped from memory at once;
 * otherwise they hold only HMACs and metadata and the per-batch wipe is skipped.
 * *ret is owned by the caller (audit_file_free). Returns 0 or CF_ENOMEM. */
int audit_file_new(const char *file_path, unsigned mode, const char *prefix, bool wipe,
                   struct audit_file **ret);
/* Closes the file, stops its sync thread and frees f. Accepts NULL. */
void audit_file_free(struct audit_file *f);

/* Opens (or reopens) the sink: O_APPEND|O_CREAT with the mode, then reads the last
 * line of a non-empty regular file to continue the chain (seq + 1, prev_hash =
 * sha256(last line)); a torn last line (no newline) is truncated away first.
 * Returns 0, or CF_EIO with a reason in err. Takes the sink's mutex. */
int audit_file_open(struct audit_file *f, char *err, size_t errlen);

/* Appends one entry. body is a compact JSON object ("{...}", n bytes, no newline);
 * the line written is prefix + {"seq":N,"prev_hash":"<hex>", + the rest of body.
 * Returns 0 once write(2) accepted the whole line, CF_EIO when the sink is broken
 * (a sink that failed is reopened on the next append), CF_ENOMEM. The line is
 * hashed into the chain under the sink's mutex and written by a group write:
 * concurrent appenders share one write(2) (see audit_file.c); the call blocks
 * until the batch carrying its line was written.
 * defer (best-effort entries only): the line joins the chain at once but may be
 * written later, with the next append or by the background thread (within
 * AUDIT_SYNC_MS); 0 then means only "queued". */
int audit_file_append(struct audit_file *f, const char *body, size_t n, bool defer) CF_WARN_UNUSED;
/* Two-step append, for an entry that must be recorded before its request's
 * answer leaves the server but need not hold up the work in between:
 * audit_file_append_pending chains the line into the pending buffer and sets
 * *ret_batch (0 when the line was already written, or the sink discards);
 * audit_file_wait(f, batch) returns 0 once that batch was written (writing it
 * itself when nobody else is) or CF_EIO when it was lost. The work done between
 * the two steps overlaps other requests' writes, so the wait is usually over at
 * once. Returns as audit_file_append. */
int audit_file_append_pending(struct audit_file *f, const char *body, size_t n,
                              uint64_t *ret_batch) CF_WARN_UNUSED;
int audit_file_wait(struct audit_file *f, uint64_t batch) CF_WARN_UNUSED;

/* Sequence number of the last line written (0 = none). For tests. */
uint64_t audit_file_seq(struct audit_file *f);

/* A JSON writer into a growing buffer (audit_json.c). It starts on a caller's
 * buffer (usually on the stack) and moves to the heap when that is full; past
 * AUDIT_LINE_MAX, or when malloc fails, oom is set and further output is dropped.
 * Commas are placed automatically: open/close/key/value calls in document order.
 * p is always NUL-terminated. */
struct audit_json {
	char *p;
	size_t len, cap;
	bool heap, oom, comma;
};

void audit_json_init(struct audit_json *w, char *stackbuf, size_t cap);
/* Frees a heap buffer; wipe zeroes the text first (log_raw entries). */
void audit_json_free(struct audit_json *w, bool wipe);
void audit_json_open(struct audit_json *w, char c); /* '{' or '[' */
void audit_json_close(struct audit_json *w, char c);
void audit_json_key(struct audit_json *w, const char *k);
void audit_json_keyn(struct audit_json *w, const char *k, size_t n);
/* Strings are escaped; invalid UTF-8 bytes are written as U+FFFD. */
void audit_json_str(struct audit_json *w, const char *s, size_t n);
void audit_json_cstr(struct audit_json *w, const char *s);
/* A string known to need no escaping (hex, RFC3339 times), copied as is. */
void audit_json_safe(struct audit_json *w, const char *s, size_t n);
void audit_json_int(struct audit_json *w, int64_t v);
void audit_json_real(struct audit_json *w, double v);
void audit_json_bool(struct audit_json *w, bool v);
/* An already-valid JSON token written as is ("null", a number...). */
void audit_json_lit(struct audit_json *w, const char *lit);
/* A non-container jansson value. */
void audit_json_scalar(struct audit_json *w, json_t *v);
/* A whole jansson value, unchanged. */
void audit_json_value(struct audit_json *w, json_t *v);

#endif
