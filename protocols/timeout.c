/* TimeoutMixin: an idle countdown a protocol embeds. The pending call is forgotten the moment it
 * fires or is cancelled, so the mixin never holds a dangling handle and needs no reference. */
#include <twine/policies.h>
#include <twine/transport.h>

#include <errno.h>
#include <string.h>

void tw_timeout_mixin_init(tw_timeout_mixin *tm, tw_reactor *r, tw_protocol *protocol,
                           int (*timeout_connection)(tw_timeout_mixin *tm), void *user)
{
    memset(tm, 0, sizeof *tm);
    tm->reactor = r;
    tm->protocol = protocol;
    tm->timeout_connection = timeout_connection;
    tm->user = user;
}

static int timeout_fired(void *arg)
{
    tw_timeout_mixin *tm = arg;
    tm->call = NULL;
    if (tm->timeout_connection)
        return tm->timeout_connection(tm);
    if (tm->protocol && tm->protocol->transport)
        tw_transport_lose_connection(tm->protocol->transport);
    return 0;
}

static void timeout_stop(tw_timeout_mixin *tm)
{
    if (tm->call) {
        tw_delayed_call_cancel(tm->call);
        tm->call = NULL;
    }
}

int tw_timeout_mixin_set_timeout(tw_timeout_mixin *tm, double period, double *previous)
{
    double old = tm->period;
    if (period <= 0) {
        timeout_stop(tm);
        period = 0;
    } else if (tm->call) {
        tw_delayed_call_reset(tm->call, period);
    } else {
        tm->call = tw_call_later(tm->reactor, period, timeout_fired, tm, NULL);
        if (!tm->call)
            return -ENOMEM;
    }
    tm->period = period;
    if (previous)
        *previous = old;
    return 0;
}

void tw_timeout_mixin_reset_timeout(tw_timeout_mixin *tm)
{
    if (tm->call && tm->period > 0)
        tw_delayed_call_reset(tm->call, tm->period);
}

void tw_timeout_mixin_cancel(tw_timeout_mixin *tm)
{
    timeout_stop(tm);
    tm->period = 0;
}
