/* Tests of endpoint strings: Twisted's tokenizer rules (operators, escapes, positional and keyword
 * parameters), every server type and every error message, quoting, and tw_server_listen over real
 * TCP, TCP6 and UNIX sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static tw_server_description parse_ok(const char *description)
{
    tw_server_description d;
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    int rc = tw_server_from_string(description, &d, why, sizeof why);
    if (rc != 0)
        fail_msg("'%s' did not parse: %s", description, why);
    return d;
}

/* Parses a bad description: TW_EPARSE, a message containing want, and out left untouched. */
static void parse_fails(const char *description, const char *want)
{
    tw_server_description d;
    memset(&d, 0xAB, sizeof d);
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    assert_int_equal(tw_server_from_string(description, &d, why, sizeof why), TW_EPARSE);
    if (!strstr(why, want))
        fail_msg("'%s': message '%s' lacks '%s'", description, why, want);
    assert_null(strchr(why, '\n'));
    unsigned char *bytes = (unsigned char *)&d;
    for (size_t i = 0; i < sizeof d; i++)
        assert_int_equal(bytes[i], 0xAB);
}

static void tokenize_ok(const char *description, tw_endpoint_args *args)
{
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    if (tw_endpoint_tokenize(description, args, why, sizeof why) != 0)
        fail_msg("'%s' did not tokenize: %s", description, why);
}

static void assert_param(const tw_endpoint_args *args, size_t i, const char *key, const char *value)
{
    assert_true(i < args->count);
    if (key)
        assert_string_equal(args->params[i].key, key);
    else
        assert_null(args->params[i].key);
    assert_string_equal(args->params[i].value, value);
}

/* ---- tokenizer ------------------------------------------------------------------------------- */

static void test_tokenize_positional_and_keyword_mixed(void **state)
{
    (void)state;
    tw_endpoint_args args;
    tokenize_ok("a:b:d=1:c", &args);
    assert_int_equal(args.count, 4);
    assert_param(&args, 0, NULL, "a");
    assert_param(&args, 1, NULL, "b");
    assert_param(&args, 2, "d", "1");
    assert_param(&args, 3, NULL, "c");
}

static void test_tokenize_equals_after_equals_is_text(void **state)
{
    (void)state;
    tw_endpoint_args args;
    tokenize_ok("unix:address=foo=bar", &args);
    assert_int_equal(args.count, 2);
    assert_param(&args, 1, "address", "foo=bar");
    tokenize_ok("k==", &args);
    assert_param(&args, 0, "k", "=");
}

static void test_tokenize_escapes(void **state)
{
    (void)state;
    tw_endpoint_args args;
    /* Twisted's test_escape. */
    tokenize_ok("unix:foo\\:bar\\=baz\\:qux\\\\", &args);
    assert_int_equal(args.count, 2);
    assert_param(&args, 1, NULL, "foo:bar=baz:qux\\");
    /* An escaped '=' does not make a keyword; any character may be escaped. */
    tokenize_ok("a\\=b:\\x\\y", &args);
    assert_param(&args, 0, NULL, "a=b");
    assert_param(&args, 1, NULL, "xy");
    tokenize_ok("k\\:ey=v\\:al", &args);
    assert_param(&args, 0, "k:ey", "v:al");
}

static void test_tokenize_empty_parts(void **state)
{
    (void)state;
    tw_endpoint_args args;
    tokenize_ok("", &args);
    assert_int_equal(args.count, 1);
    assert_param(&args, 0, NULL, "");
    tokenize_ok("::", &args);
    assert_int_equal(args.count, 3);
    assert_param(&args, 2, NULL, "");
    tokenize_ok("=x:y=", &args);
    assert_param(&args, 0, "", "x");
    assert_param(&args, 1, "y", "");
}

static void test_tokenize_trailing_backslash(void **state)
{
    (void)state;
    tw_endpoint_args args;
    char why[TW_ENDPOINT_ERROR_MAX];
    assert_int_equal(tw_endpoint_tokenize("tcp:80\\", &args, why, sizeof why), TW_EPARSE);
    assert_non_null(strstr(why, "trailing backslash"));
    /* An escaped backslash at the end is fine. */
    tokenize_ok("tcp:80\\\\", &args);
    assert_param(&args, 1, NULL, "80\\");
}

