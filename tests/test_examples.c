/* The programs in examples/, built by `make examples` against the installed library, run as a user
 * runs them and their output checked: servers are driven by loopback clients and stopped with
 * SIGINT (exit 0, promptly), the MX program asks the test DNS server and the forwarder forwards
 * to the echo server; the others (reactors too: it is its own client) run to the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/program.h"
#include "support/dns_server.h"
#include "support/net.h"

/* Guards only: a correct run finishes each wait in milliseconds. */
#define WAIT_SECONDS 10.0
/* A server stopped by SIGINT must be gone within this long (twined's contract, kept here too). */
#define SIGNAL_EXIT_SECONDS 2.0

typedef struct {
    tw_test_env env;
    tw_test_dns_server dns; /* for the MX program; the teardown stops it if a test did not */
    bool dns_started;
    tw_test_program child, other; /* an example, and a second one it talks to */
} fixture;

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->dns_started)
        tw_test_dns_server_stop(&f->dns);
    tw_test_program_kill(&f->child); /* only if a failed test left them running */
    tw_test_program_kill(&f->other);
    return tw_test_fixture_teardown(state);
}

/* Starts an example with up to three arguments (NULL-terminated). */
static void start(fixture *f, const char *name, const char *a1, const char *a2)
{
    const char *argv[] = {tw_test_example_path(name), a1, a2, NULL};
    tw_test_program_start(&f->child, f->env.r, argv);
}

/* A server example announces "... on 127.0.0.1 port N" once it listens: N. */
static uint16_t wait_port(fixture *f, int which)
{
    static const char marker[] = "on 127.0.0.1 port ";
    if (!tw_test_program_wait_for(&f->child, which, "\n", WAIT_SECONDS))
        fail_msg("no listening line; stderr: %s", f->child.text[TW_TEST_STDERR]);
    const char *at = strstr(f->child.text[which], marker);
    assert_non_null(at);
    return (uint16_t)atoi(at + sizeof marker - 1);
}

static int client(uint16_t port)
{
    int fd = tw_test_tcp_client(port);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = (time_t)WAIT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* a missing line fails, not hangs */
    return fd;
}

/* Reads one line (with its '\n') from a blocking socket. */
static void read_line(int fd, char *line, size_t size)
{
    size_t n = 0;
    while (n + 1 < size && read(fd, line + n, 1) == 1)
        if (line[n++] == '\n')
            break;
    line[n] = '\0';
}

static void expect_line(int fd, const char *want)
{
    char line[256];
    read_line(fd, line, sizeof line);
    assert_string_equal(line, want);
}

