/* fuzz_sealed_yaml.c - the manifest reader of coffer seal / unseal
 * (src/tools/sealed/yaml.c) on any bytes: no crash, no leak, input either
 * refused with a one-line reason or read into objects; what the YAML and the
 * JSON writer make of each object reads back equal to it (a round trip). */
#include "lib/buf.h"
#include "lib/err.h"
#include "tools/sealed/yaml.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libfyaml 0.7 leaks the chunk list of fy_token_get_text() for single-quoted
 * scalars with many '' escapes (docs/internals/sealed-cli.md): not ours. */
const char *
__lsan_default_suppressions(void)
{
	return "leak:fy_atom_iter_grow_chunk\n";
}

static void
round_trip(const json_t *doc, enum yaml_format f)
{
	struct buf b = BUF_INIT(16u * 1024 * 1024, 0);
	json_t *again = NULL;
	char err[256];
	int r;

	r = yaml_write(&b, doc, f);
	if (r == CF_ETOOBIG) {
		buf_free(&b);
		return;
	}
	assert(r == 0);
	r = yaml_read_docs(buf_str(&b), buf_len(&b), &again, NULL, err, sizeof(err));
	assert(r == 0);
	assert(json_array_size(again) == 1);
	assert(json_equal(json_array_get(again, 0), (json_t *)doc));
	json_decref(again);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *docs = NULL, *doc;
	char err[256] = "";
	size_t i;
	int r;

	r = yaml_read_docs((const char *)data, size, &docs, NULL, err, sizeof(err));
	if (r < 0) {
		assert(err[0] != '\0' && strchr(err, '\n') == NULL);
		return 0;
	}
	assert(json_array_size(docs) > 0);
	json_array_foreach(docs, i, doc)
	{
		assert(json_is_object(doc));
		round_trip(doc, YAML_FORMAT_YAML);
		round_trip(doc, YAML_FORMAT_JSON);
	}
	json_decref(docs);
	return 0;
}
