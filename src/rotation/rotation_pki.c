/* rotation_pki.c - the pki target: a TLS certificate issued by a PKI mount,
 * kept in a KV v2 secret and renewed renew_before its expiry
 * (docs/internals/rotation.md "The pki target").
 *
 * Everything goes through the engines' routes (internal requests):
 *   create  notes the KV path's latest version (base_version)
 *   set     POST <mount>issue/<role>; the answer (certificate, private key:
 *           SECRET) is stored in the pending record at once, before anything
 *           else, so a restart resumes with it and never issues twice
 *   test    the certificate parses and matches its private key
 *   finish  compromise: POST <mount>revoke for the current (and previous)
 *           certificate, destroy every KV version; then write the new KV version
 *           with cas (stored first, as the kv target: a resume that finds it
 *           written only promotes)
 *   revoke  at the previous certificate's expiry (its grace): destroy the
 *           previous KV version. A normal renewal never revokes a certificate. */
#include "rotation/rotation_int.h"

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROT_SERIAL_MAX 192 /* "1a:2b:..." of a 63-byte serial */

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* {mount: kv_mount, path}: what the KV helpers take. */
static json_t *
kv_cfg(json_t *cfg)
{
	return json_pack("{s:s, s:s}", "mount", jstr(cfg, "kv_mount"), "path", jstr(cfg, "path"));
}

int
rotation_pki_check(struct rctx *x, json_t *cfg)
{
	struct response rs;
	char p[1024];
	int st;

	snprintf(p, sizeof(p), "%sroles/%s", jstr(cfg, "mount"), jstr(cfg, "role"));
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	response_reset(&rs);
	if (st != 200) {
		snprintf(x->err, sizeof(x->err), "mount %s is not a PKI mount with a role %s",
		         jstr(cfg, "mount"), jstr(cfg, "role"));
		return CF_EINVAL;
	}
	snprintf(p, sizeof(p), "%sconfig", jstr(cfg, "kv_mount"));
	st = rotation_call(x, OP_READ, p, NULL, &rs);
	response_reset(&rs);
	if (st != 200) {
		snprintf(x->err, sizeof(x->err), "kv_mount %s is not a KV version 2 mount",
		         jstr(cfg, "kv_mount"));
		return CF_EINVAL;
	}
	return 0;
}

/* notBefore and notAfter of a PEM certificate (unix s) and its serial in API
 * form. CF_EINVAL when it does not parse. */
static int
cert_info(const char *pem, int64_t *ret_nb, int64_t *ret_na, char serial[ROT_SERIAL_MAX])
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int r = CF_EINVAL;

	if (!c)
		goto out;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm) != 1)
		goto out;
	*ret_na = (int64_t)timegm(&tm);
	if (ASN1_TIME_to_tm(X509_get0_notBefore(c), &tm) != 1)
		goto out;
	*ret_nb = (int64_t)timegm(&tm);
	if (serial) {
		const ASN1_INTEGER *sn = X509_get0_serialNumber(c);
		size_t n = 0;
		serial[0] = '\0';
		for (int i = 0; i < sn->length && n + 4 < ROT_SERIAL_MAX; i++)
			n += (size_t)snprintf(serial + n, ROT_SERIAL_MAX - n, "%s%02x",
			                      i ? ":" : "", sn->data[i]);
	}
	r = 0;
out:
	X509_free(c);
	BIO_free(b);
	return r;
}

int
rotation_pki_initial(struct rctx *x, json_t *cfg, json_t *st, bool *ret_missing)
{
	json_t *kc = kv_cfg(cfg), *data = NULL;
	char serial[ROT_SERIAL_MAX];
	int64_t ver = 0, nb, na;
	int r;

	if (!kc)
		return CF_ENOMEM;
	r = rotation_kv_read(x, kc, &ver, &data);
	json_decref(kc);
	if (r < 0)
		return r;
	*ret_missing = true;
	json_object_set_new(st, "current_version", json_integer(ver));
	if (data && cert_info(jstr(data, "certificate"), &nb, &na, serial) == 0) {
		/* taken over: renewed by its expiry like one the job issued */
		json_object_set_new(st, "cert_serial", json_string(serial));
		json_object_set_new(st, "cert_expiration", json_integer(na));
		*ret_missing = false;
	}
	json_decref(data);
	return 0;
}

int64_t
rotation_pki_due(json_t *cfg, json_t *st)
{
	int64_t exp = jint(st, "cert_expiration"), issued = jint(st, "cert_issued");
	int64_t t = exp - jint(cfg, "renew_before_s");

	if (exp <= 0)
		return 0;
	if (issued > 0 && t < issued + (exp - issued) / 2)
		t = issued + (exp - issued) / 2;
	return t * NS_PER_S;
}

