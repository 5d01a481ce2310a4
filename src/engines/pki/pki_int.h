/* pki_int.h - what the files of the pki secrets engine share: the issuing CA,
 * key generation, building and signing a certificate, the storage layout and
 * serial numbers (docs/internals/pki.md).
 *
 * Files: pki.c (backend type, route table, mount state), pki_ca.c (root and
 * intermediate CAs, config/ca, config/urls, reading the CA), pki_x509.c (the
 * functions below), pki_role.c and pki_issue.c (roles, issue, sign,
 * sign-verbatim, the name and key policy checks), pki_crl.c, pki_ocsp.c and
 * pki_tidy.c (revoke, CRLs, the OCSP responder, tidy).
 *
 * Storage, in the mount's view (so through the barrier):
 *   ca/bundle        {"certificate": PEM, "private_key": PEM PKCS#8 (absent
 *                    when only a certificate was imported), "ca_chain": [PEM
 *                    of the issuers above, nearest first], "key_type"}
 *   ca/pending       {"private_key": PEM PKCS#8, "key_type"}: the key of an
 *                    intermediate/generate waiting for intermediate/set-signed
 *   config/urls      {"issuing_certificates", "crl_distribution_points",
 *                    "ocsp_servers"}: arrays of URLs
 *   config/crl       {"expiry", "disable", "auto_rebuild", ...}
 *   roles/<name>     a role, every field with its default applied
 *   certs/<serial>   {"certificate": PEM, "expiration": unix seconds}
 *   revoked/<serial> {"revocation_time": unix seconds, "expiration": unix
 *                    seconds}: the whole revocation state, one small row per
 *                    revoked certificate; no timer per certificate
 *   crl/...          the CRL files of pki_crl.c
 * In storage keys a serial is lower-case hex pairs joined by '-'; in the API by
 * ':' ("1a:2b:..."), as Vault.
 *
 * The issuer is loaded from ca/bundle at mount load and replaced as a whole
 * when the CA changes (pki_issuer_set); readers take a reference, so a request
 * that signs keeps a consistent issuer while another one replaces it. */
#ifndef CF_ENGINES_PKI_INT_H
#define CF_ENGINES_PKI_INT_H

#include "backend/backend.h"
#include "backend/field.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKI_SERIAL_BYTES 20 /* random serials: 159 bits, positive */

struct pki_issuer {
	_Atomic int refs;
	X509 *cert;
	EVP_PKEY *key;          /* NULL when only a certificate was imported */
	STACK_OF(X509) * chain; /* the issuers above cert, nearest first; may be empty */
	char *cert_pem;
	char *key_type; /* "rsa", "ec", "ed25519" */
};

/* Per-mount state (rq->mount->state). */
struct pki_state {
	pthread_mutex_t lock;      /* guards issuer (the pointer) and crl_cache */
	pthread_mutex_t ca_mu;     /* serializes changes of the CA (pki_ca.c); taken before lock */
	struct pki_issuer *issuer; /* NULL while the mount has no CA */
	void *crl_cache;           /* pki_crl.c's */
};

/* The mount's state (rq->mount->state). */
struct pki_state *pki_state_of(struct mount *m);

/* A new issuer (one reference) owning cert, key (may be NULL) and chain (may
 * be NULL: none), also on error. Returns 0, CF_EINVAL when key does not match
 * cert or the key type is not rsa, ec or ed25519, or CF_ENOMEM. */
int pki_issuer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) * chain, struct pki_issuer **ret);
/* Reads ca/bundle: 0 with a new issuer, CF_ENOTFOUND when the mount has no
 * CA, CF_EIO when the record is damaged, or a storage error. */
int pki_issuer_load(struct view *v, struct pki_issuer **ret);

/* A new reference to the mount's issuer, or NULL when it has none (answer 400
 * "no CA configured for this mount" then). */
struct pki_issuer *pki_issuer_get(struct pki_state *st);
void pki_issuer_put(struct pki_issuer *iss);
/* Stores the bundle of iss in ca/bundle and makes it the mount's issuer (takes
 * the caller's reference). Returns 0 or a CF_E* code (then iss is dropped). */
