/* http_tls.h - the listener's certificate and key, replaceable while serving
 * (tls.c). Private to src/http. */
#ifndef CF_HTTP_TLS_H
#define CF_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>

struct http_tls;

/* A certificate set from PEM text: cert_pem the certificate and the chain
 * above it, key_pem its private key (checked to match). It becomes the set
 * http_tls_retrieve serves. Returns 0, CF_EINVAL with the reason in err, or
 * CF_ENOMEM. The PEM buffers stay the caller's (wipe the key). */
int http_tls_new(const char *cert_pem, const char *key_pem, struct http_tls **ret, char *err,
                 size_t errlen);
/* Replaces the set for new handshakes; established connections keep theirs.
 * On error (CF_EINVAL with the reason in err) the current set stays. */
int http_tls_swap(struct http_tls *t, const char *cert_pem, const char *key_pem, char *err,
                  size_t errlen);
void http_tls_free(struct http_tls *t);

/* The GnuTLS certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK). */
int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **pcert, unsigned int *pcert_length,
                      gnutls_privkey_t *privkey);

#endif
