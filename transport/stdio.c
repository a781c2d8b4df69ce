/* stdin and stdout as one stream transport (Twisted's StandardIO): the transport reads a copy of
 * fd 0 and writes a copy of fd 1, both non-blocking while it lives and restored when it closes.
 * Pipes, sockets and terminals are watched by the reactor; a regular file (which epoll refuses
 * with EPERM) or a device such as /dev/null is always ready, so it is read and written once per
 * turn from a zero-delay call, never by blocking the loop. A write to a pipe nobody reads fails
 * with EPIPE instead of raising SIGPIPE. One stdio transport per reactor. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "transport/net.h"

enum { READ_SIDE, WRITE_SIDE };

struct tw__stdio {
    int fd[2];                   /* the copies of stdin and stdout; -1 once closed */
    int flags[2];                /* their file status flags as found, restored at close */
    struct stat original[2];     /* what fds 0 and 1 were, to let go of them at close */
    bool polled[2];              /* the reactor can watch it; else it is always ready */
    bool socket_out;             /* stdout is a socket: half-close with shutdown() */
    tw_delayed_call *ready[2];   /* the always-ready side's call for this turn */
    tw_io_fn fn[2];
    tw_transport *t;
};

static tw__stdio *stdio_of(const tw_transport *t)
{
    return t->net->stdio;
}

int tw__stdio_wfd(const tw_transport *t)
{
    return stdio_of(t)->fd[WRITE_SIDE];
}

/* ---- readiness ------------------------------------------------------------------------------- */

static int watch_always_ready(tw__stdio *s, int side, tw_reactor *r);

/* Ready again on the next turn unless the handler stops watching (or closes: then s is gone). */
static int ready_fired(tw__stdio *s, int side)
{
    s->ready[side] = NULL;
    tw_transport *t = s->t;
    int rc = watch_always_ready(s, side, t->net->r);
    if (rc < 0)
        return rc;
    return s->fn[side](t->net->r, s->fd[side], t);
}

static int read_ready(void *arg)
{
    return ready_fired(arg, READ_SIDE);
}

static int write_ready(void *arg)
{
    return ready_fired(arg, WRITE_SIDE);
}

static int watch_always_ready(tw__stdio *s, int side, tw_reactor *r)
{
    if (s->ready[side])
        return 0;
    int err = 0;
    s->ready[side] = tw_call_later(r, 0, side == READ_SIDE ? read_ready : write_ready, s, &err);
    return s->ready[side] ? 0 : err;
}

static void unwatch_always_ready(tw__stdio *s, int side)
{
    if (s->ready[side])
        tw_delayed_call_cancel(s->ready[side]);
    s->ready[side] = NULL;
}

int tw__stdio_watch(tw_transport *t, bool write, tw_io_fn fn)
{
    tw_reactor *r = t->net->r;
    tw__stdio *s = stdio_of(t);
    int side = write ? WRITE_SIDE : READ_SIDE;
    s->fn[side] = fn;
    if (!s->polled[side])
        return watch_always_ready(s, side, r);
    return write ? tw_reactor_add_writer(r, s->fd[side], fn, t)
                 : tw_reactor_add_reader(r, s->fd[side], fn, t);
}

void tw__stdio_unwatch(tw_transport *t, bool write)
{
    tw_reactor *r = t->net->r;
    tw__stdio *s = stdio_of(t);
    int side = write ? WRITE_SIDE : READ_SIDE;
    unwatch_always_ready(s, side);
    if (s->fd[side] < 0)
        return;
    if (write)
        tw_reactor_remove_writer(r, s->fd[side]);
    else
        tw_reactor_remove_reader(r, s->fd[side]);
}

/* ---- writing --------------------------------------------------------------------------------- */

/* writev, with a SIGPIPE it raises taken back (the process may not ignore SIGPIPE): the signal is
 * blocked around the call and, if the write raised it, consumed before it is unblocked. */
