/* rotation_sched.c - when a job is due (pure functions, unit-tested). */
#include "rotation/rotation_int.h"

#include "lib/cron.h"

int64_t
rotation_next_fire(const struct cron *c, int64_t period_s, int64_t anchor_s)
{
	if (c)
		return cron_next(c, anchor_s);
	if (period_s > 0) {
		if (anchor_s > INT64_MAX - period_s)
			return -1;
		return anchor_s + period_s;
	}
	return -1;
}

int64_t
rotation_backoff(int64_t failures, int64_t base_s)
{
	int64_t d = base_s > 0 ? base_s : ROT_BACKOFF_MIN_S;

	if (failures < 1)
		failures = 1;
	for (int64_t i = 1; i < failures && d < ROT_BACKOFF_MAX_S; i++)
		d *= 2;
	return d > ROT_BACKOFF_MAX_S ? ROT_BACKOFF_MAX_S : d;
}