int pki_issuer_set(struct pki_state *st, struct view *v, struct pki_issuer *iss);

/* A new key pair. key_type "rsa" (bits 2048, 3072, 4096, 8192; 0 = 2048), "ec"
 * (bits 224, 256, 384, 521; 0 = 256), "ed25519" (bits ignored). Returns 0, or
 * CF_EINVAL with a one-line reason in err, or CF_EINTERNAL. */
int pki_keygen(const char *key_type, int bits, EVP_PKEY **ret, char *err, size_t errlen);
/* "rsa", "ec" or "ed25519" for a key, and its size in bits (253 for
 * ed25519, as Go reports it). NULL for other key types. */
const char *pki_key_type(const EVP_PKEY *k, int *ret_bits);

/* What goes into a certificate. Lists are NULL-terminated string arrays (NULL
 * for none). */
struct pki_cert_params {
	const char *common_name;
	const char *const *ou, *const *organization,
	                               *const *country, *const *locality,
	                                                        *const *province,
	                                                                *const *street_address,
	                                                                        *const *postal_code;
	const char *serial_number; /* the subject's serialNumber attribute, not the serial */
	const char *const *dns_sans,
	        *const *ip_sans, *const *uri_sans,
	                                 *const *email_sans,
	                                         *const *other_sans; /* other_sans:
	                                                                "<oid>;UTF8:<value>"
	                                                                as Vault */
	int64_t not_before;                                          /* unix seconds */
	int64_t not_after;
	bool is_ca;
	int max_path_length;              /* -1: none */
	unsigned key_usage;               /* X509v3_KU_* bits; 0: none */
	const char *const *ext_key_usage; /* "ServerAuth", "ClientAuth", "CodeSigning",
	                                   * "EmailProtection", ... as Vault's names */
	const char *const *ext_key_usage_oids;
	int signature_bits; /* 0: the default for the signing key; 256, 384, 512 */
	bool use_pss;       /* RSA-PSS signatures from an RSA issuer */
	const char *const *permitted_dns_domains; /* name constraints on a CA */
	EVP_PKEY *pubkey;                         /* the subject's public key */
	/* When set: the subject as is (use_csr_values, sign-verbatim); the
	 * name fields above are then ignored. */
	const X509_NAME *subject;
	/* A certificate that is not a CA gets basic constraints (CA:FALSE) only
	 * when set (Vault's role basic_constraints_valid_for_non_ca). */
	bool leaf_basic_constraints;
};

/* Builds and signs a certificate: by iss, or self-signed with self_key when
 * iss is NULL (a root). Random PKI_SERIAL_BYTES serial, subject and authority
 * key ids, the mount's config/urls as AIA and CRL distribution points (urls
 * may be NULL). p->pubkey NULL means self_key's (a root). A not_after past the
 * end of iss's certificate is refused (CF_EINVAL), as Vault does. Returns 0,
 * or CF_EINVAL with a one-line reason in err, or CF_EINTERNAL. */
int pki_cert_sign(const struct pki_issuer *iss, EVP_PKEY *self_key, const struct pki_cert_params *p,
                  const json_t *urls, X509 **ret, char *err, size_t errlen);

/* Whether not_after (unix seconds) is past the end of iss's certificate (a
 * certificate it signs may not outlive it, as Vault refuses). */
bool pki_issuer_outlived(const struct pki_issuer *iss, int64_t not_after);

/* A certificate request for k with p's subject and SANs (and a basic
 * constraints CA:TRUE extension when asked): intermediate/generate. Returns 0,
 * CF_EINVAL with a reason in err, or CF_ENOMEM / CF_EINTERNAL. */
int pki_csr_make(EVP_PKEY *k, const struct pki_cert_params *p, bool add_basic_constraints,
                 X509_REQ **ret, char *err, size_t errlen);
