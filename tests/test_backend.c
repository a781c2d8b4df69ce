/* Tests for the private backend interface (reactor/backend.h) of whichever backend is compiled in:
 * readiness of pipes, socketpairs, TCP and regular files, hang-ups and resets, mask and generation
 * updates, timeouts, EINTR, closed fds, FD_SETSIZE, many fds. Backend-specific checks branch on
 * name. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "reactor/backend.h"
#include "support/reactor_test.h"
#include "tests/support/kqueue/kqueue_emul.h"

/* Only kqueue builds on Linux link the emulation; elsewhere the hook is NULL. */
#pragma weak tw_kqueue_emul_inject_error

#define READY_MAX 1100
#define BOTH (TW_BE_READ | TW_BE_WRITE)
#define MS 1000000

typedef struct {
    tw_backend *b;
    tw_ready out[READY_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(tw__backend_new(&f->b), 0);
    assert_non_null(f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw__backend_free(f->b);
    free(f);
    return 0;
}

static bool backend_is(const char *name)
{
    return strcmp(tw__backend_name(), name) == 0;
}

static int poll_now(fixture *f)
{
    int n = tw__backend_poll(f->b, 0, f->out, READY_MAX);
    assert_true(n >= 0);
    return n;
}

/* The entry for fd in the last poll, or NULL; fails the test if fd appears twice. */
static const tw_ready *entry_for(const fixture *f, int n, int fd)
{
    const tw_ready *found = NULL;
    for (int i = 0; i < n; i++) {
        if (f->out[i].fd != fd)
            continue;
        assert_null(found);
        found = &f->out[i];
    }
    return found;
}

/* Polls without blocking and checks that fd alone is ready, with gen and mask. */
static void expect_only(fixture *f, int fd, uint32_t gen, unsigned mask)
{
    int n = poll_now(f);
    assert_int_equal(n, 1);
    assert_int_equal(f->out[0].fd, fd);
    assert_int_equal(f->out[0].gen, gen);
    assert_int_equal(f->out[0].mask, mask);
}

static void expect_nothing(fixture *f)
{
    assert_int_equal(poll_now(f), 0);
}

static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void make_socketpair(int s[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
}

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- identity and lifetime ------------------------------------------------------------------- */

static void test_name_matches_reactor(void **state)
{
    (void)state;
    assert_string_equal(tw__backend_name(), tw_reactor_backend());
    assert_true(backend_is("epoll") || backend_is("kqueue") || backend_is("poll") ||
                backend_is("select"));
}

static void test_new_and_free_leak_no_fd(void **state)
{
    (void)state;
    int before = tw_test_count_open_fds();
    for (int i = 0; i < 20; i++) {
        tw_backend *b = NULL;
        assert_int_equal(tw__backend_new(&b), 0);
        int p[2];
        make_pipe(p);
        assert_int_equal(tw__backend_update(b, p[0], 0, TW_BE_READ, 1), 0);
        tw_ready out[4];
        assert_int_equal(tw__backend_poll(b, 0, out, 4), 0);
        tw__backend_free(b);
        close_pair(p);
    }
    tw__backend_free(NULL);
    assert_int_equal(tw_test_count_open_fds(), before);
}

static void test_bad_fd_numbers(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw__backend_check_fd(f->b, 0), 0);
    assert_int_equal(tw__backend_update(f->b, -1, 0, TW_BE_READ, 1), -EBADF);
    assert_int_equal(tw__backend_update(f->b, -5, 0, TW_BE_WRITE, 1), -EBADF);
    expect_nothing(f);
}

/* ---- readiness ------------------------------------------------------------------------------- */

static void test_pipe_readable_level_triggered(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(tw__backend_update(f->b, p[0], 0, TW_BE_READ, 7), 0);
    expect_nothing(f);
    assert_int_equal(write(p[1], "ab", 2), 2);
    expect_only(f, p[0], 7, TW_BE_READ);
    expect_only(f, p[0], 7, TW_BE_READ); /* not consumed: reported again */
    char buf[2];
    assert_int_equal(read(p[0], buf, 2), 2);
    expect_nothing(f);
    close_pair(p);
}

static void test_pipe_writable_until_full(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(tw__backend_update(f->b, p[1], 0, TW_BE_WRITE, 3), 0);
    expect_only(f, p[1], 3, TW_BE_WRITE);
    static char chunk[65536];
    while (write(p[1], chunk, sizeof chunk) > 0 || errno != EAGAIN)
        ;
    expect_nothing(f);
    while (read(p[0], chunk, sizeof chunk) > 0)
        ;
    expect_only(f, p[1], 3, TW_BE_WRITE);
    close_pair(p);
}

/* A hang-up is reported as both bits, except by select, which only knows "readable"/"writable". */
static unsigned hangup_mask(unsigned wanted)
{
    return backend_is("select") ? wanted : BOTH;
}

static void test_pipe_hangup_reaches_reader(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(tw__backend_update(f->b, p[0], 0, TW_BE_READ, 1), 0);
    close(p[1]);
    expect_only(f, p[0], 1, hangup_mask(TW_BE_READ));
    char c;
    assert_int_equal(read(p[0], &c, 1), 0);
    expect_only(f, p[0], 1, hangup_mask(TW_BE_READ)); /* level-triggered: stays until removed */
    assert_int_equal(tw__backend_update(f->b, p[0], TW_BE_READ, 0, 1), 0);
    expect_nothing(f);
    close(p[0]);
}

static void test_pipe_reader_gone_reaches_writer(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(tw__backend_update(f->b, p[1], 0, TW_BE_WRITE, 2), 0);
    close(p[0]);
    expect_only(f, p[1], 2, hangup_mask(TW_BE_WRITE));
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE); /* the write call tells what happened */
    close(p[1]);
}

static void test_socketpair_peer_close(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, TW_BE_READ, 9), 0);
    expect_nothing(f);
    close(s[1]);
    int n = poll_now(f);
    assert_int_equal(n, 1);
    assert_int_equal(f->out[0].gen, 9);
    assert_true(f->out[0].mask & TW_BE_READ);
    char c;
    assert_int_equal(recv(s[0], &c, 1, 0), 0);
    close(s[0]);
}

