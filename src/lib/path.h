/* path.h - names in request paths.
 *
 * One normalisation for every path the server acts on: the HTTP edge runs it on
 * each request path (after percent-decoding) and sys/capabilities on each path
 * it is asked about, so the ACL and the capabilities endpoint always judge the
 * same string. A normalised path is valid UTF-8 (shortest forms, no surrogates,
 * nothing above U+10FFFF) without NUL or other control characters, has no empty,
 * "." or ".." segment, and holds a backslash only inside a \xHH escape.
 *
 * The escape: a stored name that is not such a string (older versions stored
 * what the client sent) is listed with every byte that is not part of valid
 * UTF-8, every control character and every backslash written as \xHH (two
 * lowercase hex digits), e.g. "caf\xe9" for the Latin-1 bytes of "café". The
 * listed form is the name's only spelling: a path may hold an escape only where
 * a list would write one (path_normalize refuses "\x41" for "A"), so a policy
 * never sees two spellings of one name. The storage view (backend/view.c) turns
 * the escapes back into bytes on every access and escapes the names it lists;
 * it lets such an entry be read, rewritten and deleted, never created.
 * docs/internals/http.md "Paths and stored names" has the whole story. */
#ifndef CF_PATH_H
#define CF_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_MAX_BYTES    4096
#define PATH_MAX_SEGMENTS 128

enum {
	/* Bytes that are not UTF-8 pass unchanged, as before this check existed.
	 * Only the test hook COFFER_TEST_LEGACY_PATHS sets it, so tests can store
	 * the names older versions stored. */
	PATH_LEGACY_BYTES = 1u << 0,
};

/* Normalises the len bytes at in (a path without "/v1/", already
 * percent-decoded; it may hold NUL bytes, which are refused): runs of '/'
 * collapse, a leading '/' goes, a trailing '/' stays (LIST). On success *ret is
 * malloc'd. Returns 0, CF_ENOROUTE (nothing left), CF_EINVAL with the reason in
 * err (a NUL or control character, a byte that is not UTF-8, an overlong form,
 * a surrogate, a backslash outside a canonical escape, a "." or ".." segment,
 * more than PATH_MAX_BYTES bytes or PATH_MAX_SEGMENTS segments; never echoes a
 * raw byte), or CF_ENOMEM. */
int path_normalize(const char *in, size_t len, unsigned flags, char **ret, char *err,
                   size_t errlen);

/* Whether name is listed as it is (valid UTF-8, no control character, no
 * backslash). */
bool path_is_plain(const char *name);

/* The listed form of a stored name (see the top of this file); *ret is malloc'd.
 * Returns 0 or CF_ENOMEM. */
int path_escape(const char *name, char **ret);

/* Turns every \xHH escape (lowercase hex, not \x00) in s back into its byte, in
 * place; other text is kept. path_unescape(path_escape(name)) == name. */
void path_unescape(char *s);

#endif
