/* A small DNS server for tests on twine's datagram transport and a TCP port (see dns_server.h). */
#include "dns_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* One reply waiting for its time: the bytes, where they go, and from which socket. */
struct tw_test_dns_reply {
    tw_test_dns_server *s;
    tw_test_dns_reply *next, *prev;
    tw_delayed_call *call;
    tw_datagram_port *from;
    struct sockaddr_storage to;
    socklen_t to_len;
    bool last; /* the query is answered once this one is sent */
    size_t len;
    uint8_t data[];
};

/* ---- building replies ------------------------------------------------------------------------ */

static void reply_start(tw_test_wire *w, const tw_dns_message *q, unsigned id, unsigned flags,
                        unsigned an, unsigned ns)
{
    tw_test_wire_header(w, id, flags, 1, an, ns, 0);
    tw_test_wire_name(w, q->question.name);
    tw_test_wire_u16(w, q->question.type);
    tw_test_wire_u16(w, q->question.qclass);
}

/* MX 20 mx2.NAME, MX 10 mx1.NAME; or one MX 5 spoofed.invalid. */
static void mx_reply(tw_test_wire *w, const tw_dns_message *q, unsigned id, bool spoofed)
{
    char exchange[TW_DNS_NAME_TEXT_MAX + 8];
    reply_start(w, q, id, 0x8180, spoofed ? 1 : 2, 0);
    if (spoofed) {
        tw_test_wire_mx(w, 5, "spoofed.invalid");
        return;
    }
    snprintf(exchange, sizeof exchange, "mx2.%s", q->question.name);
    tw_test_wire_mx(w, 20, exchange);
    snprintf(exchange, sizeof exchange, "mx1.%s", q->question.name);
    tw_test_wire_mx(w, 10, exchange);
}

static void soa_reply(tw_test_wire *w, const tw_dns_message *q)
{
    reply_start(w, q, q->id, 0x8180, 0, 1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_SOA, 1, 300, 0);
    size_t start = w->n;
    tw_test_wire_name(w, "ns.invalid");
    tw_test_wire_name(w, "hostmaster.invalid");
    for (int i = 0; i < 5; i++)
        tw_test_wire_u32(w, 60);
    tw_test_wire_set16(w, start - 2, (unsigned)(w->n - start));
}

/* An answer whose owner name is a pointer to itself. */
static void loop_reply(tw_test_wire *w, const tw_dns_message *q)
{
    reply_start(w, q, q->id, 0x8180, 1, 0);
    tw_test_wire_pointer(w, (unsigned)w->n);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 60, 4);
    tw_test_wire_u32(w, 0x7f000001);
}

static bool first_label_is(const tw_dns_message *q, const char *label)
{
    size_t n = strlen(label);
    return strncmp(q->question.name, label, n) == 0 && q->question.name[n] == '.';
}

/* The good reply to q into w (over TCP a truncated name gets its records). */
static void good_reply(tw_test_wire *w, const tw_dns_message *q, bool tcp)
{
    if (first_label_is(q, "nx"))
        reply_start(w, q, q->id, 0x8183, 0, 0);
    else if (first_label_is(q, "servfail"))
        reply_start(w, q, q->id, 0x8182, 0, 0);
    else if (first_label_is(q, "refused"))
        reply_start(w, q, q->id, 0x8185, 0, 0);
    else if (first_label_is(q, "empty"))
        soa_reply(w, q);
    else if (first_label_is(q, "tc") && !tcp)
        reply_start(w, q, q->id, 0x8380, 0, 0);
    else if (first_label_is(q, "noedns") && q->edns)
        reply_start(w, q, q->id, 0x8181, 0, 0);
    else
        mx_reply(w, q, q->id, false);
}

/* ---- sending, now or later ------------------------------------------------------------------- */

static void send_reply(tw_test_dns_reply *rp)
{
    tw_test_dns_server *s = rp->s;
    tw_datagram_write(rp->from, rp->data, rp->len, (struct sockaddr *)&rp->to, rp->to_len);
    if (rp->last)
        s->pending--;
    if (rp->prev)
        rp->prev->next = rp->next;
    else
        s->replies = rp->next;
    if (rp->next)
        rp->next->prev = rp->prev;
    if (rp->call)
        tw_delayed_call_unref(rp->call);
    free(rp);
}

static int reply_due(void *arg)
{
    send_reply(arg);
    return 0;
}

static void schedule(tw_test_dns_server *s, tw_datagram_port *from, const tw_test_wire *w,
                     const struct sockaddr *to, socklen_t to_len, bool last)
{
    tw_test_dns_reply *rp = calloc(1, sizeof *rp + w->n);
    if (!rp)
        abort();
    rp->s = s;
    rp->from = from;
    memcpy(&rp->to, to, to_len);
    rp->to_len = to_len;
    rp->last = last;
    rp->len = w->n;
    memcpy(rp->data, w->b, w->n);
    rp->next = s->replies;
    if (s->replies)
        s->replies->prev = rp;
    s->replies = rp;
    rp->call = tw_call_later(s->r, s->delay, reply_due, rp, NULL);
    if (!rp->call)
        abort();
    tw_delayed_call_ref(rp->call);
}

