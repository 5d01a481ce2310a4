/* transit_key.c - named transit keys: the stored record, the parsed snapshot
 * (struct tkey) and every cryptographic operation on it (Vault's transit API).
 *
 * Symmetric versions keep their key in sodium-guarded memory; asymmetric ones
 * an EVP_PKEY (OpenSSL's own secure handling). AEAD operations run on the
 * per-thread cipher contexts of crypto/cipher_cache.h (docs/BENCHMARKS.md
 * pitfall 3); digests are fetched once as well. */
#include "engines/transit/transit_int.h"

#include "crypto/cipher_cache.h"

#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ---- */

static const struct tk_type tk_types[] = {
        {"aes128-gcm96", TK_AES128_GCM, 16, 0, NULL, true, false, true},
        {"aes256-gcm96", TK_AES256_GCM, 32, 0, NULL, true, false, true},
        {"chacha20-poly1305", TK_CHACHA20, 32, 0, NULL, true, false, true},
        {"ed25519", TK_ED25519, 0, 0, NULL, false, true, true},
        {"ecdsa-p256", TK_ECDSA_P256, 0, 0, "P-256", false, true, false},
        {"ecdsa-p384", TK_ECDSA_P384, 0, 0, "P-384", false, true, false},
        {"ecdsa-p521", TK_ECDSA_P521, 0, 0, "P-521", false, true, false},
        {"rsa-2048", TK_RSA2048, 0, 2048, NULL, true, true, false},
        {"rsa-3072", TK_RSA3072, 0, 3072, NULL, true, true, false},
        {"rsa-4096", TK_RSA4096, 0, 4096, NULL, true, true, false},
};

const struct tk_type *
tk_type_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(tk_types) / sizeof(tk_types[0]); i++)
		if (strcmp(tk_types[i].name, name) == 0)
			return &tk_types[i];
	return NULL;
}

static bool
tk_symmetric(const struct tk_type *t)
{
	return t->keylen > 0;
}

static bool
tk_is_ec(const struct tk_type *t)
{
	return t->group != NULL;
}

static bool
tk_is_rsa(const struct tk_type *t)
{
	return t->bits > 0;
}

static void errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- fetched once: digests, HKDF (ciphers: crypto/cipher_cache.c) ---- */

static const struct {
	const char *vault; /* Vault's name */
	const char *ossl;
} md_names[] = {
        {"sha2-224", "SHA2-224"}, {"sha2-256", "SHA2-256"}, {"sha2-384", "SHA2-384"},
        {"sha2-512", "SHA2-512"}, {"sha3-224", "SHA3-224"}, {"sha3-256", "SHA3-256"},
        {"sha3-384", "SHA3-384"}, {"sha3-512", "SHA3-512"},
};
#define MD_N (sizeof(md_names) / sizeof(md_names[0]))

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *mds[MD_N];
static EVP_KDF *hkdf;
static bool fetch_ok;

static void
fetch_all(void)
{
	for (size_t i = 0; i < MD_N; i++)
		mds[i] = EVP_MD_fetch(NULL, md_names[i].ossl, NULL);
	hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	for (size_t i = 0; i < MD_N; i++)
		if (!mds[i])
			return;
	if (!hkdf)
		return;
	fetch_ok = sodium_init() >= 0;
}

static int
fetch_check(void)
{
	pthread_once(&fetch_once, fetch_all);
	return fetch_ok ? 0 : CF_EINTERNAL;
}

static const EVP_MD *
md_find(const char *vault_name)
{
	if (fetch_check() < 0)
		return NULL;
	for (size_t i = 0; i < MD_N; i++)
		if (strcmp(md_names[i].vault, vault_name) == 0)
			return mds[i];
	return NULL;
}

void
transit_crypto_wipe(void)
{
	cipher_cache_wipe();
}

static enum cipher_cache_alg
aead_index(const struct tk_type *t)
{
	switch (t->kind) {
	case TK_AES128_GCM:
		return CIPHER_AES128_GCM;
	case TK_AES256_GCM:
		return CIPHER_AES256_GCM;
	default:
		return CIPHER_CHACHA20_POLY1305;
	}
}

/* One AEAD operation (no AAD) on this thread's context (crypto/cipher_cache.h).
 * enc: out = ct, tag written; !enc: tag checked, CF_ECRYPTO when it does not
 * match. */
static int
aead_run(enum cipher_cache_alg alg, int enc, const uint8_t *key, const uint8_t *nonce,
         const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	int r;

	r = fetch_check();
	if (r < 0)
		return r;
	return cipher_cache_aead(alg, enc, key, nonce, NULL, 0, in, len, out, tag,
	                         TRANSIT_TAG_BYTES);
}

/* HKDF-SHA256(ikm = key, no salt, info = context), as Vault's kdf
 * "hkdf_sha256" (keysutil.Policy.DeriveKey). */
static int
derive(const uint8_t *key, size_t keylen, const uint8_t *ctx, size_t ctxlen, uint8_t *out,
       size_t outlen)
{
	EVP_KDF_CTX *kc;
	OSSL_PARAM params[4];
	int r;

	r = fetch_check();
	if (r < 0)
		return r;
	kc = EVP_KDF_CTX_new(hkdf);
	if (!kc)
		return CF_ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, ctxlen);
	params[3] = OSSL_PARAM_construct_end();
	r = EVP_KDF_derive(kc, out, outlen, params) == 1 ? 0 : CF_EINTERNAL;
	EVP_KDF_CTX_free(kc);
	return r;
}

