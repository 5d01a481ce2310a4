/* backend.c - the mount's reference count and effective TTLs, which every
 * backend and the core share. */
#include "backend/backend.h"
#include "backend/view.h"

#include <stdatomic.h>
#include <stdlib.h>

static int64_t sys_default_ttl = SYSTEM_DEFAULT_TTL, sys_max_ttl = SYSTEM_DEFAULT_TTL;

void
mount_set_system_ttls(int64_t def, int64_t max)
{
	if (max > 0)
		sys_max_ttl = max;
	if (def > 0)
		sys_default_ttl = def;
	if (sys_default_ttl > sys_max_ttl)
		sys_default_ttl = sys_max_ttl;
}

int64_t
system_default_ttl(void)
{
	return sys_default_ttl;
}

int64_t
system_max_ttl(void)
{
	return sys_max_ttl;
}

int64_t
mount_default_ttl(const struct mount *m)
{
	return m->default_lease_ttl > 0 ? m->default_lease_ttl : sys_default_ttl;
}

int64_t
mount_max_ttl(const struct mount *m)
{
	return m->max_lease_ttl > 0 ? m->max_lease_ttl : sys_max_ttl;
}

void
mount_ref(struct mount *m)
{
	atomic_fetch_add(&m->refs, 1);
}

static void mount_destroy(struct mount *m);

void
mount_unref(struct mount *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		mount_destroy(m);
}

static void
mount_destroy(struct mount *m)
{
	if (!m)
		return;
	if (m->bt && m->bt->cleanup && m->state)
		m->bt->cleanup(m);
	view_free(m->view);
	free(m->path);
	free(m->type);
	free(m->description);
	json_decref(m->options);
	json_decref(m->extra_config);
	free(m);
}
