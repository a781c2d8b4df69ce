/* The DNS resolver (Twisted's names.client.Resolver): queries sent over UDP from a fresh connected
 * socket per attempt, answers matched to their query, retries round the servers on the reactor's
 * timers, and the outcome (an answer or a named failure) delivered through a deferred. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "client.h"
#include "dns_private.h"

static const double default_timeouts[] = TW_DNS_TIMEOUTS_DEFAULT;

/* Random bits for IDs and tie shuffling (RFC 5452 §9.2: unpredictable). */
static void random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort(); /* the kernel's CSPRNG does not fail once booted; never fall back to rand() */
        p += n;
        len -= (size_t)n;
    }
}

/* ---- the query's timer ----------------------------------------------------------------------- */

static int on_timeout(void *arg);

static void stop_timer(tw_dns_pending *q)
{
    if (q->timer) {
        tw_delayed_call_cancel(q->timer);
        tw_delayed_call_unref(q->timer);
        q->timer = NULL;
    }
}

/* The query's one timer, due in seconds; 0 or -ENOMEM. */
static int set_timer(tw_dns_pending *q, double seconds)
{
    int err = 0;
    stop_timer(q);
    q->timer = tw_call_later(q->res->r, seconds, on_timeout, q, &err);
    if (q->timer)
        tw_delayed_call_ref(q->timer);
    return err;
}

/* ---- ending a query -------------------------------------------------------------------------- */

/* Stops everything the query runs and unlinks it; the deferred is left to the caller. The query
 * is detached before anyone is called back, so a callback that cancels or frees cannot reach it. */
static tw_deferred *detach(tw_dns_pending *q)
{
    tw_dns_resolver *res = q->res;
    stop_timer(q);
    for (size_t i = 0; i < q->nattempts; i++) {
        tw_datagram_port *port = q->attempts[i].port;
        if (!port)
            continue; /* already stopped by the reactor's shutdown */
        /* No more callbacks into this query, which is about to be freed; a port stopped from
         * inside its own callback finishes after it returns. */
        tw_datagram_port_protocol(port)->ops = NULL;
        tw_datagram_port_stop(port);
    }
    if (q->tcp)
        tw__dns_tcp_stop(q->tcp);
    if (q->prev)
        q->prev->next = q->next;
    else
        res->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    res->in_flight--;
    tw_deferred *d = q->d;
    free(q->name);
    free(q);
    return d;
}

static void succeed(tw_dns_pending *q, tw_dns_message *m)
{
    tw_deferred *d = detach(q);
    if (tw_deferred_callback(d, m, (tw_destructor)tw_dns_message_free) < 0)
        tw_dns_message_free(m);
    tw_deferred_unref(d);
}

void tw__dns_query_fail(tw_dns_pending *q, const char *type, int code, const char *why)
{
    tw_failure *f = tw_failure_new(type, code, "%s: %s", q->name, why);
    tw_deferred *d = detach(q);
    tw_deferred_errback(d, f);
    tw_deferred_unref(d);
}

/* The canceller: the deferred fails with CancelledError once this returns. */
static void cancel_query(tw_deferred *d, void *arg)
{
    (void)d;
    tw_deferred_unref(detach(arg));
}

/* ---- attempts -------------------------------------------------------------------------------- */

static void run_next_attempt(tw_dns_pending *q);
static int on_timeout(void *arg)
{
    tw_dns_pending *q = arg;
    tw_delayed_call_unref(q->timer);
    q->timer = NULL;
    if (q->tcp)
        tw__dns_query_fail(q, TW_TIMEOUT_ERROR, -ETIMEDOUT, "timed out over TCP");
    else
        run_next_attempt(q);
    return 0;
}

/* This server will not answer this query: it gets no more attempts, and why is kept for the
 * failure if every server ends that way. */
static void remember_strike(tw_dns_pending *q, size_t server, const char *type, int code,
                            const char *why)
{
    q->struck[server] = true;
    q->last_type = type;
    q->last_code = code;
    snprintf(q->last_why, sizeof q->last_why, "%s", why);
}

/* ... and the query moves on at once. */
static void strike(tw_dns_pending *q, size_t server, const char *type, int code, const char *why)
{
    remember_strike(q, server, type, code, why);
    run_next_attempt(q);
}

