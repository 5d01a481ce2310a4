/* pki_crl.c - revocation and CRLs of the pki engine: revoke, config/crl, crl,
 * crl/pem, cert/crl, crl/rotate, certs/revoked (Vault's PKI API, "Revoke
 * certificate", "Set CRL configuration", "Read CRL", "Rotate CRLs").
 *
 * The revocation state is one revoked/<serial> row per revoked certificate. The
 * CRL is built from an index of those rows kept in memory (struct pki_crl,
 * loaded the first time a CRL is built, never at mount load), signed by the
 * issuer, and kept both in memory and in storage:
 *   crl/der    the last CRL, DER
 *   crl/meta   {"number", "issuer" (SHA-256 of the issuer PEM), "this_update",
 *              "next_update", "disabled"}
 *   crl/dirty  present while a revoked/ row may be missing from crl/der (a
 *              revoke writes it with its row; the build that covers every row
 *              deletes it), so a crash between the two never leaves a stale
 *              CRL to serve after a restart.
 * A cached CRL is served until the index changes, the issuer changes, its
 * next_update passes (with auto_rebuild: its grace period before), or
 * config/crl is written; then it is rebuilt on the spot. */
#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CRL_DER   "crl/der"
#define CRL_META  "crl/meta"
#define CRL_DIRTY "crl/dirty"

#define CRL_DEFAULT_EXPIRY    (72 * 3600)
#define OCSP_DEFAULT_EXPIRY   (12 * 3600)
#define REBUILD_DEFAULT_GRACE (12 * 3600)
#define ERRLEN                256

/* ---- the cache ---- */

