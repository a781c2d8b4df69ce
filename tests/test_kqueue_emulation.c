/* Tests for twine's kqueue()/kevent() emulation (tests/support/kqueue): the semantics of the BSD
 * kevent(2) manual that the kqueue backend relies on. The emulation exists only in kqueue builds
 * on Linux; in any other build this binary runs one test that says it skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <twine/twine.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/event.h>)
#define HAVE_EMULATION 1
#endif
#endif

#ifdef HAVE_EMULATION

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/kqueue/kqueue_emul.h"

#define MS 1000000L

static const struct timespec zero = {0, 0};

static int new_kqueue(void)
{
    int kq = kqueue();
    assert_true(kq >= 0);
    return kq;
}

static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

/* Applies one change without waiting; returns kevent()'s result. */
static int change(int kq, int fd, short filter, unsigned short flags, void *udata)
{
    struct kevent ch;
    EV_SET(&ch, (uintptr_t)fd, filter, flags, 0, 0, udata);
    return kevent(kq, &ch, 1, NULL, 0, &zero);
}

static int wait_now(int kq, struct kevent *out, int n)
{
    return kevent(kq, NULL, 0, out, n, &zero);
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_kqueue_is_a_real_fd(void **state)
{
    (void)state;
    int kq = new_kqueue();
    assert_true(fcntl(kq, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(tw_kqueue_emul_count(kq), 0);
    assert_int_equal(close(kq), 0);
    struct kevent ev;
    assert_int_equal(wait_now(kq, &ev, 1), -1);
    assert_int_equal(errno, EBADF);
    /* A closed kqueue's number reused by another file is not a kqueue. */
    int p[2];
    make_pipe(p);
    assert_int_equal(dup2(p[0], kq), kq);
    assert_int_equal(wait_now(kq, &ev, 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(tw_kqueue_emul_count(kq), -1);
    close(kq);
    close_pair(p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int kq = new_kqueue();
    struct kevent ev;
    struct timespec bad = {0, 1000000000};
    struct timespec negative = {-1, 0};
    assert_int_equal(kevent(kq, NULL, -1, NULL, 0, &zero), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kevent(kq, NULL, 0, &ev, -1, &zero), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kevent(kq, NULL, 0, &ev, 1, &bad), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kevent(kq, NULL, 0, &ev, 1, &negative), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kevent(-1, NULL, 0, &ev, 1, &zero), -1);
    assert_int_equal(errno, EBADF);
    close(kq);
}

static void test_read_filter_reports_bytes_and_udata(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    int cookie;
    assert_int_equal(change(kq, p[0], EVFILT_READ, EV_ADD, &cookie), 0);
    assert_int_equal(tw_kqueue_emul_count(kq), 1);
    struct kevent ev[2];
    assert_int_equal(wait_now(kq, ev, 2), 0);
    assert_int_equal(write(p[1], "abc", 3), 3);
    assert_int_equal(wait_now(kq, ev, 2), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)p[0]);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    assert_int_equal(ev[0].flags & (EV_EOF | EV_ERROR), 0);
    assert_int_equal(ev[0].data, 3);
    assert_ptr_equal(ev[0].udata, &cookie);
    assert_int_equal(kevent(kq, NULL, 0, ev, 2, NULL), 1); /* NULL: forever, but ready now */
    close_pair(p);
    close(kq);
}

static void test_changes_apply_before_the_wait(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    struct kevent ch[2], ev[4];
    EV_SET(&ch[0], (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[1], (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 2, ev, 4, NULL), 1); /* would block forever otherwise */
    assert_int_equal(ev[0].ident, (uintptr_t)p[1]);
    assert_int_equal(ev[0].filter, EVFILT_WRITE);
    close_pair(p);
    close(kq);
}

static void test_timeout(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    assert_int_equal(change(kq, p[0], EVFILT_READ, EV_ADD, NULL), 0);
    struct timespec ts = {0, 5 * MS + 1};
    struct kevent ev;
    int64_t t0 = monotonic_ns();
    assert_int_equal(kevent(kq, NULL, 0, &ev, 1, &ts), 0);
    assert_true(monotonic_ns() - t0 >= 5 * MS + 1);
    close_pair(p);
    close(kq);
}

static void test_change_errors(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    struct kevent ch[4], ev[4];
    int closed = p[1] + 100;
    while (fcntl(closed, F_GETFD) != -1)
        closed++;
    EV_SET(&ch[0], (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL); /* not registered */
    EV_SET(&ch[1], (uintptr_t)closed, EVFILT_READ, EV_ADD, 0, 0, NULL);
    EV_SET(&ch[2], (uintptr_t)p[0], -9, EV_ADD, 0, 0, NULL);              /* no such filter */
    EV_SET(&ch[3], (uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL); /* not emulated */
    assert_int_equal(kevent(kq, ch, 4, ev, 4, NULL), 4); /* reported at once, no wait */
    int want[4] = {ENOENT, EBADF, EINVAL, EINVAL};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ev[i].flags, EV_ERROR);
        assert_int_equal(ev[i].data, want[i]);
        assert_int_equal(ev[i].ident, ch[i].ident);
    }
    /* No room in the event list: the call itself fails. */
    assert_int_equal(kevent(kq, ch, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(change(kq, p[0], EVFILT_READ, EV_ENABLE, NULL), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(tw_kqueue_emul_count(kq), 0);
    close_pair(p);
    close(kq);
}

/* Failures are reported without looking for events, as FreeBSD and OpenBSD do; so are receipts. */
static void test_receipts_and_errors_skip_the_scan(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD, NULL), 0); /* ready from now on */
    struct kevent ch[2], ev[4];
    EV_SET(&ch[0], (uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&ch[1], (uintptr_t)p[0], EVFILT_WRITE, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    assert_int_equal(kevent(kq, ch, 2, ev, 4, NULL), 2);
    assert_int_equal(ev[0].flags, EV_ERROR);
    assert_int_equal(ev[0].data, 0);
    assert_int_equal(ev[1].data, ENOENT);
    assert_int_equal(wait_now(kq, ev, 4), 1); /* the writable fd was there all along */
    assert_int_equal(ev[0].filter, EVFILT_WRITE);
    close_pair(p);
    close(kq);
}

static void test_disable_enable_delete(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    struct kevent ev;
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD | EV_DISABLE, NULL), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 0);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ENABLE, NULL), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 1);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_DISABLE, NULL), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 0);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD, NULL), 0); /* adding re-enables */
    assert_int_equal(wait_now(kq, &ev, 1), 1);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_DELETE, NULL), 0);
    assert_int_equal(tw_kqueue_emul_count(kq), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 0);
    close_pair(p);
    close(kq);
}

