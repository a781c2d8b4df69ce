/* Tests of client endpoint strings (Twisted's ClientStringTests and more): tcp:, tcp6: and unix:,
 * positional and keyword parameters and how positionals fill the places keywords left, defaults,
 * every error message, and descriptions turned into endpoints that connect over loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/outcome.h"

static tw_client_description parse_ok(const char *description)
{
    tw_client_description d;
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    if (tw_client_from_string(description, &d, why, sizeof why) != 0)
        fail_msg("'%s' did not parse: %s", description, why);
    return d;
}

/* TW_EPARSE, a one-line message containing want, and out untouched. */
static void parse_fails(const char *description, const char *want)
{
    tw_client_description d;
    memset(&d, 0xAB, sizeof d);
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    assert_int_equal(tw_client_from_string(description, &d, why, sizeof why), TW_EPARSE);
    if (!strstr(why, want))
        fail_msg("'%s': message '%s' lacks '%s'", description, why, want);
    assert_null(strchr(why, '\n'));
    const unsigned char *bytes = (const unsigned char *)&d;
    for (size_t i = 0; i < sizeof d; i++)
        assert_int_equal(bytes[i], 0xAB);
}

static void assert_tcp(const tw_client_description *d, tw_endpoint_type type, const char *host,
                       uint16_t port, double timeout, const char *bind_to)
{
    assert_int_equal(d->type, type);
    assert_string_equal(d->host, host);
    assert_int_equal(d->port, port);
    assert_true(d->timeout == timeout);
    assert_string_equal(d->bind_address, bind_to);
}

/* ---- tcp ------------------------------------------------------------------------------------- */

static void test_tcp_keywords(void **state)
{
    (void)state;
    tw_client_description d =
        parse_ok("tcp:host=example.com:port=1234:timeout=7:bindAddress=10.0.0.2");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 7, "10.0.0.2");
}

static void test_tcp_positionals(void **state)
{
    (void)state;
    tw_client_description d = parse_ok("tcp:example.com:1234:timeout=7:bindAddress=10.0.0.2");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 7, "10.0.0.2");
}

/* One positional and one keyword: the positional takes whichever of host and port is left. */
static void test_tcp_positional_fills_the_free_place(void **state)
{
    (void)state;
    tw_client_description d = parse_ok("tcp:example.com:port=1234");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 0, "");
    d = parse_ok("tcp:host=example.com:1234");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 0, "");
    d = parse_ok("tcp:1234:host=example.com");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 0, "");
}

static void test_tcp_defaults(void **state)
{
    (void)state;
    tw_client_description d = parse_ok("tcp:host=example.com:port=1234");
    assert_tcp(&d, TW_ENDPOINT_TCP, "example.com", 1234, 0, ""); /* 0: the default, 30 s */
    d = parse_ok("TCP:example.com:1234:timeout=2.5");
    assert_true(d.timeout == 2.5); /* Twisted's int() would refuse it */
}

static void test_tcp_numeric_hosts(void **state)
{
    (void)state;
    assert_string_equal(parse_ok("tcp:127.0.0.1:80").host, "127.0.0.1");
    assert_string_equal(parse_ok("tcp:\\:\\:1:80").host, "::1");
    assert_string_equal(parse_ok("tcp:[\\:\\:1]:80").host, "::1");
    assert_string_equal(parse_ok("tcp:host=fe80\\:\\:1%lo:port=80").host, "fe80::1%lo");
    tw_client_description d = parse_ok("tcp6:host=localhost:port=80:bindAddress=\\:\\:1");
    assert_tcp(&d, TW_ENDPOINT_TCP6, "localhost", 80, 0, "::1");
    assert_string_equal(parse_ok("tcp:h:80:bindAddress=\\:\\:1").bind_address, "::1");
}

