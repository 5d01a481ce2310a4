/* jwt.c - the jwt auth method (placeholder until its routes land). */
#include "core/mount.h"

static const struct route jwt_routes[] = {
        {"+", 0, 0, NULL, NULL},
};

const struct backend_type jwt_backend = {
        .type = "jwt",
        .routes = jwt_routes,
        .nroutes = 0,
};