static void test_oneshot(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    struct kevent ev;
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD | EV_ONESHOT, NULL), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 1);
    assert_int_equal(tw_kqueue_emul_count(kq), 0);
    assert_int_equal(wait_now(kq, &ev, 1), 0);
    close_pair(p);
    close(kq);
}

static void test_eof_on_pipes(void **state)
{
    (void)state;
    int kq = new_kqueue(), r[2], w[2];
    make_pipe(r);
    make_pipe(w);
    assert_int_equal(change(kq, r[0], EVFILT_READ, EV_ADD, NULL), 0);
    assert_int_equal(change(kq, w[1], EVFILT_WRITE, EV_ADD, NULL), 0);
    struct kevent ev[2];
    assert_int_equal(wait_now(kq, ev, 2), 1);
    assert_int_equal(ev[0].flags & EV_EOF, 0);
    close(r[1]);
    close(w[0]);
    assert_int_equal(wait_now(kq, ev, 2), 2);
    for (int i = 0; i < 2; i++)
        assert_true(ev[i].flags & EV_EOF);
    close(r[0]);
    close(w[1]);
    close(kq);
}

/* The peer shut down its side: EV_EOF comes while data is still there to read. */
static void test_eof_after_shutdown_with_data_left(void **state)
{
    (void)state;
    int kq = new_kqueue(), s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    assert_int_equal(change(kq, s[0], EVFILT_READ, EV_ADD, NULL), 0);
    assert_int_equal(write(s[1], "hello", 5), 5);
    assert_int_equal(shutdown(s[1], SHUT_WR), 0);
    struct kevent ev;
    assert_int_equal(wait_now(kq, &ev, 1), 1);
    assert_true(ev.flags & EV_EOF);
    assert_int_equal(ev.data, 5);
    close_pair(s);
    close(kq);
}

/* BSD's vnode rule: readable while not at the end (data: bytes left), always writable. */
static void test_regular_file(void **state)
{
    (void)state;
    int kq = new_kqueue();
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int fd = fileno(tmp);
    assert_int_equal(write(fd, "12345678", 8), 8);
    assert_int_equal(lseek(fd, 2, SEEK_SET), 2);
    assert_int_equal(change(kq, fd, EVFILT_READ, EV_ADD, NULL), 0);
    struct kevent ev;
    assert_int_equal(wait_now(kq, &ev, 1), 1);
    assert_int_equal(ev.data, 6);
    assert_int_equal(lseek(fd, 0, SEEK_END), 8);
    assert_int_equal(wait_now(kq, &ev, 1), 0);
    assert_int_equal(change(kq, fd, EVFILT_WRITE, EV_ADD, NULL), 0);
    assert_int_equal(kevent(kq, NULL, 0, &ev, 1, NULL), 1);
    assert_int_equal(ev.filter, EVFILT_WRITE);
    fclose(tmp);
    close(kq);
}

