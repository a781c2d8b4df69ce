/* tw_string_transport (testing.h), the test's side of the in-memory transport: building a
 * protocol on one, feeding it what a peer would send (bytes, an EOF, an error), and reading what
 * the protocol wrote and asked for. The code under test's side is memory.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/memory.h"

static void set_address(tw_address *a, const char *host, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->type = TW_ADDRESS_TCP4;
    a->port = port;
    strcpy(a->host, host);
}

/* Twisted's StringTransport answers with these when it was given no addresses. */
static void default_addresses(tw_string_transport *st, const tw_string_transport_options *o)
{
    if (o && o->host)
        st->host = *o->host;
    else
        set_address(&st->host, TW_STRING_TRANSPORT_HOST, TW_STRING_TRANSPORT_HOST_PORT);
    if (o && o->peer)
        st->peer = *o->peer;
    else
        set_address(&st->peer, TW_STRING_TRANSPORT_PEER, TW_STRING_TRANSPORT_PEER_PORT);
    if (st->host.type != TW_ADDRESS_UNIX)
        st->state |= TW_STRING_TCP_NODELAY; /* as a TCP socket transport starts */
}

static void on_shutdown(tw_net_closer *closer)
{
    tw_string_transport *st = tw__container_of(closer, tw_string_transport, closer);
    tw__memory_close_now(st, TW_CLOSE_LOST, 0, "reactor shutdown");
}

/* Connects the built protocol: counted as open, closed by the reactor's shutdown, then
 * connection_made, as a socket transport starts. */
static void start(tw_string_transport *st)
{
    tw_transport *t = &st->t;
    t->net->nmemory++;
    tw__net_register(t->net, &st->closer, on_shutdown);
    t->flags |= TW_T_CONNECTED;
    tw__memory_dispatch_begin(st);
    tw_protocol *p = &t->proto;
    if (p->ops && p->ops->connection_made) {
        int rc = p->ops->connection_made(p);
        if (rc < 0 && !(t->flags & TW_T_CLOSED)) {
            tw_reactor_log(st->r, TW_LOG_ERROR,
                           "connection_made failed: %s; closing the connection", tw_strerror(rc));
            tw__memory_request_close(st, TW_CLOSE_ERROR, rc, "connection_made");
        }
    }
    tw__memory_dispatch_end(st);
}

tw_string_transport *tw_string_transport_new(tw_reactor *r, tw_factory *factory,
                                             const tw_string_transport_options *options, int *err)
{
    int dummy, rc = -EINVAL;
    err = err ? err : &dummy;
    tw_string_transport *st = r && factory ? calloc(1, sizeof *st) : NULL;
    if (!st) {
        *err = r && factory ? -ENOMEM : -EINVAL;
        return NULL;
    }
    st->r = r;
    st->t.fd = -1;
    st->t.flags = TW_T_MEMORY;
    default_addresses(st, options);
    st->t.net = tw__net_acquire(r, err);
    if (!st->t.net) {
        free(st);
        return NULL;
    }
    tw_protocol *p = &st->t.proto;
    p->factory = factory;
    rc = factory->ops && factory->ops->build_protocol
             ? factory->ops->build_protocol(factory, &st->peer, p)
             : -ECONNREFUSED;
    p->transport = &st->t;
    p->factory = factory;
    if (rc < 0) {
        tw__net_release(st->t.net);
        free(st);
        *err = rc;
        return NULL;
    }
    start(st);
    return st;
}

/* The factory behind tw_string_transport_new_protocol: builds a copy of one protocol. */
static int copy_protocol(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    const tw_protocol *template = f->user;
    out->ops = template->ops;
    out->user = template->user;
    return 0;
}

static const tw_factory_ops copy_factory_ops = {.build_protocol = copy_protocol};

tw_string_transport *tw_string_transport_new_protocol(tw_reactor *r, const tw_protocol *protocol,
                                                      const tw_string_transport_options *options,
                                                      int *err)
{
    if (!protocol) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_factory f = {.ops = &copy_factory_ops, .user = (void *)protocol};
    tw_string_transport *st = tw_string_transport_new(r, &f, options, err);
    if (st)
        st->t.proto.factory = NULL; /* f is gone when this returns */
    return st;
}