static void test_tokenize_limits(void **state)
{
    (void)state;
    tw_endpoint_args args;
    char why[TW_ENDPOINT_ERROR_MAX];
    char text[TW_ENDPOINT_STRING_MAX + 2];
    memset(text, 'a', TW_ENDPOINT_STRING_MAX);
    text[TW_ENDPOINT_STRING_MAX] = '\0';
    tokenize_ok(text, &args);
    assert_int_equal(strlen(args.params[0].value), TW_ENDPOINT_STRING_MAX);
    strcat(text, "a");
    assert_int_equal(tw_endpoint_tokenize(text, &args, why, sizeof why), TW_EPARSE);
    assert_non_null(strstr(why, "too long"));

    /* TW_ENDPOINT_PARAMS_MAX parameters fit; one more does not. */
    char many[3 * TW_ENDPOINT_PARAMS_MAX + 4] = "t";
    for (int i = 1; i < TW_ENDPOINT_PARAMS_MAX; i++)
        strcat(many, ":x");
    tokenize_ok(many, &args);
    assert_int_equal(args.count, TW_ENDPOINT_PARAMS_MAX);
    strcat(many, ":k=v");
    assert_int_equal(tw_endpoint_tokenize(many, &args, why, sizeof why), TW_EPARSE);
    assert_non_null(strstr(why, "too many parameters"));
}

