/* genroot.c - a new root token from a quorum of unseal key shares, as Vault
 * 1.10+'s /sys/generate-root API (api-docs/system/generate-root) with the OTP
 * encoding.
 *
 * Starting an attempt draws a one-time password: TOKEN_GENERATED_LEN base62
 * characters, returned once. When a threshold of shares combines to the unseal
 * key (checked against the stored root key), a root token is minted as at init
 * (policy root, no TTL, path auth/token/root) and answered only as
 * encoded_token = base64 (standard alphabet, no padding) of token XOR OTP, the
 * form `vault operator generate-root -decode` and `coffer operator
 * generate-root -decode` read. PGP-encrypted tokens are refused.
 *
 * State lives in c->genroot, under c->unseal_mu; shares and the OTP are in
 * sodium_malloc'd memory, wiped when the attempt ends, is cancelled, or the
 * server seals. */
#include "core/core_int.h"
#include "core/token.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct genroot {
	char nonce[37];
	char *otp; /* TOKEN_GENERATED_LEN + 1, sodium_malloc'd */
	struct share_set shares;
};

static void
genroot_free(struct genroot *g)
{
	if (!g)
		return;
	share_set_clear(&g->shares);
	sodium_free(g->otp);
	free(g);
}

void
genroot_cancel(struct core *c)
{
	genroot_free(c->genroot);
	c->genroot = NULL;
}

/* GET sys/generate-root/attempt (unseal_mu held). The OTP itself is never
 * shown again. */
static json_t *
status_json(struct core *c)
{
	const struct genroot *g = c->genroot;

	return json_pack("{s:b, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:b}", "started", g != NULL,
	                 "nonce", g ? g->nonce : "", "progress", g ? (int)g->shares.n : 0,
	                 "required", c->threshold, "encoded_token", "", "encoded_root_token", "",
	                 "pgp_fingerprint", "", "otp_length", TOKEN_GENERATED_LEN, "complete", 0);
}

