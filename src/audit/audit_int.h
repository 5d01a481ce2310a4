/* audit_int.h - internals of src/audit shared by its files (not a public API).
 *
 * audit_file.c: the file sink with its hash chain (one per file device).
 * audit_json.c: the JSON writer entries are built with.
 * audit_verify.c: the chain check (offline, at open, and sys/audit-verify).
 * audit_chain.c: segment keys, keyed HMAC contexts, checkpoint signatures. */
#ifndef CF_AUDIT_INT_H
#define CF_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <jansson.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "lib/err.h"

/* "0600": the default mode of a new audit file. */
#define AUDIT_FILE_DEFAULT_MODE 0600
/* A line longer than this is not read back when a chain is continued. */
#define AUDIT_LINE_MAX (64u << 20)
/* Interval of the background fdatasync, in milliseconds. */
#define AUDIT_SYNC_MS 100
/* Deferred lines are written by the next batch or by the background thread,
 * which looks every AUDIT_FLUSH_MS while the file is busy (AUDIT_SYNC_MS when
 * idle); a deferred line that finds more than AUDIT_PEND_MAX bytes pending (and
 * no write in progress) writes them at once. */
#define AUDIT_FLUSH_MS 10
#define AUDIT_PEND_MAX (256u << 10)

/* ---- the keyed chain (audit_chain.c) ---- */

#define AUDIT_KEY_BYTES 32
#define AUDIT_PK_BYTES  32
#define AUDIT_SK_BYTES  64
#define AUDIT_SIG_BYTES 64
/* Checkpoint defaults (options checkpoint_lines, checkpoint_interval). */
#define AUDIT_CP_LINES       1000
#define AUDIT_CP_INTERVAL_MS 60000

/* HMAC-SHA-256 with a fixed key: the SHA-256 states after key^ipad and key^opad
 * are computed once (audit_mac_key) and copied for each message, so a line costs
 * no key set-up. Not thread safe (one per sink, used under its mutex). */
struct audit_mac {
	EVP_MD_CTX *in, *out, *c;
	bool keyed;
};

int audit_mac_init(struct audit_mac *m);
void audit_mac_free(struct audit_mac *m);
int audit_mac_key(struct audit_mac *m, const uint8_t key[AUDIT_KEY_BYTES]);
/* out = hex HMAC of the concatenated iov. 0 or CF_EINTERNAL. */
int audit_mac_hex(struct audit_mac *m, const struct iovec *iov, int cnt, char out[65]);
int audit_mac_line_hex(struct audit_mac *m, const char *line, size_t n, char out[65]);
/* K(base) = HMAC-SHA256(master, "coffer audit segment <base>"). */
void audit_chain_segment_key(const uint8_t master[AUDIT_KEY_BYTES], uint64_t base,
                             uint8_t out[AUDIT_KEY_BYTES]);
/* The text a checkpoint signs: its seq, base, head (its own prev_hash), the key
 * it reveals, final and time. Returns its length (0 when cap is too small). */
size_t audit_chain_cp_message(char *buf, size_t cap, uint64_t seq, uint64_t base, const char *head,
                              const char *key_hex, bool final, const char *time);
int audit_chain_keypair(const uint8_t seed[AUDIT_KEY_BYTES], uint8_t pk[AUDIT_PK_BYTES],
                        uint8_t sk[AUDIT_SK_BYTES]);
int audit_chain_sign(const uint8_t sk[AUDIT_SK_BYTES], const char *msg, size_t n,
                     uint8_t sig[AUDIT_SIG_BYTES]);
bool audit_chain_sig_ok(const uint8_t pk[AUDIT_PK_BYTES], const char *msg, size_t n,
                        const uint8_t sig[AUDIT_SIG_BYTES]) CF_WARN_UNUSED;
/* A public key as base64 (what sys/audit/:path/public-key answers) or hex. */
int audit_chain_parse_pk(const char *s, uint8_t pk[AUDIT_PK_BYTES]);

/* The last anchor line written (a checkpoint or a chain start): what the broker
 * stores behind the barrier and checks the file's tail against at open. */
struct audit_cp {
	uint64_t seq;    /* 0: none */
	uint64_t offset; /* file size just after that line */
	char digest[65]; /* hex SHA-256 of the line (newline excluded) */
};

/* ---- the verifier (audit_verify.c) ---- */

