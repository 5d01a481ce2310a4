/* test_barrier.c - the encryption barrier over the memory storage backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/barrier.h"
#include "lib/err.h"
#include "storage/storage.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OVERHEAD (4 + 1 + 12 + 16)

struct fixture {
	struct storage *s;
	struct barrier *b;
	uint8_t key[BARRIER_KEY_BYTES];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	if (storage_open("memory:", &f->s) != 0)
		return -1;
	if (barrier_new(f->s, &f->b) != 0)
		return -1;
	randombytes_buf(f->key, sizeof(f->key));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	barrier_free(f->b);
	storage_close(f->s);
	free(f);
	return 0;
}

/* Initializes f->b and leaves it unsealed. */
static void
init_unsealed(struct fixture *f)
{
	assert_int_equal(barrier_initialize(f->b, f->key), 0);
	assert_false(barrier_sealed(f->b));
}

static void
put_str(struct barrier *b, const char *path, const char *val)
{
	assert_int_equal(barrier_put(b, path, (const uint8_t *)val, strlen(val)), 0);
}

static void
assert_get_str(struct barrier *b, const char *path, const char *want)
{
	uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(barrier_get(b, path, &val, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(val, want, len);
	assert_int_equal(val[len], '\0');
	free(val);
}

/* The term prefix of what storage holds at path. */
static uint32_t
raw_term(struct storage *s, const char *path)
{
	uint8_t *raw = NULL;
	size_t len;
	uint32_t term = 0;

	assert_int_equal(storage_get(s, path, &raw, &len), 0);
	assert_int_equal(barrier_value_term(raw, len, &term), 0);
	free(raw);
	return term;
}

/* --- lifecycle ---------------------------------------------------------------- */

static void
test_barrier_initialize_seal_unseal(void **state)
{
	struct fixture *f = *state;
	bool init = true;

	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_initialized(f->b, &init), 0);
	assert_false(init);

	init_unsealed(f);
	assert_int_equal(barrier_initialized(f->b, &init), 0);
	assert_true(init);
	put_str(f->b, "logical/abc/foo", "bar");
	assert_get_str(f->b, "logical/abc/foo", "bar");

	barrier_seal(f->b);
	assert_true(barrier_sealed(f->b));
	/* initialized works while sealed */
	init = false;
	assert_int_equal(barrier_initialized(f->b, &init), 0);
	assert_true(init);

	assert_int_equal(barrier_unseal(f->b, f->key), 0);
	assert_false(barrier_sealed(f->b));
	assert_get_str(f->b, "logical/abc/foo", "bar");
	/* Unsealing an unsealed barrier is a no-op, whatever the key. */
	uint8_t other[BARRIER_KEY_BYTES] = {0};
	assert_int_equal(barrier_unseal(f->b, other), 0);
	assert_int_equal(barrier_unseal(f->b, f->key), 0);

	/* Sealing twice is fine. */
	barrier_seal(f->b);
	barrier_seal(f->b);
	assert_true(barrier_sealed(f->b));
}

static void
test_barrier_initialize_twice(void **state)
{
	struct fixture *f = *state;

	init_unsealed(f);
	assert_int_equal(barrier_initialize(f->b, f->key), CF_EEXIST);
	barrier_seal(f->b);
	assert_int_equal(barrier_initialize(f->b, f->key), CF_EEXIST);
	assert_true(barrier_sealed(f->b));
}

static void
test_barrier_unseal_uninitialized(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(barrier_unseal(f->b, f->key), CF_EUNINIT);
	assert_true(barrier_sealed(f->b));
}

static void
test_barrier_wrong_key(void **state)
{
	struct fixture *f = *state;
	uint8_t bad[BARRIER_KEY_BYTES];

	init_unsealed(f);
	put_str(f->b, "k", "v");
	barrier_seal(f->b);

	memcpy(bad, f->key, sizeof(bad));
	bad[BARRIER_KEY_BYTES - 1] ^= 1;
	assert_int_equal(barrier_unseal(f->b, bad), CF_EBADKEY);
	assert_true(barrier_sealed(f->b));
	memset(bad, 0, sizeof(bad));
	assert_int_equal(barrier_unseal(f->b, bad), CF_EBADKEY);
	assert_true(barrier_sealed(f->b));

	assert_int_equal(barrier_unseal(f->b, f->key), 0);
	assert_get_str(f->b, "k", "v");
}

/* A second barrier over the same storage (a restart) unseals with the same key. */
static void
test_barrier_restart(void **state)
{
	struct fixture *f = *state;
	struct barrier *b2;
	uint32_t term;

	init_unsealed(f);
	put_str(f->b, "a", "1");
	assert_int_equal(barrier_rotate(f->b, &term), 0);
	put_str(f->b, "b", "2");

	assert_int_equal(barrier_new(f->s, &b2), 0);
	assert_true(barrier_sealed(b2));
	assert_int_equal(barrier_unseal(b2, f->key), 0);
	assert_get_str(b2, "a", "1");
	assert_get_str(b2, "b", "2");
	put_str(b2, "c", "3");
	assert_int_equal(raw_term(f->s, "c"), 2);
	assert_get_str(f->b, "c", "3");
	barrier_free(b2);
}

/* Re-encryption moves old-term values to the active term (from the plaintext,
 * never wrapping twice), skips current and missing keys, and retiring the old
 * terms keeps everything readable, also after a fresh unseal. */
static void
test_barrier_reencrypt_and_retire(void **state)
{
	struct fixture *f = *state;
	char *keys[] = {"a", "b", "missing", "core/keyring", "c"};
	struct barrier *b2;
	uint32_t term = 0, oldest = 0, active = 0, t = 0;
	size_t n = 0, removed = 0;

	init_unsealed(f);
	put_str(f->b, "a", "1");
	put_str(f->b, "b", "2");
	assert_int_equal(barrier_rotate(f->b, &term), 0);
	assert_int_equal(barrier_rotate(f->b, &term), 0);
	assert_int_equal(term, 3);
	put_str(f->b, "c", "3");
	assert_int_equal(barrier_terms(f->b, &oldest, &active), 0);
	assert_int_equal(oldest, 1);
	assert_int_equal(active, 3);

	assert_int_equal(barrier_reencrypt(f->b, keys, 5, &n), 0);
	assert_int_equal(n, 2); /* a and b; c is current, the rest skipped */
	assert_int_equal(raw_term(f->s, "a"), 3);
	assert_int_equal(raw_term(f->s, "b"), 3);
	assert_int_equal(barrier_stored_term(f->b, "c", &t), 0);
	assert_int_equal(t, 3);
	assert_get_str(f->b, "a", "1");
	assert_int_equal(barrier_reencrypt(f->b, keys, 5, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(barrier_retire_terms(f->b, 3, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(barrier_terms(f->b, &oldest, &active), 0);
	assert_int_equal(oldest, 3);
	assert_get_str(f->b, "b", "2");

	assert_int_equal(barrier_new(f->s, &b2), 0);
	assert_int_equal(barrier_unseal(b2, f->key), 0);
	assert_get_str(b2, "a", "1");
	assert_get_str(b2, "c", "3");
	barrier_free(b2);
}

/* --- authentication ------------------------------------------------------------- */

/* A ciphertext copied to another path fails: the path is the AAD. */
static void
test_barrier_moved_value_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t *raw = NULL, *val = NULL;
	size_t len, vlen;

	init_unsealed(f);
	put_str(f->b, "sys/token/id/aaa", "secret");
	assert_int_equal(storage_get(f->s, "sys/token/id/aaa", &raw, &len), 0);
	assert_int_equal(storage_put(f->s, "sys/token/id/bbb", raw, len), 0);
	free(raw);
	assert_int_equal(barrier_get(f->b, "sys/token/id/bbb", &val, &vlen), CF_ECRYPTO);
	assert_null(val);
	assert_get_str(f->b, "sys/token/id/aaa", "secret");
}

/* Flipping any byte of a stored value (term, version, nonce, ciphertext, tag)
 * fails, as do truncation and extension. */
static void
test_barrier_tampered_value_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t *raw = NULL, *val;
	size_t len, vlen;

	init_unsealed(f);
	put_str(f->b, "p", "some secret value");
	assert_int_equal(storage_get(f->s, "p", &raw, &len), 0);
	assert_int_equal(len, strlen("some secret value") + OVERHEAD);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			raw[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(storage_put(f->s, "p", raw, len), 0);
			val = NULL;
			assert_int_equal(barrier_get(f->b, "p", &val, &vlen), CF_ECRYPTO);
			assert_null(val);
			raw[i] ^= (uint8_t)(1u << bit);
		}
	}
	static const size_t cuts[] = {0, 3, 4, 17, OVERHEAD - 1, OVERHEAD};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_int_equal(storage_put(f->s, "p", raw, cuts[i]), 0);
		assert_int_equal(barrier_get(f->b, "p", &val, &vlen), CF_ECRYPTO);
	}
	assert_int_equal(storage_put(f->s, "p", raw, len - 1), 0);
	assert_int_equal(barrier_get(f->b, "p", &val, &vlen), CF_ECRYPTO);
	assert_int_equal(storage_put(f->s, "p", raw, len), 0);
	assert_get_str(f->b, "p", "some secret value");
	free(raw);
}

/* A damaged root key reads as a wrong key; a damaged keyring as CF_ECRYPTO. */
static void
test_barrier_tampered_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t *raw = NULL;
	size_t len;

	init_unsealed(f);
	barrier_seal(f->b);

	assert_int_equal(storage_get(f->s, "core/keyring", &raw, &len), 0);
	raw[len - 1] ^= 0x80;
	assert_int_equal(storage_put(f->s, "core/keyring", raw, len), 0);
	assert_int_equal(barrier_unseal(f->b, f->key), CF_ECRYPTO);
	assert_true(barrier_sealed(f->b));
	raw[len - 1] ^= 0x80;
	assert_int_equal(storage_put(f->s, "core/keyring", raw, len), 0);
	free(raw);

	assert_int_equal(storage_get(f->s, "core/root-key", &raw, &len), 0);
	raw[20] ^= 1;
	assert_int_equal(storage_put(f->s, "core/root-key", raw, len), 0);
	assert_int_equal(barrier_unseal(f->b, f->key), CF_EBADKEY);
	raw[20] ^= 1;
	assert_int_equal(storage_put(f->s, "core/root-key", raw, len), 0);
	free(raw);

	assert_int_equal(barrier_unseal(f->b, f->key), 0);
}

