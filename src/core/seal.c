/* seal.c - init, unseal progress, seal (vault-api.md §2.1).
 *
 * The unseal key is 32 random bytes; init splits it into Shamir shares (a 1-of-1
 * "share" is the key itself, as Vault). core/seal-config is stored plain so a
 * sealed server can report t and n. */
#include "audit/audit.h"
#include "core/core_int.h"
#include "core/expire.h"
#include "core/reencrypt.h"
#include "rotation/rotation.h"
#include "events/events.h"
#include "core/token.h"
#include "core/view.h"
#include "crypto/barrier.h"
#include "crypto/shamir.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "storage/storage.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_CONFIG_KEY "core/seal-config"
#define SHARE_MAX       (BARRIER_KEY_BYTES + 1)

int
seal_load_config(struct core *c)
{
	uint8_t *val;
	size_t len;
	json_t *j;
	json_error_t jerr;
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
	c->shares = (int)json_integer_value(json_object_get(j, "secret_shares"));
	c->threshold = (int)json_integer_value(json_object_get(j, "secret_threshold"));
	json_decref(j);
	if (c->shares < 1 || c->threshold < 1 || c->threshold > c->shares)
		return CF_EIO;
	c->initialized = true;
	return 0;
}

void
seal_reset_progress(struct core *c)
{
	for (int i = 0; i < c->nprogress; i++)
		sodium_free(c->progress[i]);
	c->nprogress = 0;
	c->nonce[0] = '\0';
}

json_t *
seal_status_json(struct core *c)
{
	bool sealed = barrier_sealed(c->barrier);
	json_t *j;

	pthread_mutex_lock(&c->unseal_mu);
	j = json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:b, s:s}", "type",
	              "shamir", "initialized", c->initialized, "sealed", sealed, "t", c->threshold,
	              "n", c->shares, "progress", c->nprogress, "nonce", c->nonce, "version",
	              COFFER_VERSION, "build_date", "", "migration", 0, "recovery_seal", 0,
	              "storage_type", c->storage->ops->name);
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

void
core_audit_tampered(struct core *c, const char *path, const char *reason)
{
	struct event ev = {
	        .type = "audit.tampered",
	        .path = path,
	        .reason = reason,
	        .severity = EV_CRITICAL,
	};
	int r = events_emit(c->events, &ev, NULL);

	if (r < 0)
		log_error("the audit.tampered event could not be stored: %s", cf_strerror(r));
}

/* Audit devices whose file was truncated or altered while the server was down
 * (found by audit_broker_load) raise a critical audit.tampered event. */
static void
report_tampered_audit(struct core *c)
{
	json_t *t = audit_broker_tampered(c->audit), *e;
	size_t i;

	json_array_foreach(t, i, e)
	{
		core_audit_tampered(c, json_string_value(json_object_get(e, "path")),
		                    json_string_value(json_object_get(e, "error")));
	}
	json_decref(t);
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
	r = audit_broker_load(c->audit);
	if (r < 0)
		log_error("audit devices could not be loaded: %s", cf_strerror(r));
	r = expire_start(c->expire);
	if (r < 0)
		log_error("the expiration manager could not start: %s", cf_strerror(r));
	r = events_start(c->events);
	if (r < 0)
		log_error("event delivery could not start: %s", cf_strerror(r));
	else
		report_tampered_audit(c);
	r = reencrypt_resume(c->reencrypt);
	if (r < 0)
		log_error("the re-encryption job could not resume: %s", cf_strerror(r));
	r = rotation_start(c->rotation);
	if (r < 0)
		log_error("the rotation manager could not start: %s", cf_strerror(r));
	return 0;
}

void
core_pre_seal(struct core *c)
{
	if (c->rotation)
		rotation_stop(c->rotation);
	if (c->expire)
		expire_stop(c->expire);
	if (c->reencrypt)
		reencrypt_stop(c->reencrypt);
	if (c->events)
		events_stop(c->events);
	mount_unload_all(c);
	audit_broker_unload(c->audit);
	token_store_flush(c->tokens);
	core_acl_cache_clear(c);
	barrier_seal(c->barrier);
	log_info("sealed");
}

