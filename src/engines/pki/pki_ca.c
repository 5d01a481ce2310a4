/* pki_ca.c - the CA of a pki mount, as Vault's PKI API (api-docs/secret/pki):
 * root/generate, root/sign-intermediate, root/sign-self-issued, DELETE root,
 * intermediate/generate and intermediate/set-signed, config/ca, config/urls,
 * and reading the CA (ca, ca/pem, ca_chain, cert/ca, cert/ca_chain).
 *
 * The CA's key lives only in ca/bundle (and a pending intermediate key in
 * ca/pending), both in the mount's view, so through the barrier. It leaves
 * the server once: in the answer of an "exported" generate. Changes of the CA
 * are serialized by the state's ca_mu. */
#include "engines/pki/pki_int.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/duration.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN           256
#define NO_CA            "no CA configured for this mount"
#define BUNDLE_CHAIN_MAX 32

/* What the generate and sign routes read (field_parse). */
struct ca_params {
	const char *type_unused;
	const char *common_name;
	json_t *alt_names, *ip_sans, *uri_sans, *other_sans;
	bool exclude_cn_from_sans;
	json_t *ou, *organization, *country, *locality, *province, *street_address, *postal_code;
	const char *serial_number;
	int64_t ttl;
	const char *not_after;
	int64_t not_before_duration;
	const char *format, *private_key_format, *key_type;
	int64_t key_bits;
	int64_t max_path_length;
	json_t *permitted_dns_domains;
	int64_t signature_bits;
	bool use_pss;
	bool add_basic_constraints;
	const char *csr;
	bool use_csr_values;
	const char *certificate;
	bool require_matching_certificate_algorithms;
	const char *pem_bundle;
};

#define CP(f) offsetof(struct ca_params, f)
#define SUBJECT_FIELDS                                                                             \
	{"alt_names", FIELD_STRLIST, 0, CP(alt_names),                                             \
	 .desc = "DNS names and email addresses for the subject alternative names"},               \
	        {"ip_sans", FIELD_STRLIST, 0, CP(ip_sans), .desc = "IP address SANs"},             \
	        {"uri_sans", FIELD_STRLIST, 0, CP(uri_sans), .desc = "URI SANs"},                  \
	        {"other_sans", FIELD_STRLIST, 0, CP(other_sans),                                   \
	         .desc = "other SANs: <oid>;UTF8:<value>"},                                        \
	        {"exclude_cn_from_sans", FIELD_BOOL, 0, CP(exclude_cn_from_sans),                  \
	         .desc = "do not add the common name to the SANs"},                                \
	        {"ou", FIELD_STRLIST, 0, CP(ou), .desc = "OU (organizational unit) values"},       \
	        {"organization", FIELD_STRLIST, 0, CP(organization), .desc = "O values"},          \
	        {"country", FIELD_STRLIST, 0, CP(country), .desc = "C values"},                    \
	        {"locality", FIELD_STRLIST, 0, CP(locality), .desc = "L values"},                  \
	        {"province", FIELD_STRLIST, 0, CP(province), .desc = "ST values"},                 \
	        {"street_address", FIELD_STRLIST, 0, CP(street_address),                           \
	         .desc = "street address values"},                                                 \
	        {"postal_code", FIELD_STRLIST, 0, CP(postal_code), .desc = "postal code values"},  \
	{                                                                                          \
		"serial_number", FIELD_STRING, 0, CP(serial_number),                               \
		        .desc = "the subject's serialNumber attribute (not the certificate's "     \
		                "serial)"                                                          \
	}
#define VALIDITY_FIELDS                                                                            \
	{"ttl", FIELD_DURATION, 0, CP(ttl),                                                        \
	 .desc = "validity; default the mount's default TTL, at most its max TTL"},                \
	        {"not_after", FIELD_STRING, 0, CP(not_after),                                      \
	         .desc = "the end of validity, UTC (2030-01-02T15:04:05Z); overrides ttl"},        \
	{                                                                                          \
		"not_before_duration", FIELD_DURATION, 0, CP(not_before_duration),                 \
		        .def = "30s", .desc = "backdating of notBefore against clock skew"         \
	}
#define KEY_FIELDS                                                                                 \
	{"key_type", FIELD_STRING, 0, CP(key_type), .def = "rsa", .desc = "rsa, ec or ed25519"},   \
	        {"key_bits", FIELD_INT, 0, CP(key_bits),                                           \
	         .desc = "rsa: 2048 (0), 3072, 4096, 8192; ec: 224, 256 (0), 384, 521"},           \
	{                                                                                          \
		"private_key_format", FIELD_STRING, 0, CP(private_key_format),                     \
		        .def = "der",                                                              \
		        .desc = "der (PKCS#1 or SEC1 as the key type has it) or pkcs8"             \
	}
#define FORMAT_FIELD                                                                               \
	{                                                                                          \
		"format", FIELD_STRING, 0, CP(format), .def = "pem",                               \
		                                       .desc = "pem, der or pem_bundle"            \
	}
#define SIGN_FIELDS                                                                                \
	{"max_path_length",   FIELD_INT,   0,                                                      \
	 CP(max_path_length), .def = "-1", .desc = "the CA's path length constraint; -1: none"},   \
	        {"permitted_dns_domains", FIELD_STRLIST, 0, CP(permitted_dns_domains),             \
	         .desc = "DNS domains the CA may issue for (name constraints)"},                   \
	        {"signature_bits", FIELD_INT, 0, CP(signature_bits),                               \
	         .desc = "256, 384 or 512; 0: the key's default"},                                 \
	{                                                                                          \
		"use_pss", FIELD_BOOL, 0, CP(use_pss), .desc = "RSA-PSS signatures (RSA CAs)"      \
	}

