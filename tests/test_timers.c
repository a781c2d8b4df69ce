/* Tests for the reactor's timers (tw_call_later and the tw_delayed_call handle): ordering, the
 * collect-then-fire rule, cancel/reset/delay in every state, handle lifetime, failing callbacks.
 * Timing runs on a controllable clock driven turn by turn; one real-clock test guards the
 * default. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/reactor_test.h"

#define EVENTS_MAX 20000

/* What a test needs: a reactor on a test clock, a capturing log, and a record of which callbacks
 * ran in which order. */
typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
    int events[EVENTS_MAX];
    int nevents;
} fixture;

/* One scheduled call: which fixture, its id in the event record, and an optional action. */
typedef struct tick tick;
typedef int (*tick_action)(tick *t);
struct tick {
    fixture *f;
    int id;
    tick_action action;
    tw_delayed_call *dc;     /* this call's own handle */
    tw_delayed_call *other;  /* a handle the action works on */
    void *extra;             /* anything else the action needs */
    int result;              /* what the action saw */
    double seen_seconds;     /* tw_reactor_seconds() when it ran */
};

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_CONTROLLED_CLOCK);
}

static int teardown(void **state)
{
    return tw_test_fixture_teardown(state);
}

static void record(fixture *f, int id)
{
    assert_true(f->nevents < EVENTS_MAX);
    f->events[f->nevents++] = id;
}

static int tick_fn(void *arg)
{
    tick *t = arg;
    record(t->f, t->id);
    t->seen_seconds = tw_reactor_seconds(t->f->env.r);
    return t->action ? t->action(t) : 0;
}

static tw_delayed_call *schedule(fixture *f, tick *t, int id, double delay)
{
    t->f = f;
    t->id = id;
    t->dc = tw_call_later(f->env.r, delay, tick_fn, t, NULL);
    assert_non_null(t->dc);
    return t->dc;
}

/* Advances the test clock and runs one non-blocking turn. */
static int advance(fixture *f, double seconds)
{
    return tw_test_clock_turn(f->env.r, &f->env.clock, seconds);
}

static double start_seconds(void)
{
    return (double)TW_TEST_CLOCK_START_NS / 1e9;
}

/* ---- time ------------------------------------------------------------------------------------ */

static void test_clock_is_cached_and_replaceable(void **state)
{
    fixture *f = *state;
    /* set_clock refreshed the cached time at once. */
    assert_int_equal(tw_reactor_now(f->env.r), TW_TEST_CLOCK_START_NS);
    assert_true(fabs(tw_reactor_seconds(f->env.r) - start_seconds()) < 1e-9);

    /* The clock moving does not move the cached time until the next turn. */
    tw_test_clock_advance(&f->env.clock, 2.5);
    assert_int_equal(tw_reactor_now(f->env.r), TW_TEST_CLOCK_START_NS);
    tw_reactor_iterate(f->env.r, 0);
    assert_int_equal(tw_reactor_now(f->env.r), TW_TEST_CLOCK_START_NS + INT64_C(2500000000));

    /* NULL restores the monotonic system clock, which is not frozen. */
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    int64_t a = tw_reactor_now(f->env.r);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do /* let 2 ms of real time pass */
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 2000000);
    tw_reactor_iterate(f->env.r, 0);
    int64_t b = tw_reactor_now(f->env.r);
    assert_true(b - a >= 2000000);
    assert_true(b - a < INT64_C(10000000000));
}

/* Every callback of one turn sees the same time, even if the clock moves meanwhile. */
static int advance_clock_action(tick *t)
{
    tw_test_clock_advance(&t->f->env.clock, 100.0);
    return 0;
}

static void test_now_is_the_same_for_a_whole_turn(void **state)
{
    fixture *f = *state;
    tick t[2] = { 0 };
    schedule(f, &t[0], 0, 1.0);
    schedule(f, &t[1], 1, 1.0);
    t[0].action = advance_clock_action;
    assert_int_equal(advance(f, 1.0), 2);
    assert_int_equal(f->nevents, 2);
    assert_true(t[0].seen_seconds == t[1].seen_seconds);
    assert_true(fabs(t[0].seen_seconds - (start_seconds() + 1.0)) < 1e-6);
}