static int attempt_datagram(tw_datagram_port *port, const char *data, size_t len,
                            const struct sockaddr *from, socklen_t from_len)
{
    (void)from;
    (void)from_len; /* the socket is connected: the kernel delivers only the server's datagrams */
    tw_dns_attempt *a = tw_datagram_port_protocol(port)->user;
    tw__dns_query_reply(a->q, a->server, (const uint8_t *)data, len, a);
    return 0;
}

static void attempt_refused(tw_datagram_port *port, const tw_failure *reason)
{
    tw_dns_attempt *a = tw_datagram_port_protocol(port)->user;
    strike(a->q, a->server, tw_failure_type(reason), tw_failure_code(reason),
           tw_failure_message(reason));
}

/* The reactor's shutdown stopped the port: the query must not stop it again. */
static void attempt_stopped(tw_datagram_port *port)
{
    tw_dns_attempt *a = tw_datagram_port_protocol(port)->user;
    a->port = NULL;
}

static const tw_datagram_protocol_ops attempt_ops = {
    .datagram_received = attempt_datagram,
    .connection_refused = attempt_refused,
    .stop_protocol = attempt_stopped,
};

/* Opens a socket connected to the server and sends the query. 0 or a negative errno. */
static int send_attempt(tw_dns_pending *q, size_t server)
{
    tw_dns_resolver *res = q->res;
    const tw_dns_server *s = &res->servers[server];
    tw_dns_attempt *a = &q->attempts[q->nattempts];
    tw_datagram_protocol proto = {.ops = &attempt_ops, .user = a};
    int err = 0;
    a->q = q;
    a->server = server;
    a->edns = q->edns;
    a->port = tw_listen_udp(res->r, 0, s->addr.ss_family == AF_INET6 ? "::" : "0.0.0.0", &proto,
                            &err);
    if (!a->port)
        return err;
    q->nattempts++; /* from here on the query stops this port when it ends */
    err = tw_datagram_port_connect(a->port, (const struct sockaddr *)&s->addr, s->len);
    if (err == 0)
        err = tw_datagram_write(a->port, q->packet, q->len, NULL, 0);
    return err;
}

/* Sends the query to server and gives the attempt `seconds`: 0, or the send's error. Without a
 * timer the query fails at once (and is gone when this returns 0). */
static int send_timed_attempt(tw_dns_pending *q, size_t server, double seconds)
{
    int err = send_attempt(q, server);
    if (err < 0)
        return err;
    if ((err = set_timer(q, seconds)) < 0)
        tw__dns_query_fail(q, TW_MEMORY_ERROR, err, "cannot set a timer");
    return 0;
}

/* The next attempt in the schedule that goes to a server not struck: sent, with its timer set.
 * None left: the query fails with the last server error, or TimeoutError. */
static void run_next_attempt(tw_dns_pending *q)
{
    tw_dns_resolver *res = q->res;
    size_t total = res->nservers * res->ntimeouts;
    stop_timer(q);
    while (q->next_attempt < total && q->nattempts < TW_DNS_ATTEMPTS_LIMIT) {
        size_t k = q->next_attempt++, server = k % res->nservers;
        if (q->struck[server])
            continue;
        int err = send_timed_attempt(q, server, res->timeouts[k / res->nservers]);
        if (err < 0) { /* a loop, not a recursion: a query never nests its own retries */
            remember_strike(q, server, TW_CONNECT_ERROR, err, tw_strerror(err));
            continue;
        }
        return;
    }
    if (q->last_type)
        tw__dns_query_fail(q, q->last_type, q->last_code, q->last_why);
    else
        tw__dns_query_fail(q, TW_TIMEOUT_ERROR, -ETIMEDOUT, "timed out");
}

/* ---- answers --------------------------------------------------------------------------------- */

