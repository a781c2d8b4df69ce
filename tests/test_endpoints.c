/* Tests for endpoint objects over loopback (Twisted's test_endpoints: the server and client mixins,
 * the wrapping-factory tests that still apply, connectProtocol): TCP4, TCP6 and UNIX servers
 * (success, CannotListenError, the UNIX mode), TCP4, TCP6 and UNIX clients (success after
 * connection_made, refusal, NoProtocol, build and connection_made errors, bind address, timeout on
 * a controllable clock), cancellation at each moment leaving no fd and no delayed call, and the
 * reactor's shutdown and free failing connects still in progress. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/outcome.h"
#include "support/reactor_test.h"

/* Guards only: on loopback everything here resolves in milliseconds. */
#define WAIT_SECONDS 5.0

typedef struct {
    tw_test_net_env net;
    int full_listener, filler; /* a listener whose backlog is full, and what fills it */
    int fds_before;
} fixture;

static int setup(void **state)
{
    if (tw_test_net_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *f = *state;
    f->full_listener = f->filler = -1;
    f->fds_before = tw_test_count_open_fds();
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

/* ---- helpers --------------------------------------------------------------------------------- */

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static uint16_t full_listener(fixture *f)
{
    return tw_test_full_listener(&f->full_listener, &f->filler);
}

static uint16_t serve(fixture *f)
{
    int err = 0;
    assert_null(f->net.port); /* one per test: the teardown frees it */
    f->net.port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(f->net.port);
    return tw_test_port_number(f->net.port);
}

static bool made_one(void *factory)
{
    return tw_test_factory_made(factory) >= 1;
}

static void run_until_fired(fixture *f, tw_test_outcome *o)
{
    assert_true(tw_test_run_until(f->net.r, tw_test_outcome_fired, o, WAIT_SECONDS));
    assert_int_equal(o->fired, 1);
}

/* Nothing left behind: no descriptor, no delayed call. */
static void assert_clean(fixture *f)
{
    tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(tw_test_count_open_fds(), f->fds_before);
    assert_int_equal(tw_reactor_pending_calls(f->net.r), 0);
}

static void assert_failed(const tw_test_outcome *o, const char *type, int code)
{
    assert_int_equal(o->fired, 1);
    assert_false(tw_test_outcome_ok(o));
    assert_string_equal(o->type, type);
    assert_int_equal(o->code, code);
}

static tw_deferred *connect_tcp4(fixture *f, uint16_t port, double timeout, const char *bind_to)
{
    int err = 0;
    tw_client_endpoint *ep = tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1", port, timeout,
                                                         bind_to, &err);
    assert_non_null(ep);
    tw_deferred *d = tw_client_endpoint_connect(ep, &f->net.client.factory, &err);
    assert_non_null(d);
    tw_client_endpoint_free(ep); /* a description: connects in progress do not need it */
    return d;
}

/* ---- server endpoints ------------------------------------------------------------------------ */

static void test_tcp4_listen_fires_with_the_port(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_server_endpoint *ep = tw_tcp4_server_endpoint_new(f->net.r, 0, 5, "127.0.0.1", &err);
    assert_non_null(ep);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_int_equal(o.fired, 1); /* listening is synchronous: already fired */
    assert_true(tw_test_outcome_ok(&o));
    tw_port *port = o.value;
    tw_address a;
    assert_int_equal(tw_port_get_host(port, &a), 0);
    assert_int_equal(a.type, TW_ADDRESS_TCP4);
    assert_string_equal(a.host, "127.0.0.1");
    int c = tw_test_tcp_client(a.port);
    assert_true(c >= 0);
    assert_true(tw_test_run_until(f->net.r, made_one, &f->net.server, WAIT_SECONDS));
    assert_int_equal(f->net.server.started, 1);
    close(c);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(port);
    assert_int_equal(f->net.server.stopped, 1);
    tw_server_endpoint_free(ep);
}

static void test_tcp4_listen_failure_is_cannot_listen(void **state)
{
    fixture *f = *state;
    int taken = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(taken, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(taken, 1), 0);
    uint16_t port = bound_port(taken);
    int err = 0;
    tw_server_endpoint *ep = tw_tcp4_server_endpoint_new(f->net.r, port, 0, "127.0.0.1", &err);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_failed(&o, TW_CANNOT_LISTEN_ERROR, -EADDRINUSE);
    char want[128];
    snprintf(want, sizeof want, "Couldn't listen on tcp:127.0.0.1:%u: Address already in use",
             (unsigned)port);
    assert_string_equal(o.message, want);
    assert_int_equal(f->net.server.started, 0);
    tw_server_endpoint_free(ep);
    close(taken);
}

/* A server endpoint made from a description with reusePort=1 shares its address with another port
 * that asked for it too; one made without it is refused (CannotListenError, -EADDRINUSE). */
static void test_server_endpoint_reuse_port(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_server_description d;
    assert_int_equal(tw_server_from_string("tcp:0:interface=127.0.0.1:reusePort=1", &d, NULL, 0),
                     0);
    tw_port *first = tw_server_listen(f->net.r, &d, &f->net.server.factory, &err);
    assert_non_null(first);
    tw_address a;
    assert_int_equal(tw_port_get_host(first, &a), 0);
    d.port = a.port;
    tw_server_endpoint *ep = tw_server_endpoint_from_description(f->net.r, &d, &err);
    assert_non_null(ep);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_true(tw_test_outcome_ok(&o));
    tw_port_free(o.value);
    tw_server_endpoint_free(ep);
    d.reuse_port = false;
    ep = tw_server_endpoint_from_description(f->net.r, &d, &err);
    assert_non_null(ep);
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_failed(&o, TW_CANNOT_LISTEN_ERROR, -EADDRINUSE);
    tw_server_endpoint_free(ep);
    tw_port_free(first);
}

static void test_tcp4_listen_default_interface_is_any(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_server_endpoint *ep = tw_tcp4_server_endpoint_new(f->net.r, 0, 0, NULL, &err);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_true(tw_test_outcome_ok(&o));
    tw_address a;
    assert_int_equal(tw_port_get_host(o.value, &a), 0);
    assert_string_equal(a.host, "0.0.0.0");
    tw_port_free(o.value);
    tw_server_endpoint_free(ep);
}

static void test_tcp6_listen(void **state)
{
    fixture *f = *state;
    if (!tw_test_ipv6_loopback_available())
        skip();
    int err = 0;
    tw_server_endpoint *ep = tw_tcp6_server_endpoint_new(f->net.r, 0, 0, "::1", &err);
    assert_non_null(ep);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), &o);
    assert_true(tw_test_outcome_ok(&o));
    tw_address a;
    assert_int_equal(tw_port_get_host(o.value, &a), 0);
    assert_int_equal(a.type, TW_ADDRESS_TCP6);
    assert_string_equal(a.host, "::1");
    /* A TCP6 client endpoint reaches it. */
    tw_client_endpoint *c = tw_tcp6_client_endpoint_new(f->net.r, "::1", a.port, 0, NULL, &err);
    assert_non_null(c);
    tw_test_outcome co;
    tw_test_outcome_expect(tw_client_endpoint_connect(c, &f->net.client.factory, &err), &co);
    run_until_fired(f, &co);
    assert_true(tw_test_outcome_ok(&co));
    tw_protocol *p = co.value;
    tw_address peer;
    assert_int_equal(tw_transport_get_peer(p->transport, &peer), 0);
    assert_string_equal(peer.host, "::1");
    tw_transport_lose_connection(p->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, WAIT_SECONDS));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(o.value);
    tw_client_endpoint_free(c);
    tw_server_endpoint_free(ep);
}

