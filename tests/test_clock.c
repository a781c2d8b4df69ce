/* Tests for tw_clock (testing.h), ported from Twisted's ClockTests in test_task.py, plus what twine
 * adds: the advance that runs what due calls schedule for the same instant, an advance from inside
 * a callback, and code built on timers (a deferred timeout) running on the clock unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "support/clock_env.h"
#include "support/outcome.h"

#define EVENTS_MAX 16

typedef struct {
    tw_test_clock_env env;   /* the clock, its reactor, the reactor's log */
    char events[EVENTS_MAX]; /* the names of the calls that ran, in order */
    double times[EVENTS_MAX]; /* tw_clock_seconds() when each ran */
    int nevents;
    tw_delayed_call *other;  /* a call the running callback acts on */
    int other_rc;
} fixture;

static int setup(void **state)
{
    return tw_test_clock_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_clock_fixture_teardown(state);
}

/* A scheduled call that records its name: arg points into one of the fixtures' call slots. */
typedef struct {
    fixture *f;
    char name;
} named;

static int log_time(void *arg)
{
    named *n = arg;
    fixture *f = n->f;
    assert_true(f->nevents < EVENTS_MAX);
    f->events[f->nevents] = n->name;
    f->times[f->nevents++] = tw_clock_seconds(f->env.clock);
    return 0;
}

static tw_delayed_call *later(fixture *f, double delay, named *n)
{
    tw_delayed_call *dc = tw_call_later(f->env.r, delay, log_time, n, NULL);
    assert_non_null(dc);
    return dc;
}

static void assert_events(fixture *f, const char *names, const double *times)
{
    int n = (int)strlen(names);
    assert_int_equal(f->nevents, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->events[i], names[i]);
        assert_true(fabs(f->times[i] - times[i]) < 1e-9);
    }
}

static void test_seconds(void **state)
{
    fixture *f = *state;
    assert_true(tw_clock_seconds(f->env.clock) == 0.0);
    assert_true(tw_reactor_seconds(f->env.r) == 0.0);
}

static void test_call_later(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'};
    tw_delayed_call *call = later(f, 1, &a);
    assert_true(tw_delayed_call_get_time(call) == 1.0);
    assert_true(tw_delayed_call_active(call));
    tw_delayed_call *other = later(f, 10, &a);
    assert_ptr_not_equal(call, other);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 2);
    assert_int_equal(tw_delayed_call_cancel(call), 0);
    assert_false(tw_delayed_call_active(call));
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
}

static void test_advance(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'};
    tw_delayed_call *call = tw_delayed_call_ref(later(f, 2, &a));
    assert_int_equal(tw_clock_advance(f->env.clock, 1), 0);
    assert_int_equal(f->nevents, 0);
    assert_int_equal(tw_clock_advance(f->env.clock, 1), 1);
    assert_events(f, "a", (double[]){2});
    assert_false(tw_delayed_call_active(call));
    tw_delayed_call_unref(call);
}

static int cancel_self(void *arg)
{
    fixture *f = arg;
    f->other_rc = tw_delayed_call_cancel(f->other);
    return 0;
}

static void test_advance_cancel(void **state)
{
    fixture *f = *state;
    f->other = tw_delayed_call_ref(tw_call_later(f->env.r, 1, cancel_self, f, NULL));
    tw_clock_advance(f->env.clock, 1);
    assert_int_equal(f->other_rc, TW_EALREADYCALLED);
    tw_delayed_call_unref(f->other);
}

static void test_call_later_delayed(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'};
    tw_delayed_call *call = later(f, 1, &a);
    assert_int_equal(tw_delayed_call_delay(call, 1), 0);
    assert_true(tw_delayed_call_get_time(call) == 2.0);
    tw_clock_advance(f->env.clock, 1.5);
    assert_int_equal(f->nevents, 0);
    tw_clock_advance(f->env.clock, 1.0);
    assert_events(f, "a", (double[]){2.5});
}

static void test_call_later_reset_later_and_sooner(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'}, b = {f, 'b'};
    tw_delayed_call *ca = later(f, 2, &a);
    tw_delayed_call *cb = later(f, 4, &b);
    tw_clock_advance(f->env.clock, 1);
    assert_int_equal(tw_delayed_call_reset(ca, 3), 0);
    assert_true(tw_delayed_call_get_time(ca) == 4.0);
    assert_int_equal(tw_delayed_call_reset(cb, 0.5), 0);
    tw_clock_advance(f->env.clock, 2);
    assert_events(f, "b", (double[]){3});
    tw_clock_advance(f->env.clock, 1);
    assert_events(f, "ba", (double[]){3, 4});
}

