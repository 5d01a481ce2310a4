/* pki_issue.h - roles and certificate issuance of the pki engine
 * (pki_role.c, pki_issue.c): the route handlers and parameter tables pki.c's
 * route table names, the lease hook, and the name policy of a role (Vault's
 * PKI API: roles, issue, sign, sign-verbatim, cert/:serial, certs;
 * docs/pki.md).
 *
 * A role is stored in roles/<name> with every field and its default (Vault
 * overwrites a role as a whole on every write, defaults for what the write
 * leaves out). */
#ifndef CF_ENGINES_PKI_ISSUE_H
#define CF_ENGINES_PKI_ISSUE_H

#include "backend/backend.h"
#include "backend/field.h"
#include "backend/view.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdbool.h>

/* ---- pki_role.c ---- */

extern const struct field pki_role_fields[];

int pki_role_read(struct request *rq, struct response *rs);
int pki_role_write(struct request *rq, struct response *rs);
int pki_role_delete(struct request *rq, struct response *rs);
int pki_role_list(struct request *rq, struct response *rs);
int pki_role_exists(struct request *rq, bool *ret_exists);

/* The role named name from roles/<name>, every field present (defaults
 * applied to a record an older version stored): 0 with a new reference in
 * *ret, CF_ENOTFOUND, or a storage error. */
int pki_role_load(struct view *v, const char *name, json_t **ret);

/* Which names a role allows in a certificate's common name, DNS and email
 * SANs (Vault's PKI API, create/update role: allowed_domains and the allow_*
 * flags). allowed_domains is NULL-terminated (NULL for none). */
struct pki_name_policy {
	const char *const *allowed_domains;
	bool allow_any_name;
	bool allow_localhost;
	bool allow_subdomains;
	bool allow_bare_domains;
	bool allow_glob_domains;
	bool allow_wildcard_certificates;
	bool enforce_hostnames;
};

/* Whether name (a host name, a wildcard such as "*.example.com", or an email
 * address) may appear in a certificate under p. Pure; no allocation. */
bool pki_name_allowed(const struct pki_name_policy *p, const char *name) CF_WARN_UNUSED;

/* Key usage names (Vault's: "DigitalSignature", "KeyEncipherment", ...; any
 * case) to X509v3_KU_* bits. Returns 0 with *ret_bits, or CF_EINVAL with the
 * unknown name in *ret_bad (borrowed from list). */
int pki_key_usage_bits(json_t *list, unsigned *ret_bits, const char **ret_bad);
/* The canonical spelling of an extended key usage name ("serverauth" ->
 * "ServerAuth"), or NULL when Vault has no such name. */
const char *pki_ext_key_usage_name(const char *name);

/* ---- pki_issue.c ---- */

extern const struct field pki_issue_fields[];
extern const struct field pki_sign_fields[];
extern const struct field pki_verbatim_fields[];

int pki_issue(struct request *rq, struct response *rs);         /* issue/:role */
int pki_sign(struct request *rq, struct response *rs);          /* sign/:role */
int pki_sign_verbatim(struct request *rq, struct response *rs); /* sign-verbatim(/:role) */
int pki_cert_read(struct request *rq, struct response *rs);     /* cert/:serial */
int pki_certs_list(struct request *rq, struct response *rs);    /* certs */

/* The backend type's lease_revoke: a certificate issued with generate_lease
 * whose lease is revoked is revoked (pki_revoke_serial); one that has expired
 * already, or is no longer stored, is left alone (success). */
int pki_issue_lease_revoke(struct mount *m, json_t *internal);

#endif
