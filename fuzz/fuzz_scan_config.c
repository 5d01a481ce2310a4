/* fuzz_scan_config.c - the `.coffer-scan.toml` parser (src/tools/scan/config.c)
 * on any bytes: no crash, no read past the input; input is refused with one
 * line naming the file and a line number within the input, or read into a
 * rule set whose every rule has an id, a pattern and at least one keyword,
 * and whose allowlists can be applied to any finding. */
#include "lib/err.h"
#include "tools/scan/config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kw[] = {"akia", NULL};
static const struct scan_rule builtin[] = {
        {"aws-access-key", "an AWS key id", "rotate it", kw, "AKIA[A-Z0-9]{16}", 0, NULL, 0},
        {"generic-password", "a password", "rotate it", kw, "(?<secret>x)", 3.0, NULL, 0},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_config cfg;
	char err[512] = "";
	size_t lines = 1;
	int r;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	r = scan_config_parse((const char *)data, size, "f.toml", builtin, 2, &cfg, err,
	                      sizeof(err));
	if (r < 0) {
		char *end;
		unsigned long line;

		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(cfg.rules == NULL && cfg.nrules == 0);
		assert(strchr(err, '\n') == NULL);
		if (r == CF_EINVAL) {
			assert(strncmp(err, "f.toml:", 7) == 0);
			line = strtoul(err + 7, &end, 10);
			assert(*end == ':' && line >= 1 && line <= lines);
		}
		return 0;
	}
	for (size_t i = 0; i < cfg.nrules; i++) {
		const struct scan_rule *ru = &cfg.rules[i];

		assert(ru->id && ru->id[0] && ru->pattern && ru->description && ru->hint);
		assert(ru->keywords && ru->keywords[0] && ru->keywords[0][0]);
		(void)scan_config_allows(&cfg, ru->id, "dir/file.py", (const char *)data,
		                         size < 64 ? size : 64);
	}
	(void)scan_config_allows(&cfg, "aws-access-key", "x", "", 0);
	scan_config_free(&cfg);
	return 0;
}
