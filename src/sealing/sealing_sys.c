/* sealing_sys.c - the sys/sealing/ endpoints (docs/sealed-secrets.md "The
 * server's API"). The core's ladder has checked the seal, the token and the
 * ACL; these handlers parse, use the key table and shape the answer. Errors
 * name the parameter ("sealed_secret: spec.encryptedData.password: ...") and
 * never carry a secret's value; private keys never leave. */
#include "sealing/sealing_int.h"

#include "backend/field.h"
#include "core/core.h"
#include "crypto/sealedsecret.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sealing *
sealing_of(struct request *rq)
{
	return core_subsystem(rq->core, "sealing");
}

static int
bad(struct response *rs, int r, const char *field, const char *msg)
{
	(void)response_errorf(rs, "%s: %s", field, msg);
	return r;
}

/* The keys of the table, in its order, for the kseal and ss functions.
 * Caller holds the read lock; free the array. NULL on ENOMEM. */
static struct kseal_key **
key_array(struct sealing *s)
{
	struct kseal_key **arr = calloc(s->nkeys ? s->nkeys : 1, sizeof(*arr));

	for (size_t i = 0; arr && i < s->nkeys; i++)
		arr[i] = s->keys[i].k;
	return arr;
}

/* ---- the certificate: raw PEM, as the controller's /v1/cert.pem ---- */

static int
h_cert(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	char err[128];
	int r;

	r = sealing_rdlock_active(s, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "%s", err);
		return r;
	}
	r = response_body(rs, "application/x-pem-file", s->keys[0].cert_pem,
	                  strlen(s->keys[0].cert_pem));
	sealing_unlock(s);
	return r;
}

/* ---- keys ---- */

static int
h_keys(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	json_t *ids = json_array(), *info = json_object(), *d = NULL;
	int r = CF_ENOMEM;

	if (!ids || !info)
		goto out;
	sealing_rdlock(s);
	for (size_t i = 0; i < s->nkeys; i++) {
		if (json_array_append_new(ids, json_string(s->keys[i].id)) < 0 ||
		    json_object_set_new(info, s->keys[i].id, sealing_key_info(&s->keys[i])) < 0) {
			sealing_unlock(s);
			goto out;
		}
	}
	d = json_pack("{s:o, s:O, s:O}", "active_key",
	              s->nkeys > 0 && s->keys[0].state == SKEY_ACTIVE ? json_string(s->keys[0].id)
	                                                              : json_null(),
	              "keys", ids, "key_info", info);
	sealing_unlock(s);
	if (!d)
		goto out;
	response_set_data(rs, d);
	r = 0;
out:
	json_decref(ids);
	json_decref(info);
	return r;
}

/* The info of key i with its id (and its certificate when with_cert). Caller
 * holds the read lock. */
static json_t *
key_answer(struct sealing *s, size_t i, bool with_cert)
{
	json_t *d = sealing_key_info(&s->keys[i]);

	if (d && (json_object_set_new(d, "key_id", json_string(s->keys[i].id)) < 0 ||
	          (with_cert &&
	           json_object_set_new(d, "certificate", json_string(s->keys[i].cert_pem)) < 0))) {
		json_decref(d);
		d = NULL;
	}
	return d;
}

/* Answers the info of key id; 404 when it is not in the table. */
static int
answer_key(struct sealing *s, const char *id, bool with_cert, struct response *rs)
{
	json_t *d = NULL;
	ssize_t i;

	sealing_rdlock(s);
	i = sealing_find(s, id);
	if (i >= 0)
		d = key_answer(s, (size_t)i, with_cert);
	sealing_unlock(s);
	if (i < 0)
		return CF_ENOTFOUND;
	if (!d)
		return CF_ENOMEM;
	response_set_data(rs, d);
	return 0;
}

static int
h_key_read(struct request *rq, struct response *rs)
{
	return answer_key(sealing_of(rq), rq->cap[0], true, rs);
}

static int
h_rotate(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	char id[KSEAL_ID_LEN + 1];
	int r = sealing_rotate(s, id);

	if (r < 0) {
		(void)response_errorf(rs, "a new sealing key could not be made: %s",
		                      cf_strerror(r));
		return r == CF_ESEALED ? r : CF_EINTERNAL;
	}
	return answer_key(s, id, false, rs);
}

static int
h_compromised(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	int r = sealing_compromise(s, rq->cap[0]);

	if (r == CF_ENOTFOUND)
		return bad(rs, r, "id", "no sealing key has this id");
	if (r < 0) {
		(void)response_errorf(rs, "the key could not be marked compromised: %s",
		                      cf_strerror(r));
		return r;
	}
	return answer_key(s, rq->cap[0], false, rs);
}

