/* pki_role.c - roles of the pki engine: roles/:name and the roles LIST, and
 * the name policy a role applies to the names of a certificate (Vault's PKI
 * API: create/update role, read role, delete role, list roles). */
#include "engines/pki/pki_int.h"

#include "backend/field.h"
#include "backend/view.h"
#include "lib/err.h"
#include "lib/glob.h"
#include "lib/jsonx.h"

#include <ctype.h>
#include <stdarg.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROLE_PREFIX   "roles/"
#define ROLE_NAME_MAX 128

/* Every parameter of a role with Vault's default (Vault's PKI API,
 * create/update role). */
const struct field pki_role_fields[] = {
        {"ttl", FIELD_DURATION, .def = "0",
         .desc = "validity of issued certificates; 0: the mount's default lease TTL"},
        {"max_ttl", FIELD_DURATION, .def = "0",
         .desc = "longest validity a request may ask for; 0: the mount's max lease TTL"},
        {"allow_localhost", FIELD_BOOL, .def = "true",
         .desc = "allow localhost and localdomain as names"},
        {"allowed_domains", FIELD_STRLIST, .def = "", .desc = "domains names may be in"},
        {"allow_bare_domains", FIELD_BOOL, .def = "false",
         .desc = "allow the domains of allowed_domains themselves"},
        {"allow_subdomains", FIELD_BOOL, .def = "false",
         .desc = "allow subdomains (wildcards included) of allowed_domains"},
        {"allow_glob_domains", FIELD_BOOL, .def = "false",
         .desc = "allowed_domains may hold glob patterns (\"ftp*.example.com\")"},
        {"allow_wildcard_certificates", FIELD_BOOL, .def = "true",
         .desc = "allow RFC 6125 wildcard names (\"*.example.com\")"},
        {"allow_any_name", FIELD_BOOL, .def = "false", .desc = "allow any name"},
        {"enforce_hostnames", FIELD_BOOL, .def = "true",
         .desc = "names (and email hosts) must be valid host names"},
        {"allow_ip_sans", FIELD_BOOL, .def = "true", .desc = "allow IP SANs"},
        {"allowed_uri_sans", FIELD_STRLIST, .def = "", .desc = "glob patterns of allowed URI SANs"},
        {"allowed_other_sans", FIELD_STRLIST, .def = "",
         .desc = "allowed other SANs, \"<oid>;UTF8:<value or *>\", or \"*\" for any"},
        {"allowed_serial_numbers", FIELD_STRLIST, .def = "",
         .desc = "glob patterns of allowed subject serial numbers; none: refused"},
        {"server_flag", FIELD_BOOL, .def = "true", .desc = "add the ServerAuth extended key usage"},
        {"client_flag", FIELD_BOOL, .def = "true", .desc = "add the ClientAuth extended key usage"},
        {"code_signing_flag", FIELD_BOOL, .def = "false",
         .desc = "add the CodeSigning extended key usage"},
        {"email_protection_flag", FIELD_BOOL, .def = "false",
         .desc = "add the EmailProtection extended key usage"},
        {"key_type", FIELD_STRING, .def = "rsa",
         .desc = "rsa, ec, ed25519, or any (sign only: any key of a safe size)"},
        {"key_bits", FIELD_INT, .def = "0",
         .desc = "rsa: 2048 (0), 3072, 4096, 8192; ec: 224, 256 (0), 384, 521"},
        {"signature_bits", FIELD_INT, .def = "0",
         .desc = "hash of RSA signatures: 256, 384, 512; 0: the issuer's default"},
        {"use_pss", FIELD_BOOL, .def = "false", .desc = "RSA-PSS signatures from an RSA issuer"},
        {"key_usage", FIELD_STRLIST, .def = "DigitalSignature,KeyAgreement,KeyEncipherment",
         .desc = "key usages (Go's x509.KeyUsage names without the prefix)"},
        {"ext_key_usage", FIELD_STRLIST, .def = "",
         .desc = "extended key usages (Go's x509.ExtKeyUsage names without the prefix)"},
        {"ext_key_usage_oids", FIELD_STRLIST, .def = "",
         .desc = "extended key usages as dotted OIDs"},
        {"use_csr_common_name", FIELD_BOOL, .def = "true",
         .desc = "sign: take the common name from the CSR"},
        {"use_csr_sans", FIELD_BOOL, .def = "true", .desc = "sign: take the SANs from the CSR"},
        {"ou", FIELD_STRLIST, .def = "", .desc = "OU values of the subject"},
        {"organization", FIELD_STRLIST, .def = "", .desc = "O values of the subject"},
        {"country", FIELD_STRLIST, .def = "", .desc = "C values of the subject"},
        {"locality", FIELD_STRLIST, .def = "", .desc = "L values of the subject"},
        {"province", FIELD_STRLIST, .def = "", .desc = "ST values of the subject"},
        {"street_address", FIELD_STRLIST, .def = "",
         .desc = "street address values of the subject"},
        {"postal_code", FIELD_STRLIST, .def = "", .desc = "postal code values of the subject"},
        {"generate_lease", FIELD_BOOL, .def = "false",
         .desc = "attach a lease to each certificate; revoking it revokes the certificate"},
        {"no_store", FIELD_BOOL, .def = "false",
         .desc = "do not store issued certificates (implies generate_lease=false)"},
        {"require_cn", FIELD_BOOL, .def = "true", .desc = "a common name is required"},
        {"basic_constraints_valid_for_non_ca", FIELD_BOOL, .def = "false",
         .desc = "mark basic constraints valid on non-CA certificates"},
        {"not_before_duration", FIELD_DURATION, .def = "30s",
         .desc = "how far NotBefore is backdated"},
        {"issuer_ref", FIELD_STRING, .def = "default",
         .desc = "the issuer; a mount has one, \"default\""},
        {NULL},
};

