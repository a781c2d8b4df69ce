/* The private interface between the reactor core and its one compiled-in backend
 * (backend_epoll.c, backend_kqueue.c, backend_poll.c or backend_select.c).
 *
 * The core keeps the wanted interest of every fd and calls tw__backend_update() only with changes,
 * once per fd per turn, just before tw__backend_poll(). The backend reports raw readiness; the core
 * filters it by generation and by what is wanted at dispatch time, so a backend never needs to know
 * about callbacks, closes or reuse within a turn. */
#ifndef TWINE_REACTOR_BACKEND_H
#define TWINE_REACTOR_BACKEND_H

#include <limits.h>
#include <stdint.h>

#include "twine/error.h"

/* Interest and readiness bits. */
#define TW_BE_READ 1u
#define TW_BE_WRITE 2u
/* Readiness only: the kernel refused or dropped the fd's registration, err says why (-EBADF: it was
 * closed behind the reactor's back, POLLNVAL; -ENOMEM: a kevent change failed, ...). The core logs
 * it, removes the fd's watchers and calls each one last time so that its owner hears of it. */
#define TW_BE_FAILED 4u

/* One ready fd. gen is the generation the core passed to update() for this fd's current
 * registration; the core drops events whose gen is stale. mask: TW_BE_READ|TW_BE_WRITE, or
 * TW_BE_FAILED with err. Error and hang-up conditions are reported as both READ and WRITE (the I/O
 * call then tells which it was). */
typedef struct {
    int fd;
    uint32_t gen;
    unsigned mask;
    int err; /* with TW_BE_FAILED: a negative errno; else 0 */
} tw_ready;

typedef struct tw_backend tw_backend;

/* Creates the kernel object (epoll fd, kqueue, or nothing for poll/select), close-on-exec. */
int tw__backend_new(tw_backend **out) TW__MUST_CHECK;
void tw__backend_free(tw_backend *b);

/* Can this backend watch fd at all? 0, or -EMFILE (select: fd >= FD_SETSIZE). Called when a watcher
 * is added, so the error reaches the caller of tw_reactor_add_reader/writer. */
int tw__backend_check_fd(const tw_backend *b, int fd) TW__MUST_CHECK;

/* Changes the kernel interest of fd from old_mask to new_mask (either may be 0). gen travels with
 * the fd's events until the next update. Returns 0 or a negative errno (the core logs it, removes
 * the fd's watchers and tells them why, as for TW_BE_FAILED). An fd the kernel cannot poll (a
 * regular file under epoll) is reported ready on every poll, as poll() and select() would. */
int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask,
                       uint32_t gen) TW__MUST_CHECK;

/* fd is about to be closed and no other descriptor shares its open file, so the kernel drops its
 * registration by itself: drop it from the backend's own books (regular files kept aside, the
 * poll and select sets, kqueue's queued changes) without a syscall of its own. */
void tw__backend_forget(tw_backend *b, int fd, unsigned old_mask, uint32_t gen);

/* Waits up to timeout_ns (-1: forever, 0: do not block) and fills at most max entries of out.
 * Returns the number filled, 0 on timeout or EINTR, or a negative errno for a real failure. */
int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max) TW__MUST_CHECK;

/* A wait in nanoseconds as the milliseconds of epoll_wait() and poll(): -1 stays -1 (forever), the
 * rest is rounded up (rounding down would wake the loop just before a timer is due and make it spin
 * through an empty turn) and clamped to INT_MAX. */
static inline int tw_backend_timeout_ms(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* "epoll", "kqueue", "poll", "select". */
const char *tw__backend_name(void);

#endif
