/* Fd watchers: the per-fd table, the user-space mirror of the kernel interest set, and dispatch.
 * Interest changes only mark an fd dirty; tw__fds_flush() pushes the net change of each dirty fd to
 * the backend once per turn, so a reader toggled on and off within a turn costs no syscall.
 * Dispatch checks each event against the fd's generation and its current interest, so a watcher
 * removed, an fd closed, or an fd number reused earlier in the turn never sees a stale event. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reactor/internal.h"

static_assert(sizeof(tw_fd_slot) <= 32, "an fd slot is paid per connection: keep it at 32 bytes");

#define READY_INITIAL 256
#define READY_MAX 65536

int tw__fds_init(tw_fd_table *t)
{
    *t = (tw_fd_table){.failing_fd = -1};
    t->ready = malloc(READY_INITIAL * sizeof *t->ready);
    if (!t->ready)
        return -ENOMEM;
    t->ready_cap = READY_INITIAL;
    return 0;
}

static void unsplit(tw_fd_slot *s, void *keep);

void tw__fds_free(tw_fd_table *t)
{
    for (int fd = 0; fd < t->nslots; fd++)
        unsplit(&t->slots[fd], NULL);
    free(t->slots);
    free(t->dirty);
    free(t->ready);
    *t = (tw_fd_table){0};
}

/* A full event array means more fds may be ready than we could take: grow it for next time. */
void tw__fds_grow_ready(tw_fd_table *t, int nready)
{
    if (nready < t->ready_cap || t->ready_cap >= READY_MAX)
        return;
    tw_ready *bigger = realloc(t->ready, 2 * (size_t)t->ready_cap * sizeof *bigger);
    if (bigger) {
        t->ready = bigger;
        t->ready_cap *= 2;
    }
}

/* How many slots the table needs to hold fd. Doubling up to FD_TABLE_STEP, then
 * steps of it: a doubled table is zeroed (touched) far past the highest fd, which would cost every
 * connection of a busy server a third more memory than it uses. */
#define FD_TABLE_STEP 1024
static int fd_table_size(int fd)
{
    if (fd >= FD_TABLE_STEP)
        return (fd / FD_TABLE_STEP + 1) * FD_TABLE_STEP;
    int n = 64;
    while (n <= fd)
        n *= 2;
    return n;
}

static tw_fd_slot *slot_for(tw_fd_table *t, int fd)
{
    if (fd < t->nslots)
        return &t->slots[fd];
    int n = fd_table_size(fd);
    tw_fd_slot *slots = realloc(t->slots, (size_t)n * sizeof *slots);
    if (!slots)
        return NULL;
    memset(slots + t->nslots, 0, (size_t)(n - t->nslots) * sizeof *slots);
    t->slots = slots;
    t->nslots = n;
    return &t->slots[fd];
}

static const tw_fd_slot *find_slot(const tw_reactor *r, int fd)
{
    return r && fd >= 0 && fd < r->fds.nslots ? &r->fds.slots[fd] : NULL;
}

static int mark_dirty(tw_fd_table *t, int fd)
{
    tw_fd_slot *s = &t->slots[fd];
    if (s->dirty)
        return 0;
    if (t->ndirty == t->dirty_cap) {
        int cap = t->dirty_cap ? t->dirty_cap * 2 : 64;
        int *dirty = realloc(t->dirty, (size_t)cap * sizeof *dirty);
        if (!dirty)
            return -ENOMEM;
        t->dirty = dirty;
        t->dirty_cap = cap;
    }
    t->dirty[t->ndirty++] = fd;
    s->dirty = 1;
    return 0;
}

static void *slot_arg(const tw_fd_slot *s, unsigned bit)
{
    if (!s->split)
        return s->arg;
    const tw_arg_pair *pair = s->arg;
    return bit == TW_BE_READ ? pair->read_arg : pair->write_arg;
}

/* Back to one shared argument (keep), freeing the pair. */
static void unsplit(tw_fd_slot *s, void *keep)
{
    if (!s->split)
        return;
    free(s->arg);
    s->arg = keep;
    s->split = 0;
}

