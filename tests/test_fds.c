/* Tests for the reactor's fd watchers on real pipes, socketpairs, loopback TCP and regular files:
 * readiness, hang-up and reset, level-triggered delivery, reader-before-writer, removal and
 * close/reuse of an fd inside a turn, remove_all, failing watchers, bad fds and fd leaks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/reactor_test.h"

#define EVENTS_MAX 256

typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
    int events[EVENTS_MAX]; /* watcher ids in the order they ran */
    int nevents;
} fixture;

typedef struct watcher watcher;
typedef int (*watcher_action)(watcher *w, int fd);
struct watcher {
    fixture *f;
    int id;
    int calls;
    watcher_action action;
    void *extra;
    int last_read; /* what read()/recv() returned in the last call, or -errno */
    int watch_error; /* what tw_reactor_watch_error() said in the last call */
};

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK);
}

static int teardown(void **state)
{
    return tw_test_fixture_teardown(state);
}

static int watcher_fn(tw_reactor *r, int fd, void *arg)
{
    watcher *w = arg;
    w->calls++;
    w->watch_error = tw_reactor_watch_error(r, fd);
    assert_true(w->f->nevents < EVENTS_MAX);
    w->f->events[w->f->nevents++] = w->id;
    return w->action ? w->action(w, fd) : 0;
}

static watcher make_watcher(fixture *f, int id, watcher_action action)
{
    watcher w = { .f = f, .id = id, .action = action };
    return w;
}

/* Reads one byte (consuming readiness) and records what read() said. */
static int read_one_action(watcher *w, int fd)
{
    char c;
    ssize_t n = read(fd, &c, 1);
    w->last_read = n < 0 ? -errno : (int)n;
    return 0;
}

static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void make_socketpair(int s[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
}

/* A socketpair whose s[0] is both readable and writable, watched by rd and wr. */
static void watch_ready_socketpair(fixture *f, int s[2], watcher *rd, watcher *wr)
{
    make_socketpair(s);
    assert_int_equal(write(s[1], "x", 1), 1);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, rd), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, wr), 0);
}

/* ---- readiness ------------------------------------------------------------------------------- */

static void test_pipe_readable_and_consumed(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    watcher w = make_watcher(f, 1, read_one_action);
    assert_false(tw_reactor_is_reading(f->env.r, p[0]));
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], watcher_fn, &w), 0);
    assert_true(tw_reactor_is_reading(f->env.r, p[0]));
    assert_false(tw_reactor_is_writing(f->env.r, p[0]));

    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 0);
    assert_int_equal(write(p[1], "ab", 2), 2);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.last_read, 1);
    /* One byte left: level-triggered, it runs again. */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 2);
    /* Consumed: quiet. */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 2);
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[0]), 0);
    assert_false(tw_reactor_is_reading(f->env.r, p[0]));
    close(p[1]);
}

static void test_level_triggered_when_not_consumed(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, &w), 0);
    assert_int_equal(write(s[1], "x", 1), 1);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
        assert_int_equal(w.calls, i);
    }
    /* A blocking iterate returns at once: the fd is still ready. */
    assert_int_equal(tw_reactor_iterate(f->env.r, -1), 1);
    assert_int_equal(tw_reactor_close_fd(f->env.r, s[0]), 0);
    close(s[1]);
}

static void test_writable_until_full_then_again_when_drained(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &w), 0);
    assert_true(tw_reactor_is_writing(f->env.r, s[0]));
    assert_false(tw_reactor_is_reading(f->env.r, s[0]));
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 1);

    char buf[4096];
    memset(buf, 'x', sizeof buf);
    while (write(s[0], buf, sizeof buf) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 1);

    while (read(s[1], buf, sizeof buf) > 0)
        ;
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 2);

    assert_int_equal(tw_reactor_remove_writer(f->env.r, s[0]), 0);
    assert_false(tw_reactor_is_writing(f->env.r, s[0]));
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 2);
    assert_int_equal(tw_reactor_close_fd(f->env.r, s[0]), 0);
    close(s[1]);
}

/* The write end of a pipe closed: the reader runs once per turn and read() says EOF; no
 * spinning. */
