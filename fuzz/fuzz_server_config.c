/* fuzz_server_config.c - `coffer server --config` files (cli/server_config.c)
 * and the key-to-line table of lib/hcl.
 *
 * Never crashes or leaks; an error is CF_EINVAL (with "NAME:LINE" at the start
 * of the message) or CF_ENOMEM; what is accepted is consistent: a storage spec
 * starts with a known scheme, TTL defaults are in range and ordered, TLS files
 * come in pairs. */
#include "cli/server_config.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/hcl.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_config c = {0};
	json_t *root = NULL, *lines = NULL, *v;
	const char *k;
	char err[1024];
	int r;

	r = hcl_parse_lines((const char *)data, size, &root, &lines, err, sizeof(err));
	if (r == 0) {
		json_object_foreach(lines, k, v)
		{
			assert(json_is_integer(v) && json_integer_value(v) >= 1);
			assert(strlen(k) < 256);
		}
	}
	json_decref(root);
	json_decref(lines);

	r = server_config_parse("f.hcl", (const char *)data, size, &c, err, sizeof(err));
	if (r < 0) {
		assert(r == CF_EINVAL || r == CF_ENOMEM);
		assert(r != CF_EINVAL || strncmp(err, "f.hcl:", 6) == 0);
	} else {
		assert(c.storage == NULL || strncmp(c.storage, "sqlite:", 7) == 0 ||
		       strncmp(c.storage, "postgres:", 9) == 0 ||
		       strcmp(c.storage, "memory:") == 0);
		assert(c.default_lease_ttl >= 0 && c.default_lease_ttl <= DURATION_MAX_SECS);
		assert(c.max_lease_ttl >= 0 && c.max_lease_ttl <= DURATION_MAX_SECS);
		assert(c.max_lease_ttl == 0 || c.default_lease_ttl <= c.max_lease_ttl);
		assert(c.tls_disable || (c.tls_cert == NULL) == (c.tls_key == NULL));
		assert(c.max_body == 0 || c.max_body >= 1024);
	}
	server_config_free(&c);
	return 0;
}
