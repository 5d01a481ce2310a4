/* core.c - the request ladder: sealed? -> token -> ACL -> audit -> route.
 *
 * One function runs every check before any handler (docs/internals/core.md); handlers
 * never repeat them. */
#include "core/core.h"
#include "core/core_int.h"
#include "core/expire.h"
#include "core/reencrypt.h"
#include "core/token.h"
#include "core/wrap.h"
#include "backend/registry.h"
#include "backend/view.h"
#include "crypto/barrier.h"
#include "lib/cidr.h"
#include "lib/err.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "storage/storage.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The core's own type in the mount-type registry (sys/ is not mountable). */
static const struct backend_entry core_types[] = {
        {"token", BACKEND_AUTH, &token_backend, NULL, NULL},
};

/* The token store's revoke hook: the token's leases go (expiration manager)
 * and so does its cubbyhole. */
static void
core_token_revoked(void *arg, const char *hash)
{
	struct core *c = arg;
	char prefix[80];
	int r;

	expire_token_revoked(c->expire, hash);
	snprintf(prefix, sizeof(prefix), "%s/", hash);
	r = view_delete_prefix(c->cubby_view, prefix);
	if (r < 0 && r != CF_ENOTFOUND)
		log_error("the cubbyhole of a revoked token could not be deleted: %s",
		          cf_strerror(r));
}

int
core_new(const struct core_config *cfg, struct core **ret)
{
	struct core *c = calloc(1, sizeof(*c));
	pthread_rwlockattr_t attr;
	int r;

	if (!c)
		return CF_ENOMEM;
	r = backend_register(core_types, sizeof(core_types) / sizeof(core_types[0]));
	if (r < 0) {
		free(c);
		return r;
	}
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&c->unseal_mu, NULL);
	pthread_mutex_init(&c->pol_mu, NULL);
	pthread_mutex_init(&c->mount_mu, NULL);
	snprintf(c->cluster_name, sizeof(c->cluster_name), "%s",
	         cfg->cluster_name ? cfg->cluster_name : "coffer-cluster");
	c->start_time = util_now();

	r = storage_open(cfg->storage_spec, &c->storage);
	if (r < 0)
		goto fail;
	r = barrier_new(c->storage, &c->barrier);
	if (r < 0)
		goto fail;
	c->policy_view = view_new(c->barrier, "sys/policy/");
	c->token_view = view_new(c->barrier, "sys/token/");
	c->core_view = view_new(c->barrier, "core/");
	c->cubby_view = view_new(c->barrier, "cubbyhole/");
	if (!c->policy_view || !c->token_view || !c->core_view || !c->cubby_view) {
		r = CF_ENOMEM;
		goto fail;
	}
	r = mount_system_new(c);
	if (r < 0)
		goto fail;
	r = token_store_new(c->token_view, &c->tokens);
	if (r < 0)
		goto fail;
	r = expire_new(c, &c->expire);
	if (r < 0)
		goto fail;
	token_store_set_revoke_hook(c->tokens, core_token_revoked, c);
	r = core_register_sys_routes(c, wrap_sys_routes, wrap_sys_nroutes);
	if (r < 0)
		goto fail;
	r = reencrypt_new(c, &c->reencrypt);
	if (r < 0)
		goto fail;
	r = seal_load_config(c);
	if (r < 0)
		goto fail;
	r = core_metrics_init(c, cfg->unauthenticated_metrics);
	if (r < 0)
		goto fail;
	if (storage_lock_supported(c->storage)) {
		r = ha_new(c, cfg->api_addr ? cfg->api_addr : "", &c->ha);
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	core_free(c);
	return r;
}

void
core_free(struct core *c)
{
	if (!c)
		return;
	ha_free(c->ha); /* the lock goes with the storage, closed below */
	c->ha = NULL;
	if (c->barrier && !barrier_sealed(c->barrier)) {
		mount_interrupt_all(c);
		core_pre_seal(c);
	}
	core_metrics_free(c);
	seal_reset_progress(c);
	core_acl_cache_clear(c);
	for (size_t i = c->nsubsystems; i-- > 0;)
		if (c->subsystems[i].free)
			c->subsystems[i].free(c->subsystems[i].arg);
	expire_free(c->expire);
	reencrypt_free(c->reencrypt);
	token_store_free(c->tokens);
	mount_system_free(c);
	view_free(c->policy_view);
	view_free(c->token_view);
	view_free(c->core_view);
	view_free(c->cubby_view);
	barrier_free(c->barrier);
	storage_close(c->storage);
	pthread_rwlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->unseal_mu);
	pthread_mutex_destroy(&c->pol_mu);
	free(c);
}

