/* Stream transports (TCP and UNIX connections): start; reading into the reactor-wide buffer with
 * the consumed-bytes rule; writing at once when nothing is queued, through the write queue
 * otherwise, with back-pressure between the water marks on a registered producer or on the
 * transport's own reading; and closing with the right reason exactly once. The queue
 * (write_queue.c) and the unconsumed tail (tail.c) are data structures this file drives; addresses
 * and options are in stream_info.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/memory.h"
#include "transport/net.h"

static int stream_on_readable(tw_reactor *r, int fd, void *arg);
static int stream_on_writable(tw_reactor *r, int fd, void *arg);
static void streams_on_shutdown(tw_net_closer *closer);
static void fail_in_op(tw_transport *t, int rc, const char *op);
static void deliver(tw_transport *t, const char *data, size_t len);
static void dispatch_end(tw_transport *t);
static void request_close(tw_transport *t, tw_close_kind kind, int code, const char *context);

/* ---- creation and the on-demand extension ---------------------------------------------------- */

/* An idle connection costs its struct (and the reactor's slot for its fd): nothing else may grow it
 * on a 64-bit platform, where it is the protocol's four pointers and three words. */
_Static_assert(sizeof(void *) != 8 || sizeof(tw_transport) <= 56,
               "struct tw_transport outgrew 56 bytes: every idle connection pays for it");

static void discard(tw_transport *t)
{
    tw_net *net = t->net;
    if (t->flags & TW_T_PIPE)
        tw__stdio_close(t, false);
    else
        tw__sock_close(net->r, t->fd);
    tw__net_transport_free(net, t);
    tw__net_release(net);
}

int tw__stream_watch(tw_transport *t, bool write, tw_io_fn fn)
{
    if (t->flags & TW_T_PIPE)
        return tw__stdio_watch(t, write, fn);
    return write ? tw_reactor_add_writer(t->net->r, t->fd, fn, t)
                 : tw_reactor_add_reader(t->net->r, t->fd, fn, t);
}

void tw__stream_unwatch(tw_transport *t, bool write)
{
    if (t->flags & TW_T_PIPE)
        tw__stdio_unwatch(t, write);
    else if (write)
        tw_reactor_remove_writer(t->net->r, t->fd);
    else
        tw_reactor_remove_reader(t->net->r, t->fd);
}

tw_transport *tw__stream_new(tw_net *net, int fd, uint32_t flags, int *err)
{
    tw_transport *t = tw__net_transport_alloc(net);
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    t->net = net;
    t->fd = fd;
    t->flags = flags;
    /* Watched before any protocol exists: a connection the backend cannot watch (select: an fd
     * at or above FD_SETSIZE) would never hear from its peer, so it is refused here. */
    *err = tw__stream_watch(t, false, stream_on_readable);
    if (*err < 0) {
        tw__net_transport_free(net, t);
        return NULL;
    }
    t->flags |= TW_T_READING;
    tw__net_hold(net); /* the transport's reference, released as its very last act */
    return t;
}

int tw__stream_build(tw_transport *t, tw_factory *f, const tw_address *peer)
{
    t->proto.factory = f;
    int rc = f->ops && f->ops->build_protocol ? f->ops->build_protocol(f, peer, &t->proto)
                                               : -ECONNREFUSED;
    t->proto.transport = t; /* whatever build_protocol did with them */
    t->proto.factory = f;
    if (rc < 0)
        discard(t);
    return rc;
}

static tw_stream_ext *ext_get(tw_transport *t)
{
    if (t->ext)
        return t->ext;
    tw_stream_ext *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->high_water = TW_TRANSPORT_HIGH_WATER_DEFAULT;
    e->low_water = TW_TRANSPORT_LOW_WATER_DEFAULT;
    e->tail.owner = t;
    t->ext = e;
    return e;
}

/* An idle connection keeps no extension: free it once nothing in it differs from the defaults. */
static void ext_maybe_free(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e || e->queue.head || e->tail.buf || e->has_producer || e->close_kind || e->kick_call ||
        e->high_water != TW_TRANSPORT_HIGH_WATER_DEFAULT ||
        e->low_water != TW_TRANSPORT_LOW_WATER_DEFAULT)
        return;
    free(e);
    t->ext = NULL;
}

static size_t queued(const tw_transport *t)
{
    return t->ext ? t->ext->queue.size : 0;
}

static bool producer_registered(const tw_transport *t)
{
    return t->ext && t->ext->has_producer;
}

