/* pki_x509.c - the X.509 work of the pki engine (pki_int.h): key generation,
 * building and signing certificates, serial numbers, PEM and DER forms, and
 * the mount's issuer (load, reference, replace). OpenSSL 3 EVP/X509 only. */
#include "engines/pki/pki_int.h"

#include "backend/view.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- keys ---- */

int
pki_keygen(const char *key_type, int bits, EVP_PKEY **ret, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;

	if (strcmp(key_type, "rsa") == 0) {
		if (bits == 0)
			bits = 2048;
		if (bits != 2048 && bits != 3072 && bits != 4096 && bits != 8192) {
			util_errf(err, errlen, "unsupported bit length for RSA key: %d", bits);
			return CF_EINVAL;
		}
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (strcmp(key_type, "ec") == 0) {
		const char *curve = bits == 0 || bits == 256 ? "P-256"
		                    : bits == 224            ? "P-224"
		                    : bits == 384            ? "P-384"
		                    : bits == 521            ? "P-521"
		                                             : NULL;
		if (!curve) {
			util_errf(err, errlen, "unsupported bit length for EC key: %d", bits);
			return CF_EINVAL;
		}
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	} else if (strcmp(key_type, "ed25519") == 0) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		util_errf(err, errlen, "unknown key_type %s: must be rsa, ec or ed25519", key_type);
		return CF_EINVAL;
	}
	if (!k)
		return CF_EINTERNAL;
	*ret = k;
	return 0;
}

const char *
pki_key_type(const EVP_PKEY *k, int *ret_bits)
{
	const char *t;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		t = "rsa";
		break;
	case EVP_PKEY_EC:
		t = "ec";
		break;
	case EVP_PKEY_ED25519:
		t = "ed25519";
		break;
	default:
		return NULL;
	}
	if (ret_bits) /* OpenSSL says 256 for Ed25519; the contract is 253 */
		*ret_bits = t[1] == 'd' ? 253 : EVP_PKEY_get_bits(k);
	return t;
}

/* ---- PEM and DER ---- */

static char *
bio_string(BIO *b)
{
	char *data = NULL, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

char *
pki_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x) == 1)
		s = bio_string(b);
	BIO_free(b);
	return s;
}

char *
pki_cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char *s;

	if (n <= 0)
		return NULL;
	s = util_b64_encode(der, (size_t)n);
	OPENSSL_free(der);
	return s;
}

/* The key through an OSSL_ENCODER: output "PEM" or "DER", structure
 * "PrivateKeyInfo" (PKCS#8) or "type-specific" (PKCS#1, SEC1). The memory
 * BIO holding the key is wiped before it is freed. */
static int
key_encode(EVP_PKEY *k, const char *output, const char *structure, uint8_t **ret, size_t *ret_len)
{
	OSSL_ENCODER_CTX *ctx = NULL;
	BIO *b = BIO_new(BIO_s_secmem());
	char *data = NULL;
	uint8_t *out = NULL;
	long n;
	int r = CF_EINTERNAL;

	if (!b)
		return CF_ENOMEM;
	ctx = OSSL_ENCODER_CTX_new_for_pkey(k, OSSL_KEYMGMT_SELECT_KEYPAIR, output, structure,
	                                    NULL);
	if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx) == 0 || OSSL_ENCODER_to_bio(ctx, b) != 1)
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0)
		goto out;
	out = malloc((size_t)n + 1);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*ret = out;
	*ret_len = (size_t)n;
	r = 0;
out:
	OSSL_ENCODER_CTX_free(ctx);
	BIO_free(b);
	return r;
}

char *
pki_key_pem(EVP_PKEY *k)
{
	uint8_t *s = NULL;
	size_t n = 0;

	if (key_encode(k, "PEM", "PrivateKeyInfo", &s, &n) < 0)
		return NULL;
	return (char *)s;
}

char *
pki_key_export(EVP_PKEY *k, bool der, bool pkcs8)
{
	const char *structure = pkcs8 || EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519
	                                ? "PrivateKeyInfo"
	                                : "type-specific";
	uint8_t *s = NULL;
	size_t n = 0;
	char *b64;

	if (key_encode(k, der ? "DER" : "PEM", structure, &s, &n) < 0)
		return NULL;
	if (!der)
		return (char *)s;
	b64 = util_b64_encode(s, n);
	secmem_free(s, n);
	return b64;
}

/* ---- serial numbers ---- */

void
pki_serial_str(const ASN1_INTEGER *serial, char sep, char buf[PKI_SERIAL_STRLEN])
{
	const unsigned char *d = ASN1_STRING_get0_data(serial);
	int n = ASN1_STRING_length(serial);
	size_t o = 0;

	buf[0] = '\0';
	if (n > 63)
		n = 63; /* never for a serial we made; keeps the bound */
	for (int i = 0; i < n; i++) {
		if (i > 0)
			buf[o++] = sep;
		snprintf(buf + o, 3, "%02x", d[i]);
		o += 2;
	}
	if (n <= 0)
		snprintf(buf, PKI_SERIAL_STRLEN, "00");
}

