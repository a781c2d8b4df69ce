/* Tests for nameserver configuration: resolv.conf text (IPv4/IPv6/scoped servers in order, the
 * three-server cap, comments, options and their caps, the 127.0.0.1 default, hostile bytes: NUL,
 * endless lines, no final newline), loading a file, and `--server ADDR[:PORT]` parsing and
 * formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

static tw_dns_resolv_conf parse(const char *text, size_t len)
{
    tw_dns_resolv_conf conf;
    memset(&conf, 0xAA, sizeof conf); /* everything must be set by the parser */
    tw_dns_resolv_conf_parse(text, len, &conf);
    return conf;
}

static tw_dns_resolv_conf parse_text(const char *text)
{
    return parse(text, strlen(text));
}

static const char *format(const tw_dns_server *s)
{
    static char buf[INET6_ADDRSTRLEN + 24];
    return tw_dns_server_format(s, buf, sizeof buf);
}

static void assert_default(const tw_dns_resolv_conf *conf)
{
    assert_int_equal(conf->count, 1);
    assert_true(conf->defaulted);
    assert_string_equal(format(&conf->servers[0]), "127.0.0.1:53");
    assert_int_equal(conf->servers[0].len, sizeof(struct sockaddr_in));
}

static void test_nameservers_in_order(void **state)
{
    (void)state;
    tw_dns_resolv_conf conf = parse_text("# generated\n"
                                         "search example.com\n"
                                         "nameserver 192.0.2.1\n"
                                         "  nameserver\t2001:db8::53   # trailing words ignored\n"
                                         "nameserver 198.51.100.7\n"
                                         "nameserver 203.0.113.9\n");
    assert_int_equal(conf.count, 3); /* the fourth is beyond TW_DNS_NAMESERVERS_MAX */
    assert_false(conf.defaulted);
    assert_string_equal(format(&conf.servers[0]), "192.0.2.1:53");
    assert_string_equal(format(&conf.servers[1]), "[2001:db8::53]:53");
    assert_int_equal(conf.servers[1].len, sizeof(struct sockaddr_in6));
    assert_string_equal(format(&conf.servers[2]), "198.51.100.7:53");
    assert_int_equal(conf.timeout, TW_DNS_TIMEOUT_DEFAULT);
    assert_int_equal(conf.attempts, TW_DNS_ATTEMPTS_DEFAULT);
}

static void test_default_when_no_nameserver(void **state)
{
    (void)state;
    tw_dns_resolv_conf conf = parse_text("");
    assert_default(&conf);
    conf = parse(NULL, 0);
    assert_default(&conf);
    conf = parse_text("# nameserver 192.0.2.1\n"
                      "; nameserver 192.0.2.2\n"
                      "nameserver\n"
                      "nameserver example.com\n"
                      "nameserver 192.0.2.256\n"
                      "nameserver 192.0.2.1:53\n"
                      "nameservers 192.0.2.3\n"
                      "Nameserver 192.0.2.4\n");
    assert_default(&conf);
}

static void test_options_and_caps(void **state)
{
    (void)state;
    tw_dns_resolv_conf conf = parse_text("options ndots:2 timeout:3 attempts:4 rotate\n");
    assert_int_equal(conf.timeout, 3);
    assert_int_equal(conf.attempts, 4);
    conf = parse_text("options timeout:99 attempts:99\n");
    assert_int_equal(conf.timeout, TW_DNS_TIMEOUT_MAX);
    assert_int_equal(conf.attempts, TW_DNS_ATTEMPTS_MAX);
    conf = parse_text("options timeout:0 attempts:0\n");
    assert_int_equal(conf.timeout, 1);
    assert_int_equal(conf.attempts, 1);
    /* Garbage and numbers too long to hold are ignored; the last good value wins. */
    conf = parse_text("options timeout:2\noptions timeout:x attempts:-1 timeout:99999999999\n"
                      "options timeout: attempts:3x\n");
    assert_int_equal(conf.timeout, 2);
    assert_int_equal(conf.attempts, TW_DNS_ATTEMPTS_DEFAULT);
}