/* ---- snapshots ---- */

struct tkey *
tkey_ref(struct tkey *k)
{
	if (k)
		__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return k;
}

static void
tk_version_clear(struct tk_version *v)
{
	if (v->key)
		sodium_free(v->key);
	if (v->hmac_key)
		sodium_free(v->hmac_key);
	EVP_PKEY_free(v->pkey);
	free(v->public_key); /* not secret: the public half */
	memset(v, 0, sizeof(*v));
}

void
tkey_unref(struct tkey *k)
{
	if (!k || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < k->nver; i++)
		tk_version_clear(&k->ver[i]);
	free(k->ver);
	free(k->name);
	free(k);
}

const struct tk_version *
tkey_version(const struct tkey *k, int64_t n)
{
	int64_t first;

	if (k->nver == 0)
		return NULL;
	first = k->ver[0].version;
	if (n < first || n > k->latest)
		return NULL;
	return &k->ver[n - first];
}

static int64_t
rec_int(json_t *rec, const char *key)
{
	json_t *v = json_object_get(rec, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bool
rec_bool(json_t *rec, const char *key)
{
	return json_is_true(json_object_get(rec, key));
}

/* Decodes a base64 field of a stored version into sodium-guarded memory. */
static int
secret_field(json_t *kv, const char *field, size_t want, uint8_t **ret)
{
	const char *b64 = json_string_value(json_object_get(kv, field));
	uint8_t *raw = NULL, *sec;
	size_t n = 0;
	int r;

	if (!b64)
		return CF_EIO;
	r = util_b64_decode(b64, &raw, &n);
	if (r < 0)
		return r == CF_ENOMEM ? r : CF_EIO;
	if (want && n != want) {
		secmem_free(raw, n);
		return CF_EIO;
	}
	sec = sodium_malloc(n ? n : 1);
	if (!sec) {
		secmem_free(raw, n);
		return CF_ENOMEM;
	}
	memcpy(sec, raw, n);
	secmem_free(raw, n);
	*ret = sec;
	return 0;
}

/* The public key in the form keys/:name shows: base64 raw for ed25519, PEM
 * SubjectPublicKeyInfo otherwise. */
static char *
public_key_text(const struct tk_type *t, EVP_PKEY *pk)
{
	if (t->kind == TK_ED25519) {
		uint8_t raw[32];
		size_t n = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1)
			return NULL;
		return util_b64_encode(raw, n);
	}
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (PEM_write_bio_PUBKEY(b, pk) == 1) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

static EVP_PKEY *
ed25519_from_seed(const uint8_t *seed)
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

static int
version_parse(const struct tk_type *t, json_t *kv, int64_t n, struct tk_version *v)
{
	int r;

	v->version = n;
	v->created = rec_int(kv, "creation_time");
	r = secret_field(kv, "hmac_key", TRANSIT_HMAC_KEY_BYTES, &v->hmac_key);
	if (r < 0)
		return r;
	if (tk_symmetric(t)) {
		v->keylen = t->keylen;
		return secret_field(kv, "key", t->keylen, &v->key);
	}
	uint8_t *der = NULL;
	size_t dlen = 0;
	const char *b64 = json_string_value(json_object_get(kv, "key"));
	EVP_PKEY *pk = NULL;

	if (!b64)
		return CF_EIO;
	r = util_b64_decode(b64, &der, &dlen);
	if (r < 0)
		return r == CF_ENOMEM ? r : CF_EIO;
	if (t->kind == TK_ED25519) {
		pk = dlen == 32 ? ed25519_from_seed(der) : NULL;
	} else {
		const unsigned char *p = der;
		pk = d2i_AutoPrivateKey(NULL, &p, (long)dlen);
	}
	secmem_free(der, dlen);
	if (!pk)
		return CF_EIO;
	v->pkey = pk;
	v->public_key = public_key_text(t, pk);
	return v->public_key ? 0 : CF_ENOMEM;
}

int
tkey_parse(const char *name, json_t *rec, struct tkey **ret)
{
	struct tkey *k = calloc(1, sizeof(*k));
	json_t *keys = json_object_get(rec, "keys");
	int64_t first;
	int r = CF_EIO;

	if (!k)
		return CF_ENOMEM;
	k->refs = 1;
	k->name = strdup(name);
	k->type = tk_type_find(json_string_value(json_object_get(rec, "type")));
	k->derived = rec_bool(rec, "derived");
	k->convergent = rec_bool(rec, "convergent_encryption");
	k->exportable = rec_bool(rec, "exportable");
	k->allow_plaintext_backup = rec_bool(rec, "allow_plaintext_backup");
	k->deletion_allowed = rec_bool(rec, "deletion_allowed");
	k->latest = rec_int(rec, "latest_version");
	k->min_dec = rec_int(rec, "min_decryption_version");
	k->min_enc = rec_int(rec, "min_encryption_version");
	k->min_avail = rec_int(rec, "min_available_version");
	k->auto_rotate_period = rec_int(rec, "auto_rotate_period");
	if (!k->name) {
		r = CF_ENOMEM;
		goto fail;
	}
	first = k->min_avail > 0 ? k->min_avail : 1;
	if (!k->type || !json_is_object(keys) || k->latest < first ||
	    k->latest - first >= TRANSIT_MAX_VERSIONS)
		goto fail;
	k->ver = calloc((size_t)(k->latest - first + 1), sizeof(*k->ver));
	if (!k->ver) {
		r = CF_ENOMEM;
		goto fail;
	}
	for (int64_t n = first; n <= k->latest; n++) {
		char num[24];
		json_t *kv;
		snprintf(num, sizeof(num), "%lld", (long long)n);
		kv = json_object_get(keys, num);
		if (!json_is_object(kv)) {
			r = CF_EIO;
			goto fail;
		}
		k->nver++;
		r = version_parse(k->type, kv, n, &k->ver[k->nver - 1]);
		if (r < 0)
			goto fail;
	}
	*ret = k;
	return 0;
fail:
	tkey_unref(k);
	return r;
}

/* ---- records ---- */

static int
set_b64(json_t *obj, const char *key, const uint8_t *in, size_t n)
{
	char *s = util_b64_encode(in, n);
	int r;

	if (!s)
		return CF_ENOMEM;
	r = json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : CF_ENOMEM;
	secmem_free_str(s);
	return r;
}

/* Fresh private key material of an asymmetric type, as stored: the 32-byte
 * seed for ed25519, else the DER private key (d2i_AutoPrivateKey reads it). */
static int
asym_generate(const struct tk_type *t, uint8_t **ret, size_t *ret_len)
{
	EVP_PKEY *pk = NULL;
	unsigned char *der = NULL;
	int n;

	if (t->kind == TK_ED25519) {
		uint8_t *seed = malloc(32);
		size_t sl = 32;
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (!seed || !pk || EVP_PKEY_get_raw_private_key(pk, seed, &sl) != 1 || sl != 32) {
			secmem_free(seed, 32);
			EVP_PKEY_free(pk);
			return CF_EINTERNAL;
		}
		EVP_PKEY_free(pk);
		*ret = seed;
		*ret_len = 32;
		return 0;
	}
	if (tk_is_ec(t))
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", t->group);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)t->bits);
	if (!pk)
		return CF_EINTERNAL;
	n = i2d_PrivateKey(pk, &der);
	EVP_PKEY_free(pk);
	if (n <= 0)
		return CF_EINTERNAL;
	*ret = malloc((size_t)n);
	if (!*ret) {
		OPENSSL_clear_free(der, (size_t)n);
		return CF_ENOMEM;
	}
	memcpy(*ret, der, (size_t)n);
	OPENSSL_clear_free(der, (size_t)n);
	*ret_len = (size_t)n;
	return 0;
}

int
tkey_record_rotate(json_t *rec, int64_t now)
{
	const struct tk_type *t = tk_type_find(json_string_value(json_object_get(rec, "type")));
	json_t *keys = json_object_get(rec, "keys"), *kv = NULL;
	int64_t latest = rec_int(rec, "latest_version"),
	        avail = rec_int(rec, "min_available_version");
	uint8_t hk[TRANSIT_HMAC_KEY_BYTES], *mat = NULL;
	size_t matlen = 0;
	char num[24];
	int r;

	if (!t || !json_is_object(keys))
		return CF_EIO;
	if (latest + 1 - (avail > 0 ? avail : 1) >= TRANSIT_MAX_VERSIONS)
		return CF_ERANGE;
	kv = json_object();
	if (!kv)
		return CF_ENOMEM;
	if (tk_symmetric(t)) {
		mat = malloc(t->keylen);
		if (!mat) {
			r = CF_ENOMEM;
			goto out;
		}
		matlen = t->keylen;
		util_random(mat, matlen);
	} else {
		r = asym_generate(t, &mat, &matlen);
		if (r < 0)
			goto out;
	}
	util_random(hk, sizeof(hk));
	r = set_b64(kv, "key", mat, matlen);
	if (r == 0)
		r = set_b64(kv, "hmac_key", hk, sizeof(hk));
	if (r < 0)
		goto out;
	if (json_object_set_new(kv, "creation_time", json_integer((json_int_t)now)) != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	snprintf(num, sizeof(num), "%lld", (long long)(latest + 1));
	if (json_object_set(keys, num, kv) != 0 ||
	    json_object_set_new(rec, "latest_version", json_integer((json_int_t)(latest + 1))) !=
	            0 ||
	    json_object_set_new(rec, "last_rotated", json_integer((json_int_t)now)) != 0) {
		r = CF_ENOMEM;
		goto out;
	}
	r = 0;
out:
	secmem_wipe(hk, sizeof(hk));
	secmem_free(mat, matlen);
	json_decref(kv);
	return r;
}

int
tkey_record_new(const struct tk_type *t, bool derived, bool convergent, bool exportable,
                bool allow_plaintext_backup, json_t **ret)
{
	json_t *rec;
	int r;

	rec = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:i, s:i, s:i, s:s, s:{}}",
	                "type", t->name, "derived", derived, "convergent_encryption", convergent,
	                "exportable", exportable, "allow_plaintext_backup", allow_plaintext_backup,
	                "deletion_allowed", 0, "latest_version", 0, "min_decryption_version", 1,
	                "min_encryption_version", 0, "min_available_version", 0,
	                "auto_rotate_period", 0, "kdf", "hkdf_sha256", "keys");
	if (!rec)
		return CF_ENOMEM;
	r = tkey_record_rotate(rec, util_now());
	if (r < 0) {
		json_decref(rec);
		return r;
	}
	*ret = rec;
	return 0;
}

json_t *
tkey_info(const struct tkey *k)
{
	const struct tk_type *t = k->type;
	json_t *keys = json_object(), *out;
	char num[24];

	if (!keys)
		return NULL;
	for (size_t i = 0; i < k->nver; i++) {
		const struct tk_version *v = &k->ver[i];
		json_t *e;
		snprintf(num, sizeof(num), "%lld", (long long)v->version);
		if (tk_symmetric(t)) {
			e = json_integer((json_int_t)v->created);
		} else {
			char ts[48];
			const char *kn = t->kind == TK_ED25519 ? "ed25519"
			                 : tk_is_ec(t)         ? t->group
			                                       : t->name;
			util_rfc3339(v->created * 1000000000LL, ts, sizeof(ts));
			e = json_pack("{s:s, s:s, s:s}", "name", kn, "public_key", v->public_key,
			              "creation_time", ts);
		}
		if (!e || json_object_set_new(keys, num, e) != 0) {
			json_decref(keys);
			return NULL;
		}
	}
	out = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:b, s:b, s:b, "
	                "s:b, s:I, s:b, s:b}",
	                "name", k->name, "type", t->name, "deletion_allowed", k->deletion_allowed,
	                "derived", k->derived, "exportable", k->exportable,
	                "allow_plaintext_backup", k->allow_plaintext_backup, "keys", keys,
	                "latest_version", (json_int_t)k->latest, "min_available_version",
	                (json_int_t)k->min_avail, "min_decryption_version", (json_int_t)k->min_dec,
	                "min_encryption_version", (json_int_t)k->min_enc, "supports_encryption",
	                t->enc, "supports_decryption", t->enc, "supports_derivation", t->derive,
	                "supports_signing", t->sign, "auto_rotate_period",
	                (json_int_t)k->auto_rotate_period, "imported", 0, "convergent_encryption",
	                k->convergent);
	if (out && k->derived) {
		if (json_object_set_new(out, "kdf", json_string("hkdf_sha256")) != 0) {
			json_decref(out);
			return NULL;
		}
		if (k->convergent && json_object_set_new(out, "convergent_encryption_version",
		                                         json_integer(3)) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* ---- version selection ---- */

static int
enc_version(const struct tkey *k, int64_t want, const struct tk_version **ret, char *err,
            size_t errlen)
{
	const struct tk_version *v;

	if (want < 0) {
		errf(err, errlen, "invalid key_version: must be a non-negative integer");
		return CF_EINVAL;
	}
	if (want == 0)
		want = k->latest;
	if (want > k->latest) {
		errf(err, errlen,
		     "requested version for encryption is higher than the latest key "
		     "version");
		return CF_EINVAL;
	}
	if (k->min_enc > 0 && want < k->min_enc) {
		errf(err, errlen,
		     "requested version for encryption is less than the minimum "
		     "encryption key version");
		return CF_EINVAL;
	}
	v = tkey_version(k, want);
	if (!v) {
		errf(err, errlen,
		     "requested version for encryption is less than the minimum "
		     "available key version");
		return CF_EINVAL;
	}
	*ret = v;
	return 0;
}

static int
dec_version(const struct tkey *k, int64_t n, const struct tk_version **ret, char *err,
            size_t errlen)
{
	const struct tk_version *v;

	if (n < k->min_dec) {
		errf(err, errlen,
		     "ciphertext or signature version is disallowed by policy (too old)");
		return CF_EINVAL;
	}
	if (n > k->latest) {
		errf(err, errlen, "invalid ciphertext: version is too new");
		return CF_EINVAL;
	}
	v = tkey_version(k, n);
	if (!v) {
		errf(err, errlen,
		     "ciphertext or signature version is disallowed by policy (too old)");
		return CF_EINVAL;
	}
	*ret = v;
	return 0;
}

/* Opens a "vault:vN:<base64>" value (ciphertext, HMAC or signature; what names
 * it in the base64 error): the key version it names, which must still be
 * allowed, and its decoded bytes (*ret, malloc'd). url: base64url (JWS). */
static int
ct_open(const struct tkey *k, const char *s, bool url, const char *what,
        const struct tk_version **ret_v, uint8_t **ret, size_t *ret_len, char *err, size_t errlen)
{
	const char *payload, *perr = NULL;
	int64_t n;
	int r;

	r = transit_ct_parse(s, &n, &payload, &perr);
	if (r < 0) {
		errf(err, errlen, "%s", perr);
		return r;
	}
	r = dec_version(k, n, ret_v, err, errlen);
	if (r < 0)
		return r;
	r = transit_ct_decode(payload, url, ret, ret_len);
	if (r == CF_EINVAL)
		errf(err, errlen, "invalid %s: could not decode base64", what);
	return r;
}

static int
context_check(const struct tkey *k, size_t ctxlen, bool given, char *err, size_t errlen)
{
	if (k->derived && ctxlen == 0) {
		errf(err, errlen,
		     "missing 'context' for key derivation; the key was created using a "
		     "derived key, which means additional, per-request information must "
		     "be included in order to perform operations with the key");
		return CF_EINVAL;
	}
	if (!k->derived && given) {
		errf(err, errlen,
		     "'context' was given but the key is not derived (created without "
		     "derived=true)");
		return CF_EINVAL;
	}
	return 0;
}

/* The symmetric key of v for this request: derived from ctx when k is derived. */
static int
sym_key(const struct tkey *k, const struct tk_version *v, const uint8_t *ctx, size_t ctxlen,
        uint8_t *out)
{
	if (!k->derived) {
		memcpy(out, v->key, v->keylen);
		return 0;
	}
	return derive(v->key, v->keylen, ctx, ctxlen, out, v->keylen);
}

/* ---- encrypt / decrypt ---- */

static int
rsa_crypt(EVP_PKEY *pk, int enc, const uint8_t *in, size_t inlen, uint8_t **ret, size_t *ret_len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r = CF_ECRYPTO;

	if (!pc)
		return CF_ENOMEM;
	if ((enc ? EVP_PKEY_encrypt_init(pc) : EVP_PKEY_decrypt_init(pc)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(pc, "SHA256", NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, "SHA256", NULL) != 1)
		goto out;
	if ((enc ? EVP_PKEY_encrypt(pc, NULL, &outlen, in, inlen)
	         : EVP_PKEY_decrypt(pc, NULL, &outlen, in, inlen)) != 1)
		goto out;
	out = malloc(outlen ? outlen : 1);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	if ((enc ? EVP_PKEY_encrypt(pc, out, &outlen, in, inlen)
	         : EVP_PKEY_decrypt(pc, out, &outlen, in, inlen)) != 1) {
		secmem_free(out, outlen);
		out = NULL;
		goto out;
	}
	*ret = out;
	*ret_len = outlen;
	r = 0;
out:
	EVP_PKEY_CTX_free(pc);
	return r;
}

int
tkey_encrypt(const struct tkey *k, int64_t version, const uint8_t *ctx, size_t ctxlen,
             const uint8_t *nonce, size_t noncelen, const uint8_t *pt, size_t ptlen, char **ret_ct,
             int64_t *ret_version, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t key[32], *buf = NULL;
	size_t blen = 0;
	char *ct;
	int r;

	if (!k->type->enc) {
		errf(err, errlen, "key type %s does not support encryption", k->type->name);
		return CF_EINVAL;
	}
	r = context_check(k, ctxlen, ctx != NULL, err, errlen);
	if (r < 0)
		return r;
	if (noncelen > 0) {
		errf(err, errlen, "provided nonce not allowed for this key");
		return CF_EINVAL;
	}
	(void)nonce;
	r = enc_version(k, version, &v, err, errlen);
	if (r < 0)
		return r;
	if (tk_is_rsa(k->type)) {
		r = rsa_crypt(v->pkey, 1, pt, ptlen, &buf, &blen);
		if (r < 0) {
			errf(err, errlen, "plaintext too long for the RSA key");
			return r == CF_ECRYPTO ? CF_EINVAL : r;
		}
	} else {
		if (ptlen > (size_t)INT_MAX - TRANSIT_NONCE_BYTES - TRANSIT_TAG_BYTES)
			return CF_ETOOBIG;
		r = sym_key(k, v, ctx, ctxlen, key);
		if (r < 0)
			goto out;
		blen = TRANSIT_NONCE_BYTES + ptlen + TRANSIT_TAG_BYTES;
		buf = malloc(blen);
		if (!buf) {
			r = CF_ENOMEM;
			goto out;
		}
		if (k->convergent) {
			/* Convergent (Vault's version 3): the nonce is an HMAC of the
			 * plaintext under the derived key, so equal input under an equal
			 * context gives equal ciphertext. */
			uint8_t mac[EVP_MAX_MD_SIZE];
			unsigned ml = 0;
			if (!HMAC(md_find("sha2-256"), key, (int)v->keylen, pt, ptlen, mac, &ml)) {
				r = CF_EINTERNAL;
				goto out;
			}
			memcpy(buf, mac, TRANSIT_NONCE_BYTES);
			secmem_wipe(mac, sizeof(mac));
		} else {
			util_random(buf, TRANSIT_NONCE_BYTES);
		}
		r = aead_run(aead_index(k->type), 1, key, buf, pt, ptlen, buf + TRANSIT_NONCE_BYTES,
		             buf + TRANSIT_NONCE_BYTES + ptlen);
		if (r < 0)
			goto out;
	}
	ct = transit_ct_format(v->version, buf, blen, false);
	if (!ct) {
		r = CF_ENOMEM;
		goto out;
	}
	*ret_ct = ct;
	*ret_version = v->version;
	r = 0;
out:
	secmem_wipe(key, sizeof(key));
	secmem_free(buf, blen);
	return r;
}

int
tkey_decrypt(const struct tkey *k, const char *ct, const uint8_t *ctx, size_t ctxlen,
             uint8_t **ret_pt, size_t *ret_len, int64_t *ret_version, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t key[32], *raw = NULL, *pt = NULL;
	size_t rawlen = 0, ptlen = 0;
	int r;

	if (!k->type->enc) {
		errf(err, errlen, "key type %s does not support decryption", k->type->name);
		return CF_EINVAL;
	}
	r = context_check(k, ctxlen, ctx != NULL, err, errlen);
	if (r < 0)
		return r;
	r = ct_open(k, ct, false, "ciphertext", &v, &raw, &rawlen, err, errlen);
	if (r < 0)
		return r;
	if (tk_is_rsa(k->type)) {
		r = rsa_crypt(v->pkey, 0, raw, rawlen, &pt, &ptlen);
		if (r == CF_ECRYPTO)
			errf(err, errlen, "crypto/rsa: decryption error");
		if (r < 0)
			goto out;
	} else {
		if (rawlen < TRANSIT_NONCE_BYTES + TRANSIT_TAG_BYTES) {
			errf(err, errlen, "invalid ciphertext: unable to decrypt (too short)");
			r = CF_EINVAL;
			goto out;
		}
		ptlen = rawlen - TRANSIT_NONCE_BYTES - TRANSIT_TAG_BYTES;
		pt = malloc(ptlen + 1);
		if (!pt) {
			r = CF_ENOMEM;
			goto out;
		}
		r = sym_key(k, v, ctx, ctxlen, key);
		if (r < 0)
			goto out;
		r = aead_run(aead_index(k->type), 0, key, raw, raw + TRANSIT_NONCE_BYTES, ptlen, pt,
		             raw + TRANSIT_NONCE_BYTES + ptlen);
		if (r == CF_ECRYPTO)
			errf(err, errlen, "cipher: message authentication failed");
		if (r < 0)
			goto out;
	}
	*ret_pt = pt;
	*ret_len = ptlen;
	*ret_version = v->version;
	pt = NULL;
	r = 0;
out:
	secmem_wipe(key, sizeof(key));
	secmem_free(pt, ptlen);
	secmem_free(raw, rawlen);
	return r;
}

/* ---- hashes and HMAC ---- */

int
transit_hash(const char *alg, const uint8_t *in, size_t inlen, uint8_t *out, size_t *ret_len)
{
	const EVP_MD *md = md_find(alg);
	unsigned n = 0;

	if (!md)
		return CF_EINVAL;
	if (EVP_Digest(in, inlen, out, &n, md, NULL) != 1)
		return CF_EINTERNAL;
	*ret_len = n;
	return 0;
}

static int
hmac_raw(const struct tk_version *v, const char *alg, const uint8_t *in, size_t inlen, uint8_t *out,
         unsigned *ret_len, char *err, size_t errlen)
{
	const EVP_MD *md = md_find(alg ? alg : "sha2-256");

	if (!md) {
		errf(err, errlen, "unsupported algorithm %s", alg);
		return CF_EINVAL;
	}
	if (!HMAC(md, v->hmac_key, TRANSIT_HMAC_KEY_BYTES, in, inlen, out, ret_len))
		return CF_EINTERNAL;
	return 0;
}

int
tkey_hmac(const struct tkey *k, int64_t version, const char *alg, const uint8_t *in, size_t inlen,
          char **ret_hmac, int64_t *ret_version, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	int r;

	r = enc_version(k, version, &v, err, errlen);
	if (r < 0)
		return r;
	r = hmac_raw(v, alg, in, inlen, mac, &ml, err, errlen);
	if (r < 0)
		return r;
	*ret_hmac = transit_ct_format(v->version, mac, ml, false);
	*ret_version = v->version;
	return *ret_hmac ? 0 : CF_ENOMEM;
}

int
tkey_hmac_verify(const struct tkey *k, const char *alg, const uint8_t *in, size_t inlen,
                 const char *macstr, bool *ret_valid, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t mac[EVP_MAX_MD_SIZE], *got = NULL;
	size_t glen = 0;
	unsigned ml = 0;
	int r;

	r = ct_open(k, macstr, false, "HMAC", &v, &got, &glen, err, errlen);
	if (r < 0)
		return r;
	r = hmac_raw(v, alg, in, inlen, mac, &ml, err, errlen);
	if (r == 0)
		*ret_valid = glen == ml && CRYPTO_memcmp(got, mac, ml) == 0;
	free(got);
	return r;
}

/* ---- signatures ---- */

static int
ec_field_bytes(EVP_PKEY *pk)
{
	return (EVP_PKEY_get_bits(pk) + 7) / 8;
}

/* DER ECDSA-Sig-Value <-> r||s (JWS), each half padded to the field size. */
static int
ecdsa_der_to_jws(EVP_PKEY *pk, const uint8_t *der, size_t dlen, uint8_t **ret, size_t *ret_len)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	int fb = ec_field_bytes(pk);
	uint8_t *out;

	if (!s)
		return CF_EINTERNAL;
	out = malloc((size_t)fb * 2);
	if (!out || BN_bn2binpad(ECDSA_SIG_get0_r(s), out, fb) != fb ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), out + fb, fb) != fb) {
		free(out);
		ECDSA_SIG_free(s);
		return CF_EINTERNAL;
	}
	ECDSA_SIG_free(s);
	*ret = out;
	*ret_len = (size_t)fb * 2;
	return 0;
}

static int
ecdsa_jws_to_der(EVP_PKEY *pk, const uint8_t *raw, size_t len, uint8_t **ret, size_t *ret_len)
{
	int fb = ec_field_bytes(pk);
	ECDSA_SIG *s;
	BIGNUM *br, *bs;
	unsigned char *der = NULL;
	int n;

	if (len != (size_t)fb * 2)
		return CF_EINVAL;
	s = ECDSA_SIG_new();
	br = BN_bin2bn(raw, fb, NULL);
	bs = BN_bin2bn(raw + fb, fb, NULL);
	if (!s || !br || !bs || ECDSA_SIG_set0(s, br, bs) != 1) {
		ECDSA_SIG_free(s);
		BN_free(br);
		BN_free(bs);
		return CF_ENOMEM;
	}
	n = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return CF_EINTERNAL;
	*ret = malloc((size_t)n);
	if (!*ret) {
		OPENSSL_free(der);
		return CF_ENOMEM;
	}
	memcpy(*ret, der, (size_t)n);
	OPENSSL_free(der);
	*ret_len = (size_t)n;
	return 0;
}

/* The ed25519 key of a request: the version's, or one derived from ctx. */
static int
ed_key(const struct tkey *k, const struct tk_version *v, const struct tk_sign_opts *o,
       EVP_PKEY **ret, bool *ret_owned)
{
	uint8_t seed[32], dseed[32];
	size_t sl = sizeof(seed);
	int r;

	*ret_owned = false;
	if (!k->derived) {
		*ret = v->pkey;
		return 0;
	}
	if (EVP_PKEY_get_raw_private_key(v->pkey, seed, &sl) != 1) {
		secmem_wipe(seed, sizeof(seed));
		return CF_EINTERNAL;
	}
	r = derive(seed, sl, o->ctx, o->ctxlen, dseed, sizeof(dseed));
	secmem_wipe(seed, sizeof(seed));
	if (r < 0)
		return r;
	*ret = ed25519_from_seed(dseed);
	secmem_wipe(dseed, sizeof(dseed));
	if (!*ret)
		return CF_EINTERNAL;
	*ret_owned = true;
	return 0;
}

/* Prepares a sign or verify context for EC/RSA: the digest of in (or in itself
 * when prehashed) in dig. */
static int
pk_prepare(const struct tkey *k, EVP_PKEY *pk, const struct tk_sign_opts *o, bool sign,
           const uint8_t *in, size_t inlen, uint8_t *dig, size_t *ret_diglen, EVP_PKEY_CTX **ret_pc,
           char *err, size_t errlen)
{
	const char *hname = o->hash && *o->hash ? o->hash : "sha2-256";
	const EVP_MD *md = md_find(hname);
	EVP_PKEY_CTX *pc;
	size_t mdlen;
	int r;

	if (!md) {
		errf(err, errlen, "unsupported hash algorithm %s", hname);
		return CF_EINVAL;
	}
	mdlen = (size_t)EVP_MD_get_size(md);
	if (o->prehashed) {
		if (inlen > EVP_MAX_MD_SIZE || (tk_is_rsa(k->type) && inlen != mdlen)) {
			errf(err, errlen, "prehashed input does not match the size of %s", hname);
			return CF_EINVAL;
		}
		memcpy(dig, in, inlen);
		*ret_diglen = inlen;
	} else {
		r = transit_hash(hname, in, inlen, dig, ret_diglen);
		if (r < 0)
			return r;
	}
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (!pc)
		return CF_ENOMEM;
	if ((sign ? EVP_PKEY_sign_init(pc) : EVP_PKEY_verify_init(pc)) != 1)
		goto bad;
	if (tk_is_rsa(k->type)) {
		const char *alg = o->sig_alg && *o->sig_alg ? o->sig_alg : "pss";
		if (EVP_PKEY_CTX_set_signature_md(pc, md) != 1)
			goto bad;
		if (strcmp(alg, "pss") == 0) {
			if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, sign ? RSA_PSS_SALTLEN_MAX
			                                              : RSA_PSS_SALTLEN_AUTO) != 1)
				goto bad;
		} else if (strcmp(alg, "pkcs1v15") == 0) {
			if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1)
				goto bad;
		} else {
			EVP_PKEY_CTX_free(pc);
			errf(err, errlen, "unsupported signature algorithm %s", alg);
			return CF_EINVAL;
		}
	}
	*ret_pc = pc;
	return 0;
