/* seal.c - init, unseal progress, seal (Vault's sys/health, init and seal).
 *
 * The unseal key is 32 random bytes; init splits it into Shamir shares (a 1-of-1
 * "share" is the key itself, as Vault). core/seal-config is stored plain so a
 * sealed server can report t and n. Every share given to the server (unseal,
 * rekey, generate-root) goes through seal_share_collect: a malformed one is
 * refused with its reason and never counted (docs/internals/core.md, "Shares"). */
#include "core/core_int.h"
#include "core/expire.h"
#include "core/reencrypt.h"
#include "core/token.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "crypto/shamir.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "storage/storage.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
seal_config_text(int shares, int threshold, char *buf, size_t len)
{
	snprintf(buf, len, "{\"secret_shares\":%d,\"secret_threshold\":%d}", shares, threshold);
}

int
seal_load_config(struct core *c)
{
	uint8_t *val;
	size_t len;
	json_t *j;
	json_error_t jerr;
	json_int_t shares, threshold;
	int r = storage_get(c->storage, SEAL_CONFIG_KEY, &val, &len);

	if (r == CF_ENOTFOUND) {
		c->initialized = false;
		return 0;
	}
	if (r < 0)
		return r;
	j = json_loadb((const char *)val, len, 0, &jerr);
	free(val);
	if (!j)
		return CF_EIO;
	shares = json_integer_value(json_object_get(j, "secret_shares"));
	threshold = json_integer_value(json_object_get(j, "secret_threshold"));
	json_decref(j);
	if (shares < 1 || shares > SHAMIR_MAX_SHARES || threshold < 1 || threshold > shares)
		return CF_EIO;
	c->shares = (int)shares;
	c->threshold = (int)threshold;
	c->initialized = true;
	return 0;
}

void
seal_reset_progress(struct core *c)
{
	share_set_clear(&c->unseal_shares);
	c->nonce[0] = '\0';
}

int
seal_share_collect(struct share_set *set, const char *text, size_t want, char *why, size_t whylen)
{
	uint8_t *share = sodium_malloc(SHARE_BYTES);
	int r;

	if (!share)
		return CF_ENOMEM;
	r = share_parse(text, share, want, why, whylen);
	if (r == 0)
		r = share_set_add(set, share, want);
	if (r == CF_EINVAL && *why == '\0')
		snprintf(why, whylen, "its x coordinate is that of a share already provided");
	sodium_free(share);
	return r;
}

int
seal_share_take(struct request *rq, struct response *rs, struct share_set *set, size_t len,
                const char *want_nonce, const char *what)
{
	const char *key = NULL, *nonce = NULL;
	char why[128] = "";
	int r;

	(void)jsonx_str(rq->data, "key", &key);
	(void)jsonx_str(rq->data, "nonce", &nonce);
	if (!key || !*key) {
		(void)response_errorf(rs, "'key' must be specified in request body as JSON");
		return CF_EINVAL;
	}
	if (!nonce || !*nonce) {
		(void)response_errorf(rs, "'nonce' must be specified in request body as JSON");
		return CF_EINVAL;
	}
	if (strcmp(nonce, want_nonce) != 0) {
		(void)response_errorf(rs, "incorrect nonce");
		return CF_EINVAL;
	}
	r = seal_share_collect(set, key, len, why, sizeof(why));
	if (r == CF_EEXIST) {
		(void)response_errorf(rs, "given key has already been provided during this %s",
		                      what);
		return CF_EINVAL;
	}
	if (r == CF_EINVAL || r == CF_ERANGE) {
		(void)response_errorf(rs, "invalid key share: %s; it was not counted (progress %u)",
		                      *why ? why : "too many shares", set->n);
		return CF_EINVAL;
	}
	return r;
}

