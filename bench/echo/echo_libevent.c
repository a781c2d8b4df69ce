/* libevent echo server, the idiomatic way (the libevent book's echo): an evconnlistener and one
 * bufferevent per connection whose input is moved to its output. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdint.h>

#include "echo_server.h"

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)sa;
    (void)len;
    (void)arg;
    echo_server_nodelay(fd);
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    echo_server_init(argc, argv, event_get_version());
    struct event_base *base = event_base_new();
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                ECHO_BACKLOG, (struct sockaddr *)&sa, sizeof sa);
    if (base == NULL || l == NULL)
        echo_server_die("evconnlistener_new_bind");
    socklen_t len = sizeof sa;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sa, &len);
    echo_server_announce("libevent", ntohs(sa.sin_port));
    return event_base_dispatch(base);
}
