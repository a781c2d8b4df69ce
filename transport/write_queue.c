/* A stream transport's write queue: chunks of copied bytes (small writes share one) and lent
 * buffers, drained by sendmsg() over up to TW_TRANSPORT_IOV_MAX of them at a time. SIGPIPE never
 * fires: every send carries MSG_NOSIGNAL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/write_queue.h"
#include "twine/transport.h"

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

ssize_t tw__wq_send(int fd, const struct iovec *iov, int cnt)
{
    if (cnt > TW_TRANSPORT_IOV_MAX)
        cnt = TW_TRANSPORT_IOV_MAX;
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
    ssize_t n;
    do
        n = cnt == 1 ? send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
                     : sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) /* stdout of a stdio transport: a pipe, file or terminal */
        n = tw__write_unsignalled(fd, iov, cnt);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -errno;
}

static void append(tw_write_queue *q, tw_wchunk *c)
{
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->size += c->len;
}

static int copy_one(tw_write_queue *q, const char *data, size_t len)
{
    tw_wchunk *last = q->tail;
    if (last && !last->lent && last->room >= len) {
        memcpy((char *)last->data + last->len, data, len);
        last->len += len;
        last->room -= len;
        q->size += len;
        return 0;
    }
    size_t cap = len < TW_WCHUNK_MIN ? TW_WCHUNK_MIN : len;
    tw_wchunk *c = malloc(sizeof *c + cap);
    if (!c)
        return -ENOMEM;
    *c = (tw_wchunk){.len = len, .room = cap - len}; /* before the copy: may write into own[] */
    c->data = c->own;
    memcpy(c->own, data, len);
    append(q, c);
    return 0;
}

int tw__wq_copy(tw_write_queue *q, const struct iovec *iov, int cnt, size_t skip)
{
    for (int i = 0; i < cnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        int rc = copy_one(q, (const char *)iov[i].iov_base + skip, len - skip);
        if (rc < 0)
            return rc;
        skip = 0;
    }
    return 0;
}

int tw__wq_lend(tw_write_queue *q, const void *buf, size_t len, void (*release)(void *arg),
                void *arg)
{
    tw_wchunk *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (tw_wchunk){.data = buf, .len = len, .release = release, .arg = arg, .lent = true};
    append(q, c);
    return 0;
}

static void chunk_free(tw_wchunk *c)
{
    if (c->lent && c->release)
        c->release(c->arg);
    free(c);
}

void tw__wq_drop(tw_write_queue *q)
{
    tw_wchunk *c = q->head;
    q->head = q->tail = NULL;
    q->size = 0;
    while (c) {
        tw_wchunk *next = c->next;
        chunk_free(c);
        c = next;
    }
}

/* Takes n sent bytes off the front. */
static void consume(tw_write_queue *q, size_t n)
{
    q->size -= n;
    while (n > 0 && q->head) { /* a release that dropped the queue has emptied it already */
        tw_wchunk *c = q->head;
        size_t k = n < c->len ? n : c->len;
        c->data += k;
        c->len -= k;
        n -= k;
        if (c->len > 0)
            break;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        chunk_free(c);
    }
}

int tw__wq_flush(tw_write_queue *q, int fd)
{
    struct iovec iov[TW_TRANSPORT_IOV_MAX];
    while (q->head) {
        int cnt = 0;
        size_t want = 0;
        for (tw_wchunk *c = q->head; c && cnt < TW_TRANSPORT_IOV_MAX; c = c->next) {
            iov[cnt++] = (struct iovec){.iov_base = (void *)c->data, .iov_len = c->len};
            want += c->len;
        }
        ssize_t n = tw__wq_send(fd, iov, cnt);
        if (n < 0)
            return (int)n;
        consume(q, (size_t)n);
        if ((size_t)n < want)
            break;
    }
    return 0;
}