static int udp_query(tw_datagram_port *port, const char *data, size_t len,
                     const struct sockaddr *from, socklen_t from_len)
{
    tw_test_dns_server *s = tw_datagram_port_protocol(port)->user;
    tw_dns_message *q = NULL;
    if (tw_dns_message_parse((const uint8_t *)data, len, &q) < 0 || (q->flags & TW_DNS_FLAG_QR)) {
        tw_dns_message_free(q);
        return 0;
    }
    s->udp_queries++;
    s->edns_queries += q->edns;
    size_t used = strlen(s->asked);
    snprintf(s->asked + used, sizeof s->asked - used, "%s\n", q->question.name);
    if (!first_label_is(q, "silent")) {
        if (++s->pending > s->max_pending)
            s->max_pending = s->pending;
        tw_test_wire *w = tw_test_wire_new();
        tw_datagram_port *bad_from = first_label_is(q, "wrongport") ? s->spoof : s->udp;
        if (first_label_is(q, "loop"))
            loop_reply(w, q);
        else if (first_label_is(q, "wrongid"))
            mx_reply(w, q, q->id ^ 0x5A5A, true);
        else if (first_label_is(q, "wrongport"))
            mx_reply(w, q, q->id, true);
        else if (first_label_is(q, "noedns") && q->edns)
            reply_start(w, q, q->id, 0x8181, 0, 0); /* a duplicate of the FORMERR below */
        if (w->n)
            schedule(s, bad_from, w, from, from_len, false);
        w->n = 0;
        good_reply(w, q, false);
        schedule(s, s->udp, w, from, from_len, true);
        free(w);
    }
    tw_dns_message_free(q);
    return 0;
}

/* Stopped by the reactor's shutdown: not to be stopped again. */
static void udp_stopped(tw_datagram_port *port)
{
    tw_test_dns_server *s = tw_datagram_port_protocol(port)->user;
    if (s->udp == port)
        s->udp = NULL;
    if (s->spoof == port)
        s->spoof = NULL;
}

static const tw_datagram_protocol_ops udp_ops = {.datagram_received = udp_query,
                                                 .stop_protocol = udp_stopped};
static const tw_datagram_protocol_ops spoof_ops = {.stop_protocol = udp_stopped};

/* ---- TCP: 2-byte length prefix, answered at once --------------------------------------------- */

static ssize_t tcp_data(tw_protocol *p, const char *data, size_t len)
{
    tw_test_dns_server *s = p->factory->user;
    size_t used = 0;
    while (len - used >= 2) {
        size_t n = (size_t)((uint8_t)data[used] << 8 | (uint8_t)data[used + 1]);
        if (len - used - 2 < n)
            break;
        tw_dns_message *q = NULL;
        if (tw_dns_message_parse((const uint8_t *)data + used + 2, n, &q) == 0) {
            s->tcp_queries++;
            tw_test_wire *w = tw_test_wire_new();
            tw_test_wire_u16(w, 0); /* the prefix, filled in below */
            good_reply(w, q, true);
            tw_test_wire_set16(w, 0, (unsigned)(w->n - 2));
            tw_transport_write(p->transport, w->b, w->n);
            free(w);
            tw_dns_message_free(q);
        }
        used += 2 + n;
    }
    return (ssize_t)used;
}

static const tw_protocol_ops tcp_ops = {.data_received = tcp_data};

static int tcp_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &tcp_ops;
    return 0;
}

static const tw_factory_ops tcp_factory_ops = {.build_protocol = tcp_build};

int tw_test_dns_server_start(tw_test_dns_server *s, tw_reactor *r)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->tcp_factory.ops = &tcp_factory_ops;
    s->tcp_factory.user = s;
    tw_datagram_protocol proto = {.ops = &udp_ops, .user = s};
    tw_datagram_protocol quiet = {.ops = &spoof_ops, .user = s};
    int err = 0;
    /* UDP first on a free port, then TCP on the same number; retried if that one is taken. */
    for (int tries = 0; tries < 20 && !s->tcp; tries++) {
        if (s->udp)
            tw_datagram_port_stop(s->udp); /* its stop_protocol clears s->udp */
        if (!(s->udp = tw_listen_udp(r, 0, "127.0.0.1", &proto, &err)))
            return err;
        socklen_t len;
        tw_datagram_get_host(s->udp, &s->addr.addr, &len);
        s->addr.len = len;
        uint16_t port = ntohs(((struct sockaddr_in *)&s->addr.addr)->sin_port);
        s->tcp = tw_listen_tcp(r, port, "127.0.0.1", 0, &s->tcp_factory, &err);
    }
    if (!s->tcp || !(s->spoof = tw_listen_udp(r, 0, "127.0.0.1", &quiet, &err))) {
        tw_test_dns_server_stop(s);
        return err ? err : -EADDRINUSE;
    }
    return 0;
}

void tw_test_dns_server_stop(tw_test_dns_server *s)
{
    while (s->replies) {
        tw_test_dns_reply *rp = s->replies;
        s->replies = rp->next;
        tw_delayed_call_cancel(rp->call);
        tw_delayed_call_unref(rp->call);
        free(rp);
    }
    tw_datagram_port *udp = s->udp, *spoof = s->spoof;
    if (udp)
        tw_datagram_port_stop(udp);
    if (spoof)
        tw_datagram_port_stop(spoof);
    if (s->tcp)
        tw_port_free(s->tcp);
    s->udp = s->spoof = NULL;
    s->tcp = NULL;
}

bool tw_test_dns_server_two_queries(void *server)
{
    return ((tw_test_dns_server *)server)->udp_queries >= 2;
}