/* A peer that closes with SO_LINGER 0 sends a reset: the survivor is ready and recv() fails. */
static void test_tcp_reset_is_reported(void **state)
{
    fixture *f = *state;
    int t[2];
    assert_int_equal(tw_test_tcp_pair(t), 0);
    assert_int_equal(tw__backend_update(f->b, t[1], 0, TW_BE_READ, 4), 0);
    expect_nothing(f);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(t[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(t[0]);
    int n = tw__backend_poll(f->b, 5000 * (int64_t)MS, f->out, READY_MAX); /* a guard, not a wait */
    assert_int_equal(n, 1);
    assert_int_equal(f->out[0].fd, t[1]);
    assert_int_equal(f->out[0].gen, 4);
    assert_int_equal(f->out[0].mask, hangup_mask(TW_BE_READ));
    char c;
    assert_int_equal(recv(t[1], &c, 1, 0), -1);
    assert_int_equal(errno, ECONNRESET);
    close(t[1]);
}

/* ---- interest and generation updates --------------------------------------------------------- */

static void test_mask_changes(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, TW_BE_READ, 1), 0);
    expect_nothing(f); /* writable, but nobody asked */
    assert_int_equal(tw__backend_update(f->b, s[0], TW_BE_READ, BOTH, 1), 0);
    expect_only(f, s[0], 1, TW_BE_WRITE);
    assert_int_equal(write(s[1], "x", 1), 1);
    expect_only(f, s[0], 1, BOTH);
    assert_int_equal(tw__backend_update(f->b, s[0], BOTH, TW_BE_WRITE, 1), 0);
    expect_only(f, s[0], 1, TW_BE_WRITE);
    assert_int_equal(tw__backend_update(f->b, s[0], TW_BE_WRITE, TW_BE_READ, 1), 0);
    expect_only(f, s[0], 1, TW_BE_READ);
    assert_int_equal(tw__backend_update(f->b, s[0], TW_BE_READ, 0, 1), 0);
    expect_nothing(f); /* readable and writable, but no interest left */
    assert_int_equal(tw__backend_update(f->b, s[0], 0, 0, 1), 0);
    expect_nothing(f);
    close_pair(s);
}

