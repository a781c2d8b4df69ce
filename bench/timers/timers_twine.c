/* The timers benchmark on twine: tw_call_later allocates each handle inside the reactor, so the
 * benchmark only keeps an array of handle pointers (for cancelling), allocated in the add phase just
 * as the peers allocate their timer arrays there. */
#include <stdint.h>
#include <stdlib.h>
#include <twine/twine.h>

#include "timers.h"

static tw_reactor *reactor;
static tw_delayed_call **calls;
static size_t still_to_fire;

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

static void teardown(void)
{
    tw_reactor_free(reactor);
    free(calls);
}

struct timers_lib timers_lib = {"twine", "?", setup, add_all, cancel_odd, run, teardown};
