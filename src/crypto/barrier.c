/* barrier.c - AES-256-GCM between coffer and its storage; see barrier.h.
 *
 * State: sealed, or unsealed with a root key (sodium_malloc'd, no access except
 * while rotate re-seals the keyring) and a keyring (keyring.h). A writer-preferring
 * rwlock protects it: get/put/delete/list/txn hold the read lock for the whole
 * operation, seal/unseal/initialize/rotate hold the write lock, so seal waits for
 * in-flight operations and is not starved by a stream of new ones.
 *
 * Cipher contexts: the OpenSSL path runs on the per-thread contexts of
 * crypto/cipher_cache.h (a fresh context per operation is 15x slower). A
 * context keeps the expanded AES key of its last operation, so barrier_seal()
 * resets every thread's contexts (cipher_cache_wipe).
 *
 * Where the CPU has AES-NI and carry-less multiplication (libsodium's
 * crypto_aead_aes256gcm_is_available), libsodium does the GCM instead: the same
 * cipher and format, no per-thread context (the expanded key lives on the stack
 * for one call and libsodium wipes it), and no OpenSSL initialization, which
 * costs about 1 ms the first time (docs/BENCHMARKS.md "start-to-ready"). The
 * OpenSSL path above serves every other CPU. */
#include "crypto/barrier.h"
#include "crypto/cipher_cache.h"
#include "crypto/keyring.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BARRIER_VERSION     1
#define BARRIER_NONCE_BYTES 12
#define BARRIER_TAG_BYTES   16
#define BARRIER_HDR_BYTES   (4 + 1 + BARRIER_NONCE_BYTES)
#define BARRIER_OVERHEAD    (BARRIER_HDR_BYTES + BARRIER_TAG_BYTES)

#define ROOT_KEY_PATH "core/root-key"
#define KEYRING_PATH  "core/keyring"
/* Term written in the prefix of the two values sealed outside the keyring. */
#define ROOT_TERM 0

struct barrier {
	struct storage *s;
	pthread_rwlock_t lock;
	bool sealed;        /* under lock */
	uint8_t *root_key;  /* BARRIER_KEY_BYTES, sodium_malloc'd, noaccess; NULL if sealed */
	struct keyring *kr; /* NULL if sealed */
};

/* --- one value ------------------------------------------------------------ */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static pthread_once_t sodium_gcm_once = PTHREAD_ONCE_INIT;
static bool sodium_gcm_ok;

static void
sodium_gcm_init(void)
{
	sodium_gcm_ok = sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1 &&
	                !util_test_hook("COFFER_BARRIER_OPENSSL"); /* tests: the other path */
	log_verbose("storage barrier: AES-256-GCM by %s", sodium_gcm_ok ? "libsodium" : "OpenSSL");
}

/* Whether libsodium does the GCM on this CPU. */
static bool
sodium_gcm(void)
{
	pthread_once(&sodium_gcm_once, sodium_gcm_init);
	return sodium_gcm_ok;
}

/* Encrypts pt into out, which has room for len + BARRIER_OVERHEAD bytes. */
static int
value_seal(const uint8_t *key, uint32_t term, const char *path, const uint8_t *pt, size_t len,
           uint8_t *out)
{
	if (path == NULL || (pt == NULL && len > 0))
		return CF_EINVAL;
	if (len > INT_MAX - BARRIER_OVERHEAD)
		return CF_ETOOBIG;
	put_be32(out, term);
	out[4] = BARRIER_VERSION;
	randombytes_buf(out + 5, BARRIER_NONCE_BYTES);
	if (sodium_gcm()) {
		unsigned long long taglen;
		return crypto_aead_aes256gcm_encrypt_detached(
		               out + BARRIER_HDR_BYTES, out + BARRIER_HDR_BYTES + len, &taglen,
		               len ? pt : out, len, (const uint8_t *)path, strlen(path), NULL,
		               out + 5, key) == 0
		               ? 0
		               : CF_ECRYPTO;
	}
	return cipher_cache_aead(CIPHER_AES256_GCM, 1, key, out + 5, (const uint8_t *)path,
	                         strlen(path), pt, len, out + BARRIER_HDR_BYTES,
	                         out + BARRIER_HDR_BYTES + len, BARRIER_TAG_BYTES);
}

