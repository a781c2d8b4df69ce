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

/* Interest and readiness bits. */
#define TW_BE_READ 1u
#define TW_BE_WRITE 2u
/* Readiness only: the fd is not open any more (closed behind the reactor's back: POLLNVAL, EBADF).
 * The core logs it and removes the fd's watchers instead of calling them on every turn. */
#define TW_BE_INVALID 4u

/* One ready fd. gen is the generation the core passed to update() for this fd's current
 * registration; the core drops events whose gen is stale. mask: TW_BE_READ|TW_BE_WRITE, or
 * TW_BE_INVALID. Error and hang-up conditions are reported as both READ and WRITE (the I/O call then
 * tells which it was). */
typedef struct {
    int fd;
    uint32_t gen;
    unsigned mask;
} tw_ready;

typedef struct tw_backend tw_backend;

/* Creates the kernel object (epoll fd, kqueue, or nothing for poll/select), close-on-exec. */
int tw__backend_new(tw_backend **out);
void tw__backend_free(tw_backend *b);

/* Can this backend watch fd at all? 0, or -EMFILE (select: fd >= FD_SETSIZE). Called when a watcher
 * is added, so the error reaches the caller of tw_reactor_add_reader/writer. */
int tw__backend_check_fd(const tw_backend *b, int fd);

/* Changes the kernel interest of fd from old_mask to new_mask (either may be 0). gen travels with the
 * fd's events until the next update. Returns 0 or a negative errno (the core logs it and drops the
 * fd's watchers). An fd the kernel cannot poll (a regular file under epoll) is reported ready on
 * every poll, as poll() and select() would. */
int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask, uint32_t gen);

/* Waits up to timeout_ns (-1: forever, 0: do not block) and fills at most max entries of out.
 * Returns the number filled, 0 on timeout or EINTR, or a negative errno for a real failure. */
int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max);

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