int
pki_serial_norm(const char *s, char sep, char buf[PKI_SERIAL_STRLEN])
{
	size_t o = 0, pairs = 0;

	while (*s) {
		int hi = util_hex_digit((unsigned char)s[0]);
		int lo = hi < 0 ? -1 : util_hex_digit((unsigned char)s[1]);
		if (lo < 0 || pairs >= 63)
			return CF_EINVAL;
		if (pairs > 0)
			buf[o++] = sep;
		buf[o++] = "0123456789abcdef"[hi];
		buf[o++] = "0123456789abcdef"[lo];
		pairs++;
		s += 2;
		if (*s == ':' || *s == '-') {
			s++;
			if (!*s)
				return CF_EINVAL;
		}
	}
	if (pairs == 0)
		return CF_EINVAL;
	buf[o] = '\0';
	return 0;
}

/* A random positive serial of exactly PKI_SERIAL_BYTES bytes. */
static int
serial_random(X509 *x)
{
	uint8_t b[PKI_SERIAL_BYTES];
	BIGNUM *bn;
	int r = CF_ENOMEM;

	util_random(b, sizeof(b));
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 1;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		r = 0;
	BN_free(bn);
	return r;
}

/* ---- building a certificate ---- */

static int
name_add(X509_NAME *n, int nid, const char *const *vals)
{
	for (; vals && *vals; vals++) {
		if (X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)*vals,
		                               -1, -1, 0) != 1)
			return CF_EINVAL;
	}
	return 0;
}

/* The subject in the order Go's pkix.Name writes it (as Vault's certificates). */
static int
subject_build(const struct pki_cert_params *p, X509_NAME **ret)
{
	X509_NAME *n = X509_NAME_new();
	const char *one[2] = {NULL, NULL};
	int r;

	if (!n)
		return CF_ENOMEM;
	r = name_add(n, NID_countryName, p->country);
	if (r == 0)
		r = name_add(n, NID_organizationName, p->organization);
	if (r == 0)
		r = name_add(n, NID_organizationalUnitName, p->ou);
	if (r == 0)
		r = name_add(n, NID_localityName, p->locality);
	if (r == 0)
		r = name_add(n, NID_stateOrProvinceName, p->province);
	if (r == 0)
		r = name_add(n, NID_streetAddress, p->street_address);
	if (r == 0)
		r = name_add(n, NID_postalCode, p->postal_code);
	if (r == 0 && p->serial_number && *p->serial_number) {
		one[0] = p->serial_number;
		r = name_add(n, NID_serialNumber, one);
	}
	if (r == 0 && p->common_name && *p->common_name) {
		one[0] = p->common_name;
		r = name_add(n, NID_commonName, one);
	}
	if (r < 0) {
		X509_NAME_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

static int
gn_push(GENERAL_NAMES *gens, int type, const char *val)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (!g || !s || ASN1_STRING_set(s, val, -1) != 1) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(s);
		return CF_ENOMEM;
	}
	GENERAL_NAME_set0_value(g, type, s);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return CF_ENOMEM;
	}
	return 0;
}

/* "<oid>;UTF8:<value>" as an otherName holding a UTF8String. */
static int
gn_push_other(GENERAL_NAMES *gens, const char *spec, char *err, size_t errlen)
{
	const char *semi = strchr(spec, ';');
	char oidtxt[128];
	ASN1_OBJECT *oid = NULL;
	ASN1_TYPE *val = NULL;
	ASN1_UTF8STRING *u = NULL;
	GENERAL_NAME *g = NULL;
	size_t n;

	if (!semi || strncmp(semi + 1, "UTF8:", 5) != 0 || (n = (size_t)(semi - spec)) == 0 ||
	    n >= sizeof(oidtxt)) {
		util_errf(err, errlen, "invalid other_sans entry %s: must be <oid>;UTF8:<value>",
		          spec);
		return CF_EINVAL;
	}
	memcpy(oidtxt, spec, n);
	oidtxt[n] = '\0';
	oid = OBJ_txt2obj(oidtxt, 1);
	if (!oid) {
		util_errf(err, errlen, "invalid OID in other_sans: %s", oidtxt);
		return CF_EINVAL;
	}
	u = ASN1_UTF8STRING_new();
	val = ASN1_TYPE_new();
	g = GENERAL_NAME_new();
	if (!u || !val || !g || ASN1_STRING_set(u, semi + 6, -1) != 1)
		goto nomem;
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, u);
	u = NULL;
	if (GENERAL_NAME_set0_othername(g, oid, val) != 1)
		goto nomem;
	oid = NULL;
	val = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto nomem;
	return 0;
nomem:
	ASN1_OBJECT_free(oid);
	ASN1_TYPE_free(val);
	ASN1_UTF8STRING_free(u);
	GENERAL_NAME_free(g);
	return CF_ENOMEM;
}