/* Twisted's test_callLaterKeepsCallsOrdered and test_callLaterResetKeepsCallsOrdered. */
static void test_reset_keeps_calls_ordered(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'}, b = {f, 'b'};
    tw_delayed_call *ca = later(f, 1.0, &a);
    assert_int_equal(tw_delayed_call_reset(ca, 3.0), 0);
    later(f, 2.0, &b);
    assert_int_equal(tw_clock_pump(f->env.clock, (double[]){1, 1, 1}, 3), 2);
    assert_events(f, "ba", (double[]){2, 3});
    f->nevents = 0;
    ca = later(f, 1.0, &a);
    later(f, 2.0, &b);
    assert_int_equal(tw_delayed_call_reset(ca, 3.0), 0);
    tw_clock_pump(f->env.clock, (double[]){1, 1, 1}, 3);
    assert_events(f, "ba", (double[]){5, 6});
}

static int reset_other(void *arg)
{
    fixture *f = arg;
    f->other_rc = tw_delayed_call_reset(f->other, 3.0);
    return 0;
}

static void test_reset_inside_call_keeps_calls_ordered(void **state)
{
    fixture *f = *state;
    named b = {f, 'b'}, c = {f, 'c'};
    f->other = later(f, 2.0, &b);
    tw_call_later(f->env.r, 1.0, reset_other, f, NULL);
    later(f, 3.0, &c);
    for (int i = 0; i < 10; i++)
        tw_clock_advance(f->env.clock, 0.5);
    assert_int_equal(f->other_rc, 0);
    assert_events(f, "cb", (double[]){3, 4});
}

/* ---- twine's own ---- */

static int chain_now(void *arg)
{
    named *n = arg;
    log_time(n);
    if (n[1].f)
        tw_call_later(n->f->env.r, 0, chain_now, &n[1], NULL);
    return 0;
}

static void test_advance_runs_what_due_calls_schedule_for_now(void **state)
{
    fixture *f = *state;
    named chain[4] = {{f, '1'}, {f, '2'}, {f, '3'}, {NULL, 0}};
    named late = {f, 'L'};
    tw_call_later(f->env.r, 1, chain_now, chain, NULL);
    later(f, 1.5, &late);
    assert_int_equal(tw_clock_advance(f->env.clock, 1), 3);
    assert_events(f, "123", (double[]){1, 1, 1});
    assert_int_equal(tw_clock_advance(f->env.clock, 0), 0);
    assert_int_equal(tw_clock_advance(f->env.clock, 0.5), 1);
}

static int advance_inside(void *arg)
{
    fixture *f = arg;
    f->other_rc = tw_clock_advance(f->env.clock, 2);
    f->times[0] = tw_clock_seconds(f->env.clock);
    f->times[1] = tw_reactor_seconds(f->env.r);
    return 0;
}

static void test_advance_from_inside_a_callback_moves_the_clock(void **state)
{
    fixture *f = *state;
    named a = {f, 'a'};
    tw_call_later(f->env.r, 1, advance_inside, f, NULL);
    later(f, 2.5, &a);
    tw_clock_advance(f->env.clock, 1);
    assert_int_equal(f->other_rc, 0);
    assert_true(f->times[0] == 3.0);
    assert_true(f->times[1] == 1.0); /* the turn's time stays that of the turn */
    assert_int_equal(f->nevents, 0);
    tw_clock_advance(f->env.clock, 0);
    assert_events(f, "a", (double[]){3});
}

static void test_deferred_timeout_runs_on_the_clock(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    assert_int_equal(tw_deferred_add_timeout(d, f->env.r, 30), 0);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    tw_clock_advance(f->env.clock, 29.999);
    assert_int_equal(o.fired, 0);
    tw_clock_advance(f->env.clock, 0.001);
    assert_int_equal(o.fired, 1);
    assert_string_equal(o.type, TW_TIMEOUT_ERROR);
    tw_deferred_unref(d);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_clock_advance(f->env.clock, -1), -EINVAL);
    assert_int_equal(tw_clock_advance(f->env.clock, NAN), -EINVAL);
    assert_int_equal(tw_clock_advance(NULL, 1), -EINVAL);
    assert_int_equal(tw_clock_pump(f->env.clock, (double[]){1, -1, 1}, 3), -EINVAL);
    assert_true(tw_clock_seconds(f->env.clock) == 1.0);
    assert_int_equal(tw_clock_pump(f->env.clock, NULL, 0), 0);
    assert_null(tw_clock_reactor(NULL));
    tw_clock_free(NULL);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_seconds),
        T(test_call_later),
        T(test_advance),
        T(test_advance_cancel),
        T(test_call_later_delayed),
        T(test_call_later_reset_later_and_sooner),
        T(test_reset_keeps_calls_ordered),
        T(test_reset_inside_call_keeps_calls_ordered),
        T(test_advance_runs_what_due_calls_schedule_for_now),
        T(test_advance_from_inside_a_callback_moves_the_clock),
        T(test_deferred_timeout_runs_on_the_clock),
        T(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
