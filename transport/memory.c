/* The in-memory transport as the code under test sees it: what the public tw_transport_* functions
 * do to a transport flagged TW_T_MEMORY. Writes are recorded, never queued; closes, half-closes,
 * producers and pausing follow the socket transport's rules (stream.c) and timing: what is asked
 * inside a callback happens when it returns, what is asked outside one on a later turn. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/memory.h"

static void close_pending(tw_string_transport *st)
{
    tw_close_kind kind = st->close_kind ? st->close_kind : TW_CLOSE_LOST;
    tw__memory_close_now(st, kind, st->close_code, st->close_context);
}

/* The 0-delay call that finishes on a later turn what was asked outside a dispatch: a close, or
 * presenting again the bytes held while reading was paused. */
static int kick_fired(void *arg)
{
    tw_string_transport *st = arg;
    st->kick = NULL;
    if (st->t.flags & TW_T_ABORTING) {
        close_pending(st);
        return 0;
    }
    tw__memory_dispatch_begin(st);
    if (tw__memory_reading(st) && st->present_in) {
        st->present_in = false;
        if (st->in_len)
            tw__memory_deliver(st);
    }
    if (tw__memory_reading(st) && st->eof_held) {
        st->eof_held = false;
        tw__memory_on_eof(st);
    }
    tw__memory_dispatch_end(st);
    return 0;
}

/* Schedules kick_fired; false when out of memory. */
static bool kick(tw_string_transport *st)
{
    if (!st->kick)
        st->kick = tw_call_later(st->r, 0, kick_fired, st, NULL);
    return st->kick != NULL;
}

bool tw__memory_reading(const tw_string_transport *st)
{
    const uint32_t stop = TW_T_DISCONNECTING | TW_T_READ_CLOSED | TW_T_PAUSED_USER |
                          TW_T_CLOSE_PENDING | TW_T_ABORTING | TW_T_CLOSED;
    return (st->t.flags & TW_T_CONNECTED) && !(st->t.flags & stop);
}

/* ---- closing --------------------------------------------------------------------------------- */

static void stop_producer(tw_string_transport *st)
{
    if (!(st->state & TW_STRING_PRODUCER))
        return;
    st->state &= ~(unsigned)(TW_STRING_PRODUCER | TW_STRING_STREAMING);
    if (st->producer.ops->stop_producing) {
        int rc = st->producer.ops->stop_producing(st->producer.self);
        if (rc < 0)
            tw_reactor_log(st->r, TW_LOG_ERROR, "stop_producing failed: %s", tw_strerror(rc));
    }
}

void tw__memory_close_now(tw_string_transport *st, tw_close_kind kind, int code,
                          const char *context)
{
    tw_transport *t = &st->t;
    if (t->flags & TW_T_CLOSED)
        return;
    t->flags |= TW_T_CLOSED;
    if (!st->close_kind) {
        st->close_code = code;
        st->close_context = context;
    }
    if (st->kick) {
        tw_delayed_call_cancel(st->kick);
        st->kick = NULL;
    }
    tw_net *net = t->net;
    tw__net_unregister(&st->closer);
    net->nmemory--;
    stop_producer(st);
    free(st->in);
    st->in = NULL;
    st->in_len = 0;
    st->reason = tw__stream_close_reason(kind, st->close_code, st->close_context, &net->tails);
    tw_protocol *p = &t->proto;
    if ((t->flags & TW_T_CONNECTED) && p->ops && p->ops->connection_lost)
        p->ops->connection_lost(p, st->reason);
    if (p->ops && p->ops->destroy)
        p->ops->destroy(p);
    st->state |= TW_STRING_CLOSED;
    t->net = NULL;
    tw__net_release(net); /* the reactor may be freed from now on: nothing here needs it */
}

/* Records why the transport will close; an abort overrides any earlier reason. */
static void record_close(tw_string_transport *st, tw_close_kind kind, int code, const char *context)
{
    if (!st->close_kind || kind == TW_CLOSE_ABORTED) {
        st->close_kind = kind;
        st->close_code = code;
        st->close_context = context;
    }
}

void tw__memory_request_close(tw_string_transport *st, tw_close_kind kind, int code,
                              const char *context)
{
    tw_transport *t = &st->t;
    if (t->flags & TW_T_CLOSED)
        return;
    record_close(st, kind, code, context);
    t->flags |= TW_T_CLOSE_PENDING;
    bool later = kind == TW_CLOSE_ABORTED || !(t->flags & TW_T_IN_DISPATCH);
    if (later && !kick(st) && !(t->flags & TW_T_IN_DISPATCH))
        tw__memory_close_now(st, kind, code, context); /* out of memory: no later turn possible */
}

static void fail_in_op(tw_string_transport *st, int rc, const char *op)
{
    tw_reactor_log(st->r, TW_LOG_ERROR, "%s failed: %s; closing the connection", op,
                   tw_strerror(rc));
    tw__memory_request_close(st, TW_CLOSE_ERROR, rc, op);
}

void tw__memory_dispatch_begin(tw_string_transport *st)
{
    st->t.flags |= TW_T_IN_DISPATCH;
}

