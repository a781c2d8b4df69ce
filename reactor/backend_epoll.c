/* The epoll backend (Linux). Level-triggered; the fd's generation rides in the upper half of
 * epoll_event.data.u64. Fds epoll refuses with EPERM (regular files, which are always ready) are
 * kept on a side list and reported ready on every poll, as poll() and select() would report
 * them. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "reactor/backend.h"

#define MAX_EVENTS 1024

typedef struct {
    int fd;
    uint32_t gen;
    unsigned mask;
} always_ready;

struct tw_backend {
    int epfd;
    always_ready *files;
    int nfiles, files_cap;
    struct epoll_event events[MAX_EVENTS];
};

int tw__backend_new(tw_backend **out)
{
    tw_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int err = -errno;
        free(b);
        return err;
    }
    *out = b;
    return 0;
}

void tw__backend_free(tw_backend *b)
{
    if (!b)
        return;
    close(b->epfd);
    free(b->files);
    free(b);
}

const char *tw__backend_name(void) { return "epoll"; }

int tw__backend_check_fd(const tw_backend *b, int fd)
{
    (void)b;
    (void)fd;
    return 0;
}

static int find_file(const tw_backend *b, int fd)
{
    for (int i = 0; i < b->nfiles; i++)
        if (b->files[i].fd == fd)
            return i;
    return -1;
}

/* An fd epoll cannot watch: remember it (or forget it when mask is 0). */
static int set_always_ready(tw_backend *b, int fd, unsigned mask, uint32_t gen)
{
    int i = find_file(b, fd);
    if (!mask) {
        if (i >= 0)
            b->files[i] = b->files[--b->nfiles];
        return 0;
    }
    if (i < 0) {
        if (b->nfiles == b->files_cap) {
            int cap = b->files_cap ? b->files_cap * 2 : 4;
            always_ready *files = realloc(b->files, (size_t)cap * sizeof *files);
            if (!files)
                return -ENOMEM;
            b->files = files;
            b->files_cap = cap;
        }
        i = b->nfiles++;
    }
    b->files[i] = (always_ready){fd, gen, mask};
    return 0;
}

static uint32_t to_epoll(unsigned mask)
{
    return (mask & TW_BE_READ ? EPOLLIN : 0) | (mask & TW_BE_WRITE ? EPOLLOUT : 0);
}

int tw__backend_update(tw_backend *b, int fd, unsigned old_mask, unsigned new_mask, uint32_t gen)
{
    if (b->nfiles && find_file(b, fd) >= 0)
        return set_always_ready(b, fd, new_mask, gen);
    struct epoll_event ev = {.events = to_epoll(new_mask),
                             .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    /* A watcher with no interest is deleted, not set to 0: epoll reports hang-ups regardless. */
    int op = !new_mask ? EPOLL_CTL_DEL : old_mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(b->epfd, op, fd, &ev) == 0)
        return 0;
    /* The kernel set and ours disagree when an fd was closed and reopened behind our back. */
    if (errno == ENOENT && op == EPOLL_CTL_MOD && epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno == EEXIST && op == EPOLL_CTL_ADD && epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if (op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF))
        return 0;
    if (errno == EPERM)
        return set_always_ready(b, fd, new_mask, gen);
    return -errno;
}

void tw__backend_forget(tw_backend *b, int fd, unsigned old_mask, uint32_t gen)
{
    (void)old_mask;
    if (b->nfiles)
        set_always_ready(b, fd, 0, gen);
}

static unsigned from_epoll(uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP))
        return TW_BE_READ | TW_BE_WRITE;
    return (events & EPOLLIN ? TW_BE_READ : 0) | (events & EPOLLOUT ? TW_BE_WRITE : 0);
}

int tw__backend_poll(tw_backend *b, int64_t timeout_ns, tw_ready *out, int max)
{
    int n = 0;
    for (; n < b->nfiles && n < max; n++)
        out[n] = (tw_ready){b->files[n].fd, b->files[n].gen, b->files[n].mask, 0};
    int room = max - n < MAX_EVENTS ? max - n : MAX_EVENTS;
    if (room <= 0)
        return n;
    int got = epoll_wait(b->epfd, b->events, room, n ? 0 : tw_backend_timeout_ms(timeout_ns));
    if (got < 0)
        return errno == EINTR ? n : -errno;
    for (int i = 0; i < got; i++) {
        uint64_t data = b->events[i].data.u64;
        out[n++] = (tw_ready){(int)(uint32_t)data, (uint32_t)(data >> 32),
                              from_epoll(b->events[i].events), 0};
    }
    return n;
}
