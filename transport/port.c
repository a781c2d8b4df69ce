/* Listening ports (Twisted's tcp.Port and unix.Port): TCP4, TCP6 and UNIX listening sockets, the
 * adaptive multi-accept loop, and recovery from running out of file descriptors (a reserved spare
 * fd sheds the pending connections; if that is not enough the port pauses on a timer, never
 * spins). */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "reactor/log.h"
#include "transport/net.h"

/* Owned by the caller from tw_listen_* to tw_port_free (a libuv-style handle). Stopping (by
 * tw_port_stop_listening, the reactor's shutdown or tw_reactor_free) closes the socket and leaves
 * the context, dropping the port's reference: a stopped port holds nothing of the reactor's, so it
 * may outlive it. */
struct tw_port {
    tw_net *net;             /* NULL once stopped and out of the context */
    tw_factory *factory;
    int fd;
    int reserve_fd;          /* spare fd given up to accept-and-close when out of fds; -1 if none */
    tw_address_type type;
    unsigned number_accepts; /* Twisted's adaptive numberAccepts */
    unsigned max_accepts;
    uint64_t accepted, shed;
    tw_delayed_call *resume_call;
    tw_log_limit shed_log, pause_log; /* out of fds: one line per TW_LOG_REPEAT_INTERVAL */
    bool in_accept, stopped, free_requested, nodelay_probed, nodelay_inherited;
    char *unix_path;
    tw_net_closer closer; /* registered while listening */
};

static int port_on_readable(tw_reactor *r, int fd, void *arg);

static void reserve_spare(tw_port *port)
{
    if (port->reserve_fd < 0)
        port->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* ---- accepting ------------------------------------------------------------------------------- */

/* TCP_NODELAY is inherited from the listening socket on some kernels: probe the first accepted
 * socket once, and skip the per-connection setsockopt when it is. */
static void accepted_nodelay(tw_port *port, tw_transport *t)
{
    if (!port->nodelay_probed) {
        int v = 0;
        socklen_t len = sizeof v;
        port->nodelay_probed = true;
        port->nodelay_inherited =
            getsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
    }
    if (!port->nodelay_inherited)
        tw__sock_nodelay(t->fd);
}

/* A connection the transport cannot take (the backend cannot watch its fd, or no memory) is shed as
 * the EMFILE path sheds: closed before any protocol exists, logged, counted as shed. */
static void shed_connection(tw_port *port, int fd, int err)
{
    tw__sock_close(port->net->r, fd);
    port->shed++;
    tw__log_limited(port->net->r, &port->shed_log, TW_LOG_WARN,
                    "accept: cannot take the connection on fd %d (%s backend): %s; closed it", fd,
                    tw_reactor_backend(), tw_strerror(err));
}

/* Starts a transport for an accepted socket; false when it was shed instead. */
static bool start_connection(tw_port *port, int fd, const struct sockaddr_storage *ss,
                             socklen_t len)
{
    uint32_t flags = TW_T_SELF_PAUSE | (port->type == TW_ADDRESS_UNIX ? 0 : TW_T_TCP);
    int rc;
    tw_transport *t = tw__stream_new(port->net, fd, flags, &rc);
    if (!t) {
        shed_connection(port, fd, rc);
        return false;
    }
    tw_address peer;
    if (tw_address_from_sockaddr(&peer, (const struct sockaddr *)ss, len) < 0) {
        memset(&peer, 0, sizeof peer);
        peer.type = port->type;
    }
    if (tw__stream_build(t, port->factory, &peer) < 0)
        return true; /* refused: closed at once, as Twisted when buildProtocol returns None */
    if (flags & TW_T_TCP)
        accepted_nodelay(port, t);
    tw__stream_start(t);
    return true;
}

static int resume_fired(void *arg);

/* Watches the listening socket again. Should the reactor refuse (out of memory), try again after
 * the same pause rather than stay deaf. */
static void resume_listening(tw_port *port)
{
    reserve_spare(port);
    int rc = tw_reactor_add_reader(port->net->r, port->fd, port_on_readable, port);
    if (rc == 0)
        return;
    if (!port->resume_call)
        port->resume_call =
            tw_call_later(port->net->r, TW_PORT_EMFILE_PAUSE, resume_fired, port, NULL);
    tw_reactor_log(port->net->r, TW_LOG_ERROR, "cannot watch the listening socket: %s; %s",
                   tw_strerror(rc), port->resume_call ? "trying again soon" : "not accepting");
}

static int resume_fired(void *arg)
{
    tw_port *port = arg;
    port->resume_call = NULL;
    resume_listening(port);
    return 0;
}

/* Still out of descriptors after shedding: stop watching the socket for a while so a
 * level-triggered listener cannot spin, and try again on a timer (nginx's way). */
static void pause_listening(tw_port *port, int err)
{
    tw__log_limited(port->net->r, &port->pause_log, TW_LOG_WARN,
                    "accept: %s; not accepting for %g s", tw_strerror(err), TW_PORT_EMFILE_PAUSE);
    tw_reactor_remove_reader(port->net->r, port->fd);
    if (!port->resume_call)
        port->resume_call =
            tw_call_later(port->net->r, TW_PORT_EMFILE_PAUSE, resume_fired, port, NULL);
    if (!port->resume_call) /* cannot schedule: better to retry on the next turn than to stall */
        resume_listening(port);
}

/* EMFILE/ENFILE: give up the spare fd, accept-and-close what is pending (shedding load rather
 * than leaving it in the backlog to wake us forever), then take the spare again. */
static void shed_load(tw_port *port, int err)
{
    if (port->reserve_fd < 0) {
        pause_listening(port, err);
        return;
    }
    close(port->reserve_fd); /* never registered with the reactor: it only holds a slot */
    port->reserve_fd = -1;
    unsigned shed = 0;
    int last = 0;
    while (shed < TW_PORT_ACCEPTS_MAX) {
        int fd = accept4(port->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            last = errno;
            if (last == EINTR || last == ECONNABORTED)
                continue;
            break;
        }
        close(fd);
        shed++;
    }
    port->shed += shed;
    reserve_spare(port);
    tw__log_limited(port->net->r, &port->shed_log, TW_LOG_WARN,
                    "accept: %s; closed %u pending connection%s", tw_strerror(err), shed,
                    shed == 1 ? "" : "s");
    if (port->reserve_fd < 0 || last == EMFILE || last == ENFILE)
        pause_listening(port, err);
}

/* Accept errors: true to keep accepting in this round. */
static bool accept_error(tw_port *port, int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED: /* the peer gave up while in the backlog */
    case EPROTO:
    case EPERM:        /* a firewall said no */
        return true;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return false;
    case EMFILE:
    case ENFILE:
        shed_load(port, -err);
        return false;
    default:
        tw_reactor_log(port->net->r, TW_LOG_ERROR, "Could not accept new connection: %s",
                       tw_strerror(-err));
        return false;
    }
}

