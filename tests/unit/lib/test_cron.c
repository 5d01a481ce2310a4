/* test_cron.c - 5-field cron expressions: next fire times from a table of
 * expressions and instants, and error messages that name the bad field. The
 * expected times are written as UTC calendar times and converted with libc's
 * timegm, so the test does not share cron.c's date arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/cron.h"
#include "lib/err.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* "YYYY-MM-DDTHH:MM:SS" UTC to unix seconds; "never" is -1. */
static int64_t
utc(const char *s)
{
	struct tm tm = {0};
	int n = 0;

	if (strcmp(s, "never") == 0)
		return -1;
	if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    s[n] != '\0')
		fail_msg("bad test time \"%s\"", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static void
fmt_utc(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == -1 || gmtime_r(&tt, &tm) == NULL) {
		(void)snprintf(out, len, "never");
		return;
	}
	(void)strftime(out, len, "%Y-%m-%dT%H:%M:%S %a", &tm);
}

static struct cron *
parse_ok(const char *expr)
{
	struct cron *c = NULL;
	char err[256] = "";
	int r = cron_parse(expr, &c, err, sizeof(err));

	if (r != 0)
		fail_msg("\"%s\": r=%d %s", expr, r, err);
	assert_non_null(c);
	return c;
}

/* 2024 is a leap year; 2024-01-01 is a Monday. */
/* clang-format off */
static const struct {
	const char *expr;
	const char *after;
	const char *want;
} next_vectors[] = {
	/* every minute, strictly after */
	{ "* * * * *",          "2024-01-01T00:00:00", "2024-01-01T00:01:00" },
	{ "* * * * *",          "2024-01-01T00:00:30", "2024-01-01T00:01:00" },
	{ "* * * * *",          "2024-01-01T00:00:59", "2024-01-01T00:01:00" },
	{ "  0\t3  * * SUN  ",  "2024-01-01T00:00:00", "2024-01-07T03:00:00" },
	/* lists */
	{ "1,5 * * * *",        "2024-01-01T00:01:00", "2024-01-01T00:05:00" },
	{ "1,5 * * * *",        "2024-01-01T00:05:00", "2024-01-01T01:01:00" },
	{ "0 6,18 * * *",       "2024-01-01T06:00:00", "2024-01-01T18:00:00" },
	{ "0,0,0-59/30 * * * *", "2024-01-01T00:00:00", "2024-01-01T00:30:00" },
	/* ranges */
	{ "10-12 * * * *",      "2024-01-01T00:10:00", "2024-01-01T00:11:00" },
	{ "10-12 * * * *",      "2024-01-01T00:12:00", "2024-01-01T01:10:00" },
	{ "0 9-17 * * *",       "2024-01-01T17:00:00", "2024-01-02T09:00:00" },
	/* steps */
	{ "*/15 * * * *",       "2024-01-01T00:16:00", "2024-01-01T00:30:00" },
	{ "*/15 * * * *",       "2024-01-01T00:45:00", "2024-01-01T01:00:00" },
	{ "10-50/20 * * * *",   "2024-01-01T00:10:00", "2024-01-01T00:30:00" },
	{ "10-50/20 * * * *",   "2024-01-01T00:50:00", "2024-01-01T01:10:00" },
	{ "5/20 * * * *",       "2024-01-01T00:45:00", "2024-01-01T01:05:00" },
	{ "0 */6 * * *",        "2024-01-01T06:00:00", "2024-01-01T12:00:00" },
	{ "0 0 */10 * *",       "2024-01-21T00:00:00", "2024-01-31T00:00:00" },
	{ "0 0 */10 * *",       "2024-01-31T00:00:00", "2024-02-01T00:00:00" },
	{ "0 0 1 */3 *",        "2024-01-01T00:00:00", "2024-04-01T00:00:00" },
	/* names, case-insensitive */
	{ "0 3 * * SUN",        "2024-01-07T03:00:00", "2024-01-14T03:00:00" },
	{ "0 3 * * sun",        "2024-01-01T00:00:00", "2024-01-07T03:00:00" },
	{ "0 9 * * MON-FRI",    "2024-01-05T09:00:00", "2024-01-08T09:00:00" },
	{ "0 9 * * Mon-Fri/2",  "2024-01-01T09:00:00", "2024-01-03T09:00:00" },
	{ "0 0 1 JAN,jul *",    "2024-01-01T00:00:00", "2024-07-01T00:00:00" },
	{ "0 0 1 mar-May *",    "2024-05-01T00:00:00", "2025-03-01T00:00:00" },
	{ "0 0 1 2,DEC *",      "2024-02-01T00:00:00", "2024-12-01T00:00:00" },
	/* day-of-week 0 and 7 are Sunday */
	{ "0 0 * * 0",          "2024-01-01T00:00:00", "2024-01-07T00:00:00" },
	{ "0 0 * * 7",          "2024-01-01T00:00:00", "2024-01-07T00:00:00" },
	{ "0 0 * * 5-7",        "2024-01-01T00:00:00", "2024-01-05T00:00:00" },
	{ "0 0 * * 5-7",        "2024-01-06T00:00:00", "2024-01-07T00:00:00" },
	{ "0 0 * * 5-7",        "2024-01-07T00:00:00", "2024-01-12T00:00:00" },
	{ "0 0 * * 1/3",        "2024-01-04T00:00:00", "2024-01-07T00:00:00" },
	/* macros */
	{ "@yearly",            "2024-01-01T00:00:00", "2025-01-01T00:00:00" },
	{ "@annually",          "2024-06-15T12:00:00", "2025-01-01T00:00:00" },
	{ "@monthly",           "2024-01-15T00:00:00", "2024-02-01T00:00:00" },
	{ "@weekly",            "2024-01-01T00:00:00", "2024-01-07T00:00:00" },
	{ "@daily",             "2024-01-01T12:00:00", "2024-01-02T00:00:00" },
	{ "@midnight",          "2024-01-01T00:00:00", "2024-01-02T00:00:00" },
	{ "@hourly",            "2024-01-01T12:00:00", "2024-01-01T13:00:00" },
	{ "@hourly",            "2024-01-01T12:59:59", "2024-01-01T13:00:00" },
	{ " @DAILY ",           "2024-12-31T23:59:59", "2025-01-01T00:00:00" },
	/* both day fields restricted: either matches (the OR rule) */
	{ "0 0 13 * FRI",       "2024-01-01T00:00:00", "2024-01-05T00:00:00" },
	{ "0 0 13 * FRI",       "2024-01-12T00:00:00", "2024-01-13T00:00:00" },
	{ "0 0 1-31/2 * FRI",   "2024-01-05T00:00:00", "2024-01-07T00:00:00" },
	{ "0 0 29 2 MON",       "2025-02-25T00:00:00", "2026-02-02T00:00:00" },
	/* a day field starting with '*' leaves it unrestricted: both must match */
	{ "0 0 13 * *",         "2024-01-01T00:00:00", "2024-01-13T00:00:00" },
	{ "0 0 */2 * FRI",      "2024-01-05T00:00:00", "2024-01-19T00:00:00" },
	{ "0 0 13 * */2",       "2024-02-13T00:00:00", "2024-04-13T00:00:00" },
	/* month ends: the 31st is skipped in 30-day months and February */
	{ "0 0 31 * *",         "2024-01-31T00:00:00", "2024-03-31T00:00:00" },
	{ "0 0 31 * *",         "2024-03-31T00:00:00", "2024-05-31T00:00:00" },
	{ "0 0 31 * *",         "2024-07-31T00:00:00", "2024-08-31T00:00:00" },
	{ "0 0 30 * *",         "2024-01-30T00:00:00", "2024-03-30T00:00:00" },
	{ "0 0 30 * *",         "2023-01-30T00:00:00", "2023-03-30T00:00:00" },
	{ "0 0 31 2,4,6,9,11,12 *", "2024-01-01T00:00:00", "2024-12-31T00:00:00" },
	/* 29 February only in leap years */
	{ "0 0 29 2 *",         "2023-01-01T00:00:00", "2024-02-29T00:00:00" },
	{ "0 0 29 2 *",         "2024-02-29T00:00:00", "2028-02-29T00:00:00" },
	{ "0 0 29 2 *",         "2024-03-01T00:00:00", "2028-02-29T00:00:00" },
	{ "0 0 29 * *",         "2023-01-29T00:00:00", "2023-03-29T00:00:00" },
	{ "0 12 * 2 *",         "2024-02-28T12:00:00", "2024-02-29T12:00:00" },
	{ "0 12 * 2 *",         "2023-02-28T12:00:00", "2024-02-01T12:00:00" },
	{ "0 0 29 2 *",         "1999-03-01T00:00:00", "2000-02-29T00:00:00" },
	/* never within 5 years */
	{ "0 0 30 2 *",         "2024-01-01T00:00:00", "never" },
	{ "0 0 31 4,6,9,11 *",  "2024-01-01T00:00:00", "never" },
	{ "0 0 29 2 *",         "2096-03-01T00:00:00", "never" }, /* 2100 is not leap */
	/* hour and day rollover */
	{ "30 * * * *",         "2024-01-01T23:45:00", "2024-01-02T00:30:00" },
	{ "15 9 * * *",         "2024-01-01T09:20:00", "2024-01-02T09:15:00" },
	{ "0 0 * * *",          "2024-01-31T00:00:00", "2024-02-01T00:00:00" },
	{ "0 0 * * *",          "2024-02-28T00:00:00", "2024-02-29T00:00:00" },
	{ "0 0 * * *",          "2023-02-28T00:00:00", "2023-03-01T00:00:00" },
	/* year rollover */
	{ "* * * * *",          "2024-12-31T23:59:00", "2025-01-01T00:00:00" },
	{ "59 23 31 12 *",      "2024-12-31T23:59:00", "2025-12-31T23:59:00" },
	{ "0 0 1 1 *",          "2024-12-31T23:59:59", "2025-01-01T00:00:00" },
	{ "0 0 * JAN MON",      "2024-01-29T00:00:00", "2025-01-06T00:00:00" },
	{ "0 0 1 1 *",          "2099-12-31T23:59:00", "2100-01-01T00:00:00" },
	/* before and at the epoch */
	{ "0 0 1 1 *",          "1969-12-31T12:00:00", "1970-01-01T00:00:00" },
	{ "* * * * *",          "1969-12-31T23:58:59", "1969-12-31T23:59:00" },
	{ "0 0 * * THU",        "1969-12-31T00:00:00", "1970-01-01T00:00:00" },
};
/* clang-format on */