static void test_bad_server_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_tcp4_server_endpoint_new(f->net.r, 80, 0, "::1", &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_tcp6_server_endpoint_new(f->net.r, 80, 0, "127.0.0.1", &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_unix_server_endpoint_new(f->net.r, "", 0, 0666, &err));
    assert_int_equal(err, -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_null(tw_unix_server_endpoint_new(f->net.r, longpath, 0, 0666, &err));
    assert_int_equal(err, -ENAMETOOLONG);
    assert_null(tw_server_endpoint_listen(NULL, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void listen_unix(fixture *f, const char *path, unsigned mode, tw_test_outcome *o)
{
    int err = 0;
    tw_server_endpoint *ep = tw_unix_server_endpoint_new(f->net.r, path, 0, mode, &err);
    assert_non_null(ep);
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &f->net.server.factory, &err), o);
    tw_server_endpoint_free(ep);
}

/* The mode is set before listen(): when the port exists the file already has it, whatever the
 * umask gave at bind(). */
static void test_unix_listen_applies_mode(void **state)
{
    fixture *f = *state;
    mode_t old = umask(077);
    char path[108];
    tw_test_unix_path(path, sizeof path, "mode");
    tw_test_outcome o;
    listen_unix(f, path, 0640, &o);
    assert_true(tw_test_outcome_ok(&o));
    assert_int_equal(mode_of(path), 0640);
    tw_port_free(o.value);
    tw_test_unix_path(path, sizeof path, "mode-default");
    listen_unix(f, path, TW_ENDPOINT_UNIX_MODE_DEFAULT, &o);
    assert_true(tw_test_outcome_ok(&o));
    assert_int_equal(mode_of(path), 0666);
    /* A UNIX client endpoint reaches it. */
    int err = 0;
    tw_client_endpoint *c = tw_unix_client_endpoint_new(f->net.r, path, 0, &err);
    tw_test_outcome co;
    tw_test_outcome_expect(tw_client_endpoint_connect(c, &f->net.client.factory, &err), &co);
    run_until_fired(f, &co);
    assert_true(tw_test_outcome_ok(&co));
    tw_transport_lose_connection(((tw_protocol *)co.value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(o.value);
    tw_client_endpoint_free(c);
    umask(old);
}

static void test_unix_listen_failure_names_path(void **state)
{
    fixture *f = *state;
    tw_test_outcome o;
    listen_unix(f, "/nonexistent-twine-dir/s.sock", 0666, &o);
    assert_failed(&o, TW_CANNOT_LISTEN_ERROR, -ENOENT);
    assert_string_equal(o.message,
                        "Couldn't listen on unix:/nonexistent-twine-dir/s.sock: "
                        "No such file or directory");
}

/* ---- client endpoints: success --------------------------------------------------------------- */

/* What the deferred's first callback saw: connection_made had already run. */
typedef struct {
    tw_test_outcome o;
    int made_when_fired;
} seen;

static int note_made(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    seen *s = arg;
    tw_protocol *p = tw_result_value(result);
    s->made_when_fired = ((tw_test_peer *)p->user)->made;
    return 0;
}

static void test_connect_fires_after_connection_made(void **state)
{
    fixture *f = *state;
    uint16_t port = serve(f);
    tw_deferred *d = connect_tcp4(f, port, 0, NULL);
    seen s = {0};
    assert_int_equal(tw_deferred_add_callback(d, note_made, &s), 0);
    tw_test_outcome_expect(d, &s.o);
    assert_int_equal(s.o.fired, 0); /* never from inside the call */
    run_until_fired(f, &s.o);
    assert_true(tw_test_outcome_ok(&s.o));
    assert_int_equal(s.made_when_fired, 1);
    tw_protocol *p = s.o.value;
    tw_test_peer *peer = p->user;
    assert_ptr_equal(peer->transport, p->transport);
    assert_int_equal(peer->peer_addr.port, port);
    assert_int_equal(f->net.client.npeers, 1); /* one protocol built */
    assert_int_equal(f->net.client.started, 1);
    assert_int_equal(f->net.client.stopped, 0);
    tw_transport_write(p->transport, "hi", 2);
    tw_transport_lose_connection(p->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    assert_memory_equal(tw_test_factory_last(&f->net.server)->data, "hi", 2);
    assert_int_equal(f->net.client.stopped, 1);
    assert_int_equal(f->net.client.failed, 0);
}

static void test_connect_refused(void **state)
{
    fixture *f = *state;
    uint16_t port = tw_test_closed_port();
    tw_test_outcome o;
    tw_test_outcome_expect(connect_tcp4(f, port, 0, NULL), &o);
    run_until_fired(f, &o);
    assert_failed(&o, TW_CONNECTION_REFUSED_ERROR, -ECONNREFUSED);
    char want[96];
    snprintf(want, sizeof want, "Couldn't connect to 127.0.0.1 port %u: Connection refused",
             (unsigned)port);
    assert_string_equal(o.message, want);
    /* The endpoint reports the failure; the factory's client_connection_failed is not called. */
    assert_int_equal(f->net.client.failed, 0);
    assert_int_equal(f->net.client.started, 1);
    assert_int_equal(f->net.client.stopped, 1);
    assert_clean(f);
}

static void test_connect_bind_address(void **state)
{
    fixture *f = *state;
    uint16_t port = serve(f);
    tw_test_outcome o;
    tw_test_outcome_expect(connect_tcp4(f, port, 0, "127.0.0.2"), &o);
    run_until_fired(f, &o);
    assert_true(tw_test_outcome_ok(&o));
    assert_true(tw_test_run_until(f->net.r, made_one, &f->net.server, WAIT_SECONDS));
    assert_string_equal(tw_test_factory_last(&f->net.server)->peer_addr.host, "127.0.0.2");
    tw_transport_lose_connection(((tw_protocol *)o.value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
}

static void test_unix_connect_missing_path(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_client_endpoint *ep = tw_unix_client_endpoint_new(f->net.r, "/nonexistent-twine/s", 0, &err);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_client_endpoint_connect(ep, &f->net.client.factory, &err), &o);
    run_until_fired(f, &o);
    assert_failed(&o, TW_CONNECT_ERROR, -ENOENT);
    assert_string_equal(o.message,
                        "Couldn't connect to /nonexistent-twine/s: No such file or directory");
    tw_client_endpoint_free(ep);
    assert_clean(f);
}

/* ---- client endpoints: the protocol ---------------------------------------------------------- */

static const tw_factory_ops no_build_ops; /* no build_protocol: builds no protocol */

static void test_no_protocol(void **state)
{
    fixture *f = *state;
    uint16_t port = serve(f);
    int err = 0;
    tw_client_endpoint *ep =
        tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1", port, 0, NULL, &err);
    tw_factory none = {.ops = &no_build_ops};
    tw_test_outcome o;
    tw_test_outcome_expect(tw_client_endpoint_connect(ep, &none, &err), &o);
    run_until_fired(f, &o);
    assert_failed(&o, TW_NO_PROTOCOL, -ECONNREFUSED);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    assert_int_equal(none.num_ports, 0);
    tw_client_endpoint_free(ep);
}

static void test_build_error_is_the_failure(void **state)
{
    fixture *f = *state;
    uint16_t port = serve(f);
    f->net.client.refuse = -EMFILE;
    tw_test_outcome o;
    tw_test_outcome_expect(connect_tcp4(f, port, 0, NULL), &o);
    run_until_fired(f, &o);
    assert_false(tw_test_outcome_ok(&o));
    assert_int_equal(o.code, -EMFILE);
    assert_int_equal(f->net.client.stopped, 1);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
}

/* A client protocol whose connection_made fails, or cancels its own connect. */
typedef struct {
    int made_result;
    tw_deferred *cancel_me;
    int lost;
    char lost_type[40];
} odd_client;

static int odd_made(tw_protocol *p)
{
    odd_client *c = p->user;
    if (c->cancel_me)
        tw_deferred_cancel(c->cancel_me);
    return c->made_result;
}

static void odd_lost(tw_protocol *p, const tw_failure *reason)
{
    odd_client *c = p->user;
    c->lost++;
    snprintf(c->lost_type, sizeof c->lost_type, "%s", tw_failure_type(reason));
}

static const tw_protocol_ops odd_ops = {.connection_made = odd_made, .connection_lost = odd_lost};

static bool odd_lost_cond(void *arg)
{
    return ((odd_client *)arg)->lost > 0;
}

/* connectProtocol with an odd client to a loopback server. */
static tw_deferred *connect_odd(fixture *f, odd_client *c)
{
    int err = 0;
    tw_client_endpoint *ep = tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1", serve(f), 0, NULL,
                                                         &err);
    tw_protocol proto = {.ops = &odd_ops, .user = c};
    tw_deferred *d = tw_connect_protocol(ep, &proto, &err);
    assert_non_null(d);
    tw_client_endpoint_free(ep);
    return d;
}

/* Both ends of the odd client's connection are gone. */
static void wait_odd_closed(fixture *f, odd_client *c)
{
    assert_true(tw_test_run_until(f->net.r, odd_lost_cond, c, WAIT_SECONDS));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
}

static void test_connection_made_error_is_the_failure(void **state)
{
    fixture *f = *state;
    odd_client c = {.made_result = -EPROTO};
    tw_test_outcome o;
    tw_test_outcome_expect(connect_odd(f, &c), &o);
    run_until_fired(f, &o);
    assert_failed(&o, "OSError", -EPROTO);
    wait_odd_closed(f, &c);
    tw_test_log_destroy(&f->net.log); /* the reactor logged the error; start a fresh log */
    tw_test_log_install(f->net.r, &f->net.log);
}

static void test_cancel_from_inside_connection_made(void **state)
{
    fixture *f = *state;
    odd_client c = {0};
    tw_deferred *d = connect_odd(f, &c);
    c.cancel_me = d;
    tw_test_outcome o;
    tw_test_outcome_expect(tw_deferred_ref(d), &o);
    run_until_fired(f, &o);
    assert_failed(&o, TW_CONNECTING_CANCELLED_ERROR, -ECANCELED);
    wait_odd_closed(f, &c);
    assert_string_equal(c.lost_type, TW_CONNECTION_ABORTED);
    tw_deferred_unref(d);
}

static void test_connect_protocol_builds_that_protocol(void **state)
{
    fixture *f = *state;
    odd_client c = {0};
    tw_test_outcome o;
    tw_test_outcome_expect(connect_odd(f, &c), &o);
    run_until_fired(f, &o);
    assert_true(tw_test_outcome_ok(&o));
    tw_protocol *p = o.value;
    assert_ptr_equal(p->ops, &odd_ops);
    assert_ptr_equal(p->user, &c);
    tw_transport_lose_connection(p->transport);
    wait_odd_closed(f, &c);
    /* A failed connectProtocol frees its factory too (the sanitizer build checks). */
    int err = 0;
    tw_client_endpoint *dead = tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1",
                                                           tw_test_closed_port(), 0, NULL, &err);
    tw_protocol proto = {.ops = &odd_ops, .user = &c};
    tw_test_outcome_expect(tw_connect_protocol(dead, &proto, &err), &o);
    run_until_fired(f, &o);
    assert_false(tw_test_outcome_ok(&o));
    tw_client_endpoint_free(dead);
}

/* ---- cancellation, timeout, shutdown --------------------------------------------------------- */

/* Cancels a connect to port before the reactor ran once, or after one turn. */
static void cancel_connect(fixture *f, uint16_t port, bool turn_first)
{
    f->fds_before = tw_test_count_open_fds();
    tw_deferred *d = connect_tcp4(f, port, 0, NULL);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_deferred_ref(d), &o);
    if (turn_first)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(o.fired, 0);
    tw_deferred_cancel(d);
    assert_failed(&o, TW_CONNECTING_CANCELLED_ERROR, -ECANCELED);
    char want[96];
    snprintf(want, sizeof want, "Connecting to 127.0.0.1 port %u was cancelled", (unsigned)port);
    assert_string_equal(o.message, want);
    tw_deferred_unref(d);
    for (int i = 0; i < 3; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(f->net.client.npeers, 0); /* the factory never saw it */
    assert_int_equal(f->net.client.stopped, 1);
}

static void test_cancel_while_connecting(void **state)
{
    fixture *f = *state;
    cancel_connect(f, full_listener(f), true);
    assert_clean(f);
}

static void test_cancel_at_once(void **state)
{
    fixture *f = *state;
    cancel_connect(f, serve(f), false);
    /* The kernel may have completed the handshake before the close: the server then sees it end. */
    if (f->net.server.npeers)
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    assert_int_equal(tw_reactor_pending_calls(f->net.r), 0);
}

static void test_cancel_after_it_fired_does_nothing(void **state)
{
    fixture *f = *state;
    uint16_t port = serve(f);
    tw_deferred *d = connect_tcp4(f, port, 0, NULL);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_deferred_ref(d), &o);
    run_until_fired(f, &o);
    tw_deferred_cancel(d);
    assert_int_equal(o.fired, 1);
    assert_true(tw_test_outcome_ok(&o));
    tw_deferred_unref(d);
    tw_transport_lose_connection(((tw_protocol *)o.value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, WAIT_SECONDS));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
}

static void test_timeout_on_a_controlled_clock(void **state)
{
    fixture *f = *state;
    uint16_t port = full_listener(f);
    f->fds_before = tw_test_count_open_fds();
    tw_test_clock_install(f->net.r, &f->net.clock);
    tw_test_outcome o;
    tw_test_outcome_expect(connect_tcp4(f, port, 2.0, NULL), &o);
    tw_test_clock_turn(f->net.r, &f->net.clock, 1.999);
    assert_int_equal(o.fired, 0);
    tw_test_clock_turn(f->net.r, &f->net.clock, 0.001);
    assert_failed(&o, TW_TIMEOUT_ERROR, -ETIMEDOUT);
    assert_non_null(strstr(o.message, "User timeout caused connection failure"));
    assert_clean(f);
}

static void test_reactor_shutdown_fails_connects(void **state)
{
    fixture *f = *state;
    uint16_t port = full_listener(f);
    f->fds_before = tw_test_count_open_fds();
    tw_test_outcome o;
    tw_test_outcome_expect(connect_tcp4(f, port, 0, NULL), &o);
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_failed(&o, TW_CONNECTION_LOST, 0);
    assert_int_equal(tw_test_count_open_fds(), f->fds_before);
}

static void test_reactor_free_fails_connects(void **state)
{
    fixture *f = *state;
    uint16_t port = full_listener(f);
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    int before = tw_test_count_open_fds();
    int err = 0;
    tw_client_endpoint *ep = tw_tcp4_client_endpoint_new(r, "127.0.0.1", port, 0, NULL, &err);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_client_endpoint_connect(ep, &f->net.client.factory, &err), &o);
    tw_client_endpoint_free(ep);
    tw_test_reactor_free(r, &log);
    assert_failed(&o, TW_CONNECTION_LOST, 0);
    assert_true(tw_test_count_open_fds() < before);
}

/* ---- arguments and user endpoints ------------------------------------------------------------ */

static void test_bad_client_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_tcp4_client_endpoint_new(f->net.r, "localhost", 80, 0, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_tcp4_client_endpoint_new(f->net.r, "::1", 80, 0, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_tcp6_client_endpoint_new(f->net.r, "127.0.0.1", 80, 0, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1", 80, 0, "::1", &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_tcp4_client_endpoint_new(f->net.r, "127.0.0.1", 80, NAN, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_unix_client_endpoint_new(f->net.r, "", 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_client_endpoint_connect(NULL, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL);
    tw_protocol proto = {0};
    assert_null(tw_connect_protocol(NULL, &proto, &err));
    assert_int_equal(err, -EINVAL);
}

/* An endpoint a user wrote: connect hands back whatever it decides (Twisted's test_interface). */
typedef struct {
    tw_client_endpoint base;
    tw_factory *seen;
} user_endpoint;

static tw_deferred *user_connect(tw_client_endpoint *ep, tw_factory *factory, int *err)
{
    ((user_endpoint *)ep)->seen = factory;
    return tw_succeed(ep->reactor, (void *)"connected", NULL, err);
}

static const tw_client_endpoint_ops user_ops = {.connect = user_connect};

static void test_user_endpoint(void **state)
{
    fixture *f = *state;
    user_endpoint ep = {.base = {.ops = &user_ops, .reactor = f->net.r}};
    int err = 0;
    tw_test_outcome o;
    tw_test_outcome_expect(tw_client_endpoint_connect(&ep.base, &f->net.client.factory,
                                                              &err), &o);
    assert_true(tw_test_outcome_ok(&o));
    assert_string_equal(o.value, "connected");
    assert_ptr_equal(ep.seen, &f->net.client.factory);
    tw_client_endpoint_free(&ep.base); /* no free op: nothing happens */
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tcp4_listen_fires_with_the_port),
        T(test_tcp4_listen_failure_is_cannot_listen),
        T(test_tcp4_listen_default_interface_is_any),
        T(test_server_endpoint_reuse_port),
        T(test_tcp6_listen),
        T(test_bad_server_arguments),
        T(test_unix_listen_applies_mode),
        T(test_unix_listen_failure_names_path),
        T(test_connect_fires_after_connection_made),
        T(test_connect_refused),
        T(test_connect_bind_address),
        T(test_unix_connect_missing_path),
        T(test_no_protocol),
        T(test_build_error_is_the_failure),
        T(test_connection_made_error_is_the_failure),
        T(test_cancel_from_inside_connection_made),
        T(test_connect_protocol_builds_that_protocol),
        T(test_cancel_while_connecting),
        T(test_cancel_at_once),
        T(test_cancel_after_it_fired_does_nothing),
        T(test_timeout_on_a_controlled_clock),
        T(test_reactor_shutdown_fails_connects),
        T(test_reactor_free_fails_connects),
        T(test_bad_client_arguments),
        T(test_user_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
