/* Tests for task.h's looping call, deferLater and react, ported from Twisted's test_task.py
 * (LoopTests, ReactorLoopTests, DeferLaterTests, ReactTests). Timing runs on testing.h's tw_clock,
 * Twisted's task.Clock: tw_clock_advance moves it and runs everything that became due. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "support/clock_env.h"
#include "support/outcome.h"

#define CALLS_MAX 64

/* Seconds as the nanosecond offsets the records hold. */
#define S(seconds) ((int64_t)((seconds) * 1e9 + 0.5))

typedef struct {
    tw_test_clock_env env;     /* the clock, its reactor, the reactor's log */
    tw_looping_call *lc;
    int64_t times[CALLS_MAX];  /* clock time of each call, in nanoseconds */
    uint64_t counts[CALLS_MAX]; /* with_count's count of each call */
    int ncalls;
    double call_duration;      /* how far each call moves the clock */
    int stop_after;            /* stop lc from inside the call that makes ncalls this */
    int defer_on;              /* the call that makes ncalls this returns f->pending */
    int fail_on;               /* the call that makes ncalls this fails with -EIO */
    tw_deferred *pending;
    /* How start's deferreds ended: they may fire at teardown, after the test function returned. */
    tw_test_outcome o, o2;
} fixture;

static int setup(void **state)
{
    return tw_test_clock_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_looping_call_free(f->lc);
    tw_deferred_unref(f->pending);
    return tw_test_clock_fixture_teardown(state);
}

static int64_t clock_offset(fixture *f)
{
    return llround(tw_clock_seconds(f->env.clock) * 1e9);
}

static void settle(fixture *f, double seconds)
{
    assert_true(tw_clock_advance(f->env.clock, seconds) >= 0);
}

static void pump(fixture *f, const double *timings, size_t n)
{
    assert_true(tw_clock_pump(f->env.clock, timings, n) >= 0);
}

/* The looping call's function: records the time, then does what the fixture asks. */
static int act(fixture *f, tw_result *out)
{
    assert_true(f->ncalls < CALLS_MAX);
    f->times[f->ncalls++] = clock_offset(f);
    tw_clock_advance(f->env.clock, f->call_duration);
    if (f->ncalls == f->stop_after)
        assert_int_equal(tw_looping_call_stop(f->lc), 0);
    if (f->ncalls == f->fail_on)
        return -EIO;
    if (f->ncalls == f->defer_on)
        tw_result_set_deferred(out, tw_deferred_ref(f->pending));
    return 0;
}

static int record_call(tw_result *out, void *arg)
{
    return act(arg, out);
}

static int record_count(tw_result *out, uint64_t count, void *arg)
{
    fixture *f = arg;
    f->counts[f->ncalls] = count;
    return act(f, out);
}

static void new_loop(fixture *f, bool with_count)
{
    int err = 0;
    f->lc = with_count ? tw_looping_call_with_count(f->env.r, record_count, f, &err)
                       : tw_looping_call_new(f->env.r, record_call, f, &err);
    assert_non_null(f->lc);
}


static tw_deferred *start(fixture *f, double interval, bool now, tw_test_outcome *o)
{
    int err = 0;
    tw_deferred *d = tw_looping_call_start(f->lc, interval, now, &err);
    assert_non_null(d);
    assert_int_equal(tw_deferred_add_both(d, tw_test_outcome_note, o), 0);
    return d;
}

static void assert_times(fixture *f, const int64_t *want, int n)
{
    assert_int_equal(f->ncalls, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(f->times[i], want[i]);
}

/* ---- skipping and counting (Twisted's LoopTests) ---- */

static void test_callback_time_skips(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->call_duration = 2;
    tw_deferred *d = start(f, 0.5, true, &f->o);
    assert_times(f, (int64_t[]){0}, 1);
    assert_int_equal(clock_offset(f), S(2));
    settle(f, 0); /* 2 is the present, not the future: skipped */
    assert_int_equal(f->ncalls, 1);
    f->call_duration = 1;
    settle(f, 0.5);
    assert_times(f, (int64_t[]){0, S(2.5)}, 2);
    assert_int_equal(clock_offset(f), S(3.5));
    settle(f, 0);
    assert_int_equal(f->ncalls, 2);
    f->call_duration = 0;
    settle(f, 0.5);
    assert_times(f, (int64_t[]){0, S(2.5), S(4)}, 3);
    tw_deferred_unref(d);
}

static void test_reactor_time_skips(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 0.5, true, &f->o);
    assert_times(f, (int64_t[]){0}, 1);
    settle(f, 2);
    assert_times(f, (int64_t[]){0, S(2)}, 2);
    settle(f, 1);
    assert_times(f, (int64_t[]){0, S(2), S(3)}, 3);
    settle(f, 0);
    assert_int_equal(f->ncalls, 3);
    assert_int_equal(f->o.fired, 0);
    tw_deferred_unref(d);
}