static void test_generation_travels_and_updates(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    assert_int_equal(write(s[1], "x", 1), 1);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, TW_BE_READ, 5), 0);
    expect_only(f, s[0], 5, TW_BE_READ);
    assert_int_equal(tw__backend_update(f->b, s[0], TW_BE_READ, BOTH, 6), 0);
    expect_only(f, s[0], 6, BOTH);
    assert_int_equal(tw__backend_update(f->b, s[0], BOTH, 0, 6), 0);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, TW_BE_READ, 0xfffffffeu), 0);
    expect_only(f, s[0], 0xfffffffeu, TW_BE_READ);
    close_pair(s);
}

/* The core forgets an fd (update to 0) while it is open, closes it, and may get the same number
 * back for another file, registered with a new generation before the next poll. */
static void test_close_and_reuse_between_polls(void **state)
{
    fixture *f = *state;
    int s[2], other[2];
    make_socketpair(s);
    make_socketpair(other);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, BOTH, 1), 0);
    expect_only(f, s[0], 1, TW_BE_WRITE);
    int fd = s[0];
    assert_int_equal(tw__backend_update(f->b, fd, BOTH, 0, 1), 0);
    close(fd);
    assert_int_equal(dup2(other[0], fd), fd);
    assert_int_equal(tw__backend_update(f->b, fd, 0, TW_BE_READ, 2), 0);
    expect_nothing(f); /* the new file is not readable, and no write interest remains */
    assert_int_equal(write(other[1], "y", 1), 1);
    expect_only(f, fd, 2, TW_BE_READ);
    close(fd);
    close(s[1]);
    close_pair(other);
}

/* ---- closed fds ------------------------------------------------------------------------------ */

static int unused_fd_number(void)
{
    int fd = 700;
    while (fcntl(fd, F_GETFD) != -1)
        fd++;
    return fd;
}

/* Watching a number that is not open: refused at once, or reported as failed with -EBADF (or, if
 * the kernel does not say, as readable, so that the I/O call surfaces EBADF). Either way the poll
 * itself does not fail. */
static void test_update_on_closed_fd(void **state)
{
    fixture *f = *state;
    int fd = unused_fd_number();
    int rc = tw__backend_update(f->b, fd, 0, TW_BE_READ, 8);
    if (rc == 0) {
        int n = poll_now(f);
        assert_int_equal(n, 1);
        assert_int_equal(f->out[0].fd, fd);
        assert_int_equal(f->out[0].gen, 8);
        assert_true(f->out[0].mask & (TW_BE_READ | TW_BE_FAILED));
        if (f->out[0].mask & TW_BE_FAILED)
            assert_int_equal(f->out[0].err, -EBADF);
        assert_int_equal(tw__backend_update(f->b, fd, TW_BE_READ, 0, 8), 0);
    } else {
        assert_int_equal(rc, -EBADF);
    }
    expect_nothing(f);
}

/* An fd closed behind the backend's back: select() then fails as a whole, poll() flags it; the
 * backend must still report the healthy fds, and the dead one at most as failed with -EBADF. */
static void test_fd_closed_behind_our_back(void **state)
{
    fixture *f = *state;
    int dead[2], live[2];
    make_pipe(dead);
    make_pipe(live);
    assert_int_equal(tw__backend_update(f->b, dead[0], 0, TW_BE_READ, 1), 0);
    assert_int_equal(tw__backend_update(f->b, live[0], 0, TW_BE_READ, 2), 0);
    assert_int_equal(write(live[1], "x", 1), 1);
    expect_only(f, live[0], 2, TW_BE_READ);
    close(dead[0]);
    int n = poll_now(f);
    const tw_ready *l = entry_for(f, n, live[0]);
    assert_non_null(l);
    assert_int_equal(l->mask, TW_BE_READ);
    const tw_ready *d = entry_for(f, n, dead[0]);
    assert_int_equal(n, d ? 2 : 1);
    if (d) {
        assert_int_equal(d->mask, TW_BE_FAILED);
        assert_int_equal(d->err, -EBADF);
    }
    assert_int_equal(tw__backend_update(f->b, dead[0], TW_BE_READ, 0, 1), 0);
    expect_only(f, live[0], 2, TW_BE_READ);
    close(dead[1]);
    close_pair(live);
}

