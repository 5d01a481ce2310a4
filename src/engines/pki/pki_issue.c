/* pki_issue.c - issuing certificates under a role: issue/:role (a new key),
 * sign/:role (a CSR), sign-verbatim (a CSR as it is), the policy checks of
 * the role, the answer in Vault's formats, the lease of generate_lease, and
 * the stored certificates: cert/:serial and certs (Vault's PKI API: generate
 * certificate and key, sign certificate, sign verbatim, read certificate,
 * list certificates). */
#include "engines/pki/pki_int.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/glob.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CSR_MAX_BYTES (64 * 1024)
#define NAMES_MAX     1000 /* SANs of one certificate */

/* The parameters of issue, sign and sign-verbatim (one struct; each route's
 * table names the ones it reads). */
struct sign_req {
	const char *common_name;
	json_t *alt_names, *ip_sans, *uri_sans, *other_sans;
	int64_t ttl;
	const char *format, *private_key_format, *csr, *not_after, *serial_number;
	bool exclude_cn_from_sans, remove_roots_from_chain;
	/* sign-verbatim */
	json_t *key_usage, *ext_key_usage, *ext_key_usage_oids;
	int64_t signature_bits;
	bool use_pss;
};

#define SR(m) offsetof(struct sign_req, m)

#define COMMON_FIELDS                                                                              \
	{"common_name", FIELD_STRING, 0, SR(common_name), .desc = "the CN of the subject"},        \
	        {"alt_names", FIELD_STRLIST, 0, SR(alt_names),                                     \
	         .desc = "DNS and email SANs (names with '@' are emails)"},                        \
	        {"ip_sans", FIELD_STRLIST, 0, SR(ip_sans), .desc = "IP SANs"},                     \
	        {"uri_sans", FIELD_STRLIST, 0, SR(uri_sans), .desc = "URI SANs"},                  \
	        {"other_sans", FIELD_STRLIST, 0, SR(other_sans),                                   \
	         .desc = "other SANs, \"<oid>;UTF8:<value>\""},                                    \
	        {"serial_number", FIELD_STRING, 0, SR(serial_number),                              \
	         .desc = "the subject's serialNumber attribute (not the certificate's serial)"},   \
	{                                                                                          \
		"exclude_cn_from_sans", FIELD_BOOL, 0, SR(exclude_cn_from_sans),                   \
		        .def = "false", .desc = "do not add the CN to the DNS or email SANs"       \
	}

#define OUTPUT_FIELDS                                                                              \
	{"ttl",      FIELD_DURATION,                                                               \
	 0,          SR(ttl),                                                                      \
	 .def = "0", .desc = "validity; default the role's ttl; clamped to its max_ttl"},          \
	        {"not_after", FIELD_STRING, 0, SR(not_after),                                      \
	         .desc = "NotAfter as YYYY-MM-ddTHH:MM:SSZ instead of ttl"},                       \
	        {"format",   FIELD_STRING, 0,                                                      \
	         SR(format), .def = "pem", .desc = "pem, der (base64) or pem_bundle"},             \
	{                                                                                          \
		"remove_roots_from_chain", FIELD_BOOL, 0, SR(remove_roots_from_chain),             \
		        .def = "false", .desc = "leave self-signed CAs out of ca_chain"            \
	}

const struct field pki_issue_fields[] = {
        COMMON_FIELDS,
        OUTPUT_FIELDS,
        {"private_key_format", FIELD_STRING, 0, SR(private_key_format), .def = "der",
         .desc = "der (PKCS#1/SEC1 in PEM or base64) or pkcs8"},
        {NULL},
};

const struct field pki_sign_fields[] = {
        {"csr", FIELD_STRING, FIELD_REQUIRED, SR(csr), .desc = "the PEM certificate request"},
        COMMON_FIELDS,
        OUTPUT_FIELDS,
        {NULL},
};

const struct field pki_verbatim_fields[] = {
        {"csr", FIELD_STRING, FIELD_REQUIRED, SR(csr), .desc = "the PEM certificate request"},
        OUTPUT_FIELDS,
        {"key_usage", FIELD_STRLIST, 0, SR(key_usage),
         .def = "DigitalSignature,KeyAgreement,KeyEncipherment",
         .desc = "key usages when the CSR requests none"},
        {"ext_key_usage", FIELD_STRLIST, 0, SR(ext_key_usage), .def = "",
         .desc = "extended key usages when the CSR requests none"},
        {"ext_key_usage_oids", FIELD_STRLIST, 0, SR(ext_key_usage_oids), .def = "",
         .desc = "extended key usage OIDs when the CSR requests none"},
        {"signature_bits", FIELD_INT, 0, SR(signature_bits), .def = "0",
         .desc = "hash of RSA signatures: 256, 384, 512; 0: the issuer's default"},
        {"use_pss", FIELD_BOOL, 0, SR(use_pss), .def = "false",
         .desc = "RSA-PSS signatures from an RSA issuer"},
        {NULL},
};

/* What goes into the certificate, gathered from the role, the request and
 * the CSR before pki_cert_params is filled. */
struct build {
	char *cn;
	json_t *dns, *email, *ip, *uri, *other; /* arrays of strings */
	char *subj_serial;                      /* the subject's serialNumber attribute */
	const X509_NAME *subject;               /* sign-verbatim: the CSR's, as it is */
	json_t *eku, *eku_oids;                 /* arrays */
	unsigned key_usage;
	int64_t not_before, not_after;
};

static const char *const subj_role_fields[7] = {
        "ou", "organization", "country", "locality", "province", "street_address", "postal_code"};

static bool
role_bool(json_t *role, const char *key)
{
	return json_is_true(json_object_get(role, key));
}

static int64_t
role_int(json_t *role, const char *key)
{
	return json_integer_value(json_object_get(role, key));
}

static const char *
role_str(json_t *role, const char *key)
{
	const char *s = json_string_value(json_object_get(role, key));

	return s ? s : "";
}

