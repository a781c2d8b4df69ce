/* Tests for debug mode and the metrics (reactor.h): slow timed calls, fd watchers and calls from
 * threads are logged with their function's name, fast ones are not, nothing is timed while debug
 * mode is off, and turns and callbacks are counted always. Durations come from tw_clock: a callback
 * "takes" as long as it moves the clock. One real-clock test measures a wait. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_DLADDR 1
#include <dlfcn.h>
#endif

#include <twine/twine.h>

#include "support/clock_env.h"

typedef struct {
    tw_test_clock_env env;
    double cost; /* how long each callback "takes": how far it moves the clock */
    int runs;
} fixture;

static int setup(void **state)
{
    return tw_test_clock_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_clock_fixture_teardown(state);
}

static int slow_timer(void *arg)
{
    fixture *f = arg;
    f->runs++;
    tw_clock_advance(f->env.clock, f->cost);
    return 0;
}

static int slow_reader(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    return slow_timer(arg);
}

static tw_reactor_metrics metrics(fixture *f)
{
    tw_reactor_metrics m;
    tw_reactor_get_metrics(f->env.r, &m);
    return m;
}

static void test_off_by_default_counts_but_does_not_time(void **state)
{
    fixture *f = *state;
    f->cost = 5;
    tw_call_later(f->env.r, 1, slow_timer, f, NULL);
    tw_call_later(f->env.r, 100, slow_timer, f, NULL);
    tw_clock_advance(f->env.clock, 1);
    tw_reactor_metrics m = metrics(f);
    assert_int_equal(f->runs, 1);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    assert_true(m.turns >= 1);
    assert_int_equal(m.callbacks, 1);
    assert_int_equal(m.slow_callbacks, 0);
    assert_true(m.wait_seconds == 0 && m.run_seconds == 0 && m.slowest_seconds == 0);
    assert_int_equal(m.pending_timers, 1);
}

static void test_slow_timed_call_is_logged_and_named(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_reactor_set_debug(f->env.r, 1.0), 0);
    f->cost = 2;
    tw_call_later(f->env.r, 0, slow_timer, f, NULL);
    tw_clock_advance(f->env.clock, 0);
    assert_int_equal(tw_test_log_count(&f->env.log), 1);
    assert_true(tw_test_log_contains(&f->env.log, "slow callback: timed call "));
    assert_true(tw_test_log_contains(&f->env.log, " took 2.000 s (threshold 1.000 s)"));
    assert_int_equal(f->env.log.last_level, TW_LOG_WARN);
#ifdef HAVE_DLADDR
    /* A static function of the test program: named as module+offset, for addr2line. */
    Dl_info info;
    int (*fn)(void *) = slow_timer;
    void *addr;
    memcpy(&addr, &fn, sizeof addr);
    assert_true(dladdr(addr, &info) != 0);
    char want[256];
    const char *slash = strrchr(info.dli_fname, '/');
    snprintf(want, sizeof want, "timed call %s+0x%jx took", slash ? slash + 1 : info.dli_fname,
             (uintmax_t)((uintptr_t)addr - (uintptr_t)info.dli_fbase));
    assert_true(tw_test_log_contains(&f->env.log, want));
#endif
    tw_reactor_metrics m = metrics(f);
    assert_int_equal(m.slow_callbacks, 1);
    assert_true(fabs(m.slowest_seconds - 2.0) < 1e-9);
    assert_true(m.run_seconds >= 2.0);
}

static void test_fast_callbacks_are_not_logged(void **state)
{
    fixture *f = *state;
    tw_reactor_set_debug(f->env.r, 1.0);
    f->cost = 1.0; /* "longer than the threshold": exactly the threshold is not slow */
    tw_call_later(f->env.r, 0, slow_timer, f, NULL);
    f->cost = 0.5;
    tw_call_later(f->env.r, 0, slow_timer, f, NULL);
    tw_clock_advance(f->env.clock, 0);
    assert_int_equal(f->runs, 2);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    tw_reactor_metrics m = metrics(f);
    assert_int_equal(m.slow_callbacks, 0);
    assert_true(fabs(m.slowest_seconds - 0.5) < 1e-9);
}

