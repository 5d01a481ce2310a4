/* util.c - small helpers shared by every layer. */
#include "lib/util.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
util_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

void
util_random_base62(char *out, size_t n)
{
	static const char set[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (size_t i = 0; i < n; i++)
		out[i] = set[randombytes_uniform(62)];
	out[n] = '\0';
}

/* Formats 16 random bytes as a version-4 UUID. */
static void
uuid_format(uint8_t b[16], char out[37])
{
	char h[33];

	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	util_hex(b, 16, h);
	/* 8-4-4-4-12, without the cost of snprintf on every request */
	memcpy(out, h, 8);
	out[8] = '-';
	memcpy(out + 9, h + 8, 4);
	out[13] = '-';
	memcpy(out + 14, h + 12, 4);
	out[18] = '-';
	memcpy(out + 19, h + 16, 4);
	out[23] = '-';
	memcpy(out + 24, h + 20, 12);
	out[36] = '\0';
}

void
util_uuid(char out[37])
{
	uint8_t b[16];

	randombytes_buf(b, sizeof(b));
	uuid_format(b, out);
	secmem_wipe(b, sizeof(b));
}

/* Request IDs are public (they appear in audit logs and responses), so they
 * come from a per-thread buffer of CSPRNG output refilled 64 IDs at a time:
 * one getrandom(2) per 64 requests instead of one per request. Never use this
 * for anything secret (util_uuid draws fresh bytes each call). */
#define REQID_BATCH 64
void
util_request_id(char out[37])
{
	static __thread uint8_t pool[REQID_BATCH * 16];
	static __thread unsigned left;
	uint8_t b[16];

	if (left == 0) {
		randombytes_buf(pool, sizeof(pool));
		left = REQID_BATCH;
	}
	left--;
	memcpy(b, pool + left * 16, 16);
	uuid_format(b, out);
}

void
util_hex(const void *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *p = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
util_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
util_unhex(const char *hex, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = strlen(hex), bin_len;

	if (n % 2 != 0 || n / 2 > cap)
		return CF_EINVAL;
	if (sodium_hex2bin(out, cap, hex, n, NULL, &bin_len, NULL) != 0 || bin_len != n / 2) {
		secmem_wipe(out, cap); /* the part decoded before the bad digit */
		return CF_EINVAL;
	}
	*ret_len = bin_len;
	return 0;
}

char *
util_b64_encode(const void *in, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(len);
	if (!out)
		return NULL;
	sodium_bin2base64(out, len, in, n, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

int
util_b64_decode(const char *in, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(in), cap = n / 4 * 3 + 4, out_len;
	const char *end;
	uint8_t *out = malloc(cap);
	int variant = sodium_base64_VARIANT_ORIGINAL;

	if (!out)
		return CF_ENOMEM;
	if (n % 4 != 0)
		variant = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
	if (sodium_base642bin(out, cap, in, n, NULL, &out_len, &end, variant) != 0 ||
	    *end != '\0') {
		/* a valid prefix was decoded already: it may be a piece of a key */
		secmem_free(out, cap);
		return CF_EINVAL;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* Inputs up to this size are hashed by libsodium: as fast as OpenSSL's EVP for
 * a block or two (tokens, paths), and it keeps OpenSSL's initialization (about
 * 1 ms) off the start-up path; longer ones (audit lines) go to OpenSSL, whose
 * SHA-NI code is several times faster per byte. */
#define SHA256_SODIUM_MAX 256

void
util_sha256_hex(const void *in, size_t n, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;

	if (n <= SHA256_SODIUM_MAX && sodium_init() >= 0) {
		crypto_hash_sha256(md, in, n);
		util_hex(md, sizeof(md), out);
		return;
	}
	/* SHA256() fetches the digest on every call; fetch it once (thread-safe) */
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || EVP_Digest(in, n, md, &mdlen, sha256_md, NULL) != 1)
		SHA256(in, n, md);
	util_hex(md, sizeof(md), out);
}

int64_t
util_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
util_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
util_now(void)
{
	return (int64_t)time(NULL);
}

void
util_rfc3339(int64_t ns, char *out, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	long frac = (long)(ns % 1000000000LL);
	struct tm tm;
	char base[32];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%09ldZ", base, frac);
}

int
util_parse_rfc3339(const char *s, int64_t *ret_ns)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0;

	if (!p)
		return CF_EINVAL;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 9) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 9)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return CF_EINVAL;
	*ret_ns = (int64_t)timegm(&tm) * 1000000000LL + frac;
	return 0;
}

int
util_parse_bool(const char *s, bool *ret)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return CF_EINVAL;
}

int
util_parse_int(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return CF_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return CF_EINVAL;
	*ret = v;
	return 0;
}

bool
util_streq_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}

const char *
util_test_hook(const char *name)
{
#ifdef COFFER_TEST_HOOKS
	return getenv(name);
#else
	(void)name;
	return NULL;
#endif
}

void
util_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap); /* a cut message is still useful */
	va_end(ap);
}

int
util_read_file(const char *path, size_t max, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	char *text = NULL, *p;
	size_t len = 0, cap = 0, n;
	int r = 0;
	FILE *f;

	*ret = NULL;
	*ret_len = 0;
	f = fopen(path, "rb");
	if (!f) {
		util_errf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max) {
				util_errf(err, errlen, "%s: larger than %zu bytes", path, max);
				r = CF_ETOOBIG;
				goto out;
			}
			/* grown by copy, the old block wiped: the file may be secret */
			p = malloc(cap ? cap * 2 : 4096);
			if (!p) {
				r = CF_ENOMEM;
				goto out;
			}
			if (text)
				memcpy(p, text, len);
			secmem_free(text, cap);
			text = p;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		util_errf(err, errlen, "%s: read error", path);
		r = CF_EIO;
		goto out;
	}
	if (len > max) {
		util_errf(err, errlen, "%s: larger than %zu bytes", path, max);
		r = CF_ETOOBIG;
		goto out;
	}
	text[len] = '\0';
	*ret = text;
	*ret_len = len;
	text = NULL;
out:
	secmem_free(text, cap);
	fclose(f);
	return r;
}
