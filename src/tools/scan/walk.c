/* walk.c - the directory walker and file reader of `coffer scan` (walk.h).
 *
 * Two phases. The calling thread walks the operands depth-first, applying the
 * ignore rules as it enters each directory (a directory's ignore files are
 * read before its entries are judged), and collects the files to scan. Then
 * one thread per online core takes files from that list (an atomic index) and
 * scans each with its own struct scan_ctx. Listing directories costs little
 * beside reading and matching the bytes, so the walk itself stays serial and
 * the ignore rules need no locking. */
#include "tools/scan/walk.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WALK_READ_MAX   (64u * 1024) /* below this, read(); above, mmap() */
#define WALK_SNIFF      (8u * 1024)  /* a NUL in this prefix: binary */
#define WALK_IGNORE_MAX (1u << 20)   /* ignore files larger than this are not read */

/* ---- ignore rules (.gitignore syntax) ---- */

struct ignore_rule {
	char *base; /* directory of the ignore file, relative to the top ("" = top) */
	size_t baselen;
	char *pat;     /* without '!', leading '/' and trailing '/' */
	bool negate;   /* "!pat": re-include */
	bool dir_only; /* "pat/" */
	bool anchored; /* a '/' at the start or in the middle: match the path below base */
};

struct walk_ignore {
	struct ignore_rule *v;
	size_t n, cap;
};

#define WALK_SEGS 128 /* deeper paths or longer patterns never match */

/* Splits s at '/' into seg (pointers into buf, a copy of s). Returns the
 * number of segments, or -1 when there are too many. */
static int
seg_split(const char *s, char *buf, size_t buflen, char **seg)
{
	int n = 0;

	if ((size_t)snprintf(buf, buflen, "%s", s) >= buflen)
		return -1;
	for (char *p = buf;; p++) {
		char *e = strchr(p, '/');

		if (n == WALK_SEGS)
			return -1;
		seg[n++] = p;
		if (!e)
			break;
		*e = '\0';
		p = e;
	}
	return n;
}

/* Matches the '/'-separated segments of pat against those of s; a "**"
 * segment matches any number of segments (none included). Dynamic
 * programming over (pattern segment, path segment): O(segments^2) fnmatch
 * calls at worst, so no pattern can make it backtrack exponentially. */
static bool
seg_match(const char *pat, const char *s)
{
	char pbuf[PATH_MAX], sbuf[PATH_MAX], *ps[WALK_SEGS], *ss[WALK_SEGS];
	bool row[WALK_SEGS + 1], next[WALK_SEGS + 1];
	int np, ns;

	np = seg_split(pat, pbuf, sizeof(pbuf), ps);
	ns = seg_split(s, sbuf, sizeof(sbuf), ss);
	if (np < 0 || ns < 0)
		return false;
	/* row[j]: the pattern segments so far match the first j path segments */
	memset(row, 0, sizeof(row));
	row[0] = true;
	for (int i = 0; i < np; i++) {
		bool any = false;

		if (strcmp(ps[i], "**") == 0) {
			/* a trailing "**" matches what is inside, not the directory */
			bool strict = i == np - 1 && np > 1;

			for (int j = 0; j <= ns; j++) {
				next[j] = strict ? any : any || row[j];
				any = any || row[j];
			}
		} else {
			next[0] = false;
			for (int j = 1; j <= ns; j++)
				next[j] = row[j - 1] && fnmatch(ps[i], ss[j - 1], 0) == 0;
		}
		memcpy(row, next, sizeof(row));
	}
	return row[ns];
}

