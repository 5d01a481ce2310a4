/* audit.c - the audit broker: the device table, entry building with HMAC'd
 * secrets, and the sys/audit handlers (Vault's sys/audit, Vault's file audit device format).
 *
 * The table lives under a rwlock: logging takes it shared, enable/disable/load/
 * unload exclusive (writer-preferring, so a busy server cannot starve a disable).
 * Entries are built in the caller's thread, then each device's sink serializes
 * its own writes (audit_file.c). Salts are kept in sodium_malloc'd memory and
 * wiped when a device goes away (seal, disable); the keyed SHA-256 states derived
 * from them live in OpenSSL digest contexts, which OpenSSL clears when freed.
 *
 * The persisted table (view key "devices", encrypted by the barrier) is
 *   {"devices":[{"path":"file/","type":"file","description":"","local":false,
 *                "options":{...},"salt":"<hex>","chain_key":"<hex>",
 *                "sign_seed":"<hex>"}]}
 * and each device's last anchor line (chain start or checkpoint) is stored under
 * "chain/<path without its '/'>" as {"seq", "offset", "digest"}. */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/field.h"
#include "core/token.h"
#include "backend/view.h"
#include "lib/metrics.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"

#define AUDIT_SALT_BYTES   32
#define AUDIT_STATE_PREFIX "chain/"
/* Bounds of the checkpoint options. */
#define AUDIT_CP_LINES_MAX    100000000
#define AUDIT_CP_INTERVAL_MAX (24 * 3600)
#define AUDIT_TABLE_KEY       "devices"
#define AUDIT_HMAC_PREFIX     "hmac-sha256:"
/* "hmac-sha256:" + 64 hex + NUL */
#define AUDIT_HASH_LEN (sizeof(AUDIT_HMAC_PREFIX) - 1 + 64 + 1)
/* Deeper values are hashed whole (as their JSON text) instead of leaf by leaf. */
#define AUDIT_MAX_DEPTH   64
#define AUDIT_MAX_DEVICES 64

struct audit_secret {
	uint8_t salt[AUDIT_SALT_BYTES];
	uint8_t chain_key[AUDIT_KEY_BYTES]; /* master of the chain's segment keys */
	uint8_t sign_seed[AUDIT_KEY_BYTES]; /* the checkpoints' Ed25519 seed */
};

struct audit_device {
	char *path; /* with its trailing '/' */
	char *type;
	char *description;
	json_t *options; /* as enabled (strings); never holds the salt */
	bool local;
	bool log_raw, hmac_accessor, elide_list;
	struct audit_secret *sec; /* sodium_malloc'd */
	/* HMAC-SHA256 keyed with the salt, precomputed: SHA-256 states after
	 * absorbing salt^ipad and salt^opad. Each HMAC copies them (docs/BENCHMARKS.md
	 * pitfall 3: one-shot HMAC() is set-up dominated). OpenSSL clears digest
	 * contexts when they are freed. */
	EVP_MD_CTX *hm_in, *hm_out;
	struct audit_file *sink;
	uint64_t id;       /* unique in the process: names the device in request tickets */
	struct view *view; /* the broker's: anchors are stored there */
	char *state_key;   /* "chain/<path>" */
};

struct audit_broker {
	struct view *view; /* not owned */
	pthread_rwlock_t lock;
	struct audit_device **devs;
	size_t ndevs;
	/* Requests between their request and response entries. A response entry
	 * logged while others are in flight is deferred: one of their coming
	 * writes carries it, saving a write(2) per request under load. */
	atomic_long inflight;
};

/* ---- devices ---- */

static void
device_free(struct audit_device *d)
{
	if (!d)
		return;
	audit_file_free(d->sink);
	EVP_MD_CTX_free(d->hm_in);
	EVP_MD_CTX_free(d->hm_out);
	if (d->sec)
		sodium_free(d->sec); /* wipes */
	json_decref(d->options);
	free(d->state_key); /* not secret: a storage path */
	free(d->description);
	free(d->type);
	free(d->path);
	free(d);
}

/* A per-thread scratch digest context for HMACs (freed at thread exit). */
static pthread_key_t hmac_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MD *hmac_md;

static void
hmac_scratch_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void
hmac_global_init(void)
{
	(void)pthread_key_create(&hmac_key, hmac_scratch_free);
	hmac_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static EVP_MD_CTX *
hmac_scratch(void)
{
	EVP_MD_CTX *c = pthread_getspecific(hmac_key);

	if (!c) {
		c = EVP_MD_CTX_new();
		if (c && pthread_setspecific(hmac_key, c) != 0) {
			EVP_MD_CTX_free(c);
			c = NULL;
		}
	}
	return c;
}

static int
device_hmac_init(struct audit_device *d)
{
	uint8_t pad[2][64];
	int ok;

	pthread_once(&hmac_once, hmac_global_init);
	if (!hmac_md)
		return CF_EINTERNAL;
	d->hm_in = EVP_MD_CTX_new();
	d->hm_out = EVP_MD_CTX_new();
	if (!d->hm_in || !d->hm_out)
		return CF_ENOMEM;
	/* RFC 2104: the 32-byte key is shorter than the block, so zero-padded. */
	memset(pad, 0, sizeof(pad));
	memcpy(pad[0], d->sec->salt, AUDIT_SALT_BYTES);
	memcpy(pad[1], d->sec->salt, AUDIT_SALT_BYTES);
	for (size_t i = 0; i < 64; i++) {
		pad[0][i] ^= 0x36;
		pad[1][i] ^= 0x5c;
	}
	ok = EVP_DigestInit_ex(d->hm_in, hmac_md, NULL) == 1 &&
	     EVP_DigestUpdate(d->hm_in, pad[0], 64) == 1 &&
	     EVP_DigestInit_ex(d->hm_out, hmac_md, NULL) == 1 &&
	     EVP_DigestUpdate(d->hm_out, pad[1], 64) == 1;
	secmem_wipe(pad, sizeof(pad));
	return ok ? 0 : CF_EINTERNAL;
}

/* out = "hmac-sha256:" + hex(HMAC-SHA256(salt, s)). */
static void
device_hmac(const struct audit_device *d, const char *s, size_t n, char out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *c = hmac_scratch();
	uint8_t inner[32], mac[32];
	unsigned int l1 = 0, l2 = 0;

	if (!c || EVP_MD_CTX_copy_ex(c, d->hm_in) != 1 || EVP_DigestUpdate(c, s, n) != 1 ||
	    EVP_DigestFinal_ex(c, inner, &l1) != 1 || EVP_MD_CTX_copy_ex(c, d->hm_out) != 1 ||
	    EVP_DigestUpdate(c, inner, sizeof(inner)) != 1 ||
	    EVP_DigestFinal_ex(c, mac, &l2) != 1 || l1 != 32 || l2 != 32) {
		/* Same function, slower: libsodium straight from the salt. */
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, d->sec->salt, AUDIT_SALT_BYTES);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)s, n);
		crypto_auth_hmacsha256_final(&st, mac);
		secmem_wipe(&st, sizeof(st));
	}
	memcpy(out, AUDIT_HMAC_PREFIX, sizeof(AUDIT_HMAC_PREFIX) - 1);
	util_hex(mac, sizeof(mac), out + sizeof(AUDIT_HMAC_PREFIX) - 1);
	secmem_wipe(inner, sizeof(inner));
	secmem_wipe(mac, sizeof(mac));
}

