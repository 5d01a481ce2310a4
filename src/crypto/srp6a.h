/* srp6a.h - the SRP-6a arithmetic of docs/internals/auth.md, SRP, for any group and hash.
 *
 * Used by the server (src/auth/srp/srp.c) and by the CLI (src/cli/login_srp.c,
 * src/cli/srp.c), so both sides compute exactly one profile. The group (N, g,
 * hash) is a parameter, so the unit tests run the RFC 5054 Appendix B vectors
 * (1024-bit, SHA-1) through the same code as the coffer profile (3072-bit, g = 5,
 * SHA-256).
 *
 * Every value crosses this interface as big-endian bytes: public values (A, B,
 * S, v) as PAD(x), exactly srp6a_nlen() bytes; hashes (k, x, u, K, M1, M2) as
 * srp6a_hlen() bytes. Secret exponents (a, b, x) are used only through
 * BN_mod_exp_mont_consttime. Functions return 0, CF_EINVAL for values the
 * protocol refuses, CF_ENOMEM, or CF_EINTERNAL when OpenSSL fails otherwise;
 * outputs are written only on success. Thread-safe: a group is read-only once
 * built. Intermediate secrets are cleared before returning; the caller wipes
 * the buffers it passed and got back. */
#ifndef CF_SRP6A_H
#define CF_SRP6A_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define SRP6A_MAX_N    512 /* bytes: groups up to 4096 bits */
#define SRP6A_MAX_HASH EVP_MAX_MD_SIZE

/* The coffer profile (docs/internals/auth.md, SRP). */
#define SRP_GROUP_ID   "rfc5054-3072"
#define SRP_N_BYTES    384
#define SRP_HASH_BYTES 32
#define SRP_SALT_BYTES 32
#define SRP_EXP_BYTES  32 /* a and b: 32 random bytes */

struct srp6a_group;

/* A group from N in hex (spaces ignored), the generator and the hash. Returns 0
 * and *ret (free with srp6a_group_free), CF_EINVAL for a bad N, or CF_ENOMEM. */
int srp6a_group_new(const char *n_hex, unsigned g, const EVP_MD *md, struct srp6a_group **ret);
void srp6a_group_free(struct srp6a_group *grp);
/* The coffer profile: RFC 5054 3072-bit group, g = 5, SHA-256. Built once on
 * first use and shared; NULL only when memory ran out. Never free it. */
const struct srp6a_group *srp6a_group_default(void);
/* The 768 lowercase hex digits of the default group's N, for GET params. */
extern const char srp6a_default_n_hex[];

size_t srp6a_nlen(const struct srp6a_group *grp);
size_t srp6a_hlen(const struct srp6a_group *grp);

/* k = H(bytes(N) | PAD(g)); out: hlen bytes. */
int srp6a_k(const struct srp6a_group *grp, uint8_t *out);
/* x = H(salt | H(I | ":" | P)); out: hlen bytes (a secret: wipe it). */
int srp6a_x(const struct srp6a_group *grp, const uint8_t *salt, size_t slen, const void *user,
            size_t ulen, const void *pass, size_t plen, uint8_t *out);
/* PAD(g^e mod N): the verifier (e = x) or the client's A (e = a). */
int srp6a_pow_g(const struct srp6a_group *grp, const uint8_t *e, size_t elen, uint8_t *out);

/* A public value as received (A at the server, B at the client): 1..nlen bytes
 * and 0 < X < N, else CF_EINVAL. Writes PAD(X) to out. */
int srp6a_public_check(const struct srp6a_group *grp, const uint8_t *in, size_t len,
                       uint8_t *out) CF_WARN_UNUSED;
/* A verifier as registered: exactly nlen bytes and 1 < v < N, else CF_EINVAL. */
int srp6a_verifier_check(const struct srp6a_group *grp, const uint8_t *v,
                         size_t len) CF_WARN_UNUSED;

/* B = (k*v + g^b) mod N, as PAD(B). v: nlen bytes. */
int srp6a_server_B(const struct srp6a_group *grp, const uint8_t *v, const uint8_t *b, size_t blen,
                   uint8_t *out);
/* u = H(PAD(A) | PAD(B)). Returns 0, or CF_EINVAL when u = 0 (fail the login). */
int srp6a_u(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *B,
            uint8_t *out) CF_WARN_UNUSED;
/* Server: S = (A * v^u)^b mod N, as PAD(S). A and v: nlen bytes, u: hlen. */
int srp6a_server_S(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *v,
                   const uint8_t *u, const uint8_t *b, size_t blen, uint8_t *out);
/* Client: S = (B - k*g^x)^(a + u*x) mod N, as PAD(S). B: nlen, x and u: hlen. */
int srp6a_client_S(const struct srp6a_group *grp, const uint8_t *B, const uint8_t *x,
                   const uint8_t *u, const uint8_t *a, size_t alen, uint8_t *out);
/* K = H(PAD(S)). */
int srp6a_K(const struct srp6a_group *grp, const uint8_t *S, uint8_t *out);
/* M1 = H((H(bytes(N)) XOR H(bytes(g))) | H(I) | salt | PAD(A) | PAD(B) | K). */
int srp6a_M1(const struct srp6a_group *grp, const void *user, size_t ulen, const uint8_t *salt,
             size_t slen, const uint8_t *A, const uint8_t *B, const uint8_t *K, uint8_t *out);
/* M2 = H(PAD(A) | M1 | K). */
int srp6a_M2(const struct srp6a_group *grp, const uint8_t *A, const uint8_t *M1, const uint8_t *K,
             uint8_t *out);

#endif
