/* rotation_gen.c - value generators for rotated fields (docs/internals/rotation.md
 * "Generators"): password, hex, base64, api-key, uuid and the key pairs
 * ed25519, ecdsa-p256, rsa-2048, rsa-4096. Every byte comes from the OS CSPRNG
 * (libsodium randombytes; OpenSSL's DRBG for key pairs). Scratch buffers that
 * held a value are wiped before they are freed; the JSON values themselves are
 * wiped by the zeroing jansson allocator. */
#include "rotation/rotation_int.h"

#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_MAX_BYTES  1024
#define GEN_MAX_LENGTH 1024
#define GEN_MAX_PREFIX 64

static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz";
static const char UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char DIGITS[] = "0123456789";
static const char SYMBOLS[] = "!#$%&()*+,-./:;<=>?@[]^_{|}~";

struct gen_param {
	const char *name;
	char type; /* 'i' int, 'b' bool, 's' string */
	json_int_t def_i;
	const char *def_s;
	json_int_t min, max;
};

struct gen_type {
	const char *name;
	struct gen_param params[6];
};

static const struct gen_type gens[] = {
        {"password",
         {{"length", 'i', 32, NULL, 4, GEN_MAX_LENGTH},
          {"lower", 'b', 1, NULL, 0, 0},
          {"upper", 'b', 1, NULL, 0, 0},
          {"digits", 'b', 1, NULL, 0, 0},
          {"symbols", 'b', 1, NULL, 0, 0},
          {"exclude", 's', 0, "", 0, 256}}},
        {"hex", {{"bytes", 'i', 32, NULL, 1, GEN_MAX_BYTES}}},
        {"base64", {{"bytes", 'i', 32, NULL, 1, GEN_MAX_BYTES}, {"url_safe", 'b', 0, NULL, 0, 0}}},
        {"api-key",
         {{"prefix", 's', 0, "sk_", 0, GEN_MAX_PREFIX},
          {"bytes", 'i', 32, NULL, 1, GEN_MAX_BYTES}}},
        {"uuid", {{NULL, 0, 0, NULL, 0, 0}}},
        {"ed25519", {{NULL, 0, 0, NULL, 0, 0}}},
        {"ecdsa-p256", {{NULL, 0, 0, NULL, 0, 0}}},
        {"rsa-2048", {{NULL, 0, 0, NULL, 0, 0}}},
        {"rsa-4096", {{NULL, 0, 0, NULL, 0, 0}}},
};

static const struct gen_type *
gen_find(const char *name)
{
	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++)
		if (strcmp(gens[i].name, name) == 0)
			return &gens[i];
	return NULL;
}

static int
param_set(json_t *out, const struct gen_param *p, json_t *v, const char *gname, char *err,
          size_t errlen)
{
	switch (p->type) {
	case 'i': {
		json_int_t n;
		if (json_is_integer(v))
			n = json_integer_value(v);
		else if (json_is_string(v)) {
			int64_t t;
			if (util_parse_int(json_string_value(v), &t) < 0)
				goto bad;
			n = (json_int_t)t;
		} else
			goto bad;
		if (n < p->min || n > p->max) {
			snprintf(err, errlen, "generator %s: %s must be between %lld and %lld",
			         gname, p->name, (long long)p->min, (long long)p->max);
			return CF_EINVAL;
		}
		json_object_set_new(out, p->name, json_integer(n));
		return 0;
	}
	case 'b': {
		bool b;
		if (json_is_boolean(v))
			b = json_is_true(v);
		else if (!json_is_string(v) || util_parse_bool(json_string_value(v), &b) < 0)
			goto bad;
		json_object_set_new(out, p->name, json_boolean(b));
		return 0;
	}
	default:
		if (!json_is_string(v) || json_string_length(v) > (size_t)p->max)
			goto bad;
		json_object_set_new(out, p->name, json_string(json_string_value(v)));
		return 0;
	}
bad:
	snprintf(err, errlen, "generator %s: invalid %s", gname, p->name);
	return CF_EINVAL;
}