/* ---- regular files --------------------------------------------------------------------------- */

static void test_regular_file_always_ready(void **state)
{
    fixture *f = *state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int fd = fileno(tmp);
    assert_int_equal(write(fd, "data", 4), 4);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(tw__backend_update(f->b, fd, 0, TW_BE_READ, 3), 0);
    expect_only(f, fd, 3, TW_BE_READ);
    assert_int_equal(lseek(fd, 0, SEEK_END), 4);
    expect_only(f, fd, 3, TW_BE_READ); /* at end of file too: read() then returns 0 */
    assert_int_equal(tw__backend_update(f->b, fd, TW_BE_READ, BOTH, 3), 0);
    assert_int_equal(tw__backend_poll(f->b, -1, f->out, READY_MAX), 1); /* never blocks */
    assert_int_equal(f->out[0].mask, BOTH);
    assert_int_equal(tw__backend_update(f->b, fd, BOTH, 0, 3), 0);
    expect_nothing(f);
    fclose(tmp);
}

/* ---- timeouts and signals -------------------------------------------------------------------- */

static void test_timeouts(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(tw__backend_update(f->b, p[0], 0, TW_BE_READ, 1), 0);
    /* 1.5 ms must not end after 1 ms: timeouts round up, so a timer is never polled for early. */
    int64_t t0 = monotonic_ns();
    assert_int_equal(tw__backend_poll(f->b, 3 * MS / 2, f->out, READY_MAX), 0);
    assert_true(monotonic_ns() - t0 >= 3 * MS / 2);
    t0 = monotonic_ns();
    assert_int_equal(tw__backend_poll(f->b, 1, f->out, READY_MAX), 0);
    assert_true(monotonic_ns() - t0 >= 1);
    /* Long and endless timeouts are accepted and end as soon as something is ready. */
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(tw__backend_poll(f->b, INT64_MAX, f->out, READY_MAX), 1);
    assert_int_equal(tw__backend_poll(f->b, -1, f->out, READY_MAX), 1);
    close_pair(p);
}

static void test_poll_with_nothing_registered(void **state)
{
    fixture *f = *state;
    int64_t t0 = monotonic_ns();
    assert_int_equal(tw__backend_poll(f->b, 2 * MS, f->out, READY_MAX), 0);
    assert_true(monotonic_ns() - t0 >= 2 * MS);
}

typedef struct {
    pthread_t target;
    atomic_bool stop; /* written by the test's thread, read by the interrupter */
} interrupter;

static void on_sigusr1(int sig)
{
    (void)sig;
}

/* Keeps signalling the target until told to stop: one of the signals lands inside the wait. */
static void *interrupt_loop(void *arg)
{
    interrupter *in = arg;
    while (!atomic_load(&in->stop)) {
        pthread_kill(in->target, SIGUSR1);
        sched_yield();
    }
    return NULL;
}

static void test_eintr_is_not_an_error(void **state)
{
    fixture *f = *state;
    struct sigaction sa = {.sa_handler = on_sigusr1}, old;
    sigemptyset(&sa.sa_mask); /* no SA_RESTART: the wait is interrupted */
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    interrupter in = {.target = pthread_self(), .stop = false};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupt_loop, &in), 0);
    int64_t t0 = monotonic_ns();
    int n = tw__backend_poll(f->b, 10000 * (int64_t)MS, f->out, READY_MAX);
    int64_t waited = monotonic_ns() - t0;
    atomic_store(&in.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(n, 0);
    assert_true(waited < 10000 * (int64_t)MS); /* it was the signal that ended the wait */
}

/* ---- limits and many fds --------------------------------------------------------------------- */

/* Gets fd number `high` open (a dup of stdin's replacement), raising RLIMIT_NOFILE if needed;
 * -1 when the limit cannot be raised. */
static int open_high_fd(int high)
{
    struct rlimit lim;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur <= (rlim_t)high) {
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max <= (rlim_t)high)
            return -1;
        lim.rlim_cur = (rlim_t)high + 1;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
            return -1;
    }
    int p[2];
    make_pipe(p);
    int fd = dup2(p[0], high);
    close_pair(p);
    return fd;
}

