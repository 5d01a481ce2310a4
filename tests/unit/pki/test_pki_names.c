/* test_pki_names.c - the name policy of a pki role (pki_name_allowed): bare
 * domains, subdomains, wildcards, globs, localhost, emails, allow_any_name
 * with and without enforce_hostnames (Vault's PKI API, create/update role);
 * and the key usage names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engines/pki/pki_int.h"
#include "lib/err.h"

#include <jansson.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

enum {
	ANY = 1 << 0,
	LOCAL = 1 << 1,
	SUB = 1 << 2,
	BARE = 1 << 3,
	GLOB = 1 << 4,
	WILD = 1 << 5,
	HOSTS = 1 << 6,
};

static const char *const example[] = {"example.com", NULL};
static const char *const globbed[] = {"ftp*.example.org", "*.corp.example.net", NULL};
static const char *const none[] = {NULL};

static const struct {
	unsigned flags;
	const char *const *domains;
	const char *name;
	bool allowed;
} vectors[] = {
        /* bare domains */
        {BARE | WILD | HOSTS, example, "example.com", true},
        {BARE | WILD | HOSTS, example, "EXAMPLE.com", true},
        {BARE | WILD | HOSTS, example, "www.example.com", false},
        {WILD | HOSTS, example, "example.com", false},
        {BARE | WILD | HOSTS, example, "user@example.com", true},
        /* subdomains */
        {SUB | WILD | HOSTS, example, "www.example.com", true},
        {SUB | WILD | HOSTS, example, "a.b.example.com", true},
        {SUB | WILD | HOSTS, example, "example.com", false},
        {SUB | WILD | HOSTS, example, "wwwexample.com", false},
        {SUB | WILD | HOSTS, example, "example.com.evil.com", false},
        {SUB | WILD | HOSTS, example, ".example.com", false},
        {SUB | WILD | HOSTS, example, "user@mail.example.com", true},
        /* wildcards: one, in the left-most label, when allowed */
        {SUB | WILD | HOSTS, example, "*.example.com", true},
        {SUB | WILD | HOSTS, example, "foo*.example.com", true},
        {SUB | WILD | HOSTS, example, "*.*.example.com", false},
        {SUB | WILD | HOSTS, example, "www.*.example.com", false},
        {SUB | HOSTS, example, "*.example.com", false},
        {SUB | WILD | HOSTS, example, "*@example.com", false},
        /* host names */
        {SUB | WILD | HOSTS, example, "bad_name.example.com", false},
        {SUB | WILD | HOSTS, example, "-bad.example.com", false},
        {SUB | WILD | HOSTS, example, "bad-.example.com", false},
        {SUB | WILD, example, "bad_name.example.com", true},
        {SUB | WILD | HOSTS, example, "", false},
        /* globs */
        {GLOB | WILD | HOSTS, globbed, "ftp1.example.org", true},
        {GLOB | WILD | HOSTS, globbed, "ftp.example.org", true},
        {GLOB | WILD | HOSTS, globbed, "www.example.org", false},
        {GLOB | WILD | HOSTS, globbed, "a.b.corp.example.net", true},
        {WILD | HOSTS, globbed, "ftp1.example.org", false},
        /* localhost */
        {LOCAL | WILD | HOSTS, none, "localhost", true},
        {LOCAL | WILD | HOSTS, none, "localdomain", true},
        {LOCAL | WILD | HOSTS, none, "a.localhost", false},
        {LOCAL | SUB | WILD | HOSTS, none, "a.localhost", true},
        {WILD | HOSTS, none, "localhost", false},
        {LOCAL | WILD | HOSTS, none, "user@localhost", true},
        /* any name: still a host name when enforce_hostnames */
        {ANY | WILD | HOSTS, none, "anything.example", true},
        {ANY | WILD | HOSTS, none, "Not A Host", false},
        {ANY | WILD, none, "Not A Host", true},
        {ANY | HOSTS, none, "*.example.com", false},
        {ANY | WILD | HOSTS, none, "a@b@c", false},
};

static void
test_pki_name_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		unsigned f = vectors[i].flags;
		struct pki_name_policy p = {
		        .allowed_domains = vectors[i].domains,
		        .allow_any_name = f & ANY,
		        .allow_localhost = f & LOCAL,
		        .allow_subdomains = f & SUB,
		        .allow_bare_domains = f & BARE,
		        .allow_glob_domains = f & GLOB,
		        .allow_wildcard_certificates = f & WILD,
		        .enforce_hostnames = f & HOSTS,
		};
		bool got = pki_name_allowed(&p, vectors[i].name);
		if (got != vectors[i].allowed)
			fail_msg("vector %zu: %s: got %d", i, vectors[i].name, got);
	}
}

static void
test_pki_key_usage_names(void **state)
{
	json_t *ok = json_pack("[s,s,s]", "DigitalSignature", "keyencipherment", "CRLSign");
	json_t *bad = json_pack("[s,s]", "DigitalSignature", "Teleport");
	const char *which = NULL;
	unsigned bits = 0;

	(void)state;
	assert_int_equal(pki_key_usage_bits(ok, &bits, &which), 0);
	assert_int_equal(bits, X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_KEY_ENCIPHERMENT |
	                               X509v3_KU_CRL_SIGN);
	assert_int_equal(pki_key_usage_bits(bad, &bits, &which), CF_EINVAL);
	assert_string_equal(which, "Teleport");
	assert_string_equal(pki_ext_key_usage_name("serverauth"), "ServerAuth");
	assert_null(pki_ext_key_usage_name("Flying"));
	json_decref(ok);
	json_decref(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pki_name_vectors),
	        cmocka_unit_test(test_pki_key_usage_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