static void test_pipe_hangup_reaches_reader_without_spinning(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    watcher w = make_watcher(f, 1, read_one_action);
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], watcher_fn, &w), 0);
    close(p[1]);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
        assert_int_equal(w.calls, i);
        assert_int_equal(w.last_read, 0);
    }
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[0]), 0);
}

/* The read end of a pipe closed: the writer runs (write() would say EPIPE), once per turn. */
static void test_pipe_reader_gone_reaches_writer(void **state)
{
    fixture *f = *state;
    int p[2];
    make_pipe(p);
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_add_writer(f->env.r, p[1], watcher_fn, &w), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    close(p[0]);
    for (int i = 2; i <= 4; i++) {
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
        assert_int_equal(w.calls, i);
    }
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[1]), 0);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

static void test_socketpair_peer_close_reaches_reader_and_writer(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    watcher rd = make_watcher(f, 1, read_one_action);
    watcher wr = make_watcher(f, 2, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, &rd), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &wr), 0);
    close(s[1]);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(rd.last_read, 0);
    /* The writer learns of the hang-up by writing. */
    assert_int_equal(send(s[0], "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(tw_reactor_close_fd(f->env.r, s[0]), 0);
}

/* Sets the flag in extra once the watcher has run; the second form also reads a byte. */
static int flag_action(watcher *w, int fd)
{
    (void)fd;
    *(volatile bool *)w->extra = true;
    return 0;
}

static int read_and_flag_action(watcher *w, int fd)
{
    read_one_action(w, fd);
    return flag_action(w, fd);
}

/* A peer that aborts (SO_LINGER 0) sends an RST: reader runs and recv() reports ECONNRESET, and a
 * writer on the same fd runs after the reader in the same turn. */
static void test_peer_reset_reaches_reader_then_writer(void **state)
{
    fixture *f = *state;
    int t[2];
    assert_int_equal(tw_test_tcp_pair(t), 0);
    volatile bool done = false;
    watcher rd = make_watcher(f, 1, read_and_flag_action);
    rd.extra = (void *)&done;
    watcher wr = make_watcher(f, 2, NULL);

    assert_int_equal(tw_reactor_add_reader(f->env.r, t[1], watcher_fn, &rd), 0);
    struct linger lg = { 1, 0 };
    assert_int_equal(setsockopt(t[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(t[0]);
    assert_true(tw_test_iterate_until(f->env.r, &done, 5.0));
    assert_int_equal(rd.last_read, -ECONNRESET);

    /* The error is gone once read; a fresh reset pair checks reader-then-writer on error. */
    assert_int_equal(tw_reactor_close_fd(f->env.r, t[1]), 0);
    assert_int_equal(tw_test_tcp_pair(t), 0);
    assert_int_equal(setsockopt(t[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(t[0]);
    /* Wait for the reset with a reader that does not consume the error. */
    done = false;
    watcher probe = make_watcher(f, 3, flag_action);
    probe.extra = (void *)&done;
    assert_int_equal(tw_reactor_add_reader(f->env.r, t[1], watcher_fn, &probe), 0);
    assert_true(tw_test_iterate_until(f->env.r, &done, 5.0));
    f->nevents = 0;
    rd.action = NULL;
    assert_int_equal(tw_reactor_add_reader(f->env.r, t[1], watcher_fn, &rd), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, t[1], watcher_fn, &wr), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[0], 1);
    assert_int_equal(f->events[1], 2);
    assert_int_equal(probe.calls, 1); /* replaced by the second add: the probe ran no more */
    assert_int_equal(tw_reactor_close_fd(f->env.r, t[1]), 0);
}

/* ---- order and changes within a turn --------------------------------------------------------- */

static void test_reader_runs_before_writer_on_one_fd(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    assert_int_equal(write(s[1], "x", 1), 1);
    watcher wr = make_watcher(f, 2, NULL);
    watcher rd = make_watcher(f, 1, NULL);
    /* Added writer first, still the reader runs first. */
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &wr), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, &rd), 0);
    for (int turn = 0; turn < 2; turn++)
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(f->nevents, 4);
    assert_int_equal(f->events[0], 1);
    assert_int_equal(f->events[1], 2);
    assert_int_equal(f->events[2], 1);
    assert_int_equal(f->events[3], 2);
    assert_int_equal(tw_reactor_close_fd(f->env.r, s[0]), 0);
    close(s[1]);
}

static void test_second_add_replaces_callback(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    watcher a = make_watcher(f, 1, NULL);
    watcher b = make_watcher(f, 2, NULL);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &a), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &b), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    /* Removing twice, or what was never added, is fine. */
    assert_int_equal(tw_reactor_remove_writer(f->env.r, s[0]), 0);
    assert_int_equal(tw_reactor_remove_writer(f->env.r, s[0]), 0);
    assert_int_equal(tw_reactor_remove_reader(f->env.r, s[0]), 0);
    assert_int_equal(tw_reactor_close_fd(f->env.r, s[0]), 0);
    close(s[1]);
}

/* Two ready fds whose watchers each remove the other: whichever runs first, the other must not. */
typedef struct {
    int fds[2];
} pair_state;

static int remove_other_action(watcher *w, int fd)
{
    pair_state *ps = w->extra;
    int other = ps->fds[0] == fd ? ps->fds[1] : ps->fds[0];
    assert_int_equal(tw_reactor_remove_reader(w->f->env.r, other), 0);
    return 0;
}

static void test_removing_other_watcher_in_same_turn(void **state)
{
    fixture *f = *state;
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    pair_state ps = { { a[0], b[0] } };
    watcher wa = make_watcher(f, 1, remove_other_action);
    watcher wb = make_watcher(f, 2, remove_other_action);
    wa.extra = wb.extra = &ps;
    assert_int_equal(tw_reactor_add_reader(f->env.r, a[0], watcher_fn, &wa), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, b[0], watcher_fn, &wb), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(wa.calls + wb.calls, 1);
    /* The survivor keeps running on later turns. */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(wa.calls + wb.calls, 2);
    assert_true(wa.calls == 2 || wb.calls == 2);
    tw_reactor_close_fd(f->env.r, a[0]);
    tw_reactor_close_fd(f->env.r, b[0]);
    close(a[1]);
    close(b[1]);
}

static int remove_own_writer_action(watcher *w, int fd)
{
    return tw_reactor_remove_writer(w->f->env.r, fd);
}

static void test_reader_removing_writer_of_same_fd(void **state)
{
    fixture *f = *state;
    int s[2];
    watcher rd = make_watcher(f, 1, remove_own_writer_action);
    watcher wr = make_watcher(f, 2, NULL);
    watch_ready_socketpair(f, s, &rd, &wr);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(rd.calls, 1);
    assert_int_equal(wr.calls, 0);
    assert_false(tw_reactor_is_writing(f->env.r, s[0]));
    tw_reactor_close_fd(f->env.r, s[0]);
    close(s[1]);
}

/* Whichever of two ready watchers runs first closes the other's fd through the reactor and at once
 * puts a fresh, idle socket under the same number with a new watcher. The stale readiness of the
 * old fd must reach neither the old watcher nor the new one. */
typedef struct {
    int fds[2];
    int idle;          /* an fd with nothing to read, dup2()ed onto the closed number */
    watcher *fresh;    /* the watcher added for the reused number */
    int reused;        /* the number that was closed and reused */
    bool done;
} reuse_state;

static int close_and_reuse_other_action(watcher *w, int fd)
{
    reuse_state *rs = w->extra;
    if (rs->done)
        return 0;
    rs->done = true;
    int other = rs->fds[0] == fd ? rs->fds[1] : rs->fds[0];
    assert_int_equal(tw_reactor_close_fd(w->f->env.r, other), 0);
    assert_int_equal(dup2(rs->idle, other), other);
    rs->reused = other;
    assert_int_equal(tw_reactor_add_reader(w->f->env.r, other, watcher_fn, rs->fresh), 0);
    return 0;
}

static void test_close_and_reuse_fd_number_in_same_turn(void **state)
{
    fixture *f = *state;
    int a[2], b[2], idle[2];
    make_socketpair(a);
    make_socketpair(b);
    make_socketpair(idle);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    watcher fresh = make_watcher(f, 3, NULL);
    reuse_state rs = { { a[0], b[0] }, idle[0], &fresh, -1, false };
    watcher wa = make_watcher(f, 1, close_and_reuse_other_action);
    watcher wb = make_watcher(f, 2, close_and_reuse_other_action);
    wa.extra = wb.extra = &rs;
    assert_int_equal(tw_reactor_add_reader(f->env.r, a[0], watcher_fn, &wa), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, b[0], watcher_fn, &wb), 0);

    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_true(rs.done);
    assert_int_equal(wa.calls + wb.calls, 1);
    assert_int_equal(fresh.calls, 0);
    assert_true(tw_reactor_is_reading(f->env.r, rs.reused));

    /* Next turns: the new fd is idle, so its watcher stays quiet until its peer writes. */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1); /* the surviving old watcher */
    assert_int_equal(fresh.calls, 0);
    assert_int_equal(write(idle[1], "y", 1), 1);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(fresh.calls, 1);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);

    int survivor = rs.reused == a[0] ? b[0] : a[0];
    assert_int_equal(tw_reactor_close_fd(f->env.r, survivor), 0);
    assert_int_equal(tw_reactor_close_fd(f->env.r, rs.reused), 0);
    close(a[1]);
    close(b[1]);
    close(idle[0]);
    close(idle[1]);
}