static void test_fd_at_fd_setsize(void **state)
{
    fixture *f = *state;
    int high = open_high_fd(FD_SETSIZE);
    if (high < 0) {
        print_message("cannot raise RLIMIT_NOFILE above FD_SETSIZE (%d): skipped\n", FD_SETSIZE);
        skip();
    }
    assert_int_equal(high, FD_SETSIZE);
    if (backend_is("select")) {
        assert_int_equal(tw__backend_check_fd(f->b, high), -EMFILE);
        assert_int_equal(tw__backend_check_fd(f->b, high + 1000), -EMFILE);
        assert_int_equal(tw__backend_update(f->b, high, 0, TW_BE_READ, 1), -EMFILE);
        assert_int_equal(tw__backend_check_fd(f->b, FD_SETSIZE - 1), 0);
        expect_nothing(f);
    } else {
        assert_int_equal(tw__backend_check_fd(f->b, high), 0);
        assert_int_equal(tw__backend_update(f->b, high, 0, TW_BE_READ, 1), 0);
        expect_only(f, high, 1, hangup_mask(TW_BE_READ)); /* its writer end is closed */
        assert_int_equal(tw__backend_update(f->b, high, TW_BE_READ, 0, 1), 0);
    }
    close(high);
}

#define PAIRS 500

/* 500 socketpairs, every other one readable: each ready fd is reported once, with its own gen;
 * a small event array still reaches every ready fd in a few polls; removals keep the rest
 * intact. */
static void test_many_fds(void **state)
{
    fixture *f = *state;
    static int pairs[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        make_socketpair(pairs[i]);
        assert_int_equal(tw__backend_update(f->b, pairs[i][0], 0, TW_BE_READ, 1000u + (uint32_t)i),
                         0);
        if (i % 2)
            assert_int_equal(write(pairs[i][1], "x", 1), 1);
    }
    int n = poll_now(f);
    assert_int_equal(n, PAIRS / 2);
    for (int i = 0; i < PAIRS; i++) {
        const tw_ready *e = entry_for(f, n, pairs[i][0]);
        if (i % 2 == 0) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(e->gen, 1000u + (uint32_t)i);
        assert_int_equal(e->mask, TW_BE_READ);
    }

    /* 16 at a time: nothing starves, so 250 ready fds are all seen within 2 * 250 / 16 polls. */
    static bool seen[PAIRS];
    int distinct = 0;
    for (int round = 0; round < 2 * (PAIRS / 2) / 16 && distinct < PAIRS / 2; round++) {
        int got = tw__backend_poll(f->b, 0, f->out, 16);
        assert_int_equal(got, 16);
        for (int k = 0; k < got; k++) {
            int i = (int)(f->out[k].gen - 1000u);
            assert_true(i >= 0 && i < PAIRS && i % 2 == 1);
            distinct += !seen[i];
            seen[i] = true;
        }
    }
    assert_int_equal(distinct, PAIRS / 2);

    /* Forget every third fd; the others keep their registration and generation. */
    for (int i = 0; i < PAIRS; i += 3)
        assert_int_equal(tw__backend_update(f->b, pairs[i][0], TW_BE_READ, 0, 1000u + (uint32_t)i),
                         0);
    n = poll_now(f);
    int expected = 0;
    for (int i = 1; i < PAIRS; i += 2) {
        const tw_ready *e = entry_for(f, n, pairs[i][0]);
        if (i % 3 == 0) {
            assert_null(e);
            continue;
        }
        expected++;
        assert_non_null(e);
        assert_int_equal(e->gen, 1000u + (uint32_t)i);
    }
    assert_int_equal(n, expected);
    for (int i = 0; i < PAIRS; i++)
        close_pair(pairs[i]);
}

/* ---- kqueue: failed changes (through the emulation's injection hook) ------------------------- */

static void skip_unless_injectable(void)
{
    if (backend_is("kqueue") && tw_kqueue_emul_inject_error != NULL)
        return;
    print_message("only for the kqueue backend on its emulation: skipped\n");
    skip();
}

/* A change the kernel refuses is reported once as failed, with the kernel's reason, so that the
 * core can tell the fd's watchers (their read() would only say EAGAIN). */