static void test_reactor_time_count_skips(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    tw_deferred *d = start(f, 0.5, true, &f->o);
    assert_times(f, (int64_t[]){0}, 1);
    assert_int_equal(f->counts[0], 1);
    settle(f, 0.5 + 0.01);
    assert_times(f, (int64_t[]){0, S(0.51)}, 2);
    assert_int_equal(f->counts[1], 1);
    settle(f, 3 * 0.5 + 0.01);
    assert_times(f, (int64_t[]){0, S(0.51), S(2.02)}, 3);
    assert_int_equal(f->counts[2], 3);
    settle(f, 0);
    assert_int_equal(f->ncalls, 3);
    tw_deferred_unref(d);
}

static void test_count_lengthy_interval_counts(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    tw_deferred *d = start(f, 0.5, true, &f->o);
    settle(f, 0.5 + 0.01);
    settle(f, 0.5 * 1.75); /* delayed: now 1.385, only the grid point 1.0 passed */
    settle(f, 0.5 * 0.25); /* back on track at 1.51 */
    assert_times(f, (int64_t[]){0, S(0.51), S(1.385), S(1.51)}, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(f->counts[i], 1);
    tw_deferred_unref(d);
}

static void test_with_count_floating_point_boundary(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    tw_deferred *d = start(f, 1.0 / 10, false, &f->o);
    for (int i = 0; i < 10; i++)
        settle(f, 1.0 / 10);
    double sum = 0;
    for (int i = 0; i < 10; i++)
        sum += 1.0 / 10;
    settle(f, 1.0 - sum); /* the epsilon Twisted's test pushes the clock by */
    uint64_t total = 0;
    for (int i = 0; i < f->ncalls; i++) {
        assert_true(f->counts[i] > 0);
        total += f->counts[i];
    }
    assert_int_equal(total, 10);
    tw_deferred_unref(d);
}

static void test_with_count_interval_zero(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    f->stop_after = 5;
    tw_deferred *d = start(f, 0, false, &f->o);
    settle(f, 0);
    assert_int_equal(f->o.fired, 1);
    assert_false(f->o.failed);
    assert_ptr_equal(f->o.value, f->lc);
    assert_int_equal(f->ncalls, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(f->counts[i], 1);
    tw_deferred_unref(d);
}

static void test_with_count_interval_zero_delay(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    f->pending = tw_deferred_new(f->env.r, NULL);
    f->defer_on = 2;
    f->stop_after = 5;
    tw_deferred *d = start(f, 0, false, &f->o);
    settle(f, 0);
    assert_int_equal(f->ncalls, 2); /* held by the deferred of the second call */
    settle(f, 2);
    assert_int_equal(f->ncalls, 2);
    tw_deferred_callback(f->pending, NULL, NULL);
    settle(f, 0);
    assert_int_equal(f->ncalls, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(f->counts[i], 1);
    assert_int_equal(f->o.fired, 1);
    tw_deferred_unref(d);
}

static void test_with_count_interval_zero_then_nonzero(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    f->pending = tw_deferred_new(f->env.r, NULL);
    f->defer_on = 2;
    tw_deferred *d = start(f, 0, false, &f->o);
    settle(f, 10);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(tw_looping_call_set_interval(f->lc, 2), 0);
    assert_true(tw_looping_call_interval(f->lc) == 2.0);
    tw_deferred_callback(f->pending, NULL, NULL);
    settle(f, 7); /* counts the grid points since the last call, at 10 */
    assert_int_equal(f->ncalls, 3);
    assert_int_equal(f->counts[2], 3);
    settle(f, 2);
    assert_int_equal(f->counts[3], 1);
    settle(f, 4);
    assert_int_equal(f->ncalls, 5);
    assert_int_equal(f->counts[4], 2);
    tw_deferred_unref(d);
}

static void test_interval_change_keeps_the_grid_start(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 1, true, &f->o);
    settle(f, 1);
    assert_int_equal(tw_looping_call_set_interval(f->lc, 3), 0);
    settle(f, 1); /* the call scheduled before the change keeps its time */
    settle(f, 1); /* then the grid of 3 from the start: 3, 6 */
    settle(f, 2);
    settle(f, 1);
    assert_times(f, (int64_t[]){0, S(1), S(2), S(3), S(6)}, 5);
    assert_int_equal(tw_looping_call_set_interval(f->lc, -1), -EINVAL);
    assert_int_equal(tw_looping_call_set_interval(f->lc, NAN), -EINVAL);
    tw_deferred_unref(d);
}

/* 61 ns / 1e9 * 1e9 is a little above 61: a delay converted naively would be rounded up to 62 ns
 * and miss a clock moved exactly onto the grid point. */
static void test_grid_points_are_exact_to_the_nanosecond(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 61e-9, false, &f->o);
    settle(f, 61e-9);
    settle(f, 61e-9);
    assert_times(f, (int64_t[]){61, 122}, 2);
    tw_deferred_unref(d);
}

static void test_basic_function(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 0.1, true, &f->o);
    pump(f, (double[]){0.05, 0.1, 0.1}, 3);
    assert_int_equal(f->ncalls, 3);
    assert_true(tw_looping_call_running(f->lc));
    assert_int_equal(tw_looping_call_stop(f->lc), 0);
    assert_false(tw_looping_call_running(f->lc));
    assert_int_equal(f->o.fired, 1);
    assert_ptr_equal(f->o.value, f->lc);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void test_delayed_start(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 0.1, false, &f->o);
    pump(f, (double[]){0.05, 0.1, 0.1}, 3);
    assert_times(f, (int64_t[]){S(0.15), S(0.25)}, 2);
    assert_int_equal(tw_looping_call_stop(f->lc), 0);
    assert_int_equal(f->o.fired, 1);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    new_loop(f, false);
    assert_null(tw_looping_call_start(f->lc, -1, true, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_looping_call_start(f->lc, NAN, true, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_looping_call_start(f->lc, 2e9, true, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(f->ncalls, 0);
    assert_null(tw_looping_call_new(NULL, record_call, f, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_looping_call_with_count(f->env.r, NULL, f, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_looping_call_stop(f->lc), TW_ENOTRUNNING);
    assert_int_equal(tw_looping_call_reset(f->lc), TW_ENOTRUNNING);
}

static void test_stop_before_first_call(void **state)
{
    fixture *f = *state;
    static const double intervals[] = {0, 10};
    for (size_t i = 0; i < 2; i++) {
        f->o = (tw_test_outcome){0};
        new_loop(f, false);
        tw_deferred *d = start(f, intervals[i], false, &f->o);
        assert_int_equal(tw_looping_call_stop(f->lc), 0);
        assert_int_equal(f->o.fired, 1);
        settle(f, 20);
        assert_int_equal(f->ncalls, 0);
        assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
        tw_deferred_unref(d);
        tw_looping_call_free(f->lc);
        f->lc = NULL;
    }
}

static void test_reset(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 2, false, &f->o);
    settle(f, 1);
    assert_int_equal(tw_looping_call_reset(f->lc), 0);
    settle(f, 1);
    assert_int_equal(f->ncalls, 0);
    settle(f, 1);
    assert_times(f, (int64_t[]){S(3)}, 1);
    settle(f, 2); /* the new grid: 3, 5, 7 */
    assert_times(f, (int64_t[]){S(3), S(5)}, 2);
    tw_deferred_unref(d);
}

static void test_restart_after_stop(void **state)
{
    fixture *f = *state;
    int err = 0;
    new_loop(f, false);
    tw_deferred *d1 = start(f, 1, true, &f->o);
    assert_null(tw_looping_call_start(f->lc, 1, true, &err));
    assert_int_equal(err, TW_EALREADYRUNNING);
    assert_int_equal(tw_looping_call_stop(f->lc), 0);
    assert_int_equal(tw_looping_call_stop(f->lc), TW_ENOTRUNNING);
    settle(f, 0.5);
    tw_deferred *d2 = start(f, 1, false, &f->o2);
    settle(f, 1);
    assert_times(f, (int64_t[]){0, S(1.5)}, 2);
    assert_int_equal(f->o.fired, 1);
    assert_int_equal(f->o2.fired, 0);
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
}

/* ---- failures and deferreds (Twisted's ReactorLoopTests) ---- */

static void test_failure_stops_the_loop(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->fail_on = 2;
    tw_deferred *d = start(f, 0.1, true, &f->o);
    settle(f, 0.1);
    assert_int_equal(f->o.fired, 1);
    assert_true(f->o.failed);
    assert_int_equal(f->o.code, -EIO);
    assert_false(tw_looping_call_running(f->lc));
    settle(f, 1);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void test_fail_and_stop(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->stop_after = 1;
    f->fail_on = 1;
    tw_deferred *d = start(f, 0.1, true, &f->o);
    assert_int_equal(f->o.fired, 1);
    assert_true(f->o.failed);
    assert_int_equal(f->o.code, -EIO);
    tw_deferred_unref(d);
}

static void test_every_iteration(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->stop_after = 6;
    tw_deferred *d = start(f, 0, true, &f->o);
    settle(f, 0);
    assert_int_equal(f->ncalls, 6);
    assert_int_equal(f->o.fired, 1);
    tw_deferred_unref(d);
}

static int stop_loop(void *arg)
{
    fixture *f = arg;
    return tw_looping_call_stop(f->lc);
}

static void test_stop_at_once_later(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    tw_deferred *d = start(f, 1, false, &f->o);
    assert_non_null(tw_call_later(f->env.r, 0, stop_loop, f, NULL));
    settle(f, 0);
    assert_int_equal(f->o.fired, 1);
    settle(f, 5);
    assert_int_equal(f->ncalls, 0);
    tw_deferred_unref(d);
}

static int fire_pending(void *arg)
{
    fixture *f = arg;
    return tw_deferred_callback(f->pending, NULL, NULL);
}

static int fail_pending(void *arg)
{
    fixture *f = arg;
    return tw_deferred_errback(f->pending, tw_failure_from_errno(-EPIPE, "test"));
}

static int stop_on_fire(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    return stop_loop(arg);
}

static void test_wait_deferred(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->pending = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_callback(f->pending, stop_on_fire, f);
    f->defer_on = 1;
    tw_deferred *d = start(f, 0.2, true, &f->o);
    assert_non_null(tw_call_later(f->env.r, 1, fire_pending, f, NULL));
    pump(f, (double[]){0.2, 0.6}, 2);
    assert_int_equal(f->ncalls, 1); /* held: the grid points 0.2..0.8 passed unused */
    settle(f, 0.2);
    assert_int_equal(f->o.fired, 1);
    assert_false(f->o.failed);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void test_failure_propagation(void **state)
{
    fixture *f = *state;
    new_loop(f, false);
    f->pending = tw_deferred_new(f->env.r, NULL);
    f->defer_on = 1;
    tw_deferred *d = start(f, 1, true, &f->o);
    assert_non_null(tw_call_later(f->env.r, 0.3, fail_pending, f, NULL));
    settle(f, 0.3);
    assert_int_equal(f->o.fired, 1);
    assert_true(f->o.failed);
    assert_int_equal(f->o.code, -EPIPE);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    /* The loop consumed the failure: nothing is reported unhandled. */
    tw_deferred_unref(f->pending);
    f->pending = NULL;
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    tw_deferred_unref(d);
}

static void test_deferred_with_count(void **state)
{
    fixture *f = *state;
    new_loop(f, true);
    f->pending = tw_deferred_new(f->env.r, NULL);
    f->defer_on = 1;
    tw_deferred *d = start(f, 0.2, false, &f->o);
    assert_int_equal(f->ncalls, 0);
    pump(f, (double[]){0.2, 0.4}, 2);
    assert_int_equal(f->ncalls, 1);
    tw_deferred_callback(f->pending, NULL, NULL);
    settle(f, 0.2);
    assert_int_equal(f->ncalls, 2);
    assert_int_equal(f->counts[0], 1);
    assert_int_equal(f->counts[1], 3); /* calls were missed at 0.4 and 0.6 */
    tw_deferred_unref(d);
}

static void test_stop_while_awaiting_fires_when_the_deferred_does(void **state)
{
    fixture *f = *state;
    int err = 0;
    new_loop(f, false);
    f->pending = tw_deferred_new(f->env.r, NULL);
    f->defer_on = 1;
    tw_deferred *d = start(f, 1, true, &f->o);
    assert_int_equal(tw_looping_call_stop(f->lc), 0);
    assert_int_equal(f->o.fired, 0);
    assert_null(tw_looping_call_start(f->lc, 1, true, &err)); /* the last run has not ended */
    assert_int_equal(err, TW_EALREADYRUNNING);
    tw_deferred_callback(f->pending, NULL, NULL);
    assert_int_equal(f->o.fired, 1);
    assert_false(f->o.failed);
    settle(f, 5);
    assert_int_equal(f->ncalls, 1);
    tw_deferred_unref(d);
}

static int free_self(tw_result *out, void *arg)
{
    (void)out;
    fixture *f = arg;
    f->ncalls++;
    tw_looping_call_free(f->lc);
    f->lc = NULL;
    return 0;
}

static void test_free_from_inside_and_while_running(void **state)
{
    fixture *f = *state;
    f->lc = tw_looping_call_new(f->env.r, free_self, f, NULL);
    tw_deferred *d1 = start(f, 1, false, &f->o);
    settle(f, 1);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(f->o.fired, 1);
    assert_false(f->o.failed);
    new_loop(f, false);
    tw_deferred *d2 = start(f, 1, true, &f->o2);
    tw_looping_call_free(f->lc);
    f->lc = NULL;
    assert_int_equal(f->o2.fired, 1);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
}

/* ---- deferLater ---- */

static int later_value(tw_result *out, void *arg)
{
    fixture *f = arg;
    f->ncalls++;
    tw_result_set_value(out, "flag", NULL);
    return 0;
}

static int later_fail(tw_result *out, void *arg)
{
    (void)out;
    (void)arg;
    return -ENOENT;
}

static int later_chain(tw_result *out, void *arg)
{
    fixture *f = arg;
    tw_result_set_deferred(out, tw_deferred_ref(f->pending));
    return 0;
}

static void test_defer_later_callback(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    tw_deferred *d = tw_defer_later(f->env.r, 3, later_value, f, NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    settle(f, 2);
    assert_int_equal(f->ncalls, 0);
    settle(f, 1);
    assert_int_equal(f->ncalls, 1);
    assert_int_equal(o.fired, 1);
    assert_string_equal(o.value, "flag");
    tw_deferred_unref(d);
}

static void test_defer_later_errback(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    tw_deferred *d = tw_defer_later(f->env.r, 1, later_fail, f, NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    settle(f, 1);
    assert_true(o.failed);
    assert_int_equal(o.code, -ENOENT);
    tw_deferred_unref(d);
}

static void test_defer_later_cancel(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    tw_deferred *d = tw_defer_later(f->env.r, 1, later_value, f, NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    tw_deferred_cancel(d);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_CANCELLED_ERROR);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    settle(f, 2);
    assert_int_equal(f->ncalls, 0);
    tw_deferred_unref(d);
}

static void test_defer_later_no_callback(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    tw_deferred *d = tw_defer_later(f->env.r, 2.0, NULL, NULL, NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    settle(f, 1.9);
    assert_int_equal(o.fired, 0);
    settle(f, 0.1);
    assert_int_equal(o.fired, 1);
    assert_false(o.failed);
    assert_null(o.value);
    tw_deferred_unref(d);
}

static void test_defer_later_chains_and_outlives_the_callers_reference(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    f->pending = tw_deferred_new(f->env.r, NULL);
    tw_deferred *d = tw_defer_later(f->env.r, 1, later_chain, f, NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    tw_deferred_unref(d); /* the timer keeps it */
    settle(f, 1);
    assert_int_equal(o.fired, 0);
    tw_deferred_callback(f->pending, "inner", NULL);
    assert_int_equal(o.fired, 1);
    assert_string_equal(o.value, "inner");
}

static void test_defer_later_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_defer_later(NULL, 1, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_defer_later(f->env.r, NAN, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

/* ---- react (Twisted's ReactTests) ----
 * tw_react makes its own reactor, so these run on the real clock with delays of 0: what they check
 * is the order of events and the status, never a duration. */

typedef struct {
    tw_test_log log;
    const char *scenario;
    tw_reactor *r;
    tw_deferred *finished;
    int events;
    int first_event_seen_by_finish;
    int argc;
    const char *last_arg;
    void *arg;
} react_case;

static int note_event(void *arg)
{
    react_case *rc = arg;
    rc->events++;
    return 0;
}

static int finish_ok(void *arg)
{
    react_case *rc = arg;
    rc->first_event_seen_by_finish = rc->events;
    return tw_deferred_callback(rc->finished, NULL, NULL);
}

static int finish_failed(void *arg)
{
    react_case *rc = arg;
    return tw_deferred_errback(rc->finished, tw_failure_new("ExpectedException", -EIO, "expected"));
}

static int stop_reactor(void *arg)
{
    react_case *rc = arg;
    return tw_reactor_stop(rc->r);
}

static int stop_then_finish(void *arg)
{
    react_case *rc = arg;
    tw_reactor_stop(rc->r);
    return tw_deferred_callback(rc->finished, NULL, NULL);
}

static tw_deferred *react_main(tw_reactor *r, void *arg, int argc, char **argv)
{
    react_case *rc = arg;
    rc->r = r;
    rc->arg = arg;
    rc->argc = argc;
    rc->last_arg = argv[argc - 1];
    tw_test_log_install(r, &rc->log);
    const char *s = rc->scenario;
    if (strcmp(s, "sync ok") == 0)
        return tw_succeed(r, NULL, NULL, NULL);
    if (strcmp(s, "sync fail") == 0)
        return tw_fail(r, tw_failure_new("ExpectedException", -EIO, "expected"), NULL);
    if (strcmp(s, "exit 23") == 0)
        return tw_fail(r, tw_system_exit(23), NULL);
    if (strcmp(s, "no deferred") == 0)
        return NULL;
    rc->finished = tw_deferred_new(r, NULL);
    tw_deferred *d = tw_deferred_ref(rc->finished);
    if (strcmp(s, "async ok") == 0) {
        tw_call_later(r, 0, note_event, rc, NULL);
        tw_call_later(r, 0, finish_ok, rc, NULL);
        tw_call_later(r, 60, note_event, rc, NULL); /* never reached: react stops first */
    } else if (strcmp(s, "async fail") == 0) {
        tw_call_later(r, 0, finish_failed, rc, NULL);
    } else if (strcmp(s, "stopped, then ok") == 0 || strcmp(s, "stopped, then fail") == 0) {
        tw_call_later(r, 0, stop_reactor, rc, NULL);
        tw_reactor_add_trigger(r, TW_PHASE_DURING, TW_EVENT_SHUTDOWN,
                               strcmp(s, "stopped, then ok") == 0 ? finish_ok : finish_failed, rc);
    } else if (strcmp(s, "synchronous stop") == 0) {
        tw_call_when_running(r, stop_then_finish, rc);
    } else if (strcmp(s, "asynchronous stop") == 0) {
        tw_call_later(r, 0, stop_reactor, rc, NULL);
    }
    return d;
}

static int run_react(react_case *rc, const char *scenario)
{
    rc->scenario = scenario;
    char *argv[] = {"prog", "x", "y", NULL};
    int status = tw_react(react_main, rc, 3, argv);
    tw_deferred_unref(rc->finished);
    rc->finished = NULL;
    return status;
}

static void test_react_runs_until_async_callback(void **state)
{
    (void)state;
    react_case rc = {0};
    assert_int_equal(run_react(&rc, "async ok"), 0);
    assert_int_equal(rc.first_event_seen_by_finish, 1);
    assert_int_equal(rc.events, 1);
    assert_int_equal(tw_test_log_count(&rc.log), 0);
    assert_int_equal(rc.argc, 3);
    assert_string_equal(rc.last_arg, "y");
    assert_ptr_equal(rc.arg, &rc);
    tw_test_log_destroy(&rc.log);
}

static void test_react_sync_callback(void **state)
{
    (void)state;
    react_case rc = {0};
    assert_int_equal(run_react(&rc, "sync ok"), 0);
    assert_int_equal(tw_test_log_count(&rc.log), 0);
    tw_test_log_destroy(&rc.log);
}

static void test_react_failures_exit_1_and_are_logged(void **state)
{
    (void)state;
    static const char *const scenarios[] = {"async fail", "sync fail", "stopped, then fail"};
    for (size_t i = 0; i < 3; i++) {
        react_case rc = {0};
        assert_int_equal(run_react(&rc, scenarios[i]), 1);
        assert_int_equal(tw_test_log_count(&rc.log), 1);
        assert_true(tw_test_log_contains(
            &rc.log, "main function encountered error: ExpectedException: expected"));
        tw_test_log_destroy(&rc.log);
    }
}

static void test_react_single_stop(void **state)
{
    (void)state;
    static const char *const scenarios[] = {"stopped, then ok", "synchronous stop",
                                            "asynchronous stop"};
    for (size_t i = 0; i < 3; i++) {
        react_case rc = {0};
        assert_int_equal(run_react(&rc, scenarios[i]), 0);
        assert_int_equal(tw_test_log_count(&rc.log), 0); /* no second stop reported as an error */
        tw_test_log_destroy(&rc.log);
    }
}

static void test_react_system_exit_status(void **state)
{
    (void)state;
    react_case rc = {0};
    assert_int_equal(run_react(&rc, "exit 23"), 23);
    assert_int_equal(tw_test_log_count(&rc.log), 0);
    tw_test_log_destroy(&rc.log);
    tw_failure *fl = tw_system_exit(300);
    assert_int_equal(tw_system_exit_status(fl), 255);
    assert_string_equal(tw_failure_type(fl), TW_SYSTEM_EXIT);
    tw_failure_unref(fl);
    fl = tw_failure_from_errno(-EIO, NULL);
    assert_int_equal(tw_system_exit_status(fl), -1);
    tw_failure_unref(fl);
    assert_int_equal(tw_system_exit_status(NULL), -1);
}

static void test_react_main_without_deferred(void **state)
{
    (void)state;
    react_case rc = {0};
    assert_int_equal(run_react(&rc, "no deferred"), 1);
    assert_true(tw_test_log_contains(&rc.log, "it returned no deferred"));
    tw_test_log_destroy(&rc.log);
    assert_int_equal(tw_react(NULL, NULL, 0, NULL), 1);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_callback_time_skips),
        T(test_reactor_time_skips),
        T(test_reactor_time_count_skips),
        T(test_count_lengthy_interval_counts),
        T(test_with_count_floating_point_boundary),
        T(test_with_count_interval_zero),
        T(test_with_count_interval_zero_delay),
        T(test_with_count_interval_zero_then_nonzero),
        T(test_interval_change_keeps_the_grid_start),
        T(test_grid_points_are_exact_to_the_nanosecond),
        T(test_basic_function),
        T(test_delayed_start),
        T(test_bad_arguments),
        T(test_stop_before_first_call),
        T(test_reset),
        T(test_restart_after_stop),
        T(test_failure_stops_the_loop),
        T(test_fail_and_stop),
        T(test_every_iteration),
        T(test_stop_at_once_later),
        T(test_wait_deferred),
        T(test_failure_propagation),
        T(test_deferred_with_count),
        T(test_stop_while_awaiting_fires_when_the_deferred_does),
        T(test_free_from_inside_and_while_running),
        T(test_defer_later_callback),
        T(test_defer_later_errback),
        T(test_defer_later_cancel),
        T(test_defer_later_no_callback),
        T(test_defer_later_chains_and_outlives_the_callers_reference),
        T(test_defer_later_bad_arguments),
        cmocka_unit_test(test_react_runs_until_async_callback),
        cmocka_unit_test(test_react_sync_callback),
        cmocka_unit_test(test_react_failures_exit_1_and_are_logged),
        cmocka_unit_test(test_react_single_stop),
        cmocka_unit_test(test_react_system_exit_status),
        cmocka_unit_test(test_react_main_without_deferred),
    };
    return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