int
seal_share_unseal_key(struct core *c, struct response *rs, struct share_set *set, uint8_t *key,
                      const char *what)
{
	int r;

	r = share_set_combine(set, key);
	if (r == 0)
		r = barrier_check_unseal_key(c->barrier, key);
	if (r == CF_EINVAL || r == CF_EBADKEY) {
		share_set_clear(set);
		(void)response_errorf(rs,
		                      "the key shares do not combine to the unseal key (wrong "
		                      "key or share); %s progress was reset",
		                      what);
		r = CF_EBADKEY;
	}
	return r;
}

json_t *
seal_status_json(struct core *c)
{
	bool sealed = barrier_sealed(c->barrier);
	json_t *j;

	pthread_mutex_lock(&c->unseal_mu);
	if (!c->initialized && c->ha)
		(void)seal_load_config(c); /* another node sharing the storage ran init */
	j = json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:b, s:s}", "type",
	              "shamir", "initialized", c->initialized, "sealed", sealed, "t", c->threshold,
	              "n", c->shares, "progress", (int)c->unseal_shares.n, "nonce", c->nonce,
	              "version", COFFER_VERSION, "build_date", "", "migration", 0, "recovery_seal",
	              0, "storage_type", c->storage->ops->name);
	pthread_mutex_unlock(&c->unseal_mu);
	if (j && !sealed) {
		json_object_set_new(j, "cluster_name", json_string(c->cluster_name));
		json_object_set_new(j, "cluster_id", json_string(c->cluster_id));
	}
	return j;
}

static int
load_cluster_id(struct core *c)
{
	json_t *j;
	int r = view_get_json(c->core_view, "cluster", &j);

	if (r < 0)
		return r;
	snprintf(c->cluster_id, sizeof(c->cluster_id), "%s",
	         json_string_value(json_object_get(j, "id")) ?: "");
	json_decref(j);
	return 0;
}

int
core_post_unseal(struct core *c)
{
	int r;

	core_acl_cache_clear(c);
	r = load_cluster_id(c);
	if (r < 0 && r != CF_ENOTFOUND)
		return r;
	r = mount_table_load(c);
	if (r < 0)
		return r;
	r = expire_start(c->expire);
	if (r < 0)
		log_error("the expiration manager could not start: %s", cf_strerror(r));
	r = reencrypt_resume(c->reencrypt);
	if (r < 0)
		log_error("the re-encryption job could not resume: %s", cf_strerror(r));
	/* The registered subsystems (core.h): the wiring adds the event bus
	 * first, so the audit devices loaded next can report tampering. */
	for (size_t i = 0; i < c->nsubsystems; i++) {
		struct core_subsystem *s = &c->subsystems[i];
		if (!s->start)
			continue;
		r = s->start(c, s->arg);
		if (r < 0)
			log_error("%s could not start: %s", s->name, cf_strerror(r));
	}
	return 0;
}

void
core_teardown(struct core *c)
{
	for (size_t i = c->nsubsystems; i-- > 0;)
		if (c->subsystems[i].stop)
			c->subsystems[i].stop(c, c->subsystems[i].arg);
	if (c->expire)
		expire_stop(c->expire);
	if (c->reencrypt)
		reencrypt_stop(c->reencrypt);
	rekey_cancel(c);
	genroot_cancel(c);
	mount_unload_all(c);
	token_store_flush(c->tokens);
	core_acl_cache_clear(c);
}

void
core_pre_seal(struct core *c)
{
	if (c->ha)
		ha_sealing(c->ha);
	core_teardown(c);
	barrier_seal(c->barrier);
	log_info("sealed");
}

static int
json_append_key(json_t *hex, json_t *b64, const uint8_t *key, size_t len)
{
	char h[2 * SHARE_BYTES + 1];
	char *b = util_b64_encode(key, len);
	int r = 0;

	if (!b)
		return CF_ENOMEM;
	util_hex(key, len, h);
	if (json_array_append_new(hex, json_string(h)) < 0 ||
	    json_array_append_new(b64, json_string(b)) < 0)
		r = CF_ENOMEM;
	secmem_wipe(h, sizeof(h));
	secmem_free_str(b);
	return r;
}

