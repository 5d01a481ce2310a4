/* database.c - the database secrets engine (placeholder until its routes land). */
#include "core/mount.h"

static const struct route database_routes[] = {
        {"+", 0, 0, NULL, NULL},
};

const struct backend_type database_backend = {
        .type = "database",
        .routes = database_routes,
        .nroutes = 0,
};
