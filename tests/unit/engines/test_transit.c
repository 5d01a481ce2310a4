/* test_transit.c - the pure parts of the transit engine (ciphertext strings,
 * batch shaping) and its key operations on records built in memory: every key
 * type encrypts/decrypts or signs/verifies, tampering is caught, derivation
 * needs its context, rotation keeps old versions readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/transit/transit_int.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ciphertext strings ---- */

static const struct {
	const char *in;
	int r;
	int64_t version;
	const char *payload; /* or the error text */
} ct_vectors[] = {
        {"vault:v1:AAAA", 0, 1, "AAAA"},
        {"vault:v42:", 0, 42, ""},
        {"vault:v2147483647:x", 0, 2147483647, "x"},
        {"vault:v0:abc", 0, 1, "abc"}, /* Vault: version 0 reads as 1 */
        {"vault:v007:abc", 0, 7, "abc"},
        {"vault:v1:a:b", 0, 1, "a:b"},
        {"", CF_EINVAL, 0, "invalid ciphertext: no prefix"},
        {"vault", CF_EINVAL, 0, "invalid ciphertext: no prefix"},
        {"Vault:v1:AAAA", CF_EINVAL, 0, "invalid ciphertext: no prefix"},
        {"vault:v1", CF_EINVAL, 0, "invalid ciphertext: wrong number of fields"},
        {"vault:", CF_EINVAL, 0, "invalid ciphertext: wrong number of fields"},
        {"vault::AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:v:AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:1:AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:v-1:AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:v+1:AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:v1x:AAAA", CF_EINVAL, 0, "invalid ciphertext: version number could not be decoded"},
        {"vault:v2147483648:A", CF_EINVAL, 0,
         "invalid ciphertext: version number could not be decoded"},
        {"vault:v99999999999:A", CF_EINVAL, 0,
         "invalid ciphertext: version number could not be decoded"},
};

static void
test_transit_ct_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ct_vectors) / sizeof(ct_vectors[0]); i++) {
		int64_t v = -1;
		const char *p = NULL, *err = NULL;
		int r = transit_ct_parse(ct_vectors[i].in, &v, &p, &err);
		if (r != ct_vectors[i].r)
			fail_msg("vector %zu (%s): r=%d", i, ct_vectors[i].in, r);
		if (r == 0) {
			assert_int_equal(v, ct_vectors[i].version);
			assert_string_equal(p, ct_vectors[i].payload);
		} else {
			assert_string_equal(err, ct_vectors[i].payload);
			assert_int_equal(v, -1); /* out-params untouched on failure */
		}
	}
}

static void
test_transit_ct_format_round_trip(void **state)
{
	uint8_t in[300], *out;
	size_t outlen;
	(void)state;

	for (size_t n = 0; n < sizeof(in); n += 37) {
		for (int url = 0; url <= 1; url++) {
			int64_t v;
			const char *p, *err;
			char *s;
			util_random(in, n);
			s = transit_ct_format((int64_t)n + 1, in, n, url);
			assert_non_null(s);
			assert_int_equal(transit_ct_parse(s, &v, &p, &err), 0);
			assert_int_equal(v, (int64_t)n + 1);
			if (url)
				assert_null(strpbrk(p, "+/="));
			assert_int_equal(transit_ct_decode(p, url, &out, &outlen), 0);
			assert_int_equal(outlen, n);
			assert_memory_equal(out, in, n);
			free(out);
			free(s);
		}
	}
}

static void
test_transit_ct_decode_rejects(void **state)
{
	static const char *bad[] = {"!!!!", "AAA=A", "AAAA====", "A", "AA AA", "-_-_"};
	uint8_t *out;
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(transit_ct_decode(bad[i], false, &out, &n), CF_EINVAL);
	assert_int_equal(transit_ct_decode("AAA", false, &out, &n), 0); /* no padding */
	assert_int_equal(n, 2);
	free(out);
	assert_int_equal(transit_ct_decode("-_-_", true, &out, &n), 0);
	free(out);
	assert_int_equal(transit_ct_decode("+/+/", true, &out, &n), CF_EINVAL);
}

