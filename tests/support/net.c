/* Shared helpers for tests over real sockets: the recording protocol and factory, loopback
 * clients and a bounded run loop. See net.h. */
#include "net.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- the recording protocol ------------------------------------------------------------------ */

static void append(tw_test_peer *p, const char *data, size_t len)
{
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        char *b = realloc(p->data, cap);
        if (!b)
            abort(); /* a test helper: out of memory ends the test run */
        p->data = b;
        p->cap = cap;
    }
    memcpy(p->data + p->len, data, len);
    p->len += len;
}

static int peer_made(tw_protocol *proto)
{
    tw_test_peer *p = proto->user;
    p->transport = proto->transport;
    p->made++;
    if (p->send_on_made_len)
        tw_transport_write(p->transport, p->send_on_made, p->send_on_made_len);
    if (p->lose_on_made)
        tw_transport_lose_connection(p->transport);
    return 0;
}

static ssize_t peer_data(tw_protocol *proto, const char *data, size_t len)
{
    tw_test_peer *p = proto->user;
    p->calls++;
    p->last_presented = len;
    if (p->data_error)
        return p->data_error;
    if (len < p->consume_min)
        return 0;
    size_t use = p->consume_at_most && p->consume_at_most < len ? p->consume_at_most : len;
    p->in_data = true;
    if (p->record)
        append(p, data, use);
    if (p->echo)
        tw_transport_write(proto->transport, data, use);
    if (p->on_data)
        p->on_data(p, data, use);
    if (p->abort_on_data)
        tw_transport_abort_connection(proto->transport);
    p->in_data = false;
    return (ssize_t)use;
}

static int peer_read_lost(tw_protocol *proto)
{
    tw_test_peer *p = proto->user;
    p->read_lost++;
    if (p->on_read_lost)
        p->on_read_lost(p);
    return 0;
}

static int peer_write_lost(tw_protocol *proto)
{
    tw_test_peer *p = proto->user;
    p->write_lost++;
    return 0;
}

static void peer_lost(tw_protocol *proto, const tw_failure *reason)
{
    tw_test_peer *p = proto->user;
    p->lost++;
    p->lost_inside_data = p->in_data;
    snprintf(p->reason_type, sizeof p->reason_type, "%s", reason ? tw_failure_type(reason) : "?");
    p->reason_code = reason ? tw_failure_code(reason) : 0;
    p->transport = NULL;
}

static void peer_destroy(tw_protocol *proto)
{
    tw_test_peer *p = proto->user;
    p->destroyed++;
}

static const tw_protocol_ops peer_ops = {
    .connection_made = peer_made,
    .data_received = peer_data,
    .connection_lost = peer_lost,
    .destroy = peer_destroy,
};

static const tw_protocol_ops peer_half_close_ops = {
    .connection_made = peer_made,
    .data_received = peer_data,
    .read_connection_lost = peer_read_lost,
    .write_connection_lost = peer_write_lost,
    .connection_lost = peer_lost,
    .destroy = peer_destroy,
};

/* ---- the factory ----------------------------------------------------------------------------- */

static int factory_start(tw_factory *fac)
{
    ((tw_test_factory *)fac->user)->started++;
    return 0;
}

static void factory_stop(tw_factory *fac)
{
    ((tw_test_factory *)fac->user)->stopped++;
}

static int factory_build(tw_factory *fac, const tw_address *addr, tw_protocol *out)
{
    tw_test_factory *f = fac->user;
    if (f->refuse < 0)
        return f->refuse;
    if (f->npeers == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        tw_test_peer **b = realloc(f->peers, cap * sizeof *b);
        if (!b)
            return -ENOMEM;
        f->peers = b;
        f->cap = cap;
    }
    tw_test_peer *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    *p = f->template;
    p->peer_addr = *addr;
    f->peers[f->npeers++] = p;
    out->ops = p->half_close ? &peer_half_close_ops : &peer_ops;
    out->user = p;
    return 0;
}

static void factory_failed(tw_factory *fac, tw_connector *c, const tw_failure *reason)
{
    (void)c;
    tw_test_factory *f = fac->user;
    f->failed++;
    snprintf(f->fail_type, sizeof f->fail_type, "%s", tw_failure_type(reason));
    f->fail_code = tw_failure_code(reason);
}

static const tw_factory_ops test_factory_ops = {
    .start_factory = factory_start,
    .stop_factory = factory_stop,
    .build_protocol = factory_build,
    .client_connection_failed = factory_failed,
};

void tw_test_factory_init(tw_test_factory *f)
{
    memset(f, 0, sizeof *f);
    f->factory.ops = &test_factory_ops;
    f->factory.user = f;
    f->template.record = true;
}

void tw_test_factory_free(tw_test_factory *f)
{
    for (size_t i = 0; i < f->npeers; i++) {
        free(f->peers[i]->data);
        free(f->peers[i]);
    }
    free(f->peers);
    f->peers = NULL;
    f->npeers = f->cap = 0;
}

size_t tw_test_factory_lost(const tw_test_factory *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->npeers; i++)
        n += f->peers[i]->lost > 0;
    return n;
}

size_t tw_test_factory_made(const tw_test_factory *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->npeers; i++)
        n += f->peers[i]->made > 0;
    return n;
}

tw_test_peer *tw_test_factory_last(const tw_test_factory *f)
{
    return f->npeers ? f->peers[f->npeers - 1] : NULL;
}

