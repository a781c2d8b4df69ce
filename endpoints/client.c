/* The built-in client endpoints: TCP4 and TCP6 (one numeric address), UNIX (one path) and the
 * hostname endpoint (a name resolved, or a numeric address, raced with Happy Eyeballs). All are one
 * description struct that connect() turns into a run of the connect engine (connect.c). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/internal.h"
#include "transport/net.h"

/* The spec's pointers point into the endpoint itself (name, host, address, bind): it stays put. */
typedef struct client_endpoint {
    tw_client_endpoint base;
    tw__connect_spec spec;
    char name[TW_HOSTNAME_MAX + 16]; /* "example.com port 80" or the UNIX path */
    char host[TW_HOSTNAME_MAX + 1];  /* the hostname endpoint's host; "" for the others */
    tw_address address;              /* the address, when it is given */
    struct sockaddr_storage bind;
} client_endpoint;

static tw_deferred *client_connect(tw_client_endpoint *base, tw_factory *factory, int *err)
{
    client_endpoint *ep = (client_endpoint *)base;
    tw__connect_spec spec = ep->spec;
    spec.r = base->reactor;
    spec.name = ep->name;
    spec.host = ep->host[0] ? ep->host : NULL;
    spec.addresses = spec.resolve ? NULL : &ep->address;
    spec.count = spec.resolve ? 0 : 1;
    spec.bind = spec.bind_len ? (const struct sockaddr *)&ep->bind : NULL;
    return tw__connect_start(&spec, factory, err);
}

static void client_free(tw_client_endpoint *base)
{
    free(base);
}

static const tw_client_endpoint_ops client_ops = {.connect = client_connect, .free = client_free};

int tw__client_endpoint_set_opener(tw_client_endpoint *base, tw__opener_fn fn, void *ctx)
{
    if (!base || base->ops != &client_ops)
        return -EINVAL;
    client_endpoint *ep = (client_endpoint *)base;
    ep->spec.opener = fn;
    ep->spec.opener_ctx = ctx;
    return 0;
}

/* ---- arguments ------------------------------------------------------------------------------- */

/* 0 means the default, negative none; NaN is refused. */
static int pick_timeout(double timeout, double *out)
{
    if (isnan(timeout))
        return -EINVAL;
    *out = timeout == 0 ? TW_CONNECT_ENDPOINT_TIMEOUT_DEFAULT : timeout < 0 ? -1 : timeout;
    return 0;
}

static int pick_delay(double delay, double *out)
{
    if (isnan(delay) || delay < 0)
        return -EINVAL;
    if (delay == 0)
        delay = TW_HAPPY_EYEBALLS_DELAY_DEFAULT;
    *out = fmin(fmax(delay, TW_HAPPY_EYEBALLS_DELAY_MIN), TW_HAPPY_EYEBALLS_DELAY_MAX);
    return 0;
}

/* A numeric address of the family (AF_UNSPEC: either) into a tw_address; -EINVAL otherwise. */
static int numeric_address(int family, const char *host, uint16_t port, tw_address *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = tw__sock_parse_ip(family, host, port, &ss, &len);
    if (rc == 0)
        rc = tw_address_from_sockaddr(out, (struct sockaddr *)&ss, len);
    return rc;
}

static int set_bind(client_endpoint *ep, int family, const char *addr)
{
    if (!addr || !*addr)
        return 0;
    return tw__sock_parse_ip(family, addr, 0, &ep->bind, &ep->spec.bind_len);
}

static client_endpoint *endpoint_new(tw_reactor *r, double timeout, int *err)
{
    client_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) {
        *err = -ENOMEM;
        return NULL;
    }
    ep->base.ops = &client_ops;
    ep->base.reactor = r;
    ep->spec.attempt_delay = TW_HAPPY_EYEBALLS_DELAY_DEFAULT;
    ep->spec.resolver = tw_default_resolver();
    int rc = pick_timeout(timeout, &ep->spec.timeout);
    if (rc < 0) {
        free(ep);
        *err = rc;
        return NULL;
    }
    return ep;
}

static tw_client_endpoint *finish_new(client_endpoint *ep, int rc, int *err)
{
    if (rc == 0)
        return &ep->base;
    free(ep);
    if (err)
        *err = rc;
    return NULL;
}

/* ---- TCP4, TCP6, UNIX ------------------------------------------------------------------------ */

