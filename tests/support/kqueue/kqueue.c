/* A small kqueue()/kevent() for Linux, written from the BSD kevent(2) manual on top of poll(2), so
 * that twine's kqueue backend is built and tested here. Covers EVFILT_READ/EVFILT_WRITE on any fd
 * poll() understands (and regular files with the BSD vnode rule), with the flags of
 * <sys/event.h>. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/kqueue/kqueue_emul.h"

/* One registered filter on one fd. dev/ino identify the open file it was added for: BSD drops a
 * filter when its fd is closed, so a filter whose fd now names another file is stale. */
struct knote {
    int fd;
    short filter;
    bool enabled;
    bool oneshot;
    bool regular_file; /* the vnode rules apply instead of poll() */
    dev_t dev;
    ino_t ino;
    void *udata;
};

struct kq {
    dev_t dev; /* identity of the memfd that stands for this kqueue */
    ino_t ino;
    struct knote *notes;
    struct pollfd *pfds; /* pfds[i] polls notes[i] (fd -1 when not polled) */
    size_t count;
    size_t cap;
    size_t scan_start; /* rotates, so that a short eventlist cannot starve any filter */
};

/* kqueue descriptors are real fds (a memfd each), so close(kq) works as on BSD; this maps them to
 * their state. An entry outlives its close until its fd number is reused or looked up again. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kq **registry;
static size_t registry_len;

static _Thread_local int injected_error;

void tw_kqueue_emul_inject_error(int err)
{
    injected_error = err;
}

static void kq_free(struct kq *q)
{
    if (!q)
        return;
    free(q->notes);
    free(q->pfds);
    free(q);
}

static bool same_file(const struct stat *st, dev_t dev, ino_t ino)
{
    return st->st_dev == dev && st->st_ino == ino;
}

/* The state of kq, or NULL (errno EBADF) when kq is not an open kqueue. */
static struct kq *kq_lookup(int kq)
{
    struct kq *q = NULL;
    struct stat st;
    bool open = fstat(kq, &st) == 0;
    pthread_mutex_lock(&registry_lock);
    if (kq >= 0 && (size_t)kq < registry_len && registry[kq]) {
        q = registry[kq];
        if (!open || !same_file(&st, q->dev, q->ino)) {
            kq_free(q); /* its kqueue was closed; the number now names something else */
            registry[kq] = NULL;
            q = NULL;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (!q)
        errno = EBADF;
    return q;
}

static int registry_put(int fd, struct kq *q)
{
    int err = 0;
    pthread_mutex_lock(&registry_lock);
    if ((size_t)fd >= registry_len) {
        size_t len = registry_len ? registry_len : 16;
        while (len <= (size_t)fd)
            len *= 2;
        struct kq **grown = realloc(registry, len * sizeof(*grown));
        if (grown) {
            for (size_t i = registry_len; i < len; i++)
                grown[i] = NULL;
            registry = grown;
            registry_len = len;
        } else {
            err = ENOMEM;
        }
    }
    if (!err) {
        kq_free(registry[fd]); /* a kqueue closed earlier under the same number */
        registry[fd] = q;
    }
    pthread_mutex_unlock(&registry_lock);
    return err;
}

int kqueue(void)
{
    struct kq *q = calloc(1, sizeof(*q));
    if (!q) {
        errno = ENOMEM;
        return -1;
    }
    int fd = memfd_create("kqueue", MFD_CLOEXEC);
    struct stat st;
    int err = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : 0;
    if (!err) {
        q->dev = st.st_dev;
        q->ino = st.st_ino;
        err = registry_put(fd, q);
    }
    if (err) {
        if (fd >= 0)
            close(fd);
        kq_free(q);
        errno = err;
        return -1;
    }
    return fd;
}

int tw_kqueue_emul_count(int kq)
{
    struct kq *q = kq_lookup(kq);
    return q ? (int)q->count : -1;
}

/* ---- applying changes ------------------------------------------------------------------------ */

static struct knote *find_note(struct kq *q, int fd, short filter)
{
    for (size_t i = 0; i < q->count; i++)
        if (q->notes[i].fd == fd && q->notes[i].filter == filter)
            return &q->notes[i];
    return NULL;
}

static void remove_note(struct kq *q, struct knote *kn)
{
    size_t i = (size_t)(kn - q->notes);
    q->notes[i] = q->notes[--q->count];
}

static struct knote *add_note(struct kq *q, int fd, short filter, const struct stat *st)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct knote *notes = realloc(q->notes, cap * sizeof(*notes));
        if (!notes)
            return NULL;
        q->notes = notes;
        struct pollfd *pfds = realloc(q->pfds, cap * sizeof(*pfds));
        if (!pfds)
            return NULL;
        q->pfds = pfds;
        q->cap = cap;
    }
    struct knote *kn = &q->notes[q->count++];
    *kn = (struct knote){.fd = fd, .filter = filter, .dev = st->st_dev, .ino = st->st_ino,
                         .regular_file = S_ISREG(st->st_mode)};
    return kn;
}

