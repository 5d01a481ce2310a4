/* request.h - one logical request and its response, as the core sees them.
 *
 * The HTTP layer fills a struct request, the core runs the ladder
 * (sealed -> token -> ACL -> audit -> route) and a handler fills the struct
 * response; the HTTP layer renders it (envelope, status, errors). Neither the
 * core nor the handlers know about HTTP. */
#ifndef CF_REQUEST_H
#define CF_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Logical operations (Vault's method-to-operation mapping). Bit values so routes can list a set. */
enum op {
	OP_READ = 1u << 0,
	OP_LIST = 1u << 1,
	OP_CREATE = 1u << 2, /* POST/PUT on a target that does not exist yet */
	OP_UPDATE = 1u << 3, /* POST/PUT otherwise */
	OP_PATCH = 1u << 4,
	OP_DELETE = 1u << 5,
	OP_HEAD = 1u << 6, /* only sys/health */
};
#define OP_WRITE (OP_CREATE | OP_UPDATE)

struct core;
struct mount;
struct route;
struct response;
struct token_entry;
struct acl;

#define REQUEST_MAX_CAPTURES 4

/* At most this many audit devices get a request entry whose write overlaps the
 * handler (R_PURE_READ); with more, every entry is written before the handler. */
#define REQUEST_AUDIT_TICKETS 4

struct request {
	char id[37];        /* uuid */
	enum op op;         /* after the existence check: CREATE or UPDATE for writes */
	char *path;         /* normalized, without "/v1/" or a leading '/'; owned */
	json_t *data;       /* body object, never NULL (empty object); owned */
	json_t *query;      /* query parameters, object of strings, never NULL; owned */
	char *client_token; /* raw token or NULL; owned; SECRET (never log) */
	const char *remote_addr;
	int remote_port;
	const char *consumer; /* X-Coffer-Consumer header or NULL */
	bool wrap_requested;  /* X-Vault-Wrap-TTL was sent */
	int64_t wrap_ttl;     /* its value in seconds (> 0 when wrap_requested) */
	/* A request the server issues itself (the rotation manager writing a KV
	 * version): the ladder skips token lookup and ACL and audits it with
	 * display name "coffer-rotation". Only C code sets it; the HTTP layer
	 * zero-initializes every request and has no way to turn it on. */
	bool internal;
	const char *last_event_id; /* Last-Event-ID header (SSE resume) or NULL */

	/* Set by the core before the handler runs. */
	struct core *core;
	struct token_entry *te;   /* the caller's token (NULL on unauthenticated routes) */
	const char *display_name; /* te's display name, or NULL (backends use this, not te) */
	/* te's storage id (the token's hash), or NULL without a token: the
	 * cubbyhole engine keys the caller's data by it. */
	const char *token_hash;
	/* Runs another request through the ladder under the core lock this one
	 * holds (request_nested); the core sets it. */
	int (*nested)(struct core *c, struct request *rq, struct response *rs);
	struct acl *acl;     /* the caller's ACL (NULL on unauthenticated routes) */
	void *acl_ref;       /* the core's reference on acl */
	struct mount *mount; /* the mount the path selected */
	const char *rel;     /* path relative to the mount ("data/app/db") */
	const struct route *route;
	/* Captures of the route pattern, in order: one per '+', then the '*' rest
	 * (the rest may be ""). Point into rel's copy; valid during the request. */
	const char *cap[REQUEST_MAX_CAPTURES];
	int ncap;
	char *capbuf; /* owned storage for cap[] */
	/* Request entries queued but not yet confirmed written, one per audit
	 * device (audit_log_request_pending / audit_confirm_request). */
	struct {
		uint64_t dev;   /* the device's id */
		uint64_t batch; /* its sink's batch carrying the entry (0: written) */
	} audit_ticket[REQUEST_AUDIT_TICKETS];
	unsigned naudit_tickets;

	/* The body as sent, when its media type is one a backend reads itself
	 * (application/ocsp-request); data is then an empty object. Else NULL. Owned. */
	uint8_t *body;
	size_t body_len;
};

