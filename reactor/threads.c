/* tw_call_from_thread: the one thread-safe entry point. Callers append to a mutex-guarded FIFO and
 * wake the loop through an eventfd (a pipe where there is none) only when no wake-up is pending
 * yet, so a storm of calls costs one write. The loop drains the fd, clears the pending flag, then
 * takes the whole list at once: a call added after that is sure to write a new wake-up. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "reactor/internal.h"

struct tw_thread_call {
    tw_fn fn;
    void (*drop)(void *arg); /* run instead of fn if the reactor is freed first; may be NULL */
    void *arg;
    tw_thread_call *next;
};

static int open_waker(tw_thread_calls *c)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    c->wake_fd = c->wake_wfd = fd;
#else
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    c->wake_fd = fds[0];
    c->wake_wfd = fds[1];
#endif
    return 0;
}

static void wake(tw_thread_calls *c)
{
    uint64_t one = 1;
    /* EAGAIN means the counter or pipe is already full: the loop is awake anyway. */
    while (write(c->wake_wfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void drain(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        return;
    }
}

static void free_calls(tw_thread_call *call)
{
    while (call) {
        tw_thread_call *next = call->next;
        if (call->drop)
            call->drop(call->arg);
        free(call);
        call = next;
    }
}

int tw__thread_calls_run(tw_reactor *r)
{
    tw_thread_calls *c = &r->calls;
    /* Drain before clearing the flag: a wake-up written after the clear must survive the drain, or
     * a caller that then sees the flag set skips its write and its call waits forever. */
    drain(c->wake_fd);
    atomic_store(&c->wake_pending, false);
    pthread_mutex_lock(&c->lock);
    tw_thread_call *call = c->head;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&c->lock);
    int ran = 0;
    for (; call; ran++) {
        tw_thread_call *next = call->next;
        int err = tw__run_fn(r, "call from thread", call->fn, call->arg);
        if (err < 0)
            tw__report_callback_error(r, "call from thread", err);
        free(call);
        call = next;
    }
    return ran; /* counted by tw_reactor_iterate() */
}

static int on_wake(tw_reactor *r, int fd, void *arg)
{
    (void)fd;
    (void)arg;
    return tw__thread_calls_run(r);
}

int tw__thread_calls_init(tw_reactor *r)
{
    tw_thread_calls *c = &r->calls;
    int err = open_waker(c);
    if (err)
        return err;
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->wake_pending, false);
    return tw__fds_add_internal_reader(r, c->wake_fd, on_wake, NULL);
}

void tw__thread_calls_free(tw_reactor *r)
{
    tw_thread_calls *c = &r->calls;
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    tw_thread_call *call = c->head;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&c->lock);
    free_calls(call);
    tw_reactor_close_fd(r, c->wake_fd);
    if (c->wake_wfd != c->wake_fd)
        close(c->wake_wfd);
    pthread_mutex_destroy(&c->lock);
}

void tw__thread_calls_forget(tw_reactor *r)
{
    tw_thread_calls *c = &r->calls;
    for (tw_thread_call *call = c->head, *next; call; call = next) {
        next = call->next;
        free(call); /* not dropped: drop() works on the parent's objects */
    }
    c->head = c->tail = NULL;
    close(c->wake_fd);
    if (c->wake_wfd != c->wake_fd)
        close(c->wake_wfd);
}

static int queue_call(tw_reactor *r, tw_fn fn, void (*drop)(void *arg), void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    tw_thread_call *call = malloc(sizeof *call);
    if (!call)
        return -ENOMEM;
    *call = (tw_thread_call){fn, drop, arg, NULL};
    tw_thread_calls *c = &r->calls;
    pthread_mutex_lock(&c->lock);
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        free(call);
        return -ESHUTDOWN;
    }
    if (c->tail)
        c->tail->next = call;
    else
        c->head = call;
    c->tail = call;
    pthread_mutex_unlock(&c->lock);
    if (!atomic_exchange(&c->wake_pending, true))
        wake(c);
    return 0;
}

int tw_call_from_thread(tw_reactor *r, tw_fn fn, void *arg)
{
    return queue_call(r, fn, NULL, arg);
}

int tw__call_from_thread_dropping(tw_reactor *r, tw_fn fn, void (*drop)(void *arg), void *arg)
{
    return queue_call(r, fn, drop, arg);
}