static void shut_write_side(tw_string_transport *st)
{
    tw_transport *t = &st->t;
    t->flags |= TW_T_WRITE_SHUT;
    st->state |= TW_STRING_WRITE_SHUT;
    tw_protocol *p = &t->proto;
    if (!p->ops || !p->ops->write_connection_lost)
        return;
    tw__memory_dispatch_begin(st);
    int rc = p->ops->write_connection_lost(p);
    if (rc < 0 && !(t->flags & TW_T_CLOSED))
        fail_in_op(st, rc, "write_connection_lost");
    tw__memory_dispatch_end(st);
}

/* Nothing is ever queued: a close or half-close waits only for a registered producer. */
void tw__memory_dispatch_end(tw_string_transport *st)
{
    tw_transport *t = &st->t;
    t->flags &= ~(uint32_t)TW_T_IN_DISPATCH;
    if (t->flags & (TW_T_ABORTING | TW_T_CLOSED))
        return;
    if (t->flags & TW_T_CLOSE_PENDING)
        close_pending(st);
    else if (st->state & TW_STRING_PRODUCER)
        return;
    else if (t->flags & TW_T_DISCONNECTING)
        tw__memory_close_now(st, TW_CLOSE_DONE, 0, NULL);
    else if ((t->flags & TW_T_WRITE_CLOSING) && !(t->flags & TW_T_WRITE_SHUT))
        shut_write_side(st);
}

/* lose_connection and lose_write_connection from outside a dispatch finish on a later turn, unless
 * a registered producer holds them (its unregistration finishes them). */
static void settle_later(tw_string_transport *st)
{
    if ((st->t.flags & TW_T_IN_DISPATCH) || (st->state & TW_STRING_PRODUCER))
        return;
    if (!kick(st))
        tw__memory_request_close(st, TW_CLOSE_LOST, -ENOMEM, "close");
}

void tw__memory_lose_connection(tw_transport *t)
{
    tw_string_transport *st = tw__memory_of(t);
    st->state |= TW_STRING_LOSE_CONNECTION;
    if (t->flags & (TW_T_CLOSED | TW_T_DISCONNECTING | TW_T_ABORTING | TW_T_CLOSE_PENDING))
        return;
    t->flags |= TW_T_DISCONNECTING;
    settle_later(st);
}

void tw__memory_lose_write_connection(tw_transport *t)
{
    tw_string_transport *st = tw__memory_of(t);
    st->state |= TW_STRING_LOSE_WRITE_CONNECTION;
    if (t->flags & (TW_T_CLOSED | TW_T_WRITE_CLOSING | TW_T_ABORTING | TW_T_CLOSE_PENDING))
        return;
    t->flags |= TW_T_WRITE_CLOSING;
    settle_later(st);
}

void tw__memory_abort_connection(tw_transport *t)
{
    tw_string_transport *st = tw__memory_of(t);
    st->state |= TW_STRING_ABORT_CONNECTION;
    if (t->flags & (TW_T_CLOSED | TW_T_ABORTING))
        return;
    t->flags |= TW_T_ABORTING;
    tw__memory_request_close(st, TW_CLOSE_ABORTED, -ECONNABORTED, "abort");
}

/* ---- reading --------------------------------------------------------------------------------- */

/* Keeps rest (n bytes of buf, which the call owns and frees) as the unconsumed input, in a buffer
 * of exactly n bytes, so a protocol reading past what it was shown trips AddressSanitizer. */
static void keep_unconsumed(tw_string_transport *st, char *buf, size_t len, size_t used)
{
    size_t n = len - used;
    if (n > st->t.net->tails.max) {
        free(buf);
        tw__memory_request_close(st, TW_CLOSE_ERROR, -EMSGSIZE, "unconsumed input");
        return;
    }
    if (n == len || n == 0) {
        st->in = n ? buf : NULL;
        st->in_len = n;
        if (!n)
            free(buf);
        return;
    }
    st->in = malloc(n);
    if (st->in) {
        memcpy(st->in, buf + used, n);
        st->in_len = n;
    }
    free(buf);
    if (!st->in)
        tw__memory_request_close(st, TW_CLOSE_ERROR, -ENOMEM, "data_received");
}

void tw__memory_deliver(tw_string_transport *st)
{
    tw_protocol *p = &st->t.proto;
    char *buf = st->in;
    size_t len = st->in_len;
    st->in = NULL;
    st->in_len = 0;
    ssize_t used = (ssize_t)len;
    if (p->ops && p->ops->data_received)
        used = p->ops->data_received(p, buf, len);
    if (st->t.flags & TW_T_CLOSED) {
        free(buf);
        return;
    }
    if (used < 0) {
        free(buf);
        fail_in_op(st, (int)used, "data_received");
        return;
    }
    keep_unconsumed(st, buf, len, (size_t)used > len ? len : (size_t)used);
}

