/* registry.c - the mount-type registry (registry.h). */
#include "backend/registry.h"

#include "lib/err.h"

#include <string.h>

static const struct backend_entry *entries[BACKEND_MAX_ENTRIES];
static size_t nentries;

static bool
registered(const struct backend_entry *e)
{
	for (size_t i = 0; i < nentries; i++)
		if (entries[i] == e)
			return true;
	return false;
}

int
backend_register(const struct backend_entry *table, size_t n)
{
	size_t add = 0;

	for (size_t i = 0; i < n; i++)
		if (!registered(&table[i]))
			add++;
	if (nentries + add > BACKEND_MAX_ENTRIES)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!registered(&table[i]))
			entries[nentries++] = &table[i];
	return 0;
}

const struct backend_entry *
backend_entry_at(size_t i)
{
	return i < nentries ? entries[i] : NULL;
}

const struct backend_type *
backend_type_find(const char *type, json_t *options, bool is_auth)
{
	enum backend_kind kind = is_auth ? BACKEND_AUTH : BACKEND_ENGINE;

	for (size_t i = 0; i < nentries; i++) {
		const struct backend_entry *e = entries[i];
		const char *v;
		if (e->kind != kind || strcmp(e->name, type) != 0)
			continue;
		if (e->option) {
			v = json_string_value(json_object_get(options, e->option));
			if (!v || strcmp(v, e->value) != 0)
				continue;
		}
		return e->bt;
	}
	return NULL;
}
