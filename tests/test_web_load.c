/* End-to-end tests of `twined web` under load and against hostile clients: a head trickled a byte
 * a second is cut at 10 s (the one slow test, real time), 10,000 idle keep-alive connections
 * (fewer where the backend or the fd limit cannot) and what each costs, a client that stops
 * reading a 1 GiB file leaves the server's memory flat, and --reactors 2 serving many clients and
 * stopping every listening socket before it closes a connection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/stop_signal.h"
#include "support/web.h"

#define SIGNAL_EXIT_SECONDS 2.0
#define WAIT_SECONDS 10.0
/* The contract's head timeout, and how late the cut may come (a loaded machine). */
#define HEAD_TIMEOUT 10.0
#define HEAD_TIMEOUT_SLACK 1.5
/* Idle keep-alive connections wanted, and the bound asserted on what each costs the server. */
#define IDLE_CONNECTIONS 10000
#define IDLE_BYTES_MAX 2048
/* Fewest connections for the idle test to mean something; fds kept back for everything else. */
#define IDLE_CONNECTIONS_MIN 200
#define FDS_SPARE 64
/* The slow reader: the file's size, and how much the server may grow meanwhile. */
#define LARGE_FILE_SIZE (1ull << 30)
#define LARGE_FILE_GROWTH_MAX_KIB (8 * 1024)
#define STALL_SECONDS 0.5
/* --reactors: clients of the test. */
#define REACTOR_CLIENTS 50
/* Connections tried once the shutdown has closed a first connection: all must be refused. */
#define LATE_CONNECTS 500

typedef struct {
    tw_test_web web;
} fixture;

static int setup(void **state)
{
    return tw_test_web_setup(state, sizeof(fixture));
}

static void stop(fixture *f)
{
    double took;
    assert_int_equal(tw_test_web_stop(&f->web, SIGTERM, SIGNAL_EXIT_SECONDS, &took), 0);
    print_message("exit %.3f s after SIGTERM\n", took);
}

static int get_one(uint16_t port, const char *path)
{
    int fd = tw_test_web_connect(port);
    char request[256], buf[8192];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    tw_test_web_send(fd, request);
    int status = tw_test_web_read_only(fd, buf, sizeof buf);
    close(fd);
    return status;
}

/* ---- slowloris --------------------------------------------------------------------------------- */

/* A head trickled a byte a second never completes: the connection is closed 10 s after it was
 * opened, however many bytes keep arriving. */
static void test_trickled_head_is_cut_at_10_seconds(void **state)
{
    fixture *f = *state;
    tw_test_web_start(&f->web, NULL);
    static const char head[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa";
    int fd = tw_test_web_connect(f->web.port);
    double start = tw_test_now(), closed_at = 0;
    for (size_t i = 0; i < sizeof head - 1 && !closed_at; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1) {
            closed_at = tw_test_now();
            break;
        }
        if (tw_test_web_wait_eof(fd, 1.0))
            closed_at = tw_test_now();
    }
    double took = closed_at - start;
    print_message("trickled head cut after %.2f s\n", took);
    assert_true(closed_at > 0);
    assert_true(took >= HEAD_TIMEOUT - 0.5);
    assert_true(took <= HEAD_TIMEOUT + HEAD_TIMEOUT_SLACK);
    close(fd);
    /* The server goes on serving. */
    assert_int_equal(get_one(f->web.port, "/a.txt"), 200);
    stop(f);
}

/* ---- idle keep-alive connections ----------------------------------------------------------------- */

/* How many idle connections this run can hold: both processes need one fd each, and select
 * cannot watch fds at or above FD_SETSIZE. Raises the soft fd limit to the hard one (twined,
 * started after, inherits it). 0 when too few. */
static int idle_connections_possible(void)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    long n = (long)rl.rlim_cur - FDS_SPARE;
    if (strcmp(tw_reactor_backend(), "select") == 0 && n > FD_SETSIZE - FDS_SPARE)
        n = FD_SETSIZE - FDS_SPARE;
    if (n > IDLE_CONNECTIONS)
        n = IDLE_CONNECTIONS;
    return n < IDLE_CONNECTIONS_MIN ? 0 : (int)n;
}

/* Opens n connections, each answered once, kept open and idle. Requests go out in batches so that
 * the listen backlog and the buffers never hold too many at once. */
static void open_idle(uint16_t port, int *fds, int n)
{
    enum { BATCH = 200 };
    static const char request[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096];
    for (int done = 0; done < n; done += BATCH) {
        int end = done + BATCH < n ? done + BATCH : n;
        for (int i = done; i < end; i++) {
            fds[i] = tw_test_web_connect(port);
            tw_test_web_send(fds[i], request);
        }
        for (int i = done; i < end; i++)
            if (tw_test_web_read_only(fds[i], buf, sizeof buf) != 200)
                fail_msg("connection %d: no 200: %s", i, buf);
    }
}