/* A NULL-terminated array of the strings of arr (borrowed), NULL when arr is
 * empty or on out of memory (*ret_r = CF_ENOMEM then). */
static const char **
strv(json_t *arr, int *ret_r)
{
	size_t n = json_array_size(arr), i;
	const char **v;

	if (n == 0)
		return NULL;
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		*ret_r = CF_ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(arr, i));
	return v;
}

/* Appends s to arr unless it is there already (case-insensitive for names). */
static int
add_unique(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (strcasecmp(json_string_value(v), s) == 0)
			return 0;
	}
	if (json_array_size(arr) >= NAMES_MAX)
		return CF_EINVAL;
	return json_array_append_new(arr, json_string(s)) == 0 ? 0 : CF_ENOMEM;
}

static void
build_free(struct build *b)
{
	free(b->cn);
	json_decref(b->dns);
	json_decref(b->email);
	json_decref(b->ip);
	json_decref(b->uri);
	json_decref(b->other);
	free(b->subj_serial);
	json_decref(b->eku);
	json_decref(b->eku_oids);
}

static int
build_init(struct build *b)
{
	memset(b, 0, sizeof(*b));
	b->dns = json_array();
	b->email = json_array();
	b->ip = json_array();
	b->uri = json_array();
	b->other = json_array();
	b->eku = json_array();
	b->eku_oids = json_array();
	if (!b->dns || !b->email || !b->ip || !b->uri || !b->other || !b->eku || !b->eku_oids)
		return CF_ENOMEM;
	return 0;
}

/* ---- the CSR ---- */

static int
csr_parse(const char *pem, X509_REQ **ret, struct response *rs)
{
	char err[256] = "";
	int r;

	if (strlen(pem) > CSR_MAX_BYTES)
		return pki_fail(rs, "invalid value for csr: longer than %d bytes", CSR_MAX_BYTES);
	r = pki_csr_parse(pem, ret, err, sizeof(err));
	if (r == CF_EINVAL)
		return pki_fail(rs, "invalid value for csr: %s", err);
	return r;
}

/* The first value of nid in name as a new UTF-8 string, NULL when absent. */
static int
name_entry(const X509_NAME *name, int nid, int lastpos, int *ret_pos, char **ret)
{
	int pos = X509_NAME_get_index_by_NID(name, nid, lastpos);
	unsigned char *u = NULL;
	int n;

	*ret = NULL;
	*ret_pos = pos;
	if (pos < 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos)));
	if (n < 0)
		return CF_EINVAL;
	*ret = strndup((char *)u, (size_t)n);
	OPENSSL_free(u);
	return *ret ? 0 : CF_ENOMEM;
}

/* The DNS, email, IP and URI SANs the CSR requests (pki_csr_names reads
 * them). */
static int
csr_read_sans(X509_REQ *req, struct build *b, struct response *rs)
{
	json_t *names = NULL, *v;
	size_t i;
	int r;

	r = pki_csr_names(req, &names);
	if (r == CF_EINVAL)
		return pki_fail(rs,
		                "invalid value for csr: a subject alternative name is not UTF-8");
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(names, "alt_names"), i, v)
	{
		const char *s = json_string_value(v);
		if ((r = add_unique(strchr(s, '@') ? b->email : b->dns, s)) < 0)
			goto out;
	}
	json_array_foreach(json_object_get(names, "ip_sans"), i, v)
	{
		if ((r = add_unique(b->ip, json_string_value(v))) < 0)
			goto out;
	}
	json_array_foreach(json_object_get(names, "uri_sans"), i, v)
	{
		if ((r = add_unique(b->uri, json_string_value(v))) < 0)
			goto out;
	}
out:
	json_decref(names);
	return r;
}

/* Whether the CSR asks to be a CA (basic constraints CA:TRUE). */
static bool
csr_is_ca(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	BASIC_CONSTRAINTS *bc =
	        exts ? X509V3_get_d2i(exts, NID_basic_constraints, NULL, NULL) : NULL;
	bool ca = bc && bc->ca;

	BASIC_CONSTRAINTS_free(bc);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ca;
}

/* sign-verbatim: the key usages and extended key usages the CSR requests;
 * *ret_ku / *ret_eku say whether it requests them at all. */
static int
csr_usages(X509_REQ *req, struct build *b, bool *ret_ku, bool *ret_eku)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	ASN1_BIT_STRING *ku = exts ? X509V3_get_d2i(exts, NID_key_usage, NULL, NULL) : NULL;
	EXTENDED_KEY_USAGE *eku = exts ? X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL) : NULL;
	static const struct {
		int nid;
		const char *name;
	} ekus[] = {
	        {NID_server_auth, "ServerAuth"},  {NID_client_auth, "ClientAuth"},
	        {NID_code_sign, "CodeSigning"},   {NID_email_protect, "EmailProtection"},
	        {NID_time_stamp, "TimeStamping"}, {NID_OCSP_sign, "OCSPSigning"},
	        {NID_anyExtendedKeyUsage, "Any"},
	};
	int r = 0;

	*ret_ku = ku != NULL;
	*ret_eku = eku != NULL;
	if (ku) {
		b->key_usage = 0;
		for (int bit = 0; bit < 9; bit++)
			if (ASN1_BIT_STRING_get_bit(ku, bit))
				b->key_usage |= bit < 8 ? 0x80u >> bit : X509v3_KU_DECIPHER_ONLY;
	}
	for (int i = 0; eku && r == 0 && i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		size_t k;
		char oid[128];

		for (k = 0; k < sizeof(ekus) / sizeof(ekus[0]); k++)
			if (ekus[k].nid == nid)
				break;
		if (k < sizeof(ekus) / sizeof(ekus[0])) {
			r = add_unique(b->eku, ekus[k].name);
		} else if (OBJ_obj2txt(oid, sizeof(oid), o, 1) > 0) {
			r = add_unique(b->eku_oids, oid);
		}
	}
	ASN1_BIT_STRING_free(ku);
	EXTENDED_KEY_USAGE_free(eku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return r;
}

