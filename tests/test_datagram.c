/* Tests for the datagram transport over loopback: unconnected exchange with sender addresses
 * (IPv4 and IPv6), empty datagrams, connected ports (only the peer is heard; an ICMP refusal comes
 * back as ConnectionRefusedError and the port goes on), argument errors, bounded reads per turn,
 * stopping from inside a callback, and the reactor's shutdown and tw_reactor_free closing what is
 * open. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"

#define RECORD_MAX 256

/* A recording protocol: what arrived, from where, and which callbacks ran. */
typedef struct {
    tw_datagram_port *port;
    size_t received;
    char last[64];
    size_t last_len;
    struct sockaddr_storage from;
    socklen_t from_len;
    int started, stopped, refused;
    char refused_type[40];
    bool echo;           /* send every datagram back to where it came from */
    bool stop_on_data;   /* tw_datagram_port_stop from inside datagram_received */
    tw_reactor *relisten; /* stop_protocol listens again on this reactor (a few times at most) */
    int relistens, relisten_err;
} rec;

static int rec_start(tw_datagram_port *port)
{
    rec *r = tw_datagram_port_protocol(port)->user;
    r->port = port;
    r->started++;
    return 0;
}

static int rec_data(tw_datagram_port *port, const char *data, size_t len,
                    const struct sockaddr *from, socklen_t from_len)
{
    rec *r = tw_datagram_port_protocol(port)->user;
    r->received++;
    r->last_len = len < sizeof r->last ? len : sizeof r->last;
    memcpy(r->last, data, r->last_len);
    memcpy(&r->from, from, from_len);
    r->from_len = from_len;
    if (r->echo)
        assert_int_equal(tw_datagram_write(port, data, len, from, from_len), 0);
    if (r->stop_on_data)
        tw_datagram_port_stop(port);
    return 0;
}

static void rec_refused(tw_datagram_port *port, const tw_failure *reason)
{
    rec *r = tw_datagram_port_protocol(port)->user;
    r->refused++;
    strncpy(r->refused_type, tw_failure_type(reason), sizeof r->refused_type - 1);
}

static void rec_stop(tw_datagram_port *port)
{
    rec *r = tw_datagram_port_protocol(port)->user;
    r->stopped++;
    r->port = NULL;
    if (r->relisten && r->relistens++ < 3) {
        tw_datagram_protocol proto = {.ops = tw_datagram_port_protocol(port)->ops, .user = r};
        tw_listen_udp(r->relisten, 0, "127.0.0.1", &proto, &r->relisten_err);
    }
}

static const tw_datagram_protocol_ops rec_ops = {
    .start_protocol = rec_start,
    .datagram_received = rec_data,
    .connection_refused = rec_refused,
    .stop_protocol = rec_stop,
};

static tw_datagram_port *listen_rec(tw_reactor *r, const char *interface, rec *rc)
{
    tw_datagram_protocol proto = {.ops = &rec_ops, .user = rc};
    int err = 0;
    tw_datagram_port *port = tw_listen_udp(r, 0, interface, &proto, &err);
    assert_non_null(port);
    assert_int_equal(err, 0);
    return port;
}

static socklen_t host_of(tw_datagram_port *port, struct sockaddr_storage *ss)
{
    socklen_t len;
    assert_int_equal(tw_datagram_get_host(port, ss, &len), 0);
    return len;
}

static bool got_one(void *arg)
{
    return ((rec *)arg)->received > 0;
}

static bool got_refused(void *arg)
{
    return ((rec *)arg)->refused > 0;
}

static int setup(void **state)
{
    tw_test_env *env = calloc(1, sizeof *env);
    if (!env || tw_test_env_open(env, TW_TEST_REAL_CLOCK) < 0)
        return -1;
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    tw_test_env *env = *state;
    tw_test_env_close(env);
    free(env);
    return 0;
}

