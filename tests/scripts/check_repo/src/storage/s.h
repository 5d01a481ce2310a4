#include "lib/a.h"