struct import_args {
	const char *private_key;
	const char *certificate;
	bool active;
};

static const struct field import_fields[] = {
        {"private_key", FIELD_STRING, FIELD_REQUIRED | FIELD_SECRET,
         offsetof(struct import_args, private_key),
         .desc = "PEM RSA private key, PKCS#1 (the controller's tls.key) or PKCS#8"},
        {"certificate", FIELD_STRING, FIELD_REQUIRED, offsetof(struct import_args, certificate),
         .desc = "PEM certificate of that key (the controller's tls.crt)"},
        {"active", FIELD_BOOL, 0, offsetof(struct import_args, active), .def = "false",
         .desc = "make it the sealing key; else it is kept to unseal (retired)"},
        {0},
};

static int
h_import(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	struct import_args a = {0};
	struct kseal_key *k = NULL;
	char err[256], id[KSEAL_ID_LEN + 1];
	int r;

	r = field_parse(import_fields, rq->data, &a, rs);
	if (r < 0)
		return r;
	/* Each part alone first, so the error names the one that is wrong. */
	r = kseal_cert_load(a.certificate, strlen(a.certificate), 0, &k, err, sizeof(err));
	kseal_key_free(k);
	k = NULL;
	if (r == CF_EINVAL)
		return bad(rs, r, "certificate", err);
	if (r == 0) {
		r = kseal_key_load(a.private_key, strlen(a.private_key), NULL, 0, &k, err,
		                   sizeof(err));
		kseal_key_free(k);
		k = NULL;
		if (r == CF_EINVAL)
			return bad(rs, r, "private_key", err);
	}
	if (r == 0)
		r = kseal_key_load(a.private_key, strlen(a.private_key), a.certificate,
		                   strlen(a.certificate), &k, err, sizeof(err));
	if (r == CF_EINVAL)
		return bad(rs, r, "certificate", err);
	if (r < 0)
		return r;
	if (a.active && kseal_key_not_after(k) < (time_t)util_now()) {
		kseal_key_free(k);
		return bad(rs, CF_EINVAL, "certificate",
		           "expired: kubeseal refuses to seal to it; import it with active false "
		           "to unseal with it");
	}
	r = sealing_import(s, k, a.active, id);
	if (r == CF_EEXIST) /* k is freed: sealing_import takes it over */
		return bad(rs, CF_EEXIST, "private_key", "this key is already present");
	if (r < 0)
		return r;
	return answer_key(s, id, false, rs);
}

/* ---- unseal, reseal, audit ---- */

struct unseal_args {
	json_t *sealed_secret;
	bool allow_compromised;
};

static const struct field unseal_fields[] = {
        {"sealed_secret", FIELD_OBJECT, FIELD_REQUIRED, offsetof(struct unseal_args, sealed_secret),
         .desc = "the SealedSecret manifest (bitnami.com/v1alpha1) as a JSON object"},
        {"allow_compromised", FIELD_BOOL, 0, offsetof(struct unseal_args, allow_compromised),
         .def = "false", .desc = "open items that only a compromised key opens"},
        {0},
};

static const struct field reseal_fields[] = {
        {"sealed_secret", FIELD_OBJECT, FIELD_REQUIRED, offsetof(struct unseal_args, sealed_secret),
         .desc = "the SealedSecret manifest to re-seal to the active key"},
        {0},
};

/* usage (item -> key index or null, from ss_key_usage) as item -> key id. */
static json_t *
usage_ids(struct sealing *s, json_t *usage)
{
	json_t *ids = json_object(), *v;
	const char *item;

	json_object_foreach(usage, item, v)
	{
		json_t *id = json_is_integer(v) && (size_t)json_integer_value(v) < s->nkeys
		                     ? json_string(s->keys[json_integer_value(v)].id)
		                     : json_null();
		if (!ids || json_object_set_new(ids, item, id) < 0) {
			json_decref(ids);
			return NULL;
		}
	}
	return ids;
}

/* The first item of usage opened only by a compromised key, or NULL; its key
 * index in *ret_i. */
static const char *
compromised_item(struct sealing *s, json_t *usage, size_t *ret_i)
{
	const char *item;
	json_t *v;

	json_object_foreach(usage, item, v)
	{
		if (!json_is_integer(v) || (size_t)json_integer_value(v) >= s->nkeys)
			continue;
		if (s->keys[json_integer_value(v)].state == SKEY_COMPROMISED) {
			*ret_i = (size_t)json_integer_value(v);
			return item;
		}
	}
	return NULL;
}

