/* Stream transports (TCP and UNIX connections): start, reading into the reactor-wide buffer with the
 * consumed-bytes rule, pausing, and closing with the right reason exactly once. Writing, the write
 * queue and producers registered with a transport are in stream_write.c. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/net.h"

static int stream_on_readable(tw_reactor *r, int fd, void *arg);
static void fail_in_op(tw_transport *t, int rc, const char *op);
static void tail_free(tw_transport *t);

tw_transport *tw__stream_new(tw_net *net, int fd, uint32_t flags)
{
    tw_transport *t = tw__net_transport_alloc(net);
    if (!t)
        return NULL;
    t->net = net;
    t->fd = fd;
    t->flags = flags;
    t->proto.transport = t;
    return t;
}

void tw__stream_discard(tw_transport *t)
{
    tw__sock_close(t->net->r, t->fd);
    free(t->ext);
    tw__net_transport_free(t->net, t);
}

tw_stream_ext *tw__stream_ext_get(tw_transport *t)
{
    if (t->ext)
        return t->ext;
    tw_stream_ext *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->high_water = TW_TRANSPORT_HIGH_WATER_DEFAULT;
    e->low_water = TW_TRANSPORT_LOW_WATER_DEFAULT;
    t->ext = e;
    return e;
}

/* An idle connection keeps no extension: free it once nothing in it differs from the defaults. */
void tw__stream_ext_maybe_free(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e || e->head || e->unconsumed || e->has_producer || e->close_kind || e->kick_call ||
        e->high_water != TW_TRANSPORT_HIGH_WATER_DEFAULT ||
        e->low_water != TW_TRANSPORT_LOW_WATER_DEFAULT)
        return;
    free(e);
    t->ext = NULL;
}

static bool stream_wants_reading(const tw_transport *t)
{
    const uint32_t stop = TW_T_DISCONNECTING | TW_T_READ_CLOSED | TW_T_PAUSED_USER |
                          TW_T_PAUSED_FULL | TW_T_CLOSE_PENDING | TW_T_ABORTING | TW_T_CLOSED;
    return (t->flags & TW_T_CONNECTED) && !(t->flags & stop);
}

static void present_tail_later(tw_transport *t);

void tw__stream_update_reading(tw_transport *t)
{
    bool want = stream_wants_reading(t);
    if (want == !!(t->flags & TW_T_READING))
        return;
    if (want && tw_reactor_add_reader(t->net->r, t->fd, stream_on_readable, t) == 0) {
        t->flags |= TW_T_READING;
        /* Reading resumes (the protocol resumed, or a full write buffer drained): the peer may send
         * nothing more, so the bytes held while paused are presented again on their own. */
        if (t->ext && t->ext->unconsumed_len)
            present_tail_later(t);
    } else if (!want) {
        tw_reactor_remove_reader(t->net->r, t->fd);
        t->flags &= ~(uint32_t)TW_T_READING;
    }
}

/* ---- closing ------------------------------------------------------------------------------------ */

static tw_failure *close_reason(tw_transport *t, tw_close_kind kind)
{
    tw_stream_ext *e = t->ext;
    int code = e ? e->close_code : 0;
    const char *context = e && e->close_context ? e->close_context : "connection";
    switch (kind) {
    case TW_CLOSE_DONE:
        return tw_failure_new(TW_CONNECTION_DONE, 0, "Connection was closed cleanly.");
    case TW_CLOSE_ABORTED:
        return tw_failure_new(TW_CONNECTION_ABORTED, -ECONNABORTED, "Connection was aborted locally.");
    case TW_CLOSE_LOST:
        if (code)
            return tw__sock_failure(TW_CONNECTION_LOST, code, context);
        return tw_failure_new(TW_CONNECTION_LOST, 0, "Connection to the other side was lost: %s.",
                              context);
    case TW_CLOSE_ERROR:
    default:
        if (code == -EMSGSIZE && strcmp(context, "unconsumed input") == 0)
            return tw_failure_new(TW_VALUE_ERROR, code, "more than %zu bytes left unconsumed",
                                  t->net->tail_max);
        if (code == -ENOBUFS && strcmp(context, "unconsumed input") == 0)
            return tw_failure_new(TW_VALUE_ERROR, code,
                                  "the connections of this reactor left more than %zu bytes "
                                  "unconsumed, and this one had held its share the longest",
                                  t->net->tail_total_max);
        return tw__sock_failure(NULL, code ? code : TW_ECALLBACK, context);
    }
}