/* Closing an fd drops its filters; the number, once reused, starts with none. */
static void test_close_drops_filters(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD, NULL), 0);
    assert_int_equal(change(kq, q[1], EVFILT_WRITE, EV_ADD, NULL), 0);
    close(p[1]);
    struct kevent ev[2];
    assert_int_equal(wait_now(kq, ev, 2), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)q[1]);
    assert_int_equal(tw_kqueue_emul_count(kq), 1);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_DELETE, NULL), -1);
    assert_int_equal(errno, EBADF);

    assert_int_equal(change(kq, q[0], EVFILT_READ, EV_ADD, NULL), 0);
    int number = q[0];
    close(q[0]);
    assert_int_equal(dup2(p[0], number), number); /* same number, another file */
    assert_int_equal(change(kq, number, EVFILT_READ, EV_DELETE, NULL), -1);
    assert_int_equal(errno, ENOENT);
    close(number);
    close(p[0]);
    close(q[1]);
    close(kq);
}

/* A short event list: what is left over comes first in the next call, so nothing starves. */
static void test_short_event_list_rotates(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[3][2];
    for (int i = 0; i < 3; i++) {
        make_pipe(p[i]);
        assert_int_equal(change(kq, p[i][1], EVFILT_WRITE, EV_ADD, NULL), 0);
    }
    struct kevent ev[2];
    bool seen[3] = {false, false, false};
    for (int round = 0; round < 2; round++) {
        assert_int_equal(wait_now(kq, ev, 2), 2);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 3; i++)
                seen[i] |= ev[k].ident == (uintptr_t)p[i][1];
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    for (int i = 0; i < 3; i++)
        close_pair(p[i]);
    close(kq);
}

static void test_two_kqueues_are_independent(void **state)
{
    (void)state;
    int a = new_kqueue(), b = new_kqueue(), p[2];
    make_pipe(p);
    assert_int_equal(change(a, p[1], EVFILT_WRITE, EV_ADD, NULL), 0);
    struct kevent ev;
    assert_int_equal(wait_now(a, &ev, 1), 1);
    assert_int_equal(wait_now(b, &ev, 1), 0);
    assert_int_equal(tw_kqueue_emul_count(b), 0);
    close(a);
    close(b);
    close_pair(p);
}

static void test_injected_error(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    tw_kqueue_emul_inject_error(EIO);
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD, NULL), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(tw_kqueue_emul_count(kq), 0); /* the change was not applied */
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_ADD, NULL), 0); /* once only */
    tw_kqueue_emul_inject_error(EIO);
    tw_kqueue_emul_inject_error(0); /* cancelled */
    assert_int_equal(change(kq, p[1], EVFILT_WRITE, EV_DELETE, NULL), 0);
    close_pair(p);
    close(kq);
}

static void on_signal(int sig)
{
    (void)sig;
}

/* A signal ends the wait with EINTR, and the changes of that call stay applied. */
static void test_eintr_keeps_changes(void **state)
{
    (void)state;
    int kq = new_kqueue(), p[2];
    make_pipe(p);
    struct sigaction sa = {.sa_handler = on_signal}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    timer_t timer;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
    struct itimerspec its = {.it_value = {0, 2 * MS}, .it_interval = {0, 2 * MS}};
    assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
    struct kevent ch, ev;
    EV_SET(&ch, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    int n = kevent(kq, &ch, 1, &ev, 1, NULL); /* nothing will be readable: only a signal ends it */
    int err = errno;
    timer_delete(timer);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    assert_int_equal(n, -1);
    assert_int_equal(err, EINTR);
    assert_int_equal(tw_kqueue_emul_count(kq), 1);
    close_pair(p);
    close(kq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kqueue_is_a_real_fd),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_read_filter_reports_bytes_and_udata),
        cmocka_unit_test(test_changes_apply_before_the_wait),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_change_errors),
        cmocka_unit_test(test_receipts_and_errors_skip_the_scan),
        cmocka_unit_test(test_disable_enable_delete),
        cmocka_unit_test(test_oneshot),
        cmocka_unit_test(test_eof_on_pipes),
        cmocka_unit_test(test_eof_after_shutdown_with_data_left),
        cmocka_unit_test(test_regular_file),
        cmocka_unit_test(test_close_drops_filters),
        cmocka_unit_test(test_short_event_list_rotates),
        cmocka_unit_test(test_two_kqueues_are_independent),
        cmocka_unit_test(test_injected_error),
        cmocka_unit_test(test_eintr_keeps_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* no emulation in this build */

static void test_emulation_not_built(void **state)
{
    (void)state;
    print_message("the kqueue emulation is only built with BACKEND=kqueue on Linux "
                  "(this build: %s): skipped\n", tw_reactor_backend());
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emulation_not_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
