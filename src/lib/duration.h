/* duration.h - Vault/Go duration strings (vault-api.md §1.8).
 *
 * Input: an integer number of seconds ("300"), or a Go-style duration: one or more
 * <decimal number><unit> groups, units ns, us, µs, ms, s, m, h, d (d = 24h), e.g.
 * "1h30m", "1.5s", "72h". "" is 0. A leading '-' is rejected. Overflow is rejected. */
#ifndef CF_DURATION_H
#define CF_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into nanoseconds. Returns 0, or CF_EINVAL (bad syntax) / CF_ERANGE. */
int duration_parse_ns(const char *s, int64_t *ret_ns);
/* Parses s into whole seconds (fractions truncated). Same errors. */
int duration_parse(const char *s, int64_t *ret_secs);
/* Formats seconds as Go's time.Duration.String(): "0s", "45s", "3h25m19s", "768h0m0s".
 * Writes at most len bytes including the NUL. */
void duration_format(int64_t secs, char *out, size_t len);

#endif