/* Stored values are ciphertext: the plaintext does not appear in storage. */
static void
test_barrier_stores_ciphertext(void **state)
{
	struct fixture *f = *state;
	const char *pt = "hunter2-hunter2-hunter2";
	uint8_t *raw = NULL, *raw2 = NULL;
	size_t len, len2;

	init_unsealed(f);
	put_str(f->b, "x", pt);
	assert_int_equal(storage_get(f->s, "x", &raw, &len), 0);
	assert_null(memmem(raw, len, pt, 8));
	assert_int_equal(raw[4], 1); /* version */
	/* The same value again gets a fresh nonce. */
	put_str(f->b, "x", pt);
	assert_int_equal(storage_get(f->s, "x", &raw2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_not_equal(raw + 5, raw2 + 5, 12);
	free(raw);
	free(raw2);

	/* Neither the root key nor the keyring is stored in the clear. */
	assert_int_equal(storage_get(f->s, "core/keyring", &raw, &len), 0);
	assert_null(memmem(raw, len, "CFKR", 4));
	free(raw);
}

/* --- rotation ------------------------------------------------------------------ */

static void
test_barrier_rotate_keeps_old_terms(void **state)
{
	struct fixture *f = *state;
	uint32_t term = 0;
	int64_t installed = 0;
	uint64_t enc = 99;

	init_unsealed(f);
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), 0);
	assert_int_equal(term, 1);
	assert_true(installed > 0);
	assert_int_equal(enc, 0);

	put_str(f->b, "old", "v1");
	assert_int_equal(raw_term(f->s, "old"), 1);

	assert_int_equal(barrier_rotate(f->b, &term), 0);
	assert_int_equal(term, 2);
	put_str(f->b, "new", "v2");
	assert_int_equal(raw_term(f->s, "new"), 2);
	assert_get_str(f->b, "old", "v1");
	assert_get_str(f->b, "new", "v2");

	/* Rewriting an old entry moves it to the new term. */
	put_str(f->b, "old", "v1b");
	assert_int_equal(raw_term(f->s, "old"), 2);

	assert_int_equal(barrier_rotate(f->b, &term), 0);
	assert_int_equal(term, 3);
	put_str(f->b, "newer", "v3");
	assert_int_equal(raw_term(f->s, "newer"), 3);
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), 0);
	assert_int_equal(term, 3);
	assert_int_equal(enc, 1);

	/* The keyring was persisted: everything survives seal/unseal. */
	barrier_seal(f->b);
	assert_int_equal(barrier_unseal(f->b, f->key), 0);
	assert_get_str(f->b, "old", "v1b");
	assert_get_str(f->b, "new", "v2");
	assert_get_str(f->b, "newer", "v3");
	put_str(f->b, "after", "v4");
	assert_int_equal(raw_term(f->s, "after"), 3);
}