/* The CSR's key against the role's key_type and key_bits (Vault's sign
 * certificate: a minimum size, safe sizes for "any"). */
static int
check_csr_key(json_t *role, EVP_PKEY *pub, struct response *rs)
{
	const char *want = role_str(role, "key_type");
	int64_t want_bits = role_int(role, "key_bits");
	int bits = 0;
	const char *have = pki_key_type(pub, &bits);

	if (!have)
		return pki_fail(rs, "invalid value for csr: its key type is not supported "
		                    "(rsa, ec or ed25519)");
	if (strcmp(want, "any") != 0 && strcmp(want, have) != 0)
		return pki_fail(rs,
		                "key_type: role requires keys of type %s, but the CSR's key is %s",
		                want, have);
	if (strcmp(have, "rsa") == 0 && bits < 2048)
		return pki_fail(rs,
		                "key_bits: RSA keys of fewer than 2048 bits are not supported, but "
		                "the CSR's key is %d bits",
		                bits);
	if (strcmp(have, "ec") == 0 && bits < 224)
		return pki_fail(
		        rs,
		        "key_bits: EC keys of fewer than 224 bits are not supported, but the "
		        "CSR's key is %d bits",
		        bits);
	if (strcmp(want, "any") != 0 && strcmp(have, "ed25519") != 0 && bits < want_bits)
		return pki_fail(
		        rs,
		        "key_bits: role requires a minimum of a %lld-bit key, but the CSR's "
		        "key is %d bits",
		        (long long)want_bits, bits);
	return 0;
}

/* ---- the policy of the role ---- */

static int
names_check(json_t *role, struct build *b, struct response *rs)
{
	struct pki_name_policy p = {
	        .allow_any_name = role_bool(role, "allow_any_name"),
	        .allow_localhost = role_bool(role, "allow_localhost"),
	        .allow_subdomains = role_bool(role, "allow_subdomains"),
	        .allow_bare_domains = role_bool(role, "allow_bare_domains"),
	        .allow_glob_domains = role_bool(role, "allow_glob_domains"),
	        .allow_wildcard_certificates = role_bool(role, "allow_wildcard_certificates"),
	        .enforce_hostnames = role_bool(role, "enforce_hostnames"),
	};
	const char **domains;
	int r = 0;
	size_t i;
	json_t *v;

	domains = strv(json_object_get(role, "allowed_domains"), &r);
	if (r < 0)
		return r;
	p.allowed_domains = domains;
	if (b->cn && !pki_name_allowed(&p, b->cn)) {
		r = pki_fail(rs, "common name %s not allowed by this role", b->cn);
		goto out;
	}
	json_array_foreach(b->dns, i, v)
	{
		if (!pki_name_allowed(&p, json_string_value(v))) {
			r = pki_fail(rs, "subject alternate name %s not allowed by this role",
			             json_string_value(v));
			goto out;
		}
	}
	json_array_foreach(b->email, i, v)
	{
		if (!pki_name_allowed(&p, json_string_value(v))) {
			r = pki_fail(rs, "subject alternate name %s not allowed by this role",
			             json_string_value(v));
			goto out;
		}
	}
out:
	free(domains);
	return r;
}

static bool
glob_any(json_t *globs, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(globs, i, v)
	{
		if (glob_match(json_string_value(v), s))
			return true;
	}
	return false;
}

/* A URI: a scheme (RFC 3986: a letter, then letters, digits, '+', '-', '.')
 * and ':', then printable characters. */
