/* backend.c - the mount's reference count and effective TTLs, which every
 * backend and the core share. */
#include "backend/backend.h"
#include "backend/view.h"

#include <stdatomic.h>
#include <stdlib.h>

int64_t
mount_default_ttl(const struct mount *m)
{
	return m->default_lease_ttl > 0 ? m->default_lease_ttl : SYSTEM_DEFAULT_TTL;
}

int64_t
mount_max_ttl(const struct mount *m)
{
	return m->max_lease_ttl > 0 ? m->max_lease_ttl : SYSTEM_DEFAULT_TTL;
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