static bool wants_reading(const tw_transport *t)
{
    const uint32_t stop = TW_T_DISCONNECTING | TW_T_READ_CLOSED | TW_T_PAUSED_USER |
                          TW_T_PAUSED_FULL | TW_T_CLOSE_PENDING | TW_T_ABORTING | TW_T_CLOSED;
    return (t->flags & TW_T_CONNECTED) && !(t->flags & stop);
}

static void present_tail_later(tw_transport *t);

/* Adds or removes the reader to match the flags. */
static void update_reading(tw_transport *t)
{
    bool want = wants_reading(t);
    if (want == !!(t->flags & TW_T_READING))
        return;
    if (!want) {
        tw__stream_unwatch(t, false);
        t->flags &= ~(uint32_t)TW_T_READING;
        return;
    }
    int rc = tw__stream_watch(t, false, stream_on_readable);
    if (rc < 0) { /* a transport that cannot read would never hear from its peer again */
        request_close(t, TW_CLOSE_LOST, rc, "read");
        return;
    }
    t->flags |= TW_T_READING;
    /* Reading resumes (the protocol resumed, or a full write buffer drained): the peer may send
     * nothing more, so the bytes held while paused are presented again on their own. */
    if (t->ext && t->ext->tail.len)
        present_tail_later(t);
}

/* The connections of a context share one closer, registered while any of them is open: a closer
 * in each would cost every idle connection its links. */
static void streams_register(tw_net *net)
{
    if (net->nconns > 0 && !net->streams.next)
        tw__net_register(net, &net->streams, streams_on_shutdown);
}

void tw__stream_start(tw_transport *t)
{
    tw__stream_start_then(t, NULL, NULL);
}

void tw__stream_start_then(tw_transport *t, tw__made_fn made, void *arg)
{
    t->net->nconns++;
    streams_register(t->net);
    t->flags |= TW_T_CONNECTED;
    update_reading(t);
    t->flags |= TW_T_IN_DISPATCH;
    tw_protocol *p = &t->proto;
    int rc = 0;
    if (p->ops && p->ops->connection_made) {
        rc = p->ops->connection_made(p);
        if (rc < 0 && !(t->flags & TW_T_CLOSED))
            fail_in_op(t, rc, "connection_made");
    }
    if (made) /* inside the dispatch: before any close that connection_made asked for */
        made(arg, p, rc < 0 ? rc : 0);
    dispatch_end(t);
}

/* ---- closing --------------------------------------------------------------------------------- */

tw_failure *tw__stream_close_reason(tw_close_kind kind, int code, const char *context,
                                    const tw_tails *tails)
{
    context = context ? context : "connection";
    switch (kind) {
    case TW_CLOSE_DONE:
        return tw_failure_new(TW_CONNECTION_DONE, 0, "Connection was closed cleanly.");
    case TW_CLOSE_ABORTED:
        return tw_failure_new(TW_CONNECTION_ABORTED, -ECONNABORTED,
                              "Connection was aborted locally.");
    case TW_CLOSE_LOST:
        if (code)
            return tw__sock_failure(TW_CONNECTION_LOST, code, context);
        return tw_failure_new(TW_CONNECTION_LOST, 0, "Connection to the other side was lost: %s.",
                              context);
    case TW_CLOSE_ERROR:
    default:
        if (code == -EMSGSIZE && strcmp(context, "unconsumed input") == 0)
            return tw_failure_new(TW_VALUE_ERROR, code, "more than %zu bytes left unconsumed",
                                  tails->max);
        if (code == -ENOBUFS && strcmp(context, "unconsumed input") == 0)
            return tw_failure_new(TW_VALUE_ERROR, code,
                                  "the connections of this reactor left more than %zu bytes "
                                  "unconsumed, and this one had held its share the longest",
                                  tails->total_max);
        return tw__sock_failure(NULL, code ? code : TW_ECALLBACK, context);
    }
}

static void stop_producer(tw_transport *t)
{
    if (!producer_registered(t))
        return;
    tw_producer p = t->ext->producer;
    t->ext->has_producer = false;
    if (p.ops && p.ops->stop_producing) {
        int rc = p.ops->stop_producing(p.self);
        if (rc < 0)
            tw_reactor_log(t->net->r, TW_LOG_ERROR, "stop_producing failed: %s", tw_strerror(rc));
    }
}

static void deliver_connection_lost(tw_transport *t, tw_close_kind kind)
{
    tw_protocol *p = &t->proto;
    if ((t->flags & TW_T_CONNECTED) && p->ops && p->ops->connection_lost) {
        tw_stream_ext *e = t->ext;
        tw_failure *reason = tw__stream_close_reason(kind, e ? e->close_code : 0,
                                                     e ? e->close_context : NULL, &t->net->tails);
        p->ops->connection_lost(p, reason);
        if (reason)
            tw_failure_unref(reason);
    }
    if (p->ops && p->ops->destroy)
        p->ops->destroy(p);
}

