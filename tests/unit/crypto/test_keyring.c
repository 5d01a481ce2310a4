/* test_keyring.c - the barrier's keyring: terms added and retired, the stored
 * format byte for byte, a round trip, every kind of damage refused, and the
 * keys kept in read-only memory.
 *
 * keyring_free() wipes the keys (sodium_free); that is not observable without
 * reading freed memory, so the test checks what is: a key cannot be written
 * (a write in a child process dies on the read-only page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crypto/keyring.h"
#include "lib/err.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HDR   9  /* "CFKR" | version | count */
#define ENTRY 44 /* term | install ns | key */

static const uint8_t zero_key[KEYRING_KEY_BYTES];

/* A keyring with terms 1..n, term t installed at t * 1000. */
static struct keyring *
ring_of(uint32_t n)
{
	struct keyring *kr = NULL, *next = NULL;

	assert_int_equal(keyring_generate(1000, &kr), 0);
	for (uint32_t t = 2; t <= n; t++) {
		assert_int_equal(keyring_add_term(kr, (int64_t)t * 1000, &next), 0);
		keyring_free(kr);
		kr = next;
	}
	return kr;
}

static void
test_keyring_generate(void **state)
{
	struct keyring *a = NULL, *b = NULL;
	size_t idx = 99;

	assert_int_equal(keyring_generate(1234, &a), 0);
	assert_int_equal(keyring_generate(1234, &b), 0);
	assert_int_equal(keyring_count(a), 1);
	assert_int_equal(keyring_term_at(a, 0), 1);
	assert_int_equal(keyring_install_ns_at(a, 0), 1234);
	assert_int_equal(keyring_encryptions_at(a, 0), 0);
	assert_memory_not_equal(keyring_key_at(a, 0), zero_key, KEYRING_KEY_BYTES);
	assert_memory_not_equal(keyring_key_at(a, 0), keyring_key_at(b, 0), KEYRING_KEY_BYTES);
	assert_int_equal(keyring_find(a, 1, &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(keyring_find(a, 2, &idx), CF_ENOTFOUND);
	assert_int_equal(keyring_find(a, 0, &idx), CF_ENOTFOUND);
	keyring_free(a);
	keyring_free(b);
	keyring_free(NULL);
}

/* A new term: the old keys and counters carried over, a fresh key, the old
 * keyring unchanged. */
static void
test_keyring_add_term(void **state)
{
	struct keyring *kr = NULL, *nk = NULL;
	uint8_t old_key[KEYRING_KEY_BYTES];
	size_t idx;

	assert_int_equal(keyring_generate(1000, &kr), 0);
	memcpy(old_key, keyring_key_at(kr, 0), sizeof(old_key));
	keyring_count_encryption(kr, 0);
	keyring_count_encryption(kr, 0);
	assert_int_equal(keyring_add_term(kr, 2000, &nk), 0);

	assert_int_equal(keyring_count(kr), 1);
	assert_memory_equal(keyring_key_at(kr, 0), old_key, sizeof(old_key));
	assert_int_equal(keyring_count(nk), 2);
	assert_int_equal(keyring_term_at(nk, 0), 1);
	assert_int_equal(keyring_term_at(nk, 1), 2);
	assert_int_equal(keyring_install_ns_at(nk, 0), 1000);
	assert_int_equal(keyring_install_ns_at(nk, 1), 2000);
	assert_memory_equal(keyring_key_at(nk, 0), old_key, sizeof(old_key));
	assert_memory_not_equal(keyring_key_at(nk, 1), old_key, sizeof(old_key));
	assert_memory_not_equal(keyring_key_at(nk, 1), zero_key, KEYRING_KEY_BYTES);
	assert_int_equal(keyring_encryptions_at(nk, 0), 2);
	assert_int_equal(keyring_encryptions_at(nk, 1), 0);
	keyring_count_encryption(nk, 1);
	assert_int_equal(keyring_encryptions_at(nk, 1), 1);
	assert_int_equal(keyring_encryptions_at(kr, 0), 2);
	assert_int_equal(keyring_find(nk, 2, &idx), 0);
	assert_int_equal(idx, 1);
	keyring_free(kr);
	keyring_free(nk);
}

static void
test_keyring_retire_below(void **state)
{
	/* clang-format off */
	static const struct {
		uint32_t below;
		size_t first; /* index of the first term kept */
	} v[] = {
		{ 0, 0 }, { 1, 0 }, { 2, 1 }, { 3, 2 }, { 4, 3 }, { 5, 3 }, { 1000, 3 },
	};
	/* clang-format on */
	struct keyring *kr = ring_of(4);

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct keyring *nk = NULL;
		size_t n = 4 - v[i].first;

		assert_int_equal(keyring_retire_below(kr, v[i].below, &nk), 0);
		assert_int_equal(keyring_count(nk), n);
		for (size_t k = 0; k < n; k++) {
			assert_int_equal(keyring_term_at(nk, k),
			                 keyring_term_at(kr, v[i].first + k));
			assert_int_equal(keyring_install_ns_at(nk, k),
			                 keyring_install_ns_at(kr, v[i].first + k));
			assert_memory_equal(keyring_key_at(nk, k),
			                    keyring_key_at(kr, v[i].first + k), KEYRING_KEY_BYTES);
		}
		keyring_free(nk);
	}
	assert_int_equal(keyring_count(kr), 4);
	keyring_free(kr);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The stored format, byte for byte, and back. */
static void
test_keyring_encode_decode(void **state)
{
	struct keyring *kr = ring_of(3), *back = NULL;
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	assert_int_equal(keyring_encode(kr, &buf, &len), 0);
	assert_int_equal(len, HDR + 3 * ENTRY);
	assert_memory_equal(buf, "CFKR", 4);
	assert_int_equal(buf[4], 1);
	assert_int_equal(be32(buf + 5), 3);
	for (size_t i = 0; i < 3; i++) {
		const uint8_t *e = buf + HDR + i * ENTRY;
		assert_int_equal(be32(e), i + 1);
		assert_int_equal(be64(e + 4), (i + 1) * 1000);
		assert_memory_equal(e + 12, keyring_key_at(kr, i), KEYRING_KEY_BYTES);
	}

	assert_int_equal(keyring_decode(buf, len, &back), 0);
	assert_int_equal(keyring_count(back), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(keyring_term_at(back, i), keyring_term_at(kr, i));
		assert_int_equal(keyring_install_ns_at(back, i), keyring_install_ns_at(kr, i));
		assert_memory_equal(keyring_key_at(back, i), keyring_key_at(kr, i),
		                    KEYRING_KEY_BYTES);
		assert_int_equal(keyring_encryptions_at(back, i), 0); /* counters are not stored */
	}
	assert_int_equal(keyring_encode(back, &again, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
	sodium_free(buf);
	sodium_free(again);
	keyring_free(kr);
	keyring_free(back);
}

/* Damage to an encoded two-term keyring: each is refused with CF_EINVAL and
 * nothing is returned. */
enum damage {
	D_EMPTY,
	D_SHORT_HEADER,
	D_CUT_ONE,
	D_EXTRA_BYTE,
	D_MAGIC,
	D_VERSION,
	D_COUNT_ZERO,
	D_COUNT_MORE,
	D_COUNT_LESS,
	D_COUNT_HUGE,
	D_TERM_ZERO,
	D_TERMS_EQUAL,
	D_TERMS_DOWN,
};

static size_t
damage(enum damage d, uint8_t *b, size_t len)
{
	uint8_t *e0 = b + HDR, *e1 = b + HDR + ENTRY;

	switch (d) {
	case D_EMPTY:
		return 0;
	case D_SHORT_HEADER:
		return HDR - 1;
	case D_CUT_ONE:
		return len - 1;
	case D_EXTRA_BYTE:
		return len + 1;
	case D_MAGIC:
		b[0] = 'X';
		break;
	case D_VERSION:
		b[4] = 2;
		break;
	case D_COUNT_ZERO:
		b[5] = b[6] = b[7] = b[8] = 0;
		break;
	case D_COUNT_MORE:
		b[8] = 3;
		break;
	case D_COUNT_LESS:
		b[8] = 1;
		break;
	case D_COUNT_HUGE:
		b[5] = b[6] = b[7] = b[8] = 0xff;
		break;
	case D_TERM_ZERO:
		e0[0] = e0[1] = e0[2] = e0[3] = 0;
		break;
	case D_TERMS_EQUAL:
		memcpy(e1, e0, 4);
		break;
	case D_TERMS_DOWN:
		e0[3] = 3; /* 3, then 2 */
		break;
	}
	return len;
}

static void
test_keyring_decode_refuses_damage(void **state)
{
	struct keyring *kr = ring_of(2);
	uint8_t *good = NULL;
	size_t len = 0;

	assert_int_equal(keyring_encode(kr, &good, &len), 0);
	for (int d = D_EMPTY; d <= D_TERMS_DOWN; d++) {
		uint8_t b[HDR + 2 * ENTRY + 1] = {0};
		struct keyring *out = (struct keyring *)b; /* must stay untouched */
		size_t n;

		memcpy(b, good, len);
		n = damage((enum damage)d, b, len);
		if (keyring_decode(b, n, &out) != CF_EINVAL)
			fail_msg("damage %d accepted", d);
		assert_ptr_equal(out, (struct keyring *)b);
		sodium_memzero(b, sizeof(b));
	}
	/* the undamaged copy still decodes: the refusals were the damage */
	{
		struct keyring *out = NULL;
		assert_int_equal(keyring_decode(good, len, &out), 0);
		keyring_free(out);
	}
	sodium_free(good);
	keyring_free(kr);
}

/* The keys are read-only: a write to one kills the process that tries. */
static void
test_keyring_keys_read_only(void **state)
{
	struct keyring *kr = ring_of(2);
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2); /* a sanitizer's report of the fault */
		/* the fault must end the child: not cmocka's or a sanitizer's handler */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		((volatile uint8_t *)keyring_key_at(kr, 1))[0] ^= 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
	keyring_free(kr);
}

static int
setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keyring_generate),
	        cmocka_unit_test(test_keyring_add_term),
	        cmocka_unit_test(test_keyring_retire_below),
	        cmocka_unit_test(test_keyring_encode_decode),
	        cmocka_unit_test(test_keyring_decode_refuses_damage),
	        cmocka_unit_test(test_keyring_keys_read_only),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
