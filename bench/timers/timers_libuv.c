/* The timers benchmark on libuv: uv_timer_t handles live in one array the benchmark allocates
 * (libuv never allocates timers itself), so the add phase pays for that allocation. Repeating
 * timers are uv_timers started with a repeat interval. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "timers.h"

static uv_loop_t loop;
static uv_timer_t *timers, *repeating;
static size_t timer_count, repeating_count, *repeat_fired, repeat_ticks;

static void on_timer(uv_timer_t *t)
{
    timers_on_fire((size_t)(t - timers));
}

static int setup(struct timers_lib *self, size_t n)
{
    (void)n;
    self->version = uv_version_string();
    return uv_loop_init(&loop);
}

static int add_all(const uint32_t *delay_ms, size_t n)
{
    timers = malloc(n * sizeof *timers);
    if (timers == NULL)
        return -1;
    timer_count = n;
    for (size_t i = 0; i < n; i++) {
        uv_timer_init(&loop, &timers[i]);
        int rc = uv_timer_start(&timers[i], on_timer, delay_ms[i], 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cancel_odd(size_t n)
{
    for (size_t i = 1; i < n; i += 2)
        uv_timer_stop(&timers[i]);
    return 0;
}

static int run(void)
{
    return uv_run(&loop, UV_RUN_DEFAULT);
}

static void on_repeat(uv_timer_t *t)
{
    size_t i = (size_t)(t - repeating);
    if (timers_on_tick(++repeat_fired[i], repeat_ticks))
        uv_timer_stop(t);
}

static int repeat(size_t n, uint32_t interval_ms, size_t ticks)
{
    repeating = malloc(n * sizeof *repeating);
    repeat_fired = calloc(n, sizeof *repeat_fired);
    if (repeating == NULL || repeat_fired == NULL)
        return -1;
    repeating_count = n;
    repeat_ticks = ticks;
    for (size_t i = 0; i < n; i++) {
        uv_timer_init(&loop, &repeating[i]);
        int rc = uv_timer_start(&repeating[i], on_repeat, interval_ms, interval_ms);
        if (rc < 0)
            return rc;
    }
    return uv_run(&loop, UV_RUN_DEFAULT);
}

static void close_all(uv_timer_t *handles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        uv_close((uv_handle_t *)&handles[i], NULL);
}

static void teardown(void)
{
    /* libuv wants every handle closed, and the close callbacks run, before the loop can go. */
    close_all(timers, timer_count);
    close_all(repeating, repeating_count);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(timers);
    free(repeating);
    free(repeat_fired);
    timers = repeating = NULL;
    repeat_fired = NULL;
    timer_count = repeating_count = 0;
}

struct timers_lib timers_lib = {"libuv", "?", setup, add_all, cancel_odd, run, teardown, repeat};
