/* pki.c - the pki secrets engine: mount state (the issuer loaded from
 * ca/bundle), the route table, and the small answers every pki file shares
 * (raw bodies, 400 messages, config/urls). Vault's PKI API; the handlers live
 * in pki_ca.c, pki_role.c, pki_issue.c, pki_crl.c, pki_ocsp.c, pki_tidy.c. */
#include "engines/pki/pki.h"
#include "engines/pki/pki_int.h"

#include "backend/backend.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pki_state *
pki_state_of(struct mount *m)
{
	assert(m->state != NULL);
	return m->state;
}

static int
pki_init(struct mount *m, struct core *c)
{
	struct pki_state *st = calloc(1, sizeof(*st));
	int r;

	(void)c;
	if (!st)
		return CF_ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->ca_mu, NULL);
	m->state = st;
	if (!m->view)
		return 0;
	r = pki_issuer_load(m->view, &st->issuer);
	if (r < 0 && r != CF_ENOTFOUND)
		/* The mount still serves: a new CA can be configured over it. */
		log_error("pki %s: the CA bundle cannot be loaded (%s); the mount has no CA",
		          m->path ? m->path : "", cf_strerror(r));
	return 0;
}

static void
pki_cleanup(struct mount *m)
{
	struct pki_state *st = m->state;

	if (!st)
		return;
	pki_issuer_put(st->issuer);
	pki_crl_cleanup(st);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->ca_mu);
	free(st);
	m->state = NULL;
}

int
pki_fail(struct response *rs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)response_errorf(rs, "%s", msg);
	return CF_EINVAL;
}

int
pki_urls_load(struct view *v, json_t **ret)
{
	static const char *const names[] = {"issuing_certificates", "crl_distribution_points",
	                                    "ocsp_servers"};
	json_t *rec = NULL;
	int r;

	r = view_get_object(v, "config/urls", &rec);
	if (r == CF_ENOTFOUND) {
		rec = json_object();
		r = rec ? 0 : CF_ENOMEM;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!json_is_array(json_object_get(rec, names[i])) &&
		    json_object_set_new(rec, names[i], json_array()) < 0) {
			json_decref(rec);
			return CF_ENOMEM;
		}
	}
	*ret = rec;
	return 0;
}

/* ---- routes ----
 * One section per group of files, so each can add its rows on its own.
 * First match wins: cert/ca, cert/ca_chain and cert/crl come before cert/+. */
static const struct route pki_routes[] = {
        /* -- CA (pki_ca.c) -- */
        {"root/generate/+", .write = pki_ca_root_generate, .fields = pki_ca_root_fields},
        {"root/sign-intermediate", .write = pki_ca_sign_intermediate,
         .fields = pki_ca_sign_intermediate_fields},
        {"root/sign-self-issued", R_SUDO, .write = pki_ca_sign_self_issued,
         .fields = pki_ca_sign_self_issued_fields},
        {"root", R_SUDO, .delete = pki_ca_root_delete},
        {"intermediate/generate/+", .write = pki_ca_intermediate_generate,
         .fields = pki_ca_intermediate_fields},
        {"intermediate/set-signed", .write = pki_ca_set_signed, .fields = pki_ca_set_signed_fields},
        {"config/ca", .write = pki_ca_config_ca, .fields = pki_ca_config_ca_fields},
        {"config/urls", R_PURE_READ, .read = pki_ca_urls_read, .write = pki_ca_urls_write,
         .fields = pki_ca_urls_fields},
        {"ca", R_NOAUTH | R_PURE_READ, .read = pki_ca_read},
        {"ca/pem", R_NOAUTH | R_PURE_READ, .read = pki_ca_read},
        {"ca_chain", R_NOAUTH | R_PURE_READ, .read = pki_ca_read},
        {"cert/ca", R_NOAUTH | R_PURE_READ, .read = pki_ca_read},
        {"cert/ca_chain", R_NOAUTH | R_PURE_READ, .read = pki_ca_read},
        /* the revocation section's, here so that it comes before cert/+ */
        {"cert/crl", R_NOAUTH, .read = pki_crl_read_json},
        /* -- end CA -- */

        /* -- roles, issue, sign (pki_role.c, pki_issue.c) -- */
        {"roles", .list = pki_role_list},
        {"roles/", .list = pki_role_list},
        {"roles/+", .read = pki_role_read, .write = pki_role_write, .delete = pki_role_delete,
         .exists = pki_role_exists, .fields = pki_role_fields},
        {"issue/+", .write = pki_issue, .fields = pki_issue_fields},
        {"sign/+", .write = pki_sign, .fields = pki_sign_fields},
        {"sign-verbatim", .write = pki_sign_verbatim, .fields = pki_verbatim_fields},
        {"sign-verbatim/+", .write = pki_sign_verbatim, .fields = pki_verbatim_fields},
        {"certs", .list = pki_certs_list},
        {"certs/", .list = pki_certs_list},
        {"cert/+", R_NOAUTH, .read = pki_cert_read},
        /* -- end issue -- */

        /* -- revocation, CRL, OCSP, tidy (pki_crl.c, pki_ocsp.c, pki_tidy.c) -- */
        {"revoke", .write = pki_crl_revoke, .fields = pki_revoke_fields},
        {"config/crl", R_PURE_READ, .read = pki_crl_config_read, .write = pki_crl_config_write,
         .fields = pki_crl_config_fields},
        {"crl", R_NOAUTH, .read = pki_crl_read_der},
        {"crl/pem", R_NOAUTH, .read = pki_crl_read_pem},
        {"crl/rotate", .read = pki_crl_rotate},
        {"certs/revoked", R_PURE_READ, .list = pki_crl_list_revoked},
        {"certs/revoked/", R_PURE_READ, .list = pki_crl_list_revoked},
        {"ocsp", R_NOAUTH, .write = pki_ocsp_post},
        {"ocsp/*", R_NOAUTH | R_PURE_READ, .read = pki_ocsp_get},
        {"tidy", .write = pki_tidy_start, .fields = pki_tidy_fields},
        {"tidy-status", R_PURE_READ, .read = pki_tidy_status},
        {"test/bulk-certs", .write = pki_bulk_certs, .fields = pki_bulk_fields},
        /* -- end revocation -- */
};

const struct backend_type pki_backend = {
        .type = "pki",
        .routes = pki_routes,
        .nroutes = sizeof(pki_routes) / sizeof(pki_routes[0]),
        .init = pki_init,
        .cleanup = pki_cleanup,
        .lease_revoke = pki_issue_lease_revoke,
};