/* What an rcode means for the query: done (fired), or the server struck and the query moved on. */
static void act_on_rcode(tw_dns_pending *q, size_t server, tw_dns_message *m)
{
    char buf[16];
    unsigned rcode = m->rcode;
    const char *type = tw_dns_rcode_error_type(rcode);
    const char *name = tw_dns_rcode_name(rcode, buf, sizeof buf);
    tw_dns_message_free(m);
    char why[64];
    switch (rcode) {
    case TW_DNS_RCODE_NXDOMAIN:
        tw__dns_query_fail(q, type, 0, "no such domain (NXDOMAIN)");
        return;
    case TW_DNS_RCODE_SERVFAIL:
    case TW_DNS_RCODE_REFUSED:
    case TW_DNS_RCODE_NOTIMP:
        snprintf(why, sizeof why, "server answered %s", name);
        strike(q, server, type, 0, why);
        return;
    default:
        snprintf(why, sizeof why, "server answered %s", name);
        tw__dns_query_fail(q, type, 0, why);
        return;
    }
}

/* A FORMERR without OPT to a query with one: the server knows no EDNS (RFC 6891 §7). The same
 * question, with the same ID and no OPT, goes to the same server once, on the current attempt's
 * time. */
static void ask_again_without_edns(tw_dns_pending *q, size_t server)
{
    tw_dns_resolver *res = q->res;
    uint16_t id = tw__dns_get16(q->packet);
    int n = tw_dns_query_encode(q->packet, sizeof q->packet, id, q->name, q->type,
                                TW_DNS_CLASS_IN, TW_DNS_QUERY_RD);
    q->edns = false;
    if (n < 0 || q->nattempts == TW_DNS_ATTEMPTS_LIMIT) {
        strike(q, server, TW_DNS_FORMAT_ERROR, 0, "server answered FORMERR to EDNS");
        return;
    }
    q->len = (size_t)n;
    size_t pass = (q->next_attempt - 1) / res->nservers; /* the current attempt's */
    int err = send_timed_attempt(q, server, res->timeouts[pass]);
    if (err < 0)
        strike(q, server, TW_CONNECT_ERROR, err, tw_strerror(err));
}

void tw__dns_query_reply(tw_dns_pending *q, size_t server, const uint8_t *data, size_t len,
                         const tw_dns_attempt *udp)
{
    tw_dns_message *m = NULL;
    if (tw_dns_message_parse(data, len, &m) < 0)
        return; /* malformed: dropped, as anything that does not answer the query */
    if (!tw_dns_message_answers(m, q->packet, q->len)) {
        tw_dns_message_free(m);
        return;
    }
    if (udp && udp->edns && m->rcode == TW_DNS_RCODE_FORMERR && !m->edns) {
        tw_dns_message_free(m);
        if (q->edns) /* else asked again already: a late copy for an earlier attempt */
            ask_again_without_edns(q, server);
        return;
    }
    if (udp && (m->flags & TW_DNS_FLAG_TC)) {
        tw_dns_message_free(m);
        if (q->tcp)
            return; /* already asking over TCP: a second truncated copy changes nothing */
        int err = tw__dns_tcp_start(q, server);
        if (err == 0)
            err = set_timer(q, q->res->tcp_timeout);
        if (err < 0)
            tw__dns_query_fail(q, TW_CONNECT_ERROR, err,
                               "cannot retry a truncated answer over TCP");
        return;
    }
    if (m->rcode == TW_DNS_RCODE_NOERROR)
        succeed(q, m);
    else
        act_on_rcode(q, server, m);
}

/* ---- the resolver ---------------------------------------------------------------------------- */

static int copy_options(tw_dns_resolver *res, const tw_dns_resolver_options *o)
{
    tw_dns_resolv_conf conf;
    const tw_dns_server *servers = o && o->servers ? o->servers : NULL;
    size_t nservers = servers ? o->nservers : 0;
    if (!servers) {
        tw_dns_resolv_conf_load(o ? o->resolv_conf : NULL, &conf); /* defaults if unreadable */
        servers = conf.servers;
        nservers = conf.count;
    }
    const double *timeouts = o && o->timeouts ? o->timeouts : default_timeouts;
    size_t ntimeouts = o && o->timeouts ? o->ntimeouts : sizeof default_timeouts / sizeof(double);
    if (nservers == 0 || nservers > TW_DNS_NAMESERVERS_MAX || ntimeouts == 0 ||
        ntimeouts > TW_DNS_TIMEOUTS_MAX || (o && o->tcp_timeout < 0))
        return -EINVAL;
    for (size_t i = 0; i < ntimeouts; i++)
        if (!(timeouts[i] > 0))
            return -EINVAL;
    memcpy(res->servers, servers, nservers * sizeof *servers);
    res->nservers = nservers;
    memcpy(res->timeouts, timeouts, ntimeouts * sizeof *timeouts);
    res->ntimeouts = ntimeouts;
    res->tcp_timeout = o && o->tcp_timeout > 0 ? o->tcp_timeout : TW_DNS_TCP_TIMEOUT;
    res->edns = o && o->edns;
    return 0;
}

