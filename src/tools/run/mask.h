/* mask.h - a streaming masker: copies bytes through and replaces every
 * occurrence of a secret with "*****" (docs/env.md, "coffer run";
 * docs/internals/mask.md).
 *
 * Each secret is also masked in the forms a program commonly prints it in:
 * base64 (standard and URL-safe, alone with or without padding, and at any
 * alignment inside a longer base64 text), URL (percent) encoding and JSON
 * string escaping. Overlapping or touching matches, of one secret or several,
 * become one "*****" covering their union. A match may be split across any
 * number of mask_write() calls; the masker holds back only bytes that could
 * still be the start of a match, so output is never delayed by more than the
 * longest pattern and flushes as soon as no match can continue. Memory is
 * constant in the input size. Patterns are secrets: mask_free() wipes them.
 * A masker is used by one thread at a time. */
#ifndef CF_TOOLS_MASK_H
#define CF_TOOLS_MASK_H

#include <stddef.h>
#include <sys/types.h>

#define MASK_REPLACEMENT "*****"

struct mask;

/* Writes out n bytes; returns 0 or a negative CF_E* code (the masker stops). */
typedef int (*mask_sink_fn)(void *arg, const void *data, size_t n);

/* Builds a masker for the given secrets (values shorter than MASK_MIN_LEN bytes
 * are not masked: they would mask ordinary text; docs/env.md). Returns 0 with
 * *ret, or CF_ENOMEM. */
#define MASK_MIN_LEN 4
int mask_new(const char *const *secrets, const size_t *lens, size_t n, mask_sink_fn sink,
             void *sink_arg, struct mask **ret);

/* Feeds n bytes. Returns 0 or the sink's error. */
int mask_write(struct mask *m, const void *data, size_t n);

/* Writes out what was held back (the input ended). Returns 0 or the sink's error. */
int mask_flush(struct mask *m);

/* Wipes the patterns and any held-back bytes; NULL is fine. */
void mask_free(struct mask *m);

#endif
