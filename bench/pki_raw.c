/* pki_raw.c - the raw rate of what one certificate issue costs in OpenSSL
 * alone: generate a key pair (EC P-256 or RSA-2048), build an X.509 v3
 * certificate for it (random 20-byte serial, subject, SAN, key usage, one hour
 * of validity), sign it with a P-256 CA key (ECDSA SHA-256), and PEM-encode
 * the certificate and the private key, in a loop on one thread for a number of
 * seconds. bench/pki prints it beside coffer's pki/issue/:role rate.
 *
 * Usage: pki_raw ec|rsa SECONDS
 * Prints "ops_per_sec=N ops_per_cpu_sec=N count=N": per wall-clock second and
 * per second of this process's CPU time (the rate of one core when the machine
 * is busy with other work).
 * Build: cc -O2 bench/pki_raw.c -lcrypto */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -1;
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return 0;
}

static X509 *
make_cert(EVP_PKEY *pub, X509 *issuer, EVP_PKEY *signer, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char sn[20];
	BIGNUM *bn;

	RAND_bytes(sn, sizeof(sn));
	sn[0] &= 0x7f;
	bn = BN_bin2bn(sn, sizeof(sn), NULL);
	X509_set_version(x, X509_VERSION_3);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), -30);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pub);
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (issuer) {
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
		add_ext(x, issuer, NID_subject_alt_name, "DNS:bench.example.com");
	} else {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
	}
	if (X509_sign(x, signer, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int
main(int argc, char **argv)
{
	EVP_PKEY *ca_key, *k;
	X509 *ca, *x;
	double secs, t0, t, c0;
	long n = 0;
	int rsa;

	if (argc != 3 || (strcmp(argv[1], "ec") != 0 && strcmp(argv[1], "rsa") != 0)) {
		fprintf(stderr, "usage: pki_raw ec|rsa SECONDS\n");
		return 2;
	}
	rsa = strcmp(argv[1], "rsa") == 0;
	secs = atof(argv[2]);
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = ca_key ? make_cert(ca_key, NULL, ca_key, "Bench Root") : NULL;
	if (!ca) {
		fprintf(stderr, "pki_raw: could not make the CA\n");
		return 1;
	}
	t0 = now();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		BIO *b = BIO_new(BIO_s_mem());
		k = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
		        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		x = k ? make_cert(k, ca, ca_key, "bench.example.com") : NULL;
		if (!x || !b || PEM_write_bio_X509(b, x) != 1 ||
		    PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
			fprintf(stderr, "pki_raw: issuing failed\n");
			return 1;
		}
		X509_free(x);
		EVP_PKEY_free(k);
		BIO_free(b);
		n++;
		t = now();
	} while (t - t0 < secs);
	printf("ops_per_sec=%.1f ops_per_cpu_sec=%.1f count=%ld\n", (double)n / (t - t0),
	       (double)n / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0), n);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return 0;
}
