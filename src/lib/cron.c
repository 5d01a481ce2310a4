/* cron.c - 5-field cron expressions in UTC (docs/internals/rotation.md, job field `schedule`).
 *
 * The grammar and the day rule follow Vixie cron's entry.c and cron.c: a day
 * field that begins with `*`, stepped or not, counts as unrestricted, and only
 * when neither day field is unrestricted does a day match on either of them.
 * Each field is a bit set; cron_next walks the civil calendar forward, skipping
 * a whole month, day or hour as soon as it cannot match, so it takes at most a
 * few thousand steps for the 5-year horizon. Dates use Howard Hinnant's
 * days-from-civil algorithms, not libc, so no timezone or locale is involved. */
#include "lib/cron.h"
#include "lib/err.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECS_PER_DAY 86400
/* "Within 5 years", rounded up so that a leap day 4 years on is always found. */
#define HORIZON_SECS ((int64_t)5 * 366 * SECS_PER_DAY)
/* |after| beyond this could overflow while rounding or adding the horizon. */
#define AFTER_LIMIT (INT64_MAX - HORIZON_SECS - 2 * SECS_PER_DAY)
/* How much of a bad token an error message quotes, and the buffer quote() needs. */
#define QUOTE_MAX 24
#define QUOTE_BUF (4 * QUOTE_MAX + 4)

struct cron {
	uint64_t minute; /* bit n set: minute n fires, 0-59 */
	uint64_t hour;   /* 0-23 */
	uint64_t dom;    /* 1-31 */
	uint64_t month;  /* 1-12 */
	uint64_t dow;    /* 0-6, Sunday is 0 (7 is folded into 0) */
	bool dom_star;   /* the day-of-month field began with '*' */
	bool dow_star;   /* the day-of-week field began with '*' */
};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, NFIELDS };

static const char *const month_names[] = {
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* clang-format off */
static const struct field {
	const char *name;
	unsigned min, max;
	const char *const *names;	/* names[i] is the value min + i, or NULL */
	unsigned nnames;
} fields[NFIELDS] = {
	{ "minute",       0, 59, NULL, 0 },
	{ "hour",         0, 23, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, 0 },
	{ "month",        1, 12, month_names, 12 },
	{ "day-of-week",  0,  7, dow_names, 7 },	/* 7 is Sunday too */
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@yearly",   "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly",  "0 0 1 * *" },
	{ "@weekly",   "0 0 * * 0" },
	{ "@daily",    "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly",   "0 * * * *" },
};
/* clang-format on */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char
to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* ASCII-only, locale-free strncasecmp for a token of length n against a
 * NUL-terminated upper- or lower-case constant. */
static bool
token_eq(const char *s, size_t n, const char *want)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (want[i] == '\0' || to_upper(s[i]) != to_upper(want[i]))
			return false;
	}
	return want[i] == '\0';
}

/* Copies at most QUOTE_MAX bytes of s[0..n) into out for an error message,
 * writing quotes, backslashes and bytes that are not printable ASCII as \xNN;
 * out holds QUOTE_BUF bytes. */