/* Decrypts ct (len >= BARRIER_OVERHEAD, version checked) into out, which has room
 * for len - BARRIER_OVERHEAD bytes. On failure out is wiped: GCM releases
 * plaintext before it checks the tag. */
static int
value_open(const uint8_t *key, const char *path, const uint8_t *ct, size_t len, uint8_t *out)
{
	size_t ptlen = len - BARRIER_OVERHEAD;
	uint8_t tag[BARRIER_TAG_BYTES];
	int r;

	if (path == NULL || ct == NULL)
		return CF_EINVAL;
	if (len < BARRIER_OVERHEAD || ct[4] != BARRIER_VERSION)
		return CF_ECRYPTO;
	if (len > INT_MAX)
		return CF_ETOOBIG;
	memcpy(tag, ct + BARRIER_HDR_BYTES + ptlen, sizeof(tag));
	if (sodium_gcm()) {
		r = crypto_aead_aes256gcm_decrypt_detached(out, NULL, ct + BARRIER_HDR_BYTES, ptlen,
		                                           tag, (const uint8_t *)path, strlen(path),
		                                           ct + 5, key) == 0
		            ? 0
		            : CF_ECRYPTO;
		if (r < 0)
			secmem_wipe(out, ptlen);
		return r;
	}
	r = cipher_cache_aead(CIPHER_AES256_GCM, 0, key, ct + 5, (const uint8_t *)path,
	                      strlen(path), ct + BARRIER_HDR_BYTES, ptlen, out, tag,
	                      BARRIER_TAG_BYTES);
	if (r < 0)
		secmem_wipe(out, ptlen);
	return r;
}

int
barrier_seal_value(const uint8_t key[BARRIER_KEY_BYTES], uint32_t term, const char *path,
                   const uint8_t *pt, size_t len, uint8_t **ret_ct, size_t *ret_len)
{
	uint8_t *ct;
	int r;

	if (len > INT_MAX - BARRIER_OVERHEAD)
		return CF_ETOOBIG;
	ct = malloc(len + BARRIER_OVERHEAD);
	if (ct == NULL)
		return CF_ENOMEM;
	r = value_seal(key, term, path, pt, len, ct);
	if (r < 0) {
		free(ct);
		return r;
	}
	*ret_ct = ct;
	*ret_len = len + BARRIER_OVERHEAD;
	return 0;
}

int
barrier_open_value(const uint8_t key[BARRIER_KEY_BYTES], const char *path, const uint8_t *ct,
                   size_t len, uint8_t **ret_pt, size_t *ret_len)
{
	uint8_t *pt;
	int r;

	if (len < BARRIER_OVERHEAD)
		return CF_ECRYPTO;
	pt = malloc(len - BARRIER_OVERHEAD + 1);
	if (pt == NULL)
		return CF_ENOMEM;
	r = value_open(key, path, ct, len, pt);
	if (r < 0) {
		free(pt); /* wiped by value_open */
		return r;
	}
	pt[len - BARRIER_OVERHEAD] = '\0';
	*ret_pt = pt;
	*ret_len = len - BARRIER_OVERHEAD;
	return 0;
}

int
barrier_value_term(const uint8_t *ct, size_t len, uint32_t *ret_term)
{
	if (ct == NULL || len < 4)
		return CF_EINVAL;
	*ret_term = get_be32(ct);
	return 0;
}

/* --- barrier state -------------------------------------------------------- */