static tw_client_endpoint *tcp_new(tw_reactor *r, int family, const char *host, uint16_t port,
                                   double timeout, const char *bind_to, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r || !host) {
        *err = -EINVAL;
        return NULL;
    }
    client_endpoint *ep = endpoint_new(r, timeout, err);
    if (!ep)
        return NULL;
    int rc = numeric_address(family, host, port, &ep->address);
    if (rc == 0)
        rc = set_bind(ep, family, bind_to);
    ep->spec.port = port;
    ep->spec.family = family;
    snprintf(ep->name, sizeof ep->name, "%s port %u", ep->address.host, (unsigned)port);
    return finish_new(ep, rc, err);
}

tw_client_endpoint *tw_tcp4_client_endpoint_new(tw_reactor *r, const char *host, uint16_t port,
                                                double timeout, const char *bind_to,
                                                int *err)
{
    return tcp_new(r, AF_INET, host, port, timeout, bind_to, err);
}

tw_client_endpoint *tw_tcp6_client_endpoint_new(tw_reactor *r, const char *host, uint16_t port,
                                                double timeout, const char *bind_to,
                                                int *err)
{
    return tcp_new(r, AF_INET6, host, port, timeout, bind_to, err);
}

tw_client_endpoint *tw_unix_client_endpoint_new(tw_reactor *r, const char *path, double timeout,
                                                int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r || !path || !*path) {
        *err = -EINVAL;
        return NULL;
    }
    if (strlen(path) >= sizeof ((tw_address *)0)->path) {
        *err = -ENAMETOOLONG;
        return NULL;
    }
    client_endpoint *ep = endpoint_new(r, timeout, err);
    if (!ep)
        return NULL;
    ep->address.type = TW_ADDRESS_UNIX;
    strcpy(ep->address.path, path);
    strcpy(ep->name, path);
    return &ep->base;
}

/* ---- the hostname endpoint ------------------------------------------------------------------- */

/* Printable, without spaces, not too long; "[...]" around an IPv6 address is taken off. */
static int copy_host(const char *host, char *out)
{
    size_t n = host ? strlen(host) : 0;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n > TW_HOSTNAME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)host[i]))
            return -EINVAL;
    memcpy(out, host, n);
    out[n] = '\0';
    return 0;
}

static int apply_options(client_endpoint *ep, const tw_hostname_options *o)
{
    static const tw_hostname_options defaults;
    if (!o)
        o = &defaults;
    if (o->family != AF_UNSPEC && o->family != AF_INET && o->family != AF_INET6)
        return -EINVAL;
    int rc = pick_timeout(o->timeout, &ep->spec.timeout);
    if (rc == 0)
        rc = pick_delay(o->attempt_delay, &ep->spec.attempt_delay);
    if (rc == 0)
        rc = set_bind(ep, o->family, o->bind_address);
    ep->spec.family = o->family;
    if (o->resolver)
        ep->spec.resolver = o->resolver;
    ep->spec.on_attempt = o->on_attempt;
    ep->spec.on_attempt_ctx = o->on_attempt_ctx;
    return rc;
}

tw_client_endpoint *tw_hostname_endpoint_new(tw_reactor *r, const char *host, uint16_t port,
                                             const tw_hostname_options *options, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r) {
        *err = -EINVAL;
        return NULL;
    }
    client_endpoint *ep = endpoint_new(r, 0, err);
    if (!ep)
        return NULL;
    int rc = copy_host(host, ep->host);
    if (rc == 0)
        rc = apply_options(ep, options);
    ep->spec.port = port;
    snprintf(ep->name, sizeof ep->name, "%s port %u", ep->host, (unsigned)port);
    /* A numeric address needs no resolver and no thread. */
    ep->spec.resolve = rc == 0 && numeric_address(AF_UNSPEC, ep->host, port, &ep->address) < 0;
    return finish_new(ep, rc, err);
}

tw_client_endpoint *tw_client_endpoint_from_description(tw_reactor *r,
                                                        const tw_client_description *d, int *err)
{
    if (!d) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    if (d->type == TW_ENDPOINT_UNIX)
        return tw_unix_client_endpoint_new(r, d->path, d->timeout, err);
    if (d->type != TW_ENDPOINT_TCP && d->type != TW_ENDPOINT_TCP6) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_hostname_options o = {
        .timeout = d->timeout,
        .bind_address = d->bind_address[0] ? d->bind_address : NULL,
        .family = d->type == TW_ENDPOINT_TCP6 ? AF_INET6 : AF_UNSPEC,
    };
    return tw_hostname_endpoint_new(r, d->host, d->port, &o, err);
}
