#include "auth/auth.h"
#include "auth/srp/srp_int.h"
