/* The write side of stream transports: send at once when nothing is queued, queue only what the
 * kernel did not take (copied, or lent by the caller), wait for writability only then, and apply
 * back-pressure to the registered producer (or to the transport's own reading) between the water
 * marks. SIGPIPE never fires: every send is a send() or sendmsg() with MSG_NOSIGNAL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/net.h"

/* A queued buffer. Copies live in own[] (with room left to append small writes); lent buffers
 * point at the caller's memory and are handed back through release. */
struct tw_wchunk {
    tw_wchunk *next;
    const char *data; /* first unsent byte */
    size_t len;       /* unsent bytes */
    size_t room;      /* free bytes after data + len in own[] (copies only) */
    void (*release)(void *arg);
    void *arg;
    bool lent;
    char own[];
};

/* Copies smaller than this get a chunk of this size, so a run of small writes shares one chunk. */
#define TW_WCHUNK_MIN 4096

static size_t queued(const tw_transport *t)
{
    return t->ext ? t->ext->queued : 0;
}

size_t tw_transport_write_buffer_size(const tw_transport *t)
{
    return t ? queued(t) : 0;
}

static void chunk_free(tw_wchunk *c)
{
    if (c->lent && c->release)
        c->release(c->arg);
    free(c);
}

void tw__stream_drop_queue(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (!e)
        return;
    tw_wchunk *c = e->head;
    e->head = e->tail = NULL;
    e->queued = 0;
    while (c) {
        tw_wchunk *next = c->next;
        chunk_free(c);
        c = next;
    }
}

static void append_chunk(tw_stream_ext *e, tw_wchunk *c)
{
    if (e->tail)
        e->tail->next = c;
    else
        e->head = c;
    e->tail = c;
    e->queued += c->len;
}

static int queue_copy(tw_transport *t, const char *data, size_t len)
{
    tw_stream_ext *e = tw__stream_ext_get(t);
    if (!e)
        return -ENOMEM;
    tw_wchunk *last = e->tail;
    if (last && !last->lent && last->room >= len) {
        memcpy((char *)last->data + last->len, data, len);
        last->len += len;
        last->room -= len;
        e->queued += len;
        return 0;
    }
    size_t cap = len < TW_WCHUNK_MIN ? TW_WCHUNK_MIN : len;
    tw_wchunk *c = malloc(sizeof *c + cap);
    if (!c)
        return -ENOMEM;
    *c = (tw_wchunk){.len = len, .room = cap - len}; /* before the copy: may write into own[] */
    c->data = c->own;
    memcpy(c->own, data, len);
    append_chunk(e, c);
    return 0;
}

static int queue_lent(tw_transport *t, const char *buf, size_t len, void (*release)(void *),
                      void *arg)
{
    tw_stream_ext *e = tw__stream_ext_get(t);
    tw_wchunk *c = e ? malloc(sizeof *c) : NULL;
    if (!c)
        return -ENOMEM;
    *c = (tw_wchunk){.data = buf, .len = len, .release = release, .arg = arg, .lent = true};
    append_chunk(e, c);
    return 0;
}

/* One send (sendmsg for several buffers): bytes the kernel took, 0 when it would block, or a
 * negative errno. */
static ssize_t send_vec(int fd, const struct iovec *iov, int cnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
    ssize_t n;
    do
        n = cnt == 1 ? send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
                     : sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -errno;
}

static void arm_writer(tw_transport *t)
{
    if (t->flags & TW_T_WRITING)
        return;
    if (tw_reactor_add_writer(t->net->r, t->fd, tw__stream_on_writable, t) == 0)
        t->flags |= TW_T_WRITING;
    else
        tw__stream_request_close(t, TW_CLOSE_LOST, -ENOMEM, "write");
}

