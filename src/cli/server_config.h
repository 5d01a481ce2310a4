/* server_config.h - `coffer server --config=FILE`: the HCL file Vault operators
 * write (storage, listener "tcp", api_addr, cluster_name, log_level, telemetry,
 * lease TTL defaults), checked and mapped onto the server's settings. Every
 * error names FILE:LINE. The keys are listed in docs/config.md. */
#ifndef CF_CLI_SERVER_CONFIG_H
#define CF_CLI_SERVER_CONFIG_H

#include "http/http.h"
#include "lib/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a config file says. Strings are malloc'd (NULL: not in the file). */
struct server_config {
	char *storage; /* a --storage spec: "sqlite:PATH", "postgres:URL?schema=..", "memory:";
	                * may hold a database password: freed with secmem_free_str */
	char *listen;  /* listener "tcp" address */
	char *tls_cert;
	char *tls_key;
	bool tls_disable;
	size_t max_body;      /* max_request_size; 0 = not set */
	char *xff_authorized; /* x_forwarded_for_authorized_addrs, comma-separated CIDRs */
	bool xff_reject;      /* x_forwarded_for_reject_not_authorized */
	char *api_addr;
	char *cluster_name;
	bool has_log_level;
	enum log_level log_level;
	struct http_telemetry telemetry;
	int64_t default_lease_ttl; /* seconds; 0 = not set */
	int64_t max_lease_ttl;
	bool ui;            /* accepted, reserved */
	bool disable_mlock; /* accepted: coffer never pages keys out anyway (see docs/config.md) */
};

/* Parses text[0..len) (name is the file name used in messages) into *ret,
 * which the caller zeroes first and frees with server_config_free on every path.
 * Returns 0, CF_EINVAL with "NAME:LINE: what" in err (an HCL syntax error, an
 * unknown key or block, a value of the wrong type or out of range), or
 * CF_ENOMEM. Values are never quoted in err (a connection URL may hold a password). */
int server_config_parse(const char *name, const char *text, size_t len, struct server_config *ret,
                        char *err, size_t errlen);
/* Reads the file at path (at most 1 MiB) and parses it. Also CF_EIO when it
 * cannot be read, with the reason in err. */
int server_config_load(const char *path, struct server_config *ret, char *err, size_t errlen);
void server_config_free(struct server_config *c);

#endif
