/* cipher_cache.c - per-thread AEAD cipher contexts; see cipher_cache.h. */
#include "crypto/cipher_cache.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* One thread's contexts, on the list of all of them. */
struct tctx {
	pthread_mutex_t mu;
	EVP_CIPHER_CTX *ctx[CIPHER_CACHE_N]; /* NULL until the first use of that alg */
	bool ready[CIPHER_CACHE_N];          /* cipher set on ctx[i] */
	struct tctx *prev, *next;
};

static const char *const cipher_names[CIPHER_CACHE_N] = {
        [CIPHER_AES128_GCM] = "AES-128-GCM",
        [CIPHER_AES256_GCM] = "AES-256-GCM",
        [CIPHER_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
};

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *ciphers[CIPHER_CACHE_N]; /* fetched once, live for the process */
static pthread_key_t tctx_key;
static bool key_ok;
static pthread_mutex_t tctx_list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tctx *tctx_list;
static __thread struct tctx *tctx_self;

/* pthread_key destructor: runs when a thread that used the cache exits. */
static void
tctx_destroy(void *p)
{
	struct tctx *t = p;

	pthread_mutex_lock(&tctx_list_mu);
	if (t->prev)
		t->prev->next = t->next;
	else
		tctx_list = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&tctx_list_mu);
	for (int i = 0; i < CIPHER_CACHE_N; i++)
		EVP_CIPHER_CTX_free(t->ctx[i]); /* clears the key schedule */
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* A cipher OpenSSL lacks stays NULL and only its own operations fail. */
static void
cache_init(void)
{
	for (int i = 0; i < CIPHER_CACHE_N; i++)
		ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
	key_ok = pthread_key_create(&tctx_key, tctx_destroy) == 0;
}

/* This thread's entry, created on first use. Returns 0, CF_ENOMEM, or
 * CF_EINTERNAL. */
static int
tctx_get(struct tctx **ret)
{
	struct tctx *t;

	if (tctx_self) {
		*ret = tctx_self;
		return 0;
	}
	pthread_once(&cache_once, cache_init);
	if (!key_ok)
		return CF_EINTERNAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return CF_ENOMEM;
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return CF_ENOMEM;
	}
	if (pthread_setspecific(tctx_key, t) != 0) {
		pthread_mutex_destroy(&t->mu);
		free(t);
		return CF_ENOMEM;
	}
	pthread_mutex_lock(&tctx_list_mu);
	t->next = tctx_list;
	if (tctx_list)
		tctx_list->prev = t;
	tctx_list = t;
	pthread_mutex_unlock(&tctx_list_mu);
	tctx_self = t;
	*ret = t;
	return 0;
}

/* Runs one operation on t->ctx[alg], which the caller holds locked. */
static int
aead_locked(struct tctx *t, enum cipher_cache_alg alg, int enc, const uint8_t *key,
            const uint8_t *nonce, const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
            uint8_t *out, uint8_t *tag, size_t taglen)
{
	EVP_CIPHER_CTX *c = t->ctx[alg];
	int outl;

	if (!c) {
		c = EVP_CIPHER_CTX_new();
		if (!c)
			return CF_ENOMEM;
		t->ctx[alg] = c;
		t->ready[alg] = false;
	}
	/* Passing the cipher only the first time keeps the provider context (and
	 * skips the fetch) on later calls. */
	if (EVP_CipherInit_ex2(c, t->ready[alg] ? NULL : ciphers[alg], key, nonce, enc, NULL) !=
	    1) {
		t->ready[alg] = false;
		return CF_EINTERNAL;
	}
	t->ready[alg] = true;
	if (aadlen > 0 && EVP_CipherUpdate(c, NULL, &outl, aad, (int)aadlen) != 1)
		return CF_ECRYPTO;
	if (len > 0 && EVP_CipherUpdate(c, out, &outl, in, (int)len) != 1)
		return CF_ECRYPTO;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)taglen, tag) != 1)
		return CF_ECRYPTO;
	/* AEAD modes are stream modes: Final writes nothing, it computes or checks
	 * the tag. */
	if (EVP_CipherFinal_ex(c, out + len, &outl) != 1)
		return CF_ECRYPTO;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)taglen, tag) != 1)
		return CF_ECRYPTO;
	return 0;
}

int
cipher_cache_aead(enum cipher_cache_alg alg, int enc, const uint8_t *key, const uint8_t *nonce,
                  const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len, uint8_t *out,
                  uint8_t *tag, size_t taglen)
{
	struct tctx *t;
	int r;

	if ((unsigned)alg >= CIPHER_CACHE_N || taglen == 0 || taglen > 16)
		return CF_EINVAL;
	if (aadlen > INT_MAX || len > INT_MAX)
		return CF_ETOOBIG;
	r = tctx_get(&t);
	if (r < 0)
		return r;
	if (!ciphers[alg])
		return CF_EINTERNAL;
	pthread_mutex_lock(&t->mu);
	r = aead_locked(t, alg, enc, key, nonce, aad, aadlen, in, len, out, tag, taglen);
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
cipher_cache_wipe(void)
{
	pthread_mutex_lock(&tctx_list_mu);
	for (struct tctx *t = tctx_list; t; t = t->next) {
		pthread_mutex_lock(&t->mu);
		for (int i = 0; i < CIPHER_CACHE_N; i++) {
			if (t->ctx[i])
				(void)EVP_CIPHER_CTX_reset(t->ctx[i]);
			t->ready[i] = false;
		}
		pthread_mutex_unlock(&t->mu);
	}
	pthread_mutex_unlock(&tctx_list_mu);
}