const struct field pki_ca_root_fields[] = {
        {"common_name", FIELD_STRING, FIELD_REQUIRED, CP(common_name),
         .missing = "the common_name field is required", .desc = "the CA's common name"},
        SUBJECT_FIELDS,
        VALIDITY_FIELDS,
        KEY_FIELDS,
        FORMAT_FIELD,
        SIGN_FIELDS,
        {NULL},
};

const struct field pki_ca_intermediate_fields[] = {
        {"common_name", FIELD_STRING, FIELD_REQUIRED, CP(common_name),
         .missing = "the common_name field is required", .desc = "the CSR's common name"},
        SUBJECT_FIELDS,
        KEY_FIELDS,
        FORMAT_FIELD,
        {"add_basic_constraints", FIELD_BOOL, 0, CP(add_basic_constraints),
         .desc = "ask for CA:TRUE in the CSR"},
        {"signature_bits", FIELD_INT, 0, CP(signature_bits),
         .desc = "256, 384 or 512; 0: the key's default"},
        {NULL},
};

const struct field pki_ca_sign_intermediate_fields[] = {
        {"csr", FIELD_STRING, FIELD_REQUIRED, CP(csr), .desc = "the PEM CSR of the intermediate"},
        {"common_name", FIELD_STRING, 0, CP(common_name),
         .desc = "the common name; required unless use_csr_values"},
        {"use_csr_values", FIELD_BOOL, 0, CP(use_csr_values),
         .desc = "take the subject and SANs from the CSR"},
        SUBJECT_FIELDS,
        VALIDITY_FIELDS,
        FORMAT_FIELD,
        SIGN_FIELDS,
        {NULL},
};

const struct field pki_ca_sign_self_issued_fields[] = {
        {"certificate", FIELD_STRING, FIELD_REQUIRED, CP(certificate),
         .desc = "the PEM self-issued CA certificate"},
        {"require_matching_certificate_algorithms", FIELD_BOOL, 0,
         CP(require_matching_certificate_algorithms),
         .desc = "refuse a certificate whose key type differs from the CA's"},
        {NULL},
};

const struct field pki_ca_set_signed_fields[] = {
        {"certificate", FIELD_STRING, FIELD_REQUIRED, CP(certificate),
         .missing = "no certificate provided in the \"certificate\" parameter",
         .desc = "the signed PEM certificate, optionally followed by its issuers"},
        {NULL},
};

const struct field pki_ca_config_ca_fields[] = {
        {"pem_bundle", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET, CP(pem_bundle),
         .desc = "PEM: the CA certificate, its private key, and its issuers"},
        {NULL},
};
#undef CP

/* ---- parameters to a struct pki_cert_params ---- */

#define VECS_MAX 16

/* The NULL-terminated string arrays a pki_cert_params points to (into the
 * request's JSON); freed together. */
struct vecs {
	const char **v[VECS_MAX];
	int n;
};

static void
vecs_free(struct vecs *vv)
{
	for (int i = 0; i < vv->n; i++)
		free(vv->v[i]);
	vv->n = 0;
}

static int
vec_new(struct vecs *vv, size_t n, const char ***ret)
{
	const char **v;

	if (vv->n == VECS_MAX)
		return CF_EINTERNAL;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return CF_ENOMEM;
	vv->v[vv->n++] = v;
	*ret = v;
	return 0;
}

static int
vec_of(struct vecs *vv, json_t *arr, const char *const **ret)
{
	const char **v;
	size_t i, k = 0;
	json_t *e;
	int r;

	*ret = NULL;
	if (json_array_size(arr) == 0)
		return 0;
	r = vec_new(vv, json_array_size(arr), &v);
	if (r < 0)
		return r;
	json_array_foreach(arr, i, e)
	{
		if (json_is_string(e))
			v[k++] = json_string_value(e);
	}
	*ret = v;
	return 0;
}

/* A name that can be a DNS SAN: labels of letters, digits, '-' and '_',
 * optionally a leading "*." (a CN like "Example Root CA" is not). */
static bool
hostname_like(const char *s)
{
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (!*s || *s == '.')
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	}
	return true;
}

/* alt_names and the common name (unless excluded) split into DNS names and
 * email addresses, as Vault does. */
static int
names_split(const struct ca_params *cp, struct vecs *vv, struct pki_cert_params *p)
{
	size_t n = json_array_size(cp->alt_names) + 1, nd = 0, ne = 0, i;
	const char **dns, **email;
	const char *cn = cp->common_name;
	json_t *e;
	int r;

	r = vec_new(vv, n, &dns);
	if (r == 0)
		r = vec_new(vv, n, &email);
	if (r < 0)
		return r;
	if (cn && *cn && !cp->exclude_cn_from_sans) {
		if (strchr(cn, '@'))
			email[ne++] = cn;
		else if (hostname_like(cn))
			dns[nd++] = cn;
	}
	json_array_foreach(cp->alt_names, i, e)
	{
		const char *s = json_string_value(e);
		if (!s || (cn && strcmp(s, cn) == 0 && !cp->exclude_cn_from_sans))
			continue;
		if (strchr(s, '@'))
			email[ne++] = s;
		else
			dns[nd++] = s;
	}
	p->dns_sans = nd ? dns : NULL;
	p->email_sans = ne ? email : NULL;
	return 0;
}

