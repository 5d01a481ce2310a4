/* audit_verify.c - offline check of a file device's hash chain.
 *
 * Line k must parse as a JSON object (after an optional prefix, i.e. from its
 * first '{'), carry "seq" == k and "prev_hash" == hex sha256(line k-1) (of "" for
 * k = 1). How each kind of tampering shows:
 *   - line k edited (seq intact): line k+1's prev_hash no longer matches
 *     sha256(line k); reported as line k. An edit that breaks the JSON or seq of
 *     line k is reported at line k directly.
 *   - line k removed: the line now at position k has seq k+1; reported as line k
 *     (the gap lies just before it). Removing the last line cannot be seen.
 *   - lines reordered: the first out-of-place line has the wrong seq.
 * The last line is protected only by its own seq and shape: nothing after it
 * commits to its hash (docs/internals/audit.md). */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || msglen == 0)
		return;
	va_start(ap, fmt);
	/* Truncation only shortens the message; the line number comes first. */
	(void)vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

int
audit_verify_file(const char *path, long *ret_line, char *msg, size_t msglen)
{
	FILE *fp;
	char *line = NULL, prev[65], cur[65];
	size_t cap = 0, len;
	ssize_t got;
	long k = 0, bad = 0;
	json_t *j = NULL, *jseq, *jprev;
	const char *brace, *ph;
	int r = 0;

	if (msg && msglen)
		msg[0] = '\0';
	fp = fopen(path, "re");
	if (!fp) {
		if (msg && msglen)
			snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return CF_EIO;
	}
	util_sha256_hex("", 0, prev);
	for (;;) {
		errno = 0;
		got = getline(&line, &cap, fp);
		if (got < 0) {
			if (ferror(fp)) {
				if (msg && msglen)
					snprintf(msg, msglen, "%s: read error after line %ld", path,
					         k);
				r = CF_EIO;
				goto out;
			}
			break;
		}
		k++;
		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		util_sha256_hex(line, len, cur);

		brace = memchr(line, '{', len);
		j = brace ? json_loadb(brace, len - (size_t)(brace - line), JSON_REJECT_DUPLICATES,
		                       NULL)
		          : NULL;
		if (!j || !json_is_object(j)) {
			set_msg(msg, msglen,
			        "line %ld: not a JSON object (line %ld edited or torn)", k, k);
			bad = k;
			goto fail;
		}
		jseq = json_object_get(j, "seq");
		jprev = json_object_get(j, "prev_hash");
		if (!json_is_integer(jseq) || !json_is_string(jprev)) {
			set_msg(msg, msglen,
			        "line %ld: no seq or prev_hash field (line %ld edited, or not a "
			        "chained audit log)",
			        k, k);
			bad = k;
			goto fail;
		}
		if (json_integer_value(jseq) != (json_int_t)k) {
			long long sq = (long long)json_integer_value(jseq);
			if (sq > (long long)k)
				set_msg(msg, msglen,
				        "line %ld: seq is %lld, expected %ld (a line was removed "
				        "before line %ld, or lines were reordered)",
				        k, sq, k, k);
			else
				set_msg(msg, msglen,
				        "line %ld: seq is %lld, expected %ld (lines reordered or "
				        "duplicated, or line %ld edited)",
				        k, sq, k, k);
			bad = k;
			goto fail;
		}
		ph = json_string_value(jprev);
		if (strcmp(ph, prev) != 0) {
			if (k == 1) {
				set_msg(msg, msglen,
				        "line 1: prev_hash is not the hash of \"\" (line 1 edited, "
				        "or the log does not start here)");
				bad = 1;
			} else {
				set_msg(msg, msglen,
				        "line %ld edited: its hash does not match the prev_hash of "
				        "line %ld (or lines were removed between them and "
				        "renumbered)",
				        k - 1, k);
				bad = k - 1;
			}
			goto fail;
		}
		json_decref(j);
		j = NULL;
		memcpy(prev, cur, sizeof(prev));
	}
	*ret_line = k;
	r = 0;
	goto out;
fail:
	*ret_line = bad;
	r = CF_EINVAL;
out:
	json_decref(j);
	secmem_free(line, cap);
	fclose(fp);
	return r;
}
