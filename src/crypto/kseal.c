/* kseal.c - one Bitnami sealed value, and the RSA key pairs behind it; see
 * kseal.h and docs/internals/kseal.md.
 *
 * Everything is OpenSSL 3 EVP: RSA-OAEP through EVP_PKEY_encrypt/decrypt with
 * the padding, both digests and the label given as OSSL_PARAMs, AES-256-GCM
 * through EVP_CIPHER. The AES key K and the RSA plaintext buffer are wiped on
 * every path; the opened plaintext is handed to the caller (who wipes it). */
#include "crypto/kseal.h"
#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <limits.h>
#include <stdatomic.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KSEAL_NONCE_BYTES  12
#define KSEAL_PREFIX_BYTES 2
#define KSEAL_SERIAL_BITS  128
#define KSEAL_MAX_CN       64

struct kseal_key {
	EVP_PKEY *pk; /* public, or the whole key pair when priv */
	X509 *cert;   /* NULL for a private key loaded without one */
	bool priv;
	unsigned bits;
	size_t modlen; /* modulus bytes: the size of R */
	char id[KSEAL_ID_LEN + 1];
	time_t not_before, not_after;
};

/* AES-256-GCM is fetched once per process (a fetch walks the provider tables
 * and costs more than sealing a small value); read-only afterwards. */
static EVP_CIPHER *kseal_gcm;
static pthread_once_t kseal_once = PTHREAD_ONCE_INIT;