int
walk_ignore_add(struct walk_ignore **igp, const char *base, const char *text, size_t len)
{
	struct walk_ignore *ig = *igp;
	const char *p = text, *end = text + len;

	if (!ig) {
		ig = calloc(1, sizeof(*ig));
		if (!ig)
			return CF_ENOMEM;
		*igp = ig;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct ignore_rule r = {0};
		char *s;
		size_t n;

		n = (size_t)(le - p);
		s = malloc(n + 1);
		if (!s)
			return CF_ENOMEM;
		memcpy(s, p, n);
		s[n] = '\0';
		p = nl ? nl + 1 : end;
		if (n && s[n - 1] == '\r')
			s[--n] = '\0';
		/* trailing spaces go unless escaped with a backslash */
		while (n && s[n - 1] == ' ' && !(n >= 2 && s[n - 2] == '\\'))
			s[--n] = '\0';
		if (n == 0 || s[0] == '#' || memchr(s, '\0', n)) {
			free(s);
			continue;
		}
		char *q = s;
		if (*q == '!') {
			r.negate = true;
			q++;
		} else if (q[0] == '\\' && (q[1] == '!' || q[1] == '#')) {
			q++;
		}
		n = strlen(q);
		if (n && q[n - 1] == '/') {
			r.dir_only = true;
			q[--n] = '\0';
		}
		if (*q == '/') {
			r.anchored = true;
			q++;
		}
		if (strchr(q, '/'))
			r.anchored = true;
		if (*q == '\0') {
			free(s);
			continue;
		}
		r.pat = strdup(q);
		r.base = strdup(base);
		free(s);
		if (!r.pat || !r.base)
			goto nomem;
		r.baselen = strlen(r.base);
		if (ig->n == ig->cap) {
			size_t cap = ig->cap ? ig->cap * 2 : 16;
			struct ignore_rule *v = realloc(ig->v, cap * sizeof(*v));

			if (!v)
				goto nomem;
			ig->v = v;
			ig->cap = cap;
		}
		ig->v[ig->n++] = r;
		continue;
	nomem:
		free(r.pat);
		free(r.base);
		return CF_ENOMEM;
	}
	return 0;
}

bool
walk_ignore_match(const struct walk_ignore *ig, const char *path, bool is_dir)
{
	const char *name = strrchr(path, '/');

	name = name ? name + 1 : path;
	for (size_t i = ig ? ig->n : 0; i-- > 0;) {
		const struct ignore_rule *r = &ig->v[i];
		const char *sub = path;

		if (r->dir_only && !is_dir)
			continue;
		if (r->baselen) {
			if (strncmp(path, r->base, r->baselen) != 0 || path[r->baselen] != '/')
				continue;
			sub = path + r->baselen + 1;
		}
		if (r->anchored ? seg_match(r->pat, sub) : fnmatch(r->pat, name, 0) == 0)
			return !r->negate;
	}
	return false;
}

void
walk_ignore_free(struct walk_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->v[i].pat);
		free(ig->v[i].base);
	}
	free(ig->v);
	free(ig);
}

/* ---- names ---- */

static bool
utf8_valid(const unsigned char *s)
{
	while (*s) {
		size_t n;
		uint32_t c;

		if (*s < 0x80) {
			s++;
			continue;
		} else if ((*s & 0xe0) == 0xc0) {
			n = 1;
			c = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			c = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			c = *s & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* name with every byte >= 0x80 and every control byte as \xNN (a new string),
 * for names that are not valid UTF-8. */
static char *
name_escape(const char *name)
{
	size_t n = strlen(name);
	char *e = malloc(n * 4 + 1), *p = e;

	if (!e)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s >= 0x80 || *s < 0x20 || *s == 0x7f)
			p += sprintf(p, "\\x%02x", *s);
		else
			*p++ = (char)*s;
	}
	*p = '\0';
	return e;
}

static bool
binary_extension(const char *name)
{
	static const char *const exts[] = {
	        "png", "jpg", "jpeg",   "gif",     "bmp",   "ico",  "webp",    "tif", "tiff", "psd",
	        "pdf", "zip", "gz",     "tgz",     "bz2",   "xz",   "zst",     "7z",  "rar",  "jar",
	        "war", "ear", "class",  "o",       "a",     "so",   "dylib",   "dll", "exe",  "bin",
	        "obj", "pyc", "pyo",    "woff",    "woff2", "ttf",  "otf",     "eot", "mp3",  "mp4",
	        "mov", "avi", "mkv",    "wav",     "flac",  "ogg",  "webm",    "iso", "dmg",  "deb",
	        "rpm", "msi", "sqlite", "sqlite3", "db",    "wasm", "parquet", "npy", "pt",   NULL,
	};
	const char *dot = strrchr(name, '.');

	if (!dot || strchr(dot, '/'))
		return false;
	for (size_t i = 0; exts[i]; i++)
		if (strcasecmp(dot + 1, exts[i]) == 0)
			return true;
	return false;
}

/* ---- the walk ---- */

struct job {
	char *path; /* to open */
	char *name; /* to report */
};

struct dirid {
	dev_t dev;
	ino_t ino;
};

struct walk {
	const struct walk_opts *o;
	struct walk_ignore *ig;
	struct job *jobs;
	size_t njobs, cap;
	struct dirid *seen; /* directories entered (loops through symlinks) */
	size_t nseen, seen_cap;
	char prefix[PATH_MAX]; /* the root's path below the repository top, "" or "a/b/" */
	atomic_size_t next, done;
	pthread_mutex_t progress_lock;
	struct timespec start, last;
	bool progress_shown;
};

static bool
seen_add(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return false;
	if (w->nseen == w->seen_cap) {
		size_t cap = w->seen_cap ? w->seen_cap * 2 : 64;
		struct dirid *v = realloc(w->seen, cap * sizeof(*v));

		if (!v)
			return true; /* no memory for the check: walk on */
		w->seen = v;
		w->seen_cap = cap;
	}
	w->seen[w->nseen].dev = st->st_dev;
	w->seen[w->nseen].ino = st->st_ino;
	w->nseen++;
	return true;
}

static int
job_add(struct walk *w, const char *path, const char *name)
{
	struct job j;

	if (w->njobs == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct job *v = realloc(w->jobs, cap * sizeof(*v));

		if (!v)
			return CF_ENOMEM;
		w->jobs = v;
		w->cap = cap;
	}
	j.path = strdup(path);
	j.name = strdup(name);
	if (!j.path || !j.name) {
		free(j.path);
		free(j.name);
		return CF_ENOMEM;
	}
	w->jobs[w->njobs++] = j;
	return 0;
}

/* Reads path (an ignore file) if it exists and adds its rules under base. */
static int
ignore_load(struct walk *w, const char *path, const char *base)
{
	char *text = NULL;
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WALK_IGNORE_MAX)
		goto out;
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		r = CF_ENOMEM;
		goto out;
	}
	n = read(fd, text, (size_t)st.st_size);
	if (n > 0)
		r = walk_ignore_add(&w->ig, base, text, (size_t)n);