/* A value under a term the keyring does not hold fails authentication. */
static void
test_barrier_unknown_term_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t *raw = NULL, *val = NULL;
	size_t len, vlen;

	init_unsealed(f);
	put_str(f->b, "p", "v");
	assert_int_equal(storage_get(f->s, "p", &raw, &len), 0);
	raw[3] = 9;
	assert_int_equal(storage_put(f->s, "p", raw, len), 0);
	assert_int_equal(barrier_get(f->b, "p", &val, &vlen), CF_ECRYPTO);
	free(raw);
}

static void
test_barrier_encryption_count(void **state)
{
	struct fixture *f = *state;
	uint32_t term;
	int64_t installed;
	uint64_t enc;

	init_unsealed(f);
	for (int i = 0; i < 5; i++)
		put_str(f->b, "c", "x");
	struct storage_op ops[] = {
	        {STORAGE_PUT, "t1", (const uint8_t *)"a", 1},
	        {STORAGE_PUT, "t2", (const uint8_t *)"b", 1},
	        {STORAGE_DELETE, "c", NULL, 0},
	};
	assert_int_equal(barrier_txn(f->b, ops, 3), 0);
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), 0);
	assert_int_equal(enc, 7);
	/* Reads do not count. */
	assert_get_str(f->b, "t1", "a");
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), 0);
	assert_int_equal(enc, 7);
	/* A new term starts at zero. */
	assert_int_equal(barrier_rotate(f->b, &term), 0);
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), 0);
	assert_int_equal(enc, 0);
}

