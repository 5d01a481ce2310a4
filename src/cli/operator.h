/* operator.h - helpers `coffer operator` (operator.c) shares with rekey and
 * generate-root (operator_keys.c): reading an unseal key share and printing the
 * fields of a raw sys/ answer into a Key/Value table. */
#ifndef CF_CLI_OPERATOR_H
#define CF_CLI_OPERATOR_H

#include "cli/table.h"

#include <jansson.h>
#include <stddef.h>

/* The string field key of obj, or dflt when it is absent or not a string. */
const char *operator_str(const json_t *obj, const char *key, const char *dflt);
/* Adds the row name: "true" or "false" (field key of obj). */
void operator_add_bool(struct table *t, const char *name, const json_t *obj, const char *key);
/* Adds the row name: the integer field key of obj (0 when absent). */
void operator_add_int(struct table *t, const char *name, const json_t *obj, const char *key);

/* Reads one unseal key share into key (len bytes): the operand at optind, which
 * is then wiped from argv, or a hidden prompt / a line of stdin when there is no
 * operand or it is "-". Returns 0, or a negative CF_E* code with the error
 * printed. The caller wipes key. */
int operator_read_key(int argc, char **argv, char *key, size_t len);

#endif
