/* The kqueue backend (BSD, macOS). Interest changes are queued and handed to the kernel in the same
 * kevent() call that waits, so steady-state I/O costs one syscall per turn. The fd's generation
 * rides in udata. Regular files, which kqueue reports by BSD's vnode rules (not readable at end of
 * file), are kept aside and reported ready on every poll, as poll() and select() would. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "reactor/backend.h"

/* Changes queued before they are flushed on their own rather than with the next wait. */
#define TW_KQ_CHANGES_MAX 256

/* What the backend remembers per fd. */
typedef struct {
    uint32_t gen;          /* of the last update */
    unsigned file_mask;    /* a regular file: its interest (it is not registered with the kernel) */
    uint32_t stamp;        /* == tw_backend.stamp when out[out_index] is this fd's entry */
    int out_index;
} fd_state;

struct tw_backend {
    int kq;
    struct kevent changes[TW_KQ_CHANGES_MAX];
    int nchanges;
    struct kevent *events; /* what kevent() returns */
    int events_cap;
    tw_ready *failed;      /* changes that failed, to report as ready on the next poll */
    int nfailed, failed_cap;
    fd_state *fds;
    int nfds;
    int nfiles;            /* fds with a file_mask */
    uint32_t stamp;        /* one per poll: merges the read and write events of one fd */
};

int tw__backend_new(tw_backend **out)
{
    tw_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->kq = kqueue();
    if (b->kq < 0) {
        int err = -errno;
        free(b);
        return err;
    }
    (void)fcntl(b->kq, F_SETFD, FD_CLOEXEC);
    *out = b;
    return 0;
}

void tw__backend_free(tw_backend *b)
{
    if (!b)
        return;
    close(b->kq);
    free(b->events);
    free(b->failed);
    free(b->fds);
    free(b);
}

const char *tw__backend_name(void)
{
    return "kqueue";
}

int tw__backend_check_fd(const tw_backend *b, int fd)
{
    (void)b;
    return fd < 0 ? -EBADF : 0;
}

static fd_state *state_for(tw_backend *b, int fd)
{
    if (fd < b->nfds)
        return &b->fds[fd];
    int n = b->nfds ? b->nfds : 64;
    while (n <= fd)
        n *= 2;
    fd_state *fds = realloc(b->fds, (size_t)n * sizeof(*fds));
    if (!fds)
        return NULL;
    for (int i = b->nfds; i < n; i++)
        fds[i] = (fd_state){0};
    b->fds = fds;
    b->nfds = n;
    return &b->fds[fd];
}

static int reserve_events(tw_backend *b, int n)
{
    if (n <= b->events_cap)
        return 0;
    struct kevent *events = realloc(b->events, (size_t)n * sizeof(*events));
    if (!events)
        return -ENOMEM;
    b->events = events;
    b->events_cap = n;
    return 0;
}

static void remember_failure(tw_backend *b, int fd, uint32_t gen, int err)
{
    if (b->nfailed == b->failed_cap) {
        int cap = b->failed_cap ? b->failed_cap * 2 : 8;
        tw_ready *failed = realloc(b->failed, (size_t)cap * sizeof(*failed));
        if (!failed)
            return; /* the fd stays silent; its owner's next I/O call will still see the error */
        b->failed = failed;
        b->failed_cap = cap;
    }
    b->failed[b->nfailed++] = (tw_ready){fd, gen, TW_BE_FAILED, err};
}

/* Which queued change an EV_ERROR entry answers: the kernel reports failures in changelist order,
 * so a cursor moving forward finds it. */
static const struct kevent *matching_change(const tw_backend *b, int *cursor,
                                            const struct kevent *ev)
{
    for (; *cursor < b->nchanges; (*cursor)++) {
        const struct kevent *ch = &b->changes[*cursor];
        if (ch->ident == ev->ident && ch->filter == ev->filter)
            return &b->changes[(*cursor)++];
    }
    return NULL;
}

/* A delete of a filter the kernel already dropped (the fd was closed, and perhaps reused) did what
 * it was asked; any other failure is reported (TW_BE_FAILED), so that the fd's owner hears of
 * it. */
