/* Outgoing TCP and UNIX connections by numeric address (Twisted's BaseClient / Connector): a
 * non-blocking connect, completion on writability (SO_ERROR tells the real errno), a connect
 * timeout, and stop_connecting. Success hands the socket to a stream transport. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "transport/net.h"

struct tw_connector {
    tw_net *net;
    tw_factory *factory;
    int fd;
    int pending_error;            /* connect() failed at once: reported on a later turn */
    bool done;                    /* resolved: client_connection_failed or connection_made ran */
    tw_delayed_call *timeout_call;
    tw_delayed_call *soon_call;   /* delivers pending_error */
    struct sockaddr_storage dest;
    socklen_t dest_len;
    tw_net_closer closer;         /* registered while in progress */
};

static void cancel_call(tw_delayed_call **dc)
{
    if (*dc)
        tw_delayed_call_cancel(*dc);
    *dc = NULL;
}

/* Ends the attempt: timers off, no longer in progress. The fd is closed unless it is handed
 * over. */
static void finish(tw_connector *c, bool close_fd)
{
    c->done = true;
    cancel_call(&c->timeout_call);
    cancel_call(&c->soon_call);
    tw__net_unregister(&c->closer);
    if (close_fd && c->fd >= 0)
        tw__sock_close(c->net->r, c->fd);
    else if (c->fd >= 0)
        tw_reactor_remove_writer(c->net->r, c->fd);
    c->fd = -1;
}

/* The connector's last act: its reference on the context goes with it. */
static void connector_free(tw_connector *c)
{
    tw_net *net = c->net;
    free(c);
    tw__net_release(net);
}

static void release(tw_connector *c)
{
    tw_factory_do_stop(c->factory);
    connector_free(c);
}

/* Tells the factory (the connector is finished already) and frees the connector. */
static void report_failure(tw_connector *c, tw_failure *reason)
{
    tw_factory *f = c->factory;
    if (f->ops && f->ops->client_connection_failed)
        f->ops->client_connection_failed(f, c, reason);
    if (reason)
        tw_failure_unref(reason);
    release(c);
}

static void fail(tw_connector *c, tw_failure *reason)
{
    finish(c, true);
    report_failure(c, reason);
}

/* As Twisted's error.getConnectError: an errno with no type of its own among the connect errors
 * (EACCES from a prohibit route, EINVAL from a blackhole one, ENOENT for a UNIX path) is a plain
 * ConnectError, so a client never sees a bare OSError. */
static void fail_errno(tw_connector *c, int err)
{
    tw_failure *reason = tw__sock_failure(NULL, err, "connect");
    if (reason && tw_failure_check(reason, "OSError")) {
        tw_failure_unref(reason);
        reason = tw__sock_failure(TW_CONNECT_ERROR, err, "connect");
    }
    fail(c, reason);
}

static void succeed(tw_connector *c)
{
    int fd = c->fd;
    bool tcp = c->dest.ss_family != AF_UNIX;
    finish(c, false);
    int rc;
    tw_transport *t = tw__stream_new(c->net, fd, TW_T_CLIENT | (tcp ? TW_T_TCP : 0), &rc);
    if (!t) { /* no memory, or the socket cannot be watched for reading */
        tw__sock_close(c->net->r, fd);
        report_failure(c, tw__sock_failure(TW_CONNECT_ERROR, rc, "connect"));
        return;
    }
    tw_address peer;
    if (tw_address_from_sockaddr(&peer, (const struct sockaddr *)&c->dest, c->dest_len) < 0)
        memset(&peer, 0, sizeof peer); /* cannot happen: the family was checked at connect */
    if ((rc = tw__stream_build(t, c->factory, &peer)) < 0) {
        report_failure(c, tw_failure_new(TW_CONNECT_ERROR, rc,
                                         "build_protocol refused the connection: %s",
                                         tw_strerror(rc)));
        return;
    }
    /* The transport now owns the fd and the factory use (it calls doStop when it closes). The
     * connector stays valid through connection_made (which may ask it for the destination, or try
     * to stop it: it is done). */
    tw__stream_start(t);
    connector_free(c);
}

static int on_writable(tw_reactor *r, int fd, void *arg)
{
    tw_connector *c = arg;
    int refused = tw_reactor_watch_error(r, fd); /* never writable now: fail, do not ask SO_ERROR */
    if (refused) {
        fail_errno(c, refused);
        return 0;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY || err == EINTR)
        return 0;
    if (err)
        fail_errno(c, -err);
    else
        succeed(c);
    return 0;
}

