/* hcl.h - the HCL subset coffer needs for ACL policies.
 *
 * Grammar: a body is a sequence of attributes `key = value` and blocks
 * `key "label"... { body }`. Values: strings ("..." with \" \\ \n \t escapes and
 * heredocs <<EOF ... EOF), numbers, true/false, lists [v, v,] and objects { k = v }.
 * Comments: #, // and C-style. Keys may be bare identifiers or quoted strings.
 *
 * Result is JSON-shaped (jansson): blocks become nested objects by label, so
 *   path "secret/+" { capabilities = ["read"] }
 * becomes {"path": {"secret/+": {"capabilities": ["read"]}}}. When the same block
 * label appears twice, the second block's keys are merged into the first
 * (lists concatenated). Depth is limited to 32. */
#ifndef CF_HCL_H
#define CF_HCL_H

#include <jansson.h>
#include <stddef.h>

/* Parses text[0..len). On success stores a new reference in *ret and returns 0.
 * On failure returns CF_EINVAL and writes "line L, column C: what" into err. */
int hcl_parse(const char *text, size_t len, json_t **ret, char *err, size_t errlen);
/* The same, and also stores in *ret_lines a new object that maps the path of
 * every key and block label ("listener/tcp/address": keys and labels joined
 * with '/') to the line where it first appears, for messages that name a line
 * (the server's config file). Paths longer than 255 bytes are not recorded. */
int hcl_parse_lines(const char *text, size_t len, json_t **ret, json_t **ret_lines, char *err,
                    size_t errlen);

#endif