static bool
uri_valid(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* other_sans of the request against the role's allowed_other_sans. Each is
 * "<oid>;UTF8:<value>"; stored normalized with "UTF8". */
static int
other_sans_check(json_t *role, json_t *req_other, struct build *b, struct response *rs)
{
	json_t *allowed = json_object_get(role, "allowed_other_sans");
	bool any = json_array_size(allowed) == 1 &&
	           strcmp(json_string_value(json_array_get(allowed, 0)), "*") == 0;
	size_t i, k;
	json_t *v, *a;
	int r;

	json_array_foreach(req_other, i, v)
	{
		const char *s = json_string_value(v), *semi = strchr(s, ';'), *val;
		char norm[1024], oid[128];
		size_t n;
		bool ok = any;

		if (!semi || (size_t)(semi - s) >= sizeof(oid))
			return pki_fail(
			        rs,
			        "invalid value for other_sans: %s is not \"<oid>;UTF8:<value>\"",
			        s);
		n = (size_t)(semi - s);
		memcpy(oid, s, n);
		oid[n] = '\0';
		if (strncasecmp(semi + 1, "UTF8:", 5) == 0)
			val = semi + 6;
		else if (strncasecmp(semi + 1, "UTF-8:", 6) == 0)
			val = semi + 7;
		else
			return pki_fail(
			        rs,
			        "invalid value for other_sans: %s: only the UTF8 type is supported",
			        s);
		{
			ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
			ASN1_OBJECT_free(o);
			if (!o)
				return pki_fail(
				        rs, "invalid value for other_sans: %s is not an OID", oid);
		}
		json_array_foreach(allowed, k, a)
		{
			const char *as = json_string_value(a), *asemi = strchr(as, ';'), *aval;
			if (!asemi || (size_t)(asemi - as) != n || strncmp(as, oid, n) != 0)
				continue;
			aval = strchr(asemi, ':');
			if (aval && (strcmp(aval + 1, "*") == 0 || glob_match(aval + 1, val))) {
				ok = true;
				break;
			}
		}
		if (!ok)
			return pki_fail(rs, "other SAN %s not allowed by this role", s);
		if ((size_t)snprintf(norm, sizeof(norm), "%s;UTF8:%s", oid, val) >= sizeof(norm))
			return pki_fail(rs, "invalid value for other_sans: %s is too long", oid);
		r = add_unique(b->other, norm);
		if (r < 0)
			return r;
	}
	return 0;
}

/* IP and URI SANs: from the CSR when csr_sans (use_csr_sans), else from the
 * request; then the role's allow_ip_sans and allowed_uri_sans. */
static int
ip_uri_check(json_t *role, const struct sign_req *q, struct build *b, bool csr_sans,
             struct response *rs)
{
	json_t *allowed_uris = json_object_get(role, "allowed_uri_sans");
	size_t i;
	json_t *v;
	int r;

	if (!csr_sans) {
		json_array_foreach(q->ip_sans, i, v)
		{
			const char *s = json_string_value(v);
			unsigned char addr[16];
			char text[INET6_ADDRSTRLEN];

			if (!role_bool(role, "allow_ip_sans"))
				return pki_fail(
				        rs,
				        "IP Subject Alternative Names are not allowed in this "
				        "role, but was provided %s",
				        s);
			if (inet_pton(AF_INET, s, addr) == 1)
				inet_ntop(AF_INET, addr, text, sizeof(text));
			else if (inet_pton(AF_INET6, s, addr) == 1)
				inet_ntop(AF_INET6, addr, text, sizeof(text));
			else
				return pki_fail(
				        rs,
				        "invalid value for ip_sans: %s is not a valid IP address",
				        s);
			r = add_unique(b->ip, text);
			if (r < 0)
				return r;
		}
		json_array_foreach(q->uri_sans, i, v)
		{
			r = add_unique(b->uri, json_string_value(v));
			if (r < 0)
				return r;
		}
	} else if (json_array_size(b->ip) > 0 && !role_bool(role, "allow_ip_sans")) {
		return pki_fail(
		        rs, "IP Subject Alternative Names are not allowed in this role, but were "
		            "provided via CSR");
	}
	json_array_foreach(b->uri, i, v)
	{
		const char *s = json_string_value(v);
		if (!uri_valid(s))
			return pki_fail(rs, "invalid value for uri_sans: %s is not a URI", s);
		if (!glob_any(allowed_uris, s))
			return pki_fail(
			        rs,
			        "URI Subject Alternative Names are not allowed in this role, "
			        "but were provided %s",
			        s);
	}
	return 0;
}

/* The validity: NotAfter from not_after or ttl (default the role's ttl, then
 * the mount's default TTL), clamped to the role's max_ttl (then the mount's
 * max TTL) with a warning, as Vault does. pki_cert_sign refuses a NotAfter
 * past the issuer's own (Vault's default leaf_not_after_behavior, "err"). */
static int
validity(struct request *rq, struct response *rs, json_t *role, const struct sign_req *q,
         struct build *b)
{
	int64_t now = util_now(), ttl = q->ttl, max = role_int(role, "max_ttl");

	if (q->not_after && *q->not_after) {
		int64_t ns;
		if (util_parse_rfc3339(q->not_after, &ns) < 0)
			return pki_fail(
			        rs, "invalid value for not_after: %s is not YYYY-MM-ddTHH:MM:SSZ",
			        q->not_after);
		ttl = ns / 1000000000 - now;
		if (ttl <= 0)
			return pki_fail(rs, "invalid value for not_after: %s is in the past",
			                q->not_after);
	}
	if (ttl <= 0)
		ttl = role_int(role, "ttl");
	if (ttl <= 0)
		ttl = mount_default_ttl(rq->mount);
	if (max <= 0)
		max = mount_max_ttl(rq->mount);
	if (ttl > max) {
		(void)response_warnf(rs,
		                     "TTL of %llds is longer than permitted max_ttl of %llds, so "
		                     "max_ttl is being used",
		                     (long long)ttl, (long long)max);
		ttl = max;
	}
	b->not_after = now + ttl;
	b->not_before = now - role_int(role, "not_before_duration");
	return 0;
}

/* ---- the answer ---- */

/* A certificate as the answer carries it: PEM, or base64 DER. */
static json_t *
cert_json(X509 *x, bool der)
{
	char *s = der ? pki_cert_b64(x) : pki_cert_pem(x);
	json_t *j = s ? json_string(s) : NULL;

	free(s);
	return j;
}

static bool
self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

/* Appends the PEM of x to *buf (length *len). */
static int
append_pem(char **buf, size_t *len, const char *pem)
{
	size_t n = strlen(pem);
	char *nb = malloc(*len + n + 1);

	if (!nb)
		return CF_ENOMEM;
	memcpy(nb, *buf, *len);
	memcpy(nb + *len, pem, n + 1);
	secmem_free(*buf, *len + 1);
	*buf = nb;
	*len += n;
	return 0;
}

/* pem_bundle: keytext (may be NULL), x, then the issuer and the CAs above it
 * that are not self-signed. New string; free with secmem_free_str. */
static int
bundle_text(const struct pki_issuer *iss, X509 *x, const char *keytext, char **ret)
{
	char *buf = strdup(""), *pem = NULL;
	size_t len = 0;
	int r = buf ? 0 : CF_ENOMEM;

	if (r == 0 && keytext)
		r = append_pem(&buf, &len, keytext);
	for (int i = -2; r == 0 && i < (iss->chain ? sk_X509_num(iss->chain) : 0); i++) {
		X509 *c = i == -2 ? x : i == -1 ? iss->cert : sk_X509_value(iss->chain, i);
		if (i > -2 && self_signed(c))
			continue;
		pem = pki_cert_pem(c);
		r = pem ? append_pem(&buf, &len, pem) : CF_ENOMEM;
		free(pem);
	}
	if (r < 0) {
		secmem_free(buf, buf ? len + 1 : 0);
		return r;
	}
	*ret = buf;
	return 0;
}

/* Fills rs->data: certificate, issuing_ca, ca_chain, serial_number,
 * expiration, and for issue private_key and private_key_type. */
static int
answer(struct response *rs, const struct sign_req *q, const struct pki_issuer *iss, X509 *x,
       EVP_PKEY *key, int64_t expiration)
{
	bool der = strcmp(q->format, "der") == 0, bundle = strcmp(q->format, "pem_bundle") == 0;
	bool pkcs8 = q->private_key_format && strcmp(q->private_key_format, "pkcs8") == 0;
	char serial[PKI_SERIAL_STRLEN], *keytext = NULL, *full = NULL;
	json_t *data = json_object(), *chain = json_array(), *j;
	int r = CF_ENOMEM;

	if (!data || !chain)
		goto out;
	pki_serial_str(X509_get0_serialNumber(x), ':', serial);
	/* ca_chain: the issuer, then the issuers above it (Vault 1.11 and later) */
	j = cert_json(iss->cert, der);
	if (!j || json_object_set_new(data, "issuing_ca", j) != 0)
		goto out;
	if (!q->remove_roots_from_chain || !self_signed(iss->cert)) {
		j = cert_json(iss->cert, der);
		if (!j || json_array_append_new(chain, j) != 0)
			goto out;
	}
	for (int i = 0; iss->chain && i < sk_X509_num(iss->chain); i++) {
		X509 *c = sk_X509_value(iss->chain, i);
		if (q->remove_roots_from_chain && self_signed(c))
			continue;
		j = cert_json(c, der);
		if (!j || json_array_append_new(chain, j) != 0)
			goto out;
	}
	if (key) {
		int bits;
		keytext = pki_key_export(key, der, pkcs8);
		if (!keytext ||
		    json_object_set_new(data, "private_key", json_string(keytext)) != 0 ||
		    json_object_set_new(data, "private_key_type",
		                        json_string(pki_key_type(key, &bits))) != 0)
			goto out;
	}
	if (bundle) {
		/* the key (issue), the certificate, then the CAs above it that
		 * are not self-signed roots (Vault's pem_bundle) */
		r = bundle_text(iss, x, keytext, &full);
		if (r < 0)
			goto out;
		r = CF_ENOMEM;
		j = json_string(full);
	} else {
		j = cert_json(x, der);
	}
	if (!j || json_object_set_new(data, "certificate", j) != 0 ||
	    json_object_set_new(data, "ca_chain", chain) != 0)
		goto out;
	chain = NULL;
	if (json_object_set_new(data, "serial_number", json_string(serial)) != 0 ||
	    json_object_set_new(data, "expiration", json_integer(expiration)) != 0)
		goto out;
	response_set_data(rs, data);
	data = NULL;
	r = 0;
out:
	secmem_free_str(keytext);
	secmem_free_str(full);
	json_decref(chain);
	json_decref(data);
	return r;
}

/* ---- issuing ---- */

enum mode { MODE_ISSUE, MODE_SIGN, MODE_VERBATIM };

static int
check_formats(const struct sign_req *q, struct response *rs)
{
	if (strcmp(q->format, "pem") != 0 && strcmp(q->format, "der") != 0 &&
	    strcmp(q->format, "pem_bundle") != 0)
		return pki_fail(rs, "invalid value for format: %s (pem, der or pem_bundle)",
		                q->format);
	if (q->private_key_format && strcmp(q->private_key_format, "der") != 0 &&
	    strcmp(q->private_key_format, "pkcs8") != 0 && strcmp(q->private_key_format, "") != 0)
		return pki_fail(rs, "invalid value for private_key_format: %s (der or pkcs8)",
		                q->private_key_format);
	return 0;
}

/* The common name: the CSR's (use_csr_common_name), else the request's;
 * required unless the role says require_cn=false (Vault's message). */
static int
gather_cn(json_t *role, const struct sign_req *q, X509_REQ *req, struct build *b,
          struct response *rs)
{
	int pos, r;

	if (req && role_bool(role, "use_csr_common_name")) {
		r = name_entry(X509_REQ_get_subject_name(req), NID_commonName, -1, &pos, &b->cn);
		if (r < 0)
			return r;
	}
	if ((!b->cn || !*b->cn) && q->common_name && *q->common_name) {
		free(b->cn);
		b->cn = strdup(q->common_name);
		if (!b->cn)
			return CF_ENOMEM;
	}
	if ((!b->cn || !*b->cn) && role_bool(role, "require_cn"))
		return pki_fail(
		        rs, "the common_name field is required, or must be provided in a CSR "
		            "with \"use_csr_common_name\" set to true, unless \"require_cn\" is "
		            "set to false");
	if (b->cn && !*b->cn) {
		free(b->cn);
		b->cn = NULL;
	}
	return 0;
}

/* Every name of the certificate, checked against the role: the CN, DNS and
 * email SANs (the CSR's with use_csr_sans, else alt_names; the CN added
 * unless exclude_cn_from_sans), IP, URI and other SANs, and the subject's
 * serialNumber. sign-verbatim checks no names. */
static int
gather_names(json_t *role, const struct sign_req *q, X509_REQ *req, enum mode mode, struct build *b,
             struct response *rs)
{
	bool csr_sans = req && role_bool(role, "use_csr_sans");
	size_t i;
	json_t *v;
	int r;

	r = gather_cn(role, q, req, b, rs);
	if (r == 0 && csr_sans)
		r = csr_read_sans(req, b, rs);
	/* the CN joins the email SANs, or the DNS SANs when it is a host name
	 * (Vault's generate certificate: "Not A Host" stays in the CN only) */
	if (r == 0 && b->cn && !q->exclude_cn_from_sans && mode != MODE_VERBATIM) {
		if (strchr(b->cn, '@'))
			r = add_unique(b->email, b->cn);
		else if (pki_hostname_like(b->cn))
			r = add_unique(b->dns, b->cn);
	}
	if (r < 0)
		return r;
	if (!csr_sans) {
		json_array_foreach(q->alt_names, i, v)
		{
			const char *s = json_string_value(v);
			r = add_unique(strchr(s, '@') ? b->email : b->dns, s);
			if (r < 0)
				return r;
		}
	}
	if (mode != MODE_VERBATIM) {
		r = names_check(role, b, rs);
		if (r < 0)
			return r;
	}
	r = ip_uri_check(role, q, b, csr_sans, rs);
	if (r == 0)
		r = other_sans_check(role, q->other_sans, b, rs);
	if (r < 0 || mode == MODE_VERBATIM || !q->serial_number || !*q->serial_number)
		return r;
	if (!glob_any(json_object_get(role, "allowed_serial_numbers"), q->serial_number))
		return pki_fail(rs, "serial_number %s not allowed by this role", q->serial_number);
	b->subj_serial = strdup(q->serial_number);
	return b->subj_serial ? 0 : CF_ENOMEM;
}

/* Key usage and extended key usages: the role's (its flags, ext_key_usage,
 * ext_key_usage_oids), or for sign-verbatim the CSR's when it asks for them. */
static int
gather_usages(json_t *role, X509_REQ *req, enum mode mode, struct build *b, struct response *rs)
{
	static const char *const flags[][2] = {{"server_flag", "ServerAuth"},
	                                       {"client_flag", "ClientAuth"},
	                                       {"code_signing_flag", "CodeSigning"},
	                                       {"email_protection_flag", "EmailProtection"}};
	bool ku_given = false, eku_given = false;
	const char *bad = NULL, *name;
	size_t i;
	json_t *v;
	int r;

	if (mode == MODE_VERBATIM) {
		r = csr_usages(req, b, &ku_given, &eku_given);
		if (r < 0)
			return r;
	}
	if (!ku_given &&
	    pki_key_usage_bits(json_object_get(role, "key_usage"), &b->key_usage, &bad) < 0)
		return pki_fail(rs, "invalid value for key_usage: unknown key usage %s", bad);
	if (eku_given)
		return 0;
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
		if (role_bool(role, flags[k][0]) && (r = add_unique(b->eku, flags[k][1])) < 0)
			return r;
	}
	json_array_foreach(json_object_get(role, "ext_key_usage"), i, v)
	{
		name = pki_ext_key_usage_name(json_string_value(v));
		if (!name)
			return pki_fail(
			        rs,
			        "invalid value for ext_key_usage: unknown extended key usage %s",
			        json_string_value(v));
		if ((r = add_unique(b->eku, name)) < 0)
			return r;
	}
	json_array_foreach(json_object_get(role, "ext_key_usage_oids"), i, v)
	{
		if ((r = add_unique(b->eku_oids, json_string_value(v))) < 0)
			return r;
	}
	return 0;
}