static int
gn_push_ip(GENERAL_NAMES *gens, const char *ip, char *err, size_t errlen)
{
	ASN1_OCTET_STRING *o = a2i_IPADDRESS(ip);
	GENERAL_NAME *g;

	if (!o) {
		util_errf(err, errlen, "the value %s is not a valid IP address", ip);
		return CF_EINVAL;
	}
	g = GENERAL_NAME_new();
	if (!g) {
		ASN1_OCTET_STRING_free(o);
		return CF_ENOMEM;
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, o);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return CF_ENOMEM;
	}
	return 0;
}

static int
ext_add(X509 *x, int nid, void *value, int crit)
{
	return X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_REPLACE) == 1 ? 0 : CF_EINTERNAL;
}

/* The subject alternative names of p: 0 with *ret (NULL when there are none). */
static int
sans_build(const struct pki_cert_params *p, GENERAL_NAMES **ret, char *err, size_t errlen)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	const char *const *s;
	int r = 0;

	if (!gens)
		return CF_ENOMEM;
	for (s = p->dns_sans; r == 0 && s && *s; s++)
		r = gn_push(gens, GEN_DNS, *s);
	for (s = p->email_sans; r == 0 && s && *s; s++)
		r = gn_push(gens, GEN_EMAIL, *s);
	for (s = p->ip_sans; r == 0 && s && *s; s++)
		r = gn_push_ip(gens, *s, err, errlen);
	for (s = p->uri_sans; r == 0 && s && *s; s++)
		r = gn_push(gens, GEN_URI, *s);
	for (s = p->other_sans; r == 0 && s && *s; s++)
		r = gn_push_other(gens, *s, err, errlen);
	if (r < 0 || sk_GENERAL_NAME_num(gens) == 0) {
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
	*ret = gens;
	return r;
}

static int
sans_add(X509 *x, const struct pki_cert_params *p, char *err, size_t errlen)
{
	GENERAL_NAMES *gens = NULL;
	int r;

	r = sans_build(p, &gens, err, errlen);
	/* Critical when the subject is empty (RFC 5280 4.2.1.6). */
	if (r == 0 && gens)
		r = ext_add(x, NID_subject_alt_name, gens,
		            X509_NAME_entry_count(X509_get_subject_name(x)) == 0);
	GENERAL_NAMES_free(gens);
	return r;
}

static const struct {
	const char *name;
	int nid;
} eku_names[] = {
        {"ServerAuth", NID_server_auth},
        {"ClientAuth", NID_client_auth},
        {"CodeSigning", NID_code_sign},
        {"EmailProtection", NID_email_protect},
        {"TimeStamping", NID_time_stamp},
        {"OcspSigning", NID_OCSP_sign},
        {"IPSECEndSystem", NID_ipsecEndSystem},
        {"IPSECTunnel", NID_ipsecTunnel},
        {"IPSECUser", NID_ipsecUser},
        {"Any", NID_anyExtendedKeyUsage},
        {"MicrosoftServerGatedCrypto", NID_ms_sgc},
        {"NetscapeServerGatedCrypto", NID_ns_sgc},
        {"MicrosoftCommercialCodeSigning", NID_ms_code_com},
        {"MicrosoftKernelCodeSigning", NID_ms_ctl_sign},
};

static int
eku_add(X509 *x, const struct pki_cert_params *p, char *err, size_t errlen)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	const char *const *s;
	int r = 0;

	if (!eku)
		return CF_ENOMEM;
	for (s = p->ext_key_usage; r == 0 && s && *s; s++) {
		size_t i;
		for (i = 0; i < sizeof(eku_names) / sizeof(eku_names[0]); i++)
			if (strcasecmp(eku_names[i].name, *s) == 0)
				break;
		if (i == sizeof(eku_names) / sizeof(eku_names[0])) {
			util_errf(err, errlen, "unknown extended key usage %s", *s);
			r = CF_EINVAL;
		} else if (!sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(eku_names[i].nid))) {
			r = CF_ENOMEM;
		}
	}
	for (s = p->ext_key_usage_oids; r == 0 && s && *s; s++) {
		ASN1_OBJECT *o = OBJ_txt2obj(*s, 1);
		if (!o) {
			util_errf(err, errlen, "invalid extended key usage OID %s", *s);
			r = CF_EINVAL;
		} else if (!sk_ASN1_OBJECT_push(eku, o)) {
			ASN1_OBJECT_free(o);
			r = CF_ENOMEM;
		}
	}
	if (r == 0 && sk_ASN1_OBJECT_num(eku) > 0)
		r = ext_add(x, NID_ext_key_usage, eku, 0);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return r;
}