/* CVE-2024-25629 read before a buffer on a NUL at a line's start: here NUL is an ordinary byte that
 * makes its token unusable, and lines may be of any length. */
static void test_hostile_text(void **state)
{
    (void)state;
    static const char nul[] = "\0nameserver 192.0.2.1\n"
                              "nameserver 192.0.2.2\0\n"
                              "nameserver 192.0.2\0.3\n"
                              "nameserver 192.0.2.4";
    tw_dns_resolv_conf conf = parse(nul, sizeof nul - 1);
    assert_int_equal(conf.count, 1);
    assert_string_equal(format(&conf.servers[0]), "192.0.2.4:53"); /* no final newline */

    size_t len = 200000;
    char *big = malloc(len + 64);
    assert_non_null(big);
    memcpy(big, "nameserver ", 11);
    memset(big + 11, '1', len - 11); /* one endless token */
    strcpy(big + len, "\r\nnameserver 192.0.2.5\r\n");
    conf = parse(big, strlen(big));
    assert_int_equal(conf.count, 1);
    assert_string_equal(format(&conf.servers[0]), "192.0.2.5:53");
    free(big);
}

static void test_scoped_ipv6(void **state)
{
    (void)state;
    tw_dns_resolv_conf conf = parse_text("nameserver fe80::1%lo\nnameserver fe80::2%nosuchif0\n"
                                         "nameserver fe80::3%7\nnameserver 192.0.2.1%lo\n");
    assert_int_equal(conf.count, 2);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&conf.servers[0].addr;
    assert_int_equal(in6->sin6_scope_id, if_nametoindex("lo"));
    in6 = (const struct sockaddr_in6 *)&conf.servers[1].addr;
    assert_int_equal(in6->sin6_scope_id, 7);
    assert_string_equal(format(&conf.servers[1]), "[fe80::3%7]:53");
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/twine-resolv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "nameserver ::1\noptions attempts:1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    tw_dns_resolv_conf conf;
    assert_int_equal(tw_dns_resolv_conf_load(path, &conf), 0);
    assert_int_equal(conf.count, 1);
    assert_string_equal(format(&conf.servers[0]), "[::1]:53");
    assert_int_equal(conf.attempts, 1);
    unlink(path);
    /* A missing file gives the defaults and says why. */
    assert_int_equal(tw_dns_resolv_conf_load(path, &conf), -ENOENT);
    assert_default(&conf);
}

static void test_server_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } good[] = {
        {"192.0.2.1", "192.0.2.1:53"},          {"192.0.2.1:5353", "192.0.2.1:5353"},
        {"2001:db8::1", "[2001:db8::1]:53"},    {"[2001:db8::1]", "[2001:db8::1]:53"},
        {"[::1]:65535", "[::1]:65535"},          {"::ffff:192.0.2.1", "[::ffff:192.0.2.1]:53"},
        {"[fe80::1%3]:54", "[fe80::1%3]:54"},
    };
    tw_dns_server s;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(tw_dns_server_parse(good[i].text, 53, &s), 0);
        assert_string_equal(format(&s), good[i].expect);
    }
    assert_int_equal(tw_dns_server_parse("192.0.2.1", 5300, &s), 0);
    assert_string_equal(format(&s), "192.0.2.1:5300");
    static const char *const bad[] = {
        "",           "localhost",      "192.0.2.1:",   "192.0.2.1:0",   "192.0.2.1:65536",
        "192.0.2.1:x", "192.0.2.1:53x", "[192.0.2.1]", "[::1",          "[::1]x",
        "[::1]:",     "::1:53:x",        "1.2.3",        "[::1]:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tw_dns_server_parse(bad[i], 53, &s), -EINVAL);
    assert_int_equal(tw_dns_server_parse(NULL, 53, &s), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nameservers_in_order),
        cmocka_unit_test(test_default_when_no_nameserver),
        cmocka_unit_test(test_options_and_caps),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_scoped_ipv6),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_server_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