static void test_tokenize_bad_arguments(void **state)
{
    (void)state;
    tw_endpoint_args args;
    assert_int_equal(tw_endpoint_tokenize(NULL, &args, NULL, 0), -EINVAL);
    assert_int_equal(tw_endpoint_tokenize("tcp:80", NULL, NULL, 0), -EINVAL);
    /* No error buffer, or a tiny one, is allowed. */
    assert_int_equal(tw_endpoint_tokenize("x\\", &args, NULL, 0), TW_EPARSE);
    char tiny[8];
    assert_int_equal(tw_endpoint_tokenize("x\\", &args, tiny, sizeof tiny), TW_EPARSE);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

/* ---- quoting --------------------------------------------------------------------------------- */

static void test_quote_escapes_backslash_and_colon(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(tw_endpoint_quote("a:b\\c=d", buf, sizeof buf), 10);
    assert_string_equal(buf, "a\\:b\\\\c\\=d");
    assert_int_equal(tw_endpoint_quote("", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_quote_round_trips_through_tokenizer(void **state)
{
    (void)state;
    const char *values[] = {"::1", "C:\\dir\\", "a=b", "\\:\\", "plain"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char quoted[64], description[2 * sizeof quoted + 8];
        tw_endpoint_quote(values[i], quoted, sizeof quoted);
        snprintf(description, sizeof description, "t:k=%s:%s", quoted, quoted);
        tw_endpoint_args args;
        tokenize_ok(description, &args);
        assert_int_equal(args.count, 3);
        assert_param(&args, 1, "k", values[i]);
        assert_param(&args, 2, NULL, values[i]);
    }
}

static void test_quote_truncates_like_snprintf(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(tw_endpoint_quote("::::", buf, sizeof buf), 8);
    assert_string_equal(buf, "\\:\\");
    assert_int_equal(tw_endpoint_quote("abc", NULL, 0), 3);
    assert_int_equal(tw_endpoint_quote(NULL, buf, sizeof buf), -EINVAL);
}

/* ---- tcp ------------------------------------------------------------------------------------- */

static void test_tcp_defaults(void **state)
{
    (void)state;
    tw_server_description d = parse_ok("tcp:8080");
    assert_int_equal(d.type, TW_ENDPOINT_TCP);
    assert_int_equal(d.port, 8080);
    assert_string_equal(d.interface, "");
    assert_int_equal(d.backlog, TW_PORT_BACKLOG_DEFAULT);
    assert_int_equal(parse_ok("tcp:0").port, 0);
    assert_int_equal(parse_ok("tcp:65535").port, 65535);
    assert_int_equal(parse_ok("tcp:00080").port, 80);
}

static void test_tcp_keywords_and_positionals(void **state)
{
    (void)state;
    tw_server_description d = parse_ok("tcp:80:interface=127.0.0.1:backlog=7");
    assert_string_equal(d.interface, "127.0.0.1");
    assert_int_equal(d.backlog, 7);
    d = parse_ok("tcp:80:10.1.2.3:9");
    assert_string_equal(d.interface, "10.1.2.3");
    assert_int_equal(d.backlog, 9);
    d = parse_ok("tcp:backlog=3:interface=127.0.0.1:port=81");
    assert_int_equal(d.port, 81);
    assert_int_equal(d.backlog, 3);
    d = parse_ok("interface=127.0.0.1:tcp:82");
    assert_int_equal(d.type, TW_ENDPOINT_TCP);
    assert_int_equal(d.port, 82);
    /* An empty interface means every address, as Twisted's default "". */
    assert_string_equal(parse_ok("tcp:80:").interface, "");
}

static void test_tcp_type_is_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("TCP:80").type, TW_ENDPOINT_TCP);
    assert_int_equal(parse_ok("Tcp6:80").type, TW_ENDPOINT_TCP6);
    assert_int_equal(parse_ok("UNIX:/x").type, TW_ENDPOINT_UNIX);
}

static void test_tcp_bad_ports(void **state)
{
    (void)state;
    parse_fails("tcp", "missing port for 'tcp'");
    parse_fails("tcp:", "missing port for 'tcp'");
    parse_fails("tcp::interface=127.0.0.1", "missing port");
    parse_fails("tcp:65536", "bad port '65536' for 'tcp' (expected 0 to 65535)");
    parse_fails("tcp:99999999999999999999999", "bad port");
    parse_fails("tcp:-1", "bad port '-1'");
    parse_fails("tcp:+80", "bad port");
    parse_fails("tcp: 80", "bad port");
    parse_fails("tcp:http", "bad port 'http'");
    parse_fails("tcp:0x50", "bad port");
}

static void test_tcp_bad_interfaces(void **state)
{
    (void)state;
    parse_fails("tcp:80:interface=::1", "parameter 'interface' given twice");
    parse_fails("tcp:80:interface=\\:\\:1", "bad interface address '::1' for 'tcp'");
    parse_fails("tcp:80:interface=\\:\\:1", "use tcp6:");
    parse_fails("tcp:80:interface=256.0.0.1", "bad interface address '256.0.0.1'");
    parse_fails("tcp:80:interface=localhost", "bad interface address 'localhost'");
    parse_fails("tcp:80:interface=1.2.3", "bad interface address");
    parse_fails("tcp:80:interface=127.0.0.1%lo", "bad interface address");
}

static void test_tcp_bad_backlogs(void **state)
{
    (void)state;
    parse_fails("tcp:80:backlog=0", "bad backlog '0' for 'tcp' (expected 1 to 65535)");
    parse_fails("tcp:80:backlog=65536", "bad backlog");
    parse_fails("tcp:80:backlog=-5", "bad backlog");
    parse_fails("tcp:80:backlog=", "bad backlog ''");
    parse_fails("tcp:80:backlog=ten", "bad backlog 'ten'");
    assert_int_equal(parse_ok("tcp:80:backlog=65535").backlog, 65535);
}

static void test_tcp_parameter_binding_errors(void **state)
{
    (void)state;
    parse_fails("tcp:80:port=81", "parameter 'port' given twice for 'tcp'");
    parse_fails("tcp:port=80:port=81", "parameter 'port' given twice");
    parse_fails("tcp:interface=127.0.0.1:80:127.0.0.2", "parameter 'interface' given twice");
    parse_fails("tcp:80:127.0.0.1:5:extra", "too many parameters for 'tcp' (extra 'extra')");
    parse_fails("tcp:80:foo=1", "unknown parameter 'foo' for 'tcp'");
    parse_fails("tcp:80:mode=600", "unknown parameter 'mode' for 'tcp'");
    parse_fails("tcp:80:=1", "unknown parameter '' for 'tcp'");
    parse_fails("tcp:80:Port=1", "unknown parameter 'Port'");
}

static void test_tcp_reuse_port(void **state)
{
    (void)state;
    assert_false(parse_ok("tcp:80").reuse_port);
    assert_true(parse_ok("tcp:80:reusePort=1").reuse_port);
    assert_false(parse_ok("tcp:80:reusePort=0").reuse_port);
    assert_true(parse_ok("tcp:80:127.0.0.1:5:reusePort=1").reuse_port);
    assert_true(parse_ok("tcp6:80:reusePort=1:interface=\\:\\:1").reuse_port);
    assert_false(parse_ok("tcp6:80").reuse_port);
    parse_fails("tcp:80:reusePort=yes", "bad reusePort 'yes' for 'tcp' (expected 0 or 1)");
    parse_fails("tcp:80:reusePort=2", "bad reusePort '2' for 'tcp'");
    parse_fails("tcp:80:reusePort=", "bad reusePort '' for 'tcp'");
    parse_fails("tcp:80:reusePort=01", "bad reusePort '01'");
    parse_fails("tcp6:80:reusePort=true", "bad reusePort 'true' for 'tcp6'");
    parse_fails("tcp:80:reusePort=1:reusePort=1", "parameter 'reusePort' given twice for 'tcp'");
    parse_fails("tcp:80:reuseport=1", "unknown parameter 'reuseport' for 'tcp'");
    /* a keyword only: the positional order stays Twisted's */
    parse_fails("tcp:80:127.0.0.1:5:1", "too many parameters for 'tcp' (extra '1')");
    parse_fails("unix:/tmp/x.sock:reusePort=1", "unknown parameter 'reusePort' for 'unix'");
    parse_fails("stdio:reusePort=1", "unknown parameter 'reusePort' for 'stdio'");
}

/* ---- tcp6 ------------------------------------------------------------------------------------ */

static void test_tcp6_escaped_interface(void **state)
{
    (void)state;
    tw_server_description d = parse_ok("tcp6:8080:interface=\\:\\:1");
    assert_int_equal(d.type, TW_ENDPOINT_TCP6);
    assert_int_equal(d.port, 8080);
    assert_string_equal(d.interface, "::1");
    assert_int_equal(d.backlog, TW_PORT_BACKLOG_DEFAULT);
    assert_string_equal(parse_ok("tcp6:80").interface, "");
    assert_string_equal(parse_ok("tcp6:80:interface=2001\\:db8\\:\\:7").interface, "2001:db8::7");
    assert_string_equal(parse_ok("tcp6:80:interface=\\:\\:ffff\\:127.0.0.1").interface,
                        "::ffff:127.0.0.1");
}

static void test_tcp6_positional_order_is_port_backlog_interface(void **state)
{
    (void)state;
    /* Twisted's own example. */
    tw_server_description d = parse_ok("tcp6:8080:backlog=12:interface=\\:\\:1");
    assert_int_equal(d.backlog, 12);
    assert_string_equal(d.interface, "::1");
    d = parse_ok("tcp6:8080:12:\\:\\:1");
    assert_int_equal(d.backlog, 12);
    assert_string_equal(d.interface, "::1");
}

static void test_tcp6_scopes(void **state)
{
    (void)state;
    assert_string_equal(parse_ok("tcp6:80:interface=fe80\\:\\:1%eth0").interface, "fe80::1%eth0");
    assert_string_equal(parse_ok("tcp6:80:interface=fe80\\:\\:1%2").interface, "fe80::1%2");
    parse_fails("tcp6:80:interface=fe80\\:\\:1%", "bad interface address");
    parse_fails("tcp6:80:interface=fe80\\:\\:1%a b", "bad interface address");
    parse_fails("tcp6:80:interface=fe80\\:\\:1%abcdefghijklmnopq", "bad interface address");
}

static void test_tcp6_bad_values(void **state)
{
    (void)state;
    parse_fails("tcp6:80:interface=127.0.0.1", "bad interface address '127.0.0.1' for 'tcp6'");
    parse_fails("tcp6:80:interface=127.0.0.1", "colons escaped as \\:");
    parse_fails("tcp6:80:interface=\\:\\:g", "bad interface address");
    parse_fails("tcp6:80:interface=1\\:2\\:3\\:4\\:5\\:6\\:7\\:8\\:9", "bad interface address");
    /* An unescaped address splits into parameters. */
    parse_fails("tcp6:80:interface=::1", "given twice for 'tcp6'");
    parse_fails("tcp6", "missing port for 'tcp6'");
    parse_fails("tcp6:70000", "bad port '70000' for 'tcp6'");
    parse_fails("tcp6:80:backlog=0", "bad backlog '0' for 'tcp6'");
    parse_fails("tcp6:80:1:\\:\\:1:x", "too many parameters for 'tcp6'");
    parse_fails("tcp6:80:path=x", "unknown parameter 'path' for 'tcp6'");
}

/* ---- unix ------------------------------------------------------------------------------------ */

static void test_unix_paths(void **state)
{
    (void)state;
    tw_server_description d = parse_ok("unix:/tmp/echo.sock");
    assert_int_equal(d.type, TW_ENDPOINT_UNIX);
    assert_string_equal(d.path, "/tmp/echo.sock");
    assert_int_equal(d.mode, TW_ENDPOINT_UNIX_MODE_DEFAULT);
    assert_int_equal(d.backlog, TW_PORT_BACKLOG_DEFAULT);
    assert_string_equal(parse_ok("unix:address=/a=b").path, "/a=b");
    assert_string_equal(parse_ok("unix:/tmp/a\\:b").path, "/tmp/a:b");
    assert_string_equal(parse_ok("unix:relative/sock").path, "relative/sock");
    assert_string_equal(parse_ok("unix:foo\\:bar\\=baz\\:qux\\\\").path, "foo:bar=baz:qux\\");
}

static void test_unix_mode_backlog_lockfile(void **state)
{
    (void)state;
    tw_server_description d = parse_ok("unix:/s:mode=660:backlog=5");
    assert_int_equal(d.mode, 0660);
    assert_int_equal(d.backlog, 5);
    d = parse_ok("unix:/s:600:9:0");
    assert_int_equal(d.mode, 0600);
    assert_int_equal(d.backlog, 9);
    assert_int_equal(parse_ok("unix:/s:mode=0").mode, 0);
    assert_int_equal(parse_ok("unix:/s:mode=0777").mode, 0777);
    assert_int_equal(parse_ok("unix:/s:lockfile=0").type, TW_ENDPOINT_UNIX);
}

static void test_unix_errors(void **state)
{
    (void)state;
    parse_fails("unix", "missing socket path for 'unix'");
    parse_fails("unix:", "missing socket path");
    parse_fails("unix:mode=600", "missing socket path");
    parse_fails("unix:/s:mode=8", "bad mode '8' for 'unix' (expected octal permissions");
    parse_fails("unix:/s:mode=1000", "bad mode '1000'");
    parse_fails("unix:/s:mode=rw", "bad mode 'rw'");
    parse_fails("unix:/s:mode=", "bad mode ''");
    parse_fails("unix:/s:backlog=0", "bad backlog '0' for 'unix'");
    parse_fails("unix:/s:lockfile=1", "lockfile=1 for 'unix' is not supported");
    parse_fails("unix:/s:path=/t", "unknown parameter 'path' for 'unix'");
    parse_fails("unix:/s:address=/t", "parameter 'address' given twice for 'unix'");
    parse_fails("unix:/s:600:9:0:x", "too many parameters for 'unix'");

    char longest[TW_ADDRESS_PATH_MAX + 8] = "unix:/";
    memset(longest + 6, 'p', TW_ADDRESS_PATH_MAX - 2);
    longest[TW_ADDRESS_PATH_MAX + 4] = '\0';
    assert_int_equal(strlen(parse_ok(longest).path), TW_ADDRESS_PATH_MAX - 1);
    strcat(longest, "p");
    parse_fails(longest, "socket path for 'unix' too long (at most 107 bytes)");
}

/* ---- stdio, unknown types, general errors ---------------------------------------------------- */

static void test_stdio_recognised(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("stdio").type, TW_ENDPOINT_STDIO);
    assert_int_equal(parse_ok("stdio:").type, TW_ENDPOINT_STDIO);
    assert_int_equal(parse_ok("STDIO:").type, TW_ENDPOINT_STDIO);
    parse_fails("stdio:x", "'stdio' takes no parameters (got 'x')");
    parse_fails("stdio::", "too many parameters for 'stdio'");
    parse_fails("stdio:fd=0", "unknown parameter 'fd' for 'stdio'");
}

static void test_unknown_types(void **state)
{
    (void)state;
    parse_fails("ftl:80", "Unknown endpoint type: 'ftl'");
    parse_fails("FTL:80", "Unknown endpoint type: 'ftl'");
    parse_fails("8080", "Unknown endpoint type: '8080'");
    parse_fails("ssl:443", "Unknown endpoint type: 'ssl'");
    parse_fails(":80", "Unknown endpoint type: ''");
    parse_fails("", "empty endpoint description");
    parse_fails("port=80", "missing endpoint type in 'port=80'");
    parse_fails("tcp:80\\", "trailing backslash");
}

static void test_messages_show_bounded_printable_text(void **state)
{
    (void)state;
    char description[200] = "tcp:";
    memset(description + 4, '9', 150);
    description[154] = '\0';
    tw_server_description d;
    char why[TW_ENDPOINT_ERROR_MAX];
    assert_int_equal(tw_server_from_string(description, &d, why, sizeof why), TW_EPARSE);
    assert_non_null(strstr(why, "...'"));
    assert_true(strlen(why) < 120);
    parse_fails("tcp:8\n0", "bad port '8?0'");
    parse_fails("bad\x01type:1", "Unknown endpoint type: 'bad?type'");
}

static void test_from_string_bad_arguments(void **state)
{
    (void)state;
    tw_server_description d;
    assert_int_equal(tw_server_from_string(NULL, &d, NULL, 0), -EINVAL);
    assert_int_equal(tw_server_from_string("tcp:80", NULL, NULL, 0), -EINVAL);
    assert_int_equal(tw_server_from_string("tcp:x", &d, NULL, 0), TW_EPARSE);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(tw_endpoint_type_name(TW_ENDPOINT_TCP), "tcp");
    assert_string_equal(tw_endpoint_type_name(TW_ENDPOINT_TCP6), "tcp6");
    assert_string_equal(tw_endpoint_type_name(TW_ENDPOINT_UNIX), "unix");
    assert_string_equal(tw_endpoint_type_name(TW_ENDPOINT_STDIO), "stdio");
    assert_string_equal(tw_endpoint_type_name((tw_endpoint_type)99), "?");
}

/* ---- tw_server_listen over real sockets ------------------------------------------------------ */

typedef struct {
    tw_reactor *r;
    tw_factory factory;
    int made, lost;
    char dir[64];
} listen_fixture;

static int count_connection(tw_protocol *p)
{
    listen_fixture *f = p->factory->user;
    f->made++;
    return 0;
}

static void count_loss(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    listen_fixture *f = p->factory->user;
    f->lost++;
}

static const tw_protocol_ops counting_ops = {.connection_made = count_connection,
                                             .connection_lost = count_loss};

static int build_counting(tw_factory *factory, const tw_address *peer, tw_protocol *out)
{
    (void)factory;
    (void)peer;
    out->ops = &counting_ops;
    return 0;
}

static const tw_factory_ops counting_factory_ops = {.build_protocol = build_counting};

static int listen_setup(void **state)
{
    listen_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->r = tw_reactor_new(NULL);
    assert_non_null(f->r);
    f->factory = (tw_factory){.ops = &counting_factory_ops, .user = f};
    strcpy(f->dir, "/tmp/twine-strports-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int listen_teardown(void **state)
{
    listen_fixture *f = *state;
    tw_reactor_free(f->r);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Connects a blocking client to sa, turns the reactor until the server side is made, then closes
 * the client and turns it until the server side is gone (so nothing is left open). */
static void connect_and_wait(listen_fixture *f, const struct sockaddr *sa, socklen_t len)
{
    int c = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, sa, len), 0);
    int made = f->made, lost = f->lost;
    for (int i = 0; i < 100 && f->made == made; i++)
        tw_reactor_iterate(f->r, 1.0);
    assert_int_equal(f->made, made + 1);
    close(c);
    for (int i = 0; i < 100 && f->lost == lost; i++)
        tw_reactor_iterate(f->r, 1.0);
    assert_int_equal(f->lost, lost + 1);
}

static void test_listen_tcp(void **state)
{
    listen_fixture *f = *state;
    tw_server_description d = parse_ok("tcp:0:interface=127.0.0.1:backlog=5");
    int err = 1;
    tw_port *port = tw_server_listen(f->r, &d, &f->factory, &err);
    assert_non_null(port);
    tw_address host;
    assert_int_equal(tw_port_get_host(port, &host), 0);
    assert_int_equal(host.type, TW_ADDRESS_TCP4);
    assert_string_equal(host.host, "127.0.0.1");
    assert_true(host.port != 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(host.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect_and_wait(f, (struct sockaddr *)&sin, sizeof sin);

    /* The same port again is in use. */
    char again[64];
    snprintf(again, sizeof again, "tcp:%u:interface=127.0.0.1", (unsigned)host.port);
    d = parse_ok(again);
    assert_null(tw_server_listen(f->r, &d, &f->factory, &err));
    assert_int_equal(err, -EADDRINUSE);
    tw_port_free(port);
}

static tw_port *listen_string(listen_fixture *f, const char *description, int *err)
{
    tw_server_description d = parse_ok(description);
    return tw_server_listen(f->r, &d, &f->factory, err);
}

/* Listens on 127.0.0.1 at the port of p, with options added to the string (e.g. ":reusePort=1"). */
static tw_port *listen_beside(listen_fixture *f, tw_port *p, const char *options, int *err)
{
    char text[96];
    snprintf(text, sizeof text, "tcp:%u:interface=127.0.0.1%s",
             (unsigned)tw_test_port_number(p), options);
    return listen_string(f, text, err);
}

/* Two ports with reusePort=1 listen on one address and the kernel gives each some of the
 * connections (spread by a hash of the client's address and port: 64 connections all landing on
 * one of two ports has a chance of 2^-63). A port without it cannot join them. */
static void test_listen_reuse_port(void **state)
{
    listen_fixture *f = *state;
    int err = 0;
    tw_port *a = listen_string(f, "tcp:0:interface=127.0.0.1:reusePort=1", &err);
    assert_non_null(a);
    tw_port *b = listen_beside(f, a, ":reusePort=1", &err);
    assert_non_null(b);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(tw_test_port_number(a))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 64 && (tw_port_accepted(a) == 0 || tw_port_accepted(b) == 0); i++)
        connect_and_wait(f, (struct sockaddr *)&sin, sizeof sin);
    assert_true(tw_port_accepted(a) > 0);
    assert_true(tw_port_accepted(b) > 0);

    assert_null(listen_beside(f, a, "", &err));
    assert_int_equal(err, -EADDRINUSE);
    tw_port_free(b);
    tw_port_free(a);
}

/* A port that did not ask for it keeps its address to itself, even from one that asks. */
static void test_listen_reuse_port_needs_both(void **state)
{
    listen_fixture *f = *state;
    int err = 0;
    tw_port *a = listen_string(f, "tcp:0:interface=127.0.0.1", &err);
    assert_non_null(a);
    assert_null(listen_beside(f, a, ":reusePort=1", &err));
    assert_int_equal(err, -EADDRINUSE);
    tw_port_free(a);
}

static void test_listen_tcp_any_interface(void **state)
{
    listen_fixture *f = *state;
    tw_server_description d = parse_ok("tcp:0");
    tw_port *port = tw_server_listen(f->r, &d, &f->factory, NULL);
    assert_non_null(port);
    tw_address host;
    assert_int_equal(tw_port_get_host(port, &host), 0);
    assert_string_equal(host.host, "0.0.0.0");
    tw_port_free(port);
}

static void test_listen_tcp6(void **state)
{
    listen_fixture *f = *state;
    if (!tw_test_ipv6_loopback_available()) {
        print_message("skipped: ::1 is not available on this machine\n");
        skip();
    }
    tw_server_description d = parse_ok("tcp6:0:interface=\\:\\:1");
    tw_port *port = tw_server_listen(f->r, &d, &f->factory, NULL);
    assert_non_null(port);
    tw_address host;
    assert_int_equal(tw_port_get_host(port, &host), 0);
    assert_int_equal(host.type, TW_ADDRESS_TCP6);
    assert_string_equal(host.host, "::1");
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(host.port),
                                .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    connect_and_wait(f, (struct sockaddr *)&sin6, sizeof sin6);
    tw_port_free(port);
}

static void listen_unix_with_mode(listen_fixture *f, const char *suffix, mode_t want)
{
    char path[128], description[160];
    snprintf(path, sizeof path, "%s/sock", f->dir);
    snprintf(description, sizeof description, "unix:%s%s", path, suffix);
    tw_server_description d = parse_ok(description);
    tw_port *port = tw_server_listen(f->r, &d, &f->factory, NULL);
    assert_non_null(port);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, want);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    connect_and_wait(f, (struct sockaddr *)&sun, sizeof sun);
    tw_port_free(port);
    assert_int_equal(stat(path, &st), -1);
}

static void test_listen_unix_default_mode(void **state)
{
    listen_unix_with_mode(*state, "", 0666);
}

static void test_listen_unix_mode(void **state)
{
    listen_unix_with_mode(*state, ":mode=600", 0600);
}

static void test_listen_failures(void **state)
{
    listen_fixture *f = *state;
    int err = 0;
    tw_server_description d = parse_ok("stdio:");
    assert_null(tw_server_listen(f->r, &d, &f->factory, &err));
    assert_int_equal(err, -EOPNOTSUPP);
    d = parse_ok("unix:/nonexistent-dir-for-twine/sock");
    assert_null(tw_server_listen(f->r, &d, &f->factory, &err));
    assert_int_equal(err, -ENOENT);
    assert_null(tw_server_listen(NULL, &d, &f->factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_server_listen(f->r, NULL, &f->factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_server_listen(f->r, &d, NULL, &err));
    assert_int_equal(err, -EINVAL);
    d.type = (tw_endpoint_type)42;
    assert_null(tw_server_listen(f->r, &d, &f->factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_server_listen(f->r, &d, &f->factory, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_positional_and_keyword_mixed),
        cmocka_unit_test(test_tokenize_equals_after_equals_is_text),
        cmocka_unit_test(test_tokenize_escapes),
        cmocka_unit_test(test_tokenize_empty_parts),
        cmocka_unit_test(test_tokenize_trailing_backslash),
        cmocka_unit_test(test_tokenize_limits),
        cmocka_unit_test(test_tokenize_bad_arguments),
        cmocka_unit_test(test_quote_escapes_backslash_and_colon),
        cmocka_unit_test(test_quote_round_trips_through_tokenizer),
        cmocka_unit_test(test_quote_truncates_like_snprintf),
        cmocka_unit_test(test_tcp_defaults),
        cmocka_unit_test(test_tcp_keywords_and_positionals),
        cmocka_unit_test(test_tcp_type_is_case_insensitive),
        cmocka_unit_test(test_tcp_bad_ports),
        cmocka_unit_test(test_tcp_bad_interfaces),
        cmocka_unit_test(test_tcp_bad_backlogs),
        cmocka_unit_test(test_tcp_parameter_binding_errors),
        cmocka_unit_test(test_tcp_reuse_port),
        cmocka_unit_test(test_tcp6_escaped_interface),
        cmocka_unit_test(test_tcp6_positional_order_is_port_backlog_interface),
        cmocka_unit_test(test_tcp6_scopes),
        cmocka_unit_test(test_tcp6_bad_values),
        cmocka_unit_test(test_unix_paths),
        cmocka_unit_test(test_unix_mode_backlog_lockfile),
        cmocka_unit_test(test_unix_errors),
        cmocka_unit_test(test_stdio_recognised),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_messages_show_bounded_printable_text),
        cmocka_unit_test(test_from_string_bad_arguments),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test_setup_teardown(test_listen_tcp, listen_setup, listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_tcp_any_interface, listen_setup,
                                        listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_tcp6, listen_setup, listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_reuse_port, listen_setup, listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_reuse_port_needs_both, listen_setup,
                                        listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_unix_default_mode, listen_setup,
                                        listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_unix_mode, listen_setup, listen_teardown),
        cmocka_unit_test_setup_teardown(test_listen_failures, listen_setup, listen_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
