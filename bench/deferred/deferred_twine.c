/* bench/deferred, twine side: create a deferred, add 3 callbacks, fire it, free it, DEFERRED_N times.
 * Reports CPU ns per deferred and heap allocations per deferred, counted by wrapping malloc, calloc
 * and realloc at link time (-Wl,--wrap=...), which sees every allocation libtwine.a makes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <twine/deferred.h>

#include "bench.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static uint64_t allocations;

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    allocations++;
    return __real_realloc(p, size);
}

/* The same work as the Python side's callback: look at the result and pass it on. */
static int pass_on(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (*(uint64_t *)arg) += (uintptr_t)tw_result_value(res);
    return 0;
}

int main(void)
{
    size_t n = bench_env_size("DEFERRED_N", 2000000);
    uint64_t seen = 0;
    uint64_t allocs_before = allocations;
    int64_t t0 = bench_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        tw_deferred *d = tw_deferred_new(NULL, NULL);
        if (!d)
            bench_fail("out of memory");
        tw_deferred_add_callback(d, pass_on, &seen);
        tw_deferred_add_callback(d, pass_on, &seen);
        tw_deferred_add_callback(d, pass_on, &seen);
        tw_deferred_callback(d, (void *)(uintptr_t)1, NULL);
        tw_deferred_unref(d);
    }
    int64_t t1 = bench_cpu_ns();
    uint64_t allocs = allocations - allocs_before;
    if (seen != 3 * (uint64_t)n)
        bench_fail("callbacks ran %llu times, expected %llu", (unsigned long long)seen,
                   3 * (unsigned long long)n);
    bench_result_begin("twine", "0.1.0");
    bench_result_num("ns", (double)(t1 - t0) / (double)n);
    bench_result_num("allocs", (double)allocs / (double)n);
    bench_result_end();
    return 0;
}