struct barrier *
core_barrier(struct core *c)
{
	return c->barrier;
}

/* ---- what the layers above register ---- */

void
core_set_hooks(struct core *c, const struct core_hooks *h)
{
	c->hooks = *h;
}

int
core_emit_event(struct core *c, const struct event *e, char ret_id[37])
{
	if (!c->hooks.event_emit)
		return 0;
	return c->hooks.event_emit(c->hooks.events, e, ret_id);
}

int
core_audit_record(struct core *c, const char *type, json_t *fields)
{
	if (!c->hooks.audit_record)
		return 0;
	return c->hooks.audit_record(c->hooks.audit, type, fields);
}

int
core_register_subsystem(struct core *c, const struct core_subsystem *s)
{
	if (core_subsystem(c, s->name))
		return CF_EEXIST;
	if (c->nsubsystems == CORE_MAX_SUBSYSTEMS)
		return CF_ENOMEM;
	c->subsystems[c->nsubsystems++] = *s;
	return 0;
}

void *
core_subsystem(struct core *c, const char *name)
{
	for (size_t i = 0; i < c->nsubsystems; i++)
		if (strcmp(c->subsystems[i].name, name) == 0)
			return c->subsystems[i].arg;
	return NULL;
}

int
core_register_sys_routes(struct core *c, const struct route *routes, size_t n)
{
	if (c->nsys_tables == CORE_MAX_SYS_TABLES)
		return CF_ENOMEM;
	c->sys_tables[c->nsys_tables].routes = routes;
	c->sys_tables[c->nsys_tables].n = n;
	c->nsys_tables++;
	return 0;
}

bool
core_lock_shared(struct core *c, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_rwlock_timedrdlock(&c->lock, &ts) == 0;
}

void
core_unlock_shared(struct core *c)
{
	pthread_rwlock_unlock(&c->lock);
}

struct token_store *
core_tokens(struct core *c)
{
	return c->tokens;
}

bool
core_sealed(struct core *c)
{
	return barrier_sealed(c->barrier);
}

bool
core_write_busy(struct core *c)
{
	return storage_write_busy(c->storage);
}

int
core_seal(struct core *c)
{
	pthread_rwlock_wrlock(&c->lock);
	if (!barrier_sealed(c->barrier))
		core_pre_seal(c);
	pthread_rwlock_unlock(&c->lock);
	return 0;
}

/* ---- policies and the ACL cache ---- */

int
policy_store_get(struct core *c, const char *name, char **ret_text)
{
	uint8_t *val;
	size_t len;
	char *txt;
	int r = view_get(c->policy_view, name, &val, &len);

	if (r < 0)
		return r;
	txt = malloc(len + 1);
	if (!txt) {
		free(val);
		return CF_ENOMEM;
	}
	memcpy(txt, val, len);
	txt[len] = '\0';
	free(val);
	*ret_text = txt;
	return 0;
}

bool
core_policy_exists(struct core *c, const char *name)
{
	uint8_t *val;
	size_t len;

	if (strcmp(name, "root") == 0 || strcmp(name, "default") == 0)
		return true;
	if (view_get(c->policy_view, name, &val, &len) < 0)
		return false;
	free(val);
	return true;
}

static void
core_acl_release_entry(struct acl_cache_entry *e)
{
	if (--e->refs > 0)
		return;
	acl_free(e->acl);
	free(e->key); /* not secret: a list of policy names */
	free(e);
}

void
core_acl_cache_clear(struct core *c)
{
	struct acl_cache_entry *e, *next;

	pthread_mutex_lock(&c->pol_mu);
	for (e = c->acls; e; e = next) {
		next = e->next;
		e->cached = false;
		core_acl_release_entry(e); /* requests still holding it free it later */
	}
	c->acls = NULL;
	pthread_mutex_unlock(&c->pol_mu);
}