static bool failure_matters(const struct kevent *ev, const struct kevent *change)
{
    if (ev->data == 0)
        return false; /* an EV_RECEIPT success */
    bool deleting = change && (change->flags & EV_DELETE);
    return !(deleting && (ev->data == ENOENT || ev->data == EBADF));
}

/* Hands the queued changes to the kernel without waiting, asking a receipt for each. */
static int flush_changes(tw_backend *b)
{
    if (b->nchanges == 0)
        return 0;
    int err = reserve_events(b, b->nchanges);
    if (err)
        return err;
    for (int i = 0; i < b->nchanges; i++)
        b->changes[i].flags |= EV_RECEIPT;
    struct timespec zero = {0, 0};
    int n = kevent(b->kq, b->changes, b->nchanges, b->events, b->nchanges, &zero);
    err = n < 0 ? -errno : 0;
    int cursor = 0;
    for (int i = 0; i < n; i++) {
        const struct kevent *ev = &b->events[i];
        if ((ev->flags & EV_ERROR) && failure_matters(ev, matching_change(b, &cursor, ev)))
            remember_failure(b, (int)ev->ident, (uint32_t)(uintptr_t)ev->udata, -(int)ev->data);
    }
    b->nchanges = 0;
    return err;
}

static int queue_change(tw_backend *b, int fd, short filter, unsigned short flags, uint32_t gen)
{
    if (b->nchanges == TW_KQ_CHANGES_MAX) {
        int err = flush_changes(b);
        if (err)
            return err;
    }
    EV_SET(&b->changes[b->nchanges], (uintptr_t)fd, filter, flags, 0, 0, (void *)(uintptr_t)gen);
    b->nchanges++;
    return 0;
}

/* Adds the filters of add_mask (re-adding refreshes udata) and deletes those of del_mask. */
static int queue_filters(tw_backend *b, int fd, unsigned add_mask, unsigned del_mask, uint32_t gen)
{
    static const struct {
        unsigned bit;
        short filter;
    } filters[] = {{TW_BE_READ, EVFILT_READ}, {TW_BE_WRITE, EVFILT_WRITE}};
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        int err = 0;
        if (add_mask & filters[i].bit)
            err = queue_change(b, fd, filters[i].filter, EV_ADD, gen);
        else if (del_mask & filters[i].bit)
            err = queue_change(b, fd, filters[i].filter, EV_DELETE, gen);
        if (err)
            return err;
    }
    return 0;
}

static bool is_regular_file(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask, uint32_t gen)
{
    if (fd < 0)
        return -EBADF;
    fd_state *s = state_for(b, fd);
    if (!s)
        return -ENOMEM;
    bool fresh =
        old_mask == 0 || gen != s->gen; /* a new registration, perhaps of a reused number */
    bool was_file = s->file_mask != 0;
    bool is_file = new_mask && (fresh ? is_regular_file(fd) : was_file);
    unsigned kernel_old = was_file ? 0 : old_mask;
    s->gen = gen;
    if (is_file != was_file)
        b->nfiles += is_file ? 1 : -1;
    s->file_mask = is_file ? new_mask : 0;
    if (is_file)
        return queue_filters(b, fd, 0, kernel_old, gen);
    unsigned add = fresh ? new_mask : new_mask & ~kernel_old;
    return queue_filters(b, fd, add, kernel_old & ~new_mask, gen);
}

/* The delete is queued as for any update: it rides on the next wait (no syscall of its own), and a
 * change still queued for fd must not reach whatever file gets its number next. */
void tw__backend_forget(tw_backend *b, int fd, unsigned old_mask, uint32_t gen)
{
    /* It fails only when a full change list could not be flushed; the list is emptied then, so no
     * change of fd is left to reach a later file, and the close drops the kernel's filters. */
    int rc = tw__backend_update(b, fd, old_mask, 0, gen);
    (void)rc;
}

/* Adds readiness for fd to out (err with TW_BE_FAILED), merging it into the entry fd already has in
 * this poll. */
static void emit(tw_backend *b, tw_ready *out, int *filled, int fd, uint32_t gen, unsigned mask,
                 int err)
{
    fd_state *s = fd >= 0 && fd < b->nfds ? &b->fds[fd] : NULL;
    if (s && s->stamp == b->stamp && out[s->out_index].gen == gen) {
        out[s->out_index].mask |= mask;
        if (err)
            out[s->out_index].err = err;
        return;
    }
    if (s) {
        s->stamp = b->stamp;
        s->out_index = *filled;
    }
    out[(*filled)++] = (tw_ready){fd, gen, mask, err};
}

