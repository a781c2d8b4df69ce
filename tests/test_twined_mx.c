/* End-to-end tests of `twined mx` ($TWINE_BUILD/twined run as a subprocess) against the test DNS
 * server, which this process serves on its own reactor while twined runs: output format and
 * order, per-domain errors and the exit status, the concurrency bound measured at the server, and
 * bad arguments (status 2, one line on stderr). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/dns_server.h"
#include "support/net.h"
#include "support/reactor_test.h"
#include "support/stop_signal.h"

extern char **environ;

#define OUT_MAX 65536

typedef struct {
    tw_test_env env;
    tw_test_dns_server server;
    char server_text[80];
} fixture;

/* A twined child: its stdout read through the reactor (so the server keeps answering), its
 * stderr into a file read at the end. */
typedef struct {
    pid_t pid;
    int out_fd;
    bool out_done;
    char out[OUT_MAX];
    size_t out_len;
    char err[4096];
    int status;
} child;

static const char *twined_path(void)
{
    static char path[512];
    const char *build = getenv("TWINE_BUILD");
    snprintf(path, sizeof path, "%s/twined", build ? build : "build/epoll");
    return path;
}

static int on_output(tw_reactor *r, int fd, void *arg)
{
    child *c = arg;
    ssize_t n = read(fd, c->out + c->out_len, sizeof c->out - 1 - c->out_len);
    if (n > 0) {
        c->out_len += (size_t)n;
        return 0;
    }
    if (n < 0 && errno == EINTR)
        return 0;
    c->out_done = true;
    tw_reactor_close_fd(r, fd);
    return 0;
}

static bool output_done(void *arg)
{
    return ((child *)arg)->out_done;
}

/* Runs twined with args (NULL-terminated, after the program name) to completion; with
 * signal_when set, sends it SIGTERM once signal_when(arg) holds. */
static void run_twined_until(fixture *f, child *c, const char *const *args,
                             bool (*signal_when)(void *), void *arg)
{
    memset(c, 0, sizeof *c);
    int out[2];
    char err_path[] = "/tmp/twined-mx-err-XXXXXX";
    int err_fd = mkostemp(err_path, O_CLOEXEC);
    assert_true(err_fd >= 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    const char *argv[64] = {twined_path()};
    for (size_t i = 0; args[i]; i++)
        argv[i + 1] = args[i];
    assert_int_equal(posix_spawn(&c->pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    c->out_fd = out[0];
    fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
    assert_int_equal(tw_reactor_add_reader(f->env.r, c->out_fd, on_output, c), 0);
    if (signal_when) {
        assert_true(tw_test_run_until(f->env.r, signal_when, arg, 10));
        assert_int_equal(tw_test_stop_signal(c->pid, SIGTERM), 0);
        assert_true(tw_test_run_until(f->env.r, output_done, c, 2)); /* the contract: 2 s */
    }
    assert_true(tw_test_run_until(f->env.r, output_done, c, 60));
    assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
    c->status = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
    ssize_t n = pread(err_fd, c->err, sizeof c->err - 1, 0);
    c->err[n > 0 ? n : 0] = '\0';
    close(err_fd);
    unlink(err_path);
}

static void run_twined(fixture *f, child *c, const char *const *args)
{
    run_twined_until(f, c, args, NULL, NULL);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || tw_test_env_open(&f->env, TW_TEST_REAL_CLOCK) < 0 ||
        tw_test_dns_server_start(&f->server, f->env.r) < 0)
        return -1;
    tw_dns_server_format(&f->server.addr, f->server_text, sizeof f->server_text);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_test_dns_server_stop(&f->server);
    tw_test_env_close(&f->env);
    free(f);
    return 0;
}

static void test_output_in_order_with_errors(void **state)
{
    fixture *f = *state;
    child c;
    const char *args[] = {"mx", "--server", f->server_text, "--concurrency", "3",
                          "b.example", "nx.example", "tc.example", "servfail.example",
                          "empty.example", "a.example", NULL};
    run_twined(f, &c, args);
    assert_string_equal(c.out, "b.example 10 mx1.b.example\n"
                               "b.example 20 mx2.b.example\n"
                               "nx.example error: no such domain (NXDOMAIN)\n"
                               "tc.example 10 mx1.tc.example\n"
                               "tc.example 20 mx2.tc.example\n"
                               "servfail.example error: server answered SERVFAIL\n"
                               "empty.example error: no MX records\n"
                               "a.example 10 mx1.a.example\n"
                               "a.example 20 mx2.a.example\n");
    assert_int_equal(c.status, 1);
    assert_string_equal(c.err, "");
}

static void test_all_good_exits_zero(void **state)
{
    fixture *f = *state;
    child c;
    const char *args[] = {"mx", "--server", f->server_text, "one.example", NULL};
    run_twined(f, &c, args);
    assert_int_equal(c.status, 0);
    assert_string_equal(c.out, "one.example 10 mx1.one.example\none.example 20 mx2.one.example\n");
}

/* 40 domains, concurrency 4, each answer 10 ms late: the server never holds more than 4. */
static void test_concurrency_bound_at_server(void **state)
{
    fixture *f = *state;
    enum { N = 40 };
    static char names[N][24];
    const char *args[N + 6] = {"mx", "--server", f->server_text, "--concurrency", "4"};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "d%d.example", i);
        args[5 + i] = names[i];
    }
    args[5 + N] = NULL;
    f->server.delay = 0.01;
    child c;
    run_twined(f, &c, args);
    assert_int_equal(c.status, 0);
    assert_int_equal(f->server.udp_queries, N);
    assert_int_equal(f->server.max_pending, 4);
    /* In the order given: the line for d7 comes before the one for d8, and so on. */
    const char *at = c.out;
    for (int i = 0; i < N; i++) {
        char line[64];
        snprintf(line, sizeof line, "d%d.example 10 mx1.d%d.example\n", i, i);
        const char *found = strstr(at, line);
        assert_non_null(found);
        at = found;
    }
}