/* A streamed body (the server-sent events of sys/events/subscribe). The HTTP
 * layer sends the status and content_type, then what read() yields until it
 * returns RESPONSE_STREAM_END, without holding a thread while the stream is idle:
 * read() returns 0 when nothing is ready, and the stream then calls the wake
 * function it was given by set_wake() (from any thread) once more data, or the
 * end, is ready. set_wake() is called once, before the first read(); free() once,
 * when the connection is done (after it, the stream never calls wake). */
#define RESPONSE_STREAM_END (-1L)
struct response_stream {
	const char *content_type; /* static */
	long (*read)(void *arg, char *buf, size_t max);
	void (*set_wake)(void *arg, void (*wake)(void *wake_arg), void *wake_arg);
	void (*free)(void *arg);
	void *arg;
	uint64_t length; /* > 0: the body's whole length, sent as Content-Length */
};

/* What a login handler authenticated (auth_login_token in src/auth/auth.h
 * fills it): the core's ladder mints the token from it after the handler
 * returns, and answers the auth block (token, accessor, policies,
 * lease_duration, ...). Values are final: TTLs already bounded by the mount's. */
struct auth_result {
	char *display_name;  /* "<mount path>-<name>", e.g. "userpass-alice"; owned */
	json_t *policies;    /* normalized list, "default" included unless refused; owned */
	json_t *metadata;    /* object or NULL; owned */
	json_t *bound_cidrs; /* array of CIDR strings or NULL; owned */
	int64_t ttl;         /* seconds */
	int64_t explicit_max_ttl;
	int64_t period;
	int64_t num_uses;
	bool renewable;
	bool no_default_policy;
};

/* Frees a and what it owns. Accepts NULL. */
void auth_result_free(struct auth_result *a);

struct response {
	int status;       /* 0: 200 when data/auth/warnings are set, else 204 */
	json_t *data;     /* owned; the envelope's "data" */
	json_t *auth;     /* owned; the envelope's "auth" block */
	json_t *warnings; /* owned; array of strings */
	json_t *raw;      /* owned; when set, the whole body, no envelope (raw sys endpoints) */
	bool sys_inject;  /* copy data's keys to the top level (Vault's response shapes) */
	bool envelope_on_error; /* KV v2 404 on deleted versions: full envelope, not errors */
	/* Leases. A handler that hands out a secret with a lifetime (database creds)
	 * sets secret to the internal data its backend needs to renew or revoke it
	 * later (never shown to the client; stored through the barrier), and
	 * optionally lease_ttl / lease_max_ttl (seconds, 0 = the mount's) and
	 * renewable. The core then registers the lease and fills lease_id and
	 * lease_duration; if that fails it revokes the secret at once. */
	json_t *secret; /* owned */
	int64_t lease_ttl;
	int64_t lease_max_ttl;
	char *lease_id; /* owned */
	int64_t lease_duration;
	bool renewable;
	json_t *errors; /* owned; array of strings for status >= 400 */
	/* owned: set by the core when it wrapped the answer (X-Vault-Wrap-TTL):
	 * the envelope's "wrap_info"; data and auth are then empty */
	json_t *wrap_info;
	int64_t retry_after; /* seconds; > 0 adds a Retry-After header (429 answers) */
	/* owned: an HA standby's 307: the active node's base URL; the front end
	 * answers with Location: this + the request's path and query */
	char *redirect;
	const char *mount_type;
	/* owned (malloc'd, freed with stream->free(stream->arg) then free()): when
	 * set with a 2xx status, the body is streamed and data/raw are ignored */
	struct response_stream *stream;
	/* owned: set by a login handler; the core mints the token from it, fills
	 * auth and frees it before the answer leaves the ladder */
	struct auth_result *login;
};