int
barrier_new(struct storage *s, struct barrier **ret)
{
	pthread_rwlockattr_t attr;
	struct barrier *b;
	int r = CF_ENOMEM;

	if (sodium_init() < 0)
		return CF_EINTERNAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return CF_ENOMEM;
	if (pthread_rwlockattr_init(&attr) != 0)
		goto out;
	/* glibc prefers readers by default; seal must not wait behind new readers. */
	(void)pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&b->lock, &attr) != 0) {
		pthread_rwlockattr_destroy(&attr);
		goto out;
	}
	pthread_rwlockattr_destroy(&attr);
	b->s = s;
	b->sealed = true;
	*ret = b;
	b = NULL;
	r = 0;
out:
	free(b);
	return r;
}

/* Drops the keys. Caller holds the write lock. */
static void
barrier_drop_keys(struct barrier *b)
{
	keyring_free(b->kr);
	b->kr = NULL;
	sodium_free(b->root_key); /* wipes, also from noaccess */
	b->root_key = NULL;
	b->sealed = true;
}

void
barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	barrier_seal(b);
	pthread_rwlock_destroy(&b->lock);
	free(b);
}

int
barrier_initialized(struct barrier *b, bool *ret)
{
	uint8_t *val = NULL;
	size_t len;
	int r;

	r = storage_get(b->s, ROOT_KEY_PATH, &val, &len);
	if (r == CF_ENOTFOUND) {
		*ret = false;
		return 0;
	}
	if (r < 0)
		return r;
	free(val);
	*ret = true;
	return 0;
}

/* Seals the keyring with the root key. root must be readable. *ret_ct is malloc'd. */
static int
keyring_seal(const uint8_t *root, const struct keyring *kr, uint8_t **ret_ct, size_t *ret_len)
{
	uint8_t *pt = NULL;
	size_t len;
	int r;

	r = keyring_encode(kr, &pt, &len);
	if (r < 0)
		return r;
	r = barrier_seal_value(root, ROOT_TERM, KEYRING_PATH, pt, len, ret_ct, ret_len);
	sodium_free(pt);
	return r;
}