static void test_tcp_errors(void **state)
{
    (void)state;
    parse_fails("tcp:example.com", "missing port for 'tcp'");
    parse_fails("tcp:port=80", "missing host for 'tcp'");
    parse_fails("tcp", "missing host for 'tcp'");
    parse_fails("tcp:h:0", "bad port '0' for 'tcp' (expected 1 to 65535)");
    parse_fails("tcp:h:http", "bad port 'http' for 'tcp'");
    parse_fails("tcp6:h:65536", "bad port '65536' for 'tcp6'");
    parse_fails("tcp:a b:80", "bad host 'a b' for 'tcp'");
    parse_fails("tcp:[]:80", "bad host '[]' for 'tcp'");
    parse_fails("tcp:h:80:timeout=0", "bad timeout '0' for 'tcp'");
    parse_fails("tcp:h:80:timeout=-1", "bad timeout '-1' for 'tcp'");
    parse_fails("tcp:h:80:timeout=abc", "bad timeout 'abc' for 'tcp'");
    parse_fails("tcp:h:80:timeout=nan", "bad timeout 'nan' for 'tcp'");
    parse_fails("tcp:h:80:timeout= 1", "bad timeout ' 1' for 'tcp'");
    parse_fails("tcp:h:80:timeout=1e9", "bad timeout '1e9' for 'tcp'");
    parse_fails("tcp:h:80:bindAddress=example.com", "bad bindAddress 'example.com' for 'tcp'");
    parse_fails("tcp6:h:80:bindAddress=127.0.0.1",
                "bad bindAddress '127.0.0.1' for 'tcp6' (expected a numeric IPv6 address)");
    parse_fails("tcp:h:80:x", "too many parameters for 'tcp' (extra 'x')");
    parse_fails("tcp:host=h:port=1:2", "parameter 'host' given twice for 'tcp'");
    parse_fails("tcp:h:80:extra:more", "too many parameters for 'tcp' (extra 'extra')");
    parse_fails("tcp:h:80:port=81", "parameter 'port' given twice for 'tcp'");
    parse_fails("tcp:h:80:interface=1.2.3.4", "unknown parameter 'interface' for 'tcp'");
}

/* ---- unix ------------------------------------------------------------------------------------ */

static void test_unix(void **state)
{
    (void)state;
    tw_client_description d = parse_ok("unix:path=/var/foo/bar:lockfile=0:timeout=9");
    assert_int_equal(d.type, TW_ENDPOINT_UNIX);
    assert_string_equal(d.path, "/var/foo/bar");
    assert_true(d.timeout == 9);
    d = parse_ok("unix:/var/foo/bar");
    assert_string_equal(d.path, "/var/foo/bar");
    assert_true(d.timeout == 0);
    d = parse_ok("unix:/var/foo/bar:lockfile=0:timeout=9");
    assert_string_equal(d.path, "/var/foo/bar");
    assert_string_equal(parse_ok("unix:/tmp/a\\:b").path, "/tmp/a:b");
}

static void test_unix_errors(void **state)
{
    (void)state;
    parse_fails("unix:", "missing socket path for 'unix'");
    parse_fails("unix:timeout=3", "missing socket path for 'unix'");
    parse_fails("unix:/s:lockfile=1", "lockfile=1 for 'unix' is not supported");
    parse_fails("unix:/s:timeout=x", "bad timeout 'x' for 'unix'");
    parse_fails("unix:/s:/t", "too many parameters for 'unix' (extra '/t')");
    parse_fails("unix:/s:mode=600", "unknown parameter 'mode' for 'unix'");
    char longest[TW_ADDRESS_PATH_MAX + 8] = "unix:/";
    memset(longest + 6, 'p', TW_ADDRESS_PATH_MAX);
    longest[TW_ADDRESS_PATH_MAX + 6] = '\0';
    parse_fails(longest, "socket path for 'unix' too long (at most 107 bytes)");
}