ssize_t tw__write_unsignalled(int fd, const struct iovec *iov, int cnt)
{
    sigset_t pipe_only, pending, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n;
    do
        n = writev(fd, iov, cnt);
    while (n < 0 && errno == EINTR);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

/* ---- closing --------------------------------------------------------------------------------- */

/* fd (0 or 1) is let go of: pointed at /dev/null, so the other end sees EOF (or EPIPE) now, not at
 * exit, while fd stays valid for whatever else the process prints. Only if it is still what it
 * was when the transport opened. */
static void let_go(int fd, const struct stat *original)
{
    struct stat now;
    if (fstat(fd, &now) < 0 || now.st_dev != original->st_dev || now.st_ino != original->st_ino)
        return;
    int null = open("/dev/null", (fd == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    if (null < 0)
        return;
    dup2(null, fd);
    close(null);
}

static void close_side(tw_transport *t, int side, bool release)
{
    tw__stdio *s = stdio_of(t);
    unwatch_always_ready(s, side);
    if (s->fd[side] < 0)
        return;
    fcntl(s->fd[side], F_SETFL, s->flags[side]);
    /* fds 0 and 1 hold the same files: the kernel would keep the registration, so take it back. */
    tw_reactor_close_fd(t->net->r, s->fd[side]);
    s->fd[side] = -1;
    if (release)
        let_go(side, &s->original[side]);
}

void tw__stdio_shut_write(tw_transport *t)
{
    tw__stdio *s = stdio_of(t);
    if (s->socket_out)
        shutdown(s->fd[WRITE_SIDE], SHUT_WR);
    else
        close_side(t, WRITE_SIDE, true);
}

void tw__stdio_close(tw_transport *t, bool started)
{
    tw__stdio *s = stdio_of(t);
    close_side(t, READ_SIDE, started);
    close_side(t, WRITE_SIDE, started);
    t->net->stdio = NULL;
    free(s);
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Pipes, sockets and terminals can be watched; regular files and other devices are always ready. */
static bool pollable(const struct stat *st, int fd)
{
    return S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode) || (S_ISCHR(st->st_mode) && isatty(fd));
}

/* Both sides' flags are read before either is changed: stdin and stdout are often one open file (a
 * terminal, a socket), whose flags are shared. */
static int open_side(tw__stdio *s, int side)
{
    if (fstat(side, &s->original[side]) < 0)
        return -errno;
    s->fd[side] = fcntl(side, F_DUPFD_CLOEXEC, 3);
    if (s->fd[side] < 0 || (s->flags[side] = fcntl(s->fd[side], F_GETFL)) < 0)
        return -errno;
    s->polled[side] = pollable(&s->original[side], s->fd[side]);
    return 0;
}

static int make_nonblocking(tw__stdio *s)
{
    for (int side = READ_SIDE; side <= WRITE_SIDE; side++)
        if (fcntl(s->fd[side], F_SETFL, s->flags[side] | O_NONBLOCK) < 0)
            return -errno;
    return 0;
}

static void undo_open(tw__stdio *s)
{
    for (int side = WRITE_SIDE; side >= READ_SIDE; side--)
        if (s->fd[side] >= 0) {
            if (s->flags[side] >= 0)
                fcntl(s->fd[side], F_SETFL, s->flags[side]);
            close(s->fd[side]); /* never watched */
        }
    free(s);
}

static int stdio_open(tw__stdio *s)
{
    s->fd[READ_SIDE] = s->fd[WRITE_SIDE] = -1;
    s->flags[READ_SIDE] = s->flags[WRITE_SIDE] = -1;
    int rc = open_side(s, READ_SIDE);
    if (rc == 0)
        rc = open_side(s, WRITE_SIDE);
    if (rc == 0)
        rc = make_nonblocking(s);
    s->socket_out = S_ISSOCK(s->original[WRITE_SIDE].st_mode);
    return rc;
}

int tw__stdio_start(tw_net *net, tw_factory *f, bool *refused)
{
    *refused = false;
    if (net->stdio)
        return -EBUSY;
    tw__stdio *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = stdio_open(s);
    if (rc < 0) {
        undo_open(s);
        return rc;
    }
    net->stdio = s;
    static const tw_address pipe_address = {.type = TW_ADDRESS_PIPE};
    int read_fd = s->fd[READ_SIDE];
    tw_transport *t = tw__stream_new(net, read_fd, TW_T_PIPE | TW_T_SELF_PAUSE | TW_T_CLIENT, &rc);
    if (!t) { /* no transport was made: both copies are still ours */
        net->stdio = NULL;
        undo_open(s);
        return rc;
    }
    if ((rc = tw__stream_build(t, f, &pipe_address)) < 0) { /* gone, and stdio with it */
        *refused = true;
        return rc;
    }
    s->t = t;
    tw__stream_start(t);
    return 0;
}