static int
params_build(const struct ca_params *cp, struct vecs *vv, struct pki_cert_params *p)
{
	struct {
		json_t *arr;
		const char *const **slot;
	} lists[] = {
	        {cp->ip_sans, &p->ip_sans},
	        {cp->uri_sans, &p->uri_sans},
	        {cp->other_sans, &p->other_sans},
	        {cp->ou, &p->ou},
	        {cp->organization, &p->organization},
	        {cp->country, &p->country},
	        {cp->locality, &p->locality},
	        {cp->province, &p->province},
	        {cp->street_address, &p->street_address},
	        {cp->postal_code, &p->postal_code},
	        {cp->permitted_dns_domains, &p->permitted_dns_domains},
	};
	int r = 0;

	p->common_name = cp->common_name;
	p->serial_number = cp->serial_number;
	p->signature_bits = (int)cp->signature_bits;
	p->use_pss = cp->use_pss;
	p->max_path_length = cp->max_path_length < 0 ? -1 : (int)cp->max_path_length;
	for (size_t i = 0; r == 0 && i < sizeof(lists) / sizeof(lists[0]); i++)
		r = vec_of(vv, lists[i].arr, lists[i].slot);
	if (r == 0)
		r = names_split(cp, vv, p);
	return r;
}

/* notBefore and notAfter from ttl / not_after / not_before_duration, with the
 * mount's TTLs as Vault's generation does: ttl 0 is the mount's default, and a
 * ttl above the mount's max is lowered to it with a warning. */
static int
validity(struct request *rq, struct response *rs, const struct ca_params *cp,
         struct pki_cert_params *p)
{
	int64_t now = util_now(), ttl = cp->ttl, max = mount_max_ttl(rq->mount), ns;
	char a[32], b[32];

	p->not_before = now - cp->not_before_duration;
	if (cp->not_after && *cp->not_after) {
		if (util_parse_rfc3339(cp->not_after, &ns) < 0)
			return pki_fail(rs, "invalid value for not_after: must be a UTC time like "
			                    "2030-01-02T15:04:05Z");
		p->not_after = ns / 1000000000;
		return 0;
	}
	if (ttl == 0)
		ttl = mount_default_ttl(rq->mount);
	if (ttl > max) {
		duration_format(ttl, a, sizeof(a));
		duration_format(max, b, sizeof(b));
		(void)response_warnf(rs,
		                     "TTL \"%s\" is longer than permitted maxTTL \"%s\", so maxTTL "
		                     "is being used",
		                     a, b);
		ttl = max;
	}
	p->not_after = now + ttl;
	return 0;
}

/* format, private_key_format and key_type (when the route has them). */
static int
params_check(const struct ca_params *cp, struct response *rs)
{
	const char *f = cp->format, *kf = cp->private_key_format, *kt = cp->key_type;

	if (f && strcmp(f, "pem") != 0 && strcmp(f, "der") != 0 && strcmp(f, "pem_bundle") != 0)
		return pki_fail(rs, "invalid value for format: %s (must be pem, der or pem_bundle)",
		                f);
	if (kf && *kf && strcmp(kf, "der") != 0 && strcmp(kf, "pem") != 0 &&
	    strcmp(kf, "pkcs8") != 0)
		return pki_fail(
		        rs, "invalid value for private_key_format: %s (must be der or pkcs8)", kf);
	if (kt && strcmp(kt, "any") == 0)
		return pki_fail(rs,
		                "invalid value for key_type: a CA needs rsa, ec or ed25519, not "
		                "any");
	if (cp->not_before_duration < 0)
		return pki_fail(rs, "not_before_duration cannot be negative");
	/* before the casts to int */
	if (cp->key_bits < 0 || cp->key_bits > 16384)
		return pki_fail(rs, "invalid value for key_bits: %lld", (long long)cp->key_bits);
	if (cp->signature_bits < 0 || cp->signature_bits > 512)
		return pki_fail(rs,
		                "invalid value for signature_bits: %lld (must be 256, 384 or 512)",
		                (long long)cp->signature_bits);
	if (cp->max_path_length > 1000000)
		return pki_fail(rs, "invalid value for max_path_length: %lld",
		                (long long)cp->max_path_length);
	return 0;
}

/* rq->cap[0] of root/generate/+ and intermediate/generate/+. */
static int
export_type(struct request *rq, struct response *rs, bool *ret_exported)
{
	const char *t = rq->cap[0];

	if (strcmp(t, "internal") != 0 && strcmp(t, "exported") != 0)
		return pki_fail(rs, "invalid type %s: must be internal or exported", t);
	*ret_exported = strcmp(t, "exported") == 0;
	return 0;
}

/* ---- answers ---- */