/* Closing an fd from its own reader, with a writer also ready on it: the writer must not run. */
static int close_self_action(watcher *w, int fd)
{
    return tw_reactor_close_fd(w->f->env.r, fd);
}

static void test_close_own_fd_skips_its_writer(void **state)
{
    fixture *f = *state;
    int s[2];
    watcher rd = make_watcher(f, 1, close_self_action);
    watcher wr = make_watcher(f, 2, NULL);
    watch_ready_socketpair(f, s, &rd, &wr);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(wr.calls, 0);
    assert_false(tw_reactor_is_reading(f->env.r, s[0]));
    assert_false(tw_reactor_is_writing(f->env.r, s[0]));
    assert_int_equal(fcntl(s[0], F_GETFD), -1); /* really closed */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    close(s[1]);
}

/* ---- remove_all ------------------------------------------------------------------------------ */

static int note_thread_call(void *arg)
{
    *(volatile bool *)arg = true;
    return 0;
}

static double real_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_remove_all_keeps_internal_waker(void **state)
{
    fixture *f = *state;
    int s[2], p[2];
    make_socketpair(s);
    make_pipe(p);
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_remove_all(f->env.r), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, &w), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[0], watcher_fn, &w), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], watcher_fn, &w), 0);
    assert_int_equal(tw_reactor_remove_all(f->env.r), 2);
    assert_false(tw_reactor_is_reading(f->env.r, s[0]));
    assert_false(tw_reactor_is_writing(f->env.r, s[0]));
    assert_false(tw_reactor_is_reading(f->env.r, p[0]));
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 0);
    assert_int_equal(tw_reactor_remove_all(f->env.r), 0);

    /* The waker survived: a queued call wakes a long blocking turn at once. */
    volatile bool ran = false;
    assert_int_equal(tw_call_from_thread(f->env.r, note_thread_call, (void *)&ran), 0);
    double start = real_seconds();
    assert_true(tw_reactor_iterate(f->env.r, 20.0) >= 1);
    assert_true(ran);
    assert_true(real_seconds() - start < 10.0);

    close(s[0]);
    close(s[1]);
    close(p[0]);
    close(p[1]);
}

