/* The timers benchmark on twine: tw_call_later allocates each handle inside the reactor, so the
 * benchmark only keeps an array of handle pointers (for cancelling), allocated in the add phase
 * just as the peers allocate their timer arrays there. Repeating timers are looping calls. */
#include <stdint.h>
#include <stdlib.h>
#include <twine/twine.h>

#include "timers.h"

static tw_reactor *reactor;
static tw_delayed_call **calls;
static size_t still_to_fire;
static tw_looping_call **loops;
static size_t *loop_fired, loop_count, loops_running, loop_ticks;

static int on_timer(void *arg)
{
    timers_on_fire((size_t)(uintptr_t)arg);
    if (--still_to_fire == 0)
        return tw_reactor_stop(reactor);
    return 0;
}

static int setup(struct timers_lib *self, size_t n)
{
    int err = 0;
    self->version = tw_reactor_backend();
    still_to_fire = timers_expected_fires(n);
    reactor = tw_reactor_new(&err);
    return reactor ? 0 : err;
}

static int add_all(const uint32_t *delay_ms, size_t n)
{
    calls = malloc(n * sizeof *calls);
    if (calls == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        calls[i] = tw_call_later(reactor, delay_ms[i] / 1000.0, on_timer, (void *)(uintptr_t)i, NULL);
        if (calls[i] == NULL)
            return -1;
    }
    return 0;
}

static int cancel_odd(size_t n)
{
    for (size_t i = 1; i < n; i += 2) {
        int rc = tw_delayed_call_cancel(calls[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run(void)
{
    int rc = tw_reactor_run(reactor);
    if (rc < 0)
        return rc;
    return tw_reactor_pending_calls(reactor) == 0 ? 0 : -1;
}

static int on_tick(tw_result *out, void *arg)
{
    (void)out;
    size_t i = (size_t)(uintptr_t)arg;
    if (!timers_on_tick(++loop_fired[i], loop_ticks))
        return 0;
    tw_looping_call_stop(loops[i]);
    return --loops_running == 0 ? tw_reactor_stop(reactor) : 0;
}

static int repeat(size_t n, uint32_t interval_ms, size_t ticks)
{
    loops = calloc(n, sizeof *loops);
    loop_fired = calloc(n, sizeof *loop_fired);
    if (loops == NULL || loop_fired == NULL)
        return -1;
    loop_count = loops_running = n;
    loop_ticks = ticks;
    for (size_t i = 0; i < n; i++) {
        loops[i] = tw_looping_call_new(reactor, on_tick, (void *)(uintptr_t)i, NULL);
        double interval = interval_ms / 1000.0;
        tw_looping_call *lc = loops[i];
        tw_deferred *stopped = lc ? tw_looping_call_start(lc, interval, false, NULL) : NULL;
        if (stopped == NULL)
            return -1;
        tw_deferred_unref(stopped); /* it fires at the stop; nothing waits for it */
    }
    return tw_reactor_run(reactor);
}

static void teardown(void)
{
    for (size_t i = 0; loops != NULL && i < loop_count; i++)
        tw_looping_call_free(loops[i]);
    tw_reactor_free(reactor);
    free(calls);
    free(loops);
    free(loop_fired);
    calls = NULL;
    loops = NULL;
    loop_fired = NULL;
    loop_count = 0;
}

struct timers_lib timers_lib = {"twine", "?", setup, add_all, cancel_odd, run, teardown, repeat};
