/* A protocol that wraps another (Twisted's ProtocolWrapper): forwards every op to the wrapped
 * protocol and reports connection events to the policy that made it. Two ops tables, because a
 * protocol is half-closeable exactly when it has read_connection_lost. */
#include "wrapper.h"

#include <errno.h>
#include <stdlib.h>

static int wrapper_connection_made(tw_protocol *p)
{
    tw_wrapper *w = p->user;
    w->inner.transport = p->transport;
    if (w->hooks->connection_made) {
        int rc = w->hooks->connection_made(w);
        if (rc < 0)
            return rc;
    }
    return w->inner.ops && w->inner.ops->connection_made ? w->inner.ops->connection_made(&w->inner)
                                                         : 0;
}

static ssize_t wrapper_data_received(tw_protocol *p, const char *data, size_t len)
{
    tw_wrapper *w = p->user;
    if (w->hooks->data_received)
        w->hooks->data_received(w);
    if (!w->inner.ops || !w->inner.ops->data_received)
        return (ssize_t)len;
    return w->inner.ops->data_received(&w->inner, data, len);
}

static int wrapper_read_connection_lost(tw_protocol *p)
{
    tw_wrapper *w = p->user;
    return w->inner.ops->read_connection_lost(&w->inner);
}

static int wrapper_write_connection_lost(tw_protocol *p)
{
    tw_wrapper *w = p->user;
    if (!w->inner.ops || !w->inner.ops->write_connection_lost)
        return 0;
    return w->inner.ops->write_connection_lost(&w->inner);
}

static void wrapper_connection_lost(tw_protocol *p, const tw_failure *reason)
{
    tw_wrapper *w = p->user;
    if (w->hooks->connection_lost)
        w->hooks->connection_lost(w);
    if (w->inner.ops && w->inner.ops->connection_lost)
        w->inner.ops->connection_lost(&w->inner, reason);
}

static void wrapper_destroy(tw_protocol *p)
{
    tw_wrapper *w = p->user;
    if (w->inner.ops && w->inner.ops->destroy)
        w->inner.ops->destroy(&w->inner);
    if (w->hooks->destroy)
        w->hooks->destroy(w);
    free(w);
}

static const tw_protocol_ops wrapper_ops = {
    .connection_made = wrapper_connection_made,
    .data_received = wrapper_data_received,
    .write_connection_lost = wrapper_write_connection_lost,
    .connection_lost = wrapper_connection_lost,
    .destroy = wrapper_destroy,
};

static const tw_protocol_ops wrapper_half_close_ops = {
    .connection_made = wrapper_connection_made,
    .data_received = wrapper_data_received,
    .read_connection_lost = wrapper_read_connection_lost,
    .write_connection_lost = wrapper_write_connection_lost,
    .connection_lost = wrapper_connection_lost,
    .destroy = wrapper_destroy,
};

int tw__wrapper_build(tw_factory *inner_factory, const tw_address *peer, tw_protocol *out,
                     size_t size, const tw_wrapper_hooks *hooks, void *policy)
{
    if (!inner_factory->ops || !inner_factory->ops->build_protocol)
        return -ECONNREFUSED; /* a factory without build_protocol refuses everything */
    tw_wrapper *w = calloc(1, size);
    if (!w)
        return -ENOMEM;
    w->inner.factory = inner_factory;
    int rc = inner_factory->ops->build_protocol(inner_factory, peer, &w->inner);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->inner.factory = inner_factory;
    w->hooks = hooks;
    w->policy = policy;
    bool half_close = w->inner.ops && w->inner.ops->read_connection_lost;
    out->ops = half_close ? &wrapper_half_close_ops : &wrapper_ops;
    out->user = w;
    return 0;
}

tw_wrapper *tw__wrapper_of(tw_protocol *inner, const tw_wrapper_hooks *hooks)
{
    if (!inner || !inner->transport)
        return NULL;
    tw_protocol *outer = tw_transport_protocol(inner->transport);
    if (!outer || (outer->ops != &wrapper_ops && outer->ops != &wrapper_half_close_ops))
        return NULL;
    tw_wrapper *w = outer->user;
    return &w->inner == inner && w->hooks == hooks ? w : NULL;
}

int tw__wrapper_start_factories(tw_factory *first, tw_factory *second)
{
    int rc = tw_factory_do_start(first);
    if (rc < 0 || !second)
        return rc;
    rc = tw_factory_do_start(second);
    if (rc < 0)
        tw_factory_do_stop(first);
    return rc;
}

void tw__wrapper_stop_factories(tw_factory *first, tw_factory *second)
{
    if (second)
        tw_factory_do_stop(second);
    tw_factory_do_stop(first);
}

void tw__wrapper_forward_connection_failed(tw_factory *wrapped, tw_connector *connector,
                                          const tw_failure *reason)
{
    if (wrapped->ops && wrapped->ops->client_connection_failed)
        wrapped->ops->client_connection_failed(wrapped, connector, reason);
}
