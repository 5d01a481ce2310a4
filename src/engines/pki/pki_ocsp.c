/* pki_ocsp.c - the OCSP responder of the pki engine (RFC 6960; Vault's PKI API
 * "OCSP request"): GET ocsp/<base64 of the DER request> and POST ocsp with
 * Content-Type application/ocsp-request, both without a token, as Vault.
 *
 * Every answer is an OCSPResponse (application/ocsp-response), HTTP 200: a
 * request that does not parse gets malformedRequest, a mount without a CA (or
 * with its key elsewhere) or with ocsp_disable gets unauthorized. Each
 * certificate asked about is good (certs/<serial> exists), revoked (a
 * revoked/<serial> row, with its time) or unknown (never issued here, issued
 * with no_store, or asked about under another issuer), signed by the issuer
 * itself, with the client's nonce echoed. Two point reads per certificate: the
 * responder never needs the CRL index. */
#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"

#include "backend/view.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCSP_MAX_CERTS 32 /* certificates asked about in one request */
#define OCSP_MAX_B64   8192

/* A DER OCSPResponse with that status and no body, in *ret. */
static int
status_only(int status, uint8_t **ret, size_t *ret_len)
{
	OCSP_RESPONSE *resp = OCSP_response_create(status, NULL);
	unsigned char *der = NULL;
	int len, r = CF_ENOMEM;

	if (resp) {
		len = i2d_OCSP_RESPONSE(resp, &der);
		if (len > 0) {
			*ret = der;
			*ret_len = (size_t)len;
			r = 0;
		}
	}
	OCSP_RESPONSE_free(resp);
	return r;
}

/* The status of one certificate asked about: V_OCSP_CERTSTATUS_* and, when
 * revoked, when. */
static int
cert_status(const struct pki_issuer *iss, OCSP_CERTID *cid, pki_ocsp_lookup_fn lookup, void *arg,
            int64_t *ret_at)
{
	ASN1_OBJECT *md_oid = NULL;
	ASN1_INTEGER *serial = NULL;
	const EVP_MD *md;
	OCSP_CERTID *mine;
	char s[PKI_SERIAL_STRLEN];
	bool match;

	if (!OCSP_id_get0_info(NULL, &md_oid, NULL, &serial, cid) || !serial)
		return V_OCSP_CERTSTATUS_UNKNOWN;
	md = EVP_get_digestbyobj(md_oid);
	if (!md)
		return V_OCSP_CERTSTATUS_UNKNOWN;
	mine = OCSP_cert_to_id(md, NULL, iss->cert);
	match = mine && OCSP_id_issuer_cmp(mine, cid) == 0;
	OCSP_CERTID_free(mine);
	if (!match || ASN1_STRING_type(serial) != V_ASN1_INTEGER ||
	    ASN1_STRING_length(serial) < 1 || ASN1_STRING_length(serial) > PKI_SERIAL_MAX)
		return V_OCSP_CERTSTATUS_UNKNOWN;
	pki_serial_str(serial, '-', s);
	return lookup(arg, s, ret_at);
}

static const EVP_MD *
sign_md(EVP_PKEY *key)
{
	int bits = 0;
	const char *type = pki_key_type(key, &bits);

	if (type && strcmp(type, "ed25519") == 0)
		return NULL;
	return EVP_sha256();
}

int
pki_ocsp_respond(const struct pki_issuer *iss, const uint8_t *der, size_t len, int64_t now,
                 int64_t expiry, pki_ocsp_lookup_fn lookup, void *arg, uint8_t **ret,
                 size_t *ret_len)
{
	const unsigned char *p = der;
	OCSP_REQUEST *req = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *now_t = NULL, *next_t = NULL, *rev_t = NULL;
	unsigned char *out = NULL;
	int r, n, outlen;

	if (len > 0 && len < (size_t)INT32_MAX)
		req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	n = req ? OCSP_request_onereq_count(req) : 0;
	if (!req || p != der + len || n <= 0 || n > OCSP_MAX_CERTS) {
		r = status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, ret, ret_len);
		goto out;
	}
	if (!iss || !iss->key) {
		r = status_only(OCSP_RESPONSE_STATUS_UNAUTHORIZED, ret, ret_len);
		goto out;
	}
	r = CF_ENOMEM;
	bs = OCSP_BASICRESP_new();
	now_t = ASN1_TIME_set(NULL, (time_t)now);
	rev_t = ASN1_TIME_new();
	if (!bs || !now_t || !rev_t)
		goto out;
	if (expiry > 0 && !(next_t = ASN1_TIME_set(NULL, (time_t)(now + expiry))))
		goto out;
	for (int i = 0; i < n; i++) {
		OCSP_CERTID *cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
		int64_t at = 0;
		int status = cert_status(iss, cid, lookup, arg, &at);

		if (status == V_OCSP_CERTSTATUS_REVOKED && !ASN1_TIME_set(rev_t, (time_t)at))
			goto out;
		if (!OCSP_basic_add1_status(bs, cid, status, OCSP_REVOKED_STATUS_NOSTATUS,
		                            status == V_OCSP_CERTSTATUS_REVOKED ? rev_t : NULL,
		                            now_t, next_t))
			goto out;
	}
	r = CF_EINTERNAL;
	if (OCSP_copy_nonce(bs, req) <= 0 ||
	    !OCSP_basic_sign(bs, iss->cert, iss->key, sign_md(iss->key), NULL, OCSP_NOCERTS))
		goto out;
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (!resp)
		goto out;
	outlen = i2d_OCSP_RESPONSE(resp, &out);
	if (outlen <= 0)
		goto out;
	*ret = out;
	*ret_len = (size_t)outlen;
	out = NULL;
	r = 0;
