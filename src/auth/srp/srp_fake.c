/* srp_fake.c - what init answers for a username nobody registered
 * (docs/internals/auth.md, SRP, "Unknown users"): a stable salt and a verifier derived from
 * the mount's fake_key, so the answer and the work match a known user's. */
#include "auth/srp/srp_int.h"
#include "lib/secmem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

/* out = HMAC-SHA256(key, label | 0x00 | user) */
static int
fake_hmac(const uint8_t key[SRP_FAKE_KEY_BYTES], const char *label, const char *user,
          uint8_t out[32])
{
	uint8_t msg[16 + SRP_USERNAME_MAX + 1];
	size_t ll = strlen(label), ul = strnlen(user, SRP_USERNAME_MAX + 1);
	unsigned int olen = 0;
	int r = 0;

	if (ll + 1 + ul > sizeof(msg))
		return CF_EINVAL;
	memcpy(msg, label, ll);
	msg[ll] = 0x00;
	memcpy(msg + ll + 1, user, ul);
	if (!HMAC(EVP_sha256(), key, SRP_FAKE_KEY_BYTES, msg, ll + 1 + ul, out, &olen) ||
	    olen != 32)
		r = CF_EINTERNAL;
	secmem_wipe(msg, sizeof(msg));
	return r;
}

int
srp_fake_salt(const uint8_t key[SRP_FAKE_KEY_BYTES], const char *user, uint8_t out[32])
{
	return fake_hmac(key, "salt", user, out);
}

int
srp_fake_verifier(const struct srp6a_group *grp, const uint8_t key[SRP_FAKE_KEY_BYTES],
                  const char *user, uint8_t *out)
{
	uint8_t e[32];
	int r;

	r = fake_hmac(key, "verifier", user, e);
	if (r == 0)
		r = srp6a_pow_g(grp, e, sizeof(e), out);
	secmem_wipe(e, sizeof(e));
	return r;
}
