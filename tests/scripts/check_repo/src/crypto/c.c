#include <stdio.h>
#include "lib/a.h"
#include "storage/s.h" /* same layer, allowed: the barrier over storage */
#include "backend/b.h" // FLAG: a higher layer