static void
test_cron_next_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(next_vectors) / sizeof(next_vectors[0]); i++) {
		struct cron *c = parse_ok(next_vectors[i].expr);
		int64_t got = cron_next(c, utc(next_vectors[i].after));
		int64_t want = utc(next_vectors[i].want);
		char g[64], w[64];

		if (got != want) {
			fmt_utc(got, g, sizeof(g));
			fmt_utc(want, w, sizeof(w));
			fail_msg("\"%s\" after %s: got %s, want %s", next_vectors[i].expr,
			         next_vectors[i].after, g, w);
		}
		cron_free(c);
	}
}

/* Following a schedule fire by fire keeps its period across months and years. */
static void
test_cron_next_walk(void **state)
{
	struct cron *c;
	int64_t t, prev;

	(void)state;
	c = parse_ok("0 3 * * SUN");
	prev = cron_next(c, utc("2024-01-01T00:00:00"));
	assert_int_equal(prev, utc("2024-01-07T03:00:00"));
	for (int i = 0; i < 520; i++) {
		t = cron_next(c, prev);
		assert_int_equal(t - prev, 7 * 86400);
		prev = t;
	}
	cron_free(c);

	c = parse_ok("@hourly");
	prev = utc("2023-12-31T23:00:00");
	for (int i = 0; i < 24 * (366 + 365); i++) {
		t = cron_next(c, prev);
		assert_int_equal(t - prev, 3600);
		prev = t;
	}
	assert_int_equal(prev, utc("2025-12-31T23:00:00"));
	cron_free(c);

	/* Leap days are 4 years apart, except across 2100. */
	c = parse_ok("0 0 29 FEB *");
	prev = utc("2000-02-29T00:00:00");
	for (int y = 2004; y <= 2096; y += 4) {
		char want[32];

		(void)snprintf(want, sizeof(want), "%d-02-29T00:00:00", y);
		t = cron_next(c, prev);
		assert_int_equal(t, utc(want));
		prev = t;
	}
	assert_int_equal(cron_next(c, prev), -1);
	assert_int_equal(cron_next(c, utc("2100-01-01T00:00:00")), utc("2104-02-29T00:00:00"));
	cron_free(c);
}