static void disarm_writer(tw_transport *t)
{
    if (!(t->flags & TW_T_WRITING))
        return;
    tw_reactor_remove_writer(t->net->r, t->fd);
    t->flags &= ~(uint32_t)TW_T_WRITING;
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
    if (!e || e->queued <= e->high_water)
        return;
    if (e->has_producer) {
        if (e->streaming && !e->producer_paused) {
            e->producer_paused = true;
            call_producer(t, e->producer.ops->pause_producing, "pause_producing");
        }
    } else if ((t->flags & TW_T_SELF_PAUSE) && !(t->flags & TW_T_PAUSED_FULL)) {
        t->flags |= TW_T_PAUSED_FULL;
        tw__stream_update_reading(t);
    }
}

/* At or below the low mark: resume whatever pressure_check paused. */
static void relief_check(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (e && e->queued > e->low_water)
        return;
    if (t->flags & TW_T_PAUSED_FULL) {
        t->flags &= ~(uint32_t)TW_T_PAUSED_FULL;
        tw__stream_update_reading(t);
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
    const uint32_t stop = TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING | TW_T_WRITE_SHUT;
    return (t->flags & TW_T_CONNECTED) && !(t->flags & stop);
}

/* Queues iov[from..cnt) after skipping `skip` bytes of it (what the kernel already took). */
static int queue_rest(tw_transport *t, const struct iovec *iov, int cnt, size_t skip)
{
    for (int i = 0; i < cnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        int rc = queue_copy(t, (const char *)iov[i].iov_base + skip, len - skip);
        if (rc < 0)
            return rc;
        skip = 0;
    }
    return 0;
}

/* A pull producer is asked for more at every drain of the buffer (Twisted's doWrite). A write that
 * went out at once never queued anything, so wait for writability anyway: asking again from inside
 * the producer's own write would recurse. */
static void ask_pull_producer_later(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (e && e->has_producer && !e->streaming && can_write(t))
        arm_writer(t);
}

/* What the kernel did not take is queued (rc: how queueing went): wait for writability, and press
 * back on whoever writes so much. */
static int wait_for_writable(tw_transport *t, int rc)
{
    if (rc < 0) {
        tw__stream_request_close(t, TW_CLOSE_LOST, rc, "write");
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
    ssize_t n = send_vec(t->fd, iov, cnt < TW_TRANSPORT_IOV_MAX ? cnt : TW_TRANSPORT_IOV_MAX);
    if (n < 0) {
        tw__stream_request_close(t, TW_CLOSE_LOST, (int)n, "write");
        return total; /* dropped with the connection */
    }
    return (size_t)n;
}

int tw_transport_write_sequence(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!t || iovcnt < 0 || (iovcnt > 0 && !iov))
        return -EINVAL;
    if (!can_write(t))
        return -ENOTCONN;
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
    return wait_for_writable(t, queue_rest(t, iov, iovcnt, sent));
}

int tw_transport_write(tw_transport *t, const void *data, size_t len)
{
    if (len > 0 && !data)
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    /* The common case, a connection with nothing queued and no producer: one send, and a partial
     * write queues the rest without trying the kernel again. */
    if (t && !t->ext && len > 0 && can_write(t)) {
        ssize_t n = send_vec(t->fd, &iov, 1);
        if (n < 0) {
            tw__stream_request_close(t, TW_CLOSE_LOST, (int)n, "write");
            return 0;
        }
        if ((size_t)n == len)
            return 0;
        return wait_for_writable(t, queue_copy(t, (const char *)data + n, len - (size_t)n));
    }
    return tw_transport_write_sequence(t, &iov, 1);
}

int tw_transport_write_lent(tw_transport *t, const void *buf, size_t len, void (*release)(void *),
                            void *arg)
{
    if (!t || (len > 0 && !buf))
        return -EINVAL;
    if (!can_write(t))
        return -ENOTCONN;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    size_t sent = len ? try_send_now(t, &iov, 1, len) : 0;
    if (sent == len || !can_write(t)) {
        if (release)
            release(arg);
        if (len)
            ask_pull_producer_later(t);
        return 0;
    }
    /* Out of memory: buf stays the caller's (release does not run) and the connection closes: what
     * the caller writes next must not follow a hole in the stream. */
    return wait_for_writable(t, queue_lent(t, (const char *)buf + sent, len - sent, release, arg));
}

/* Takes n sent bytes off the front of the queue. */
static void consume(tw_stream_ext *e, size_t n)
{
    e->queued -= n;
    while (n > 0 && e->head) { /* a release that aborts has emptied the queue already */
        tw_wchunk *c = e->head;
        size_t k = n < c->len ? n : c->len;
        c->data += k;
        c->len -= k;
        n -= k;
        if (c->len > 0)
            break;
        e->head = c->next;
        if (!e->head)
            e->tail = NULL;
        chunk_free(c);
    }
}

/* Sends from the queue until it is empty or the kernel pushes back. 0, or a negative errno. */
static int flush(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    struct iovec iov[TW_TRANSPORT_IOV_MAX];
    while (e->head) {
        int cnt = 0;
        size_t want = 0;
        for (tw_wchunk *c = e->head; c && cnt < TW_TRANSPORT_IOV_MAX; c = c->next) {
            iov[cnt++] = (struct iovec){.iov_base = (void *)c->data, .iov_len = c->len};
            want += c->len;
        }
        ssize_t n = send_vec(t->fd, iov, cnt);
        if (n < 0)
            return (int)n;
        consume(e, (size_t)n);
        if ((size_t)n < want)
            break;
    }
    return 0;
}

static void resume_pull_producer(tw_transport *t)
{
    tw_stream_ext *e = t->ext;
    if (e && e->has_producer && !e->streaming)
        call_producer(t, e->producer.ops->resume_producing, "resume_producing");
}

int tw__stream_on_writable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    tw_transport *t = arg;
    const uint32_t closing = TW_T_CLOSE_PENDING | TW_T_ABORTING;
    tw__stream_dispatch_begin(t);
    int rc = !(t->flags & closing) && t->ext && t->ext->head ? flush(t) : 0;
    if (rc < 0)
        tw__stream_request_close(t, TW_CLOSE_LOST, rc, "write");
    bool drained = !t->ext || !t->ext->head;
    if (rc < 0 || drained || (t->flags & closing))
        disarm_writer(t);
    if (!(t->flags & closing)) { /* a release run by flush may have aborted */
        relief_check(t);
        if (drained)
            resume_pull_producer(t);
    }
    tw__stream_dispatch_end(t);
    return 0;
}

