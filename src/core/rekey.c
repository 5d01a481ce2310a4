/* rekey.c - new unseal key shares from a quorum of the current ones, as Vault's
 * /sys/rekey API (api-docs/system/rekey): init, update, verify.
 *
 * The root key does not change: once a threshold of current shares combines to
 * the unseal key (checked against the stored root key), a fresh unseal key is
 * drawn, split into the new shares, and the root key is sealed under it. That
 * write and the new core/seal-config go to storage in one transaction
 * (barrier_rekey), so after a crash either the old shares or the new ones open
 * the server, never neither. With require_verification the new shares are
 * returned first and the write waits until a threshold of them comes back to
 * sys/rekey/verify; until then the old shares stay valid.
 *
 * State lives in c->rekey, under c->unseal_mu; every share and key is in
 * sodium_malloc'd memory, wiped when the attempt ends, is cancelled, or the
 * server seals. PGP-encrypted shares and backups are refused. */
#include "core/core_int.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rekey {
	char nonce[37];
	int shares, threshold; /* the new configuration */
	bool verify;           /* require_verification */
	struct share_set cur;  /* current shares provided to sys/rekey/update */
	/* Verification phase: new_key is set once the quorum of current shares
	 * was reached; fresh collects new shares given to sys/rekey/verify. */
	uint8_t *new_key; /* BARRIER_KEY_BYTES, sodium_malloc'd */
	char verify_nonce[37];
	struct share_set fresh;
};

static void
rekey_free(struct rekey *k)
{
	if (!k)
		return;
	share_set_clear(&k->cur);
	share_set_clear(&k->fresh);
	sodium_free(k->new_key);
	free(k);
}

void
rekey_cancel(struct core *c)
{
	rekey_free(c->rekey);
	c->rekey = NULL;
}

/* GET sys/rekey/init (unseal_mu held). */
static json_t *
status_json(struct core *c)
{
	const struct rekey *k = c->rekey;
	json_t *j;

	j = json_pack("{s:b, s:s, s:i, s:i, s:i, s:i, s:n, s:b, s:b}", "started", k != NULL,
	              "nonce", k ? k->nonce : "", "t", k ? k->threshold : 0, "n", k ? k->shares : 0,
	              "progress", k ? (int)k->cur.n : 0, "required", c->threshold,
	              "pgp_fingerprints", "backup", 0, "verification_required", k && k->verify);
	if (j && k && k->new_key)
		json_object_set_new(j, "verification_nonce", json_string(k->verify_nonce));
	return j;
}

/* GET sys/rekey/verify (unseal_mu held, verification phase). */
static json_t *
verify_status_json(const struct rekey *k)
{
	return json_pack("{s:s, s:b, s:i, s:i, s:i}", "nonce", k->verify_nonce, "started", 1, "t",
	                 k->threshold, "n", k->shares, "progress", (int)k->fresh.n);
}

