/* test_pki_crl.c - the pki engine's CRL encoder and decoder without a server:
 * pki_crl_encode's CRLs parse and verify with OpenSSL and list exactly the
 * entries given (serials with the high bit set, one-byte and 63-byte serials,
 * dates after 2049 as GeneralizedTime), and pki_crl_entries_decode reads them
 * back unchanged; a CRL with no entries, and input that is not a CRL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"
#include "lib/err.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static struct pki_issuer *
make_issuer(const char *key_type)
{
	struct pki_cert_params p = {.common_name = "CRL Test CA",
	                            .not_before = 1700000000,
	                            .not_after = 4000000000,
	                            .is_ca = true,
	                            .max_path_length = -1};
	struct pki_issuer *iss = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];

	assert_int_equal(pki_keygen(key_type, 0, &key, err, sizeof(err)), 0);
	p.pubkey = key;
	assert_int_equal(pki_cert_sign(NULL, key, &p, NULL, &cert, err, sizeof(err)), 0);
	assert_int_equal(pki_issuer_new(cert, key, NULL, &iss), 0);
	return iss;
}

static void
entry(struct pki_rev_entry *e, const char *hex, int64_t at)
{
	size_t len = strlen(hex) / 2;

	for (size_t i = 0; i < len; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		e->serial[i] = (uint8_t)v;
	}
	e->len = (uint8_t)len;
	e->revoked_at = at;
}

/* Parses der with OpenSSL, verifies it with iss, and checks it lists ents. */
static void
check_crl(const struct pki_issuer *iss, const uint8_t *der, size_t len,
          const struct pki_rev_entry *ents, size_t n, int64_t number)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	STACK_OF(X509_REVOKED) * revoked;
	ASN1_INTEGER *num;

	assert_non_null(crl);
	assert_ptr_equal(p, der + len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(iss->cert)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(iss->cert)),
	                 0);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), number);
	ASN1_INTEGER_free(num);
	revoked = X509_CRL_get_REVOKED(crl);
	assert_int_equal(n == 0 ? 0 : sk_X509_REVOKED_num(revoked), (int)n);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *rv = NULL;
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ASN1_TIME *t = ASN1_TIME_new();
		int day, sec;

		assert_true(ASN1_STRING_set(sn, ents[i].serial, ents[i].len));
		assert_int_equal(X509_CRL_get0_by_serial(crl, &rv, sn), 1);
		assert_non_null(ASN1_TIME_set(t, (time_t)ents[i].revoked_at));
		assert_true(ASN1_TIME_diff(&day, &sec, t, X509_REVOKED_get0_revocationDate(rv)));
		assert_int_equal(day, 0);
		assert_int_equal(sec, 0);
		ASN1_TIME_free(t);
		ASN1_INTEGER_free(sn);
	}
	X509_CRL_free(crl);
}

static void
round_trip(const char *key_type)
{
	struct pki_issuer *iss = make_issuer(key_type);
	struct pki_rev_entry ents[6], *back = NULL;
	char long_serial[2 * PKI_SERIAL_MAX + 1];
	size_t len = 0, n = 0, cap = 0;
	uint8_t *der = NULL;

	memset(long_serial, '7', sizeof(long_serial) - 1);
	long_serial[sizeof(long_serial) - 1] = '\0';
	entry(&ents[0], "7f0102030405060708090a0b0c0d0e0f10111213", 1700000000);
	entry(&ents[1], "ff0102030405060708090a0b0c0d0e0f10111213", 1700000001); /* high bit */
	entry(&ents[2], "01", 1700000002);
	entry(&ents[3], "80", 1700000003);
	entry(&ents[4], long_serial, 2524608000); /* 2050-01-01: GeneralizedTime */
	entry(&ents[5], "0a0b", 0);
	assert_int_equal(pki_crl_encode(iss, ents, 6, 1700000100, 1700259300, 42, &der, &len), 0);
	check_crl(iss, der, len, ents, 6, 42);
	assert_int_equal(pki_crl_entries_decode(der, len, &back, &n, &cap), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(back[i].len, ents[i].len);
		assert_memory_equal(back[i].serial, ents[i].serial, ents[i].len);
		assert_int_equal(back[i].revoked_at, ents[i].revoked_at);
	}
	free(back);
	free(der);
	pki_issuer_put(iss);
}

static void
test_pki_crl_round_trip_ec(void **state)
{
	(void)state;
	round_trip("ec");
}

static void
test_pki_crl_round_trip_rsa(void **state)
{
	(void)state;
	round_trip("rsa");
}

static void
test_pki_crl_round_trip_ed25519(void **state)
{
	(void)state;
	round_trip("ed25519");
}

static void
test_pki_crl_empty_and_many(void **state)
{
	struct pki_issuer *iss = make_issuer("ec");
	struct pki_rev_entry *ents = calloc(5000, sizeof(*ents)), *back = NULL;
	size_t len = 0, n = 99, cap = 0;
	uint8_t *der = NULL;

	(void)state;
	assert_non_null(ents);
	assert_int_equal(pki_crl_encode(iss, NULL, 0, 1700000100, 1700259300, 1, &der, &len), 0);
	check_crl(iss, der, len, NULL, 0, 1);
	assert_int_equal(pki_crl_entries_decode(der, len, &back, &n, &cap), 0);
	assert_int_equal(n, 0);
	free(der);
	for (size_t i = 0; i < 5000; i++) {
		ents[i].len = 20;
		for (size_t k = 0; k < 20; k++)
			ents[i].serial[k] = (uint8_t)(i * 7 + k * 13 + 1);
		ents[i].serial[0] &= 0x7f;
		ents[i].serial[0] |= 1;
		ents[i].serial[18] = (uint8_t)(i >> 8); /* unique */
		ents[i].serial[19] = (uint8_t)i;
		ents[i].revoked_at = 1700000000 + (int64_t)i;
	}
	assert_int_equal(pki_crl_encode(iss, ents, 5000, 1700000100, 1700259300, 7, &der, &len), 0);
	check_crl(iss, der, len, ents, 5000, 7);
	assert_int_equal(pki_crl_entries_decode(der, len, &back, &n, &cap), 0);
	assert_int_equal(n, 5000);
	assert_memory_equal(back[4999].serial, ents[4999].serial, 20);
	free(back);
	free(der);
	free(ents);
	pki_issuer_put(iss);
}

static void
test_pki_crl_decode_refuses_garbage(void **state)
{
	static const uint8_t bad[][8] = {{0x00},
	                                 {0x30, 0x05, 0x30},
	                                 {0x30, 0x03, 0x02, 0x01, 0x01},
	                                 {0x30, 0x84, 0xff, 0xff}};
	struct pki_rev_entry *back = NULL;
	size_t n = 0, cap = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pki_crl_entries_decode(bad[i], sizeof(bad[i]), &back, &n, &cap),
		                 CF_EINVAL);
	assert_int_equal(pki_crl_entries_decode(bad[0], 0, &back, &n, &cap), CF_EINVAL);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pki_crl_round_trip_ec),
	        cmocka_unit_test(test_pki_crl_round_trip_rsa),
	        cmocka_unit_test(test_pki_crl_round_trip_ed25519),
	        cmocka_unit_test(test_pki_crl_empty_and_many),
	        cmocka_unit_test(test_pki_crl_decode_refuses_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