int
seal_make_shares(const uint8_t *key, int shares, int threshold, json_t **ret_hex, json_t **ret_b64)
{
	uint8_t *sh[SHAMIR_MAX_SHARES] = {0};
	json_t *hex = json_array(), *b64 = json_array();
	int r = 0;

	if (!hex || !b64 || shares < 1 || shares > SHAMIR_MAX_SHARES) {
		r = hex && b64 ? CF_EINVAL : CF_ENOMEM;
		goto out;
	}
	if (shares == 1) {
		r = json_append_key(hex, b64, key, SHARE_KEY_BYTES);
		goto out;
	}
	for (int i = 0; i < shares; i++) {
		sh[i] = sodium_malloc(SHARE_BYTES);
		if (!sh[i]) {
			r = CF_ENOMEM;
			goto out;
		}
	}
	r = shamir_split(key, SHARE_KEY_BYTES, (unsigned)shares, (unsigned)threshold, sh);
	for (int i = 0; r == 0 && i < shares; i++)
		r = json_append_key(hex, b64, sh[i], SHARE_BYTES);
out:
	for (int i = 0; i < SHAMIR_MAX_SHARES; i++)
		sodium_free(sh[i]); /* wipes; NULL is fine */
	if (r < 0) {
		json_decref(hex);
		json_decref(b64);
		return r;
	}
	*ret_hex = hex;
	*ret_b64 = b64;
	return 0;
}

/* The first-time setup inside a fresh barrier: cluster id, default policy, the
 * mount table and the root token. */
static int
first_setup(struct core *c, const char *root_id, char **ret_root)
{
	struct token_params tp = {0};
	json_t *pols, *cluster;
	char uuid[37];
	int r;

	util_uuid(uuid);
	cluster = json_pack("{s:s}", "id", uuid);
	if (!cluster)
		return CF_ENOMEM;
	r = view_put_json(c->core_view, "cluster", cluster);
	json_decref(cluster);
	if (r < 0)
		return r;
	snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", uuid);
	r = view_put(c->policy_view, "default", (const uint8_t *)policy_default_text(),
	             strlen(policy_default_text()));
	if (r < 0)
		return r;
	r = mount_table_load(c);
	if (r < 0)
		return r;
	pols = json_pack("[s]", "root");
	if (!pols)
		return CF_ENOMEM;
	tp.id = root_id;
	tp.policies = pols;
	tp.display_name = "root";
	tp.path = "auth/token/root";
	tp.renewable = false;
	r = token_create(c->tokens, &tp, ret_root, NULL);
	json_decref(pols);
	return r;
}

static int
init_locked(struct core *c, int shares, int threshold, const char *root_id, json_t **ret,
            uint8_t *ret_key)
{
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	json_t *hex = NULL, *b64 = NULL, *out = NULL;
	char *root = NULL, cfg[96];
	int r;

	if (!key) {
		r = CF_ENOMEM;
		goto out;
	}
	randombytes_buf(key, BARRIER_KEY_BYTES);
	r = barrier_initialize(c->barrier, key);
	if (r < 0)
		goto out;
	r = first_setup(c, root_id, &root);
	if (r < 0)
		goto out;
	r = seal_make_shares(key, shares, threshold, &hex, &b64);
	if (r < 0)
		goto out;
	seal_config_text(shares, threshold, cfg, sizeof(cfg));
	r = storage_put(c->storage, SEAL_CONFIG_KEY, (const uint8_t *)cfg, strlen(cfg));
	if (r < 0)
		goto out;
	c->shares = shares;
	c->threshold = threshold;
	c->initialized = true;
	out = json_pack("{s:O, s:O, s:s}", "keys", hex, "keys_base64", b64, "root_token", root);
	if (!out) {
		r = CF_ENOMEM;
		goto out;
	}
	if (ret_key)
		memcpy(ret_key, key, BARRIER_KEY_BYTES);
	*ret = out;
out:
	/* Vault leaves a freshly initialized server sealed. */
	if (!barrier_sealed(c->barrier))
		core_pre_seal(c);
	sodium_free(key);
	secmem_free_str(root);
	json_decref(hex);
	json_decref(b64);
	return r;
}