/* ---- failures and bad input ------------------------------------------------------------------ */

static int fail_action(watcher *w, int fd)
{
    (void)w;
    (void)fd;
    return -EIO;
}

static void test_failing_watcher_is_reported_and_removed(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    assert_int_equal(write(s[1], "x", 1), 1);
    watcher bad = make_watcher(f, 1, fail_action);
    watcher good = make_watcher(f, 2, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, s[0], watcher_fn, &bad), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, s[1], watcher_fn, &good), 0);
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->env.r, 0);
    assert_int_equal(bad.calls, 1);
    assert_int_equal(good.calls, 5);
    assert_false(tw_reactor_is_reading(f->env.r, s[0]));
    assert_true(tw_reactor_is_writing(f->env.r, s[1]));
    assert_int_equal(tw_test_log_count(&f->env.log), 1);
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-EIO)));
    tw_reactor_close_fd(f->env.r, s[0]);
    tw_reactor_close_fd(f->env.r, s[1]);
}

/* An fd closed with close() instead of tw_reactor_close_fd: its watcher must never spin. poll and
 * select see the dead fd, log it, remove the watchers and call them one last time with -EBADF as
 * the reason; epoll and kqueue forget a closed fd by themselves, so its watcher just never runs. */
static void test_fd_closed_behind_reactor_back(void **state)
{
    fixture *f = *state;
    int p[2], live[2];
    make_pipe(p);
    make_pipe(live);
    watcher dead = make_watcher(f, 1, NULL);
    watcher alive = make_watcher(f, 2, read_one_action);
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], watcher_fn, &dead), 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, live[0], watcher_fn, &alive), 0);
    tw_reactor_iterate(f->env.r, 0); /* the registrations reach the kernel */
    close(p[0]);
    assert_int_equal(write(live[1], "xy", 2), 2);
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->env.r, 0);
    assert_int_equal(alive.calls, 2);
    assert_int_equal(alive.watch_error, 0);
    const char *be = tw_reactor_backend();
    if (strcmp(be, "poll") == 0 || strcmp(be, "select") == 0) {
        assert_int_equal(dead.calls, 1);
        assert_int_equal(dead.watch_error, -EBADF);
        assert_false(tw_reactor_is_reading(f->env.r, p[0]));
        assert_true(tw_test_log_contains(&f->env.log, "closed behind the reactor's back"));
    } else {
        assert_int_equal(dead.calls, 0);
    }
    tw_reactor_remove_reader(f->env.r, p[0]);
    close(p[1]);
    tw_reactor_close_fd(f->env.r, live[0]);
    close(live[1]);
}

