/* Tests for the socket helpers under ports and connectors (transport/socket.c): numeric addresses
 * are parsed and printed without the resolver (no getaddrinfo or getnameinfo, so a static build
 * gets no glibc NSS warning), strictly (dotted quads, IPv6 with a scope by name or number), and
 * come back from the kernel as they went in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/syscalls.h"

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories */
} fixture;

static int setup(void **state)
{
    return tw_test_net_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_net_fixture_teardown(state);
}

/* Listens on host, connects to it, and checks both ends' addresses: all numeric. */
static void round_trip(fixture *f, bool v6, const char *host, tw_address_type type)
{
    int err = 0;
    tw_port *p = v6 ? tw_listen_tcp6(f->net.r, 0, host, 0, &f->net.server.factory, &err)
                    : tw_listen_tcp(f->net.r, 0, host, 0, &f->net.server.factory, &err);
    assert_non_null(p);
    tw_address a;
    assert_int_equal(tw_port_get_host(p, &a), 0);
    assert_int_equal(a.type, type);
    assert_string_equal(a.host, host);
    tw_connector *c = tw_connect_tcp(f->net.r, host, a.port, 5, &f->net.client.factory, &err);
    assert_non_null(c);
    tw_address dest;
    assert_int_equal(tw_connector_get_destination(c, &dest), 0);
    assert_string_equal(dest.host, host);
    assert_int_equal(dest.port, a.port);
    tw_test_made_count m = {&f->net.client, tw_test_factory_made(&f->net.client) + 1};
    assert_true(tw_test_run_until(f->net.r, tw_test_made_at_least, &m, 5));
    tw_test_peer *peer = tw_test_factory_last(&f->net.client);
    tw_address host_addr, peer_addr;
    assert_int_equal(tw_transport_get_host(peer->transport, &host_addr), 0);
    assert_int_equal(tw_transport_get_peer(peer->transport, &peer_addr), 0);
    assert_string_equal(host_addr.host, host);
    assert_string_equal(peer_addr.host, host);
    assert_int_equal(peer_addr.port, a.port);
    tw_transport_lose_connection(peer->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

/* Listening, connecting and every address a port, connector or transport reports use no resolver
 * call: only a resolver may call getaddrinfo (glibc's static-link warning names it). */
static void test_numeric_addresses_use_no_resolver(void **state)
{
    fixture *f = *state;
    tw_test_resolver_counts before = tw_test_resolver_counts_now();
    round_trip(f, false, "127.0.0.1", TW_ADDRESS_TCP4);
    if (tw_test_ipv6_loopback_available())
        round_trip(f, true, "::1", TW_ADDRESS_TCP6);
    else
        print_message("note: ::1 is not available here; IPv6 not checked\n");
    int err = 0;
    assert_null(tw_connect_tcp(f->net.r, "localhost", 80, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL); /* a name is not a numeric address: no lookup either */
    tw_test_resolver_counts after = tw_test_resolver_counts_now();
    assert_int_equal(after.getaddrinfo - before.getaddrinfo, 0);
    assert_int_equal(after.getnameinfo - before.getnameinfo, 0);
}

static void assert_interface_refused(fixture *f, bool v6, const char *interface)
{
    int err = 0;
    tw_port *p = v6 ? tw_listen_tcp6(f->net.r, 0, interface, 0, &f->net.server.factory, &err)
                    : tw_listen_tcp(f->net.r, 0, interface, 0, &f->net.server.factory, &err);
    if (p)
        fail_msg("interface '%s' was accepted", interface);
    assert_int_equal(err, -EINVAL);
}

/* Only a dotted quad is an IPv4 address (as Twisted's isIPAddress), only an IPv6 one for tcp6. */
static void test_malformed_addresses_refused(void **state)
{
    fixture *f = *state;
    static const char *const v4[] = {"127.1", "127.0.0.1.1", "256.0.0.1", "", " 127.0.0.1",
                                     "127.0.0.1 ", "0x7f.0.0.1", "::1", "127.0.0.1%lo"};
    static const char *const v6[] = {"127.0.0.1", "::1::", "fe80::1%", "fe80::1%no-such-if0",
                                     "::g", ""};
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
        assert_interface_refused(f, false, v4[i]);
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++)
        assert_interface_refused(f, true, v6[i]);
    int err = 0;
    assert_null(tw_connect_tcp(f->net.r, "1.2.3", 80, 5, &f->net.client.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(f->net.server.started, 0);
}

/* A link-local address keeps its scope, given by interface name or number, and prints it by name
 * (as getnameinfo did); the connect itself fails later, on no route or a cancel. */
static void test_scoped_ipv6_destination(void **state)
{
    fixture *f = *state;
    unsigned lo = if_nametoindex("lo");
    if (lo == 0) {
        print_message("skipped: no loopback interface named lo\n");
        skip();
    }
    char by_number[64];
    snprintf(by_number, sizeof by_number, "fe80::1%%%u", lo);
    const char *const hosts[] = {"fe80::1%lo", by_number};
    for (size_t i = 0; i < 2; i++) {
        int err = 0;
        tw_connector *c = tw_connect_tcp(f->net.r, hosts[i], 9, -1, &f->net.client.factory, &err);
        if (!c)
            fail_msg("'%s' refused: %s", hosts[i], tw_strerror(err));
        tw_address dest;
        assert_int_equal(tw_connector_get_destination(c, &dest), 0);
        assert_int_equal(dest.type, TW_ADDRESS_TCP6);
        assert_string_equal(dest.host, "fe80::1%lo");
        char text[128];
        assert_true(tw_address_format(&dest, text, sizeof text) > 0);
        assert_string_equal(text, "tcp6:[fe80::1%lo]:9");
        assert_int_equal(tw_connector_stop_connecting(c), 0);
    }
    assert_int_equal(f->net.client.failed, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numeric_addresses_use_no_resolver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_addresses_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scoped_ipv6_destination, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