static int
core_acl_build(struct core *c, json_t *policies, struct acl **ret)
{
	struct policy **pols = calloc(json_array_size(policies) + 1, sizeof(*pols));
	size_t i, n = 0;
	json_t *item;
	bool root = false;
	int r = 0;

	if (!pols)
		return CF_ENOMEM;
	json_array_foreach(policies, i, item)
	{
		const char *name = json_string_value(item);
		char *text = NULL, err[256];
		if (!name)
			continue;
		if (strcmp(name, "root") == 0) {
			root = true;
			continue;
		}
		if (strcmp(name, WRAP_POLICY) == 0) /* built in (wrap.h) */
			r = (text = strdup(wrap_policy_text())) ? 0 : CF_ENOMEM;
		else
			r = policy_store_get(c, name, &text);
		if (r == CF_ENOTFOUND) {
			r = 0;
			continue; /* a token may name a policy that does not exist (yet) */
		}
		if (r < 0)
			goto out;
		r = policy_parse(name, text, &pols[n], err, sizeof(err));
		free(text);
		if (r < 0) {
			log_error("stored policy %s does not parse: %s", name, err);
			r = 0;
			continue;
		}
		n++;
	}
	r = acl_new(pols, n, root, ret);
out:
	for (i = 0; i < n; i++)
		policy_free(pols[i]);
	free(pols);
	return r;
}

int
core_acl_get(struct core *c, json_t *policies, struct acl **ret, void **ret_ref)
{
	char *key = json_dumps(policies, JSON_COMPACT);
	struct acl_cache_entry *e;
	struct acl *acl = NULL;
	int r;

	if (!key)
		return CF_ENOMEM;
	pthread_mutex_lock(&c->pol_mu);
	for (e = c->acls; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			e->refs++;
			*ret = e->acl;
			*ret_ref = e;
			pthread_mutex_unlock(&c->pol_mu);
			free(key); /* not secret: a list of policy names */
			return 0;
		}
	}
	pthread_mutex_unlock(&c->pol_mu);

	/* Build outside the lock: it reads storage. Two threads may build the same
	 * ACL at once; both entries are valid, the list just holds two. */
	r = core_acl_build(c, policies, &acl);
	if (r < 0) {
		free(key); /* not secret: a list of policy names */
		return r;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		acl_free(acl);
		free(key); /* not secret: a list of policy names */
		return CF_ENOMEM;
	}
	e->key = key;
	e->acl = acl;
	e->refs = 2; /* the cache and the caller */
	e->cached = true;
	pthread_mutex_lock(&c->pol_mu);
	e->next = c->acls;
	c->acls = e;
	pthread_mutex_unlock(&c->pol_mu);
	*ret = acl;
	*ret_ref = e;
	return 0;
}

void
core_acl_put(struct core *c, void *ref)
{
	if (!ref)
		return;
	pthread_mutex_lock(&c->pol_mu);
	core_acl_release_entry(ref);
	pthread_mutex_unlock(&c->pol_mu);
}

/* ---- the ladder ---- */

static unsigned
op_cap(enum op op)
{
	switch (op) {
	case OP_READ:
	case OP_HEAD:
		return CAP_READ;
	case OP_LIST:
		return CAP_LIST;
	case OP_CREATE:
		return CAP_CREATE;
	case OP_UPDATE:
		return CAP_UPDATE;
	case OP_PATCH:
		return CAP_PATCH;
	case OP_DELETE:
		return CAP_DELETE;
	}
	return CAP_DENY;
}

static const struct route *
table_find(const struct route *routes, size_t n, const char *rel, struct request *rq)
{
	for (size_t i = 0; i < n; i++)
		if (route_match(routes[i].pattern, rel, rq))
			return &routes[i];
	return NULL;
}

const struct route *
core_route_find(struct core *c, const struct mount *m, const char *rel, struct request *rq)
{
	const struct route *rt = table_find(m->bt->routes, m->bt->nroutes, rel, rq);

	for (size_t i = 0; !rt && m == c->sys_mount && i < c->nsys_tables; i++)
		rt = table_find(c->sys_tables[i].routes, c->sys_tables[i].n, rel, rq);
	return rt;
}