static void stop_producer(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e || !e->has_producer)
        return;
    tw_producer p = e->producer;
    e->has_producer = false;
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
        tw_failure *reason = close_reason(t, kind);
        p->ops->connection_lost(p, reason);
        if (reason)
            tw_failure_unref(reason);
    }
    if (p->ops && p->ops->destroy)
        p->ops->destroy(p);
}

void tw__stream_close_now(tw_transport *t, tw_close_kind kind, int code, const char *context)
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
    net->refs++; /* removing the last connection must not free the context during this close */
    tw__net_remove_conn(net);
    tw__sock_close(net->r, t->fd);
    tw__stream_drop_queue(t);
    stop_producer(t);
    if (!t->ext && code) { /* keep the errno for the reason even when nothing else needed ext */
        e = tw__stream_ext_get(t);
        if (e) {
            e->close_code = code;
            e->close_context = context;
        }
    }
    deliver_connection_lost(t, kind);
    if (t->flags & TW_T_CLIENT)
        tw_factory_do_stop(t->proto.factory);
    tail_free(t);
    free(t->ext);
    tw__net_transport_free(net, t);
    tw__net_release(net);
}

/* Records why the transport will close; an abort overrides any earlier reason. */
static bool record_close(tw_transport *t, tw_close_kind kind, int code, const char *context)
{
    tw_stream_ext *e = tw__stream_ext_get(t);
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
    tw__stream_close_now(t, kind, e ? e->close_code : 0, e ? e->close_context : NULL);
}

static void deliver(tw_transport *t, const char *data, size_t len);

/* The 0-delay call that finishes, on a later turn, what was asked from outside a dispatch: a close,
 * or presenting a held unconsumed tail again after a resume. */
static int kick_fired(void *arg)
{
    tw_transport *t = arg;
    t->ext->kick_call = NULL;
    if (t->flags & TW_T_ABORTING) {
        close_pending(t);
        return 0;
    }
    tw__stream_dispatch_begin(t);
    if (stream_wants_reading(t) && t->ext->present_tail && t->ext->unconsumed_len)
        deliver(t, t->ext->unconsumed, t->ext->unconsumed_len);
    tw__stream_dispatch_end(t);
    return 0;
}

/* Schedules kick_fired; false when that is impossible (out of memory). */
static bool kick(tw_transport *t)
{
    tw_stream_ext *e = tw__stream_ext_get(t);
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

void tw__stream_request_close(tw_transport *t, tw_close_kind kind, int code, const char *context)
{
    if (t->flags & TW_T_CLOSED)
        return;
    bool recorded = record_close(t, kind, code, context);
    t->flags |= TW_T_CLOSE_PENDING;
    tw__stream_update_reading(t);
    bool later = kind == TW_CLOSE_ABORTED || !(t->flags & TW_T_IN_DISPATCH);
    if (later && (!recorded || !kick(t)) && !(t->flags & TW_T_IN_DISPATCH))
        tw__stream_close_now(t, kind, code, context); /* out of memory: no later turn possible */
}

void tw__stream_dispatch_begin(tw_transport *t)
{
    t->flags |= TW_T_IN_DISPATCH;
}

static void shut_write_side(tw_transport *t)
{
    t->flags |= TW_T_WRITE_SHUT;
    shutdown(t->fd, SHUT_WR); /* errors ignored, as Twisted: the peer may be gone already */
    tw_protocol *p = &t->proto;
    if (!p->ops || !p->ops->write_connection_lost)
        return;
    tw__stream_dispatch_begin(t);
    int rc = p->ops->write_connection_lost(p);
    if (rc < 0 && !(t->flags & TW_T_CLOSED))
        fail_in_op(t, rc, "write_connection_lost");
    tw__stream_dispatch_end(t);
}

/* The end of a callback of this transport: what was decided inside it happens now (aborts wait for
 * their own later turn): a close, or the close or half-close waiting for an empty write queue. */
void tw__stream_dispatch_end(tw_transport *t)
{
    t->flags &= ~(uint32_t)TW_T_IN_DISPATCH;
    if (t->flags & (TW_T_ABORTING | TW_T_CLOSED))
        return;
    if (t->flags & TW_T_CLOSE_PENDING) {
        close_pending(t);
        return;
    }
    if (t->ext && (t->ext->head || t->ext->has_producer))
        return; /* a registered producer holds a lose or half-close until it is unregistered */
    if (t->flags & TW_T_DISCONNECTING)
        tw__stream_close_now(t, TW_CLOSE_DONE, 0, NULL);
    else if ((t->flags & TW_T_WRITE_CLOSING) && !(t->flags & TW_T_WRITE_SHUT))
        shut_write_side(t);
    else
        tw__stream_ext_maybe_free(t);
}

/* lose_connection and lose_write_connection from outside a dispatch: finish on a later turn (the
 * writer does it when data is queued, unregistering the producer when one is registered). */
void tw__stream_settle_later(tw_transport *t)
{
    if ((t->flags & TW_T_IN_DISPATCH) || (t->ext && (t->ext->head || t->ext->has_producer)))
        return;
    if (!kick(t))
        tw__stream_request_close(t, TW_CLOSE_LOST, -ENOMEM, "close");
}

void tw_transport_lose_connection(tw_transport *t)
{
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_DISCONNECTING | TW_T_ABORTING | TW_T_CLOSE_PENDING)))
        return;
    t->flags |= TW_T_DISCONNECTING;
    tw__stream_update_reading(t);
    tw__stream_settle_later(t);
}

