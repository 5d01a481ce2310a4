/* table.h - aligned text tables as `vault` prints them: a header row, a row of
 * dashes under each header, columns padded to the widest cell plus four spaces,
 * no trailing blanks. Cells are copied; the copies are wiped on free (they may
 * be secret values). Allocation failure kills the CLI. */
#ifndef CF_CLI_TABLE_H
#define CF_CLI_TABLE_H

#include <stdio.h>

struct table;

/* A table of ncols columns whose header row is the ncols strings in headers. */
struct table *table_new(size_t ncols, const char *const *headers);
void table_free(struct table *t);
/* Appends a row of ncols cells; NULL cells print as empty. */
void table_add(struct table *t, const char *const *cells);
/* Convenience for two-column Key/Value tables. */
void table_add_kv(struct table *t, const char *key, const char *value);
size_t table_rows(const struct table *t);
/* Prints the table (header first). */
void table_print(const struct table *t, FILE *f);

#endif