void tw__memory_on_eof(tw_string_transport *st)
{
    tw_protocol *p = &st->t.proto;
    free(st->in); /* what the protocol left unconsumed can never be completed now */
    st->in = NULL;
    st->in_len = 0;
    if (!p->ops || !p->ops->read_connection_lost) {
        tw__memory_request_close(st, TW_CLOSE_DONE, 0, NULL);
        return;
    }
    st->t.flags |= TW_T_READ_CLOSED;
    int rc = p->ops->read_connection_lost(p);
    if (rc < 0 && !(st->t.flags & TW_T_CLOSED))
        fail_in_op(st, rc, "read_connection_lost");
}

void tw__memory_pause_producing(tw_transport *t)
{
    if (t->flags & TW_T_CLOSED)
        return;
    t->flags |= TW_T_PAUSED_USER;
    tw__memory_of(t)->state |= TW_STRING_PAUSED;
}

void tw__memory_resume_producing(tw_transport *t)
{
    tw_string_transport *st = tw__memory_of(t);
    if (t->flags & TW_T_CLOSED)
        return;
    t->flags &= ~(uint32_t)TW_T_PAUSED_USER;
    st->state &= ~(unsigned)TW_STRING_PAUSED;
    /* As a socket's reader: what was held is presented again without waiting for the peer. */
    if (tw__memory_reading(st) && (st->in_len || st->eof_held) && kick(st))
        st->present_in = true;
}

/* ---- writing and producers ------------------------------------------------------------------- */

static int out_reserve(tw_string_transport *st, size_t more)
{
    size_t need = st->out_len + more + 1;
    if (need <= st->out_cap)
        return 0;
    size_t cap = st->out_cap ? st->out_cap : 256;
    while (cap < need)
        cap *= 2;
    char *b = realloc(st->out, cap);
    if (!b)
        return -ENOMEM;
    st->out = b;
    st->out_cap = cap;
    return 0;
}

int tw__memory_write(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    tw_string_transport *st = tw__memory_of(t);
    const uint32_t stop = TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING | TW_T_WRITE_SHUT;
    if (!(t->flags & TW_T_CONNECTED) || (t->flags & stop))
        return -ENOTCONN;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0;
    if (out_reserve(st, total) < 0) {
        tw__memory_request_close(st, TW_CLOSE_LOST, -ENOMEM, "write");
        return -ENOMEM;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(st->out + st->out_len, iov[i].iov_base, iov[i].iov_len);
        st->out_len += iov[i].iov_len;
    }
    st->out[st->out_len] = '\0';
    return 0;
}

int tw__memory_write_file(tw_transport *t, int fd, uint64_t offset, size_t len)
{
    char buf[TW__WQ_FILE_BUF];
    int refused = tw__memory_write(t, NULL, 0); /* a closed transport refuses as a write does */
    if (refused < 0)
        return refused;
    while (len > 0) {
        ssize_t n;
        do
            n = pread(fd, buf, len < sizeof buf ? len : sizeof buf, (off_t)offset);
        while (n < 0 && errno == EINTR);
        if (n <= 0) { /* as on a socket: the connection is lost, the call itself succeeded */
            int rc = n == 0 ? TW__WQ_SHORT_FILE : -errno;
            tw__memory_request_close(tw__memory_of(t), TW_CLOSE_LOST, rc,
                                     n == 0 ? "file shorter than the region written" : "write");
            return 0;
        }
        struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
        int rc = tw__memory_write(t, &iov, 1);
        if (rc < 0)
            return rc;
        offset += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int tw__memory_register_producer(tw_transport *t, const tw_producer *producer, bool streaming)
{
    tw_string_transport *st = tw__memory_of(t);
    if (st->state & TW_STRING_PRODUCER)
        return -EBUSY;
    if (t->flags & (TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING))
        return -ENOTCONN;
    st->producer = *producer;
    st->state |= TW_STRING_PRODUCER | (streaming ? TW_STRING_STREAMING : 0);
    if (!streaming && producer->ops->resume_producing) {
        int rc = producer->ops->resume_producing(producer->self);
        if (rc < 0)
            tw_reactor_log(st->r, TW_LOG_ERROR, "resume_producing failed: %s", tw_strerror(rc));
    }
    return 0;
}

void tw__memory_unregister_producer(tw_transport *t)
{
    tw_string_transport *st = tw__memory_of(t);
    if (!(st->state & TW_STRING_PRODUCER))
        return;
    st->state &= ~(unsigned)(TW_STRING_PRODUCER | TW_STRING_STREAMING);
    if (t->flags & (TW_T_DISCONNECTING | TW_T_WRITE_CLOSING))
        settle_later(st); /* the close or half-close that waited for the producer */
}

/* ---- what it tells about itself -------------------------------------------------------------- */

int tw__memory_address(const tw_transport *t, tw_address *out, bool peer)
{
    const tw_string_transport *st = tw__memory_of(t);
    if (!out)
        return -EINVAL;
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    *out = peer ? st->peer : st->host;
    return 0;
}

int tw__memory_tcp_option(tw_transport *t, unsigned bit, bool on)
{
    tw_string_transport *st = tw__memory_of(t);
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    if (st->host.type == TW_ADDRESS_UNIX)
        return -EOPNOTSUPP;
    st->state = on ? st->state | bit : st->state & ~bit;
    return 0;
}
