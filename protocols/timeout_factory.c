/* TimeoutFactory: wraps a factory so that every connection it builds is closed after a period
 * without input. The countdown lives in the connection's wrapper and stops when it is lost. */
#include <twine/policies.h>
#include <twine/transport.h>

#include <errno.h>
#include <string.h>

#include "wrapper.h"

typedef struct {
    tw_wrapper base;
    tw_timeout_mixin timeout;
} timeout_wrapper;

static int timeout_wrapper_made(tw_wrapper *w)
{
    timeout_wrapper *tw = (timeout_wrapper *)w;
    tw_timeout_factory *tf = w->policy;
    tw_reactor *r = tw_transport_reactor(w->inner.transport);
    tw_timeout_mixin_init(&tw->timeout, r, &w->inner, NULL, NULL);
    return tw_timeout_mixin_set_timeout(&tw->timeout, tf->timeout_period, NULL);
}

static void timeout_wrapper_activity(tw_wrapper *w)
{
    tw_timeout_mixin_reset_timeout(&((timeout_wrapper *)w)->timeout);
}

static void timeout_wrapper_lost(tw_wrapper *w)
{
    tw_timeout_mixin_cancel(&((timeout_wrapper *)w)->timeout);
}

static const tw_wrapper_hooks timeout_hooks = {
    .connection_made = timeout_wrapper_made,
    .data_received = timeout_wrapper_activity,
    .connection_lost = timeout_wrapper_lost,
    .destroy = timeout_wrapper_lost,
};

static int timeout_build_protocol(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    tw_timeout_factory *tf = f->user;
    return tw__wrapper_build(tf->wrapped, peer, out, sizeof(timeout_wrapper), &timeout_hooks, tf);
}

static int timeout_start_factory(tw_factory *f)
{
    tw_timeout_factory *tf = f->user;
    return tw__wrapper_start_factories(tf->wrapped, NULL);
}

static void timeout_stop_factory(tw_factory *f)
{
    tw_timeout_factory *tf = f->user;
    tw__wrapper_stop_factories(tf->wrapped, NULL);
}

static void timeout_connection_failed(tw_factory *f, tw_connector *connector,
                                      const tw_failure *reason)
{
    tw_timeout_factory *tf = f->user;
    tw__wrapper_forward_connection_failed(tf->wrapped, connector, reason);
}

static const tw_factory_ops timeout_factory_ops = {
    .start_factory = timeout_start_factory,
    .stop_factory = timeout_stop_factory,
    .build_protocol = timeout_build_protocol,
    .client_connection_failed = timeout_connection_failed,
};

int tw_timeout_factory_init(tw_timeout_factory *tf, tw_factory *wrapped, double timeout_period)
{
    if (!tf || !wrapped)
        return -EINVAL;
    memset(tf, 0, sizeof *tf);
    tf->factory.ops = &timeout_factory_ops;
    tf->factory.user = tf;
    tf->wrapped = wrapped;
    tf->timeout_period = timeout_period > 0 ? timeout_period : TW_TIMEOUT_FACTORY_PERIOD_DEFAULT;
    return 0;
}

int tw_timeout_factory_reset_timeout(tw_protocol *p)
{
    tw_wrapper *w = tw__wrapper_of(p, &timeout_hooks);
    if (!w)
        return -EINVAL;
    tw_timeout_mixin_reset_timeout(&((timeout_wrapper *)w)->timeout);
    return 0;
}