out:
	OPENSSL_free(out);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(now_t);
	ASN1_TIME_free(next_t);
	ASN1_TIME_free(rev_t);
	OCSP_REQUEST_free(req);
	return r;
}

int
pki_ocsp_b64_decode(const char *in, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(in);
	char *b64;
	int r;

	if (n == 0 || n > OCSP_MAX_B64)
		return CF_EINVAL;
	b64 = strdup(in);
	if (!b64)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (b64[i] == '-')
			b64[i] = '+';
		else if (b64[i] == '_')
			b64[i] = '/';
	}
	r = util_b64_decode(b64, ret, ret_len);
	free(b64);
	return r;
}

/* The mount's answer for one serial (storage form): two point reads. */
static int
mount_lookup(void *arg, const char *serial, int64_t *ret_at)
{
	struct mount *m = arg;
	char key[16 + PKI_SERIAL_STRLEN];
	json_t *row = NULL;
	bool exists = false;
	int status = V_OCSP_CERTSTATUS_UNKNOWN;

	snprintf(key, sizeof(key), "revoked/%s", serial);
	if (view_get_object(m->view, key, &row) == 0 &&
	    jsonx_int(row, "revocation_time", ret_at) == 0) {
		status = V_OCSP_CERTSTATUS_REVOKED;
	} else {
		snprintf(key, sizeof(key), "certs/%s", serial);
		if (view_object_exists(m->view, key, &exists) == 0 && exists)
			status = V_OCSP_CERTSTATUS_GOOD;
	}
	json_decref(row);
	return status;
}

/* Answers the DER OCSPRequest at der. */
static int
ocsp_answer(struct request *rq, struct response *rs, const uint8_t *der, size_t len)
{
	struct mount *m = rq->mount;
	struct pki_crl_config conf;
	struct pki_issuer *iss = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r;

	r = pki_crl_config_load(m->view, &conf);
	if (r < 0)
		return r;
	if (conf.ocsp_disable) {
		r = status_only(OCSP_RESPONSE_STATUS_UNAUTHORIZED, &out, &outlen);
	} else {
		iss = pki_issuer_get(m->state);
		r = pki_ocsp_respond(iss, der, len, util_now(), conf.ocsp_expiry, mount_lookup, m,
		                     &out, &outlen);
		pki_issuer_put(iss);
	}
	if (r == 0)
		r = response_body(rs, "application/ocsp-response", out, outlen);
	OPENSSL_free(out);
	return r;
}

int
pki_ocsp_post(struct request *rq, struct response *rs)
{
	/* without the OCSP media type the body was JSON: nothing to answer */
	return ocsp_answer(rq, rs, rq->body ? rq->body : (const uint8_t *)"", rq->body_len);
}

/* RFC 6960 appendix A.1: standard base64, percent-decoded by the HTTP layer;
 * the URL-safe alphabet is accepted too, as it survives paths better (a "//"
 * in standard base64 collapses to one '/' when the path is normalised, so such
 * requests must be POSTed). */
int
pki_ocsp_get(struct request *rq, struct response *rs)
{
	const char *in = rq->ncap > 0 ? rq->cap[rq->ncap - 1] : "";
	uint8_t *der = NULL;
	size_t len = 0;
	int r;

	r = pki_ocsp_b64_decode(in, &der, &len);
	if (r == CF_ENOMEM)
		return r;
	if (r < 0)
		return ocsp_answer(rq, rs, (const uint8_t *)"", 0);
	r = ocsp_answer(rq, rs, der, len);
	secmem_free(der, len);
	return r;
}
