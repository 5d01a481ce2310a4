/* keyring.c - key terms of the barrier; see keyring.h for the format. */
#include "crypto/keyring.h"
#include "lib/err.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define KEYRING_MAGIC       "CFKR"
#define KEYRING_VERSION     1
#define KEYRING_HDR_BYTES   (4 + 1 + 4)
#define KEYRING_ENTRY_BYTES (4 + 8 + KEYRING_KEY_BYTES)

struct keyring_entry {
	uint32_t term;
	int64_t install_ns;
	_Atomic uint64_t encryptions;
};

struct keyring {
	size_t n;
	struct keyring_entry *e; /* n entries, not secret */
	uint8_t *keys;           /* n * KEYRING_KEY_BYTES, sodium_malloc'd, read-only */
};

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

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* An empty keyring of n entries; the key region is left writable for the caller
 * to fill, then sealed with keyring_lock(). */
static int
keyring_alloc(size_t n, struct keyring **ret)
{
	struct keyring *kr;

	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return CF_ENOMEM;
	kr->e = calloc(n, sizeof(*kr->e));
	kr->keys = sodium_malloc(n * KEYRING_KEY_BYTES);
	if (kr->e == NULL || kr->keys == NULL) {
		keyring_free(kr);
		return CF_ENOMEM;
	}
	kr->n = n;
	*ret = kr;
	return 0;
}

static void
keyring_lock(struct keyring *kr)
{
	/* Best effort: failing to drop write access leaves the keys as safe as
	 * ordinary locked memory. */
	(void)sodium_mprotect_readonly(kr->keys);
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	sodium_free(kr->keys); /* wipes; handles read-only regions */
	free(kr->e);
	free(kr);
}

int
keyring_generate(int64_t install_ns, struct keyring **ret)
{
	struct keyring *kr;
	int r;

	if (sodium_init() < 0)
		return CF_EINTERNAL;
	r = keyring_alloc(1, &kr);
	if (r < 0)
		return r;
	kr->e[0].term = 1;
	kr->e[0].install_ns = install_ns;
	randombytes_buf(kr->keys, KEYRING_KEY_BYTES);
	keyring_lock(kr);
	*ret = kr;
	return 0;
}

int
keyring_add_term(const struct keyring *kr, int64_t install_ns, struct keyring **ret)
{
	struct keyring *nk;
	uint32_t last = kr->e[kr->n - 1].term;
	int r;

	if (kr->n >= KEYRING_MAX_TERMS || last == UINT32_MAX)
		return CF_ERANGE;
	r = keyring_alloc(kr->n + 1, &nk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < kr->n; i++) {
		nk->e[i].term = kr->e[i].term;
		nk->e[i].install_ns = kr->e[i].install_ns;
		atomic_store_explicit(&nk->e[i].encryptions, keyring_encryptions_at(kr, i),
		                      memory_order_relaxed);
	}
	memcpy(nk->keys, kr->keys, kr->n * KEYRING_KEY_BYTES);
	nk->e[kr->n].term = last + 1;
	nk->e[kr->n].install_ns = install_ns;
	randombytes_buf(nk->keys + kr->n * KEYRING_KEY_BYTES, KEYRING_KEY_BYTES);
	keyring_lock(nk);
	*ret = nk;
	return 0;
}

int
keyring_retire_below(const struct keyring *kr, uint32_t below, struct keyring **ret)
{
	struct keyring *nk;
	size_t first = 0, n;
	int r;

	while (first < kr->n - 1 && kr->e[first].term < below)
		first++;
	n = kr->n - first;
	r = keyring_alloc(n, &nk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		nk->e[i].term = kr->e[first + i].term;
		nk->e[i].install_ns = kr->e[first + i].install_ns;
		atomic_store_explicit(&nk->e[i].encryptions, keyring_encryptions_at(kr, first + i),
		                      memory_order_relaxed);
	}
	memcpy(nk->keys, kr->keys + first * KEYRING_KEY_BYTES, n * KEYRING_KEY_BYTES);
	keyring_lock(nk);
	*ret = nk;
	return 0;
}

