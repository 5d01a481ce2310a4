/* test_kseal.c - one sealed value as Bitnami's controller reads it: the byte
 * layout (opened here by hand with plain OpenSSL calls), empty values, every
 * way a value fails to open (wrong label, wrong key, each byte region
 * tampered, truncated), several keys tried in order, and the key handling
 * (generation, PEM round trips, PKCS#1 and PKCS#8, refusals of expired, non-RSA,
 * too small and mismatched keys), and a generation cancelled part way. RSA
 * keys are made once per binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/kseal.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TTL_10Y (INT64_C(10) * 365 * 86400)

/* Two 2048-bit key pairs and one 4096-bit one, made once. */
static struct kseal_key *k1, *k2, *k4096;

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (kseal_key_generate(2048, "", TTL_10Y, &k1) < 0 ||
	    kseal_key_generate(2048, "coffer-test", TTL_10Y, &k2) < 0 ||
	    kseal_key_generate(4096, "", TTL_10Y, &k4096) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	kseal_key_free(k1);
	kseal_key_free(k2);
	kseal_key_free(k4096);
	return 0;
}

/* ---- helpers ---- */

static char *
bio_str(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	assert_true(n > 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

/* A self-signed PEM certificate for pk, valid from now + from to now + to. */
static char *
cert_for(EVP_PKEY *pk, long from, long to)
{
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to));
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	s = bio_str(b);
	BIO_free(b);
	X509_free(x);
	return s;
}

/* The private key of k (which must have one) as an EVP_PKEY. */
static EVP_PKEY *
pkey_of(const struct kseal_key *k)
{
	char *cert, *key;
	BIO *b;
	EVP_PKEY *pk;

	assert_int_equal(kseal_key_pem(k, &cert, &key), 0);
	b = BIO_new_mem_buf(key, -1);
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	assert_non_null(pk);
	BIO_free(b);
	free(cert);
	secmem_free_str(key);
	return pk;
}

static void
seal(const struct kseal_key *k, const char *label, const void *pt, size_t n, uint8_t **ct,
     size_t *ctlen)
{
	assert_int_equal(kseal_encrypt(k, label, strlen(label), pt, n, ct, ctlen), 0);
}

static int
open1(struct kseal_key *k, const char *label, const uint8_t *ct, size_t ctlen)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	r = kseal_decrypt(&k, 1, label, strlen(label), ct, ctlen, &pt, &n, NULL);
	if (r == 0)
		secmem_free(pt, n + 1);
	return r;
}

/* ---- the format ---- */

/* The value is opened with nothing but OpenSSL calls written from the format
 * description: prefix, RSA-OAEP(SHA-256, MGF1-SHA-256, label), then GCM with a
 * zero nonce and the tag last. */
static void
open_by_hand(EVP_PKEY *pk, const char *label, const uint8_t *ct, size_t ctlen, size_t modlen,
             const void *want, size_t wantlen)
{
	static const uint8_t zero_iv[12];
	uint8_t key[1024], out[4096];
	size_t keylen = sizeof(key);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	int n;

	assert_int_equal(ctlen, 2 + modlen + wantlen + 16);
	assert_int_equal(ct[0], modlen >> 8);
	assert_int_equal(ct[1], modlen & 0xff);
	assert_int_equal(EVP_PKEY_decrypt_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
	if (*label != '\0') {
		char *l = OPENSSL_strdup(label);
		/* OpenSSL 3 frees the label once it has taken a copy */
		assert_true(EVP_PKEY_CTX_set0_rsa_oaep_label(pc, l, (int)strlen(label)) > 0);
	}
	assert_int_equal(EVP_PKEY_decrypt(pc, key, &keylen, ct + 2, modlen), 1);
	assert_int_equal(keylen, 32);
	assert_int_equal(EVP_DecryptInit_ex(cc, EVP_aes_256_gcm(), NULL, key, zero_iv), 1);
	assert_int_equal(EVP_DecryptUpdate(cc, out, &n, ct + 2 + modlen, (int)wantlen), 1);
	assert_int_equal(
	        EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + ctlen - 16)), 1);
	assert_int_equal(EVP_DecryptFinal_ex(cc, out + n, &n), 1);
	assert_memory_equal(out, want, wantlen);
	EVP_PKEY_CTX_free(pc);
	EVP_CIPHER_CTX_free(cc);
}