static int
start(struct core *c, struct request *rq, struct response *rs)
{
	const char *pgp = NULL, *otp = NULL;
	struct genroot *g;
	bool generated = false;
	json_t *st;

	if (c->genroot) {
		(void)response_errorf(rs, "root generation already in progress");
		return CF_EINVAL;
	}
	(void)jsonx_str(rq->data, "pgp_key", &pgp);
	if (pgp && *pgp) {
		(void)response_errorf(rs, "pgp_key: PGP-encrypted root tokens are not supported; "
		                          "start without a body to get a one-time password (OTP)");
		return CF_EUNSUPPORTED;
	}
	(void)jsonx_str(rq->data, "otp", &otp);
	if (otp && *otp && strlen(otp) != TOKEN_GENERATED_LEN) {
		(void)response_errorf(rs,
		                      "otp: must be %d characters long, as long as the root "
		                      "token (or leave it out and the server generates one)",
		                      TOKEN_GENERATED_LEN);
		return CF_EINVAL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return CF_ENOMEM;
	g->otp = sodium_malloc(TOKEN_GENERATED_LEN + 1);
	if (!g->otp) {
		genroot_free(g);
		return CF_ENOMEM;
	}
	if (otp && *otp) {
		memcpy(g->otp, otp, TOKEN_GENERATED_LEN);
	} else {
		util_random_base62(g->otp, TOKEN_GENERATED_LEN);
		generated = true;
	}
	g->otp[TOKEN_GENERATED_LEN] = '\0';
	util_uuid(g->nonce);
	c->genroot = g;
	st = status_json(c);
	/* Vault returns a generated OTP once, in this answer. */
	if (st && json_object_set_new(st, "otp", json_string(generated ? g->otp : "")) < 0) {
		json_decref(st);
		st = NULL;
	}
	if (!st) {
		genroot_cancel(c);
		return CF_ENOMEM;
	}
	rs->raw = st;
	log_info("root token generation started");
	return 0;
}

int
genroot_sys_status(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	int r;

	pthread_mutex_lock(&c->unseal_mu);
	rs->raw = status_json(c);
	r = rs->raw ? 0 : CF_ENOMEM;
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
genroot_sys_start(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	int r;

	pthread_mutex_lock(&c->unseal_mu);
	r = start(c, rq, rs);
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
genroot_sys_cancel(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;

	(void)rs;
	pthread_mutex_lock(&c->unseal_mu);
	if (c->genroot)
		log_info("root token generation cancelled");
	genroot_cancel(c);
	pthread_mutex_unlock(&c->unseal_mu);
	return 0;
}

/* base64 (standard, unpadded) of token XOR otp; both TOKEN_GENERATED_LEN long.
 * Returns a malloc'd string or NULL. */
static char *
encode_token(const char *token, const char *otp)
{
	uint8_t x[TOKEN_GENERATED_LEN];
	size_t len =
	        sodium_base64_encoded_len(sizeof(x), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	char *out = malloc(len);

	if (out) {
		for (size_t i = 0; i < sizeof(x); i++)
			x[i] = (uint8_t)token[i] ^ (uint8_t)otp[i];
		sodium_bin2base64(out, len, x, sizeof(x),
		                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	}
	secmem_wipe(x, sizeof(x));
	return out;
}

/* Mints the root token as sys/init does and encodes it with the OTP. */
static int
mint(struct core *c, const char *otp, char **ret_encoded)
{
	struct token_params tp = {0};
	struct token_entry *te = NULL;
	char *token = NULL, *enc = NULL;
	json_t *pols = json_pack("[s]", "root");
	int r;

	if (!pols)
		return CF_ENOMEM;
	tp.policies = pols;
	tp.display_name = "root";
	tp.path = "auth/token/root";
	tp.renewable = false;
	r = token_create(c->tokens, &tp, &token, &te);
	if (r < 0)
		goto out;
	if (strlen(token) != TOKEN_GENERATED_LEN) {
		r = CF_EINTERNAL;
		goto out;
	}
	enc = encode_token(token, otp);
	if (!enc) {
		r = CF_ENOMEM;
		goto out;
	}
	log_info("a new root token was generated from a quorum of unseal key shares "
	         "(accessor %s)",
	         te->accessor);
	*ret_encoded = enc;
	enc = NULL;
out:
	if (r < 0 && token && te)
		(void)token_revoke_tree(c->tokens, te->hash); /* never handed out */
	secmem_free_str(token);
	secmem_free_str(enc);
	token_entry_free(te);
	json_decref(pols);
	return r;
}

/* A threshold of shares is in: check them and mint (unseal_mu held). */
static int
finish(struct core *c, struct response *rs)
{
	struct genroot *g = c->genroot;
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	char *enc = NULL;
	int r;

	if (!key)
		return CF_ENOMEM;
	r = seal_share_unseal_key(c, rs, &g->shares, key, "root generation");
	if (r < 0)
		goto out;
	r = mint(c, g->otp, &enc);
	if (r < 0)
		goto out;
	rs->raw = json_pack("{s:b, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:b}", "started", 1, "nonce",
	                    g->nonce, "progress", (int)g->shares.n, "required", c->threshold,
	                    "encoded_token", enc, "encoded_root_token", enc, "pgp_fingerprint", "",
	                    "otp_length", TOKEN_GENERATED_LEN, "complete", 1);
	genroot_cancel(c); /* done: the next attempt starts afresh */
	r = rs->raw ? 0 : CF_ENOMEM;
out:
	sodium_free(key);
	secmem_free_str(enc);
	return r;
}

int
genroot_sys_update(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct genroot *g;
	int r;

	pthread_mutex_lock(&c->unseal_mu);
	g = c->genroot;
	if (!g) {
		(void)response_errorf(rs, "no root generation in progress");
		r = CF_EINVAL;
		goto out;
	}
	r = seal_share_take(rq, rs, &g->shares, share_len_for(c->threshold), g->nonce,
	                    "generation operation");
	if (r < 0)
		goto out;
	if ((int)g->shares.n >= c->threshold) {
		r = finish(c, rs);
		goto out;
	}
	rs->raw = status_json(c);
	r = rs->raw ? 0 : CF_ENOMEM;
out:
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}
