/* Rate-limited warnings for the layers above the reactor inside libtwine: a condition that can
 * recur on every event under overload (a port out of file descriptors) is reported at most once
 * per TW_LOG_REPEAT_INTERVAL, with a count of what was held back, so overload cannot flood the
 * log. */
#ifndef TWINE_REACTOR_LOG_H
#define TWINE_REACTOR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "twine/reactor.h"

/* One per recurring condition, zeroed before first use; owned by whoever reports the condition. */
typedef struct {
    int64_t last;  /* reactor time of the last line written */
    unsigned held; /* messages held back since */
    bool written;  /* a line has been written at all */
} tw_log_limit;

/* tw_reactor_log, unless limit wrote a line less than TW_LOG_REPEAT_INTERVAL ago by the reactor's
 * clock: then the message is only counted, and the next line written says how many were held. */
void tw__log_limited(tw_reactor *r, tw_log_limit *limit, tw_log_level level, const char *fmt, ...)
    TW_PRINTF(4, 5);

#endif
