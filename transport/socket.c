/* Socket helpers for the socket layer: non-blocking close-on-exec sockets, numeric address
 * parsing, socket options, and the printable tw_address (get_host / get_peer, "tcp:1.2.3.4:80"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "reactor/layers.h"
#include "transport/net.h"

int tw__sock_stream(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int tw__sock_set_flag(int fd, int level, int option, bool on)
{
    int v = on ? 1 : 0;
    return setsockopt(fd, level, option, &v, sizeof v) < 0 ? -errno : 0;
}

/* Our own socket: no epoll_ctl before the close unless it may be shared (see layers.h). */
void tw__sock_nodelay(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* best effort: see net.h */
}

void tw__sock_close(tw_reactor *r, int fd)
{
    int saved = errno;
    int rc = tw__reactor_close_own_fd(r, fd);
    (void)rc; /* a close that fails has released the fd all the same (Linux): nothing to retry */
    errno = saved;
}

/* getaddrinfo with AI_NUMERICHOST never touches the network; it also understands "%scope". */
int tw__sock_parse_ip(int family, const char *host, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    if (!host || !ss || !len)
        return -EINVAL;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return -EINVAL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int tw__sock_parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!path || !*path || !ss || !len)
        return -EINVAL;
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t n = strlen(path);
    if (n >= sizeof un->sun_path)
        return -ENAMETOOLONG;
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

tw_failure *tw__sock_failure(const char *type, int code, const char *context)
{
    if (!type)
        return tw_failure_from_errno(code, context);
    return tw_failure_new(type, code, "%s: %s", context ? context : "socket", tw_strerror(code));
}

static int address_from_ip(tw_address *out, const struct sockaddr *sa, socklen_t len)
{
    char serv[8];
    if (getnameinfo(sa, len, out->host, sizeof out->host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -EINVAL;
    out->port = sa->sa_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
                                         : ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

int tw_address_from_sockaddr(tw_address *out, const struct sockaddr *sa, socklen_t len)
{
    if (!out || !sa)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    switch (sa->sa_family) {
    case AF_INET:
        out->type = TW_ADDRESS_TCP4;
        return address_from_ip(out, sa, len);
    case AF_INET6:
        out->type = TW_ADDRESS_TCP6;
        return address_from_ip(out, sa, len);
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? len - off : 0;
        if (n > sizeof out->path - 1)
            n = sizeof out->path - 1;
        out->type = TW_ADDRESS_UNIX;
        memcpy(out->path, un->sun_path, n);
        out->path[n] = '\0'; /* stops at the first NUL of the path; abstract names print empty */
        return 0;
    }
    default:
        return -EAFNOSUPPORT;
    }
}

int tw_address_format(const tw_address *a, char *buf, size_t size)
{
    if (!a || (!buf && size > 0))
        return -EINVAL;
    switch (a->type) {
    case TW_ADDRESS_TCP4:
        return snprintf(buf, size, "tcp:%s:%u", a->host, (unsigned)a->port);
    case TW_ADDRESS_TCP6:
        return snprintf(buf, size, "tcp6:[%s]:%u", a->host, (unsigned)a->port);
    case TW_ADDRESS_UNIX:
        return snprintf(buf, size, "unix:%s", a->path);
    default:
        return -EINVAL;
    }
}
