#include "backend/b.h"
