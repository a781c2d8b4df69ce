/* The timers benchmark on libev: ev_timer watchers live in one array the benchmark allocates (libev
 * never allocates watchers itself), so the add phase pays for that allocation. Repeating timers are
 * ev_periodic watchers with an interval. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "timers.h"

static struct ev_loop *loop;
static ev_timer *timers;
static ev_periodic *periodics;
static size_t *periodic_fired, periodic_ticks;
static char version[16];

static void on_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)revents;
    timers_on_fire((size_t)(w - timers));
}

static int setup(struct timers_lib *self, size_t n)
{
    (void)n;
    snprintf(version, sizeof version, "%d.%d", ev_version_major(), ev_version_minor());
    self->version = version;
    loop = ev_loop_new(EVFLAG_AUTO);
    return loop ? 0 : -1;
}

static int add_all(const uint32_t *delay_ms, size_t n)
{
    timers = malloc(n * sizeof *timers);
    if (timers == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        ev_timer_init(&timers[i], on_timer, delay_ms[i] / 1000.0, 0.0);
        ev_timer_start(loop, &timers[i]);
    }
    return 0;
}

static int cancel_odd(size_t n)
{
    for (size_t i = 1; i < n; i += 2)
        ev_timer_stop(loop, &timers[i]);
    return 0;
}

static int run(void)
{
    ev_run(loop, 0);
    return 0;
}

static void on_periodic(struct ev_loop *l, ev_periodic *w, int revents)
{
    (void)revents;
    size_t i = (size_t)(w - periodics);
    if (timers_on_tick(++periodic_fired[i], periodic_ticks))
        ev_periodic_stop(l, w);
}

static int repeat(size_t n, uint32_t interval_ms, size_t ticks)
{
    periodics = malloc(n * sizeof *periodics);
    periodic_fired = calloc(n, sizeof *periodic_fired);
    if (periodics == NULL || periodic_fired == NULL)
        return -1;
    periodic_ticks = ticks;
    for (size_t i = 0; i < n; i++) {
        ev_periodic_init(&periodics[i], on_periodic, 0.0, interval_ms / 1000.0, 0);
        ev_periodic_start(loop, &periodics[i]);
    }
    ev_run(loop, 0);
    return 0;
}

static void teardown(void)
{
    ev_loop_destroy(loop);
    free(timers);
    free(periodics);
    free(periodic_fired);
    timers = NULL;
    periodics = NULL;
    periodic_fired = NULL;
}

struct timers_lib timers_lib = {"libev", "?", setup, add_all, cancel_odd, run, teardown, repeat};