static int
json_append_key(json_t *hex, json_t *b64, const uint8_t *key, size_t len)
{
	char h[2 * SHARE_MAX + 1];
	char *b = util_b64_encode(key, len);

	if (!b)
		return CF_ENOMEM;
	util_hex(key, len, h);
	json_array_append_new(hex, json_string(h));
	json_array_append_new(b64, json_string(b));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(b, strlen(b));
	free(b);
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
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES), *sh[SHAMIR_MAX_SHARES] = {0};
	json_t *hex = json_array(), *b64 = json_array(), *out = NULL;
	char *root = NULL, cfg[96];
	int r;

	if (!key || !hex || !b64) {
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
	if (shares == 1) {
		r = json_append_key(hex, b64, key, BARRIER_KEY_BYTES);
	} else {
		for (int i = 0; i < shares; i++) {
			sh[i] = sodium_malloc(SHARE_MAX);
			if (!sh[i]) {
				r = CF_ENOMEM;
				goto out;
			}
		}
		r = shamir_split(key, BARRIER_KEY_BYTES, (unsigned)shares, (unsigned)threshold, sh);
		for (int i = 0; r == 0 && i < shares; i++)
			r = json_append_key(hex, b64, sh[i], SHARE_MAX);
	}
	if (r < 0)
		goto out;
	snprintf(cfg, sizeof(cfg), "{\"secret_shares\":%d,\"secret_threshold\":%d}", shares,
	         threshold);
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
	for (int i = 0; i < shares && i < SHAMIR_MAX_SHARES; i++)
		sodium_free(sh[i]);
	sodium_free(key);
	if (root) {
		sodium_memzero(root, strlen(root));
		free(root);
	}
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

/* Decodes a share given as hex or base64. */
static int
decode_share(const char *key, uint8_t *out, size_t *ret_len)
{
	uint8_t *b = NULL;
	size_t n;

	if (util_unhex(key, out, SHARE_MAX, ret_len) == 0)
		return 0;
	if (util_b64_decode(key, &b, &n) < 0)
		return CF_EINVAL;
	if (n == 0 || n > SHARE_MAX) {
		sodium_memzero(b, n);
		free(b);
		return CF_EINVAL;
	}
	memcpy(out, b, n);
	sodium_memzero(b, n);
	free(b);
	*ret_len = n;
	return 0;
}

static int
try_unseal(struct core *c)
{
	uint8_t *key = sodium_malloc(BARRIER_KEY_BYTES);
	int r;

	if (!key)
		return CF_ENOMEM;
	if (c->threshold == 1) {
		if (c->progress_len[0] != BARRIER_KEY_BYTES) {
			r = CF_EBADKEY;
			goto out;
		}
		memcpy(key, c->progress[0], BARRIER_KEY_BYTES);
	} else {
		size_t len = c->progress_len[0];
		for (int i = 1; i < c->nprogress; i++) {
			if (c->progress_len[i] != len) {
				r = CF_EBADKEY;
				goto out;
			}
		}
		if (len != SHARE_MAX) {
			r = CF_EBADKEY;
			goto out;
		}
		r = shamir_combine((const uint8_t *const *)c->progress, (unsigned)c->nprogress, len,
		                   key);
		if (r < 0) {
			r = CF_EBADKEY;
			goto out;
		}
	}
	r = barrier_unseal(c->barrier, key);
	if (r == 0)
		r = core_post_unseal(c);
out:
	sodium_free(key);
	return r;
}

int
seal_submit(struct core *c, const char *key, bool reset, bool *ret_unsealed)
{
	uint8_t share[SHARE_MAX];
	size_t len = 0;
	int r = 0;

	*ret_unsealed = false;
	pthread_mutex_lock(&c->unseal_mu);
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
	r = decode_share(key, share, &len);
	if (r < 0) {
		r = CF_EBADKEY;
		goto out;
	}
	for (int i = 0; i < c->nprogress; i++) {
		if (c->progress_len[i] == len && sodium_memcmp(c->progress[i], share, len) == 0)
			goto out; /* the same share twice does not count twice */
	}
	if (c->nprogress >= (int)(sizeof(c->progress) / sizeof(c->progress[0]))) {
		r = CF_ERANGE;
		goto out;
	}
	c->progress[c->nprogress] = sodium_malloc(SHARE_MAX);
	if (!c->progress[c->nprogress]) {
		r = CF_ENOMEM;
		goto out;
	}
	memcpy(c->progress[c->nprogress], share, len);
	c->progress_len[c->nprogress] = len;
	c->nprogress++;
	if (c->nonce[0] == '\0')
		util_uuid(c->nonce);
	if (c->nprogress >= c->threshold) {
		r = try_unseal(c);
		seal_reset_progress(c);
		if (r == 0) {
			*ret_unsealed = true;
			log_info("unsealed");
		}
	}
out:
	sodium_memzero(share, sizeof(share));
	pthread_mutex_unlock(&c->unseal_mu);
	return r;
}

int
core_dev_setup(struct core *c, const char *root_token, char **ret_root, char **ret_unseal_b64)
{
	uint8_t key[BARRIER_KEY_BYTES];
	json_t *out = NULL, *kv;
	char *root, *b64;
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
	sodium_memzero(key, sizeof(key));
	if (!root || !b64) {
		free(root);
		free(b64);
		return CF_ENOMEM;
	}
	pthread_rwlock_wrlock(&c->lock);
	r = seal_submit(c, b64, false, &unsealed);
	if (r == 0) {
		kv = json_pack("{s:s, s:s, s:{s:s}}", "type", "kv", "description",
		               "key/value secret storage", "options", "version", "2");
		r = kv ? mount_enable(c, "secret/", "kv", kv, false) : CF_ENOMEM;
		json_decref(kv);
	}
	pthread_rwlock_unlock(&c->lock);
	if (r < 0) {
		free(root);
		free(b64);
		return r;
	}
	*ret_root = root;
	*ret_unseal_b64 = b64;
	return 0;
}