static void
trim_nl(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* x as the answer's format wants it: trimmed PEM, or base64 DER. */
static char *
cert_text(X509 *x, bool der)
{
	char *s = der ? pki_cert_b64(x) : pki_cert_pem(x);

	trim_nl(s);
	return s;
}

static int
set_text(json_t *data, const char *key, char *s)
{
	int r = s && json_object_set_new(data, key, json_string(s)) == 0 ? 0 : CF_ENOMEM;

	free(s);
	return r;
}

/* Adds private_key and private_key_type; with pem_bundle, puts the key in
 * front of the certificate as Vault does. */
static int
answer_key(json_t *data, const struct ca_params *cp, EVP_PKEY *key, const char *certkey)
{
	bool der = strcmp(cp->format, "der") == 0;
	char *k = pki_key_export(
	        key, der, cp->private_key_format && strcmp(cp->private_key_format, "pkcs8") == 0);
	const char *cert = json_string_value(json_object_get(data, certkey));
	char *bundle = NULL;
	size_t n;
	int r = CF_ENOMEM;

	trim_nl(k);
	if (!k || json_object_set_new(data, "private_key", json_string(k)) < 0 ||
	    json_object_set_new(data, "private_key_type", json_string(pki_key_type(key, NULL))) < 0)
		goto out;
	if (strcmp(cp->format, "pem_bundle") == 0 && cert) {
		n = strlen(k) + strlen(cert) + 2;
		bundle = malloc(n);
		if (!bundle)
			goto out;
		snprintf(bundle, n, "%s\n%s", k, cert);
		if (json_object_set_new(data, certkey, json_string(bundle)) < 0)
			goto out;
	}
	r = 0;
out:
	secmem_free_str(bundle);
	secmem_free_str(k);
	return r;
}

static int64_t
not_after_unix(X509 *x)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* pem_bundle: the certificate followed by its chain. */
static int
bundle_chain(json_t *data, json_t *chain)
{
	const char *cert = json_string_value(json_object_get(data, "certificate"));
	size_t i, n = strlen(cert) + 1, o;
	json_t *e;
	char *all;

	json_array_foreach(chain, i, e)
	{
		n += strlen(json_string_value(e)) + 1;
	}
	all = malloc(n);
	if (!all)
		return CF_ENOMEM;
	o = (size_t)snprintf(all, n, "%s", cert);
	json_array_foreach(chain, i, e)
	{
		o += (size_t)snprintf(all + o, n - o, "\n%s", json_string_value(e));
	}
	return set_text(data, "certificate", all);
}

/* The answer for a certificate just signed: certificate, issuing_ca,
 * serial_number, expiration, and with chain ca_chain (the signer and its
 * issuers). iss NULL: x is a root, its own issuer. */
static int
answer_cert(struct response *rs, const struct ca_params *cp, X509 *x, const struct pki_issuer *iss,
            bool chain)
{
	bool der = strcmp(cp->format, "der") == 0;
	X509 *signer = iss ? iss->cert : x;
	char serial[PKI_SERIAL_STRLEN];
	json_t *data = json_object(), *arr = NULL;
	int r;

	pki_serial_str(X509_get0_serialNumber(x), ':', serial);
	if (!data)
		return CF_ENOMEM;
	r = set_text(data, "certificate", cert_text(x, der));
	if (r == 0)
		r = set_text(data, "issuing_ca", cert_text(signer, der));
	if (r == 0 &&
	    (json_object_set_new(data, "serial_number", json_string(serial)) < 0 ||
	     json_object_set_new(data, "expiration", json_integer(not_after_unix(x))) < 0))
		r = CF_ENOMEM;
	if (r == 0 && chain) {
		arr = json_array();
		r = arr && json_object_set_new(data, "ca_chain", arr) == 0 ? 0 : CF_ENOMEM;
		if (r == 0)
			r = json_array_append(arr, json_object_get(data, "issuing_ca")) == 0
			            ? 0
			            : CF_ENOMEM;
		for (int i = 0; r == 0 && i < sk_X509_num(iss->chain); i++) {
			char *s = cert_text(sk_X509_value(iss->chain, i), der);
			r = s && json_array_append_new(arr, json_string(s)) == 0 ? 0 : CF_ENOMEM;
			free(s);
		}
	}
	if (r == 0 && chain && strcmp(cp->format, "pem_bundle") == 0)
		r = bundle_chain(data, arr);
	if (r < 0) {
		json_decref(data);
		return r;
	}
	response_set_data(rs, data);
	return 0;
}

/* Maps an operation's result to the handler's: a reason in err becomes a 400. */
static int
op_fail(struct response *rs, int r, const char *err)
{
	if (r == CF_EINVAL && *err)
		return pki_fail(rs, "%s", err);
	return r;
}

/* ---- root/generate ---- */

/* Makes the key and the self-signed certificate. */
static int
root_make(struct request *rq, struct response *rs, const struct ca_params *cp, EVP_PKEY **ret_key,
          X509 **ret_x)
{
	struct pki_cert_params p = {.max_path_length = -1};
	struct vecs vv = {0};
	char err[ERRLEN] = "";
	json_t *urls = NULL;
	EVP_PKEY *key = NULL;
	int r;

	r = validity(rq, rs, cp, &p);
	if (r == 0)
		r = params_build(cp, &vv, &p);
	if (r == 0)
		r = pki_urls_load(rq->mount->view, &urls);
	if (r == 0)
		r = pki_keygen(cp->key_type, (int)cp->key_bits, &key, err, sizeof(err));
	if (r < 0)
		goto out;
	p.is_ca = true;
	p.key_usage = X509v3_KU_KEY_CERT_SIGN | X509v3_KU_CRL_SIGN;
	r = pki_cert_sign(NULL, key, &p, urls, ret_x, err, sizeof(err));
	if (r == 0) {
		*ret_key = key;
		key = NULL;
	}
out:
	EVP_PKEY_free(key);
	json_decref(urls);
	vecs_free(&vv);
	return op_fail(rs, r, err);
}

int
pki_ca_root_generate(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct ca_params cp = {0};
	struct pki_issuer *iss = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	bool exported = false;
	int r;

	r = export_type(rq, rs, &exported);
	if (r == 0)
		r = field_parse(pki_ca_root_fields, rq->data, &cp, rs);
	if (r == 0)
		r = params_check(&cp, rs);
	if (r < 0)
		goto done;
	pthread_mutex_lock(&st->ca_mu);
	iss = pki_issuer_get(st);
	if (iss) {
		/* Vault: a root is not generated over an existing CA. */
		(void)response_warnf(rs,
		                     "refusing to generate a root certificate over an existing "
		                     "CA certificate; to replace it, DELETE %sroot first",
		                     rq->mount->path);
		goto out;
	}
	r = root_make(rq, rs, &cp, &key, &x);
	if (r == 0)
		r = pki_cert_store(rq->mount->view, x);
	if (r == 0)
		r = answer_cert(rs, &cp, x, NULL, false);
	if (r == 0 && exported)
		r = answer_key(rs->data, &cp, key, "certificate");
	if (r < 0)
		goto out;
	X509_up_ref(x);
	EVP_PKEY_up_ref(key);
	r = pki_issuer_new(x, key, NULL, &iss);
	if (r == 0) {
		r = pki_issuer_set(st, rq->mount->view, iss);
		iss = NULL; /* taken */
	}
out:
	pthread_mutex_unlock(&st->ca_mu);
	pki_issuer_put(iss);
	EVP_PKEY_free(key);
	X509_free(x);
	if (r < 0)
		response_set_data(rs, NULL);
done:
	field_free(pki_ca_root_fields, &cp);
	return r;
}

/* ---- DELETE root ---- */

int
pki_ca_root_delete(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct pki_issuer *old;
	int r;

	(void)rs;
	pthread_mutex_lock(&st->ca_mu);
	r = view_delete(rq->mount->view, "ca/bundle");
	if (r == 0 || r == CF_ENOTFOUND)
		r = view_delete(rq->mount->view, "ca/pending");
	if (r == CF_ENOTFOUND)
		r = 0;
	if (r == 0) {
		pthread_mutex_lock(&st->lock);
		old = st->issuer;
		st->issuer = NULL;
		pthread_mutex_unlock(&st->lock);
		pki_issuer_put(old);
	}
	pthread_mutex_unlock(&st->ca_mu);
	return r;
}

/* ---- root/sign-intermediate ---- */

/* The CA's path length for a CA certificate it signs: Vault lowers the
 * request below the signer's own constraint, and a signer with path length 0
 * signs no CA at all. */
static int
path_length(const struct pki_issuer *iss, struct pki_cert_params *p, struct response *rs)
{
	long ipl = X509_get_pathlen(iss->cert);

	if (ipl == 0)
		return pki_fail(rs, "signing certificate has a max path length of 0, and cannot "
		                    "issue further CA certificates");
	if (ipl > 0 && (p->max_path_length < 0 || p->max_path_length >= ipl))
		p->max_path_length = (int)(ipl - 1);
	return 0;
}

/* use_csr_values: the CSR's subject and SANs replace the request's. */
static int
csr_values(X509_REQ *req, struct ca_params *cp, json_t **ret_names, struct pki_cert_params *p)
{
	json_t *a = NULL;
	int r;

	r = pki_csr_names(req, &a);
	if (r < 0)
		return r;
	cp->alt_names = json_object_get(a, "alt_names");
	cp->ip_sans = json_object_get(a, "ip_sans");
	cp->uri_sans = json_object_get(a, "uri_sans");
	cp->other_sans = NULL;
	cp->exclude_cn_from_sans = true;
	p->subject = X509_REQ_get_subject_name(req);
	*ret_names = a;
	return 0;
}

static int
intermediate_sign(struct request *rq, struct response *rs, struct ca_params *cp,
                  const struct pki_issuer *iss, X509 **ret_x)
{
	struct pki_cert_params p = {.max_path_length = -1};
	json_t *urls = NULL, *csr_names = NULL, *saved[4];
	struct vecs vv = {0};
	char err[ERRLEN] = "";
	X509_REQ *req = NULL;
	int r;

	saved[0] = cp->alt_names;
	saved[1] = cp->ip_sans;
	saved[2] = cp->uri_sans;
	saved[3] = cp->other_sans;
	r = pki_csr_parse(cp->csr, &req, err, sizeof(err));
	if (r == 0 && !cp->use_csr_values && (!cp->common_name || !*cp->common_name))
		r = pki_fail(rs, "the common_name field is required, or must be provided in a CSR "
		                 "with \"use_csr_values\" set to true");
	if (r == 0 && cp->use_csr_values) {
		r = csr_values(req, cp, &csr_names, &p);
		if (r == CF_EINVAL)
			util_errf(err, sizeof(err),
			          "the csr's subject alternative names are not text");
	}
	if (r == 0)
		r = validity(rq, rs, cp, &p);
	if (r == 0)
		r = params_build(cp, &vv, &p);
	if (r == 0)
		r = path_length(iss, &p, rs);
	if (r == 0)
		r = pki_urls_load(rq->mount->view, &urls);
	if (r < 0)
		goto out;
	p.is_ca = true;
	p.key_usage = X509v3_KU_KEY_CERT_SIGN | X509v3_KU_CRL_SIGN;
	p.pubkey = X509_REQ_get0_pubkey(req);
	r = pki_cert_sign(iss, NULL, &p, urls, ret_x, err, sizeof(err));
out:
	/* the request's own lists go back, so field_free releases them */
	cp->alt_names = saved[0];
	cp->ip_sans = saved[1];
	cp->uri_sans = saved[2];
	cp->other_sans = saved[3];
	vecs_free(&vv);
	json_decref(csr_names);
	json_decref(urls);
	X509_REQ_free(req);
	return op_fail(rs, r, err);
}

int
pki_ca_sign_intermediate(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct ca_params cp = {0};
	struct pki_issuer *iss = NULL;
	X509 *x = NULL;
	int r;

	r = field_parse(pki_ca_sign_intermediate_fields, rq->data, &cp, rs);
	if (r == 0)
		r = params_check(&cp, rs);
	if (r < 0)
		goto out;
	iss = pki_issuer_get(st);
	if (!iss) {
		r = pki_fail(rs, NO_CA);
		goto out;
	}
	r = intermediate_sign(rq, rs, &cp, iss, &x);
	if (r == 0)
		r = pki_cert_store(rq->mount->view, x);
	if (r == 0)
		r = answer_cert(rs, &cp, x, iss, true);
out:
	X509_free(x);
	pki_issuer_put(iss);
	field_free(pki_ca_sign_intermediate_fields, &cp);
	return r;
}

/* ---- root/sign-self-issued ---- */

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

int
pki_ca_sign_self_issued(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct ca_params cp = {.format = "pem"};
	struct pki_issuer *iss = NULL;
	char err[ERRLEN] = "";
	X509 *x = NULL;
	int r;

	r = field_parse(pki_ca_sign_self_issued_fields, rq->data, &cp, rs);
	if (r < 0)
		goto out;
	x = pem_cert(cp.certificate);
	if (!x) {
		r = pki_fail(rs, "certificate could not be parsed: it must be one PEM CERTIFICATE");
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
		r = pki_fail(rs, "certificate is not self-issued");
		goto out;
	}
	if (X509_check_ca(x) < 1) {
		r = pki_fail(rs, "certificate is not a CA cert");
		goto out;
	}
	iss = pki_issuer_get(st);
	if (!iss) {
		r = pki_fail(rs, NO_CA);
		goto out;
	}
	if (cp.require_matching_certificate_algorithms &&
	    EVP_PKEY_get_base_id(X509_get0_pubkey(x)) !=
	            EVP_PKEY_get_base_id(X509_get0_pubkey(iss->cert))) {
		r = pki_fail(rs, "existing certificate's key type does not match the CA's");
		goto out;
	}
	r = pki_cert_resign(iss, x, err, sizeof(err));
	if (r == 0)
		r = answer_cert(rs, &cp, x, iss, false);
	r = op_fail(rs, r, err);
	if (r == 0) {
		/* Vault answers only these two */
		json_object_del(rs->data, "serial_number");
		json_object_del(rs->data, "expiration");
	}
out:
	X509_free(x);
	pki_issuer_put(iss);
	field_free(pki_ca_sign_self_issued_fields, &cp);
	return r;
}

/* ---- intermediate/generate and set-signed ---- */

static int
csr_answer(struct response *rs, const struct ca_params *cp, X509_REQ *req)
{
	bool der = strcmp(cp->format, "der") == 0;
	unsigned char *d = NULL;
	char *text = NULL;
	BIO *b;
	int n;

	if (der) {
		n = i2d_X509_REQ(req, &d);
		text = n > 0 ? util_b64_encode(d, (size_t)n) : NULL;
		OPENSSL_free(d);
	} else {
		b = BIO_new(BIO_s_mem());
		if (b && PEM_write_bio_X509_REQ(b, req) == 1) {
			char *mem = NULL;
			long len = BIO_get_mem_data(b, &mem);
			text = len > 0 ? strndup(mem, (size_t)len) : NULL;
		}
		BIO_free(b);
		trim_nl(text);
	}
	if (!text)
		return CF_ENOMEM;
	response_set_data(rs, json_object());
	if (!rs->data) {
		free(text);
		return CF_ENOMEM;
	}
	return set_text(rs->data, "csr", text);
}

static int
pending_store(struct view *v, EVP_PKEY *key)
{
	char *pem = pki_key_pem(key);
	json_t *rec;
	int r;

	if (!pem)
		return CF_ENOMEM;
	rec = json_pack("{s:s, s:s}", "private_key", pem, "key_type", pki_key_type(key, NULL));
	secmem_free_str(pem);
	if (!rec)
		return CF_ENOMEM;
	r = view_put_json(v, "ca/pending", rec);
	json_decref(rec);
	return r;
}

int
pki_ca_intermediate_generate(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct pki_cert_params p = {.max_path_length = -1};
	struct ca_params cp = {0};
	struct vecs vv = {0};
	char err[ERRLEN] = "";
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	bool exported = false;
	int r;

	r = export_type(rq, rs, &exported);
	if (r == 0)
		r = field_parse(pki_ca_intermediate_fields, rq->data, &cp, rs);
	if (r == 0)
		r = params_check(&cp, rs);
	if (r == 0)
		r = params_build(&cp, &vv, &p);
	if (r < 0)
		goto done;
	pthread_mutex_lock(&st->ca_mu);
	r = pki_keygen(cp.key_type, (int)cp.key_bits, &key, err, sizeof(err));
	if (r == 0)
		r = pki_csr_make(key, &p, cp.add_basic_constraints, &req, err, sizeof(err));
	if (r == 0)
		r = csr_answer(rs, &cp, req);
	if (r == 0 && exported)
		r = answer_key(rs->data, &cp, key, "csr");
	/* The key waits in ca/pending; the current CA, if any, keeps serving
	 * until set-signed brings the certificate for it. */
	if (r == 0)
		r = pending_store(rq->mount->view, key);
	pthread_mutex_unlock(&st->ca_mu);
	r = op_fail(rs, r, err);
	if (r < 0)
		response_set_data(rs, NULL);
done:
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	vecs_free(&vv);
	field_free(pki_ca_intermediate_fields, &cp);
	return r;
}

/* The pending key of intermediate/generate: 0 with *ret, CF_ENOTFOUND. */
static int
pending_load(struct view *v, EVP_PKEY **ret)
{
	json_t *rec = NULL;
	const char *pem;
	BIO *b;
	int r;

	r = view_get_object(v, "ca/pending", &rec);
	if (r < 0)
		return r;
	pem = json_string_value(json_object_get(rec, "private_key"));
	b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	*ret = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	json_decref(rec);
	return *ret ? 0 : CF_EIO;
}

/* Orders the certificates after the CA's: each the issuer of the one
 * before; those that fit nowhere follow in the order given. Takes certs
 * (their first is the CA's certificate); *ret_chain gets the rest. */
static int
chain_order(STACK_OF(X509) * certs, X509 **ret_ca, STACK_OF(X509) * *ret_chain)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *cur = sk_X509_shift(certs);

	if (!chain) {
		X509_free(cur);
		sk_X509_pop_free(certs, X509_free);
		return CF_ENOMEM;
	}
	for (X509 *c = cur; c && X509_check_issued(c, c) != X509_V_OK;) {
		X509 *next = NULL;
		for (int i = 0; i < sk_X509_num(certs); i++) {
			if (X509_check_issued(sk_X509_value(certs, i), c) == X509_V_OK) {
				next = sk_X509_delete(certs, i);
				break;
			}
		}
		if (!next || !sk_X509_push(chain, next)) {
			X509_free(next);
			break;
		}
		c = next;
	}
	while (sk_X509_num(certs) > 0) {
		X509 *c = sk_X509_shift(certs);
		if (!sk_X509_push(chain, c))
			X509_free(c);
	}
	sk_X509_free(certs);
	*ret_ca = cur;
	*ret_chain = chain;
	return 0;
}

