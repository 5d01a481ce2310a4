/* dotenvx.c - dotenvx-compatible encryption of .env files; see dotenvx.h.
 *
 * One call is a `struct job`: the keys files it read (and may append a private
 * key to) and the new text of every env file it will write. Nothing is written
 * until every file has been processed without error; then the keys files go
 * first (a stored private key is never lost), then the env files. */
#include "tools/env/dotenvx.h"
#include "crypto/ecies.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUBLIC_PREFIX  "DOTENV_PUBLIC_KEY"
#define PRIVATE_PREFIX "DOTENV_PRIVATE_KEY"
#define MAX_FILES      64
#define MAX_KEYFILES   MAX_FILES
#define RING_MAX       16
#define TEXT_MAX       (DOTENV_MAX_FILE + 64u * 1024)

/* What dotenvx prepends to a file it gives a key pair (the public key line and
 * the file's base name follow). */
static const char header_text[] = "#/-------------------[DOTENV_PUBLIC_KEY]--------------------/\n"
                                  "#/            public-key encryption for .env files          /\n"
                                  "#/       [how it works](https://dotenvx.com/encryption)     /\n"
                                  "#/----------------------------------------------------------/\n";

/* What starts a new .env.keys. */
static const char keys_header[] =
        "#/------------------!DOTENV_PRIVATE_KEYS!-------------------/\n"
        "#/ private decryption keys. DO NOT commit to source control /\n"
        "#/     [how it works](https://dotenvx.com/encryption)       /\n"
        "#/          \xe2\x9b\xa8 ARMORED KEYS: `dotenvx armor up`              /\n"
        "#/----------------------------------------------------------/\n";

/* One entry of a scanned file, with its value as dotenvx reads it. */
struct item {
	struct dotenv_span sp;
	char *key;
	char *val; /* secret; vlen bytes + NUL */
	size_t vlen;
	char quote; /* the quote pair around the value as written, or 0 */
};

struct items {
	const char *text;
	struct item *v;
	size_t n, cap;
};

struct keyfile {
	char *path;
	char *text; /* secret; len bytes + NUL */
	size_t len;
	bool dirty;
};

struct output {
	const char *path;
	char *text; /* secret */
	size_t len;
};

struct job {
	const struct dotenvx_opts *o;
	struct keyfile kf[MAX_KEYFILES];
	size_t nkf;
	struct output out[MAX_FILES];
	size_t nout;
	char *err;
	size_t errlen;
};

struct ring {
	uint8_t key[RING_MAX][ECIES_PRIVATE_BYTES];
	size_t n;
	const char *name; /* the private key name looked up */
};

