/* transit_ct.c - the "vault:v<N>:<base64>" strings of ciphertexts, HMACs and
 * signatures, and the shape of batch answers (Vault's transit API "Formats and
 * rules"). Pure: no storage, no keys. */
#include "engines/transit/transit_int.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_PREFIX "vault:"

/* Vault's keysutil.Policy.Decrypt texts, word for word. */
int
transit_ct_parse(const char *s, int64_t *ret_version, const char **ret_payload,
                 const char **ret_err)
{
	const char *p, *colon;
	int64_t v = 0;

	if (strncmp(s, CT_PREFIX, strlen(CT_PREFIX)) != 0) {
		*ret_err = "invalid ciphertext: no prefix";
		return CF_EINVAL;
	}
	p = s + strlen(CT_PREFIX);
	colon = strchr(p, ':');
	if (!colon) {
		*ret_err = "invalid ciphertext: wrong number of fields";
		return CF_EINVAL;
	}
	if (*p != 'v' || colon - p < 2 || colon - p > 11) {
		*ret_err = "invalid ciphertext: version number could not be decoded";
		return CF_EINVAL;
	}
	for (const char *d = p + 1; d < colon; d++) {
		if (*d < '0' || *d > '9') {
			*ret_err = "invalid ciphertext: version number could not be decoded";
			return CF_EINVAL;
		}
		v = v * 10 + (*d - '0');
	}
	if (v > INT32_MAX) {
		*ret_err = "invalid ciphertext: version number could not be decoded";
		return CF_EINVAL;
	}
	if (v == 0)
		v = 1; /* Vault: compatibility with the first keys, which started at 0 */
	*ret_version = v;
	*ret_payload = colon + 1;
	return 0;
}

int
transit_ct_decode(const char *payload, bool url, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(payload), out_len = 0, cap = n / 4 * 3 + 4;
	const char *end = NULL;
	uint8_t *out;
	int variant;

	if (url)
		variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	else
		variant = n % 4 ? sodium_base64_VARIANT_ORIGINAL_NO_PADDING
		                : sodium_base64_VARIANT_ORIGINAL;
	out = malloc(cap);
	if (!out)
		return CF_ENOMEM;
	if (sodium_base642bin(out, cap, payload, n, NULL, &out_len, &end, variant) != 0 ||
	    *end != '\0') {
		secmem_free(out, cap);
		return CF_EINVAL;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

char *
transit_ct_format(int64_t version, const uint8_t *in, size_t n, bool url)
{
	int variant =
	        url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
	size_t b64 = sodium_base64_encoded_len(n, variant);
	char head[32];
	int hl = snprintf(head, sizeof(head), "vault:v%lld:", (long long)version);
	char *out;

	if (hl < 0 || (size_t)hl >= sizeof(head))
		return NULL;
	out = malloc((size_t)hl + b64);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)hl);
	sodium_bin2base64(out + hl, b64, in, n, variant);
	return out;
}

int
transit_batch_reference(json_t *item, json_t *input)
{
	json_t *ref = json_object_get(input, "reference");

	if (!json_is_string(ref))
		return 0;
	return json_object_set(item, "reference", ref) == 0 ? 0 : CF_ENOMEM;
}

json_t *
transit_batch_error(const char *msg, json_t *input)
{
	json_t *item = json_pack("{s:s}", "error", msg ? msg : "internal error");

	if (item && transit_batch_reference(item, input) < 0) {
		json_decref(item);
		return NULL;
	}
	return item;
}

int
transit_batch_status(const json_t *results, int partial)
{
	size_t i, failed = 0, n = json_array_size(results);
	json_t *item;

	json_array_foreach(results, i, item)
	{
		const char *e = json_string_value(json_object_get(item, "error"));
		if (e && *e)
			failed++;
	}
	if (failed == 0)
		return 200;
	if (failed == n)
		return 400;
	return partial > 0 ? partial : 400;
}