/* CF_ECRYPTO (an item no key opens) is the client's input, not a fault. */
static int
input_error(struct response *rs, int r, const char *field, const char *err)
{
	if (r == CF_EINVAL || r == CF_ECRYPTO)
		return bad(rs, CF_EINVAL, field, err);
	return r;
}

static int
h_unseal(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	struct unseal_args a = {0};
	struct kseal_key **arr = NULL;
	json_t *usage = NULL, *secret = NULL, *ids = NULL;
	const char *item;
	char err[512];
	size_t ki;
	int r;

	r = field_parse(unseal_fields, rq->data, &a, rs);
	if (r < 0)
		goto out;
	sealing_rdlock(s);
	arr = key_array(s);
	r = arr ? ss_key_usage(arr, s->nkeys, a.sealed_secret, &usage, err, sizeof(err))
	        : CF_ENOMEM;
	if (r == 0 && !a.allow_compromised && (item = compromised_item(s, usage, &ki))) {
		(void)response_errorf(rs,
		                      "sealed_secret: spec.encryptedData.%s: sealed with "
		                      "compromised key %s; set allow_compromised to open it",
		                      item, s->keys[ki].id);
		r = CF_EINVAL;
	} else if (r == 0) {
		r = ss_unseal(arr, s->nkeys, a.sealed_secret, &secret, err, sizeof(err));
		if (r == 0 && !(ids = usage_ids(s, usage)))
			r = CF_ENOMEM;
		if (r < 0)
			r = input_error(rs, r, "sealed_secret", err);
	} else {
		r = input_error(rs, r, "sealed_secret", err);
	}
	sealing_unlock(s);
	if (r == 0)
		response_set_data(rs, json_pack("{s:O, s:O}", "secret", secret, "key_ids", ids));
out:
	free(arr);
	json_decref(usage);
	json_decref(secret);
	json_decref(ids);
	field_free(unseal_fields, &a);
	return r;
}

/* One warning per item that a compromised key opened. */
static void
warn_compromised(struct sealing *s, json_t *usage, struct response *rs)
{
	const char *item;
	json_t *v;

	json_object_foreach(usage, item, v)
	{
		if (json_is_integer(v) && (size_t)json_integer_value(v) < s->nkeys &&
		    s->keys[json_integer_value(v)].state == SKEY_COMPROMISED)
			(void)response_warnf(
			        rs,
			        "spec.encryptedData.%s was sealed with compromised key "
			        "%s; it is now sealed to %s",
			        item, s->keys[json_integer_value(v)].id, s->keys[0].id);
	}
}

static int
h_reseal(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	struct unseal_args a = {0};
	struct kseal_key **arr = NULL;
	json_t *usage = NULL, *out = NULL;
	char err[512];
	int r;

	r = field_parse(reseal_fields, rq->data, &a, rs);
	if (r < 0)
		goto out;
	r = sealing_rdlock_active(s, err, sizeof(err));
	if (r < 0) {
		(void)response_errorf(rs, "%s", err);
		goto out;
	}
	arr = key_array(s);
	r = arr ? ss_key_usage(arr, s->nkeys, a.sealed_secret, &usage, err, sizeof(err))
	        : CF_ENOMEM;
	if (r == 0)
		r = ss_reseal(arr, s->nkeys, s->keys[0].k, a.sealed_secret, &out, err, sizeof(err));
	if (r == 0) {
		warn_compromised(s, usage, rs);
		response_set_data(
		        rs, json_pack("{s:O, s:s}", "sealed_secret", out, "key_id", s->keys[0].id));
	} else {
		r = input_error(rs, r, "sealed_secret", err);
	}
	sealing_unlock(s);
out:
	free(arr);
	json_decref(usage);
	json_decref(out);
	field_free(reseal_fields, &a);
	return r;
}

struct audit_args {
	json_t *sealed_secrets;
};

static int
parse_manifest_list(json_t *val, json_t **ret, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(val) || json_array_size(val) > SEALING_AUDIT_MAX) {
		snprintf(err, errlen, "must be an array of at most %d SealedSecret objects",
		         SEALING_AUDIT_MAX);
		return CF_EINVAL;
	}
	json_array_foreach(val, i, v)
	{
		if (!json_is_object(v)) {
			snprintf(err, errlen, "item %zu is not an object", i);
			return CF_EINVAL;
		}
	}
	*ret = json_incref(val);
	return 0;
}