/* ---- ordering -------------------------------------------------------------------------------- */

static void test_equal_deadlines_fire_in_scheduling_order(void **state)
{
    fixture *f = *state;
    enum { N = 1000 };
    tick *t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++)
        schedule(f, &t[i], i, 0.5);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), N);
    assert_int_equal(advance(f, 0.5), N);
    assert_int_equal(f->nevents, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(f->events[i], i);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    free(t);
}

/* Same deadline reached from different scheduling times: still first scheduled, first run. */
static void test_equal_deadline_scheduled_at_different_times(void **state)
{
    fixture *f = *state;
    tick t[2] = { 0 };
    schedule(f, &t[0], 0, 2.0);
    advance(f, 1.0);
    schedule(f, &t[1], 1, 1.0);
    assert_true(tw_delayed_call_get_time(t[0].dc) == tw_delayed_call_get_time(t[1].dc));
    assert_int_equal(advance(f, 1.0), 2);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[0], 0);
    assert_int_equal(f->events[1], 1);
}

static void test_different_deadlines_fire_in_deadline_order(void **state)
{
    fixture *f = *state;
    static const double delays[] = { 5, 1, 3, 2, 4, 0.5, 3 };
    enum { N = sizeof delays / sizeof delays[0] };
    tick t[N] = { 0 };
    for (int i = 0; i < N; i++)
        schedule(f, &t[i], i, delays[i]);

    /* All due at once: one turn runs them sorted by deadline, ties in scheduling order. */
    assert_int_equal(advance(f, 10.0), N);
    static const int want[] = { 5, 1, 3, 2, 6, 4, 0 };
    assert_int_equal(f->nevents, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(f->events[i], want[i]);
}

static void test_only_due_calls_run(void **state)
{
    fixture *f = *state;
    tick t[3] = { 0 };
    schedule(f, &t[0], 0, 1.0);
    schedule(f, &t[1], 1, 2.0);
    schedule(f, &t[2], 2, 3.0);
    assert_int_equal(advance(f, 0.999), 0);
    assert_int_equal(f->nevents, 0);
    assert_int_equal(advance(f, 0.001), 1);
    assert_int_equal(advance(f, 1.5), 1);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    assert_int_equal(advance(f, 0.5), 1);
    assert_int_equal(f->nevents, 3);
    assert_int_equal(f->events[2], 2);
}

static void test_negative_delay_counts_as_zero(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 7, -5.0);
    assert_true(fabs(tw_delayed_call_get_time(t.dc) - start_seconds()) < 1e-6);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(f->nevents, 1);
}