/* What a real protocol does: give up an fd the reactor cannot watch, read, and hand any error other
 * than EAGAIN back to the reactor. */
static int fail_with_read_error_action(watcher *w, int fd)
{
    if (w->watch_error)
        return 0;
    read_one_action(w, fd);
    return w->last_read < 0 && w->last_read != -EAGAIN ? w->last_read : 0;
}

static void test_bad_fds(void **state)
{
    fixture *f = *state;
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, -1, watcher_fn, &w), -EBADF);
    assert_int_equal(tw_reactor_add_writer(f->env.r, -1, watcher_fn, &w), -EBADF);
    assert_int_equal(tw_reactor_add_reader(f->env.r, -7, watcher_fn, &w), -EBADF);
    assert_false(tw_reactor_is_reading(f->env.r, -1));
    assert_false(tw_reactor_is_writing(f->env.r, -1));
    assert_int_equal(tw_reactor_close_fd(f->env.r, -1), -EBADF);

    /* An fd number that is not open: refused now, or reported and dropped on the next turn. The
     * kernel may tell the backend (epoll_ctl fails) or only the watcher (poll's POLLNVAL reaches it
     * as readiness, and its read() fails): either way the watcher is gone after one turn. */
    int gone[2];
    make_pipe(gone);
    int closed = gone[0]; /* a low number: Linux select() ignores closed fds past its fd table */
    close(gone[0]);
    close(gone[1]);
    watcher checked = make_watcher(f, 2, fail_with_read_error_action);
    int rc = tw_reactor_add_reader(f->env.r, closed, watcher_fn, &checked);
    if (rc == 0) {
        tw_reactor_iterate(f->env.r, 0);
        assert_false(tw_reactor_is_reading(f->env.r, closed));
        assert_int_equal(tw_test_log_count(&f->env.log), 1);
        assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-EBADF)));
        assert_true(checked.calls <= 1);
    } else {
        assert_int_equal(rc, -EBADF);
    }
    assert_int_equal(w.calls, 0);
    assert_int_equal(tw_reactor_close_fd(f->env.r, closed), -EBADF);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
}