int
keyring_encode(const struct keyring *kr, uint8_t **ret_buf, size_t *ret_len)
{
	size_t len = KEYRING_HDR_BYTES + kr->n * KEYRING_ENTRY_BYTES;
	uint8_t *buf, *p;

	buf = sodium_malloc(len);
	if (buf == NULL)
		return CF_ENOMEM;
	memcpy(buf, KEYRING_MAGIC, 4);
	buf[4] = KEYRING_VERSION;
	put_be32(buf + 5, (uint32_t)kr->n);
	p = buf + KEYRING_HDR_BYTES;
	for (size_t i = 0; i < kr->n; i++) {
		put_be32(p, kr->e[i].term);
		put_be64(p + 4, (uint64_t)kr->e[i].install_ns);
		memcpy(p + 12, kr->keys + i * KEYRING_KEY_BYTES, KEYRING_KEY_BYTES);
		p += KEYRING_ENTRY_BYTES;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int
keyring_decode(const uint8_t *buf, size_t len, struct keyring **ret)
{
	struct keyring *kr = NULL;
	const uint8_t *p;
	uint32_t n, prev = 0;
	int r = CF_EINVAL;

	if (len < KEYRING_HDR_BYTES || memcmp(buf, KEYRING_MAGIC, 4) != 0 ||
	    buf[4] != KEYRING_VERSION)
		goto out;
	n = get_be32(buf + 5);
	if (n < 1 || n > KEYRING_MAX_TERMS ||
	    len != KEYRING_HDR_BYTES + (size_t)n * KEYRING_ENTRY_BYTES)
		goto out;
	r = keyring_alloc(n, &kr);
	if (r < 0)
		goto out;
	p = buf + KEYRING_HDR_BYTES;
	for (size_t i = 0; i < n; i++) {
		uint32_t term = get_be32(p);
		if (term <= prev) {
			r = CF_EINVAL;
			goto out;
		}
		prev = term;
		kr->e[i].term = term;
		kr->e[i].install_ns = (int64_t)get_be64(p + 4);
		memcpy(kr->keys + i * KEYRING_KEY_BYTES, p + 12, KEYRING_KEY_BYTES);
		p += KEYRING_ENTRY_BYTES;
	}
	keyring_lock(kr);
	*ret = kr;
	kr = NULL;
	r = 0;
out:
	keyring_free(kr);
	return r;
}

size_t
keyring_count(const struct keyring *kr)
{
	return kr->n;
}

int
keyring_find(const struct keyring *kr, uint32_t term, size_t *ret_idx)
{
	size_t lo = 0, hi = kr->n;

	/* Terms are public and sorted. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (kr->e[mid].term < term)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == kr->n || kr->e[lo].term != term)
		return CF_ENOTFOUND;
	*ret_idx = lo;
	return 0;
}

uint32_t
keyring_term_at(const struct keyring *kr, size_t idx)
{
	assert(idx < kr->n);
	return kr->e[idx].term;
}

int64_t
keyring_install_ns_at(const struct keyring *kr, size_t idx)
{
	assert(idx < kr->n);
	return kr->e[idx].install_ns;
}

const uint8_t *
keyring_key_at(const struct keyring *kr, size_t idx)
{
	assert(idx < kr->n);
	return kr->keys + idx * KEYRING_KEY_BYTES;
}

void
keyring_count_encryption(struct keyring *kr, size_t idx)
{
	assert(idx < kr->n);
	atomic_fetch_add_explicit(&kr->e[idx].encryptions, 1, memory_order_relaxed);
}

uint64_t
keyring_encryptions_at(const struct keyring *kr, size_t idx)
{
	assert(idx < kr->n);
	/* The counter is atomic; reading it through a const keyring is fine. */
	return atomic_load_explicit((_Atomic uint64_t *)&kr->e[idx].encryptions,
	                            memory_order_relaxed);
}