/* ---- names ---- */

/* A host name label: letters, digits and '-', not at either end, 1 to 63
 * characters (the regular expression of Vault's hostname check). */
static bool
label_valid(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool
hostname_valid(const char *s)
{
	size_t len = strlen(s);
	const char *p = s, *dot;

	if (len == 0 || len > 253)
		return false;
	for (;;) {
		dot = strchr(p, '.');
		if (!label_valid(p, dot ? (size_t)(dot - p) : strlen(p)))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool
pki_hostname_like(const char *name)
{
	if (name[0] == '*' && name[1] == '.')
		name += 2;
	return hostname_valid(name);
}

/* The left-most label of a wildcard name: '*' alone, or one '*' among the
 * characters of a label ("foo*", "*foo", "f*o"), as RFC 6125 allows. */
static bool
wildcard_label_valid(const char *s, size_t n)
{
	char buf[64];
	size_t k = 0;

	if (n == 1 && s[0] == '*')
		return true;
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '*')
			buf[k++] = s[i];
	/* "f*o" stands for labels such as "foo": check the letters around it */
	return k > 0 && label_valid(buf, k);
}

static bool
has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* name ends with "." domain */
static bool
is_subdomain(const char *name, const char *domain)
{
	size_t n = strlen(name), m = strlen(domain);

	return m > 0 && n > m + 1 && name[n - m - 1] == '.' &&
	       strcasecmp(name + n - m, domain) == 0;
}

/* The checks of Vault's validateNames, for one name. */
bool
pki_name_allowed(const struct pki_name_policy *p, const char *name)
{
	const char *reduced = name, *email_domain = NULL, *at, *dot, *star;
	const char *label = NULL;
	size_t label_len = 0;
	bool wildcard = false;

	if (!*name)
		return false;
	at = strchr(name, '@');
	if (at) {
		if (strchr(at + 1, '@') || at == name)
			return false;
		reduced = email_domain = at + 1;
	}
	star = strchr(reduced, '*');
	if (star) {
		wildcard = true;
		if (!p->allow_wildcard_certificates || email_domain)
			return false;
		/* one '*', in the left-most label only */
		if (strchr(star + 1, '*'))
			return false;
		dot = strchr(reduced, '.');
		if (!dot || star > dot)
			return false;
		label = reduced;
		label_len = (size_t)(dot - reduced);
		reduced = dot + 1;
	}
	if (p->enforce_hostnames) {
		if (!hostname_valid(reduced))
			return false;
		if (wildcard && !wildcard_label_valid(label, label_len))
			return false;
	}
	if (p->allow_any_name)
		return true;
	if (p->allow_localhost) {
		if (strcasecmp(reduced, "localhost") == 0 ||
		    strcasecmp(reduced, "localdomain") == 0)
			return true;
		if (p->allow_subdomains && (has_suffix_ci(reduced, ".localhost") ||
		                            has_suffix_ci(reduced, ".localdomain")))
			return true;
	}
	for (const char *const *d = p->allowed_domains; d && *d; d++) {
		if (!**d)
			continue;
		if (p->allow_bare_domains && (strcasecmp(name, *d) == 0 ||
		                              (email_domain && strcasecmp(email_domain, *d) == 0)))
			return true;
		if (p->allow_subdomains &&
		    (is_subdomain(reduced, *d) || (wildcard && strcasecmp(reduced, *d) == 0)))
			return true;
		if (p->allow_glob_domains && strchr(*d, '*') && glob_match(*d, name))
			return true;
	}
	return false;
}

/* ---- usages ---- */

static const struct {
	const char *name;
	unsigned bit;
} key_usages[] = {
        {"DigitalSignature", X509v3_KU_DIGITAL_SIGNATURE},
        {"ContentCommitment", X509v3_KU_NON_REPUDIATION},
        {"KeyEncipherment", X509v3_KU_KEY_ENCIPHERMENT},
        {"DataEncipherment", X509v3_KU_DATA_ENCIPHERMENT},
        {"KeyAgreement", X509v3_KU_KEY_AGREEMENT},
        {"CertSign", X509v3_KU_KEY_CERT_SIGN},
        {"CRLSign", X509v3_KU_CRL_SIGN},
        {"EncipherOnly", X509v3_KU_ENCIPHER_ONLY},
        {"DecipherOnly", X509v3_KU_DECIPHER_ONLY},
};

int
pki_key_usage_bits(json_t *list, unsigned *ret_bits, const char **ret_bad)
{
	unsigned bits = 0;
	size_t i, k;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		for (k = 0; s && k < sizeof(key_usages) / sizeof(key_usages[0]); k++)
			if (strcasecmp(s, key_usages[k].name) == 0)
				break;
		if (!s || k == sizeof(key_usages) / sizeof(key_usages[0])) {
			*ret_bad = s ? s : "";
			return CF_EINVAL;
		}
		bits |= key_usages[k].bit;
	}
	*ret_bits = bits;
	return 0;
}

static const char *const ext_key_usages[] = {
        "Any",
        "ServerAuth",
        "ClientAuth",
        "CodeSigning",
        "EmailProtection",
        "IPSECEndSystem",
        "IPSECTunnel",
        "IPSECUser",
        "TimeStamping",
        "OCSPSigning",
        "MicrosoftServerGatedCrypto",
        "NetscapeServerGatedCrypto",
        "MicrosoftCommercialCodeSigning",
        "MicrosoftKernelCodeSigning",
};

const char *
pki_ext_key_usage_name(const char *name)
{
	for (size_t i = 0; i < sizeof(ext_key_usages) / sizeof(ext_key_usages[0]); i++)
		if (strcasecmp(name, ext_key_usages[i]) == 0)
			return ext_key_usages[i];
	return NULL;
}

/* ---- storage ---- */

static int
role_key(const char *name, char *buf, size_t len)
{
	int n;

	if (!*name || strlen(name) > ROLE_NAME_MAX)
		return CF_EINVAL;
	n = snprintf(buf, len, ROLE_PREFIX "%s", name);
	return n < 0 || (size_t)n >= len ? CF_EINVAL : 0;
}

int
pki_role_load(struct view *v, const char *name, json_t **ret)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX];
	json_t *rec = NULL;
	int r;

	if (role_key(name, key, sizeof(key)) < 0)
		return CF_ENOTFOUND;
	r = view_get_object(v, key, &rec);
	if (r < 0)
		return r;
	r = field_defaults(pki_role_fields, rec);
	if (r < 0) {
		json_decref(rec);
		return r;
	}
	*ret = rec;
	return 0;
}

