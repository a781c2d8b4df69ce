/* twine's side of bench/mx: MX_N (1,000) domains looked up through one tw_semaphore of
 * CONCURRENCY tokens and one deferred list, as `twined mx` does. Prints one RESULT line: wall
 * time from the first lookup to the list firing, and peak RSS. Fails unless every lookup
 * returned the server's two records. Usage: mx_twine ADDR:PORT CONCURRENCY */
#include <stdio.h>
#include <stdlib.h>

#include <twine/twine.h>

#include "bench.h"

typedef struct {
    tw_dns_resolver *res;
    char name[32];
} job;

static int lookup(tw_result *out, void *arg)
{
    job *j = arg;
    int err = 0;
    tw_deferred *d = tw_dns_lookup_mail_exchange(j->res, j->name, &err);
    if (!d)
        return err;
    tw_result_set_deferred(out, d);
    return 0;
}

static int64_t end_ns;
static size_t good;

static int all_done(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    const tw_list_result *list = tw_result_value(result);
    end_ns = bench_wall_ns();
    for (size_t i = 0; i < list->count; i++)
        if (list->entries[i].ok && ((tw_dns_mx_list *)list->entries[i].value)->count == 2)
            good++;
    tw_reactor_stop(arg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        bench_fail("usage: mx_twine ADDR:PORT CONCURRENCY");
    size_t n = bench_env_size("MX_N", 1000);
    unsigned concurrency = (unsigned)atoi(argv[2]);
    int err = 0;
    tw_dns_server server;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r || tw_dns_server_parse(argv[1], TW_DNS_PORT, &server) < 0)
        bench_fail("bad server address %s", argv[1]);
    tw_dns_resolver_options o = {.servers = &server, .nservers = 1};
    tw_dns_resolver *res = tw_dns_resolver_new(r, &o, &err);
    tw_semaphore *sem = tw_semaphore_new(r, concurrency, &err);
    job *jobs = calloc(n, sizeof *jobs);
    tw_deferred **ds = calloc(n, sizeof *ds);
    if (!res || !sem || !jobs || !ds)
        bench_fail("setup failed: %s", tw_strerror(err));
    int64_t start = bench_wall_ns();
    for (size_t i = 0; i < n; i++) {
        jobs[i].res = res;
        snprintf(jobs[i].name, sizeof jobs[i].name, "d%zu.example", i);
        ds[i] = tw_semaphore_run(sem, lookup, &jobs[i], &err);
    }
    tw_deferred *list = tw_deferred_list_new(r, ds, n, TW_DL_CONSUME_ERRORS, &err);
    tw_deferred_add_callback(list, all_done, r);
    tw_deferred_unref(list);
    tw_reactor_run(r);
    if (good != n)
        bench_fail("only %zu of %zu lookups returned the server's records", good, n);
    bench_result_begin("twine", "0.1.0");
    bench_result_num("conc", concurrency);
    bench_result_num("wall_ms", (double)(end_ns - start) / 1e6);
    bench_result_num("rss", bench_peak_rss_mb());
    bench_result_end();
    for (size_t i = 0; i < n; i++)
        tw_deferred_unref(ds[i]);
    tw_dns_resolver_free(res);
    tw_semaphore_free(sem);
    tw_reactor_free(r);
    free(ds);
    free(jobs);
    return 0;
}