static void test_call_later_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_call_later(f->env.r, 1.0, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_call_later(NULL, 1.0, tick_fn, NULL, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_call_later(f->env.r, NAN, tick_fn, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_call_later(f->env.r, 1.0, NULL, NULL, NULL)); /* err may be NULL */
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

/* Many timers with pseudo-random deadlines, a third cancelled and some reset: every survivor runs
 * exactly once, in (deadline, scheduling order) order; no cancelled one runs. */
static void test_many_random_timers_keep_heap_order(void **state)
{
    fixture *f = *state;
    enum { N = 5000 };
    tick *t = calloc(N, sizeof *t);
    double *due = calloc(N, sizeof *due);
    bool *cancelled = calloc(N, sizeof *cancelled);
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        double delay = (double)((seed >> 8) % 1000) / 100.0; /* 0.00 .. 9.99, many ties */
        schedule(f, &t[i], i, delay);
        due[i] = delay;
    }
    for (int i = 0; i < N; i += 3) {
        assert_int_equal(tw_delayed_call_cancel(t[i].dc), 0);
        cancelled[i] = true;
    }
    for (int i = 1; i < N; i += 7) {
        if (cancelled[i])
            continue; /* its handle is gone */
        assert_int_equal(tw_delayed_call_reset(t[i].dc, 5.0), 0);
        due[i] = 5.0;
    }
    size_t live = 0;
    for (int i = 0; i < N; i++)
        live += !cancelled[i];
    assert_int_equal(tw_reactor_pending_calls(f->env.r), live);

    for (int step = 0; step < 1000; step++)
        advance(f, 0.01);
    advance(f, 1.0);
    assert_int_equal(f->nevents, (int)live);
    bool *seen = calloc(N, sizeof *seen);
    for (int k = 0; k < f->nevents; k++) {
        int id = f->events[k];
        assert_false(cancelled[id]);
        assert_false(seen[id]);
        seen[id] = true;
        if (k > 0) {
            int prev = f->events[k - 1];
            assert_true(due[prev] <= due[id] + 1e-9);
        }
    }
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    free(seen);
    free(cancelled);
    free(due);
    free(t);
}

/* ---- collect-then-fire ----------------------------------------------------------------------- */

#define READER_ID 1000

static int schedule_zero_action(tick *t)
{
    tick *next = t->extra;
    schedule(t->f, next, next->id, 0.0);
    return 0;
}

static int counting_reader(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    record(arg, READER_ID);
    return 0;
}

static void test_zero_delay_from_timer_waits_for_next_turn(void **state)
{
    fixture *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1); /* never read: readable on every turn */
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], counting_reader, f), 0);

    tick a = { 0 }, b = { 0 };
    b.id = 2;
    a.action = schedule_zero_action;
    a.extra = &b;
    schedule(f, &a, 1, 0.0);

    tw_reactor_iterate(f->env.r, 0);
    /* A ran, B was scheduled for "now" but must wait for the next turn. */
    bool a_ran = false, b_ran = false;
    for (int i = 0; i < f->nevents; i++) {
        a_ran |= f->events[i] == 1;
        b_ran |= f->events[i] == 2;
    }
    assert_true(a_ran);
    assert_false(b_ran);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);

    tw_reactor_iterate(f->env.r, 0);
    /* Between A and B the ready reader had its turn. */
    int ia = -1, ib = -1, reader_between = 0;
    for (int i = 0; i < f->nevents; i++) {
        if (f->events[i] == 1)
            ia = i;
        else if (f->events[i] == 2)
            ib = i;
        else if (f->events[i] == READER_ID && ia >= 0 && ib < 0)
            reader_between++;
    }
    assert_true(ia >= 0 && ib > ia);
    assert_true(reader_between >= 1);
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[0]), 0);
    close(p[1]);
}

/* A timer that keeps re-arming itself with delay 0 runs once per turn and never starves I/O. */
typedef struct {
    fixture *f;
    int runs;
} rearm;

static int rearm_fn(void *arg)
{
    rearm *x = arg;
    x->runs++;
    return tw_call_later(x->f->env.r, 0.0, rearm_fn, x, NULL) ? 0 : -ENOMEM;
}

static void test_rearming_zero_timer_does_not_starve_io(void **state)
{
    fixture *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], counting_reader, f), 0);
    rearm x = { f, 0 };
    assert_non_null(tw_call_later(f->env.r, 0.0, rearm_fn, &x, NULL));
    for (int turn = 0; turn < 10; turn++)
        assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_int_equal(x.runs, 10);
    int reads = 0;
    for (int i = 0; i < f->nevents; i++)
        reads += f->events[i] == READER_ID;
    assert_int_equal(reads, 10);
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[0]), 0);
    close(p[1]);
}

/* A not-yet-due call reset to 0 from a callback is not run by the turn that already collected. */
static int reset_other_to_zero_action(tick *t)
{
    t->result = tw_delayed_call_reset(t->other, 0.0);
    return 0;
}

static void test_reset_to_now_from_callback_waits_for_next_turn(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, b = { 0 };
    schedule(f, &a, 1, 1.0);
    schedule(f, &b, 2, 10.0);
    a.action = reset_other_to_zero_action;
    a.other = b.dc;
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(a.result, 0);
    assert_int_equal(f->nevents, 1);
    assert_true(fabs(tw_delayed_call_get_time(b.dc) - (start_seconds() + 1.0)) < 1e-6);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[1], 2);
}