struct audit_verify_opts {
	const char *path;      /* the file (ignored when fd >= 0) */
	int fd;                /* -1, or an open file to read from offset `from` */
	off_t from;            /* with fd: the tail after a known anchor line */
	const uint8_t *master; /* the chain's master key (the server), or NULL */
	const uint8_t *pk;     /* the Ed25519 public key, or NULL (not authenticated) */
	bool allow_partial;    /* lines after the last checkpoint are not a failure */
	/* With fd: the anchor line's seq, type (checkpoint or chain start) and bytes
	 * are read back at `from` by the caller and passed as resume_*. */
	bool resume;
	uint64_t resume_seq, resume_base;
	char resume_prev[65]; /* the chain value the line after the anchor carries */
	/* Live check: stop after the line with this seq and require that the chain
	 * value after it is stop_prev (0: read to the end). */
	uint64_t stop_seq;
	const char *stop_prev;
};

struct audit_verify_result {
	long lines;    /* lines read */
	long bad_line; /* first bad line (1-based position), 0 when none */
	char msg[512];
	bool authenticated;    /* a public key was given and every checkpoint verified */
	long preamble;         /* lines before the first chain start (not verified) */
	long other;            /* lines of chains signed by another key (not verified) */
	long unverified;       /* lines after the last checkpoint, not covered */
	long first_unverified; /* position of the first of them */
	long last_cp_line;     /* position of the last checkpoint of the chain, 0: none */
	uint64_t last_cp_seq;
	bool last_cp_final; /* the chain ends with a final checkpoint */
	long chains;        /* chain starts seen */
	/* The chain state after the last line read (for continuing a chain). */
	uint64_t seq, base;
	char prev[65];
	off_t end;                        /* offset after the last line read (fd mode) */
	struct audit_cp cp;               /* the last anchor line read (fd mode; seq 0: none) */
	uint8_t seg_key[AUDIT_KEY_BYTES]; /* K(base), with master (fd mode) */
};

/* Verifies (see audit_verify.c). Returns 0 when everything checked is intact,
 * CF_EINVAL with res->bad_line/msg on the first failure, CF_EIO when the file
 * cannot be read (msg says why), CF_ENOMEM. */
int audit_verify_run(const struct audit_verify_opts *o, struct audit_verify_result *res);

/* ---- the file sink ---- */

struct audit_file;

/* The key material and checkpoint settings of a sink. The sink copies the keys
 * into its own guarded memory. on_anchor (may be NULL) is called, without the
 * sink's mutex, once an anchor line (chain start or checkpoint) was written,
 * from the thread that wrote it (enable/unseal, the sink's background thread,
 * or the one freeing the sink). */
struct audit_file_chain {
	const uint8_t *master;  /* AUDIT_KEY_BYTES */
	const uint8_t *seed;    /* AUDIT_KEY_BYTES: the Ed25519 seed */
	uint64_t cp_lines;      /* checkpoint after this many lines */
	int64_t cp_interval_ms; /* or after this long (with lines since the last one) */
	void (*on_anchor)(void *arg, const struct audit_cp *cp);
	void *arg;
};

/* Creates a sink for file_path ("stdout" and "discard" are special) without opening
 * it. mode 0 leaves the file's mode alone. prefix (may be NULL) is written before
 * each JSON object and is part of the hashed line. wipe: the lines may carry
 * plaintext secrets (log_raw), so written batches are wiped from memory at once;
 * otherwise they hold only HMACs and metadata and the per-batch wipe is skipped.
 * *ret is owned by the caller (audit_file_free). Returns 0 or CF_ENOMEM. */
int audit_file_new(const char *file_path, unsigned mode, const char *prefix, bool wipe,
                   const struct audit_file_chain *chain, struct audit_file **ret);
/* Closes the file, stops its sync thread and frees f. Accepts NULL. */
void audit_file_free(struct audit_file *f);

/* Opens (or reopens) the sink: O_APPEND|O_CREAT with the mode; a torn last line
 * (no newline) is truncated away first. With an anchor (stored: the broker's copy
 * at unseal; on a reopen the sink's own), the line ending at anchor->offset must
 * be that anchor line and every line after it must continue the keyed chain: the
 * chain then continues from the file's end. Without one, a chain-start line is
 * written after whatever the file holds. Returns 0; CF_EIO with a reason in err;
 * CF_ECRYPTO when the file was truncated or altered: the sink is then marked
 * tampered and refuses every append until it is freed (the device disabled).
 * Takes the sink's mutex. */
