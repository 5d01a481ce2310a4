/* cron.h - 5-field cron expressions in UTC (docs/internals/rotation.md, job field `schedule`).
 *
 * Vixie cron syntax: "minute hour day-of-month month day-of-week", each field a
 * comma list of `*`, `N` or `N-M`, each with an optional `/step` (`10-50/5`; on a
 * lone `N` the step runs to the field's maximum). Month names JAN-DEC and day
 * names SUN-SAT are case-insensitive; day-of-week 0 and 7 are both Sunday. When
 * neither day field starts with `*` (stepped or not), a day matches if either
 * matches (the OR rule); otherwise it must match both. Macros: @yearly @annually
 * @monthly @weekly @daily @midnight @hourly. No seconds field, no timezone: every
 * time is unix seconds, UTC. See docs/internals/cron.md. */
#ifndef CF_CRON_H
#define CF_CRON_H

#include <stddef.h>
#include <stdint.h>

/* Longest expression cron_parse accepts, in bytes. */
#define CRON_MAX_LEN 256

struct cron; /* opaque */

/* Parses a 5-field expression (minute hour day-of-month month day-of-week) or a
 * macro (@yearly @annually @monthly @weekly @daily @midnight @hourly). On error
 * returns CF_EINVAL and writes a message naming the bad field into err, e.g.
 * "cron: day-of-month: 32 is out of range 1-31". Returns 0 and a new struct in
 * *ret (the caller frees it with cron_free), or CF_EINVAL / CF_ENOMEM; *ret is
 * written only on success. err may be NULL or short: the message is truncated.
 * Leading and trailing blanks are allowed; fields are separated by spaces or tabs. */
int cron_parse(const char *expr, struct cron **ret, char *err, size_t errlen);
/* Frees c; accepts NULL. */
void cron_free(struct cron *c);
/* The first fire time strictly after `after` (unix seconds, UTC), or -1 if none
 * within 5 years (e.g. "0 0 30 2 *"). Fire times are whole minutes. "5 years" is
 * 5 * 366 days, so a 29 February schedule is always found unless the next one is
 * more than 5 years on (as after 2096, 2100 not being a leap year). Also -1 when
 * after is so close to INT64_MAX that the answer would overflow. Pure: no clock,
 * no locale, no timezone; safe to call from any thread. */
int64_t cron_next(const struct cron *c, int64_t after);

#endif
