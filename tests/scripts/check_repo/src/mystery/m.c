/* m.c - FLAG: a folder that is in no layer */
#include "lib/a.h"