int
rotation_pki_create(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *kc = kv_cfg(cfg), *data = NULL;
	int64_t ver = 0;
	int r;

	(void)st;
	if (!kc)
		return CF_ENOMEM;
	r = rotation_kv_read(x, kc, &ver, &data);
	json_decref(kc);
	json_decref(data);
	if (r == 0)
		json_object_set_new(p, "base_version", json_integer(ver));
	return r;
}

/* The issue request of the job. */
static json_t *
issue_body(json_t *cfg)
{
	json_t *b =
	        json_pack("{s:s, s:s}", "common_name", jstr(cfg, "common_name"), "format", "pem");
	char ttl[32];

	if (!b)
		return NULL;
	if (*jstr(cfg, "alt_names"))
		json_object_set(b, "alt_names", json_object_get(cfg, "alt_names"));
	if (*jstr(cfg, "ip_sans"))
		json_object_set(b, "ip_sans", json_object_get(cfg, "ip_sans"));
	if (jint(cfg, "ttl_s") > 0) {
		snprintf(ttl, sizeof(ttl), "%llds", (long long)jint(cfg, "ttl_s"));
		json_object_set_new(b, "ttl", json_string(ttl));
	}
	return b;
}

/* What the KV version holds, from an issue answer: the certificate, its
 * private key (SECRET), the chain above it as one PEM string, the serial and
 * the expiration (unix s). */
static json_t *
kv_data(json_t *ans, const char *serial, int64_t na)
{
	json_t *chain = json_object_get(ans, "ca_chain"), *v;
	json_t *d;
	size_t i, n = 0;
	char *pem;

	json_array_foreach(chain, i, v) n +=
	        strlen(json_string_value(v) ? json_string_value(v) : "") + 1;
	pem = calloc(1, n + 1);
	if (!pem)
		return NULL;
	json_array_foreach(chain, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		strcat(pem, s);
		if (*s && s[strlen(s) - 1] != '\n')
			strcat(pem, "\n");
	}
	if (!*pem && json_is_string(json_object_get(ans, "issuing_ca")))
		d = json_pack("{s:O}", "ca_chain", json_object_get(ans, "issuing_ca"));
	else
		d = json_pack("{s:s}", "ca_chain", pem);
	free(pem);
	if (!d)
		return NULL;
	json_object_set(d, "certificate", json_object_get(ans, "certificate"));
	json_object_set(d, "private_key", json_object_get(ans, "private_key"));
	json_object_set(d, "private_key_type", json_object_get(ans, "private_key_type"));
	json_object_set(d, "issuing_ca", json_object_get(ans, "issuing_ca"));
	json_object_set_new(d, "serial_number", json_string(serial));
	json_object_set_new(d, "expiration", json_integer(na));
	return d;
}

int
rotation_pki_set(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	struct response rs;
	char path[1024], serial[ROT_SERIAL_MAX];
	json_t *body, *d;
	int64_t nb, na;
	int status, r;

	(void)st;
	if (json_is_object(json_object_get(p, "data")))
		return 0; /* issued before a restart */
	snprintf(path, sizeof(path), "%sissue/%s", jstr(cfg, "mount"), jstr(cfg, "role"));
	body = issue_body(cfg);
	if (!body)
		return CF_ENOMEM;
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status != 200) {
		r = rotation_call_fail(x, &rs, status, "issuing the certificate");
		response_reset(&rs);
		return r;
	}
	if (!json_is_string(json_object_get(rs.data, "private_key")) ||
	    cert_info(jstr(rs.data, "certificate"), &nb, &na, serial) < 0) {
		snprintf(x->err, sizeof(x->err),
		         "issuing the certificate: no certificate and key "
		         "in the answer");
		response_reset(&rs);
		return CF_EUPSTREAM;
	}
	d = kv_data(rs.data, serial, na);
	response_reset(&rs);
	if (!d)
		return CF_ENOMEM;
	json_object_set_new(p, "data", d);
	json_object_set_new(p, "cert_serial", json_string(serial));
	json_object_set_new(p, "cert_expiration", json_integer(na));
	json_object_set_new(p, "cert_issued", json_integer(nb));
	/* Kept before anything else: the only copy of the new key is in memory. */
	return x->save(x);
}

int
rotation_pki_test(struct rctx *x, json_t *cfg, json_t *st, json_t *p)
{
	json_t *d = json_object_get(p, "data");
	const char *kp = jstr(d, "private_key");
	BIO *cb = BIO_new_mem_buf(jstr(d, "certificate"), -1);
	BIO *kb = BIO_new_mem_buf(kp, -1);
	X509 *c = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int r = 0;

	(void)cfg;
	(void)st;
	if (!c || !k || X509_check_private_key(c, k) != 1) {
		snprintf(x->err, sizeof(x->err),
		         "the issued certificate does not match its private key");
		r = CF_EUPSTREAM;
	}
	EVP_PKEY_free(k);
	X509_free(c);
	BIO_free(cb);
	BIO_free(kb);
	return r;
}