static void
test_kseal_layout_4096(void **state)
{
	static const char pt[] = "s3cr3t \x00\xff value";
	uint8_t *ct;
	size_t n;
	EVP_PKEY *pk = pkey_of(k4096);
	char *b64;

	(void)state;
	assert_int_equal(kseal_key_bits(k4096), 4096);
	seal(k4096, "default/mysecret", pt, sizeof(pt), &ct, &n);
	assert_int_equal(n, 2 + 512 + sizeof(pt) + 16);
	assert_int_equal(ct[0], 0x02);
	assert_int_equal(ct[1], 0x00);
	open_by_hand(pk, "default/mysecret", ct, n, 512, pt, sizeof(pt));
	/* in a manifest every 4096-bit value starts with "Ag" */
	b64 = util_b64_encode(ct, n);
	assert_memory_equal(b64, "Ag", 2);
	free(b64);
	free(ct);
	EVP_PKEY_free(pk);
}

static void
test_kseal_layout_2048_and_empty(void **state)
{
	uint8_t *ct, *pt;
	size_t n, ptlen, idx = 9;
	EVP_PKEY *pk = pkey_of(k1);

	(void)state;
	/* an empty value is just the prefix, R and the tag */
	seal(k1, "", "", 0, &ct, &n);
	assert_int_equal(n, 2 + 256 + 16);
	assert_int_equal(ct[0], 0x01);
	assert_int_equal(ct[1], 0x00);
	open_by_hand(pk, "", ct, n, 256, "", 0);
	assert_int_equal(kseal_decrypt(&k1, 1, "", 0, ct, n, &pt, &ptlen, &idx), 0);
	assert_int_equal(ptlen, 0);
	assert_int_equal(pt[0], '\0');
	assert_int_equal(idx, 0);
	secmem_free(pt, 1);
	free(ct);
	/* the same key seals twice to different bytes (fresh K each time) */
	{
		uint8_t *a, *b;
		size_t an, bn;

		seal(k1, "ns", "x", 1, &a, &an);
		seal(k1, "ns", "x", 1, &b, &bn);
		assert_int_equal(an, bn);
		assert_memory_not_equal(a, b, an);
		free(a);
		free(b);
	}
	EVP_PKEY_free(pk);
}

static void
test_kseal_round_trip_sizes(void **state)
{
	size_t sizes[] = {1, 15, 16, 17, 1024, 65536, KSEAL_MAX_VALUE};
	uint8_t *buf = malloc(KSEAL_MAX_VALUE), *ct, *pt;
	size_t i, n, ptlen;

	(void)state;
	assert_non_null(buf);
	util_random(buf, KSEAL_MAX_VALUE);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		seal(k2, "prod/db", buf, sizes[i], &ct, &n);
		assert_int_equal(n, 2 + 256 + sizes[i] + 16);
		assert_int_equal(kseal_decrypt(&k2, 1, "prod/db", 7, ct, n, &pt, &ptlen, NULL), 0);
		assert_int_equal(ptlen, sizes[i]);
		assert_memory_equal(pt, buf, ptlen);
		assert_int_equal(pt[ptlen], '\0');
		secmem_free(pt, ptlen + 1);
		free(ct);
	}
	/* one byte over the limit */
	assert_int_equal(kseal_encrypt(k2, "", 0, buf, KSEAL_MAX_VALUE + 1, &ct, &n), CF_EINVAL);
	free(buf);
}