struct pki_crl *
pki_crl_of(struct pki_state *st)
{
	struct pki_crl *crl;

	pthread_mutex_lock(&st->lock);
	crl = st->crl_cache;
	if (!crl) {
		crl = calloc(1, sizeof(*crl));
		if (crl) {
			pthread_mutex_init(&crl->build_mu, NULL);
			pthread_mutex_init(&crl->mu, NULL);
			st->crl_cache = crl;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return crl;
}

void
pki_crl_cleanup(struct pki_state *st)
{
	struct pki_crl *crl = st->crl_cache;

	if (!crl)
		return;
	pthread_mutex_lock(&crl->mu);
	crl->tidy_stop = true;
	pthread_mutex_unlock(&crl->mu);
	if (crl->tidy_joinable)
		pthread_join(crl->tidy_thread, NULL);
	free(crl->ents);
	free(crl->der);
	json_decref(crl->tidy_status);
	pthread_mutex_destroy(&crl->mu);
	pthread_mutex_destroy(&crl->build_mu);
	free(crl);
	st->crl_cache = NULL;
}

void
pki_issuer_id(const struct pki_issuer *iss, char out[65])
{
	util_sha256_hex(iss->cert_pem, strlen(iss->cert_pem), out);
}

/* ---- config/crl ---- */

/* Durations are kept as the client wrote them ("72h"), as Vault shows them. */
struct crl_config_args {
	const char *expiry, *ocsp_expiry, *auto_rebuild_grace_period, *delta_rebuild_interval;
	bool disable, ocsp_disable, auto_rebuild, enable_delta;
};
#define CP(f) offsetof(struct crl_config_args, f)

const struct field pki_crl_config_fields[] = {
        {"expiry", FIELD_STRING, 0, CP(expiry), .def = "72h",
         .desc = "how long a CRL is valid: its next_update is this long after it is built"},
        {"disable", FIELD_BOOL, 0, CP(disable), .def = "false",
         .desc = "publish an empty CRL (revocations are still recorded and seen by OCSP)"},
        {"ocsp_disable", FIELD_BOOL, 0, CP(ocsp_disable), .def = "false",
         .desc = "the OCSP responder answers \"unauthorized\""},
        {"ocsp_expiry", FIELD_STRING, 0, CP(ocsp_expiry), .def = "12h",
         .desc = "next_update of OCSP answers after their this_update; 0: none"},
        {"auto_rebuild", FIELD_BOOL, 0, CP(auto_rebuild), .def = "false",
         .desc = "rebuild the CRL when it is read within the grace period of its expiry"},
        {"auto_rebuild_grace_period", FIELD_STRING, 0, CP(auto_rebuild_grace_period), .def = "12h",
         .desc = "how long before next_update auto_rebuild rebuilds"},
        {"enable_delta", FIELD_BOOL, 0, CP(enable_delta), .def = "false",
         .desc = "accepted and stored; delta CRLs are not built"},
        {"delta_rebuild_interval", FIELD_STRING, 0, CP(delta_rebuild_interval), .def = "15m",
         .desc = "accepted and stored; delta CRLs are not built"},
        {NULL},
};

static const char *const crl_duration_fields[] = {
        "expiry", "ocsp_expiry", "auto_rebuild_grace_period", "delta_rebuild_interval", NULL};

static int
config_record(struct view *v, json_t **ret)
{
	json_t *rec = NULL;
	int r;

	r = view_get_object(v, "config/crl", &rec);
	if (r == CF_ENOTFOUND) {
		rec = json_object();
		r = rec ? 0 : CF_ENOMEM;
	}
	if (r == 0)
		r = field_defaults(pki_crl_config_fields, rec);
	if (r < 0) {
		json_decref(rec);
		return r;
	}
	*ret = rec;
	return 0;
}

static int64_t
record_duration(json_t *rec, const char *name, int64_t def)
{
	const char *s = json_string_value(json_object_get(rec, name));
	int64_t secs;

	if (!s || duration_parse(s, &secs) < 0)
		return def;
	return secs;
}

int
pki_crl_config_load(struct view *v, struct pki_crl_config *ret)
{
	json_t *rec;
	int r;

	r = config_record(v, &rec);
	if (r < 0)
		return r;
	ret->expiry = record_duration(rec, "expiry", CRL_DEFAULT_EXPIRY);
	ret->ocsp_expiry = record_duration(rec, "ocsp_expiry", OCSP_DEFAULT_EXPIRY);
	ret->auto_rebuild_grace_period =
	        record_duration(rec, "auto_rebuild_grace_period", REBUILD_DEFAULT_GRACE);
	ret->disable = json_is_true(json_object_get(rec, "disable"));
	ret->ocsp_disable = json_is_true(json_object_get(rec, "ocsp_disable"));
	ret->auto_rebuild = json_is_true(json_object_get(rec, "auto_rebuild"));
	json_decref(rec);
	return 0;
}

int
pki_crl_config_read(struct request *rq, struct response *rs)
{
	json_t *rec;
	int r;

	r = config_record(rq->mount->view, &rec);
	if (r < 0)
		return r;
	response_set_data(rs, rec);
	return 0;
}

static int crl_build(struct mount *m, struct pki_state *st, struct pki_crl *crl, uint64_t want,
                     bool force, char *err, size_t errlen);

int
pki_crl_config_write(struct request *rq, struct response *rs)
{
	struct mount *m = rq->mount;
	struct pki_crl *crl = pki_crl_of(m->state);
	json_t *rec = NULL;
	char err[ERRLEN];
	int r;

	if (!crl)
		return CF_ENOMEM;
	r = config_record(m->view, &rec);
	if (r == 0)
		r = field_merge(pki_crl_config_fields, rq->data, rec, rs);
	if (r < 0)
		goto out;
	for (size_t i = 0; crl_duration_fields[i]; i++) {
		const char *s = json_string_value(json_object_get(rec, crl_duration_fields[i]));
		int64_t secs;
		int e = s ? duration_parse(s, &secs) : CF_EINVAL;
		if (e < 0) {
			r = CF_EINVAL;
			(void)response_errorf(rs, "invalid value for %s: %s",
			                      crl_duration_fields[i], duration_strerror(e));
			goto out;
		}
		if (secs == 0 && strcmp(crl_duration_fields[i], "expiry") == 0) {
			r = CF_EINVAL;
			(void)response_errorf(rs, "invalid value for expiry: must be positive");
			goto out;
		}
	}
	r = view_put_json(m->view, "config/crl", rec);
	if (r < 0)
		goto out;
	/* As Vault: a new configuration takes effect at once (a CRL with the new
	 * expiry, or an empty one when disabled). Without a CA there is nothing
	 * to build yet. */
	pthread_mutex_lock(&crl->mu);
	crl->gen++;
	pthread_mutex_unlock(&crl->mu);
	if (crl_build(m, m->state, crl, 0, true, err, sizeof(err)) < 0)
		(void)response_warnf(rs, "the CRL was not rebuilt: %s", err);
out:
	json_decref(rec);
	return r;
}

/* ---- the index of revoked serials ---- */

/* Serial bytes from the storage form ("1a-2b-..."), without leading zero
 * bytes (an INTEGER's magnitude). Returns 0 or CF_EINVAL. */
static int
serial_bytes(const char *s, struct pki_rev_entry *e)
{
	char hex[2 * PKI_SERIAL_MAX + 1];
	size_t n = 0, len, skip = 0;

	for (; *s; s++) {
		if (*s == '-' || *s == ':')
			continue;
		if (n + 1 >= sizeof(hex))
			return CF_EINVAL;
		hex[n++] = *s;
	}
	hex[n] = '\0';
	if (n == 0 || util_unhex(hex, e->serial, sizeof(e->serial), &len) < 0)
		return CF_EINVAL;
	while (skip + 1 < len && e->serial[skip] == 0)
		skip++;
	memmove(e->serial, e->serial + skip, len - skip);
	e->len = (uint8_t)(len - skip);
	return 0;
}

/* Caller holds crl->mu. */
static int
index_add_locked(struct pki_crl *crl, const char *serial, int64_t revoked_at)
{
	struct pki_rev_entry *e;

	if (crl->n == crl->cap) {
		size_t cap = crl->cap ? crl->cap * 2 : 1024;
		e = realloc(crl->ents, cap * sizeof(*e));
		if (!e)
			return CF_ENOMEM;
		crl->ents = e;
		crl->cap = cap;
	}
	e = &crl->ents[crl->n];
	if (serial_bytes(serial, e) < 0)
		return 0; /* not a serial row: never a CRL entry */
	e->revoked_at = revoked_at;
	crl->n++;
	return 0;
}

/* Reads every revoked/ row into the index. Caller holds crl->mu. */
static int
index_load_locked(struct mount *m, struct pki_crl *crl)
{
	char **keys = NULL, key[16 + PKI_SERIAL_STRLEN];
	size_t nkeys = 0;
	int r;

	crl->n = 0;
	r = view_list(m->view, "revoked/", &keys, &nkeys);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nkeys; i++) {
		json_t *row = NULL;
		int64_t at;

		if (keys[i][strlen(keys[i]) - 1] == '/')
			continue;
		snprintf(key, sizeof(key), "revoked/%s", keys[i]);
		r = view_get_object(m->view, key, &row);
		if (r == CF_ENOTFOUND)
			continue; /* tidied meanwhile */
		if (r < 0)
			goto out;
		r = jsonx_int(row, "revocation_time", &at);
		json_decref(row);
		if (r < 0) {
			r = 0; /* a damaged row: left off the CRL, logged */
			log_error("pki: revoked/%s has no revocation_time; left off the CRL",
			          keys[i]);
			continue;
		}
		r = index_add_locked(crl, keys[i], at);
		if (r < 0)
			goto out;
	}
	crl->loaded = true;
out:
	storage_keys_free(keys, nkeys);
	return r;
}

int
pki_crl_reload(struct mount *m)
{
	struct pki_crl *crl = pki_crl_of(m->state);
	char err[ERRLEN];
	int r;

	if (!crl)
		return CF_ENOMEM;
	pthread_mutex_lock(&crl->mu);
	crl->loaded = false;
	crl->n = 0;
	crl->gen++;
	pthread_mutex_unlock(&crl->mu);
	r = crl_build(m, m->state, crl, 0, true, err, sizeof(err));
	if (r < 0)
		log_error("pki: rebuilding the CRL after tidy: %s", err);
	return r;
}

/* ---- building the CRL ---- */

static const EVP_MD *
sign_md(EVP_PKEY *key)
{
	int bits = 0;
	const char *type = pki_key_type(key, &bits);

	if (type && strcmp(type, "ed25519") == 0)
		return NULL;
	if (type && strcmp(type, "ec") == 0 && bits > 256)
		return bits > 384 ? EVP_sha512() : EVP_sha384();
	return EVP_sha256();
}

/* ---- DER by hand for the revoked list ----
 * OpenSSL's ASN.1 machinery allocates and encodes every X509_REVOKED several
 * times; with 100,000 entries that is most of a build. The list is encoded
 * here instead (RFC 5280 5.1: SEQUENCE OF SEQUENCE { userCertificate INTEGER,
 * revocationDate Time }) and spliced into the to-be-signed part of an empty
 * CRL OpenSSL built, then signed with EVP_DigestSign. */

struct der {
	uint8_t *p;
	size_t len, cap;
};

static int
der_reserve(struct der *d, size_t more)
{
	uint8_t *p;
	size_t cap;

	if (d->len + more <= d->cap)
		return 0;
	cap = d->cap ? d->cap : 1024;
	while (cap < d->len + more)
		cap *= 2;
	p = realloc(d->p, cap);
	if (!p)
		return CF_ENOMEM;
	d->p = p;
	d->cap = cap;
	return 0;
}

/* Appends a DER length (definite, shortest form). */
static int
der_len(struct der *d, size_t n)
{
	uint8_t b[9];
	int k = 0;

	if (der_reserve(d, 9) < 0)
		return CF_ENOMEM;
	if (n < 0x80) {
		d->p[d->len++] = (uint8_t)n;
		return 0;
	}
	for (size_t v = n; v > 0; v >>= 8)
		b[k++] = (uint8_t)(v & 0xff);
	d->p[d->len++] = (uint8_t)(0x80 | k);
	while (k > 0)
		d->p[d->len++] = b[--k];
	return 0;
}

static int
der_put(struct der *d, const void *p, size_t n)
{
	if (der_reserve(d, n) < 0)
		return CF_ENOMEM;
	memcpy(d->p + d->len, p, n);
	d->len += n;
	return 0;
}

/* tag, length, contents. */
static int
der_tlv(struct der *d, uint8_t tag, const void *p, size_t n)
{
	if (der_put(d, &tag, 1) < 0 || der_len(d, n) < 0)
		return CF_ENOMEM;
	return der_put(d, p, n);
}

/* One entry: SEQUENCE { INTEGER serial, Time } (UTCTime through 2049, then
 * GeneralizedTime, RFC 5280 5.1.2.4). */
static int
der_entry(struct der *d, const struct pki_rev_entry *e)
{
	uint8_t body[2 + 1 + PKI_SERIAL_MAX + 2 + 16];
	size_t n = 0, len = e->len;
	time_t t = (time_t)e->revoked_at;
	struct tm tm;
	char when[20];
	int wl;

	body[n++] = 0x02;
	if (e->serial[0] & 0x80) { /* positive: a leading zero byte */
		body[n++] = (uint8_t)(len + 1);
		body[n++] = 0;
	} else {
		body[n++] = (uint8_t)len;
	}
	memcpy(body + n, e->serial, len);
	n += len;
	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 < 2050) { /* UTCTime: two-digit year, 1950..2049 */
		wl = snprintf(when, sizeof(when), "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100,
		              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		body[n++] = 0x17;
	} else {
		wl = snprintf(when, sizeof(when), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
		              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		body[n++] = 0x18;
	}
	if (wl <= 0 || (size_t)wl >= sizeof(when))
		return CF_EINTERNAL;
	body[n++] = (uint8_t)wl;
	memcpy(body + n, when, (size_t)wl);
	n += (size_t)wl;
	return der_tlv(d, 0x30, body, n);
}

/* The header of the DER element at p (end: the end of the input): its tag,
 * where its contents start, and its total size. Returns false when it does
 * not fit. */
static bool
der_element(const uint8_t *p, const uint8_t *end, uint8_t *ret_tag, size_t *ret_hdr,
            size_t *ret_size)
{
	size_t len = 0, hdr = 2;

	if (end - p < 2)
		return false;
	if (p[1] & 0x80) {
		size_t k = p[1] & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - p) < 2 + k)
			return false;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | p[2 + i];
		hdr += k;
	} else {
		len = p[1];
	}
	if ((size_t)(end - p) - hdr < len)
		return false;
	*ret_tag = p[0];
	*ret_hdr = hdr;
	*ret_size = hdr + len;
	return true;
}

