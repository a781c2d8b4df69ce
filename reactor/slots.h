/* Per-reactor state of the layers above the reactor (the endpoints' network context, say), kept in
 * the reactor itself so that no layer needs a process-wide registry. Private to libtwine. */
#ifndef TWINE_REACTOR_SLOTS_H
#define TWINE_REACTOR_SLOTS_H

#include "twine/reactor.h"

typedef enum { TW_SLOT_NET, TW_SLOT_COUNT } tw_reactor_slot_id;

/* The layer's pointer, NULL until set. The layer owns what it points to. */
void *tw_reactor_slot(const tw_reactor *r, tw_reactor_slot_id id);
/* release, if not NULL, runs first thing in tw_reactor_free while the slot is set, so the layer can
 * close what it still has open (it may clear the slot meanwhile). */
void tw_reactor_set_slot(tw_reactor *r, tw_reactor_slot_id id, void *data, void (*release)(void *data));

#endif