/* ---- batch shaping ---- */

static void
test_transit_batch_status_and_items(void **state)
{
	json_t *in = json_pack("{s:s, s:s}", "plaintext", "x", "reference", "r-7");
	json_t *res = json_array(), *e;
	(void)state;

	assert_int_equal(transit_batch_status(res, 0), 200); /* vacuous */
	json_array_append_new(res, json_pack("{s:s}", "ciphertext", "vault:v1:x"));
	json_array_append_new(res, json_pack("{s:s}", "error", "")); /* empty = no error */
	assert_int_equal(transit_batch_status(res, 0), 200);
	e = transit_batch_error("cipher: message authentication failed", in);
	assert_string_equal(json_string_value(json_object_get(e, "error")),
	                    "cipher: message authentication failed");
	assert_string_equal(json_string_value(json_object_get(e, "reference")), "r-7");
	json_array_append_new(res, e);
	assert_int_equal(transit_batch_status(res, 0), 400);
	assert_int_equal(transit_batch_status(res, 207), 207); /* partial_failure_response_code */
	json_decref(res);
	res = json_array();
	json_array_append_new(res, transit_batch_error("a", NULL));
	json_array_append_new(res, transit_batch_error(NULL, NULL));
	assert_null(json_object_get(json_array_get(res, 0), "reference"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(res, 1), "error")),
	                    "internal error");
	assert_int_equal(transit_batch_status(res, 207), 400); /* all failed */
	json_decref(res);
	json_decref(in);
}

/* ---- keys ---- */

static struct tkey *
make_key(const char *type, bool derived, bool convergent)
{
	const struct tk_type *t = tk_type_find(type);
	json_t *rec = NULL;
	struct tkey *k = NULL;

	assert_non_null(t);
	assert_int_equal(tkey_record_new(t, derived, convergent, true, false, &rec), 0);
	assert_int_equal(tkey_parse("k", rec, &k), 0);
	json_decref(rec);
	return k;
}

static void
test_transit_encrypt_each_type(void **state)
{
	static const char *types[] = {"aes128-gcm96", "aes256-gcm96", "chacha20-poly1305",
	                              "rsa-2048"};
	const uint8_t pt[] = "the quick brown fox";
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct tkey *k = make_key(types[i], false, false);
		char *ct = NULL;
		uint8_t *back = NULL, *raw;
		size_t blen = 0, rawlen;
		int64_t v = 0, dv = 0;
		const char *p, *e;

		assert_int_equal(tkey_encrypt(k, 0, NULL, 0, NULL, 0, pt, sizeof(pt), &ct, &v, err,
		                              sizeof(err)),
		                 0);
		assert_int_equal(v, 1);
		assert_int_equal(strncmp(ct, "vault:v1:", 9), 0);
		assert_int_equal(tkey_decrypt(k, ct, NULL, 0, &back, &blen, &dv, err, sizeof(err)),
		                 0);
		assert_int_equal(blen, sizeof(pt));
		assert_memory_equal(back, pt, sizeof(pt));
		secmem_free(back, blen);
		/* every flipped bit of the payload is caught */
		assert_int_equal(transit_ct_parse(ct, &v, &p, &e), 0);
		assert_int_equal(transit_ct_decode(p, false, &raw, &rawlen), 0);
		for (size_t b = 0; b < rawlen; b += 3) {
			char *t;
			raw[b] ^= 0x01;
			t = transit_ct_format(1, raw, rawlen, false);
			err[0] = '\0';
			assert_int_equal(
			        tkey_decrypt(k, t, NULL, 0, &back, &blen, &dv, err, sizeof(err)),
			        CF_ECRYPTO);
			free(t);
			raw[b] ^= 0x01;
		}
		assert_true(strstr(err, "cipher: message authentication failed") ||
		            strstr(err, "decryption error"));
		/* too short, and a context for a key that is not derived */
		assert_int_equal(tkey_decrypt(k, "vault:v1:AAAA", NULL, 0, &back, &blen, &dv, err,
		                              sizeof(err)),
		                 strcmp(types[i], "rsa-2048") == 0 ? CF_ECRYPTO : CF_EINVAL);
		assert_int_equal(tkey_decrypt(k, ct, (const uint8_t *)"c", 1, &back, &blen, &dv,
		                              err, sizeof(err)),
		                 CF_EINVAL);
		free(raw);
		free(ct);
		tkey_unref(k);
	}
}

