/* events_acl.c - who may see an event: the token of a subscriber or of a
 * webhook, looked up by its storage hash, must have `read` on the event's
 * read path under its current policies (docs/internals/events.md "Who sees an
 * event"). The decision goes through the policy module (acl_capabilities) on
 * the ACL the core builds and caches for the token's policy list, so a policy
 * change is seen by the next event. */
#include "events/events_int.h"
#include "core/core.h"
#include "core/token.h"
#include "lib/err.h"
#include "policy/policy.h"

int
events_token_may_read(struct core *c, const char *hash, const char *read_path)
{
	struct token_entry *te = NULL;
	struct acl *acl = NULL;
	void *ref = NULL;
	unsigned caps;
	int r;

	r = token_lookup_hash(core_tokens(c), hash, &te);
	if (r < 0)
		return r == CF_ENOTFOUND ? CF_EDENIED : r;
	if (!read_path) {
		r = 1;
		goto out;
	}
	r = core_acl_get(c, te->policies, &acl, &ref);
	if (r < 0)
		goto out;
	caps = acl_capabilities(acl, read_path);
	r = acl_is_root(acl) || (!(caps & CAP_DENY) && (caps & CAP_READ)) ? 1 : 0;
	core_acl_put(c, ref);
out:
	token_entry_free(te);
	return r;
}