static void drop_queue(tw_transport *t)
{
    if (t->ext)
        tw__wq_drop(&t->ext->queue);
}

static void drop_tail(tw_transport *t)
{
    if (t->ext)
        tw__tail_free(&t->net->tails, &t->ext->tail);
}

/* Closes now and delivers connection_lost (at the end of a dispatch, on a later turn, at
 * shutdown). */
static void close_now(tw_transport *t, tw_close_kind kind, int code, const char *context)
{
    if (t->flags & TW_T_CLOSED)
        return;
    t->flags |= TW_T_CLOSED;
    tw_stream_ext *e = t->ext;
    if (e && !e->close_kind) {
        e->close_code = code;
        e->close_context = context;
    }
    if (e && e->kick_call) {
        tw_delayed_call_cancel(e->kick_call);
        e->kick_call = NULL;
    }
    tw_net *net = t->net;
    if (--net->nconns == 0)
        tw__net_unregister(&net->streams);
    if (t->flags & TW_T_PIPE)
        tw__stdio_close(t, true);
    else
        tw__sock_close(net->r, t->fd);
    drop_queue(t);
    stop_producer(t);
    if (!t->ext && code) { /* keep the errno for the reason even when nothing else needed ext */
        e = ext_get(t);
        if (e) {
            e->close_code = code;
            e->close_context = context;
        }
    }
    deliver_connection_lost(t, kind);
    if (t->flags & TW_T_CLIENT)
        tw_factory_do_stop(t->proto.factory);
    drop_tail(t);
    free(t->ext);
    tw__net_transport_free(net, t);
    tw__net_release(net); /* the transport's own reference: the context outlived every callback */
}

static void mark_for_shutdown(tw_transport *t)
{
    if ((t->flags & TW_T_CONNECTED) && !(t->flags & TW_T_CLOSED))
        t->flags |= TW_T_SHUTDOWN;
}

static void close_for_shutdown(tw_transport *t)
{
    if (t->flags & TW_T_SHUTDOWN)
        close_now(t, TW_CLOSE_LOST, 0, "reactor shutdown");
}

/* Every connection open now is lost. They are marked first: one that a connection_lost starts
 * meanwhile is left for later, as the context's other closers leave what registers meanwhile (and
 * registers the closer again for it). */
static void streams_on_shutdown(tw_net_closer *closer)
{
    tw_net *net = tw__container_of(closer, tw_net, streams);
    tw__net_each_transport(net, mark_for_shutdown);
    tw__net_each_transport(net, close_for_shutdown);
    streams_register(net);
}

/* Records why the transport will close; an abort overrides any earlier reason. */
static bool record_close(tw_transport *t, tw_close_kind kind, int code, const char *context)
{
    tw_stream_ext *e = ext_get(t);
    if (!e)
        return false;
    if (!e->close_kind || kind == TW_CLOSE_ABORTED) {
        e->close_kind = kind;
        e->close_code = code;
        e->close_context = context;
    }
    return true;
}

static void close_pending(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    tw_close_kind kind = e && e->close_kind ? e->close_kind : TW_CLOSE_LOST;
    close_now(t, kind, e ? e->close_code : 0, e ? e->close_context : NULL);
}

/* The 0-delay call that finishes, on a later turn, what was asked from outside a dispatch: a close,
 * or presenting a held unconsumed tail again after a resume. */
static int kick_fired(void *arg)
{
    tw_transport *t = arg;
    tw_stream_ext *e = t->ext;
    e->kick_call = NULL;
    if (t->flags & TW_T_ABORTING) {
        close_pending(t);
        return 0;
    }
    t->flags |= TW_T_IN_DISPATCH;
    if (wants_reading(t) && e->present_tail && e->tail.len)
        deliver(t, e->tail.buf, e->tail.len);
    dispatch_end(t);
    return 0;
}

/* Schedules kick_fired; false when that is impossible (out of memory). */
static bool kick(tw_transport *t)
{
    tw_stream_ext *e = ext_get(t);
    if (!e)
        return false;
    if (!e->kick_call)
        e->kick_call = tw_call_later(t->net->r, 0, kick_fired, t, NULL);
    return e->kick_call != NULL;
}

/* Unless a read presents the tail first (with whatever the peer sent meanwhile). */
static void present_tail_later(tw_transport *t)
{
    if (kick(t))
        t->ext->present_tail = true;
}

