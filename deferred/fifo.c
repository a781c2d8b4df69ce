/* The FIFO behind semaphore and queue waiters and queue values: a ring buffer of slots that doubles
 * when full. See fifo.h. */
#include "fifo.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define FIFO_INITIAL_CAP 8

static tw_fifo_slot *fifo_at(tw_fifo *f, size_t i)
{
    return &f->slots[(f->head + i) % f->cap];
}

static int fifo_grow(tw_fifo *f)
{
    size_t cap = f->cap ? f->cap * 2 : FIFO_INITIAL_CAP;
    if (cap > SIZE_MAX / sizeof(tw_fifo_slot))
        return -ENOMEM;
    tw_fifo_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < f->len; i++)
        slots[i] = *fifo_at(f, i);
    free(f->slots);
    f->slots = slots;
    f->cap = cap;
    f->head = 0;
    return 0;
}

int tw__fifo_push(tw_fifo *f, void *ptr, tw_destructor destroy)
{
    if (f->len == f->cap) {
        int rc = fifo_grow(f);
        if (rc < 0)
            return rc;
    }
    *fifo_at(f, f->len) = (tw_fifo_slot){ptr, destroy};
    f->len++;
    return 0;
}

tw_fifo_slot tw__fifo_pop(tw_fifo *f)
{
    tw_fifo_slot slot = {NULL, NULL};
    if (f->len == 0)
        return slot;
    slot = f->slots[f->head];
    f->head = (f->head + 1) % f->cap;
    f->len--;
    return slot;
}

bool tw__fifo_remove(tw_fifo *f, const void *ptr)
{
    for (size_t i = 0; i < f->len; i++) {
        if (fifo_at(f, i)->ptr != ptr)
            continue;
        for (size_t j = i; j + 1 < f->len; j++)
            *fifo_at(f, j) = *fifo_at(f, j + 1);
        f->len--;
        return true;
    }
    return false;
}

void tw__fifo_free(tw_fifo *f)
{
    free(f->slots);
    f->slots = NULL;
    f->head = f->len = f->cap = 0;
}