/* ---- validation ---- */

static bool
oid_valid(const char *s)
{
	ASN1_OBJECT *o = OBJ_txt2obj(s, 1);

	ASN1_OBJECT_free(o);
	return o != NULL;
}

/* "<oid>;UTF8:<value>" (or "UTF-8"), as OpenSSL writes other names. */
static bool
other_san_valid(const char *s)
{
	const char *semi = strchr(s, ';');
	char oid[128];
	size_t n;

	if (!semi)
		return false;
	n = (size_t)(semi - s);
	if (n == 0 || n >= sizeof(oid))
		return false;
	memcpy(oid, s, n);
	oid[n] = '\0';
	if (!oid_valid(oid))
		return false;
	return strncasecmp(semi + 1, "UTF8:", 5) == 0 || strncasecmp(semi + 1, "UTF-8:", 6) == 0;
}

/* Key type and size as Vault checks them at role write
 * (certutil.ValidateDefaultOrValueKeyType...). Sets the default size. */
static int
check_key(json_t *rec, struct response *rs)
{
	const char *kt = json_string_value(json_object_get(rec, "key_type"));
	json_int_t bits = json_integer_value(json_object_get(rec, "key_bits"));
	json_int_t sig = json_integer_value(json_object_get(rec, "signature_bits"));

	if (!kt)
		kt = "rsa";
	if (strcmp(kt, "rsa") == 0) {
		if (bits == 0)
			bits = 2048;
		if (bits != 2048 && bits != 3072 && bits != 4096 && bits != 8192) {
			(void)response_errorf(
			        rs,
			        "invalid value for key_bits: unsupported bit length for "
			        "RSA key: %lld (2048, 3072, 4096 or 8192)",
			        (long long)bits);
			return CF_EINVAL;
		}
	} else if (strcmp(kt, "ec") == 0) {
		if (bits == 0)
			bits = 256;
		if (bits != 224 && bits != 256 && bits != 384 && bits != 521) {
			(void)response_errorf(
			        rs,
			        "invalid value for key_bits: unsupported bit length for "
			        "EC key: %lld (224, 256, 384 or 521)",
			        (long long)bits);
			return CF_EINVAL;
		}
	} else if (strcmp(kt, "ed25519") == 0 || strcmp(kt, "any") == 0) {
		bits = 0;
	} else {
		return pki_fail(
		        rs,
		        "invalid value for key_type: unknown key type %s (rsa, ec, ed25519, any)",
		        kt);
	}
	if (sig != 0 && sig != 256 && sig != 384 && sig != 512)
		return pki_fail(rs, "invalid value for signature_bits: must be 0, 256, 384 or 512");
	if (json_object_set_new(rec, "key_bits", json_integer(bits)) != 0)
		return CF_ENOMEM;
	return 0;
}

