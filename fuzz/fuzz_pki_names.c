/* fuzz_pki_names.c - the name policy of a pki role (pki_name_allowed) on any
 * name and any allowed_domains: never crashes, reads only its strings, and a
 * name it allows under enforce_hostnames (not an email, not a wildcard) is a
 * host name: letters, digits, '-' and '.'. Input: one byte of flags, then
 * newline-separated strings: the name, then the allowed domains. */
#include "engines/pki/pki_int.h"

#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DOMAINS 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *domains[MAX_DOMAINS + 1] = {0};
	struct pki_name_policy p = {0};
	char *buf, *name, *s, *nl;
	size_t n = 0;

	if (size < 1 || size > 1024)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	name = buf;
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		for (s = nl + 1; n < MAX_DOMAINS; s = nl + 1) {
			domains[n++] = s;
			nl = strchr(s, '\n');
			if (!nl)
				break;
			*nl = '\0';
		}
	}
	p.allowed_domains = domains;
	p.allow_any_name = data[0] & 1;
	p.allow_localhost = data[0] & 2;
	p.allow_subdomains = data[0] & 4;
	p.allow_bare_domains = data[0] & 8;
	p.allow_glob_domains = data[0] & 16;
	p.allow_wildcard_certificates = data[0] & 32;
	p.enforce_hostnames = data[0] & 64;
	if (pki_name_allowed(&p, name) && p.enforce_hostnames && !strchr(name, '@') &&
	    !strchr(name, '*')) {
		for (s = name; *s; s++)
			assert(isalnum((unsigned char)*s) || *s == '-' || *s == '.');
		assert(*name != '\0');
	}
	free(buf);
	return 0;
}
