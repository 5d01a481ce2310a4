#include "events/events.h"
#include "audit/audit.h"