static const char *
quote(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			(void)snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (n > QUOTE_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Writes "cron: [field: ]message" into err (truncating) and returns CF_EINVAL. */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return CF_EINVAL;
	if (field != NULL)
		n = snprintf(err, errlen, "cron: %s: ", field);
	else
		n = snprintf(err, errlen, "cron: ");
	if (n < 0 || (size_t)n >= errlen)
		return CF_EINVAL; /* truncated: the documented behaviour */
	va_start(ap, fmt);
	(void)vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return CF_EINVAL;
}

/* The state of parsing one field, [p, end), of kind f. */
struct parser {
	const struct field *f;
	const char *p;   /* cursor */
	const char *end; /* end of the field */
	char *err;
	size_t errlen;
};

static int
fail_unexpected(struct parser *ps)
{
	char q[QUOTE_BUF];

	if (ps->p == ps->end)
		return fail(ps->err, ps->errlen, ps->f->name, "missing value");
	return fail(ps->err, ps->errlen, ps->f->name, "unexpected \"%s\"", quote(ps->p, 1, q));
}

/* A number or, in month and day-of-week, a 3-letter name; in range for the field. */
static int
parse_value(struct parser *ps, unsigned *ret)
{
	const struct field *f = ps->f;
	const char *s = ps->p, *p = ps->p;
	char q[QUOTE_BUF];
	unsigned v = 0;

	if (p < ps->end && is_digit(*p)) {
		for (; p < ps->end && is_digit(*p); p++) {
			if (v <= 1000) /* saturate: anything this big is out of range */
				v = v * 10 + (unsigned)(*p - '0');
		}
		if (v < f->min || v > f->max)
			return fail(ps->err, ps->errlen, f->name, "%s is out of range %u-%u",
			            quote(s, (size_t)(p - s), q), f->min, f->max);
	} else if (p < ps->end && is_alpha(*p)) {
		unsigned i;

		while (p < ps->end && is_alpha(*p))
			p++;
		if (f->names == NULL)
			return fail(ps->err, ps->errlen, f->name, "\"%s\" is not a number",
			            quote(s, (size_t)(p - s), q));
		for (i = 0; i < f->nnames; i++) {
			if (token_eq(s, (size_t)(p - s), f->names[i]))
				break;
		}
		if (i == f->nnames)
			return fail(ps->err, ps->errlen, f->name, "unknown name \"%s\"",
			            quote(s, (size_t)(p - s), q));
		v = f->min + i;
	} else {
		return fail_unexpected(ps);
	}
	ps->p = p;
	*ret = v;
	return 0;
}

/* The step after '/': a number from 1 to the width of the field. */
static int
parse_step(struct parser *ps, unsigned *ret)
{
	const struct field *f = ps->f;
	const char *s = ps->p, *p = ps->p;
	unsigned v = 0, width = f->max - f->min + 1;
	char q[QUOTE_BUF];

	if (p == ps->end || !is_digit(*p))
		return fail_unexpected(ps);
	for (; p < ps->end && is_digit(*p); p++) {
		if (v <= 1000)
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < 1 || v > width)
		return fail(ps->err, ps->errlen, f->name, "step %s is out of range 1-%u",
		            quote(s, (size_t)(p - s), q), width);
	ps->p = p;
	*ret = v;
	return 0;
}

/* element = ( "*" | value [ "-" value ] ) [ "/" step ]; "N/step" means N-max/step. */
static int
parse_element(struct parser *ps, uint64_t *bits)
{
	const struct field *f = ps->f;
	const char *s = ps->p;
	unsigned lo, hi, step = 1;
	bool range = false;
	char q[QUOTE_BUF];
	int r;

	if (ps->p < ps->end && *ps->p == '*') {
		ps->p++;
		lo = f->min;
		hi = f->max;
		range = true;
	} else {
		r = parse_value(ps, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (ps->p < ps->end && *ps->p == '-') {
			ps->p++;
			r = parse_value(ps, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return fail(ps->err, ps->errlen, f->name, "reversed range %s",
				            quote(s, (size_t)(ps->p - s), q));
			range = true;
		}
	}
	if (ps->p < ps->end && *ps->p == '/') {
		ps->p++;
		r = parse_step(ps, &step);
		if (r < 0)
			return r;
		if (!range)
			hi = f->max; /* cronie and most crons read "5/15" as "5-max/15" */
	}
	if (ps->p < ps->end && *ps->p != ',')
		return fail_unexpected(ps);
	for (unsigned v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

static int
parse_field(const struct field *f, const char *s, const char *end, uint64_t *ret_bits, char *err,
            size_t errlen)
{
	struct parser ps = {f, s, end, err, errlen};
	uint64_t bits = 0;
	int r;

	for (;;) {
		if (ps.p == ps.end || *ps.p == ',')
			return fail(err, errlen, f->name, "empty list element");
		r = parse_element(&ps, &bits);
		if (r < 0)
			return r;
		if (ps.p == ps.end)
			break;
		ps.p++; /* ',' */
	}
	*ret_bits = bits;
	return 0;
}

static const char *
skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

static int
parse_fields(const char *s, struct cron *ret, char *err, size_t errlen)
{
	const char *start[NFIELDS], *stop[NFIELDS];
	uint64_t bits[NFIELDS];
	size_t n = 0;
	int r;

	while (*s != '\0') {
		if (n < NFIELDS)
			start[n] = s;
		while (*s != '\0' && !is_blank(*s))
			s++;
		if (n < NFIELDS)
			stop[n] = s;
		n++;
		s = skip_blanks(s);
	}
	if (n != NFIELDS)
		return fail(err, errlen, NULL,
		            "expected 5 fields (minute hour day-of-month month day-of-week), "
		            "got %zu%s",
		            n, n == 6 ? " (there is no seconds field)" : "");
	for (size_t i = 0; i < NFIELDS; i++) {
		r = parse_field(&fields[i], start[i], stop[i], &bits[i], err, errlen);
		if (r < 0)
			return r;
	}
	if (bits[F_DOW] & (1u << 7))
		bits[F_DOW] = (bits[F_DOW] | 1u) & ~(uint64_t)(1u << 7);
	ret->minute = bits[F_MINUTE];
	ret->hour = bits[F_HOUR];
	ret->dom = bits[F_DOM];
	ret->month = bits[F_MONTH];
	ret->dow = bits[F_DOW];
	ret->dom_star = *start[F_DOM] == '*';
	ret->dow_star = *start[F_DOW] == '*';
	return 0;
}

static int
parse_macro(const char *s, struct cron *ret, char *err, size_t errlen)
{
	const char *p = s, *rest;
	char q[QUOTE_BUF];
	size_t n;

	while (*p != '\0' && !is_blank(*p))
		p++;
	n = (size_t)(p - s);
	rest = skip_blanks(p);
	if (token_eq(s, n, "@reboot"))
		return fail(err, errlen, NULL, "@reboot is not supported");
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if (!token_eq(s, n, macros[i].name))
			continue;
		if (*rest != '\0')
			return fail(err, errlen, NULL, "unexpected \"%s\" after %s",
			            quote(rest, strlen(rest), q), macros[i].name);
		return parse_fields(macros[i].expr, ret, err, errlen);
	}
	return fail(err, errlen, NULL, "unknown macro \"%s\"", quote(s, n, q));
}

int
cron_parse(const char *expr, struct cron **ret, char *err, size_t errlen)
{
	struct cron tmp = {0}, *c;
	const char *s;
	int r;

	assert(ret != NULL);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (expr == NULL)
		return fail(err, errlen, NULL, "no expression");
	if (strnlen(expr, CRON_MAX_LEN + 1) > CRON_MAX_LEN)
		return fail(err, errlen, NULL, "expression is longer than %d bytes", CRON_MAX_LEN);
	s = skip_blanks(expr);
	if (*s == '\0')
		return fail(err, errlen, NULL, "empty expression");
	if (*s == '@')
		r = parse_macro(s, &tmp, err, errlen);
	else
		r = parse_fields(s, &tmp, err, errlen);
	if (r < 0)
		return r;
	c = malloc(sizeof(*c));
	if (c == NULL) {
		(void)fail(err, errlen, NULL, "out of memory");
		return CF_ENOMEM;
	}
	*c = tmp;
	*ret = c;
	return 0;
}

void
cron_free(struct cron *c)
{
	free(c);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Day number (0 = 1970-01-01) to proleptic Gregorian year, month 1-12, day 1-31
 * (Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days). */
static void
civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	m = mp < 10 ? mp + 3 : mp - 9;
	*ret_y = (int64_t)yoe + era * 400 + (m <= 2);
	*ret_m = m;
	*ret_d = doy - (153 * mp + 2) / 5 + 1;
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static unsigned
weekday(int64_t day)
{
	int64_t w = (day + 4) % 7;

	return (unsigned)(w < 0 ? w + 7 : w);
}

/* The lowest set bit n with from <= n <= max, or -1. */
static int
next_bit(uint64_t bits, unsigned from, unsigned max)
{
	unsigned n;

	if (from > max || (bits >> from) == 0)
		return -1;
	n = from + (unsigned)__builtin_ctzll(bits >> from);
	return n <= max ? (int)n : -1;
}

static bool
day_matches(const struct cron *c, unsigned mday, unsigned wday)
{
	bool dom = (c->dom >> mday) & 1, dow = (c->dow >> wday) & 1;

	/* Vixie cron: OR only when both day fields are restricted. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int64_t
cron_next(const struct cron *c, int64_t after)
{
	int64_t t, day, last_day, y;
	unsigned mon, mday, hour, min;
	int h, m;

	assert(c != NULL);
	if (after > AFTER_LIMIT || after < -AFTER_LIMIT)
		return -1;
	t = floor_div(after, 60) * 60 + 60;
	day = floor_div(t, SECS_PER_DAY);
	hour = (unsigned)((t - day * SECS_PER_DAY) / 3600);
	min = (unsigned)((t - day * SECS_PER_DAY) / 60 % 60);
	last_day = floor_div(after + HORIZON_SECS, SECS_PER_DAY);
	civil_from_days(day, &y, &mon, &mday);
	while (day <= last_day) {
		unsigned dim = days_in_month(y, mon);

		if (((c->month >> mon) & 1) == 0) {
			day += dim - mday + 1; /* the 1st of next month */
			mday = dim;
		} else if (day_matches(c, mday, weekday(day))) {
			h = next_bit(c->hour, hour, 23);
			if (h >= 0) {
				if ((unsigned)h != hour)
					min = 0;
				m = next_bit(c->minute, min, 59);
				if (m >= 0) {
					t = day * SECS_PER_DAY + h * 3600 + m * 60;
					return t - after <= HORIZON_SECS ? t : -1;
				}
				if (h < 23) { /* past the last minute: try the next hour */
					hour = (unsigned)h + 1;
					min = 0;
					continue;
				}
			}
			day++;
		} else {
			day++;
		}
		/* Move to 00:00 on `day`, one day after (y, mon, mday). */
		hour = 0;
		min = 0;
		if (++mday > dim) {
			mday = 1;
			if (++mon > 12) {
				mon = 1;
				y++;
			}
		}
	}
	return -1;
}
