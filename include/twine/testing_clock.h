/* twine testing, the reactor's part: tw_clock, Twisted's task.Clock. A real reactor whose clock
 * stands still until the test moves it. Everything that uses the reactor's time (tw_call_later,
 * deferred timeouts, looping calls, the cooperator, idle timeouts, connection attempts) runs on it
 * unchanged, and a test decides exactly when each timer fires, without sleeping. Include testing.h,
 * which brings every test double.
 *
 * Ownership: tw_clock_new returns a clock the caller frees with tw_clock_free, which also frees its
 * reactor. Errors as everywhere in twine: 0 or a negative code, NULL with *err. */
#ifndef TWINE_TESTING_CLOCK_H
#define TWINE_TESTING_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_clock tw_clock;

/* A new reactor on a clock at 0 seconds (Twisted's Clock starts at 0). NULL + *err: as
 * tw_reactor_new. */
TW_API tw_clock *tw_clock_new(int *err);
/* Frees the reactor (as tw_reactor_free) and the clock. */
TW_API void tw_clock_free(tw_clock *c);

/* The reactor to hand to the code under test. Drive it with tw_clock_advance, not tw_reactor_run:
 * run() would wait in real time for timers whose time never comes. */
TW_API tw_reactor *tw_clock_reactor(const tw_clock *c);

/* The clock's time in seconds: where the last advance left it. Inside a callback this may be later
 * than tw_reactor_seconds(), which holds the time of the current turn. */
TW_API double tw_clock_seconds(const tw_clock *c);

/* Twisted's Clock.advance: moves the clock forward by seconds (>= 0), then runs turns of the
 * reactor until no timer is due any more, so calls scheduled for the new time or before, including
 * those the calls themselves schedule, run now, in deadline order. Each turn also serves fds that
 * are ready, as any turn does. Returns the number of callbacks run, or -EINVAL (seconds negative or
 * NaN). Called from inside a callback of the reactor, it only moves the clock and returns 0: the
 * running turn's callbacks see the new time in tw_clock_seconds, the reactor on its next turn. */
TW_API int tw_clock_advance(tw_clock *c, double seconds);

/* Twisted's Clock.pump: tw_clock_advance by each of the n amounts in turn. Returns the callbacks
 * run in all, or the first error (the amounts before it were applied). */
TW_API int tw_clock_pump(tw_clock *c, const double *amounts, size_t n);

#ifdef __cplusplus
}
#endif
#endif
