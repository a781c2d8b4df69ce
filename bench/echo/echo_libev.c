/* libev echo server: one ev_io per connection, one read per readiness into a shared buffer, an
 * immediate write, and an EV_WRITE watcher only for what the kernel did not take (reading paused). */
#include <ev.h>
#include <stdint.h>

#include "echo_server.h"

typedef struct {
    ev_io io;
    char *rest; /* unsent echo, NULL almost always */
    size_t len, off;
} client;

static char rbuf[ECHO_READ_BUFFER];

static void client_free(struct ev_loop *loop, client *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    free(c->rest);
    free(c);
}

static void switch_to(struct ev_loop *loop, client *c, int events)
{
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, events);
    ev_io_start(loop, &c->io);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
    client *c = (client *)w;
    if (revents & EV_WRITE) {
        ssize_t n = send(w->fd, c->rest + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                client_free(loop, c);
            return;
        }
        c->off += (size_t)n;
        if (c->off == c->len) {
            free(c->rest);
            c->rest = NULL;
            switch_to(loop, c, EV_READ);
        }
        return;
    }
    ssize_t n = read(w->fd, rbuf, sizeof rbuf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            client_free(loop, c);
        return;
    }
    ssize_t sent = send(w->fd, rbuf, (size_t)n, MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        client_free(loop, c);
        return;
    }
    if (sent < 0)
        sent = 0;
    if (sent < n) {
        c->len = (size_t)(n - sent);
        c->off = 0;
        if ((c->rest = malloc(c->len)) == NULL)
            echo_server_die("malloc");
        memcpy(c->rest, rbuf + sent, c->len);
        switch_to(loop, c, EV_WRITE);
    }
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        echo_server_nodelay(fd);
        client *c = calloc(1, sizeof *c);
        if (c == NULL)
            echo_server_die("calloc");
        ev_io_init(&c->io, on_client, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

int main(int argc, char **argv)
{
    char version[32];
    snprintf(version, sizeof version, "%d.%d", ev_version_major(), ev_version_minor());
    echo_server_init(argc, argv, version);
    unsigned port;
    int fd = echo_server_listen(&port);
    struct ev_loop *loop = ev_default_loop(EVBACKEND_EPOLL);
    if (loop == NULL)
        echo_server_die("ev_default_loop");
    ev_io listener;
    ev_io_init(&listener, on_accept, fd, EV_READ);
    ev_io_start(loop, &listener);
    echo_server_announce("libev", port);
    ev_run(loop, 0);
    return 0;
}