/* Sets the argument of one direction, splitting the slot if the other direction keeps another. */
static int set_arg(tw_fd_slot *s, unsigned bit, void *arg)
{
    unsigned other = bit ^ (TW_BE_READ | TW_BE_WRITE);
    if (!s->split && (!(s->want & other) || s->arg == arg)) {
        s->arg = arg;
        return 0;
    }
    if (!s->split) {
        tw_arg_pair *pair = malloc(sizeof *pair);
        if (!pair)
            return -ENOMEM;
        *pair = bit == TW_BE_READ ? (tw_arg_pair){arg, s->arg} : (tw_arg_pair){s->arg, arg};
        s->arg = pair;
        s->split = 1;
        return 0;
    }
    tw_arg_pair *pair = s->arg;
    *(bit == TW_BE_READ ? &pair->read_arg : &pair->write_arg) = arg;
    return 0;
}

static int set_watcher(tw_reactor *r, int fd, unsigned bit, tw_io_fn fn, void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    int err = tw__backend_check_fd(r->backend, fd);
    if (err)
        return err;
    tw_fd_slot *s = slot_for(&r->fds, fd);
    if (!s)
        return -ENOMEM;
    if (!(s->want & bit) && (err = mark_dirty(&r->fds, fd)) < 0)
        return err;
    s = &r->fds.slots[fd];
    if ((err = set_arg(s, bit, arg)) < 0)
        return err;
    *(bit == TW_BE_READ ? &s->read_fn : &s->write_fn) = fn;
    s->want |= bit;
    return 0;
}

static int clear_watcher(tw_reactor *r, int fd, unsigned bit)
{
    if (fd < 0)
        return -EBADF;
    if (fd >= r->fds.nslots || !(r->fds.slots[fd].want & bit))
        return 0;
    tw_fd_slot *s = &r->fds.slots[fd];
    unsplit(s, slot_arg(s, bit ^ (TW_BE_READ | TW_BE_WRITE)));
    s->want &= ~bit;
    /* If the dirty list cannot grow the kernel keeps the interest for now; dispatch filters by
     * want. */
    mark_dirty(&r->fds, fd);
    return 0;
}

int tw_reactor_add_reader(tw_reactor *r, int fd, tw_io_fn fn, void *arg)
{
    return set_watcher(r, fd, TW_BE_READ, fn, arg);
}

int tw_reactor_add_writer(tw_reactor *r, int fd, tw_io_fn fn, void *arg)
{
    return set_watcher(r, fd, TW_BE_WRITE, fn, arg);
}

int tw_reactor_remove_reader(tw_reactor *r, int fd)
{
    return r ? clear_watcher(r, fd, TW_BE_READ) : -EINVAL;
}

int tw_reactor_remove_writer(tw_reactor *r, int fd)
{
    return r ? clear_watcher(r, fd, TW_BE_WRITE) : -EINVAL;
}

bool tw_reactor_is_reading(const tw_reactor *r, int fd)
{
    const tw_fd_slot *s = find_slot(r, fd);
    return s && (s->want & TW_BE_READ);
}

bool tw_reactor_is_writing(const tw_reactor *r, int fd)
{
    const tw_fd_slot *s = find_slot(r, fd);
    return s && (s->want & TW_BE_WRITE);
}

int tw__fds_add_internal_reader(tw_reactor *r, int fd, tw_io_fn fn, void *arg)
{
    int err = set_watcher(r, fd, TW_BE_READ, fn, arg);
    if (!err)
        r->fds.slots[fd].internal = 1;
    return err;
}

size_t tw_reactor_remove_all(tw_reactor *r)
{
    size_t removed = 0;
    for (int fd = 0; r && fd < r->fds.nslots; fd++) {
        tw_fd_slot *s = &r->fds.slots[fd];
        if (s->internal || !s->want)
            continue;
        s->want = 0;
        unsplit(s, NULL);
        mark_dirty(&r->fds, fd);
        removed++;
    }
    return removed;
}

/* Forgets fd and closes it. A registration outlives the close of an fd whose open file another
 * descriptor still holds (a dup, a forked child's copy): it would go on reporting events for a
 * number the reactor has forgotten, and could never be deleted once the number is gone. So when the
 * fd may be shared (tell_kernel), the registration is taken back now, while the fd is still open;
 * otherwise the close drops it, and only the backend's own books are cleared. */
