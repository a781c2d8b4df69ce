/* The endpoint interfaces themselves: listen and connect through an endpoint's ops, freeing it, and
 * Twisted's connectProtocol (a one-shot factory that builds exactly the protocol it was given). */
#include <errno.h>
#include <stdlib.h>

#include "endpoints/internal.h"

tw_deferred *tw_server_endpoint_listen(tw_server_endpoint *ep, tw_factory *factory, int *err)
{
    if (!ep || !ep->ops || !ep->ops->listen || !factory) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    return ep->ops->listen(ep, factory, err);
}

void tw_server_endpoint_free(tw_server_endpoint *ep)
{
    if (ep && ep->ops && ep->ops->free)
        ep->ops->free(ep);
}

tw_deferred *tw_client_endpoint_connect(tw_client_endpoint *ep, tw_factory *factory, int *err)
{
    if (!ep || !ep->ops || !ep->ops->connect || !factory) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    return ep->ops->connect(ep, factory, err);
}

void tw_client_endpoint_free(tw_client_endpoint *ep)
{
    if (ep && ep->ops && ep->ops->free)
        ep->ops->free(ep);
}

/* ---- connectProtocol ------------------------------------------------------------------------- */

/* The factory lives as long as something uses it: freed by its own stop_factory. */
typedef struct one_protocol {
    tw_factory factory;
    tw_protocol protocol;
} one_protocol;

static int one_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    one_protocol *o = (one_protocol *)f;
    out->ops = o->protocol.ops;
    out->user = o->protocol.user;
    return 0;
}

static void one_stop(tw_factory *f)
{
    free(f);
}

static const tw_factory_ops one_ops = {.build_protocol = one_build, .stop_factory = one_stop};

tw_deferred *tw_connect_protocol(tw_client_endpoint *ep, const tw_protocol *protocol, int *err)
{
    if (!protocol) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    one_protocol *o = calloc(1, sizeof *o);
    if (!o) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    o->factory.ops = &one_ops;
    o->protocol.ops = protocol->ops;
    o->protocol.user = protocol->user;
    /* Our own use of the factory around the call: whatever the endpoint does with it, the last
     * do_stop (ours, or the connection's) frees it. */
    int rc = tw_factory_do_start(&o->factory);
    if (rc < 0) { /* one_ops has no start_factory: cannot happen, but never ignored */
        free(o);
        if (err)
            *err = rc;
        return NULL;
    }
    tw_deferred *d = tw_client_endpoint_connect(ep, &o->factory, err);
    tw_factory_do_stop(&o->factory);
    return d;
}
