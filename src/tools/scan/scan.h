/* scan.h - the hardcoded-credential detector behind `coffer scan`
 * (docs/scanner.md).
 *
 * A rule describes one kind of secret: literal keywords for the prefilter, a
 * PCRE2 pattern run only on a window around a keyword hit, and optional checks
 * (entropy, a checksum, a decoder) run only on a pattern match. An engine is
 * built once from the rule set (built-in rules, minus disabled ones, plus the
 * config's extra rules) and is then read-only: any number of threads may scan
 * with it at once, each through its own struct scan_ctx.
 *
 * Where a pattern runs: for each keyword occurrence, a window. A single-line
 * rule sees the keyword's line and the next line, at most 1 KiB before the
 * keyword and 2 KiB after it; a SCAN_RULE_MULTILINE rule sees from a line
 * start about 4 KiB before the keyword to 64 KiB after it. Lookbehinds may
 * look further back; `^` and `$` match at line starts and ends (LF or CRLF).
 * A match that needs more than its window is not found.
 *
 * Findings carry offsets into the scanned buffer; the secret bytes are the
 * caller's and are never copied by the engine. */
#ifndef CF_TOOLS_SCAN_H
#define CF_TOOLS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A rule's extra check, run on a pattern match. secret is the matched secret
 * (secret_len bytes, not NUL-terminated); ctx is the whole match window (for
 * checks that look around, e.g. an AWS secret key next to its key id). Returns
 * true to keep the finding. */
typedef bool (*scan_check_fn)(const char *secret, size_t secret_len, const char *ctx,
                              size_t ctx_len, size_t secret_off);

enum {
	SCAN_RULE_MULTILINE = 1 << 0, /* the pattern may span lines (PEM, JSON objects) */
	SCAN_RULE_NOCASE = 1 << 1,    /* the pattern is matched case-insensitively */
	SCAN_RULE_GENERIC = 1 << 2,   /* a name = value rule: placeholder and reference
	                                 filters apply, entropy decides */
};

struct scan_rule {
	const char *id;              /* "github-pat": stable, used in fingerprints and configs */
	const char *description;     /* one line: what it finds */
	const char *hint;            /* one line: how to fix it */
	const char *const *keywords; /* NULL-terminated; matched case-insensitively;
	                              * a match of the rule must contain one */
	const char *pattern;         /* PCRE2; the named group `secret` (else the whole match)
	                              * is the secret */
	double min_entropy;          /* Shannon bits per char the secret needs (0: none) */
	scan_check_fn check;         /* NULL: none */
	unsigned flags;              /* SCAN_RULE_* */
};

/* The built-in rules, in a stable order: token rules (rules_token.c: a
 * prefixed or fixed-shape token) and structural rules (rules_struct.c: key
 * blocks, URLs with credentials, manifests, generic name = value
 * assignments). */
extern const struct scan_rule scan_token_rules[];
extern const size_t scan_token_rules_n;
extern const struct scan_rule scan_struct_rules[];
extern const size_t scan_struct_rules_n;

/* All built-in rules in one new array (free it; the rules' strings are
 * static). Returns 0 or CF_ENOMEM. */
int scan_builtin_rules(struct scan_rule **ret, size_t *n);

/* One finding, offsets into the scanned buffer. */
struct scan_hit {
	const struct scan_rule *rule;
	size_t secret_off, secret_len; /* the secret's bytes */
	size_t line;                   /* 1-based line where the secret (or its block) starts */
	size_t column;                 /* 1-based byte column of the secret on that line */
};

struct scan_engine;
struct scan_ctx;

/* Builds an engine from n rules (the array must outlive the engine). Compiles
 * every pattern with JIT where available. Returns 0, or CF_EINVAL with the
 * failing rule id and PCRE2's message in err, or CF_ENOMEM. */
int scan_engine_new(const struct scan_rule *rules, size_t n, struct scan_engine **ret, char *err,
                    size_t errlen);
void scan_engine_free(struct scan_engine *e);

/* Per-thread scratch space (PCRE2 match data and the like). */
int scan_ctx_new(const struct scan_engine *e, struct scan_ctx **ret);
void scan_ctx_free(struct scan_ctx *c);

/* Called for every finding in buffer order. A negative return stops the scan
 * and is returned by scan_buffer(). */
typedef int (*scan_hit_fn)(void *arg, const struct scan_hit *hit);

/* Scans len bytes (a whole file: need not be NUL-terminated; UTF-8 BOM skipped,
 * UTF-16 decoded by the caller). Lines carrying an allow marker (coffer:allow,
 * gitleaks:allow, pragma: allowlist secret, trufflehog:ignore,
 * secretlint-disable-line; `pragma: allowlist nextline secret` for the next
 * line) are not reported. Returns 0 or the visitor's negative code. */
int scan_buffer(struct scan_ctx *c, const char *data, size_t len, scan_hit_fn visit, void *arg);

/* Shannon entropy of s in bits per byte. */
double scan_entropy(const char *s, size_t len);

#endif