/* The certificate of b for pub, signed by iss with the mount's config/urls:
 * 0 with *ret, CF_EINVAL with a message in rs, or another error. */
static int
sign_build(struct request *rq, struct response *rs, json_t *role, const struct pki_issuer *iss,
           const struct build *b, EVP_PKEY *pub, X509 **ret)
{
	struct pki_cert_params p = {0};
	const char **lists[7] = {0}, **v[7] = {0};
	json_t *const arrs[7] = {b->dns, b->email, b->ip, b->uri, b->other, b->eku, b->eku_oids};
	json_t *urls = NULL;
	char err[256] = "";
	int r = 0;

	for (int k = 0; k < 7; k++) {
		lists[k] = strv(json_object_get(role, subj_role_fields[k]), &r);
		v[k] = strv(arrs[k], &r);
	}
	if (r < 0)
		goto out;
	p.common_name = b->cn;
	p.subject = b->subject;
	p.ou = lists[0];
	p.organization = lists[1];
	p.country = lists[2];
	p.locality = lists[3];
	p.province = lists[4];
	p.street_address = lists[5];
	p.postal_code = lists[6];
	p.serial_number = b->subj_serial;
	p.dns_sans = v[0];
	p.email_sans = v[1];
	p.ip_sans = v[2];
	p.uri_sans = v[3];
	p.other_sans = v[4];
	p.ext_key_usage = v[5];
	p.ext_key_usage_oids = v[6];
	p.not_before = b->not_before;
	p.not_after = b->not_after;
	p.max_path_length = -1;
	p.key_usage = b->key_usage;
	p.signature_bits = (int)role_int(role, "signature_bits");
	p.use_pss = role_bool(role, "use_pss");
	p.leaf_basic_constraints = role_bool(role, "basic_constraints_valid_for_non_ca");
	p.pubkey = pub;
	r = pki_urls_load(rq->mount->view, &urls);
	if (r == 0)
		r = pki_cert_sign(iss, NULL, &p, urls, ret, err, sizeof(err));
	if (r == CF_EINVAL)
		r = pki_fail(rs, "%s", err);
out:
	for (int k = 0; k < 7; k++) {
		free(lists[k]);
		free(v[k]);
	}
	json_decref(urls);
	return r;
}