out:
	free(text);
	close(fd);
	return r;
}

/* The rules of a directory: path is where it is, rel its name below the
 * repository top ("" for the top). */
static int
ignore_dir(struct walk *w, const char *path, const char *rel)
{
	char f[PATH_MAX];
	int r;

	if (w->o->no_ignore)
		return 0;
	if ((size_t)snprintf(f, sizeof(f), "%s/.gitignore", path) >= sizeof(f))
		return 0;
	r = ignore_load(w, f, rel);
	if (r < 0)
		return r;
	snprintf(f, sizeof(f), "%s/.cofferignore", path);
	return ignore_load(w, f, rel);
}

/* For a root directory inside a git repository: finds the top, loads
 * .git/info/exclude and every .gitignore from the top down to (not
 * including) the root, and sets w->prefix. */
static int
ignore_parents(struct walk *w, const char *root)
{
	char real[PATH_MAX], top[PATH_MAX], f[PATH_MAX + 32];
	struct stat st;
	char *cut;
	int r;

	w->prefix[0] = '\0';
	if (w->o->no_ignore || !realpath(root, real))
		return 0;
	strcpy(top, real);
	for (;;) {
		snprintf(f, sizeof(f), "%s/.git", top);
		if (lstat(f, &st) == 0)
			break;
		cut = strrchr(top, '/');
		if (!cut || cut == top)
			return 0; /* not in a repository: the root's own files only */
		*cut = '\0';
	}
	snprintf(f, sizeof(f), "%s/.git/info/exclude", top);
	r = ignore_load(w, f, "");
	if (r < 0)
		return r;
	if (strcmp(top, real) == 0)
		return 0;
	/* real = top/a/b: load top, top/a; the root's own are loaded by the walk */
	const char *below = real + strlen(top) + 1;
	if ((size_t)snprintf(w->prefix, sizeof(w->prefix), "%s/", below) >= sizeof(w->prefix)) {
		w->prefix[0] = '\0';
		return 0;
	}
	r = ignore_dir(w, top, "");
	for (const char *s = below; r == 0 && (s = strchr(s, '/')); s++) {
		char rel[PATH_MAX];

		snprintf(rel, sizeof(rel), "%.*s", (int)(s - below), below);
		if ((size_t)snprintf(f, sizeof(f), "%s/%s", top, rel) >= sizeof(f))
			break;
		r = ignore_dir(w, f, rel);
	}
	return r;
}

static int walk_dir(struct walk *w, const char *path, const char *name);

