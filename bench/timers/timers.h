/* The timers benchmark: one driver (driver.c) and one small file per library (timers_*.c) that
 * implements the phases below for that library: 1,000,000 one-shot timers (add, cancel, fire),
 * then, on a fresh loop, repeating timers (twine's looping call, libuv's repeating uv_timer,
 * libev's ev_periodic, libevent's EV_PERSIST timer). The driver times each phase as a whole, so no
 * per-timer indirection is added to any library's cost. */
#ifndef TWINE_BENCH_TIMERS_H
#define TWINE_BENCH_TIMERS_H

#include <stddef.h>
#include <stdint.h>

/* What a library file provides. Every function returns 0, or a negative number on failure. */
struct timers_lib {
    const char *name;    /* "twine", "libuv", ... */
    const char *version; /* filled in by setup if the library can tell */
    /* Creates the loop. Not timed. */
    int (*setup)(struct timers_lib *self, size_t n);
    /* Allocates whatever handles the library needs and schedules timer i to fire after
     * delay_ms[i] milliseconds, for every i < n. Timed as "add". */
    int (*add_all)(const uint32_t *delay_ms, size_t n);
    /* Cancels every timer with an odd index. Timed as "cancel". */
    int (*cancel_odd)(size_t n);
    /* Runs the loop until every timer left has fired. Timed as "fire". */
    int (*run)(void);
    /* Frees the loop and the handles. Not timed. */
    void (*teardown)(void);
    /* On a loop made by setup again: starts n repeating timers of interval_ms, each stopping itself
     * once it has fired ticks times, and runs the loop until all have stopped. Timed as "tick". */
    int (*repeat)(size_t n, uint32_t interval_ms, size_t ticks);
};

extern struct timers_lib timers_lib;

/* Every library's timer callback calls this with the timer's index. Cheap on purpose: a counter and
 * a parity check (an odd index was cancelled and must never fire). */
struct timers_tally {
    size_t fired;
    size_t wrongly_fired;
    size_t ticks; /* fires of repeating timers */
};
extern struct timers_tally timers_tally;

static inline void timers_on_fire(size_t index)
{
    timers_tally.fired++;
    timers_tally.wrongly_fired += index & 1;
}

/* Every repeating timer's callback calls this with the fires it counted so far (this one included);
 * true when the timer must stop now. */
static inline int timers_on_tick(size_t fired_so_far, size_t ticks)
{
    timers_tally.ticks++;
    return fired_so_far >= ticks;
}

/* How many timers survive cancel_odd: those with even indices. */
static inline size_t timers_expected_fires(size_t n)
{
    return (n + 1) / 2;
}

#endif
