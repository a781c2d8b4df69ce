/* The built-in server endpoints: TCP4, TCP6 and UNIX (stdio is in stdio.c). Each is a parsed
 * description; listen() makes the port and hands it over in an already-fired deferred, or fails it
 * with CannotListenError naming the address and the system's reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/internal.h"
#include "transport/net.h"

typedef struct server_endpoint {
    tw_server_endpoint base;
    tw_server_description d;
} server_endpoint;

/* The address as the description gives it, for messages: "tcp:0.0.0.0:80", "unix:/run/s". */
static void describe(const tw_server_description *d, char *buf, size_t size)
{
    tw_address a = {.port = d->port};
    const char *any = d->type == TW_ENDPOINT_TCP ? "0.0.0.0" : "::";
    a.type = d->type == TW_ENDPOINT_TCP ? TW_ADDRESS_TCP4
             : d->type == TW_ENDPOINT_TCP6 ? TW_ADDRESS_TCP6 : TW_ADDRESS_UNIX;
    snprintf(a.host, sizeof a.host, "%s", d->interface[0] ? d->interface : any);
    snprintf(a.path, sizeof a.path, "%s", d->path);
    if (tw_address_format(&a, buf, size) < 0 && size > 0)
        buf[0] = '\0';
}

tw_port *tw__server_listen(tw_reactor *r, const tw_server_description *d, tw_factory *factory,
                           int *err)
{
    const char *interface = d->interface[0] ? d->interface : NULL;
    switch (d->type) {
    case TW_ENDPOINT_TCP:
        return tw__listen_ip(r, AF_INET, d->port, interface, d->backlog, d->reuse_port, factory,
                             err);
    case TW_ENDPOINT_TCP6:
        return tw__listen_ip(r, AF_INET6, d->port, interface, d->backlog, d->reuse_port, factory,
                             err);
    case TW_ENDPOINT_UNIX:
        return tw_listen_unix_mode(r, d->path, d->mode, d->backlog, factory, err);
    default:
        *err = -EINVAL;
        return NULL;
    }
}

static tw_deferred *server_listen(tw_server_endpoint *base, tw_factory *factory, int *err)
{
    server_endpoint *ep = (server_endpoint *)base;
    int rc = 0;
    tw_port *port = tw__server_listen(base->reactor, &ep->d, factory, &rc);
    if (port) {
        tw_deferred *d = tw_succeed(base->reactor, port, NULL, err);
        if (!d)
            tw_port_free(port);
        return d;
    }
    char where[TW_ADDRESS_HOST_MAX + TW_ADDRESS_PATH_MAX + 16];
    describe(&ep->d, where, sizeof where);
    return tw__failed(base->reactor,
                      tw_failure_new(TW_CANNOT_LISTEN_ERROR, rc, "Couldn't listen on %s: %s", where,
                                     tw_strerror(rc)),
                      err);
}

static void server_free(tw_server_endpoint *base)
{
    free(base);
}

static const tw_server_endpoint_ops server_ops = {.listen = server_listen, .free = server_free};

tw_server_endpoint *tw_server_endpoint_from_description(tw_reactor *r,
                                                        const tw_server_description *d, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r || !d || d->type < TW_ENDPOINT_TCP || d->type > TW_ENDPOINT_STDIO) {
        *err = -EINVAL;
        return NULL;
    }
    if (d->type == TW_ENDPOINT_STDIO)
        return tw_stdio_endpoint_new(r, err);
    server_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) {
        *err = -ENOMEM;
        return NULL;
    }
    ep->base.ops = &server_ops;
    ep->base.reactor = r;
    ep->d = *d;
    return &ep->base;
}

/* The constructors check their arguments the way the string parser does, through a description. */
static tw_server_endpoint *ip_new(tw_reactor *r, tw_endpoint_type type, uint16_t port,
                                  int backlog, const char *interface, int *err)
{
    tw_server_description d = {.type = type, .port = port,
                               .backlog = backlog > 0 ? backlog : TW_PORT_BACKLOG_DEFAULT};
    struct sockaddr_storage ss;
    socklen_t len;
    bool any = !interface || !*interface;
    if (!any && (strlen(interface) >= sizeof d.interface ||
                 tw__sock_parse_ip(type == TW_ENDPOINT_TCP ? AF_INET : AF_INET6, interface, port,
                                   &ss, &len) < 0)) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    if (!any)
        strcpy(d.interface, interface);
    return tw_server_endpoint_from_description(r, &d, err);
}

tw_server_endpoint *tw_tcp4_server_endpoint_new(tw_reactor *r, uint16_t port, int backlog,
                                                const char *interface, int *err)
{
    return ip_new(r, TW_ENDPOINT_TCP, port, backlog, interface, err);
}

tw_server_endpoint *tw_tcp6_server_endpoint_new(tw_reactor *r, uint16_t port, int backlog,
                                                const char *interface, int *err)
{
    return ip_new(r, TW_ENDPOINT_TCP6, port, backlog, interface, err);
}

tw_server_endpoint *tw_unix_server_endpoint_new(tw_reactor *r, const char *path, int backlog,
                                                unsigned mode, int *err)
{
    tw_server_description d = {.type = TW_ENDPOINT_UNIX, .mode = mode,
                               .backlog = backlog > 0 ? backlog : TW_PORT_BACKLOG_DEFAULT};
    int rc = !path || !*path || mode > 07777 ? -EINVAL
             : strlen(path) >= sizeof d.path ? -ENAMETOOLONG : 0;
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    strcpy(d.path, path);
    return tw_server_endpoint_from_description(r, &d, err);
}