int audit_file_open(struct audit_file *f, const struct audit_cp *stored, char *err, size_t errlen);
/* Whether the sink refused its file as tampered (the reason in msg). */
bool audit_file_tampered(struct audit_file *f, char *msg, size_t msglen);
/* Marks the sink tampered (a live check found its file altered): nothing more is
 * appended to it. */
void audit_file_set_tampered(struct audit_file *f, const char *msg);
/* Stops the on_anchor calls (a device being disabled). */
void audit_file_forget_anchor(struct audit_file *f);
/* Writes everything pending and returns the seq of the last line written and
 * the chain value the next line will carry (a live check). CF_EIO when the
 * sink is closed or tampered. */
int audit_file_head(struct audit_file *f, uint64_t *ret_seq, char ret_prev[65]);
/* The device's Ed25519 public key. */
void audit_file_public_key(struct audit_file *f, uint8_t pk[AUDIT_PK_BYTES]);

/* Appends one entry. body is a compact JSON object ("{...}", n bytes, no newline);
 * the line written is prefix + {"seq":N,"prev_hash":"<hex>", + the rest of body.
 * Returns 0 once write(2) accepted the whole line, CF_EIO when the sink is broken
 * (a sink that failed is reopened on the next append), CF_ENOMEM. The line is
 * hashed into the chain under the sink's mutex and written by a group write:
 * concurrent appenders share one write(2) (see audit_file.c); the call blocks
 * until the batch carrying its line was written.
 * defer (best-effort entries only): the line joins the chain at once but may be
 * written later, with the next append or by the background thread (within
 * AUDIT_SYNC_MS); 0 then means only "queued". */
int audit_file_append(struct audit_file *f, const char *body, size_t n, bool defer) CF_WARN_UNUSED;
/* Two-step append, for an entry that must be recorded before its request's
 * answer leaves the server but need not hold up the work in between:
 * audit_file_append_pending chains the line into the pending buffer and sets
 * *ret_batch (0 when the line was already written, or the sink discards);
 * audit_file_wait(f, batch) returns 0 once that batch was written (writing it
 * itself when nobody else is) or CF_EIO when it was lost. The work done between
 * the two steps overlaps other requests' writes, so the wait is usually over at
 * once. Returns as audit_file_append. */
int audit_file_append_pending(struct audit_file *f, const char *body, size_t n,
                              uint64_t *ret_batch) CF_WARN_UNUSED;
int audit_file_wait(struct audit_file *f, uint64_t batch) CF_WARN_UNUSED;

/* Sequence number of the last line written (0 = none). For tests. */
uint64_t audit_file_seq(struct audit_file *f);

/* A JSON writer into a growing buffer (audit_json.c). It starts on a caller's
 * buffer (usually on the stack) and moves to the heap when that is full; past
 * AUDIT_LINE_MAX, or when malloc fails, oom is set and further output is dropped.
 * Commas are placed automatically: open/close/key/value calls in document order.
 * p is always NUL-terminated. */
struct audit_json {
	char *p;
	size_t len, cap;
	bool heap, oom, comma;
};

void audit_json_init(struct audit_json *w, char *stackbuf, size_t cap);
/* Frees a heap buffer; wipe zeroes the text first (log_raw entries). */
void audit_json_free(struct audit_json *w, bool wipe);
void audit_json_open(struct audit_json *w, char c); /* '{' or '[' */
void audit_json_close(struct audit_json *w, char c);
void audit_json_key(struct audit_json *w, const char *k);
void audit_json_keyn(struct audit_json *w, const char *k, size_t n);
/* Strings are escaped; invalid UTF-8 bytes are written as U+FFFD. */
void audit_json_str(struct audit_json *w, const char *s, size_t n);
void audit_json_cstr(struct audit_json *w, const char *s);
/* A request path: bytes that are not valid UTF-8, and control characters, are
 * written as %XX (a refused request may carry such a path). */
void audit_json_path(struct audit_json *w, const char *path);
/* A string known to need no escaping (hex, RFC3339 times), copied as is. */
void audit_json_safe(struct audit_json *w, const char *s, size_t n);
void audit_json_int(struct audit_json *w, int64_t v);
void audit_json_real(struct audit_json *w, double v);
void audit_json_bool(struct audit_json *w, bool v);
/* An already-valid JSON token written as is ("null", a number...). */
void audit_json_lit(struct audit_json *w, const char *lit);
/* A non-container jansson value. */
void audit_json_scalar(struct audit_json *w, json_t *v);
/* A whole jansson value, unchanged. */
void audit_json_value(struct audit_json *w, json_t *v);

#endif