static void
gcm_fetch(void)
{
	kseal_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

const char *
kseal_scope_name(enum kseal_scope s)
{
	switch (s) {
	case KSEAL_NAMESPACE_WIDE:
		return "namespace-wide";
	case KSEAL_CLUSTER_WIDE:
		return "cluster-wide";
	case KSEAL_STRICT:
	default:
		return "strict";
	}
}

int
kseal_scope_parse(const char *name, enum kseal_scope *ret)
{
	if (name == NULL)
		return CF_EINVAL;
	if (strcmp(name, "strict") == 0)
		*ret = KSEAL_STRICT;
	else if (strcmp(name, "namespace-wide") == 0)
		*ret = KSEAL_NAMESPACE_WIDE;
	else if (strcmp(name, "cluster-wide") == 0)
		*ret = KSEAL_CLUSTER_WIDE;
	else
		return CF_EINVAL;
	return 0;
}

int
kseal_label(enum kseal_scope s, const char *ns, const char *name, char **ret)
{
	size_t nslen, namelen;
	char *l;

	switch (s) {
	case KSEAL_CLUSTER_WIDE:
		l = strdup("");
		break;
	case KSEAL_NAMESPACE_WIDE:
		if (ns == NULL || *ns == '\0')
			return CF_EINVAL;
		l = strdup(ns);
		break;
	case KSEAL_STRICT:
		if (ns == NULL || *ns == '\0' || name == NULL || *name == '\0')
			return CF_EINVAL;
		nslen = strlen(ns);
		namelen = strlen(name);
		l = malloc(nslen + 1 + namelen + 1);
		if (l != NULL) {
			memcpy(l, ns, nslen);
			l[nslen] = '/';
			memcpy(l + nslen + 1, name, namelen + 1);
		}
		break;
	default:
		return CF_EINVAL;
	}
	if (l == NULL)
		return CF_ENOMEM;
	*ret = l;
	return 0;
}

/* ---- keys ---- */

void
kseal_key_free(struct kseal_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	X509_free(k->cert);
	free(k);
}

/* The id: SHA-256 over the DER SubjectPublicKeyInfo, first KSEAL_ID_LEN hex. */
static int
key_id(EVP_PKEY *pk, char ret[KSEAL_ID_LEN + 1])
{
	unsigned char *der = NULL;
	char hex[65];
	int n;

	n = i2d_PUBKEY(pk, &der);
	if (n <= 0)
		return CF_EINTERNAL;
	util_sha256_hex(der, (size_t)n, hex);
	OPENSSL_free(der);
	memcpy(ret, hex, KSEAL_ID_LEN);
	ret[KSEAL_ID_LEN] = '\0';
	return 0;
}

/* Unix seconds of an ASN1_TIME (0 when it cannot be read). */
static time_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static bool
bits_ok(unsigned bits)
{
	return bits >= KSEAL_MIN_BITS && bits <= KSEAL_MAX_BITS;
}

/* Wraps pk (taken over; freed on failure) and cert (taken over, may be NULL)
 * into a new key. */
static int
key_new(EVP_PKEY *pk, X509 *cert, bool priv, struct kseal_key **ret)
{
	struct kseal_key *k = calloc(1, sizeof(*k));
	int r;

	if (k == NULL) {
		EVP_PKEY_free(pk);
		X509_free(cert);
		return CF_ENOMEM;
	}
	k->pk = pk;
	k->cert = cert;
	k->priv = priv;
	k->bits = (unsigned)EVP_PKEY_get_bits(pk);
	k->modlen = (size_t)EVP_PKEY_get_size(pk);
	if (cert != NULL) {
		k->not_before = asn1_time_unix(X509_get0_notBefore(cert));
		k->not_after = asn1_time_unix(X509_get0_notAfter(cert));
	}
	r = key_id(pk, k->id);
	if (r < 0) {
		kseal_key_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

static int
cert_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return CF_EINTERNAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : CF_EINTERNAL;
}

/* The controller's self-signed certificate for pk: see kseal_key_generate(). */
static int
cert_make(EVP_PKEY *pk, const char *cn, int64_t ttl, X509 **ret)
{
	X509 *x = X509_new();
	X509_NAME *subj = NULL;
	BIGNUM *serial = NULL;
	int r = CF_EINTERNAL;
	time_t now = time(NULL);

	if (x == NULL)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1)
		goto out;
	serial = BN_new();
	if (serial == NULL ||
	    BN_rand(serial, KSEAL_SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
		goto out;
	if (BN_is_zero(serial) && BN_one(serial) != 1)
		goto out;
	if (BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto out;
	/* An empty CN gives an empty name, as Go's pkix.Name does. */
	subj = X509_NAME_new();
	if (subj == NULL)
		goto out;
	if (cn != NULL && *cn != '\0' &&
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                               0) != 1)
		goto out;
	if (X509_set_subject_name(x, subj) != 1 || X509_set_issuer_name(x, subj) != 1)
		goto out;
	if (ASN1_TIME_set(X509_getm_notBefore(x), now) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), now + (time_t)ttl) == NULL)
		goto out;
	if (X509_set_pubkey(x, pk) != 1)
		goto out;
	r = cert_add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	if (r == 0)
		r = cert_add_ext(x, NID_key_usage, "critical,encipherOnly");
	if (r == 0)
		r = cert_add_ext(x, NID_subject_key_identifier, "hash");
	if (r < 0)
		goto out;
	r = CF_EINTERNAL;
	if (X509_sign(x, pk, EVP_sha256()) <= 0)
		goto out;
	*ret = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	X509_NAME_free(subj);
	BN_free(serial);
	return r;
}

/* OpenSSL's progress callback of an RSA generation: 0 stops it. */
static int
keygen_progress(EVP_PKEY_CTX *ctx)
{
	const _Atomic bool *cancel = EVP_PKEY_CTX_get_app_data(ctx);

	return cancel == NULL || !atomic_load(cancel);
}

/* An RSA key pair of bits bits; CF_EIO when *cancel turned true on the way. */
static int
rsa_generate(unsigned bits, const _Atomic bool *cancel, EVP_PKEY **ret)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	int r = CF_EINTERNAL;

	*ret = NULL;
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0)
		goto out;
	EVP_PKEY_CTX_set_app_data(ctx, (void *)cancel);
	EVP_PKEY_CTX_set_cb(ctx, keygen_progress);
	if (EVP_PKEY_generate(ctx, ret) > 0)
		r = 0;
	else if (cancel != NULL && atomic_load(cancel))
		r = CF_EIO;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
kseal_key_generate(unsigned bits, const char *cn, int64_t ttl, struct kseal_key **ret)
{
	return kseal_key_generate_cancel(bits, cn, ttl, NULL, ret);
}

int
kseal_key_generate_cancel(unsigned bits, const char *cn, int64_t ttl, const _Atomic bool *cancel,
                          struct kseal_key **ret)
{
	EVP_PKEY *pk = NULL;
	X509 *cert = NULL;
	int r;