static void
test_kseal_wrong_label_and_key(void **state)
{
	uint8_t *ct;
	size_t n;

	(void)state;
	seal(k1, "default/mysecret", "pw", 2, &ct, &n);
	assert_int_equal(open1(k1, "default/mysecret", ct, n), 0);
	/* another name, another namespace, the name/namespace order, a trailing
	 * slash, the namespace-wide and cluster-wide labels */
	assert_int_equal(open1(k1, "default/other", ct, n), CF_ECRYPTO);
	assert_int_equal(open1(k1, "prod/mysecret", ct, n), CF_ECRYPTO);
	assert_int_equal(open1(k1, "mysecret/default", ct, n), CF_ECRYPTO);
	assert_int_equal(open1(k1, "default/mysecret/", ct, n), CF_ECRYPTO);
	assert_int_equal(open1(k1, "default", ct, n), CF_ECRYPTO);
	assert_int_equal(open1(k1, "", ct, n), CF_ECRYPTO);
	/* another key of the same size */
	assert_int_equal(open1(k2, "default/mysecret", ct, n), CF_ECRYPTO);
	/* a key of another size: the prefix names no key we have */
	assert_int_equal(open1(k4096, "default/mysecret", ct, n), CF_EINVAL);
	/* a key without its private part cannot open anything */
	{
		char *pem;
		struct kseal_key *pub;

		assert_int_equal(kseal_key_pem(k1, &pem, NULL), 0);
		assert_int_equal(kseal_cert_load(pem, strlen(pem), time(NULL), &pub, NULL, 0), 0);
		assert_false(kseal_key_has_private(pub));
		assert_int_equal(open1(pub, "default/mysecret", ct, n), CF_EINVAL);
		kseal_key_free(pub);
		free(pem);
	}
	free(ct);
}

static void
test_kseal_tampered(void **state)
{
	/* one byte flipped in each region: prefix, R (first, middle, last),
	 * ciphertext, tag */
	static const char pt[] = "0123456789abcdef0123";
	uint8_t *ct, *pt_out = NULL;
	size_t n, offs[6], i, got;

	(void)state;
	seal(k1, "ns/name", pt, sizeof(pt), &ct, &n);
	offs[0] = 1;
	offs[1] = 2;
	offs[2] = 2 + 128;
	offs[3] = 2 + 255;
	offs[4] = 2 + 256 + 5;
	offs[5] = n - 1;
	for (i = 0; i < 6; i++) {
		ct[offs[i]] ^= 0x01;
		if (i == 0) /* 0x0101 is no key's size */
			assert_int_equal(open1(k1, "ns/name", ct, n), CF_EINVAL);
		else
			assert_int_equal(open1(k1, "ns/name", ct, n), CF_ECRYPTO);
		ct[offs[i]] ^= 0x01;
	}
	assert_int_equal(open1(k1, "ns/name", ct, n), 0);
	/* truncated anywhere, and one byte too many */
	assert_int_equal(open1(k1, "ns/name", ct, 0), CF_EINVAL);
	assert_int_equal(open1(k1, "ns/name", ct, 1), CF_EINVAL);
	assert_int_equal(open1(k1, "ns/name", ct, 2 + 256), CF_EINVAL);
	assert_int_equal(open1(k1, "ns/name", ct, 2 + 256 + 15), CF_EINVAL);
	assert_int_equal(open1(k1, "ns/name", ct, 2 + 256 + 16), CF_ECRYPTO);
	assert_int_equal(open1(k1, "ns/name", ct, n - 1), CF_ECRYPTO);
	{
		uint8_t *longer = malloc(n + 1);

		memcpy(longer, ct, n);
		longer[n] = 0;
		assert_int_equal(open1(k1, "ns/name", longer, n + 1), CF_ECRYPTO);
		free(longer);
	}
	/* a zero length prefix */
	ct[0] = ct[1] = 0;
	got = 77;
	assert_int_equal(kseal_decrypt(&k1, 1, "ns/name", 7, ct, n, &pt_out, &got, NULL),
	                 CF_EINVAL);
	assert_null(pt_out);
	assert_int_equal(got, 77);
	free(ct);
}