int
barrier_initialize(struct barrier *b, const uint8_t unseal_key[BARRIER_KEY_BYTES])
{
	struct storage_op ops[2];
	struct keyring *kr = NULL;
	uint8_t *root = NULL, *root_ct = NULL, *kr_ct = NULL;
	size_t root_len, kr_len;
	bool init;
	int r;

	pthread_rwlock_wrlock(&b->lock);
	r = barrier_initialized(b, &init);
	if (r < 0)
		goto out;
	if (init) {
		r = CF_EEXIST;
		goto out;
	}
	root = sodium_malloc(BARRIER_KEY_BYTES);
	if (root == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	randombytes_buf(root, BARRIER_KEY_BYTES);
	r = keyring_generate(util_now_ns(), &kr);
	if (r < 0)
		goto out;
	r = barrier_seal_value(unseal_key, ROOT_TERM, ROOT_KEY_PATH, root, BARRIER_KEY_BYTES,
	                       &root_ct, &root_len);
	if (r < 0)
		goto out;
	r = keyring_seal(root, kr, &kr_ct, &kr_len);
	if (r < 0)
		goto out;
	ops[0] = (struct storage_op){STORAGE_PUT, ROOT_KEY_PATH, root_ct, root_len};
	ops[1] = (struct storage_op){STORAGE_PUT, KEYRING_PATH, kr_ct, kr_len};
	r = storage_txn(b->s, ops, 2);
	if (r < 0)
		goto out;

	barrier_drop_keys(b);
	(void)sodium_mprotect_noaccess(root);
	b->root_key = root;
	b->kr = kr;
	b->sealed = false;
	root = NULL;
	kr = NULL;
out:
	pthread_rwlock_unlock(&b->lock);
	sodium_free(root);
	keyring_free(kr);
	free(root_ct);
	free(kr_ct);
	return r;
}

/* Reads the stored root key and opens it with unseal_key (b->lock held).
 * Returns 0 with *ret_root a new sodium_malloc'd BARRIER_KEY_BYTES copy,
 * CF_ENOTFOUND when none is stored, CF_EBADKEY for a wrong unseal key (a
 * failed tag), CF_ECRYPTO for a stored value of the wrong size, or a storage
 * error. */
static int
root_key_open(struct barrier *b, const uint8_t *unseal_key, uint8_t **ret_root)
{
	uint8_t *ct = NULL, *root = NULL;
	size_t len;
	int r;

	r = storage_get(b->s, ROOT_KEY_PATH, &ct, &len);
	if (r < 0)
		goto out;
	if (len != BARRIER_KEY_BYTES + BARRIER_OVERHEAD) {
		r = CF_ECRYPTO;
		goto out;
	}
	root = sodium_malloc(BARRIER_KEY_BYTES);
	if (root == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = value_open(unseal_key, ROOT_KEY_PATH, ct, len, root);
	if (r == CF_ECRYPTO)
		r = CF_EBADKEY;
	if (r < 0)
		goto out;
	*ret_root = root;
	root = NULL;
out:
	sodium_free(root);
	free(ct);
	return r;
}

int
barrier_unseal(struct barrier *b, const uint8_t unseal_key[BARRIER_KEY_BYTES])
{
	struct keyring *kr = NULL;
	uint8_t *root = NULL, *ct = NULL, *pt = NULL;
	size_t len;
	int r = 0;

	pthread_rwlock_wrlock(&b->lock);
	if (!b->sealed)
		goto out;

	r = root_key_open(b, unseal_key, &root);
	if (r == CF_ENOTFOUND)
		r = CF_EUNINIT;
	if (r < 0)
		goto out;

	r = storage_get(b->s, KEYRING_PATH, &ct, &len);
	if (r == CF_ENOTFOUND)
		r = CF_EINTERNAL; /* a root key without a keyring: storage damaged */
	if (r < 0)
		goto out;
	if (len <= BARRIER_OVERHEAD) {
		r = CF_ECRYPTO;
		goto out;
	}
	pt = sodium_malloc(len - BARRIER_OVERHEAD);
	if (pt == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	r = value_open(root, KEYRING_PATH, ct, len, pt);
	if (r < 0)
		goto out;
	/* Authentic but unparsable: written by a bug or another version. */
	r = keyring_decode(pt, len - BARRIER_OVERHEAD, &kr);
	if (r == CF_EINVAL)
		r = CF_EINTERNAL;
	if (r < 0)
		goto out;

	(void)sodium_mprotect_noaccess(root);
	b->root_key = root;
	b->kr = kr;
	b->sealed = false;
	root = NULL;
	kr = NULL;
out:
	pthread_rwlock_unlock(&b->lock);
	keyring_free(kr);
	sodium_free(pt);
	sodium_free(root);
	free(ct);
	return r;
}

int
barrier_reload(struct barrier *b)
{
	struct keyring *kr = NULL;
	uint8_t *ct = NULL, *pt = NULL;
	size_t len;
	int r;

	pthread_rwlock_wrlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	r = storage_get(b->s, KEYRING_PATH, &ct, &len);
	if (r == CF_ENOTFOUND)
		r = CF_EINTERNAL;
	if (r < 0)
		goto out;
	if (len <= BARRIER_OVERHEAD) {
		r = CF_ECRYPTO;
		goto out;
	}
	pt = sodium_malloc(len - BARRIER_OVERHEAD);
	if (pt == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	(void)sodium_mprotect_readonly(b->root_key);
	r = value_open(b->root_key, KEYRING_PATH, ct, len, pt);
	(void)sodium_mprotect_noaccess(b->root_key);
	if (r < 0)
		goto out;
	r = keyring_decode(pt, len - BARRIER_OVERHEAD, &kr);
	if (r == CF_EINVAL)
		r = CF_EINTERNAL;
	if (r < 0)
		goto out;
	keyring_free(b->kr);
	b->kr = kr;
	kr = NULL;
out:
	pthread_rwlock_unlock(&b->lock);
	keyring_free(kr);
	sodium_free(pt);
	free(ct);
	return r;
}

int
barrier_check_unseal_key(struct barrier *b, const uint8_t key[BARRIER_KEY_BYTES])
{
	uint8_t *root = NULL;
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	r = root_key_open(b, key, &root);
	if (r == CF_ENOTFOUND)
		r = CF_EINTERNAL; /* unsealed without a root key: storage damaged */
	if (r < 0)
		goto out;
	/* The stored root key must be the one in use (it is, unless storage was
	 * replaced under a running server). */
	(void)sodium_mprotect_readonly(b->root_key);
	if (sodium_memcmp(root, b->root_key, BARRIER_KEY_BYTES) != 0)
		r = CF_EBADKEY;
	(void)sodium_mprotect_noaccess(b->root_key);
out:
	pthread_rwlock_unlock(&b->lock);
	sodium_free(root);
	return r;
}

int
barrier_rekey(struct barrier *b, const uint8_t new_key[BARRIER_KEY_BYTES],
              const struct storage_op *extra, size_t nextra)
{
	struct storage_op ops[1 + BARRIER_REKEY_EXTRA_MAX];
	uint8_t *ct = NULL;
	size_t len;
	int r;

	if (nextra > BARRIER_REKEY_EXTRA_MAX)
		return CF_EINVAL;
	for (size_t i = 0; i < nextra; i++)
		if (barrier_key_reserved(extra[i].key))
			return CF_EINVAL;
	/* The write lock: no unseal or seal reads the root key while it changes. */
	pthread_rwlock_wrlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	(void)sodium_mprotect_readonly(b->root_key);
	r = barrier_seal_value(new_key, ROOT_TERM, ROOT_KEY_PATH, b->root_key, BARRIER_KEY_BYTES,
	                       &ct, &len);
	(void)sodium_mprotect_noaccess(b->root_key);
	if (r < 0)
		goto out;
	ops[0] = (struct storage_op){STORAGE_PUT, ROOT_KEY_PATH, ct, len};
	for (size_t i = 0; i < nextra; i++)
		ops[1 + i] = extra[i];
	r = storage_txn(b->s, ops, 1 + nextra);
out:
	pthread_rwlock_unlock(&b->lock);
	free(ct);
	return r;
}

void
barrier_seal(struct barrier *b)
{
	pthread_rwlock_wrlock(&b->lock);
	barrier_drop_keys(b);
	/* No barrier op runs now, but the pure helpers and transit may: the
	 * cache's per-thread mutexes cover those. */
	cipher_cache_wipe();
	pthread_rwlock_unlock(&b->lock);
}

bool
barrier_sealed(struct barrier *b)
{
	bool sealed;

	pthread_rwlock_rdlock(&b->lock);
	sealed = b->sealed;
	pthread_rwlock_unlock(&b->lock);
	return sealed;
}

/* Seals kr with the root key, stores it and makes it the barrier's keyring
 * (write lock held, unsealed). On success kr belongs to the barrier. */
static int
keyring_install(struct barrier *b, struct keyring *kr)
{
	uint8_t *ct = NULL;
	size_t len;
	int r;

	(void)sodium_mprotect_readonly(b->root_key);
	r = keyring_seal(b->root_key, kr, &ct, &len);
	(void)sodium_mprotect_noaccess(b->root_key);
	if (r == 0)
		r = storage_put(b->s, KEYRING_PATH, ct, len);
	free(ct);
	if (r < 0)
		return r;
	keyring_free(b->kr);
	b->kr = kr;
	return 0;
}

int
barrier_rotate(struct barrier *b, uint32_t *ret_term)
{
	struct keyring *kr = NULL;
	int r;

	pthread_rwlock_wrlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	r = keyring_add_term(b->kr, util_now_ns(), &kr);
	if (r == 0)
		r = keyring_install(b, kr);
	if (r == 0) {
		kr = NULL;
		*ret_term = keyring_term_at(b->kr, keyring_count(b->kr) - 1);
	}
out:
	pthread_rwlock_unlock(&b->lock);
	keyring_free(kr);
	return r;
}

int
barrier_key_status(struct barrier *b, uint32_t *ret_term, int64_t *ret_install_ns,
                   uint64_t *ret_encryptions)
{
	size_t i;
	int r = 0;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	i = keyring_count(b->kr) - 1;
	*ret_term = keyring_term_at(b->kr, i);
	*ret_install_ns = keyring_install_ns_at(b->kr, i);
	*ret_encryptions = keyring_encryptions_at(b->kr, i);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

/* --- storage ops ---------------------------------------------------------- */

/* The root key and keyring are written only by the barrier itself. */
static bool
path_reserved(const char *path)
{
	return strcmp(path, ROOT_KEY_PATH) == 0 || strcmp(path, KEYRING_PATH) == 0;
}

/* Encrypts with the active term into a malloc'd value. Caller holds the read lock
 * on an unsealed barrier. */
static int
barrier_encrypt(struct barrier *b, const char *path, const uint8_t *val, size_t len,
                uint8_t **ret_ct, size_t *ret_len)
{
	size_t i = keyring_count(b->kr) - 1;
	int r;

	r = barrier_seal_value(keyring_key_at(b->kr, i), keyring_term_at(b->kr, i), path, val, len,
	                       ret_ct, ret_len);
	if (r < 0)
		return r;
	keyring_count_encryption(b->kr, i);
	return 0;
}

int
barrier_get(struct barrier *b, const char *path, uint8_t **ret_val, size_t *ret_len)
{
	uint8_t *ct = NULL;
	uint32_t term;
	size_t len, idx;
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	r = storage_get(b->s, path, &ct, &len);
	if (r < 0)
		goto out;
	r = barrier_value_term(ct, len, &term);
	if (r < 0) {
		r = CF_ECRYPTO;
		goto out;
	}
	if (keyring_find(b->kr, term, &idx) < 0) {
		r = CF_ECRYPTO; /* unknown term: damaged or not ours */
		goto out;
	}
	r = barrier_open_value(keyring_key_at(b->kr, idx), path, ct, len, ret_val, ret_len);
out:
	pthread_rwlock_unlock(&b->lock);
	free(ct);
	return r;
}

int
barrier_put(struct barrier *b, const char *path, const uint8_t *val, size_t len)
{
	uint8_t *ct = NULL;
	size_t ct_len;
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	if (path == NULL || path_reserved(path)) {
		r = CF_EINVAL;
		goto out;
	}
	r = barrier_encrypt(b, path, val, len, &ct, &ct_len);
	if (r < 0)
		goto out;
	r = storage_put(b->s, path, ct, ct_len);
out:
	pthread_rwlock_unlock(&b->lock);
	free(ct);
	return r;
}

int
barrier_delete(struct barrier *b, const char *path)
{
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	if (path == NULL || path_reserved(path)) {
		r = CF_EINVAL;
		goto out;
	}
	r = storage_delete(b->s, path);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int
barrier_list(struct barrier *b, const char *prefix, char ***ret_keys, size_t *ret_n)
{
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	/* Keys are not encrypted. */
	r = storage_list(b->s, prefix, ret_keys, ret_n);
out:
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int
barrier_txn(struct barrier *b, const struct storage_op *ops, size_t n)
{
	struct storage_op *eops = NULL;
	size_t i = 0;
	int r;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	if (n == 0) {
		r = storage_txn(b->s, ops, 0);
		goto out;
	}
	eops = calloc(n, sizeof(*eops));
	if (eops == NULL) {
		r = CF_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint8_t *ct;
		size_t ct_len;

		eops[i] = ops[i];
		eops[i].value = NULL;
		if (ops[i].key == NULL || path_reserved(ops[i].key)) {
			r = CF_EINVAL;
			goto out;
		}
		if (ops[i].kind != STORAGE_PUT)
			continue;
		r = barrier_encrypt(b, ops[i].key, ops[i].value, ops[i].len, &ct, &ct_len);
		if (r < 0)
			goto out;
		eops[i].value = ct;
		eops[i].len = ct_len;
	}
	r = storage_txn(b->s, eops, n);
out:
	pthread_rwlock_unlock(&b->lock);
	if (eops != NULL)
		for (size_t j = 0; j < n; j++)
			free((uint8_t *)eops[j].value);
	free(eops);
	return r;
}

/* --- re-encryption ---------------------------------------------------------- */

bool
barrier_key_reserved(const char *path)
{
	return path_reserved(path);
}

int
barrier_stored_term(struct barrier *b, const char *path, uint32_t *ret_term)
{
	uint8_t *ct = NULL;
	size_t len;
	int r;

	pthread_rwlock_rdlock(&b->lock);
	r = b->sealed ? CF_ESEALED : storage_get(b->s, path, &ct, &len);
	if (r == 0 && barrier_value_term(ct, len, ret_term) < 0)
		r = CF_ECRYPTO;
	pthread_rwlock_unlock(&b->lock);
	free(ct);
	return r;
}

int
barrier_terms(struct barrier *b, uint32_t *ret_oldest, uint32_t *ret_active)
{
	int r = 0;

	pthread_rwlock_rdlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
	} else {
		*ret_oldest = keyring_term_at(b->kr, 0);
		*ret_active = keyring_term_at(b->kr, keyring_count(b->kr) - 1);
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int
barrier_reencrypt(struct barrier *b, char *const *keys, size_t n, size_t *ret_rewrapped)
{
	struct storage_op *ops = calloc(n ? n : 1, sizeof(*ops));
	size_t nops = 0, active, idx;
	uint32_t active_term, term;
	int r = 0;

	*ret_rewrapped = 0;
	if (ops == NULL)
		return CF_ENOMEM;
	pthread_rwlock_wrlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	active = keyring_count(b->kr) - 1;
	active_term = keyring_term_at(b->kr, active);
	for (size_t i = 0; i < n && r == 0; i++) {
		uint8_t *ct = NULL, *pt = NULL, *nct = NULL;
		size_t len, pt_len, nct_len;

		if (path_reserved(keys[i]))
			continue;
		r = storage_get(b->s, keys[i], &ct, &len);
		if (r == CF_ENOTFOUND) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (barrier_value_term(ct, len, &term) < 0 || term >= active_term ||
		    keyring_find(b->kr, term, &idx) < 0) {
			free(ct); /* current, or not ours: left alone */
			continue;
		}
		r = barrier_open_value(keyring_key_at(b->kr, idx), keys[i], ct, len, &pt, &pt_len);
		free(ct);
		if (r < 0)
			break;
		r = barrier_seal_value(keyring_key_at(b->kr, active), active_term, keys[i], pt,
		                       pt_len, &nct, &nct_len);
		secmem_free(pt, pt_len);
		if (r < 0)
			break;
		keyring_count_encryption(b->kr, active);
		ops[nops].kind = STORAGE_PUT;
		ops[nops].key = keys[i];
		ops[nops].value = nct;
		ops[nops].len = nct_len;
		nops++;
	}
	if (r == 0 && nops > 0)
		r = storage_txn(b->s, ops, nops);
	if (r == 0)
		*ret_rewrapped = nops;
out:
	pthread_rwlock_unlock(&b->lock);
	for (size_t i = 0; i < nops; i++)
		free((uint8_t *)ops[i].value);
	free(ops);
	return r;
}

int
barrier_retire_terms(struct barrier *b, uint32_t below, size_t *ret_removed)
{
	struct keyring *kr = NULL;
	size_t before;
	int r;

	pthread_rwlock_wrlock(&b->lock);
	if (b->sealed) {
		r = CF_ESEALED;
		goto out;
	}
	before = keyring_count(b->kr);
	r = keyring_retire_below(b->kr, below, &kr);
	if (r == 0)
		r = keyring_install(b, kr);
	if (r == 0) {
		kr = NULL;
		*ret_removed = before - keyring_count(b->kr);
	}
out:
	pthread_rwlock_unlock(&b->lock);
	keyring_free(kr);
	return r;
}
