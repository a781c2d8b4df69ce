/* The timers benchmark on libevent: struct event lives in one array the benchmark allocates
 * (event_assign, not event_new), so the add phase pays for that allocation. Repeating timers are
 * EV_PERSIST timer events. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

#include "timers.h"

static struct event_base *base;
static struct event *events, *persistent;
static size_t *persistent_fired, persistent_ticks;

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

static void on_persistent(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct event *ev = arg;
    size_t i = (size_t)(ev - persistent);
    if (timers_on_tick(++persistent_fired[i], persistent_ticks))
        event_del(ev);
}

static int repeat(size_t n, uint32_t interval_ms, size_t ticks)
{
    persistent = malloc(n * sizeof *persistent);
    persistent_fired = calloc(n, sizeof *persistent_fired);
    if (persistent == NULL || persistent_fired == NULL)
        return -1;
    persistent_ticks = ticks;
    struct timeval tv = {.tv_sec = interval_ms / 1000, .tv_usec = (interval_ms % 1000) * 1000};
    for (size_t i = 0; i < n; i++) {
        event_assign(&persistent[i], base, -1, EV_PERSIST, on_persistent, &persistent[i]);
        if (event_add(&persistent[i], &tv) < 0)
            return -1;
    }
    return event_base_dispatch(base);
}

static void teardown(void)
{
    event_base_free(base);
    free(events);
    free(persistent);
    free(persistent_fired);
    events = persistent = NULL;
    persistent_fired = NULL;
}

struct timers_lib timers_lib = {"libevent", "?", setup, add_all, cancel_odd, run, teardown, repeat};
