/* pki_rev.h - what pki_crl.c, pki_ocsp.c and pki_tidy.c share: the mount's
 * revocation state in memory (st->crl_cache) and the CRL configuration
 * (docs/internals/pki.md "Revocation").
 *
 * The revoked/<serial> rows are the whole revocation state; struct pki_crl
 * only caches them: an index of (serial, revocation time) loaded from the rows
 * the first time a CRL is built (never at mount load, so a restart does not
 * depend on how many certificates were revoked), kept up to date by revoke and
 * tidy, and the last CRL built (DER), also kept in storage under crl/. */
#ifndef CF_ENGINES_PKI_REV_H
#define CF_ENGINES_PKI_REV_H

#include "engines/pki/pki_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKI_SERIAL_MAX 63 /* bytes of a serial the engine accepts */

struct pki_rev_entry {
	int64_t revoked_at; /* unix seconds */
	uint8_t len;
	uint8_t serial[PKI_SERIAL_MAX];
};

struct pki_crl {
	/* Serializes CRL builds; taken before mu when both are needed. */
	pthread_mutex_t build_mu;
	/* Guards everything below. */
	pthread_mutex_t mu;
	bool loaded; /* ents holds every revoked/ row */
	struct pki_rev_entry *ents;
	size_t n, cap;
	uint64_t gen;       /* changes of the index */
	uint64_t built_gen; /* the gen the cached CRL was built from */
	/* The cached CRL and what it was built for. */
	uint8_t *der;
	size_t der_len;
	char issuer_id[65]; /* SHA-256 of the issuer's certificate PEM */
	int64_t next_update;
	int64_t number;
	/* tidy: one run at a time on its own thread, joined at cleanup. */
	pthread_t tidy_thread;
	bool tidy_joinable, tidy_running, tidy_stop;
	json_t *tidy_status; /* tidy-status's answer; NULL before the first run */
};

/* config/crl with its defaults applied, in seconds. */
struct pki_crl_config {
	int64_t expiry;
	bool disable;
	bool ocsp_disable;
	int64_t ocsp_expiry;
	bool auto_rebuild;
	int64_t auto_rebuild_grace_period;
};

/* The mount's revocation cache, created on first use. NULL on out of memory. */
struct pki_crl *pki_crl_of(struct pki_state *st);
/* Reads config/crl (defaults when absent). Returns 0 or a storage error. */
int pki_crl_config_load(struct view *v, struct pki_crl_config *ret);
/* Rebuilds the CRL from the revoked/ rows after tidy removed some (drops the
 * index, so it is read again). Returns 0 or a CF_E* code. */
int pki_crl_reload(struct mount *m);
/* The SHA-256 (hex) of iss's certificate PEM: which issuer a CRL is for. */
void pki_issuer_id(const struct pki_issuer *iss, char out[65]);

/* A CRL (v2, DER in *ret, malloc'd) signed by iss listing ents: this_update
 * now, next_update next, the CRL number and the CA's key id (pki_crl.c). The
 * list is encoded by hand, not through OpenSSL's ASN.1 objects (100,000
 * entries would otherwise be most of a revoke). Returns 0, CF_ENOMEM or
 * CF_EINTERNAL. */
int pki_crl_encode(const struct pki_issuer *iss, const struct pki_rev_entry *ents, size_t n,
                   int64_t now, int64_t next, int64_t number, uint8_t **ret, size_t *ret_len);
/* The revoked certificates listed in a DER CRL, appended to *ents (an array
 * of *cap entries, grown with realloc; *n is set to the count). Reads what
 * pki_crl_encode writes: UTCTime/GeneralizedTime in seconds with 'Z'; any
 * other shape is CF_EINVAL (the caller then reads the revoked/ rows). Returns
 * 0, CF_EINVAL or CF_ENOMEM. */
int pki_crl_entries_decode(const uint8_t *der, size_t der_len, struct pki_rev_entry **ents,
                           size_t *n, size_t *cap);

/* The OCSP responder's core (pki_ocsp.c), pure so it can be fuzzed. lookup
 * answers V_OCSP_CERTSTATUS_GOOD, _REVOKED (with *ret_revoked_at) or _UNKNOWN
 * for a serial in storage form; it is asked only about serials under iss.
 * Answers in *ret (free with OPENSSL_free) a DER OCSPResponse: signed by iss
 * for the certificates asked about (this_update now, next_update now + expiry
 * unless expiry is 0, the nonce copied), malformedRequest for input that is not
 * one DER OCSPRequest of 1..32 certificates, unauthorized when iss is NULL or
 * has no key. Returns 0, CF_ENOMEM or CF_EINTERNAL. */
typedef int (*pki_ocsp_lookup_fn)(void *arg, const char *serial, int64_t *ret_revoked_at);
int pki_ocsp_respond(const struct pki_issuer *iss, const uint8_t *der, size_t len, int64_t now,
                     int64_t expiry, pki_ocsp_lookup_fn lookup, void *arg, uint8_t **ret,
                     size_t *ret_len);
/* Decodes the base64 of GET ocsp/<request> (standard or URL-safe alphabet,
 * padding optional) into *ret (free with secmem_free). Returns 0, CF_EINVAL or
 * CF_ENOMEM. */
int pki_ocsp_b64_decode(const char *in, uint8_t **ret, size_t *ret_len);

#endif
