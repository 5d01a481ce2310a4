/* pki_bulk.c - a test and benchmark helper of the pki engine: store many
 * certificates (and optionally revoke them) fast, through the engine's own
 * signing and storage path, so the scale test and bench/pki_scale can fill a
 * mount with 100,000 certificates in seconds instead of issuing them one HTTP
 * request at a time.
 *
 * POST <mount>/test/bulk-certs {"count": N, "ttl": "1h", "revoked": false}
 * signs N real certificates with the mount's issuer: one made by pki_cert_sign
 * (an EC P-256 subject key; key generation is not what is being measured),
 * the others the same certificate with a new random serial, signed again by
 * the CA, so each is a distinct valid certificate. It writes each as the
 * certs/<serial> row pki_cert_store writes, and with "revoked" also the
 * revoked/<serial> row revoke writes, in transactions of BULK_BATCH rows. It
 * answers {"count", "serials": [the first ten, API form]}. The route exists only
 * in builds with test hooks (util_test_hook) and only while the environment
 * sets COFFER_TEST_PKI_BULK=1; everywhere else it answers 404. */
#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"

#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_BATCH 512
#define BULK_MAX   100000 /* per request */

struct bulk_args {
	int64_t count;
	int64_t ttl;
	bool revoked;
};
#define BP(f) offsetof(struct bulk_args, f)

const struct field pki_bulk_fields[] = {
        {"count", FIELD_INT, FIELD_RANGE | FIELD_REQUIRED, BP(count), .min = 1, .max = BULK_MAX,
         .desc = "test builds with COFFER_TEST_PKI_BULK=1 only (404 otherwise): how many "
                 "certificates to sign and store"},
        {"ttl", FIELD_DURATION, 0, BP(ttl), .def = "1h", .desc = "their lifetime"},
        {"revoked", FIELD_BOOL, 0, BP(revoked), .def = "false",
         .desc = "also record each as revoked (without rebuilding the CRL)"},
        {NULL},
};

struct bulk_row {
	char key[16 + PKI_SERIAL_STRLEN];
	char *val;
	char rkey[16 + PKI_SERIAL_STRLEN];
	char rval[96];
};

static int
flush(struct view *v, struct bulk_row *rows, size_t n, bool revoked)
{
	struct storage_op *ops = calloc(2 * n + 1, sizeof(*ops));
	size_t k = 0;
	int r;

	if (!ops)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ops[k++] = (struct storage_op){STORAGE_PUT, rows[i].key,
		                               (const uint8_t *)rows[i].val, strlen(rows[i].val)};
		if (revoked)
			ops[k++] = (struct storage_op){STORAGE_PUT, rows[i].rkey,
			                               (const uint8_t *)rows[i].rval,
			                               strlen(rows[i].rval)};
	}
	if (revoked) /* the CRL no longer covers every row */
		ops[k++] = (struct storage_op){STORAGE_PUT, "crl/dirty", (const uint8_t *)"1", 1};
	r = view_txn(v, ops, k);
	free(ops);
	return r;
}

/* Gives x a new random positive serial of PKI_SERIAL_BYTES and signs it again
 * with the CA's key. */
static int
next_serial(X509 *x, EVP_PKEY *ca_key)
{
	uint8_t b[PKI_SERIAL_BYTES];
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	int bits = 0, ok;
	const char *type = pki_key_type(ca_key, &bits);

	if (!sn)
		return CF_ENOMEM;
	util_random(b, sizeof(b));
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x01);
	ok = ASN1_STRING_set(sn, b, sizeof(b)) && X509_set_serialNumber(x, sn) &&
	     X509_sign(x, ca_key, type && strcmp(type, "ed25519") == 0 ? NULL : EVP_sha256()) > 0;
	ASN1_INTEGER_free(sn);
	return ok ? 0 : CF_EINTERNAL;
}

/* The rows of x: certs/<serial> as pki_cert_store writes it, revoked/<serial>
 * as revoke writes it. */