/* Installs cert (with key and the rest of certs as its chain) as the CA:
 * the common end of set-signed and config/ca. Takes certs and key. */
static int
ca_install(struct request *rq, struct response *rs, STACK_OF(X509) * certs, EVP_PKEY *key)
{
	struct pki_state *st = pki_state_of(rq->mount);
	STACK_OF(X509) *chain = NULL;
	struct pki_issuer *iss = NULL;
	X509 *ca = NULL;
	int r;

	r = chain_order(certs, &ca, &chain);
	if (r < 0) {
		EVP_PKEY_free(key);
		return r;
	}
	if (X509_check_ca(ca) < 1) {
		X509_free(ca);
		EVP_PKEY_free(key);
		sk_X509_pop_free(chain, X509_free);
		return pki_fail(rs, "the given certificate is not marked for CA use and cannot be "
		                    "used with this backend");
	}
	if (!pki_key_type(X509_get0_pubkey(ca), NULL)) {
		X509_free(ca);
		EVP_PKEY_free(key);
		sk_X509_pop_free(chain, X509_free);
		return pki_fail(rs, "the CA certificate's key is not an RSA, EC or Ed25519 key");
	}
	X509_up_ref(ca);
	r = pki_issuer_new(ca, key, chain, &iss);
	if (r == CF_EINVAL)
		r = pki_fail(rs, "public key of certificate does not match private key");
	if (r == 0)
		r = pki_cert_store(rq->mount->view, ca);
	if (r == 0)
		r = pki_issuer_set(st, rq->mount->view, iss);
	else
		pki_issuer_put(iss);
	X509_free(ca);
	return r;
}

