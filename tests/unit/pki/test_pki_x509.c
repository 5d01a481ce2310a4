/* test_pki_x509.c - the X.509 work of the pki engine without a server: serial
 * number forms both ways, key generation per type, and pki_cert_sign's
 * certificates (extensions, validity, chaining) checked with OpenSSL's own
 * verifier; PEM bundles as config/ca reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/pki/pki_int.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- serial forms ---- */

static const struct {
	const char *in;
	char sep;
	int r;
	const char *out;
} norm_vectors[] = {
        {"1a:2b:3c", '-', 0, "1a-2b-3c"},
        {"1A-2B-3C", ':', 0, "1a:2b:3c"},
        {"1a-2b:3c", ':', 0, "1a:2b:3c"},
        {"1a2b3c", ':', 0, "1a:2b:3c"},
        {"00", '-', 0, "00"},
        {"", ':', CF_EINVAL, NULL},
        {"1", ':', CF_EINVAL, NULL},
        {"1a:", ':', CF_EINVAL, NULL},
        {"1a::2b", ':', CF_EINVAL, NULL},
        {":1a", ':', CF_EINVAL, NULL},
        {"1g", ':', CF_EINVAL, NULL},
        {"1a 2b", ':', CF_EINVAL, NULL},
        {"../x", '-', CF_EINVAL, NULL},
};

static void
test_pki_serial_norm_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(norm_vectors) / sizeof(norm_vectors[0]); i++) {
		char buf[PKI_SERIAL_STRLEN] = "";
		int r = pki_serial_norm(norm_vectors[i].in, norm_vectors[i].sep, buf);
		assert_int_equal(r, norm_vectors[i].r);
		if (r == 0)
			assert_string_equal(buf, norm_vectors[i].out);
	}
}

static void
test_pki_serial_norm_length_limit(void **state)
{
	char in[64 * 3 + 1], buf[PKI_SERIAL_STRLEN];
	size_t o = 0;

	(void)state;
	for (int i = 0; i < 63; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, i ? ":%02x" : "%02x", i);
	assert_int_equal(pki_serial_norm(in, '-', buf), 0);
	assert_int_equal(strlen(buf), 63 * 3 - 1);
	snprintf(in + o, sizeof(in) - o, ":ff"); /* 64 bytes: refused */
	assert_int_equal(pki_serial_norm(in, '-', buf), CF_EINVAL);
}

static void
test_pki_serial_str_roundtrip(void **state)
{
	static const unsigned char bytes[] = {0x01, 0xab, 0x00, 0x7f};
	ASN1_INTEGER *a = ASN1_INTEGER_new();
	char api[PKI_SERIAL_STRLEN], store[PKI_SERIAL_STRLEN], back[PKI_SERIAL_STRLEN];

	(void)state;
	assert_non_null(a);
	assert_int_equal(ASN1_STRING_set(a, bytes, sizeof(bytes)), 1);
	pki_serial_str(a, ':', api);
	pki_serial_str(a, '-', store);
	assert_string_equal(api, "01:ab:00:7f");
	assert_string_equal(store, "01-ab-00-7f");
	assert_int_equal(pki_serial_norm(api, '-', back), 0);
	assert_string_equal(back, store);
	ASN1_INTEGER_free(a);
}

/* ---- keys ---- */