static void test_unknown_and_general_errors(void **state)
{
    (void)state;
    parse_fails("foo:bar", "Unknown endpoint type: 'foo'");
    parse_fails("stdio:", "Unknown endpoint type: 'stdio'"); /* a server type only */
    parse_fails("ssl:example.com:443", "Unknown endpoint type: 'ssl'");
    parse_fails("", "empty endpoint description");
    parse_fails("host=h", "missing endpoint type in 'host=h'");
    parse_fails("tcp:h:80\\", "trailing backslash");
    tw_client_description d;
    assert_int_equal(tw_client_from_string(NULL, &d, NULL, 0), -EINVAL);
    assert_int_equal(tw_client_from_string("tcp:h:1", NULL, NULL, 0), -EINVAL);
    assert_int_equal(tw_client_from_string("tcp:h", &d, NULL, 0), TW_EPARSE);
}

/* ---- descriptions to endpoints --------------------------------------------------------------- */

typedef struct {
    tw_test_net_env net;
} fixture;

static int setup(void **state)
{
    return tw_test_net_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_net_fixture_teardown(state);
}

/* Connects as the description says; returns what the connect's deferred fired with. */
static tw_test_outcome connect_described(fixture *f, const char *description)
{
    tw_client_description d = parse_ok(description);
    int err = 0;
    tw_client_endpoint *ep = tw_client_endpoint_from_description(f->net.r, &d, &err);
    assert_non_null(ep);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_client_endpoint_connect(ep, &f->net.client.factory, &err),
                                   &o);
    tw_client_endpoint_free(ep);
    assert_true(tw_test_run_until(f->net.r, tw_test_outcome_fired, &o, 5.0));
    return o;
}

static void close_connection(fixture *f, const tw_test_outcome *o)
{
    assert_true(tw_test_outcome_ok(o));
    tw_transport_lose_connection(((tw_protocol *)o->value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5.0));
}

static void test_tcp_description_connects(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    char description[64];
    snprintf(description, sizeof description, "tcp:127.0.0.1:%u:timeout=3",
             (unsigned)tw_test_port_number(port));
    tw_test_outcome o = connect_described(f, description);
    close_connection(f, &o);
    tw_port_free(port);
}

static void test_tcp6_description_tries_ipv6_only(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    char description[64];
    snprintf(description, sizeof description, "tcp6:127.0.0.1:%u",
             (unsigned)tw_test_port_number(port));
    tw_test_outcome o = connect_described(f, description);
    assert_false(tw_test_outcome_ok(&o));
    assert_string_equal(o.type, TW_DNS_LOOKUP_ERROR);
    assert_string_equal(o.message, "no results for hostname lookup: 127.0.0.1 (IPv6 only)");
    tw_port_free(port);
}

static void test_unix_description_connects(void **state)
{
    fixture *f = *state;
    char path[108], description[128];
    tw_test_unix_path(path, sizeof path, "client-string");
    int err = 0;
    tw_port *port = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(port);
    snprintf(description, sizeof description, "unix:path=%s:timeout=2", path);
    tw_test_outcome o = connect_described(f, description);
    close_connection(f, &o);
    tw_port_free(port);
}

static void test_bad_description(void **state)
{
    fixture *f = *state;
    tw_client_description d = {.type = TW_ENDPOINT_STDIO};
    int err = 0;
    assert_null(tw_client_endpoint_from_description(f->net.r, &d, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_client_endpoint_from_description(f->net.r, NULL, &err));
    assert_int_equal(err, -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_keywords),
        cmocka_unit_test(test_tcp_positionals),
        cmocka_unit_test(test_tcp_positional_fills_the_free_place),
        cmocka_unit_test(test_tcp_defaults),
        cmocka_unit_test(test_tcp_numeric_hosts),
        cmocka_unit_test(test_tcp_errors),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_unix_errors),
        cmocka_unit_test(test_unknown_and_general_errors),
        T(test_tcp_description_connects),
        T(test_tcp6_description_tries_ipv6_only),
        T(test_unix_description_connects),
        T(test_bad_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