static int
key_usage_add(X509 *x, unsigned ku)
{
	ASN1_BIT_STRING *bs;
	int r = 0;

	if (ku == 0)
		return 0;
	bs = ASN1_BIT_STRING_new();
	if (!bs)
		return CF_ENOMEM;
	/* X509v3_KU_* are the bits as OpenSSL keeps them: bit i of the value
	 * is named bit i of the DER bit string (digitalSignature = 0x80 = bit 0). */
	for (int i = 0; i < 9; i++) {
		unsigned mask = i < 8 ? 0x80u >> i : 0x8000u;
		if ((ku & mask) && ASN1_BIT_STRING_set_bit(bs, i, 1) != 1)
			r = CF_ENOMEM;
	}
	if (r == 0)
		r = ext_add(x, NID_key_usage, bs, 1);
	ASN1_BIT_STRING_free(bs);
	return r;
}

static int
basic_constraints_add(X509 *x, const struct pki_cert_params *p)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int r = CF_ENOMEM;

	if (!bc)
		return CF_ENOMEM;
	bc->ca = p->is_ca ? 0xff : 0;
	if (p->is_ca && p->max_path_length >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (!bc->pathlen || ASN1_INTEGER_set(bc->pathlen, p->max_path_length) != 1)
			goto out;
	}
	r = ext_add(x, NID_basic_constraints, bc, 1);
out:
	BASIC_CONSTRAINTS_free(bc);
	return r;
}

static int
name_constraints_add(X509 *x, const char *const *domains)
{
	NAME_CONSTRAINTS *nc;
	int r = 0;

	if (!domains || !*domains)
		return 0;
	nc = NAME_CONSTRAINTS_new();
	if (!nc)
		return CF_ENOMEM;
	nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
	if (!nc->permittedSubtrees)
		r = CF_ENOMEM;
	for (; r == 0 && *domains; domains++) {
		GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!st || !s || ASN1_STRING_set(s, *domains, -1) != 1) {
			GENERAL_SUBTREE_free(st);
			ASN1_IA5STRING_free(s);
			r = CF_ENOMEM;
			break;
		}
		GENERAL_NAME_set0_value(st->base, GEN_DNS, s);
		if (!sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st)) {
			GENERAL_SUBTREE_free(st);
			r = CF_ENOMEM;
		}
	}
	if (r == 0)
		r = ext_add(x, NID_name_constraints, nc, 1);
	NAME_CONSTRAINTS_free(nc);
	return r;
}

static int
key_ids_add(X509 *x, const struct pki_issuer *iss)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *skid = ASN1_OCTET_STRING_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ikid;
	int r = CF_ENOMEM;

	if (!skid || !akid)
		goto out;
	/* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
	if (X509_pubkey_digest(x, EVP_sha1(), md, &mdlen) != 1) {
		r = CF_EINTERNAL;
		goto out;
	}
	if (ASN1_OCTET_STRING_set(skid, md, (int)mdlen) != 1)
		goto out;
	r = ext_add(x, NID_subject_key_identifier, skid, 0);
	if (r < 0)
		goto out;
	ikid = iss ? X509_get0_subject_key_id(iss->cert) : skid;
	if (ikid) {
		akid->keyid = ASN1_OCTET_STRING_dup(ikid);
		r = akid->keyid ? ext_add(x, NID_authority_key_identifier, akid, 0) : CF_ENOMEM;
	}
out:
	ASN1_OCTET_STRING_free(skid);
	AUTHORITY_KEYID_free(akid);
	return r;
}

static int
urls_push(GENERAL_NAMES *gens, const json_t *arr)
{
	size_t i;
	json_t *v;
	int r = 0;

	json_array_foreach(arr, i, v)
	{
		if (r == 0 && json_is_string(v))
			r = gn_push(gens, GEN_URI, json_string_value(v));
	}
	return r;
}

/* Authority information access (caIssuers, OCSP) and CRL distribution
 * points from config/urls. */
