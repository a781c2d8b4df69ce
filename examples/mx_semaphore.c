/* Twisted's classic example in C: the mail exchangers of many domains, at most N looked up at once.
 * One semaphore bounds the lookups in flight, one deferred list waits for them all, and the results
 * are printed in the order the domains were given:  ./mx_semaphore 192.0.2.53 2 a.test b.test */
#include <stdio.h>
#include <stdlib.h>
#include <twine/twine.h>

typedef struct {
    tw_dns_resolver *resolver;
    const char *domain;
} lookup;

/* The semaphore's work: start one lookup. Its deferred becomes the work's result, so the semaphore
 * keeps the token until the answer (or the failure) is in. */
static int look_up(tw_result *out, void *arg)
{
    lookup *l = arg;
    int err = 0;
    tw_deferred *d = tw_dns_lookup_mail_exchange(l->resolver, l->domain, &err);
    if (!d)
        return err; /* the semaphore's deferred fails with this; the token is released */
    tw_result_set_deferred(out, d);
    return 0;
}

/* The list fired: one entry per lookup, in the order they were started, success or failure. */
static int print_all(tw_deferred *d, tw_result *result, void *arg)
{
    const tw_list_result *list = tw_result_value(result);
    const lookup *lookups = arg;
    char why[300];
    for (size_t i = 0; i < list->count; i++) {
        const tw_list_entry *e = &list->entries[i];
        const tw_dns_mx_list *mx = e->ok ? e->value : NULL;
        if (!mx) /* "DNSNameError: nope.test: no such domain (NXDOMAIN)", say */
            printf("%s error: %s\n", lookups[i].domain,
                   tw_failure_describe(e->failure, why, sizeof why));
        else if (mx->count == 0)
            printf("%s: no MX records\n", lookups[i].domain);
        for (size_t j = 0; mx && j < mx->count; j++)
            printf("%s %u %s\n", lookups[i].domain, mx->items[j].preference, mx->items[j].exchange);
    }
    if (tw_reactor_running(tw_deferred_reactor(d))) /* not after Ctrl-C: it has stopped already */
        tw_reactor_stop(tw_deferred_reactor(d));
    return 0;
}

int main(int argc, char **argv)
{
    tw_dns_server server;
    int concurrency = argc > 3 ? atoi(argv[2]) : 0;
    if (concurrency < 1 || tw_dns_server_parse(argv[1], TW_DNS_PORT, &server) < 0) {
        fprintf(stderr, "usage: mx_semaphore SERVER[:PORT] CONCURRENCY DOMAIN...\n");
        return 2;
    }
    size_t n = (size_t)argc - 3;
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    if (r) /* before the first query goes out: from then on Ctrl-C is an orderly stop */
        err = tw_reactor_install_signal_handlers(r);
    tw_dns_resolver_options options = {.servers = &server, .nservers = 1};
    tw_dns_resolver *resolver = r && !err ? tw_dns_resolver_new(r, &options, &err) : NULL;
    tw_semaphore *sem = resolver ? tw_semaphore_new(r, concurrency, &err) : NULL;
    lookup *lookups = calloc(n, sizeof *lookups);
    tw_deferred **ds = calloc(n, sizeof *ds), *all = NULL;
    for (size_t i = 0; sem && lookups && ds && i < n; i++) {
        lookups[i] = (lookup){resolver, argv[3 + i]};
        ds[i] = tw_semaphore_run(sem, look_up, &lookups[i], &err); /* N at once, the rest wait */
    }
    if (sem && lookups && ds && !err)
        all = tw_deferred_list_new(r, ds, n, TW_DL_CONSUME_ERRORS, &err);
    if (!all || tw_deferred_add_callback(all, print_all, lookups) < 0) {
        fprintf(stderr, "mx_semaphore: %s\n", tw_strerror(err ? err : -ENOMEM));
        return 1;
    }
    tw_reactor_run(r);
    /* After Ctrl-C: every lookup still running or waiting is cancelled, last first, so a waiting
     * one is gone before an earlier one's cancellation would hand it its token and start it. */
    for (size_t i = n; i-- > 0;)
        tw_deferred_cancel(ds[i]);
    tw_deferred_cancel(all);
    tw_deferred_unref(all);
    for (size_t i = 0; i < n; i++)
        tw_deferred_unref(ds[i]);
    tw_semaphore_free(sem);
    tw_dns_resolver_free(resolver);
    tw_reactor_free(r);
    free(ds);
    free(lookups);
    return 0;
}
