/* storage_assert.h - cmocka checks shared by the storage unit tests
 * (test_storage.c, test_memory.c). Include after <cmocka.h>. */
#ifndef CF_TEST_STORAGE_ASSERT_H
#define CF_TEST_STORAGE_ASSERT_H

#include "storage/storage.h"
#include "lib/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void
put_str(struct storage *s, const char *key, const char *val)
{
	assert_int_equal(storage_put(s, key, (const uint8_t *)val, strlen(val)), 0);
}

/* key holds want, and the copy returned is NUL-terminated past its length. */
static inline void
assert_value(struct storage *s, const char *key, const char *want)
{
	uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(storage_get(s, key, &val, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(val, want, len);
	assert_int_equal(val[len], '\0');
	free(val);
}

static inline void
assert_missing(struct storage *s, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;

	assert_int_equal(storage_get(s, key, &val, &len), CF_ENOTFOUND);
	assert_null(val);
}

#endif