static const struct field audit_fields[] = {
        {"sealed_secrets", FIELD_CUSTOM, FIELD_REQUIRED,
         offsetof(struct audit_args, sealed_secrets),
         .desc = "array of SealedSecret manifests (JSON objects) to check",
         .parse = parse_manifest_list},
        {0},
};

/* The worst state of a document's items, as flags. */
enum { DOC_RETIRED = 1, DOC_COMPROMISED = 2, DOC_UNDECRYPTABLE = 4 };

/* One result of sys/sealing/audit: name, namespace, scope and the items'
 * keys and states; *ret_flags gets the DOC_* flags. Caller holds the read
 * lock. */
static int
audit_one(struct sealing *s, struct kseal_key **arr, json_t *doc, json_t **ret, unsigned *ret_flags,
          char *err, size_t errlen)
{
	json_t *md = json_object_get(doc, "metadata"), *usage = NULL, *items, *v;
	const char *ns = json_string_value(json_object_get(md, "namespace")), *item;
	enum kseal_scope scope;
	unsigned flags = 0;
	int r;

	r = ss_scope(doc, &scope, NULL, err, errlen);
	if (r == 0)
		r = ss_key_usage(arr, s->nkeys, doc, &usage, err, errlen);
	if (r < 0)
		return r;
	items = json_object();
	if (!items) {
		json_decref(usage);
		return CF_ENOMEM;
	}
	json_object_foreach(usage, item, v)
	{
		const char *state = "undecryptable";
		json_t *id = json_null();
		if (json_is_integer(v) && (size_t)json_integer_value(v) < s->nkeys) {
			struct skey *k = &s->keys[json_integer_value(v)];
			state = sealing_state_name(k->state);
			id = json_string(k->id);
			flags |= k->state == SKEY_COMPROMISED ? DOC_COMPROMISED
			         : k->state == SKEY_RETIRED   ? DOC_RETIRED
			                                      : 0;
		} else {
			flags |= DOC_UNDECRYPTABLE;
		}
		json_object_set_new(items, item,
		                    json_pack("{s:o, s:s}", "key_id", id, "state", state));
	}
	json_decref(usage);
	*ret = json_pack("{s:s, s:s, s:s, s:o}", "name",
	                 json_string_value(json_object_get(md, "name")), "namespace", ns ? ns : "",
	                 "scope", kseal_scope_name(scope), "items", items);
	*ret_flags = flags;
	return *ret ? 0 : CF_ENOMEM;
}

static int
h_audit(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	struct audit_args a = {0};
	struct kseal_key **arr = NULL;
	json_t *results = json_array(), *lists[3] = {json_array(), json_array(), json_array()};
	char err[512], ref[600];
	size_t i;
	int r;

	r = field_parse(audit_fields, rq->data, &a, rs);
	if (r < 0)
		goto out;
	sealing_rdlock(s);
	arr = key_array(s);
	r = arr && results && lists[0] && lists[1] && lists[2] ? 0 : CF_ENOMEM;
	for (i = 0; r == 0 && i < json_array_size(a.sealed_secrets); i++) {
		json_t *res = NULL;
		unsigned flags = 0;
		r = audit_one(s, arr, json_array_get(a.sealed_secrets, i), &res, &flags, err,
		              sizeof(err));
		if (r == CF_EINVAL) {
			(void)response_errorf(rs, "sealed_secrets[%zu]: %s", i, err);
			break;
		}
		if (r < 0)
			break;
		json_array_append_new(results, res);
		if (*json_string_value(json_object_get(res, "namespace")))
			snprintf(ref, sizeof(ref), "%s/%s",
			         json_string_value(json_object_get(res, "namespace")),
			         json_string_value(json_object_get(res, "name")));
		else
			snprintf(ref, sizeof(ref), "%s",
			         json_string_value(json_object_get(res, "name")));
		for (int b = 0; b < 3; b++)
			if (flags & (1u << b))
				json_array_append_new(lists[b], json_string(ref));
	}
	sealing_unlock(s);
	if (r == 0)
		response_set_data(rs, json_pack("{s:O, s:O, s:O, s:O}", "results", results,
		                                "retired", lists[0], "compromised", lists[1],
		                                "undecryptable", lists[2]));
out:
	free(arr);
	json_decref(results);
	for (int b = 0; b < 3; b++)
		json_decref(lists[b]);
	field_free(audit_fields, &a);
	return r;
}