static int
fail(struct response *rs, int r, const char *msg)
{
	if (msg)
		(void)response_errorf(rs, "%s", msg);
	return r;
}

/* Resolves the token; returns 0 or CF_EDENIED. */
static int
authenticate(struct core *c, struct request *rq)
{
	int r;

	if (!rq->client_token || !*rq->client_token)
		return CF_EDENIED;
	r = token_lookup(c->tokens, rq->client_token, &rq->te);
	if (r < 0)
		return CF_EDENIED;
	/* token_bound_cidrs: usable only from those addresses */
	if (rq->te->bound_cidrs && !cidr_list_allows(rq->te->bound_cidrs, rq->remote_addr))
		return CF_EDENIED;
	r = core_acl_get(c, rq->te->policies, &rq->acl, &rq->acl_ref);
	if (r < 0)
		return r;
	return 0;
}

static int
authorize(struct request *rq, const struct route *rt)
{
	unsigned caps, need;

	if (acl_is_root(rq->acl))
		return 0;
	caps = acl_capabilities(rq->acl, rq->path);
	if (caps & CAP_DENY)
		return CF_EDENIED;
	need = op_cap(rq->op);
	if (!(caps & need))
		return CF_EDENIED;
	if ((rt->flags & R_SUDO) && !(caps & CAP_SUDO))
		return CF_EDENIED;
	if (rq->op & (OP_CREATE | OP_UPDATE | OP_PATCH)) {
		char err[256];
		if (acl_check_params(rq->acl, rq->path, rq->data, err, sizeof(err)) < 0) {
			log_verbose("request %s denied: %s", rq->id, err);
			return CF_EDENIED;
		}
	}
	return 0;
}

/* The identity of a request the server issues itself: audited with display
 * name "coffer-rotation" and no accessor. */
static int
internal_identity(struct request *rq)
{
	struct token_entry *te = calloc(1, sizeof(*te));

	if (!te)
		return CF_ENOMEM;
	te->display_name = strdup("coffer-rotation");
	te->policies = json_pack("[s]", "root");
	if (!te->display_name || !te->policies) {
		token_entry_free(te);
		return CF_ENOMEM;
	}
	snprintf(te->type, sizeof(te->type), "service");
	rq->te = te;
	return 0;
}

static int
ladder(struct core *c, struct request *rq, struct response *rs, bool *ret_revoke, bool *ret_audited)
{
	const struct route *rt;
	const char *rel;
	struct mount *m;
	bool sealed = barrier_sealed(c->barrier), last = false;
	int r;

	m = mount_find(c, rq->path, &rel);
	if (!m)
		return fail(rs, sealed ? CF_ESEALED : CF_ENOROUTE, NULL);
	rq->mount = m;
	rq->rel = rel;
	rs->mount_type = m->type;
	rt = core_route_find(c, m, rel, rq);
	if (!rt) {
		if (sealed)
			return CF_ESEALED;
		(void)response_errorf(rs, "no handler for route \"%s\". route entry not found.",
		                      rq->path);
		return CF_ENOROUTE;
	}
	rq->route = rt;
	if (sealed && !(rt->flags & R_SEALED_OK))
		return CF_ESEALED;
	if (!route_handler(rt, rq->op)) {
		(void)response_errorf(rs, "unsupported operation");
		return CF_EMETHOD;
	}

	if (rq->internal) {
		/* Issued by the server itself (request.h): no token, no ACL. */
		r = internal_identity(rq);
		if (r < 0)
			return r;
	} else if (!(rt->flags & R_NOAUTH)) {
		r = authenticate(c, rq);
		if (r < 0)
			return fail(rs, r, "permission denied");
		if (rq->op == OP_UPDATE && rt->exists) {
			bool exists = true;
			r = rt->exists(rq, &exists);
			if (r < 0)
				return r;
			if (!exists)
				rq->op = OP_CREATE;
		}
		r = authorize(rq, rt);
		if (r < 0)
			return fail(rs, r, "permission denied");
		if (rq->te->num_uses > 0) {
			r = token_use(c->tokens, rq->te, &last);
			if (r < 0)
				return fail(rs, CF_EDENIED, "permission denied");
			*ret_revoke = last;
		}
	} else if (rq->client_token && *rq->client_token) {
		/* Unauthenticated routes still know the caller when it sent a token. */
		if (token_lookup(c->tokens, rq->client_token, &rq->te) < 0)
			rq->te = NULL;
	}

	if (rq->wrap_requested) {
		r = wrap_check_ttl(rq, rs);
		if (r < 0)
			return r;
	}
	if (!(rt->flags & R_NOAUDIT) && !sealed) {
		const struct core_hooks *h = &c->hooks;
		r = 0;
		if ((rt->flags & R_PURE_READ) && (rq->op == OP_READ || rq->op == OP_LIST) &&
		    h->audit_request_pending)
			r = h->audit_request_pending(h->audit, rq);
		else if (h->audit_request)
			r = h->audit_request(h->audit, rq);
		if (r < 0) {
			log_error("request %s refused: no audit device could record it", rq->id);
			return fail(rs, CF_EAUDIT, "failed to log request to any audit device");
		}
		*ret_audited = true;
	}
	if (rt->flags & R_SYS_INJECT)
		rs->sys_inject = true;
	rq->display_name = rq->te ? rq->te->display_name : NULL;
	rq->token_hash = rq->te && !rq->internal ? rq->te->hash : NULL;
	return route_handler(rt, rq->op)(rq, rs);
}

