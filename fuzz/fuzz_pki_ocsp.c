/* fuzz_pki_ocsp.c - what the pki engine's OCSP responder reads from anyone
 * (engines/pki/pki_ocsp.c, no token needed): a DER OCSP request (POST ocsp)
 * or its base64 in a path (GET ocsp/<b64>). Nothing crashes or leaks, and
 * every input gets a DER OCSPResponse that parses back; a successful one is
 * signed by the issuer. The first byte picks DER or base64. */
#include "engines/pki/pki_int.h"
#include "engines/pki/pki_rev.h"
#include "lib/err.h"
#include "lib/secmem.h"

#include <assert.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pki_issuer *issuer;
static X509_STORE *store;

/* A made-up answer per serial: good, revoked or unknown by its last digit. */
static int
lookup(void *arg, const char *serial, int64_t *ret_at)
{
	size_t n = strlen(serial);

	(void)arg;
	assert(n > 0);
	switch (serial[n - 1] % 3) {
	case 0:
		return V_OCSP_CERTSTATUS_GOOD;
	case 1:
		*ret_at = 1700000000;
		return V_OCSP_CERTSTATUS_REVOKED;
	default:
		return V_OCSP_CERTSTATUS_UNKNOWN;
	}
}

static void
setup(void)
{
	struct pki_cert_params p = {.common_name = "fuzz CA",
	                            .not_before = 1700000000,
	                            .not_after = 4000000000,
	                            .is_ca = true,
	                            .max_path_length = -1};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];

	if (pki_keygen("ec", 256, &key, err, sizeof(err)) != 0)
		abort();
	p.pubkey = key;
	if (pki_cert_sign(NULL, key, &p, NULL, &cert, err, sizeof(err)) != 0)
		abort();
	store = X509_STORE_new();
	if (!store || !X509_STORE_add_cert(store, cert))
		abort();
	if (pki_issuer_new(cert, key, NULL, &issuer) != 0)
		abort();
}

static void
answer(const uint8_t *der, size_t len)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	STACK_OF(X509) * signer;

	if (pki_ocsp_respond(issuer, der, len, 1700000100, 3600, lookup, NULL, &out, &outlen) != 0)
		return; /* out of memory only */
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen);
	assert(resp && p == out + outlen);
	if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		bs = OCSP_response_get1_basic(resp);
		assert(bs);
		signer = sk_X509_new_null();
		assert(signer && sk_X509_push(signer, issuer->cert));
		assert(OCSP_basic_verify(bs, signer, store, OCSP_TRUSTOTHER) == 1);
		sk_X509_free(signer);
		OCSP_BASICRESP_free(bs);
	}
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *s;

	if (!issuer)
		setup();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		answer(data + 1, size - 1);
	} else {
		s = malloc(size);
		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (pki_ocsp_b64_decode(s, &der, &len) == 0) {
			answer(der, len);
			secmem_free(der, len);
		}
		free(s);
	}
	ERR_clear_error();
	return 0;
}