static int
urls_add(X509 *x, const json_t *urls)
{
	const json_t *iss = json_object_get(urls, "issuing_certificates");
	const json_t *ocsp = json_object_get(urls, "ocsp_servers");
	const json_t *crl = json_object_get(urls, "crl_distribution_points");
	AUTHORITY_INFO_ACCESS *aia = NULL;
	CRL_DIST_POINTS *cdp = NULL;
	GENERAL_NAMES *gens = NULL;
	int r = 0;

	if (json_array_size(iss) + json_array_size(ocsp) > 0) {
		aia = sk_ACCESS_DESCRIPTION_new_null();
		gens = GENERAL_NAMES_new();
		r = aia && gens ? 0 : CF_ENOMEM;
		if (r == 0)
			r = urls_push(gens, ocsp);
		for (int i = 0; r == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
			ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
			if (!ad) {
				r = CF_ENOMEM;
				break;
			}
			ad->method = OBJ_nid2obj(NID_ad_OCSP);
			GENERAL_NAME_free(ad->location);
			ad->location = GENERAL_NAME_dup(sk_GENERAL_NAME_value(gens, i));
			if (!ad->location || !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
				ACCESS_DESCRIPTION_free(ad);
				r = CF_ENOMEM;
			}
		}
		GENERAL_NAMES_free(gens);
		gens = GENERAL_NAMES_new();
		if (r == 0)
			r = gens ? urls_push(gens, iss) : CF_ENOMEM;
		for (int i = 0; r == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
			ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
			if (!ad) {
				r = CF_ENOMEM;
				break;
			}
			ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
			GENERAL_NAME_free(ad->location);
			ad->location = GENERAL_NAME_dup(sk_GENERAL_NAME_value(gens, i));
			if (!ad->location || !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
				ACCESS_DESCRIPTION_free(ad);
				r = CF_ENOMEM;
			}
		}
		if (r == 0)
			r = ext_add(x, NID_info_access, aia, 0);
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
	if (r == 0 && json_array_size(crl) > 0) {
		DIST_POINT *dp = DIST_POINT_new();
		cdp = sk_DIST_POINT_new_null();
		if (!dp || !cdp || !(dp->distpoint = DIST_POINT_NAME_new()) ||
		    !(gens = GENERAL_NAMES_new()) || !sk_DIST_POINT_push(cdp, dp)) {
			DIST_POINT_free(dp);
			r = CF_ENOMEM;
		} else {
			dp->distpoint->type = 0; /* fullName */
			dp->distpoint->name.fullname = gens;
			r = urls_push(gens, crl);
			gens = NULL;
		}
		if (r == 0)
			r = ext_add(x, NID_crl_distribution_points, cdp, 0);
	}
	GENERAL_NAMES_free(gens);
	AUTHORITY_INFO_ACCESS_free(aia);
	CRL_DIST_POINTS_free(cdp);
	return r;
}

/* The digest for a signature by k: NULL for Ed25519; by signature_bits, else
 * what Vault picks: SHA-256, or the curve's size for EC. */
static int
sign_digest(EVP_PKEY *k, int signature_bits, const EVP_MD **ret, char *err, size_t errlen)
{
	int bits = 0;
	const char *type = pki_key_type(k, &bits);

	if (type && strcmp(type, "ed25519") == 0) {
		*ret = NULL;
		return 0;
	}
	if (signature_bits == 0 && type && strcmp(type, "ec") == 0)
		signature_bits = bits > 384 ? 512 : bits > 256 ? 384 : 256;
	switch (signature_bits) {
	case 0:
	case 256:
		*ret = EVP_sha256();
		return 0;
	case 384:
		*ret = EVP_sha384();
		return 0;
	case 512:
		*ret = EVP_sha512();
		return 0;
	}
	util_errf(err, errlen, "unsupported signature_bits %d: must be 256, 384 or 512",
	          signature_bits);
	return CF_EINVAL;
}

static int
cert_sign_with(X509 *x, EVP_PKEY *k, const struct pki_cert_params *p, char *err, size_t errlen)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	int r;

	r = sign_digest(k, p->signature_bits, &md, err, errlen);
	if (r < 0)
		return r;
	mctx = EVP_MD_CTX_new();
	if (!mctx)
		return CF_ENOMEM;
	r = CF_EINTERNAL;
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, k) != 1)
		goto out;
	if (p->use_pss && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (X509_sign_ctx(x, mctx) <= 0)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(mctx);
	return r;
}

bool
pki_issuer_outlived(const struct pki_issuer *iss, int64_t not_after)
{
	ASN1_TIME *t = ASN1_TIME_new();
	int day = 0, sec = 0;
	bool past = false;

	if (!t || !ASN1_TIME_set(t, (time_t)not_after)) {
		ASN1_TIME_free(t);
		return true;
	}
	if (ASN1_TIME_diff(&day, &sec, X509_get0_notAfter(iss->cert), t) == 1)
		past = day > 0 || sec > 0;
	ASN1_TIME_free(t);
	return past;
}

static int64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
time_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, len, "%lld", (long long)t);
}

static int
cert_fill(X509 *x, const struct pki_issuer *iss, EVP_PKEY *pub, const struct pki_cert_params *p,
          const json_t *urls, char *err, size_t errlen)
{
	X509_NAME *subj = NULL;
	int r;

	if (X509_set_version(x, X509_VERSION_3) != 1)
		return CF_EINTERNAL;
	r = serial_random(x);
	if (r < 0)
		return r;
	if (p->subject) {
		subj = X509_NAME_dup(p->subject);
		r = subj ? 0 : CF_ENOMEM;
	} else {
		r = subject_build(p, &subj);
		if (r == CF_EINVAL)
			util_errf(err, errlen, "invalid subject field");
	}
	if (r < 0)
		return r;
	if (X509_set_subject_name(x, subj) != 1 ||
	    X509_set_issuer_name(x, iss ? X509_get_subject_name(iss->cert) : subj) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)p->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)p->not_after) ||
	    X509_set_pubkey(x, pub) != 1)
		r = CF_EINTERNAL;
	X509_NAME_free(subj);
	if (r == 0)
		r = basic_constraints_add(x, p);
	if (r == 0)
		r = key_usage_add(x, p->key_usage);
	if (r == 0)
		r = eku_add(x, p, err, errlen);
	if (r == 0)
		r = key_ids_add(x, iss);
	if (r == 0)
		r = sans_add(x, p, err, errlen);
	if (r == 0 && p->is_ca)
		r = name_constraints_add(x, p->permitted_dns_domains);
	if (r == 0 && urls)
		r = urls_add(x, urls);
	return r;
}