/* --- sealed state ---------------------------------------------------------------- */

static void
test_barrier_sealed_ops_fail(void **state)
{
	struct fixture *f = *state;
	uint8_t *val = NULL;
	size_t len, n;
	char **keys = NULL;
	uint32_t term;
	int64_t installed;
	uint64_t enc;
	struct storage_op op = {STORAGE_PUT, "a", (const uint8_t *)"b", 1};

	/* Before initialization ... */
	assert_int_equal(barrier_get(f->b, "a", &val, &len), CF_ESEALED);
	assert_int_equal(barrier_put(f->b, "a", (const uint8_t *)"b", 1), CF_ESEALED);

	/* ... and after. */
	init_unsealed(f);
	put_str(f->b, "a", "b");
	barrier_seal(f->b);
	assert_int_equal(barrier_get(f->b, "a", &val, &len), CF_ESEALED);
	assert_null(val);
	assert_int_equal(barrier_put(f->b, "a", (const uint8_t *)"b", 1), CF_ESEALED);
	assert_int_equal(barrier_delete(f->b, "a"), CF_ESEALED);
	assert_int_equal(barrier_list(f->b, "", &keys, &n), CF_ESEALED);
	assert_int_equal(barrier_txn(f->b, &op, 1), CF_ESEALED);
	assert_int_equal(barrier_rotate(f->b, &term), CF_ESEALED);
	assert_int_equal(barrier_key_status(f->b, &term, &installed, &enc), CF_ESEALED);

	assert_int_equal(barrier_unseal(f->b, f->key), 0);
	assert_get_str(f->b, "a", "b");
}

/* --- storage ops ------------------------------------------------------------------ */

