/* srp.c - the srp auth method (placeholder until its routes land). */
#include "core/mount.h"

static const struct route srp_routes[] = {
        {"+", 0, 0, NULL, NULL},
};

const struct backend_type srp_backend = {
        .type = "srp",
        .routes = srp_routes,
        .nroutes = 0,
};