/* Asks for a close: finished at the end of the current dispatch, or on a later turn. */
static void request_close(tw_transport *t, tw_close_kind kind, int code, const char *context)
{
    if (t->flags & TW_T_CLOSED)
        return;
    bool recorded = record_close(t, kind, code, context);
    t->flags |= TW_T_CLOSE_PENDING;
    update_reading(t);
    bool later = kind == TW_CLOSE_ABORTED || !(t->flags & TW_T_IN_DISPATCH);
    if (later && (!recorded || !kick(t)) && !(t->flags & TW_T_IN_DISPATCH))
        close_now(t, kind, code, context); /* out of memory: no later turn possible */
}

static void shut_write_side(tw_transport *t)
{
    t->flags |= TW_T_WRITE_SHUT;
    if (t->flags & TW_T_PIPE)
        tw__stdio_shut_write(t);
    else
        shutdown(t->fd, SHUT_WR); /* errors ignored, as Twisted: the peer may be gone already */
    tw_protocol *p = &t->proto;
    if (!p->ops || !p->ops->write_connection_lost)
        return;
    t->flags |= TW_T_IN_DISPATCH;
    int rc = p->ops->write_connection_lost(p);
    if (rc < 0 && !(t->flags & TW_T_CLOSED))
        fail_in_op(t, rc, "write_connection_lost");
    dispatch_end(t);
}

/* The end of a callback of this transport: what was decided inside it happens now (aborts wait for
 * their own later turn): a close, or the close or half-close waiting for an empty write queue and
 * for the producer to be unregistered. */
static void dispatch_end(tw_transport *t)
{
    t->flags &= ~(uint32_t)TW_T_IN_DISPATCH;
    if (t->flags & (TW_T_ABORTING | TW_T_CLOSED))
        return;
    if (t->flags & TW_T_CLOSE_PENDING) {
        close_pending(t);
        return;
    }
    if (queued(t) || producer_registered(t))
        return;
    if (t->flags & TW_T_DISCONNECTING)
        close_now(t, TW_CLOSE_DONE, 0, NULL);
    else if ((t->flags & TW_T_WRITE_CLOSING) && !(t->flags & TW_T_WRITE_SHUT))
        shut_write_side(t);
    else
        ext_maybe_free(t);
}

/* lose_connection and lose_write_connection from outside a dispatch: finish on a later turn unless
 * the write queue (the writer finishes it) or a registered producer (its unregistration does) still
 * holds them. */
static void settle_later(tw_transport *t)
{
    if ((t->flags & TW_T_IN_DISPATCH) || queued(t) || producer_registered(t))
        return;
    if (!kick(t))
        request_close(t, TW_CLOSE_LOST, -ENOMEM, "close");
}

/* Each public function hands an in-memory transport (TW_T_MEMORY, testing.h) to memory.c with one
 * test of the flags it reads anyway: a socket transport pays nothing else for it. */
static inline bool in_memory(const tw_transport *t)
{
    return t->flags & TW_T_MEMORY;
}

void tw_transport_lose_connection(tw_transport *t)
{
    if (t && in_memory(t)) {
        tw__memory_lose_connection(t);
        return;
    }
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_DISCONNECTING | TW_T_ABORTING | TW_T_CLOSE_PENDING)))
        return;
    t->flags |= TW_T_DISCONNECTING;
    update_reading(t);
    settle_later(t);
}

void tw_transport_lose_write_connection(tw_transport *t)
{
    if (t && in_memory(t)) {
        tw__memory_lose_write_connection(t);
        return;
    }
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_WRITE_CLOSING | TW_T_ABORTING | TW_T_CLOSE_PENDING)))
        return;
    t->flags |= TW_T_WRITE_CLOSING;
    settle_later(t);
}

static void disarm_writer(tw_transport *t)
{
    if (!(t->flags & TW_T_WRITING))
        return;
    tw__stream_unwatch(t, true);
    t->flags &= ~(uint32_t)TW_T_WRITING;
}

void tw_transport_abort_connection(tw_transport *t)
{
    if (t && in_memory(t)) {
        tw__memory_abort_connection(t);
        return;
    }
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_ABORTING)))
        return;
    t->flags |= TW_T_ABORTING;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    disarm_writer(t);
    drop_queue(t);
    request_close(t, TW_CLOSE_ABORTED, -ECONNABORTED, "abort");
}

void tw_transport_stop_producing(tw_transport *t)
{
    tw_transport_lose_connection(t);
}