/* "YYMMDDHHMMSSZ" or "YYYYMMDDHHMMSSZ" (what der_entry writes) to unix
 * seconds. */
static bool
der_time(uint8_t tag, const uint8_t *p, size_t n, int64_t *ret)
{
	struct tm tm = {0};
	int v[7], k = 0, year;
	size_t i = 0;

	if (!((tag == 0x17 && n == 13) || (tag == 0x18 && n == 15)) || p[n - 1] != 'Z')
		return false;
	for (i = 0; i + 1 < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	i = 0;
	if (tag == 0x18) {
		v[k++] = (p[0] - '0') * 10 + (p[1] - '0');
		i = 2;
	}
	for (; i + 1 < n; i += 2)
		v[k++] = (p[i] - '0') * 10 + (p[i + 1] - '0');
	if (tag == 0x18) {
		year = v[0] * 100 + v[1];
		k = 2;
	} else {
		year = v[0] < 50 ? 2000 + v[0] : 1900 + v[0];
		k = 1;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = v[k] - 1;
	tm.tm_mday = v[k + 1];
	tm.tm_hour = v[k + 2];
	tm.tm_min = v[k + 3];
	tm.tm_sec = v[k + 4];
	*ret = (int64_t)timegm(&tm);
	return true;
}

int
pki_crl_entries_decode(const uint8_t *der, size_t der_len, struct pki_rev_entry **ents, size_t *n,
                       size_t *cap)
{
	const uint8_t *p = der, *end = der + der_len;
	size_t hdr, size;
	uint8_t tag;

	*n = 0;
	/* CertificateList { TBSCertList { version, signature, issuer,
	 * thisUpdate, nextUpdate, revokedCertificates?, [0] extensions? } ... } */
	if (!der_element(p, end, &tag, &hdr, &size) || tag != 0x30)
		return CF_EINVAL;
	p += hdr;
	if (!der_element(p, end, &tag, &hdr, &size) || tag != 0x30)
		return CF_EINVAL;
	end = p + size;
	p += hdr;
	for (int i = 0; i < 5; i++) { /* version .. nextUpdate */
		if (!der_element(p, end, &tag, &hdr, &size))
			return CF_EINVAL;
		p += size;
	}
	if (p == end || !der_element(p, end, &tag, &hdr, &size) || tag != 0x30)
		return 0; /* no revokedCertificates */
	end = p + size;
	for (p += hdr; p < end; p += size) {
		const uint8_t *q, *qe, *v;
		struct pki_rev_entry *e;
		size_t h2, s2, vl;
		uint8_t t2;

		if (!der_element(p, end, &tag, &hdr, &size) || tag != 0x30)
			return CF_EINVAL;
		q = p + hdr;
		qe = p + size;
		if (!der_element(q, qe, &t2, &h2, &s2) || t2 != 0x02)
			return CF_EINVAL;
		v = q + h2;
		vl = s2 - h2;
		if (vl < 1 || (v[0] & 0x80))
			return CF_EINVAL;  /* a serial is a positive INTEGER */
		if (v[0] == 0 && vl > 1) { /* its sign byte */
			v++;
			vl--;
		}
		if (vl > PKI_SERIAL_MAX)
			return CF_EINVAL;
		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 1024;
			void *grown = realloc(*ents, grown_cap * sizeof(**ents));
			if (!grown)
				return CF_ENOMEM;
			*ents = grown;
			*cap = grown_cap;
		}
		e = &(*ents)[*n];
		e->len = (uint8_t)vl;
		memcpy(e->serial, v, vl);
		q += s2;
		if (!der_element(q, qe, &t2, &h2, &s2) ||
		    !der_time(t2, q + h2, s2 - h2, &e->revoked_at))
			return CF_EINVAL;
		(*n)++;
	}
	return 0;
}

/* Fills the index from the stored CRL instead of the rows, when that CRL is
 * known to list every row (crl/meta lists_all, no crl/dirty, the same
 * issuer): one read instead of one per revoked certificate. Caller holds
 * crl->mu. Returns 0, or a negative code when the rows must be read. */
static int
index_seed_locked(struct mount *m, struct pki_crl *crl, const char *issuer_id)
{
	json_t *meta = NULL;
	uint8_t *der = NULL, *dirty = NULL;
	size_t der_len = 0, dirty_len;
	const char *issuer;
	int r = CF_ENOTFOUND;

	crl->n = 0;
	if (view_get_object(m->view, CRL_META, &meta) < 0)
		goto out;
	issuer = json_string_value(json_object_get(meta, "issuer"));
	if (!json_is_true(json_object_get(meta, "lists_all")) || !issuer ||
	    strcmp(issuer, issuer_id) != 0 ||
	    view_get(m->view, CRL_DIRTY, &dirty, &dirty_len) != CF_ENOTFOUND ||
	    view_get(m->view, CRL_DER, &der, &der_len) < 0)
		goto out;
	r = pki_crl_entries_decode(der, der_len, &crl->ents, &crl->n, &crl->cap);
	if (r < 0)
		goto out;
	crl->loaded = true;
	r = 0;
out:
	if (r < 0)
		crl->n = 0;
	free(dirty);
	free(der);
	json_decref(meta);
	return r;
}

int
pki_crl_encode(const struct pki_issuer *iss, const struct pki_rev_entry *ents, size_t n,
               int64_t now, int64_t next, int64_t number, uint8_t **ret, size_t *ret_len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *skid;
	const X509_ALGOR *alg = NULL;
	const ASN1_BIT_STRING *sig0 = NULL;
	EVP_MD_CTX *mctx = NULL;
	struct der list = {0}, tbs = {0}, out = {0}, whole = {0};
	unsigned char *tbs0 = NULL, *algder = NULL, *sig = NULL;
	const uint8_t *p, *end, *body;
	size_t siglen = 0, hdr, size;
	int r = CF_ENOMEM, tbs0len, alglen;
	uint8_t tag;

	if (!crl || !t || !num)
		goto out;
	r = CF_EINTERNAL;
	/* The empty CRL, signed so its algorithm identifiers are set. */
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(iss->cert)) ||
	    !ASN1_TIME_set(t, (time_t)now) || !X509_CRL_set1_lastUpdate(crl, t) ||
	    !ASN1_TIME_set(t, (time_t)next) || !X509_CRL_set1_nextUpdate(crl, t))
		goto out;
	if (!ASN1_INTEGER_set_int64(num, number) ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
		goto out;
	skid = X509_get0_subject_key_id(iss->cert);
	if (skid) {
		akid = AUTHORITY_KEYID_new();
		if (!akid || !(akid->keyid = ASN1_OCTET_STRING_dup(skid)) ||
		    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1)
			goto out;
	}
	if (X509_CRL_sign(crl, iss->key, sign_md(iss->key)) <= 0)
		goto out;
	tbs0len = i2d_re_X509_CRL_tbs(crl, &tbs0);
	X509_CRL_get0_signature(crl, &sig0, &alg);
	alglen = alg ? i2d_X509_ALGOR(alg, &algder) : -1;
	if (tbs0len <= 0 || alglen <= 0)
		goto out;

	/* revokedCertificates, then the new TBSCertList: the empty one's
	 * elements with the list before crlExtensions ([0], tag 0xa0). */
	r = CF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (der_entry(&list, &ents[i]) < 0)
			goto out;
	r = CF_EINTERNAL;
	p = tbs0;
	end = tbs0 + tbs0len;
	if (!der_element(p, end, &tag, &hdr, &size) || tag != 0x30 || size != (size_t)tbs0len)
		goto out;
	body = p + hdr;
	for (p = body; p < end; p += size) {
		if (!der_element(p, end, &tag, &hdr, &size))
			goto out;
		if (tag == 0xa0 && n > 0 && der_tlv(&tbs, 0x30, list.p, list.len) < 0) {
			r = CF_ENOMEM;
			goto out;
		}
		if (der_put(&tbs, p, size) < 0) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	if (der_tlv(&out, 0x30, tbs.p, tbs.len) < 0) { /* out: the TBSCertList */
		r = CF_ENOMEM;
		goto out;
	}
	mctx = EVP_MD_CTX_new();
	if (!mctx || EVP_DigestSignInit(mctx, NULL, sign_md(iss->key), NULL, iss->key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &siglen, out.p, out.len) != 1)
		goto out;
	sig = malloc(siglen + 1);
	if (!sig) {
		r = CF_ENOMEM;
		goto out;
	}
	sig[0] = 0; /* BIT STRING: no unused bits */
	if (EVP_DigestSign(mctx, sig + 1, &siglen, out.p, out.len) != 1)
		goto out;
	r = CF_ENOMEM;
	if (der_put(&out, algder, (size_t)alglen) < 0 || der_tlv(&out, 0x03, sig, siglen + 1) < 0 ||
	    der_tlv(&whole, 0x30, out.p, out.len) < 0)
		goto out;
	*ret = whole.p;
	*ret_len = whole.len;
	whole.p = NULL;
	r = 0;
out:
	free(whole.p);
	free(out.p);
	free(tbs.p);
	free(list.p);
	free(sig);
	OPENSSL_free(tbs0);
	OPENSSL_free(algder);
	EVP_MD_CTX_free(mctx);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return r;
}

/* Reads the CRL kept in storage into an empty cache (once per mount load).
 * Caller holds crl->mu. */
static void
stored_load_locked(struct mount *m, struct pki_crl *crl)
{
	json_t *meta = NULL;
	uint8_t *der = NULL, *dirty = NULL;
	size_t der_len = 0, dirty_len;
	const char *issuer;
	int64_t number = 0, next = 0;

	if (crl->der || crl->number > 0 || view_get_object(m->view, CRL_META, &meta) < 0)
		return;
	(void)jsonx_int(meta, "number", &number);
	crl->number = number;
	(void)jsonx_int(meta, "next_update", &next);
	issuer = json_string_value(json_object_get(meta, "issuer"));
	if (issuer && strlen(issuer) == 64 &&
	    view_get(m->view, CRL_DIRTY, &dirty, &dirty_len) == CF_ENOTFOUND &&
	    view_get(m->view, CRL_DER, &der, &der_len) == 0) {
		crl->der = der;
		crl->der_len = der_len;
		der = NULL;
		memcpy(crl->issuer_id, issuer, 65);
		crl->next_update = next;
		crl->built_gen = crl->gen;
	}
	free(dirty);
	free(der);
	json_decref(meta);
}

/* Whether the cached CRL may be served. Caller holds crl->mu. */
static bool
fresh_locked(const struct pki_crl *crl, const char *issuer_id, const struct pki_crl_config *conf)
{
	int64_t now = util_now(), until = crl->next_update;

	if (conf->auto_rebuild)
		until -= conf->auto_rebuild_grace_period;
	return crl->der && crl->built_gen == crl->gen && strcmp(crl->issuer_id, issuer_id) == 0 &&
	       now < until;
}

/* Builds and stores a new CRL, unless (without force) the cached one covers
 * index generation want and is fresh. err gets a one-line reason on
 * CF_EINVAL (no CA, or a CA without its key). */
static int
crl_build(struct mount *m, struct pki_state *st, struct pki_crl *crl, uint64_t want, bool force,
          char *err, size_t errlen)
{
	struct pki_issuer *iss = pki_issuer_get(st);
	struct pki_crl_config conf;
	struct pki_rev_entry *snap = NULL;
	size_t n = 0;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char id[65], metatext[256];
	struct storage_op ops[3];
	int64_t now, number;
	uint64_t g;
	int r;

	err[0] = '\0';
	if (!iss) {
		util_errf(err, errlen, "no CA configured for this mount");
		return CF_EINVAL;
	}
	if (!iss->key) {
		util_errf(err, errlen,
		          "the CA's private key is not in this mount: cannot sign a CRL");
		pki_issuer_put(iss);
		return CF_EINVAL;
	}
	pki_issuer_id(iss, id);
	r = pki_crl_config_load(m->view, &conf);
	if (r < 0)
		goto out_put;
	pthread_mutex_lock(&crl->build_mu);
	pthread_mutex_lock(&crl->mu);
	stored_load_locked(m, crl);
	if (!force && crl->built_gen >= want && fresh_locked(crl, id, &conf)) {
		pthread_mutex_unlock(&crl->mu);
		goto out;
	}
	if (!conf.disable && !crl->loaded)
		r = index_seed_locked(m, crl, id) == 0 ? 0 : index_load_locked(m, crl);
	g = crl->gen;
	number = crl->number + 1;
	if (r == 0 && !conf.disable && crl->n > 0) {
		snap = malloc(crl->n * sizeof(*snap));
		if (snap) {
			memcpy(snap, crl->ents, crl->n * sizeof(*snap));
			n = crl->n;
		} else {
			r = CF_ENOMEM;
		}
	}
	pthread_mutex_unlock(&crl->mu);
	if (r < 0)
		goto out;

	now = util_now();
	r = pki_crl_encode(iss, snap, n, now, now + conf.expiry, number, &der, &der_len);
	if (r < 0)
		goto out;
	snprintf(metatext, sizeof(metatext),
	         "{\"number\":%lld,\"issuer\":\"%s\",\"this_update\":%lld,\"next_update\":%lld,"
	         "\"entries\":%zu,\"lists_all\":%s}",
	         (long long)number, id, (long long)now, (long long)(now + conf.expiry), n,
	         conf.disable ? "false" : "true");
	ops[0] = (struct storage_op){STORAGE_PUT, CRL_DER, der, der_len};
	ops[1] = (struct storage_op){STORAGE_PUT, CRL_META, (const uint8_t *)metatext,
	                             strlen(metatext)};
	ops[2] = (struct storage_op){STORAGE_DELETE, CRL_DIRTY, NULL, 0};
	pthread_mutex_lock(&crl->mu);
	/* crl/dirty goes only when no revoke came in since the snapshot: revokes
	 * write their row under mu, so gen tells. */
	r = view_txn(m->view, ops, crl->gen == g ? 3 : 2);
	if (r == 0) {
		free(crl->der);
		crl->der = der;
		crl->der_len = der_len;
		der = NULL;
		memcpy(crl->issuer_id, id, sizeof(id));
		crl->next_update = now + conf.expiry;
		crl->number = number;
		crl->built_gen = g;
	}
	pthread_mutex_unlock(&crl->mu);
out:
	pthread_mutex_unlock(&crl->build_mu);
	free(der);
	free(snap);
out_put:
	pki_issuer_put(iss);
	if (r < 0 && !err[0])
		util_errf(err, errlen, "building the CRL: %s", cf_strerror(r));
	return r;
}

/* A copy of the current CRL (rebuilt first when it is stale). */
static int
crl_current(struct request *rq, struct response *rs, uint8_t **ret, size_t *ret_len)
{
	struct mount *m = rq->mount;
	struct pki_crl *crl = pki_crl_of(m->state);
	char err[ERRLEN];
	uint64_t want;
	int r;

	if (!crl)
		return CF_ENOMEM;
	pthread_mutex_lock(&crl->mu);
	want = crl->gen;
	pthread_mutex_unlock(&crl->mu);
	r = crl_build(m, m->state, crl, want, false, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "%s", err);
		return r;
	}
	pthread_mutex_lock(&crl->mu);
	*ret = crl->der ? malloc(crl->der_len) : NULL;
	if (*ret) {
		memcpy(*ret, crl->der, crl->der_len);
		*ret_len = crl->der_len;
	}
	pthread_mutex_unlock(&crl->mu);
	return *ret ? 0 : CF_ENOMEM;
}

