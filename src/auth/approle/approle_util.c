/* approle_util.c - pure helpers of the AppRole method; see approle.h. */
#include "auth/approle/approle.h"

#include "lib/cidr.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <sodium.h>
#include <string.h>

#define META_TEXT_MAX (16 * 1024)

int
approle_name_normalize(const char *name, char *out)
{
	size_t i;

	if (!name || !*name)
		return CF_EINVAL;
	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];
		if (i >= APPROLE_NAME_MAX || c < 0x20 || c == 0x7f || c == '/')
			return CF_EINVAL;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	out[i] = '\0';
	return 0;
}

int
approle_metadata_parse(json_t *v, json_t **ret, const char **ret_err)
{
	json_error_t jerr;
	json_t *obj, *val;
	const char *k;

	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
		obj = json_object();
		if (!obj) {
			*ret_err = "out of memory";
			return CF_ENOMEM;
		}
		*ret = obj;
		return 0;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) > META_TEXT_MAX) {
			*ret_err = "metadata too large";
			return CF_EINVAL;
		}
		obj = json_loadb(json_string_value(v), json_string_length(v),
		                 JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			*ret_err = "failed to parse metadata: not a JSON object";
			return CF_EINVAL;
		}
	} else if (json_is_object(v)) {
		obj = json_copy(v);
		if (!obj) {
			*ret_err = "out of memory";
			return CF_ENOMEM;
		}
	} else {
		*ret_err = "metadata must be a JSON object of strings";
		return CF_EINVAL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		*ret_err = "failed to parse metadata: not a JSON object";
		return CF_EINVAL;
	}
	if (json_object_size(obj) > APPROLE_META_MAX) {
		json_decref(obj);
		*ret_err = "metadata has too many keys";
		return CF_EINVAL;
	}
	json_object_foreach(obj, k, val)
	{
		if (!json_is_string(val)) {
			json_decref(obj);
			*ret_err = "metadata values must be strings";
			return CF_EINVAL;
		}
	}
	*ret = obj;
	return 0;
}

/* True when block in lies inside block out. */
static bool
block_inside(const struct cidr *in, const struct cidr *out)
{
	int full, rest;

	if (in->v6 != out->v6 || in->bits < out->bits)
		return false;
	full = out->bits / 8;
	rest = out->bits % 8;
	if (memcmp(in->addr, out->addr, (size_t)full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((in->addr[full] & mask) != (out->addr[full] & mask))
			return false;
	}
	return true;
}

bool
approle_cidr_subset(json_t *sub, json_t *super)
{
	size_t i, j;
	json_t *s, *p;

	if (json_array_size(super) == 0)
		return true;
	json_array_foreach(sub, i, s)
	{
		struct cidr cs;
		bool found = false;

		if (!json_is_string(s) || cidr_parse(json_string_value(s), &cs) < 0)
			return false;
		json_array_foreach(super, j, p)
		{
			struct cidr cp;
			if (json_is_string(p) && cidr_parse(json_string_value(p), &cp) == 0 &&
			    block_inside(&cs, &cp)) {
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

void
approle_hmac(const unsigned char *key, const char *s, char *out)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(mac, (const unsigned char *)s, strlen(s), key);
	util_hex(mac, sizeof(mac), out);
	secmem_wipe(mac, sizeof(mac));
}

bool
approle_expired(long long exp_ns, long long now_ns)
{
	return exp_ns > 0 && now_ns >= exp_ns;
}