/* ---- cancel / reset / delay ------------------------------------------------------------------ */

static void test_cancel_before_it_runs(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 1, 1.0);
    tw_delayed_call *dc = tw_delayed_call_ref(t.dc);
    assert_ptr_equal(dc, t.dc);
    assert_true(tw_delayed_call_active(dc));
    assert_false(tw_delayed_call_called(dc));
    assert_false(tw_delayed_call_cancelled(dc));
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);

    assert_int_equal(tw_delayed_call_cancel(dc), 0);
    assert_false(tw_delayed_call_active(dc));
    assert_false(tw_delayed_call_called(dc));
    assert_true(tw_delayed_call_cancelled(dc));
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);

    assert_int_equal(tw_delayed_call_cancel(dc), TW_EALREADYCANCELLED);
    assert_int_equal(tw_delayed_call_reset(dc, 1.0), TW_EALREADYCANCELLED);
    assert_int_equal(tw_delayed_call_delay(dc, 1.0), TW_EALREADYCANCELLED);
    /* get_time still answers for a cancelled call. */
    assert_true(fabs(tw_delayed_call_get_time(dc) - (start_seconds() + 1.0)) < 1e-6);

    assert_int_equal(advance(f, 5.0), 0);
    assert_int_equal(f->nevents, 0);
    tw_delayed_call_unref(dc);
}

/* Cancelling without holding a reference frees the handle; the reactor must not touch it again. */
static void test_cancel_without_reference_then_run(void **state)
{
    fixture *f = *state;
    tick t[3] = { 0 };
    for (int i = 0; i < 3; i++)
        schedule(f, &t[i], i, 1.0);
    assert_int_equal(tw_delayed_call_cancel(t[1].dc), 0);
    assert_int_equal(advance(f, 1.0), 2);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[0], 0);
    assert_int_equal(f->events[1], 2);
}

static int cancel_other_action(tick *t)
{
    t->result = tw_delayed_call_cancel(t->other);
    return 0;
}

static void test_cancel_due_call_from_earlier_callback_same_turn(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, b = { 0 }, c = { 0 };
    schedule(f, &a, 1, 1.0);
    schedule(f, &b, 2, 1.0);
    schedule(f, &c, 3, 1.5);
    a.action = cancel_other_action;
    a.other = tw_delayed_call_ref(b.dc);
    assert_int_equal(advance(f, 2.0), 2);
    assert_int_equal(a.result, 0);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[0], 1);
    assert_int_equal(f->events[1], 3);
    assert_true(tw_delayed_call_cancelled(a.other));
    assert_false(tw_delayed_call_called(a.other));
    tw_delayed_call_unref(a.other);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

/* A cancels B that already ran earlier in the same turn: already called. */
static void test_cancel_call_that_already_ran_this_turn(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, b = { 0 };
    schedule(f, &b, 2, 1.0);
    schedule(f, &a, 1, 1.0);
    a.action = cancel_other_action;
    a.other = tw_delayed_call_ref(b.dc);
    assert_int_equal(advance(f, 1.0), 2);
    assert_int_equal(a.result, TW_EALREADYCALLED);
    assert_true(tw_delayed_call_called(a.other));
    assert_false(tw_delayed_call_cancelled(a.other));
    tw_delayed_call_unref(a.other);
}

static int reset_other_later_action(tick *t)
{
    t->result = tw_delayed_call_reset(t->other, 5.0);
    return 0;
}

static void test_reset_due_call_to_later_from_earlier_callback(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, b = { 0 };
    schedule(f, &a, 1, 1.0);
    schedule(f, &b, 2, 1.0);
    a.action = reset_other_later_action;
    a.other = b.dc;
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(a.result, 0);
    assert_int_equal(f->nevents, 1);
    assert_true(tw_delayed_call_active(b.dc));
    assert_true(fabs(tw_delayed_call_get_time(b.dc) - (start_seconds() + 6.0)) < 1e-6);
    assert_int_equal(advance(f, 4.999), 0);
    assert_int_equal(advance(f, 0.001), 1);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(f->events[1], 2);
}