static void
test_pki_keygen_types(void **state)
{
	static const struct {
		const char *type;
		int bits, want_bits;
		int r;
	} v[] = {
	        {"rsa", 0, 2048, 0},      {"ec", 0, 256, 0},           {"ec", 384, 384, 0},
	        {"ed25519", 0, 253, 0},   {"rsa", 1024, 0, CF_EINVAL}, {"ec", 255, 0, CF_EINVAL},
	        {"dsa", 0, 0, CF_EINVAL}, {"any", 0, 0, CF_EINVAL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		EVP_PKEY *k = NULL;
		char err[128] = "";
		int bits = 0;
		int r = pki_keygen(v[i].type, v[i].bits, &k, err, sizeof(err));
		assert_int_equal(r, v[i].r);
		if (r < 0) {
			assert_true(strlen(err) > 0);
			continue;
		}
		assert_string_equal(pki_key_type(k, &bits), v[i].type);
		assert_int_equal(bits, v[i].want_bits);
		EVP_PKEY_free(k);
	}
}

static void
test_pki_key_export_forms(void **state)
{
	EVP_PKEY *k = NULL;
	char err[128], *s;

	(void)state;
	assert_int_equal(pki_keygen("ec", 0, &k, err, sizeof(err)), 0);
	s = pki_key_export(k, false, false);
	assert_non_null(strstr(s, "BEGIN EC PRIVATE KEY"));
	secmem_free_str(s);
	s = pki_key_export(k, false, true);
	assert_non_null(strstr(s, "BEGIN PRIVATE KEY"));
	secmem_free_str(s);
	s = pki_key_pem(k);
	assert_non_null(strstr(s, "BEGIN PRIVATE KEY"));
	secmem_free_str(s);
	s = pki_key_export(k, true, false); /* base64 DER: no PEM armour */
	assert_null(strstr(s, "BEGIN"));
	assert_true(strlen(s) > 100);
	secmem_free_str(s);
	EVP_PKEY_free(k);
}

/* ---- certificates ---- */

static struct pki_issuer *
make_root(const char *type, int64_t now, int64_t ttl, int pathlen)
{
	struct pki_cert_params p = {.common_name = "Unit Root",
	                            .not_before = now - 30,
	                            .not_after = now + ttl,
	                            .is_ca = true,
	                            .max_path_length = pathlen,
	                            .key_usage = X509v3_KU_KEY_CERT_SIGN | X509v3_KU_CRL_SIGN};
	struct pki_issuer *iss = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	char err[256] = "";

	assert_int_equal(pki_keygen(type, 0, &k, err, sizeof(err)), 0);
	assert_int_equal(pki_cert_sign(NULL, k, &p, NULL, &x, err, sizeof(err)), 0);
	assert_int_equal(pki_issuer_new(x, k, NULL, &iss), 0);
	return iss;
}

static int
verify(X509 *root, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_add_cert(store, root);
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void
test_pki_cert_sign_root_and_leaf(void **state)
{
	static const char *const dns[] = {"a.example.com", "b.example.com", NULL};
	static const char *const ips[] = {"192.0.2.7", "2001:db8::1", NULL};
	static const char *const eku[] = {"ServerAuth", "ClientAuth", NULL};
	int64_t now = util_now();
	const char *types[] = {"rsa", "ec", "ed25519"};

	(void)state;
	for (size_t t = 0; t < 3; t++) {
		struct pki_issuer *iss = make_root(types[t], now, 86400, 1);
		struct pki_cert_params p = {.common_name = "a.example.com",
		                            .dns_sans = dns,
		                            .ip_sans = ips,
		                            .not_before = now - 30,
		                            .not_after = now + 3600,
		                            .max_path_length = -1,
		                            .key_usage = X509v3_KU_DIGITAL_SIGNATURE,
		                            .ext_key_usage = eku};
		EVP_PKEY *lk = NULL;
		X509 *leaf = NULL;
		char err[256] = "";

		assert_int_equal(X509_check_ca(iss->cert), 1);
		assert_int_equal(X509_get_pathlen(iss->cert), 1);
		assert_int_equal(X509_get_key_usage(iss->cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
		assert_int_equal(pki_keygen("ec", 0, &lk, err, sizeof(err)), 0);
		p.pubkey = lk;
		assert_int_equal(pki_cert_sign(iss, NULL, &p, NULL, &leaf, err, sizeof(err)), 0);
		assert_int_equal(verify(iss->cert, leaf), 1);
		assert_int_equal(X509_check_ca(leaf), 0);
		assert_int_equal(X509_check_host(leaf, "b.example.com", 0, 0, NULL), 1);
		assert_int_equal(X509_check_ip_asc(leaf, "2001:db8::1", 0), 1);
		assert_int_equal(X509_get_extended_key_usage(leaf),
		                 XKU_SSL_SERVER | XKU_SSL_CLIENT);
		/* AKID of the leaf is the SKID of the root */
		assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
		                                       X509_get0_subject_key_id(iss->cert)),
		                 0);
		/* 20-byte positive serial */
		assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(leaf)),
		                 PKI_SERIAL_BYTES);
		X509_free(leaf);
		EVP_PKEY_free(lk);
		pki_issuer_put(iss);
	}
}

