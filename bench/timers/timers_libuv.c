/* The timers benchmark on libuv: uv_timer_t handles live in one array the benchmark allocates (libuv
 * never allocates timers itself), so the add phase pays for that allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "timers.h"

static uv_loop_t loop;
static uv_timer_t *timers;
static size_t timer_count;

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

static void teardown(void)
{
    /* libuv wants every handle closed, and the close callbacks run, before the loop can go. */
    for (size_t i = 0; i < timer_count; i++)
        uv_close((uv_handle_t *)&timers[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(timers);
}

struct timers_lib timers_lib = {"libuv", "?", setup, add_all, cancel_odd, run, teardown};