static void exchange(tw_reactor *r, const char *interface)
{
    rec a = {0}, b = {.echo = true};
    tw_datagram_port *pa = listen_rec(r, interface, &a);
    tw_datagram_port *pb = listen_rec(r, interface, &b);
    assert_int_equal(a.started, 1);
    assert_false(tw_datagram_port_connected(pa));
    struct sockaddr_storage ha, hb;
    socklen_t la = host_of(pa, &ha), lb = host_of(pb, &hb);
    assert_int_equal(tw_datagram_write(pa, "ping", 4, (struct sockaddr *)&hb, lb), 0);
    assert_true(tw_test_run_until(r, got_one, &a, 5));
    assert_int_equal(b.received, 1);
    assert_int_equal(a.last_len, 4);
    assert_memory_equal(a.last, "ping", 4);
    /* b saw a's address, and a saw b's. */
    assert_int_equal(b.from_len, la);
    assert_memory_equal(&b.from, &ha, la);
    assert_memory_equal(&a.from, &hb, lb);
    tw_datagram_port_stop(pa);
    tw_datagram_port_stop(pb);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(b.stopped, 1);
}

static void test_exchange_ipv4(void **state)
{
    tw_test_env *env = *state;
    exchange(env->r, "127.0.0.1");
}

static void test_exchange_ipv6(void **state)
{
    tw_test_env *env = *state;
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&lo, sizeof lo) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6)
        skip();
    exchange(env->r, "::1");
}

/* An empty datagram is a datagram: delivered with length 0, nothing closes. */
static void test_empty_datagram(void **state)
{
    tw_test_env *env = *state;
    rec a = {0}, b = {0};
    tw_datagram_port *pa = listen_rec(env->r, "127.0.0.1", &a);
    tw_datagram_port *pb = listen_rec(env->r, "127.0.0.1", &b);
    struct sockaddr_storage hb;
    socklen_t lb = host_of(pb, &hb);
    assert_int_equal(tw_datagram_write(pa, NULL, 0, (struct sockaddr *)&hb, lb), 0);
    assert_true(tw_test_run_until(env->r, got_one, &b, 5));
    assert_int_equal(b.last_len, 0);
    assert_int_equal(tw_datagram_write(pa, "x", 1, (struct sockaddr *)&hb, lb), 0);
    b.received = 0;
    assert_true(tw_test_run_until(env->r, got_one, &b, 5));
    assert_int_equal(b.last_len, 1);
    assert_int_equal(b.stopped, 0);
    tw_datagram_port_stop(pa);
    tw_datagram_port_stop(pb);
}

/* A connected port hears only its peer; a datagram to a port nobody listens on comes back as an
 * ICMP port unreachable, reported as ConnectionRefusedError, and the port stays usable. */
static void test_connected_refused(void **state)
{
    tw_test_env *env = *state;
    rec a = {0}, b = {.echo = true}, c = {0};
    tw_datagram_port *pa = listen_rec(env->r, "127.0.0.1", &a);
    tw_datagram_port *pc = listen_rec(env->r, "127.0.0.1", &c);
    /* A port number with nobody behind it: bind one, note it, close it. */
    tw_datagram_port *gone = listen_rec(env->r, "127.0.0.1", &b);
    struct sockaddr_storage dead;
    socklen_t dead_len = host_of(gone, &dead);
    tw_datagram_port_stop(gone);

    assert_int_equal(tw_datagram_port_connect(pa, (struct sockaddr *)&dead, dead_len), 0);
    assert_true(tw_datagram_port_connected(pa));
    assert_int_equal(tw_datagram_port_connect(pa, (struct sockaddr *)&dead, dead_len), -EISCONN);
    assert_int_equal(tw_datagram_write(pa, "q", 1, NULL, 0), 0);
    assert_true(tw_test_run_until(env->r, got_refused, &a, 5));
    assert_string_equal(a.refused_type, TW_CONNECTION_REFUSED_ERROR);
    assert_int_equal(a.stopped, 0);

    /* Someone else writing to the connected port is not heard. */
    struct sockaddr_storage ha;
    socklen_t la = host_of(pa, &ha);
    assert_int_equal(tw_datagram_write(pc, "spoof", 5, (struct sockaddr *)&ha, la), 0);
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(env->r, 0.01);
    assert_int_equal(a.received, 0);
    tw_datagram_port_stop(pa);
    tw_datagram_port_stop(pc);
}