/* Every macro fires exactly where its expansion does. */
static void
test_cron_macros(void **state)
{
	static const char *const pairs[][2] = {
	        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	        {"@hourly", "0 * * * *"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct cron *m = parse_ok(pairs[i][0]), *e = parse_ok(pairs[i][1]);
		int64_t a = utc("2023-11-17T05:43:21"), b = a;

		for (int n = 0; n < 50; n++) {
			a = cron_next(m, a);
			b = cron_next(e, b);
			assert_true(a > 0);
			assert_int_equal(a, b);
		}
		cron_free(m);
		cron_free(e);
	}
}

/* clang-format off */
static const struct {
	const char *expr;
	const char *err;	/* the whole message */
} err_vectors[] = {
	{ "",                   "cron: empty expression" },
	{ " \t ",               "cron: empty expression" },
	{ "0 3 * *",            "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4" },
	{ "0",                  "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 1" },
	{ "0 0 3 * * SUN",      "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 6 (there is no seconds field)" },
	{ "0 0 3 * * SUN 2024", "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 7" },
	/* out of range */
	{ "60 * * * *",         "cron: minute: 60 is out of range 0-59" },
	{ "* 24 * * *",         "cron: hour: 24 is out of range 0-23" },
	{ "* * 32 * *",         "cron: day-of-month: 32 is out of range 1-31" },
	{ "* * 0 * *",          "cron: day-of-month: 0 is out of range 1-31" },
	{ "* * * 13 *",         "cron: month: 13 is out of range 1-12" },
	{ "* * * 0 *",          "cron: month: 0 is out of range 1-12" },
	{ "* * * * 8",          "cron: day-of-week: 8 is out of range 0-7" },
	{ "0-60 * * * *",       "cron: minute: 60 is out of range 0-59" },
	{ "99999999999999999999 * * * *", "cron: minute: 99999999999999999999 is out of range 0-59" },
	{ "1000000000000000000000000000000 * * * *", "cron: minute: 100000000000000000000000... is out of range 0-59" },
	/* steps */
	{ "*/0 * * * *",        "cron: minute: step 0 is out of range 1-60" },
	{ "* */25 * * *",       "cron: hour: step 25 is out of range 1-24" },
	{ "* * 1-31/0 * *",     "cron: day-of-month: step 0 is out of range 1-31" },
	{ "* * * 1/ *",         "cron: month: missing value" },
	{ "*/x * * * *",        "cron: minute: unexpected \"x\"" },
	{ "1/2/3 * * * *",      "cron: minute: unexpected \"/\"" },
	/* reversed ranges */
	{ "5-1 * * * *",        "cron: minute: reversed range 5-1" },
	{ "* * * DEC-JAN *",    "cron: month: reversed range DEC-JAN" },
	{ "* * * * FRI-MON",    "cron: day-of-week: reversed range FRI-MON" },
	{ "* * * * 7-1",        "cron: day-of-week: reversed range 7-1" },
	/* empty list elements */
	{ "1,,2 * * * *",       "cron: minute: empty list element" },
	{ "* 1, * * *",         "cron: hour: empty list element" },
	{ "* * ,1 * *",         "cron: day-of-month: empty list element" },
	{ "* * * , *",          "cron: month: empty list element" },
	/* names */
	{ "* * * FOO *",        "cron: month: unknown name \"FOO\"" },
	{ "* * * January *",    "cron: month: unknown name \"January\"" },
	{ "* * * MON *",        "cron: month: unknown name \"MON\"" },
	{ "* * * * JAN",        "cron: day-of-week: unknown name \"JAN\"" },
	{ "* * * * MON2",       "cron: day-of-week: unexpected \"2\"" },
	{ "MON * * * *",        "cron: minute: \"MON\" is not a number" },
	{ "0 0 L * *",          "cron: day-of-month: \"L\" is not a number" },
	{ "* * * * /2",         "cron: day-of-week: unexpected \"/\"" },
	/* garbage */
	{ "* 1- * * *",         "cron: hour: missing value" },
	{ "* -1 * * *",         "cron: hour: unexpected \"-\"" },
	{ "1-2-3 * * * *",      "cron: minute: unexpected \"-\"" },
	{ "1.5 * * * *",        "cron: minute: unexpected \".\"" },
	{ "** * * * *",         "cron: minute: unexpected \"*\"" },
	{ "*-5 * * * *",        "cron: minute: unexpected \"-\"" },
	{ "? * * * *",          "cron: minute: unexpected \"?\"" },
	{ "0 0 * * 1\n",        "cron: day-of-week: unexpected \"\\x0a\"" },
	{ "0 0 * * \x01",       "cron: day-of-week: unexpected \"\\x01\"" },
	{ "0 0 * \xc3\xa9 *",   "cron: month: unexpected \"\\xc3\"" },
	/* macros */
	{ "@reboot",            "cron: @reboot is not supported" },
	{ "@every 5m",          "cron: unknown macro \"@every\"" },
	{ "@",                  "cron: unknown macro \"@\"" },
	{ "@dailyx",            "cron: unknown macro \"@dailyx\"" },
	{ "@daily 0",           "cron: unexpected \"0\" after @daily" },
	{ "0 @daily * * *",     "cron: hour: unexpected \"@\"" },
};
/* clang-format on */

static void
test_cron_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_vectors) / sizeof(err_vectors[0]); i++) {
		static char dummy;
		struct cron *const sentinel = (struct cron *)(void *)&dummy;
		struct cron *c = sentinel; /* must stay untouched */
		char err[256] = "";
		int r = cron_parse(err_vectors[i].expr, &c, err, sizeof(err));

		if (r != CF_EINVAL)
			fail_msg("\"%s\": r=%d, want CF_EINVAL", err_vectors[i].expr, r);
		assert_ptr_equal(c, sentinel);
		if (strcmp(err, err_vectors[i].err) != 0)
			fail_msg("\"%s\":\n got \"%s\"\nwant \"%s\"", err_vectors[i].expr, err,
			         err_vectors[i].err);
	}
}