static void
request_prepare(struct core *c, struct request *rq)
{
	rq->core = c;
	rq->nested = core_handle_nested;
	if (!rq->id[0])
		util_request_id(rq->id);
	if (!rq->data)
		rq->data = json_object();
	if (!rq->query)
		rq->query = json_object();
}

/* The route path selects, without filling rq (NULL when there is none).
 * Caller holds c->lock. */
static const struct route *
route_peek(struct core *c, struct request *rq)
{
	const char *rel;
	struct mount *m = mount_find(c, rq->path, &rel);

	return m ? core_route_find(c, m, rel, NULL) : NULL;
}

/* A request refused before its handler (no mount or route, bad method, no or
 * bad token, denied, malformed input) is audited with its error, as Vault does,
 * so that failed access can be monitored. While sealed nothing is audited (the
 * devices and their keys are not loaded). If devices are enabled and none can
 * record it, the answer becomes a 500 (no unaudited access). */
static void
audit_refused(struct core *c, struct request *rq, struct response *rs, bool denied)
{
	if (!c->hooks.audit_refused || c->hooks.audit_refused(c->hooks.audit, rq, rs, denied) == 0)
		return;
	log_error("request %s refused: no audit device could record it", rq->id);
	response_reset(rs);
	(void)fail(rs, CF_EAUDIT, "failed to log request to any audit device");
	rs->status = cf_http_status(CF_EAUDIT);
}

/* Mints the token of a login (rs->login, filled by the login handler through
 * auth_login_token) and answers its auth block; rs->login is freed. */
static int
mint_login_token(struct core *c, struct request *rq, struct response *rs)
{
	struct auth_result *a = rs->login;
	struct token_params tp = {
	        .policies = a->policies,
	        .meta = a->metadata,
	        .bound_cidrs = a->bound_cidrs,
	        .display_name = a->display_name,
	        .path = rq->path,
	        .ttl = a->ttl,
	        .explicit_max_ttl = a->explicit_max_ttl,
	        .period = a->period,
	        .num_uses = a->num_uses,
	        .renewable = a->renewable,
	        .no_default_policy = a->no_default_policy,
	        .mount_accessor = rq->mount ? rq->mount->accessor : NULL,
	};
	struct token_entry *te = NULL;
	char *token = NULL;
	int r = token_create(c->tokens, &tp, &token, &te);

	rs->login = NULL;
	if (r == 0) {
		json_decref(rs->auth);
		rs->auth = token_auth_json(te, token);
		if (rs->auth)
			log_verbose("login on %s: token accessor %s", rq->mount->path,
			            te->accessor);
		r = rs->auth ? 0 : CF_ENOMEM;
	}
	secmem_free_str(token);
	token_entry_free(te);
	auth_result_free(a);
	return r;
}