static void test_kqueue_failed_add_is_reported_failed(void **state)
{
    fixture *f = *state;
    skip_unless_injectable();
    int s[2];
    make_socketpair(s);
    tw_kqueue_emul_inject_error(ENOMEM);
    assert_int_equal(tw__backend_update(f->b, s[0], 0, TW_BE_READ, 11), 0);
    expect_only(f, s[0], 11, TW_BE_FAILED);
    assert_int_equal(f->out[0].err, -ENOMEM);
    expect_nothing(f); /* once */
    tw_kqueue_emul_inject_error(EBADF);
    assert_int_equal(tw__backend_update(f->b, s[0], TW_BE_READ, BOTH, 12), 0);
    int n = poll_now(f);
    assert_int_equal(n, 1);
    assert_int_equal(f->out[0].gen, 12);
    assert_true(f->out[0].mask & TW_BE_FAILED);
    assert_int_equal(f->out[0].err, -EBADF); /* the fd is not open: say so */
    close_pair(s);
}

/* The injected failure replaces the change, so the deleted filter is left on an idle fd: what is
 * checked is that the failure itself is not reported and does not hide the events of the turn. */
static void test_kqueue_failed_delete_is_ignored(void **state)
{
    fixture *f = *state;
    skip_unless_injectable();
    int idle[2], live[2];
    make_pipe(idle);
    make_pipe(live);
    assert_int_equal(tw__backend_update(f->b, idle[0], 0, TW_BE_READ, 1), 0);
    assert_int_equal(tw__backend_update(f->b, live[0], 0, TW_BE_READ, 2), 0);
    expect_nothing(f);
    assert_int_equal(write(live[1], "x", 1), 1);
    tw_kqueue_emul_inject_error(ENOENT);
    assert_int_equal(tw__backend_update(f->b, idle[0], TW_BE_READ, 0, 1), 0);
    expect_only(f, live[0], 2, TW_BE_READ); /* same poll: the failure did not hide the events */
    char c;
    assert_int_equal(read(live[0], &c, 1), 1);
    /* EBADF on a delete means the fd was closed first: also nothing to report. */
    assert_int_equal(tw__backend_update(f->b, idle[0], 0, TW_BE_READ, 3), 0);
    expect_nothing(f);
    tw_kqueue_emul_inject_error(EBADF);
    assert_int_equal(tw__backend_update(f->b, idle[0], TW_BE_READ, 0, 3), 0);
    expect_nothing(f);
    close_pair(idle);
    close_pair(live);
}

/* More changes than fit in one batch, or than the event array can receipt: they are flushed on
 * their own, and a failure among them is still reported once. */
static void test_kqueue_changes_flushed_early(void **state)
{
    fixture *f = *state;
    skip_unless_injectable();
    int p[2];
    make_pipe(p);
    tw_kqueue_emul_inject_error(EIO);
    assert_int_equal(tw__backend_update(f->b, p[0], 0, TW_BE_READ, 1), 0);
    for (uint32_t gen = 2; gen < 600; gen++) /* each update re-adds the filter with a new gen */
        assert_int_equal(
            tw__backend_update(f->b, p[1], gen == 2 ? 0 : TW_BE_WRITE, TW_BE_WRITE, gen), 0);
    tw_ready one[1];
    assert_int_equal(tw__backend_poll(f->b, 0, one, 1), 1);
    assert_int_equal(one[0].fd, p[0]);
    assert_int_equal(one[0].gen, 1);
    assert_int_equal(one[0].mask, TW_BE_FAILED);
    assert_int_equal(one[0].err, -EIO);
    expect_only(f, p[1], 599, TW_BE_WRITE);
    close_pair(p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* writes to a pipe without reader must fail with EPIPE, not kill */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_matches_reactor),
        cmocka_unit_test(test_new_and_free_leak_no_fd),
        cmocka_unit_test_setup_teardown(test_bad_fd_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_readable_level_triggered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_writable_until_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_hangup_reaches_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_reader_gone_reaches_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socketpair_peer_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_reset_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_travels_and_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reuse_between_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_on_closed_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_closed_behind_our_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regular_file_always_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_with_nothing_registered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eintr_is_not_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_at_fd_setsize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kqueue_failed_add_is_reported_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kqueue_failed_delete_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kqueue_changes_flushed_early, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
