/* test_negative.c - the scanner's hard negatives (src/tools/scan/negative.c):
 * every kind of placeholder, reference, encrypted value, hash, public material
 * and documentation sample is recognised, and random secret-shaped values are
 * not. Secret-shaped values are built at run time from a fixed-seed generator,
 * so no committed literal looks like a credential. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tools/scan/negative.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Writes n random characters of alphabet into out and NUL-terminates it. */
static void
rand_str(char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet), i;

	for (i = 0; i < n; i++)
		out[i] = alphabet[rng() % k];
	out[n] = '\0';
}

static const char B62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char HEX[] = "0123456789abcdef";

static bool
neg(bool (*fn)(const char *, size_t), const char *s)
{
	return fn(s, strlen(s));
}

static void
expect_all(bool (*fn)(const char *, size_t), const char *const *v)
{
	for (; *v != NULL; v++) {
		if (!neg(fn, *v))
			fail_msg("not recognised: %s", *v);
		if (!neg(negative_value, *v))
			fail_msg("negative_value misses: %s", *v);
	}
}

static void
test_negative_placeholders(void **state)
{
	static const char *const v[] = {
	        "changeme",
	        "CHANGE_ME",
	        "<YOUR_API_KEY>",
	        "your-api-key-here",
	        "REPLACE_ME",
	        "TODO",
	        "xxxxxxxxxxxxxxxx",
	        "XXXXXXXX",
	        "********",
	        "REDACTED",
	        "dummy-token-1",
	        "example-password",
	        "sk-...",
	        "\"password\"",
	        "none",
	        "null",
	        "'changeme'",
	        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	        "sk_live_XXXXXXXXXXXXXXXXXXXXXXXX",
	        "npm_000000000000000000000000000000000000",
	        "[token]",
	        "insert_key_here",
	        "my-secret-here",
	        "",
	        "  ",
	        NULL,
	};

	(void)state;
	expect_all(negative_placeholder, v);
}

static void
test_negative_references(void **state)
{
	static const char *const v[] = {
	        "os.environ[\"DB_PASSWORD\"]",
	        "os.getenv('API_KEY')",
	        "process.env.TOKEN",
	        "System.getenv(\"SECRET\")",
	        "os.Getenv(\"TOKEN\")",
	        "ENV.fetch('KEY')",
	        "ENV['KEY']",
	        "${DB_PASSWORD}",
	        "$DB_PASSWORD",
	        "%(password)s",
	        "{{ .Values.db.password }}",
	        "${{ secrets.API_TOKEN }}",
	        "{{ vault \"secret/data/db\" \"password\" }}",
	        "secretKeyRef",
	        "$(cat /run/secrets/db_password)",
	        "<%= ENV['X'] %>",
	        "#{db_password}",
	        "%DB_PASSWORD%",
	        "{password}",
	        "arn:aws:secretsmanager:us-east-1:1:secret:x",
	        NULL,
	};

	(void)state;
	expect_all(negative_reference, v);
}

static void
test_negative_encrypted(void **state)
{
	static const char *const v[] = {
	        "ENC[AES256_GCM,data:Tr7o1VfQ==,iv:1Bb3F1x=,tag:Zf8Q==,type:str]",
	        "$ANSIBLE_VAULT;1.1;AES256\n6231356131",
	        "encrypted:BDqDBibm4wsYqMpCjTQ6BsDHmoc",
	        "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w==",
	        "!vault |",
	        NULL,
	};
	char sealed[400];

	(void)state;
	expect_all(negative_encrypted, v);
	sealed[0] = 'A';
	sealed[1] = 'g';
	rand_str(sealed + 2, 360, B64);
	assert_true(neg(negative_encrypted, sealed));
}

static void
test_negative_hashes(void **state)
{
	static const char *const v[] = {
	        "123e4567-e89b-12d3-a456-426614174000",
	        "--hash=sha256:0a1b2c3d",
	        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
	        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
	        "h1:Zm9vYmFy+/=",
	        "data:image/png;base64,iVBORw0KGgo",
	        "nonce-2726c7f26c",
	        NULL,
	};
	char b[200];

	(void)state;
	expect_all(negative_hash, v);
	memcpy(b, "sha256:", 7);
	rand_str(b + 7, 64, HEX);
	assert_true(neg(negative_hash, b));
	memcpy(b, "sha512-", 7);
	rand_str(b + 7, 86, B64);
	assert_true(neg(negative_hash, b));
	memcpy(b, "sha384-", 7);
	rand_str(b + 7, 64, B64);
	assert_true(neg(negative_hash, b));
}

