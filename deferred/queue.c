/* Twisted's DeferredQueue: put() hands a value to the oldest waiting get() or keeps it; get()
 * returns a deferred, fired at once when a value waits. Optional limits on kept values (size) and
 * waiting getters (backlog) turn into TW_EOVERFLOW / TW_EUNDERFLOW. */
#include "deferred_private.h"
#include "fifo.h"

#include <errno.h>
#include <stdlib.h>

struct tw_queue {
    tw_reactor *reactor;
    size_t size;
    size_t backlog;
    tw_fifo pending; /* values with their destructors */
    tw_fifo waiting; /* getters' deferreds, each holding a reference */
};

tw_queue *tw_queue_new(tw_reactor *r, size_t size, size_t backlog, int *err)
{
    tw_queue *q = calloc(1, sizeof *q);
    if (!q) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    q->reactor = r;
    q->size = size;
    q->backlog = backlog;
    return q;
}

void tw_queue_free(tw_queue *q)
{
    if (!q)
        return;
    while (q->waiting.len > 0) {
        tw_deferred *d = tw__fifo_pop(&q->waiting).ptr;
        tw_deferred_cancel(d);
        tw_deferred_unref(d);
    }
    while (q->pending.len > 0) {
        tw_fifo_slot slot = tw__fifo_pop(&q->pending);
        if (slot.destroy)
            slot.destroy(slot.ptr);
    }
    tw__fifo_free(&q->waiting);
    tw__fifo_free(&q->pending);
    free(q);
}

int tw_queue_put(tw_queue *q, void *value, tw_destructor destroy)
{
    if (!q)
        return -EINVAL;
    /* The first waiting getter takes it; one its owner fired by hand is skipped. */
    while (q->waiting.len > 0) {
        tw_deferred *d = tw__fifo_pop(&q->waiting).ptr;
        int rc = tw_deferred_callback(d, value, destroy);
        tw_deferred_unref(d);
        if (rc == 0)
            return 0;
    }
    if (q->pending.len >= q->size)
        return TW_EOVERFLOW;
    return tw__fifo_push(&q->pending, value, destroy);
}

/* The canceller of a waiting get: leave the queue. */
static void queue_cancel_get(tw_deferred *d, void *arg)
{
    tw_queue *q = arg;
    if (tw__fifo_remove(&q->waiting, d))
        tw_deferred_unref(d);
}

tw_deferred *tw_queue_get(tw_queue *q, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!q) {
        *err = -EINVAL;
        return NULL;
    }
    if (q->pending.len == 0 && q->waiting.len >= q->backlog) {
        *err = TW_EUNDERFLOW;
        return NULL;
    }
    tw_deferred *d = tw_deferred_new_with_canceller(q->reactor, queue_cancel_get, q, err);
    if (!d)
        return NULL;
    if (q->pending.len > 0) {
        tw_fifo_slot slot = tw__fifo_pop(&q->pending);
        tw_deferred_callback(d, slot.ptr, slot.destroy);
        return d;
    }
    int rc = tw__fifo_push(&q->waiting, tw_deferred_ref(d), NULL);
    if (rc < 0) {
        tw_deferred_unref(d);
        tw_deferred_unref(d);
        *err = rc;
        return NULL;
    }
    return d;
}

size_t tw_queue_pending(const tw_queue *q)
{
    return q ? q->pending.len : 0;
}

size_t tw_queue_waiting(const tw_queue *q)
{
    return q ? q->waiting.len : 0;
}
