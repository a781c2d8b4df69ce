/* The select(2) backend: master read and write fd_sets, copied before each wait. The most portable
 * and the most limited: fds at or above FD_SETSIZE cannot be watched (check_fd refuses them, since
 * FD_SET beyond the set corrupts memory, or aborts under _FORTIFY_SOURCE), and each wait is
 * O(maxfd). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/select.h>

#include "reactor/backend.h"

struct tw_backend {
    fd_set readers;     /* master sets: select() gets copies */
    fd_set writers;
    int maxfd;          /* highest watched fd, -1 when none */
    int next_start;     /* where the next scan of results starts, so no fd can starve the others */
    unsigned char mask[FD_SETSIZE];
    uint32_t gen[FD_SETSIZE];
};

int tw__backend_new(tw_backend **out)
{
    tw_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    FD_ZERO(&b->readers);
    FD_ZERO(&b->writers);
    b->maxfd = -1;
    *out = b;
    return 0;
}

void tw__backend_free(tw_backend *b)
{
    free(b);
}

int tw__backend_check_fd(const tw_backend *b, int fd)
{
    (void)b;
    if (fd < 0)
        return -EBADF;
    return fd >= FD_SETSIZE ? -EMFILE : 0;
}

int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask, uint32_t gen)
{
    int err = tw__backend_check_fd(b, fd);
    if (err)
        return err;
    /* Linux's select() silently skips a number beyond any fd ever opened instead of failing with
     * EBADF, so a watcher on it would never hear of its mistake: refuse it here. */
    if (!old_mask && new_mask && fcntl(fd, F_GETFD) == -1 && errno == EBADF)
        return -EBADF;
    if (new_mask & TW_BE_READ)
        FD_SET(fd, &b->readers);
    else
        FD_CLR(fd, &b->readers);
    if (new_mask & TW_BE_WRITE)
        FD_SET(fd, &b->writers);
    else
        FD_CLR(fd, &b->writers);
    b->mask[fd] = (unsigned char)new_mask;
    b->gen[fd] = gen;
    if (new_mask && fd > b->maxfd)
        b->maxfd = fd;
    while (b->maxfd >= 0 && !b->mask[b->maxfd])
        b->maxfd--;
    return 0;
}

void tw__backend_forget(tw_backend *b, int fd, unsigned old_mask, uint32_t gen)
{
    /* No syscall and no allocation (the sets are the backend's own): taking interest away cannot
     * fail here. */
    int rc = tw__backend_update(b, fd, old_mask, 0, gen);
    (void)rc;
}

/* Rounded up, for the same reason as poll's milliseconds: never wake before a timer is due. */
static struct timeval *to_timeval(int64_t timeout_ns, struct timeval *tv)
{
    if (timeout_ns < 0)
        return NULL;
    int64_t us = timeout_ns / 1000 + (timeout_ns % 1000 != 0);
    int64_t sec = us / 1000000;
    tv->tv_sec = sec > INT_MAX ? INT_MAX : (time_t)sec;
    tv->tv_usec = (suseconds_t)(us % 1000000);
    return tv;
}

static void emit(tw_ready *out, int *filled, int fd, uint32_t gen, unsigned mask)
{
    out[(*filled)++] = (tw_ready){fd, gen, mask, mask == TW_BE_FAILED ? -EBADF : 0};
}

/* Collects the fds select() marked, starting after the last one reported in the previous wait. */
static int collect(tw_backend *b, const fd_set *rd, const fd_set *wr, tw_ready *out, int filled,
                   int max)
{
    int span = b->maxfd + 1;
    int start = span ? b->next_start % span : 0;
    for (int k = 0; k < span && filled < max; k++) {
        int fd = (start + k) % span;
        unsigned mask = (FD_ISSET(fd, rd) ? TW_BE_READ : 0) | (FD_ISSET(fd, wr) ? TW_BE_WRITE : 0);
        if (!mask)
            continue;
        emit(out, &filled, fd, b->gen[fd], mask);
        b->next_start = fd + 1;
    }
    return filled;
}

/* One watched fd is not open any more (closed behind the reactor's back), so select() failed for
 * all of them. Report the bad fds as ready in both directions, so that their read or write call
 * surfaces EBADF to the owner; then poll the healthy ones without blocking, so they do not
 * stall. */
static int report_bad_fds(tw_backend *b, tw_ready *out, int max)
{
    fd_set rd = b->readers, wr = b->writers;
    int filled = 0;
    for (int fd = 0; fd <= b->maxfd; fd++) {
        if (!b->mask[fd] || fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        FD_CLR(fd, &rd);
        FD_CLR(fd, &wr);
        if (filled < max)
            emit(out, &filled, fd, b->gen[fd], TW_BE_FAILED);
    }
    struct timeval zero = {0, 0};
    if (filled == 0 || select(b->maxfd + 1, &rd, &wr, NULL, &zero) <= 0)
        return filled;
    return collect(b, &rd, &wr, out, filled, max);
}

int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max)
{
    fd_set rd = b->readers, wr = b->writers;
    struct timeval tv;
    int n = select(b->maxfd + 1, &rd, &wr, NULL, to_timeval(timeout_ns, &tv));
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return errno == EBADF ? report_bad_fds(b, out, max) : -errno;
    }
    return n ? collect(b, &rd, &wr, out, 0, max) : 0;
}

const char *tw__backend_name(void)
{
    return "select";
}