/* ---- config ---- */

struct config_args {
	int64_t renew_period;
	int64_t key_bits;
	const char *common_name;
};

/* No defaults here: a write changes only what it gives (the defaults are the
 * stored config's, docs/sealed-secrets.md). */
static const struct field config_fields[] = {
        {"renew_period", FIELD_DURATION, 0, offsetof(struct config_args, renew_period),
         .desc = "make a new active key when the active one is this old (default 720h; 0: "
                 "never)"},
        {"key_bits", FIELD_INT, 0, offsetof(struct config_args, key_bits),
         .desc = "RSA size of new keys: 2048, 3072 or 4096 (default 4096)"},
        {"common_name", FIELD_STRING, 0, offsetof(struct config_args, common_name),
         .desc = "CN of new keys' certificates, at most 64 bytes (default empty)"},
        {0},
};

static int
h_config_read(struct request *rq, struct response *rs)
{
	struct sealing_config cfg;

	sealing_config_get(sealing_of(rq), &cfg);
	response_set_data(rs, json_pack("{s:I, s:I, s:s}", "renew_period",
	                                (json_int_t)cfg.renew_period, "key_bits",
	                                (json_int_t)cfg.key_bits, "common_name", cfg.common_name));
	return 0;
}

static int
h_config_write(struct request *rq, struct response *rs)
{
	struct sealing *s = sealing_of(rq);
	struct sealing_config cfg;
	struct config_args a;
	int r;

	sealing_config_get(s, &cfg);
	a = (struct config_args){cfg.renew_period, cfg.key_bits, cfg.common_name};
	r = field_parse(config_fields, rq->data, &a, rs);
	if (r < 0)
		return r;
	if (a.key_bits != 2048 && a.key_bits != 3072 && a.key_bits != 4096)
		return bad(rs, CF_EINVAL, "key_bits", "must be 2048, 3072 or 4096");
	if (strlen(a.common_name) > SEALING_CN_MAX)
		return bad(rs, CF_EINVAL, "common_name", "at most 64 bytes");
	cfg.renew_period = a.renew_period;
	cfg.key_bits = (unsigned)a.key_bits;
	snprintf(cfg.common_name, sizeof(cfg.common_name), "%s", a.common_name);
	r = sealing_config_set(s, &cfg);
	if (r < 0)
		return r;
	return h_config_read(rq, rs);
}

/* Reading the config needs sudo too: one route row has one set of flags. */
const struct route sealing_sys_routes[] = {
        {"sealing/cert", R_NOAUTH, .read = h_cert},
        {"sealing/keys", R_PURE_READ, .read = h_keys, .list = h_keys},
        {"sealing/keys/", R_PURE_READ, .read = h_keys, .list = h_keys},
        {"sealing/keys/import", R_SUDO, .write = h_import, .fields = import_fields},
        {"sealing/keys/+", R_PURE_READ, .read = h_key_read},
        {"sealing/keys/+/compromised", R_SUDO, .write = h_compromised},
        {"sealing/rotate", R_SUDO, .write = h_rotate},
        {"sealing/unseal", 0, .write = h_unseal, .fields = unseal_fields},
        {"sealing/reseal", 0, .write = h_reseal, .fields = reseal_fields},
        {"sealing/audit", 0, .write = h_audit, .fields = audit_fields},
        {"sealing/config", R_SUDO, .read = h_config_read, .write = h_config_write,
         .fields = config_fields},
};
const size_t sealing_sys_nroutes = sizeof(sealing_sys_routes) / sizeof(sealing_sys_routes[0]);

/* ---- the key table as a core subsystem ---- */

static int
subsys_start(struct core *c, void *arg)
{
	int r = sealing_start(arg);

	(void)c;
	if (r < 0)
		log_error("the sealing keys could not be loaded: %s", cf_strerror(r));
	return 0;
}

static void
subsys_stop(struct core *c, void *arg)
{
	(void)c;
	sealing_stop(arg);
}

static void
subsys_free(void *arg)
{
	sealing_free(arg);
}

int
sealing_subsystem_new(struct core *c, struct core_subsystem *ret, struct core_hooks *hooks)
{
	struct sealing *s;
	int r = sealing_new(c, &s);

	(void)hooks;
	if (r < 0)
		return r;
	*ret = (struct core_subsystem){
	        .name = "sealing",
	        .start = subsys_start,
	        .stop = subsys_stop,
	        .free = subsys_free,
	        .arg = s,
	};
	return 0;
}
