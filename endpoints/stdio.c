/* The stdio endpoint (Twisted's StandardIOEndpoint): listen builds one protocol over stdin and
 * stdout (transport/stdio.c) and fires with NULL, since there is no port. The factory is started
 * at listen and stopped when that one connection ends. */
#include <errno.h>
#include <stdlib.h>

#include "endpoints/internal.h"
#include "transport/net.h"

static tw_deferred *stdio_listen(tw_server_endpoint *ep, tw_factory *factory, int *err)
{
    tw_reactor *r = ep->reactor;
    int rc = tw_factory_do_start(factory);
    if (rc < 0)
        return tw__failed(r, tw_failure_from_errno(rc, "start_factory"), err);
    bool refused = false;
    tw_net *net = tw__net_acquire(r, &rc);
    if (net) {
        rc = tw__stdio_start(net, factory, &refused);
        tw__net_release(net);
    }
    if (rc < 0) {
        tw_factory_do_stop(factory);
        return tw__failed(r, refused ? tw__build_failure(rc)
                                   : tw_failure_new(TW_CANNOT_LISTEN_ERROR, rc,
                                                    "Couldn't listen on stdio: %s",
                                                    tw_strerror(rc)),
                          err);
    }
    return tw_succeed(r, NULL, NULL, err);
}

static void stdio_free(tw_server_endpoint *ep)
{
    free(ep);
}

static const tw_server_endpoint_ops stdio_ops = {.listen = stdio_listen, .free = stdio_free};

tw_server_endpoint *tw_stdio_endpoint_new(tw_reactor *r, int *err)
{
    tw_server_endpoint *ep = r ? calloc(1, sizeof *ep) : NULL;
    if (!ep) {
        if (err)
            *err = r ? -ENOMEM : -EINVAL;
        return NULL;
    }
    ep->ops = &stdio_ops;
    ep->reactor = r;
    return ep;
}