/* The ladder and the answer's status, audit and num_uses revocation. Caller
 * holds c->lock (for writing on R_EXCLUSIVE routes). */
static void
handle_locked(struct core *c, struct request *rq, struct response *rs)
{
	bool revoke = false, audited = false;
	int r, status;

	r = ladder(c, rq, rs, &revoke, &audited);
	if (rq->naudit_tickets > 0 && c->hooks.audit_confirm &&
	    c->hooks.audit_confirm(c->hooks.audit, rq) < 0) {
		/* The handler ran (it changes nothing) but its request entry was
		 * never written: its answer must not leave the server. */
		log_error("request %s refused: no audit device could record it", rq->id);
		response_reset(rs);
		r = fail(rs, CF_EAUDIT, "failed to log request to any audit device");
	}
	/* A login handler returns what it authenticated; the token is minted
	 * here, once the handler succeeded. */
	if (rs->login) {
		if (r >= 0)
			r = mint_login_token(c, rq, rs);
		auth_result_free(rs->login);
		rs->login = NULL;
	}
	if (r >= 0 && rs->secret)
		r = expire_register(c->expire, rq, rs);
	/* Adoption tracking (the rotation manager's read hook): returns at once
	 * unless this read is of a rotated secret's data. */
	if (r >= 0 && rq->op == OP_READ && (rs->status == 0 || rs->status == 200) && rs->data &&
	    c->hooks.read_observed)
		c->hooks.read_observed(c->hooks.observer, rq, rs);
	/* X-Vault-Wrap-TTL: the answer goes into a wrapping token's cubbyhole */
	if (r >= 0 && rq->wrap_requested)
		r = wrap_response(c, rq, rs);
	if (r < 0) {
		status = cf_http_status(r);
		if (rs->raw && !rs->errors) {
			/* a raw answer with its own status (sys/health) */
		} else if (r == CF_ENOTFOUND && !rs->envelope_on_error) {
			/* Plain not-found: {"errors":[]} */
			if (!rs->errors)
				rs->errors = json_array();
		} else if (!rs->errors && !rs->envelope_on_error) {
			(void)response_errorf(rs, "%s", cf_strerror(r));
		}
		if (rs->status == 0)
			rs->status = status;
	} else if (rs->status == 0) {
		rs->status = (rs->data || rs->auth || rs->warnings || rs->raw || rs->wrap_info)
		                     ? 200
		                     : 204;
	}
	if (audited && c->hooks.audit_response)
		(void)c->hooks.audit_response(c->hooks.audit, rq, rs);
	else if (r < 0 && r != CF_EAUDIT && !barrier_sealed(c->barrier) &&
	         !(rq->route && (rq->route->flags & R_NOAUDIT)))
		audit_refused(c, rq, rs, r == CF_EDENIED);
	if (revoke && rq->te)
		(void)token_revoke_tree(c->tokens, rq->te->hash);
}

/* After the lock is released: drop the ACL and token references. */
static int
request_finish(struct core *c, struct request *rq, struct response *rs)
{
	if (rq->acl_ref) {
		core_acl_put(c, rq->acl_ref);
		rq->acl_ref = NULL;
		rq->acl = NULL;
	}
	if (rq->te) {
		token_entry_free(rq->te);
		rq->te = NULL;
	}
	rq->display_name = NULL;
	rq->token_hash = NULL;
	return rs->status;
}

/* Whether the request must run alone (the core lock held for writing): routes
 * that change the seal state, and mount-table changes other than enabling a
 * mount (which publishes the new entry under the read lock, see mount.c). */
static bool
needs_exclusive(const struct route *rt, const struct request *rq)
{
	size_t n;

	if (!rt)
		return false;
	if (rt->flags & R_EXCLUSIVE)
		return true;
	if (!(rt->flags & R_EXCL_CHANGES))
		return false;
	if (rq->op == OP_DELETE)
		return true;
	n = strlen(rq->path);
	return (rq->op & (OP_CREATE | OP_UPDATE)) && n >= 5 &&
	       strcmp(rq->path + n - 5, "/tune") == 0;
}

