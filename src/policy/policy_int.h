/* policy_int.h - internals of src/policy shared by its files (not a public API).
 *
 * policy.c: parsing HCL/JSON into struct policy (rules sorted by pattern, one
 * rule per pattern). acl.c: merging policies into a struct acl and evaluating it. */
#ifndef CF_POLICY_INT_H
#define CF_POLICY_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* Every capability a root ACL holds besides CAP_ROOT (not CAP_DENY). */
#define CAP_ALL                                                                                    \
	(CAP_CREATE | CAP_READ | CAP_UPDATE | CAP_DELETE | CAP_LIST | CAP_SUDO | CAP_PATCH |       \
	 CAP_SUBSCRIBE)

/* One path stanza. pattern has no leading '/'. Parameter constraints are kept
 * (validated, Vault-merged) but not enforced (Vault's policy syntax makes them optional). */
struct policy_rule {
	char *pattern;
	unsigned caps;    /* CAP_DENY alone when denied */
	json_t *allowed;  /* object param -> array, or NULL */
	json_t *denied;   /* same shape, or NULL */
	json_t *required; /* array of strings, or NULL */
	int64_t min_wrap; /* seconds, 0 = unset */
	int64_t max_wrap; /* seconds, 0 = unset */
};

struct policy {
	char *name;
	struct policy_rule *rules; /* sorted by strcmp(pattern), patterns unique */
	size_t nrules;
};

/* Capability union with Vault's rule: deny absorbs everything. */
unsigned policy_caps_union(unsigned a, unsigned b);

/* acl.c: the sorted names of caps (no "root"; "deny" only if set), as policy
 * texts spell them. NULL on ENOMEM. */
json_t *acl_caps_names(unsigned caps);

#endif