static int delay_other_action(tick *t)
{
    t->result = tw_delayed_call_delay(t->other, 1.0);
    return 0;
}

static void test_delay_due_call_from_earlier_callback(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, b = { 0 };
    schedule(f, &a, 1, 1.0);
    schedule(f, &b, 2, 1.0);
    a.action = delay_other_action;
    a.other = b.dc;
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(a.result, 0);
    assert_int_equal(advance(f, 0.5), 0);
    assert_int_equal(advance(f, 0.5), 1);
    assert_int_equal(f->nevents, 2);
}

static void test_reset_before_it_runs(void **state)
{
    fixture *f = *state;
    tick t[2] = { 0 };
    schedule(f, &t[0], 0, 10.0);
    schedule(f, &t[1], 1, 2.0);
    /* Earlier: moves ahead of the other call. */
    assert_int_equal(tw_delayed_call_reset(t[0].dc, 1.0), 0);
    assert_true(fabs(tw_delayed_call_get_time(t[0].dc) - (start_seconds() + 1.0)) < 1e-6);
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(f->events[0], 0);

    /* Later: counted from now, not from the old deadline. */
    assert_int_equal(tw_delayed_call_reset(t[1].dc, 3.0), 0);
    assert_true(fabs(tw_delayed_call_get_time(t[1].dc) - (start_seconds() + 4.0)) < 1e-6);
    assert_int_equal(advance(f, 2.0), 0);
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(f->nevents, 2);
    assert_true(fabs(t[1].seen_seconds - (start_seconds() + 4.0)) < 1e-6);
}

static void test_delay_before_it_runs(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 0, 1.0);
    assert_int_equal(tw_delayed_call_delay(t.dc, 2.0), 0);
    assert_true(fabs(tw_delayed_call_get_time(t.dc) - (start_seconds() + 3.0)) < 1e-6);
    /* A negative delay moves it earlier. */
    assert_int_equal(tw_delayed_call_delay(t.dc, -0.5), 0);
    assert_true(fabs(tw_delayed_call_get_time(t.dc) - (start_seconds() + 2.5)) < 1e-6);
    assert_int_equal(advance(f, 2.4), 0);
    assert_int_equal(advance(f, 0.1), 1);
}

/* Inside its own callback a call counts as called: cancel/reset/delay say so, active is false. */
static int self_action(tick *t)
{
    tw_delayed_call *self = t->dc;
    int ok = tw_delayed_call_cancel(self) == TW_EALREADYCALLED &&
             tw_delayed_call_reset(self, 1.0) == TW_EALREADYCALLED &&
             tw_delayed_call_delay(self, 1.0) == TW_EALREADYCALLED &&
             !tw_delayed_call_active(self) && tw_delayed_call_called(self) &&
             !tw_delayed_call_cancelled(self) &&
             tw_delayed_call_get_time(self) == t->seen_seconds;
    t->result = ok ? 1 : -1;
    return 0;
}

static void test_cancel_reset_delay_from_own_callback(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 0, 1.0);
    t.action = self_action;
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(t.result, 1);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

/* A reference keeps the handle valid after it ran; it answers as a called call. */
static void test_reference_keeps_handle_after_run(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 0, 1.5);
    tw_delayed_call *dc = tw_delayed_call_ref(t.dc);
    /* Two references, two unrefs. */
    assert_ptr_equal(tw_delayed_call_ref(dc), dc);
    assert_int_equal(advance(f, 1.5), 1);
    assert_true(tw_delayed_call_called(dc));
    assert_false(tw_delayed_call_active(dc));
    assert_false(tw_delayed_call_cancelled(dc));
    assert_true(fabs(tw_delayed_call_get_time(dc) - (start_seconds() + 1.5)) < 1e-6);
    assert_int_equal(tw_delayed_call_cancel(dc), TW_EALREADYCALLED);
    assert_int_equal(tw_delayed_call_reset(dc, 1.0), TW_EALREADYCALLED);
    assert_int_equal(tw_delayed_call_delay(dc, 1.0), TW_EALREADYCALLED);
    tw_delayed_call_unref(dc);
    assert_true(tw_delayed_call_called(dc));
    tw_delayed_call_unref(dc);
    /* Nothing ran twice. */
    assert_int_equal(advance(f, 10.0), 0);
    assert_int_equal(f->nevents, 1);
}

