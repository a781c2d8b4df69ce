/* What the reactor offers the layers above it inside libtwine, beyond the public API: per-reactor
 * state slots (the endpoints' network context, say), so that no layer needs a process-wide registry,
 * and calls from threads that are told when they are dropped. Private to libtwine. */
#ifndef TWINE_REACTOR_LAYERS_H
#define TWINE_REACTOR_LAYERS_H

#include "twine/reactor.h"

typedef enum { TW_SLOT_NET, TW_SLOT_COUNT } tw_reactor_slot_id;

/* The layer's pointer, NULL until set. The layer owns what it points to. */
void *tw_reactor_slot(const tw_reactor *r, tw_reactor_slot_id id);
/* release, if not NULL, runs first thing in tw_reactor_free while the slot is set, so the layer can
 * close what it still has open (it may clear the slot meanwhile). */
void tw_reactor_set_slot(tw_reactor *r, tw_reactor_slot_id id, void *data, void (*release)(void *data));

/* How many entries a table indexed by fd needs to hold fd. Doubling up to TW_FD_TABLE_STEP, then
 * steps of it: a doubled table is zeroed (touched) far past the highest fd, which would cost every
 * connection of a busy server a third more memory than it uses. */
#define TW_FD_TABLE_STEP 1024
static inline int tw_fd_table_size(int fd)
{
    if (fd >= TW_FD_TABLE_STEP)
        return (fd / TW_FD_TABLE_STEP + 1) * TW_FD_TABLE_STEP;
    int n = 64;
    while (n <= fd)
        n *= 2;
    return n;
}

/* tw_call_from_thread, plus drop(arg) when the call is dropped unrun (the reactor is freed first), in
 * the thread that frees the reactor. A call refused with an error is not dropped: the caller keeps arg.
 * For work handed back from pool threads, whose results would otherwise leak at tw_reactor_free. */
int tw_call_from_thread_dropping(tw_reactor *r, tw_fn fn, void (*drop)(void *arg), void *arg);

#endif
