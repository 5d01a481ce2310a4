/* tmpl.h - templates in the consul-template language (Go text/template plus
 * consul-template's functions), as Vault Agent users write them.
 *
 * A template is parsed once into a tree (tmpl_parse) and rendered as often as
 * its data changes (tmpl_render). The library reads no secret itself: every
 * `secret "path" "k=v"...` and `pkiCert "path" "k=v"...` call goes to the
 * caller's data source, which answers with the Vault response as a JSON
 * object. Rendering writes only into the caller's buffer; it writes no file
 * and logs nothing. Semantics, the function list and the known differences
 * from Go are in docs/internals/template.md.
 *
 * Error messages name the template, a 1-based line and column and what went
 * wrong: "app.tpl:3:14: function \"foo\" not defined". They quote template
 * text (never rendered values), so they are safe to log. */
#ifndef CF_TMPL_H
#define CF_TMPL_H

#include "lib/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tmpl;

struct tmpl_opts {
	const char *left_delim;    /* NULL: "{{" */
	const char *right_delim;   /* NULL: "}}" */
	bool error_on_missing_key; /* a missing map key fails the render */
};

/* The data source. fn is "secret" or "pkiCert"; path the first argument;
 * params a JSON object of the "k=v" arguments (strings; empty when none).
 * On success returns 0 and sets *ret to a new reference: the response object
 * (Data, LeaseID, LeaseDuration, Renewable, ...), or NULL when there is no
 * secret at that path (the call then yields nil, so `with` takes its else
 * branch). On failure returns a negative CF_E* code and may write a reason
 * into err (no secret values in it). The render stops with that code. */
typedef int (*tmpl_source_fn)(void *ctx, const char *fn, const char *path, json_t *params,
                              json_t **ret, struct buf *err);

/* Parses text (len bytes; NULs refused) under the given name (used in error
 * messages). opts may be NULL. On success *ret owns the tree: free with
 * tmpl_free. On failure returns CF_EINVAL (syntax error, unknown function,
 * undefined variable, bad delimiters) with "name:line:col: what" in err (if
 * non-NULL), CF_ETOOBIG (nesting deeper than 100), or CF_ENOMEM. */
int tmpl_parse(const char *name, const char *text, size_t len, const struct tmpl_opts *opts,
               struct tmpl **ret, struct buf *err);

/* Renders t into out (appended; out should be BUF_SECRET: it receives secret
 * values). src may be NULL when the template calls no data source. Each
 * distinct call (function, path, parameters) reaches src once per render, as
 * consul-template de-duplicates its dependencies. On failure out is wiped
 * back to its length at entry (nothing partial is left), and the code is
 * CF_EINVAL (an execution error: "name:line:col: executing <...>: what" in
 * err), CF_ETOOBIG (out's cap), CF_ENOMEM, or what src returned. */
int tmpl_render(const struct tmpl *t, tmpl_source_fn src, void *ctx, struct buf *out,
                struct buf *err);

/* Frees the tree. Accepts NULL. */
void tmpl_free(struct tmpl *t);

#endif