/* PEM of a DER CRL, as a new string. */
static char *
crl_pem(const uint8_t *der, size_t len)
{
	static const char head[] = "-----BEGIN X509 CRL-----\n",
	                  tail[] = "-----END X509 CRL-----\n";
	size_t cap = sizeof(head) + sizeof(tail) + (len + 2) / 3 * 4 + len / 48 + 8;
	char *out = malloc(cap), *w;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0, total = 0;

	if (!out || !ctx || len > INT32_MAX) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return NULL;
	}
	memcpy(out, head, sizeof(head) - 1);
	w = out + sizeof(head) - 1;
	EVP_EncodeInit(ctx);
	if (EVP_EncodeUpdate(ctx, (unsigned char *)w, &n, der, (int)len) < 0) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return NULL;
	}
	total = n;
	EVP_EncodeFinal(ctx, (unsigned char *)w + total, &n);
	total += n;
	EVP_ENCODE_CTX_free(ctx);
	memcpy(w + total, tail, sizeof(tail));
	return out;
}

int
pki_crl_read_der(struct request *rq, struct response *rs)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int r;

	r = crl_current(rq, rs, &der, &len);
	if (r == 0)
		r = response_body(rs, "application/pkix-crl", der, len);
	free(der);
	return r;
}

int
pki_crl_read_pem(struct request *rq, struct response *rs)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *pem = NULL;
	int r;

	r = crl_current(rq, rs, &der, &len);
	if (r == 0) {
		pem = crl_pem(der, len);
		r = pem ? response_body(rs, "application/x-pem-file", pem, strlen(pem)) : CF_ENOMEM;
	}
	free(pem);
	free(der);
	return r;
}

