#include "events/events.h"
#include "rotation/r.h" // FLAG: events does not include rotation