void tw_transport_lose_write_connection(tw_transport *t)
{
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_WRITE_CLOSING | TW_T_ABORTING | TW_T_CLOSE_PENDING)))
        return;
    t->flags |= TW_T_WRITE_CLOSING;
    tw__stream_settle_later(t);
}

void tw_transport_abort_connection(tw_transport *t)
{
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_ABORTING)))
        return;
    t->flags |= TW_T_ABORTING;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (t->flags & TW_T_WRITING) {
        tw_reactor_remove_writer(t->net->r, t->fd);
        t->flags &= ~(uint32_t)TW_T_WRITING;
    }
    tw__stream_drop_queue(t);
    tw__stream_request_close(t, TW_CLOSE_ABORTED, -ECONNABORTED, "abort");
}

void tw_transport_stop_producing(tw_transport *t)
{
    tw_transport_lose_connection(t);
}

/* ---- the unconsumed tail -------------------------------------------------------------------------
 * What a protocol left unconsumed is kept in a buffer of the connection's own. A short tail (at most
 * half the shared read buffer) is copied back in front of the next read; a long one (a big partial
 * frame) is read into directly, its buffer doubling as it grows, so holding n bytes costs O(n)
 * copying. Long tails count towards the reactor's total (TW_TRANSPORT_UNCONSUMED_TOTAL_MAX) and
 * stand in its list, oldest first: over the total, the oldest is dropped first. */

#define TAIL_SHORT_MAX (TW_TRANSPORT_READ_BUFFER_SIZE / 2)

static void tail_link(tw_transport *t)
{
    tw_net *net = t->net;
    t->ext->tail_older = net->tails_newest;
    t->ext->tail_newer = NULL;
    if (net->tails_newest)
        net->tails_newest->ext->tail_newer = t;
    else
        net->tails_oldest = t;
    net->tails_newest = t;
}

static void tail_unlink(tw_transport *t)
{
    tw_net *net = t->net;
    tw_stream_ext *e = t->ext;
    if (e->tail_older)
        e->tail_older->ext->tail_newer = e->tail_newer;
    else
        net->tails_oldest = e->tail_newer;
    if (e->tail_newer)
        e->tail_newer->ext->tail_older = e->tail_older;
    else
        net->tails_newest = e->tail_older;
    e->tail_older = e->tail_newer = NULL;
}

/* Sets the tail's length, keeping the reactor's count of long tails and their list right. */
static void tail_set_len(tw_transport *t, size_t n)
{
    tw_stream_ext *e = t->ext;
    bool was_long = e->unconsumed_len > TAIL_SHORT_MAX, is_long = n > TAIL_SHORT_MAX;
    if (was_long)
        t->net->tails_held -= e->unconsumed_len;
    if (is_long)
        t->net->tails_held += n;
    if (is_long && !was_long)
        tail_link(t);
    else if (was_long && !is_long)
        tail_unlink(t);
    e->unconsumed_len = n;
}

static void tail_free(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e || !e->unconsumed)
        return;
    tail_set_len(t, 0);
    free(e->unconsumed);
    e->unconsumed = NULL;
    e->unconsumed_cap = 0;
}

/* Room for need bytes: exactly that for a short tail; doubling for a long one, up to the most a
 * connection may hold plus one read. */