/* Appends a formatted message to rs->errors. Returns 0 or CF_ENOMEM. */
int response_errorf(struct response *rs, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Appends a warning. */
int response_warnf(struct response *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets rs->data (steals the reference; replaces what was there). */
void response_set_data(struct response *rs, json_t *data);
/* Answers a LIST: rs->data = {"keys": keys}. Steals keys (an array of
 * strings). An empty array is CF_ENOTFOUND: Vault answers a LIST with nothing to
 * show with 404 and no data. Returns 0, CF_ENOTFOUND or CF_ENOMEM. */
int response_keys(struct response *rs, json_t *keys);
/* Answers 200 with a finished body of len bytes (copied) as the whole answer:
 * no JSON envelope, content_type (static) and a Content-Length. Replaces a
 * stream already set. For PEM, DER and text answers. Returns 0 or CF_ENOMEM. */
int response_body(struct response *rs, const char *content_type, const void *body, size_t len);
/* Frees everything the response owns and zeroes it. */
void response_reset(struct response *rs);
void request_free_fields(struct request *rq);
/* Runs rq through the core's ladder from within the handler of outer (same
 * core, under the lock outer holds; rq's own token, ACL and audit apply).
 * Returns the HTTP status, with rs filled; 500 when outer came from no core. */
int request_nested(const struct request *outer, struct request *rq, struct response *rs);

/* Handler convention: return 0 with rs filled, or a negative CF_E* code; the core
 * then answers cf_http_status(code) with rs->errors if the handler added any,
 * else cf_strerror(code). A handler may set rs->status explicitly. */
typedef int (*handler_fn)(struct request *rq, struct response *rs);
/* Existence check: sets *ret_exists. Used for POST/PUT to choose CREATE/UPDATE. */
typedef int (*exists_fn)(struct request *rq, bool *ret_exists);

/* Route flags */
enum {
	R_NOAUTH = 1u << 0,       /* no token needed */
	R_SEALED_OK = 1u << 1,    /* served while sealed */
	R_SUDO = 1u << 2,         /* root-protected: needs sudo as well */
	R_NOAUDIT = 1u << 3,      /* not written to the audit log */
	R_RAW = 1u << 4,          /* response is raw JSON (rs->raw), no envelope */
	R_SYS_INJECT = 1u << 5,   /* copy data keys to the top level */
	R_EXCLUSIVE = 1u << 6,    /* runs alone (changes seal state or the mount table) */
	R_EXCL_CHANGES = 1u << 7, /* mount routes: DELETE and tune writes run alone;
	                           * reads and enabling a mount run shared */
	R_INTERRUPT = 1u << 8,    /* before waiting for the exclusive lock, make backends
	                           * abandon work on external systems (seal) */
	R_PURE_READ = 1u << 9,    /* its READ and LIST change nothing (no storage write,
	                           * no external effect): the request entry's audit write
	                           * may overlap the handler, and is confirmed before the
	                           * answer is sent (audit_log_request_pending) */
};

struct field;

/* A route of a backend, matched against the path relative to the mount.
 * pattern: literal segments, '+' = exactly one non-empty segment, a trailing '*'
 * = the rest (possibly empty, may contain '/'). Examples: "config", "data/<star>",
 * "metadata/<star>", "lookup-self", "roles/+". The first route whose pattern matches
 * wins. A row names one handler per operation; an operation without one gives
 * 405 (route_handler). write serves POST/PUT: when exists is set the core calls
 * it to tell OP_CREATE from OP_UPDATE (the ACL's create or update capability),
 * and write runs for both. fields, when set, describes the parameters the row's
 * handlers read (backend/field.h), for field_parse and the API docs.
 *
 * Rows are written with designated initializers:
 *	{"roles/+", .read = role_read, .write = role_write, .delete = role_delete,
 *	 .exists = role_exists, .fields = role_fields},
 * and a row's flags (R_*) come second: {"seal", R_SUDO, .write = sys_seal}. */
struct route {
	const char *pattern;
	unsigned flags;
	exists_fn exists;
	handler_fn read;
	handler_fn list;
	handler_fn write; /* OP_CREATE and OP_UPDATE */
	handler_fn patch;
	handler_fn delete;
	handler_fn head; /* sys/health only */
	const struct field *fields;
};

/* The handler of rt for op (OP_CREATE and OP_UPDATE both select write), or NULL
 * when rt does not serve op. */
handler_fn route_handler(const struct route *rt, enum op op);
/* The set of operations rt serves (OP_* bits; OP_WRITE for write). */
unsigned route_ops(const struct route *rt);

/* Matches path against pattern; on success fills rq->cap/ncap (allocating
 * rq->capbuf) and returns true. Exposed for tests. */
bool route_match(const char *pattern, const char *path, struct request *rq);

#endif
