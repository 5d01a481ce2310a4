/* fuzz_scan.c - the scanner's detector (src/tools/scan) with every built-in
 * rule on any bytes: no crash, no read past the input (the sanitizers watch
 * the engine, the patterns and the rules' checks); every finding lies inside
 * the buffer, past a UTF-8 BOM, in buffer order, with a line and column that
 * match a count of the newlines before it; scanning twice gives the same
 * findings. */
#include "lib/err.h"
#include "tools/scan/scan.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const char *text;
	size_t len, n, last_off;
	size_t offs[64];
};

static int
visit(void *arg, const struct scan_hit *h)
{
	struct run *r = arg;
	size_t line = 1, ls = 0;

	assert(h->rule != NULL && h->rule->id != NULL);
	assert(h->secret_len > 0);
	assert(h->secret_off < r->len && h->secret_len <= r->len - h->secret_off);
	if (r->len >= 3 && memcmp(r->text, "\xef\xbb\xbf", 3) == 0) {
		assert(h->secret_off >= 3);
		ls = 3;
	}
	assert(r->n == 0 || h->secret_off >= r->last_off);
	for (size_t i = ls; i < h->secret_off; i++)
		if (r->text[i] == '\n') {
			line++;
			ls = i + 1;
		}
	assert(h->line == line);
	assert(h->column == h->secret_off - ls + 1);
	if (r->n < 64)
		r->offs[r->n] = h->secret_off;
	r->last_off = h->secret_off;
	r->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan_engine *engine;
	static struct scan_ctx *ctx;
	struct run a = {0}, b = {0};
	char *copy;

	if (engine == NULL) {
		struct scan_rule *rules;
		size_t n;
		char err[256];

		if (scan_builtin_rules(&rules, &n) != 0 ||
		    scan_engine_new(rules, n, &engine, err, sizeof(err)) != 0 ||
		    scan_ctx_new(engine, &ctx) != 0)
			abort();
		/* rules and engine live for the whole run */
	}
	/* an exact-size copy, so a read past the end is caught */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	a.text = b.text = copy;
	a.len = b.len = size;
	if (scan_buffer(ctx, copy, size, visit, &a) != 0)
		abort();
	if (scan_buffer(ctx, copy, size, visit, &b) != 0)
		abort();
	assert(a.n == b.n);
	for (size_t i = 0; i < a.n && i < 64; i++)
		assert(a.offs[i] == b.offs[i]);
	free(copy);
	return 0;
}
