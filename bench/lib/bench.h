/* Shared helpers for twine's benchmark programs: the CPU clock every benchmark reports in, one seeded
 * PRNG so that twine and its peers get exactly the same workload, and the RESULT line format that
 * bench/lib/table.awk turns into a table of medians and ratios. Header-only: include and go. */
#ifndef TWINE_BENCH_H
#define TWINE_BENCH_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* CPU time this process has used, in nanoseconds: user + system, all threads. Sleeping in
 * epoll_wait costs nothing here, which is the point: we measure work, not waiting. */
static inline int64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall-clock monotonic nanoseconds, for benchmarks that report rates or latencies. */
static inline int64_t bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: tiny, fast, and good enough for workloads; the same seed gives every library the same
 * sequence. BENCH_SEED in the environment overrides the default seed. */
typedef struct {
    uint64_t state;
} bench_rng;

#define BENCH_DEFAULT_SEED 20261122u

static inline void bench_rng_seed(bench_rng *rng)
{
    const char *env = getenv("BENCH_SEED");
    rng->state = env ? strtoull(env, NULL, 0) : BENCH_DEFAULT_SEED;
}

static inline uint64_t bench_rng_next(bench_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; the modulo bias is below 1e-15 for the small ranges benchmarks use. */
static inline uint32_t bench_rng_range(bench_rng *rng, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(bench_rng_next(rng) % ((uint64_t)hi - lo + 1));
}

/* A size from the environment (e.g. TIMERS_N=1000 for a quick try), or the default. */
static inline size_t bench_env_size(const char *name, size_t fallback)
{
    const char *env = getenv(name);
    if (env == NULL || *env == '\0')
        return fallback;
    char *end;
    unsigned long long v = strtoull(env, &end, 0);
    return (*end == '\0' && v > 0) ? (size_t)v : fallback;
}

/* Peak resident set size of this process in MiB. */
static inline double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* One measurement as a line "RESULT lib=<name> ver=<version> key=value ...": table.awk reads these.
 * Call bench_result_begin, then bench_result_num/str for each field, then bench_result_end.
 * Names and values must not contain spaces. */
static inline void bench_result_begin(const char *lib, const char *version)
{
    printf("RESULT lib=%s ver=%s", lib, version);
}

static inline void bench_result_num(const char *key, double value)
{
    printf(" %s=%.2f", key, value);
}

static inline void bench_result_str(const char *key, const char *value)
{
    printf(" %s=%s", key, value);
}

static inline void bench_result_end(void)
{
    printf("\n");
    fflush(stdout);
}

/* For a benchmark that finds its peer misbehaving: says why on stderr, exits non-zero. */
static inline _Noreturn void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

#endif