static void
test_kseal_several_keys(void **state)
{
	struct kseal_key *keys[4];
	uint8_t *ct, *pt;
	size_t n, ptlen, idx;

	(void)state;
	seal(k2, "a/b", "v", 1, &ct, &n);
	/* the 4096 key is skipped (other size), k1 fails, k2 opens it */
	keys[0] = k4096;
	keys[1] = k1;
	keys[2] = k2;
	keys[3] = k1;
	idx = 99;
	assert_int_equal(kseal_decrypt(keys, 4, "a/b", 3, ct, n, &pt, &ptlen, &idx), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(ptlen, 1);
	assert_memory_equal(pt, "v", 1);
	secmem_free(pt, 2);
	/* the first key that opens it wins */
	keys[0] = k2;
	assert_int_equal(kseal_decrypt(keys, 4, "a/b", 3, ct, n, &pt, &ptlen, &idx), 0);
	assert_int_equal(idx, 0);
	secmem_free(pt, 2);
	/* none of them */
	keys[0] = k1;
	keys[2] = k4096;
	assert_int_equal(kseal_decrypt(keys, 4, "a/b", 3, ct, n, &pt, &ptlen, &idx), CF_ECRYPTO);
	assert_int_equal(kseal_decrypt(keys, 0, "a/b", 3, ct, n, &pt, &ptlen, &idx), CF_EINVAL);
	free(ct);
}

/* ---- scopes ---- */

static void
test_kseal_labels(void **state)
{
	enum kseal_scope s;
	char *l;

	(void)state;
	assert_int_equal(kseal_label(KSEAL_STRICT, "default", "db", &l), 0);
	assert_string_equal(l, "default/db");
	free(l);
	assert_int_equal(kseal_label(KSEAL_NAMESPACE_WIDE, "default", "db", &l), 0);
	assert_string_equal(l, "default");
	free(l);
	assert_int_equal(kseal_label(KSEAL_NAMESPACE_WIDE, "default", NULL, &l), 0);
	assert_string_equal(l, "default");
	free(l);
	assert_int_equal(kseal_label(KSEAL_CLUSTER_WIDE, NULL, NULL, &l), 0);
	assert_string_equal(l, "");
	free(l);
	assert_int_equal(kseal_label(KSEAL_CLUSTER_WIDE, "default", "db", &l), 0);
	assert_string_equal(l, "");
	free(l);
	l = NULL;
	assert_int_equal(kseal_label(KSEAL_STRICT, "default", NULL, &l), CF_EINVAL);
	assert_int_equal(kseal_label(KSEAL_STRICT, NULL, "db", &l), CF_EINVAL);
	assert_int_equal(kseal_label(KSEAL_STRICT, "", "db", &l), CF_EINVAL);
	assert_int_equal(kseal_label(KSEAL_STRICT, "default", "", &l), CF_EINVAL);
	assert_int_equal(kseal_label(KSEAL_NAMESPACE_WIDE, NULL, "db", &l), CF_EINVAL);
	assert_int_equal(kseal_label(KSEAL_NAMESPACE_WIDE, "", NULL, &l), CF_EINVAL);
	assert_null(l);

	assert_int_equal(kseal_scope_parse("strict", &s), 0);
	assert_int_equal(s, KSEAL_STRICT);
	assert_int_equal(kseal_scope_parse("namespace-wide", &s), 0);
	assert_int_equal(s, KSEAL_NAMESPACE_WIDE);
	assert_int_equal(kseal_scope_parse("cluster-wide", &s), 0);
	assert_int_equal(s, KSEAL_CLUSTER_WIDE);
	assert_int_equal(kseal_scope_parse("Strict", &s), CF_EINVAL);
	assert_int_equal(kseal_scope_parse("namespace", &s), CF_EINVAL);
	assert_int_equal(kseal_scope_parse("", &s), CF_EINVAL);
	assert_int_equal(kseal_scope_parse(NULL, &s), CF_EINVAL);
	assert_string_equal(kseal_scope_name(KSEAL_STRICT), "strict");
	assert_string_equal(kseal_scope_name(KSEAL_NAMESPACE_WIDE), "namespace-wide");
	assert_string_equal(kseal_scope_name(KSEAL_CLUSTER_WIDE), "cluster-wide");
}

/* ---- keys ---- */

static void
test_kseal_generated_cert(void **state)
{
	char *pem, id[KSEAL_ID_LEN + 1], id2[KSEAL_ID_LEN + 1];
	BIO *b;
	X509 *x;
	time_t now = time(NULL);
	ASN1_INTEGER *serial;
	char name[256];

	(void)state;
	assert_int_equal(kseal_key_pem(k2, &pem, NULL), 0);
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	/* self-signed, CN as given, CA, key usage encipher only */
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	assert_string_equal(name, "/CN=coffer-test");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
	/* CA:TRUE (X509_check_ca() says 0: the key usage lacks keyCertSign) */
	assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
	assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_true(X509_get_extension_flags(x) & EXFLAG_KUSAGE);
	assert_int_equal(X509_get_key_usage(x), KU_ENCIPHER_ONLY);
	serial = X509_get_serialNumber(x);
	assert_true(serial->length >= 8 && serial->length <= 17);
	/* valid from now to now + ttl */
	assert_true(kseal_key_not_before(k2) >= now - 600 && kseal_key_not_before(k2) <= now);
	assert_int_equal(kseal_key_not_after(k2) - kseal_key_not_before(k2), TTL_10Y);
	assert_true(kseal_key_has_private(k2));
	assert_int_equal(kseal_key_bits(k2), 2048);
	X509_free(x);
	BIO_free(b);

	/* the id: 16 hex of SHA-256 over the SubjectPublicKeyInfo, the same for
	 * the certificate and the key pair */
	kseal_key_id(k2, id);
	assert_int_equal(strlen(id), KSEAL_ID_LEN);
	{
		EVP_PKEY *pk = pkey_of(k2);
		unsigned char *der = NULL;
		int dn = i2d_PUBKEY(pk, &der);
		char hex[65];
		struct kseal_key *pub;

		util_sha256_hex(der, (size_t)dn, hex);
		assert_memory_equal(id, hex, KSEAL_ID_LEN);
		OPENSSL_free(der);
		EVP_PKEY_free(pk);
		assert_int_equal(kseal_cert_load(pem, strlen(pem), now, &pub, NULL, 0), 0);
		kseal_key_id(pub, id2);
		assert_string_equal(id, id2);
		kseal_key_free(pub);
	}
	kseal_key_id(k1, id2);
	assert_string_not_equal(id, id2);
	free(pem);

	/* an empty CN is an empty subject */
	assert_int_equal(kseal_key_pem(k1, &pem, NULL), 0);
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	X509_free(x);
	BIO_free(b);
	free(pem);

	{
		struct kseal_key *k = NULL;

		assert_int_equal(kseal_key_generate(1024, "", TTL_10Y, &k), CF_EINVAL);
		assert_int_equal(kseal_key_generate(16384, "", TTL_10Y, &k), CF_EINVAL);
		assert_int_equal(kseal_key_generate(2048, "", 0, &k), CF_EINVAL);
		assert_int_equal(kseal_key_generate(2048, "", -5, &k), CF_EINVAL);
		assert_int_equal(kseal_key_generate(2048,
		                                    "a-common-name-that-is-longer-than-the-"
		                                    "sixty-four-characters-x509-allows",
		                                    TTL_10Y, &k),
		                 CF_EINVAL);
		assert_null(k);
	}
}

static void
test_kseal_key_pem_pkcs1_pkcs8(void **state)
{
	char *cert, *key, *p8, err[256], id[KSEAL_ID_LEN + 1], id2[KSEAL_ID_LEN + 1];
	struct kseal_key *k;
	EVP_PKEY *pk;
	BIO *b;
	uint8_t *ct, *pt;
	size_t n, ptlen;

	(void)state;
	assert_int_equal(kseal_key_pem(k1, &cert, &key), 0);
	assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(key, "-----BEGIN RSA PRIVATE KEY-----"));
	kseal_key_id(k1, id);

	/* PKCS#1 with its certificate */
	assert_int_equal(kseal_key_load(key, strlen(key), cert, strlen(cert), &k, err, sizeof(err)),
	                 0);
	kseal_key_id(k, id2);
	assert_string_equal(id, id2);
	assert_true(kseal_key_has_private(k));
	assert_int_equal(kseal_key_not_after(k), kseal_key_not_after(k1));
	seal(k1, "x", "hello", 5, &ct, &n);
	assert_int_equal(kseal_decrypt(&k, 1, "x", 1, ct, n, &pt, &ptlen, NULL), 0);
	secmem_free(pt, ptlen + 1);
	kseal_key_free(k);

	/* PKCS#8, without a certificate: enough to unseal, no PEM out */
	pk = pkey_of(k1);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	p8 = bio_str(b);
	BIO_free(b);
	assert_non_null(strstr(p8, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(kseal_key_load(p8, strlen(p8), NULL, 0, &k, err, sizeof(err)), 0);
	kseal_key_id(k, id2);
	assert_string_equal(id, id2);
	assert_int_equal(kseal_key_not_after(k), 0);
	assert_int_equal(kseal_decrypt(&k, 1, "x", 1, ct, n, &pt, &ptlen, NULL), 0);
	assert_memory_equal(pt, "hello", 5);
	secmem_free(pt, ptlen + 1);
	{
		char *c2 = NULL, *k2pem = NULL;

		assert_int_equal(kseal_key_pem(k, &c2, &k2pem), CF_EINVAL);
		assert_null(c2);
		assert_null(k2pem);
	}
	kseal_key_free(k);
	secmem_free_str(p8);

	/* an encrypted PKCS#8 key is refused, never prompted for */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(
	        PEM_write_bio_PKCS8PrivateKey(b, pk, EVP_aes_256_cbc(), "pw", 2, NULL, NULL), 1);
	p8 = bio_str(b);
	BIO_free(b);
	err[0] = '\0';
	assert_int_equal(kseal_key_load(p8, strlen(p8), NULL, 0, &k, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "private key"));
	free(p8);
	EVP_PKEY_free(pk);

	/* the certificate of another key */
	{
		char *cert2;

		assert_int_equal(kseal_key_pem(k2, &cert2, NULL), 0);
		k = NULL;
		assert_int_equal(kseal_key_load(key, strlen(key), cert2, strlen(cert2), &k, err,
		                                sizeof(err)),
		                 CF_EINVAL);
		assert_null(k);
		assert_non_null(strstr(err, "does not match"));
		free(cert2);
	}
	/* garbage, a certificate given as the key, an empty key */
	assert_int_equal(kseal_key_load("junk", 4, NULL, 0, &k, err, sizeof(err)), CF_EINVAL);
	assert_int_equal(kseal_key_load(cert, strlen(cert), NULL, 0, &k, err, sizeof(err)),
	                 CF_EINVAL);
	assert_int_equal(kseal_key_load("", 0, NULL, 0, &k, err, sizeof(err)), CF_EINVAL);
	/* a key file with no secret value in the message */
	assert_null(strstr(err, "MII"));
	free(ct);
	free(cert);
	secmem_free_str(key);
}

static void
test_kseal_cert_refusals(void **state)
{
	char *pem, err[256];
	struct kseal_key *k = NULL;
	EVP_PKEY *pk;
	time_t now = time(NULL);

	(void)state;
	/* expired: a one-second certificate an hour later */
	{
		struct kseal_key *shortk;

		assert_int_equal(kseal_key_generate(2048, "", 1, &shortk), 0);
		assert_int_equal(kseal_key_pem(shortk, &pem, NULL), 0);
		assert_int_equal(
		        kseal_cert_load(pem, strlen(pem), now + 3600, &k, err, sizeof(err)),
		        CF_EINVAL);
		assert_non_null(strstr(err, "expired"));
		/* 0 skips the check */
		assert_int_equal(kseal_cert_load(pem, strlen(pem), 0, &k, err, sizeof(err)), 0);
		kseal_key_free(k);
		k = NULL;
		free(pem);
		kseal_key_free(shortk);
	}
	/* a certificate that expired yesterday, made by plain OpenSSL */
	pk = pkey_of(k1);
	pem = cert_for(pk, -2 * 86400, -86400);
	assert_int_equal(kseal_cert_load(pem, strlen(pem), now, &k, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "expired"));
	free(pem);
	EVP_PKEY_free(pk);

	/* not RSA */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pk);
	pem = cert_for(pk, 0, 86400);
	assert_int_equal(kseal_cert_load(pem, strlen(pem), now, &k, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "not RSA"));
	free(pem);
	{
		BIO *b = BIO_new(BIO_s_mem());
		char *kp;

		assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
		kp = bio_str(b);
		BIO_free(b);
		assert_int_equal(kseal_key_load(kp, strlen(kp), NULL, 0, &k, err, sizeof(err)),
		                 CF_EINVAL);
		assert_non_null(strstr(err, "not RSA"));
		secmem_free_str(kp);
	}
	EVP_PKEY_free(pk);

	/* RSA of the wrong size */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(pk);
	pem = cert_for(pk, 0, 86400);
	assert_int_equal(kseal_cert_load(pem, strlen(pem), now, &k, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "1024 bits"));
	free(pem);
	EVP_PKEY_free(pk);

	/* not a certificate; the first of two certificates is the one used */
	assert_int_equal(kseal_cert_load("hello", 5, now, &k, err, sizeof(err)), CF_EINVAL);
	assert_non_null(strstr(err, "certificate"));
	{
		char *a, *b, *both, id[KSEAL_ID_LEN + 1], id2[KSEAL_ID_LEN + 1];

		assert_int_equal(kseal_key_pem(k2, &a, NULL), 0);
		assert_int_equal(kseal_key_pem(k1, &b, NULL), 0);
		both = malloc(strlen(a) + strlen(b) + 1);
		memcpy(both, a, strlen(a));
		memcpy(both + strlen(a), b, strlen(b) + 1);
		assert_int_equal(kseal_cert_load(both, strlen(both), now, &k, err, sizeof(err)), 0);
		kseal_key_id(k, id);
		kseal_key_id(k2, id2);
		assert_string_equal(id, id2);
		assert_false(kseal_key_has_private(k));
		assert_int_equal(kseal_key_bits(k), 2048);
		/* a certificate alone seals, and no private key comes out of it */
		{
			char *c = NULL, *kp = NULL;

			assert_int_equal(kseal_key_pem(k, &c, &kp), CF_EINVAL);
			assert_int_equal(kseal_key_pem(k, &c, NULL), 0);
			assert_string_equal(c, a);
			free(c);
		}
		kseal_key_free(k);
		free(a);
		free(b);
		free(both);
	}
}

struct gen_arg {
	_Atomic bool cancel;
	_Atomic bool started;
	int r;
	struct kseal_key *k;
};

static void *
gen_thread(void *arg)
{
	struct gen_arg *g = arg;

	atomic_store(&g->started, true);
	g->r = kseal_key_generate_cancel(KSEAL_MAX_BITS, "", TTL_10Y, &g->cancel, &g->k);
	return NULL;
}

/* A generation gives up when its cancel flag is set: at once when it is set
 * before, and part way through an 8192-bit prime search (seconds of work) when
 * it is set from another thread. Nothing is returned either way. */
static void
test_kseal_generate_cancel(void **state)
{
	struct gen_arg pre = {.k = NULL}, mid = {.k = NULL};
	pthread_t t;

	(void)state;
	atomic_store(&pre.cancel, true);
	assert_int_equal(kseal_key_generate_cancel(2048, "", TTL_10Y, &pre.cancel, &pre.k), CF_EIO);
	assert_null(pre.k);

	assert_int_equal(pthread_create(&t, NULL, gen_thread, &mid), 0);
	while (!atomic_load(&mid.started))
		sched_yield();
	atomic_store(&mid.cancel, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(mid.r, CF_EIO);
	assert_null(mid.k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kseal_layout_4096),
	        cmocka_unit_test(test_kseal_layout_2048_and_empty),
	        cmocka_unit_test(test_kseal_round_trip_sizes),
	        cmocka_unit_test(test_kseal_wrong_label_and_key),
	        cmocka_unit_test(test_kseal_tampered),
	        cmocka_unit_test(test_kseal_several_keys),
	        cmocka_unit_test(test_kseal_labels),
	        cmocka_unit_test(test_kseal_generated_cert),
	        cmocka_unit_test(test_kseal_key_pem_pkcs1_pkcs8),
	        cmocka_unit_test(test_kseal_cert_refusals),
	        cmocka_unit_test(test_kseal_generate_cancel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
