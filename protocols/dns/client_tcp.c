/* The TCP retry of a truncated UDP answer (RFC 1035 §4.2.2, RFC 7766): one connection to the server
 * that truncated, the query written with its 2-byte length prefix in one write, replies read frame
 * by frame (split prefixes, several frames per read) and handed to the query. */
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "client.h"
#include "dns_private.h"

struct tw_dns_tcp {
    tw_factory factory;      /* lives until stop_factory: the connection's last use of it */
    tw_dns_pending *q;         /* NULL once detached (the query ended) */
    size_t server;
    tw_connector *connector; /* while connecting */
    tw_transport *transport; /* once connected, until connection_lost */
    bool started;            /* start_factory ran, so stop_factory will free this */
};

/* The TCP attempt failed or closed before an answer: the query fails with its reason. */
static void fail_query(tw_dns_tcp *tcp, const char *type, int code, const char *why)
{
    tw_dns_pending *q = tcp->q;
    if (!q)
        return;
    tcp->q = NULL;
    q->tcp = NULL;
    tw__dns_query_fail(q, type, code, why);
}

static int tcp_made(tw_protocol *p)
{
    tw_dns_tcp *tcp = p->user;
    tcp->connector = NULL; /* freed by twine right after this call */
    tcp->transport = p->transport;
    if (!tcp->q) {
        tw_transport_abort_connection(p->transport);
        return 0;
    }
    uint8_t prefix[2];
    tw__dns_put16(prefix, (uint16_t)tcp->q->len);
    struct iovec iov[2] = {{prefix, 2}, {tcp->q->packet, tcp->q->len}};
    return tw_transport_write_sequence(p->transport, iov, 2);
}

/* Every complete frame in data goes to the query; a partial one stays for the next read. */
static ssize_t tcp_data(tw_protocol *p, const char *data, size_t len)
{
    tw_dns_tcp *tcp = p->user;
    size_t used = 0;
    while (tcp->q && len - used >= 2) {
        size_t n = tw__dns_get16((const uint8_t *)data + used);
        if (n < TW_DNS_HEADER_SIZE) { /* the stream is out of step: nothing after it can be read */
            tw_transport_abort_connection(p->transport);
            fail_query(tcp, TW_DNS_FORMAT_ERROR, TW_EPARSE, "malformed TCP frame");
            return (ssize_t)len;
        }
        if (len - used - 2 < n)
            break;
        tw__dns_query_reply(tcp->q, tcp->server, (const uint8_t *)data + used + 2, n, NULL);
        used += 2 + n;
    }
    return tcp->q ? (ssize_t)used : (ssize_t)len;
}

static void tcp_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    tw_dns_tcp *tcp = p->user;
    tcp->transport = NULL;
    fail_query(tcp, TW_CONNECTION_LOST, -ECONNRESET, "TCP connection closed before an answer");
}

static const tw_protocol_ops tcp_protocol_ops = {
    .connection_made = tcp_made,
    .data_received = tcp_data,
    .connection_lost = tcp_lost,
};

static int tcp_start_factory(tw_factory *f)
{
    ((tw_dns_tcp *)f->user)->started = true;
    return 0;
}

static void tcp_stop_factory(tw_factory *f)
{
    free(f->user);
}

static int tcp_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    out->ops = &tcp_protocol_ops;
    out->user = f->user;
    return 0;
}

static void tcp_connect_failed(tw_factory *f, tw_connector *connector, const tw_failure *reason)
{
    (void)connector;
    tw_dns_tcp *tcp = f->user;
    tcp->connector = NULL;
    fail_query(tcp, tw_failure_type(reason), tw_failure_code(reason), tw_failure_message(reason));
}

static const tw_factory_ops tcp_factory_ops = {
    .start_factory = tcp_start_factory,
    .stop_factory = tcp_stop_factory,
    .build_protocol = tcp_build,
    .client_connection_failed = tcp_connect_failed,
};

int tw__dns_tcp_start(tw_dns_pending *q, size_t server)
{
    const tw_dns_server *s = &q->res->servers[server];
    tw_dns_tcp *tcp = calloc(1, sizeof *tcp);
    if (!tcp)
        return -ENOMEM;
    tcp->factory.ops = &tcp_factory_ops;
    tcp->factory.user = tcp;
    tcp->q = q;
    tcp->server = server;
    int err = 0;
    tcp->connector = tw_connect_sockaddr(q->res->r, (const struct sockaddr *)&s->addr, s->len,
                                         q->res->tcp_timeout, &tcp->factory, &err);
    if (!tcp->connector) {
        if (!tcp->started) /* otherwise stop_factory has freed it already */
            free(tcp);
        return err;
    }
    q->tcp = tcp;
    return 0;
}

void tw__dns_tcp_stop(tw_dns_tcp *tcp)
{
    tcp->q = NULL;
    if (tcp->connector)
        tw_connector_stop_connecting(tcp->connector); /* may free tcp: not used after this */
    else if (tcp->transport)
        tw_transport_abort_connection(tcp->transport);
}