static int forget_and_close(tw_reactor *r, int fd, bool tell_kernel)
{
    if (fd < r->fds.nslots) {
        tw_fd_slot *s = &r->fds.slots[fd];
        int err = 0;
        if (s->kernel && tell_kernel)
            err = tw__backend_update(r->backend, fd, s->kernel, 0, s->gen);
        else if (s->kernel)
            tw__backend_forget(r->backend, fd, s->kernel, s->gen);
        if (err < 0) /* its events may go on, but the new generation filters them out */
            tw_reactor_log(r, TW_LOG_WARN, "cannot unwatch fd %d before closing it: %s", fd,
                           tw_strerror(err));
        s->kernel = 0;
        s->want = 0;
        s->internal = 0;
        s->shared = 0;
        s->refused = 0;
        unsplit(s, NULL);
        s->gen++;
    }
    /* On Linux the fd is released even when close() fails with EINTR: never retry. */
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

/* The user's fds may have been dup'ed. Not in a forked child: the kernel's set is the parent's. */
int tw_reactor_close_fd(tw_reactor *r, int fd)
{
    if (!r)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    return forget_and_close(r, fd, !tw__fork_in_child(&r->made));
}

int tw__reactor_close_own_fd(tw_reactor *r, int fd)
{
    if (!r)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    bool shared = (fd < r->fds.nslots && r->fds.slots[fd].shared) || tw__fork_since(&r->made);
    return forget_and_close(r, fd, shared && !tw__fork_in_child(&r->made));
}

/* An fd without a slot has never been watched, so it has no registration to outlive its close
 * (transports are watched from their start, before their fd can be asked for). */
void tw__reactor_share_fd(tw_reactor *r, int fd)
{
    if (r && fd >= 0 && fd < r->fds.nslots)
        r->fds.slots[fd].shared = 1;
}

static void log_refusal(tw_reactor *r, int fd, int err)
{
    if (err == -EBADF)
        tw_reactor_log(r, TW_LOG_ERROR, "fd %d was closed behind the reactor's back (%s); watchers "
                       "removed", fd, tw_strerror(err));
    else
        tw_reactor_log(r, TW_LOG_ERROR, "cannot watch fd %d: %s; its watchers are removed", fd,
                       tw_strerror(err));
}

/* The backend refused fd's new interest (epoll_ctl's ENOSPC or ENOMEM, say): undo what the kernel
 * still has, and mark the slot so that dispatch tells its watchers. */
static void refuse(tw_reactor *r, tw_fd_slot *s, int fd, int err)
{
    log_refusal(r, fd, err);
    if (s->kernel && tw__backend_update(r->backend, fd, s->kernel, 0, s->gen) < 0)
        tw_reactor_log(r, TW_LOG_ERROR, "cannot forget fd %d either", fd);
    s->kernel = 0;
    s->refused = 1;
    s->refused_errno = -err > 0 && -err < 4096 ? (unsigned)-err : ENOMEM;
}

int tw__fds_flush(tw_reactor *r)
{
    tw_fd_table *t = &r->fds;
    int refused = 0;
    for (int i = 0; i < t->ndirty; i++) {
        int fd = t->dirty[i];
        tw_fd_slot *s = &t->slots[fd];
        s->dirty = 0;
        s->refused = 0;
        if (s->want == s->kernel)
            continue;
        int err = tw__backend_update(r->backend, fd, s->kernel, s->want, s->gen);
        if (err >= 0) {
            s->kernel = s->want;
            continue;
        }
        refuse(r, s, fd, err);
        /* A refused fd stays in the dirty list, moved to its front, until dispatch has told its
         * watchers: remembering it that way needs no memory, which may be what ran out. */
        s->dirty = 1;
        t->dirty[refused++] = fd;
    }
    t->ndirty = t->nrefused = refused;
    return refused;
}

/* Runs one watcher; a failing one is reported and removed so that it cannot spin. Returns how many
 * callbacks that was for tw_reactor_iterate(): one for a user's watcher; an internal one (the waker
 * running calls from threads) returns its own count, and is no user callback itself. */
static int run_watcher(tw_reactor *r, tw_ready ev, unsigned bit, tw_io_fn fn, void *arg)
{
    bool internal = r->fds.slots[ev.fd].internal;
    /* Internal watchers are not timed: the waker's calls from threads are, one by one. */
    int err = internal ? fn(r, ev.fd, arg)
                       : tw__run_io(r, bit == TW_BE_READ ? "reader" : "writer", fn, ev.fd, arg);
    if (err >= 0)
        return internal ? err : 1;
    tw_reactor_log(r, TW_LOG_ERROR, "%s of fd %d failed: %s; watcher removed",
                   bit == TW_BE_READ ? "reader" : "writer", ev.fd, tw_strerror(err));
    if (r->fds.slots[ev.fd].gen == ev.gen)
        clear_watcher(r, ev.fd, bit);
    return internal ? 0 : 1;
}

int tw_reactor_watch_error(const tw_reactor *r, int fd)
{
    return r && fd >= 0 && r->fds.failing_fd == fd ? r->fds.failing_err : 0;
}

/* The fd cannot be watched any more (err says why): its watchers are removed, then each is called
 * one last time, with tw_reactor_watch_error() saying why, so that their owner gives the fd up
 * instead of waiting for events that will never come. */
static int fail_watchers(tw_reactor *r, int fd, int err)
{
    tw_fd_slot *s = &r->fds.slots[fd];
    tw_ready ev = {fd, s->gen, 0, err};
    unsigned want = s->want;
    tw_io_fn read_fn = s->read_fn, write_fn = s->write_fn;
    void *read_arg = slot_arg(s, TW_BE_READ), *write_arg = slot_arg(s, TW_BE_WRITE);
    s->want = 0;
    unsplit(s, NULL);
    if (s->kernel)
        mark_dirty(&r->fds, fd); /* the next flush takes back what the backend still has */
    int ran = 0;
    r->fds.failing_fd = fd;
    r->fds.failing_err = err;
    if (want & TW_BE_READ)
        ran += run_watcher(r, ev, TW_BE_READ, read_fn, read_arg);
    if ((want & TW_BE_WRITE) && r->fds.slots[fd].gen == ev.gen)
        ran += run_watcher(r, ev, TW_BE_WRITE, write_fn, write_arg);
    r->fds.failing_fd = -1;
    return ran;
}

/* Tells the watchers of the fds refused at the last flush. */
static int fail_refused(tw_reactor *r)
{
    int ran = 0;
    for (int i = 0; i < r->fds.nrefused; i++) {
        int fd = r->fds.dirty[i];
        tw_fd_slot *s = &r->fds.slots[fd];
        if (!s->refused) /* closed since, by an earlier watcher of this loop */
            continue;
        s->refused = 0;
        ran += fail_watchers(r, fd, -(int)s->refused_errno);
    }
    r->fds.nrefused = 0;
    return ran;
}

int tw__fds_dispatch(tw_reactor *r, int nready)
{
    int ran = r->fds.nrefused ? fail_refused(r) : 0;
    for (int i = 0; i < nready; i++) {
        tw_ready ev = r->fds.ready[i];
        if (ev.fd < 0 || ev.fd >= r->fds.nslots)
            continue;
        /* Re-read the slot before each call: callbacks may grow (move) the table or close the
         * fd. */
        tw_fd_slot *s = &r->fds.slots[ev.fd];
        if (s->gen != ev.gen)
            continue;
        if (ev.mask & TW_BE_FAILED) {
            log_refusal(r, ev.fd, ev.err);
            ran += fail_watchers(r, ev.fd, ev.err);
            continue;
        }
        if ((ev.mask & TW_BE_READ) && (s->want & TW_BE_READ)) {
            ran += run_watcher(r, ev, TW_BE_READ, s->read_fn, slot_arg(s, TW_BE_READ));
            s = &r->fds.slots[ev.fd];
            if (s->gen != ev.gen)
                continue;
        }
        if ((ev.mask & TW_BE_WRITE) && (s->want & TW_BE_WRITE)) {
            ran += run_watcher(r, ev, TW_BE_WRITE, s->write_fn, slot_arg(s, TW_BE_WRITE));
        }
    }
    return ran;
}