int
pki_crl_read_json(struct request *rq, struct response *rs)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *pem = NULL;
	json_t *data;
	int r;

	r = crl_current(rq, rs, &der, &len);
	if (r < 0)
		return r;
	pem = crl_pem(der, len);
	free(der);
	if (!pem)
		return CF_ENOMEM;
	data = json_pack("{s:s, s:i, s:s}", "certificate", pem, "revocation_time", 0,
	                 "revocation_time_rfc3339", "");
	free(pem);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

int
pki_crl_rotate(struct request *rq, struct response *rs)
{
	struct pki_crl *crl = pki_crl_of(rq->mount->state);
	char err[ERRLEN];
	json_t *data;
	int r;

	if (!crl)
		return CF_ENOMEM;
	r = crl_build(rq->mount, rq->mount->state, crl, 0, true, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "%s", err);
		return r;
	}
	data = json_pack("{s:b}", "success", 1);
	if (!data)
		return CF_ENOMEM;
	response_set_data(rs, data);
	return 0;
}

/* ---- revoke ---- */

static void
rfc3339_secs(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The certificate's notAfter from a certs/ row (its "expiration", else the
 * PEM's). */
static int
row_expiration(json_t *row, int64_t *ret)
{
	const char *pem = json_string_value(json_object_get(row, "certificate"));
	X509 *x = NULL;
	BIO *bio;
	int day = 0, sec = 0;
	int r = CF_EIO;

	if (jsonx_int(row, "expiration", ret) == 0)
		return 0;
	if (!pem)
		return CF_EIO;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x && ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x))) {
		*ret = util_now() + (int64_t)day * 86400 + sec;
		r = 0;
	}
	X509_free(x);
	return r;
}

