/* err.h - one error code space for all of coffer.
 *
 * Functions return int: 0 is success, a negative CF_E* code is failure.
 * Never renumber a code; add new ones at the end. */
#ifndef CF_ERR_H
#define CF_ERR_H

#include <assert.h>

enum {
	CF_OK = 0,
	CF_ENOMEM = -1,        /* out of memory (500) */
	CF_EINVAL = -2,        /* invalid or missing parameter (400) */
	CF_ENOTFOUND = -3,     /* nothing at that path (404) */
	CF_EDENIED = -4,       /* permission denied, bad or expired token (403) */
	CF_ESEALED = -5,       /* the server is sealed (503) */
	CF_EIO = -6,           /* storage or I/O failure (500) */
	CF_EEXIST = -7,        /* already exists / already initialized (400) */
	CF_ETOOBIG = -8,       /* request too large (413) */
	CF_EMETHOD = -9,       /* operation not supported on this path (405) */
	CF_ECRYPTO = -10,      /* authentication of ciphertext failed (500) */
	CF_EUNINIT = -11,      /* not initialized (501 on health, 400 elsewhere) */
	CF_ECAS = -12,         /* check-and-set mismatch (400) */
	CF_EINTERNAL = -13,    /* a bug or impossible state (500) */
	CF_EBADKEY = -14,      /* wrong unseal key or share (400) */
	CF_EAUDIT = -15,       /* no audit device could record the request (500) */
	CF_EUNSUPPORTED = -16, /* feature not supported (400) */
	CF_EUPSTREAM = -17,    /* third-party system failed (502) */
	CF_ERANGE = -18,       /* number out of range (400) */
	CF_ENOROUTE = -19,     /* no handler for the path (404) */
	CF_ERATELIMIT = -20,   /* too many attempts; try again later (429) */
};

/* Returns a static, human-readable text for a CF_E* code. */
const char *cf_strerror(int r);
/* Maps a CF_E* code to the HTTP status coffer answers with. */
int cf_http_status(int r);

#ifdef NDEBUG
#define CF_NEVER(x) (x)
#else
#define CF_NEVER(x) (assert(!(x)), (x))
#endif

#define CF_WARN_UNUSED __attribute__((warn_unused_result))

#endif