int
pki_cert_sign(const struct pki_issuer *iss, EVP_PKEY *self_key, const struct pki_cert_params *p,
              const json_t *urls, X509 **ret, char *err, size_t errlen)
{
	EVP_PKEY *signer = iss ? iss->key : self_key;
	EVP_PKEY *pub = p->pubkey ? p->pubkey : self_key;
	X509 *x = NULL;
	char a[32], b[32];
	int r;

	if (!signer || !pub) {
		util_errf(err, errlen, "the CA of this mount has no private key to sign with");
		return CF_EINVAL;
	}
	if (p->not_after <= p->not_before) {
		util_errf(err, errlen, "the certificate would expire before it becomes valid");
		return CF_EINVAL;
	}
	if (iss && pki_issuer_outlived(iss, p->not_after)) {
		time_text(p->not_after, a, sizeof(a));
		time_text(asn1_time_unix(X509_get0_notAfter(iss->cert)), b, sizeof(b));
		util_errf(err, errlen,
		          "cannot satisfy request, as TTL would result in notAfter %s that is "
		          "beyond the expiration of the CA certificate at %s",
		          a, b);
		return CF_EINVAL;
	}
	x = X509_new();
	if (!x)
		return CF_ENOMEM;
	r = cert_fill(x, iss, pub, p, urls, err, errlen);
	if (r == 0)
		r = cert_sign_with(x, signer, p, err, errlen);
	if (r < 0) {
		X509_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

/* ---- storage ---- */

int
pki_cert_store(struct view *v, X509 *x)
{
	char serial[PKI_SERIAL_STRLEN], key[PKI_SERIAL_STRLEN + 8];
	char *pem = pki_cert_pem(x);
	json_t *rec;
	int r;

	if (!pem)
		return CF_ENOMEM;
	pki_serial_str(X509_get0_serialNumber(x), '-', serial);
	snprintf(key, sizeof(key), "certs/%s", serial);
	rec = json_pack("{s:s, s:I}", "certificate", pem, "expiration",
	                (json_int_t)asn1_time_unix(X509_get0_notAfter(x)));
	free(pem);
	if (!rec)
		return CF_ENOMEM;
	r = view_put_json(v, key, rec);
	json_decref(rec);
	return r;
}

/* ---- the issuer ---- */

static void
issuer_free(struct pki_issuer *iss)
{
	X509_free(iss->cert);
	EVP_PKEY_free(iss->key);
	sk_X509_pop_free(iss->chain, X509_free);
	free(iss->cert_pem);
	free(iss);
}

int
pki_issuer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) * chain, struct pki_issuer **ret)
{
	struct pki_issuer *iss = calloc(1, sizeof(*iss));
	const char *type;

	if (!iss) {
		X509_free(cert);
		EVP_PKEY_free(key);
		sk_X509_pop_free(chain, X509_free);
		return CF_ENOMEM;
	}
	iss->refs = 1;
	iss->cert = cert;
	iss->key = key;
	iss->chain = chain ? chain : sk_X509_new_null();
	iss->cert_pem = pki_cert_pem(cert);
	if (!iss->chain || !iss->cert_pem) {
		issuer_free(iss);
		return CF_ENOMEM;
	}
	type = pki_key_type(X509_get0_pubkey(cert), NULL);
	if (!type || (key && EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)) {
		issuer_free(iss);
		return CF_EINVAL;
	}
	iss->key_type = (char *)type; /* static text */
	*ret = iss;
	return 0;
}

struct pki_issuer *
pki_issuer_get(struct pki_state *st)
{
	struct pki_issuer *iss;

	pthread_mutex_lock(&st->lock);
	iss = st->issuer;
	if (iss)
		iss->refs++;
	pthread_mutex_unlock(&st->lock);
	return iss;
}