static int tail_reserve(tw_transport *t, size_t need)
{
    tw_stream_ext *e = t->ext;
    if (need <= e->unconsumed_cap)
        return 0;
    size_t cap = need;
    if (need > TAIL_SHORT_MAX) {
        size_t most = t->net->tail_max + TAIL_SHORT_MAX;
        cap = e->unconsumed_cap < most / 2 ? 2 * e->unconsumed_cap : most;
        if (cap < need)
            cap = need;
    }
    char *b = realloc(e->unconsumed, cap);
    if (!b)
        return -ENOMEM;
    e->unconsumed = b;
    e->unconsumed_cap = cap;
    return 0;
}

/* A long buffer left holding a short tail gives its memory back. */
static void tail_shrink(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (e->unconsumed_cap <= TAIL_SHORT_MAX || e->unconsumed_len > TAIL_SHORT_MAX)
        return;
    char *b = realloc(e->unconsumed, e->unconsumed_len);
    if (b) {
        e->unconsumed = b;
        e->unconsumed_cap = e->unconsumed_len;
    }
}

/* Over the reactor's total: drops the long tails held longest first (their connections close with
 * ValueError) until the total fits. -ENOBUFS when t's own tail is the oldest left. */
static int tail_enforce_total(tw_transport *t)
{
    tw_net *net = t->net;
    tw_transport *v = net->tails_oldest;
    while (v && net->tails_held > net->tail_total_max) {
        tw_transport *newer = v->ext->tail_newer;
        if (v == t)
            return -ENOBUFS;
        if (!(v->flags & TW_T_IN_DISPATCH)) { /* never under a running data_received's feet */
            tail_free(v);
            tw__stream_request_close(v, TW_CLOSE_ERROR, -ENOBUFS, "unconsumed input");
        }
        v = newer;
    }
    return 0;
}

/* Keeps what the protocol left unconsumed (rest, n bytes; in_own: rest lies in the tail's own
 * buffer), to present it again in front of the next bytes. 0, -EMSGSIZE (more than a connection
 * may hold), -ENOBUFS (see tail_enforce_total) or -ENOMEM. */
static int keep_unconsumed(tw_transport *t, const char *rest, size_t n, bool in_own)
{
    if (n == 0) {
        tail_free(t);
        return 0;
    }
    if (n > t->net->tail_max)
        return -EMSGSIZE;
    tw_stream_ext *e = tw__stream_ext_get(t);
    if (!e)
        return -ENOMEM;
    if (!in_own) {
        int rc = tail_reserve(t, n);
        if (rc < 0)
            return rc;
        memcpy(e->unconsumed, rest, n);
    } else if (rest != e->unconsumed) { /* fits: it is already inside */
        memmove(e->unconsumed, rest, n);
    }
    size_t before = e->unconsumed_len;
    tail_set_len(t, n);
    tail_shrink(t);
    return n > before && n > TAIL_SHORT_MAX ? tail_enforce_total(t) : 0;
}

/* ---- reading ------------------------------------------------------------------------------------ */

static void fail_in_op(tw_transport *t, int rc, const char *op)
{
    tw_reactor_log(t->net->r, TW_LOG_ERROR, "%s failed: %s; closing the connection", op,
                   tw_strerror(rc));
    tw__stream_request_close(t, TW_CLOSE_ERROR, rc, op);
}

static void deliver(tw_transport *t, const char *data, size_t len)
{
    tw_protocol *p = &t->proto;
    ssize_t used = (ssize_t)len;
    bool in_own = t->ext && data == t->ext->unconsumed;
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
        tail_free(t); /* dropped with the connection, and no longer counted */
        tw__stream_request_close(t, TW_CLOSE_ERROR, rc,
                                rc == -ENOMEM ? "data_received" : "unconsumed input");
    }
}

/* Where to read: after a short tail copied into the shared buffer, else after a long one in its own
 * buffer (with room for at least half a read buffer), so a long partial frame is never copied back
 * and forth. NULL when out of memory. */
static char *read_target(tw_transport *t, size_t *pre, size_t *room)
{
    tw_stream_ext *e = t->ext;
    *pre = e ? e->unconsumed_len : 0;
    if (*pre <= TAIL_SHORT_MAX) {
        if (*pre)
            memcpy(t->net->rbuf, e->unconsumed, *pre);
        *room = TW_TRANSPORT_READ_BUFFER_SIZE - *pre;
        return t->net->rbuf;
    }
    if (tail_reserve(t, *pre + TAIL_SHORT_MAX) < 0)
        return NULL;
    *room = e->unconsumed_cap - *pre;
    return e->unconsumed;
}