/* A handle used after the reactor dropped it (it ran, or was cancelled, and nobody held a
 * reference) is stale: its memory already serves the next call, which the stale handle must not
 * reach. Every use of it is refused with -ESTALE or answered as for no call at all. */
static void test_stale_handle_leaves_the_next_call_alone(void **state)
{
    fixture *f = *state;
    tick ran = { 0 }, cancelled = { 0 }, next[2] = { { 0 } };
    schedule(f, &ran, 1, 1.0);
    tw_delayed_call *stale_ran = ran.dc;
    assert_int_equal(advance(f, 1.0), 1);
    schedule(f, &cancelled, 2, 1.0);
    tw_delayed_call *stale_cancelled = cancelled.dc;
    assert_int_equal(tw_delayed_call_cancel(stale_cancelled), 0);
    /* The pool hands the freed memory to the next calls. */
    schedule(f, &next[0], 3, 1.0);
    schedule(f, &next[1], 4, 1.0);
    tw_delayed_call *stale[2] = { stale_ran, stale_cancelled };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tw_delayed_call_cancel(stale[i]), -ESTALE);
        assert_int_equal(tw_delayed_call_reset(stale[i], 10.0), -ESTALE);
        assert_int_equal(tw_delayed_call_delay(stale[i], 10.0), -ESTALE);
        assert_false(tw_delayed_call_active(stale[i]));
        assert_false(tw_delayed_call_called(stale[i]));
        assert_false(tw_delayed_call_cancelled(stale[i]));
        assert_true(tw_delayed_call_get_time(stale[i]) == 0);
        assert_null(tw_delayed_call_ref(stale[i]));
        tw_delayed_call_unref(stale[i]); /* does nothing: it holds no reference */
    }
    assert_true(tw_delayed_call_active(next[0].dc));
    assert_true(tw_delayed_call_active(next[1].dc));
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 2);
    assert_int_equal(advance(f, 1.0), 2);
    assert_int_equal(f->nevents, 3);
    assert_int_equal(f->events[1], 3);
    assert_int_equal(f->events[2], 4);
}

/* A reference keeps a handle valid (not stale) until the last unref, as before. */
static void test_referenced_handle_is_not_stale_until_unref(void **state)
{
    fixture *f = *state;
    tick t = { 0 }, next = { 0 };
    schedule(f, &t, 1, 1.0);
    tw_delayed_call *dc = tw_delayed_call_ref(t.dc);
    assert_int_equal(tw_delayed_call_cancel(dc), 0);
    assert_int_equal(tw_delayed_call_cancel(dc), TW_EALREADYCANCELLED);
    assert_true(tw_delayed_call_cancelled(dc));
    tw_delayed_call_unref(dc);
    schedule(f, &next, 2, 1.0);
    assert_int_equal(tw_delayed_call_cancel(dc), -ESTALE);
    assert_true(tw_delayed_call_active(next.dc));
    assert_int_equal(advance(f, 1.0), 1);
    assert_int_equal(f->events[0], 2);
}

