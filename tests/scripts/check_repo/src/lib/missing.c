#include "lib/a.h"
#include "lib/nothere.h" // FLAG: no such header