static void
test_transit_derived_and_convergent(void **state)
{
	struct tkey *k = make_key("aes256-gcm96", true, true);
	char err[256], *a = NULL, *b = NULL, *c = NULL;
	uint8_t *back = NULL;
	size_t blen;
	int64_t v;
	(void)state;

	assert_int_equal(tkey_encrypt(k, 0, NULL, 0, NULL, 0, (const uint8_t *)"x", 1, &a, &v, err,
	                              sizeof(err)),
	                 CF_EINVAL); /* context required */
	assert_int_equal(tkey_encrypt(k, 0, (const uint8_t *)"ctx1", 4, NULL, 0,
	                              (const uint8_t *)"same", 4, &a, &v, err, sizeof(err)),
	                 0);
	assert_int_equal(tkey_encrypt(k, 0, (const uint8_t *)"ctx1", 4, NULL, 0,
	                              (const uint8_t *)"same", 4, &b, &v, err, sizeof(err)),
	                 0);
	assert_int_equal(tkey_encrypt(k, 0, (const uint8_t *)"ctx2", 4, NULL, 0,
	                              (const uint8_t *)"same", 4, &c, &v, err, sizeof(err)),
	                 0);
	assert_string_equal(a, b); /* convergent */
	assert_string_not_equal(a, c);
	assert_int_equal(
	        tkey_decrypt(k, a, (const uint8_t *)"ctx2", 4, &back, &blen, &v, err, sizeof(err)),
	        CF_ECRYPTO);
	assert_int_equal(
	        tkey_decrypt(k, a, (const uint8_t *)"ctx1", 4, &back, &blen, &v, err, sizeof(err)),
	        0);
	assert_memory_equal(back, "same", 4);
	secmem_free(back, blen);
	free(a);
	free(b);
	free(c);
	tkey_unref(k);
}

static void
test_transit_rotation_and_min_versions(void **state)
{
	const struct tk_type *t = tk_type_find("chacha20-poly1305");
	json_t *rec = NULL;
	struct tkey *k = NULL;
	char err[256], *c1 = NULL, *c2 = NULL;
	uint8_t *back;
	size_t blen;
	int64_t v;
	(void)state;

	assert_int_equal(tkey_record_new(t, false, false, false, false, &rec), 0);
	assert_int_equal(tkey_parse("k", rec, &k), 0);
	assert_int_equal(tkey_encrypt(k, 0, NULL, 0, NULL, 0, (const uint8_t *)"a", 1, &c1, &v, err,
	                              sizeof(err)),
	                 0);
	tkey_unref(k);
	assert_int_equal(tkey_record_rotate(rec, util_now()), 0);
	assert_int_equal(tkey_parse("k", rec, &k), 0);
	assert_int_equal(k->latest, 2);
	assert_int_equal(tkey_encrypt(k, 0, NULL, 0, NULL, 0, (const uint8_t *)"b", 1, &c2, &v, err,
	                              sizeof(err)),
	                 0);
	assert_int_equal(v, 2);
	assert_int_equal(tkey_decrypt(k, c1, NULL, 0, &back, &blen, &v, err, sizeof(err)), 0);
	secmem_free(back, blen);
	assert_int_equal(tkey_encrypt(k, 3, NULL, 0, NULL, 0, (const uint8_t *)"b", 1, &c2, &v, err,
	                              sizeof(err)),
	                 CF_EINVAL);
	tkey_unref(k);
	json_object_set_new(rec, "min_decryption_version", json_integer(2));
	assert_int_equal(tkey_parse("k", rec, &k), 0);
	assert_int_equal(tkey_decrypt(k, c1, NULL, 0, &back, &blen, &v, err, sizeof(err)),
	                 CF_EINVAL);
	assert_non_null(strstr(err, "disallowed by policy"));
	assert_int_equal(tkey_decrypt(k, c2, NULL, 0, &back, &blen, &v, err, sizeof(err)), 0);
	secmem_free(back, blen);
	tkey_unref(k);
	/* a damaged record does not parse */
	json_object_set_new(rec, "latest_version", json_integer(5));
	assert_int_equal(tkey_parse("k", rec, &k), CF_EIO);
	free(c1);
	free(c2);
	json_decref(rec);
}