int
seal_init(struct core *c, int shares, int threshold, json_t **ret)
{
	int r;

	if (c->initialized)
		return CF_EEXIST;
	if (shares < 1 || shares > SHAMIR_MAX_SHARES || threshold < 1 || threshold > shares ||
	    (shares > 1 && threshold < 2))
		return CF_EINVAL;
	pthread_mutex_lock(&c->unseal_mu);
	r = init_locked(c, shares, threshold, NULL, ret, NULL);
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

static int
try_unseal(struct core *c)
{
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	int r;

	if (!key)
		return CF_ENOMEM;
	r = share_set_combine(&c->unseal_shares, key);
	if (r < 0) {
		r = CF_EBADKEY;
		goto out;
	}
	r = barrier_unseal(c->barrier, key);
	if (r == 0 && c->ha)
		ha_unsealed(c->ha); /* loads once it is the active node */
	else if (r == 0)
		r = core_post_unseal(c);
out:
	sodium_free(key);
	return r;
}

int
seal_submit(struct core *c, const char *key, bool reset, bool *ret_unsealed, char *why,
            size_t whylen)
{
	int r = 0;

	*ret_unsealed = false;
	why[0] = '\0';
	pthread_mutex_lock(&c->unseal_mu);
	if (!c->initialized && c->ha)
		(void)seal_load_config(c); /* another node sharing the storage ran init */
	if (!c->initialized) {
		r = CF_EUNINIT;
		goto out;
	}
	if (reset) {
		seal_reset_progress(c);
		goto out;
	}
	if (!barrier_sealed(c->barrier))
		goto out;
	if (c->unseal_shares.n == 0) {
		/* A rekey done by another node sharing this storage changed it. */
		r = seal_load_config(c);
		if (r < 0)
			goto out;
	}
	r = seal_share_collect(&c->unseal_shares, key, share_len_for(c->threshold), why, whylen);
	if (r == CF_EEXIST) {
		r = 0; /* the same share twice does not count twice */
		goto out;
	}
	if (r < 0)
		goto out;
	if (c->nonce[0] == '\0')
		util_uuid(c->nonce);
	if ((int)c->unseal_shares.n >= c->threshold) {
		r = try_unseal(c);
		seal_reset_progress(c);
		if (r == 0) {
			*ret_unsealed = true;
			log_info("unsealed");
		}
	}
out:
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
core_dev_setup(struct core *c, const char *root_token, char **ret_root, char **ret_unseal_b64)
{
	uint8_t key[BARRIER_KEY_BYTES];
	json_t *out = NULL, *kv;
	char *root, *b64, why[128];
	bool unsealed;
	int r;

	pthread_rwlock_wrlock(&c->lock);
	pthread_mutex_lock(&c->unseal_mu);
	r = init_locked(c, 1, 1, root_token, &out, key);
	pthread_mutex_unlock(&c->unseal_mu);
	pthread_rwlock_unlock(&c->lock);
	if (r < 0)
		return r;
	root = strdup(json_string_value(json_object_get(out, "root_token")));
	json_decref(out);
	b64 = util_b64_encode(key, sizeof(key));
	secmem_wipe(key, sizeof(key));
	if (!root || !b64) {
		secmem_free_str(root);
		secmem_free_str(b64);
		return CF_ENOMEM;
	}
	pthread_rwlock_wrlock(&c->lock);
	r = seal_submit(c, b64, false, &unsealed, why, sizeof(why));
	if (r == 0) {
		kv = json_pack("{s:s, s:s, s:{s:s}}", "type", "kv", "description",
		               "key/value secret storage", "options", "version", "2");
		r = kv ? mount_enable(c, "secret/", "kv", kv, false) : CF_ENOMEM;
		json_decref(kv);
	}
	pthread_rwlock_unlock(&c->lock);
	if (r < 0) {
		secmem_free_str(root);
		secmem_free_str(b64);
		return r;
	}
	*ret_root = root;
	*ret_unseal_b64 = b64;
	return 0;
}
