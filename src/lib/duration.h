/* duration.h - Vault/Go duration strings (Vault's duration format).
 *
 * Input: an integer number of seconds ("300"), or a Go-style duration: one or more
 * <decimal number><unit> groups, units ns, us, µs, ms, s, m, h, d (d = 24h), e.g.
 * "1h30m", "1.5s", "72h". "" is 0. A leading '-' is rejected.
 *
 * Every accepted value lies in [0, DURATION_MAX_SECS]: a longer one (or one whose
 * arithmetic would overflow) is CF_ERANGE, so a TTL can never wrap into the past
 * or be stored beyond what the rest of coffer can add to a timestamp. */
#ifndef CF_DURATION_H
#define CF_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration coffer accepts anywhere: 100 years of 365 days (876000h). */
#define DURATION_MAX_SECS (100LL * 365 * 86400)
/* The same limit as it is written in error messages. */
#define DURATION_MAX_TEXT "876000h (100 years)"

/* Parses s into nanoseconds. Returns 0, or CF_EINVAL (bad syntax) / CF_ERANGE. */
int duration_parse_ns(const char *s, int64_t *ret_ns);
/* Parses s into whole seconds (fractions truncated). Same errors. */
int duration_parse(const char *s, int64_t *ret_secs);
/* Checks whole seconds that arrived as a number rather than a string: 0 when
 * 0 <= secs <= DURATION_MAX_SECS, CF_EINVAL when negative, else CF_ERANGE. */
int duration_check(int64_t secs);
/* Static text for an error of the functions above, to follow "invalid value for
 * <field>: ": CF_EINVAL says what a duration looks like, CF_ERANGE gives the limit. */
const char *duration_strerror(int r);
/* Formats seconds as Go's time.Duration.String(): "0s", "45s", "3h25m19s", "768h0m0s".
 * Writes at most len bytes including the NUL. */
void duration_format(int64_t secs, char *out, size_t len);

#endif