bool tw_transport_disconnecting(const tw_transport *t)
{
    const uint32_t closing = TW_T_DISCONNECTING | TW_T_ABORTING | TW_T_CLOSE_PENDING | TW_T_CLOSED;
    return t && (t->flags & closing);
}

/* ---- reading --------------------------------------------------------------------------------- */

static void fail_in_op(tw_transport *t, int rc, const char *op)
{
    tw_reactor_log(t->net->r, TW_LOG_ERROR, "%s failed: %s; closing the connection", op,
                   tw_strerror(rc));
    request_close(t, TW_CLOSE_ERROR, rc, op);
}

/* The reactor's long tails hold more than their total: the connections that have held theirs the
 * longest are dropped first (ValueError), until it fits. -ENOBUFS when t's own is the oldest
 * left. */
static int enforce_tails_total(tw_transport *t)
{
    tw_tails *all = &t->net->tails;
    tw_tail *v = all->oldest;
    while (v && tw__tails_over(all)) {
        tw_tail *newer = v->newer;
        tw_transport *victim = v->owner;
        if (victim == t)
            return -ENOBUFS;
        if (!(victim->flags & TW_T_IN_DISPATCH)) { /* never under a running data_received's feet */
            drop_tail(victim);
            request_close(victim, TW_CLOSE_ERROR, -ENOBUFS, "unconsumed input");
        }
        v = newer;
    }
    return 0;
}

/* Keeps what the protocol left unconsumed (rest, n bytes; in_own: rest lies in the tail's own
 * buffer), to present it again in front of the next bytes. */
static int keep_unconsumed(tw_transport *t, const char *rest, size_t n, bool in_own)
{
    if (n == 0) {
        drop_tail(t);
        return 0;
    }
    tw_stream_ext *e = ext_get(t);
    if (!e)
        return -ENOMEM;
    size_t before = e->tail.len;
    int rc = tw__tail_keep(&t->net->tails, &e->tail, rest, n, in_own);
    if (rc == 0 && n > before && n > TW_TAIL_SHORT_MAX)
        rc = enforce_tails_total(t);
    return rc;
}

static void deliver(tw_transport *t, const char *data, size_t len)
{
    tw_protocol *p = &t->proto;
    ssize_t used = (ssize_t)len;
    bool in_own = t->ext && data == t->ext->tail.buf;
    if (t->ext)
        t->ext->present_tail = false; /* presented now; a resume from inside the call asks again */
    if (p->ops && p->ops->data_received)
        used = p->ops->data_received(p, data, len);
    if (t->flags & TW_T_CLOSED)
        return;
    if (used < 0) {
        fail_in_op(t, (int)used, "data_received");
        return;
    }
    if ((size_t)used > len)
        used = (ssize_t)len;
    int rc = keep_unconsumed(t, data + used, len - (size_t)used, in_own);
    if (rc < 0) {
        drop_tail(t); /* dropped with the connection, and no longer counted */
        request_close(t, TW_CLOSE_ERROR, rc, rc == -ENOMEM ? "data_received" : "unconsumed input");
    }
}

static void on_eof(tw_transport *t)
{
    tw_protocol *p = &t->proto;
    drop_tail(t);
    if (!p->ops || !p->ops->read_connection_lost) {
        request_close(t, TW_CLOSE_DONE, 0, NULL);
        return;
    }
    t->flags |= TW_T_READ_CLOSED;
    update_reading(t);
    int rc = p->ops->read_connection_lost(p);
    if (rc < 0 && !(t->flags & TW_T_CLOSED))
        fail_in_op(t, rc, "read_connection_lost");
}

/* One read. Returns true when the buffer was filled (more may be waiting). */
static bool read_once(tw_transport *t)
{
    size_t pre, room;
    char *buf = tw__tail_read_target(&t->net->tails, t->ext ? &t->ext->tail : NULL, t->net->rbuf,
                                     &pre, &room);
    if (!buf) {
        request_close(t, TW_CLOSE_ERROR, -ENOMEM, "read");
        return false;
    }
    ssize_t n;
    do
        n = read(t->fd, buf + pre, room);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            request_close(t, TW_CLOSE_LOST, -errno, "read");
        return false;
    }
    if (n == 0) {
        on_eof(t);
        return false;
    }
    deliver(t, buf, pre + (size_t)n);
    return (size_t)n == room;
}

/* The reactor could not watch the socket any more and calls its watchers one last time: nothing
 * would ever come again, so close with that error (connection_lost runs, the fd is freed). */