/* Parses a PEM CSR and checks its signature by its own key. Returns 0 with
 * *ret, CF_EINVAL with a reason in err (no PEM, bad signature, a key type
 * other than rsa, ec, ed25519), or CF_ENOMEM. */
int pki_csr_parse(const char *pem, X509_REQ **ret, char *err, size_t errlen);
/* The subject alternative names a CSR asks for: 0 with a new object
 * {"alt_names": [DNS names and email addresses], "ip_sans": [text],
 * "uri_sans": [...]} (empty arrays when none), CF_EINVAL when a name is not
 * UTF-8, or CF_ENOMEM. Other name types are left out (use_csr_values,
 * use_csr_sans). */
int pki_csr_names(X509_REQ *req, json_t **ret);

/* Parses a PEM bundle (untrusted: config/ca, set-signed): every
 * CERTIFICATE block in order, and at most one private key (PKCS#8, PKCS#1 or
 * SEC1; not encrypted); other blocks are skipped. Returns 0 with *ret_key
 * (NULL when the bundle has none) and *ret_certs (may be empty), or CF_EINVAL
 * with a reason in err, or CF_ENOMEM. */
int pki_pem_bundle_parse(const char *pem, size_t len, EVP_PKEY **ret_key,
                         STACK_OF(X509) * *ret_certs, char *err, size_t errlen);
/* Re-signs x (a self-issued CA certificate) by iss: issuer name and
 * authority key id become iss's, everything else is kept (sign-self-issued).
 * Returns 0, CF_EINVAL with a reason in err, or CF_ENOMEM / CF_EINTERNAL. */
int pki_cert_resign(const struct pki_issuer *iss, X509 *x, char *err, size_t errlen);

/* Stores x in certs/<serial> (unless the caller's role says no_store). */
int pki_cert_store(struct view *v, X509 *x);

/* A serial as "1a:2b:..." (API form, sep ':') or "1a-2b-..." (storage form,
 * sep '-'), NUL-terminated in buf; serials longer than 63 bytes are refused
 * where they are parsed. */
#define PKI_SERIAL_STRLEN (3 * 64)
void pki_serial_str(const ASN1_INTEGER *serial, char sep, char buf[PKI_SERIAL_STRLEN]);
/* Converts a serial between the two forms (any of ':' and '-' in, sep out).
 * Returns 0 or CF_EINVAL when s is not hex pairs. */
int pki_serial_norm(const char *s, char sep, char buf[PKI_SERIAL_STRLEN]);

/* PEM of a certificate / of a private key (PKCS#8) as new strings (the key's
 * must be freed with secmem_free_str). NULL on out of memory. */
char *pki_cert_pem(X509 *x);
char *pki_key_pem(EVP_PKEY *k);

/* The private key in the form Vault's private_key_format and format ask for:
 * pkcs8 false gives the key type's own form (PKCS#1 for RSA, SEC1 for EC;
 * PKCS#8 for Ed25519, which has no other), der true gives base64 of the DER
 * instead of PEM. A new string to free with secmem_free_str; NULL on out of
 * memory. */
char *pki_key_export(EVP_PKEY *k, bool der, bool pkcs8);
/* A certificate as base64 of its DER (format=der). NULL on out of memory. */
char *pki_cert_b64(X509 *x);

/* config/urls as an object with the three arrays (empty arrays when never
 * set): 0 with a new reference, or a storage error. */
int pki_urls_load(struct view *v, json_t **ret);