/* POST <mount>revoke for serial (idempotent: the engine answers a revoked
 * serial with its first revocation time). */
static int
revoke_serial(struct rctx *x, json_t *cfg, const char *serial)
{
	struct response rs;
	char path[1024];
	json_t *body;
	int status, r = 0;

	if (!serial || !*serial)
		return 0;
	snprintf(path, sizeof(path), "%srevoke", jstr(cfg, "mount"));
	body = json_pack("{s:s}", "serial_number", serial);
	if (!body)
		return CF_ENOMEM;
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status >= 300)
		r = rotation_call_fail(x, &rs, status, "revoking the certificate");
	response_reset(&rs);
	return r;
}

/* The state the commit takes over: the new certificate, and the one it
 * replaces (none after a compromise). */
static json_t *
target_state(json_t *st, json_t *p, bool compromise)
{
	json_t *ts = json_pack("{s:O, s:O, s:O}", "cert_serial", json_object_get(p, "cert_serial"),
	                       "cert_expiration", json_object_get(p, "cert_expiration"),
	                       "cert_issued", json_object_get(p, "cert_issued"));

	if (!ts)
		return NULL;
	if (!compromise && *jstr(st, "cert_serial")) {
		json_object_set(ts, "prev_cert_serial", json_object_get(st, "cert_serial"));
		json_object_set(ts, "prev_cert_expiration", json_object_get(st, "cert_expiration"));
	} else {
		json_object_set_new(ts, "prev_cert_serial", json_null());
		json_object_set_new(ts, "prev_cert_expiration", json_null());
	}
	return ts;
}

int
rotation_pki_finish(struct rctx *x, json_t *cfg, json_t *st, json_t *p, bool compromise)
{
	json_t *kc = kv_cfg(cfg), *data = NULL, *pd = json_object_get(p, "data"), *body;
	struct response rs;
	char path[2048];
	int64_t ver = 0, exp;
	int r, status;

	if (!kc)
		return CF_ENOMEM;
	r = rotation_kv_read(x, kc, &ver, &data);
	if (r < 0)
		goto out;
	if (data && json_equal(data, pd)) {
		/* Written before a restart: what the commit needs was stored with it. */
		json_object_set_new(p, "new_version", json_integer(ver));
		goto out;
	}
	if (compromise) {
		/* The leaked certificates stop being trusted (the engine rebuilds its
		 * CRL), and every copy of their keys goes, before the new one exists. */
		r = revoke_serial(x, cfg, jstr(st, "cert_serial"));
		if (r == 0 && jint(st, "previous_version") > 0)
			r = revoke_serial(x, cfg, jstr(st, "prev_cert_serial"));
		if (r == 0)
			r = rotation_kv_destroy_older(x, kc, INT64_MAX);
		json_decref(data);
		data = NULL;
		if (r == 0)
			r = rotation_kv_read(x, kc, &ver, &data);
		if (r < 0)
			goto out;
	}
	json_object_set_new(p, "prev_version", json_integer(compromise || !data ? 0 : ver));
	json_object_set_new(p, "hashes", json_object());
	json_object_set_new(p, "prev_hashes", json_object());
	/* The previous certificate stays valid until it expires: that is its grace
	 * (an expiry already past ends it at once). */
	exp = jint(st, "cert_expiration");
	json_object_set_new(p, "grace_ends",
	                    json_integer(compromise || !data ? 0
	                                 : exp > 0           ? exp * NS_PER_S
	                                                     : 1));
	json_object_set_new(p, "target_state", target_state(st, p, compromise));
	/* Stored before the write, so a restart after it finds it equal above. */
	r = x->save(x);
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "%sdata/%s", jstr(cfg, "kv_mount"), jstr(cfg, "path"));
	body = json_pack("{s:O, s:{s:I}}", "data", pd, "options", "cas", (json_int_t)ver);
	if (!body) {
		r = CF_ENOMEM;
		goto out;
	}
	status = rotation_call(x, OP_UPDATE, path, body, &rs);
	json_decref(body);
	if (status != 200) {
		r = rotation_call_fail(x, &rs, status, "writing the new version");
		response_reset(&rs);
		goto out;
	}
	json_object_set_new(p, "new_version",
	                    json_integer(json_integer_value(json_object_get(rs.data, "version"))));
	response_reset(&rs);
out:
	json_decref(data);
	json_decref(kc);
	return r;
}

int
rotation_pki_revoke(struct rctx *x, json_t *cfg, json_t *st, int64_t version)
{
	json_t *kc = kv_cfg(cfg);
	int r;

	(void)st;
	if (!kc)
		return CF_ENOMEM;
	r = rotation_kv_revoke(x, kc, version);
	json_decref(kc);
	return r;
}