bad:
	EVP_PKEY_CTX_free(pc);
	return CF_EINTERNAL;
}

static int
marshal_check(const struct tkey *k, const struct tk_sign_opts *o, bool *ret_jws, char *err,
              size_t errlen)
{
	const char *m = o->marshal && *o->marshal ? o->marshal : "asn1";

	*ret_jws = false;
	if (strcmp(m, "asn1") == 0)
		return 0;
	if (strcmp(m, "jws") == 0 && tk_is_ec(k->type)) {
		*ret_jws = true;
		return 0;
	}
	errf(err, errlen, "unsupported marshaling algorithm %s", m);
	return CF_EINVAL;
}

/* What sign and verify check first: the key type signs, the context fits the
 * key's derivation, and the marshaling algorithm (sets *ret_jws). what names the
 * operation in the error ("signing", "verification"). */
static int
sign_checks(const struct tkey *k, const struct tk_sign_opts *o, const char *what, bool *ret_jws,
            char *err, size_t errlen)
{
	int r;

	if (!k->type->sign) {
		errf(err, errlen, "key type %s does not support %s", k->type->name, what);
		return CF_EINVAL;
	}
	r = context_check(k, o->ctxlen, o->ctx != NULL, err, errlen);
	if (r < 0)
		return r;
	return marshal_check(k, o, ret_jws, err, errlen);
}

