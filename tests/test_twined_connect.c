/* End-to-end tests of `twined connect` (the contract in docs/twined.md), running the binary against
 * servers in the test's own reactor: a round trip through an echo server with stdin's EOF passed on
 * as a half-close, the peer closing first while stdin is still open, the -v line, refusal, an
 * unresolvable name and a timeout (status 1, one line each), a reset connection, back-pressure
 * when stdout is not read, bad arguments (status 2) and SIGTERM (status 0). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"
#include "support/stop_signal.h"
#include "support/twined_child.h"

/* Guards only: a correct run finishes in milliseconds. */
#define WAIT_SECONDS 10.0
#define ROUND_TRIP_SIZE (2u << 20)
/* Back-pressure: what the server pushes while stdout is not read, and the growth allowed. */
#define PUSH_SIZE (32u << 20)
#define RSS_GROWTH_MAX_KIB 4096

/* ---- servers in the test's reactor ----------------------------------------------------------- */

typedef enum { ECHO, GREET_AND_CLOSE, RESET, PUSH } behaviour;

typedef struct {
    tw_test_env env;
    tw_factory factory;
    behaviour behaviour;
    tw_port *port;
    char *push;
    int made, lost;
    tw_test_twined twined;
} fixture;

static ssize_t server_data(tw_protocol *p, const char *data, size_t len)
{
    fixture *f = p->user;
    if (f->behaviour == ECHO)
        tw_transport_write(p->transport, data, len);
    if (f->behaviour == RESET) /* once connected for sure: twined has sent something */
        tw_transport_abort_connection(p->transport);
    return (ssize_t)len;
}

static int server_read_lost(tw_protocol *p)
{
    tw_transport_lose_write_connection(p->transport);
    return 0;
}

static int server_write_lost(tw_protocol *p)
{
    tw_transport_lose_connection(p->transport);
    return 0;
}

static const char greeting[] = "hello from the server\n";

static int server_made(tw_protocol *p)
{
    fixture *f = p->user;
    f->made++;
    if (f->behaviour == GREET_AND_CLOSE) {
        tw_transport_write(p->transport, greeting, sizeof greeting - 1);
        tw_transport_lose_connection(p->transport);
    } else if (f->behaviour == PUSH) {
        tw_transport_write_lent(p->transport, f->push, PUSH_SIZE, NULL, NULL);
        tw_transport_lose_write_connection(p->transport);
    }
    return 0;
}

static void server_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    ((fixture *)p->user)->lost++;
}

static const tw_protocol_ops server_ops = {
    .connection_made = server_made,
    .data_received = server_data,
    .read_connection_lost = server_read_lost,
    .write_connection_lost = server_write_lost,
    .connection_lost = server_lost,
};

static int server_build(tw_factory *fac, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    out->ops = &server_ops;
    out->user = fac->user;
    return 0;
}

static const tw_factory_ops server_factory_ops = {.build_protocol = server_build};

static int setup(void **state)
{
    if (tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK) < 0)
        return -1;
    fixture *f = *state;
    f->factory = (tw_factory){.ops = &server_factory_ops, .user = f};
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_test_twined_free(&f->twined);
    if (f->port)
        tw_port_free(f->port);
    free(f->push);
    return tw_test_fixture_teardown(state);
}

static uint16_t serve(fixture *f, behaviour b, bool ipv6)
{
    int err = 0;
    f->behaviour = b;
    f->port = ipv6 ? tw_listen_tcp6(f->env.r, 0, "::1", 0, &f->factory, &err)
                   : tw_listen_tcp(f->env.r, 0, "127.0.0.1", 0, &f->factory, &err);
    assert_non_null(f->port);
    return tw_test_port_number(f->port);
}

/* Runs `twined connect ARGS...` with input on stdin until it exits. */
static void run_connect(fixture *f, const char *const *args, const char *input, size_t len,
                        bool close_input)
{
    tw_test_twined_start(&f->twined, f->env.r, args, input, len, close_input);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, WAIT_SECONDS));
}

static void assert_one_line(const tw_test_twined *c, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool match = regexec(&re, c->err_text, 0, NULL, 0) == 0;
    regfree(&re);
    if (!match)
        fail_msg("stderr '%s' does not match '%s'", c->err_text, pattern);
}