static void test_argument_errors(void **state)
{
    tw_test_env *env = *state;
    rec a = {0};
    int err = 0;
    tw_datagram_protocol proto = {.ops = &rec_ops, .user = &a};
    assert_null(tw_listen_udp(env->r, 0, "not-an-address", &proto, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_listen_udp(env->r, 0, "127.0.0.1", NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(a.started, 0);
    tw_datagram_port *pa = listen_rec(env->r, "127.0.0.1", &a);
    struct sockaddr_storage ha;
    socklen_t la = host_of(pa, &ha);
    /* The same address again is in use. */
    uint16_t port = ntohs(((struct sockaddr_in *)&ha)->sin_port);
    assert_null(tw_listen_udp(env->r, port, "127.0.0.1", &proto, &err));
    assert_int_equal(err, -EADDRINUSE);
    assert_int_equal(tw_datagram_write(pa, "x", 1, NULL, 0), -EDESTADDRREQ);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    assert_int_equal(tw_datagram_port_connect(pa, (struct sockaddr *)&v6, sizeof v6),
                     -EAFNOSUPPORT);
    assert_int_equal(tw_datagram_port_connect(pa, (struct sockaddr *)&ha, la), 0);
    assert_int_equal(tw_datagram_write(pa, "x", 1, (struct sockaddr *)&ha, la), -EISCONN);
    static char big[70000];
    assert_int_equal(tw_datagram_write(pa, big, sizeof big, NULL, 0), -EMSGSIZE);
    tw_datagram_port_stop(pa);
    assert_int_equal(a.stopped, 1);
}

/* start_protocol refusing makes the listen fail, and nothing else runs. */
static int refuse_start(tw_datagram_port *port)
{
    (void)port;
    return -EPERM;
}

static void test_start_protocol_refuses(void **state)
{
    tw_test_env *env = *state;
    static const tw_datagram_protocol_ops ops = {.start_protocol = refuse_start,
                                                 .stop_protocol = rec_stop};
    rec a = {0};
    tw_datagram_protocol proto = {.ops = &ops, .user = &a};
    int fds = tw_test_count_open_fds(), err = 0;
    assert_null(tw_listen_udp(env->r, 0, "127.0.0.1", &proto, &err));
    assert_int_equal(err, -EPERM);
    assert_int_equal(a.stopped, 0);
    assert_int_equal(tw_test_count_open_fds(), fds);
}

/* start_protocol stopping its own port: stop_protocol runs once, after start_protocol returns;
 * the listen gives no port (-ECANCELED, or start_protocol's own error) and leaks no descriptor. */
static int stop_at_start(tw_datagram_port *port)
{
    rec *r = tw_datagram_port_protocol(port)->user;
    r->started++;
    tw_datagram_port_stop(port);
    assert_int_equal(r->stopped, 0);
    return r->refused ? -EPERM : 0;
}

static void test_start_protocol_stops_its_port(void **state)
{
    tw_test_env *env = *state;
    static const tw_datagram_protocol_ops ops = {.start_protocol = stop_at_start,
                                                 .stop_protocol = rec_stop};
    int fds = tw_test_count_open_fds();
    for (int refuse = 0; refuse < 2; refuse++) {
        rec a = {.refused = refuse};
        tw_datagram_protocol proto = {.ops = &ops, .user = &a};
        int err = 0;
        assert_null(tw_listen_udp(env->r, 0, "127.0.0.1", &proto, &err));
        assert_int_equal(err, refuse ? -EPERM : -ECANCELED);
        assert_int_equal(a.started, 1);
        assert_int_equal(a.stopped, 1);
        assert_int_equal(tw_test_count_open_fds(), fds);
    }
    tw_reactor_iterate(env->r, 0);
}

/* One readiness event reads at most TW_DATAGRAM_READS_PER_WAKE datagrams; the rest come later. */
static void test_bounded_reads_per_turn(void **state)
{
    tw_test_env *env = *state;
    rec a = {0}, b = {0};
    tw_datagram_port *pa = listen_rec(env->r, "127.0.0.1", &a);
    tw_datagram_port *pb = listen_rec(env->r, "127.0.0.1", &b);
    struct sockaddr_storage hb;
    socklen_t lb = host_of(pb, &hb);
    const size_t total = 3 * TW_DATAGRAM_READS_PER_WAKE + 5;
    for (size_t i = 0; i < total; i++)
        assert_int_equal(tw_datagram_write(pa, "d", 1, (struct sockaddr *)&hb, lb), 0);
    size_t turns = 0;
    while (b.received < total && turns < 1000) {
        size_t before = b.received;
        tw_reactor_iterate(env->r, 0.1);
        assert_true(b.received - before <= TW_DATAGRAM_READS_PER_WAKE);
        turns++;
    }
    assert_int_equal(b.received, total);
    assert_true(turns >= 4);
    tw_datagram_port_stop(pa);
    tw_datagram_port_stop(pb);
}

/* Stopping from inside datagram_received: nothing more is delivered, stop_protocol runs once,
 * after the callback. */
static void test_stop_inside_callback(void **state)
{
    tw_test_env *env = *state;
    rec a = {0}, b = {.stop_on_data = true};
    tw_datagram_port *pa = listen_rec(env->r, "127.0.0.1", &a);
    tw_datagram_port *pb = listen_rec(env->r, "127.0.0.1", &b);
    struct sockaddr_storage hb;
    socklen_t lb = host_of(pb, &hb);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tw_datagram_write(pa, "d", 1, (struct sockaddr *)&hb, lb), 0);
    assert_true(tw_test_run_until(env->r, got_one, &b, 5));
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(env->r, 0.01);
    assert_int_equal(b.received, 1);
    assert_int_equal(b.stopped, 1);
    tw_datagram_port_stop(pa);
}

/* The reactor's shutdown stops the ports still open. */
static void test_shutdown_stops_ports(void **state)
{
    tw_test_env *env = *state;
    rec a = {0};
    int fds = tw_test_count_open_fds();
    listen_rec(env->r, "127.0.0.1", &a);
    assert_int_equal(tw_test_count_open_fds(), fds + 1);
    assert_int_equal(tw_test_run_to_shutdown(env->r), 0);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(tw_test_count_open_fds(), fds);
}

/* tw_reactor_free stops the ports of a reactor that never shut down, as a shutdown would. */
static void test_free_stops_ports(void **state)
{
    tw_test_env *env = *state;
    rec a = {0};
    int fds = tw_test_count_open_fds();
    listen_rec(env->r, "127.0.0.1", &a);
    tw_test_env_close(env);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(tw_test_env_open(env, TW_TEST_REAL_CLOCK), 0);
    assert_int_equal(tw_test_count_open_fds(), fds); /* the new reactor has as many as the old */
}

/* The shutdown stops the ports open when it began, not one that a stop_protocol opens meanwhile (a
 * protocol that listens again whenever it is stopped would keep it busy); tw_reactor_free stops
 * that one and refuses the next with -ESHUTDOWN, so nothing outlives the reactor. */
static void test_shutdown_with_relistening_protocol(void **state)
{
    tw_test_env *env = *state;
    rec a = {.relisten = env->r};
    int fds = tw_test_count_open_fds();
    listen_rec(env->r, "127.0.0.1", &a);
    assert_int_equal(tw_test_run_to_shutdown(env->r), 0);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(a.started, 2);
    assert_non_null(a.port);
    assert_int_equal(tw_test_count_open_fds(), fds + 1);
    tw_test_env_close(env);
    assert_int_equal(a.stopped, 2);
    assert_int_equal(a.started, 2);
    assert_null(a.port);
    assert_int_equal(a.relisten_err, -ESHUTDOWN);
    assert_int_equal(tw_test_env_open(env, TW_TEST_REAL_CLOCK), 0);
    assert_int_equal(tw_test_count_open_fds(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exchange_ipv4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connected_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_protocol_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_protocol_stops_its_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded_reads_per_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_stops_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_stops_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_relistening_protocol, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
