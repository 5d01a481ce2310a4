/* client.h - the CLI's HTTP client for the Vault-compatible API (Vault's API conventions).
 *
 * Address: the explicit one, else COFFER_ADDR, else VAULT_ADDR, else
 * http://127.0.0.1:8200. Token: the explicit one, else COFFER_TOKEN, else
 * VAULT_TOKEN, else the first line of ~/.coffer-token; sent as X-Vault-Token.
 * TLS: COFFER_CACERT (else VAULT_CACERT) names a PEM bundle; COFFER_SKIP_VERIFY
 * (else VAULT_SKIP_VERIFY), a ParseBool value, turns verification off.
 * COFFER_CLIENT_TIMEOUT (seconds, default 60) bounds each request.
 *
 * The client keeps its own copy of the token and wipes it, the header list it is
 * copied into, request bodies and response bodies before freeing them. */
#ifndef CF_CLI_CLIENT_H
#define CF_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest response body accepted (a bigger one fails with CF_ETOOBIG). */
#define CLIENT_MAX_BODY (64u * 1024 * 1024)

struct client;

/* One answer. json is NULL when the body was empty (204) or not JSON. Owned by
 * the struct: release with client_resp_clear. */
struct client_resp {
	long status;
	json_t *json;
	bool no_token; /* the request carried no token (client_resp_error says so) */
};

/* Creates a client. address/token may be NULL (then the environment is used).
 * Returns 0 and *ret, or CF_EINVAL with a message in err (bad CA file, bad
 * COFFER_SKIP_VERIFY) or CF_ENOMEM. */
int client_new(const char *address, const char *token, struct client **ret, char *err,
               size_t errlen);
void client_free(struct client *c);

/* Asks the server to wrap every later answer of c (X-Vault-Wrap-TTL: ttl, a
 * duration or seconds; NULL: no wrapping). The answer then holds only
 * wrap_info. Returns 0 or CF_ENOMEM. */
int client_set_wrap_ttl(struct client *c, const char *ttl);

/* The address requests go to, without a trailing '/'. Borrowed. */
const char *client_address(const struct client *c);

/* Sends METHOD /v1/<path>[?query] with body (NULL: none; POST/PUT/PATCH then send
 * an empty body). method may be any verb, including LIST. PATCH bodies are sent as
 * application/merge-patch+json, others as application/json. The path is
 * percent-encoded (keeping '/'); query is sent as given. Returns 0 whenever an HTTP
 * answer arrived (whatever its status) with *resp filled, or CF_EIO (transport
 * failure, message in err) / CF_ETOOBIG / CF_ENOMEM. */
int client_request(struct client *c, const char *method, const char *path, const char *query,
                   json_t *body, struct client_resp *resp, char *err, size_t errlen);

/* Streams GET /v1/<path>[?query] (server-sent events): on_data gets each piece
 * of a 2xx body as it arrives (return false to stop). last_event_id (NULL: none)
 * is sent as Last-Event-ID. No overall timeout; a minute without a byte (the
 * server sends keepalives every 15 s) counts as a broken connection. Returns 0
 * when an answer arrived and ended (resp->status; the JSON of a non-2xx answer in
 * resp->json), or CF_EIO (unreachable, or the stream broke: resp->status says
 * whether it had started) / CF_ENOMEM with a message in err. */
int client_stream(struct client *c, const char *path, const char *query, const char *last_event_id,
                  bool (*on_data)(void *arg, const char *p, size_t n), void *arg,
                  struct client_resp *resp, char *err, size_t errlen);

/* Formats the error of a non-2xx answer into err: the errors[] joined with "; "
 * (newlines flattened), or a default text, and " (HTTP <status>)"; a 401 or 403
 * to a request sent without a token adds that no token is set and where the
 * client looked for one. */
void client_resp_error(const struct client_resp *resp, const char *path, char *err, size_t errlen);

/* Returns resp->json's "data" object when it has one, else resp->json itself
 * (sys/ endpoints copy data to the top level, Vault's response shapes). May be NULL. */
json_t *client_resp_data(const struct client_resp *resp);

/* Frees the JSON and zeroes the struct. Accepts a zeroed struct. */
void client_resp_clear(struct client_resp *resp);

#endif