static void leave_context(tw_port *port);
static void release_memory(tw_port *port);

/* Is another connection waiting? An accept4 that finds the queue empty costs the kernel a socket
 * and a file made and thrown away (about 1.5 us here), a poll() a tenth of that. Asked once per
 * wake, after the first accept: a lone connection then costs no failed accept4, and a queued burst
 * is still drained in one go (bench/accept measures both). */
static bool more_pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static int port_on_readable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    tw_port *port = arg;
    unsigned n = 0, tries = 0;
    port->in_accept = true;
    while (n < port->number_accepts && tries++ < 2 * port->number_accepts && !port->stopped) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (accept_error(port, errno))
                continue;
            break;
        }
        n++;
        if (start_connection(port, c, &ss, len))
            port->accepted++;
        if (port->stopped || (n == 1 && n < port->number_accepts && !more_pending(fd)))
            break;
    }
    if (n == port->number_accepts)
        port->number_accepts += 20;
    else
        port->number_accepts = n > 0 ? n : 1;
    if (port->number_accepts > port->max_accepts)
        port->number_accepts = port->max_accepts;
    port->in_accept = false;
    if (port->stopped) /* by a callback of this loop: what it left for later happens now */
        leave_context(port);
    if (port->free_requested)
        release_memory(port);
    return 0;
}

/* ---- listening ------------------------------------------------------------------------------- */

/* A UNIX socket file nobody listens on is stale: connecting to it is refused. The probe does not
 * block, so a live listener with a full backlog answers EAGAIN at once instead of holding us.
 * Anything else at the path (a file, a directory, a symlink) is not ours to touch: -ENOTSOCK. */
