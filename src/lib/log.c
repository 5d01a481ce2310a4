/* log.c - leveled logging to stderr, one line per message, UTC timestamps. */
#include "lib/log.h"
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level cur_level = LOG_INFO;
static const char *const names[] = {"fatal",  "error",  "info",  "verbose",
                                    "debug1", "debug2", "debug3"};

void
log_set_level(enum log_level l)
{
	cur_level = l;
}

int
log_parse_level(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "debug") == 0 || strcmp(s, "trace") == 0) {
		*ret = LOG_DEBUG1;
		return 0;
	}
	if (strcmp(s, "warn") == 0) {
		*ret = LOG_ERROR;
		return 0;
	}
	return CF_EINVAL;
}

void
log_msg(enum log_level l, const char *func, int line, const char *fmt, ...)
{
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (l > cur_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ [%s] ", ts, now.tv_nsec / 1000000, names[l]);
	if (cur_level >= LOG_DEBUG1)
		fprintf(stderr, "%s:%d: ", func, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