void
pki_issuer_put(struct pki_issuer *iss)
{
	if (iss && --iss->refs == 0)
		issuer_free(iss);
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *
pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

int
pki_issuer_load(struct view *v, struct pki_issuer **ret)
{
	json_t *rec = NULL, *chain, *item;
	const char *certpem, *keypem;
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t i;
	int r;

	r = view_get_object(v, "ca/bundle", &rec);
	if (r < 0)
		return r;
	certpem = json_string_value(json_object_get(rec, "certificate"));
	keypem = json_string_value(json_object_get(rec, "private_key"));
	chain = json_object_get(rec, "ca_chain");
	r = CF_EIO;
	cert = certpem ? pem_cert(certpem) : NULL;
	if (!cert)
		goto out;
	if (keypem && !(key = pem_key(keypem)))
		goto out;
	sk = sk_X509_new_null();
	if (!sk) {
		r = CF_ENOMEM;
		goto out;
	}
	json_array_foreach(chain, i, item)
	{
		X509 *c = json_is_string(item) ? pem_cert(json_string_value(item)) : NULL;
		if (!c || !sk_X509_push(sk, c)) {
			X509_free(c);
			goto out;
		}
	}
	r = pki_issuer_new(cert, key, sk, ret);
	cert = NULL;
	key = NULL;
	sk = NULL;
	if (r == CF_EINVAL)
		r = CF_EIO;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(sk, X509_free);
	json_decref(rec);
	return r;
}

static json_t *
bundle_json(const struct pki_issuer *iss)
{
	json_t *rec = json_pack("{s:s, s:s, s:[]}", "certificate", iss->cert_pem, "key_type",
	                        iss->key_type, "ca_chain");
	json_t *chain = json_object_get(rec, "ca_chain");
	char *keypem = NULL;

	if (!rec)
		return NULL;
	for (int i = 0; i < sk_X509_num(iss->chain); i++) {
		char *pem = pki_cert_pem(sk_X509_value(iss->chain, i));
		if (!pem || json_array_append_new(chain, json_string(pem)) < 0) {
			free(pem);
			json_decref(rec);
			return NULL;
		}
		free(pem);
	}
	if (iss->key) {
		keypem = pki_key_pem(iss->key);
		if (!keypem || json_object_set_new(rec, "private_key", json_string(keypem)) < 0) {
			secmem_free_str(keypem);
			json_decref(rec);
			return NULL;
		}
		secmem_free_str(keypem);
	}
	return rec;
}

int
pki_issuer_set(struct pki_state *st, struct view *v, struct pki_issuer *iss)
{
	json_t *rec = bundle_json(iss);
	struct pki_issuer *old;
	int r;

	if (!rec) {
		pki_issuer_put(iss);
		return CF_ENOMEM;
	}
	r = view_put_json(v, "ca/bundle", rec);
	json_decref(rec);
	if (r < 0) {
		pki_issuer_put(iss);
		return r;
	}
	pthread_mutex_lock(&st->lock);
	old = st->issuer;
	st->issuer = iss;
	pthread_mutex_unlock(&st->lock);
	pki_issuer_put(old);
	return 0;
}

/* ---- certificate requests ---- */

int
pki_csr_make(EVP_PKEY *k, const struct pki_cert_params *p, bool add_basic_constraints,
             X509_REQ **ret, char *err, size_t errlen)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_REQ *req = X509_REQ_new();
	GENERAL_NAMES *gens = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	X509_NAME *subj = NULL;
	const EVP_MD *md = NULL;
	int r;

	if (!req)
		return CF_ENOMEM;
	r = subject_build(p, &subj);
	if (r == CF_EINVAL)
		util_errf(err, errlen, "invalid subject field");
	if (r == 0)
		r = sans_build(p, &gens, err, errlen);
	if (r == 0)
		r = sign_digest(k, p->signature_bits, &md, err, errlen);
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, subj) != 1 || X509_REQ_set_pubkey(req, k) != 1)
		goto out;
	if (gens && X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	if (add_basic_constraints) {
		bc = BASIC_CONSTRAINTS_new();
		if (!bc)
			goto out;
		bc->ca = 0xff;
		if (X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) != 1)
			goto out;
	}
	if (exts && X509_REQ_add_extensions(req, exts) != 1)
		goto out;
	if (X509_REQ_sign(req, k, md) <= 0)
		goto out;
	*ret = req;
	req = NULL;
	r = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	BASIC_CONSTRAINTS_free(bc);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return r;
}