static void test_many_idle_keep_alive_connections(void **state)
{
    fixture *f = *state;
    int n = idle_connections_possible();
    if (n == 0) {
        print_message("skipped: the fd limit allows fewer than %d connections\n",
                      IDLE_CONNECTIONS_MIN);
        skip();
    }
    tw_test_web_start(&f->web, NULL);
    /* Warm up: the first requests fill the cache and the reactor's buffers. */
    int *fds = calloc((size_t)n, sizeof *fds);
    assert_non_null(fds);
    open_idle(f->web.port, fds, 50);
    for (int i = 0; i < 50; i++)
        close(fds[i]);
    long before = tw_test_twined_rss_kib(&f->web.twined);
    open_idle(f->web.port, fds, n);
    long after = tw_test_twined_rss_kib(&f->web.twined);
    double per = (double)(after - before) * 1024.0 / n;
    print_message("%d idle keep-alive connections: RSS %ld -> %ld KiB, %.0f bytes each\n", n,
                  before, after, per);
    assert_true(per <= IDLE_BYTES_MAX);
    /* Still serving, new connections and idle ones alike. */
    assert_int_equal(get_one(f->web.port, "/a.txt"), 200);
    char buf[4096];
    tw_test_web_send(fds[n / 2], "GET /sub/b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(tw_test_web_read_only(fds[n / 2], buf, sizeof buf), 200);
    stop(f);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

/* ---- a client that stops reading --------------------------------------------------------------- */

static void make_sparse_file(const char *dir, const char *name, unsigned long long size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

/* Reads what is there until nothing arrives for STALL_SECONDS: the server has filled the kernel's
 * buffers and stopped. Returns the bytes read. */
static size_t read_until_stalled(int fd, size_t at_most)
{
    char buf[65536];
    size_t got = 0;
    while (got < at_most) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(STALL_SECONDS * 1000)) <= 0)
            break;
        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

static void test_client_that_stops_reading_costs_no_memory(void **state)
{
    fixture *f = *state;
    make_sparse_file(f->web.dir, "large.bin", LARGE_FILE_SIZE);
    tw_test_web_start(&f->web, NULL);
    assert_int_equal(get_one(f->web.port, "/a.txt"), 200); /* warm up */
    long before = tw_test_twined_rss_kib(&f->web.twined);
    int fd = tw_test_web_connect(f->web.port);
    int small = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    tw_test_web_send(fd, "GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Read a little, then not at all: the server must wait, not buffer the gigabyte. */
    size_t got = read_until_stalled(fd, 1u << 20);
    struct pollfd p = {.fd = fd, .events = 0};
    poll(&p, 1, (int)(STALL_SECONDS * 1000)); /* the server keeps trying meanwhile */
    long after = tw_test_twined_rss_kib(&f->web.twined);
    print_message("read %zu KiB of 1 GiB, then stopped; twined RSS %ld -> %ld KiB\n", got >> 10,
                  before, after);
    assert_true(got > 0);
    assert_true(after - before < LARGE_FILE_GROWTH_MAX_KIB);
    /* Others are still served meanwhile. */
    assert_int_equal(get_one(f->web.port, "/a.txt"), 200);
    close(fd);
    stop(f);
}

/* ---- --reactors 2 ------------------------------------------------------------------------------ */

static void test_two_reactors_serve_every_client(void **state)
{
    fixture *f = *state;
    const char *extra[] = {"--reactors", "2", NULL};
    tw_test_web_start(&f->web, extra); /* port 0: both reactors on the first one's port */
    int fds[REACTOR_CLIENTS];
    char buf[4096];
    /* All connected at once, so both reactors get some; each asks twice (keep-alive). */
    for (int i = 0; i < REACTOR_CLIENTS; i++)
        fds[i] = tw_test_web_connect(f->web.port);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < REACTOR_CLIENTS; i++) {
            tw_test_web_send(fds[i], "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_int_equal(tw_test_web_read_only(fds[i], buf, sizeof buf), 200);
            assert_non_null(strstr(buf, "\r\n\r\nhello\n"));
        }
    /* One address, announced once; two reactors, two threads at least. */
    const char *first = strstr(f->web.twined.err_text, "listening on");
    assert_null(strstr(first + 1, "listening on"));
    assert_true(tw_test_process_threads(f->web.twined.pid) >= 2);
    /* The shutdown's order: every reactor stops listening before any connection is closed, so
     * once a client sees its connection end, no new connection is taken on either socket. */
    double start = tw_test_now();
    assert_int_equal(tw_test_stop_signal(f->web.twined.pid, SIGTERM), 0);
    assert_true(tw_test_web_wait_eof(fds[0], SIGNAL_EXIT_SECONDS));
    /* Many tries, spread by the kernel over both sockets, through the rest of the shutdown. */
    for (int i = 0; i < LATE_CONNECTS; i++) {
        int late = tw_test_tcp_client(f->web.port);
        if (late >= 0)
            close(late);
        assert_int_equal(late, -ECONNREFUSED);
    }
    assert_int_equal(tw_test_web_stop(&f->web, 0, SIGNAL_EXIT_SECONDS, NULL), 0); /* waits */
    print_message("2 reactors: exit %.3f s after SIGTERM with %d connections open\n",
                  tw_test_now() - start, REACTOR_CLIENTS);
    for (int i = 0; i < REACTOR_CLIENTS; i++) {
        assert_true(tw_test_web_wait_eof(fds[i], 1.0));
        close(fds[i]);
    }
}

#define WEB_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, tw_test_web_teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        WEB_TEST(test_two_reactors_serve_every_client),
        WEB_TEST(test_client_that_stops_reading_costs_no_memory),
        WEB_TEST(test_many_idle_keep_alive_connections),
        WEB_TEST(test_trickled_head_is_cut_at_10_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
