/* audit_verify.c - the check of a file device's keyed chain and checkpoints
 * (docs/internals/audit.md "Verify").
 *
 * Offline (`coffer audit verify`), the segment keys are unknown until the
 * checkpoint that closes a segment reveals its key, so the file is read twice:
 * the first pass collects the chain starts and checkpoints, the second checks
 * every line: it parses as a JSON object from its first '{', its seq is one more
 * than the line before, and its prev_hash is HMAC-SHA256(K, previous line) with
 * the key of its segment; each checkpoint's Ed25519 signature is checked with the
 * public key when one is given. The server (master key known) reads once, derives
 * every key, and so also checks the lines after the last checkpoint.
 *
 * How tampering shows, with the public key: an edited line breaks the prev_hash
 * of the next line (or, recomputed with a key the forger does not have, cannot
 * be recomputed at all; recomputed as a plain SHA-256 chain, fails at once); a
 * removed or reordered line breaks seq; a rewritten segment cannot carry a valid
 * signature; lines cut from the end leave lines after the last checkpoint, which
 * are refused unless allow_partial (cut exactly at a checkpoint, only the server's
 * stored head shows it: sys/audit-verify). */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

enum { EV_START, EV_CP };

/* A chain start or checkpoint found by the first pass (offline). */
struct vevent {
	long line;
	int kind;
	uint64_t base;
	bool key_ok;
	uint8_t key[AUDIT_KEY_BYTES];
};

struct vstate {
	const struct audit_verify_opts *o;
	struct audit_verify_result *res;
	struct vevent *ev;
	size_t nev, iev;
	struct audit_mac mac;
	bool in_chain, ours, key_known, ours_seen, done;
	uint64_t seq, base;
	uint8_t key[AUDIT_KEY_BYTES];
	char prev[65];
	long since_cp, first_since; /* lines of the chain not yet under a checkpoint */
};

