/* yaml.h - Kubernetes manifests in and out for coffer seal / unseal: YAML
 * (several `---` documents) or JSON (one or several consecutive objects) read
 * into jansson objects, and jansson objects written back as YAML the way
 * kubeseal -o yaml writes them, or as JSON in kubeseal's key order
 * (docs/internals/sealed-cli.md).
 *
 * Reading follows what Kubernetes' YAML decoder (go-yaml v2 turned into JSON)
 * makes of a manifest: quoted and block scalars are strings; a plain scalar is
 * null (``, `~`, `null`), a boolean (`true`, `yes`, `on`, `y` and their
 * negatives, in the three cases), an integer (decimal, 0x, 0o, 0b, a leading 0
 * for octal, `_` separators), a float, or else a string; an explicit `!!str`
 * keeps a string. Anchors and aliases are expanded (at most YAML_MAX_NODES
 * values per document, counting every expansion, so an alias bomb is
 * refused), `<<` merge keys are applied, a duplicate key is an error, mapping
 * keys must be scalars. Empty documents are skipped; every other document must
 * be a mapping. Secret `data` values stay base64 strings: the reader never
 * decodes anything.
 *
 * Errors are one line, "line L, column C: what" (1-based), never quoting more
 * of the input than a key name. */
#ifndef CF_TOOLS_SEALED_YAML_H
#define CF_TOOLS_SEALED_YAML_H

#include "lib/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define YAML_MAX_INPUT (32u * 1024 * 1024) /* bytes of one input */
#define YAML_MAX_DOCS  10000               /* documents of one input */
#define YAML_MAX_DEPTH 128                 /* nesting of mappings and sequences */
#define YAML_MAX_NODES (1u << 20)          /* values of one document, aliases expanded */

enum yaml_format {
	YAML_FORMAT_JSON,
	YAML_FORMAT_YAML,
};

/* Reads text (len bytes, at most YAML_MAX_INPUT; need not be NUL-terminated)
 * into a new JSON array of objects, one per document. Input whose first
 * character (after white space and a byte order mark) is `{` is read as JSON
 * objects one after another (duplicate keys refused); if that fails on the
 * first object, it is read as YAML, and the JSON error is reported when that
 * fails too. *ret_format (may be NULL) tells which it was. Returns 0, or
 * CF_EINVAL with the line, column and reason in err (an empty input is "no
 * document"), CF_ETOOBIG (over a limit, said in err), CF_ENOMEM. */
int yaml_read_docs(const char *text, size_t len, json_t **ret, enum yaml_format *ret_format,
                   char *err, size_t errlen);

/* Appends doc as kubeseal -o yaml does: `---` on its own line, then block YAML
 * with every mapping's keys sorted (sequences not indented under their key),
 * strings quoted only when a plain scalar would read back as something else.
 * What yaml_read_docs reads back is json_equal to doc. Returns 0, CF_ETOOBIG
 * (b's cap), CF_ENOMEM. */
int yaml_write_yaml(struct buf *b, const json_t *doc);

/* Appends doc as JSON indented by two spaces, keys in the order of the Go
 * structs kubeseal prints (kind, apiVersion, metadata, spec, ...; metadata:
 * name, namespace, creationTimestamp, labels, annotations, ownerReferences ...;
 * spec: template, encryptedData; template: metadata, type, immutable, data),
 * every other key and every map (labels, annotations, data, encryptedData)
 * sorted, and a newline at the end. Returns 0, CF_ETOOBIG, CF_ENOMEM. */
int yaml_write_json(struct buf *b, const json_t *doc);

/* yaml_write_yaml or yaml_write_json. */
int yaml_write(struct buf *b, const json_t *doc, enum yaml_format f);

#endif
