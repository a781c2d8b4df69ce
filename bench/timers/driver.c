/* Driver of the timers benchmark: builds the workload (same seeded deadlines for every library),
 * times add, cancel and fire in CPU nanoseconds, checks that exactly the uncancelled timers fired,
 * then times the repeating timers on a fresh loop, and prints one RESULT line. Linked with exactly
 * one timers_<lib>.c. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "timers.h"

#define TIMERS_DEFAULT_N 1000000
#define TIMERS_MIN_DELAY_MS 1
#define TIMERS_MAX_DELAY_MS 1000
/* Repeating timers: how many, their interval, and how often each fires before it stops itself. */
#define TIMERS_REPEAT_DEFAULT_N 1000
#define TIMERS_REPEAT_INTERVAL_MS 10
#define TIMERS_REPEAT_DEFAULT_TICKS 50

struct timers_tally timers_tally;

static uint32_t *make_delays(size_t n)
{
    uint32_t *delay_ms = malloc(n * sizeof *delay_ms);
    if (delay_ms == NULL)
        bench_fail("out of memory for %zu delays", n);
    bench_rng rng;
    bench_rng_seed(&rng);
    for (size_t i = 0; i < n; i++)
        delay_ms[i] = bench_rng_range(&rng, TIMERS_MIN_DELAY_MS, TIMERS_MAX_DELAY_MS);
    return delay_ms;
}

static void check(int rc, const char *phase)
{
    if (rc < 0)
        bench_fail("%s: %s failed (%d)", timers_lib.name, phase, rc);
}

int main(void)
{
    size_t n = bench_env_size("TIMERS_N", TIMERS_DEFAULT_N);
    size_t cancels = n / 2, fires = timers_expected_fires(n);
    uint32_t *delay_ms = make_delays(n);

    check(timers_lib.setup(&timers_lib, n), "setup");
    int64_t t0 = bench_cpu_ns();
    check(timers_lib.add_all(delay_ms, n), "add");
    int64_t t1 = bench_cpu_ns();
    check(timers_lib.cancel_odd(n), "cancel");
    int64_t t2 = bench_cpu_ns();
    if (timers_tally.fired != 0)
        bench_fail("%s: %zu timers fired before the loop ran", timers_lib.name, timers_tally.fired);
    check(timers_lib.run(), "run");
    int64_t t3 = bench_cpu_ns();
    double rss_mb = bench_peak_rss_mb();
    timers_lib.teardown();
    free(delay_ms);

    if (timers_tally.fired != fires || timers_tally.wrongly_fired != 0)
        bench_fail("%s: %zu fired (%zu of them cancelled), expected %zu", timers_lib.name,
                   timers_tally.fired, timers_tally.wrongly_fired, fires);

    size_t repeat_n = bench_env_size("TIMERS_REPEAT_N", TIMERS_REPEAT_DEFAULT_N);
    size_t ticks = bench_env_size("TIMERS_REPEAT_TICKS", TIMERS_REPEAT_DEFAULT_TICKS);
    check(timers_lib.setup(&timers_lib, repeat_n), "setup (repeat)");
    int64_t t4 = bench_cpu_ns();
    check(timers_lib.repeat(repeat_n, TIMERS_REPEAT_INTERVAL_MS, ticks), "repeat");
    int64_t t5 = bench_cpu_ns();
    timers_lib.teardown();
    if (timers_tally.ticks != repeat_n * ticks)
        bench_fail("%s: repeating timers fired %zu times, expected %zu", timers_lib.name,
                   timers_tally.ticks, repeat_n * ticks);

    bench_result_begin(timers_lib.name, timers_lib.version);
    bench_result_num("add", (double)(t1 - t0) / (double)n);
    bench_result_num("cancel", cancels ? (double)(t2 - t1) / (double)cancels : 0.0);
    bench_result_num("fire", (double)(t3 - t2) / (double)fires);
    bench_result_num("total", (double)(t3 - t0) / (double)(n + cancels + fires));
    bench_result_num("rss", rss_mb);
    bench_result_num("tick", (double)(t5 - t4) / (double)(repeat_n * ticks));
    bench_result_end();
    return 0;
}
