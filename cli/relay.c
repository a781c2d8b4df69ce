/* The relay between two connections (see relay.h): the protocol both sides run, the linking of the
 * two transports as each other's producers once both are connected, half-close passed on, and the
 * end of one side closing the other after what it still has to write. */
#include <stdio.h>
#include <string.h>

#include "cli/relay.h"

void twined_relay_hold(twined_relay *relay)
{
    relay->holds++;
}

void twined_relay_release(twined_relay *relay)
{
    if (--relay->holds == 0 && relay->on_end)
        relay->on_end(relay);
}

/* ---- linking --------------------------------------------------------------------------------- */

/* Each transport becomes the streaming producer of the other: when one's write buffer passes its
 * high-water mark, the other stops reading until it drains (the back-pressure of portforward). */
static void link_sides(twined_relay *relay)
{
    tw_producer a_reads = tw_transport_as_producer(relay->a.t);
    tw_producer b_reads = tw_transport_as_producer(relay->b.t);
    tw_transport_register_producer(relay->b.t, &a_reads, true);
    tw_transport_register_producer(relay->a.t, &b_reads, true);
    tw_transport_resume_producing(relay->a.t);
    tw_transport_resume_producing(relay->b.t);
}

/* Ends a side: nothing more is produced for it, and it closes once its buffer is written. */
static void end_side(twined_side *s)
{
    if (!s->t)
        return;
    tw_transport_unregister_producer(s->t);
    tw_transport_lose_connection(s->t);
}

/* ---- the protocol ---------------------------------------------------------------------------- */

static int relay_made(tw_protocol *p)
{
    twined_side *s = p->user;
    s->t = p->transport;
    s->made = true;
    if (s->peer->t)
        link_sides(s->relay);
    else if (s->peer->lost)
        tw_transport_lose_connection(s->t); /* the other side is gone already */
    /* Else it keeps reading while the other side connects, so that an EOF from it (it left
     * without a word) is seen and ends the connect; its first bytes stop it (relay_data). */
    return 0;
}

static ssize_t relay_data(tw_protocol *p, const char *data, size_t len)
{
    twined_side *s = p->user;
    if (!s->peer->t && !s->peer->lost) {
        /* Nowhere to write yet: the transport holds the bytes and presents them again when the
         * two are linked and it resumes. */
        tw_transport_pause_producing(p->transport);
        return 0;
    }
    if (s->peer->t)
        tw_transport_write(s->peer->t, data, len); /* dropped if its write side is shut */
    return (ssize_t)len;
}

static int relay_read_lost(tw_protocol *p)
{
    twined_side *s = p->user;
    s->read_done = true;
    if (!s->peer->t) { /* the other side is not there (yet, or any more): nothing to pass on */
        end_side(s);
        return 0;
    }
    /* Nothing more will come for the peer: it stops waiting for us, then sees EOF. */
    tw_transport_unregister_producer(s->peer->t);
    tw_transport_lose_write_connection(s->peer->t);
    return 0;
}

static int relay_write_lost(tw_protocol *p)
{
    twined_side *s = p->user;
    twined_relay *relay = s->relay;
    s->write_done = true;
    if (s == &relay->a && relay->end_when_b_is_written) {
        end_side(&relay->a);
        end_side(&relay->b);
    } else if (s->read_done) {
        end_side(s); /* both directions are done */
    }
    return 0;
}

static void relay_lost(tw_protocol *p, const tw_failure *reason)
{
    twined_side *s = p->user;
    s->t = NULL;
    s->lost = true;
    snprintf(s->lost_type, sizeof s->lost_type, "%s", tw_failure_type(reason));
    snprintf(s->lost_message, sizeof s->lost_message, "%s", tw_failure_message(reason));
    s->lost_code = tw_failure_code(reason);
    twined_relay *relay = s->relay;
    if (relay->connecting && s == &relay->a)
        tw_deferred_cancel(relay->connecting); /* the client left before its backend answered */
    end_side(s->peer);
}

static void relay_destroy(tw_protocol *p)
{
    twined_side *s = p->user;
    twined_relay_release(s->relay);
}

static const tw_protocol_ops relay_ops = {
    .connection_made = relay_made,
    .data_received = relay_data,
    .read_connection_lost = relay_read_lost,
    .write_connection_lost = relay_write_lost,
    .connection_lost = relay_lost,
    .destroy = relay_destroy,
};

static int build_side(twined_side *s, tw_protocol *out)
{
    out->ops = &relay_ops;
    out->user = s;
    twined_relay_hold(s->relay); /* released by destroy */
    return 0;
}

static int build_a(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    return build_side(&((twined_relay *)f->user)->a, out);
}

static int build_b(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    return build_side(&((twined_relay *)f->user)->b, out);
}

/* A transport uses its factory until after destroy (it stops the factory last): the relay, which
 * holds the factories, lives while either is in use. */
static int factory_started(tw_factory *f)
{
    twined_relay_hold(f->user);
    return 0;
}

static void factory_stopped(tw_factory *f)
{
    twined_relay_release(f->user);
}

static const tw_factory_ops factory_a_ops = {.start_factory = factory_started,
                                             .stop_factory = factory_stopped,
                                             .build_protocol = build_a};
static const tw_factory_ops factory_b_ops = {.start_factory = factory_started,
                                             .stop_factory = factory_stopped,
                                             .build_protocol = build_b};

void twined_relay_init(twined_relay *relay, void (*on_end)(twined_relay *relay), void *user)
{
    memset(relay, 0, sizeof *relay);
    relay->a.relay = relay->b.relay = relay;
    relay->a.peer = &relay->b;
    relay->b.peer = &relay->a;
    relay->factory_a = (tw_factory){.ops = &factory_a_ops, .user = relay};
    relay->factory_b = (tw_factory){.ops = &factory_b_ops, .user = relay};
    relay->on_end = on_end;
    relay->user = user;
}

/* ---- connecting side b ----------------------------------------------------------------------- */

static int b_connected(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    twined_relay *relay = arg;
    if (tw_result_is_failure(result)) {
        tw_failure *f = tw_result_take_failure(result);
        if (!tw_failure_check(f, TW_CONNECTING_CANCELLED_ERROR))
            snprintf(relay->b.lost_message, sizeof relay->b.lost_message, "%s",
                     tw_failure_message(f));
        snprintf(relay->b.lost_type, sizeof relay->b.lost_type, "%s", tw_failure_type(f));
        relay->b.lost_code = tw_failure_code(f);
        relay->b.lost = true;
        tw_failure_unref(f);
        end_side(&relay->a); /* a refusing or unreachable backend closes only this client */
    } else if (relay->on_b_connected) {
        relay->on_b_connected(relay);
    }
    tw_deferred_unref(relay->connecting);
    relay->connecting = NULL;
    twined_relay_release(relay);
    return 0;
}

int twined_relay_connect_b(twined_relay *relay, tw_client_endpoint *ep)
{
    int err = 0;
    tw_deferred *d = tw_client_endpoint_connect(ep, &relay->factory_b, &err);
    if (d) {
        relay->connecting = d;
        twined_relay_hold(relay);
        err = tw_deferred_add_both(d, b_connected, relay);
        if (err == 0)
            return 0;
        relay->connecting = NULL;
        twined_relay_release(relay);
        tw_deferred_cancel(d);
        tw_deferred_unref(d);
    }
    relay->b.lost = true;
    end_side(&relay->a);
    return err;
}
