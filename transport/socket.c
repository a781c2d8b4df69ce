/* Socket helpers for the socket layer: non-blocking close-on-exec sockets, numeric address
 * parsing, socket options, and the printable tw_address (get_host / get_peer, "tcp:1.2.3.4:80").
 * Addresses are numeric only and go through inet_pton/inet_ntop, never the resolver: only a
 * resolver may call getaddrinfo (whose NSS makes glibc warn at every static link). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
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

static int parse_ip4(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(sin, 0, sizeof *sin);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) /* dotted quads only: not "127.1" */
        return -EINVAL;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    *len = sizeof *sin;
    return 0;
}

/* The part after '%': an interface name, or its index in decimal. 0 when there is no such one. */
static uint32_t parse_scope(const char *scope)
{
    if (*scope >= '0' && *scope <= '9') {
        char *end;
        unsigned long v = strtoul(scope, &end, 10);
        return *end || v > UINT32_MAX ? 0 : (uint32_t)v;
    }
    return if_nametoindex(scope);
}

static int parse_ip6(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char addr[INET6_ADDRSTRLEN];
    const char *scope = strchr(host, '%');
    size_t n = scope ? (size_t)(scope - host) : strlen(host);
    if (n >= sizeof addr)
        return -EINVAL;
    memcpy(addr, host, n);
    addr[n] = '\0';
    memset(sin6, 0, sizeof *sin6);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
        return -EINVAL;
    if (scope && (sin6->sin6_scope_id = parse_scope(scope + 1)) == 0)
        return -EINVAL;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    *len = sizeof *sin6;
    return 0;
}

int tw__sock_parse_ip(int family, const char *host, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    if (!host || !ss || !len)
        return -EINVAL;
    if (family == AF_INET || (family == AF_UNSPEC && !strchr(host, ':')))
        return parse_ip4(host, port, ss, len);
    if (family == AF_INET6 || family == AF_UNSPEC)
        return parse_ip6(host, port, ss, len);
    return -EINVAL;
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

/* "%scope" after an IPv6 host: the interface's name for a link-local address when it has one, its
 * number otherwise (what getnameinfo prints). */
static void format_scope(char *host, size_t size, const struct sockaddr_in6 *sin6)
{
    char name[IF_NAMESIZE];
    size_t n = strlen(host);
    const struct in6_addr *a = &sin6->sin6_addr;
    bool link_local = IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MC_LINKLOCAL(a);
    if (link_local && if_indextoname(sin6->sin6_scope_id, name))
        snprintf(host + n, size - n, "%%%s", name);
    else
        snprintf(host + n, size - n, "%%%u", (unsigned)sin6->sin6_scope_id);
}

static int address_from_ip(tw_address *out, const struct sockaddr *sa, socklen_t len)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        if (len < sizeof *sin || !inet_ntop(AF_INET, &sin->sin_addr, out->host, sizeof out->host))
            return -EINVAL;
        out->port = ntohs(sin->sin_port);
        return 0;
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    if (len < sizeof *sin6 || !inet_ntop(AF_INET6, &sin6->sin6_addr, out->host, sizeof out->host))
        return -EINVAL;
    if (sin6->sin6_scope_id)
        format_scope(out->host, sizeof out->host, sin6);
    out->port = ntohs(sin6->sin6_port);
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
    case TW_ADDRESS_PIPE:
        return snprintf(buf, size, "stdio:");
    default:
        return -EINVAL;
    }
}