static void test_pending_count(void **state)
{
    fixture *f = *state;
    tick t[4] = { 0 };
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    for (int i = 0; i < 4; i++)
        schedule(f, &t[i], i, 1.0 + i);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 4);
    tw_delayed_call_cancel(t[3].dc);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 3);
    advance(f, 1.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 2);
    advance(f, 5.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

/* Pending calls are dropped, not run, when the reactor is freed (ASan checks they are freed). */
static void test_free_drops_pending_calls(void **state)
{
    fixture *f = *state;
    tick t[3] = { 0 };
    for (int i = 0; i < 3; i++)
        schedule(f, &t[i], i, 0.0);
    tw_reactor_free(f->env.r);
    f->env.r = tw_reactor_new(NULL);
    assert_non_null(f->env.r);
    assert_int_equal(f->nevents, 0);
}

/* ---- failures, stop, call_when_running ------------------------------------------------------- */

static int fail_eio_action(tick *t)
{
    (void)t;
    return -EIO;
}

static int fail_callback_action(tick *t)
{
    (void)t;
    return TW_ECALLBACK;
}

static void test_failing_callback_is_logged_and_next_runs(void **state)
{
    fixture *f = *state;
    tick t[3] = { 0 };
    schedule(f, &t[0], 0, 1.0);
    schedule(f, &t[1], 1, 1.0);
    schedule(f, &t[2], 2, 1.0);
    t[0].action = fail_eio_action;
    t[1].action = fail_callback_action;
    assert_int_equal(advance(f, 1.0), 3);
    assert_int_equal(f->nevents, 3);
    assert_int_equal(f->events[2], 2);
    assert_int_equal(tw_test_log_count(&f->env.log), 2);
    assert_int_equal(tw_test_log_errors(&f->env.log), 2);
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-EIO)));
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(TW_ECALLBACK)));
    /* The reactor keeps working. */
    schedule(f, &t[0], 9, 0.0);
    t[0].action = NULL;
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 1);
}

static int stop_action(tick *t)
{
    t->result = tw_reactor_stop(t->f->env.r);
    return 0;
}

