/* fuzz_sealedsecret.c - SealedSecret and Secret manifests (crypto/sealedsecret)
 * on any bytes read as JSON, with an RSA-2048 key made once at start: no crash,
 * no leak, every refusal a CF_EINVAL / CF_ECRYPTO with a one-line reason. A
 * document that reads as a SealedSecret goes through ss_scope, ss_unseal,
 * ss_key_usage and ss_merge; one that seals as a Secret unseals back to the
 * same items (a round trip) and reseals to a value that opens the same. */
#include "crypto/kseal.h"
#include "crypto/sealedsecret.h"
#include "lib/err.h"
#include "lib/jsonx.h"

#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ITEMS 8

static struct kseal_key *fuzz_key;

static void
key_init(void)
{
	if (fuzz_key != NULL)
		return;
	jsonx_init();
	assert(kseal_key_generate(2048, "", 86400, &fuzz_key) == 0);
}

static void
check_err(int r, const char *err)
{
	assert(r == CF_EINVAL || r == CF_ECRYPTO);
	assert(err[0] != '\0' && strchr(err, '\n') == NULL);
}

static size_t
item_count(const json_t *doc)
{
	const json_t *spec = json_object_get(doc, "spec");

	return json_object_size(json_object_get(doc, "data")) +
	       json_object_size(json_object_get(doc, "stringData")) +
	       json_object_size(json_object_get(spec, "encryptedData"));
}

static void
as_sealed(json_t *doc)
{
	json_t *out = NULL, *copy;
	enum kseal_scope s;
	char *label = NULL, err[512] = "";
	int r;

	r = ss_scope(doc, &s, &label, err, sizeof(err));
	if (r < 0) {
		check_err(r, err);
		return;
	}
	assert(s == KSEAL_STRICT || s == KSEAL_NAMESPACE_WIDE || s == KSEAL_CLUSTER_WIDE);
	free(label);
	if (item_count(doc) > FUZZ_MAX_ITEMS)
		return;
	err[0] = '\0';
	r = ss_unseal(&fuzz_key, 1, doc, &out, err, sizeof(err));
	if (r < 0)
		check_err(r, err);
	json_decref(out);
	out = NULL;
	assert(ss_key_usage(&fuzz_key, 1, doc, &out, err, sizeof(err)) == 0);
	assert(json_object_size(out) ==
	       json_object_size(json_object_get(json_object_get(doc, "spec"), "encryptedData")));
	json_decref(out);
	copy = json_deep_copy(doc);
	assert(copy != NULL);
	assert(ss_merge(copy, doc, err, sizeof(err)) == 0);
	json_decref(copy);
}

static void
as_secret(json_t *doc)
{
	struct ss_seal_opts o = {.allow_empty = true};
	json_t *sealed = NULL, *out = NULL, *again = NULL, *data, *sdata, *v;
	const char *k;
	char err[512] = "";
	int r;

	if (item_count(doc) > FUZZ_MAX_ITEMS)
		return;
	r = ss_seal(fuzz_key, doc, &o, &sealed, err, sizeof(err));
	if (r < 0) {
		check_err(r, err);
		return;
	}
	r = ss_unseal(&fuzz_key, 1, sealed, &out, err, sizeof(err));
	assert(r == 0);
	/* every item comes back: stringData over data, base64 of the bytes */
	data = json_object_get(doc, "data");
	sdata = json_object_get(doc, "stringData");
	json_object_foreach(json_object_get(out, "data"), k, v)
	{
		assert(json_object_get(data, k) != NULL || json_object_get(sdata, k) != NULL);
	}
	json_object_foreach(sdata, k, v)
	{
		assert(json_object_get(json_object_get(out, "data"), k) != NULL);
	}
	json_decref(out);
	out = NULL;
	r = ss_reseal(&fuzz_key, 1, fuzz_key, sealed, &again, err, sizeof(err));
	assert(r == 0);
	assert(ss_unseal(&fuzz_key, 1, again, &out, err, sizeof(err)) == 0);
	json_decref(out);
	json_decref(again);
	json_decref(sealed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *doc;

	if (size > 64 * 1024)
		return 0;
	key_init();
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
	if (doc == NULL)
		return 0;
	as_sealed(doc);
	as_secret(doc);
	json_decref(doc);
	return 0;
}