/* The kernel refuses a watch when the change reaches it, at the start of the next turn (epoll's
 * ENOSPC at max_user_watches; kqueue's and poll's ENOMEM): the watcher is removed and called one
 * last time in that turn with the reason, then never again, though its fd is readable. The refusal
 * is not remembered: the fd can be watched again. */
static void test_refused_watch_reaches_its_watcher(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    /* Above every fd watched so far, so that the poll backend's fd map has to grow. */
    int fd = fcntl(s[0], F_DUPFD_CLOEXEC, 200);
    assert_true(fd >= 200);
    close(s[0]);
    tw_reactor_iterate(f->env.r, 0); /* the reactor's own registrations reach the kernel first */
    watcher w = make_watcher(f, 1, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, fd, watcher_fn, &w), 0);
    int expected = tw_test_refuse_next_watch(fd);
    if (!expected) {
        print_message("%s cannot run out of room for a watch: skipped\n", tw_reactor_backend());
        tw_reactor_remove_reader(f->env.r, fd);
        close(fd);
        close(s[1]);
        skip();
    }
    assert_int_equal(write(s[1], "x", 1), 1);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.watch_error, expected);
    assert_false(tw_reactor_is_reading(f->env.r, fd));
    assert_true(tw_test_log_contains(&f->env.log, "cannot watch fd"));
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(expected)));
    for (int i = 0; i < 3; i++)
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(w.calls, 1);
    assert_int_equal(tw_reactor_watch_error(f->env.r, fd), 0); /* only inside that last call */
    assert_int_equal(tw_reactor_add_reader(f->env.r, fd, watcher_fn, &w), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(w.calls, 2);
    assert_int_equal(w.watch_error, 0);
    assert_int_equal(tw_reactor_close_fd(f->env.r, fd), 0);
    close(s[1]);
}

/* A refused change of interest (adding the writer to a watched fd) drops both watchers: the reader
 * hears first, and closing the fd there spares the writer a call for a closed fd. */
static int close_on_refusal_action(watcher *w, int fd)
{
    if (w->watch_error)
        assert_int_equal(tw_reactor_close_fd(w->f->env.r, fd), 0);
    return 0;
}

static void test_refused_change_reaches_the_reader_first(void **state)
{
    fixture *f = *state;
    int s[2];
    make_socketpair(s);
    int fd = fcntl(s[0], F_DUPFD_CLOEXEC, 300);
    assert_true(fd >= 300);
    close(s[0]);
    watcher rd = make_watcher(f, 1, close_on_refusal_action);
    watcher wr = make_watcher(f, 2, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, fd, watcher_fn, &rd), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(tw_reactor_add_writer(f->env.r, fd, watcher_fn, &wr), 0);
    const char *be = tw_reactor_backend();
    int expected = strcmp(be, "poll") && strcmp(be, "select") ? tw_test_refuse_next_watch(fd) : 0;
    if (!expected) { /* their sets grow only for a new fd */
        print_message("%s cannot refuse a change of interest: skipped\n", be);
        tw_reactor_close_fd(f->env.r, fd);
        close(s[1]);
        skip();
    }
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(rd.calls, 1);
    assert_int_equal(rd.watch_error, expected);
    assert_int_equal(wr.calls, 0);
    assert_int_equal(f->nevents, 1);
    close(s[1]);
}

/* An fd above FD_SETSIZE: select must refuse it with -EMFILE; other backends watch it. */
static void test_fd_above_fd_setsize(void **state)
{
    fixture *f = *state;
    struct rlimit saved, raised;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int high = 1100; /* FD_SETSIZE is 1024 */
    if (saved.rlim_max <= (rlim_t)high)
        skip();
    raised = saved;
    if (raised.rlim_cur <= (rlim_t)high)
        raised.rlim_cur = (rlim_t)high + 1;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &raised), 0);
    int p[2];
    make_pipe(p);
    assert_int_equal(dup2(p[0], high), high);
    assert_int_equal(write(p[1], "x", 1), 1);
    watcher w = make_watcher(f, 1, NULL);
    int rc = tw_reactor_add_reader(f->env.r, high, watcher_fn, &w);
    if (strcmp(tw_reactor_backend(), "select") == 0) {
        assert_int_equal(rc, -EMFILE);
        assert_false(tw_reactor_is_reading(f->env.r, high));
        assert_int_equal(tw_reactor_add_writer(f->env.r, high, watcher_fn, &w), -EMFILE);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
        assert_int_equal(w.calls, 1);
    }
    assert_int_equal(tw_reactor_close_fd(f->env.r, high), 0);
    close(p[0]);
    close(p[1]);
    setrlimit(RLIMIT_NOFILE, &saved);
}