static int
row_fill(struct bulk_row *row, X509 *x, int64_t now, int64_t expiration)
{
	char serial[PKI_SERIAL_STRLEN], *pem = pki_cert_pem(x);
	json_t *rec;

	if (!pem)
		return CF_ENOMEM;
	pki_serial_str(X509_get0_serialNumber(x), '-', serial);
	snprintf(row->key, sizeof(row->key), "certs/%s", serial);
	snprintf(row->rkey, sizeof(row->rkey), "revoked/%s", serial);
	snprintf(row->rval, sizeof(row->rval), "{\"revocation_time\":%lld,\"expiration\":%lld}",
	         (long long)now, (long long)expiration);
	rec = json_pack("{s:s, s:I}", "certificate", pem, "expiration", (json_int_t)expiration);
	row->val = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	free(pem);
	return row->val ? 0 : CF_ENOMEM;
}

int
pki_bulk_certs(struct request *rq, struct response *rs)
{
	struct mount *m = rq->mount;
	struct bulk_args a = {0};
	struct pki_issuer *iss = NULL;
	struct bulk_row *rows = NULL;
	EVP_PKEY *key = NULL;
	X509 *tpl = NULL;
	json_t *serials = NULL, *data;
	char err[256], cn[64];
	size_t n = 0;
	int64_t now = util_now(), done = 0;
	int r;

	if (!util_test_hook("COFFER_TEST_PKI_BULK"))
		return CF_ENOROUTE;
	r = field_parse(pki_bulk_fields, rq->data, &a, rs);
	if (r < 0)
		return r;
	iss = pki_issuer_get(m->state);
	if (!iss || !iss->key) {
		(void)response_errorf(rs, "no CA configured for this mount");
		r = CF_EINVAL;
		goto out;
	}
	r = pki_keygen("ec", 256, &key, err, sizeof(err));
	if (r < 0)
		goto out;
	rows = calloc(BULK_BATCH, sizeof(*rows));
	serials = json_array();
	if (!rows || !serials) {
		r = CF_ENOMEM;
		goto out;
	}
	{
		const char *dns[] = {cn, NULL};
		struct pki_cert_params p = {.common_name = cn,
		                            .dns_sans = dns,
		                            .not_before = now - 30,
		                            .not_after = now + a.ttl,
		                            .max_path_length = -1,
		                            .pubkey = key};

		snprintf(cn, sizeof(cn), "bulk.example.com");
		r = pki_cert_sign(iss, NULL, &p, NULL, &tpl, err, sizeof(err));
		if (r < 0) {
			(void)response_errorf(rs, "%s", err);
			goto out;
		}
	}
	for (int64_t i = 0; i < a.count; i++) {
		X509 *x = tpl;

		/* The first certificate is pki_cert_sign's; each next one is that
		 * certificate with a fresh random serial, signed again by the CA
		 * (building the extensions again would only repeat the same work). */
		if (i > 0) {
			r = next_serial(x, iss->key);
			if (r < 0)
				goto out;
		}
		if (i < 10) {
			char api[PKI_SERIAL_STRLEN];
			pki_serial_str(X509_get0_serialNumber(x), ':', api);
			(void)json_array_append_new(serials, json_string(api));
		}
		r = row_fill(&rows[n], x, now, now + a.ttl);
		if (r < 0)
			goto out;
		n++;
		if (n == BULK_BATCH || i + 1 == a.count) {
			r = flush(m->view, rows, n, a.revoked);
			for (size_t k = 0; k < n; k++) {
				free(rows[k].val);
				rows[k].val = NULL;
			}
			done += (int64_t)n;
			n = 0;
			if (r < 0)
				goto out;
		}
	}
	if (a.revoked) { /* the index is read again at the next build */
		struct pki_crl *crl = pki_crl_of(m->state);
		if (crl) {
			pthread_mutex_lock(&crl->mu);
			crl->loaded = false;
			crl->n = 0;
			crl->gen++;
			pthread_mutex_unlock(&crl->mu);
		}
	}
	data = json_pack("{s:I, s:O}", "count", (json_int_t)done, "serials", serials);
	if (!data) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, data);
out:
	for (size_t k = 0; rows && k < n; k++)
		free(rows[k].val);
	free(rows);
	json_decref(serials);
	X509_free(tpl);
	EVP_PKEY_free(key);
	pki_issuer_put(iss);
	return r;
}