/* generate_lease: Vault's PKI lease lives as long as the certificate, is not
 * renewable, and revoking it revokes the certificate (the backend's
 * lease_revoke). */
static int
lease_attach(struct response *rs, const char *serial, int64_t not_after)
{
	int64_t left = not_after - util_now();

	rs->secret = json_pack("{s:s, s:I}", "serial_number", serial, "expiration",
	                       (json_int_t)not_after);
	if (!rs->secret)
		return CF_ENOMEM;
	rs->lease_ttl = left > 0 ? left : 1;
	rs->lease_max_ttl = rs->lease_ttl;
	rs->renewable = false;
	return 0;
}

/* The one path of issue, sign and sign-verbatim: names and usages from role,
 * request and CSR, checked; the validity; then the certificate, signed,
 * stored (unless no_store), answered, and leased (generate_lease). key is
 * the new key (issue) or NULL (the CSR's key). */
static int
issue_common(struct request *rq, struct response *rs, json_t *role, const struct sign_req *q,
             X509_REQ *req, EVP_PKEY *key, enum mode mode)
{
	struct pki_issuer *iss = NULL;
	char serial[PKI_SERIAL_STRLEN];
	struct build b;
	X509 *x = NULL;
	int r;

	r = build_init(&b);
	if (r == 0)
		r = check_formats(q, rs);
	if (r < 0)
		goto out;
	iss = pki_issuer_get(rq->mount->state);
	if (!iss) {
		r = pki_fail(rs, "no CA configured for this mount");
		goto out;
	}
	if (!iss->key) {
		r = pki_fail(rs, "the mount's CA has no private key (only its certificate was "
		                 "imported)");
		goto out;
	}
	if (mode == MODE_VERBATIM)
		b.subject = X509_REQ_get_subject_name(req);
	r = gather_names(role, q, req, mode, &b, rs);
	if (r == 0)
		r = gather_usages(role, req, mode, &b, rs);
	if (r == 0)
		r = validity(rq, rs, role, q, &b);
	if (r == 0)
		r = sign_build(rq, rs, role, iss, &b, key ? key : X509_REQ_get0_pubkey(req), &x);
	if (r == 0 && !role_bool(role, "no_store"))
		r = pki_cert_store(rq->mount->view, x);
	if (r == 0)
		r = answer(rs, q, iss, x, key, b.not_after);
	if (r < 0)
		goto out;
	pki_serial_str(X509_get0_serialNumber(x), ':', serial);
	if (role_bool(role, "generate_lease") && !role_bool(role, "no_store"))
		r = lease_attach(rs, serial, b.not_after);
	log_verbose("pki %s: issued %s (role %s)", rq->mount->path, serial,
	            rq->ncap > 0 ? rq->cap[0] : "-");
out:
	if (r == CF_EINVAL && !rs->errors) /* add_unique's refusals */
		(void)pki_fail(rs, "too many names (at most %d) or a name that is not UTF-8",
		               NAMES_MAX);
	X509_free(x);
	pki_issuer_put(iss);
	build_free(&b);
	return r;
}

