/* git.c - git history and staged changes for `coffer scan` (git.h). */
#include "tools/scan/git.h"

#include "tools/gitrepo.h"
#include "lib/util.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <errno.h>
#include <git2.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 16

/* ---- a set of 16-byte hashes (open addressing; an all-zero key is empty) ---- */

struct hset {
	uint8_t (*keys)[KEY_LEN];
	size_t n, cap;
};

static size_t
hset_slot(const struct hset *s, const uint8_t *key)
{
	uint64_t h;
	size_t i;

	memcpy(&h, key, sizeof(h));
	for (i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		static const uint8_t zero[KEY_LEN];

		if (memcmp(s->keys[i], key, KEY_LEN) == 0 || memcmp(s->keys[i], zero, KEY_LEN) == 0)
			return i;
	}
}

/* Adds key; *ret_new says whether it was missing. */
static int
hset_add(struct hset *s, const uint8_t *key, bool *ret_new)
{
	static const uint8_t zero[KEY_LEN];
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct hset big = {NULL, 0, s->cap ? s->cap * 2 : 1024};

		big.keys = calloc(big.cap, KEY_LEN);
		if (!big.keys)
			return CF_ENOMEM;
		for (size_t j = 0; j < s->cap; j++) {
			if (memcmp(s->keys[j], zero, KEY_LEN) == 0)
				continue;
			memcpy(big.keys[hset_slot(&big, s->keys[j])], s->keys[j], KEY_LEN);
			big.n++;
		}
		secmem_free(s->keys, s->cap * KEY_LEN);
		*s = big;
	}
	i = hset_slot(s, key);
	*ret_new = memcmp(s->keys[i], zero, KEY_LEN) == 0;
	if (*ret_new) {
		memcpy(s->keys[i], key, KEY_LEN);
		s->n++;
	}
	return 0;
}

static void
hset_free(struct hset *s)
{
	if (s->keys)
		secmem_free(s->keys, s->cap * KEY_LEN);
	memset(s, 0, sizeof(*s));
}

/* A 16-byte BLAKE2b of the parts, each followed by a NUL so that the
 * parts' boundaries count. Never all zero. */
static void
key_of(uint8_t *key, const void *a, size_t alen, const void *b, size_t blen, const void *c,
       size_t clen)
{
	crypto_generichash_state st;
	static const uint8_t nul = 0;

	crypto_generichash_init(&st, NULL, 0, KEY_LEN);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, &nul, 1);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_update(&st, &nul, 1);
	if (c)
		crypto_generichash_update(&st, c, clen);
	crypto_generichash_final(&st, key, KEY_LEN);
	secmem_wipe(&st, sizeof(st));
	key[0] |= 1;
}

/* ---- the repository ---- */

/* ---- scanning one blob ---- */

struct blob_scan {
	struct scan_report *rep;
	struct hset *reported; /* (file, rule, secret) already reported; NULL: none kept */
	const char *file, *commit, *author, *date;
	const char *data;
	int err;
};

static int
visit(void *arg, const struct scan_hit *hit)
{
	struct blob_scan *b = arg;
	uint8_t key[KEY_LEN];
	bool fresh = true;
	int r;

	if (b->reported) {
		key_of(key, b->file, strlen(b->file), hit->rule->id, strlen(hit->rule->id),
		       b->data + hit->secret_off, hit->secret_len);
		r = hset_add(b->reported, key, &fresh);
		secmem_wipe(key, sizeof(key));
		if (r < 0)
			return r;
		if (!fresh)
			return 0;
	}
	return scan_report_add(b->rep, b->file, b->data, hit, b->commit, b->author, b->date);
}

static void
count(struct scan_report *rep, size_t bytes)
{
	pthread_mutex_lock(&rep->lock);
	rep->files_scanned++;
	rep->bytes_scanned += bytes;
	pthread_mutex_unlock(&rep->lock);
}

/* Scans the blob id at path (skipping binary and oversized blobs). A blob
 * that cannot be read becomes a note. */
static int
scan_blob(git_repository *repo, struct scan_ctx *ctx, const git_oid *id, size_t max_size,
          struct blob_scan *b)
{
	git_blob *blob = NULL;
	git_object_size_t size;
	int r;

