/* cidr.c - CIDR parsing and matching; see cidr.h. */
#include "lib/cidr.h"
#include "lib/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address; IPv4-mapped IPv6 becomes IPv4. */
static int
addr_parse(const char *s, uint8_t out[16], bool *ret_v6)
{
	uint8_t a6[16];

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*ret_v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a6) == 1) {
		if (memcmp(a6, v4_mapped, sizeof(v4_mapped)) == 0) {
			memcpy(out, a6 + 12, 4);
			*ret_v6 = false;
		} else {
			memcpy(out, a6, 16);
			*ret_v6 = true;
		}
		return 0;
	}
	return CF_EINVAL;
}

int
cidr_parse(const char *s, struct cidr *ret)
{
	char buf[64];
	const char *slash;
	char *end = NULL;
	long bits;
	int max;

	if (!s || strlen(s) >= sizeof(buf))
		return CF_EINVAL;
	slash = strchr(s, '/');
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (addr_parse(buf, ret->addr, &ret->v6) < 0)
		return CF_EINVAL;
	max = ret->v6 ? 128 : 32;
	if (!slash) {
		ret->bits = max;
		return 0;
	}
	if (!slash[1])
		return CF_EINVAL;
	bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 0 || bits > max)
		return CF_EINVAL;
	ret->bits = (int)bits;
	return 0;
}

bool
cidr_contains(const struct cidr *c, const char *addr)
{
	uint8_t a[16];
	bool v6;
	int full, rest;

	if (!addr || addr_parse(addr, a, &v6) < 0 || v6 != c->v6)
		return false;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, (size_t)full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a[full] & mask) != (c->addr[full] & mask))
			return false;
	}
	return true;
}

bool
cidr_list_allows(json_t *list, const char *addr)
{
	size_t i;
	json_t *v;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return true;
	json_array_foreach(list, i, v)
	{
		struct cidr c;
		if (json_is_string(v) && cidr_parse(json_string_value(v), &c) == 0 &&
		    cidr_contains(&c, addr))
			return true;
	}
	return false;
}

int
cidr_list_validate(json_t *list, const char **ret_bad)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		struct cidr c;
		if (!json_is_string(v) || cidr_parse(json_string_value(v), &c) < 0) {
			*ret_bad = json_is_string(v) ? json_string_value(v) : "(not a string)";
			return CF_EINVAL;
		}
	}
	return 0;
}