int
tkey_sign(const struct tkey *k, int64_t version, const struct tk_sign_opts *o, const uint8_t *in,
          size_t inlen, char **ret_sig, int64_t *ret_version, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t dig[EVP_MAX_MD_SIZE], *sig = NULL, *jws = NULL;
	size_t diglen = 0, siglen = 0, jlen = 0;
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY *pk = NULL;
	bool owned = false, usejws = false;
	int r;

	r = sign_checks(k, o, "signing", &usejws, err, errlen);
	if (r < 0)
		return r;
	r = enc_version(k, version, &v, err, errlen);
	if (r < 0)
		return r;
	if (k->type->kind == TK_ED25519) {
		r = ed_key(k, v, o, &pk, &owned);
		if (r < 0)
			goto out;
		mc = EVP_MD_CTX_new();
		r = CF_EINTERNAL;
		if (!mc || EVP_DigestSignInit_ex(mc, NULL, NULL, NULL, NULL, pk, NULL) != 1 ||
		    EVP_DigestSign(mc, NULL, &siglen, in, inlen) != 1)
			goto out;
		sig = malloc(siglen);
		if (!sig || EVP_DigestSign(mc, sig, &siglen, in, inlen) != 1)
			goto out;
	} else {
		r = pk_prepare(k, v->pkey, o, true, in, inlen, dig, &diglen, &pc, err, errlen);
		if (r < 0)
			goto out;
		r = CF_EINTERNAL;
		if (EVP_PKEY_sign(pc, NULL, &siglen, dig, diglen) != 1)
			goto out;
		sig = malloc(siglen);
		if (!sig || EVP_PKEY_sign(pc, sig, &siglen, dig, diglen) != 1)
			goto out;
		if (usejws) {
			r = ecdsa_der_to_jws(v->pkey, sig, siglen, &jws, &jlen);
			if (r < 0)
				goto out;
		}
	}
	*ret_sig = usejws ? transit_ct_format(v->version, jws, jlen, true)
	                  : transit_ct_format(v->version, sig, siglen, false);
	*ret_version = v->version;
	r = *ret_sig ? 0 : CF_ENOMEM;
out:
	free(sig);
	free(jws);
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(mc);
	if (owned)
		EVP_PKEY_free(pk);
	return r;
}

