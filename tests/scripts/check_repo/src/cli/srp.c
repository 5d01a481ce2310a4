#include "cli/cli-config.h"
#include "http/http.h"
#include "core/core.h"
#include "auth/srp/srp_int.h" // FLAG: private to auth/srp
