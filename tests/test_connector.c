/* Tests for outgoing connections: success over TCP and UNIX, the real errno in failures (refused,
 * missing UNIX path), the connect timeout on a controllable clock (a listener whose backlog is full
 * never answers), stop_connecting, a factory that refuses, doStart/doStop, bad arguments, and the
 * reactor shutdown failing connects still in progress. */
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
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories */
    int full_listener;      /* a listener that never accepts, backlog full */
    int filler;             /* the connection that fills its backlog */
} fixture;

static int setup(void **state)
{
    if (tw_test_net_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *f = *state;
    f->full_listener = f->filler = -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->full_listener >= 0)
        close(f->full_listener);
    if (f->filler >= 0)
        close(f->filler);
    return tw_test_net_fixture_teardown(state);
}

/* A port number nobody listens on: bound, then closed. */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof sin);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    return ntohs(sin.sin_port);
}

/* A listener with backlog 0 and one completed connection waiting: Linux drops further SYNs, so a
 * connect to it stays in progress until it times out. */
static uint16_t full_listener(fixture *f)
{
    f->full_listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->full_listener, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(f->full_listener, 0), 0);
    socklen_t len = sizeof sin;
    getsockname(f->full_listener, (struct sockaddr *)&sin, &len);
    uint16_t port = ntohs(sin.sin_port);
    f->filler = tw_test_tcp_client(port);
    assert_true(f->filler >= 0);
    return port;
}