static int fail(struct vstate *v, long line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
fail(struct vstate *v, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Truncation only shortens the message; the line number comes first. */
	(void)vsnprintf(v->res->msg, sizeof(v->res->msg), fmt, ap);
	va_end(ap);
	v->res->bad_line = line;
	return CF_EINVAL;
}

static json_t *
parse_line(const char *line, size_t len)
{
	const char *brace = memchr(line, '{', len);
	json_t *j;

	if (!brace)
		return NULL;
	j = json_loadb(brace, len - (size_t)(brace - line), JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A line of the chain: an object with an integer seq and a string prev_hash. */
static bool
chained(json_t *j)
{
	return j && json_is_integer(json_object_get(j, "seq")) &&
	       json_is_string(json_object_get(j, "prev_hash"));
}

static const char *
line_type(json_t *j)
{
	const char *t = json_string_value(json_object_get(j, "type"));

	return t ? t : "";
}

/* Keys the segment that follows line `line` (base): derived from the master key,
 * or the key that the next checkpoint of the file reveals (offline). */
static int
segment_key(struct vstate *v, long line, uint64_t base)
{
	v->key_known = false;
	if (!v->ours)
		return 0;
	if (v->o->master) {
		audit_chain_segment_key(v->o->master, base, v->key);
		v->key_known = true;
	} else {
		while (v->iev < v->nev && v->ev[v->iev].line <= line)
			v->iev++;
		if (v->iev < v->nev && v->ev[v->iev].kind == EV_CP && v->ev[v->iev].key_ok &&
		    v->ev[v->iev].base == base) {
			memcpy(v->key, v->ev[v->iev].key, AUDIT_KEY_BYTES);
			v->key_known = true;
		}
	}
	return v->key_known ? audit_mac_key(&v->mac, v->key) : 0;
}

static int
chain_value(struct vstate *v, const char *line, size_t len)
{
	if (!v->key_known)
		return 0;
	return audit_mac_line_hex(&v->mac, line, len, v->prev);
}

/* The lines of a chain after its last checkpoint: covered by no signature. */
static void
close_chain(struct vstate *v)
{
	if (!v->in_chain || !v->ours || v->since_cp == 0 || v->o->master)
		return;
	if (v->res->unverified == 0)
		v->res->first_unverified = v->first_since;
	v->res->unverified += v->since_cp;
}

static void
anchor(struct vstate *v, uint64_t seq, const char *line, size_t len, off_t end)
{
	v->res->cp.seq = seq;
	v->res->cp.offset = (uint64_t)end;
	util_sha256_hex(line, len, v->res->cp.digest);
}

static int
chain_start(struct vstate *v, json_t *j, const char *line, size_t len, long k)
{
	const char *pk64 = json_string_value(json_object_get(j, "public_key"));
	const char *ph = json_string_value(json_object_get(j, "prev_hash"));
	uint8_t pk[AUDIT_PK_BYTES];
	char want[65];
	int r;

	if (v->o->resume)
		return fail(v, k,
		            "line %ld: a new chain starts here, after the stored checkpoint "
		            "(lines were replaced)",
		            k);
	close_chain(v);
	v->in_chain = true;
	v->res->chains++;
	v->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	v->base = v->seq - 1;
	v->ours = !v->o->pk || (pk64 && audit_chain_parse_pk(pk64, pk) == 0 &&
	                        memcmp(pk, v->o->pk, AUDIT_PK_BYTES) == 0);
	if (!v->ours) {
		v->res->other++;
		return 0;
	}
	v->ours_seen = true;
	v->since_cp = 1;
	v->first_since = k;
	r = segment_key(v, k, v->base);
	if (r < 0)
		return r;
	if (v->key_known) {
		r = audit_mac_hex(&v->mac, NULL, 0, want);
		if (r < 0)
			return r;
		if (strcmp(want, ph) != 0)
			return fail(
			        v, k,
			        "line %ld: its prev_hash does not open a chain (line %ld edited)",
			        k, k);
	}
	return chain_value(v, line, len);
}

static int
checkpoint(struct vstate *v, json_t *j, const char *line, size_t len, long k, off_t end)
{
	json_t *jb = json_object_get(j, "base"), *jf = json_object_get(j, "final");
	const char *key_hex = json_string_value(json_object_get(j, "key"));
	const char *sig64 = json_string_value(json_object_get(j, "signature"));
	const char *ph = json_string_value(json_object_get(j, "prev_hash"));
	const char *when = json_string_value(json_object_get(j, "time"));
	uint8_t key[AUDIT_KEY_BYTES], *sig = NULL;
	char msg[512];
	size_t klen = 0, slen = 0, mlen;
	bool final;
	int r;

	if (!json_is_integer(jb) || !json_is_boolean(jf) || !key_hex || !sig64 || !when ||
	    util_unhex(key_hex, key, sizeof(key), &klen) < 0 || klen != AUDIT_KEY_BYTES)
		return fail(v, k, "line %ld: a malformed checkpoint (line %ld edited)", k, k);
	final = json_is_true(jf);
	if ((uint64_t)json_integer_value(jb) != v->base)
		return fail(
		        v, k,
		        "line %ld: the checkpoint's base is %lld, expected %llu (line %ld edited)",
		        k, (long long)json_integer_value(jb), (unsigned long long)v->base, k);
	if (!v->key_known || sodium_memcmp(key, v->key, AUDIT_KEY_BYTES) != 0)
		return fail(
		        v, k,
		        "line %ld: the checkpoint reveals a key that does not match its segment "
		        "(line %ld edited)",
		        k, k);
	if (v->o->pk) {
		mlen = audit_chain_cp_message(msg, sizeof(msg), v->seq, v->base, ph, key_hex, final,
		                              when);
		if (util_b64_decode(sig64, &sig, &slen) < 0 || slen != AUDIT_SIG_BYTES ||
		    mlen == 0 || !audit_chain_sig_ok(v->o->pk, msg, mlen, sig)) {
			free(sig);
			return fail(
			        v, k,
			        "line %ld: the checkpoint's signature does not verify with this "
			        "public key (lines up to %ld forged or altered)",
			        k, k);
		}
		free(sig);
	}
	v->res->last_cp_line = k;
	v->res->last_cp_seq = v->seq;
	v->res->last_cp_final = final;
	v->since_cp = 0;
	v->first_since = 0;
	anchor(v, v->seq, line, len, end);
	v->base = v->seq;
	r = segment_key(v, k, v->base);
	if (r < 0)
		return r;
	return chain_value(v, line, len);
}

/* One line at position k, ending at offset end (newline excluded from line). */
static int
verify_line(struct vstate *v, const char *line, size_t len, long k, off_t end)
{
	json_t *j = parse_line(line, len);
	const char *type, *ph;
	long long sq;
	int r = 0;

	if (!chained(j)) {
		if (!v->in_chain) {
			v->res->preamble++;
			goto out;
		}
		r = j ? fail(v, k,
		             "line %ld: no seq or prev_hash field (line %ld edited, or not a "
		             "chained audit log)",
		             k, k)
		      : fail(v, k, "line %ld: not a JSON object (line %ld edited or torn)", k, k);
		goto out;
	}
	type = line_type(j);
	if (strcmp(type, "chain_start") == 0) {
		r = chain_start(v, j, line, len, k);
		goto out;
	}
	if (!v->in_chain) {
		if (strcmp(type, "checkpoint") == 0)
			r = fail(v, k,
			         "line %ld: a checkpoint before any chain start (the start of the "
			         "chain was removed)",
			         k);
		else
			v->res->preamble++; /* a line of an older, unkeyed log */
		goto out;
	}
	if (!v->ours) {
		v->res->other++;
		goto out;
	}
	sq = (long long)json_integer_value(json_object_get(j, "seq"));
	if (sq != (long long)(v->seq + 1)) {
		if (sq > (long long)(v->seq + 1))
			r = fail(v, k,
			         "line %ld: seq is %lld, expected %llu (a line was removed before "
			         "line %ld, or lines were reordered)",
			         k, sq, (unsigned long long)(v->seq + 1), k);
		else
			r = fail(v, k,
			         "line %ld: seq is %lld, expected %llu (lines reordered or "
			         "duplicated, or line %ld edited)",
			         k, sq, (unsigned long long)(v->seq + 1), k);
		goto out;
	}
	ph = json_string_value(json_object_get(j, "prev_hash"));
	if (v->key_known && strcmp(ph, v->prev) != 0) {
		if (k == 1)
			r = fail(v, k,
			         "line %ld: its prev_hash does not follow the chain (line %ld "
			         "edited)",
			         k, k);
		else
			r = fail(v, k - 1,
			         "line %ld edited: its keyed hash does not match the prev_hash of "
			         "line "
			         "%ld (or lines were removed between them and renumbered)",
			         k - 1, k);
		goto out;
	}
	v->seq++;
	if (strcmp(type, "checkpoint") == 0) {
		r = checkpoint(v, j, line, len, k, end);
	} else {
		if (v->since_cp++ == 0)
			v->first_since = k;
		r = chain_value(v, line, len);
	}
	if (r == 0 && v->o->stop_seq && v->seq == v->o->stop_seq) {
		v->done = true;
		if (strcmp(v->prev, v->o->stop_prev) != 0)
			r = fail(v, k,
			         "line %ld: the server's chain head differs: line %ld was altered",
			         k, k);
	}
out:
	json_decref(j);
	return r;
}

/* Opens the file at the offset to read from. */
static FILE *
open_at(const struct audit_verify_opts *o, char *msg, size_t msglen)
{
	FILE *fp;
	int fd;

	if (o->fd < 0) {
		fp = fopen(o->path, "re");
		if (!fp)
			snprintf(msg, msglen, "%s: %s", o->path, strerror(errno));
		return fp;
	}
	fd = dup(o->fd);
	fp = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!fp) {
		if (fd >= 0)
			close(fd);
		snprintf(msg, msglen, "%s", strerror(errno));
		return NULL;
	}
	if (fseeko(fp, o->from, SEEK_SET) < 0) {
		snprintf(msg, msglen, "seek: %s", strerror(errno));
		fclose(fp);
		return NULL;
	}
	return fp;
}

/* The first pass (offline): where the chains start and what each checkpoint
 * reveals. */
static int
collect(struct vstate *v, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0, len, ncap = 0;
	ssize_t got;
	long k = 0;
	int r = 0;

	while ((got = getline(&line, &cap, fp)) >= 0) {
		json_t *j;
		const char *type, *key_hex;
		struct vevent e = {0};
		size_t klen = 0;

		k++;
		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		j = parse_line(line, len);
		type = chained(j) ? line_type(j) : "";
		e.line = k;
		if (strcmp(type, "chain_start") == 0) {
			e.kind = EV_START;
		} else if (strcmp(type, "checkpoint") == 0) {
			e.kind = EV_CP;
			e.base = (uint64_t)json_integer_value(json_object_get(j, "base"));
			key_hex = json_string_value(json_object_get(j, "key"));
			e.key_ok = key_hex &&
			           util_unhex(key_hex, e.key, sizeof(e.key), &klen) == 0 &&
			           klen == AUDIT_KEY_BYTES;
		} else {
			json_decref(j);
			continue;
		}
		json_decref(j);
		if (v->nev == ncap) {
			size_t nc = ncap ? 2 * ncap : 64;
			struct vevent *ne = realloc(v->ev, nc * sizeof(*ne));
			if (!ne) {
				r = CF_ENOMEM;
				break;
			}
			v->ev = ne;
			ncap = nc;
		}
		v->ev[v->nev++] = e;
	}
	if (r == 0 && ferror(fp)) {
		snprintf(v->res->msg, sizeof(v->res->msg), "read error after line %ld", k);
		r = CF_EIO;
	}
	free(line);
	if (r == 0 && fseeko(fp, v->o->fd >= 0 ? v->o->from : 0, SEEK_SET) < 0)
		r = CF_EIO;
	return r;
}

static int
finish(struct vstate *v)
{
	const struct audit_verify_opts *o = v->o;
	struct audit_verify_result *res = v->res;

	if (o->stop_seq && !v->done)
		return fail(v, res->lines > 0 ? res->lines : 1,
		            "the file ends at seq %llu, but the server has written up to seq %llu: "
		            "lines were removed from its end",
		            (unsigned long long)v->seq, (unsigned long long)o->stop_seq);
	if (o->resume)
		return 0;
	if (!v->ours_seen && res->lines > 0) {
		if (o->pk)
			return fail(v, res->lines,
			            "no audit chain of this public key in the file (%ld lines)",
			            res->lines);
		return fail(v, res->lines,
		            "no keyed audit chain in the file (%ld lines): not a coffer audit log, "
		            "or one of an older format",
		            res->lines);
	}
	close_chain(v);
	if (res->unverified > 0 && !o->allow_partial)
		return fail(
		        v, res->first_unverified,
		        "lines %ld-%ld come after the last checkpoint: no signature covers them, "
		        "and lines may have been cut from the end (--allow-partial accepts this)",
		        res->first_unverified, res->first_unverified + res->unverified - 1);
	res->authenticated = o->pk && v->ours_seen;
	return 0;
}

int
audit_verify_run(const struct audit_verify_opts *o, struct audit_verify_result *res)
{
	struct vstate v = {.o = o, .res = res};
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t got;
	off_t pos;
	FILE *fp;
	int r;

	memset(res, 0, sizeof(*res));
	fp = open_at(o, res->msg, sizeof(res->msg));
	if (!fp)
		return CF_EIO;
	r = audit_mac_init(&v.mac);
	if (r < 0)
		goto out;
	pos = o->fd >= 0 ? o->from : 0;
	if (!o->master) {
		r = collect(&v, fp);
		if (r < 0)
			goto out;
	}
	if (o->resume) {
		v.in_chain = v.ours = v.ours_seen = true;
		v.seq = o->resume_seq;
		v.base = o->resume_base;
		r = segment_key(&v, 0, v.base);
		if (r < 0)
			goto out;
		memcpy(v.prev, o->resume_prev, sizeof(v.prev));
	}
	for (;;) {
		errno = 0;
		got = getline(&line, &cap, fp);
		if (got < 0) {
			if (ferror(fp)) {
				snprintf(res->msg, sizeof(res->msg), "read error after line %ld",
				         res->lines);
				r = CF_EIO;
				goto out;
			}
			break;
		}
		res->lines++;
		pos += got;
		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		r = verify_line(&v, line, len, res->lines, pos);
		if (r < 0)
			goto out;
		if (v.done)
			break;
	}
	r = finish(&v);
	res->seq = v.seq;
	res->base = v.base;
	res->end = pos;
	memcpy(res->prev, v.prev, sizeof(res->prev));
	memcpy(res->seg_key, v.key, sizeof(res->seg_key));
out:
	secmem_wipe(v.key, sizeof(v.key));
	if (v.ev)
		secmem_free(v.ev, v.nev * sizeof(*v.ev));
	audit_mac_free(&v.mac);
	if (line)
		secmem_free(line, cap);
	fclose(fp);
	return r;
}

int
audit_verify_file(const char *path, const char *public_key, bool allow_partial,
                  struct audit_verify_report *ret)
{
	struct audit_verify_opts o = {.path = path, .fd = -1, .allow_partial = allow_partial};
	struct audit_verify_result *res;
	uint8_t pk[AUDIT_PK_BYTES];
	int r;

	memset(ret, 0, sizeof(*ret));
	if (public_key) {
		if (audit_chain_parse_pk(public_key, pk) < 0) {
			snprintf(ret->msg, sizeof(ret->msg),
			         "the public key is not 32 bytes of base64 or hex");
			return CF_EUNSUPPORTED;
		}
		o.pk = pk;
	}
	res = calloc(1, sizeof(*res));
	if (!res)
		return CF_ENOMEM;
	r = audit_verify_run(&o, res);
	ret->lines = res->lines;
	ret->bad_line = res->bad_line;
	ret->authenticated = r == 0 && res->authenticated;
	ret->preamble = res->preamble;
	ret->other = res->other;
	ret->unverified = res->unverified;
	ret->first_unverified = res->first_unverified;
	ret->last_cp_line = res->last_cp_line;
	ret->last_cp_seq = res->last_cp_seq;
	ret->last_cp_final = res->last_cp_final;
	snprintf(ret->msg, sizeof(ret->msg), "%s", res->msg);
	secmem_free(res, sizeof(*res));
	return r;
}