	/* now + ttl must stay a valid time_t far from overflow */
	if (!bits_ok(bits) || ttl <= 0 || ttl > INT64_C(1000) * 366 * 86400)
		return CF_EINVAL;
	/* X.520 caps a common name at 64 characters */
	if (cn != NULL && strlen(cn) > KSEAL_MAX_CN)
		return CF_EINVAL;
	r = rsa_generate(bits, cancel, &pk);
	if (r < 0)
		return r;
	r = cert_make(pk, cn, ttl, &cert);
	if (r < 0) {
		ERR_clear_error();
		EVP_PKEY_free(pk);
		return r;
	}
	return key_new(pk, cert, true, ret);
}

/* The key of a PEM buffer as a read-only memory BIO (NULL: too long / ENOMEM). */
static BIO *
pem_bio(const char *pem, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	return BIO_new_mem_buf(pem, (int)len);
}

/* Checks that pk is an RSA key of a size we accept; words the refusal as
 * "<what>: ..." in err. */
static int
rsa_check(EVP_PKEY *pk, const char *what, char *err, size_t errlen)
{
	int bits;

	if (!EVP_PKEY_is_a(pk, "RSA")) {
		util_errf(err, errlen, "%s: the key is %s, not RSA", what,
		          EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "unknown");
		return CF_EINVAL;
	}
	bits = EVP_PKEY_get_bits(pk);
	if (bits < 0 || !bits_ok((unsigned)bits)) {
		util_errf(err, errlen, "%s: RSA key of %d bits (%u to %u accepted)", what, bits,
		          KSEAL_MIN_BITS, KSEAL_MAX_BITS);
		return CF_EINVAL;
	}
	return 0;
}

/* The first certificate of pem, checked: RSA, size, not expired at now (0:
 * not checked). */
