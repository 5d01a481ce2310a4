#include "core/core_int.h"
#include "backend/b_int.h"
#include "helper.h"
#include "core/gone.h" // FLAG: a test left behind by a move