bool tw_test_all_lost(void *arg)
{
    tw_test_factory *f = arg;
    size_t made = tw_test_factory_made(f);
    return made > 0 && tw_test_factory_lost(f) == made;
}

bool tw_test_failed(void *arg)
{
    return ((tw_test_factory *)arg)->failed > 0;
}

bool tw_test_made_at_least(void *made_count)
{
    const tw_test_made_count *m = made_count;
    return tw_test_factory_made(m->factory) >= m->want;
}

/* ---- running and sockets --------------------------------------------------------------------- */

bool tw_test_run_until(tw_reactor *r, bool (*cond)(void *arg), void *arg, double timeout)
{
    double deadline = tw_test_now() + timeout;
    while (!cond(arg) && tw_test_now() < deadline)
        if (tw_reactor_iterate(r, 0.05) < 0)
            break;
    return cond(arg);
}

static int stop_soon(void *arg)
{
    return tw_reactor_stop(arg);
}

int tw_test_run_to_shutdown(tw_reactor *r)
{
    if (!tw_call_later(r, 0, stop_soon, r, NULL))
        return -ENOMEM;
    return tw_reactor_run(r);
}

int tw_test_net_fixture_setup(void **state, size_t size)
{
    /* The fixture's first member is its net env, so the fixture's address is the env's. */
    tw_test_net_env *net = calloc(1, size);
    if (!net)
        return -1;
    net->r = tw_test_reactor_new(&net->log);
    if (!net->r) {
        free(net);
        return -1;
    }
    tw_test_factory_init(&net->server);
    tw_test_factory_init(&net->client);
    *state = net;
    return 0;
}

int tw_test_net_fixture_teardown(void **state)
{
    tw_test_net_env *net = *state;
    tw_port_free(net->port); /* stopped or not, even by a shutdown or tw_reactor_free */
    assert_int_equal(tw_transport_count(net->r), 0);
    tw_test_reactor_free(net->r, &net->log);
    tw_test_factory_free(&net->server);
    tw_test_factory_free(&net->client);
    free(net);
    return 0;
}

/* ---- a loopback server for protocol end-to-end tests ----------------------------------------- */

static void conn_destroy(tw_protocol *p)
{
    free(p->user);
}

static int conn_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    tw_test_conn_factory *cf = f->user;
    void *conn = calloc(1, cf->conn_size);
    if (!conn)
        return -ENOMEM;
    cf->init_conn(conn, cf->user);
    out->ops = &cf->protocol_ops;
    out->user = conn;
    return 0;
}

static const tw_factory_ops conn_factory_ops = {.build_protocol = conn_build};

void tw_test_conn_factory_init(tw_test_conn_factory *cf, size_t conn_size,
                               void (*init_conn)(void *conn, void *user),
                               ssize_t (*data_received)(tw_protocol *p, const char *data,
                                                        size_t len),
                               void *user)
{
    memset(cf, 0, sizeof *cf);
    cf->factory.ops = &conn_factory_ops;
    cf->factory.user = cf;
    cf->protocol_ops.data_received = data_received;
    cf->protocol_ops.destroy = conn_destroy;
    cf->conn_size = conn_size;
    cf->init_conn = init_conn;
    cf->user = user;
}

tw_string_transport *tw_test_conn_open(tw_reactor *r, tw_test_conn_factory *cf)
{
    int err = 0;
    tw_string_transport *st = tw_string_transport_new(r, &cf->factory, NULL, &err);
    assert_non_null(st);
    return st;
}

size_t tw_test_feed_bytewise(tw_string_transport *st, const char *data, size_t len)
{
    size_t fed = 0;
    while (fed < len && tw_string_transport_data_received(st, data + fed, 1) == 0)
        fed++;
    return fed;
}

bool tw_test_conn_closed(const tw_string_transport *st)
{
    return tw_string_transport_state(st) & TW_STRING_CLOSED;
}

uint16_t tw_test_port_number(const tw_port *p)
{
    tw_address a;
    return tw_port_get_host(p, &a) == 0 ? a.port : 0;
}

int tw_test_tcp_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static int loopback_socket(struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *sin = (struct sockaddr_in){.sin_family = AF_INET};
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sin;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof *sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
    return fd;
}

uint16_t tw_test_closed_port(void)
{
    struct sockaddr_in sin;
    close(loopback_socket(&sin));
    return ntohs(sin.sin_port);
}

uint16_t tw_test_full_listener(int *listener, int *filler)
{
    struct sockaddr_in sin;
    *listener = loopback_socket(&sin);
    assert_int_equal(listen(*listener, 0), 0);
    *filler = tw_test_tcp_client(ntohs(sin.sin_port));
    assert_true(*filler >= 0);
    return ntohs(sin.sin_port);
}

int tw_test_unix_client(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

size_t tw_test_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

void tw_test_unix_path(char *buf, size_t size, const char *tag)
{
    static unsigned counter;
    snprintf(buf, size, "/tmp/twine-test-%d-%s-%u.sock", (int)getpid(), tag, counter++);
}

bool tw_test_ipv6_loopback_available(void)
{
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(s, (struct sockaddr *)&sin6, sizeof sin6) == 0;
    close(s);
    return ok;
}

void tw_test_fill_random(void *buf, size_t n, uint32_t seed)
{
    unsigned char *b = buf;
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
}

void tw_test_skip_unless_fds_past(int limit)
{
    const char *why = tw_test_fds_past_unavailable(limit);
    if (why) {
        print_message("skipped: %s\n", why);
        skip();
    }
}
