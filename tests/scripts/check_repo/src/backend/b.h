#include "storage/s.h"