static int
role_for(struct request *rq, struct response *rs, const char *name, json_t **ret)
{
	int r = pki_role_load(rq->mount->view, name, ret);

	if (r == CF_ENOTFOUND)
		return pki_fail(rs, "unknown role: %s", name);
	return r;
}

int
pki_issue(struct request *rq, struct response *rs)
{
	struct sign_req q = {0};
	json_t *role = NULL;
	EVP_PKEY *key = NULL;
	char err[256] = "";
	int r;

	r = field_parse(pki_issue_fields, rq->data, &q, rs);
	if (r < 0)
		goto out;
	r = role_for(rq, rs, rq->cap[0], &role);
	if (r < 0)
		goto out;
	if (strcmp(role_str(role, "key_type"), "any") == 0) {
		r = pki_fail(
		        rs, "key_type: role key type \"any\" not allowed for issuing certificates, "
		            "only signing");
		goto out;
	}
	r = pki_keygen(role_str(role, "key_type"), (int)role_int(role, "key_bits"), &key, err,
	               sizeof(err));
	if (r == CF_EINVAL)
		r = pki_fail(rs, "key_type: %s", err);
	if (r < 0)
		goto out;
	r = issue_common(rq, rs, role, &q, NULL, key, MODE_ISSUE);
out:
	EVP_PKEY_free(key);
	json_decref(role);
	field_free(pki_issue_fields, &q);
	return r;
}

int
pki_sign(struct request *rq, struct response *rs)
{
	struct sign_req q = {0};
	json_t *role = NULL;
	X509_REQ *req = NULL;
	int r;

	r = field_parse(pki_sign_fields, rq->data, &q, rs);
	if (r < 0)
		goto out;
	r = role_for(rq, rs, rq->cap[0], &role);
	if (r < 0)
		goto out;
	r = csr_parse(q.csr, &req, rs);
	if (r < 0)
		goto out;
	r = check_csr_key(role, X509_REQ_get0_pubkey(req), rs);
	if (r < 0)
		goto out;
	r = issue_common(rq, rs, role, &q, req, NULL, MODE_SIGN);
out:
	X509_REQ_free(req);
	json_decref(role);
	field_free(pki_sign_fields, &q);
	return r;
}

/* The role Vault's sign-verbatim makes up: any name, the CSR's values, the
 * request's usages; from a named role only ttl, max_ttl, generate_lease,
 * no_store and not_before_duration. */
static int
verbatim_role(json_t *named, const struct sign_req *q, json_t **ret)
{
	json_t *role;

	role = json_pack(
	        "{s:b, s:b, s:b, s:b, s:b, s:[s], s:[s], s:[s], s:b, s:b, s:b, s:s, s:I,"
	        " s:O, s:O, s:O, s:I, s:b, s:b, s:b, s:b, s:b, s:b}",
	        "allow_any_name", 1, "enforce_hostnames", 0, "allow_ip_sans", 1, "allow_localhost",
	        1, "allow_wildcard_certificates", 1, "allowed_uri_sans", "*", "allowed_other_sans",
	        "*", "allowed_serial_numbers", "*", "use_csr_common_name", 1, "use_csr_sans", 1,
	        "require_cn", 0, "key_type", "any", "key_bits", (json_int_t)0, "key_usage",
	        q->key_usage, "ext_key_usage", q->ext_key_usage, "ext_key_usage_oids",
	        q->ext_key_usage_oids, "signature_bits", (json_int_t)q->signature_bits, "use_pss",
	        q->use_pss, "server_flag", 0, "client_flag", 0, "code_signing_flag", 0,
	        "email_protection_flag", 0, "basic_constraints_valid_for_non_ca", 0);
	if (!role)
		return CF_ENOMEM;
	if (json_object_set_new(role, "ttl", json_integer(named ? role_int(named, "ttl") : 0)) !=
	            0 ||
	    json_object_set_new(role, "max_ttl",
	                        json_integer(named ? role_int(named, "max_ttl") : 0)) != 0 ||
	    json_object_set_new(
	            role, "not_before_duration",
	            json_integer(named ? role_int(named, "not_before_duration") : 30)) != 0 ||
	    json_object_set_new(role, "generate_lease",
	                        json_boolean(named && role_bool(named, "generate_lease"))) != 0 ||
	    json_object_set_new(role, "no_store",
	                        json_boolean(named && role_bool(named, "no_store"))) != 0) {
		json_decref(role);
		return CF_ENOMEM;
	}
	*ret = role;
	return 0;
}