static void close_if_unwatched(tw_transport *t)
{
    int refused = tw_reactor_watch_error(t->net->r, t->fd);
    if (refused)
        request_close(t, TW_CLOSE_LOST, refused, "watch");
}

static int stream_on_readable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    tw_transport *t = arg;
    t->flags |= TW_T_IN_DISPATCH;
    close_if_unwatched(t);
    for (int i = 0; i < TW_TRANSPORT_READS_PER_WAKE && wants_reading(t); i++)
        if (!read_once(t))
            break;
    dispatch_end(t);
    return 0;
}

/* ---- the transport as a producer of what it reads -------------------------------------------- */

void tw_transport_pause_producing(tw_transport *t)
{
    if (!t || (t->flags & TW_T_CLOSED))
        return;
    if (in_memory(t)) {
        tw__memory_pause_producing(t);
        return;
    }
    t->flags |= TW_T_PAUSED_USER;
    update_reading(t);
}

void tw_transport_resume_producing(tw_transport *t)
{
    if (!t || (t->flags & TW_T_CLOSED))
        return;
    if (in_memory(t)) {
        tw__memory_resume_producing(t);
        return;
    }
    t->flags &= ~(uint32_t)TW_T_PAUSED_USER;
    update_reading(t); /* presents held bytes again if reading resumes */
}

static int producer_pause(void *self)
{
    tw_transport_pause_producing(self);
    return 0;
}

static int producer_resume(void *self)
{
    tw_transport_resume_producing(self);
    return 0;
}

static int producer_stop(void *self)
{
    tw_transport_stop_producing(self);
    return 0;
}

static const tw_producer_ops transport_producer_ops = {
    .pause_producing = producer_pause,
    .resume_producing = producer_resume,
    .stop_producing = producer_stop,
};

tw_producer tw_transport_as_producer(tw_transport *t)
{
    tw_producer p = {.ops = &transport_producer_ops, .self = t};
    return p;
}

/* ---- writing --------------------------------------------------------------------------------- */

size_t tw_transport_write_buffer_size(const tw_transport *t)
{
    return t ? queued(t) : 0;
}

/* Where writes go: the socket, or stdout's copy for a stdio transport. */
static int write_fd(const tw_transport *t)
{
    return t->flags & TW_T_PIPE ? tw__stdio_wfd(t) : t->fd;
}

static void arm_writer(tw_transport *t)
{
    if (t->flags & TW_T_WRITING)
        return;
    if (tw__stream_watch(t, true, stream_on_writable) == 0)
        t->flags |= TW_T_WRITING;
    else
        request_close(t, TW_CLOSE_LOST, -ENOMEM, "write");
}

static void call_producer(tw_transport *t, int (*fn)(void *), const char *what)
{
    if (!fn)
        return;
    int rc = fn(t->ext->producer.self);
    if (rc < 0)
        tw_reactor_log(t->net->r, TW_LOG_ERROR, "%s failed: %s", what, tw_strerror(rc));
}

/* Above the high mark: pause the streaming producer, or this transport's own reading. */
static void pressure_check(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e || e->queue.size <= e->high_water)
        return;
    if (e->has_producer) {
        if (e->streaming && !e->producer_paused) {
            e->producer_paused = true;
            call_producer(t, e->producer.ops->pause_producing, "pause_producing");
        }
    } else if ((t->flags & TW_T_SELF_PAUSE) && !(t->flags & TW_T_PAUSED_FULL)) {
        t->flags |= TW_T_PAUSED_FULL;
        update_reading(t);
    }
}

/* At or below the low mark: resume whatever pressure_check paused. */
static void relief_check(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (e && e->queue.size > e->low_water)
        return;
    if (t->flags & TW_T_PAUSED_FULL) {
        t->flags &= ~(uint32_t)TW_T_PAUSED_FULL;
        update_reading(t);
    }
    if (e && e->has_producer && e->streaming && e->producer_paused) {
        e->producer_paused = false;
        call_producer(t, e->producer.ops->resume_producing, "resume_producing");
    }
}

static bool can_write(const tw_transport *t)
{
    /* Writes made while a half-close waits for the queue or the producer are still sent (as
     * Twisted's: only the shut write side refuses them). */
    const uint32_t stop =
        TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING | TW_T_WRITE_SHUT | TW_T_MEMORY;
    return (t->flags & TW_T_CONNECTED) && !(t->flags & stop);
}

/* A pull producer is asked for more at every drain of the buffer (Twisted's doWrite). A write that
 * went out at once never queued anything, so wait for writability anyway: asking again from inside
 * the producer's own write would recurse. */
