/* tls.c - the listener's certificate and key, replaceable while serving
 * (docs/internals/http.md "TLS certificate reload").
 *
 * libmicrohttpd is started with MHD_OPTION_HTTPS_CERT_CALLBACK instead of a
 * fixed certificate: GnuTLS asks http_tls_retrieve for the certificate chain
 * and key at every handshake, and gets the current set. http_tls_swap builds a
 * new set (checked with OpenSSL first: the key must match the certificate) and
 * makes it current under a mutex; connections already established keep their
 * session and are never touched. GnuTLS does not free what the callback hands
 * it and may use it until that handshake ends, so a replaced set is kept for
 * RETIRE_NS (well beyond the connection timeout) and freed at a later swap or
 * at http_tls_free. There is one listener per process: the callback, which
 * gets no user pointer, reads the module's current set. */
#include "http/http_tls.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 16
#define RETIRE_NS (600LL * 1000000000LL) /* 10 minutes */

struct tls_set {
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned npcerts;
	gnutls_privkey_t key;
	int64_t retired; /* ns; 0 while current */
	struct tls_set *next;
};

struct http_tls {
	struct tls_set *cur;
	struct tls_set *retired; /* newest first */
};

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_tls *tls_active; /* the one the callback serves */

static void
set_free(struct tls_set *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->npcerts; i++)
		gnutls_pcert_deinit(&s->pcerts[i]);
	if (s->key)
		gnutls_privkey_deinit(s->key);
	free(s);
}

/* Checks with OpenSSL that cert_pem starts with a certificate and that
 * key_pem is the private key of it. */
static int
check_pair(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *c = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int r = 0;

	if (!c) {
		snprintf(err, errlen, "the certificate file holds no PEM certificate");
		r = CF_EINVAL;
	} else if (!k) {
		snprintf(err, errlen, "the key file holds no PEM private key");
		r = CF_EINVAL;
	} else if (X509_check_private_key(c, k) != 1) {
		snprintf(err, errlen, "the key does not match the certificate");
		r = CF_EINVAL;
	}
	EVP_PKEY_free(k);
	X509_free(c);
	BIO_free(cb);
	BIO_free(kb);
	return r;
}

static int
set_new(const char *cert_pem, const char *key_pem, struct tls_set **ret, char *err, size_t errlen)
{
	struct tls_set *s;
	gnutls_datum_t d;
	int r, g;

	r = check_pair(cert_pem, key_pem, err, errlen);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CF_ENOMEM;
	s->npcerts = MAX_CHAIN;
	d.data = (unsigned char *)cert_pem;
	d.size = (unsigned)strlen(cert_pem);
	g = gnutls_pcert_list_import_x509_raw(s->pcerts, &s->npcerts, &d, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0) {
		s->npcerts = 0;
		snprintf(err, errlen, "the certificate chain: %s", gnutls_strerror(g));
		goto fail;
	}
	g = gnutls_privkey_init(&s->key);
	if (g < 0) {
		s->key = NULL;
		snprintf(err, errlen, "%s", gnutls_strerror(g));
		goto fail;
	}
	d.data = (unsigned char *)key_pem;
	d.size = (unsigned)strlen(key_pem);
	g = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		snprintf(err, errlen, "the private key: %s", gnutls_strerror(g));
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	set_free(s);
	return CF_EINVAL;
}

int
http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                  const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                  gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	int r = -1;

	(void)session;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&tls_mu);
	if (tls_active && tls_active->cur) {
		*pcert = tls_active->cur->pcerts;
		*pcert_length = tls_active->cur->npcerts;
		*privkey = tls_active->cur->key;
		r = 0;
	}
	pthread_mutex_unlock(&tls_mu);
	return r;
}

int
http_tls_new(const char *cert_pem, const char *key_pem, struct http_tls **ret, char *err,
             size_t errlen)
{
	struct http_tls *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return CF_ENOMEM;
	r = set_new(cert_pem, key_pem, &t->cur, err, errlen);
	if (r < 0) {
		free(t);
		return r;
	}
	pthread_mutex_lock(&tls_mu);
	tls_active = t;
	pthread_mutex_unlock(&tls_mu);
	*ret = t;
	return 0;
}

int
http_tls_swap(struct http_tls *t, const char *cert_pem, const char *key_pem, char *err,
              size_t errlen)
{
	struct tls_set *s = NULL, *old, **pp, *gone = NULL;
	int64_t now = util_now_ns();
	int r;

	r = set_new(cert_pem, key_pem, &s, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&tls_mu);
	old = t->cur;
	t->cur = s;
	old->retired = now;
	old->next = t->retired;
	t->retired = old;
	/* Sets replaced long ago: no handshake can still use them. */
	for (pp = &t->retired; *pp;) {
		if ((*pp)->retired + RETIRE_NS < now) {
			struct tls_set *x = *pp;
			*pp = x->next;
			x->next = gone;
			gone = x;
		} else {
			pp = &(*pp)->next;
		}
	}
	pthread_mutex_unlock(&tls_mu);
	while (gone) {
		old = gone->next;
		set_free(gone);
		gone = old;
	}
	return 0;
}

void
http_tls_free(struct http_tls *t)
{
	struct tls_set *s, *next;

	if (!t)
		return;
	pthread_mutex_lock(&tls_mu);
	if (tls_active == t)
		tls_active = NULL;
	pthread_mutex_unlock(&tls_mu);
	for (s = t->retired; s; s = next) {
		next = s->next;
		set_free(s);
	}
	set_free(t->cur);
	free(t);
}
