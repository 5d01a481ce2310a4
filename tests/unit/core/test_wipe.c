/* test_wipe.c - secrets are wiped on error paths too (lib/secmem.h).
 *
 * The binary is linked with -Wl,--wrap=malloc,--wrap=free (tests/unit/core/
 * meson.build), so every malloc and free made by coffer's code (and by the
 * static jansson and libsodium) passes through the wrappers below:
 *   - __wrap_free looks into each block before it is released and counts the
 *     blocks that still hold the test's known secret (the needle);
 *   - __wrap_malloc fails the Nth allocation when asked, so a loop drives every
 *     allocation failure of a function (SQLite's anomaly tests do the same).
 * `make asan` runs this under ASan and UBSan with leak detection, so each of
 * those error paths must also free everything it allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/jwt/jws.h"
#include "core/core.h"
#include "server/server.h"
#include "engines/transit/transit_int.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <malloc.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void __wrap_free(void *p);

static const char *needle;     /* the secret no freed block may keep */
static atomic_int needle_hits; /* freed blocks that still held it */
static atomic_long fail_at;    /* fail the malloc with this number (0: never) */
static atomic_long mallocs;    /* mallocs counted since the last arm() */

void *
__wrap_malloc(size_t n)
{
	long k = atomic_fetch_add(&mallocs, 1) + 1;

	if (atomic_load(&fail_at) == k)
		return NULL;
	return __real_malloc(n);
}

void
__wrap_free(void *p)
{
	const char *s = needle;

	if (p && s && memmem(p, malloc_usable_size(p), s, strlen(s)))
		atomic_fetch_add(&needle_hits, 1);
	__real_free(p);
}

/* Starts counting allocations; the nth one from now fails (0: none). */
static void
arm(long nth)
{
	atomic_store(&mallocs, 0);
	atomic_store(&fail_at, nth);
}

static void
disarm(void)
{
	atomic_store(&fail_at, 0);
}

static void
watch(const char *secret)
{
	needle = secret;
	atomic_store(&needle_hits, 0);
}

static int
watched_hits(void)
{
	needle = NULL;
	return atomic_load(&needle_hits);
}

/* The freed-block scan itself works: a plain free() of the secret is seen. */
static void
test_wipe_scan_sees_plain_free(void **state)
{
	char *copy = strdup("scan-me-secret");

	assert_non_null(copy);
	watch("scan-me-secret");
	free(copy);
	assert_int_equal(watched_hits(), 1);
	copy = strdup("scan-me-secret");
	assert_non_null(copy);
	watch("scan-me-secret");
	secmem_free_str(copy);
	assert_int_equal(watched_hits(), 0);
}

static void
test_wipe_secmem_primitives(void **state)
{
	uint8_t buf[16];

	memset(buf, 0xa5, sizeof(buf));
	secmem_wipe(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	secmem_wipe(NULL, 0);
	secmem_free(NULL, 10);
	secmem_free_str(NULL);
}

/* A valid prefix followed by a bad character: the decoder has already written
 * the prefix's bytes into its buffer before it sees the error. */
static void
test_wipe_b64_decode_partial(void **state)
{
	/* "unseal-key-piece-0123456789ab" */
	static const char *bad[] = {
	        "dW5zZWFsLWtleS1waWVjZS0wMTIzNDU2Nzg5YWI!",
	        "dW5zZWFsLWtleS1waWVjZS0wMTIzNDU2Nzg5YWI=x",
	        "dW5zZWFsLWtleS1waWVjZS0wMTIzNDU2Nzg5YWI*AAA",
	};
	uint8_t *out = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		watch("unseal-key-piece");
		assert_int_equal(util_b64_decode(bad[i], &out, &n), CF_EINVAL);
		assert_int_equal(watched_hits(), 0);
	}
	/* and the good input still decodes */
	assert_int_equal(util_b64_decode("dW5zZWFsLWtleS1waWVjZS0wMTIzNDU2Nzg5YWI=", &out, &n), 0);
	assert_int_equal(n, 29);
	assert_memory_equal(out, "unseal-key-piece-0123456789ab", 29);
	secmem_free(out, n);
	/* allocation failure */
	arm(1);
	assert_int_equal(util_b64_decode("AAAA", &out, &n), CF_ENOMEM);
	disarm();
}