static void test_stop_from_timer(void **state)
{
    fixture *f = *state;
    tick a = { 0 }, later = { 0 };
    schedule(f, &a, 1, 0.0);
    a.action = stop_action;
    schedule(f, &later, 2, 1000.0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(a.result, 0);
    assert_false(tw_reactor_running(f->env.r));
    assert_int_equal(f->nevents, 1);
}

typedef struct {
    fixture *f;
    int order;
    int returned_first; /* set by the caller after tw_call_when_running returns */
    int ran_at;
    bool running_when_run;
} when_running;

static int when_running_fn(void *arg)
{
    when_running *w = arg;
    w->ran_at = ++w->order;
    w->running_when_run = tw_reactor_running(w->f->env.r);
    return 0;
}

static int call_when_running_inside_action(tick *t)
{
    when_running *w = t->extra;
    int rc = tw_call_when_running(t->f->env.r, when_running_fn, w);
    w->returned_first = ++w->order;
    tw_reactor_stop(t->f->env.r);
    return rc;
}

static void test_call_when_running_before_and_during_run(void **state)
{
    fixture *f = *state;
    when_running before = { f, 0, 0, 0, false };
    assert_int_equal(tw_call_when_running(f->env.r, when_running_fn, &before), 0);
    assert_int_equal(before.ran_at, 0); /* not yet: the reactor is not running */

    when_running during = { f, 0, 0, 0, false };
    tick t = { 0 };
    schedule(f, &t, 0, 0.0);
    t.action = call_when_running_inside_action;
    t.extra = &during;
    assert_int_equal(tw_reactor_run(f->env.r), 0);

    assert_int_equal(before.ran_at, 1);
    assert_true(before.running_when_run);
    /* While running: at once, before tw_call_when_running returned. */
    assert_int_equal(during.ran_at, 1);
    assert_int_equal(during.returned_first, 2);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    assert_true(tw_call_when_running(f->env.r, NULL, NULL) < 0);
}

/* A real-clock guard: a 30 ms timer fires after at least 30 ms, and well within 5 s. */
static double real_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_real_clock_timer(void **state)
{
    fixture *f = *state;
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    tick t = { 0 };
    double start = real_seconds();
    schedule(f, &t, 0, 0.03);
    t.action = stop_action;
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    double elapsed = real_seconds() - start;
    assert_int_equal(f->nevents, 1);
    assert_true(elapsed >= 0.029);
    assert_true(elapsed < 5.0);
}

/* iterate with a negative timeout returns once a timer fires instead of blocking forever. */
static void test_blocking_iterate_wakes_for_timer(void **state)
{
    fixture *f = *state;
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    tick t = { 0 };
    schedule(f, &t, 0, 0.01);
    double start = real_seconds();
    while (f->nevents == 0 && real_seconds() - start < 5.0)
        assert_true(tw_reactor_iterate(f->env.r, -1) >= 0);
    assert_int_equal(f->nevents, 1);
}

/* The wait of a turn counts from the time the turn starts, not from the cached time of the turn
 * before: callbacks that took a while must not make the next timer late by as long. */
static int slow_work_action(tick *t)
{
    tw_test_clock_advance(&t->f->env.clock, 0.5);  /* the callback "took" half a second */
    return 0;
}

static void test_wait_counts_from_the_start_of_the_turn(void **state)
{
    fixture *f = *state;
    tick t[2] = { 0 };
    schedule(f, &t[0], 0, 0);
    t[0].action = slow_work_action;
    schedule(f, &t[1], 1, 0.5);
    assert_int_equal(advance(f, 0), 1);
    /* The clock already reads B's deadline: the next turn must not block for another 0.5 s. */
    double start = real_seconds();
    assert_int_equal(tw_reactor_iterate(f->env.r, 2.0), 1);
    assert_true(real_seconds() - start < 0.25);
    assert_int_equal(f->nevents, 2);
}

/* ---- time arithmetic at the edges of int64 --------------------------------------------------- */

/* Delaying a call again and again saturates at the far future instead of wrapping to the past. */
static void test_repeated_huge_delays_saturate(void **state)
{
    fixture *f = *state;
    tick t = { 0 };
    schedule(f, &t, 0, 1.0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_delayed_call_delay(t.dc, 1e300), 0);
    assert_int_equal(advance(f, 10.0), 0);
    assert_int_equal(f->nevents, 0);
    assert_true(tw_delayed_call_get_time(t.dc) > 9e9);
    /* And the other way: far into the past, the call is simply due. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_delayed_call_delay(t.dc, -1e300), 0);
    assert_int_equal(advance(f, 0), 1);
    assert_int_equal(f->nevents, 1);
}

/* A clock near the end of int64: a deadline past it saturates instead of wrapping. */
static void test_deadline_near_the_end_of_time_saturates(void **state)
{
    fixture *f = *state;
    f->env.clock.ns = INT64_MAX - INT64_C(1000000000);
    tw_reactor_iterate(f->env.r, 0);
    tick t[2] = { 0 };
    schedule(f, &t[0], 0, 10.0);
    schedule(f, &t[1], 1, 1e300);
    assert_int_equal(tw_delayed_call_reset(t[1].dc, 5.0), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(f->nevents, 0);
    assert_true(tw_delayed_call_active(t[0].dc));
    assert_true(tw_delayed_call_active(t[1].dc));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clock_is_cached_and_replaceable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_now_is_the_same_for_a_whole_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equal_deadlines_fire_in_scheduling_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_equal_deadline_scheduled_at_different_times, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_different_deadlines_fire_in_deadline_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_only_due_calls_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_delay_counts_as_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_later_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_random_timers_keep_heap_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_delay_from_timer_waits_for_next_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rearming_zero_timer_does_not_starve_io, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_to_now_from_callback_waits_for_next_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_it_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_without_reference_then_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_due_call_from_earlier_callback_same_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_call_that_already_ran_this_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_due_call_to_later_from_earlier_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delay_due_call_from_earlier_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_before_it_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_before_it_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_reset_delay_from_own_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_keeps_handle_after_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_handle_leaves_the_next_call_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_referenced_handle_is_not_stale_until_unref, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_drops_pending_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_callback_is_logged_and_next_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_when_running_before_and_during_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_real_clock_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_iterate_wakes_for_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_counts_from_the_start_of_the_turn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repeated_huge_delays_saturate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_near_the_end_of_time_saturates, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("timers", tests, NULL, NULL);
}