/* A regular file cannot be polled by epoll; it is reported ready on every turn, as poll() does. */
static void test_regular_file_is_ready_at_once(void **state)
{
    fixture *f = *state;
    char path[] = "/tmp/twine-test-fds-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "hello", 5), 5);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    watcher rd = make_watcher(f, 1, read_one_action);
    watcher wr = make_watcher(f, 2, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, fd, watcher_fn, &rd), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, -1), 1);
    assert_int_equal(rd.last_read, 1);
    assert_int_equal(tw_reactor_add_writer(f->env.r, fd, watcher_fn, &wr), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(rd.calls, 2);
    assert_int_equal(wr.calls, 1);
    assert_int_equal(tw_reactor_remove_reader(f->env.r, fd), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(rd.calls, 2);
    assert_int_equal(tw_reactor_close_fd(f->env.r, fd), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

/* ---- leaks ----------------------------------------------------------------------------------- */

static void test_no_fd_leak_across_new_and_free(void **state)
{
    fixture *f = *state;
    watcher w = make_watcher(f, 1, NULL);
    int before = tw_test_count_open_fds();
    assert_true(before > 0);
    for (int round = 0; round < 3; round++) {
        tw_reactor *r = tw_reactor_new(NULL);
        assert_non_null(r);
        int s[2];
        make_socketpair(s);
        assert_int_equal(tw_reactor_add_reader(r, s[0], watcher_fn, &w), 0);
        assert_int_equal(tw_reactor_add_writer(r, s[1], watcher_fn, &w), 0);
        assert_int_equal(tw_reactor_remove_writer(r, s[1]), 0);
        volatile bool ran = false;
        assert_int_equal(tw_call_from_thread(r, note_thread_call, (void *)&ran), 0);
        assert_true(tw_reactor_iterate(r, 0) >= 1);
        assert_true(ran);
        assert_int_equal(tw_reactor_close_fd(r, s[0]), 0);
        close(s[1]);
        tw_reactor_free(r);
    }
    assert_int_equal(tw_test_count_open_fds(), before);
}

/* The backend compiled in is one of the four, and the one this build directory was made for. */
static void test_backend_name(void **state)
{
    (void)state;
    const char *name = tw_reactor_backend();
    static const char *const known[] = { "epoll", "kqueue", "poll", "select" };
    bool found = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        found |= strcmp(name, known[i]) == 0;
    assert_true(found);
    const char *build = getenv("TWINE_BUILD"); /* build/<backend> under make test */
    if (build) {
        size_t bl = strlen(build), nl = strlen(name);
        assert_true(bl >= nl);
        assert_string_equal(build + bl - nl, name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipe_readable_and_consumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_triggered_when_not_consumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable_until_full_then_again_when_drained, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipe_hangup_reaches_reader_without_spinning, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipe_reader_gone_reaches_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socketpair_peer_close_reaches_reader_and_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_peer_reset_reaches_reader_then_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reader_runs_before_writer_on_one_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_add_replaces_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removing_other_watcher_in_same_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_removing_writer_of_same_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reuse_fd_number_in_same_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_own_fd_skips_its_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_all_keeps_internal_waker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_watcher_is_reported_and_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fd_closed_behind_reactor_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_watch_reaches_its_watcher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_change_reaches_the_reader_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fd_above_fd_setsize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regular_file_is_ready_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_leak_across_new_and_free, setup, teardown),
        cmocka_unit_test(test_backend_name),
    };
    return cmocka_run_group_tests_name("fds", tests, NULL, NULL);
}
