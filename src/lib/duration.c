/* duration.c - Vault/Go duration strings (Vault's duration format).
 *
 * Vault (go-secure-stdlib parseutil.ParseDurationSecond) reads a bare integer as
 * seconds and anything else with Go's time.ParseDuration plus a "d" unit. We
 * accumulate in 128-bit nanoseconds, so no input can overflow on the way, and
 * refuse any total beyond DURATION_MAX_SECS (100 years, far inside both Go's
 * 292-year time.Duration and an int64 of nanoseconds). */
#include "lib/duration.h"
#include "lib/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000LL

/* Largest total accepted: exactly DURATION_MAX_SECS. */
#define DURATION_MAX_NS ((unsigned __int128)DURATION_MAX_SECS * NS_PER_SEC)

/* clang-format off */
static const struct {
	const char *name;
	size_t len;
	uint64_t ns;
} units[] = {
	{ "ns", 2, 1ULL },
	{ "us", 2, 1000ULL },
	{ "\xc2\xb5s", 3, 1000ULL }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 3, 1000ULL }, /* U+03BC Greek mu */
	{ "ms", 2, 1000000ULL },
	{ "s", 1, 1000000000ULL },
	{ "m", 1, 60ULL * 1000000000ULL },
	{ "h", 1, 3600ULL * 1000000000ULL },
	{ "d", 1, 86400ULL * 1000000000ULL },
};
/* clang-format on */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A bare integer ("300", "+300") is seconds. Returns 1 when s is one, 0 when it
 * is not, or a negative CF_E* code. */
static int
parse_bare(const char *s, unsigned __int128 *ret_ns)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p == '+')
		p++;
	if (*p == '\0')
		return 0;
	for (const char *q = p; *q; q++) {
		if (!is_digit(*q))
			return 0;
	}
	for (; *p; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > ((uint64_t)DURATION_MAX_SECS - d) / 10)
			return CF_ERANGE;
		v = v * 10 + d;
	}
	*ret_ns = (unsigned __int128)v * NS_PER_SEC;
	return 1;
}

/* Go's time.ParseDuration grammar: [+]? (digits? (. digits?)? unit)+ ; "0" alone. */
static int
parse_go(const char *s, unsigned __int128 *ret_ns)
{
	unsigned __int128 total = 0;
	const char *p = s;

	if (*p == '+')
		p++;
	if (*p == '\0')
		return CF_EINVAL;
	while (*p) {
		unsigned __int128 v = 0, frac = 0, scale = 1, add;
		bool digits = false;
		const char *u;
		size_t ulen, i;

		if (!is_digit(*p) && *p != '.')
			return CF_EINVAL;
		for (; is_digit(*p); p++) {
			digits = true;
			v = v * 10 + (unsigned)(*p - '0');
			if (v > DURATION_MAX_NS)
				return CF_ERANGE;
		}
		if (*p == '.') {
			p++;
			for (; is_digit(*p); p++) {
				digits = true;
				/* Digits past 10^-18 cannot change a nanosecond total. */
				if (scale < (unsigned __int128)1000000000000000000ULL) {
					frac = frac * 10 + (unsigned)(*p - '0');
					scale *= 10;
				}
			}
		}
		if (!digits)
			return CF_EINVAL;
		u = p;
		while (*p && !is_digit(*p) && *p != '.')
			p++;
		ulen = (size_t)(p - u);
		if (ulen == 0)
			return CF_EINVAL; /* missing unit */
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (units[i].len == ulen && memcmp(units[i].name, u, ulen) == 0)
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return CF_EINVAL; /* unknown unit */
		if (v > DURATION_MAX_NS / units[i].ns)
			return CF_ERANGE;
		add = v * units[i].ns + frac * units[i].ns / scale;
		if (add > DURATION_MAX_NS - total)
			return CF_ERANGE;
		total += add;
	}
	*ret_ns = total;
	return 0;
}

static int
parse_any(const char *s, unsigned __int128 *ret_ns)
{
	unsigned __int128 ns = 0;
	int r;

	if (s == NULL)
		return CF_EINVAL;
	if (*s == '\0') {
		*ret_ns = 0;
		return 0;
	}
	r = parse_bare(s, &ns);
	if (r < 0)
		return r;
	if (r == 0) {
		r = parse_go(s, &ns);
		if (r < 0)
			return r;
	}
	*ret_ns = ns;
	return 0;
}

int
duration_parse_ns(const char *s, int64_t *ret_ns)
{
	unsigned __int128 ns;
	int r = parse_any(s, &ns);

	if (r < 0)
		return r;
	*ret_ns = (int64_t)ns; /* <= DURATION_MAX_NS, which fits an int64 */
	return 0;
}

int
duration_parse(const char *s, int64_t *ret_secs)
{
	unsigned __int128 ns;
	int r = parse_any(s, &ns);

	if (r < 0)
		return r;
	*ret_secs = (int64_t)(ns / NS_PER_SEC);
	return 0;
}

int
duration_check(int64_t secs)
{
	if (secs < 0)
		return CF_EINVAL;
	return secs > DURATION_MAX_SECS ? CF_ERANGE : 0;
}

const char *
duration_strerror(int r)
{
	if (r == CF_ERANGE)
		return "out of range: a duration may be at most " DURATION_MAX_TEXT;
	return "not a duration: want seconds or a number with a unit (s, m, h, d), "
	       "such as 90 or 1h30m";
}

void
duration_format(int64_t secs, char *out, size_t len)
{
	const char *sign = secs < 0 ? "-" : "";
	uint64_t u = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;
	uint64_t h = u / 3600, m = u / 60 % 60, s = u % 60;

	if (out == NULL || len == 0)
		return;
	/* Truncation is the documented behaviour for a short buffer. */
	if (h > 0)
		(void)snprintf(out, len, "%s%lluh%llum%llus", sign, (unsigned long long)h,
		               (unsigned long long)m, (unsigned long long)s);
	else if (m > 0)
		(void)snprintf(out, len, "%s%llum%llus", sign, (unsigned long long)m,
		               (unsigned long long)s);
	else
		(void)snprintf(out, len, "%s%llus", sign, (unsigned long long)s);
}