/* ---- consumer: producers registered with this transport ----------------------------------------- */

int tw_transport_register_producer(tw_transport *t, const tw_producer *producer, bool streaming)
{
    if (!t || !producer || !producer->ops)
        return -EINVAL;
    if (t->ext && t->ext->has_producer)
        return -EBUSY;
    if (t->flags & (TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING))
        return -ENOTCONN; /* unlike Twisted, nothing is called: an error return runs no callback */
    tw_stream_ext *e = tw__stream_ext_get(t);
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
    if (!t || !t->ext || !t->ext->has_producer)
        return;
    t->ext->has_producer = false;
    t->ext->producer_paused = false;
    pressure_check(t); /* the transport's own reading takes the producer's place */
    if (t->flags & (TW_T_DISCONNECTING | TW_T_WRITE_CLOSING))
        tw__stream_settle_later(t); /* the close or half-close that waited for the producer */
    if (t->ext && !(t->flags & TW_T_IN_DISPATCH))
        tw__stream_ext_maybe_free(t);
}

int tw_transport_set_water_marks(tw_transport *t, size_t high, size_t low)
{
    if (!t || high == 0 || low > high)
        return -EINVAL;
    tw_stream_ext *e = tw__stream_ext_get(t);
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
    if (!t)
        return;
    if (on) {
        t->flags |= TW_T_SELF_PAUSE;
        pressure_check(t);
    } else {
        t->flags &= ~(uint32_t)TW_T_SELF_PAUSE;
        if (t->flags & TW_T_PAUSED_FULL) {
            t->flags &= ~(uint32_t)TW_T_PAUSED_FULL;
            tw__stream_update_reading(t);
        }
    }
}