	if (git_blob_lookup(&blob, repo, id) < 0) {
		scan_report_note(b->rep, "%s%s%.12s: cannot read the blob: %s", b->file,
		                 b->commit ? " at " : "", b->commit ? b->commit : "",
		                 gitrepo_msg());
		return 0;
	}
	size = git_blob_rawsize(blob);
	if ((max_size && size > max_size) || git_blob_is_binary(blob)) {
		git_blob_free(blob);
		return 0;
	}
	b->data = git_blob_rawcontent(blob);
	r = scan_buffer(ctx, b->data, (size_t)size, visit, b);
	if (r == 0)
		count(b->rep, (size_t)size);
	git_blob_free(blob);
	return r;
}

static bool
is_file_mode(uint16_t mode)
{
	return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

/* ---- history ---- */

/* "Name <email>" and the RFC 3339 date of a signature. */
static int
who_and_when(const git_signature *sig, char **ret_who, char *date, size_t datelen)
{
	int off = sig->when.offset;
	time_t t = (time_t)sig->when.time + (time_t)off * 60;
	struct tm tm;

	if (asprintf(ret_who, "%s <%s>", sig->name ? sig->name : "", sig->email ? sig->email : "") <
	    0) {
		*ret_who = NULL;
		return CF_ENOMEM;
	}
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	(void)snprintf(date, datelen, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
	               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	               off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
	return 0;
}

/* Scans what commit changed against its first parent. */
static int
scan_commit(git_repository *repo, struct scan_ctx *ctx, git_commit *commit,
            const struct scan_git_opts *o, struct hset *seen, struct hset *reported,
            struct scan_report *rep, char *err, size_t errlen)
{
	git_tree *tree = NULL, *ptree = NULL;
	git_commit *parent = NULL;
	git_diff *diff = NULL;
	git_diff_options dopts = GIT_DIFF_OPTIONS_INIT;
	char hex[GIT_OID_HEXSZ + 1], date[96], *who = NULL;
	struct blob_scan b = {.rep = rep, .reported = reported};
	int r = 0;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	if (git_commit_tree(&tree, commit) < 0 ||
	    (git_commit_parentcount(commit) > 0 &&
	     (git_commit_parent(&parent, commit, 0) < 0 || git_commit_tree(&ptree, parent) < 0))) {
		scan_report_note(rep, "commit %s: cannot read its tree: %s", hex, gitrepo_msg());
		goto out;
	}
	dopts.flags |= GIT_DIFF_SKIP_BINARY_CHECK;
	if (git_diff_tree_to_tree(&diff, repo, ptree, tree, &dopts) < 0) {
		scan_report_note(rep, "commit %s: cannot compare it with its parent: %s", hex,
		                 gitrepo_msg());
		goto out;
	}
	r = who_and_when(git_commit_author(commit), &who, date, sizeof(date));
	if (r < 0)
		goto out;
	b.commit = hex;
	b.author = who;
	b.date = date;
	for (size_t i = 0, n = git_diff_num_deltas(diff); i < n && r == 0; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		uint8_t key[KEY_LEN];
		bool fresh;

		if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
		    d->status != GIT_DELTA_TYPECHANGE)
			continue;
		if (!is_file_mode(d->new_file.mode))
			continue;
		key_of(key, d->new_file.path, strlen(d->new_file.path), d->new_file.id.id,
		       GIT_OID_RAWSZ, NULL, 0);
		r = hset_add(seen, key, &fresh);
		if (r < 0 || !fresh)
			continue;
		b.file = d->new_file.path;
		r = scan_blob(repo, ctx, &d->new_file.id, o->max_size, &b);
	}
out:
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	else if (r < 0)
		util_errf(err, errlen, "commit %s: %s", hex, cf_strerror(r));
	free(who);
	git_diff_free(diff);
	git_tree_free(ptree);
	git_tree_free(tree);
	git_commit_free(parent);
	return r;
}

int
scan_git_history(const struct scan_engine *e, const struct scan_git_opts *o,
                 struct scan_report *rep, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_object *rev = NULL, *since = NULL;
	struct scan_ctx *ctx = NULL;
	struct hset seen = {0}, reported = {0};
	git_oid id;
	int r, g;

	r = gitrepo_open(o->path, false, &repo, err, errlen);
	if (r < 0)
		return r;
	r = scan_ctx_new(e, &ctx);
	if (r < 0) {
		util_errf(err, errlen, "out of memory");
		goto out;
	}
	if (git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME | GIT_SORT_REVERSE) <
	            0 ||
	    git_revwalk_push_glob(walk, "refs/*") < 0) {
		util_errf(err, errlen, "walking the history: %s", gitrepo_msg());
		r = CF_EIO;
		goto out;
	}
	/* a detached HEAD is on no ref; an unborn one has no commit yet */
	(void)git_revwalk_push_head(walk);
	if (o->since) {
		if (git_revparse_single(&rev, repo, o->since) < 0 ||
		    git_object_peel(&since, rev, GIT_OBJECT_COMMIT) < 0) {
			util_errf(err, errlen, "--since: unknown revision \"%s\"", o->since);
			r = CF_ENOTFOUND;
			goto out;
		}
		if (git_revwalk_hide(walk, git_object_id(since)) < 0) {
			util_errf(err, errlen, "--since: %s", gitrepo_msg());
			r = CF_EIO;
			goto out;
		}
	}
	while ((g = git_revwalk_next(&id, walk)) == 0) {
		git_commit *commit = NULL;

		if (git_commit_lookup(&commit, repo, &id) < 0) {
			char hex[GIT_OID_HEXSZ + 1];

			scan_report_note(rep, "commit %s: cannot read it: %s",
			                 git_oid_tostr(hex, sizeof(hex), &id), gitrepo_msg());
			continue;
		}
		r = scan_commit(repo, ctx, commit, o, &seen, &reported, rep, err, errlen);
		git_commit_free(commit);
		if (r < 0)
			goto out;
	}
	if (g != GIT_ITEROVER && git_repository_is_shallow(repo) == 1) {
		util_errf(err, errlen,
		          "walking the history: this is a shallow clone, whose history "
		          "stops at missing commits (git fetch --unshallow first)");
		r = CF_EIO;
		goto out;
	}
	if (g != GIT_ITEROVER) {
		util_errf(err, errlen, "walking the history: %s", gitrepo_msg());
		r = CF_EIO;
		goto out;
	}
	r = 0;
out:
	hset_free(&seen);
	hset_free(&reported);
	scan_ctx_free(ctx);
	git_object_free(since);
	git_object_free(rev);
	git_revwalk_free(walk);
	gitrepo_close(repo);
	return r;
}

