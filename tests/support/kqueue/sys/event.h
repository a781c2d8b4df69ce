/* A stand-in for BSD's <sys/event.h> on Linux, so twine's kqueue backend compiles and runs here.
 * Declares the subset of kqueue(2)/kevent(2) that tests/support/kqueue/kqueue.c emulates on top of
 * poll(2): the read and write filters and the flags listed below, with the BSD names and
 * meanings. */
#ifndef TWINE_EMUL_SYS_EVENT_H
#define TWINE_EMUL_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;     /* the fd */
    short filter;        /* EVFILT_READ or EVFILT_WRITE */
    unsigned short flags;
    unsigned int fflags; /* unused by the emulated filters: always 0 on output */
    intptr_t data;       /* READ: bytes available where known; EV_ERROR: the errno */
    void *udata;         /* passed through unchanged */
};

#define EV_SET(kevp, a, b, c, d, e, f)                                                             \
    do {                                                                                           \
        struct kevent *ev_set_p_ = (kevp);                                                         \
        ev_set_p_->ident = (a);                                                                    \
        ev_set_p_->filter = (b);                                                                   \
        ev_set_p_->flags = (c);                                                                    \
        ev_set_p_->fflags = (d);                                                                   \
        ev_set_p_->data = (e);                                                                     \
        ev_set_p_->udata = (f);                                                                    \
    } while (0)

/* Filters. */
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

/* Actions and flags on input. */
#define EV_ADD 0x0001 /* add the event, or modify it if present; enables it unless EV_DISABLE */
#define EV_DELETE 0x0002   /* remove the event */
#define EV_ENABLE 0x0004   /* report it again */
#define EV_DISABLE 0x0008  /* keep it but do not report it */
#define EV_ONESHOT 0x0010  /* delete it after it has been reported once */
#define EV_CLEAR 0x0020    /* edge-triggered: not emulated, refused with EINVAL */
#define EV_RECEIPT 0x0040 /* always report the change's outcome as an EV_ERROR entry (data 0: ok) */
#define EV_DISPATCH 0x0080 /* not emulated, refused with EINVAL */

/* Flags on output. */
#define EV_ERROR 0x4000 /* the change failed: data holds the errno */
#define EV_EOF 0x8000   /* the peer hung up (or the fd is in error) */

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif
