/* policy.h - ACL policies: parsing (HCL and JSON) and evaluation
 * (Vault's policy language, Vault docs/concepts/policies.mdx).
 *
 * Thread safety: a struct acl is immutable after acl_new and may be shared by
 * many threads. */
#ifndef CF_POLICY_H
#define CF_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	CAP_DENY = 1u << 0,
	CAP_CREATE = 1u << 1,
	CAP_READ = 1u << 2,
	CAP_UPDATE = 1u << 3,
	CAP_DELETE = 1u << 4,
	CAP_LIST = 1u << 5,
	CAP_SUDO = 1u << 6,
	CAP_PATCH = 1u << 7,
	CAP_SUBSCRIBE = 1u << 8,
	CAP_ROOT = 1u << 9, /* only from the built-in root policy: everything */
};

struct policy;

/* Parses text as HCL, or JSON when it starts with '{'; text may also be the base64
 * of either. name is lowercased and kept. Legacy `policy = "read|write|deny|sudo"`
 * is translated. Unknown capabilities, bad patterns and syntax errors return
 * CF_EINVAL with a message in err. */
int policy_parse(const char *name, const char *text, struct policy **ret, char *err, size_t errlen);
void policy_free(struct policy *p);
const char *policy_name(const struct policy *p);
/* The policy in canonical JSON form, {"path": {"<pattern>": {"capabilities": [...],
 * ...}}}: one stanza per pattern (leading '/' removed, repeated stanzas merged),
 * sorted capability names, legacy `policy =` translated, wrapping TTLs as integer
 * seconds. Parsing its dump gives back the same policy. Returns a new reference,
 * or NULL on ENOMEM. */
json_t *policy_json(const struct policy *p);

/* The text of the built-in default policy (Vault's built-in policies). */
const char *policy_default_text(void);

struct acl;

/* Merges the policies (identical patterns unioned, deny absorbs). A policy named
 * "root" in names_root makes the ACL root. Policies are not retained. */
int acl_new(struct policy *const *policies, size_t n, bool root, struct acl **ret);
void acl_free(struct acl *a);
bool acl_is_root(const struct acl *a);

/* Capabilities of the one rule chosen for path (exact match first, else the
 * highest-priority glob); CAP_DENY when nothing matches or the rule denies.
 * For a root ACL returns CAP_ROOT | every capability. path is without "/v1/". */
unsigned acl_capabilities(const struct acl *a, const char *path);

/* Parameter constraints of the rule chosen for path (allowed_parameters,
 * denied_parameters, required_parameters; Vault's semantics: keys compared
 * case-insensitively, an empty value list means any value, list items may end
 * or start with '*' as a glob, "*" as a key means every parameter). Checked for
 * writes (create, update, patch) against the request's body. Returns 0, or
 * CF_EDENIED with the reason in err. */
int acl_check_params(const struct acl *a, const char *path, json_t *data, char *err, size_t errlen);

/* Sorted capability names of caps as a new JSON array ("deny" when none,
 * ["root"] for root). */
json_t *acl_caps_json(unsigned caps);

/* Parses one capability name; returns the bit or 0 if unknown. */
unsigned acl_cap_from_name(const char *name);

#endif