static int
cert_parse(const char *pem, size_t len, time_t now, X509 **ret, char *err, size_t errlen)
{
	BIO *b = pem_bio(pem, len);
	X509 *x = NULL;
	EVP_PKEY *pk;
	int r = CF_EINVAL;

	if (b == NULL) {
		util_errf(err, errlen, "certificate: too long");
		goto out;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		util_errf(err, errlen, "certificate: no PEM certificate (BEGIN CERTIFICATE) found");
		goto out;
	}
	pk = X509_get0_pubkey(x);
	if (pk == NULL) {
		util_errf(err, errlen, "certificate: its public key cannot be read");
		goto out;
	}
	r = rsa_check(pk, "certificate", err, errlen);
	if (r < 0)
		goto out;
	if (now != 0 && X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
		r = CF_EINVAL;
		util_errf(err, errlen, "certificate: expired (not after %ld)",
		          (long)asn1_time_unix(X509_get0_notAfter(x)));
		goto out;
	}
	*ret = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

int
kseal_cert_load(const char *pem, size_t len, time_t now, struct kseal_key **ret, char *err,
                size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *pk;
	int r;

	r = cert_parse(pem, len, now, &x, err, errlen);
	if (r < 0)
		return r;
	pk = X509_get_pubkey(x);
	if (pk == NULL) {
		X509_free(x);
		return CF_ENOMEM;
	}
	return key_new(pk, x, false, ret);
}

/* Never prompt for a pass phrase: an encrypted private key is refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
kseal_key_load(const char *key_pem, size_t key_len, const char *cert_pem, size_t cert_len,
               struct kseal_key **ret, char *err, size_t errlen)
{
	BIO *b = pem_bio(key_pem, key_len);
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int r = CF_EINVAL;

	if (b == NULL) {
		util_errf(err, errlen, "private key: too long");
		goto out;
	}
	pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	if (pk == NULL) {
		util_errf(err, errlen,
		          "private key: no unencrypted PEM private key (BEGIN RSA PRIVATE KEY or "
		          "BEGIN PRIVATE KEY) found");
		goto out;
	}
	r = rsa_check(pk, "private key", err, errlen);
	if (r < 0)
		goto out;
	if (cert_pem != NULL) {
		r = cert_parse(cert_pem, cert_len, 0, &x, err, errlen);
		if (r < 0)
			goto out;
		if (EVP_PKEY_eq(X509_get0_pubkey(x), pk) != 1) {
			r = CF_EINVAL;
			util_errf(err, errlen,
			          "certificate: its public key does not match the private key");
			goto out;
		}
	}
	r = key_new(pk, x, true, ret);
	pk = NULL;
	x = NULL;
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

void
kseal_key_id(const struct kseal_key *k, char ret[KSEAL_ID_LEN + 1])
{
	memcpy(ret, k->id, KSEAL_ID_LEN + 1);
}

unsigned
kseal_key_bits(const struct kseal_key *k)
{
	return k->bits;
}

bool
kseal_key_has_private(const struct kseal_key *k)
{
	return k->priv;
}

time_t
kseal_key_not_before(const struct kseal_key *k)
{
	return k->not_before;
}

time_t
kseal_key_not_after(const struct kseal_key *k)
{
	return k->not_after;
}

/* The contents of a memory BIO as a new string (NULL on ENOMEM). */
static char *
bio_string(BIO *b)
{
	char *data = NULL, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

int
kseal_key_pem(const struct kseal_key *k, char **ret_cert_pem, char **ret_key_pem)
{
	BIO *cb = NULL, *kb = NULL;
	char *cert = NULL, *key = NULL;
	int r = CF_EINVAL;

	if (k->cert == NULL || (ret_key_pem != NULL && !k->priv))
		goto out;
	r = CF_ENOMEM;
	cb = BIO_new(BIO_s_mem());
	if (cb == NULL || PEM_write_bio_X509(cb, k->cert) != 1)
		goto out;
	cert = bio_string(cb);
	if (cert == NULL)
		goto out;
	if (ret_key_pem != NULL) {
		/* "traditional" is PKCS#1 for RSA: BEGIN RSA PRIVATE KEY */
		kb = BIO_new(BIO_s_secmem());
		if (kb == NULL ||
		    PEM_write_bio_PrivateKey_traditional(kb, k->pk, NULL, NULL, 0, NULL, NULL) != 1)
			goto out;
		key = bio_string(kb);
		if (key == NULL)
			goto out;
		*ret_key_pem = key;
		key = NULL;
	}
	*ret_cert_pem = cert;
	cert = NULL;
	r = 0;
out:
	free(cert);
	secmem_free_str(key);
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return r;
}

/* ---- sealing ---- */

/* RSA-OAEP with SHA-256 for the hash and for MGF1, and the label. enc:
 * in -> out (out has k->modlen bytes; *ret_len the length written). */
static int
rsa_oaep(const struct kseal_key *k, int enc, const void *label, size_t label_len, const uint8_t *in,
         size_t inlen, uint8_t *out, size_t *ret_len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
	OSSL_PARAM params[5], *p = params;
	size_t outlen = k->modlen;
	int r = CF_EINTERNAL;

	if (pc == NULL)
		return CF_ENOMEM;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
	                                        (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
	                                        (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
	                                        (char *)"SHA256", 0);
	/* an empty label and no label are the same to OAEP (the hash of "") */
	if (label_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
		                                         (void *)label, label_len);
	*p = OSSL_PARAM_construct_end();
	if ((enc ? EVP_PKEY_encrypt_init_ex(pc, params) : EVP_PKEY_decrypt_init_ex(pc, params)) !=
	    1)
		goto out;
	r = enc ? CF_EINTERNAL : CF_ECRYPTO;
	if ((enc ? EVP_PKEY_encrypt(pc, out, &outlen, in, inlen)
	         : EVP_PKEY_decrypt(pc, out, &outlen, in, inlen)) != 1)
		goto out;
	*ret_len = outlen;
	r = 0;
out:
	EVP_PKEY_CTX_free(pc);
	return r;
}

/* AES-256-GCM, nonce 12 zero bytes, no AAD. enc: in -> out and tag written;
 * else the tag is checked (CF_ECRYPTO when it does not verify). */
static int
aes_gcm(int enc, const uint8_t key[KSEAL_AES_KEY_BYTES], uint8_t tag[KSEAL_TAG_BYTES],
        const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t nonce[KSEAL_NONCE_BYTES];
	EVP_CIPHER_CTX *ctx = NULL;
	int n, r = CF_EINTERNAL;

	(void)pthread_once(&kseal_once, gcm_fetch);
	if (kseal_gcm == NULL || len > KSEAL_MAX_VALUE)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		goto out;
	/* 12 bytes is GCM's default IV length */
	if (EVP_CipherInit_ex(ctx, kseal_gcm, NULL, key, nonce, enc) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KSEAL_TAG_BYTES, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		r = enc ? CF_EINTERNAL : CF_ECRYPTO;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KSEAL_TAG_BYTES, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
kseal_encrypt(const struct kseal_key *k, const void *label, size_t label_len, const void *pt,
              size_t ptlen, uint8_t **ret, size_t *ret_len)
{
	uint8_t key[KSEAL_AES_KEY_BYTES], *out = NULL;
	size_t n = 0, total;
	int r = CF_EINVAL;

	if (ptlen > KSEAL_MAX_VALUE || k->modlen == 0 || k->modlen > 0xffff)
		goto out;
	total = KSEAL_PREFIX_BYTES + k->modlen + ptlen + KSEAL_TAG_BYTES;
	r = CF_ENOMEM;
	out = malloc(total);
	if (out == NULL)
		goto out;
	util_random(key, sizeof(key));
	out[0] = (uint8_t)(k->modlen >> 8);
	out[1] = (uint8_t)(k->modlen & 0xff);
	r = rsa_oaep(k, 1, label, label_len, key, sizeof(key), out + KSEAL_PREFIX_BYTES, &n);
	if (r < 0)
		goto out;
	if (n != k->modlen) {
		r = CF_EINTERNAL;
		goto out;
	}
	r = aes_gcm(1, key, out + total - KSEAL_TAG_BYTES, pt, ptlen,
	            out + KSEAL_PREFIX_BYTES + k->modlen);
	if (r < 0)
		goto out;
	*ret = out;
	*ret_len = total;
	out = NULL;
out:
	/* out holds no plaintext yet on failure, but may hold part of it */
	if (out != NULL)
		secmem_free(out, total);
	secmem_wipe(key, sizeof(key));
	ERR_clear_error();
	return r;
}

/* Opens ct (layout already checked: rlen + 2 + 16 <= ctlen) with one key. */
static int
open_with(const struct kseal_key *k, const void *label, size_t label_len, const uint8_t *ct,
          size_t ctlen, size_t rlen, uint8_t *out)
{
	uint8_t key[KSEAL_MAX_BITS / 8], tag[KSEAL_TAG_BYTES];
	size_t n = 0, ptlen = ctlen - KSEAL_PREFIX_BYTES - rlen - KSEAL_TAG_BYTES;
	int r;

	r = rsa_oaep(k, 0, label, label_len, ct + KSEAL_PREFIX_BYTES, rlen, key, &n);
	if (r < 0)
		goto out;
	if (n != KSEAL_AES_KEY_BYTES) {
		r = CF_ECRYPTO;
		goto out;
	}
	memcpy(tag, ct + ctlen - KSEAL_TAG_BYTES, KSEAL_TAG_BYTES);
	r = aes_gcm(0, key, tag, ct + KSEAL_PREFIX_BYTES + rlen, ptlen, out);
	if (r < 0)
		secmem_wipe(out, ptlen);
out:
	secmem_wipe(key, sizeof(key));
	return r;
}

int
kseal_decrypt(struct kseal_key *const *keys, size_t nkeys, const void *label, size_t label_len,
              const uint8_t *ct, size_t ctlen, uint8_t **ret, size_t *ret_len, size_t *ret_index)
{
	uint8_t *out = NULL;
	size_t rlen, ptlen = 0, i;
	bool sized = false;
	int r = CF_EINVAL;

	if (ctlen < KSEAL_PREFIX_BYTES)
		goto out;
	rlen = (size_t)ct[0] << 8 | ct[1];
	if (rlen == 0 || ctlen - KSEAL_PREFIX_BYTES < rlen + KSEAL_TAG_BYTES)
		goto out;
	ptlen = ctlen - KSEAL_PREFIX_BYTES - rlen - KSEAL_TAG_BYTES;
	if (ptlen > KSEAL_MAX_VALUE)
		goto out;
	for (i = 0; i < nkeys; i++)
		if (keys[i]->priv && keys[i]->modlen == rlen)
			sized = true;
	if (!sized)
		goto out;
	r = CF_ENOMEM;
	out = malloc(ptlen + 1);
	if (out == NULL)
		goto out;
	r = CF_ECRYPTO;
	for (i = 0; i < nkeys; i++) {
		if (!keys[i]->priv || keys[i]->modlen != rlen)
			continue;
		r = open_with(keys[i], label, label_len, ct, ctlen, rlen, out);
		if (r == 0 || r == CF_ENOMEM)
			break;
		r = CF_ECRYPTO;
	}
	if (r < 0)
		goto out;
	out[ptlen] = '\0';
	*ret = out;
	*ret_len = ptlen;
	if (ret_index != NULL)
		*ret_index = i;
	out = NULL;
out:
	if (out != NULL)
		secmem_free(out, ptlen + 1);
	ERR_clear_error();
	return r;
}