static void test_connect_tcp_success(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    uint16_t port = tw_test_port_number(p);
    f->net.client.template.send_on_made = "hello";
    f->net.client.template.send_on_made_len = 5;
    tw_connector *c = tw_connect_tcp(f->net.r, "127.0.0.1", port, 0, &f->net.client.factory, &err);
    assert_non_null(c);
    tw_address dest;
    assert_int_equal(tw_connector_get_destination(c, &dest), 0);
    assert_int_equal(dest.port, port);
    assert_string_equal(dest.host, "127.0.0.1");
    assert_int_equal(f->net.client.started, 1);
    while (tw_test_factory_made(&f->net.client) == 0)
        tw_reactor_iterate(f->net.r, 0.05);
    tw_test_peer *cp = f->net.client.peers[0];
    assert_int_equal(cp->peer_addr.port, port);
    while (cp->len < 5)
        tw_reactor_iterate(f->net.r, 0.05);
    assert_memory_equal(cp->data, "hello", 5);
    assert_int_equal(f->net.client.stopped, 0); /* the connection still uses the factory */
    tw_transport_lose_connection(cp->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    assert_int_equal(f->net.client.stopped, 1);
    assert_int_equal(f->net.client.failed, 0);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

/* A client protocol that asks its connector, from connection_made, where it connected: the header
 * promises the connector lives until right after connection_made. */
typedef struct {
    tw_factory factory;
    tw_connector *connector;
    int made, failed, dest_rc, stop_rc;
    tw_address dest;
} dest_probe;

/* Reuses and overwrites memory freed just before (glibc hands a freed block back to the next
 * malloc of its size), so a use after free reads garbage even without AddressSanitizer. */
static void scribble_freed_memory(void)
{
    enum { SIZES = 64 };
    void *blocks[SIZES];
    for (size_t i = 0; i < SIZES; i++) {
        blocks[i] = malloc((i + 1) * 16);
        if (blocks[i])
            memset(blocks[i], 0xa5, (i + 1) * 16);
    }
    for (size_t i = 0; i < SIZES; i++)
        free(blocks[i]);
}

static int probe_made(tw_protocol *p)
{
    dest_probe *probe = p->user;
    probe->made++;
    scribble_freed_memory();
    probe->dest_rc = tw_connector_get_destination(probe->connector, &probe->dest);
    probe->stop_rc = tw_connector_stop_connecting(probe->connector);
    tw_transport_lose_connection(p->transport);
    return 0;
}

static int probe_build(tw_factory *fac, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    static const tw_protocol_ops ops = {.connection_made = probe_made};
    out->ops = &ops;
    out->user = fac->user;
    return 0;
}

static void probe_failed(tw_factory *fac, tw_connector *c, const tw_failure *reason)
{
    (void)c;
    (void)reason;
    ((dest_probe *)fac->user)->failed++;
}

static bool probe_made_once(void *arg)
{
    return ((dest_probe *)arg)->made > 0;
}

static void test_connector_valid_inside_connection_made(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    uint16_t port = tw_test_port_number(p);
    static const tw_factory_ops ops = {.build_protocol = probe_build,
                                       .client_connection_failed = probe_failed};
    dest_probe probe = {.factory = {.ops = &ops}, .dest_rc = 1, .stop_rc = 1};
    probe.factory.user = &probe;
    probe.connector = tw_connect_tcp(f->net.r, "127.0.0.1", port, 5, &probe.factory, &err);
    assert_non_null(probe.connector);
    assert_true(tw_test_run_until(f->net.r, probe_made_once, &probe, 5));
    assert_int_equal(probe.dest_rc, 0);
    assert_int_equal(probe.dest.type, TW_ADDRESS_TCP4);
    assert_string_equal(probe.dest.host, "127.0.0.1");
    assert_int_equal(probe.dest.port, port);
    assert_int_equal(probe.stop_rc, TW_EALREADYCALLED); /* connected: nothing left to stop */
    assert_int_equal(probe.failed, 0);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_int_equal(probe.factory.num_ports, 0);
    tw_port_free(p);
}

static void test_connect_refused(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_non_null(
        tw_connect_tcp(f->net.r, "127.0.0.1", closed_port(), 5, &f->net.client.factory, &err));
    assert_int_equal(f->net.client.failed, 0); /* never from inside the call */
    assert_true(tw_test_run_until(f->net.r, tw_test_failed, &f->net.client, 5));
    assert_int_equal(f->net.client.failed, 1);
    assert_string_equal(f->net.client.fail_type, TW_CONNECTION_REFUSED_ERROR);
    assert_int_equal(f->net.client.fail_code, -ECONNREFUSED);
    assert_int_equal(f->net.client.started, 1);
    assert_int_equal(f->net.client.stopped, 1);
    assert_int_equal(f->net.client.npeers, 0);
}

static void test_connect_unix(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "conn");
    int err = 0;
    /* nobody there yet: the real errno */
    assert_non_null(tw_connect_unix(f->net.r, path, 5, &f->net.client.factory, &err));
    assert_int_equal(f->net.client.failed, 0);
    assert_true(tw_test_run_until(f->net.r, tw_test_failed, &f->net.client, 5));
    assert_int_equal(f->net.client.fail_code, -ENOENT);
    tw_port *p = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_non_null(tw_connect_unix(f->net.r, path, 5, &f->net.client.factory, &err));
    while (tw_test_factory_made(&f->net.client) == 0)
        tw_reactor_iterate(f->net.r, 0.05);
    assert_int_equal(f->net.client.peers[0]->peer_addr.type, TW_ADDRESS_UNIX);
    tw_transport_lose_connection(f->net.client.peers[0]->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    tw_port_free(p);
}

static void test_connect_timeout(void **state)
{
    fixture *f = *state;
    tw_test_clock_install(f->net.r, &f->net.clock);
    uint16_t port = full_listener(f);
    int err = 0;
    assert_non_null(tw_connect_tcp(f->net.r, "127.0.0.1", port, 2.5, &f->net.client.factory, &err));
    for (int i = 0; i < 3; i++)
        tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(f->net.client.failed, 0);
    assert_int_equal(f->net.client.npeers, 0); /* still connecting */
    tw_test_clock_advance(&f->net.clock, 2.4);
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(f->net.client.failed, 0);
    tw_test_clock_advance(&f->net.clock, 0.1);
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(f->net.client.failed, 1);
    assert_string_equal(f->net.client.fail_type, TW_TIMEOUT_ERROR);
    assert_int_equal(f->net.client.fail_code, -ETIMEDOUT);
    assert_int_equal(f->net.client.stopped, 1);
}

static void test_connect_default_timeout(void **state)
{
    fixture *f = *state;
    tw_test_clock_install(f->net.r, &f->net.clock);
    uint16_t port = full_listener(f);
    int err = 0;
    assert_non_null(tw_connect_tcp(f->net.r, "127.0.0.1", port, 0, &f->net.client.factory, &err));
    tw_test_clock_advance(&f->net.clock, TW_CONNECT_TIMEOUT_DEFAULT - 0.5);
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(f->net.client.failed, 0);
    tw_test_clock_advance(&f->net.clock, 0.5);
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(f->net.client.failed, 1);
    assert_string_equal(f->net.client.fail_type, TW_TIMEOUT_ERROR);
}

static void test_stop_connecting(void **state)
{
    fixture *f = *state;
    uint16_t port = full_listener(f);
    int err = 0;
    int fds0 = tw_test_count_open_fds();
    tw_connector *c = tw_connect_tcp(f->net.r, "127.0.0.1", port, -1, &f->net.client.factory, &err);
    assert_non_null(c);
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(tw_connector_stop_connecting(c), 0);
    assert_int_equal(f->net.client.failed, 1); /* at once */
    assert_string_equal(f->net.client.fail_type, TW_CONNECTING_CANCELLED_ERROR);
    assert_int_equal(f->net.client.fail_code, -ECANCELED);
    assert_int_equal(tw_test_count_open_fds(), fds0);
    assert_int_equal(tw_connector_stop_connecting(NULL), -EINVAL);
}

typedef struct {
    tw_factory factory;
    int rc_inside;
    int calls;
} stopper;

static void stop_inside_failed(tw_factory *fac, tw_connector *c, const tw_failure *reason)
{
    (void)reason;
    stopper *s = (stopper *)fac;
    s->calls++;
    s->rc_inside = tw_connector_stop_connecting(c);
}

static void test_stop_connecting_inside_failure(void **state)
{
    fixture *f = *state;
    static const tw_factory_ops ops = {.client_connection_failed = stop_inside_failed};
    stopper s = {.factory = {.ops = &ops}};
    int err = 0;
    tw_connector *c = tw_connect_tcp(f->net.r, "127.0.0.1", closed_port(), 5, &s.factory, &err);
    assert_non_null(c);
    while (s.calls == 0)
        tw_reactor_iterate(f->net.r, 0.05);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.rc_inside, TW_EALREADYCALLED);
}

static void test_client_factory_refuses(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    f->net.client.refuse = -EPERM;
    assert_non_null(tw_connect_tcp(f->net.r, "127.0.0.1", tw_test_port_number(p), 5,
                                   &f->net.client.factory, &err));
    assert_true(tw_test_run_until(f->net.r, tw_test_failed, &f->net.client, 5));
    assert_string_equal(f->net.client.fail_type, TW_CONNECT_ERROR);
    assert_int_equal(f->net.client.fail_code, -EPERM);
    assert_int_equal(f->net.client.stopped, 1);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

static void test_connect_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_connect_tcp(f->net.r, "localhost", 80, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL); /* numeric only: names come with endpoints */
    assert_null(tw_connect_tcp(f->net.r, NULL, 80, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_connect_tcp(NULL, "127.0.0.1", 80, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_connect_tcp(f->net.r, "127.0.0.1", 80, 5, NULL, &err));
    assert_int_equal(err, -EINVAL);
    struct sockaddr sa = {.sa_family = AF_APPLETALK};
    assert_null(tw_connect_sockaddr(f->net.r, &sa, sizeof sa, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EAFNOSUPPORT);
    char longpath[200];
    memset(longpath, 'y', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_null(tw_connect_unix(f->net.r, longpath, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -ENAMETOOLONG);
    assert_null(tw_connect_unix(f->net.r, longpath, 5, &f->net.client.factory, NULL));
    assert_int_equal(f->net.client.started, 0);
    assert_int_equal(tw_connector_get_destination(NULL, NULL), -EINVAL);
}

/* An outgoing connection whose socket lands at or above FD_SETSIZE: select cannot watch it, so the
 * connect fails at once with -EMFILE, taking nothing over (no callback, no fd kept, the factory's
 * use undone); other backends connect. TCP completes later, UNIX at once: both are checked. */
static void test_connect_fd_beyond_select_limit(void **state)
{
    fixture *f = *state;
    tw_test_skip_unless_fds_past(FD_SETSIZE);
    bool select_backend = strcmp(tw_reactor_backend(), "select") == 0;
    char path[108];
    tw_test_unix_path(path, sizeof path, "setsize");
    int err = 0;
    tw_port *tcp = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    tw_port *unix_port = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(tcp);
    assert_non_null(unix_port);
    tw_test_fd_filler filler;
    tw_test_fds_fill_below(&filler, FD_SETSIZE);
    int fds0 = tw_test_count_open_fds();
    tw_connector *c[2];
    c[0] = tw_connect_tcp(f->net.r, "127.0.0.1", tw_test_port_number(tcp), 5,
                          &f->net.client.factory, &err);
    int tcp_err = err;
    c[1] = tw_connect_unix(f->net.r, path, 5, &f->net.client.factory, &err);
    if (select_backend) {
        assert_null(c[0]);
        assert_int_equal(tcp_err, -EMFILE);
        assert_null(c[1]);
        assert_int_equal(err, -EMFILE);
        assert_int_equal(tw_test_count_open_fds(), fds0);
        assert_int_equal(f->net.client.started, f->net.client.stopped);
        for (int i = 0; i < 3; i++)
            tw_reactor_iterate(f->net.r, 0);
        assert_int_equal(f->net.client.failed, 0);
        assert_int_equal(f->net.client.npeers, 0);
    } else {
        assert_non_null(c[0]);
        assert_non_null(c[1]);
        while (tw_test_factory_made(&f->net.client) < 2)
            tw_reactor_iterate(f->net.r, 0.05);
        for (size_t i = 0; i < 2; i++)
            tw_transport_lose_connection(f->net.client.peers[i]->transport);
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    }
    tw_test_fds_release(&filler);
    tw_port_free(tcp);
    tw_port_free(unix_port);
}

static void test_connect_sockaddr_ipv6(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp6(f->net.r, 0, "::1", 0, &f->net.server.factory, &err);
    if (!p) {
        skip(); /* no IPv6 loopback here */
        return;
    }
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                                .sin6_port = htons(tw_test_port_number(p))};
    sin6.sin6_addr = in6addr_loopback;
    assert_non_null(tw_connect_sockaddr(f->net.r, (struct sockaddr *)&sin6, sizeof sin6, 5,
                                        &f->net.client.factory, &err));
    while (tw_test_factory_made(&f->net.client) == 0)
        tw_reactor_iterate(f->net.r, 0.05);
    tw_address host;
    assert_int_equal(tw_transport_get_host(f->net.client.peers[0]->transport, &host), 0);
    assert_int_equal(host.type, TW_ADDRESS_TCP6);
    tw_transport_lose_connection(f->net.client.peers[0]->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

static void test_shutdown_fails_connects_in_progress(void **state)
{
    fixture *f = *state;
    uint16_t port = full_listener(f);
    int err = 0;
    assert_non_null(tw_connect_tcp(f->net.r, "127.0.0.1", port, -1, &f->net.client.factory, &err));
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(f->net.client.failed, 1);
    assert_string_equal(f->net.client.fail_type, TW_CONNECTION_LOST);
    assert_int_equal(f->net.client.stopped, 1);
}

/* A client factory that connects again whenever a connection fails (a naive reconnecting
 * client). */
typedef struct {
    tw_factory factory;
    tw_reactor *r;
    uint16_t port;
    int failed, refused, last_err;
} reconnecting;

static void reconnect_on_failure(tw_factory *fac, tw_connector *c, const tw_failure *reason)
{
    (void)c;
    (void)reason;
    reconnecting *rc = fac->user;
    if (++rc->failed > 100)
        return; /* without this bound the bug this guards against would hang the test */
    int err = 0;
    if (!tw_connect_tcp(rc->r, "127.0.0.1", rc->port, -1, fac, &err)) {
        rc->refused++;
        rc->last_err = err;
    }
}

static const tw_factory_ops reconnecting_ops = {.client_connection_failed = reconnect_on_failure};

/* The shutdown fails the connects that were in progress when it began, not the ones their failure
 * callbacks start (those would be failed and restarted forever); tw_reactor_free fails those and
 * refuses new ones with -ESHUTDOWN, so nothing outlives the reactor. */
static void test_shutdown_with_reconnecting_client(void **state)
{
    fixture *f = *state;
    reconnecting rc = {
        .factory = {.ops = &reconnecting_ops}, .r = f->net.r, .port = full_listener(f)};
    rc.factory.user = &rc;
    int err = 0;
    assert_non_null(tw_connect_tcp(f->net.r, "127.0.0.1", rc.port, -1, &rc.factory, &err));
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(rc.failed, 1);
    assert_int_equal(rc.refused, 0);
    tw_reactor_free(f->net.r);
    f->net.r = tw_reactor_new(NULL); /* for the fixture's teardown */
    assert_int_equal(rc.failed, 2);
    assert_int_equal(rc.refused, 1);
    assert_int_equal(rc.last_err, -ESHUTDOWN);
    assert_int_equal(rc.factory.num_ports, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_tcp_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_valid_inside_connection_made, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_default_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_connecting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_connecting_inside_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_factory_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_fd_beyond_select_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_sockaddr_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_fails_connects_in_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_reconnecting_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