static void test_slow_reader_is_logged_with_its_fd(void **state)
{
    fixture *f = *state;
    int fds[2];
    char want[64];
    assert_int_equal(pipe(fds), 0);
    tw_reactor_set_debug(f->env.r, 0.1);
    f->cost = 0.25;
    assert_int_equal(tw_reactor_add_reader(f->env.r, fds[0], slow_reader, f), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    tw_reactor_iterate(f->env.r, 0);
    snprintf(want, sizeof want, "slow callback: reader of fd %d ", fds[0]);
    assert_true(tw_test_log_contains(&f->env.log, want));
    assert_true(tw_test_log_contains(&f->env.log, "took 0.250 s"));
    tw_reactor_close_fd(f->env.r, fds[0]);
    close(fds[1]);
}

static void test_slow_call_from_thread_is_logged(void **state)
{
    fixture *f = *state;
    tw_reactor_set_debug(f->env.r, 0.1);
    f->cost = 3;
    assert_int_equal(tw_call_from_thread(f->env.r, slow_timer, f), 0);
    tw_reactor_iterate(f->env.r, 0);
    assert_int_equal(f->runs, 1);
    assert_int_equal(tw_test_log_count(&f->env.log), 1); /* the call, not the waker that ran it */
    assert_true(tw_test_log_contains(&f->env.log, "slow callback: call from thread "));
    assert_int_equal(metrics(f).callbacks, 1);
}

static int slow_and_failing(void *arg)
{
    slow_timer(arg);
    return -EIO;
}

static void test_a_slow_failing_callback_still_reports_its_error(void **state)
{
    fixture *f = *state;
    tw_reactor_set_debug(f->env.r, 0.1);
    f->cost = 1;
    tw_call_later(f->env.r, 0, slow_and_failing, f, NULL);
    tw_clock_advance(f->env.clock, 0);
    assert_true(tw_test_log_contains(&f->env.log, "slow callback: timed call"));
    assert_true(tw_test_log_contains(&f->env.log, "error in timed call"));
}

static void test_turning_debug_off_stops_timing(void **state)
{
    fixture *f = *state;
    tw_reactor_set_debug(f->env.r, 0.1);
    assert_int_equal(tw_reactor_set_debug(f->env.r, 0), 0);
    f->cost = 1;
    tw_call_later(f->env.r, 0, slow_timer, f, NULL);
    tw_clock_advance(f->env.clock, 0);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    assert_true(metrics(f).run_seconds == 0);
    assert_int_equal(tw_reactor_set_debug(f->env.r, -1), -EINVAL);
    assert_int_equal(tw_reactor_set_debug(f->env.r, NAN), -EINVAL);
    assert_int_equal(tw_reactor_set_debug(NULL, 1), -EINVAL);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

/* The real clock: a turn that waits for a timer 30 ms away counts at least that long as waiting. */
static void test_wait_time_is_measured(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    tw_reactor_set_debug(r, TW_DEBUG_SLOW_DEFAULT);
    tw_call_later(r, 0.03, nothing, NULL, NULL);
    while (tw_reactor_pending_calls(r) > 0)
        tw_reactor_iterate(r, -1);
    tw_reactor_metrics m;
    tw_reactor_get_metrics(r, &m);
    assert_true(m.wait_seconds >= 0.025);
    assert_int_equal(m.callbacks, 1);
    assert_int_equal(m.slow_callbacks, 0);
    tw_reactor_free(r);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_off_by_default_counts_but_does_not_time),
        T(test_slow_timed_call_is_logged_and_named),
        T(test_fast_callbacks_are_not_logged),
        T(test_slow_reader_is_logged_with_its_fd),
        T(test_slow_call_from_thread_is_logged),
        T(test_a_slow_failing_callback_still_reports_its_error),
        T(test_turning_debug_off_stops_timing),
        cmocka_unit_test(test_wait_time_is_measured),
    };
    return cmocka_run_group_tests_name("debug", tests, NULL, NULL);
}
