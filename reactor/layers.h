/* What the reactor offers the layers above it inside libtwine, beyond the public API: per-reactor
 * state slots (the endpoints' network context, say), so that no layer needs a process-wide
 * registry, and calls from threads that are told when they are dropped. Private to libtwine. */
#ifndef TWINE_REACTOR_LAYERS_H
#define TWINE_REACTOR_LAYERS_H

#include "twine/reactor.h"

typedef enum { TW_SLOT_NET, TW_SLOT_COOPERATOR, TW_SLOT_COUNT } tw_reactor_slot_id;

/* The layer's pointer, NULL until set. The layer owns what it points to. */
void *tw__reactor_slot(const tw_reactor *r, tw_reactor_slot_id id);
/* release, if not NULL, runs first thing in tw_reactor_free while the slot is set, so the layer can
 * close what it still has open (it may clear the slot meanwhile). */
void tw__reactor_set_slot(tw_reactor *r, tw_reactor_slot_id id, void *data,
                          void (*release)(void *data));

/* tw_call_from_thread, plus drop(arg) when the call is dropped unrun (the reactor is freed first),
 * in the thread that frees the reactor. A call refused with an error is not dropped: the caller
 * keeps arg. For work handed back from pool threads, whose results would otherwise leak at
 * tw_reactor_free. */
int tw__call_from_thread_dropping(tw_reactor *r, tw_fn fn, void (*drop)(void *arg),
                                  void *arg) TW__MUST_CHECK;

/* The reactor's clock read now, not the turn's cached time (tw_reactor_now): for work that measures
 * time inside one turn (a cooperator's time slice, a looping call's next grid point). */
int64_t tw__reactor_clock(const tw_reactor *r);

/* Closes an fd twine opened itself (a socket, a listener), as tw_reactor_close_fd does, but without
 * taking its registration back from the kernel first when nothing else can hold its open file: the
 * kernel drops the registration with the last descriptor, so the epoll_ctl would be wasted (one
 * syscall per connection). It is still taken back when the fd may be shared: its number was handed
 * out (tw__reactor_share_fd), or the process has forked since the reactor was made. */
int tw__reactor_close_own_fd(tw_reactor *r, int fd) TW__MUST_CHECK;
/* fd's number is about to be handed to the user (tw_transport_fd), who may dup it: from now until
 * it is closed, closing it takes its registration back from the kernel first. */
void tw__reactor_share_fd(tw_reactor *r, int fd);

#endif
