/* approle.c - the approle auth method (placeholder until its routes land). */
#include "core/mount.h"

static const struct route approle_routes[] = {
        {"+", 0, 0, NULL, NULL},
};

const struct backend_type approle_backend = {
        .type = "approle",
        .routes = approle_routes,
        .nroutes = 0,
};
