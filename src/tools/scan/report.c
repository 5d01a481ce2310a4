/* report.c - the findings of one `coffer scan` run (report.h): thread-safe
 * adds and notes, the baseline filter and the output order. */
#include "tools/scan/report.h"

#include "lib/err.h"
#include "lib/secmem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
scan_report_init(struct scan_report *r)
{
	memset(r, 0, sizeof(*r));
	if (pthread_mutex_init(&r->lock, NULL) != 0)
		return CF_ENOMEM;
	return 0;
}

static void
finding_clear(struct scan_finding *f)
{
	free(f->file);
	if (f->secret)
		secmem_free(f->secret, f->secret_len + 1);
	free(f->commit);
	free(f->author);
	free(f->date);
	free(f->fingerprint);
	memset(f, 0, sizeof(*f));
}

static char *
dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int
scan_report_add(struct scan_report *r, const char *file, const char *data,
                const struct scan_hit *hit, const char *commit, const char *author,
                const char *date)
{
	struct scan_finding f = {0};
	bool oom = false;
	int n;

	f.file = dup_or_null(file, &oom);
	f.line = hit->line;
	f.column = hit->column;
	f.rule = hit->rule;
	f.secret_len = hit->secret_len;
	f.secret = malloc(hit->secret_len + 1);
	if (f.secret) {
		memcpy(f.secret, data + hit->secret_off, hit->secret_len);
		f.secret[hit->secret_len] = '\0';
	} else {
		oom = true;
	}
	f.commit = dup_or_null(commit, &oom);
	f.author = dup_or_null(author, &oom);
	f.date = dup_or_null(date, &oom);
	if (oom)
		goto nomem;
	if (commit)
		n = asprintf(&f.fingerprint, "%s:%s:%s:%zu", commit, file, hit->rule->id,
		             hit->line);
	else
		n = asprintf(&f.fingerprint, "%s:%s:%zu", file, hit->rule->id, hit->line);
	if (n < 0) {
		f.fingerprint = NULL;
		goto nomem;
	}

	pthread_mutex_lock(&r->lock);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct scan_finding *v = realloc(r->v, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&r->lock);
			goto nomem;
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = f;
	pthread_mutex_unlock(&r->lock);
	return 0;
nomem:
	finding_clear(&f);
	return CF_ENOMEM;
}

void
scan_report_note(struct scan_report *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return; /* out of memory: the note is lost, the scan goes on */
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&r->lock);
	if (r->nnotes == r->notes_cap) {
		size_t cap = r->notes_cap ? r->notes_cap * 2 : 8;
		char **v = realloc(r->notes, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&r->lock);
			free(s);
			return;
		}
		r->notes = v;
		r->notes_cap = cap;
	}
	r->notes[r->nnotes++] = s;
	pthread_mutex_unlock(&r->lock);
}

void
scan_report_count(struct scan_report *r, size_t bytes)
{
	pthread_mutex_lock(&r->lock);
	r->files_scanned++;
	r->bytes_scanned += bytes;
	pthread_mutex_unlock(&r->lock);
}

static int
finding_cmp(const void *a, const void *b)
{
	const struct scan_finding *x = a, *y = b;
	int c;

	c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	c = strcmp(x->rule->id, y->rule->id);
	if (c)
		return c;
	/* --git: the same place in two blobs stays in a stable order */
	return strcmp(x->fingerprint, y->fingerprint);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
scan_report_sort(struct scan_report *r)
{
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), finding_cmp);
	if (r->nnotes > 1)
		qsort(r->notes, r->nnotes, sizeof(*r->notes), str_cmp);
}

int
scan_report_baseline(struct scan_report *r, const char *path, size_t *dropped, char *err,
                     size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *v;
	char **fps = NULL;
	size_t nfp = 0, i, kept = 0;
	int ret = 0;

	*dropped = 0;
	doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		snprintf(err, errlen, "baseline %s: %s (line %d)", path, jerr.text, jerr.line);
		return CF_EINVAL;
	}
	if (!json_is_array(doc)) {
		snprintf(err, errlen,
		         "baseline %s: not a JSON array (write one with --format=json or "
		         "--write-baseline)",
		         path);
		ret = CF_EINVAL;
		goto out;
	}
	fps = calloc(json_array_size(doc) + 1, sizeof(*fps));
	if (!fps) {
		ret = CF_ENOMEM;
		goto out;
	}
	json_array_foreach(doc, i, v)
	{
		const char *fp = json_string_value(json_object_get(v, "fingerprint"));

		if (!fp) {
			snprintf(err, errlen, "baseline %s: entry %zu has no \"fingerprint\"", path,
			         i + 1);
			ret = CF_EINVAL;
			goto out;
		}
		fps[nfp++] = (char *)fp;
	}
	qsort(fps, nfp, sizeof(*fps), str_cmp);
	for (i = 0; i < r->n; i++) {
		const char *key = r->v[i].fingerprint;

		if (nfp && bsearch(&key, fps, nfp, sizeof(*fps), str_cmp)) {
			finding_clear(&r->v[i]);
			(*dropped)++;
		} else {
			r->v[kept++] = r->v[i];
		}
	}
	r->n = kept;
out:
	free(fps);
	json_decref(doc);
	return ret;
}

void
scan_report_free(struct scan_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		finding_clear(&r->v[i]);
	free(r->v);
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	pthread_mutex_destroy(&r->lock);
	memset(r, 0, sizeof(*r));
}