static int
check_role(json_t *rec, struct response *rs)
{
	json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));
	json_int_t max = json_integer_value(json_object_get(rec, "max_ttl"));
	const char *bad = NULL;
	unsigned bits;
	size_t i;
	json_t *v;
	int r;

	r = check_key(rec, rs);
	if (r < 0)
		return r;
	if (max > 0 && ttl > max)
		return pki_fail(rs, "\"ttl\" value must be less than \"max_ttl\" value");
	if (pki_key_usage_bits(json_object_get(rec, "key_usage"), &bits, &bad) < 0)
		return pki_fail(rs, "invalid value for key_usage: unknown key usage %s", bad);
	json_array_foreach(json_object_get(rec, "ext_key_usage"), i, v)
	{
		if (!pki_ext_key_usage_name(json_string_value(v)))
			return pki_fail(
			        rs,
			        "invalid value for ext_key_usage: unknown extended key usage %s",
			        json_string_value(v));
	}
	json_array_foreach(json_object_get(rec, "ext_key_usage_oids"), i, v)
	{
		if (!oid_valid(json_string_value(v)))
			return pki_fail(rs,
			                "invalid value for ext_key_usage_oids: %s is not an OID",
			                json_string_value(v));
	}
	json_array_foreach(json_object_get(rec, "allowed_other_sans"), i, v)
	{
		const char *s = json_string_value(v);
		if (strcmp(s, "*") != 0 && !other_san_valid(s))
			return pki_fail(rs,
			                "invalid value for allowed_other_sans: %s is not "
			                "\"<oid>;UTF8:<value>\" "
			                "or \"*\"",
			                s);
	}
	if (strcmp(json_string_value(json_object_get(rec, "issuer_ref")), "default") != 0)
		return pki_fail(
		        rs, "invalid value for issuer_ref: a mount has one issuer, \"default\"");
	/* no_store implies generate_lease=false (Vault's create/update role) */
	if (json_is_true(json_object_get(rec, "no_store")) &&
	    json_object_set_new(rec, "generate_lease", json_false()) != 0)
		return CF_ENOMEM;
	return 0;
}

/* ---- handlers ---- */

int
pki_role_write(struct request *rq, struct response *rs)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX];
	json_t *rec = json_object();
	int r;

	if (!rec)
		return CF_ENOMEM;
	if (role_key(rq->cap[0], key, sizeof(key)) < 0) {
		r = pki_fail(rs, "invalid role name: at most %d characters", ROLE_NAME_MAX);
		goto out;
	}
	/* A write replaces the role: what it leaves out gets its default. */
	r = field_merge(pki_role_fields, rq->data, rec, rs);
	if (r == 0)
		r = field_defaults(pki_role_fields, rec);
	if (r == 0)
		r = check_role(rec, rs);
	if (r == 0)
		r = view_put_json(rq->mount->view, key, rec);
out:
	json_decref(rec);
	return r;
}

int
pki_role_read(struct request *rq, struct response *rs)
{
	json_t *rec = NULL;
	int r;

	r = pki_role_load(rq->mount->view, rq->cap[0], &rec);
	if (r < 0)
		return r;
	response_set_data(rs, rec);
	return 0;
}

int
pki_role_delete(struct request *rq, struct response *rs)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX];
	int r;

	(void)rs;
	if (role_key(rq->cap[0], key, sizeof(key)) < 0)
		return 0;
	r = view_delete(rq->mount->view, key);
	return r == CF_ENOTFOUND ? 0 : r;
}

int
pki_role_list(struct request *rq, struct response *rs)
{
	return view_list_response(rq->mount->view, ROLE_PREFIX, VIEW_LIST_NO_FOLDERS, rs);
}

int
pki_role_exists(struct request *rq, bool *ret_exists)
{
	char key[sizeof(ROLE_PREFIX) + ROLE_NAME_MAX];

	if (role_key(rq->cap[0], key, sizeof(key)) < 0) {
		*ret_exists = false;
		return 0;
	}
	return view_object_exists(rq->mount->view, key, ret_exists);
}