int
rotation_gen_parse(json_t *spec, json_t *def, json_t **ret, char *err, size_t errlen)
{
	const struct gen_type *g;
	const char *name = NULL, *k;
	json_t *out = NULL, *v, *base = NULL;
	int r = CF_EINVAL;

	if (json_is_string(spec)) {
		name = json_string_value(spec);
	} else if (json_is_object(spec)) {
		name = json_string_value(json_object_get(spec, "generator"));
		if (!name && json_object_get(spec, "generator")) {
			snprintf(err, errlen, "generator must be a string");
			return CF_EINVAL;
		}
		if (!name && def) {
			name = json_string_value(json_object_get(def, "generator"));
			base = def;
		}
	} else {
		snprintf(err, errlen, "a key's generator must be a string or an object");
		return CF_EINVAL;
	}
	if (!name) {
		snprintf(err, errlen, "missing generator (no template default)");
		return CF_EINVAL;
	}
	g = gen_find(name);
	if (!g) {
		snprintf(err, errlen, "unknown generator: %s", name);
		return CF_EINVAL;
	}
	out = json_pack("{s:s}", "generator", g->name);
	if (!out)
		return CF_ENOMEM;
	for (const struct gen_param *p = g->params; p < g->params + 6 && p->name; p++) {
		v = json_is_object(spec) ? json_object_get(spec, p->name) : NULL;
		if (!v && base)
			v = json_object_get(base, p->name);
		if (v) {
			r = param_set(out, p, v, g->name, err, errlen);
			if (r < 0)
				goto fail;
		} else if (p->type == 'i') {
			json_object_set_new(out, p->name, json_integer(p->def_i));
		} else if (p->type == 'b') {
			json_object_set_new(out, p->name, json_boolean(p->def_i != 0));
		} else {
			json_object_set_new(out, p->name, json_string(p->def_s));
		}
	}
	if (json_is_object(spec)) {
		json_object_foreach(spec, k, v)
		{
			if (!json_object_get(out, k)) {
				snprintf(err, errlen, "generator %s: unknown parameter %s", g->name,
				         k);
				r = CF_EINVAL;
				goto fail;
			}
		}
	}
	if (strcmp(g->name, "password") == 0) {
		bool any = json_is_true(json_object_get(out, "lower")) ||
		           json_is_true(json_object_get(out, "upper")) ||
		           json_is_true(json_object_get(out, "digits")) ||
		           json_is_true(json_object_get(out, "symbols"));
		if (!any) {
			snprintf(err, errlen, "generator password: no character class enabled");
			r = CF_EINVAL;
			goto fail;
		}
	}
	*ret = out;
	return 0;
fail:
	json_decref(out);
	return r;
}

/* ---- generation ---- */

static int
set_secret(json_t *out, const char *field, const char *val, size_t n)
{
	json_t *s = json_stringn(val, n);

	if (!s || json_object_set_new(out, field, s) < 0)
		return CF_ENOMEM;
	return 0;
}

static void
add_class(char *set, size_t *n, const char *cls, const char *exclude)
{
	for (const char *p = cls; *p; p++)
		if (!strchr(exclude, *p))
			set[(*n)++] = *p;
}

static bool
has_class(const char *s, size_t n, const char *cls, const char *exclude)
{
	bool possible = false;

	for (const char *p = cls; *p; p++)
		possible |= strchr(exclude, *p) == NULL;
	if (!possible)
		return true; /* every character of the class is excluded */
	for (size_t i = 0; i < n; i++)
		if (strchr(cls, s[i]))
			return true;
	return false;
}

static int
gen_password(json_t *g, const char *field, json_t *out)
{
	const char *ex = json_string_value(json_object_get(g, "exclude"));
	size_t len = (size_t)json_integer_value(json_object_get(g, "length")), n = 0;
	bool lo = json_is_true(json_object_get(g, "lower")),
	     up = json_is_true(json_object_get(g, "upper")),
	     di = json_is_true(json_object_get(g, "digits")),
	     sy = json_is_true(json_object_get(g, "symbols"));
	char set[128], *pw;
	int r, tries;

	if (!ex)
		ex = "";
	if (lo)
		add_class(set, &n, LOWER, ex);
	if (up)
		add_class(set, &n, UPPER, ex);
	if (di)
		add_class(set, &n, DIGITS, ex);
	if (sy)
		add_class(set, &n, SYMBOLS, ex);
	if (n < 2)
		return CF_EINVAL;
	pw = malloc(len + 1);
	if (!pw)
		return CF_ENOMEM;
	/* Uniform characters (randombytes_uniform rejects biased draws); redraw
	 * until every enabled class appears, when the length allows it. */
	for (tries = 0; tries < 100; tries++) {
		for (size_t i = 0; i < len; i++)
			pw[i] = set[randombytes_uniform((uint32_t)n)];
		if (len < 4 || ((!lo || has_class(pw, len, LOWER, ex)) &&
		                (!up || has_class(pw, len, UPPER, ex)) &&
		                (!di || has_class(pw, len, DIGITS, ex)) &&
		                (!sy || has_class(pw, len, SYMBOLS, ex))))
			break;
	}
	pw[len] = '\0';
	r = set_secret(out, field, pw, len);
	secmem_free(pw, len);
	return r;
}