/* Puts first the certificate whose key is key (config/ca). */
static int
key_cert_first(STACK_OF(X509) * certs, EVP_PKEY *key)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), key) == 1) {
			X509 *x = sk_X509_delete(certs, i);
			return sk_X509_unshift(certs, x) > 0 ? 0 : CF_ENOMEM;
		}
	}
	return CF_ENOTFOUND;
}

int
pki_ca_set_signed(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct ca_params cp = {0};
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL, *pending = NULL;
	char err[ERRLEN] = "";
	int r;

	r = field_parse(pki_ca_set_signed_fields, rq->data, &cp, rs);
	if (r == 0)
		r = op_fail(rs,
		            pki_pem_bundle_parse(cp.certificate, strlen(cp.certificate), &key,
		                                 &certs, err, sizeof(err)),
		            err);
	if (r == 0 && (key || sk_X509_num(certs) == 0))
		r = pki_fail(rs, "certificate must hold PEM certificates only: the signed "
		                 "certificate first, then its issuers");
	if (r < 0)
		goto out;
	pthread_mutex_lock(&st->ca_mu);
	r = pending_load(rq->mount->view, &pending);
	if (r == CF_ENOTFOUND)
		r = pki_fail(rs, "could not find any existing entry with a private key: generate "
		                 "one with intermediate/generate first");
	if (r == 0 && EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), pending) != 1)
		r = pki_fail(rs, "public key of certificate does not match the pending private "
		                 "key of intermediate/generate");
	if (r == 0) {
		r = ca_install(rq, rs, certs, pending);
		certs = NULL;
		pending = NULL;
	}
	if (r == 0)
		r = view_delete(rq->mount->view, "ca/pending");
	pthread_mutex_unlock(&st->ca_mu);
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pending);
	sk_X509_pop_free(certs, X509_free);
	field_free(pki_ca_set_signed_fields, &cp);
	return r;
}

