/* Datagram ports (Twisted's udp.Port): a bound UDP socket, optionally connected, that reads a
 * bounded number of datagrams per readiness event into the reactor's shared read buffer, turns
 * ICMP errors on a connected socket into connection_refused, and is closed by the network context
 * with the ports and connections (the reactor's shutdown, tw_reactor_free). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/datagram.h>

#include "transport/net.h"

struct tw_datagram_port {
    tw_net *net;
    tw_datagram_protocol proto;
    int fd;
    int family;
    tw_net_closer closer; /* registered while open */
    bool connected;
    bool in_dispatch;   /* one of the protocol's ops is running */
    bool stop_pending;  /* stopped from inside an op: finish when it returns */
};

/* Closes the socket now; the rest (stop_protocol, freeing) waits for the dispatch to end. */
static void close_socket(tw_datagram_port *port)
{
    if (port->fd >= 0)
        tw__sock_close(port->net->r, port->fd);
    port->fd = -1;
    tw__net_unregister(&port->closer);
}

static void finish_stop(tw_datagram_port *port)
{
    if (port->proto.ops && port->proto.ops->stop_protocol)
        port->proto.ops->stop_protocol(port);
    tw__net_release(port->net);
    free(port);
}

void tw_datagram_port_stop(tw_datagram_port *port)
{
    if (!port || port->stop_pending)
        return;
    close_socket(port);
    port->stop_pending = true;
    if (!port->in_dispatch)
        finish_stop(port);
}

static void datagram_on_shutdown(tw_net_closer *closer)
{
    tw_datagram_port_stop(tw__container_of(closer, tw_datagram_port, closer));
}

/* An error from recv on a connected socket is the ICMP answer to an earlier datagram. */
static void report_icmp_error(tw_datagram_port *port, int code)
{
    tw_failure *reason = tw_failure_from_errno(code, "datagram");
    if (port->proto.ops && port->proto.ops->connection_refused)
        port->proto.ops->connection_refused(port, reason ? reason : tw_failure_nomem());
    if (reason)
        tw_failure_unref(reason);
}

static bool is_icmp_error(int e)
{
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
           e == ENETDOWN;
}

/* Reads one datagram and hands it over. Returns false when there is nothing more to read now. */
static bool read_one(tw_datagram_port *port)
{
    struct sockaddr_storage from;
    struct iovec iov = {.iov_base = port->net->rbuf, .iov_len = TW_TRANSPORT_READ_BUFFER_SIZE};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                         .msg_iovlen = 1};
    ssize_t n = recvmsg(port->fd, &msg, 0);
    if (n < 0) {
        if (errno == EINTR)
            return true;
        if (port->connected && is_icmp_error(errno)) {
            report_icmp_error(port, -errno);
            return true;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            tw_reactor_log(port->net->r, TW_LOG_WARN, "datagram read: %s", tw_strerror(-errno));
        return false;
    }
    if (msg.msg_flags & MSG_TRUNC)
        return true; /* larger than the read buffer: it cannot be delivered whole */
    if (port->proto.ops && port->proto.ops->datagram_received) {
        int rc = port->proto.ops->datagram_received(port, port->net->rbuf, (size_t)n,
                                                    (const struct sockaddr *)&from,
                                                    msg.msg_namelen);
        if (rc < 0)
            tw_reactor_log(port->net->r, TW_LOG_ERROR, "datagram_received failed: %s",
                           tw_strerror(rc));
    }
    return true;
}

static int on_readable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    tw_datagram_port *port = arg;
    port->in_dispatch = true;
    for (int i = 0; i < TW_DATAGRAM_READS_PER_WAKE && !port->stop_pending; i++)
        if (!read_one(port))
            break;
    port->in_dispatch = false;
    if (port->stop_pending)
        finish_stop(port);
    return 0;
}

/* A bound, non-blocking datagram socket of the interface's family, or a negative errno. */
static int bind_socket(uint16_t number, const char *interface, int *family)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (tw__sock_parse_ip(AF_UNSPEC, interface ? interface : "0.0.0.0", number, &ss, &len) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *family = ss.ss_family;
    return fd;
}

/* Undoes a listen that failed after the port was set up. */
static tw_datagram_port *listen_failed(tw_datagram_port *port, int code, int *err)
{
    close_socket(port);
    tw__net_release(port->net);
    free(port);
    if (err)
        *err = code;
    return NULL;
}

tw_datagram_port *tw_listen_udp(tw_reactor *r, uint16_t number, const char *interface,
                                const tw_datagram_protocol *proto, int *err)
{
    int dummy, rc = 0, family = 0;
    err = err ? err : &dummy;
    if (!r || !proto) {
        *err = -EINVAL;
        return NULL;
    }
    tw_datagram_port *port = calloc(1, sizeof *port);
    if (!port) {
        *err = -ENOMEM;
        return NULL;
    }
    port->fd = -1;
    port->proto = *proto;
    if (!(port->net = tw__net_acquire(r, err))) {
        free(port);
        return NULL;
    }
    port->fd = bind_socket(number, interface, &family);
    if (port->fd < 0)
        return listen_failed(port, port->fd, err);
    port->family = family;
    if ((rc = tw_reactor_add_reader(r, port->fd, on_readable, port)) < 0)
        return listen_failed(port, rc, err);
    tw__net_register(port->net, &port->closer, datagram_on_shutdown);
    if (proto->ops && proto->ops->start_protocol) {
        port->in_dispatch = true; /* a stop from inside start_protocol waits for its return */
        rc = proto->ops->start_protocol(port);
        port->in_dispatch = false;
    }
    if (port->stop_pending) { /* started, then stopped: stop_protocol runs, there is no port */
        finish_stop(port);
        *err = rc < 0 ? rc : -ECANCELED;
        return NULL;
    }
    if (rc < 0)
        return listen_failed(port, rc, err);
    return port;
}

int tw_datagram_port_connect(tw_datagram_port *port, const struct sockaddr *peer, socklen_t len)
{
    if (!port || !peer)
        return -EINVAL;
    if (port->fd < 0)
        return -EBADF;
    if (port->connected)
        return -EISCONN;
    if (peer->sa_family != port->family)
        return -EAFNOSUPPORT;
    if (connect(port->fd, peer, len) < 0)
        return -errno;
    port->connected = true;
    return 0;
}

int tw_datagram_write(tw_datagram_port *port, const void *data, size_t len,
                      const struct sockaddr *to, socklen_t to_len)
{
    if (!port || (!data && len))
        return -EINVAL;
    if (port->fd < 0)
        return -EBADF;
    if (port->connected && to)
        return -EISCONN;
    if (!port->connected && !to)
        return -EDESTADDRREQ;
    for (;;) {
        ssize_t n = to ? sendto(port->fd, data, len, 0, to, to_len) : send(port->fd, data, len, 0);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int tw_datagram_get_host(const tw_datagram_port *port, struct sockaddr_storage *out,
                         socklen_t *len)
{
    if (!port || !out || !len)
        return -EINVAL;
    if (port->fd < 0)
        return -EBADF;
    *len = sizeof *out;
    return getsockname(port->fd, (struct sockaddr *)out, len) < 0 ? -errno : 0;
}

tw_datagram_protocol *tw_datagram_port_protocol(tw_datagram_port *port)
{
    return &port->proto;
}

tw_reactor *tw_datagram_port_reactor(const tw_datagram_port *port)
{
    return port->net->r;
}

bool tw_datagram_port_connected(const tw_datagram_port *port)
{
    return port->connected;
}