static int clear_stale_unix(const struct sockaddr_storage *ss, socklen_t len, const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    int rc = connect(probe, (const struct sockaddr *)ss, len);
    int err = errno;
    close(probe);
    if (rc == 0 || err == EAGAIN)
        return -EADDRINUSE; /* someone is listening (EAGAIN: with a full backlog) */
    if (err == ECONNREFUSED && unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Removes the socket file a failed listen made, unless something else has taken its place. */
static void remove_own_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

/* Sets the socket file's permissions between bind() and listen(). That order is what makes it
 * race-free: until listen() every connect() to the file is refused, so nobody ever connects under
 * the permissions bind() gave it (0777 less the umask); and the umask, being process-wide, cannot
 * be changed around bind() in a library whose other threads create files. The chmod does not
 * follow symlinks: a symlink put at path in the meantime (in a directory someone else can write)
 * must not make root change the mode of whatever it points to. A C library that cannot chmod
 * without following one (no /proc) says EOPNOTSUPP: then the file must still be a socket. */
static int chmod_socket_file(const char *path, unsigned mode)
{
    if (fchmodat(AT_FDCWD, path, (mode_t)mode, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOTSUP)
        return -errno;
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    return chmod(path, (mode_t)mode) < 0 ? -errno : 0;
}

/* The kernel's limit on a listen queue, net.core.somaxconn: the backlog when the caller gives none.
 * Read at each listen (ports are few), so a limit raised by the administrator applies. */
static int default_backlog(void)
{
    char buf[32];
    int fd = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TW_PORT_BACKLOG_FALLBACK;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return TW_PORT_BACKLOG_FALLBACK;
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    return end != buf && v > 0 && v <= INT_MAX ? (int)v : TW_PORT_BACKLOG_FALLBACK;
}

/* SO_REUSEPORT: several sockets, one per reactor thread, listen on the same address and the
 * kernel spreads the connections among them. */
static int set_reuse_port(int fd)
{
#ifdef SO_REUSEPORT
    return tw__sock_set_flag(fd, SOL_SOCKET, SO_REUSEPORT, true);
#else
    (void)fd;
    return -EOPNOTSUPP;
#endif
}

static int bind_and_listen(int fd, const struct sockaddr_storage *ss, socklen_t len, int backlog,
                           const char *unix_path, unsigned mode, bool reuse_port)
{
    int family = ss->ss_family, rc = 0;
    if (family != AF_UNIX && (rc = tw__sock_set_flag(fd, SOL_SOCKET, SO_REUSEADDR, true)) < 0)
        return rc;
    if (reuse_port && (rc = set_reuse_port(fd)) < 0)
        return rc;
    if (family == AF_INET6 && (rc = tw__sock_set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, true)) < 0)
        return rc;
    if (family != AF_UNIX)
        tw__sock_nodelay(fd); /* inherited by accepted sockets on Linux */
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        return -errno;
    if (unix_path && (rc = chmod_socket_file(unix_path, mode)) < 0) {
        remove_own_socket(unix_path);
        return rc;
    }
    if (listen(fd, backlog > 0 ? backlog : default_backlog()) < 0) {
        rc = -errno;
        if (unix_path)
            remove_own_socket(unix_path);
        return rc;
    }
    return 0;
}

static void port_on_shutdown(tw_net_closer *closer)
{
    tw_port_stop_listening(tw__container_of(closer, tw_port, closer));
}

static tw_port *listen_on(tw_reactor *r, const struct sockaddr_storage *ss, socklen_t len,
                          int backlog, tw_factory *factory, const char *unix_path, unsigned mode,
                          bool reuse_port, int *err)
{
    int family = ss->ss_family, rc = 0;
    tw_net *net = tw__net_acquire(r, &rc);
    if (!net)
        goto fail;
    tw_port *port = calloc(1, sizeof *port);
    if (!port || (unix_path && !(port->unix_path = strdup(unix_path)))) {
        rc = -ENOMEM;
        goto fail_port;
    }
    port->fd = -1;
    if (unix_path && (rc = clear_stale_unix(ss, len, unix_path)) < 0)
        goto fail_port;
    if ((port->fd = rc = tw__sock_stream(family)) < 0)
        goto fail_port;
    if ((rc = bind_and_listen(port->fd, ss, len, backlog, unix_path, mode, reuse_port)) < 0)
        goto fail_port;
    if ((rc = tw_reactor_add_reader(r, port->fd, port_on_readable, port)) < 0)
        goto fail_unlink;
    if ((rc = tw_factory_do_start(factory)) < 0)
        goto fail_unlink;
    port->net = net;
    port->factory = factory;
    port->type = family == AF_INET ? TW_ADDRESS_TCP4 : family == AF_INET6 ? TW_ADDRESS_TCP6
                                                                        : TW_ADDRESS_UNIX;
    port->number_accepts = TW_PORT_ACCEPTS_INITIAL;
    port->max_accepts = TW_PORT_ACCEPTS_MAX;
    port->reserve_fd = -1;
    reserve_spare(port);
    tw__net_register(net, &port->closer, port_on_shutdown);
    return port;
fail_unlink:
    if (unix_path)
        remove_own_socket(unix_path);
fail_port:
    if (port && port->fd >= 0)
        tw__sock_close(r, port->fd);
    if (port)
        free(port->unix_path);
    free(port);
    tw__net_release(net);
fail:
    if (err)
        *err = rc;
    return NULL;
}

static bool listen_args_ok(tw_reactor *r, tw_factory *factory, int *err)
{
    if (r && factory)
        return true;
    if (err)
        *err = -EINVAL;
    return false;
}

tw_port *tw__listen_ip(tw_reactor *r, int family, uint16_t port, const char *interface,
                       int backlog, bool reuse_port, tw_factory *factory, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!listen_args_ok(r, factory, err))
        return NULL;
    if (!interface)
        interface = family == AF_INET ? "0.0.0.0" : "::";
    int rc = tw__sock_parse_ip(family, interface, port, &ss, &len);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return listen_on(r, &ss, len, backlog, factory, NULL, 0, reuse_port, err);
}

tw_port *tw_listen_tcp(tw_reactor *r, uint16_t port, const char *interface, int backlog,
                       tw_factory *factory, int *err)
{
    return tw__listen_ip(r, AF_INET, port, interface, backlog, false, factory, err);
}

tw_port *tw_listen_tcp6(tw_reactor *r, uint16_t port, const char *interface, int backlog,
                        tw_factory *factory, int *err)
{
    return tw__listen_ip(r, AF_INET6, port, interface, backlog, false, factory, err);
}

tw_port *tw_listen_unix_mode(tw_reactor *r, const char *path, unsigned mode, int backlog,
                             tw_factory *factory, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!listen_args_ok(r, factory, err))
        return NULL;
    int rc = mode & ~0777u ? -EINVAL : tw__sock_parse_unix(path, &ss, &len);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return listen_on(r, &ss, len, backlog, factory, path, mode, false, err);
}

