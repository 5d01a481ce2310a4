/* util.h - small helpers: randomness, ids, hex, time formatting, ParseBool. */
#ifndef CF_UTIL_H
#define CF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills buf with n bytes from the CSPRNG (libsodium). */
void util_random(void *buf, size_t n);
/* Writes n random base62 characters and a NUL into out (size >= n+1). */
void util_random_base62(char *out, size_t n);
/* Writes a random RFC 4122 v4 UUID (36 chars + NUL) into out[37]. */
void util_uuid(char out[37]);
/* A v4 UUID for public identifiers such as request IDs (buffered randomness). */
void util_request_id(char out[37]);
/* Lowercase hex of n bytes into out (size >= 2n+1). */
void util_hex(const void *in, size_t n, char *out);
/* The value 0-15 of the hex digit c (either case), or -1 when c is none. */
int util_hex_digit(int c);
/* Decodes hex; returns 0, or CF_EINVAL on bad input or if it does not fit (then
 * the cap bytes of out are wiped: a prefix may have been decoded into them). */
int util_unhex(const char *hex, uint8_t *out, size_t cap, size_t *ret_len);
/* Base64 (standard, padded). util_b64_encode returns a malloc'd string or NULL. */
char *util_b64_encode(const void *in, size_t n);
/* Decodes standard base64 (padding optional); returns malloc'd bytes in *ret
 * (secret material: free with secmem_free), CF_ENOMEM, or CF_EINVAL; on failure
 * the partly decoded output is wiped before it is freed. */
int util_b64_decode(const char *in, uint8_t **ret, size_t *ret_len);
/* SHA-256 as lowercase hex (65 bytes with NUL). */
void util_sha256_hex(const void *in, size_t n, char out[65]);

/* Wall clock in nanoseconds since the epoch. */
int64_t util_now_ns(void);
/* CLOCK_MONOTONIC in nanoseconds: for durations. */
int64_t util_mono_ns(void);
/* Test-only knobs (fault injection, short timers) come from the environment only
 * in builds configured with -Dtest_hooks=true (make test's build-test); in every
 * other build this returns NULL, so no environment variable can change them. */
const char *util_test_hook(const char *name);
/* Unix seconds. */
int64_t util_now(void);
/* RFC3339 with nanoseconds, UTC: "2018-03-22T02:24:06.945319214Z" (out >= 40). */
void util_rfc3339(int64_t ns, char *out, size_t len);
/* Parses what util_rfc3339 writes (and second precision); returns 0 or CF_EINVAL. */
int util_parse_rfc3339(const char *s, int64_t *ret_ns);

/* Go strconv.ParseBool: 1,t,T,TRUE,true,True / 0,f,F,FALSE,false,False. */
int util_parse_bool(const char *s, bool *ret);
/* Checked strtoll wrapper: whole string must be a base-10 integer. */
int util_parse_int(const char *s, int64_t *ret);

/* Writes a printf-style message into err (errlen bytes with the NUL; a longer
 * one is cut), for the err/errlen out-parameters of parsers and loaders. Does
 * nothing when err is NULL or errlen is 0. */
void util_errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Reads all of path into a new NUL-terminated buffer (*ret_len bytes before
 * the NUL; free it, wiping it first if it may hold secrets: no other copy is
 * left behind, on any path). A missing file is
 * CF_ENOTFOUND, one over max bytes CF_ETOOBIG, any other failure CF_EIO; each
 * with the path and the cause in err. *ret is NULL on failure. */
int util_read_file(const char *path, size_t max, char **ret, size_t *ret_len, char *err,
                   size_t errlen);

/* Constant-time comparison of two NUL-terminated strings (lengths may leak). */
bool util_streq_ct(const char *a, const char *b) __attribute__((warn_unused_result));

/* FNV-1a, for hash tables: continue h (UTIL_FNV1A_INIT to start) over n bytes.
 * Not a defence against keys chosen to collide. */
#define UTIL_FNV1A_INIT  2166136261u
#define UTIL_FNV1A_PRIME 16777619u
static inline uint32_t
util_fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UTIL_FNV1A_PRIME;
	return h;
}

/* FNV-1a of a C string. */
static inline uint32_t
util_fnv1a_str(const char *s)
{
	uint32_t h = UTIL_FNV1A_INIT;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UTIL_FNV1A_PRIME;
	return h;
}

#endif