static void on_eof(tw_transport *t)
{
    tw_protocol *p = &t->proto;
    tail_free(t);
    if (!p->ops || !p->ops->read_connection_lost) {
        tw__stream_request_close(t, TW_CLOSE_DONE, 0, NULL);
        return;
    }
    t->flags |= TW_T_READ_CLOSED;
    tw__stream_update_reading(t);
    int rc = p->ops->read_connection_lost(p);
    if (rc < 0 && !(t->flags & TW_T_CLOSED))
        fail_in_op(t, rc, "read_connection_lost");
}

/* One read. Returns true when the buffer was filled (more may be waiting). */
static bool read_once(tw_transport *t)
{
    size_t pre, room;
    char *buf = read_target(t, &pre, &room);
    if (!buf) {
        tw__stream_request_close(t, TW_CLOSE_ERROR, -ENOMEM, "read");
        return false;
    }
    ssize_t n;
    do
        n = read(t->fd, buf + pre, room);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            tw__stream_request_close(t, TW_CLOSE_LOST, -errno, "read");
        return false;
    }
    if (n == 0) {
        on_eof(t);
        return false;
    }
    deliver(t, buf, pre + (size_t)n);
    return (size_t)n == room;
}

static int stream_on_readable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    tw_transport *t = arg;
    tw__stream_dispatch_begin(t);
    for (int i = 0; i < TW_TRANSPORT_READS_PER_WAKE && stream_wants_reading(t); i++)
        if (!read_once(t))
            break;
    tw__stream_dispatch_end(t);
    return 0;
}

void tw__stream_start(tw_transport *t)
{
    tw__net_add_conn(t->net);
    t->flags |= TW_T_CONNECTED;
    tw__stream_update_reading(t);
    tw__stream_dispatch_begin(t);
    tw_protocol *p = &t->proto;
    if (p->ops && p->ops->connection_made) {
        int rc = p->ops->connection_made(p);
        if (rc < 0 && !(t->flags & TW_T_CLOSED))
            fail_in_op(t, rc, "connection_made");
    }
    tw__stream_dispatch_end(t);
}

/* ---- the transport as a producer of what it reads ----------------------------------------------- */

void tw_transport_pause_producing(tw_transport *t)
{
    if (!t || (t->flags & TW_T_CLOSED))
        return;
    t->flags |= TW_T_PAUSED_USER;
    tw__stream_update_reading(t);
}

void tw_transport_resume_producing(tw_transport *t)
{
    if (!t || (t->flags & TW_T_CLOSED))
        return;
    t->flags &= ~(uint32_t)TW_T_PAUSED_USER;
    tw__stream_update_reading(t); /* presents held bytes again if reading resumes */
}

bool tw_transport_disconnecting(const tw_transport *t)
{
    const uint32_t closing = TW_T_DISCONNECTING | TW_T_ABORTING | TW_T_CLOSE_PENDING | TW_T_CLOSED;
    return t && (t->flags & closing);
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

/* ---- addresses, options, accessors -------------------------------------------------------------- */

static int socket_address(const tw_transport *t, tw_address *out, bool peer)
{
    if (!t || !out)
        return -EINVAL;
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(t->fd, (struct sockaddr *)&ss, &len)
                  : getsockname(t->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return -errno;
    return tw_address_from_sockaddr(out, (struct sockaddr *)&ss, len);
}

int tw_transport_get_host(const tw_transport *t, tw_address *out)
{
    return socket_address(t, out, false);
}

int tw_transport_get_peer(const tw_transport *t, tw_address *out)
{
    return socket_address(t, out, true);
}

static int tcp_option(tw_transport *t, int level, int option, bool on)
{
    if (!t)
        return -EINVAL;
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    if (!(t->flags & TW_T_TCP))
        return -EOPNOTSUPP;
    return tw__sock_set_flag(t->fd, level, option, on);
}

int tw_transport_set_tcp_nodelay(tw_transport *t, bool on)
{
    return tcp_option(t, IPPROTO_TCP, TCP_NODELAY, on);
}

int tw_transport_set_tcp_keepalive(tw_transport *t, bool on)
{
    return tcp_option(t, SOL_SOCKET, SO_KEEPALIVE, on);
}

tw_protocol *tw_transport_protocol(tw_transport *t)
{
    return t ? &t->proto : NULL;
}

tw_reactor *tw_transport_reactor(const tw_transport *t)
{
    return t ? t->net->r : NULL;
}

int tw_transport_fd(const tw_transport *t)
{
    return t && !(t->flags & TW_T_CLOSED) ? t->fd : -EBADF;
}