/* ---- the index ---- */

int
scan_git_staged(const struct scan_engine *e, const struct scan_git_opts *o, struct scan_report *rep,
                char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	git_object *head = NULL;
	git_tree *tree = NULL;
	git_diff *diff = NULL;
	git_diff_options dopts = GIT_DIFF_OPTIONS_INIT;
	struct scan_ctx *ctx = NULL;
	struct blob_scan b = {.rep = rep};
	int r, g;

	r = gitrepo_open(o->path, true, &repo, err, errlen);
	if (r < 0)
		return r;
	r = scan_ctx_new(e, &ctx);
	if (r < 0) {
		util_errf(err, errlen, "out of memory");
		goto out;
	}
	if (git_repository_index(&index, repo) < 0) {
		util_errf(err, errlen, "reading the index: %s", gitrepo_msg());
		r = CF_EIO;
		goto out;
	}
	/* before the first commit, everything staged is new */
	g = git_revparse_single(&head, repo, "HEAD^{tree}");
	if (g == 0) {
		tree = (git_tree *)head;
		head = NULL;
	} else if (g != GIT_ENOTFOUND && g != GIT_EUNBORNBRANCH) {
		util_errf(err, errlen, "reading HEAD: %s", gitrepo_msg());
		r = CF_EIO;
		goto out;
	}
	dopts.flags |= GIT_DIFF_SKIP_BINARY_CHECK;
	if (git_diff_tree_to_index(&diff, repo, tree, index, &dopts) < 0) {
		util_errf(err, errlen, "comparing the index with HEAD: %s", gitrepo_msg());
		r = CF_EIO;
		goto out;
	}
	for (size_t i = 0, n = git_diff_num_deltas(diff); i < n && r == 0; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);

		if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
		    d->status != GIT_DELTA_TYPECHANGE)
			continue;
		if (!is_file_mode(d->new_file.mode))
			continue;
		b.file = d->new_file.path;
		r = scan_blob(repo, ctx, &d->new_file.id, o->max_size, &b);
	}
	if (r == CF_ENOMEM)
		util_errf(err, errlen, "out of memory");
	else if (r < 0)
		util_errf(err, errlen, "%s: %s", b.file ? b.file : "index", cf_strerror(r));
out:
	git_diff_free(diff);
	git_tree_free(tree);
	git_object_free(head);
	git_index_free(index);
	scan_ctx_free(ctx);
	gitrepo_close(repo);
	return r;
}
