/* The practical limit: a hand-written level-triggered epoll echo server with no library. One read
 * per readiness into one shared buffer, an immediate write, and a queued remainder (with reading
 * paused) only when the kernel takes less than everything. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "echo_server.h"

#define PLAIN_EVENTS 256

/* What the kernel did not take yet, per fd (NULL almost always). */
typedef struct {
    char *data;
    size_t len, off;
} pending;

static int ep, listen_fd;
static pending **pend;
static size_t npend;
static char rbuf[ECHO_READ_BUFFER];

static void set_events(int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        echo_server_die("epoll_ctl");
}

static void drop(int fd)
{
    if ((size_t)fd < npend && pend[fd]) {
        free(pend[fd]->data);
        free(pend[fd]);
        pend[fd] = NULL;
    }
    close(fd);
}

static void queue_rest(int fd, const char *data, size_t len)
{
    if ((size_t)fd >= npend) {
        size_t n = npend ? npend : 64;
        while (n <= (size_t)fd)
            n *= 2;
        pend = realloc(pend, n * sizeof *pend);
        if (pend == NULL)
            echo_server_die("realloc");
        memset(pend + npend, 0, (n - npend) * sizeof *pend);
        npend = n;
    }
    pending *p = malloc(sizeof *p);
    if (p == NULL || (p->data = malloc(len)) == NULL)
        echo_server_die("malloc");
    memcpy(p->data, data, len);
    p->len = len;
    p->off = 0;
    pend[fd] = p;
    set_events(EPOLL_CTL_MOD, fd, EPOLLOUT); /* stop reading until the echo is out */
}

static void on_readable(int fd)
{
    ssize_t n = read(fd, rbuf, sizeof rbuf);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        drop(fd);
        return;
    }
    ssize_t w = send(fd, rbuf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            drop(fd);
            return;
        }
        w = 0;
    }
    if (w < n)
        queue_rest(fd, rbuf + w, (size_t)(n - w));
}

static void on_writable(int fd)
{
    pending *p = pend[fd];
    ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            drop(fd);
        return;
    }
    p->off += (size_t)w;
    if (p->off == p->len) {
        free(p->data);
        free(p);
        pend[fd] = NULL;
        set_events(EPOLL_CTL_MOD, fd, EPOLLIN);
    }
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: level-triggered, so it comes back */
        echo_server_nodelay(fd);
        set_events(EPOLL_CTL_ADD, fd, EPOLLIN);
    }
}

int main(int argc, char **argv)
{
    echo_server_init(argc, argv, "-");
    unsigned port;
    listen_fd = echo_server_listen(&port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        echo_server_die("epoll_create1");
    set_events(EPOLL_CTL_ADD, listen_fd, EPOLLIN);
    echo_server_announce("plain", port);
    struct epoll_event evs[PLAIN_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, PLAIN_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == listen_fd)
                on_accept();
            else if ((size_t)fd < npend && pend[fd])
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}
