/* srp_parse.c - input checks of the srp auth method (docs/internals/auth.md, SRP). */
#include "auth/srp/srp_int.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/crypto.h>
#include <string.h>

bool
srp_parse_username(const char *s)
{
	size_t n = 0;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= SRP_USERNAME_MAX)
			return false;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '@' || c == '+' || c == '-')
			continue;
		return false;
	}
	return true;
}

int
srp_parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n, len, i = 0, o = 0;

	if (!hex)
		return CF_EINVAL;
	n = strnlen(hex, 2 * cap + 2);
	len = (n + 1) / 2;
	if (n == 0 || len > cap)
		return CF_EINVAL;
	if (n % 2) {
		int lo = util_hex_digit(hex[0]);
		if (lo < 0)
			return CF_EINVAL;
		out[o++] = (uint8_t)lo;
		i = 1;
	}
	for (; i < n; i += 2) {
		int hi = util_hex_digit(hex[i]), lo = util_hex_digit(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return CF_EINVAL;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	*ret_len = len;
	return 0;
}

int
srp_parse_hex_exact(const char *hex, uint8_t *out, size_t len)
{
	size_t got;

	if (!hex || strnlen(hex, 2 * len + 1) != 2 * len)
		return CF_EINVAL;
	return srp_parse_hex(hex, out, len, &got) == 0 && got == len ? 0 : CF_EINVAL;
}

int
srp_parse_A(const struct srp6a_group *grp, const char *hex, uint8_t *out)
{
	uint8_t raw[SRP6A_MAX_N];
	size_t len;

	if (srp_parse_hex(hex, raw, srp6a_nlen(grp), &len) < 0)
		return CF_EINVAL;
	return srp6a_public_check(grp, raw, len, out) == 0 ? 0 : CF_EINVAL;
}

int
srp_parse_verifier(const struct srp6a_group *grp, const char *hex, uint8_t *out)
{
	size_t n = srp6a_nlen(grp);
	int r;

	r = srp_parse_hex_exact(hex, out, n);
	if (r == 0 && srp6a_verifier_check(grp, out, n) != 0)
		r = CF_EINVAL;
	if (r < 0)
		secmem_wipe(out, n);
	return r;
}