int
tkey_verify(const struct tkey *k, const struct tk_sign_opts *o, const uint8_t *in, size_t inlen,
            const char *sigstr, bool *ret_valid, char *err, size_t errlen)
{
	const struct tk_version *v;
	uint8_t dig[EVP_MAX_MD_SIZE], *sig = NULL, *der = NULL;
	size_t diglen = 0, siglen = 0, dlen = 0;
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY *pk = NULL;
	bool owned = false, usejws = false;
	int r;

	r = sign_checks(k, o, "verification", &usejws, err, errlen);
	if (r < 0)
		return r;
	r = ct_open(k, sigstr, usejws, "signature", &v, &sig, &siglen, err, errlen);
	if (r < 0)
		return r;
	*ret_valid = false;
	if (k->type->kind == TK_ED25519) {
		r = ed_key(k, v, o, &pk, &owned);
		if (r < 0)
			goto out;
		mc = EVP_MD_CTX_new();
		r = CF_EINTERNAL;
		if (!mc || EVP_DigestVerifyInit_ex(mc, NULL, NULL, NULL, NULL, pk, NULL) != 1)
			goto out;
		*ret_valid = EVP_DigestVerify(mc, sig, siglen, in, inlen) == 1;
		r = 0;
		goto out;
	}
	r = pk_prepare(k, v->pkey, o, false, in, inlen, dig, &diglen, &pc, err, errlen);
	if (r < 0)
		goto out;
	if (usejws) {
		r = ecdsa_jws_to_der(v->pkey, sig, siglen, &der, &dlen);
		if (r == CF_EINVAL) {
			r = 0; /* a wrong-size JWS signature simply does not verify */
			goto out;
		}
		if (r < 0)
			goto out;
	}
	*ret_valid =
	        EVP_PKEY_verify(pc, usejws ? der : sig, usejws ? dlen : siglen, dig, diglen) == 1;
	r = 0;
out:
	free(sig);
	free(der);
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(mc);
	if (owned)
		EVP_PKEY_free(pk);
	return r;
}