static void
test_pki_cert_sign_refusals(void **state)
{
	static const char *const bad_ip[] = {"300.1.1.1", NULL};
	int64_t now = util_now();
	struct pki_issuer *iss = make_root("ec", now, 3600, -1);
	struct pki_cert_params p = {.common_name = "x",
	                            .not_before = now,
	                            .not_after = now + 7200,
	                            .max_path_length = -1};
	EVP_PKEY *lk = NULL;
	X509 *x = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(pki_keygen("ec", 0, &lk, err, sizeof(err)), 0);
	p.pubkey = lk;
	/* past the end of the CA */
	assert_int_equal(pki_cert_sign(iss, NULL, &p, NULL, &x, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "beyond the expiration of the CA certificate"));
	/* a bad IP SAN */
	p.not_after = now + 60;
	p.ip_sans = bad_ip;
	err[0] = '\0';
	assert_int_equal(pki_cert_sign(iss, NULL, &p, NULL, &x, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "300.1.1.1"));
	/* expires before it starts */
	p.ip_sans = NULL;
	p.not_after = now - 10;
	assert_int_equal(pki_cert_sign(iss, NULL, &p, NULL, &x, err, sizeof(err)), CF_EINVAL);
	/* bad signature_bits */
	p.not_after = now + 60;
	p.signature_bits = 128;
	assert_int_equal(pki_cert_sign(iss, NULL, &p, NULL, &x, err, sizeof(err)), CF_EINVAL);
	assert_null(x);
	EVP_PKEY_free(lk);
	pki_issuer_put(iss);
}

static void
test_pki_cert_sign_urls(void **state)
{
	int64_t now = util_now();
	struct pki_issuer *iss = make_root("ec", now, 3600, -1);
	struct pki_cert_params p = {.common_name = "x",
	                            .not_before = now,
	                            .not_after = now + 60,
	                            .max_path_length = -1};
	json_t *urls = json_pack("{s:[s], s:[s], s:[s]}", "issuing_certificates",
	                         "http://127.0.0.1/v1/pki/ca", "crl_distribution_points",
	                         "http://127.0.0.1/v1/pki/crl", "ocsp_servers",
	                         "http://127.0.0.1/v1/pki/ocsp");
	EVP_PKEY *lk = NULL;
	X509 *x = NULL;
	char err[256] = "";
	STACK_OF(OPENSSL_STRING) * ocsp;

	(void)state;
	assert_int_equal(pki_keygen("ed25519", 0, &lk, err, sizeof(err)), 0);
	p.pubkey = lk;
	assert_int_equal(pki_cert_sign(iss, NULL, &p, urls, &x, err, sizeof(err)), 0);
	ocsp = X509_get1_ocsp(x);
	assert_int_equal(sk_OPENSSL_STRING_num(ocsp), 1);
	assert_string_equal(sk_OPENSSL_STRING_value(ocsp, 0), "http://127.0.0.1/v1/pki/ocsp");
	X509_email_free(ocsp);
	assert_true(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1) >= 0);
	X509_free(x);
	EVP_PKEY_free(lk);
	json_decref(urls);
	pki_issuer_put(iss);
}

/* ---- PEM bundles ---- */

static void
test_pki_pem_bundle_parse(void **state)
{
	int64_t now = util_now();
	struct pki_issuer *iss = make_root("ec", now, 3600, -1);
	char *key = pki_key_export(iss->key, false, false), err[256] = "";
	size_t n = strlen(key) + 2 * strlen(iss->cert_pem) + 64;
	char *pem = malloc(n);
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *k = NULL;

	(void)state;
	snprintf(pem, n, "junk before\n%s%s", iss->cert_pem, key);
	assert_int_equal(pki_pem_bundle_parse(pem, strlen(pem), &k, &certs, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(EVP_PKEY_eq(k, iss->key), 1);
	EVP_PKEY_free(k);
	sk_X509_pop_free(certs, X509_free);
	k = NULL;
	certs = NULL;
	/* two keys */
	snprintf(pem, n, "%s%s", key, key);
	assert_int_equal(pki_pem_bundle_parse(pem, strlen(pem), &k, &certs, err, sizeof(err)),
	                 CF_EINVAL);
	assert_non_null(strstr(err, "more than one private key"));
	/* nothing */
	assert_int_equal(pki_pem_bundle_parse("hello", 5, &k, &certs, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "no data found"));
	/* a damaged certificate block */
	snprintf(pem, n, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	assert_int_equal(pki_pem_bundle_parse(pem, strlen(pem), &k, &certs, err, sizeof(err)),
	                 CF_EINVAL);
	assert_null(k);
	assert_null(certs);
	free(pem);
	secmem_free_str(key);
	pki_issuer_put(iss);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pki_serial_norm_vectors),
	        cmocka_unit_test(test_pki_serial_norm_length_limit),
	        cmocka_unit_test(test_pki_serial_str_roundtrip),
	        cmocka_unit_test(test_pki_keygen_types),
	        cmocka_unit_test(test_pki_key_export_forms),
	        cmocka_unit_test(test_pki_cert_sign_root_and_leaf),
	        cmocka_unit_test(test_pki_cert_sign_refusals),
	        cmocka_unit_test(test_pki_cert_sign_urls),
	        cmocka_unit_test(test_pki_pem_bundle_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