/* ---- config/ca ---- */

int
pki_ca_config_ca(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	struct ca_params cp = {0};
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL, *pending = NULL;
	char err[ERRLEN] = "";
	bool used_pending = false;
	int r;

	r = field_parse(pki_ca_config_ca_fields, rq->data, &cp, rs);
	if (r == 0)
		r = op_fail(rs,
		            pki_pem_bundle_parse(cp.pem_bundle, strlen(cp.pem_bundle), &key, &certs,
		                                 err, sizeof(err)),
		            err);
	if (r == 0 && sk_X509_num(certs) == 0)
		r = pki_fail(rs, "no certificate found in pem_bundle");
	if (r == 0 && key && key_cert_first(certs, key) < 0)
		r = pki_fail(rs, "no certificate in pem_bundle matches its private key");
	if (r < 0)
		goto out;
	pthread_mutex_lock(&st->ca_mu);
	/* A certificate alone may be the one for the pending key (as set-signed). */
	if (!key && pending_load(rq->mount->view, &pending) == 0 &&
	    EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, 0)), pending) == 1) {
		key = pending;
		pending = NULL;
		used_pending = true;
	}
	r = ca_install(rq, rs, certs, key);
	certs = NULL;
	key = NULL;
	if (r == 0 && used_pending)
		r = view_delete(rq->mount->view, "ca/pending");
	pthread_mutex_unlock(&st->ca_mu);
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pending);
	sk_X509_pop_free(certs, X509_free);
	field_free(pki_ca_config_ca_fields, &cp);
	return r;
}

