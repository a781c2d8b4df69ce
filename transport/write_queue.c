/* A stream transport's write queue: chunks of copied bytes (small writes share one), lent
 * buffers and lent file regions, drained by sendmsg() over up to TW_TRANSPORT_IOV_MAX buffers at a
 * time and by sendfile() for a file region at the front. SIGPIPE never fires: every send carries
 * MSG_NOSIGNAL (sendfile to a socket raises none in Linux's splice path either). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#include "transport/write_queue.h"
#include "twine/transport.h"

/* A queued buffer. Copies live in own[] (with room left to append small writes); lent buffers
 * point at the caller's memory and lent file regions at the caller's file (fd, off), and both are
 * handed back through release. */
struct tw_wchunk {
    tw_wchunk *next;
    const char *data; /* first unsent byte (memory only) */
    size_t len;       /* unsent bytes */
    size_t room;      /* free bytes after data + len in own[] (copies only) */
    void (*release)(void *arg);
    void *arg;
    uint64_t off; /* first unsent byte in the file (file regions only) */
    int fd;       /* the file, or -1 for memory */
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
    *c = (tw_wchunk){.len = len, .room = cap - len, .fd = -1}; /* before the copy into own[] */
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
    *c = (tw_wchunk){
        .data = buf, .len = len, .release = release, .arg = arg, .fd = -1, .lent = true};
    append(q, c);
    return 0;
}

int tw__wq_file(tw_write_queue *q, int fd, uint64_t off, size_t len, void (*release)(void *arg),
                void *arg)
{
    tw_wchunk *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (tw_wchunk){
        .len = len, .release = release, .arg = arg, .off = off, .fd = fd, .lent = true};
    append(q, c);
    return 0;
}

/* One sendfile: bytes sent, 0 when out would block, -ENOSYS where sendfile cannot be used here
 * (the file system, the descriptor kinds or the platform refuse it), or a negative errno. */
static ssize_t sendfile_once(int out, int fd, uint64_t off, size_t len)
{
#ifdef __linux__
    off_t o = (off_t)off;
    ssize_t n;
    do
        n = sendfile(out, fd, &o, len > (1u << 30) ? (1u << 30) : len);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n == 0 ? TW__WQ_SHORT_FILE : n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
        return -ENOSYS;
    return -errno;
#else
    (void)out, (void)fd, (void)off, (void)len;
    return -ENOSYS;
#endif
}

/* Reads one bounded piece and sends it; what the kernel does not take is read again next time,
 * so nothing of the file stays in memory. */
static ssize_t pread_once(int out, int fd, uint64_t off, size_t len)
{
    char buf[TW__WQ_FILE_BUF];
    ssize_t n;
    do
        n = pread(fd, buf, len < sizeof buf ? len : sizeof buf, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return TW__WQ_SHORT_FILE;
    struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
    return tw__wq_send(out, &iov, 1);
}

int tw__wq_send_file(int out, int fd, uint64_t *off, size_t *len)
{
    bool use_sendfile = true;
    while (*len > 0) {
        ssize_t n = use_sendfile ? sendfile_once(out, fd, *off, *len) : -ENOSYS;
        if (n == -ENOSYS) {
            use_sendfile = false;
            n = pread_once(out, fd, *off, *len);
        }
        if (n <= 0)
            return (int)n;
        *off += (uint64_t)n;
        *len -= (size_t)n;
    }
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
        if (c->fd >= 0)
            c->off += k;
        else
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

/* A file region at the front: as much of it as out takes. */
static int flush_file(tw_write_queue *q, int out)
{
    tw_wchunk *c = q->head;
    uint64_t off = c->off;
    size_t left = c->len;
    int rc = tw__wq_send_file(out, c->fd, &off, &left);
    size_t sent = c->len - left;
    if (sent > 0)
        consume(q, sent); /* may release the region, and the release may drop the queue */
    if (rc < 0)
        return rc;
    return left > 0 ? 1 : 0;
}

int tw__wq_flush(tw_write_queue *q, int fd)
{
    struct iovec iov[TW_TRANSPORT_IOV_MAX];
    while (q->head) {
        if (q->head->fd >= 0) {
            int rc = flush_file(q, fd);
            if (rc != 0)
                return rc < 0 ? rc : 0;
            continue;
        }
        int cnt = 0;
        size_t want = 0;
        for (tw_wchunk *c = q->head; c && c->fd < 0 && cnt < TW_TRANSPORT_IOV_MAX; c = c->next) {
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
