/* The poll(2) backend: one pollfd per watched fd in a dense array, an fd -> slot map so updates are
 * O(1), and a parallel array of generations. Portable to every POSIX system; O(n) per wait, so it
 * suits a few hundred fds, not tens of thousands. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "reactor/backend.h"

struct tw_backend {
    struct pollfd *fds; /* the watched fds, densely packed */
    uint32_t *gens;     /* gens[i] belongs to fds[i] */
    size_t count;
    size_t cap;
    size_t *slot_of;    /* slot_of[fd] = index in fds + 1; 0 when fd is not watched */
    size_t slot_of_len;
    size_t next_start;  /* where the next scan of results starts, so no fd can starve the others */
};

int tw__backend_new(tw_backend **out)
{
    tw_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    *out = b;
    return 0;
}

void tw__backend_free(tw_backend *b)
{
    if (!b)
        return;
    free(b->fds);
    free(b->gens);
    free(b->slot_of);
    free(b);
}

int tw__backend_check_fd(const tw_backend *b, int fd)
{
    (void)b;
    return fd < 0 ? -EBADF : 0;
}

static int grow_slot_map(tw_backend *b, int fd)
{
    size_t want = (size_t)fd + 1;
    if (want <= b->slot_of_len)
        return 0;
    size_t len = b->slot_of_len ? b->slot_of_len : 64;
    while (len < want)
        len *= 2;
    size_t *map = realloc(b->slot_of, len * sizeof(*map));
    if (!map)
        return -ENOMEM;
    for (size_t i = b->slot_of_len; i < len; i++)
        map[i] = 0;
    b->slot_of = map;
    b->slot_of_len = len;
    return 0;
}

static int grow_fds(tw_backend *b)
{
    if (b->count < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 64;
    struct pollfd *fds = realloc(b->fds, cap * sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    b->fds = fds;
    uint32_t *gens = realloc(b->gens, cap * sizeof(*gens));
    if (!gens)
        return -ENOMEM;
    b->gens = gens;
    b->cap = cap;
    return 0;
}

static short poll_events_for(unsigned mask)
{
    return (short)(((mask & TW_BE_READ) ? POLLIN : 0) | ((mask & TW_BE_WRITE) ? POLLOUT : 0));
}

/* Moves the last slot into the hole, so the array stays dense. */
static void remove_slot(tw_backend *b, size_t i)
{
    size_t last = b->count - 1;
    b->slot_of[b->fds[i].fd] = 0;
    if (i != last) {
        b->fds[i] = b->fds[last];
        b->gens[i] = b->gens[last];
        b->slot_of[b->fds[i].fd] = i + 1;
    }
    b->count--;
}

int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask, uint32_t gen)
{
    (void)old_mask; /* the slot map knows what is registered */
    if (fd < 0)
        return -EBADF;
    size_t slot = (size_t)fd < b->slot_of_len ? b->slot_of[fd] : 0;
    if (new_mask == 0) {
        if (slot)
            remove_slot(b, slot - 1);
        return 0;
    }
    if (!slot) {
        int err = grow_slot_map(b, fd);
        if (err == 0)
            err = grow_fds(b);
        if (err)
            return err;
        slot = ++b->count;
        b->fds[slot - 1].fd = fd;
        b->slot_of[fd] = slot;
    }
    b->fds[slot - 1].events = poll_events_for(new_mask);
    b->fds[slot - 1].revents = 0;
    b->gens[slot - 1] = gen;
    return 0;
}

void tw__backend_forget(tw_backend *b, int fd, unsigned old_mask, uint32_t gen)
{
    /* No syscall and no allocation (the set is the backend's own): taking interest away cannot
     * fail here. */
    int rc = tw__backend_update(b, fd, old_mask, 0, gen);
    (void)rc;
}

/* Errors and hang-ups count as both directions: the read or write call then says which it was. */
static unsigned ready_mask(short revents)
{
    unsigned mask = 0;
    if (revents & POLLIN)
        mask |= TW_BE_READ;
    if (revents & POLLOUT)
        mask |= TW_BE_WRITE;
    if (revents & POLLNVAL)
        return TW_BE_FAILED;
    if (revents & (POLLHUP | POLLERR))
        mask |= TW_BE_READ | TW_BE_WRITE;
    return mask;
}

int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max)
{
    int n = poll(b->fds, (nfds_t)b->count, tw_backend_timeout_ms(timeout_ns));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int filled = 0;
    size_t start = b->count ? b->next_start % b->count : 0;
    for (size_t k = 0; k < b->count && n > 0 && filled < max; k++) {
        size_t i = (start + k) % b->count;
        if (!b->fds[i].revents)
            continue;
        n--;
        unsigned mask = ready_mask(b->fds[i].revents);
        out[filled++] =
            (tw_ready){b->fds[i].fd, b->gens[i], mask, mask == TW_BE_FAILED ? -EBADF : 0};
        b->next_start = i + 1; /* when out is full, the next wait reports the rest first */
    }
    return filled;
}

const char *tw__backend_name(void)
{
    return "poll";
}