static void
test_cron_parse_limits(void **state)
{
	char expr[CRON_MAX_LEN + 2], err[256] = "", tiny[12];
	struct cron *c = NULL;

	(void)state;
	/* CRON_MAX_LEN bytes are accepted, one more is not. */
	memset(expr, ' ', sizeof(expr));
	memcpy(expr, "0 3 * * SUN", 11);
	expr[CRON_MAX_LEN] = '\0';
	assert_int_equal(cron_parse(expr, &c, err, sizeof(err)), 0);
	cron_free(c);
	c = NULL;
	expr[CRON_MAX_LEN] = ' ';
	expr[CRON_MAX_LEN + 1] = '\0';
	assert_int_equal(cron_parse(expr, &c, err, sizeof(err)), CF_EINVAL);
	assert_string_equal(err, "cron: expression is longer than 256 bytes");
	assert_null(c);

	/* NULL input; NULL or short error buffers. */
	assert_int_equal(cron_parse(NULL, &c, err, sizeof(err)), CF_EINVAL);
	assert_string_equal(err, "cron: no expression");
	assert_int_equal(cron_parse("61 * * * *", &c, NULL, 0), CF_EINVAL);
	assert_int_equal(cron_parse("61 * * * *", &c, tiny, 0), CF_EINVAL);
	assert_int_equal(cron_parse("61 * * * *", &c, tiny, sizeof(tiny)), CF_EINVAL);
	assert_string_equal(tiny, "cron: minut");
	assert_int_equal(cron_parse("61 * * * *", &c, tiny, 4), CF_EINVAL);
	assert_string_equal(tiny, "cro");
	assert_null(c);

	/* A good parse clears err. */
	assert_int_equal(cron_parse("@daily", &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	cron_free(c);
	cron_free(NULL);
}

static void
test_cron_next_extremes(void **state)
{
	struct cron *c = parse_ok("* * * * *");

	(void)state;
	assert_int_equal(cron_next(c, -1), 0);
	assert_int_equal(cron_next(c, 0), 60);
	assert_int_equal(cron_next(c, -61), -60);
	assert_int_equal(cron_next(c, -60), 0);
	assert_int_equal(cron_next(c, INT64_MAX), -1);
	assert_int_equal(cron_next(c, INT64_MIN), -1);
	/* Far from 1970 in both directions the calendar still holds. */
	assert_int_equal(cron_next(c, utc("9999-12-31T23:59:00")), utc("10000-01-01T00:00:00"));
	cron_free(c);

	c = parse_ok("0 0 1 1 *");
	assert_int_equal(cron_next(c, utc("0001-06-01T00:00:00")), utc("0002-01-01T00:00:00"));
	for (int64_t far = (int64_t)1 << 40; far > 0 && far < INT64_MAX / 2; far *= 3) {
		int64_t t = cron_next(c, far);
		assert_true(t > far && t - far <= 366 * 86400 && t % 86400 == 0);
		assert_int_equal(cron_next(c, -far) % 86400, 0);
	}
	cron_free(c);

	/* A schedule that never fires gives up after 5 years, quickly. */
	c = parse_ok("59 23 31 2 *");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cron_next(c, (int64_t)i * 86400 * 37), -1);
	cron_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cron_next_vectors), cmocka_unit_test(test_cron_next_walk),
	        cmocka_unit_test(test_cron_macros),       cmocka_unit_test(test_cron_parse_errors),
	        cmocka_unit_test(test_cron_parse_limits), cmocka_unit_test(test_cron_next_extremes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