int
pki_revoke_serial(struct mount *m, const char *serial, int64_t *ret_revocation_time)
{
	struct pki_state *st = m->state;
	struct pki_crl *crl = pki_crl_of(st);
	struct pki_issuer *iss = pki_issuer_get(st);
	struct pki_crl_config conf;
	char s[PKI_SERIAL_STRLEN], ca[PKI_SERIAL_STRLEN], key[16 + PKI_SERIAL_STRLEN], err[ERRLEN],
	        rowtext[96];
	json_t *row = NULL;
	struct storage_op ops[2];
	int64_t at = 0, exp = 0;
	uint64_t mine;
	int r;

	if (!crl) {
		r = CF_ENOMEM;
		goto out;
	}
	r = pki_serial_norm(serial, '-', s);
	if (r < 0)
		goto out;
	if (iss) {
		pki_serial_str(X509_get0_serialNumber(iss->cert), '-', ca);
		if (strcmp(ca, s) == 0) {
			r = CF_EINVAL;
			goto out;
		}
	}
	pthread_mutex_lock(&crl->mu);
	snprintf(key, sizeof(key), "revoked/%s", s);
	r = view_get_object(m->view, key, &row);
	if (r == 0) {
		r = jsonx_int(row, "revocation_time", &at);
		pthread_mutex_unlock(&crl->mu);
		if (r < 0)
			r = CF_EIO;
		goto out;
	}
	if (r != CF_ENOTFOUND) {
		pthread_mutex_unlock(&crl->mu);
		goto out;
	}
	snprintf(key, sizeof(key), "certs/%s", s);
	r = view_get_object(m->view, key, &row);
	if (r == 0)
		r = row_expiration(row, &exp);
	if (r < 0) {
		pthread_mutex_unlock(&crl->mu);
		goto out;
	}
	at = util_now();
	snprintf(rowtext, sizeof(rowtext), "{\"revocation_time\":%lld,\"expiration\":%lld}",
	         (long long)at, (long long)exp);
	snprintf(key, sizeof(key), "revoked/%s", s);
	ops[0] = (struct storage_op){STORAGE_PUT, key, (const uint8_t *)rowtext, strlen(rowtext)};
	ops[1] = (struct storage_op){STORAGE_PUT, CRL_DIRTY, (const uint8_t *)"1", 1};
	/* The first revoke after a start: read the index from the stored CRL
	 * while it still lists every row (before crl/dirty is written). */
	if (!crl->loaded && iss) {
		char id[65];
		pki_issuer_id(iss, id);
		(void)index_seed_locked(m, crl, id);
	}
	r = view_txn(m->view, ops, 2);
	if (r == 0 && crl->loaded)
		r = index_add_locked(crl, s, at);
	crl->gen++;
	mine = crl->gen;
	pthread_mutex_unlock(&crl->mu);
	if (r < 0)
		goto out;
	r = pki_crl_config_load(m->view, &conf);
	if (r == 0 && !conf.disable && iss) {
		r = crl_build(m, st, crl, mine, false, err, sizeof(err));
		if (r < 0)
			log_error("pki: revoked %s but the CRL was not rebuilt: %s", s, err);
	}
out:
	json_decref(row);
	pki_issuer_put(iss);
	if (r == 0)
		*ret_revocation_time = at;
	return r;
}

