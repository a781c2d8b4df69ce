/* LimitTotalConnectionsFactory: a factory wrapper that counts open connections and, over the
 * limit, builds the overflow protocol or refuses. A connection counts from build_protocol until its
 * wrapper is destroyed, so connections that never got connected are not counted forever. */
#include <twine/policies.h>

#include <errno.h>
#include <string.h>

#include "wrapper.h"

static void limit_wrapper_destroy(tw_wrapper *w)
{
    tw_limit_total_connections_factory *lf = w->policy;
    lf->connection_count--;
}

static const tw_wrapper_hooks limit_hooks = {
    .destroy = limit_wrapper_destroy,
};

static int limit_build_protocol(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    tw_limit_total_connections_factory *lf = f->user;
    tw_factory *builder = lf->wrapped;
    if (lf->connection_limit && lf->connection_count >= lf->connection_limit) {
        if (!lf->overflow)
            return -ECONNREFUSED;
        builder = lf->overflow;
    }
    int rc = tw__wrapper_build(builder, peer, out, sizeof(tw_wrapper), &limit_hooks, lf);
    if (rc == 0)
        lf->connection_count++;
    return rc;
}

static int limit_start_factory(tw_factory *f)
{
    tw_limit_total_connections_factory *lf = f->user;
    return tw__wrapper_start_factories(lf->wrapped, lf->overflow);
}

static void limit_stop_factory(tw_factory *f)
{
    tw_limit_total_connections_factory *lf = f->user;
    tw__wrapper_stop_factories(lf->wrapped, lf->overflow);
}

static void limit_connection_failed(tw_factory *f, tw_connector *connector,
                                    const tw_failure *reason)
{
    tw_limit_total_connections_factory *lf = f->user;
    tw__wrapper_forward_connection_failed(lf->wrapped, connector, reason);
}

static const tw_factory_ops limit_factory_ops = {
    .start_factory = limit_start_factory,
    .stop_factory = limit_stop_factory,
    .build_protocol = limit_build_protocol,
    .client_connection_failed = limit_connection_failed,
};

int tw_limit_total_connections_factory_init(tw_limit_total_connections_factory *lf,
                                            tw_factory *wrapped, unsigned connection_limit,
                                            tw_factory *overflow)
{
    if (!lf || !wrapped)
        return -EINVAL;
    memset(lf, 0, sizeof *lf);
    lf->factory.ops = &limit_factory_ops;
    lf->factory.user = lf;
    lf->wrapped = wrapped;
    lf->overflow = overflow;
    lf->connection_limit = connection_limit;
    return 0;
}