static int timeout_fired(void *arg)
{
    tw_connector *c = arg;
    c->timeout_call = NULL;
    fail(c,
         tw_failure_new(TW_TIMEOUT_ERROR, -ETIMEDOUT, "User timeout caused connection failure."));
    return 0;
}

static int soon_fired(void *arg)
{
    tw_connector *c = arg;
    c->soon_call = NULL;
    fail_errno(c, c->pending_error);
    return 0;
}

/* Starts the connect; errors that connect() reports at once wait for a later turn. */
static int start(tw_connector *c, double timeout)
{
    tw_reactor *r = c->net->r;
    int rc;
    do
        rc = connect(c->fd, (const struct sockaddr *)&c->dest, c->dest_len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        c->pending_error = -errno;
        c->soon_call = tw_call_later(r, 0, soon_fired, c, NULL);
        return c->soon_call ? 0 : -ENOMEM;
    }
    rc = tw_reactor_add_writer(r, c->fd, on_writable, c);
    if (rc < 0)
        return rc;
    if (timeout == 0)
        timeout = TW_CONNECT_TIMEOUT_DEFAULT;
    if (timeout > 0 && !(c->timeout_call = tw_call_later(r, timeout, timeout_fired, c, NULL)))
        return -ENOMEM;
    return 0;
}

static void connector_on_shutdown(tw_net_closer *closer)
{
    fail(tw__container_of(closer, tw_connector, closer),
         tw_failure_new(TW_CONNECTION_LOST, 0,
                        "Connection to the other side was lost: reactor shutdown."));
}

tw_connector *tw_connect_sockaddr(tw_reactor *r, const struct sockaddr *sa, socklen_t len,
                                  double timeout, tw_factory *factory, int *err)
{
    int rc = -EINVAL;
    tw_connector *c = NULL;
    tw_net *net = NULL;
    if (!r || !sa || !factory || len > sizeof c->dest || len < sizeof(sa_family_t))
        goto out;
    rc = -EAFNOSUPPORT;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX)
        goto out;
    if (!(net = tw__net_acquire(r, &rc)))
        goto out;
    rc = -ENOMEM;
    if (!(c = calloc(1, sizeof *c)))
        goto out;
    c->net = net;
    c->factory = factory;
    memcpy(&c->dest, sa, len);
    c->dest_len = len;
    if ((c->fd = rc = tw__sock_stream(sa->sa_family)) < 0)
        goto out;
    if (sa->sa_family != AF_UNIX)
        tw__sock_nodelay(c->fd);
    if ((rc = tw_factory_do_start(factory)) < 0)
        goto out;
    if ((rc = start(c, timeout)) < 0) {
        tw_factory_do_stop(factory);
        goto out;
    }
    tw__net_register(net, &c->closer, connector_on_shutdown);
    return c;
out:
    if (c) {
        cancel_call(&c->timeout_call);
        cancel_call(&c->soon_call);
        if (c->fd >= 0)
            tw__sock_close(r, c->fd);
        free(c);
    }
    if (net)
        tw__net_release(net);
    if (err)
        *err = rc;
    return NULL;
}

tw_connector *tw_connect_tcp(tw_reactor *r, const char *host, uint16_t port, double timeout,
                             tw_factory *factory, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = tw__sock_parse_ip(AF_UNSPEC, host, port, &ss, &len);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return tw_connect_sockaddr(r, (struct sockaddr *)&ss, len, timeout, factory, err);
}

tw_connector *tw_connect_unix(tw_reactor *r, const char *path, double timeout, tw_factory *factory,
                              int *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = tw__sock_parse_unix(path, &ss, &len);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return tw_connect_sockaddr(r, (struct sockaddr *)&ss, len, timeout, factory, err);
}

int tw_connector_stop_connecting(tw_connector *c)
{
    if (!c)
        return -EINVAL;
    if (c->done)
        return TW_EALREADYCALLED;
    fail(c, tw_failure_new(TW_CONNECTING_CANCELLED_ERROR, -ECANCELED,
                           "The connection attempt was cancelled."));
    return 0;
}

int tw_connector_get_destination(const tw_connector *c, tw_address *out)
{
    if (!c || !out)
        return -EINVAL;
    return tw_address_from_sockaddr(out, (const struct sockaddr *)&c->dest, c->dest_len);
}