/* Applies one change; returns 0 or the errno BSD would report for it. */
static int apply_change(struct kq *q, const struct kevent *ch)
{
    if (injected_error) {
        int err = injected_error;
        injected_error = 0;
        return err;
    }
    if (ch->filter != EVFILT_READ && ch->filter != EVFILT_WRITE)
        return EINVAL;
    if (ch->flags & (EV_CLEAR | EV_DISPATCH))
        return EINVAL;
    if (ch->ident > INT_MAX)
        return EBADF;
    int fd = (int)ch->ident;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return EBADF;
    struct knote *kn = find_note(q, fd, ch->filter);
    if (kn && !same_file(&st, kn->dev, kn->ino)) {
        remove_note(q, kn); /* left from a file closed since: BSD dropped it at close */
        kn = NULL;
    }
    if (ch->flags & EV_DELETE) {
        if (!kn)
            return (ch->flags & EV_ADD) ? 0 : ENOENT;
        remove_note(q, kn);
        return 0;
    }
    if (!kn) {
        if (!(ch->flags & EV_ADD))
            return ENOENT;
        kn = add_note(q, fd, ch->filter, &st);
        if (!kn)
            return ENOMEM;
    }
    if (ch->flags & EV_ADD) {
        kn->udata = ch->udata;
        kn->oneshot = (ch->flags & EV_ONESHOT) != 0;
        kn->enabled = true;
    }
    if (ch->flags & EV_DISABLE)
        kn->enabled = false;
    if (ch->flags & EV_ENABLE)
        kn->enabled = true;
    return 0;
}

/* Applies every change. Failures (and, with EV_RECEIPT, successes) become EV_ERROR entries of out;
 * returns their count, or -1 when one failed with no room left to say so, as BSD does. */
static int apply_changes(struct kq *q, const struct kevent *changes, int nchanges,
                         struct kevent *out, int nevents)
{
    int nout = 0;
    for (int i = 0; i < nchanges; i++) {
        int err = apply_change(q, &changes[i]);
        if (!err && !(changes[i].flags & EV_RECEIPT))
            continue;
        if (nout == nevents) {
            if (!err)
                continue;
            errno = err;
            return -1;
        }
        out[nout] = changes[i];
        out[nout].flags = EV_ERROR;
        out[nout].data = err;
        nout++;
    }
    return nout;
}

/* ---- waiting --------------------------------------------------------------------------------- */