tw_port *tw_listen_unix(tw_reactor *r, const char *path, int backlog, tw_factory *factory,
                        int *err)
{
    return tw_listen_unix_mode(r, path, TW_PORT_UNIX_MODE_DEFAULT, backlog, factory, err);
}

/* ---- stopping -------------------------------------------------------------------------------- */

/* Drops the port's reference on the context: a stopped port no longer needs the reactor. */
static void leave_context(tw_port *port)
{
    tw_net *net = port->net;
    port->net = NULL;
    if (net)
        tw__net_release(net);
}

static void release_memory(tw_port *port)
{
    free(port->unix_path);
    free(port);
}

int tw_port_stop_listening(tw_port *port)
{
    if (!port)
        return -EINVAL;
    if (port->stopped)
        return -ENOTCONN;
    port->stopped = true;
    tw__net_unregister(&port->closer);
    if (port->resume_call)
        tw_delayed_call_cancel(port->resume_call);
    port->resume_call = NULL;
    tw__sock_close(port->net->r, port->fd);
    port->fd = -1;
    if (port->reserve_fd >= 0)
        close(port->reserve_fd);
    port->reserve_fd = -1;
    if (port->unix_path)
        unlink(port->unix_path);
    tw_factory_do_stop(port->factory);
    if (!port->in_accept) /* else at the end of the accept loop, which still uses the context */
        leave_context(port);
    return 0;
}

void tw_port_free(tw_port *port)
{
    if (!port)
        return;
    if (!port->stopped)
        tw_port_stop_listening(port);
    if (port->in_accept)
        port->free_requested = true; /* the accept loop frees it when it ends */
    else
        release_memory(port);
}

int tw_port_get_host(const tw_port *port, tw_address *out)
{
    if (!port || !out)
        return -EINVAL;
    if (port->stopped)
        return -ENOTCONN;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(port->fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    int rc = tw_address_from_sockaddr(out, (struct sockaddr *)&ss, len);
    if (rc == 0 && port->unix_path && !out->path[0])
        strncpy(out->path, port->unix_path, sizeof out->path - 1);
    return rc;
}

uint64_t tw_port_accepted(const tw_port *port)
{
    return port ? port->accepted : 0;
}

uint64_t tw_port_shed(const tw_port *port)
{
    return port ? port->shed : 0;
}

int tw_port_set_max_accepts(tw_port *port, unsigned max)
{
    if (!port || max == 0)
        return -EINVAL;
    port->max_accepts = max;
    if (port->number_accepts > max)
        port->number_accepts = max;
    return 0;
}
