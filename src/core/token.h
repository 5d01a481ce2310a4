/* token.h - the token store (Vault's tokens and accessors, Vault's token auth API).
 *
 * Tokens are stored only as hashes: "sys/token/id/<sha256 hex of token>" holds the
 * entry (JSON), "sys/token/accessor/<accessor>" maps to the hash,
 * "sys/token/parent/<parent hash>/<child hash>" records the tree. All through the
 * barrier (a struct view with prefix "sys/token/").
 *
 * Entries returned by lookups are new objects owned by the caller
 * (token_entry_free). Thread-safe. See docs/internals/tokens.md. */
#ifndef CF_TOKEN_H
#define CF_TOKEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct view;
struct token_store;

struct token_entry {
	char hash[65]; /* sha256 hex of the token string */
	char accessor[32];
	char parent[65];       /* parent's hash, "" when orphan */
	json_t *policies;      /* sorted array of strings; owned */
	json_t *meta;          /* object string->string or NULL; owned */
	json_t *bound_cidrs;   /* array of CIDR strings the token may be used from, or NULL */
	char *display_name;    /* "token", "token-foo", "userpass-alice" */
	char *path;            /* creation path: "auth/token/create" */
	char *role;            /* token role name or NULL */
	int64_t creation_time; /* unix seconds */
	int64_t creation_ttl;  /* seconds (the TTL at creation) */
	int64_t expire_time;   /* unix ns; 0 = never */
	int64_t explicit_max_ttl;
	int64_t period;
	int64_t num_uses; /* 0 = unlimited; remaining uses otherwise */
	bool renewable;
	bool orphan;
	bool no_default_policy;
	char type[16];        /* "service" */
	char *mount_accessor; /* accessor of the auth mount that issued it */
};

/* Parameters to create a token. Unset strings are NULL, unset durations 0. */
struct token_params {
	const char *id;           /* custom token id (root only), or NULL */
	json_t *policies;         /* final, normalized policy list (borrowed) */
	json_t *meta;             /* borrowed, may be NULL */
	json_t *bound_cidrs;      /* borrowed, may be NULL: CIDRs the token may be used from */
	const char *display_name; /* already prefixed, e.g. "token-foo" or "userpass-alice" */
	const char *path;         /* creation path */
	const char *role;
	const char *parent_hash; /* NULL/"" = orphan */
	int64_t ttl;             /* effective TTL in seconds, 0 = none (root) */
	int64_t explicit_max_ttl;
	int64_t period;
	int64_t num_uses;
	bool renewable;
	bool no_default_policy;
	const char *mount_accessor;
};

int token_store_new(struct view *v, struct token_store **ret);
void token_store_free(struct token_store *ts);

/* Length of the tokens the store mints without a custom id ("hvs." + 24 base62):
 * the OTP length of sys/generate-root. */
#define TOKEN_GENERATED_LEN 28

/* Creates and persists a token; *ret_token is the new token string ("hvs." +
 * 24+ base62), malloc'd, SECRET: wipe and free it. *ret_entry (optional) is a copy. */
int token_create(struct token_store *ts, const struct token_params *p, char **ret_token,
                 struct token_entry **ret_entry);
/* Looks up by token string. Expired tokens are revoked (with their subtree) and
 * reported as CF_EDENIED, so are unknown ones and used-up ones (num_uses -1). */
int token_lookup(struct token_store *ts, const char *token, struct token_entry **ret);
/* The same by hash; CF_ENOTFOUND when gone. An expired token is revoked on sight
 * (the revoke hook runs). */
int token_lookup_hash(struct token_store *ts, const char *hash, struct token_entry **ret);
/* Same by accessor; unknown, malformed, expired or used-up: CF_ENOTFOUND. */
int token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **ret);
/* Consumes one use of a limited token (num_uses > 0; unlimited tokens cost nothing
 * and touch no storage). The count is re-read and written under the store lock.
 * If it was the last, the stored count becomes -1 ("used up": every later lookup
 * fails even if the revocation never happens), *ret_last is set and the caller
 * revokes the token after the request. te->num_uses is updated. CF_EDENIED when the
 * token is gone or already used up. */
int token_use(struct token_store *ts, struct token_entry *te, bool *ret_last);
/* Revokes the token and all its descendants, children first, deleting their
 * accessors and parent links; then calls the revoke hook for each (after the store
 * lock is released). Unknown hash: 0. */
