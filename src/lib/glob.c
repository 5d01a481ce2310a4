/* glob.c - '*'-only wildcard matching; see glob.h. */
#include "lib/glob.h"

#include <stddef.h>

bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	/* On a mismatch after a '*', that star takes one more byte of s and
	 * matching restarts just after it. Only the last star needs revisiting:
	 * whatever an earlier star could absorb, the later one can too. */
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}