static int
gen_bytes(json_t *g, const char *field, json_t *out, int kind)
{
	size_t nb = (size_t)json_integer_value(json_object_get(g, "bytes"));
	const char *prefix = json_string_value(json_object_get(g, "prefix"));
	size_t plen = prefix ? strlen(prefix) : 0, cap = plen + nb * 2 + 8;
	uint8_t *b = malloc(nb);
	char *s = malloc(cap);
	int r = CF_ENOMEM;

	if (!b || !s)
		goto out;
	randombytes_buf(b, nb);
	if (kind == 'b') {
		int variant = json_is_true(json_object_get(g, "url_safe"))
		                      ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
		                      : sodium_base64_VARIANT_ORIGINAL;
		sodium_bin2base64(s, cap, b, nb, variant);
		r = set_secret(out, field, s, strlen(s));
	} else {
		if (plen)
			memcpy(s, prefix, plen);
		util_hex(b, nb, s + plen);
		r = set_secret(out, field, s, plen + nb * 2);
	}
out:
	secmem_free(b, nb);
	secmem_free(s, cap);
	return r;
}

/* PEM of pkey's private (PKCS#8) or public (SubjectPublicKeyInfo) half. */
static int
pem_of(EVP_PKEY *pk, bool priv, const char *field, json_t *out)
{
	/* A private key goes to a secure-memory BIO: it grows without leaving
	 * copies behind and is cleared when freed, a half-written PEM included. */
	BIO *bio = BIO_new(priv ? BIO_s_secmem() : BIO_s_mem());
	char *p = NULL;
	long n;
	int r = CF_ECRYPTO;

	if (!bio)
		return CF_ENOMEM;
	if (priv ? PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1
	         : PEM_write_bio_PUBKEY(bio, pk) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0)
		goto out;
	r = set_secret(out, field, p, (size_t)n);
	if (priv)
		secmem_wipe(p, (size_t)n);
out:
	BIO_free(bio);
	return r;
}

static int
gen_keypair(const char *name, const char *field, json_t *out)
{
	EVP_PKEY *pk = NULL;
	char pub[ROT_NAME_MAX + 16];
	int r;

	if (strcmp(name, "ed25519") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(name, "ecdsa-p256") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(name, "rsa-2048") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	if (!pk)
		return CF_ECRYPTO;
	if ((size_t)snprintf(pub, sizeof(pub), "%s_public", field) >= sizeof(pub)) {
		r = CF_EINVAL;
		goto out;
	}
	r = pem_of(pk, true, field, out);
	if (r == 0)
		r = pem_of(pk, false, pub, out);
out:
	EVP_PKEY_free(pk);
	return r;
}

int
rotation_gen_run(json_t *gen, const char *field, json_t *out)
{
	const char *name = json_string_value(json_object_get(gen, "generator"));
	char uuid[37];

	if (!name)
		return CF_EINVAL;
	if (strcmp(name, "password") == 0)
		return gen_password(gen, field, out);
	if (strcmp(name, "hex") == 0 || strcmp(name, "api-key") == 0)
		return gen_bytes(gen, field, out, 'h');
	if (strcmp(name, "base64") == 0)
		return gen_bytes(gen, field, out, 'b');
	if (strcmp(name, "uuid") == 0) {
		util_uuid(uuid);
		return set_secret(out, field, uuid, 36);
	}
	if (gen_find(name))
		return gen_keypair(name, field, out);
	return CF_EINVAL;
}