static void send_text(int fd, const char *text)
{
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

static uint16_t local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static void stop_with_sigint(fixture *f)
{
    assert_int_equal(tw_test_program_finish(&f->child, SIGINT, SIGNAL_EXIT_SECONDS), 0);
}

/* ---- echo_server ----------------------------------------------------------------------------- */

static void test_echo_server_echoes_and_half_closes(void **state)
{
    fixture *f = *state;
    start(f, "echo_server", NULL, NULL);
    int fd = client(wait_port(f, TW_TEST_STDOUT));
    send_text(fd, "hello, twine\n");
    assert_int_equal(shutdown(fd, SHUT_WR), 0); /* our EOF: the rest of the echo, then its EOF */
    char echoed[64];
    assert_int_equal(tw_test_read_full(fd, echoed, sizeof echoed), 13);
    assert_memory_equal(echoed, "hello, twine\n", 13);
    close(fd);
    assert_true(tw_test_program_wait_for(&f->child, TW_TEST_STDOUT, "connection from 127.0.0.1\n",
                                       WAIT_SECONDS));
    stop_with_sigint(f);
}

/* ---- chat_server ----------------------------------------------------------------------------- */

static void test_chat_server_relays_lines_to_the_others(void **state)
{
    fixture *f = *state;
    char text[128], a_name[32], b_name[32];
    start(f, "chat_server", NULL, NULL);
    uint16_t port = wait_port(f, TW_TEST_STDERR);
    int a = client(port);
    snprintf(a_name, sizeof a_name, "guest%u", local_port(a));
    snprintf(text, sizeof text, "* %s joined\n", a_name);
    expect_line(a, text);
    int b = client(port);
    snprintf(b_name, sizeof b_name, "guest%u", local_port(b));
    snprintf(text, sizeof text, "* %s joined\n", b_name);
    expect_line(b, text);
    expect_line(a, text);

    send_text(a, "hi there\n");
    snprintf(text, sizeof text, "%s: hi there\n", a_name);
    expect_line(b, text);
    send_text(b, "hello\n");
    snprintf(text, sizeof text, "%s: hello\n", b_name); /* a's own line never came back to a */
    expect_line(a, text);

    close(a);
    snprintf(text, sizeof text, "* %s left (ConnectionDone)\n", a_name);
    expect_line(b, text);
    stop_with_sigint(f); /* b is still connected: the shutdown closes it */
    assert_int_equal(tw_test_read_full(b, text, sizeof text), 0);
    close(b);
}

/* ---- mx_semaphore ---------------------------------------------------------------------------- */

static void test_mx_semaphore_in_order_at_most_n_at_once(void **state)
{
    fixture *f = *state;
    tw_test_dns_server *server = &f->dns;
    assert_int_equal(tw_test_dns_server_start(server, f->env.r), 0);
    f->dns_started = true;
    server->delay = 0.01; /* answers come late, so lookups overlap */
    char where[80];
    tw_dns_server_format(&server->addr, where, sizeof where);
    const char *argv[] = {tw_test_example_path("mx_semaphore"), where, "2", "b.test", "nx.test",
                          "empty.test", "servfail.test", "a.test", "c.test", NULL};
    tw_test_program_start(&f->child, f->env.r, argv);
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 0);
    assert_string_equal(f->child.text[TW_TEST_STDOUT],
                        "b.test 10 mx1.b.test\n"
                        "b.test 20 mx2.b.test\n"
                        "nx.test error: DNSNameError: nx.test: no such domain (NXDOMAIN)\n"
                        "empty.test: no MX records\n"
                        "servfail.test error: DNSServerError: servfail.test: server answered "
                        "SERVFAIL\n"
                        "a.test 10 mx1.a.test\n"
                        "a.test 20 mx2.a.test\n"
                        "c.test 10 mx1.c.test\n"
                        "c.test 20 mx2.c.test\n");
    assert_string_equal(f->child.text[TW_TEST_STDERR], "");
    assert_int_equal(server->udp_queries, 6);
    assert_int_equal(server->max_pending, 2); /* the semaphore's bound, seen at the server */
}

/* Ctrl-C while two lookups wait for a server that never answers and a third waits for a token:
 * status 0, and the third is cancelled without ever being asked. */
static void test_mx_semaphore_ctrl_c_starts_no_waiting_lookup(void **state)
{
    fixture *f = *state;
    tw_test_dns_server *server = &f->dns;
    assert_int_equal(tw_test_dns_server_start(server, f->env.r), 0);
    f->dns_started = true;
    char where[80];
    tw_dns_server_format(&server->addr, where, sizeof where);
    const char *argv[] = {tw_test_example_path("mx_semaphore"), where, "2", "silent.a",
                          "silent.b", "silent.c", NULL};
    tw_test_program_start(&f->child, f->env.r, argv);
    assert_true(
        tw_test_run_until(f->env.r, tw_test_dns_server_two_queries, server, WAIT_SECONDS));
    assert_int_equal(tw_test_program_finish(&f->child, SIGINT, WAIT_SECONDS), 0);
    assert_true(tw_reactor_iterate(f->env.r, 0) >= 0); /* reads what it sent before exiting */
    assert_non_null(strstr(server->asked, "silent.a"));
    assert_null(strstr(server->asked, "silent.c"));
}

static void test_mx_semaphore_usage(void **state)
{
    fixture *f = *state;
    start(f, "mx_semaphore", "127.0.0.1", "0"); /* no domain, and no concurrency */
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 2);
    assert_non_null(strstr(f->child.text[TW_TEST_STDERR], "usage: mx_semaphore"));
}

