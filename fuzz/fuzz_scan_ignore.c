/* fuzz_scan_ignore.c - the .gitignore / .cofferignore reader of `coffer scan`
 * (src/tools/scan/walk.c) on any bytes: the first line is a path to match,
 * the rest an ignore file. No crash, no read past the input, and matching
 * ends quickly whatever the patterns ("**" runs cannot backtrack
 * exponentially). A rule set never ignores a path that a final "!" rule
 * matching everything re-includes. */
#include "lib/err.h"
#include "tools/scan/walk.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(text, '\n', size);
	struct walk_ignore *ig = NULL;
	size_t plen = nl ? (size_t)(nl - text) : size;
	char *path;

	path = malloc(plen + 1);
	if (!path)
		return 0;
	memcpy(path, text, plen);
	path[plen] = '\0';
	if (strlen(path) == plen &&
	    walk_ignore_add(&ig, "", nl ? nl + 1 : "", nl ? size - plen - 1 : 0) == 0) {
		(void)walk_ignore_match(ig, path, false);
		(void)walk_ignore_match(ig, path, true);
		if (walk_ignore_add(&ig, "", "!*\n!**\n", 7) == 0)
			assert(!walk_ignore_match(ig, path, false));
	}
	walk_ignore_free(ig);
	free(path);
	return 0;
}
