/* test_buf.c - the growable buffer (lib/buf.h): cap edges, failed appends
 * leave the buffer as it was, and a BUF_SECRET buffer never frees a block that
 * still holds its data.
 *
 * The binary is linked with -Wl,--wrap=malloc,--wrap=realloc,--wrap=free
 * (tests/unit/lib/meson.build): __wrap_free counts freed blocks that still
 * hold a known needle, and malloc/realloc fail on request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/err.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static const char *needle; /* the secret no freed block may keep */
static int needle_hits;    /* freed blocks that still held it */
static bool fail_alloc;    /* the next malloc or realloc fails */

void *
__wrap_malloc(size_t n)
{
	if (fail_alloc) {
		fail_alloc = false;
		return NULL;
	}
	return __real_malloc(n);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (fail_alloc) {
		fail_alloc = false;
		return NULL;
	}
	return __real_realloc(p, n);
}

void
__wrap_free(void *p)
{
	if (p && needle && memmem(p, malloc_usable_size(p), needle, strlen(needle)))
		needle_hits++;
	__real_free(p);
}

static void
watch(const char *secret)
{
	needle = secret;
	needle_hits = 0;
}

/* One step of a vector: append s (kind 's'), one char (kind 'c'), formatted
 * text (kind 'f', s is the %s argument of "<%s>"), or truncate to n ('t'). */
struct step {
	char kind;
	const char *s;
	int r;            /* the step's return code */
	const char *want; /* the buffer after the step */
};

/* clang-format off */
static const struct {
	size_t max;
	struct step steps[6];
} vectors[] = {
	/* exactly at the cap, then one past it */
	{ 4, { { 's', "abcd", 0, "abcd" }, { 'c', "e", CF_ETOOBIG, "abcd" } } },
	{ 4, { { 's', "abcde", CF_ETOOBIG, "" }, { 's', "abc", 0, "abc" },
	       { 's', "de", CF_ETOOBIG, "abc" }, { 'c', "d", 0, "abcd" } } },
	{ 1, { { 'c', "x", 0, "x" }, { 'c', "y", CF_ETOOBIG, "x" }, { 's', "", 0, "x" } } },
	/* printf counts the formatted length against the cap */
	{ 6, { { 'f', "abc", 0, "<abc>" }, { 'f', "", CF_ETOOBIG, "<abc>" }, { 'c', "!", 0, "<abc>!" } } },
	{ 5, { { 'f', "abcd", CF_ETOOBIG, "" }, { 'f', "abc", 0, "<abc>" } } },
	/* truncating, then growing again */
	{ 8, { { 's', "abcdefgh", 0, "abcdefgh" }, { 't', "3", 0, "abc" }, { 't', "4", CF_EINVAL, "abc" },
	       { 's', "XYZ", 0, "abcXYZ" }, { 't', "0", 0, "" } } },
	/* growth well past the first block */
	{ 300, { { 's', "0123456789012345678901234567890123456789012345678901234567890123456789", 0,
	           "0123456789012345678901234567890123456789012345678901234567890123456789" },
	         { 't', "2", 0, "01" } } },
};
/* clang-format on */

static int
run_step(struct buf *b, const struct step *st)
{
	switch (st->kind) {
	case 's':
		return buf_append_str(b, st->s);
	case 'c':
		return buf_append_char(b, st->s[0]);
	case 'f':
		return buf_printf(b, "<%s>", st->s);
	case 't':
		return buf_truncate(b, (size_t)(st->s[0] - '0'));
	}
	fail();
	return 0;
}

static void
test_buf_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		for (unsigned flags = 0; flags <= BUF_SECRET; flags += BUF_SECRET) {
			struct buf b;

			buf_init(&b, vectors[i].max, flags);
			for (size_t k = 0; k < 6 && vectors[i].steps[k].kind; k++) {
				const struct step *st = &vectors[i].steps[k];

				assert_int_equal(run_step(&b, st), st->r);
				assert_string_equal(buf_str(&b), st->want);
				assert_int_equal(buf_len(&b), strlen(st->want));
			}
			buf_free(&b);
		}
	}
}

