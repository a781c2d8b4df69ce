/* The timers benchmark on libevent: struct event lives in one array the benchmark allocates
 * (event_assign, not event_new), so the add phase pays for that allocation. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

#include "timers.h"

static struct event_base *base;
static struct event *events;

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    timers_on_fire((size_t)((struct event *)arg - events));
}

static int setup(struct timers_lib *self, size_t n)
{
    (void)n;
    self->version = event_get_version();
    base = event_base_new();
    return base ? 0 : -1;
}

static int add_all(const uint32_t *delay_ms, size_t n)
{
    events = malloc(n * sizeof *events);
    if (events == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct timeval tv = {.tv_sec = delay_ms[i] / 1000, .tv_usec = (delay_ms[i] % 1000) * 1000};
        evtimer_assign(&events[i], base, on_timer, &events[i]);
        if (evtimer_add(&events[i], &tv) < 0)
            return -1;
    }
    return 0;
}

static int cancel_odd(size_t n)
{
    for (size_t i = 1; i < n; i += 2)
        if (evtimer_del(&events[i]) < 0)
            return -1;
    return 0;
}

static int run(void)
{
    return event_base_dispatch(base);
}

static void teardown(void)
{
    event_base_free(base);
    free(events);
}

struct timers_lib timers_lib = {"libevent", "?", setup, add_all, cancel_odd, run, teardown};
