/* cidr.h - IPv4/IPv6 CIDR blocks: parsing and membership (token_bound_cidrs,
 * secret_id_bound_cidrs). A bare address is a /32 (or /128) block. IPv4-mapped
 * IPv6 addresses (::ffff:a.b.c.d) match IPv4 blocks. */
#ifndef CF_CIDR_H
#define CF_CIDR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct cidr {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	int bits;
	bool v6;
};

/* Returns 0 or CF_EINVAL. */
int cidr_parse(const char *s, struct cidr *ret);
/* True when addr (a textual address) is inside c. */
bool cidr_contains(const struct cidr *c, const char *addr);
/* True when list (array of CIDR strings) is empty/NULL or one block holds addr.
 * Unparsable entries match nothing. */
bool cidr_list_allows(json_t *list, const char *addr);
/* Validates every entry of a JSON array of strings; on error *ret_bad names it. */
int cidr_list_validate(json_t *list, const char **ret_bad);

#endif