/* One directory entry: path to open, name relative to the root. */
static int
walk_entry(struct walk *w, const char *path, const char *name, unsigned char dtype)
{
	char match[PATH_MAX * 2];
	struct stat st;
	bool is_dir;

	if (dtype == DT_UNKNOWN || dtype == DT_LNK) {
		if (stat(path, &st) < 0) {
			if (dtype == DT_LNK || (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
				scan_report_note(w->o->report, "%s: broken symlink, skipped", name);
			else
				scan_report_note(w->o->report, "%s: %s, skipped", name,
				                 strerror(errno));
			return 0;
		}
		dtype = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_FIFO;
	}
	is_dir = dtype == DT_DIR;
	snprintf(match, sizeof(match), "%s%s", w->prefix, name);
	if (walk_ignore_match(w->ig, match, is_dir))
		return 0;
	if (is_dir)
		return walk_dir(w, path, name);
	if (dtype != DT_REG) {
		scan_report_note(w->o->report, "%s: not a regular file, skipped", name);
		return 0;
	}
	if (binary_extension(name))
		return 0;
	return job_add(w, path, name);
}

static int
walk_dir(struct walk *w, const char *path, const char *name)
{
	char sub[PATH_MAX], subname[PATH_MAX], rel[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if (stat(path, &st) < 0) {
		scan_report_note(w->o->report, "%s: %s, skipped", *name ? name : path,
		                 strerror(errno));
		return 0;
	}
	if (!seen_add(w, &st)) {
		scan_report_note(w->o->report,
		                 "%s: directory already scanned (symlink loop), skipped",
		                 *name ? name : path);
		return 0;
	}
	d = opendir(path);
	if (!d) {
		scan_report_note(w->o->report, "%s: %s, skipped", *name ? name : path,
		                 strerror(errno));
		return 0;
	}
	snprintf(rel, sizeof(rel), "%s%s", w->prefix, name);
	if (*w->prefix && !*name)
		rel[strlen(rel) - 1] = '\0'; /* "a/b/" -> "a/b" */
	r = ignore_dir(w, path, rel);
	while (r == 0 && (de = readdir(d))) {
		const char *dn = de->d_name;
		char *esc = NULL;

		if (strcmp(dn, ".") == 0 || strcmp(dn, "..") == 0 || strcmp(dn, ".git") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, dn) >= sizeof(sub) ||
		    (size_t)snprintf(subname, sizeof(subname), "%s%s%s", name, *name ? "/" : "",
		                     dn) >= sizeof(subname)) {
			scan_report_note(w->o->report, "%s/...: path too long, skipped",
			                 *name ? name : path);
			continue;
		}
		if (!utf8_valid((const unsigned char *)dn)) {
			/* reported (and named to its entries) with \x escapes */
			esc = name_escape(subname);
			if (!esc) {
				r = CF_ENOMEM;
				break;
			}
			scan_report_note(w->o->report,
			                 "%s: file name is not UTF-8, shown with \\x escapes", esc);
			snprintf(subname, sizeof(subname), "%s", esc);
		}
		r = walk_entry(w, sub, subname, de->d_type);
		free(esc);
	}
	closedir(d);
	return r;
}

/* ---- reading and scanning ---- */

struct hit_arg {
	struct scan_report *rep;
	const char *name;
	const char *data;
};

static int
on_hit(void *arg, const struct scan_hit *hit)
{
	struct hit_arg *a = arg;

	return scan_report_add(a->rep, a->name, a->data, hit, NULL, NULL, NULL);
}

/* UTF-16 (little or big endian, after its BOM) to UTF-8; lone surrogates
 * become U+FFFD. Returns a new buffer or NULL. */
static char *
utf16_decode(const unsigned char *s, size_t len, bool be, size_t *ret_len)
{
	char *out = malloc(len / 2 * 3 + 4), *p = out;
	size_t i = 0;

	if (!out)
		return NULL;
	while (i + 1 < len) {
		uint32_t c =
		        be ? (uint32_t)(s[i] << 8 | s[i + 1]) : (uint32_t)(s[i + 1] << 8 | s[i]);

		i += 2;
		if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
			uint32_t lo = be ? (uint32_t)(s[i] << 8 | s[i + 1])
			                 : (uint32_t)(s[i + 1] << 8 | s[i]);

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			} else {
				c = 0xfffd;
			}
		} else if (c >= 0xd800 && c <= 0xdfff) {
			c = 0xfffd;
		}
		if (c < 0x80) {
			*p++ = (char)c;
		} else if (c < 0x800) {
			*p++ = (char)(0xc0 | c >> 6);
			*p++ = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			*p++ = (char)(0xe0 | c >> 12);
			*p++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*p++ = (char)(0x80 | (c & 0x3f));
		} else {
			*p++ = (char)(0xf0 | c >> 18);
			*p++ = (char)(0x80 | ((c >> 12) & 0x3f));
			*p++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*p++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*ret_len = (size_t)(p - out);
	return out;
}

int
walk_scan_buffer(struct scan_ctx *ctx, struct scan_report *rep, const char *file, const char *data,
                 size_t len)
{
	const unsigned char *u = (const unsigned char *)data;
	struct hit_arg a = {rep, file, data};
	char *dec = NULL;
	size_t declen = 0;
	int r;

	if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		dec = utf16_decode(u + 2, len - 2, u[0] == 0xfe, &declen);
		if (!dec)
			return CF_ENOMEM;
		a.data = dec;
		r = scan_buffer(ctx, dec, declen, on_hit, &a);
		secmem_free(dec, declen); /* only the decoded bytes were written */
	} else {
		if (memchr(data, '\0', len < WALK_SNIFF ? len : WALK_SNIFF))
			return 0; /* binary */
		r = scan_buffer(ctx, data, len, on_hit, &a);
	}
	if (r == 0)
		scan_report_count(rep, len);
	return r;
}

static void
progress(struct walk *w, bool final)
{
	struct timespec now;
	double el, since;

	if (!w->o->progress)
		return;
	if (pthread_mutex_trylock(&w->progress_lock) != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	el = (double)(now.tv_sec - w->start.tv_sec) + (now.tv_nsec - w->start.tv_nsec) / 1e9;
	since = (double)(now.tv_sec - w->last.tv_sec) + (now.tv_nsec - w->last.tv_nsec) / 1e9;
	if (final) {
		if (w->progress_shown)
			fputs("\r\033[K", stderr);
	} else if (el >= 1.0 && since >= 0.2) {
		fprintf(stderr, "\r\033[Kcoffer: scan: %zu/%zu files", atomic_load(&w->done),
		        w->njobs);
		w->progress_shown = true;
		w->last = now;
	}
	pthread_mutex_unlock(&w->progress_lock);
}

/* n bytes for people: "512 bytes", "4.0 KiB", "10.0 MiB", "5.0 GiB". */
static const char *
size_str(char *buf, size_t len, uint64_t n)
{
	if (n >= 1ull << 30)
		snprintf(buf, len, "%.1f GiB", (double)n / (1ull << 30));
	else if (n >= 1ull << 20)
		snprintf(buf, len, "%.1f MiB", (double)n / (1ull << 20));
	else if (n >= 1ull << 10)
		snprintf(buf, len, "%.1f KiB", (double)n / (1ull << 10));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	return buf;
}

/* Scans one file of the list; problems become notes. */
static int
scan_file(struct walk *w, struct scan_ctx *ctx, char *buf, const struct job *j)
{
	struct scan_report *rep = w->o->report;
	struct stat st;
	void *map = NULL;
	const char *data;
	size_t len = 0;
	int fd, r = 0;

	fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		scan_report_note(rep, "%s: %s, skipped", j->name, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		scan_report_note(rep, "%s: %s, skipped", j->name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		scan_report_note(rep, "%s: not a regular file, skipped", j->name);
		goto out;
	}
	if ((uint64_t)st.st_size > w->o->max_size) {
		char have[32], limit[32];

		scan_report_note(rep, "%s: %s is over the %s limit (--max-size), skipped", j->name,
		                 size_str(have, sizeof(have), (uint64_t)st.st_size),
		                 size_str(limit, sizeof(limit), w->o->max_size));
		goto out;
	}
	len = (size_t)st.st_size;
	if (len == 0) {
		scan_report_count(rep, 0);
		goto out;
	}
	if (len <= WALK_READ_MAX) {
		size_t got = 0;

		while (got < len) {
			ssize_t n = read(fd, buf + got, len - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				scan_report_note(rep, "%s: %s, skipped", j->name, strerror(errno));
				goto out;
			}
			if (n == 0)
				break; /* shrank while we read: scan what is there */
			got += (size_t)n;
		}
		len = got;
		data = buf;
	} else {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			scan_report_note(rep, "%s: %s, skipped", j->name, strerror(errno));
			goto out;
		}
		data = map;
	}
	r = walk_scan_buffer(ctx, rep, j->name, data, len);
	if (!map)
		secmem_wipe(buf, len);
out:
	if (map)
		munmap(map, len);
	close(fd);
	return r;
}

struct worker {
	struct walk *w;
	int r;
};

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct walk *w = wk->w;
	struct scan_ctx *ctx = NULL;
	char *buf;
	size_t i;

	buf = malloc(WALK_READ_MAX);
	wk->r = buf ? scan_ctx_new(w->o->engine, &ctx) : CF_ENOMEM;
	while (wk->r == 0 && (i = atomic_fetch_add(&w->next, 1)) < w->njobs) {
		wk->r = scan_file(w, ctx, buf, &w->jobs[i]);
		atomic_fetch_add(&w->done, 1);
		progress(w, false);
	}
	scan_ctx_free(ctx);
	free(buf);
	return NULL;
}

static int
scan_stdin(const struct walk_opts *o)
{
	struct scan_ctx *ctx = NULL;
	char *data = NULL, *p;
	size_t len = 0, cap = 0;
	ssize_t n;
	int r;

	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;

			if (ncap > o->max_size + 1)
				ncap = o->max_size + 1;
			if (len == ncap) {
				char limit[32];

				scan_report_note(o->report,
				                 "<stdin>: over the %s limit (--max-size), skipped",
				                 size_str(limit, sizeof(limit), o->max_size));
				r = 0;
				goto out;
			}
			p = malloc(ncap);
			if (!p) {
				r = CF_ENOMEM;
				goto out;
			}
			if (data) {
				memcpy(p, data, len);
				secmem_free(data, cap);
			}
			data = p;
			cap = ncap;
		}
		n = read(STDIN_FILENO, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			scan_report_note(o->report, "<stdin>: %s, skipped", strerror(errno));
			r = 0;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = scan_ctx_new(o->engine, &ctx);
	if (r == 0)
		r = walk_scan_buffer(ctx, o->report, "<stdin>", data ? data : "", len);
out:
	scan_ctx_free(ctx);
	if (data)
		secmem_free(data, cap);
	return r;
}

int
walk_scan(const struct walk_opts *o, char *const *paths, size_t npaths)
{
	struct walk w = {.o = o};
	struct worker *wk = NULL;
	pthread_t *tids = NULL;
	unsigned nt, started = 0;
	struct stat st;
	int r = 0;

	pthread_mutex_init(&w.progress_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &w.start);
	w.last = w.start;
	for (size_t i = 0; r == 0 && i < npaths; i++) {
		const char *p = paths[i];

		if (strcmp(p, "-") == 0) {
			r = scan_stdin(o);
			continue;
		}
		if (stat(p, &st) < 0) {
			if (lstat(p, &st) == 0)
				scan_report_note(o->report, "%s: broken symlink, skipped", p);
			else
				scan_report_note(o->report, "%s: %s, skipped", p, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			r = ignore_parents(&w, p);
			if (r == 0)
				r = walk_dir(&w, p, "");
			/* each directory operand has its own rules and loop check */
			w.prefix[0] = '\0';
			walk_ignore_free(w.ig);
			w.ig = NULL;
			w.nseen = 0;
		} else if (S_ISREG(st.st_mode)) {
			r = job_add(&w, p, p);
		} else {
			scan_report_note(o->report, "%s: not a regular file, skipped", p);
		}
	}
	if (r < 0 || w.njobs == 0)
		goto out;

	nt = o->threads;
	if (nt == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nt = c > 0 ? (unsigned)c : 1;
	}
	if (nt > w.njobs)
		nt = (unsigned)w.njobs;
	tids = calloc(nt, sizeof(*tids));
	wk = calloc(nt, sizeof(*wk));
	if (!tids || !wk) {
		r = CF_ENOMEM;
		goto out;
	}
	for (unsigned t = 0; t < nt; t++) {
		wk[t].w = &w;
		if (pthread_create(&tids[t], NULL, worker_main, &wk[t]) != 0)
			break;
		started++;
	}
	if (started == 0)
		worker_main(&wk[0]); /* no thread to be had: scan on this one */
	for (unsigned t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	for (unsigned t = 0; t < nt; t++)
		if (wk[t].r < 0 && r == 0)
			r = wk[t].r;
	progress(&w, true);
out:
	for (size_t i = 0; i < w.njobs; i++) {
		free(w.jobs[i].path);
		free(w.jobs[i].name);
	}
	free(w.jobs);
	free(w.seen);
	free(tids);
	free(wk);
	walk_ignore_free(w.ig);
	pthread_mutex_destroy(&w.progress_lock);
	return r;
}