static bool server_all_lost(void *arg)
{
    fixture *f = arg;
    return f->made > 0 && f->lost == f->made;
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void test_round_trip_with_half_close(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, ECHO, false));
    char *input = malloc(ROUND_TRIP_SIZE);
    tw_test_fill_random(input, ROUND_TRIP_SIZE, 3);
    const char *args[] = {"connect", "127.0.0.1", port, NULL};
    run_connect(f, args, input, ROUND_TRIP_SIZE, true);
    assert_int_equal(f->twined.status, 0);
    assert_int_equal(f->twined.output_len, ROUND_TRIP_SIZE);
    assert_memory_equal(f->twined.output, input, ROUND_TRIP_SIZE);
    assert_string_equal(f->twined.err_text, "");
    assert_true(tw_test_run_until(f->env.r, server_all_lost, f, WAIT_SECONDS));
    free(input);
}

/* The peer closes first: twined exits 0 once what it sent is written, stdin still open. */
static void test_peer_closes_first(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, GREET_AND_CLOSE, false));
    const char *args[] = {"connect", "localhost", port, NULL};
    run_connect(f, args, NULL, 0, false);
    assert_int_equal(f->twined.status, 0);
    assert_int_equal(f->twined.output_len, sizeof greeting - 1);
    assert_memory_equal(f->twined.output, greeting, sizeof greeting - 1);
}

static void test_verbose_line(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, GREET_AND_CLOSE, false));
    const char *args[] = {"connect", "-v", "127.0.0.1", port, NULL};
    run_connect(f, args, NULL, 0, true);
    assert_int_equal(f->twined.status, 0);
    char pattern[128];
    snprintf(pattern, sizeof pattern,
             "^twined: connected to 127\\.0\\.0\\.1 port %s in [0-9]+ ms \\(attempt 1 of 1\\)\n$",
             port);
    assert_one_line(&f->twined, pattern);
}

static void test_verbose_line_ipv6_has_no_brackets(void **state)
{
    fixture *f = *state;
    if (!tw_test_ipv6_loopback_available()) {
        print_message("::1 cannot be bound here: skipped\n");
        skip();
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, GREET_AND_CLOSE, true));
    const char *args[] = {"connect", "-v", "::1", port, NULL};
    run_connect(f, args, NULL, 0, true);
    assert_int_equal(f->twined.status, 0);
    char pattern[128];
    snprintf(pattern, sizeof pattern, "^twined: connected to ::1 port %s in [0-9]+ ms", port);
    assert_one_line(&f->twined, pattern);
}

static void test_refused_is_status_1(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)tw_test_closed_port());
    const char *args[] = {"connect", "127.0.0.1", port, NULL};
    run_connect(f, args, NULL, 0, false);
    assert_int_equal(f->twined.status, 1);
    assert_one_line(&f->twined, "^twined: Couldn't connect to 127\\.0\\.0\\.1 port [0-9]+: "
                                "Connection refused\n$");
}

/* A name glibc refuses without asking any server (an empty label), so the test needs no DNS. */
static void test_unresolvable_is_status_1(void **state)
{
    fixture *f = *state;
    const char *args[] = {"connect", "bad..name.invalid", "80", NULL};
    run_connect(f, args, NULL, 0, false);
    assert_int_equal(f->twined.status, 1);
    assert_one_line(&f->twined, "^twined: DNS lookup failed: bad\\.\\.name\\.invalid: [^\n]+\n$");
}

static void test_timeout_is_status_1(void **state)
{
    fixture *f = *state;
    int listener, filler;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)tw_test_full_listener(&listener, &filler));
    const char *args[] = {"connect", "--timeout", "0.3", "127.0.0.1", port, NULL};
    run_connect(f, args, NULL, 0, false);
    assert_int_equal(f->twined.status, 1);
    assert_one_line(&f->twined, "^twined: User timeout caused connection failure: connecting to "
                                "127\\.0\\.0\\.1 port [0-9]+ took more than 0\\.3 s\n$");
    close(listener);
    close(filler);
}

static void test_reset_is_status_1(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, RESET, false));
    const char *args[] = {"connect", "127.0.0.1", port, NULL};
    run_connect(f, args, "ping", 4, false);
    assert_int_equal(f->twined.status, 1);
    assert_one_line(&f->twined, "^twined: connection to 127\\.0\\.0\\.1 port [0-9]+ lost: ");
}