/* ---- export ---- */

static char *
private_pem(EVP_PKEY *pk)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *data = NULL, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (PEM_write_bio_PrivateKey_traditional(b, pk, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

int
tkey_export(const struct tkey *k, const struct tk_version *v, const char *what, char **ret,
            char *err, size_t errlen)
{
	const struct tk_type *t = k->type;
	char *out = NULL;

	if (strcmp(what, "hmac-key") == 0) {
		out = util_b64_encode(v->hmac_key, TRANSIT_HMAC_KEY_BYTES);
	} else if (strcmp(what, "encryption-key") == 0) {
		if (!t->enc) {
			errf(err, errlen, "encryption key not supported by this key type");
			return CF_EINVAL;
		}
		out = tk_symmetric(t) ? util_b64_encode(v->key, v->keylen) : private_pem(v->pkey);
	} else if (strcmp(what, "signing-key") == 0) {
		if (!t->sign) {
			errf(err, errlen, "signing key not supported by this key type");
			return CF_EINVAL;
		}
		if (t->kind == TK_ED25519) {
			/* Go's ed25519.PrivateKey: seed || public key */
			uint8_t raw[64];
			size_t sl = 32, pl = 32;
			if (EVP_PKEY_get_raw_private_key(v->pkey, raw, &sl) != 1 ||
			    EVP_PKEY_get_raw_public_key(v->pkey, raw + 32, &pl) != 1) {
				secmem_wipe(raw, sizeof(raw));
				return CF_EINTERNAL;
			}
			out = util_b64_encode(raw, sizeof(raw));
			secmem_wipe(raw, sizeof(raw));
		} else {
			out = private_pem(v->pkey);
		}
	} else {
		errf(err, errlen, "invalid export type: %s", what);
		return CF_EINVAL;
	}
	if (!out)
		return CF_ENOMEM;
	*ret = out;
	return 0;
}