static void
test_barrier_get_missing(void **state)
{
	struct fixture *f = *state;
	uint8_t *val = NULL;
	size_t len;

	init_unsealed(f);
	assert_int_equal(barrier_get(f->b, "nope", &val, &len), CF_ENOTFOUND);
	assert_null(val);
}

static void
test_barrier_delete_and_list(void **state)
{
	struct fixture *f = *state;
	uint8_t *val = NULL;
	char **keys = NULL;
	size_t n = 0, len;

	init_unsealed(f);
	put_str(f->b, "logical/u/a", "1");
	put_str(f->b, "logical/u/b", "2");
	put_str(f->b, "logical/u/dir/c", "3");
	assert_int_equal(barrier_list(f->b, "logical/u/", &keys, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(keys[0], "a");
	assert_string_equal(keys[1], "b");
	assert_string_equal(keys[2], "dir/");
	storage_keys_free(keys, n);

	assert_int_equal(barrier_delete(f->b, "logical/u/a"), 0);
	assert_int_equal(barrier_get(f->b, "logical/u/a", &val, &len), CF_ENOTFOUND);
	assert_int_equal(barrier_delete(f->b, "logical/u/a"), 0);
	assert_int_equal(barrier_list(f->b, "logical/u/", &keys, &n), 0);
	assert_int_equal(n, 2);
	storage_keys_free(keys, n);
}

static void
test_barrier_empty_and_binary_values(void **state)
{
	struct fixture *f = *state;
	uint8_t bin[300], *val = NULL;
	size_t len = 99;

	init_unsealed(f);
	assert_int_equal(barrier_put(f->b, "empty", NULL, 0), 0);
	assert_int_equal(barrier_get(f->b, "empty", &val, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(val[0], '\0');
	free(val);

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	assert_int_equal(barrier_put(f->b, "bin", bin, sizeof(bin)), 0);
	assert_int_equal(barrier_get(f->b, "bin", &val, &len), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(val, bin, sizeof(bin));
	free(val);
}

/* The barrier's own keys cannot be overwritten or deleted through it. */
static void
test_barrier_reserved_paths(void **state)
{
	struct fixture *f = *state;
	struct storage_op op = {STORAGE_DELETE, "core/keyring", NULL, 0};

	init_unsealed(f);
	assert_int_equal(barrier_put(f->b, "core/keyring", (const uint8_t *)"x", 1), CF_EINVAL);
	assert_int_equal(barrier_put(f->b, "core/root-key", (const uint8_t *)"x", 1), CF_EINVAL);
	assert_int_equal(barrier_delete(f->b, "core/root-key"), CF_EINVAL);
	assert_int_equal(barrier_txn(f->b, &op, 1), CF_EINVAL);
	barrier_seal(f->b);
	assert_int_equal(barrier_unseal(f->b, f->key), 0);
}

static void
test_barrier_txn(void **state)
{
	struct fixture *f = *state;
	uint8_t *val = NULL;
	size_t len;

	init_unsealed(f);
	put_str(f->b, "gone", "x");
	struct storage_op ops[] = {
	        {STORAGE_PUT, "sys/token/id/h1", (const uint8_t *)"tok1", 4},
	        {STORAGE_PUT, "sys/token/accessor/a1", (const uint8_t *)"acc1", 4},
	        {STORAGE_DELETE, "gone", NULL, 0},
	};
	assert_int_equal(barrier_txn(f->b, ops, 3), 0);
	assert_get_str(f->b, "sys/token/id/h1", "tok1");
	assert_get_str(f->b, "sys/token/accessor/a1", "acc1");
	assert_int_equal(barrier_get(f->b, "gone", &val, &len), CF_ENOTFOUND);
	/* Each value is encrypted under its own path. */
	assert_int_equal(raw_term(f->s, "sys/token/id/h1"), 1);
	assert_int_equal(storage_get(f->s, "sys/token/id/h1", &val, &len), 0);
	assert_int_equal(len, 4 + OVERHEAD);
	assert_null(memmem(val, len, "tok1", 4));
	free(val);

	/* A txn with a bad op applies nothing. */
	struct storage_op bad[] = {
	        {STORAGE_PUT, "ok", (const uint8_t *)"v", 1},
	        {STORAGE_PUT, "", (const uint8_t *)"v", 1},
	};
	assert_int_not_equal(barrier_txn(f->b, bad, 2), 0);
	val = NULL;
	assert_int_equal(barrier_get(f->b, "ok", &val, &len), CF_ENOTFOUND);
	assert_int_equal(barrier_txn(f->b, ops, 0), 0);
}

/* --- pure helpers ----------------------------------------------------------------- */

static void
test_barrier_value_helpers(void **state)
{
	uint8_t key[BARRIER_KEY_BYTES], key2[BARRIER_KEY_BYTES];
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len, pt_len;
	uint32_t term = 0;

	randombytes_buf(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[0] ^= 1;
	assert_int_equal(barrier_seal_value(key, 0x01020304, "a/b", (const uint8_t *)"hello", 5,
	                                    &ct, &ct_len),
	                 0);
	assert_int_equal(ct_len, 5 + OVERHEAD);
	assert_int_equal(ct[0], 1);
	assert_int_equal(ct[1], 2);
	assert_int_equal(ct[2], 3);
	assert_int_equal(ct[3], 4);
	assert_int_equal(ct[4], 1);
	assert_int_equal(barrier_value_term(ct, ct_len, &term), 0);
	assert_int_equal(term, 0x01020304);

	assert_int_equal(barrier_open_value(key, "a/b", ct, ct_len, &pt, &pt_len), 0);
	assert_int_equal(pt_len, 5);
	assert_string_equal((char *)pt, "hello");
	free(pt);
	pt = NULL;
	assert_int_equal(barrier_open_value(key2, "a/b", ct, ct_len, &pt, &pt_len), CF_ECRYPTO);
	assert_int_equal(barrier_open_value(key, "a/c", ct, ct_len, &pt, &pt_len), CF_ECRYPTO);
	assert_int_equal(barrier_open_value(key, "a/b", ct, OVERHEAD - 1, &pt, &pt_len),
	                 CF_ECRYPTO);
	ct[4] = 2; /* unknown version */
	assert_int_equal(barrier_open_value(key, "a/b", ct, ct_len, &pt, &pt_len), CF_ECRYPTO);
	assert_null(pt);
	free(ct);

	assert_int_equal(barrier_value_term((const uint8_t *)"abc", 3, &term), CF_EINVAL);
	assert_int_equal(barrier_value_term(NULL, 0, &term), CF_EINVAL);
}

/* --- concurrency ------------------------------------------------------------------ */

struct worker {
	struct barrier *b;
	int id;
	atomic_bool *stop;
	int ok, sealed;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char path[64], want[64];
	int i = 0;

	snprintf(path, sizeof(path), "w/%d", w->id);
	while (!atomic_load(w->stop)) {
		uint8_t *val = NULL;
		size_t len;
		int r;

		snprintf(want, sizeof(want), "value-%d-%d", w->id, i++);
		r = barrier_put(w->b, path, (const uint8_t *)want, strlen(want));
		if (r == CF_ESEALED) {
			w->sealed++;
			continue;
		}
		if (r != 0)
			return (void *)1;
		r = barrier_get(w->b, path, &val, &len);
		if (r == CF_ESEALED) {
			w->sealed++;
			continue;
		}
		if (r != 0 || len != strlen(want) || memcmp(val, want, len) != 0) {
			free(val);
			return (void *)1;
		}
		free(val);
		__atomic_fetch_add(&w->ok, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Readers and writers on several threads while the main thread seals, unseals
 * and rotates: every operation either works or reports CF_ESEALED. */
static void
test_barrier_threads_seal_unseal(void **state)
{
	enum { NT = 4 };
	struct fixture *f = *state;
	struct worker w[NT];
	pthread_t th[NT];
	atomic_bool stop = false;
	uint32_t term;
	int ok = 0;

	init_unsealed(f);
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){.b = f->b, .id = i, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int round = 0; round < 50; round++) {
		barrier_seal(f->b);
		assert_int_equal(barrier_unseal(f->b, f->key), 0);
		if (round % 10 == 0)
			assert_int_equal(barrier_rotate(f->b, &term), 0);
	}
	/* The barrier is unsealed now: wait (bounded) until the workers got through. */
	for (int spins = 0; spins < 5000; spins++) {
		int sum = 0;
		for (int i = 0; i < NT; i++)
			sum += __atomic_load_n(&w[i].ok, __ATOMIC_RELAXED);
		if (sum > 0)
			break;
		usleep(1000);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NT; i++) {
		void *rv;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
		ok += w[i].ok;
	}
	assert_true(ok > 0);
	/* Threads have exited: their contexts were released; the barrier still works. */
	put_str(f->b, "end", "ok");
	assert_get_str(f->b, "end", "ok");
}

/* Rekey: the root key is re-wrapped under a new unseal key together with the
 * caller's extra writes; old key refused afterwards, data untouched; a refused
 * transaction changes nothing. */
static void
test_barrier_rekey(void **state)
{
	struct fixture *f = *state;
	uint8_t fresh[BARRIER_KEY_BYTES], other[BARRIER_KEY_BYTES], *val = NULL;
	struct storage_op cfg = {STORAGE_PUT, "core/seal-config", (const uint8_t *)"new", 3};
	struct storage_op bad = {STORAGE_PUT, "", (const uint8_t *)"x", 1};
	struct storage_op reserved = {STORAGE_PUT, "core/keyring", (const uint8_t *)"x", 1};
	size_t len = 0;

	randombytes_buf(fresh, sizeof(fresh));
	randombytes_buf(other, sizeof(other));
	assert_int_equal(barrier_rekey(f->b, fresh, &cfg, 1), CF_ESEALED);
	init_unsealed(f);
	put_str(f->b, "logical/a", "kept");
	assert_int_equal(barrier_check_unseal_key(f->b, f->key), 0);
	assert_int_equal(barrier_check_unseal_key(f->b, other), CF_EBADKEY);

	/* refused: nothing written, the old key still opens */
	assert_int_equal(barrier_rekey(f->b, fresh, &bad, 1), CF_EINVAL);
	assert_int_equal(barrier_rekey(f->b, fresh, &reserved, 1), CF_EINVAL);
	assert_int_equal(storage_get(f->s, "core/seal-config", &val, &len), CF_ENOTFOUND);
	assert_int_equal(barrier_check_unseal_key(f->b, f->key), 0);

	assert_int_equal(barrier_rekey(f->b, fresh, &cfg, 1), 0);
	assert_int_equal(storage_get(f->s, "core/seal-config", &val, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "new", 3);
	free(val);
	assert_int_equal(barrier_check_unseal_key(f->b, fresh), 0);
	assert_int_equal(barrier_check_unseal_key(f->b, f->key), CF_EBADKEY);

	barrier_seal(f->b);
	assert_int_equal(barrier_check_unseal_key(f->b, fresh), CF_ESEALED);
	assert_int_equal(barrier_unseal(f->b, f->key), CF_EBADKEY);
	assert_true(barrier_sealed(f->b));
	assert_int_equal(barrier_unseal(f->b, fresh), 0);
	assert_get_str(f->b, "logical/a", "kept");
	put_str(f->b, "logical/b", "after");
	assert_get_str(f->b, "logical/b", "after");
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_barrier_initialize_seal_unseal),
	        T(test_barrier_initialize_twice),
	        T(test_barrier_unseal_uninitialized),
	        T(test_barrier_wrong_key),
	        T(test_barrier_restart),
	        T(test_barrier_moved_value_fails),
	        T(test_barrier_tampered_value_fails),
	        T(test_barrier_tampered_keys),
	        T(test_barrier_stores_ciphertext),
	        T(test_barrier_rotate_keeps_old_terms),
	        T(test_barrier_reencrypt_and_retire),
	        T(test_barrier_unknown_term_fails),
	        T(test_barrier_encryption_count),
	        T(test_barrier_sealed_ops_fail),
	        T(test_barrier_get_missing),
	        T(test_barrier_delete_and_list),
	        T(test_barrier_empty_and_binary_values),
	        T(test_barrier_reserved_paths),
	        T(test_barrier_txn),
	        T(test_barrier_value_helpers),
	        T(test_barrier_threads_seal_unseal),
	        T(test_barrier_rekey),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
