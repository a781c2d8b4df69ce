/* What a stream transport tells about itself and lets be set on its socket: the addresses of both
 * ends, TCP options, and its protocol, reactor and fd. Read-only uses of the transport's state. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "reactor/layers.h"
#include "transport/memory.h"
#include "transport/net.h"

static int socket_address(const tw_transport *t, tw_address *out, bool peer)
{
    if (!t || !out)
        return -EINVAL;
    if (t->flags & TW_T_MEMORY)
        return tw__memory_address(t, out, peer);
    if (t->flags & TW_T_PIPE) {
        *out = (tw_address){.type = TW_ADDRESS_PIPE};
        return 0;
    }
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(t->fd, (struct sockaddr *)&ss, &len)
                  : getsockname(t->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return -errno;
    return tw_address_from_sockaddr(out, (struct sockaddr *)&ss, len);
}

int tw_transport_get_host(const tw_transport *t, tw_address *out)
{
    return socket_address(t, out, false);
}

int tw_transport_get_peer(const tw_transport *t, tw_address *out)
{
    return socket_address(t, out, true);
}

static int tcp_option(tw_transport *t, int level, int option, bool on)
{
    if (!t)
        return -EINVAL;
    if (t->flags & TW_T_MEMORY)
        return tw__memory_tcp_option(
            t, option == TCP_NODELAY ? TW_STRING_TCP_NODELAY : TW_STRING_TCP_KEEPALIVE, on);
    if (t->flags & TW_T_CLOSED)
        return -ENOTCONN;
    if (!(t->flags & TW_T_TCP))
        return -EOPNOTSUPP;
    return tw__sock_set_flag(t->fd, level, option, on);
}

int tw_transport_set_tcp_nodelay(tw_transport *t, bool on)
{
    return tcp_option(t, IPPROTO_TCP, TCP_NODELAY, on);
}

int tw_transport_set_tcp_keepalive(tw_transport *t, bool on)
{
    return tcp_option(t, SOL_SOCKET, SO_KEEPALIVE, on);
}

tw_protocol *tw_transport_protocol(tw_transport *t)
{
    return t ? &t->proto : NULL;
}

tw_reactor *tw_transport_reactor(const tw_transport *t)
{
    if (t && (t->flags & TW_T_MEMORY))
        return tw__memory_of(t)->r; /* its context is let go at the close */
    return t ? t->net->r : NULL;
}

int tw_transport_fd(const tw_transport *t)
{
    if (!t || (t->flags & (TW_T_CLOSED | TW_T_MEMORY)))
        return -EBADF;
    tw__reactor_share_fd(t->net->r, t->fd); /* the caller may dup it: close it the careful way */
    return t->fd;
}
