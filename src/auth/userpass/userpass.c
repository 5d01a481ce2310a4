/* userpass.c - the userpass auth method (placeholder until its routes land). */
#include "core/mount.h"

static const struct route userpass_routes[] = {
        {"+", 0, 0, NULL, NULL},
};

const struct backend_type userpass_backend = {
        .type = "userpass",
        .routes = userpass_routes,
        .nroutes = 0,
};