tw_dns_resolver *tw_dns_resolver_new(tw_reactor *r, const tw_dns_resolver_options *options,
                                     int *err)
{
    int dummy;
    err = err ? err : &dummy;
    tw_dns_resolver *res = r ? calloc(1, sizeof *res) : NULL;
    if (!res) {
        *err = r ? -ENOMEM : -EINVAL;
        return NULL;
    }
    res->r = r;
    if ((*err = copy_options(res, options)) < 0) {
        free(res);
        return NULL;
    }
    return res;
}

void tw_dns_resolver_free(tw_dns_resolver *res)
{
    if (!res)
        return;
    while (res->queries) {
        tw_deferred *d = tw_deferred_ref(res->queries->d);
        tw_deferred_cancel(d); /* the canceller detaches the query */
        tw_deferred_unref(d);
    }
    free(res);
}

size_t tw_dns_resolver_in_flight(const tw_dns_resolver *res)
{
    return res ? res->in_flight : 0;
}

/* A query set up and linked in, its packet encoded; nothing sent yet. */
static tw_dns_pending *query_new(tw_dns_resolver *res, const char *name, uint16_t type, int *err)
{
    uint16_t id;
    random_bytes(&id, sizeof id);
    tw_dns_pending *q = calloc(1, sizeof *q);
    if (!q) {
        *err = -ENOMEM;
        return NULL;
    }
    int n = tw_dns_query_encode(q->packet, sizeof q->packet, id, name, type, TW_DNS_CLASS_IN,
                                TW_DNS_QUERY_RD | (res->edns ? TW_DNS_QUERY_EDNS : 0));
    if (n < 0) {
        *err = n;
        free(q);
        return NULL;
    }
    q->name = strdup(name);
    q->d = q->name ? tw_deferred_new_with_canceller(res->r, cancel_query, q, err) : NULL;
    if (!q->d) {
        *err = -ENOMEM;
        free(q->name);
        free(q);
        return NULL;
    }
    q->len = (size_t)n;
    q->type = type;
    q->edns = res->edns;
    q->res = res;
    q->next = res->queries;
    if (res->queries)
        res->queries->prev = q;
    res->queries = q;
    res->in_flight++;
    return q;
}

tw_deferred *tw_dns_query(tw_dns_resolver *res, const char *name, uint16_t type, int *err)
{
    int dummy;
    err = err ? err : &dummy;
    if (!res || !name) {
        *err = -EINVAL;
        return NULL;
    }
    tw_dns_pending *q = query_new(res, name, type, err);
    if (!q)
        return NULL;
    /* The caller gets its own reference; the query keeps one until it ends. Errors from here on
     * (a socket that cannot be opened, say) come through the deferred, as Twisted's do. */
    tw_deferred *d = tw_deferred_ref(q->d);
    run_next_attempt(q);
    return d;
}

/* ---- MX -------------------------------------------------------------------------------------- */

static int message_to_mx(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    (void)arg;
    tw_dns_mx_list *list = NULL;
    int rc = tw_dns_message_mx(tw_result_value(result), &list);
    if (rc == -ELOOP) {
        tw_result_set_failure(result, tw_failure_new(TW_VALUE_ERROR, rc, "CNAME loop in answer"));
        return 0;
    }
    if (rc < 0)
        return rc;
    uint64_t seed;
    random_bytes(&seed, sizeof seed);
    tw_dns_mx_list_shuffle_ties(list, seed);
    tw_result_set_value(result, list, (tw_destructor)tw_dns_mx_list_free);
    return 0;
}

tw_deferred *tw_dns_lookup_mail_exchange(tw_dns_resolver *res, const char *name, int *err)
{
    tw_deferred *d = tw_dns_query(res, name, TW_DNS_TYPE_MX, err);
    if (d && tw_deferred_add_callback(d, message_to_mx, NULL) < 0) {
        tw_deferred_cancel(d);
        tw_deferred_unref(d);
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    return d;
}
