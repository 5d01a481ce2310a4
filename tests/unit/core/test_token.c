/* test_token.c - the token store (core/token.c) over a view on a barrier on the
 * memory storage backend, with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/token.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/err.h"
#include "lib/util.h"
#include "storage/storage.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000LL

struct fixture {
	struct storage *s;
	struct barrier *b;
	struct view *v;
	struct token_store *ts;
	int64_t now; /* the injected clock, unix ns */
	char revoked[16][65];
	int nrevoked;
};

static int64_t
fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static void
record_revoke(void *arg, const char *hash)
{
	struct fixture *f = arg;

	if (f->nrevoked < 16)
		memcpy(f->revoked[f->nrevoked], hash, 65);
	f->nrevoked++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t key[BARRIER_KEY_BYTES];

	if (!f || sodium_init() < 0)
		return -1;
	if (storage_open("memory:", &f->s) != 0 || barrier_new(f->s, &f->b) != 0)
		return -1;
	randombytes_buf(key, sizeof(key));
	if (barrier_initialize(f->b, key) != 0)
		return -1;
	sodium_memzero(key, sizeof(key));
	f->v = view_new(f->b, "sys/token/");
	if (!f->v || token_store_new(f->v, &f->ts) != 0)
		return -1;
	f->now = 1700000000LL * NS + 123456789; /* not on a second boundary */
	token_store_set_clock(f->ts, fake_clock, f);
	token_store_set_revoke_hook(f->ts, record_revoke, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	token_store_free(f->ts);
	view_free(f->v);
	barrier_free(f->b);
	storage_close(f->s);
	free(f);
	return 0;
}

/* Reopens the store on the same view, as after a restart (the cache is gone). */
static void
restart(struct fixture *f)
{
	token_store_free(f->ts);
	assert_int_equal(token_store_new(f->v, &f->ts), 0);
	token_store_set_clock(f->ts, fake_clock, f);
	token_store_set_revoke_hook(f->ts, record_revoke, f);
}

struct mk {
	const char *policies; /* comma list */
	const char *parent;   /* hash or NULL */
	int64_t ttl, emax, period, num_uses;
	bool not_renewable;
	const char *id;
};

static char *
mk(struct fixture *f, const struct mk *m, struct token_entry **ret)
{
	struct token_params p = {0};
	json_t *pol = json_array();
	const char *s = m->policies ? m->policies : "default", *c;
	char *tok = NULL;

	assert_non_null(pol);
	for (;;) {
		c = strchr(s, ',');
		json_array_append_new(pol, c ? json_stringn(s, (size_t)(c - s)) : json_string(s));
		if (!c)
			break;
		s = c + 1;
	}
	p.id = m->id;
	p.policies = pol;
	p.parent_hash = m->parent;
	p.ttl = m->ttl;
	p.explicit_max_ttl = m->emax;
	p.period = m->period;
	p.num_uses = m->num_uses;
	p.renewable = !m->not_renewable;
	p.display_name = "token-test";
	p.path = "auth/token/create";
	assert_int_equal(token_create(f->ts, &p, &tok, ret), 0);
	json_decref(pol);
	return tok;
}

static void
wipe(char *tok)
{
	explicit_bzero(tok, strlen(tok));
	free(tok);
}

static void
assert_gone(struct fixture *f, const char *tok)
{
	struct token_entry *te = NULL;

	assert_int_equal(token_lookup(f->ts, tok, &te), CF_EDENIED);
	assert_null(te);
}

static void
assert_alive(struct fixture *f, const char *tok)
{
	struct token_entry *te = NULL;

	assert_int_equal(token_lookup(f->ts, tok, &te), 0);
	token_entry_free(te);
}

static void
test_token_create_lookup(void **state)
{
	struct fixture *f = *state;
	struct token_entry *te = NULL, *got = NULL, *byacc = NULL;
	char hash[65];
	char *tok = mk(f, &(struct mk){.policies = "dev,default", .ttl = 3600}, &te);
	json_t *info;

	assert_int_equal(strncmp(tok, "hvs.", 4), 0);
	assert_true(strlen(tok) >= 28);
	for (const char *c = tok + 4; *c; c++)
		assert_true((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
		            (*c >= 'A' && *c <= 'Z'));
	assert_int_equal(strlen(te->accessor), 24);
	token_hash(tok, hash);
	assert_string_equal(te->hash, hash);
	assert_true(te->orphan);
	assert_int_equal(te->expire_time, f->now + 3600 * NS);
	assert_int_equal(te->creation_time, f->now / NS);

	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_string_equal(got->accessor, te->accessor);
	assert_string_equal(got->display_name, "token-test");
	assert_int_equal(json_array_size(got->policies), 2);
	assert_int_equal(token_lookup_accessor(f->ts, te->accessor, &byacc), 0);
	assert_string_equal(byacc->hash, hash);

	info = token_info_json(got, tok);
	assert_non_null(info);
	assert_string_equal(json_string_value(json_object_get(info, "id")), tok);
	assert_string_equal(json_string_value(json_object_get(info, "accessor")), te->accessor);
	assert_string_equal(json_string_value(json_object_get(info, "type")), "service");
	assert_true(json_is_true(json_object_get(info, "orphan")));
	assert_true(json_is_string(json_object_get(info, "expire_time")));
	assert_true(json_is_string(json_object_get(info, "issue_time")));
	assert_true(json_is_null(json_object_get(info, "meta")));
	assert_int_equal(json_integer_value(json_object_get(info, "creation_ttl")), 3600);
	assert_int_equal(json_integer_value(json_object_get(info, "creation_time")), f->now / NS);
	assert_string_equal(json_string_value(json_object_get(info, "entity_id")), "");
	assert_null(json_object_get(info, "period"));
	json_decref(info);

	/* Unknown ones. */
	assert_gone(f, "hvs.nosuchtokenxxxxxxxxxxxxxxx");
	assert_gone(f, "");
	assert_int_equal(token_lookup_accessor(f->ts, "nosuchaccessor", &byacc), CF_ENOTFOUND);
	assert_int_equal(token_lookup_accessor(f->ts, "../id/x", &byacc), CF_ENOTFOUND);

	token_entry_free(te);
	token_entry_free(got);
	token_entry_free(byacc);
	wipe(tok);
}

static void
test_token_auth_json(void **state)
{
	struct fixture *f = *state;
	struct token_entry *te = NULL;
	char *tok;
	json_t *auth;

	/* token_auth_json uses the wall clock: issue on it too. */
	token_store_set_clock(f->ts, NULL, NULL);
	tok = mk(f, &(struct mk){.policies = "default", .ttl = 3600}, &te);
	auth = token_auth_json(te, tok);
	assert_non_null(auth);
	assert_string_equal(json_string_value(json_object_get(auth, "client_token")), tok);
	assert_int_equal(json_integer_value(json_object_get(auth, "lease_duration")), 3600);
	assert_true(json_is_true(json_object_get(auth, "renewable")));
	assert_true(json_is_true(json_object_get(auth, "orphan")));
	assert_string_equal(json_string_value(json_object_get(auth, "token_type")), "service");
	assert_true(json_is_null(json_object_get(auth, "metadata")));
	assert_true(json_equal(json_object_get(auth, "policies"),
	                       json_object_get(auth, "token_policies")));
	json_decref(auth);
	token_entry_free(te);
	wipe(tok);

	/* No TTL: lease 0, not renewable. */
	tok = mk(f, &(struct mk){.policies = "root"}, &te);
	auth = token_auth_json(te, "");
	assert_int_equal(json_integer_value(json_object_get(auth, "lease_duration")), 0);
	assert_false(json_is_true(json_object_get(auth, "renewable")));
	assert_string_equal(json_string_value(json_object_get(auth, "client_token")), "");
	json_decref(auth);
	token_entry_free(te);
	wipe(tok);
}

/* Walks every key of the view; fails if a token string (or its random part)
 * shows up in a key or a decrypted value. Returns the number of leaves. */
static int
scan_view(struct view *v, const char *prefix, char *const *toks, int ntok)
{
	char **keys = NULL;
	size_t n = 0;
	int leaves = 0;

	assert_int_equal(view_list(v, prefix, &keys, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char full[512];
		size_t len = strlen(keys[i]);
		snprintf(full, sizeof(full), "%s%s", prefix, keys[i]);
		for (int t = 0; t < ntok; t++) {
			assert_null(strstr(full, toks[t]));
			assert_null(strstr(full, toks[t] + 4));
		}
		if (len > 0 && keys[i][len - 1] == '/') {
			leaves += scan_view(v, full, toks, ntok);
		} else {
			uint8_t *val = NULL;
			size_t vlen = 0;
			assert_int_equal(view_get(v, full, &val, &vlen), 0);
			for (int t = 0; t < ntok; t++)
				assert_null(memmem(val, vlen, toks[t] + 4, strlen(toks[t] + 4)));
			free(val);
			leaves++;
		}
	}
	storage_keys_free(keys, n);
	return leaves;
}

static void
test_token_stored_only_as_hash(void **state)
{
	struct fixture *f = *state;
	struct token_entry *p = NULL, *c = NULL;
	char *toks[3];
	char **raw = NULL;
	size_t nraw = 0;

	toks[0] = mk(f, &(struct mk){.ttl = 60}, &p);
	toks[1] = mk(f, &(struct mk){.ttl = 60, .parent = p->hash}, &c);
	toks[2] = mk(f, &(struct mk){.policies = "root", .id = "my-custom-root-id"}, NULL);
	/* id/ x3, accessor/ x3, parent/<p>/<c> x1 */
	assert_int_equal(scan_view(f->v, "", toks, 3), 7);
	/* The physical keys under sys/token/ carry no token either. */
	assert_int_equal(storage_list(f->s, "sys/token/id/", &raw, &nraw), 0);
	assert_int_equal(nraw, 3);
	for (size_t i = 0; i < nraw; i++)
		assert_int_equal(strlen(raw[i]), 64);
	storage_keys_free(raw, nraw);
	for (int i = 0; i < 3; i++)
		wipe(toks[i]);
	token_entry_free(p);
	token_entry_free(c);
}

static void
test_token_child_revoked_with_parent(void **state)
{
	struct fixture *f = *state;
	struct token_entry *p = NULL, *c = NULL, *g = NULL, *o = NULL;
	char *tp = mk(f, &(struct mk){.ttl = 600}, &p);
	char *tc = mk(f, &(struct mk){.ttl = 600, .parent = p->hash}, &c);
	char *tg = mk(f, &(struct mk){.ttl = 600, .parent = c->hash}, &g);
	char *to = mk(f, &(struct mk){.ttl = 600}, &o);
	json_t *acc = NULL;
	char **keys = NULL;
	size_t n = 0;

	assert_false(c->orphan);
	assert_string_equal(c->parent, p->hash);
	assert_int_equal(token_revoke_tree(f->ts, p->hash), 0);
	assert_gone(f, tp);
	assert_gone(f, tc);
	assert_gone(f, tg);
	assert_alive(f, to);
	/* Hook: every revoked token once, children before parents. */
	assert_int_equal(f->nrevoked, 3);
	assert_string_equal(f->revoked[0], g->hash);
	assert_string_equal(f->revoked[1], c->hash);
	assert_string_equal(f->revoked[2], p->hash);
	/* Accessors and links are gone. */
	assert_int_equal(token_list_accessors(f->ts, &acc), 0);
	assert_int_equal(json_array_size(acc), 1);
	assert_string_equal(json_string_value(json_array_get(acc, 0)), o->accessor);
	json_decref(acc);
	assert_int_equal(view_list(f->v, "parent/", &keys, &n), 0);
	assert_int_equal(n, 0);
	storage_keys_free(keys, n);
	/* Revoking again (unknown): fine, no hook. */
	assert_int_equal(token_revoke_tree(f->ts, p->hash), 0);
	assert_int_equal(f->nrevoked, 3);
	/* A child cannot be attached to a revoked parent. */
	{
		struct token_params prm = {0};
		char *t = NULL;
		prm.policies = p->policies;
		prm.parent_hash = p->hash;
		prm.ttl = 60;
		assert_int_equal(token_create(f->ts, &prm, &t, NULL), CF_EDENIED);
		assert_null(t);
	}
	/* By accessor. */
	assert_int_equal(token_revoke_accessor(f->ts, o->accessor), 0);
	assert_gone(f, to);
	assert_int_equal(token_revoke_accessor(f->ts, o->accessor), 0);

	wipe(tp);
	wipe(tc);
	wipe(tg);
	wipe(to);
	token_entry_free(p);
	token_entry_free(c);
	token_entry_free(g);
	token_entry_free(o);
}

static void
test_token_revoke_orphan_reparents(void **state)
{
	struct fixture *f = *state;
	struct token_entry *p = NULL, *c = NULL, *g = NULL, *got = NULL;
	char *tp = mk(f, &(struct mk){.ttl = 600}, &p);
	char *tc = mk(f, &(struct mk){.ttl = 600, .parent = p->hash}, &c);
	char *tg = mk(f, &(struct mk){.ttl = 600, .parent = c->hash}, &g);

	assert_int_equal(token_revoke_orphan(f->ts, p->hash), 0);
	assert_gone(f, tp);
	assert_int_equal(f->nrevoked, 1);
	assert_int_equal(token_lookup(f->ts, tc, &got), 0);
	assert_true(got->orphan);
	assert_string_equal(got->parent, "");
	token_entry_free(got);
	/* The grandchild still hangs off the child... */
	assert_int_equal(token_lookup(f->ts, tg, &got), 0);
	assert_string_equal(got->parent, c->hash);
	token_entry_free(got);
	/* ...and survives a restart as an orphan's child. */
	restart(f);
	assert_int_equal(token_lookup(f->ts, tc, &got), 0);
	assert_true(got->orphan);
	token_entry_free(got);
	assert_int_equal(token_revoke_tree(f->ts, c->hash), 0);
	assert_gone(f, tg);

	wipe(tp);
	wipe(tc);
	wipe(tg);
	token_entry_free(p);
	token_entry_free(c);
	token_entry_free(g);
}

static void
test_token_expiry(void **state)
{
	struct fixture *f = *state;
	struct token_entry *p = NULL, *c = NULL;
	char *tp = mk(f, &(struct mk){.ttl = 1}, &p);
	char *tc = mk(f, &(struct mk){.ttl = 600, .parent = p->hash}, &c);
	uint8_t *val = NULL;
	size_t len = 0;
	char key[80];

	assert_alive(f, tp);
	f->now += NS - 1;
	assert_alive(f, tp);
	f->now += 1;
	assert_gone(f, tp);
	/* Expiry revoked the subtree and deleted the entry. */
	assert_gone(f, tc);
	snprintf(key, sizeof(key), "id/%s", p->hash);
	assert_int_equal(view_get(f->v, key, &val, &len), CF_ENOTFOUND);
	assert_int_equal(f->nrevoked, 2);

	wipe(tp);
	wipe(tc);
	token_entry_free(p);
	token_entry_free(c);
}

static void
test_token_expiry_across_restart(void **state)
{
	struct fixture *f = *state;
	struct token_entry *te = NULL, *got = NULL;
	char *tok = mk(f, &(struct mk){.ttl = 10}, &te);

	restart(f);
	f->now += 9 * NS;
	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_int_equal(got->expire_time, te->expire_time);
	token_entry_free(got);
	restart(f);
	f->now += 2 * NS;
	assert_gone(f, tok);
	/* By accessor too. */
	assert_int_equal(token_lookup_accessor(f->ts, te->accessor, &got), CF_ENOTFOUND);
	wipe(tok);
	token_entry_free(te);
}

static void
test_token_num_uses(void **state)
{
	struct fixture *f = *state;
	struct token_entry *te = NULL, *got = NULL, *unl = NULL;
	char *tok = mk(f, &(struct mk){.ttl = 60, .num_uses = 2}, &te);
	char *tunl = mk(f, &(struct mk){.ttl = 60}, &unl);
	bool last = true;

	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_int_equal(token_use(f->ts, got, &last), 0);
	assert_false(last);
	assert_int_equal(got->num_uses, 1);
	token_entry_free(got);
	/* Persisted, not only cached. */
	restart(f);
	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_int_equal(got->num_uses, 1);
	assert_int_equal(token_use(f->ts, got, &last), 0);
	assert_true(last);
	/* Used up: gone for lookups even before the caller revokes it. */
	assert_int_equal(token_use(f->ts, got, &last), CF_EDENIED);
	token_entry_free(got);
	assert_gone(f, tok);
	restart(f);
	assert_gone(f, tok);
	/* tidy removes it for good. */
	{
		int n = -1;
		assert_int_equal(token_tidy(f->ts, &n), 0);
		assert_int_equal(n, 1);
	}
	/* Unlimited tokens: no count. */
	assert_int_equal(token_use(f->ts, unl, &last), 0);
	assert_false(last);
	assert_int_equal(unl->num_uses, 0);
	wipe(tok);
	wipe(tunl);
	token_entry_free(te);
	token_entry_free(unl);
}

struct use_arg {
	struct fixture *f;
	const char *tok;
	int lasts, ok;
};

static void *
use_thread(void *arg)
{
	struct use_arg *a = arg;

	for (int i = 0; i < 50; i++) {
		struct token_entry *te = NULL;
		bool last = false;
		if (token_lookup(a->f->ts, a->tok, &te) != 0)
			continue;
		if (token_use(a->f->ts, te, &last) == 0) {
			a->ok++;
			a->lasts += last;
		}
		token_entry_free(te);
	}
	return NULL;
}

static void
test_token_num_uses_concurrent(void **state)
{
	struct fixture *f = *state;
	char *tok = mk(f, &(struct mk){.ttl = 60, .num_uses = 100}, NULL);
	struct use_arg a[4];
	pthread_t th[4];
	int ok = 0, lasts = 0;

	for (int i = 0; i < 4; i++) {
		a[i] = (struct use_arg){.f = f, .tok = tok};
		assert_int_equal(pthread_create(&th[i], NULL, use_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok += a[i].ok;
		lasts += a[i].lasts;
	}
	assert_int_equal(ok, 100);
	assert_int_equal(lasts, 1);
	assert_gone(f, tok);
	wipe(tok);
}

static void
test_token_renew_caps(void **state)
{
	struct fixture *f = *state;
	struct token_entry *te = NULL, *te2 = NULL, *root = NULL, *nr = NULL, *got = NULL;
	char *tok = mk(f, &(struct mk){.ttl = 100, .emax = 300}, &te);
	char *tok2 = mk(f, &(struct mk){.ttl = 100}, &te2);
	char *troot = mk(f, &(struct mk){.policies = "root"}, &root);
	char *tnr = mk(f, &(struct mk){.ttl = 100, .not_renewable = true}, &nr);
	int64_t t0 = f->now / NS;
	char msg[256];

	/* increment 0: the original TTL. */
	f->now += 50 * NS;
	assert_int_equal(token_renew_msg(f->ts, te, 0, 2764800, msg, sizeof(msg)), 0);
	assert_int_equal(te->expire_time, f->now + 100 * NS);
	assert_string_equal(msg, "");
	/* Capped at creation + explicit_max_ttl, with a warning. */
	assert_int_equal(token_renew_msg(f->ts, te, 1000, 2764800, msg, sizeof(msg)), 0);
	assert_int_equal(te->expire_time, (t0 + 300) * NS);
	assert_non_null(strstr(msg, "capped"));
	/* Persisted. */
	restart(f);
	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_int_equal(got->expire_time, (t0 + 300) * NS);
	token_entry_free(got);
	/* Capped at creation + the mount's max_ttl. */
	assert_int_equal(token_renew(f->ts, te2, 1000, 200), 0);
	assert_int_equal(te2->expire_time, (t0 + 200) * NS);
	/* A smaller increment shortens, as in Vault. */
	assert_int_equal(token_renew(f->ts, te2, 10, 200), 0);
	assert_int_equal(te2->expire_time, f->now + 10 * NS);
	/* Past the (since lowered) max: refused. */
	assert_int_equal(token_renew_msg(f->ts, te2, 10, 40, msg, sizeof(msg)), CF_EINVAL);
	assert_string_equal(msg, "past the max TTL, cannot renew");
	/* Not renewable. */
	assert_int_equal(token_renew_msg(f->ts, nr, 10, 2764800, msg, sizeof(msg)), CF_EINVAL);
	assert_string_equal(msg, "token is not renewable");
	/* No TTL: no-op. */
	assert_int_equal(token_renew(f->ts, root, 100, 2764800), 0);
	assert_int_equal(root->expire_time, 0);
	/* Revoked: denied. */
	assert_int_equal(token_revoke_tree(f->ts, te2->hash), 0);
	assert_int_equal(token_renew(f->ts, te2, 10, 200), CF_EDENIED);

	wipe(tok);
	wipe(tok2);
	wipe(troot);
	wipe(tnr);
	token_entry_free(te);
	token_entry_free(te2);
	token_entry_free(root);
	token_entry_free(nr);
}

static void
test_token_periodic(void **state)
{
	struct fixture *f = *state;
	struct token_entry *pe = NULL, *px = NULL;
	char *tpe = mk(f, &(struct mk){.ttl = 60, .period = 60}, &pe);
	char *tpx = mk(f, &(struct mk){.ttl = 60, .period = 60, .emax = 100}, &px);
	int64_t t0 = f->now / NS;
	json_t *info;

	/* Periodic with an explicit max: never past creation + explicit max. */
	f->now += 50 * NS;
	assert_int_equal(token_renew(f->ts, px, 0, 2764800), 0);
	assert_int_equal(px->expire_time, (t0 + 100) * NS);

	/* Periodic: each renewal resets to period whatever the increment, forever. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(token_renew(f->ts, pe, 1000, 2764800), 0);
		assert_int_equal(pe->expire_time, f->now + 60 * NS);
		f->now += 50 * NS;
	}
	assert_alive(f, tpe);
	assert_gone(f, tpx);
	/* Period capped by the max TTL. */
	assert_int_equal(token_renew(f->ts, pe, 0, 30), 0);
	assert_int_equal(pe->expire_time, f->now + 30 * NS);
	info = token_info_json(pe, "");
	assert_int_equal(json_integer_value(json_object_get(info, "period")), 60);
	json_decref(info);

	wipe(tpe);
	wipe(tpx);
	token_entry_free(pe);
	token_entry_free(px);
}

static void
test_token_calculate_ttl(void **state)
{
	static const struct {
		int64_t now, start, inc, backend, period, max, emax, dflt;
		int rc;
		int64_t ttl;
		bool warn;
	} v[] = {
	        /* now  start inc  backend period max   emax dflt  rc  ttl   warn */
	        {100, 100, 0, 0, 0, 1000, 0, 500, 0, 500, false},          /* default */
	        {100, 100, 0, 50, 0, 1000, 0, 500, 0, 50, false},          /* backend ttl */
	        {100, 100, 70, 50, 0, 1000, 0, 500, 0, 70, false},         /* increment */
	        {100, 100, 0, 5000, 0, 1000, 0, 500, 0, 1000, true},       /* max cap */
	        {100, 100, 0, 5000, 0, 1000, 300, 500, 0, 300, true},      /* explicit cap */
	        {900, 100, 500, 0, 0, 1000, 0, 500, 0, 200, true},         /* remaining max */
	        {1200, 100, 500, 0, 0, 1000, 0, 500, CF_EINVAL, 0, false}, /* past max */
	        {900, 100, 0, 0, 60, 1000, 0, 500, 0, 60, false},          /* periodic */
	        {5000, 100, 0, 0, 60, 1000, 0, 500, 0, 60, false},         /* periodic: no max */
	        {100, 100, 0, 0, 2000, 1000, 0, 500, 0, 1000, true},       /* period capped */
	        {390, 100, 0, 0, 60, 1000, 300, 500, 0, 10, true},         /* periodic + emax */
	        {400, 100, 0, 0, 60, 1000, 300, 500, CF_EINVAL, 0, false},
	        {100, 100, 0, 0, 0, 0, 0, 500, CF_EINVAL, 0, false}, /* no max at all */
	        {100, 100, 0, 0, 0, 0, 50, 500, 0, 50, true},        /* emax alone */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t ttl = -1;
		char msg[256];
		int rc = token_calculate_ttl(v[i].now, v[i].start, v[i].inc, v[i].backend,
		                             v[i].period, v[i].max, v[i].emax, v[i].dflt, &ttl, msg,
		                             sizeof(msg));
		if (rc != v[i].rc)
			fail_msg("vector %zu: rc %d, want %d", i, rc, v[i].rc);
		if (rc == 0 && ttl != v[i].ttl)
			fail_msg("vector %zu: ttl %lld, want %lld", i, (long long)ttl,
			         (long long)v[i].ttl);
		if (rc == 0 && (msg[0] != '\0') != v[i].warn)
			fail_msg("vector %zu: warning \"%s\"", i, msg);
	}
}

static void
test_token_custom_id(void **state)
{
	struct fixture *f = *state;
	struct token_params p = {0};
	struct token_entry *te = NULL;
	char *tok = NULL;
	json_t *pol = json_pack("[s]", "root");

	p.policies = pol;
	p.id = "root";
	assert_int_equal(token_create(f->ts, &p, &tok, &te), 0);
	assert_string_equal(tok, "root");
	assert_int_equal(te->expire_time, 0);
	wipe(tok);
	tok = NULL;
	assert_int_equal(token_create(f->ts, &p, &tok, NULL), CF_EEXIST);
	p.id = "has.dot";
	assert_int_equal(token_create(f->ts, &p, &tok, NULL), CF_EINVAL);
	p.id = "";
	assert_int_equal(token_create(f->ts, &p, &tok, NULL), CF_EINVAL);
	assert_null(tok);
	assert_alive(f, "root");
	json_decref(pol);
	token_entry_free(te);
}

static void
test_token_tidy(void **state)
{
	struct fixture *f = *state;
	struct token_entry *a = NULL, *b = NULL, *keep = NULL, *got = NULL;
	char *ta = mk(f, &(struct mk){.ttl = 1}, &a);
	char *tb = mk(f, &(struct mk){.ttl = 600, .parent = a->hash}, &b);
	char *tk = mk(f, &(struct mk){.ttl = 600}, &keep);
	char fake[65], key[256];
	json_t *acc = NULL;
	int n = -1;

	/* Damage: an accessor to nothing, a link from a missing parent to a live
	 * token, a link to a missing child. */
	token_hash("no-such-token", fake);
	assert_int_equal(view_put(f->v, "accessor/dangling", (const uint8_t *)fake, 64), 0);
	snprintf(key, sizeof(key), "parent/%s/%s", fake, keep->hash);
	assert_int_equal(view_put(f->v, key, (const uint8_t *)"1", 1), 0);
	snprintf(key, sizeof(key), "parent/%s/%s", keep->hash, fake);
	assert_int_equal(view_put(f->v, key, (const uint8_t *)"1", 1), 0);

	f->now += 2 * NS;
	assert_int_equal(token_tidy(f->ts, &n), 0);
	assert_int_equal(n, 2); /* a and its child b */
	assert_int_equal(token_list_accessors(f->ts, &acc), 0);
	assert_int_equal(json_array_size(acc), 1);
	assert_string_equal(json_string_value(json_array_get(acc, 0)), keep->accessor);
	json_decref(acc);
	{
		char **keys = NULL;
		size_t nk = 0;
		assert_int_equal(view_list(f->v, "parent/", &keys, &nk), 0);
		assert_int_equal(nk, 0);
		storage_keys_free(keys, nk);
	}
	assert_int_equal(token_lookup(f->ts, tk, &got), 0);
	assert_true(got->orphan);
	token_entry_free(got);

	wipe(ta);
	wipe(tb);
	wipe(tk);
	token_entry_free(a);
	token_entry_free(b);
	token_entry_free(keep);
}

static void
test_token_roles(void **state)
{
	struct fixture *f = *state;
	json_t *role = json_pack("{s:s, s:[s]}", "name", "ops", "allowed_policies", "dev");
	json_t *got = NULL, *list = NULL;

	assert_int_equal(token_role_put(f->ts, "ops", role), 0);
	assert_int_equal(token_role_put(f->ts, "bad/name", role), CF_EINVAL);
	assert_int_equal(token_role_put(f->ts, "trailing.", role), CF_EINVAL);
	assert_int_equal(token_role_get(f->ts, "ops", &got), 0);
	assert_true(json_equal(got, role));
	json_decref(got);
	assert_int_equal(token_role_list(f->ts, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(token_role_delete(f->ts, "ops"), 0);
	assert_int_equal(token_role_get(f->ts, "ops", &got), CF_ENOTFOUND);
	assert_int_equal(token_role_list(f->ts, &list), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_decref(role);
}

static void
test_token_meta_and_dup(void **state)
{
	struct fixture *f = *state;
	struct token_params p = {0};
	struct token_entry *te = NULL, *got = NULL, *d;
	char *tok = NULL;
	json_t *pol = json_pack("[s]", "default"), *meta = json_pack("{s:s}", "user", "alice");
	json_t *info;

	p.policies = pol;
	p.meta = meta;
	p.ttl = 60;
	p.role = "ops";
	p.period = 30;
	assert_int_equal(token_create(f->ts, &p, &tok, &te), 0);
	restart(f);
	assert_int_equal(token_lookup(f->ts, tok, &got), 0);
	assert_true(json_equal(got->meta, meta));
	assert_string_equal(got->role, "ops");
	assert_string_equal(got->display_name, "token");
	d = token_entry_dup(got);
	assert_non_null(d);
	assert_true(json_equal(d->meta, meta));
	info = token_info_json(d, "");
	assert_string_equal(json_string_value(json_object_get(info, "role")), "ops");
	assert_true(json_equal(json_object_get(info, "meta"), meta));
	json_decref(info);
	token_entry_free(d);
	token_entry_free(got);
	token_entry_free(te);
	wipe(tok);
	json_decref(pol);
	json_decref(meta);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_token_create_lookup, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_auth_json, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_stored_only_as_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_child_revoked_with_parent, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_token_revoke_orphan_reparents, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_token_expiry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_expiry_across_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_num_uses, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_num_uses_concurrent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_renew_caps, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_periodic, setup, teardown),
	        cmocka_unit_test(test_token_calculate_ttl),
	        cmocka_unit_test_setup_teardown(test_token_custom_id, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_tidy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_roles, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_token_meta_and_dup, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