/* ---- config/urls ---- */

const struct field pki_ca_urls_fields[] = {
        {"issuing_certificates", FIELD_STRLIST, 0, 0,
         .desc = "URLs of the CA certificate (authority information access, caIssuers)"},
        {"crl_distribution_points", FIELD_STRLIST, 0, 0,
         .desc = "URLs of the CRL (CRL distribution points)"},
        {"ocsp_servers", FIELD_STRLIST, 0, 0,
         .desc = "URLs of the OCSP responder (authority information access, OCSP)"},
        {NULL},
};

/* scheme "://" something, no spaces: what a certificate may carry as a URI. */
static bool
url_ok(const char *s)
{
	const char *p = s;

	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0 || !p[3])
		return false;
	for (p += 3; *p; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return false;
	}
	return true;
}

int
pki_ca_urls_read(struct request *rq, struct response *rs)
{
	json_t *urls = NULL;
	int r;

	r = pki_urls_load(rq->mount->view, &urls);
	if (r == 0)
		response_set_data(rs, urls);
	return r;
}

int
pki_ca_urls_write(struct request *rq, struct response *rs)
{
	struct pki_state *st = pki_state_of(rq->mount);
	json_t *urls = NULL, *arr, *e;
	const char *name;
	size_t i;
	int r;

	pthread_mutex_lock(&st->ca_mu);
	r = pki_urls_load(rq->mount->view, &urls);
	if (r == 0)
		r = field_merge(pki_ca_urls_fields, rq->data, urls, rs);
	if (r < 0)
		goto out;
	json_object_foreach(urls, name, arr)
	{
		json_array_foreach(arr, i, e)
		{
			if (r == 0 && !url_ok(json_string_value(e)))
				r = pki_fail(rs, "invalid URL found in %s: %s", name,
				             json_string_value(e));
		}
	}
	if (r == 0)
		r = view_put_json(rq->mount->view, "config/urls", urls);
out:
	pthread_mutex_unlock(&st->ca_mu);
	json_decref(urls);
	return r;
}

/* ---- reading the CA ---- */

/* The CA's certificate and its issuers as PEM, joined by newlines, without
 * the final one (Vault's ca_chain). */
static char *
full_chain(const struct pki_issuer *iss)
{
	size_t n = strlen(iss->cert_pem) + 1, o;
	char *out, *pems[BUNDLE_CHAIN_MAX];
	int k = sk_X509_num(iss->chain);

	if (k > BUNDLE_CHAIN_MAX)
		k = BUNDLE_CHAIN_MAX;
	for (int i = 0; i < k; i++) {
		pems[i] = pki_cert_pem(sk_X509_value(iss->chain, i));
		n += pems[i] ? strlen(pems[i]) + 1 : 0;
	}
	out = malloc(n);
	if (out) {
		o = (size_t)snprintf(out, n, "%s", iss->cert_pem);
		for (int i = 0; i < k; i++) {
			if (pems[i])
				o += (size_t)snprintf(out + o, n - o, "%s", pems[i]);
		}
		trim_nl(out);
	}
	for (int i = 0; i < k; i++)
		free(pems[i]);
	return out;
}

int
pki_ca_read(struct request *rq, struct response *rs)
{
	struct pki_issuer *iss = pki_issuer_get(pki_state_of(rq->mount));
	const char *path = rq->rel;
	unsigned char *der = NULL;
	char *text = NULL;
	int n, r;

	if (!iss)
		return pki_fail(rs, NO_CA);
	if (strcmp(path, "ca") == 0) {
		n = i2d_X509(iss->cert, &der);
		r = n > 0 ? response_body(rs, "application/pkix-cert", der, (size_t)n) : CF_ENOMEM;
		OPENSSL_free(der);
	} else if (strcmp(path, "ca/pem") == 0) {
		r = response_body(rs, "application/pem-file", iss->cert_pem, strlen(iss->cert_pem));
	} else if (strcmp(path, "ca_chain") == 0) {
		text = full_chain(iss);
		r = text ? response_body(rs, "application/pkix-cert", text, strlen(text))
		         : CF_ENOMEM;
	} else if (strcmp(path, "cert/ca") == 0) {
		response_set_data(rs, json_pack("{s:s, s:i}", "certificate", iss->cert_pem,
		                                "revocation_time", 0));
		r = rs->data ? 0 : CF_ENOMEM;
	} else {
		text = full_chain(iss);
		response_set_data(rs, text ? json_pack("{s:s, s:s, s:i}", "certificate", text,
		                                       "ca_chain", text, "revocation_time", 0)
		                           : NULL);
		r = rs->data ? 0 : CF_ENOMEM;
	}
	free(text);
	pki_issuer_put(iss);
	return r;
}