struct revoke_args {
	const char *serial_number;
	const char *certificate;
};
#define RP(f) offsetof(struct revoke_args, f)

const struct field pki_revoke_fields[] = {
        {"serial_number", FIELD_STRING, 0, RP(serial_number),
         .desc = "the certificate's serial, hex pairs joined by ':' or '-'"},
        {"certificate", FIELD_STRING, 0, RP(certificate),
         .desc = "or the certificate itself (PEM); it must be one this mount issued"},
        {NULL},
};

int
pki_crl_revoke(struct request *rq, struct response *rs)
{
	struct revoke_args a = {0};
	char serial[PKI_SERIAL_STRLEN], when[32];
	X509 *x = NULL;
	json_t *data;
	int64_t at;
	int r;

	r = field_parse(pki_revoke_fields, rq->data, &a, rs);
	if (r < 0)
		goto out;
	if ((!a.serial_number || !*a.serial_number) == (!a.certificate || !*a.certificate)) {
		r = CF_EINVAL;
		(void)response_errorf(rs,
		                      "exactly one of serial_number and certificate is required");
		goto out;
	}
	if (a.certificate && *a.certificate) {
		BIO *bio = BIO_new_mem_buf(a.certificate, -1);
		if (bio)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!x) {
			r = CF_EINVAL;
			(void)response_errorf(
			        rs, "invalid value for certificate: not a PEM certificate");
			goto out;
		}
		pki_serial_str(X509_get0_serialNumber(x), ':', serial);
	} else {
		snprintf(serial, sizeof(serial), "%s", a.serial_number);
		if (pki_serial_norm(a.serial_number, ':', serial) < 0) {
			r = CF_EINVAL;
			(void)response_errorf(
			        rs, "invalid value for serial_number: hex pairs joined by ':' "
			            "or '-'");
			goto out;
		}
	}
	r = pki_revoke_serial(rq->mount, serial, &at);
	if (r == CF_ENOTFOUND) {
		/* Vault answers an unknown serial with 400. */
		r = CF_EINVAL;
		(void)response_errorf(rs, "certificate with serial %s not found", serial);
		goto out;
	}
	if (r == CF_EINVAL) {
		(void)response_errorf(rs,
		                      "adding the CA's own certificate to the CRL is not allowed");
		goto out;
	}
	if (r < 0)
		goto out;
	rfc3339_secs(at, when);
	data = json_pack("{s:I, s:s}", "revocation_time", (json_int_t)at, "revocation_time_rfc3339",
	                 when);
	if (!data) {
		r = CF_ENOMEM;
		goto out;
	}
	response_set_data(rs, data);
out:
	X509_free(x);
	field_free(pki_revoke_fields, &a);
	return r;
}

int
pki_crl_list_revoked(struct request *rq, struct response *rs)
{
	char **keys = NULL, serial[PKI_SERIAL_STRLEN];
	size_t n = 0;
	json_t *arr;
	int r;

	r = view_list(rq->mount->view, "revoked/", &keys, &n);
	if (r < 0)
		return r;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (pki_serial_norm(keys[i], ':', serial) < 0)
			continue;
		if (json_array_append_new(arr, json_string(serial)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	storage_keys_free(keys, n);
	if (!arr)
		return CF_ENOMEM;
	return response_keys(rs, arr);
}