int token_revoke_tree(struct token_store *ts, const char *hash);
/* The same, by accessor. Unknown accessor: 0. */
int token_revoke_accessor(struct token_store *ts, const char *accessor);
/* Revokes only this token; its children become orphans. Unknown hash: 0. */
int token_revoke_orphan(struct token_store *ts, const char *hash);
/* Renews per Vault's token TTL and revocation rules; increment 0 = the original TTL. Updates te.
 * max_ttl is the mount's (or system's) max TTL in seconds. Tokens without a TTL:
 * no-op 0. Not renewable, or past the max: CF_EINVAL. Gone or expired: CF_EDENIED. */
int token_renew(struct token_store *ts, struct token_entry *te, int64_t increment, int64_t max_ttl);
/* token_renew, plus a message in msg (may be NULL): the error text on CF_EINVAL,
 * else a warning when the TTL was capped, else "". */
int token_renew_msg(struct token_store *ts, struct token_entry *te, int64_t increment,
                    int64_t max_ttl, char *msg, size_t msglen);
/* Lists all accessors (new JSON array). */
int token_list_accessors(struct token_store *ts, json_t **ret);
/* Revokes expired and used-up tokens (with subtrees), drops accessors of missing
 * tokens and dangling parent links, orphans children of missing parents. *ret_n
 * (optional) = how many tokens were revoked. */
int token_tidy(struct token_store *ts, int *ret_n);

/* Vault's TTL rule (framework.CalculateTTL; Vault's token TTL and revocation rules), all in
 * seconds. now, start: unix seconds (start = the token's creation time). The effective max is
 * min(max_ttl, explicit_max_ttl) (either may be 0 = unset, not both). Periodic:
 * ttl = min(period, max), capped at start + explicit_max_ttl. Otherwise ttl =
 * increment, else backend_ttl, else default_ttl, capped at start + max. Returns 0
 * (msg = a warning if capped, else "") or CF_EINVAL (msg = the reason: past the max
 * TTL). msg may be NULL. */
int token_calculate_ttl(int64_t now, int64_t start, int64_t increment, int64_t backend_ttl,
                        int64_t period, int64_t max_ttl, int64_t explicit_max_ttl,
                        int64_t default_ttl, int64_t *ret_ttl, char *msg, size_t msglen);

/* The storage hash of a token string (sha256 hex), as in te->hash. */
void token_hash(const char *token, char out[65]);

/* Token roles (Vault's token roles), stored as JSON objects under "roles/<name>";
 * the format is token_backend.c's. Names: [A-Za-z0-9_.-], no "..", not ending
 * in '.', at most 128 bytes (others: CF_ENOTFOUND on get, CF_EINVAL on put).
 * get returns a new reference; list a new array (possibly empty). */
int token_role_get(struct token_store *ts, const char *name, json_t **ret);
int token_role_put(struct token_store *ts, const char *name, json_t *role);
int token_role_delete(struct token_store *ts, const char *name);
int token_role_list(struct token_store *ts, json_t **ret);

/* Drops the in-memory entry cache (call at seal). */
void token_store_flush(struct token_store *ts);
/* Tests: replaces the wall clock (unix ns) used for creation, expiry and renewal.
 * NULL restores it. token_info_json/token_auth_json/token_ttl_remaining always use
 * the wall clock. */
void token_store_set_clock(struct token_store *ts, int64_t (*clock)(void *arg), void *arg);

/* Token info for lookups (Vault's token lookup fields); id is the token string or "". */
json_t *token_info_json(const struct token_entry *te, const char *id);
/* The auth block (Vault's auth block) for a new/renewed token. */
json_t *token_auth_json(const struct token_entry *te, const char *token);
/* Remaining TTL in seconds (0 when no expiry). */
int64_t token_ttl_remaining(const struct token_entry *te);

struct token_entry *token_entry_dup(const struct token_entry *te);
void token_entry_free(struct token_entry *te);

/* Hook called for every revoked token hash (the expiration manager revokes the
 * token's leases there, a later issue). May be NULL. Called after the token is
 * deleted, without the store lock held (it may call back into the store). */
void token_store_set_revoke_hook(struct token_store *ts, void (*hook)(void *arg, const char *hash),
                                 void *arg);

#endif
