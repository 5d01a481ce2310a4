/* audit_chain.c - the keyed hash chain and the signed checkpoints of a file
 * audit device (docs/internals/audit.md "The chain"): segment keys, the reused
 * HMAC-SHA-256 contexts, the checkpoint message and its Ed25519 signature.
 *
 * The chain is split into segments. The segment that follows line b (b = 0 at
 * the start of a chain) is keyed with K(b) = HMAC-SHA256(master, "coffer audit
 * segment " || decimal b). Every line carries prev_hash = HMAC-SHA256(K(b),
 * previous line), the first line of a chain HMAC-SHA256(K(b), ""). A checkpoint
 * closes the segment: it reveals K(b) and signs (seq, b, its own prev_hash, K(b),
 * final) with the device's Ed25519 key, so that anyone holding the public key
 * can check every line of the segment offline, while the lines after the last
 * checkpoint stay keyed by a K that only the server knows. */
#include "audit/audit_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/secmem.h"
#include "lib/util.h"

static EVP_MD *mac_md;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void
mac_fetch(void)
{
	mac_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
audit_mac_init(struct audit_mac *m)
{
	pthread_once(&mac_once, mac_fetch);
	memset(m, 0, sizeof(*m));
	m->in = EVP_MD_CTX_new();
	m->out = EVP_MD_CTX_new();
	m->c = EVP_MD_CTX_new();
	if (!m->in || !m->out || !m->c) {
		audit_mac_free(m);
		return CF_ENOMEM;
	}
	return 0;
}

void
audit_mac_free(struct audit_mac *m)
{
	/* OpenSSL clears digest contexts when it frees them. */
	EVP_MD_CTX_free(m->in);
	EVP_MD_CTX_free(m->out);
	EVP_MD_CTX_free(m->c);
	m->in = m->out = m->c = NULL;
	m->keyed = false;
}

int
audit_mac_key(struct audit_mac *m, const uint8_t key[AUDIT_KEY_BYTES])
{
	uint8_t pad[2][64];
	const EVP_MD *md = mac_md ? mac_md : EVP_sha256();
	int ok;

	/* RFC 2104: the 32-byte key is shorter than the block, so zero-padded.
	 * The states after the padded keys are kept and copied for each line. */
	memset(pad, 0, sizeof(pad));
	memcpy(pad[0], key, AUDIT_KEY_BYTES);
	memcpy(pad[1], key, AUDIT_KEY_BYTES);
	for (size_t i = 0; i < 64; i++) {
		pad[0][i] ^= 0x36;
		pad[1][i] ^= 0x5c;
	}
	ok = EVP_DigestInit_ex(m->in, md, NULL) == 1 && EVP_DigestUpdate(m->in, pad[0], 64) == 1 &&
	     EVP_DigestInit_ex(m->out, md, NULL) == 1 && EVP_DigestUpdate(m->out, pad[1], 64) == 1;
	secmem_wipe(pad, sizeof(pad));
	m->keyed = ok;
	return ok ? 0 : CF_EINTERNAL;
}

int
audit_mac_hex(struct audit_mac *m, const struct iovec *iov, int cnt, char out[65])
{
	uint8_t inner[32], mac[32];
	unsigned int l1 = 0, l2 = 0;
	int ok;

	if (!m->keyed || EVP_MD_CTX_copy_ex(m->c, m->in) != 1)
		return CF_EINTERNAL;
	ok = 1;
	for (int i = 0; i < cnt && ok; i++)
		ok = EVP_DigestUpdate(m->c, iov[i].iov_base, iov[i].iov_len) == 1;
	ok = ok && EVP_DigestFinal_ex(m->c, inner, &l1) == 1 &&
	     EVP_MD_CTX_copy_ex(m->c, m->out) == 1 &&
	     EVP_DigestUpdate(m->c, inner, sizeof(inner)) == 1 &&
	     EVP_DigestFinal_ex(m->c, mac, &l2) == 1 && l1 == 32 && l2 == 32;
	if (ok)
		util_hex(mac, sizeof(mac), out);
	return ok ? 0 : CF_EINTERNAL;
}

int
audit_mac_line_hex(struct audit_mac *m, const char *line, size_t n, char out[65])
{
	struct iovec iov = {(void *)line, n};

	return audit_mac_hex(m, &iov, 1, out);
}

void
audit_chain_segment_key(const uint8_t master[AUDIT_KEY_BYTES], uint64_t base,
                        uint8_t out[AUDIT_KEY_BYTES])
{
	char label[64];
	int n = snprintf(label, sizeof(label), "coffer audit segment %llu",
	                 (unsigned long long)base);

	crypto_auth_hmacsha256(out, (const unsigned char *)label, (unsigned long long)n, master);
}

size_t
audit_chain_cp_message(char *buf, size_t cap, uint64_t seq, uint64_t base, const char *head,
                       const char *key_hex, bool final, const char *time)
{
	int n = snprintf(buf, cap,
	                 "coffer audit checkpoint v1\nseq=%llu\nbase=%llu\nhead=%s\nkey=%s\n"
	                 "final=%d\ntime=%s\n",
	                 (unsigned long long)seq, (unsigned long long)base, head, key_hex,
	                 final ? 1 : 0, time);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int
audit_chain_keypair(const uint8_t seed[AUDIT_KEY_BYTES], uint8_t pk[AUDIT_PK_BYTES],
                    uint8_t sk[AUDIT_SK_BYTES])
{
	return crypto_sign_seed_keypair(pk, sk, seed) == 0 ? 0 : CF_EINTERNAL;
}

int
audit_chain_sign(const uint8_t sk[AUDIT_SK_BYTES], const char *msg, size_t n,
                 uint8_t sig[AUDIT_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, (const unsigned char *)msg, n, sk) == 0
	               ? 0
	               : CF_EINTERNAL;
}

bool
audit_chain_sig_ok(const uint8_t pk[AUDIT_PK_BYTES], const char *msg, size_t n,
                   const uint8_t sig[AUDIT_SIG_BYTES])
{
	return crypto_sign_verify_detached(sig, (const unsigned char *)msg, n, pk) == 0;
}

int
audit_chain_parse_pk(const char *s, uint8_t pk[AUDIT_PK_BYTES])
{
	uint8_t *raw = NULL;
	size_t len = 0;

	if (!s)
		return CF_EINVAL;
	if (strlen(s) == 2 * AUDIT_PK_BYTES && util_unhex(s, pk, AUDIT_PK_BYTES, &len) == 0 &&
	    len == AUDIT_PK_BYTES)
		return 0;
	if (util_b64_decode(s, &raw, &len) < 0)
		return CF_EINVAL;
	if (len != AUDIT_PK_BYTES) {
		free(raw);
		return CF_EINVAL;
	}
	memcpy(pk, raw, AUDIT_PK_BYTES);
	free(raw);
	return 0;
}
