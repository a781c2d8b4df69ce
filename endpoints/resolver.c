/* The default resolver (Twisted's GAIResolver): getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM) on
 * one of the reactor's pool threads, the answer delivered as a tw_address_list in getaddrinfo's
 * order (RFC 6724). No AI_ADDRCONFIG: glibc would drop IPv6 on a host whose only IPv6 address is
 * loopback, and loopback is where tests and local services live. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/internal.h"

tw_address_list *tw_address_list_new(size_t count, int *err)
{
    tw_address_list *list = calloc(1, sizeof *list + count * sizeof list->addrs[0]);
    if (!list) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    list->count = count;
    return list;
}

void tw_address_list_free(void *list)
{
    free(list);
}

typedef struct lookup {
    uint16_t port;
    char host[];
} lookup;

static tw_failure *lookup_failure(const char *host, int rc)
{
    return tw_failure_new(TW_DNS_LOOKUP_ERROR, rc == EAI_SYSTEM ? -errno : 0, "%s: %s", host,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
}

static tw_address_list *collect(const struct addrinfo *res)
{
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    tw_address_list *list = tw_address_list_new(n, NULL);
    if (!list)
        return NULL;
    list->count = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (tw_address_from_sockaddr(&list->addrs[list->count], ai->ai_addr, ai->ai_addrlen) == 0)
            list->count++; /* families other than IPv4 and IPv6 are left out */
    return list;
}

/* On a pool thread: touches nothing but its own job. Frees the lookup, which only it uses. */
static int lookup_run(tw_result *out, void *arg)
{
    lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)l->port);
    int rc = getaddrinfo(l->host, service, &hints, &res);
    if (rc != 0) {
        tw_result_set_failure(out, lookup_failure(l->host, rc));
    } else {
        tw_address_list *list = collect(res);
        freeaddrinfo(res);
        if (!list)
            tw_result_set_failure(out, tw_failure_nomem());
        else if (list->count == 0) {
            tw_address_list_free(list);
            tw_result_set_failure(out, tw_failure_new(TW_DNS_LOOKUP_ERROR, 0,
                                                      "no results for hostname lookup: %s",
                                                      l->host));
        } else {
            tw_result_set_value(out, list, tw_address_list_free);
        }
    }
    free(l);
    return 0;
}

static tw_deferred *gai_resolve(tw_resolver *res, tw_reactor *r, const char *host, uint16_t port,
                                int *err)
{
    (void)res;
    size_t n = host ? strlen(host) : 0;
    lookup *l = n ? malloc(sizeof *l + n + 1) : NULL;
    if (!l) {
        if (err)
            *err = n ? -ENOMEM : -EINVAL;
        return NULL;
    }
    l->port = port;
    memcpy(l->host, host, n + 1);
    tw_deferred *d = tw_defer_to_thread(r, lookup_run, l, err);
    if (!d)
        free(l);
    return d;
}

static const tw_resolver_ops gai_ops = {.resolve = gai_resolve};
static tw_resolver gai_resolver = {.ops = &gai_ops};

tw_resolver *tw_default_resolver(void)
{
    return &gai_resolver;
}
