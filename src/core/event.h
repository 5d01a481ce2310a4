/* event.h - struct event, defined in backend/event.h (the engines below the
 * core raise events too); kept so the core's users include it from here. */
#ifndef CF_CORE_EVENT_H
#define CF_CORE_EVENT_H

#include "backend/event.h"

#endif