static void ask_pull_producer_later(tw_transport *t)
{
    if (producer_registered(t) && !t->ext->streaming && can_write(t))
        arm_writer(t);
}

/* What the kernel did not take is queued (rc: how queueing went): wait for writability, and press
 * back on whoever writes so much. Out of memory closes: what the caller writes next must not follow
 * a hole in the stream. */
static int wait_for_writable(tw_transport *t, int rc)
{
    if (rc < 0) {
        request_close(t, TW_CLOSE_LOST, rc, "write");
        return rc;
    }
    arm_writer(t);
    pressure_check(t);
    return 0;
}

/* Sends what it can now when nothing is queued; returns bytes taken (never more than total). */
static size_t try_send_now(tw_transport *t, const struct iovec *iov, int cnt, size_t total)
{
    if (queued(t))
        return 0;
    ssize_t n = tw__wq_send(write_fd(t), iov, cnt);
    if (n < 0) {
        request_close(t, TW_CLOSE_LOST, (int)n, "write");
        return total; /* dropped with the connection */
    }
    return (size_t)n;
}

int tw_transport_write_sequence(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!t || iovcnt < 0 || (iovcnt > 0 && !iov))
        return -EINVAL;
    if (!can_write(t))
        return in_memory(t) ? tw__memory_write(t, iov, iovcnt) : -ENOTCONN;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0; /* ignored (as Twisted): waiting for writability would ask a pull producer again */
    size_t sent = try_send_now(t, iov, iovcnt, total);
    if (sent == total || !can_write(t)) {
        ask_pull_producer_later(t);
        return 0;
    }
    tw_stream_ext *e = ext_get(t);
    return wait_for_writable(t, e ? tw__wq_copy(&e->queue, iov, iovcnt, sent) : -ENOMEM);
}

int tw_transport_write(tw_transport *t, const void *data, size_t len)
{
    if (len > 0 && !data)
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    /* The common case, a connection with nothing queued and no producer: one send, and a partial
     * write queues the rest without trying the kernel again. */
    if (t && !t->ext && len > 0 && can_write(t)) {
        ssize_t n = tw__wq_send(write_fd(t), &iov, 1);
        if (n < 0) {
            request_close(t, TW_CLOSE_LOST, (int)n, "write");
            return 0;
        }
        if ((size_t)n == len)
            return 0;
        tw_stream_ext *e = ext_get(t);
        return wait_for_writable(t, e ? tw__wq_copy(&e->queue, &iov, 1, (size_t)n) : -ENOMEM);
    }
    return tw_transport_write_sequence(t, &iov, 1);
}

/* Whether a lent write is over after its first send: all of it went, or the connection closed
 * (dropping the rest); then the caller's buffer or file is released at once. */
static bool sent_at_once(tw_transport *t, size_t sent, size_t len, void (*release)(void *),
                         void *arg)
{
    if (sent != len && can_write(t))
        return false;
    if (release)
        release(arg);
    if (len)
        ask_pull_producer_later(t);
    return true;
}

int tw_transport_write_lent(tw_transport *t, const void *buf, size_t len, void (*release)(void *),
                            void *arg)
{
    if (!t || (len > 0 && !buf))
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    if (!can_write(t)) {
        int rc = in_memory(t) ? tw__memory_write(t, &iov, 1) : -ENOTCONN;
        if (rc == 0 && release) /* recorded: the buffer is no longer needed */
            release(arg);
        return rc;
    }
    size_t sent = len ? try_send_now(t, &iov, 1, len) : 0;
    if (sent_at_once(t, sent, len, release, arg))
        return 0;
    /* Out of memory: buf stays the caller's (release does not run). */
    tw_stream_ext *e = ext_get(t);
    return wait_for_writable(t, e ? tw__wq_lend(&e->queue, (const char *)buf + sent, len - sent,
                                                release, arg)
                                  : -ENOMEM);
}

/* What a send failed on, for connection_lost's reason. */
static const char *write_context(int rc)
{
    return rc == TW__WQ_SHORT_FILE ? "file shorter than the region written" : "write";
}

/* Sends what it can of a file region now when nothing is queued; returns bytes taken (all of them
 * when the connection closed on an error: dropped with it). */
static size_t try_send_file_now(tw_transport *t, int fd, uint64_t offset, size_t len)
{
    if (queued(t))
        return 0;
    size_t left = len;
    int rc = tw__wq_send_file(write_fd(t), fd, &offset, &left);
    if (rc < 0) {
        request_close(t, TW_CLOSE_LOST, rc, write_context(rc));
        return len;
    }
    return len - left;
}

