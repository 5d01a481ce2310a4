#include "engines/kv/kv_int.h"
#include "engines/transit/t.h" // FLAG: another engine
#include "core/core.h"         // FLAG: core is a sibling of the engines