int
pki_sign_verbatim(struct request *rq, struct response *rs)
{
	struct sign_req q = {0};
	json_t *named = NULL, *role = NULL;
	X509_REQ *req = NULL;
	const char *bad = NULL;
	unsigned bits;
	size_t i;
	json_t *v;
	int r;

	r = field_parse(pki_verbatim_fields, rq->data, &q, rs);
	if (r < 0)
		goto out;
	if (rq->ncap > 0 && rq->cap[0] && *rq->cap[0]) {
		r = role_for(rq, rs, rq->cap[0], &named);
		if (r < 0)
			goto out;
	}
	if (pki_key_usage_bits(q.key_usage, &bits, &bad) < 0) {
		r = pki_fail(rs, "invalid value for key_usage: unknown key usage %s", bad);
		goto out;
	}
	json_array_foreach(q.ext_key_usage, i, v)
	{
		if (!pki_ext_key_usage_name(json_string_value(v))) {
			r = pki_fail(
			        rs,
			        "invalid value for ext_key_usage: unknown extended key usage %s",
			        json_string_value(v));
			goto out;
		}
	}
	json_array_foreach(q.ext_key_usage_oids, i, v)
	{
		ASN1_OBJECT *o = OBJ_txt2obj(json_string_value(v), 1);
		ASN1_OBJECT_free(o);
		if (!o) {
			r = pki_fail(rs, "invalid value for ext_key_usage_oids: %s is not an OID",
			             json_string_value(v));
			goto out;
		}
	}
	if (q.signature_bits != 0 && q.signature_bits != 256 && q.signature_bits != 384 &&
	    q.signature_bits != 512) {
		r = pki_fail(rs, "invalid value for signature_bits: must be 0, 256, 384 or 512");
		goto out;
	}
	r = verbatim_role(named, &q, &role);
	if (r < 0)
		goto out;
	r = csr_parse(q.csr, &req, rs);
	if (r < 0)
		goto out;
	if (csr_is_ca(req)) {
		r = pki_fail(rs,
		             "csr: sign-verbatim does not issue CA certificates (the CSR asks for "
		             "basic constraints CA:TRUE); use root/sign-intermediate");
		goto out;
	}
	r = check_csr_key(role, X509_REQ_get0_pubkey(req), rs);
	if (r < 0)
		goto out;
	r = issue_common(rq, rs, role, &q, req, NULL, MODE_VERBATIM);
out:
	X509_REQ_free(req);
	json_decref(role);
	json_decref(named);
	field_free(pki_verbatim_fields, &q);
	return r;
}

/* ---- stored certificates ---- */

int
pki_cert_read(struct request *rq, struct response *rs)
{
	char s[PKI_SERIAL_STRLEN], key[PKI_SERIAL_STRLEN + 16], when[64];
	json_t *rec = NULL, *rev = NULL, *data = NULL;
	int64_t t = 0;
	int r;

	if (pki_serial_norm(rq->cap[0], '-', s) < 0)
		return pki_fail(rs, "invalid serial number %s: hex pairs separated by ':' or '-'",
		                rq->cap[0]);
	snprintf(key, sizeof(key), "certs/%s", s);
	r = view_get_object(rq->mount->view, key, &rec);
	if (r == CF_ENOTFOUND) {
		(void)response_errorf(rs, "certificate with serial %s not found", rq->cap[0]);
		return r;
	}
	if (r < 0)
		return r;
	snprintf(key, sizeof(key), "revoked/%s", s);
	r = view_get_object(rq->mount->view, key, &rev);
	if (r == 0)
		t = json_integer_value(json_object_get(rev, "revocation_time"));
	else if (r != CF_ENOTFOUND)
		goto out;
	data = json_pack("{s:O, s:I}", "certificate", json_object_get(rec, "certificate"),
	                 "revocation_time", (json_int_t)t);
	r = CF_ENOMEM;
	if (!data)
		goto out;
	if (t > 0) {
		util_rfc3339(t * 1000000000, when, sizeof(when));
		if (json_object_set_new(data, "revocation_time_rfc3339", json_string(when)) != 0)
			goto out;
	}
	response_set_data(rs, data);
	data = NULL;
	r = 0;
out:
	json_decref(data);
	json_decref(rev);
	json_decref(rec);
	return r;
}

int
pki_certs_list(struct request *rq, struct response *rs)
{
	char **keys = NULL, s[PKI_SERIAL_STRLEN];
	size_t n = 0, i;
	json_t *arr = NULL;
	int r;

	r = view_list(rq->mount->view, "certs/", &keys, &n);
	if (r == CF_ENOTFOUND)
		return r;
	if (r < 0)
		return r;
	arr = json_array();
	r = arr ? 0 : CF_ENOMEM;
	for (i = 0; r == 0 && i < n; i++) {
		if (pki_serial_norm(keys[i], ':', s) < 0)
			continue; /* not a serial: a folder or a stray key */
		if (json_array_append_new(arr, json_string(s)) != 0)
			r = CF_ENOMEM;
	}
	for (i = 0; i < n; i++)
		free(keys[i]); /* not secret: storage keys (serials) */
	free(keys);            /* not secret: the array of them */
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	return response_keys(rs, arr);
}

/* ---- the lease ---- */

int
pki_issue_lease_revoke(struct mount *m, json_t *internal)
{
	const char *serial = json_string_value(json_object_get(internal, "serial_number"));
	int64_t exp = json_integer_value(json_object_get(internal, "expiration")), t;
	int r;

	if (!serial)
		return CF_EINVAL;
	/* An expired certificate needs no revocation (Vault leaves it off the CRL). */
	if (exp > 0 && exp <= util_now())
		return 0;
	r = pki_revoke_serial(m, serial, &t);
	if (r == CF_ENOTFOUND) /* tidied away: nothing left to revoke */
		return 0;
	if (r < 0)
		log_error_r(r, "pki %s: revoking %s for its lease", m->path, serial);
	return r;
}