void tw_string_transport_free(tw_string_transport *st)
{
    if (!st)
        return;
    tw__memory_close_now(st, TW_CLOSE_LOST, 0, "string transport freed");
    if (st->reason)
        tw_failure_unref(st->reason);
    free(st->out);
    free(st);
}

tw_transport *tw_string_transport_transport(tw_string_transport *st)
{
    return st ? &st->t : NULL;
}

tw_protocol *tw_string_transport_protocol(tw_string_transport *st)
{
    return st ? &st->t.proto : NULL;
}

/* ---- what the protocol wrote and asked ------------------------------------------------------- */

const char *tw_string_transport_value(const tw_string_transport *st, size_t *len)
{
    if (len)
        *len = st && st->out ? st->out_len : 0;
    if (!st)
        return NULL;
    return st->out ? st->out : "";
}

void tw_string_transport_clear(tw_string_transport *st)
{
    if (!st)
        return;
    st->out_len = 0;
    if (st->out)
        st->out[0] = '\0';
}

unsigned tw_string_transport_state(const tw_string_transport *st)
{
    return st ? st->state : 0;
}

const tw_failure *tw_string_transport_reason(const tw_string_transport *st)
{
    return st ? st->reason : NULL;
}

bool tw_string_transport_producer(const tw_string_transport *st, tw_producer *out)
{
    if (!st || !(st->state & TW_STRING_PRODUCER))
        return false;
    if (out)
        *out = st->producer;
    return true;
}

/* ---- what a peer does ------------------------------------------------------------------------ */

/* -EINVAL, -ENOTCONN once closed or after the peer's EOF, -EBUSY from inside one of the protocol's
 * own callbacks (a feed must come from the test, as a socket's bytes come from the loop). */
static int peer_check(const tw_string_transport *st)
{
    if (!st)
        return -EINVAL;
    if ((st->t.flags & TW_T_CLOSED) || (st->state & TW_STRING_EOF))
        return -ENOTCONN;
    if (st->t.flags & TW_T_IN_DISPATCH)
        return -EBUSY;
    return 0;
}

int tw_string_transport_data_received(tw_string_transport *st, const void *data, size_t len)
{
    int rc = peer_check(st);
    if (rc < 0 || (len && !data))
        return rc < 0 ? rc : -EINVAL;
    const uint32_t never = TW_T_DISCONNECTING | TW_T_CLOSE_PENDING | TW_T_ABORTING;
    if (len == 0 || (st->t.flags & never))
        return 0; /* a socket that stopped reading for good never reads these */
    char *in = malloc(st->in_len + len); /* exactly the size presented */
    if (!in)
        return -ENOMEM;
    if (st->in_len)
        memcpy(in, st->in, st->in_len);
    memcpy(in + st->in_len, data, len);
    free(st->in);
    st->in = in;
    st->in_len += len;
    if (!tw__memory_reading(st))
        return 0; /* held, as the kernel holds them, until reading resumes */
    tw__memory_dispatch_begin(st);
    tw__memory_deliver(st);
    tw__memory_dispatch_end(st);
    return 0;
}

int tw_string_transport_receive_eof(tw_string_transport *st)
{
    int rc = peer_check(st);
    if (rc < 0)
        return rc;
    st->state |= TW_STRING_EOF;
    if (!tw__memory_reading(st)) {
        st->eof_held = true; /* after the bytes held before it, when reading resumes */
        return 0;
    }
    tw__memory_dispatch_begin(st);
    tw__memory_on_eof(st);
    tw__memory_dispatch_end(st);
    return 0;
}

int tw_string_transport_fail(tw_string_transport *st, int code)
{
    if (!st || code >= 0)
        return -EINVAL;
    if (st->t.flags & TW_T_CLOSED)
        return -ENOTCONN;
    if (st->t.flags & TW_T_IN_DISPATCH)
        return -EBUSY;
    tw__memory_dispatch_begin(st);
    tw__memory_request_close(st, TW_CLOSE_LOST, code, "read");
    tw__memory_dispatch_end(st);
    return 0;
}