static int
parse_mode(const char *s, unsigned *ret)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 4)
		return CF_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return CF_EINVAL;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* Stores an anchor line of the device's chain (the sink's on_anchor hook):
 * one storage write per checkpoint, not per line. */
static void
device_anchor(void *arg, const struct audit_cp *cp)
{
	struct audit_device *d = arg;
	json_t *j = json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)cp->seq, "offset",
	                      (json_int_t)cp->offset, "digest", cp->digest);
	int r = j ? view_put_json(d->view, d->state_key, j) : CF_ENOMEM;

	json_decref(j);
	if (r < 0)
		log_error("audit device %s: its checkpoint of seq %llu could not be stored: %s",
		          d->path, (unsigned long long)cp->seq, cf_strerror(r));
}

/* The stored anchor of a device; 0 with cp->seq = 0 when there is none. */
static int
device_load_anchor(struct audit_device *d, struct audit_cp *cp)
{
	json_t *j = NULL;
	const char *digest;
	int r;

	memset(cp, 0, sizeof(*cp));
	r = view_get_json(d->view, d->state_key, &j);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	digest = json_string_value(json_object_get(j, "digest"));
	if (!digest || strlen(digest) != 64 || json_integer_value(json_object_get(j, "seq")) <= 0 ||
	    json_integer_value(json_object_get(j, "offset")) <= 0) {
		json_decref(j);
		return CF_EINTERNAL;
	}
	cp->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	cp->offset = (uint64_t)json_integer_value(json_object_get(j, "offset"));
	memcpy(cp->digest, digest, 65);
	json_decref(j);
	return 0;
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* A file device's options: Vault's options map of sys/audit/<path>, whose
 * values are strings. An option given as "" is the default, as if absent. */
struct audit_options {
	const char *file_path, *format, *mode, *prefix;
	bool log_raw, hmac_accessor, elide_list;
	int64_t cp_lines;
	int64_t cp_interval; /* seconds */
};

static const struct field audit_option_fields[] = {
        {"file_path", FIELD_STRING, FIELD_REQUIRED, offsetof(struct audit_options, file_path),
         .alias = "path", .missing = "file_path is required",
         .desc = "the file the device appends to (\"stdout\" and \"discard\" are files here)"},
        {"format", FIELD_STRING, 0, offsetof(struct audit_options, format), .def = "json",
         .desc = "the line format; only json"},
        {"mode", FIELD_STRING, 0, offsetof(struct audit_options, mode), .def = "0600",
         .desc = "the file's permission bits, in octal"},
        {"prefix", FIELD_STRING, 0, offsetof(struct audit_options, prefix),
         .desc = "text written before each line's JSON (no newline or '{')"},
        {"checkpoint_lines", FIELD_INT, FIELD_RANGE, offsetof(struct audit_options, cp_lines),
         .def = STR(AUDIT_CP_LINES), .min = 1, .max = AUDIT_CP_LINES_MAX,
         .desc = "a signed checkpoint after this many lines"},
        {"checkpoint_interval", FIELD_DURATION, FIELD_RANGE,
         offsetof(struct audit_options, cp_interval), .def = "60s" /* AUDIT_CP_INTERVAL_MS */,
         .min = 1, .max = AUDIT_CP_INTERVAL_MAX, .desc = "a signed checkpoint at least this often"},
        {"log_raw", FIELD_BOOL, 0, offsetof(struct audit_options, log_raw), .def = "false",
         .desc = "log sensitive values in plaintext instead of their HMAC"},
        {"hmac_accessor", FIELD_BOOL, 0, offsetof(struct audit_options, hmac_accessor),
         .def = "true", .desc = "HMAC token accessors"},
        {"elide_list_responses", FIELD_BOOL, 0, offsetof(struct audit_options, elide_list),
         .def = "false", .desc = "log the number of keys of a list response, not the keys"},
        {NULL},
};

/* The body of sys/audit/<path>. */
struct audit_enable_params {
	const char *type, *description;
	bool local;
	json_t *options;
};

const struct field audit_enable_fields[] = {
        {"type", FIELD_STRING, FIELD_REQUIRED, offsetof(struct audit_enable_params, type),
         .missing = "missing audit backend type", .desc = "the device's type; only file"},
        {"description", FIELD_STRING, 0, offsetof(struct audit_enable_params, description),
         .desc = "a human-friendly description"},
        {"local", FIELD_BOOL, 0, offsetof(struct audit_enable_params, local),
         .desc = "accepted for Vault's clients; there is no replication"},
        {"options", FIELD_STRMAP, 0, offsetof(struct audit_enable_params, options), .def = "{}",
         .desc = "the file device's options (strings): file_path (or path), format (json), "
                 "mode, prefix, log_raw, hmac_accessor, elide_list_responses, "
                 "checkpoint_lines, checkpoint_interval"},
        {NULL},
};

/* Reads options into o; file_path and the other strings are borrowed from
 * *ret_given, which the caller releases when done with them. Returns 0,
 * CF_EINVAL with a message in rs, or CF_ENOMEM. */
static int
audit_options_parse(json_t *options, struct audit_options *o, json_t **ret_given,
                    struct response *rs)
{
	json_t *given = json_copy(options), *v;
	const char *k;
	void *tmp;

	*ret_given = given;
	if (!given)
		return CF_ENOMEM;
	json_object_foreach_safe(given, tmp, k,
	                         v) if (json_is_string(v) && json_string_length(v) == 0)
	        json_object_del(given, k);
	return field_parse(audit_option_fields, given, o, rs);
}

/* Builds a device from its path, type and options; keys NULL makes new random
 * ones (salt, chain key, signing seed). Does not open the sink. rs (may be NULL)
 * gets the reason of a CF_EINVAL. */
static atomic_uint_fast64_t next_device_id = 1;

static int
device_new(const char *path, const char *type, const char *description, json_t *options, bool local,
           const struct audit_secret *keys, struct view *view, struct response *rs,
           struct audit_device **ret)
{
	struct audit_file_chain chain = {0};
	struct audit_options o = {0};
	struct response scratch = {0};
	size_t plen;
	struct audit_device *d = NULL;
	json_t *given = NULL;
	unsigned mode = AUDIT_FILE_DEFAULT_MODE;
	int r;

	if (!rs)
		rs = &scratch; /* a stored device: its options were checked when enabled */
	if (strcmp(type, "file") != 0) {
		(void)response_errorf(rs, "unknown audit backend type: %s", type);
		r = CF_EINVAL;
		goto out;
	}
	r = audit_options_parse(options, &o, &given, rs);
	if (r < 0)
		goto out;
	r = CF_EINVAL;
	if (strcmp(o.format, "json") != 0) {
		(void)response_errorf(rs, "unsupported audit format: %s (only json)", o.format);
		if (strcmp(o.format, "jsonx") == 0)
			r = CF_EUNSUPPORTED;
		goto out;
	}
	if (parse_mode(o.mode, &mode) < 0) {
		(void)response_errorf(rs, "invalid file mode: %s", o.mode);
		goto out;
	}
	if (o.prefix &&
	    (strchr(o.prefix, '\n') || strchr(o.prefix, '\r') || strchr(o.prefix, '{'))) {
		(void)response_errorf(rs, "prefix may not contain a newline or '{'");
		goto out;
	}
	chain.cp_lines = (uint64_t)o.cp_lines;
	chain.cp_interval_ms = o.cp_interval * 1000;

	r = CF_ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	d->id = atomic_fetch_add(&next_device_id, 1);
	d->log_raw = o.log_raw;
	d->hmac_accessor = o.hmac_accessor;
	d->elide_list = o.elide_list;
	d->path = strdup(path);
	d->type = strdup(type);
	d->description = strdup(description ? description : "");
	d->options = json_deep_copy(options);
	d->local = local;
	d->view = view;
	plen = strlen(path);
	d->state_key = malloc(sizeof(AUDIT_STATE_PREFIX) + plen);
	d->sec = sodium_malloc(sizeof(*d->sec));
	if (!d->path || !d->type || !d->description || !d->options || !d->sec || !d->state_key)
		goto out;
	/* "chain/<path>" without the path's trailing '/' */
	snprintf(d->state_key, sizeof(AUDIT_STATE_PREFIX) + plen, "%s%.*s", AUDIT_STATE_PREFIX,
	         (int)(plen - 1), path);
	if (keys)
		memcpy(d->sec, keys, sizeof(*d->sec));
	else
		util_random(d->sec, sizeof(*d->sec));
	r = device_hmac_init(d);
	if (r < 0)
		goto out;
	chain.master = d->sec->chain_key;
	chain.seed = d->sec->sign_seed;
	chain.on_anchor = device_anchor;
	chain.arg = d;
	r = audit_file_new(o.file_path, mode, o.prefix, d->log_raw, &chain, &d->sink);
	if (r < 0)
		goto out;
	*ret = d;
	d = NULL;
out:
	if (d)
		device_free(d);
	json_decref(given);
	response_reset(&scratch);
	return r;
}

/* Writes a sensitive string: its HMAC, or itself when log_raw. */
static void
put_secret(struct audit_json *w, const struct audit_device *d, const char *s, size_t n)
{
	char h[AUDIT_HASH_LEN];

	if (d->log_raw) {
		audit_json_str(w, s, n);
		return;
	}
	device_hmac(d, s, n, h);
	audit_json_safe(w, h, AUDIT_HASH_LEN - 1);
}

static void
put_secret_c(struct audit_json *w, const struct audit_device *d, const char *s)
{
	put_secret(w, d, s, strlen(s));
}

/* Writes v with every string leaf HMAC'd (Vault's file audit device format): keys are kept,
 * numbers, bools and null stay as they are. With log_raw, v unchanged. A list
 * response's keys / key_info become their counts when elide is set. */
static void
put_hashed(struct audit_json *w, const struct audit_device *d, json_t *v, int depth, bool elide)
{
	const char *k;
	json_t *x;
	size_t i;

	if ((json_is_object(v) || json_is_array(v)) && depth >= AUDIT_MAX_DEPTH && !d->log_raw) {
		/* Too deep to walk: hash the subtree's text as one value. */
		char *text = json_dumps(v, JSON_COMPACT);
		if (!text) {
			w->oom = true;
			return;
		}
		put_secret(w, d, text, strlen(text));
		secmem_free_str(text);
		return;
	}
	if (json_is_string(v)) {
		put_secret(w, d, json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		audit_json_open(w, '{');
		json_object_foreach(v, k, x)
		{
			audit_json_key(w, k);
			if (elide && json_is_array(x) && strcmp(k, "keys") == 0)
				audit_json_int(w, (int64_t)json_array_size(x));
			else if (elide && json_is_object(x) && strcmp(k, "key_info") == 0)
				audit_json_int(w, (int64_t)json_object_size(x));
			else
				put_hashed(w, d, x, depth + 1, false);
		}
		audit_json_close(w, '}');
	} else if (json_is_array(v)) {
		audit_json_open(w, '[');
		json_array_foreach(v, i, x) put_hashed(w, d, x, depth + 1, false);
		audit_json_close(w, ']');
	} else {
		audit_json_scalar(w, v);
	}
}

static int device_path(const char *in, char *out, size_t outlen);
static struct audit_device *find_locked(struct audit_broker *ab, const char *path, size_t *ret_i);

/* ---- entries ---- */

/* What every device's entry for one call shares. */
struct entry_ctx {
	struct request *rq;
	struct response *rs; /* NULL for request entries */
	char when[40];       /* RFC3339Nano */
	char issued[32];     /* token_issue_time, "" when unknown */
	/* The current device's hashes of the caller's token and accessor, each
	 * computed once per entry (they appear twice). */
	char tok[AUDIT_HASH_LEN];
	char acc[AUDIT_HASH_LEN];
	/* A request refused before its handler (audit_log_refused): its error goes
	 * into the request entry too, and "allowed" is false when it was denied. */
	bool refused, denied;
	bool rs_entry; /* refused: writing the response entry (else the request's) */
};

static const char *
op_name(enum op op)
{
	switch (op) {
	case OP_READ:
		return "read";
	case OP_LIST:
		return "list";
	case OP_CREATE:
		return "create";
	case OP_UPDATE:
		return "update";
	case OP_PATCH:
		return "patch";
	case OP_DELETE:
		return "delete";
	case OP_HEAD:
		return "head";
	}
	return "unknown";
}

static bool
nonempty(json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return true;
}

static void
put_accessor(struct audit_json *w, const struct audit_device *d, const char *acc)
{
	if (d->hmac_accessor)
		put_secret_c(w, d, acc);
	else
		audit_json_cstr(w, acc);
}

/* The caller's token: its HMAC from c->tok, or itself with log_raw. */
static void
put_token(struct audit_json *w, const struct audit_device *d, const struct entry_ctx *c)
{
	if (d->log_raw)
		audit_json_cstr(w, c->rq->client_token);
	else
		audit_json_safe(w, c->tok, AUDIT_HASH_LEN - 1);
}

static void
put_token_accessor(struct audit_json *w, const struct audit_device *d, const struct entry_ctx *c)
{
	if (d->log_raw || !d->hmac_accessor)
		audit_json_cstr(w, c->rq->te->accessor);
	else
		audit_json_safe(w, c->acc, AUDIT_HASH_LEN - 1);
}

static void
entry_auth(struct audit_json *w, const struct audit_device *d, const struct entry_ctx *c)
{
	const struct token_entry *te = c->rq->te;
	bool has_token = c->rq->client_token && *c->rq->client_token;

	if (!te && !has_token)
		return;
	audit_json_key(w, "auth");
	audit_json_open(w, '{');
	if (has_token) {
		audit_json_key(w, "client_token");
		put_token(w, d, c);
	}
	if (te) {
		if (te->accessor[0]) {
			audit_json_key(w, "accessor");
			put_token_accessor(w, d, c);
		}
		if (te->display_name) {
			audit_json_key(w, "display_name");
			audit_json_cstr(w, te->display_name);
		}
		if (nonempty(te->policies)) {
			audit_json_key(w, "policies");
			audit_json_value(w, te->policies);
			audit_json_key(w, "token_policies");
			audit_json_value(w, te->policies);
		}
		if (te->no_default_policy) {
			audit_json_key(w, "no_default_policy");
			audit_json_bool(w, true);
		}
		if (nonempty(te->meta)) {
			audit_json_key(w, "metadata");
			audit_json_value(w, te->meta);
		}
		if (te->num_uses > 0) {
			audit_json_key(w, "num_uses");
			audit_json_int(w, te->num_uses);
		}
		/* entity_id is left out while empty, as Vault leaves it out */
		audit_json_key(w, "token_type");
		audit_json_cstr(w, te->type[0] ? te->type : "service");
		if (te->creation_ttl > 0) {
			audit_json_key(w, "token_ttl");
			audit_json_int(w, te->creation_ttl);
		}
		if (c->issued[0]) {
			audit_json_key(w, "token_issue_time");
			audit_json_cstr(w, c->issued);
		}
	}
	audit_json_key(w, "policy_results");
	audit_json_open(w, '{');
	audit_json_key(w, "allowed");
	audit_json_bool(w, !c->denied);
	audit_json_close(w, '}');
	audit_json_close(w, '}');
}

static void
entry_mount(struct audit_json *w, const struct mount *m, const char *type)
{
	if (!m)
		return;
	if (m->path) {
		audit_json_key(w, "mount_point");
		audit_json_cstr(w, m->path);
	}
	if (type) {
		audit_json_key(w, "mount_type");
		audit_json_cstr(w, type);
	}
	if (m->accessor[0]) {
		audit_json_key(w, "mount_accessor");
		audit_json_cstr(w, m->accessor);
	}
}

static void
entry_request(struct audit_json *w, const struct audit_device *d, const struct entry_ctx *c)
{
	struct request *rq = c->rq;

	audit_json_key(w, "request");
	audit_json_open(w, '{');
	audit_json_key(w, "id");
	audit_json_cstr(w, rq->id);
	audit_json_key(w, "operation");
	audit_json_cstr(w, op_name(rq->op));
	entry_mount(w, rq->mount, rq->mount ? rq->mount->type : NULL);
	if (rq->client_token && *rq->client_token) {
		audit_json_key(w, "client_token");
		put_token(w, d, c);
	}
	if (rq->te && rq->te->accessor[0]) {
		audit_json_key(w, "client_token_accessor");
		put_token_accessor(w, d, c);
	}
	audit_json_key(w, "namespace");
	audit_json_open(w, '{');
	audit_json_key(w, "id");
	audit_json_cstr(w, "root");
	audit_json_close(w, '}');
	if (rq->path) {
		audit_json_key(w, "path");
		audit_json_path(w, rq->path);
	}
	if (nonempty(rq->data)) {
		audit_json_key(w, "data");
		put_hashed(w, d, rq->data, 0, false);
	}
	if (rq->remote_addr && *rq->remote_addr) {
		audit_json_key(w, "remote_address");
		audit_json_cstr(w, rq->remote_addr);
	}
	if (rq->remote_port > 0) {
		audit_json_key(w, "remote_port");
		audit_json_int(w, rq->remote_port);
	}
	audit_json_close(w, '}');
}

static void
entry_response(struct audit_json *w, const struct audit_device *d, const struct entry_ctx *c)
{
	struct request *rq = c->rq;
	struct response *rs = c->rs;
	json_t *data = rs->data, *v;
	const char *k;

	audit_json_key(w, "response");
	audit_json_open(w, '{');
	entry_mount(w, rq->mount,
	            rs->mount_type ? rs->mount_type
	            : rq->mount    ? rq->mount->type
	                           : NULL);
	if (json_is_object(rs->auth) && json_object_size(rs->auth) > 0) {
		/* Only the token and its accessor are secret in the auth block. */
		audit_json_key(w, "auth");
		audit_json_open(w, '{');
		json_object_foreach(rs->auth, k, v)
		{
			audit_json_key(w, k);
			if (json_is_string(v) && strcmp(k, "client_token") == 0)
				put_secret(w, d, json_string_value(v), json_string_length(v));
			else if (json_is_string(v) && strcmp(k, "accessor") == 0)
				put_accessor(w, d, json_string_value(v));
			else
				audit_json_value(w, v);
		}
		audit_json_close(w, '}');
	}
	if (json_is_object(rs->wrap_info)) {
		/* A wrapped answer: its wrapping token and accessor are secret. */
		audit_json_key(w, "wrap_info");
		audit_json_open(w, '{');
		json_object_foreach(rs->wrap_info, k, v)
		{
			audit_json_key(w, k);
			if (json_is_string(v) && strcmp(k, "token") == 0)
				put_secret(w, d, json_string_value(v), json_string_length(v));
			else if (json_is_string(v) &&
			         (strcmp(k, "accessor") == 0 || strcmp(k, "wrapped_accessor") == 0))
				put_accessor(w, d, json_string_value(v));
			else
				audit_json_value(w, v);
		}
		audit_json_close(w, '}');
	}
	if (rs->lease_id && *rs->lease_id) {
		audit_json_key(w, "secret");
		audit_json_open(w, '{');
		audit_json_key(w, "lease_id");
		audit_json_cstr(w, rs->lease_id);
		audit_json_close(w, '}');
	}
	if (!nonempty(data) && nonempty(rs->raw))
		data = rs->raw;
	if (nonempty(data)) {
		audit_json_key(w, "data");
		put_hashed(w, d, data, 0, d->elide_list && rq->op == OP_LIST);
	}
	if (nonempty(rs->warnings)) {
		audit_json_key(w, "warnings");
		audit_json_value(w, rs->warnings);
	}
	audit_json_close(w, '}');
}

/* How device_log hands an entry to the sink. */
enum log_mode {
	LOG_WRITE,   /* written before returning */
	LOG_DEFER,   /* best effort: may ride along with a later write */
	LOG_PENDING, /* queued; *ret_batch tells audit_file_wait what to wait for */
};

/* Builds the entry for one device (in the caller's thread) and appends it to the
 * device's sink. */
static int
device_log(const struct audit_device *d, struct entry_ctx *c, enum log_mode mode,
           uint64_t *ret_batch)
{
	char stackbuf[4096];
	struct audit_json w;
	json_t *err;
	int r;

	if (!d->log_raw && c->rq->client_token && *c->rq->client_token)
		device_hmac(d, c->rq->client_token, strlen(c->rq->client_token), c->tok);
	if (!d->log_raw && d->hmac_accessor && c->rq->te && c->rq->te->accessor[0])
		device_hmac(d, c->rq->te->accessor, strlen(c->rq->te->accessor), c->acc);
	audit_json_init(&w, stackbuf, sizeof(stackbuf));
	audit_json_open(&w, '{');
	audit_json_key(&w, "time");
	audit_json_safe(&w, c->when, strlen(c->when));
	audit_json_key(&w, "type");
	audit_json_cstr(&w, c->rs && (!c->refused || c->rs_entry) ? "response" : "request");
	entry_auth(&w, d, c);
	entry_request(&w, d, c);
	if (c->rs && c->refused && !c->rs_entry) {
		/* The request entry of a refused request carries its error. */
		err = json_is_array(c->rs->errors) ? json_array_get(c->rs->errors, 0) : NULL;
		audit_json_key(&w, "error");
		if (json_is_string(err) && json_string_length(err) > 0)
			audit_json_str(&w, json_string_value(err), json_string_length(err));
		else
			audit_json_cstr(&w, "request refused");
	} else if (c->rs) {
		entry_response(&w, d, c);
		err = json_is_array(c->rs->errors) ? json_array_get(c->rs->errors, 0) : NULL;
		if (c->rs->status >= 400 && json_is_string(err) && json_string_length(err) > 0) {
			audit_json_key(&w, "error");
			audit_json_str(&w, json_string_value(err), json_string_length(err));
		} else if (c->refused) {
			audit_json_key(&w, "error");
			audit_json_cstr(&w, "request refused");
		}
	}
	audit_json_close(&w, '}');
	if (w.oom)
		r = CF_ENOMEM;
	else if (mode == LOG_PENDING)
		r = audit_file_append_pending(d->sink, w.p, w.len, ret_batch);
	else {
		uint64_t start = metrics_now_ns();
		r = audit_file_append(d->sink, w.p, w.len, mode == LOG_DEFER);
		metrics_observe_since(METRIC_AUDIT_DURATION, (const char *[]){d->type}, start);
	}
	audit_json_free(&w, d->log_raw);
	return r;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (out >= 21). strftime costs a few hundred ns and two
 * entries per request need it, so each thread remembers the last second seen by
 * each of the two callers (slot 0: now, slot 1: token issue times). */
struct time_cache {
	int64_t secs;
	char text[32];
};

static void
format_seconds(int64_t secs, int slot, char out[32])
{
	static __thread struct time_cache cache[2] = {{-1, ""}, {-1, ""}};
	struct time_cache *c = &cache[slot];
	struct tm tm;
	time_t t = (time_t)secs;

	if (secs != c->secs) {
		gmtime_r(&t, &tm);
		if (strftime(c->text, sizeof(c->text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			c->text[0] = '\0';
		c->secs = secs;
	}
	memcpy(out, c->text, sizeof(c->text));
}

/* RFC3339 with nanoseconds, UTC (Vault's duration format), out >= 31. */
static void
format_time(int64_t ns, char out[40])
{
	char sec[32];
	int64_t frac = ns % 1000000000LL;
	size_t n;

	format_seconds(ns / 1000000000LL, 0, sec);
	n = strlen(sec);
	if (n == 0) {
		util_rfc3339(ns, out, 40);
		return;
	}
	memcpy(out, sec, n - 1); /* without the 'Z' */
	out[n - 1] = '.';
	for (int i = 8; i >= 0; i--) {
		out[n + (size_t)i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	out[n + 9] = 'Z';
	out[n + 10] = '\0';
}

/* Logs to every device; returns how many recorded (or, LOG_PENDING, queued) the
 * entry, and the number of devices in *ret_ndevs. LOG_PENDING with more devices
 * than rq has tickets for writes instead. Takes the table lock shared. */
static size_t
broker_log_ctx(struct audit_broker *ab, struct entry_ctx *cp, enum log_mode mode, size_t *ret_ndevs)
{
	struct entry_ctx c = *cp;
	struct request *rq = c.rq;
	size_t ok = 0, n;
	uint64_t batch;

	pthread_rwlock_rdlock(&ab->lock);
	n = ab->ndevs;
	if (mode == LOG_PENDING && n > REQUEST_AUDIT_TICKETS)
		mode = LOG_WRITE;
	if (n > 0) {
		format_time(util_now_ns(), c.when);
		if (rq->te && rq->te->creation_time > 0)
			format_seconds(rq->te->creation_time, 1, c.issued);
		for (size_t i = 0; i < n; i++) {
			if (device_log(ab->devs[i], &c, mode, &batch) < 0)
				continue;
			ok++;
			if (mode == LOG_PENDING) {
				rq->audit_ticket[rq->naudit_tickets].dev = ab->devs[i]->id;
				rq->audit_ticket[rq->naudit_tickets].batch = batch;
				rq->naudit_tickets++;
			}
		}
	}
	pthread_rwlock_unlock(&ab->lock);
	*ret_ndevs = n;
	return ok;
}

static size_t
broker_log(struct audit_broker *ab, struct request *rq, struct response *rs, enum log_mode mode,
           size_t *ret_ndevs)
{
	struct entry_ctx c = {.rq = rq, .rs = rs};

	return broker_log_ctx(ab, &c, mode, ret_ndevs);
}

int
audit_log_refused(struct audit_broker *ab, struct request *rq, struct response *rs, bool denied)
{
	struct entry_ctx c = {.rq = rq, .rs = rs, .refused = true, .denied = denied};
	size_t n, ok;

	/* Request entry, then response entry: written as the two entries of an
	 * audited request are, so that monitoring sees refused access the same way. */
	ok = broker_log_ctx(ab, &c, LOG_WRITE, &n);
	if (n == 0)
		return 0;
	if (ok == 0)
		return CF_EAUDIT;
	c.rs_entry = true;
	(void)broker_log_ctx(ab, &c, LOG_WRITE, &n);
	return 0;
}

/* The one request that runs when no device can record it: an authorized
 * DELETE sys/audit/<path> of a device refused as tampered. Without it, a server
 * whose only device was tampered with could never be brought back (every
 * request, the disable included, would fail); the disable is logged to the
 * server log instead (docs/internals/audit.md "Recovering a tampered device"). */
static bool
disables_tampered(struct audit_broker *ab, struct request *rq)
{
	struct audit_device *d;
	char p[512];
	bool yes = false;

	if (rq->op != OP_DELETE || !rq->path || strncmp(rq->path, "sys/audit/", 10) != 0 ||
	    device_path(rq->path + 10, p, sizeof(p)) < 0)
		return false;
	pthread_rwlock_rdlock(&ab->lock);
	d = find_locked(ab, p, NULL);
	yes = d && audit_file_tampered(d->sink, NULL, 0);
	pthread_rwlock_unlock(&ab->lock);
	if (yes)
		log_error("request %s disables the tampered audit device %s; no audit device "
		          "could record it",
		          rq->id, p);
	return yes;
}

static int
log_request(struct audit_broker *ab, struct request *rq, enum log_mode mode)
{
	size_t n, ok;

	rq->naudit_tickets = 0;
	ok = broker_log(ab, rq, NULL, mode, &n);
	if (n > 0 && ok == 0 && !disables_tampered(ab, rq))
		return CF_EAUDIT;
	/* The core logs a response for every request that got 0 here. */
	atomic_fetch_add(&ab->inflight, 1);
	return 0;
}

int
audit_log_request(struct audit_broker *ab, struct request *rq)
{
	return log_request(ab, rq, LOG_WRITE);
}

int
audit_log_request_pending(struct audit_broker *ab, struct request *rq)
{
	return log_request(ab, rq, LOG_PENDING);
}

int
audit_confirm_request(struct audit_broker *ab, struct request *rq)
{
	size_t ok = 0, want = rq->naudit_tickets;

	if (want == 0)
		return 0;
	pthread_rwlock_rdlock(&ab->lock);
	for (size_t t = 0; t < want; t++) {
		for (size_t i = 0; i < ab->ndevs; i++) {
			if (ab->devs[i]->id != rq->audit_ticket[t].dev)
				continue;
			/* A device disabled meanwhile is not found: its entry counts as
			 * unrecorded. */
			uint64_t start = metrics_now_ns();
			ok += audit_file_wait(ab->devs[i]->sink, rq->audit_ticket[t].batch) == 0;
			metrics_observe_since(METRIC_AUDIT_DURATION,
			                      (const char *[]){ab->devs[i]->type}, start);
			break;
		}
	}
	pthread_rwlock_unlock(&ab->lock);
	rq->naudit_tickets = 0;
	return ok > 0 ? 0 : CF_EAUDIT;
}

int
audit_log_response(struct audit_broker *ab, struct request *rq, struct response *rs)
{
	size_t n, ok;
	long others;

	others = atomic_fetch_sub(&ab->inflight, 1) - 1;
	ok = broker_log(ab, rq, rs, others > 0 ? LOG_DEFER : LOG_WRITE, &n);
	if (n > 0 && ok == 0) {
		log_error("response of request %s could not be written to any audit device",
		          rq->id);
		return CF_EAUDIT;
	}
	return 0;
}

int
audit_log_record(struct audit_broker *ab, const char *type, json_t *fields)
{
	char when[40], stackbuf[2048];
	struct audit_json w;
	const char *k;
	json_t *v;
	size_t ok = 0, n;

	pthread_rwlock_rdlock(&ab->lock);
	n = ab->ndevs;
	if (n > 0)
		format_time(util_now_ns(), when);
	for (size_t i = 0; i < n; i++) {
		audit_json_init(&w, stackbuf, sizeof(stackbuf));
		audit_json_open(&w, '{');
		audit_json_key(&w, "time");
		audit_json_safe(&w, when, strlen(when));
		audit_json_key(&w, "type");
		audit_json_cstr(&w, type);
		json_object_foreach(fields, k, v)
		{
			audit_json_key(&w, k);
			audit_json_value(&w, v);
		}
		audit_json_close(&w, '}');
		if (!w.oom && audit_file_append(ab->devs[i]->sink, w.p, w.len, false) == 0)
			ok++;
		audit_json_free(&w, false);
	}
	pthread_rwlock_unlock(&ab->lock);
	return n > 0 && ok == 0 ? CF_EAUDIT : 0;
}

/* ---- the broker and its table ---- */

int
audit_broker_new(struct view *v, struct audit_broker **ret)
{
	struct audit_broker *ab;
	pthread_rwlockattr_t attr;

	if (sodium_init() < 0)
		return CF_EINTERNAL;
	ab = calloc(1, sizeof(*ab));
	if (!ab)
		return CF_ENOMEM;
	ab->view = v;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ab->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	*ret = ab;
	return 0;
}

void
audit_broker_free(struct audit_broker *ab)
{
	if (!ab)
		return;
	audit_broker_unload(ab);
	pthread_rwlock_destroy(&ab->lock);
	free(ab);
}

bool
audit_broker_enabled(struct audit_broker *ab)
{
	bool on;

	pthread_rwlock_rdlock(&ab->lock);
	on = ab->ndevs > 0;
	pthread_rwlock_unlock(&ab->lock);
	return on;
}

/* Sets o[k] = v (stealing v); a NULL v or a failed set marks *bad. */
static void
put(json_t *o, const char *k, json_t *v, bool *bad)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*bad = true;
}

static json_t *
device_table_entry(const struct audit_device *d, bool with_salt)
{
	char hex[2 * AUDIT_SALT_BYTES + 1];
	json_t *o = json_object();
	bool bad = !o;

	if (bad)
		return NULL;
	put(o, "type", json_string(d->type), &bad);
	put(o, "description", json_string(d->description), &bad);
	put(o, "options", json_deep_copy(d->options), &bad);
	put(o, "local", json_boolean(d->local), &bad);
	put(o, "path", json_string(d->path), &bad);
	if (with_salt) {
		util_hex(d->sec->salt, AUDIT_SALT_BYTES, hex);
		put(o, "salt", json_string(hex), &bad);
		util_hex(d->sec->chain_key, AUDIT_KEY_BYTES, hex);
		put(o, "chain_key", json_string(hex), &bad);
		util_hex(d->sec->sign_seed, AUDIT_KEY_BYTES, hex);
		put(o, "sign_seed", json_string(hex), &bad);
		secmem_wipe(hex, sizeof(hex));
	} else {
		char msg[256];
		if (audit_file_tampered(d->sink, msg, sizeof(msg))) {
			/* Not persisted: the state of this run (docs/internals/audit.md). */
			put(o, "tampered", json_true(), &bad);
			put(o, "error", json_string(msg), &bad);
		}
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes devs[0..n) (skipping `skip`, may be NULL) plus `extra` (may be NULL) as
 * the persisted table. Called with the table lock held exclusively. */
static int
table_persist(struct audit_broker *ab, const struct audit_device *skip,
              const struct audit_device *extra)
{
	json_t *t = json_object(), *arr = json_array(), *e;
	int r = CF_ENOMEM;

	if (!t || !arr || json_object_set(t, "devices", arr) < 0)
		goto out;
	for (size_t i = 0; i <= ab->ndevs; i++) {
		const struct audit_device *d = i < ab->ndevs ? ab->devs[i] : extra;
		if (!d || d == skip)
			continue;
		e = device_table_entry(d, true);
		if (!e || json_array_append_new(arr, e) < 0)
			goto out;
	}
	r = view_put_json(ab->view, AUDIT_TABLE_KEY, t);
out:
	json_decref(arr);
	json_decref(t);
	return r;
}

static struct audit_device *
find_locked(struct audit_broker *ab, const char *path, size_t *ret_i)
{
	for (size_t i = 0; i < ab->ndevs; i++) {
		if (strcmp(ab->devs[i]->path, path) == 0) {
			if (ret_i)
				*ret_i = i;
			return ab->devs[i];
		}
	}
	return NULL;
}

static int
add_locked(struct audit_broker *ab, struct audit_device *d)
{
	struct audit_device **nd;

	nd = realloc(ab->devs, (ab->ndevs + 1) * sizeof(*nd));
	if (!nd)
		return CF_ENOMEM;
	ab->devs = nd;
	ab->devs[ab->ndevs++] = d;
	return 0;
}

void
audit_broker_unload(struct audit_broker *ab)
{
	struct audit_device **devs;
	size_t n;

	if (!ab)
		return;
	pthread_rwlock_wrlock(&ab->lock);
	devs = ab->devs;
	n = ab->ndevs;
	ab->devs = NULL;
	ab->ndevs = 0;
	pthread_rwlock_unlock(&ab->lock);
	for (size_t i = 0; i < n; i++)
		device_free(devs[i]);
	free(devs);
}

int
audit_broker_load(struct audit_broker *ab)
{
	json_t *t = NULL, *arr, *e;
	struct audit_device *d;
	struct audit_secret *keys;
	struct audit_cp cp;
	char err[256];
	size_t i, slen;
	bool upgrade = false;
	int r, rr = 0;

	audit_broker_unload(ab);
	r = view_get_json(ab->view, AUDIT_TABLE_KEY, &t);
	if (r == CF_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	arr = json_object_get(t, "devices");
	keys = sodium_malloc(sizeof(*keys));
	if (!json_is_array(arr) || !keys) {
		r = keys ? CF_EINTERNAL : CF_ENOMEM;
		if (keys)
			sodium_free(keys);
		goto out;
	}
	pthread_rwlock_wrlock(&ab->lock);
	json_array_foreach(arr, i, e)
	{
		const char *path = NULL, *type = NULL, *desc = NULL, *salthex = NULL;
		const char *chainhex = NULL, *seedhex = NULL;
		bool local = false;
		json_t *opts = json_object_get(e, "options");

		(void)jsonx_str(e, "path", &path);
		(void)jsonx_str(e, "type", &type);
		(void)jsonx_str(e, "description", &desc);
		(void)jsonx_str(e, "salt", &salthex);
		(void)jsonx_bool(e, "local", &local);
		(void)jsonx_str(e, "chain_key", &chainhex);
		(void)jsonx_str(e, "sign_seed", &seedhex);
		if (!path || !type || !salthex || !json_is_object(opts) ||
		    util_unhex(salthex, keys->salt, sizeof(keys->salt), &slen) < 0 ||
		    slen != AUDIT_SALT_BYTES) {
			log_error("audit table entry %zu is malformed", i);
			rr = CF_EINTERNAL;
			continue;
		}
		if (!chainhex || !seedhex ||
		    util_unhex(chainhex, keys->chain_key, AUDIT_KEY_BYTES, &slen) < 0 ||
		    slen != AUDIT_KEY_BYTES ||
		    util_unhex(seedhex, keys->sign_seed, AUDIT_KEY_BYTES, &slen) < 0 ||
		    slen != AUDIT_KEY_BYTES) {
			/* A device enabled by an older coffer: it gets its chain keys
			 * now, and a new chain starts after the file's lines. */
			util_random(keys->chain_key, AUDIT_KEY_BYTES);
			util_random(keys->sign_seed, AUDIT_KEY_BYTES);
			upgrade = true;
		}
		r = device_new(path, type, desc, opts, local, keys, ab->view, NULL, &d);
		if (r < 0) {
			log_error("audit device %s cannot be loaded: %s", path, cf_strerror(r));
			rr = r;
			continue;
		}
		r = device_load_anchor(d, &cp);
		if (r < 0) {
			log_error("audit device %s: its stored checkpoint cannot be read: %s",
			          d->path, cf_strerror(r));
			memset(&cp, 0, sizeof(cp));
		}
		/* A device that cannot open stays enabled but failed: requests are
		 * refused until it can write again (no unaudited access). One whose
		 * file no longer ends as stored stays enabled, tampered: nothing more is
		 * appended to it (an operator disables it, docs/internals/audit.md). */
		r = audit_file_open(d->sink, &cp, err, sizeof(err));
		if (r == CF_ECRYPTO)
			log_error("audit device %s: TAMPERED: its file %s; nothing more is "
			          "appended to it",
			          d->path, err);
		else if (r < 0)
			log_error("audit device %s cannot be opened: %s", d->path, err);
		r = add_locked(ab, d);
		if (r < 0) {
			device_free(d);
			rr = r;
		}
	}
	if (upgrade && table_persist(ab, NULL, NULL) < 0)
		log_error("the audit device table could not be stored with its new chain keys");
	pthread_rwlock_unlock(&ab->lock);
	sodium_free(keys); /* wipes */
	r = rr;
out:
	json_decref(t);
	return r;
}

/* ---- operations behind the sys handlers ---- */

static int
device_path(const char *in, char *out, size_t outlen)
{
	size_t n = in ? strlen(in) : 0;
	int w;

	while (n > 0 && in[n - 1] == '/')
		n--;
	if (n == 0)
		return CF_EINVAL;
	w = snprintf(out, outlen, "%.*s/", (int)n, in);
	if (w < 0 || (size_t)w >= outlen)
		return CF_EINVAL;
	return 0;
}

int
audit_broker_enable(struct audit_broker *ab, const char *path, json_t *params, struct response *rs)
{
	char p[512], err[256];
	struct audit_enable_params e = {0};
	struct audit_device *d = NULL;
	int r;

	if (device_path(path, p, sizeof(p)) < 0) {
		(void)response_errorf(rs, "invalid audit device path");
		return CF_EINVAL;
	}
	r = field_parse(audit_enable_fields, params, &e, rs);
	if (r < 0)
		goto out;

	pthread_rwlock_rdlock(&ab->lock);
	d = find_locked(ab, p, NULL);
	pthread_rwlock_unlock(&ab->lock);
	if (d) {
		d = NULL;
		(void)response_errorf(rs, "path already in use");
		r = CF_EINVAL;
		goto out;
	}
	r = device_new(p, e.type, e.description, e.options, e.local, NULL, ab->view, rs, &d);
	if (r < 0)
		goto out;
	/* Test-open the sink now, so a bad path fails the enable (as Vault's /sys/audit). A new
	 * chain starts after whatever the file holds. */
	r = audit_file_open(d->sink, NULL, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "sink cannot be opened: %s", err);
		r = CF_EINVAL;
		goto out;
	}

	pthread_rwlock_wrlock(&ab->lock);
	if (find_locked(ab, p, NULL)) {
		(void)response_errorf(rs, "path already in use");
		r = CF_EINVAL;
	} else if (ab->ndevs >= AUDIT_MAX_DEVICES) {
		(void)response_errorf(rs, "too many audit devices");
		r = CF_EINVAL;
	} else {
		r = table_persist(ab, NULL, d);
		if (r == 0)
			r = add_locked(ab, d);
		if (r == 0)
			d = NULL;
	}
	pthread_rwlock_unlock(&ab->lock);
	if (r == 0)
		log_info("audit device %s enabled (type file)", p);
out:
	device_free(d);
	field_free(audit_enable_fields, &e);
	return r;
}

int
audit_broker_disable(struct audit_broker *ab, const char *path)
{
	struct audit_device *d;
	char p[512], p_state[sizeof(AUDIT_STATE_PREFIX) + 512];
	size_t i;
	int r = 0;

	if (device_path(path, p, sizeof(p)) < 0)
		return 0;
	snprintf(p_state, sizeof(p_state), "%s%.*s", AUDIT_STATE_PREFIX, (int)(strlen(p) - 1), p);
	pthread_rwlock_wrlock(&ab->lock);
	d = find_locked(ab, p, &i);
	if (d) {
		r = table_persist(ab, d, NULL);
		if (r == 0) {
			memmove(&ab->devs[i], &ab->devs[i + 1],
			        (ab->ndevs - i - 1) * sizeof(ab->devs[0]));
			ab->ndevs--;
		}
	}
	pthread_rwlock_unlock(&ab->lock);
	if (d && r == 0) {
		log_info("audit device %s disabled", p);
		/* The final checkpoint is written; the stored one goes with the device. */
		audit_file_forget_anchor(d->sink);
		device_free(d);
		d = NULL;
		r = view_delete(ab->view, p_state);
		if (r == CF_ENOTFOUND)
			r = 0;
		if (r < 0)
			log_error("audit device %s: its stored checkpoint could not be removed: %s",
			          p, cf_strerror(r));
		r = 0;
	}
	return r;
}

int
audit_broker_hash(struct audit_broker *ab, const char *path, const char *input, char **ret_hash)
{
	struct audit_device *d;
	char p[512], h[AUDIT_HASH_LEN];
	char *s = NULL;

	if (device_path(path, p, sizeof(p)) < 0)
		return CF_ENOTFOUND;
	pthread_rwlock_rdlock(&ab->lock);
	d = find_locked(ab, p, NULL);
	if (d)
		device_hmac(d, input, strlen(input), h);
	pthread_rwlock_unlock(&ab->lock);
	if (!d)
		return CF_ENOTFOUND;
	s = strdup(h);
	if (!s)
		return CF_ENOMEM;
	*ret_hash = s;
	return 0;
}

json_t *
audit_broker_list(struct audit_broker *ab)
{
	json_t *out = json_object(), *e;

	if (!out)
		return NULL;
	pthread_rwlock_rdlock(&ab->lock);
	for (size_t i = 0; i < ab->ndevs; i++) {
		e = device_table_entry(ab->devs[i], false);
		if (!e || json_object_set_new(out, ab->devs[i]->path, e) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	pthread_rwlock_unlock(&ab->lock);
	return out;
}

json_t *
audit_broker_tampered(struct audit_broker *ab)
{
	json_t *out = NULL, *e;
	char msg[256];

	pthread_rwlock_rdlock(&ab->lock);
	for (size_t i = 0; i < ab->ndevs; i++) {
		if (!audit_file_tampered(ab->devs[i]->sink, msg, sizeof(msg)))
			continue;
		if (!out)
			out = json_array();
		e = json_pack("{s:s, s:s}", "path", ab->devs[i]->path, "error", msg);
		if (!out || !e || json_array_append_new(out, e) < 0)
			break;
	}
	pthread_rwlock_unlock(&ab->lock);
	return out;
}

int
audit_broker_public_key(struct audit_broker *ab, const char *path, char **ret_b64)
{
	uint8_t pk[AUDIT_PK_BYTES];
	struct audit_device *d;
	char p[512], *s;

	if (device_path(path, p, sizeof(p)) < 0)
		return CF_ENOTFOUND;
	pthread_rwlock_rdlock(&ab->lock);
	d = find_locked(ab, p, NULL);
	if (d)
		audit_file_public_key(d->sink, pk);
	pthread_rwlock_unlock(&ab->lock);
	if (!d)
		return CF_ENOTFOUND;
	s = util_b64_encode(pk, sizeof(pk));
	if (!s)
		return CF_ENOMEM;
	*ret_b64 = s;
	return 0;
}

int
audit_broker_verify(struct audit_broker *ab, const char *path, json_t **ret, struct response *rs)
{
	struct audit_verify_opts o = {.fd = -1};
	struct audit_verify_result *res = NULL;
	struct audit_device *d;
	uint8_t pk[AUDIT_PK_BYTES], *master = NULL;
	char p[512], prev[65], msg[256], *file = NULL;
	const char *fp = NULL;
	uint64_t seq = 0;
	json_t *out;
	int r = 0;

	if (device_path(path, p, sizeof(p)) < 0)
		return CF_ENOTFOUND;
	master = sodium_malloc(AUDIT_KEY_BYTES);
	res = calloc(1, sizeof(*res));
	if (!master || !res) {
		r = CF_ENOMEM;
		goto out;
	}
	/* Copy what the check needs, then read the file without the table lock
	 * (a long read must not hold up a disable, nor the requests behind it). */
	pthread_rwlock_rdlock(&ab->lock);
	d = find_locked(ab, p, NULL);
	if (d) {
		(void)jsonx_str(d->options, "file_path", &fp);
		if (!fp || !*fp)
			(void)jsonx_str(d->options, "path", &fp);
		file = fp ? strdup(fp) : NULL;
		memcpy(master, d->sec->chain_key, AUDIT_KEY_BYTES);
		audit_file_public_key(d->sink, pk);
		if (audit_file_tampered(d->sink, msg, sizeof(msg))) {
			(void)response_errorf(rs, "the device is tampered: %s", msg);
			r = CF_EINVAL;
		} else if (!file || strcmp(file, "stdout") == 0 || strcmp(file, "discard") == 0) {
			(void)response_errorf(rs,
			                      "only a device writing to a file can be verified");
			r = CF_EINVAL;
		} else {
			r = audit_file_head(d->sink, &seq, prev);
			if (r < 0) {
				(void)response_errorf(rs, "the device's file is not open");
				r = CF_EINVAL;
			}
		}
	}
	pthread_rwlock_unlock(&ab->lock);
	if (!d) {
		r = CF_ENOTFOUND;
		goto out;
	}
	if (r < 0)
		goto out;
	o.path = file;
	o.master = master;
	o.pk = pk;
	o.stop_seq = seq;
	o.stop_prev = prev;
	r = audit_verify_run(&o, res);
	if (r < 0 && r != CF_EINVAL) {
		(void)response_errorf(rs, "cannot read the file: %s", res->msg);
		goto out;
	}
	if (r == CF_EINVAL) {
		/* The file no longer holds what was written: append no more to it. */
		log_error("audit device %s: TAMPERED: its live file %s", p, res->msg);
		pthread_rwlock_rdlock(&ab->lock);
		d = find_locked(ab, p, NULL);
		if (d)
			audit_file_set_tampered(d->sink, res->msg);
		pthread_rwlock_unlock(&ab->lock);
	}
	out = json_pack("{s:s, s:b, s:I, s:I, s:I}", "device", p, "ok", r == 0, "lines",
	                (json_int_t)res->lines, "seq", (json_int_t)seq, "last_checkpoint_seq",
	                (json_int_t)res->last_cp_seq);
	if (out && r < 0) {
		json_object_set_new(out, "line", json_integer(res->bad_line));
		json_object_set_new(out, "error", json_string(res->msg));
	}
	r = out ? 0 : CF_ENOMEM;
	if (out)
		*ret = out;
out:
	if (master)
		sodium_free(master);
	if (res)
		secmem_free(res, sizeof(*res));
	free(file);
	return r;
}