static int
start(struct core *c, struct request *rq, struct response *rs)
{
	int64_t shares, threshold;
	bool verify = false, backup = false;
	json_t *pgp = json_object_get(rq->data, "pgp_keys");
	struct rekey *k;

	if (c->rekey) {
		(void)response_errorf(rs, "rekey already in progress");
		return CF_EINVAL;
	}
	if ((pgp && !json_is_null(pgp) && json_array_size(pgp) > 0) ||
	    (pgp && json_is_string(pgp) && json_string_length(pgp) > 0)) {
		(void)response_errorf(rs, "pgp_keys: PGP-encrypted unseal keys are not supported; "
		                          "start the rekey without pgp_keys");
		return CF_EUNSUPPORTED;
	}
	if (jsonx_bool(rq->data, "backup", &backup) == CF_EINVAL || backup) {
		(void)response_errorf(rs, "backup: key backups need PGP-encrypted keys, which are "
		                          "not supported");
		return CF_EUNSUPPORTED;
	}
	if (jsonx_int(rq->data, "secret_shares", &shares) < 0 ||
	    jsonx_int(rq->data, "secret_threshold", &threshold) < 0) {
		(void)response_errorf(rs,
		                      "secret_shares and secret_threshold are required integers");
		return CF_EINVAL;
	}
	if (shares < 1 || shares > SHAMIR_MAX_SHARES || threshold < 1 || threshold > shares ||
	    (shares > 1 && threshold < 2)) {
		(void)response_errorf(rs, "invalid seal configuration: need 1 <= secret_threshold "
		                          "<= secret_shares <= 255, and a threshold of at least 2 "
		                          "when there is more than one share");
		return CF_EINVAL;
	}
	if (jsonx_bool(rq->data, "require_verification", &verify) == CF_EINVAL) {
		(void)response_errorf(rs, "require_verification must be a boolean");
		return CF_EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return CF_ENOMEM;
	k->shares = (int)shares;
	k->threshold = (int)threshold;
	k->verify = verify;
	util_uuid(k->nonce);
	c->rekey = k;
	log_info("rekey started: %d shares, threshold %d%s", k->shares, k->threshold,
	         verify ? ", with verification" : "");
	return 0;
}

int
rekey_sys_status(struct request *rq, struct response *rs)
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
rekey_sys_start(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	int r;

	pthread_mutex_lock(&c->unseal_mu);
	r = start(c, rq, rs);
	if (r == 0) {
		rs->raw = status_json(c);
		r = rs->raw ? 0 : CF_ENOMEM;
	}
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
rekey_sys_cancel(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	const char *nonce = NULL;
	int r = 0;

	pthread_mutex_lock(&c->unseal_mu);
	(void)jsonx_str(rq->data, "nonce", &nonce);
	if (c->rekey && nonce && *nonce && strcmp(nonce, c->rekey->nonce) != 0) {
		(void)response_errorf(rs, "incorrect nonce");
		r = CF_EINVAL;
		goto out;
	}
	if (c->rekey)
		log_info("rekey cancelled");
	rekey_cancel(c);
out:
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

/* Writes the new wrapping of the root key and the new seal config in one
 * transaction, then adopts the new configuration (unseal_mu held). */
static int
commit(struct core *c, const uint8_t *new_key, int shares, int threshold)
{
	struct storage_op op;
	char cfg[96];
	int r;

	seal_config_text(shares, threshold, cfg, sizeof(cfg));
	op = (struct storage_op){STORAGE_PUT, SEAL_CONFIG_KEY, (const uint8_t *)cfg, strlen(cfg)};
	r = barrier_rekey(c->barrier, new_key, &op, 1);
	if (r < 0) {
		log_error("rekey could not be stored, the current shares stay valid: %s",
		          cf_strerror(r));
		return r;
	}
	c->shares = shares;
	c->threshold = threshold;
	log_info("rekey complete: %d shares, threshold %d; the previous shares no longer unseal",
	         shares, threshold);
	return 0;
}

/* Quorum of current shares reached: check them, draw the new key and shares,
 * and either commit or enter verification (unseal_mu held). */
static int
finish_update(struct core *c, struct response *rs)
{
	struct rekey *k = c->rekey;
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	uint8_t *fresh = sodium_malloc(BARRIER_KEY_BYTES);
	json_t *hex = NULL, *b64 = NULL;
	int r;

	if (!key || !fresh) {
		r = CF_ENOMEM;
		goto out;
	}
	r = seal_share_unseal_key(c, rs, &k->cur, key, "rekey");
	if (r < 0)
		goto out;
	randombytes_buf(fresh, BARRIER_KEY_BYTES);
	r = seal_make_shares(fresh, k->shares, k->threshold, &hex, &b64);
	if (r < 0)
		goto out;
	if (k->verify) {
		k->new_key = fresh;
		fresh = NULL;
		util_uuid(k->verify_nonce);
		share_set_clear(&k->cur);
		log_info("rekey: new shares handed out, waiting for their verification");
	} else {
		r = commit(c, fresh, k->shares, k->threshold);
		if (r < 0) {
			share_set_clear(&k->cur);
			goto out;
		}
	}
	rs->raw = json_pack("{s:b, s:O, s:O, s:s, s:n, s:b, s:b}", "complete", 1, "keys", hex,
	                    "keys_base64", b64, "nonce", k->nonce, "pgp_fingerprints", "backup", 0,
	                    "verification_required", k->verify);
	if (rs->raw && k->verify)
		json_object_set_new(rs->raw, "verification_nonce", json_string(k->verify_nonce));
	if (!k->verify)
		rekey_cancel(c); /* done; after a failed answer too: the new key is in use */
	r = rs->raw ? 0 : CF_ENOMEM;
out:
	sodium_free(key);
	sodium_free(fresh);
	json_decref(hex);
	json_decref(b64);
	return r;
}

int
rekey_sys_update(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct rekey *k;
	int r;

	pthread_mutex_lock(&c->unseal_mu);
	k = c->rekey;
	if (!k) {
		(void)response_errorf(rs, "no rekey in progress");
		r = CF_EINVAL;
		goto out;
	}
	if (k->new_key) {
		(void)response_errorf(rs, "the rekey is waiting for verification: provide a "
		                          "threshold of the new shares to sys/rekey/verify");
		r = CF_EINVAL;
		goto out;
	}
	r = seal_share_take(rq, rs, &k->cur, share_len_for(c->threshold), k->nonce,
	                    "rekey operation");
	if (r < 0)
		goto out;
	if ((int)k->cur.n < c->threshold) {
		rs->raw = status_json(c);
		r = rs->raw ? 0 : CF_ENOMEM;
		goto out;
	}
	r = finish_update(c, rs);
out:
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

/* PUT sys/rekey/verify once a threshold of new shares is in (unseal_mu held). */
static int
finish_verify(struct core *c, struct response *rs)
{
	struct rekey *k = c->rekey;
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = share_set_combine(&k->fresh, key);
	if (r == 0 && sodium_memcmp(key, k->new_key, BARRIER_KEY_BYTES) != 0)
		r = CF_EBADKEY;
	if (r < 0) {
		share_set_clear(&k->fresh);
		(void)response_errorf(rs,
		                      "the new key shares do not combine to the new unseal key; "
		                      "verification progress was reset");
		r = CF_EBADKEY;
		goto out;
	}
	r = commit(c, k->new_key, k->shares, k->threshold);
	if (r < 0)
		goto out;
	rs->raw = json_pack("{s:s, s:b}", "nonce", k->verify_nonce, "complete", 1);
	rekey_cancel(c);
	r = rs->raw ? 0 : CF_ENOMEM;
out:
	sodium_free(key);
	return r;
}

/* The verification in progress, or NULL with an error in rs (unseal_mu held). */
static struct rekey *
verify_attempt(struct core *c, struct response *rs)
{
	struct rekey *k = c->rekey;

	if (!k || !k->new_key) {
		(void)response_errorf(rs, "no rekey verification in progress");
		return NULL;
	}
	return k;
}

int
rekey_sys_verify_status(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct rekey *k;
	int r = CF_EINVAL;

	pthread_mutex_lock(&c->unseal_mu);
	k = verify_attempt(c, rs);
	if (k) {
		rs->raw = verify_status_json(k);
		r = rs->raw ? 0 : CF_ENOMEM;
	}
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
rekey_sys_verify(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct rekey *k;
	int r = CF_EINVAL;

	pthread_mutex_lock(&c->unseal_mu);
	k = verify_attempt(c, rs);
	if (!k)
		goto out;
	r = seal_share_take(rq, rs, &k->fresh, share_len_for(k->threshold), k->verify_nonce,
	                    "rekey verification");
	if (r < 0)
		goto out;
	if ((int)k->fresh.n >= k->threshold) {
		r = finish_verify(c, rs);
		goto out;
	}
	rs->raw = verify_status_json(k);
	r = rs->raw ? 0 : CF_ENOMEM;
out:
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

/* Vault: restarts only the verification, with a new nonce. */
int
rekey_sys_verify_restart(struct request *rq, struct response *rs)
{
	struct core *c = rq->core;
	struct rekey *k;
	int r = CF_EINVAL;

	pthread_mutex_lock(&c->unseal_mu);
	k = verify_attempt(c, rs);
	if (k) {
		share_set_clear(&k->fresh);
		util_uuid(k->verify_nonce);
		rs->raw = verify_status_json(k);
		r = rs->raw ? 0 : CF_ENOMEM;
	}
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}