/* ---- happy_eyeballs and port_forwarder ------------------------------------------------------- */

/* A loopback port nobody listens on (bound, then closed). */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    uint16_t port = local_port(fd);
    close(fd);
    return port;
}

/* Runs happy_eyeballs HOST PORT MESSAGE to its end in f->other; returns its status. */
static int run_happy_eyeballs(fixture *f, const char *host, uint16_t port, const char *message)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    const char *argv[] = {tw_test_example_path("happy_eyeballs"), host, port_text, message, NULL};
    tw_test_program_start(&f->other, f->env.r, argv);
    return tw_test_program_finish(&f->other, 0, WAIT_SECONDS);
}

static void test_happy_eyeballs_connects_and_talks(void **state)
{
    fixture *f = *state;
    start(f, "echo_server", NULL, NULL); /* on 127.0.0.1 only: a ::1 for localhost is refused */
    uint16_t port = wait_port(f, TW_TEST_STDOUT);
    assert_int_equal(run_happy_eyeballs(f, "localhost", port, "hello, eyeballs"), 0);
    const char *out = f->other.text[TW_TEST_STDOUT];
    char want[96];
    snprintf(want, sizeof want, ": connected to 127.0.0.1 port %u (attempt ", port);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\nreply: hello, eyeballs\nclosed: ConnectionDone\n"));
    snprintf(want, sizeof want, ": trying ::1 port %u", port);
    if (strstr(out, want)) { /* localhost has an IPv6 address here: that attempt was refused */
        snprintf(want, sizeof want, ": failed ::1 port %u", port);
        assert_non_null(strstr(out, want));
    }
    stop_with_sigint(f);
}

static void test_happy_eyeballs_reports_a_refusal(void **state)
{
    fixture *f = *state;
    assert_int_equal(run_happy_eyeballs(f, "127.0.0.1", closed_port(), "x"), 1);
    assert_non_null(strstr(f->other.text[TW_TEST_STDOUT],
                           "could not connect: ConnectionRefusedError: "));
}

/* Starts port_forwarder 0 DESTINATION in f->other: the port it listens on. */
static uint16_t start_forwarder(fixture *f, const char *destination)
{
    const char *argv[] = {tw_test_example_path("port_forwarder"), "0", destination, NULL};
    tw_test_program_start(&f->other, f->env.r, argv);
    static const char marker[] = "on 127.0.0.1 port ";
    if (!tw_test_program_wait_for(&f->other, TW_TEST_STDERR, "\n", WAIT_SECONDS))
        fail_msg("port_forwarder did not start");
    const char *at = strstr(f->other.text[TW_TEST_STDERR], marker);
    assert_non_null(at);
    return (uint16_t)atoi(at + sizeof marker - 1);
}

/* Pushes len pseudo-random bytes through fd while reading the echo back, and compares. */
static void echo_through(int fd, size_t len)
{
    char *sent = malloc(len), *got = malloc(len);
    tw_test_fill_random(sent, len, 7);
    size_t out = 0, in = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (in < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (out < len ? POLLOUT : 0)};
        assert_true(poll(&p, 1, (int)(WAIT_SECONDS * 1000)) > 0);
        ssize_t n;
        size_t chunk = len - out < 65536 ? len - out : 65536;
        if ((p.revents & POLLOUT) && (n = write(fd, sent + out, chunk)) > 0)
            out += (size_t)n;
        if ((p.revents & (POLLIN | POLLHUP)) && (n = read(fd, got + in, len - in)) >= 0) {
            assert_true(n > 0); /* no EOF before the whole echo */
            in += (size_t)n;
        }
    }
    assert_memory_equal(got, sent, len);
    free(sent);
    free(got);
}

