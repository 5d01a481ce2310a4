/* fuzz_srp.c - the untrusted inputs of auth/srp login/init and login/verify
 * (docs/internals/auth.md, SRP): usernames, the hex of A, session ids and M1, and
 * registered verifiers. Nothing crashes; what parses obeys the documented rules
 * (1..384 bytes, 0 < A < N; 1 < v < N; exact lengths), and a parsed A, written
 * back as lowercase hex, parses to the same PAD(A). */
#include "crypto/srp6a.h"
#include "auth/srp/srp_int.h"
#include "lib/err.h"
#include "lib/util.h"

#include <assert.h>
#include <openssl/bn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_public(const struct srp6a_group *grp, const uint8_t *pad)
{
	BIGNUM *x = BN_bin2bn(pad, SRP_N_BYTES, NULL), *n = NULL;

	assert(x);
	assert(BN_hex2bn(&n, srp6a_default_n_hex) > 0);
	assert(!BN_is_zero(x));
	assert(BN_cmp(x, n) < 0);
	BN_free(x);
	BN_free(n);
	(void)grp;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct srp6a_group *grp = srp6a_group_default();
	uint8_t A[SRP_N_BYTES], A2[SRP_N_BYTES], v[SRP_N_BYTES], id[SRP_SESSION_ID_BYTES],
	        raw[SRP_N_BYTES];
	char *s, hex[2 * SRP_N_BYTES + 1];
	size_t len = 0;
	int r;

	if (size > 4096 || !grp)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* username: the regular expression, by hand */
	if (srp_parse_username(s)) {
		size_t n = strlen(s);
		assert(n >= 1 && n <= SRP_USERNAME_MAX);
		assert((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'));
		for (size_t i = 0; i < n; i++)
			assert(strchr("abcdefghijklmnopqrstuvwxyz0123456789._@+-", s[i]) != NULL);
	}

	/* A */
	r = srp_parse_A(grp, s, A);
	assert(r == 0 || r == CF_EINVAL);
	if (r == 0) {
		check_public(grp, A);
		util_hex(A, sizeof(A), hex);
		assert(srp_parse_A(grp, hex, A2) == 0);
		assert(memcmp(A, A2, sizeof(A)) == 0);
	}

	/* generic hex, as B at the client */
	r = srp_parse_hex(s, raw, sizeof(raw), &len);
	assert(r == 0 || r == CF_EINVAL);
	if (r == 0) {
		assert(len >= 1 && len <= sizeof(raw));
		assert(len == (strlen(s) + 1) / 2);
		if (srp6a_public_check(grp, raw, len, A2) == 0)
			check_public(grp, A2);
	}

	/* session ids and M1: exactly 32 bytes */
	r = srp_parse_hex_exact(s, id, sizeof(id));
	assert(r == 0 || r == CF_EINVAL);
	if (r == 0) {
		assert(strlen(s) == 2 * sizeof(id));
		util_hex(id, sizeof(id), hex);
		assert(strncasecmp(hex, s, 2 * sizeof(id)) == 0);
	}

	/* a verifier at registration */
	r = srp_parse_verifier(grp, s, v);
	assert(r == 0 || r == CF_EINVAL);
	if (r == 0) {
		assert(strlen(s) == 2 * SRP_N_BYTES);
		check_public(grp, v);
		assert(!(v[SRP_N_BYTES - 1] == 1 && srp6a_verifier_check(grp, v, sizeof(v)) != 0));
	}
	free(s);
	return 0;
}