int
pki_csr_names(X509_REQ *req, json_t **ret)
{
	json_t *a = json_pack("{s:[], s:[], s:[]}", "alt_names", "ip_sans", "uri_sans");
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	int r = a ? 0 : CF_ENOMEM;

	for (int i = 0; r == 0 && exts && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name) {
			gens = X509V3_EXT_d2i(e);
			break;
		}
	}
	for (int i = 0; gens && r == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *key = NULL;
		char text[64] = "";
		json_t *s = NULL;
		int type;
		ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
		if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) {
			key = type == GEN_URI ? "uri_sans" : "alt_names";
			s = json_stringn((const char *)ASN1_STRING_get0_data(v),
			                 (size_t)ASN1_STRING_length(v));
		} else if (type == GEN_IPADD) {
			int n = ASN1_STRING_length(v);
			if ((n == 4 || n == 16) &&
			    inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(v), text,
			              sizeof(text))) {
				key = "ip_sans";
				s = json_string(text);
			}
		}
		if (key && !s)
			r = type == GEN_IPADD ? CF_ENOMEM : CF_EINVAL; /* not UTF-8 */
		else if (key && json_array_append_new(json_object_get(a, key), s) < 0)
			r = CF_ENOMEM;
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int
pki_csr_parse(const char *pem, X509_REQ **ret, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int r = CF_EINVAL;

	if (!b)
		return CF_ENOMEM;
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (!req) {
		util_errf(err, errlen,
		          "csr contains no data: it must be a PEM CERTIFICATE REQUEST");
		return CF_EINVAL;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (!pub || !pki_key_type(pub, NULL)) {
		util_errf(err, errlen, "the csr's public key is not an RSA, EC or Ed25519 key");
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		util_errf(err, errlen,
		          "request signature invalid: the csr is not signed by its key");
		goto out;
	}
	*ret = req;
	req = NULL;
	r = 0;
out:
	X509_REQ_free(req);
	return r;
}

/* ---- PEM bundles (config/ca, intermediate/set-signed) ---- */

#define BUNDLE_MAX_CERTS 32

static int
bundle_block(const char *name, const char *header, const unsigned char *data, long len,
             EVP_PKEY **key, STACK_OF(X509) * certs, char *err, size_t errlen)
{
	const unsigned char *p = data;
	size_t nlen = strlen(name);

	if (strcmp(name, "CERTIFICATE") == 0) {
		X509 *x = d2i_X509(NULL, &p, len);
		if (!x || p != data + len) {
			X509_free(x);
			util_errf(err, errlen,
			          "a CERTIFICATE block of the bundle cannot be parsed");
			return CF_EINVAL;
		}
		if (sk_X509_num(certs) >= BUNDLE_MAX_CERTS) {
			X509_free(x);
			util_errf(err, errlen, "the bundle holds more than %d certificates",
			          BUNDLE_MAX_CERTS);
			return CF_EINVAL;
		}
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			return CF_ENOMEM;
		}
		return 0;
	}
	if (nlen < 11 || strcmp(name + nlen - 11, "PRIVATE KEY") != 0)
		return 0; /* EC PARAMETERS and the like: not needed */
	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || strstr(header, "ENCRYPTED")) {
		util_errf(err, errlen, "encrypted private keys are not supported");
		return CF_EINVAL;
	}
	if (*key) {
		util_errf(err, errlen, "the bundle holds more than one private key");
		return CF_EINVAL;
	}
	*key = d2i_AutoPrivateKey(NULL, &p, len);
	if (!*key || !pki_key_type(*key, NULL)) {
		EVP_PKEY_free(*key);
		*key = NULL;
		util_errf(err, errlen,
		          "the private key of the bundle cannot be parsed (rsa, ec or "
		          "ed25519 keys only)");
		return CF_EINVAL;
	}
	return 0;
}

int
pki_pem_bundle_parse(const char *pem, size_t len, EVP_PKEY **ret_key, STACK_OF(X509) * *ret_certs,
                     char *err, size_t errlen)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *b = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	EVP_PKEY *key = NULL;
	int r = 0;

	if (!certs || !b) {
		r = CF_ENOMEM;
		goto out;
	}
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		/* secure: the decoded blocks (a private key among them) live in
		 * buffers OpenSSL clears when it frees them */
		if (PEM_read_bio_ex(b, &name, &header, &data, &dlen,
		                    PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) != 1)
			break;
		r = bundle_block(name, header, data, dlen, &key, certs, err, errlen);
		OPENSSL_secure_free(name);
		OPENSSL_secure_free(header);
		OPENSSL_secure_clear_free(data, (size_t)dlen);
		if (r < 0)
			goto out;
	}
	ERR_clear_error();
	if (sk_X509_num(certs) == 0 && !key) {
		util_errf(err, errlen, "no data found in PEM bundle");
		r = CF_EINVAL;
		goto out;
	}
	*ret_key = key;
	*ret_certs = certs;
	key = NULL;
	certs = NULL;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* ---- sign-self-issued ---- */

int
pki_cert_resign(const struct pki_issuer *iss, X509 *x, char *err, size_t errlen)
{
	const ASN1_OCTET_STRING *ikid = X509_get0_subject_key_id(iss->cert);
	struct pki_cert_params p = {.signature_bits = 0};
	AUTHORITY_KEYID *akid = NULL;
	int i, r = CF_EINTERNAL;

	if (!iss->key) {
		util_errf(err, errlen, "the CA of this mount has no private key to sign with");
		return CF_EINVAL;
	}
	if (X509_set_issuer_name(x, X509_get_subject_name(iss->cert)) != 1)
		return CF_EINTERNAL;
	i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
	if (i >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	if (ikid) {
		akid = AUTHORITY_KEYID_new();
		if (!akid || !(akid->keyid = ASN1_OCTET_STRING_dup(ikid))) {
			AUTHORITY_KEYID_free(akid);
			return CF_ENOMEM;
		}
		r = ext_add(x, NID_authority_key_identifier, akid, 0);
		AUTHORITY_KEYID_free(akid);
		if (r < 0)
			return r;
	}
	return cert_sign_with(x, iss->key, &p, err, errlen);
}