static void test_port_forwarder_relays_both_ways(void **state)
{
    fixture *f = *state;
    char destination[40];
    start(f, "echo_server", NULL, NULL);
    snprintf(destination, sizeof destination, "tcp:localhost:%u", wait_port(f, TW_TEST_STDOUT));
    uint16_t port = start_forwarder(f, destination);
    int a = client(port), b = client(port);
    send_text(a, "ping\n");
    expect_line(a, "ping\n");
    echo_through(b, 4u << 20); /* 4 MiB: more than the buffers hold, so back-pressure works */
    close(a);
    close(b);
    assert_int_equal(tw_test_program_finish(&f->other, SIGINT, SIGNAL_EXIT_SECONDS), 0);
    stop_with_sigint(f);
}

static void test_port_forwarder_closes_only_the_client_when_the_backend_refuses(void **state)
{
    fixture *f = *state;
    char destination[40], byte;
    snprintf(destination, sizeof destination, "tcp:127.0.0.1:%u", closed_port());
    uint16_t port = start_forwarder(f, destination);
    for (int i = 0; i < 2; i++) { /* the forwarder goes on serving */
        int fd = client(port);
        assert_int_equal(read(fd, &byte, 1), 0);
        close(fd);
    }
    assert_int_equal(tw_test_program_finish(&f->other, SIGINT, SIGNAL_EXIT_SECONDS), 0);
}

/* ---- deferred_tour and timers ---------------------------------------------------------------- */

static void test_deferred_tour_output(void **state)
{
    fixture *f = *state;
    start(f, "deferred_tour", NULL, NULL);
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 0);
    assert_string_equal(f->child.text[TW_TEST_STDOUT],
                        "1. 41 went through add_one: 42\n"
                        "2. the errback caught ValueError\n"
                        "2. it recovered: the next callback sees 0\n"
                        "3. the chain waited 0.01 s for a deferred that gave 42\n"
                        "4. the list fired once all 3 had, values in input order: a b c\n"
                        "5. nobody fired it; after 0.1 s it failed with TimeoutError\n");
    assert_string_equal(f->child.text[TW_TEST_STDERR], "");
}

static void test_timers_ticks_then_stops(void **state)
{
    fixture *f = *state;
    start(f, "timers", NULL, NULL);
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 0);
    const char *out = f->child.text[TW_TEST_STDOUT];
    char want[64];
    snprintf(want, sizeof want, "%s backend, 5 ticks every 0.2s\n", tw_reactor_backend());
    assert_non_null(strstr(out, want));
    for (int i = 1; i <= 5; i++) {
        snprintf(want, sizeof want, ": tick %d\n", i);
        assert_non_null(strstr(out, want));
    }
    assert_non_null(strstr(out, ": shutting down after 5 ticks\n"));
    assert_null(strstr(out, "never printed"));
}

/* ---- reactors ------------------------------------------------------------------------------- */

static void test_reactors_serve_one_port_and_stop(void **state)
{
    fixture *f = *state;
    start(f, "reactors", "3", NULL);
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 0);
    const char *out = f->child.text[TW_TEST_STDOUT];
    assert_non_null(strstr(out, "3 reactors on 127.0.0.1 port "));
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "reactor %d accepted ", i);
        assert_non_null(strstr(out, want));
    }
    assert_non_null(strstr(out, "32 of 32 connections echoed, 32 accepted in all\n"));
    assert_string_equal(f->child.text[TW_TEST_STDERR], "");
}

static void test_reactors_usage(void **state)
{
    fixture *f = *state;
    start(f, "reactors", "0", NULL);
    assert_int_equal(tw_test_program_finish(&f->child, 0, WAIT_SECONDS), 2);
    assert_non_null(strstr(f->child.text[TW_TEST_STDERR], "usage: reactors [N]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_server_echoes_and_half_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chat_server_relays_lines_to_the_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mx_semaphore_in_order_at_most_n_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mx_semaphore_ctrl_c_starts_no_waiting_lookup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mx_semaphore_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_happy_eyeballs_connects_and_talks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_happy_eyeballs_reports_a_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_forwarder_relays_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_port_forwarder_closes_only_the_client_when_the_backend_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_tour_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_ticks_then_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reactors_serve_one_port_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reactors_usage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
