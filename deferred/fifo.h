/* Private to deferred/: a small FIFO of (pointer, destructor) slots, for the waiters of semaphores
 * and queues and for a queue's pending values. Grows on demand; removal from the middle is O(n),
 * which is what cancelling a waiter needs. */
#ifndef TWINE_DEFERRED_FIFO_H
#define TWINE_DEFERRED_FIFO_H

#include <stdbool.h>
#include <stddef.h>

#include <twine/deferred.h>

typedef struct tw_fifo_slot {
    void *ptr;
    tw_destructor destroy;
} tw_fifo_slot;

typedef struct tw_fifo {
    tw_fifo_slot *slots;
    size_t head, len, cap;
} tw_fifo;

/* 0 or -ENOMEM. */
int tw__fifo_push(tw_fifo *f, void *ptr, tw_destructor destroy) TW__MUST_CHECK;
/* The oldest slot, removed; {NULL, NULL} when empty. */
tw_fifo_slot tw__fifo_pop(tw_fifo *f);
/* Removes the first slot holding ptr; false if there is none. */
bool tw__fifo_remove(tw_fifo *f, const void *ptr);
/* Frees the storage (not what the slots point to). */
void tw__fifo_free(tw_fifo *f);

#endif
