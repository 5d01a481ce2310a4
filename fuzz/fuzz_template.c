/* fuzz_template.c - the template language (src/tools/tmpl) on any bytes: the
 * first byte picks the options (error_on_missing_key, custom delimiters), the
 * rest is the template. No crash, no leak, no read past the input; a refused
 * template has an error naming it; a render against a fixed data source
 * either succeeds with output that renders the same a second time, or fails
 * with an error and leaves the output buffer exactly as it was. */
#include "lib/buf.h"
#include "lib/err.h"
#include "tools/tmpl/tmpl.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
source(void *ctx, const char *fn, const char *path, json_t *params, json_t **ret, struct buf *err)
{
	(void)ctx;
	(void)fn;
	if (strcmp(path, "missing") == 0) {
		*ret = NULL;
		return 0;
	}
	if (strcmp(path, "denied") == 0) {
		int r = buf_append_str(err, "permission denied");
		(void)r;
		return CF_EDENIED;
	}
	*ret = json_pack("{s:{s:{s:s,s:i,s:[s,s],s:n},s:O,s:{s:i}},s:s,s:i,s:b}", "Data", "data",
	                 "password", "s3cr3t<&>", "port", 5432, "tags", "a", "b", "nothing",
	                 "params", params, "metadata", "version", 3, "LeaseID", "lease/1",
	                 "LeaseDuration", 3600, "Renewable", 1);
	return *ret != NULL ? 0 : CF_ENOMEM;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl_opts o = {0};
	struct buf out = BUF_INIT(1u << 16, BUF_SECRET), again = BUF_INIT(1u << 16, BUF_SECRET);
	struct buf err = BUF_INIT(1024, 0);
	struct tmpl *t = NULL;
	int r;

	if (size == 0)
		return 0;
	o.error_on_missing_key = data[0] & 1;
	if (data[0] & 2) {
		o.left_delim = "[[";
		o.right_delim = "]]";
	}
	r = tmpl_parse("fuzz", (const char *)data + 1, size - 1, &o, &t, &err);
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ETOOBIG || r == CF_ENOMEM);
		assert(t == NULL);
		assert(r == CF_ENOMEM || strncmp(buf_str(&err), "fuzz:", 5) == 0);
		goto out;
	}
	r = buf_append_str(&out, "x");
	assert(r == 0);
	r = tmpl_render(t, source, NULL, &out, &err);
	if (r < 0) {
		assert(buf_len(&out) == 1 && strcmp(buf_str(&out), "x") == 0);
		assert(r == CF_ENOMEM || buf_len(&err) > 0);
		goto out;
	}
	assert(strlen(buf_str(&out)) <= buf_len(&out));
	r = buf_append_str(&again, "x");
	assert(r == 0);
	r = tmpl_render(t, source, NULL, &again, &err);
	/* the same data renders the same (env and file are read again, and stay) */
	assert(r == 0 && buf_len(&again) == buf_len(&out) &&
	       memcmp(buf_str(&again), buf_str(&out), buf_len(&out)) == 0);
out:
	tmpl_free(t);
	buf_free(&out);
	buf_free(&again);
	buf_free(&err);
	return 0;
}
