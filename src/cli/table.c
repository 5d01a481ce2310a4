/* table.c - aligned text tables (see table.h). */
#include "cli/table.h"
#include "cli/cli.h"
#include "lib/secmem.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_GLUE 4

struct table {
	size_t ncols;
	size_t nrows; /* including the header row */
	size_t cap;
	char **cells; /* nrows * ncols */
};

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fputs("coffer: out of memory\n", stderr);
		exit(CLI_EXIT_ERROR);
	}
	return p;
}

struct table *
table_new(size_t ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	table_add(t, headers);
	return t;
}

void
table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++) {
		secmem_free_str(t->cells[i]);
	}
	free(t->cells);
	free(t);
}

void
table_add(struct table *t, const char *const *cells)
{
	char **n;
	size_t i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		n = xcalloc(t->cap * t->ncols, sizeof(*n));
		if (t->cells)
			memcpy(n, t->cells, t->nrows * t->ncols * sizeof(*n));
		free(t->cells);
		t->cells = n;
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = cli_strdup(cells[i] ? cells[i] : "");
	t->nrows++;
}

void
table_add_kv(struct table *t, const char *key, const char *value)
{
	const char *cells[2] = {key, value};

	table_add(t, cells);
}

size_t
table_rows(const struct table *t)
{
	return t->nrows - 1;
}

/* Display width: counts UTF-8 code points, not bytes. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void
print_row(const struct table *t, const size_t *widths, char *const *row, FILE *f)
{
	size_t i, last = t->ncols;

	/* Trailing empty cells print nothing, so no line ends in blanks. */
	while (last > 1 && row[last - 1][0] == '\0')
		last--;
	for (i = 0; i < last; i++) {
		fputs(row[i], f);
		if (i + 1 < last)
			fprintf(f, "%*s", (int)(widths[i] - width(row[i]) + TABLE_GLUE), "");
	}
	fputc('\n', f);
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *widths, i, j, w;
	char **dashes;

	widths = xcalloc(t->ncols, sizeof(*widths));
	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->ncols; j++) {
			w = width(t->cells[i * t->ncols + j]);
			if (w > widths[j])
				widths[j] = w;
		}
	}
	dashes = xcalloc(t->ncols, sizeof(*dashes));
	for (j = 0; j < t->ncols; j++) {
		w = width(t->cells[j]);
		dashes[j] = xcalloc(w + 1, 1);
		memset(dashes[j], '-', w);
	}
	print_row(t, widths, t->cells, f);
	print_row(t, widths, dashes, f);
	for (i = 1; i < t->nrows; i++)
		print_row(t, widths, t->cells + i * t->ncols, f);
	for (j = 0; j < t->ncols; j++)
		free(dashes[j]);
	free(dashes);
	free(widths);
}