int tw_transport_write_file(tw_transport *t, int fd, uint64_t offset, uint64_t len,
                            void (*release)(void *), void *arg)
{
    /* A region must fit the queue's count and the kernel's file offsets. */
    if (!t || fd < 0 || len > SIZE_MAX || offset > (uint64_t)INT64_MAX - len)
        return -EINVAL;
    if (!can_write(t)) {
        int rc = in_memory(t) ? tw__memory_write_file(t, fd, offset, (size_t)len) : -ENOTCONN;
        if (rc == 0 && release) /* recorded: the file is no longer needed */
            release(arg);
        return rc;
    }
    size_t sent = len ? try_send_file_now(t, fd, offset, (size_t)len) : 0;
    if (sent_at_once(t, sent, (size_t)len, release, arg))
        return 0;
    /* Out of memory: the file stays the caller's (release does not run). */
    tw_stream_ext *e = ext_get(t);
    return wait_for_writable(t, e ? tw__wq_file(&e->queue, fd, offset + sent, (size_t)len - sent,
                                                release, arg)
                                  : -ENOMEM);
}

static void resume_pull_producer(tw_transport *t)
{
    if (producer_registered(t) && !t->ext->streaming)
        call_producer(t, t->ext->producer.ops->resume_producing, "resume_producing");
}

static int stream_on_writable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    tw_transport *t = arg;
    const uint32_t closing = TW_T_CLOSE_PENDING | TW_T_ABORTING;
    t->flags |= TW_T_IN_DISPATCH;
    close_if_unwatched(t);
    int rc = !(t->flags & closing) && queued(t) ? tw__wq_flush(&t->ext->queue, write_fd(t)) : 0;
    if (rc < 0)
        request_close(t, TW_CLOSE_LOST, rc, write_context(rc));
    bool drained = !queued(t);
    if (rc < 0 || drained || (t->flags & closing))
        disarm_writer(t);
    if (!(t->flags & closing)) { /* a release run by the flush may have aborted */
        relief_check(t);
        if (drained)
            resume_pull_producer(t);
    }
    dispatch_end(t);
    return 0;
}

/* ---- consumer: producers registered with this transport -------------------------------------- */

int tw_transport_register_producer(tw_transport *t, const tw_producer *producer, bool streaming)
{
    if (!t || !producer || !producer->ops)
        return -EINVAL;
    if (in_memory(t))
        return tw__memory_register_producer(t, producer, streaming);
    if (producer_registered(t))
        return -EBUSY;
    if (t->flags & (TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING))
        return -ENOTCONN; /* unlike Twisted, nothing is called: an error return runs no callback */
    tw_stream_ext *e = ext_get(t);
    if (!e)
        return -ENOMEM;
    e->producer = *producer;
    e->has_producer = true;
    e->streaming = streaming;
    e->producer_paused = false;
    if (!streaming)
        call_producer(t, producer->ops->resume_producing, "resume_producing");
    else
        pressure_check(t);
    return 0;
}

void tw_transport_unregister_producer(tw_transport *t)
{
    if (t && in_memory(t)) {
        tw__memory_unregister_producer(t);
        return;
    }
    if (!t || !producer_registered(t))
        return;
    t->ext->has_producer = false;
    t->ext->producer_paused = false;
    pressure_check(t); /* the transport's own reading takes the producer's place */
    if (t->flags & (TW_T_DISCONNECTING | TW_T_WRITE_CLOSING))
        settle_later(t); /* the close or half-close that waited for the producer */
    if (t->ext && !(t->flags & TW_T_IN_DISPATCH))
        ext_maybe_free(t);
}

int tw_transport_set_water_marks(tw_transport *t, size_t high, size_t low)
{
    if (!t || high == 0 || low > high)
        return -EINVAL;
    if (in_memory(t))
        return 0; /* its writes never wait: no mark is ever crossed */
    tw_stream_ext *e = ext_get(t);
    if (!e)
        return -ENOMEM;
    e->high_water = high;
    e->low_water = low;
    pressure_check(t);
    relief_check(t);
    return 0;
}

void tw_transport_set_pause_reading_when_full(tw_transport *t, bool on)
{
    if (!t || in_memory(t))
        return;
    if (on) {
        t->flags |= TW_T_SELF_PAUSE;
        pressure_check(t);
    } else {
        t->flags &= ~(uint32_t)TW_T_SELF_PAUSE;
        if (t->flags & TW_T_PAUSED_FULL) {
            t->flags &= ~(uint32_t)TW_T_PAUSED_FULL;
            update_reading(t);
        }
    }
}