static void
test_buf_empty(void **state)
{
	struct buf b, zero = {0};
	char *p = NULL;
	size_t n = 99;

	(void)state;
	buf_init(&b, 16, 0);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_len(&b), 0);
	buf_reset(&b);
	assert_int_equal(buf_truncate(&b, 0), 0);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(buf_detach(&b, &p, &n), 0);
	assert_string_equal(p, "");
	assert_int_equal(n, 0);
	free(p);
	buf_free(&b);
	buf_free(&b); /* twice is fine */
	buf_free(&zero);
	buf_free(NULL);
}

static void
test_buf_binary_and_detach(void **state)
{
	static const char bin[] = {'a', '\0', 'b', '\0'};
	struct buf b;
	char *p = NULL;
	size_t n = 0;

	(void)state;
	buf_init(&b, 64, 0);
	assert_int_equal(buf_append(&b, bin, sizeof(bin)), 0);
	assert_int_equal(buf_len(&b), 4);
	assert_memory_equal(buf_str(&b), bin, 4);
	assert_int_equal(buf_str(&b)[4], '\0');
	assert_int_equal(buf_detach(&b, &p, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(p, bin, 4);
	free(p);
	/* detached: empty and reusable */
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append_str(&b, "again"), 0);
	assert_string_equal(buf_str(&b), "again");
	buf_free(&b);
}

/* An allocation failure leaves the data as it was, secret or not, and the
 * next append succeeds. */
static void
test_buf_enomem(void **state)
{
	char big[200];

	(void)state;
	memset(big, 'z', sizeof(big));
	for (unsigned flags = 0; flags <= BUF_SECRET; flags += BUF_SECRET) {
		struct buf b;

		buf_init(&b, 1024, flags);
		fail_alloc = true;
		assert_int_equal(buf_append_str(&b, "first"), CF_ENOMEM);
		assert_string_equal(buf_str(&b), "");
		assert_int_equal(buf_append_str(&b, "first"), 0);
		fail_alloc = true;
		assert_int_equal(buf_append(&b, big, sizeof(big)), CF_ENOMEM);
		assert_string_equal(buf_str(&b), "first");
		fail_alloc = true;
		assert_int_equal(buf_printf(&b, "%.*s", (int)sizeof(big), big), CF_ENOMEM);
		assert_string_equal(buf_str(&b), "first");
		assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
		assert_int_equal(buf_len(&b), 5 + sizeof(big));
		buf_free(&b);
	}
}

static void
fill_past_first_block(struct buf *b)
{
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_printf(b, "%03d", i), 0);
}

/* A BUF_SECRET buffer wipes the old block when it grows and the data when it
 * is freed; the control case shows the wrapper sees a needle left behind. */
static void
test_buf_secret_wiped(void **state)
{
	static const char secret[] = "s3cr3t-n33dl3-value";
	struct buf b;

	(void)state;
	/* control: a plain buffer frees its data as it is */
	buf_init(&b, 4096, 0);
	assert_int_equal(buf_append_str(&b, secret), 0);
	watch(secret);
	buf_free(&b);
	assert_int_equal(needle_hits, 1);

	/* secret: growth (several old blocks) and free leave nothing */
	buf_init(&b, 4096, BUF_SECRET);
	assert_int_equal(buf_append_str(&b, secret), 0);
	watch(secret);
	fill_past_first_block(&b);
	assert_non_null(strstr(buf_str(&b), secret));
	buf_free(&b);
	assert_int_equal(needle_hits, 0);

	/* reset and truncate wipe the dropped bytes in place */
	buf_init(&b, 4096, BUF_SECRET);
	assert_int_equal(buf_append_str(&b, secret), 0);
	{
		const char *p = buf_str(&b);

		buf_reset(&b);
		assert_null(memmem(p, sizeof(secret), secret, strlen(secret)));
		assert_int_equal(buf_append_str(&b, "keep:"), 0);
		assert_int_equal(buf_append_str(&b, secret), 0);
		p = buf_str(&b);
		assert_int_equal(buf_truncate(&b, 5), 0);
		assert_string_equal(p, "keep:");
		assert_null(memmem(p, 5 + sizeof(secret), secret, 4));
	}
	watch(secret);
	buf_free(&b);
	assert_int_equal(needle_hits, 0);
	watch(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_buf_vectors),           cmocka_unit_test(test_buf_empty),
	        cmocka_unit_test(test_buf_binary_and_detach), cmocka_unit_test(test_buf_enomem),
	        cmocka_unit_test(test_buf_secret_wiped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
