/* Tests for the deferred helpers that need a running reactor: addTimeout on a controllable clock
 * (Twisted's DeferredAddTimeoutTests) and deferToThread on the real thread pool. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <twine/deferred.h>

#include "test_deferred_fixture.h"


/* Moves the clock and runs the turn in which due timers fire. */
static void advance(fixture *f, double seconds)
{
    tw_test_clock_advance(&f->env.clock, seconds);
    tw_reactor_iterate(f->env.r, 0);
}

/* Copies the outcome of a chain into a record, consuming failures. */
typedef struct {
    int calls;
    bool failed;
    char type[64];
    char message[128];
    const char *value;
} outcome;

static int record(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    outcome *o = arg;
    o->calls++;
    o->failed = tw_result_is_failure(res);
    if (o->failed) {
        tw_failure *f = tw_result_failure(res);
        strncpy(o->type, tw_failure_type(f), sizeof o->type - 1);
        strncpy(o->message, tw_failure_message(f), sizeof o->message - 1);
        tw_result_set_value(res, NULL, NULL);
    } else {
        o->value = tw_result_value(res);
    }
    return 0;
}

/* ---- addTimeout ------------------------------------------------------------------------------ */

static void test_timeout_fires_timeout_error(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    assert_int_equal(tw_deferred_add_timeout(d, f->env.r, 5.0), 0);
    tw_deferred_add_both(d, record, &o);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    advance(f, 4.9);
    assert_int_equal(o.calls, 0);
    advance(f, 0.2);
    assert_int_equal(o.calls, 1);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_TIMEOUT_ERROR);
    assert_string_equal(o.message, "Deferred timed out after 5 seconds");
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    /* The producer's late result is swallowed once (no canceller). */
    assert_int_equal(tw_deferred_callback(d, "late", NULL), 0);
    tw_deferred_unref(d);
}

static void test_result_before_deadline_removes_timer(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_timeout(d, f->env.r, 5.0);
    tw_deferred_add_both(d, record, &o);
    advance(f, 1.0);
    tw_deferred_callback(d, "in time", NULL);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    advance(f, 10.0);
    assert_int_equal(o.calls, 1);
    assert_false(o.failed);
    assert_string_equal(o.value, "in time");
    tw_deferred_unref(d);
}

static void test_failure_before_deadline_passes_unchanged(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_timeout(d, f->env.r, 5.0);
    tw_deferred_add_both(d, record, &o);
    tw_deferred_errback(d, tw_failure_from_errno(-ECONNREFUSED, NULL));
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    assert_string_equal(o.type, TW_CONNECTION_REFUSED_ERROR);
    tw_deferred_unref(d);
}