/* Adds a formatted message to rs and returns CF_EINVAL (a 400 answer). */
int pki_fail(struct response *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Revokes the certificate with that serial (either form; pki_crl.c): records
 * it in revoked/<serial> and rebuilds the CRL (unless config/crl disables it).
 * Revoking an already revoked serial succeeds with its first revocation time;
 * an unknown serial is CF_ENOTFOUND; the CA's own certificate is CF_EINVAL.
 * The lease revoke hook of certificates issued with generate_lease calls it
 * too. */
int pki_revoke_serial(struct mount *m, const char *serial, int64_t *ret_revocation_time);

/* Route handlers and their field tables (the route table is in pki.c), one
 * section per group of files. */

/* -- CA (pki_ca.c) -- */
int pki_ca_root_generate(struct request *rq, struct response *rs);
int pki_ca_root_delete(struct request *rq, struct response *rs);
int pki_ca_sign_intermediate(struct request *rq, struct response *rs);
int pki_ca_sign_self_issued(struct request *rq, struct response *rs);
int pki_ca_intermediate_generate(struct request *rq, struct response *rs);
int pki_ca_set_signed(struct request *rq, struct response *rs);
int pki_ca_config_ca(struct request *rq, struct response *rs);
int pki_ca_urls_read(struct request *rq, struct response *rs);
int pki_ca_urls_write(struct request *rq, struct response *rs);
int pki_ca_read(struct request *rq, struct response *rs); /* ca, ca/pem, ca_chain, cert/ca... */
extern const struct field pki_ca_root_fields[], pki_ca_sign_intermediate_fields[],
        pki_ca_sign_self_issued_fields[], pki_ca_intermediate_fields[], pki_ca_set_signed_fields[],
        pki_ca_config_ca_fields[], pki_ca_urls_fields[];
/* -- end CA -- */

/* -- roles, issue, sign (pki_role.c, pki_issue.c) -- */
/* Roles are stored whole in roles/<name>, every field with its default
 * (Vault overwrites a role on every write, defaults for what a write leaves
 * out). */
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
bool pki_name_allowed(const struct pki_name_policy *p, const char *name)
        __attribute__((warn_unused_result));

/* Whether name is a host name, or "*." and a host name: a common name that
 * Vault also puts in the DNS SANs. */
bool pki_hostname_like(const char *name);

/* Key usage names (Vault's: "DigitalSignature", "KeyEncipherment", ...; any
 * case) to X509v3_KU_* bits. Returns 0 with *ret_bits, or CF_EINVAL with the
 * unknown name in *ret_bad (borrowed from list). */
int pki_key_usage_bits(json_t *list, unsigned *ret_bits, const char **ret_bad);
/* The canonical spelling of an extended key usage name ("serverauth" ->
 * "ServerAuth"), or NULL when Vault has no such name. */
const char *pki_ext_key_usage_name(const char *name);

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
/* -- end issue -- */

/* -- revocation, CRL, OCSP, tidy (pki_crl.c, pki_ocsp.c, pki_tidy.c) -- */
extern const struct field pki_revoke_fields[];
extern const struct field pki_crl_config_fields[];
extern const struct field pki_tidy_fields[];
int pki_crl_revoke(struct request *rq, struct response *rs);       /* revoke */
int pki_crl_config_read(struct request *rq, struct response *rs);  /* config/crl */
int pki_crl_config_write(struct request *rq, struct response *rs); /* config/crl */
int pki_crl_read_der(struct request *rq, struct response *rs);     /* crl */
int pki_crl_read_pem(struct request *rq, struct response *rs);     /* crl/pem */
int pki_crl_read_json(struct request *rq, struct response *rs);    /* cert/crl */
int pki_crl_rotate(struct request *rq, struct response *rs);       /* crl/rotate */
int pki_crl_list_revoked(struct request *rq, struct response *rs); /* certs/revoked */
int pki_ocsp_get(struct request *rq, struct response *rs);         /* ocsp/<b64> */
int pki_ocsp_post(struct request *rq, struct response *rs);        /* ocsp */
int pki_tidy_start(struct request *rq, struct response *rs);       /* tidy */
int pki_tidy_status(struct request *rq, struct response *rs);      /* tidy-status */
/* test/bulk-certs: the scale test's helper (pki_bulk.c; test builds only). */
extern const struct field pki_bulk_fields[];
int pki_bulk_certs(struct request *rq, struct response *rs);
/* Stops a running tidy and frees st->crl_cache (the mount's cleanup). */
void pki_crl_cleanup(struct pki_state *st);
/* -- end revocation -- */

#endif