/* Bytes a read would return now, where the kernel tells cheaply; 0 otherwise. */
static intptr_t readable_bytes(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* BSD vnode rule: a regular file is readable while the offset is not at its end (data: the bytes
 * left, which may be negative), and always writable. */
static bool regular_file_ready(const struct knote *kn, intptr_t *data)
{
    *data = 0;
    if (kn->filter == EVFILT_WRITE)
        return true;
    struct stat st;
    off_t pos = lseek(kn->fd, 0, SEEK_CUR);
    if (pos < 0 || fstat(kn->fd, &st) != 0)
        return false;
    *data = (intptr_t)(st.st_size - pos);
    return *data != 0;
}

/* Fills pfds for the filters poll() must watch; true if a regular-file filter is ready already. */
static bool prepare_poll(struct kq *q)
{
    bool ready_now = false;
    for (size_t i = 0; i < q->count; i++) {
        struct knote *kn = &q->notes[i];
        intptr_t unused;
        q->pfds[i].fd = kn->enabled && !kn->regular_file ? kn->fd : -1;
        q->pfds[i].events = kn->filter == EVFILT_READ ? POLLIN | POLLRDHUP : POLLOUT;
        q->pfds[i].revents = 0;
        if (kn->enabled && kn->regular_file && regular_file_ready(kn, &unused))
            ready_now = true;
    }
    return ready_now;
}

/* Turns what poll() saw for notes[i] into an event; false when there is nothing to report. */
static bool note_event(struct kq *q, size_t i, struct kevent *ev)
{
    struct knote *kn = &q->notes[i];
    short rev = q->pfds[i].revents;
    intptr_t data = 0;
    unsigned short flags = 0;
    if (!kn->enabled)
        return false;
    if (kn->regular_file) {
        if (!regular_file_ready(kn, &data))
            return false;
    } else if (kn->filter == EVFILT_READ) {
        if (!(rev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)))
            return false;
        flags = (rev & (POLLRDHUP | POLLHUP | POLLERR)) ? EV_EOF : 0;
        data = readable_bytes(kn->fd);
    } else {
        if (!(rev & (POLLOUT | POLLHUP | POLLERR)))
            return false;
        flags = (rev & (POLLHUP | POLLERR)) ? EV_EOF : 0;
    }
    EV_SET(ev, (uintptr_t)kn->fd, kn->filter, flags, 0, data, kn->udata);
    return true;
}

/* Collects up to nevents events, starting where the last scan stopped. */
static int collect_events(struct kq *q, struct kevent *out, int nevents)
{
    int nout = 0;
    size_t start = q->count ? q->scan_start % q->count : 0;
    for (size_t k = 0; k < q->count && nout < nevents; k++) {
        size_t i = (start + k) % q->count;
        if (q->pfds[i].revents & POLLNVAL) {
            q->notes[i].enabled = false; /* its fd was closed: BSD would have dropped it */
            q->notes[i].fd = -1;
            continue;
        }
        if (!note_event(q, i, &out[nout]))
            continue;
        nout++;
        q->scan_start = i + 1;
        if (q->notes[i].oneshot) {
            q->notes[i].enabled = false;
            q->notes[i].fd = -1;
        }
    }
    /* Drop what was marked dead above; done after the scan so indices stayed put during it. */
    for (size_t i = q->count; i-- > 0;)
        if (q->notes[i].fd < 0)
            remove_note(q, &q->notes[i]);
    return nout;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds for poll(), rounded up so that a timeout never ends early; -1 for NULL. */
static int64_t timeout_to_ms(const struct timespec *ts)
{
    if (!ts)
        return -1;
    int64_t ms = (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000 + (ts->tv_nsec % 1000000 != 0);
    return ts->tv_sec > INT_MAX / 1000 ? INT_MAX : ms;
}

static int wait_events(struct kq *q, struct kevent *out, int nevents, const struct timespec *ts)
{
    int64_t left = timeout_to_ms(ts);
    int64_t deadline = left < 0 ? -1 : monotonic_ms() + left;
    for (;;) {
        int ms = prepare_poll(q) ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        if (poll(q->pfds, (nfds_t)q->count, ms) < 0)
            return -1; /* EINTR included: the changes stay applied, as on BSD */
        int n = collect_events(q, out, nevents);
        if (n > 0 || left == 0)
            return n;
        /* Woken only by something that makes no event (a closed fd): wait for the rest. */
        if (deadline >= 0) {
            left = deadline - monotonic_ms();
            if (left <= 0)
                return 0;
        }
    }
}

int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout)
{
    struct kq *q = kq_lookup(kq);
    if (!q)
        return -1;
    if (nchanges < 0 || nevents < 0 || (nchanges && !changelist) || (nevents && !eventlist) ||
        (timeout &&
         (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000))) {
        errno = EINVAL;
        return -1;
    }
    int n = apply_changes(q, changelist, nchanges, eventlist, nevents);
    /* Like FreeBSD and OpenBSD, a call that reported changes returns at once without waiting. */
    if (n != 0 || nevents == 0)
        return n;
    return wait_events(q, eventlist, nevents, timeout);
}