static void test_timeout_on_fired_deferred_leaves_no_timer(void **state)
{
    fixture *f = *state;
    tw_deferred *d = tw_succeed(f->env.r, "done", NULL, NULL);
    assert_int_equal(tw_deferred_add_timeout(d, f->env.r, 1.0), 0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void test_manual_cancel_before_deadline_is_plain_cancel(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_timeout(d, f->env.r, 5.0);
    tw_deferred_add_both(d, record, &o);
    tw_deferred_cancel(d);
    assert_string_equal(o.type, TW_CANCELLED_ERROR);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_deferred_unref(d);
}

static void succeeding_canceller(tw_deferred *d, void *arg)
{
    (void)arg;
    tw_deferred_callback(d, "cancel-value", NULL);
}

static void failing_canceller(tw_deferred *d, void *arg)
{
    (void)arg;
    tw_deferred_errback(d, tw_failure_new(TW_VALUE_ERROR, 0, "canceller"));
}

static void test_timeout_with_canceller_that_succeeds(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new_with_canceller(f->env.r, succeeding_canceller, NULL, NULL);
    tw_deferred_add_timeout(d, f->env.r, 1.0);
    tw_deferred_add_both(d, record, &o);
    advance(f, 1.0);
    assert_false(o.failed);
    assert_string_equal(o.value, "cancel-value");
    tw_deferred_unref(d);
}

static void test_timeout_with_canceller_that_fails(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new_with_canceller(f->env.r, failing_canceller, NULL, NULL);
    tw_deferred_add_timeout(d, f->env.r, 1.0);
    tw_deferred_add_both(d, record, &o);
    advance(f, 1.0);
    assert_string_equal(o.type, TW_VALUE_ERROR);
    tw_deferred_unref(d);
}

static int swallow_cancel(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    if (tw_failure_check(tw_result_failure(res), TW_CANCELLED_ERROR))
        tw_result_set_value(res, "swallowed", NULL);
    return 0;
}

static void test_errback_before_timeout_can_swallow_cancel(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_errback(d, swallow_cancel, NULL);
    tw_deferred_add_timeout(d, f->env.r, 1.0);
    tw_deferred_add_both(d, record, &o);
    advance(f, 2.0);
    assert_false(o.failed);
    assert_string_equal(o.value, "swallowed");
    tw_deferred_unref(d);
}

static int return_arg_deferred(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_result_set_deferred(res, tw_deferred_ref(arg));
    return 0;
}

static void test_timeout_while_waiting_on_inner(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *inner = tw_deferred_new(f->env.r, NULL);
    tw_deferred *outer = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_callback(outer, return_arg_deferred, inner);
    tw_deferred_add_timeout(outer, f->env.r, 3.0);
    tw_deferred_add_both(outer, record, &o);
    tw_deferred_callback(outer, NULL, NULL); /* now waits on inner */
    tw_deferred_unref(outer);
    advance(f, 3.0);
    assert_true(tw_deferred_called(inner)); /* the cancel went to inner */
    assert_string_equal(o.type, TW_TIMEOUT_ERROR);
    tw_deferred_unref(inner);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

/* Twisted's addTimeout covers only the callbacks added before it: once the result got past the
 * timeout's pair the timer is gone, so a deferred a later callback waits on is never cancelled. */
static void test_timeout_does_not_cover_callbacks_added_after_it(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    tw_deferred *inner = tw_deferred_new(f->env.r, NULL);
    tw_deferred *outer = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_timeout(outer, f->env.r, 3.0);
    tw_deferred_add_callback(outer, return_arg_deferred, inner);
    tw_deferred_add_both(outer, record, &o);
    tw_deferred_callback(outer, NULL, NULL); /* passes the timeout, then waits on inner */
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    advance(f, 5.0);
    assert_false(tw_deferred_called(inner));
    assert_int_equal(o.calls, 0);
    tw_deferred_callback(inner, "late", NULL);
    assert_int_equal(o.calls, 1);
    assert_string_equal(o.value, "late");
    tw_deferred_unref(outer);
    tw_deferred_unref(inner);
}

static void test_deferred_freed_unfired_cancels_its_timer(void **state)
{
    fixture *f = *state;
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_add_timeout(d, f->env.r, 3.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    tw_deferred_unref(d);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    advance(f, 5.0);
}

static void test_timeout_bad_arguments(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_deferred_add_timeout(NULL, f->env.r, 1.0), -EINVAL);
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    assert_int_equal(tw_deferred_add_timeout(d, NULL, 1.0), -EINVAL);
    assert_int_equal(tw_deferred_add_timeout(d, f->env.r, 0.0 / 0.0), -EINVAL);
    tw_deferred_unref(d);
}

/* ---- deferToThread --------------------------------------------------------------------------- */

typedef struct {
    pthread_t worker;
    int input;
} thread_work;

static int square_in_thread(tw_result *out, void *arg)
{
    thread_work *w = arg;
    w->worker = pthread_self();
    int *v = malloc(sizeof *v);
    *v = w->input * w->input;
    tw_result_set_value(out, v, free);
    return 0;
}

static int fail_in_thread(tw_result *out, void *arg)
{
    (void)out;
    (void)arg;
    return -EACCES;
}

typedef struct {
    bool done;
    bool failed;
    int value;
    pthread_t thread;
} thread_outcome;

static int record_thread_result(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    thread_outcome *o = arg;
    o->thread = pthread_self();
    o->failed = tw_result_is_failure(res);
    if (o->failed)
        tw_result_set_value(res, NULL, NULL);
    else
        o->value = *(int *)tw_result_value(res);
    o->done = true;
    return 0;
}

static void test_defer_to_thread_delivers_in_reactor_thread(void **state)
{
    fixture *f = *state;
    thread_work w = {.input = 12};
    thread_outcome o = {0};
    tw_reactor_set_clock(f->env.r, NULL, NULL); /* real waiting for a real thread */
    tw_deferred *d = tw_defer_to_thread(f->env.r, square_in_thread, &w, NULL);
    assert_non_null(d);
    tw_deferred_add_both(d, record_thread_result, &o);
    assert_true(tw_test_iterate_until(f->env.r, &o.done, 10.0));
    assert_false(o.failed);
    assert_int_equal(o.value, 144);
    assert_true(pthread_equal(o.thread, pthread_self()));
    assert_false(pthread_equal(w.worker, pthread_self()));
    tw_deferred_unref(d);
}

static void test_defer_to_thread_failure(void **state)
{
    fixture *f = *state;
    thread_outcome o = {0};
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    tw_deferred *d = tw_defer_to_thread(f->env.r, fail_in_thread, NULL, NULL);
    tw_deferred_add_both(d, record_thread_result, &o);
    assert_true(tw_test_iterate_until(f->env.r, &o.done, 10.0));
    assert_true(o.failed);
    tw_deferred_unref(d);
}

/* The late result of a cancelled thread call is destroyed in the reactor thread. */
static volatile bool late_destroyed;
static void mark_destroyed(void *v)
{
    (void)v;
    late_destroyed = true;
}

static int value_with_marker(tw_result *out, void *arg)
{
    (void)arg;
    tw_result_set_value(out, "late", mark_destroyed);
    return 0;
}

static void test_defer_to_thread_cancel(void **state)
{
    fixture *f = *state;
    outcome o = {0};
    late_destroyed = false;
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    tw_deferred *d = tw_defer_to_thread(f->env.r, value_with_marker, NULL, NULL);
    tw_deferred_add_both(d, record, &o);
    tw_deferred_cancel(d);
    assert_string_equal(o.type, TW_CANCELLED_ERROR);
    tw_deferred_unref(d);
    assert_true(tw_test_iterate_until(f->env.r, (const volatile bool *)&late_destroyed, 10.0));
}

static int stop_reactor(void *arg) { return tw_reactor_stop(arg); }

/* Work still queued at shutdown runs, and its deferred fires before tw_reactor_run() returns. */
static void test_defer_to_thread_fires_before_run_returns(void **state)
{
    fixture *f = *state;
    thread_work w = {.input = 3};
    thread_outcome o = {0};
    tw_reactor_set_clock(f->env.r, NULL, NULL);
    tw_deferred *d = tw_defer_to_thread(f->env.r, square_in_thread, &w, NULL);
    tw_deferred_add_both(d, record_thread_result, &o);
    assert_int_equal(tw_call_when_running(f->env.r, stop_reactor, f->env.r), 0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_true(o.done);
    assert_int_equal(o.value, 9);
    tw_deferred_unref(d);
}

/* Freeing a reactor that never ran: the work runs, its result is destroyed, nothing leaks. */
static void test_defer_to_thread_reactor_freed_first(void **state)
{
    fixture *f = *state;
    late_destroyed = false;
    tw_deferred *d = tw_defer_to_thread(f->env.r, value_with_marker, NULL, NULL);
    assert_non_null(d);
    tw_deferred_unref(d);
    tw_reactor_free(f->env.r);
    assert_true(late_destroyed);
    f->env.r = tw_reactor_new(NULL); /* for the teardown */
}

static void test_defer_to_thread_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_defer_to_thread(NULL, fail_in_thread, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_defer_to_thread(f->env.r, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
}

#define T(test) cmocka_unit_test_setup_teardown(test, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_timeout_fires_timeout_error),
        T(test_result_before_deadline_removes_timer),
        T(test_failure_before_deadline_passes_unchanged),
        T(test_timeout_on_fired_deferred_leaves_no_timer),
        T(test_manual_cancel_before_deadline_is_plain_cancel),
        T(test_timeout_with_canceller_that_succeeds),
        T(test_timeout_with_canceller_that_fails),
        T(test_errback_before_timeout_can_swallow_cancel),
        T(test_timeout_while_waiting_on_inner),
        T(test_timeout_does_not_cover_callbacks_added_after_it),
        T(test_deferred_freed_unfired_cancels_its_timer),
        T(test_timeout_bad_arguments),
        T(test_defer_to_thread_delivers_in_reactor_thread),
        T(test_defer_to_thread_failure),
        T(test_defer_to_thread_fires_before_run_returns),
        T(test_defer_to_thread_reactor_freed_first),
        T(test_defer_to_thread_cancel),
        T(test_defer_to_thread_bad_arguments),
    };
    return cmocka_run_group_tests_name("deferred_timeout", tests, NULL, NULL);
}