/* SIGTERM while lookups wait for a server that never answers: status 0 within 2 s, nothing
 * printed for the lookups it abandoned, and the one still waiting for a token (silent.c) is not
 * started on the way out. */
static void test_sigterm_stops(void **state)
{
    fixture *f = *state;
    const char *args[] = {"mx", "--concurrency", "2", "--server", f->server_text, "silent.a",
                          "silent.b", "silent.c", NULL};
    child c;
    run_twined_until(f, &c, args, tw_test_dns_server_two_queries, &f->server);
    assert_true(tw_reactor_iterate(f->env.r, 0) >= 0); /* reads what twined sent before exiting */
    assert_int_equal(c.status, 0);
    assert_string_equal(c.out, "");
    assert_non_null(strstr(f->server.asked, "silent.a"));
    assert_null(strstr(f->server.asked, "silent.c"));
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *args[6];
        const char *message;
    } cases[] = {
        {{"mx", NULL}, "twined mx: missing DOMAIN"},
        {{"mx", "--concurrency", "0", "a.example", NULL}, "--concurrency '0'"},
        {{"mx", "--concurrency", "x", "a.example", NULL}, "--concurrency 'x'"},
        {{"mx", "--server", "nowhere", "a.example", NULL}, "--server 'nowhere'"},
        {{"mx", "--server", "127.0.0.1:0", "a.example", NULL}, "--server '127.0.0.1:0'"},
        {{"mx", "a..example", NULL}, "invalid domain 'a..example'"},
        {{"mx", "--bogus", "a.example", NULL}, "unknown option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        child c;
        run_twined(f, &c, cases[i].args);
        assert_int_equal(c.status, 2);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, cases[i].message));
        assert_non_null(strchr(c.err, '\n'));
        assert_ptr_equal(strchr(c.err, '\n') + 1, c.err + strlen(c.err)); /* one line */
    }
    child c;
    const char *help[] = {"mx", "--help", NULL};
    run_twined(f, &c, help);
    assert_int_equal(c.status, 0);
    assert_non_null(strstr(c.out, "usage: twined mx [--concurrency N] [--server ADDR[:PORT]]"));
    assert_int_equal(f->server.udp_queries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_output_in_order_with_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_good_exits_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_bound_at_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