/* Counts the answered request and its time in the core (lib/metrics.h), labelled
 * by the mount type and route pattern it matched (static strings: never the raw
 * path) and the status. */
static void
request_metrics(const char *mount_type, const struct request *rq, int status, uint64_t start_ns)
{
	char code[16];
	const char *labels[3] = {mount_type, rq->route ? rq->route->pattern : "", code};

	snprintf(code, sizeof(code), "%d", status);
	metrics_count(METRIC_REQUESTS, labels, 1);
	metrics_observe_since(METRIC_REQUEST_DURATION, labels, start_ns);
}

/* What a standby answers itself: the seal routes, health and leader. */
static bool
standby_serves(const struct request *rq)
{
	static const char *const paths[] = {"sys/health", "sys/leader", "sys/seal-status",
	                                    "sys/unseal", "sys/init",   "sys/seal",
	                                    "sys/metrics"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(rq->path, paths[i]) == 0)
			return true;
	return false;
}

/* A standby's answer: 307 to the active node, or 503 when there is none. */
static void
standby_redirect(struct core *c, struct response *rs)
{
	char addr[520];
	bool self;
	int64_t since;
	int r = ha_leader(c->ha, &self, addr, sizeof(addr), &since);

	if (r == 0 && !self && addr[0]) {
		rs->redirect = strdup(addr);
		if (rs->redirect != NULL) {
			rs->status = 307;
			return;
		}
	}
	if (r == 0 || r == CF_ENOTFOUND)
		(void)response_errorf(rs, "this node is a standby and no active node is known yet");
	else
		(void)response_errorf(rs, "this node is a standby and cannot find the active node: "
		                          "storage or I/O failure");
	rs->status = 503;
}

int
core_handle(struct core *c, struct request *rq, struct response *rs)
{
	const struct route *peek;
	uint64_t start = metrics_now_ns();
	const char *mount_type;
	int status;

	request_prepare(c, rq);
	/* Routes that change the seal state or the mount table run alone. */
	pthread_rwlock_rdlock(&c->lock);
	if (c->ha && ha_standby(c->ha) && !standby_serves(rq)) {
		standby_redirect(c, rs);
		pthread_rwlock_unlock(&c->lock);
		return request_finish(c, rq, rs);
	}
	peek = route_peek(c, rq);
	if (needs_exclusive(peek, rq)) {
		/* A seal must not wait for requests stuck on an external system. */
		if (peek->flags & R_INTERRUPT)
			mount_interrupt_all(c);
		pthread_rwlock_unlock(&c->lock);
		pthread_rwlock_wrlock(&c->lock);
	}
	handle_locked(c, rq, rs);
	/* The mount may go once the lock is dropped; its type's name is static. */
	mount_type = rq->mount && rq->mount->bt ? rq->mount->bt->type : "";
	pthread_rwlock_unlock(&c->lock);
	status = request_finish(c, rq, rs);
	request_metrics(mount_type, rq, status, start);
	return status;
}

int
core_refuse(struct core *c, struct request *rq, struct response *rs, int status, const char *msg)
{
	request_prepare(c, rq);
	if (msg)
		(void)response_errorf(rs, "%s", msg);
	else if (!rs->errors)
		rs->errors = json_array();
	rs->status = status;
	/* Shared: the seal state and the audit table stay as they are meanwhile. */
	pthread_rwlock_rdlock(&c->lock);
	if (!barrier_sealed(c->barrier))
		audit_refused(c, rq, rs, false);
	pthread_rwlock_unlock(&c->lock);
	return request_finish(c, rq, rs);
}

int
core_handle_nested(struct core *c, struct request *rq, struct response *rs)
{
	const struct route *peek;

	request_prepare(c, rq);
	/* The calling request holds c->lock for reading: taking it again would
	 * deadlock against a writer queued in between (the lock prefers writers). */
	peek = route_peek(c, rq);
	if (needs_exclusive(peek, rq)) {
		(void)response_errorf(rs, "not allowed in a nested request");
		rs->status = 405;
		return request_finish(c, rq, rs);
	}
	handle_locked(c, rq, rs);
	return request_finish(c, rq, rs);
}