static void
test_transit_sign_verify_each_type(void **state)
{
	static const char *types[] = {"ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521",
	                              "rsa-2048"};
	const uint8_t msg[] = "signed message";
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct tkey *k = make_key(types[i], false, false);
		struct tk_sign_opts o = {0};
		char *sig = NULL, *mac = NULL;
		int64_t v;
		bool ok = false;

		assert_non_null(k->ver[0].public_key);
		assert_int_equal(tkey_sign(k, 0, &o, msg, sizeof(msg), &sig, &v, err, sizeof(err)),
		                 0);
		assert_int_equal(tkey_verify(k, &o, msg, sizeof(msg), sig, &ok, err, sizeof(err)),
		                 0);
		assert_true(ok);
		assert_int_equal(
		        tkey_verify(k, &o, msg, sizeof(msg) - 1, sig, &ok, err, sizeof(err)), 0);
		assert_false(ok);
		if (strncmp(types[i], "ecdsa", 5) == 0) {
			free(sig);
			o.marshal = "jws";
			assert_int_equal(
			        tkey_sign(k, 0, &o, msg, sizeof(msg), &sig, &v, err, sizeof(err)),
			        0);
			assert_int_equal(
			        tkey_verify(k, &o, msg, sizeof(msg), sig, &ok, err, sizeof(err)),
			        0);
			assert_true(ok);
		}
		assert_int_equal(
		        tkey_hmac(k, 0, NULL, msg, sizeof(msg), &mac, &v, err, sizeof(err)), 0);
		assert_int_equal(
		        tkey_hmac_verify(k, NULL, msg, sizeof(msg), mac, &ok, err, sizeof(err)), 0);
		assert_true(ok);
		assert_int_equal(tkey_hmac_verify(k, "sha2-512", msg, sizeof(msg), mac, &ok, err,
		                                  sizeof(err)),
		                 0);
		assert_false(ok);
		free(mac);
		free(sig);
		tkey_unref(k);
	}
	{
		struct tkey *k = make_key("aes256-gcm96", false, false);
		struct tk_sign_opts o = {0};
		char *sig = NULL;
		int64_t v;
		assert_int_equal(tkey_sign(k, 0, &o, msg, sizeof(msg), &sig, &v, err, sizeof(err)),
		                 CF_EINVAL);
		tkey_unref(k);
	}
}

static void
test_transit_hash_vectors(void **state)
{
	uint8_t out[64];
	size_t n;
	char hex[129];
	(void)state;

	assert_int_equal(transit_hash("sha2-256", (const uint8_t *)"abc", 3, out, &n), 0);
	util_hex(out, n, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(transit_hash("sha3-256", (const uint8_t *)"", 0, out, &n), 0);
	util_hex(out, n, hex);
	assert_string_equal(hex,
	                    "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
	assert_int_equal(transit_hash("md5", (const uint8_t *)"", 0, out, &n), CF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_transit_ct_parse_vectors),
	        cmocka_unit_test(test_transit_ct_format_round_trip),
	        cmocka_unit_test(test_transit_ct_decode_rejects),
	        cmocka_unit_test(test_transit_batch_status_and_items),
	        cmocka_unit_test(test_transit_encrypt_each_type),
	        cmocka_unit_test(test_transit_derived_and_convergent),
	        cmocka_unit_test(test_transit_rotation_and_min_versions),
	        cmocka_unit_test(test_transit_sign_verify_each_type),
	        cmocka_unit_test(test_transit_hash_vectors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
