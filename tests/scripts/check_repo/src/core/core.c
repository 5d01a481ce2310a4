#include "core/core_int.h"
#include "backend/b.h"
#include "backend/b_int.h" // FLAG: private to backend
#include "audit/audit.h"   // FLAG: a higher layer
