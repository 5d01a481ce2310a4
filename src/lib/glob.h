/* glob.h - the one wildcard matcher: '*' matches any run of bytes.
 *
 * The semantics are those of the go-glob package Vault uses wherever it takes
 * a glob: the JWT/OIDC role's bound_claims with bound_claims_type "glob", the
 * token role's allowed_policies_glob and disallowed_policies_glob, and event
 * type filters (sys/events/subscribe, webhook types). coffer uses it for all
 * three, so one pattern means the same thing everywhere:
 *   - '*' matches any sequence of bytes, the empty one included; "**" is the
 *     same as "*";
 *   - every other byte matches only itself: '?', '[', ']' and '\' have no
 *     special meaning and there is no escape;
 *   - the whole of s must match ("prod-*" does not match "xprod-1");
 *   - matching is byte-wise and case-sensitive (UTF-8 passes through as bytes).
 * ACL policy paths are a different language (a trailing '*' prefix and '+'
 * segments; docs/internals/policy.md) and are matched in policy/acl.c.
 *
 * Cost: iterative with a single backtrack point, no recursion and no
 * allocation; O(len(pat) * len(s)) at worst, so a hostile pattern cannot blow
 * the stack or take exponential time. Callers bound the lengths they accept. */
#ifndef CF_GLOB_H
#define CF_GLOB_H

#include <stdbool.h>

/* True when the NUL-terminated s matches the NUL-terminated pattern pat. */
bool glob_match(const char *pat, const char *s) __attribute__((warn_unused_result));

#endif