static void
test_wipe_unhex_partial(void **state)
{
	uint8_t out[32];
	size_t n = 0;

	memset(out, 0xa5, sizeof(out));
	/* "secret-k" then a bad digit */
	assert_int_equal(util_unhex("7365637265742d6bzz", out, sizeof(out), &n), CF_EINVAL);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(util_unhex("7365", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
}

static void
test_wipe_b64url_and_ciphertext_partial(void **state)
{
	uint8_t *out = NULL;
	size_t n = 0;

	/* base64url "jwt-claims-secret-value" with a bad character after it */
	watch("jwt-claims-secret");
	assert_int_equal(jws_b64url_decode("and0LWNsYWltcy1zZWNyZXQtdmFsdWU!AAA", 35, &out, &n),
	                 CF_EINVAL);
	/* nonzero leftover bits after a decoded prefix */
	assert_int_equal(jws_b64url_decode("and0LWNsYWltcy1zZWNyZXQtdmFsdWV", 31, &out, &n),
	                 CF_EINVAL);
	assert_int_equal(watched_hits(), 0);
	watch("jwt-claims-secret");
	assert_int_equal(transit_ct_decode("and0LWNsYWltcy1zZWNyZXQtdmFsdWU!", true, &out, &n),
	                 CF_EINVAL);
	assert_int_equal(transit_ct_decode("and0LWNsYWltcy1zZWNyZXQtdmFsdWU=!", false, &out, &n),
	                 CF_EINVAL);
	assert_int_equal(watched_hits(), 0);
}

/* Every allocation failure in dev setup (init, root token, unseal key, first
 * unseal, the secret/ mount): each answers an error, frees everything, and no
 * freed block keeps the root token. Then the same without failures. */
static void
test_wipe_dev_setup_faults(void **state)
{
	static const char root_id[] = "wipe-test-root-token-4b6f2a";
	struct core_config cfg = {.storage_spec = "memory:"};
	int failures = 0;

	for (long nth = 1;; nth++) {
		struct core *c = NULL;
		char *root = NULL, *unseal = NULL;
		int r;

		assert_int_equal(server_core_new(&cfg, &c), 0);
		watch(root_id);
		arm(nth);
		r = core_dev_setup(c, root_id, &root, &unseal);
		disarm();
		if (r == 0) {
			assert_string_equal(root, root_id);
			assert_non_null(unseal);
			secmem_free_str(root);
			secmem_free_str(unseal);
		} else {
			failures++;
		}
		core_free(c);
		assert_int_equal(watched_hits(), 0);
		if (r == 0 && atomic_load(&mallocs) < nth)
			break; /* ran to the end without reaching the failure */
		assert_true(nth < 100000);
	}
	assert_true(failures > 10);
}

/* Key generation of each asymmetric type under every allocation failure: the
 * Ed25519 seed and the DER private keys are freed (wiped) on each error path. */
static void
test_wipe_transit_keygen_faults(void **state)
{
	static const char *types[] = {"ed25519", "ecdsa-p256", "aes256-gcm96"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct tk_type *t = tk_type_find(types[i]);
		int failures = 0;

		assert_non_null(t);
		for (long nth = 1;; nth++) {
			json_t *rec = NULL;
			int r;

			arm(nth);
			r = tkey_record_new(t, false, false, true, false, &rec);
			if (r == 0)
				r = tkey_record_rotate(rec, 1);
			disarm();
			json_decref(rec);
			if (r < 0) {
				assert_true(r == CF_ENOMEM || r == CF_EINTERNAL);
				failures++;
				continue;
			}
			if (atomic_load(&mallocs) < nth)
				break;
			assert_true(nth < 10000);
		}
		assert_true(failures > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wipe_scan_sees_plain_free),
	        cmocka_unit_test(test_wipe_secmem_primitives),
	        cmocka_unit_test(test_wipe_b64_decode_partial),
	        cmocka_unit_test(test_wipe_unhex_partial),
	        cmocka_unit_test(test_wipe_b64url_and_ciphertext_partial),
	        cmocka_unit_test(test_wipe_dev_setup_faults),
	        cmocka_unit_test(test_wipe_transit_keygen_faults),
	};

	if (sodium_init() < 0)
		return 1;
	jsonx_init(); /* as the server: jansson's frees are wiped */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
