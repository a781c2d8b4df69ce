/* A stream transport's write queue: the bytes the kernel did not take yet, copied or lent by the
 * caller, in order, and the sends that drain it. It knows sockets and memory, nothing of
 * transports: the transport decides when to queue, when to flush and what a failure means. */
#ifndef TWINE_TRANSPORT_WRITE_QUEUE_H
#define TWINE_TRANSPORT_WRITE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>

#include "twine/error.h"

typedef struct tw_wchunk tw_wchunk;

typedef struct tw_write_queue {
    tw_wchunk *head, *tail;
    size_t size; /* bytes queued */
} tw_write_queue;

/* One send (sendmsg for several buffers, at most TW_TRANSPORT_IOV_MAX of them) with MSG_NOSIGNAL
 * (writev on a descriptor that is no socket, as stdio's stdout may be: tw__write_unsignalled): the
 * bytes the kernel took, 0 when it would block, or a negative errno. */
ssize_t tw__wq_send(int fd, const struct iovec *iov, int cnt) TW__MUST_CHECK;
/* writev that never raises SIGPIPE (stdio.c): a write to a pipe nobody reads fails with EPIPE. */
ssize_t tw__write_unsignalled(int fd, const struct iovec *iov, int cnt);
/* Queues copies of iov[0..cnt) after skipping its first skip bytes (what the kernel took). 0, or
 * -ENOMEM (then part of it may be queued). */
int tw__wq_copy(tw_write_queue *q, const struct iovec *iov, int cnt, size_t skip) TW__MUST_CHECK;
/* Queues buf without copying it; release(arg) runs once it is sent or dropped. 0, or -ENOMEM (then
 * nothing is queued and release does not run). */
int tw__wq_lend(tw_write_queue *q, const void *buf, size_t len, void (*release)(void *arg),
                void *arg) TW__MUST_CHECK;
/* A file region lent to the queue: len bytes of fd from off, sent with sendfile(2) (or read in
 * TW__WQ_FILE_BUF pieces where sendfile cannot be used); release(arg) runs once it is sent or
 * dropped. 0, or -ENOMEM (then nothing is queued and release does not run). */
int tw__wq_file(tw_write_queue *q, int fd, uint64_t off, size_t len, void (*release)(void *arg),
                void *arg) TW__MUST_CHECK;
/* The error of a file that ended before its region did: the peer was promised those bytes. */
#define TW__WQ_SHORT_FILE (-EIO)
/* Bytes a file region may take in memory at a time where sendfile cannot be used. */
#define TW__WQ_FILE_BUF 16384
/* Sends the file region (*off, *len) to out until it is done or out would block, advancing both:
 * 0, TW__WQ_SHORT_FILE, or another negative errno. */
int tw__wq_send_file(int out, int fd, uint64_t *off, size_t *len) TW__MUST_CHECK;
/* Sends from the front until the queue is empty or the kernel pushes back: 0, or a negative errno.
 * A lent buffer's release may run from inside, and may drop the queue (tw__wq_drop): the flush then
 * stops cleanly. */
int tw__wq_flush(tw_write_queue *q, int fd) TW__MUST_CHECK;
/* Empties the queue, releasing lent buffers. */
void tw__wq_drop(tw_write_queue *q);

#endif