static int fail(struct job *j, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct job *j, int r, const char *fmt, ...)
{
	va_list ap;

	if (j->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(j->err, j->errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool
is_quote(char c)
{
	return c == '"' || c == '\'' || c == '`';
}

/* ---- files ---- */

/* Reads path into a NUL-terminated secret buffer. A missing file is
 * CF_ENOTFOUND (err set). */
static int
file_read(struct job *j, const char *path, char **ret, size_t *ret_len)
{
	struct buf b = BUF_INIT(DOTENV_MAX_FILE, BUF_SECRET);
	char chunk[65536];
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return fail(j, CF_ENOTFOUND, "%s: no such file", path);
		return fail(j, CF_EIO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = fail(j, CF_EIO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > DOTENV_MAX_FILE) {
		r = fail(j, CF_ETOOBIG, "%s: larger than %u bytes", path, DOTENV_MAX_FILE);
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(j, CF_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		r = buf_append(&b, chunk, (size_t)n);
		if (r < 0) {
			r = fail(j, r, "%s: %s", path,
			         r == CF_ETOOBIG ? "file too large" : "out of memory");
			goto out;
		}
	}
	r = buf_detach(&b, ret, ret_len);
	if (r < 0)
		r = fail(j, r, "out of memory");
out:
	secmem_wipe(chunk, sizeof(chunk));
	buf_free(&b);
	close(fd);
	return r;
}

/* Replaces path with data atomically: a 0600 temp file in the same directory,
 * fsync, rename, fsync of the directory. */
static int
file_write(struct job *j, const char *path, const char *data, size_t len)
{
	char *dcopy = strdup(path), *tmp = NULL;
	const char *dir;
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd, r = CF_ENOMEM;

	if (dcopy == NULL)
		goto out;
	dir = dirname(dcopy);
	if (asprintf(&tmp, "%s/.coffer-env.XXXXXX", dir) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		tmp = NULL;
		r = fail(j, CF_EIO, "%s: cannot create a file in %s: %s", path, dir,
		         strerror(errno));
		goto out;
	}
	r = CF_EIO;
	if (fchmod(fd, 0600) < 0)
		goto io;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto io;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto io;
	if (close(fd) < 0) {
		fd = -1;
		goto io;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto io;
	free(tmp);
	tmp = NULL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	r = 0;
	goto out;
io:
	r = fail(j, CF_EIO, "%s: cannot write: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(dcopy);
	return r;
}

/* ---- reading entries as dotenvx does ---- */

static void
items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].key); /* not secret: a key name */
		secmem_free(it->v[i].val, it->v[i].vlen + 1);
	}
	free(it->v);
	it->v = NULL;
	it->n = it->cap = 0;
}

/* The value of an entry as dotenvx reads it (its scan of the raw text: quotes
 * stripped when the trimmed text starts and ends with the same one; escapes by
 * the first character). */
static int
dx_value(const char *raw, size_t rlen, char **ret, size_t *ret_len, char *ret_quote)
{
	char *v = malloc(rlen + 1), qr = 0, q = 0;
	size_t i, n = 0, a, b;

	if (v == NULL)
		return CF_ENOMEM;
	for (i = 0; i < rlen; i++) { /* CRLF and lone CR -> LF */
		if (raw[i] == '\r') {
			v[n++] = '\n';
			if (i + 1 < rlen && raw[i + 1] == '\n')
				i++;
		} else {
			v[n++] = raw[i];
		}
	}
	for (a = 0; a < n && is_space(v[a]); a++)
		;
	for (b = n; b > a && is_space(v[b - 1]); b--)
		;
	if (b > a && is_quote(v[a]))
		qr = v[a];
	if (b - a >= 2 && is_quote(v[a]) && v[b - 1] == v[a]) {
		q = v[a];
		a++;
		b--;
	}
	n = 0;
	for (i = a; i < b; i++) {
		if (v[i] == '\\' && i + 1 < b) {
			char c = v[i + 1], e = 0;

			if (qr == '"' && c == 'n')
				e = '\n';
			else if (qr == '"' && c == 'r')
				e = '\r';
			else if (qr == '"' && c == 't')
				e = '\t';
			else if (qr == '\'' && c == '\'')
				e = '\'';
			if (e != 0) {
				v[n++] = e;
				i++;
				continue;
			}
		}
		v[n++] = v[i];
	}
	secmem_wipe(v + n, rlen + 1 - n);
	v[n] = '\0';
	*ret = v;
	*ret_len = n;
	*ret_quote = q;
	return 0;
}

static int
items_visit(void *arg, const struct dotenv_span *sp, const char *key, const char *value,
            size_t value_len)
{
	struct items *it = arg;
	struct item *x;
	int r;

	(void)key;
	(void)value;
	(void)value_len;
	if (it->n == it->cap) {
		size_t cap = it->cap ? 2 * it->cap : 32;
		struct item *v = realloc(it->v, cap * sizeof(*v));

		if (v == NULL)
			return CF_ENOMEM;
		it->v = v;
		it->cap = cap;
	}
	x = &it->v[it->n];
	memset(x, 0, sizeof(*x));
	x->sp = *sp;
	x->key = strndup(it->text + sp->key_start, sp->key_len);
	if (x->key == NULL)
		return CF_ENOMEM;
	r = dx_value(it->text + sp->value_start, sp->value_end - sp->value_start, &x->val, &x->vlen,
	             &x->quote);
	if (r < 0) {
		free(x->key); /* not secret: a key name */
		return r;
	}
	it->n++;
	return 0;
}

static int
items_scan(const char *text, size_t len, struct items *it, char *why, size_t whylen)
{
	int r;

	memset(it, 0, sizeof(*it));
	it->text = text;
	r = dotenv_scan(text, len, items_visit, it, why, whylen);
	if (r < 0)
		items_free(it);
	return r;
}

static int
scan_file(struct job *j, const char *path, const char *text, size_t len, struct items *it)
{
	char why[256] = "";
	int r;

	r = items_scan(text, len, it, why, sizeof(why));
	if (r == CF_ENOMEM)
		return fail(j, r, "out of memory");
	if (r < 0)
		return fail(j, r, "%s: %s", path, why[0] ? why : cf_strerror(r));
	return 0;
}

/* Whether KEY=<q>plain<q> reads back as plain (one entry, same value). */
static bool
round_trips(char q, const char *plain, size_t len)
{
	struct buf b = BUF_INIT(TEXT_MAX, BUF_SECRET);
	struct items it;
	char why[64];
	bool ok = false;

	if (buf_append_str(&b, "K=") < 0 || (q && buf_append_char(&b, q) < 0) ||
	    buf_append(&b, plain, len) < 0 || (q && buf_append_char(&b, q) < 0) ||
	    buf_append_char(&b, '\n') < 0)
		goto out;
	if (items_scan(buf_str(&b), buf_len(&b), &it, why, sizeof(why)) < 0)
		goto out;
	ok = it.n == 1 && it.v[0].vlen == len && memcmp(it.v[0].val, plain, len) == 0;
	items_free(&it);
out:
	buf_free(&b);
	return ok;
}

/* ---- key names ---- */

static int
names_from_items(const char *path, const struct items *it, char **ret_public, char **ret_private)
{
	char *base, *copy = strdup(path), *pub = NULL, *priv = NULL;
	char env[PATH_MAX];
	size_t n, dots = 0, i;
	int r = CF_ENOMEM;

	if (copy == NULL)
		goto out;
	for (i = 0; i < it->n; i++) {
		if (starts_with(it->v[i].key, PUBLIC_PREFIX)) {
			pub = strdup(it->v[i].key);
			if (pub == NULL || asprintf(&priv, "%s%s", PRIVATE_PREFIX,
			                            pub + strlen(PUBLIC_PREFIX)) < 0) {
				priv = NULL;
				goto out;
			}
			goto done;
		}
	}
	/* canonical file name: base name, lower case, a trailing .txt dropped */
	base = basename(copy);
	for (i = 0; base[i]; i++)
		base[i] = (char)tolower((unsigned char)base[i]);
	n = strlen(base);
	if (starts_with(base, ".env") && ends_with(base, ".txt"))
		base[n - 4] = '\0';
	if (strcmp(base, ".env") == 0) {
		pub = strdup(PUBLIC_PREFIX);
		priv = strdup(PRIVATE_PREFIX);
		if (pub == NULL || priv == NULL)
			goto out;
		goto done;
	}
	/* the environment: parts 3 and 4 of the dotted name joined by _, or
	 * ".env1" -> "development1" */
	{
		const char *p = base, *start = NULL;
		size_t k = 0;

		for (; *p; p++) {
			if (*p == '.' && ++dots == 2)
				start = p + 1;
		}
		if (start == NULL) {
			const char *hit = strstr(base, ".env");

			if (hit == NULL)
				snprintf(env, sizeof(env), "%s", base);
			else
				snprintf(env, sizeof(env), "%.*sdevelopment%s", (int)(hit - base),
				         base, hit + 4);
		} else {
			size_t parts = 0;

			for (p = start; *p && k + 1 < sizeof(env); p++) {
				if (*p == '.') {
					if (++parts == 2)
						break;
					env[k++] = '_';
				} else {
					env[k++] = *p;
				}
			}
			env[k] = '\0';
		}
	}
	for (i = 0; env[i]; i++)
		env[i] = (char)toupper((unsigned char)env[i]);
	if (asprintf(&pub, "%s_%s", PUBLIC_PREFIX, env) < 0) {
		pub = NULL;
		goto out;
	}
	if (asprintf(&priv, "%s_%s", PRIVATE_PREFIX, env) < 0) {
		priv = NULL;
		goto out;
	}
done:
	*ret_public = pub;
	*ret_private = priv;
	pub = priv = NULL;
	r = 0;
out:
	free(pub);
	free(priv);
	free(copy);
	return r;
}

int
dotenvx_key_names(const char *path, const char *text, size_t len, char **ret_public,
                  char **ret_private, char *err, size_t errlen)
{
	struct items it = {0};
	int r;

	if (text != NULL) {
		r = items_scan(text, len, &it, err, errlen);
		if (r < 0)
			return r;
	}
	r = names_from_items(path, &it, ret_public, ret_private);
	if (r < 0 && errlen > 0)
		snprintf(err, errlen, "out of memory");
	items_free(&it);
	return r;
}

/* ---- a file of a job ---- */

/* A .env file as a job reads it: its text, its entries, and the key names
 * they (or its path) give. */
struct doc {
	char *text; /* secret; size bytes + NUL */
	size_t size;
	size_t len; /* the bytes that count: 0 for a blank file with DOC_NEW */
	struct items it;
	char *pubname, *privname;
};

/* Flags for doc_load. */
#define DOC_NEW 0x1u /* a missing or blank file is an empty one, started afresh as dotenvx does */

static void
doc_free(struct doc *d)
{
	items_free(&d->it);
	if (d->text != NULL)
		secmem_free(d->text, d->size + 1);
	free(d->pubname);
	free(d->privname);
	memset(d, 0, sizeof(*d));
}

/* Reads and scans path and names its keys; the error is in j. On failure d
 * is left empty. */
static int
doc_load(struct job *j, const char *path, unsigned flags, struct doc *d)
{
	size_t i;
	int r;

	memset(d, 0, sizeof(*d));
	r = file_read(j, path, &d->text, &d->size);
	if (r == CF_ENOTFOUND && (flags & DOC_NEW)) {
		d->text = strdup("");
		d->size = 0;
		r = d->text == NULL ? fail(j, CF_ENOMEM, "out of memory") : 0;
	}
	if (r < 0)
		goto out;
	d->len = d->size;
	for (i = 0; (flags & DOC_NEW) && i < d->size && is_space(d->text[i]); i++)
		;
	if ((flags & DOC_NEW) && i == d->size)
		d->len = 0;
	r = scan_file(j, path, d->text, d->len, &d->it);
	if (r < 0)
		goto out;
	r = names_from_items(path, &d->it, &d->pubname, &d->privname);
	if (r < 0)
		r = fail(j, r, "out of memory");
out:
	if (r < 0)
		doc_free(d);
	return r;
}

/* The public key of a scanned file: the last value of its first
 * DOTENV_PUBLIC_KEY* name, or NULL. */
static const struct item *
public_item(const struct items *it)
{
	const struct item *found = NULL;
	const char *name = NULL;

	for (size_t i = 0; i < it->n; i++) {
		if (name == NULL && starts_with(it->v[i].key, PUBLIC_PREFIX))
			name = it->v[i].key;
		if (name != NULL && strcmp(it->v[i].key, name) == 0)
			found = &it->v[i];
	}
	return found;
}

/* ---- keys files and private keys ---- */

static int
keys_path(const char *env_path, const struct dotenvx_opts *o, char **ret)
{
	struct stat st;
	char *copy, *p;

	if (o->keys_file != NULL && stat(o->keys_file, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* a directory: its .env.keys, as dotenvx takes it */
		if (asprintf(&p, "%s/.env.keys", o->keys_file) < 0)
			p = NULL;
	} else if (o->keys_file != NULL) {
		p = strdup(o->keys_file);
	} else {
		copy = strdup(env_path);
		if (copy == NULL)
			return CF_ENOMEM;
		if (asprintf(&p, "%s/.env.keys", dirname(copy)) < 0)
			p = NULL;
		free(copy);
	}
	if (p == NULL)
		return CF_ENOMEM;
	*ret = p;
	return 0;
}

/* The keys file at path, read once per job (a missing one is empty). */
static int
keyfile_get(struct job *j, const char *path, struct keyfile **ret)
{
	struct keyfile *k;
	int r;

	for (size_t i = 0; i < j->nkf; i++) {
		if (strcmp(j->kf[i].path, path) == 0) {
			*ret = &j->kf[i];
			return 0;
		}
	}
	if (j->nkf == MAX_KEYFILES)
		return fail(j, CF_EINVAL, "too many keys files");
	k = &j->kf[j->nkf];
	memset(k, 0, sizeof(*k));
	k->path = strdup(path);
	if (k->path == NULL)
		return fail(j, CF_ENOMEM, "out of memory");
	r = file_read(j, path, &k->text, &k->len);
	if (r == CF_ENOTFOUND) {
		k->text = strdup("");
		k->len = 0;
		r = k->text == NULL ? fail(j, CF_ENOMEM, "out of memory") : 0;
	}
	if (r < 0) {
		free(k->path);
		return r;
	}
	j->nkf++;
	*ret = k;
	return 0;
}

static const char *
env_get(char *const *environ, const char *name)
{
	size_t n = strlen(name);

	for (; environ != NULL && *environ != NULL; environ++) {
		if (strncmp(*environ, name, n) == 0 && (*environ)[n] == '=')
			return *environ + n + 1;
	}
	return NULL;
}

/* Adds each comma-separated 64-hex key of list to the ring (others skipped). */
static void
ring_add_list(struct ring *ring, const char *list, size_t len)
{
	size_t i = 0;

	while (i <= len) {
		size_t s = i, e, got;
		char hex[65];

		while (i < len && list[i] != ',')
			i++;
		e = i++;
		while (s < e && is_space(list[s]))
			s++;
		while (e > s && is_space(list[e - 1]))
			e--;
		if (e - s != 64 || ring->n == RING_MAX)
			continue;
		memcpy(hex, list + s, 64);
		hex[64] = '\0';
		if (util_unhex(hex, ring->key[ring->n], ECIES_PRIVATE_BYTES, &got) == 0 &&
		    got == ECIES_PRIVATE_BYTES)
			ring->n++;
		secmem_wipe(hex, sizeof(hex));
	}
}

/* The keys file of the env file at env_path, read once per job, and its
 * entries: *ret_kp gets its path (the caller frees it and items_frees it).
 * The error is in j; on failure *ret_kp is NULL and it empty. */
static int
keys_load(struct job *j, const char *env_path, char **ret_kp, struct keyfile **ret_kf,
          struct items *it)
{
	char why[128];
	int r;

	memset(it, 0, sizeof(*it));
	*ret_kp = NULL;
	r = keys_path(env_path, j->o, ret_kp);
	if (r < 0)
		return fail(j, r, "out of memory");
	r = keyfile_get(j, *ret_kp, ret_kf);
	if (r == 0) {
		r = items_scan((*ret_kf)->text, (*ret_kf)->len, it, why, sizeof(why));
		if (r < 0)
			r = fail(j, r, "%s: %s", *ret_kp, why);
	}
	if (r < 0) {
		free(*ret_kp);
		*ret_kp = NULL;
	}
	return r;
}

/* The last entry named key (the definition that wins), or NULL. */
static const struct item *
last_item(const struct items *it, const char *key)
{
	for (size_t i = it->n; i > 0; i--) {
		if (strcmp(it->v[i - 1].key, key) == 0)
			return &it->v[i - 1];
	}
	return NULL;
}

/* The private keys for the env file at env_path named privname: the
 * environment variable first, then the keys file. */
static int
ring_load(struct job *j, const char *env_path, const char *privname, struct ring *ring)
{
	struct keyfile *kf;
	struct items it;
	const struct item *x;
	const char *v;
	char *kp;
	int r;

	ring->n = 0;
	ring->name = privname;
	v = env_get(j->o->environ, privname);
	if (v != NULL)
		ring_add_list(ring, v, strlen(v));
	r = keys_load(j, env_path, &kp, &kf, &it);
	if (r < 0)
		return r;
	x = last_item(&it, privname);
	if (x != NULL)
		ring_add_list(ring, x->val, x->vlen);
	items_free(&it);
	free(kp);
	return 0;
}

static void
ring_wipe(struct ring *ring)
{
	secmem_wipe(ring->key, sizeof(ring->key));
	ring->n = 0;
}

int
dotenvx_decrypt_value(const uint8_t priv[ECIES_PRIVATE_BYTES], const char *value, size_t len,
                      char **ret, size_t *ret_len)
{
	size_t plen = strlen(DOTENVX_PREFIX), n = 0, got = 0;
	uint8_t *payload = NULL;
	char *b64 = NULL, *out = NULL;
	int r = CF_EINVAL;

	if (len < plen || memcmp(value, DOTENVX_PREFIX, plen) != 0 || len - plen > TEXT_MAX)
		goto out;
	b64 = strndup(value + plen, len - plen);
	if (b64 == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = util_b64_decode(b64, &payload, &n);
	if (r < 0)
		goto out;
	r = CF_EINVAL;
	if (n < ECIES_OVERHEAD)
		goto out;
	out = malloc(n - ECIES_OVERHEAD + 1);
	if (out == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = ecies_decrypt(priv, payload, n, (uint8_t *)out, &got);
	if (r < 0)
		goto out;
	out[got] = '\0';
	if (memchr(out, '\0', got) != NULL) { /* not text: refused, never written */
		r = CF_EINVAL;
		goto out;
	}
	*ret = out;
	*ret_len = got;
	out = NULL;
out:
	if (out != NULL)
		secmem_free(out, n - ECIES_OVERHEAD + 1);
	secmem_free(payload, n);
	free(b64);
	return r;
}

/* Decrypts value with the first ring key that works: CF_EDENIED with no key,
 * CF_ECRYPTO when none verifies, CF_EINVAL for a malformed value. */
static int
ring_decrypt(struct ring *ring, const char *value, size_t len, char **ret, size_t *ret_len)
{
	int r = CF_EDENIED, worst = CF_EDENIED;

	for (size_t i = 0; i < ring->n; i++) {
		r = dotenvx_decrypt_value(ring->key[i], value, len, ret, ret_len);
		if (r == 0 || r == CF_ENOMEM)
			return r;
		if (r == CF_ECRYPTO || worst == CF_EDENIED)
			worst = r;
	}
	return worst;
}

/* The error of a value that could not be decrypted. */
static int
decrypt_fail(struct job *j, int r, const char *path, const char *key, const struct ring *ring)
{
	if (r == CF_EDENIED)
		return fail(j, r,
		            "%s: no private key: set %s in the environment or in the keys file",
		            path, ring->name);
	if (r == CF_ECRYPTO)
		return fail(j, r, "%s: cannot decrypt %s with %s (wrong private key)", path, key,
		            ring->name);
	if (r == CF_ENOMEM)
		return fail(j, r, "out of memory");
	return fail(j, CF_EINVAL, "%s: %s is not a valid encrypted value", path, key);
}

static int
encrypt_value(const uint8_t *pub, size_t publen, const char *plain, size_t len, char **ret)
{
	uint8_t *payload;
	char *b64 = NULL;
	int r;

	if (len > ECIES_MAX_PLAINTEXT)
		return CF_ETOOBIG;
	payload = malloc(len + ECIES_OVERHEAD);
	if (payload == NULL)
		return CF_ENOMEM;
	r = ecies_encrypt(pub, publen, (const uint8_t *)plain, len, payload);
	if (r < 0)
		goto out;
	b64 = util_b64_encode(payload, len + ECIES_OVERHEAD);
	if (b64 == NULL || asprintf(ret, "%s%s", DOTENVX_PREFIX, b64) < 0) {
		r = CF_ENOMEM;
		goto out;
	}
	r = 0;
out:
	free(b64);
	free(payload);
	return r;
}

/* ---- public key, header, new key pairs ---- */

/* Relative path from the directory of env_path to kp, for the `-fk` note
 * (dotenvx writes path.relative(dirname(env file), keys file)). */
static int
relative_keys_path(const char *env_path, const char *kp, char **ret)
{
	char *ec = strdup(env_path), *kc = strdup(kp), *kc2 = strdup(kp);
	char from[PATH_MAX], to[PATH_MAX];
	struct buf b = BUF_INIT(PATH_MAX * 2, 0);
	size_t i, common = 0;
	int r = CF_ENOMEM;

	if (ec == NULL || kc == NULL || kc2 == NULL)
		goto out;
	r = CF_EIO;
	if (realpath(dirname(ec), from) == NULL || realpath(dirname(kc), to) == NULL)
		goto out;
	r = CF_ENOMEM;
	/* from and to are absolute and clean: the common prefix ends at a '/' or
	 * at the end of one of them */
	for (i = 0; from[i] && from[i] == to[i]; i++) {
		if (from[i] == '/')
			common = i + 1;
	}
	if ((from[i] == '\0' || from[i] == '/') && (to[i] == '\0' || to[i] == '/'))
		common = i + (from[i] == '/' || to[i] == '/' ? 1 : 0);
	for (i = common; i < strlen(from); i++) {
		if ((i == common || from[i - 1] == '/') && from[i] != '/' &&
		    buf_append_str(&b, "../") < 0)
			goto out;
	}
	if (common < strlen(to) &&
	    (buf_append_str(&b, to + common) < 0 || buf_append_char(&b, '/') < 0))
		goto out;
	if (buf_append_str(&b, basename(kc2)) < 0)
		goto out;
	r = buf_detach(&b, ret, NULL);
out:
	buf_free(&b);
	free(ec);
	free(kc);
	free(kc2);
	return r;
}

/* The public key (bytes) of a scanned file; when it has none, a key pair: the
 * private key stored under privname in the keys file is reused, else a new one
 * is appended there, and *ret_header gets the text to put at the top. */
static int
public_key(struct job *j, const char *path, const struct items *it, const char *pubname,
           const char *privname, uint8_t pub[ECIES_PUBLIC_BYTES], char **ret_header)
{
	const struct item *pi = public_item(it);
	uint8_t priv[ECIES_PRIVATE_BYTES];
	char hex[2 * ECIES_PUBLIC_BYTES + 1], privhex[2 * ECIES_PRIVATE_BYTES + 1];
	struct buf h = BUF_INIT(64 * 1024, 0), kb = BUF_INIT(TEXT_MAX, BUF_SECRET);
	struct keyfile *kf;
	struct items kit = {0};
	const struct item *x;
	char *kp = NULL, *rel = NULL, *copy = NULL;
	size_t got;
	int r;

	*ret_header = NULL;
	if (pi != NULL) {
		if (pi->vlen != 66 || util_unhex(pi->val, pub, ECIES_PUBLIC_BYTES, &got) < 0 ||
		    got != ECIES_PUBLIC_BYTES || ecies_public_check(pub, ECIES_PUBLIC_BYTES) < 0)
			return fail(j, CF_EINVAL, "%s: %s is not a valid public key", path,
			            pi->key);
		return 0;
	}
	r = keys_load(j, path, &kp, &kf, &kit);
	if (r < 0)
		goto out;
	r = CF_ENOTFOUND;
	x = last_item(&kit, privname);
	if (x != NULL && x->vlen == 64 && util_unhex(x->val, priv, sizeof(priv), &got) == 0 &&
	    got == sizeof(priv))
		r = ecies_public_from_private(priv, pub);
	if (r < 0) {
		r = ecies_keypair(priv, pub);
		if (r < 0) {
			r = fail(j, r, "cannot make a key pair");
			goto out;
		}
		util_hex(priv, sizeof(priv), privhex);
		copy = strdup(path);
		if (copy == NULL || buf_append(&kb, kf->text, kf->len) < 0 ||
		    (kf->len == 0 && buf_append_str(&kb, keys_header) < 0) ||
		    buf_printf(&kb, "\n# %s\n%s=%s\n", basename(copy), privname, privhex) < 0) {
			r = fail(j, CF_ENOMEM, "out of memory");
			goto out;
		}
		secmem_free(kf->text, kf->len + 1);
		kf->text = NULL;
		r = buf_detach(&kb, &kf->text, &kf->len);
		if (r < 0) {
			kf->text = strdup("");
			kf->len = 0;
			r = fail(j, r, "out of memory");
			goto out;
		}
		kf->dirty = true;
	}
	util_hex(pub, ECIES_PUBLIC_BYTES, hex);
	r = relative_keys_path(path, kp, &rel);
	if (r < 0) {
		r = fail(j, r, "%s: cannot resolve the keys file %s", path, kp);
		goto out;
	}
	free(copy);
	copy = strdup(path);
	if (copy == NULL || buf_append_str(&h, header_text) < 0 ||
	    buf_printf(&h, "%s=\"%s\"", pubname, hex) < 0 ||
	    (strcmp(rel, ".env.keys") != 0 && buf_printf(&h, " # -fk %s", rel) < 0) ||
	    buf_printf(&h, "\n\n# %s\n", basename(copy)) < 0 ||
	    buf_detach(&h, ret_header, NULL) < 0) {
		r = fail(j, CF_ENOMEM, "out of memory");
		goto out;
	}
	r = 0;
out:
	secmem_wipe(priv, sizeof(priv));
	secmem_wipe(privhex, sizeof(privhex));
	items_free(&kit);
	buf_free(&h);
	buf_free(&kb);
	free(copy);
	free(rel);
	free(kp);
	return r;
}

/* ---- rewriting ---- */

struct edit {
	size_t start, end; /* bytes of the old text replaced */
	char *text;        /* secret */
	size_t len;
};

struct edits {
	struct edit *v;
	size_t n, cap;
};

static void
edits_free(struct edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		secmem_free(e->v[i].text, e->v[i].len + 1);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* Replaces the separator and value of x (an entry of text, tlen bytes) with
 * `=` q value q. An empty unquoted value also takes the blanks after it up to
 * the end of the line, as dotenvx's replacement pattern does. */
static int
edits_add(struct edits *e, const char *text, size_t tlen, const struct item *x, char q,
          const char *value, size_t len)
{
	struct buf b = BUF_INIT(TEXT_MAX, BUF_SECRET);
	struct edit *d;
	int r;

	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		struct edit *v = realloc(e->v, cap * sizeof(*v));

		if (v == NULL)
			return CF_ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	if (buf_append_char(&b, '=') < 0 || (q && buf_append_char(&b, q) < 0) ||
	    buf_append(&b, value, len) < 0 || (q && buf_append_char(&b, q) < 0)) {
		buf_free(&b);
		return CF_ENOMEM;
	}
	d = &e->v[e->n];
	d->start = x->sp.key_start + x->sp.key_len;
	d->end = x->sp.value_end;
	if (x->quote == 0 && x->vlen == 0) {
		size_t end = d->end;

		while (end < tlen && (text[end] == ' ' || text[end] == '\t'))
			end++;
		if (end == tlen || text[end] == '\n' || text[end] == '\r')
			d->end = end;
	}
	r = buf_detach(&b, &d->text, &d->len);
	buf_free(&b);
	if (r < 0)
		return r;
	e->n++;
	return 0;
}

/* The new text: edits applied (in file order), header after a #! line. */
static int
apply(const char *text, size_t len, const struct edits *e, const char *header, char **ret,
      size_t *ret_len)
{
	struct buf b = BUF_INIT(TEXT_MAX, BUF_SECRET);
	size_t pos = 0, shebang = 0;
	int r = CF_ENOMEM;

	if (header != NULL && len >= 2 && text[0] == '#' && text[1] == '!') {
		const char *nl = memchr(text, '\n', len);

		shebang = nl ? (size_t)(nl - text) + 1 : len;
		if (buf_append(&b, text, shebang) < 0 ||
		    (nl == NULL && buf_append_char(&b, '\n') < 0))
			goto out;
		pos = shebang;
	}
	if (header != NULL && buf_append_str(&b, header) < 0)
		goto out;
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].start < pos)
			continue; /* XXX overlapping entries: cannot happen with dotenv_scan */
		if (buf_append(&b, text + pos, e->v[i].start - pos) < 0 ||
		    buf_append(&b, e->v[i].text, e->v[i].len) < 0)
			goto out;
		pos = e->v[i].end;
	}
	if (buf_append(&b, text + pos, len - pos) < 0)
		goto out;
	r = buf_detach(&b, ret, ret_len);
out:
	buf_free(&b);
	return r;
}

static bool
selected(const struct dotenvx_opts *o, const char *key)
{
	if (o->n_only == 0)
		return true;
	for (size_t i = 0; i < o->n_only; i++) {
		if (fnmatch(o->only[i], key, 0) == 0)
			return true;
	}
	return false;
}

static int
add_output(struct job *j, const char *path, char *text, size_t len)
{
	if (j->nout == MAX_FILES) {
		secmem_free(text, len + 1);
		return fail(j, CF_EINVAL, "too many files (at most %d)", MAX_FILES);
	}
	j->out[j->nout].path = path;
	j->out[j->nout].text = text;
	j->out[j->nout].len = len;
	j->nout++;
	return 0;
}

/* Chooses the quote for writing plain: q if it reads back the same, else the
 * first of " ' ` that does. CF_EINVAL when none does. */
static int
choose_quote(char q, const char *plain, size_t len, char *ret)
{
	static const char order[] = {'"', '\'', '`'};

	if (round_trips(q, plain, len)) {
		*ret = q;
		return 0;
	}
	for (size_t i = 0; i < sizeof(order); i++) {
		if (order[i] != q && round_trips(order[i], plain, len)) {
			*ret = order[i];
			return 0;
		}
	}
	return CF_EINVAL;
}

/* Queues the rewritten file: d's text with the edits e and header (or NULL)
 * on top. Nothing when neither changes it: the file stays as it is. */
static int
doc_output(struct job *j, const char *path, const struct doc *d, const struct edits *e,
           const char *header)
{
	char *out;
	size_t olen;
	int r;

	if (e->n == 0 && header == NULL)
		return 0;
	r = apply(d->text, d->len, e, header, &out, &olen);
	if (r < 0)
		return fail(j, r, "out of memory");
	return add_output(j, path, out, olen);
}

static int
encrypt_one(struct job *j, const char *path)
{
	struct doc d;
	struct edits e = {0};
	uint8_t pub[ECIES_PUBLIC_BYTES];
	char *header = NULL, *enc = NULL;
	int r;

	r = doc_load(j, path, 0, &d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < d.it.n; i++) {
		const struct item *x = &d.it.v[i];
		char q;

		if (starts_with(x->key, PUBLIC_PREFIX) || ends_with(x->key, "_PLAIN") ||
		    !selected(j->o, x->key) || starts_with(x->val, DOTENVX_PREFIX))
			continue;
		/* the key pair only when something is encrypted: dotenvx leaves a
		 * file with nothing to encrypt as it is */
		if (header == NULL && e.n == 0) {
			r = public_key(j, path, &d.it, d.pubname, d.privname, pub, &header);
			if (r < 0)
				goto out;
		}
		/* no quote holds it (a newline and all three quote chars): keep the
		 * value's own, as dotenvx does; get and run still read it right */
		if (choose_quote(x->quote, x->val, x->vlen, &q) < 0)
			q = x->quote;
		r = encrypt_value(pub, sizeof(pub), x->val, x->vlen, &enc);
		if (r < 0) {
			r = fail(j, r, "%s: cannot encrypt %s: %s", path, x->key, cf_strerror(r));
			goto out;
		}
		r = edits_add(&e, d.text, d.len, x, q, enc, strlen(enc));
		free(enc);
		enc = NULL;
		if (r < 0) {
			r = fail(j, r, "out of memory");
			goto out;
		}
	}
	r = doc_output(j, path, &d, &e, header);
out:
	doc_free(&d);
	edits_free(&e);
	free(header);
	return r;
}

static int
decrypt_one(struct job *j, const char *path)
{
	struct doc d;
	struct edits e = {0};
	struct ring ring = {0};
	bool loaded = false;
	char *plain = NULL;
	size_t plen = 0;
	int r;

	r = doc_load(j, path, 0, &d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < d.it.n; i++) {
		const struct item *x = &d.it.v[i];

		if (!selected(j->o, x->key) || !starts_with(x->val, DOTENVX_PREFIX))
			continue;
		if (!loaded) {
			r = ring_load(j, path, d.privname, &ring);
			if (r < 0)
				goto out;
			loaded = true;
		}
		r = ring_decrypt(&ring, x->val, x->vlen, &plain, &plen);
		if (r < 0) {
			r = decrypt_fail(j, r, path, x->key, &ring);
			goto out;
		}
		r = edits_add(&e, d.text, d.len, x, x->quote, plain, plen);
		secmem_free(plain, plen + 1);
		plain = NULL;
		if (r < 0) {
			r = fail(j, r, "out of memory");
			goto out;
		}
	}
	r = doc_output(j, path, &d, &e, NULL);
out:
	ring_wipe(&ring);
	doc_free(&d);
	edits_free(&e);
	return r;
}

/* Writes (or prints) everything the job computed. */
static int
commit(struct job *j)
{
	int r;

	for (size_t i = 0; i < j->nkf; i++) {
		if (!j->kf[i].dirty)
			continue;
		r = file_write(j, j->kf[i].path, j->kf[i].text, j->kf[i].len);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < j->nout; i++) {
		if (j->o->to_stdout) {
			FILE *f = j->o->out ? j->o->out : stdout;

			if (fwrite(j->out[i].text, 1, j->out[i].len, f) != j->out[i].len)
				return fail(j, CF_EIO, "cannot write to standard output");
			continue;
		}
		r = file_write(j, j->out[i].path, j->out[i].text, j->out[i].len);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
job_free(struct job *j)
{
	for (size_t i = 0; i < j->nkf; i++) {
		free(j->kf[i].path);
		if (j->kf[i].text != NULL)
			secmem_free(j->kf[i].text, j->kf[i].len + 1);
	}
	for (size_t i = 0; i < j->nout; i++)
		secmem_free(j->out[i].text, j->out[i].len + 1);
	memset(j, 0, sizeof(*j));
}

static int
run_files(char *const *paths, size_t n, const struct dotenvx_opts *o, char *err, size_t errlen,
          int (*one)(struct job *, const char *))
{
	struct job j = {.o = o, .err = err, .errlen = errlen};
	int r = 0;

	if (n > MAX_FILES)
		return fail(&j, CF_EINVAL, "too many files (at most %d)", MAX_FILES);
	for (size_t i = 0; i < n && r == 0; i++)
		r = one(&j, paths[i]);
	if (r == 0)
		r = commit(&j);
	job_free(&j);
	return r;
}

int
dotenvx_encrypt_files(char *const *paths, size_t n, const struct dotenvx_opts *o, char *err,
                      size_t errlen)
{
	return run_files(paths, n, o, err, errlen, encrypt_one);
}

int
dotenvx_decrypt_files(char *const *paths, size_t n, const struct dotenvx_opts *o, char *err,
                      size_t errlen)
{
	return run_files(paths, n, o, err, errlen, decrypt_one);
}

/* The quote for a value set: one that holds the plaintext (so a decrypt gives
 * it back), preferring pref. Encrypted, pref is kept when none does (only a
 * later decrypt would lose it, as with dotenvx); plain, that is an error. */
static int
set_quote(struct job *j, char pref, const char *key, const char *value, size_t len, bool plain,
          char *ret)
{
	if (choose_quote(pref, value, len, ret) == 0)
		return 0;
	if (plain)
		return fail(j, CF_EINVAL, "the value of %s cannot be written in a .env file", key);
	*ret = pref;
	return 0;
}

static bool
valid_key_name(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k; k++) {
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' && *k != '-')
			return false;
	}
	return true;
}

/* Whether every definition of key in the file is already `encrypted:` value
 * (decrypted with the keys found; none found: not the same). set then leaves
 * the file alone instead of writing a new ciphertext, as dotenvx does. */
static bool
set_unchanged(struct job *j, const char *path, const struct items *it, const char *privname,
              const char *key, const char *value, size_t value_len)
{
	struct ring ring = {0};
	char *plain = NULL, saved = j->errlen ? j->err[0] : 0;
	size_t plen = 0;
	bool any = false, same = true;

	if (ring_load(j, path, privname, &ring) < 0) {
		if (j->errlen)
			j->err[0] = saved; /* not an error here: it only means "changed" */
		return false;
	}
	for (size_t i = 0; i < it->n && same; i++) {
		const struct item *x = &it->v[i];

		if (strcmp(x->key, key) != 0)
			continue;
		any = true;
		if (!starts_with(x->val, DOTENVX_PREFIX) ||
		    ring_decrypt(&ring, x->val, x->vlen, &plain, &plen) < 0) {
			same = false;
			continue;
		}
		same = plen == value_len && memcmp(plain, value, plen) == 0;
		secmem_free(plain, plen + 1);
		plain = NULL;
	}
	ring_wipe(&ring);
	return any && same;
}

int
dotenvx_set(const char *path, const char *key, const char *value, size_t value_len, bool plain,
            const struct dotenvx_opts *o, char *err, size_t errlen)
{
	struct job j = {.o = o, .err = err, .errlen = errlen};
	struct doc d = {0};
	struct edits e = {0};
	struct buf b = BUF_INIT(TEXT_MAX, BUF_SECRET);
	uint8_t pub[ECIES_PUBLIC_BYTES];
	char *header = NULL, *enc = NULL, *out = NULL, q;
	const char *nv;
	size_t olen, nvlen, i;
	bool found = false;
	int r;

	if (!valid_key_name(key))
		return fail(&j, CF_EINVAL, "invalid key name (letters, digits, _ . - only)");
	if (memchr(value, '\0', value_len) != NULL)
		return fail(&j, CF_EINVAL, "the value of %s contains a NUL byte", key);
	r = doc_load(&j, path, DOC_NEW, &d);
	if (r < 0)
		goto out;
	plain = plain || ends_with(key, "_PLAIN");
	nv = value;
	nvlen = value_len;
	if (!plain && set_unchanged(&j, path, &d.it, d.privname, key, value, value_len))
		goto out; /* r == 0: already that value */
	if (!plain) {
		r = public_key(&j, path, &d.it, d.pubname, d.privname, pub, &header);
		if (r < 0)
			goto out;
		r = encrypt_value(pub, sizeof(pub), value, value_len, &enc);
		if (r < 0) {
			r = fail(&j, r, "%s: cannot encrypt %s: %s", path, key, cf_strerror(r));
			goto out;
		}
		nv = enc;
		nvlen = strlen(enc);
	}
	for (i = 0; i < d.it.n; i++) {
		const struct item *x = &d.it.v[i];

		if (strcmp(x->key, key) != 0)
			continue;
		found = true;
		r = set_quote(&j, x->quote, key, value, value_len, plain, &q);
		if (r < 0)
			goto out;
		r = edits_add(&e, d.text, d.len, x, q, nv, nvlen);
		if (r < 0) {
			r = fail(&j, r, "out of memory");
			goto out;
		}
	}
	r = apply(d.text, d.len, &e, header, &out, &olen);
	if (r < 0) {
		r = fail(&j, r, "out of memory");
		goto out;
	}
	if (!found) {
		r = set_quote(&j, '"', key, value, value_len, plain, &q);
		if (r < 0)
			goto out;
		if (buf_append(&b, out, olen) < 0 ||
		    (olen > 0 && out[olen - 1] != '\n' && buf_append_char(&b, '\n') < 0) ||
		    buf_printf(&b, "%s=", key) < 0 || (q && buf_append_char(&b, q) < 0) ||
		    buf_append(&b, nv, nvlen) < 0 || (q && buf_append_char(&b, q) < 0) ||
		    ((olen == 0 || out[olen - 1] == '\n') && buf_append_char(&b, '\n') < 0)) {
			r = fail(&j, CF_ENOMEM, "out of memory");
			goto out;
		}
		secmem_free(out, olen + 1);
		out = NULL;
		r = buf_detach(&b, &out, &olen);
		if (r < 0) {
			r = fail(&j, r, "out of memory");
			goto out;
		}
	}
	r = add_output(&j, path, out, olen);
	out = NULL;
	if (r == 0)
		r = commit(&j);
out:
	if (out != NULL)
		secmem_free(out, olen + 1);
	buf_free(&b);
	doc_free(&d);
	edits_free(&e);
	free(enc);
	free(header);
	job_free(&j);
	return r;
}

int
dotenvx_get(char *const *paths, size_t n, const struct dotenvx_opts *o, struct dotenv *ret,
            char *err, size_t errlen)
{
	struct job j = {.o = o, .err = err, .errlen = errlen};
	struct dotenv file = {0};
	struct doc d = {0};
	struct ring ring = {0};
	char *plain = NULL;
	size_t plen = 0;
	int r = 0;

	for (size_t f = 0; f < n && r == 0; f++) {
		bool loaded = false;

		r = doc_load(&j, paths[f], 0, &d);
		if (r < 0)
			break;
		for (size_t i = 0; i < d.it.n && r == 0; i++) {
			const struct item *x = &d.it.v[i];

			if (!starts_with(x->val, DOTENVX_PREFIX)) {
				r = dotenv_set(&file, x->key, x->val, x->vlen);
				continue;
			}
			if (!loaded) {
				r = ring_load(&j, paths[f], d.privname, &ring);
				if (r < 0)
					break;
				loaded = true;
			}
			r = ring_decrypt(&ring, x->val, x->vlen, &plain, &plen);
			if (r < 0) {
				r = decrypt_fail(&j, r, paths[f], x->key, &ring);
				break;
			}
			r = dotenv_set(&file, x->key, plain, plen);
			secmem_free(plain, plen + 1);
			plain = NULL;
		}
		for (size_t i = 0; i < file.n && r == 0; i++) {
			if (dotenv_find(ret, file.v[i].key) == NULL)
				r = dotenv_set(ret, file.v[i].key, file.v[i].value,
				               file.v[i].value_len);
		}
		if (r == CF_ENOMEM)
			r = fail(&j, r, "out of memory");
		dotenv_free(&file);
		ring_wipe(&ring);
		doc_free(&d);
	}
	doc_free(&d);
	ring_wipe(&ring);
	dotenv_free(&file);
	if (r < 0)
		dotenv_free(ret);
	job_free(&j);
	return r;
}

int
dotenvx_keypair(const char *path, const struct dotenvx_opts *o, char **ret_pubname,
                char **ret_privname, char ret_pub[67], char ret_priv[65], char *err, size_t errlen)
{
	struct job j = {.o = o, .err = err, .errlen = errlen};
	struct doc d = {0};
	struct ring ring = {0};
	uint8_t pub[ECIES_PUBLIC_BYTES], derived[ECIES_PUBLIC_BYTES], priv[ECIES_PRIVATE_BYTES];
	const struct item *pi;
	size_t got;
	bool have_pub = false;
	int r;

	ret_priv[0] = '\0';
	r = doc_load(&j, path, DOC_NEW, &d);
	if (r < 0)
		goto out;
	pi = public_item(&d.it);
	if (pi != NULL && pi->vlen == 66 && util_unhex(pi->val, pub, sizeof(pub), &got) == 0 &&
	    got == sizeof(pub))
		have_pub = true;
	r = ring_load(&j, path, d.privname, &ring);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ring.n; i++) {
		if (ecies_public_from_private(ring.key[i], derived) < 0)
			continue;
		if (!have_pub || memcmp(derived, pub, sizeof(pub)) == 0) {
			memcpy(pub, derived, sizeof(pub));
			util_hex(ring.key[i], ECIES_PRIVATE_BYTES, ret_priv);
			have_pub = true;
			break;
		}
	}
	if (!have_pub) {
		r = ecies_keypair(priv, pub);
		if (r < 0) {
			r = fail(&j, r, "cannot make a key pair");
			goto out;
		}
		util_hex(priv, sizeof(priv), ret_priv);
	}
	util_hex(pub, sizeof(pub), ret_pub);
	*ret_pubname = d.pubname;
	*ret_privname = d.privname;
	d.pubname = d.privname = NULL;
out:
	secmem_wipe(priv, sizeof(priv));
	ring_wipe(&ring);
	doc_free(&d);
	job_free(&j);
	return r;
}

int
dotenvx_decrypt_values(struct dotenv *env, const char *env_path, char *const *environ, char *err,
                       size_t errlen)
{
	struct dotenvx_opts o = {.environ = environ};
	struct job j = {.o = &o, .err = err, .errlen = errlen};
	struct items none = {0};
	struct ring ring = {0};
	char *pubname = NULL, *privname = NULL, *plain = NULL;
	size_t plen = 0;
	bool loaded = false;
	int r = 0;

	for (size_t i = 0; i < env->n && r == 0; i++) {
		struct dotenv_entry *x = &env->v[i];

		if (!starts_with(x->value, DOTENVX_PREFIX))
			continue;
		if (!loaded) {
			/* key names: a DOTENV_PUBLIC_KEY* entry of env, else the file name */
			for (size_t k = 0; k < env->n && pubname == NULL; k++) {
				if (starts_with(env->v[k].key, PUBLIC_PREFIX)) {
					pubname = strdup(env->v[k].key);
					if (pubname == NULL ||
					    asprintf(&privname, "%s%s", PRIVATE_PREFIX,
					             pubname + strlen(PUBLIC_PREFIX)) < 0) {
						privname = NULL;
						r = fail(&j, CF_ENOMEM, "out of memory");
						goto out;
					}
				}
			}
			if (pubname == NULL) {
				r = names_from_items(env_path, &none, &pubname, &privname);
				if (r < 0) {
					r = fail(&j, r, "out of memory");
					goto out;
				}
			}
			r = ring_load(&j, env_path, privname, &ring);
			if (r < 0)
				goto out;
			loaded = true;
		}
		r = ring_decrypt(&ring, x->value, x->value_len, &plain, &plen);
		if (r < 0) {
			r = decrypt_fail(&j, r, env_path, x->key, &ring);
			goto out;
		}
		r = dotenv_set_at(env, i, plain, plen);
		secmem_free(plain, plen + 1);
		plain = NULL;
		if (r < 0) {
			r = fail(&j, r, "out of memory");
			goto out;
		}
	}
out:
	ring_wipe(&ring);
	free(pubname);
	free(privname);
	job_free(&j);
	return r;
}