/* stdout not read: twined stops reading the socket, so its memory stays put while the server has
 * far more to send; once stdout is read, everything arrives. */
static void test_back_pressure_when_stdout_is_not_read(void **state)
{
    fixture *f = *state;
    f->push = malloc(PUSH_SIZE);
    tw_test_fill_random(f->push, PUSH_SIZE, 5);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, PUSH, false));
    const char *args[] = {"connect", "127.0.0.1", port, NULL};
    tw_test_twined_start(&f->twined, f->env.r, args, NULL, 0, false);
    tw_test_twined_read_output(&f->twined, false);
    long before = -1;
    for (int i = 0; i < 100; i++) { /* about a second of pushing against a full stdout */
        tw_reactor_iterate(f->env.r, 0.01);
        if (i == 20)
            before = tw_test_twined_rss_kib(&f->twined);
    }
    long after = tw_test_twined_rss_kib(&f->twined);
    print_message("twined RSS %ld -> %ld KiB while stdout was not read\n", before, after);
    assert_true(before > 0 && after - before < RSS_GROWTH_MAX_KIB);
    tw_test_twined_read_output(&f->twined, true);
    tw_test_twined_close_input(&f->twined);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, WAIT_SECONDS));
    assert_int_equal(f->twined.status, 0);
    assert_int_equal(f->twined.output_len, PUSH_SIZE);
    assert_memory_equal(f->twined.output, f->push, PUSH_SIZE);
}

static void test_sigterm_is_status_0(void **state)
{
    fixture *f = *state;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)serve(f, ECHO, false));
    const char *args[] = {"connect", "127.0.0.1", port, NULL};
    tw_test_twined_start(&f->twined, f->env.r, args, "ping", 4, false);
    while (f->twined.output_len < 4)
        assert_true(tw_reactor_iterate(f->env.r, 0.1) >= 0);
    assert_int_equal(tw_test_stop_signal(f->twined.pid, SIGTERM), 0);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, 2.0));
    assert_int_equal(f->twined.status, 0);
    assert_memory_equal(f->twined.output, "ping", 4);
}

typedef struct {
    const char *args[8];
    const char *message;
} usage_case;

static const usage_case usage_cases[] = {
    {{"connect", NULL}, "missing HOST and PORT"},
    {{"connect", "localhost", NULL}, "missing HOST and PORT"},
    {{"connect", "localhost", "80", "x", NULL}, "too many arguments"},
    {{"connect", "localhost", "0", NULL}, "bad port '0' (expected 1 to 65535)"},
    {{"connect", "localhost", "http", NULL}, "bad port 'http'"},
    {{"connect", "--timeout", "0", "localhost", "80", NULL}, "bad --timeout '0'"},
    {{"connect", "--timeout", "x", "localhost", "80", NULL}, "bad --timeout 'x'"},
    {{"connect", "--timeout", NULL}, "option '--timeout' needs a value"},
    {{"connect", "-x", "localhost", "80", NULL}, "unknown option '-x'"},
    {{"connect", "", "80", NULL}, "bad host ''"},
};

static void test_bad_arguments_are_status_2(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        const usage_case *u = &usage_cases[i];
        run_connect(f, u->args, NULL, 0, true);
        int newlines = 0;
        for (const char *c = f->twined.err_text; *c; c++)
            newlines += *c == '\n';
        if (f->twined.status != 2 || !strstr(f->twined.err_text, u->message) || newlines != 1)
            fail_msg("case %zu: status %d, stderr '%s', wanted '%s'", i, f->twined.status,
                     f->twined.err_text, u->message);
        tw_test_twined_free(&f->twined);
    }
    const char *help[] = {"connect", "--help", NULL};
    run_connect(f, help, NULL, 0, true);
    assert_int_equal(f->twined.status, 0);
    assert_non_null(strstr(f->twined.output, "usage: twined connect"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_round_trip_with_half_close),
        T(test_peer_closes_first),
        T(test_verbose_line),
        T(test_verbose_line_ipv6_has_no_brackets),
        T(test_refused_is_status_1),
        T(test_unresolvable_is_status_1),
        T(test_timeout_is_status_1),
        T(test_reset_is_status_1),
        T(test_back_pressure_when_stdout_is_not_read),
        T(test_sigterm_is_status_0),
        T(test_bad_arguments_are_status_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
