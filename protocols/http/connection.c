/* The protocol of one HTTP connection: the request loop over pipelined heads and discarded bodies,
 * back-pressure, keep-alive, and the one timer that is either the head deadline or the idle
 * timeout. A head timeout closes without answering (as nginx), as does the idle timeout. */
#include <errno.h>
#include <stdlib.h>

#include "server.h"

static int on_timer(void *arg);

/* Points the connection's one timer at delay seconds from now; the same call is moved when it is
 * still pending. */
static void arm(tw__http_conn *c, double delay, bool idle)
{
    c->idle = idle;
    if (c->timer && tw_delayed_call_reset(c->timer, delay) == 0)
        return;
    c->timer = tw_call_later(c->s->r, delay, on_timer, c, NULL);
    /* Without a timer (no memory) the connection still works; it just cannot time out. */
}

static void disarm(tw__http_conn *c)
{
    if (c->timer)
        (void)tw_delayed_call_cancel(c->timer);
    c->timer = NULL;
}

static int on_timer(void *arg)
{
    tw__http_conn *c = arg;
    c->timer = NULL; /* this call is over: a new one is needed to wait again */
    if (!c->s)
        return 0;
    size_t queued = tw_transport_write_buffer_size(c->t);
    /* Idle but still sending: wait on while the client takes bytes. */
    if (c->idle && !c->closing && queued && queued != c->stalled_size) {
        c->stalled_size = queued;
        arm(c, c->s->opt.idle_timeout, true);
        return 0;
    }
    c->closing = true;
    tw_transport_lose_connection(c->t);
    return 0;
}

static int conn_made(tw_protocol *p)
{
    tw__http_conn *c = p->user;
    tw_http_server *s = c->s;
    c->t = p->transport;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (s->connections >= s->opt.max_connections) {
        c->closing = true;
        tw__http_respond_status(s, c->t, NULL, 503, false);
        if (tw__http_batch_flush(&s->batch, c->t) < 0)
            tw_transport_abort_connection(c->t);
        tw__http_access_log_flush(&s->log);
        tw_transport_lose_connection(c->t);
        return 0;
    }
    c->counted = true;
    s->connections++;
    arm(c, s->opt.head_timeout, false);
    return 0;
}

/* Drops body bytes still owed by the last request; returns how many of len it took. */
static size_t discard_body(tw__http_conn *c, size_t len)
{
    size_t n = c->discard < len ? (size_t)c->discard : len;
    c->discard -= n;
    return n;
}

/* One head at data[0..len): answers it and says how many bytes it consumed (0: incomplete). */
static size_t one_request(tw__http_conn *c, const char *data, size_t len)
{
    tw__http_request req;
    ssize_t n = tw__http_parse(&c->parser, data, len, &req);
    if (n == 0)
        return 0;
    if (n < 0) {
        tw__http_respond_status(c->s, c->t, &req, req.status, false);
        c->closing = true;
        return len;
    }
    if (!tw__http_respond(c->s, c->t, &req)) {
        c->closing = true;
        return len;
    }
    c->discard = req.body_len;
    return (size_t)n + discard_body(c, len - (size_t)n);
}

/* After the loop: what the timer waits for now. A head still incomplete keeps the deadline it
 * has, unless it began in this call (the timer was idle, or a request was answered before it);
 * otherwise, and while requests are held back for a full write buffer, the idle timeout runs. */
static void rearm(tw__http_conn *c, bool head_pending, bool head_new, bool held)
{
    if (c->closing)
        disarm(c);
    else if (held || !head_pending)
        arm(c, c->s->opt.idle_timeout, true);
    else if (head_new || !c->timer)
        arm(c, c->s->opt.head_timeout, false);
}

/* Is the write buffer above the transport's high mark once the batch is written? Then the
 * transport has paused its reading and presents the rest again when it drains. */
static bool write_buffer_full(tw__http_conn *c)
{
    tw__http_batch *b = &c->s->batch;
    if (tw_transport_write_buffer_size(c->t) + b->bytes <= TW_TRANSPORT_HIGH_WATER_DEFAULT)
        return false;
    if (tw__http_batch_flush(b, c->t) < 0)
        tw_transport_abort_connection(c->t);
    return tw_transport_write_buffer_size(c->t) > TW_TRANSPORT_HIGH_WATER_DEFAULT;
}

static ssize_t conn_data(tw_protocol *p, const char *data, size_t len)
{
    tw__http_conn *c = p->user;
    tw_http_server *s = c->s;
    if (!s || c->closing || tw_transport_disconnecting(c->t))
        return (ssize_t)len;
    bool head_new = c->idle;
    size_t off = discard_body(c, len);
    bool held = false;
    while (off < len && !c->closing && !c->discard && !tw_transport_disconnecting(c->t)) {
        if ((held = write_buffer_full(c)))
            break;
        size_t n = one_request(c, data + off, len - off);
        if (!n)
            break;
        off += n;
        head_new = true;
    }
    if (tw__http_batch_flush(&s->batch, c->t) < 0)
        tw_transport_abort_connection(c->t);
    tw__http_access_log_flush(&s->log);
    if (c->closing)
        tw_transport_lose_connection(c->t);
    rearm(c, off < len, head_new, held);
    return (ssize_t)off;
}

static void conn_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    tw__http_conn *c = p->user;
    disarm(c);
    tw_http_server *s = c->s;
    if (!s)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted)
        s->connections--;
    c->s = NULL;
}

static void conn_destroy(tw_protocol *p)
{
    free(p->user);
}

const tw_protocol_ops tw__http_conn_ops = {
    .connection_made = conn_made,
    .data_received = conn_data,
    .connection_lost = conn_lost,
    .destroy = conn_destroy,
};