static void
test_negative_public(void **state)
{
	static const char *const v[] = {
	        "-----BEGIN PUBLIC KEY-----",
	        "-----BEGIN CERTIFICATE-----\nMIIB",
	        "-----BEGIN CERTIFICATE REQUEST-----",
	        "-----BEGIN PGP PUBLIC KEY BLOCK-----",
	        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host",
	        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB",
	        "1234567890-abc123def456.apps.googleusercontent.com",
	        NULL,
	};
	char b[100];

	(void)state;
	expect_all(negative_public, v);
	memcpy(b, "pk_live_", 8);
	rand_str(b + 8, 24, B62);
	assert_true(neg(negative_public, b));
	memcpy(b, "0x", 2);
	rand_str(b + 2, 40, HEX);
	assert_true(neg(negative_public, b));
}

static void
test_negative_doc_samples(void **state)
{
	char b[200];

	(void)state;
	snprintf(b, sizeof(b), "%s%s", "AKIAIOSFODNN7", "EXAMPLE");
	assert_true(neg(negative_doc_sample, b));
	snprintf(b, sizeof(b), "%s%s%s", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY");
	assert_true(neg(negative_doc_sample, b));
	snprintf(b, sizeof(b), "%s.%s.%s%s", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
	         "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
	         "SflKxwRJSMeKKF2QT4fwpMeJf36POk6y", "JV_adQssw5c");
	assert_true(neg(negative_doc_sample, b));
	assert_true(neg(negative_value, b));
}

/* Random secret-shaped values are no negative of any kind. */
static void
test_negative_random_values_pass(void **state)
{
	char b[128];
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		rand_str(b, 16 + (size_t)(i % 64), i % 3 == 0 ? HEX : i % 3 == 1 ? B62 : B64);
		if (neg(negative_value, b))
			fail_msg("random value judged negative: %s", b);
	}
	/* real-looking passwords and prefixed tokens */
	assert_false(neg(negative_value, "Tr0ub4dor&3-horse"));
	assert_false(neg(negative_value, "s3rv1ce-Acc0unt!pw"));
	memcpy(b, "sk_live_", 8);
	rand_str(b + 8, 24, B62);
	assert_false(neg(negative_value, b));
	memcpy(b, "ghp_", 4);
	rand_str(b + 4, 36, B62);
	assert_false(neg(negative_value, b));
}

static void
test_negative_context(void **state)
{
	static const char *const yes[] = {
	        "  digest: ",
	        "\"sha256\": \"",
	        "integrity=\"",
	        "etag = '",
	        "commit: ",
	        "pip install x --hash=",
	        "valueFrom: secretKeyRef: ",
	        "script-src 'nonce-",
	        "{\"private_key\": \"a\", \"public_key\": \"",
	        NULL,
	};
	static const char *const no[] = {
	        "password = \"",
	        "  api_token: ",
	        "{\"public_key\": \"a\", \"private_key\": \"",
	        "digest: x\npassword: ",
	        NULL,
	};
	const char *const *p;

	(void)state;
	for (p = yes; *p != NULL; p++)
		if (!negative_context(*p, strlen(*p)))
			fail_msg("context not recognised: %s", *p);
	for (p = no; *p != NULL; p++)
		if (negative_context(*p, strlen(*p)))
			fail_msg("context wrongly negative: %s", *p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_negative_placeholders),
	        cmocka_unit_test(test_negative_references),
	        cmocka_unit_test(test_negative_encrypted),
	        cmocka_unit_test(test_negative_hashes),
	        cmocka_unit_test(test_negative_public),
	        cmocka_unit_test(test_negative_doc_samples),
	        cmocka_unit_test(test_negative_random_values_pass),
	        cmocka_unit_test(test_negative_context),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