/* Failed changes first, then regular files, which are always ready. */
static int emit_pending(tw_backend *b, tw_ready *out, int filled, int max)
{
    int taken = 0;
    for (; taken < b->nfailed && filled < max; taken++)
        emit(b, out, &filled, b->failed[taken].fd, b->failed[taken].gen, b->failed[taken].mask,
             b->failed[taken].err);
    b->nfailed -= taken;
    for (int i = 0; i < b->nfailed; i++)
        b->failed[i] = b->failed[i + taken];
    for (int fd = 0; b->nfiles && fd < b->nfds && filled < max; fd++)
        if (b->fds[fd].file_mask)
            emit(b, out, &filled, fd, b->fds[fd].gen, b->fds[fd].file_mask, 0);
    return filled;
}

static unsigned ready_mask(const struct kevent *ev)
{
    if (ev->flags & EV_EOF)
        return TW_BE_READ | TW_BE_WRITE; /* the read or write call tells hang-up from error */
    return ev->filter == EVFILT_READ ? TW_BE_READ : TW_BE_WRITE;
}

static struct timespec *to_timespec(int64_t timeout_ns, struct timespec *ts)
{
    if (timeout_ns < 0)
        return NULL;
    ts->tv_sec = (time_t)(timeout_ns / 1000000000);
    ts->tv_nsec = (long)(timeout_ns % 1000000000);
    return ts;
}

/* One kevent() call: hands over the queued changes, waits up to timeout_ns, and adds what comes
 * back to out. Returns kevent()'s count (or -errno); *ready tells how many entries were not
 * receipts. */
static int kevent_once(tw_backend *b, int64_t timeout_ns, tw_ready *out, int *filled, int max,
                       int *ready)
{
    int room = max - *filled;
    *ready = 0;
    if (reserve_events(b, room) != 0)
        return -ENOMEM;
    struct timespec ts;
    int n = kevent(b->kq, b->changes, b->nchanges, b->events, room, to_timespec(timeout_ns, &ts));
    int err = n < 0 ? -errno : 0;
    int cursor = 0;
    for (int i = 0; i < n; i++) {
        const struct kevent *ev = &b->events[i];
        uint32_t gen = (uint32_t)(uintptr_t)ev->udata;
        if (!(ev->flags & EV_ERROR)) {
            emit(b, out, filled, (int)ev->ident, gen, ready_mask(ev), 0);
            (*ready)++;
        } else if (failure_matters(ev, matching_change(b, &cursor, ev))) {
            emit(b, out, filled, (int)ev->ident, gen, TW_BE_FAILED, -(int)ev->data);
        }
    }
    b->nchanges = 0; /* applied, even when the wait was interrupted */
    return err ? err : n;
}

int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max)
{
    if (max <= 0)
        return 0;
    if (++b->stamp == 0) { /* wrapped: old stamps could match again */
        for (int fd = 0; fd < b->nfds; fd++)
            b->fds[fd].stamp = 0;
        b->stamp = 1;
    }
    int filled = emit_pending(b, out, 0, max);
    /* Each queued change needs a slot of the event list in case it fails. */
    if (b->nchanges > max - filled) {
        int err = flush_changes(b);
        if (err)
            return filled ? filled : err;
        filled = emit_pending(b, out, filled, max);
    }
    if (filled == max)
        return filled;
    bool had_changes = b->nchanges > 0;
    int ready;
    int n = kevent_once(b, filled ? 0 : timeout_ns, out, &filled, max, &ready);
    /* A call that reports failed changes returns without looking for events (FreeBSD and OpenBSD
     * do, and the emulation follows them), and such failures are routine: the delete queued for an
     * fd about to be closed fails once it is. So look again, without the changes. */
    if (n > 0 && had_changes && ready == 0 && filled < max)
        n = kevent_once(b, filled ? 0 : timeout_ns, out, &filled, max, &ready);
    if (n < 0 && n != -EINTR && !filled)
        return n;
    return filled;
}
