/* Tests for deferred lists and gather (Twisted's DeferredListTests): input order, each flag, empty
 * lists, failures that keep propagating or are consumed, cancellation before and after firing, and
 * that every value and failure is freed exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twine/deferred.h>

#include "support/reactor_test.h"

#define N 3

typedef struct {
    tw_test_env env; /* reactor and captured log */
    tw_deferred *in[N];
} fixture;

static int destroyed;
static void count_destroy(void *v)
{
    (void)v;
    destroyed++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || tw_test_env_open(&f->env, TW_TEST_REAL_CLOCK) < 0) {
        free(f);
        return -1;
    }
    for (int i = 0; i < N; i++)
        f->in[i] = tw_deferred_new(f->env.r, NULL);
    destroyed = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < N; i++)
        tw_deferred_unref(f->in[i]);
    tw_test_env_close(&f->env);
    free(f);
    return 0;
}

/* The list's result, borrowed (NULL unless it fired with a value). */
static tw_list_result *list_value(tw_deferred *list)
{
    const tw_result *r = tw_deferred_result(list);
    if (!r || tw_result_is_failure(r))
        return NULL;
    return tw_result_value(r);
}

static const tw_failure *list_failure(tw_deferred *list)
{
    const tw_result *r = tw_deferred_result(list);
    return r ? tw_result_failure(r) : NULL;
}

static int swallow(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    tw_result_set_value(res, NULL, NULL);
    return 0;
}

static void test_results_in_input_order(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, 0, NULL);
    assert_non_null(list);
    tw_deferred_callback(f->in[2], "two", NULL);
    tw_deferred_errback(f->in[1], tw_failure_new("One", 0, NULL));
    assert_false(tw_deferred_called(list));
    tw_deferred_callback(f->in[0], "zero", count_destroy);
    tw_list_result *res = list_value(list);
    assert_non_null(res);
    assert_int_equal(res->count, N);
    assert_true(res->entries[0].ok);
    assert_string_equal(res->entries[0].value, "zero");
    assert_false(res->entries[1].ok);
    assert_true(tw_failure_check(res->entries[1].failure, "One"));
    assert_true(res->entries[2].ok);
    assert_string_equal(res->entries[2].value, "two");
    /* Values moved into the list; the failure keeps propagating on its input. */
    assert_null(tw_result_value(tw_deferred_result(f->in[0])));
    assert_true(tw_result_is_failure(tw_deferred_result(f->in[1])));
    tw_deferred_add_errback(f->in[1], swallow, NULL);
    tw_deferred_unref(list);
    assert_int_equal(destroyed, 1); /* "zero" freed with the list's result */
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

static void test_unconsumed_failure_is_reported_on_its_input(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, 1, 0, NULL);
    tw_deferred_errback(f->in[0], tw_failure_new("Lost", 0, "here"));
    tw_deferred_unref(list);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    tw_deferred_unref(f->in[0]);
    f->in[0] = NULL;
    assert_true(tw_test_log_contains(&f->env.log, "Unhandled error in Deferred: Lost: here"));
}

static void test_consume_errors(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, 2, TW_DL_CONSUME_ERRORS, NULL);
    tw_deferred_errback(f->in[0], tw_failure_new("A", 0, NULL));
    tw_deferred_errback(f->in[1], tw_failure_new("B", 0, NULL));
    tw_list_result *res = list_value(list);
    assert_non_null(res);
    assert_true(tw_failure_check(res->entries[0].failure, "A"));
    assert_true(tw_failure_check(res->entries[1].failure, "B"));
    assert_false(tw_result_is_failure(tw_deferred_result(f->in[0])));
    assert_false(tw_result_is_failure(tw_deferred_result(f->in[1])));
    tw_deferred_unref(list);
    for (int i = 0; i < N; i++) {
        tw_deferred_unref(f->in[i]);
        f->in[i] = NULL;
    }
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

static void test_empty_list_fires_at_once(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, NULL, 0, 0, NULL);
    assert_true(tw_deferred_called(list));
    assert_int_equal(list_value(list)->count, 0);
    tw_deferred_unref(list);
}

static void test_empty_list_with_fire_on_one_callback_never_fires(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, NULL, 0, TW_DL_FIRE_ON_ONE_CALLBACK, NULL);
    assert_false(tw_deferred_called(list));
    tw_deferred_cancel(list);
    assert_true(tw_failure_check(list_failure(list), TW_CANCELLED_ERROR));
    tw_deferred_add_errback(list, swallow, NULL);
    tw_deferred_unref(list);
}

static void test_fire_on_one_callback(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, TW_DL_FIRE_ON_ONE_CALLBACK, NULL);
    tw_deferred_errback(f->in[0], tw_failure_new("First", 0, NULL));
    assert_false(tw_deferred_called(list));
    tw_deferred_callback(f->in[1], "winner", count_destroy);
    const tw_result *r = tw_deferred_result(list);
    assert_non_null(r);
    tw_first_result *first = tw_result_value(r);
    assert_int_equal(first->index, 1);
    assert_string_equal(first->value, "winner");
    /* Later inputs keep their own results. */
    tw_deferred_callback(f->in[2], "later", NULL);
    assert_string_equal(tw_result_value(tw_deferred_result(f->in[2])), "later");
    tw_deferred_add_errback(f->in[0], swallow, NULL);
    tw_deferred_unref(list);
    assert_int_equal(destroyed, 1);
}

static void test_fire_on_one_callback_without_success_gives_all_results(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, 2, TW_DL_FIRE_ON_ONE_CALLBACK |
                                             TW_DL_CONSUME_ERRORS, NULL);
    tw_deferred_errback(f->in[0], tw_failure_new("A", 0, NULL));
    tw_deferred_errback(f->in[1], tw_failure_new("B", 0, NULL));
    tw_list_result *res = list_value(list);
    assert_non_null(res);
    assert_false(res->entries[0].ok);
    assert_false(res->entries[1].ok);
    tw_deferred_unref(list);
}

static void test_fire_on_one_errback(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, TW_DL_FIRE_ON_ONE_ERRBACK, NULL);
    tw_deferred_callback(f->in[0], "fine", NULL);
    tw_deferred_errback(f->in[2], tw_failure_from_errno(-ECONNREFUSED, NULL));
    const tw_failure *fe = list_failure(list);
    assert_non_null(fe);
    assert_true(tw_failure_check(fe, TW_FIRST_ERROR));
    assert_int_equal(tw_failure_index(fe), 2);
    assert_true(tw_failure_check(tw_failure_cause(fe), TW_CONNECTION_REFUSED_ERROR));
    assert_string_equal(tw_failure_message(fe),
                        "FirstError[#2, ConnectionRefusedError: Connection refused]");
    tw_deferred_errback(f->in[1], tw_failure_new("Second", 0, NULL));
    tw_deferred_add_errback(f->in[1], swallow, NULL);
    tw_deferred_add_errback(f->in[2], swallow, NULL);
    tw_deferred_add_errback(list, swallow, NULL);
    tw_deferred_unref(list);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

static void test_already_fired_inputs_are_processed_at_construction(void **state)
{
    fixture *f = *state;
    tw_deferred_callback(f->in[0], "a", NULL);
    tw_deferred_callback(f->in[1], "b", NULL);
    tw_deferred_callback(f->in[2], "c", NULL);
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, 0, NULL);
    tw_list_result *res = list_value(list);
    assert_non_null(res);
    assert_string_equal(res->entries[2].value, "c");
    tw_deferred_unref(list);
}

static void test_cancel_cancels_pending_inputs(void **state)
{
    fixture *f = *state;
    tw_deferred_callback(f->in[0], "done", NULL);
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, TW_DL_CONSUME_ERRORS, NULL);
    tw_deferred_cancel(list);
    tw_list_result *res = list_value(list);
    assert_non_null(res);
    assert_true(res->entries[0].ok);
    assert_true(tw_failure_check(res->entries[1].failure, TW_CANCELLED_ERROR));
    assert_true(tw_failure_check(res->entries[2].failure, TW_CANCELLED_ERROR));
    assert_true(tw_deferred_called(f->in[1]));
    tw_deferred_unref(list);
}

static void test_cancel_with_fire_on_one_errback(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(
        f->env.r, f->in, N, TW_DL_FIRE_ON_ONE_ERRBACK | TW_DL_CONSUME_ERRORS, NULL);
    tw_deferred_cancel(list);
    const tw_failure *fe = list_failure(list);
    assert_true(tw_failure_check(fe, TW_FIRST_ERROR));
    assert_int_equal(tw_failure_index(fe), 0);
    assert_true(tw_failure_check(tw_failure_cause(fe), TW_CANCELLED_ERROR));
    for (int i = 0; i < N; i++)
        assert_true(tw_deferred_called(f->in[i])); /* every input was cancelled */
    tw_deferred_add_errback(list, swallow, NULL);
    tw_deferred_unref(list);
}

static void test_cancel_after_fire_leaves_inputs_alone(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, TW_DL_FIRE_ON_ONE_CALLBACK, NULL);
    tw_deferred_callback(f->in[0], "first", NULL);
    tw_deferred_cancel(list);
    assert_false(tw_deferred_called(f->in[1]));
    assert_false(tw_deferred_called(f->in[2]));
    tw_deferred_unref(list);
}

static int record_value(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    *(const char **)arg = tw_result_value(res);
    return 0;
}

/* A list that already failed through cancel() (its first input was paused, so it could not deliver)
 * no longer collects: a value that reaches it later stays on its input, as in Twisted, rather than
 * being moved into a list that will never fire again and destroyed. */
static void check_late_value_stays_on_input(fixture *f, unsigned flags)
{
    destroyed = 0;
    tw_deferred_pause(f->in[0]);
    tw_deferred_callback(f->in[0], "late", count_destroy);
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, flags, NULL);
    tw_deferred_cancel(list);
    assert_true(tw_failure_check(list_failure(list), TW_CANCELLED_ERROR));
    const char *seen = NULL;
    tw_deferred_add_callback(f->in[0], record_value, &seen);
    tw_deferred_unpause(f->in[0]);
    assert_non_null(seen);
    assert_string_equal(seen, "late");
    assert_int_equal(destroyed, 0);
    for (int i = 1; i < N; i++)
        tw_deferred_add_errback(f->in[i], swallow, NULL);
    tw_deferred_add_errback(list, swallow, NULL);
    tw_deferred_unref(list);
}

static void test_cancelled_list_leaves_late_values_on_their_inputs(void **state)
{
    check_late_value_stays_on_input(*state, 0);
}

static void test_cancelled_fire_on_one_callback_list_leaves_late_value(void **state)
{
    check_late_value_stays_on_input(*state, TW_DL_FIRE_ON_ONE_CALLBACK);
}

static void test_list_dropped_early_still_collects_and_frees(void **state)
{
    fixture *f = *state;
    int seen = 0;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, 0, NULL);
    tw_deferred_add_callback(list, swallow, &seen);
    tw_deferred_unref(list); /* the inputs keep it */
    tw_deferred_callback(f->in[0], "a", count_destroy);
    tw_deferred_callback(f->in[1], "b", count_destroy);
    tw_deferred_callback(f->in[2], "c", count_destroy);
    assert_int_equal(destroyed, 3); /* the list fired, its result was consumed, all freed */
}

static void test_inputs_dropped_unfired_free_everything(void **state)
{
    fixture *f = *state;
    tw_deferred *list = tw_deferred_list_new(f->env.r, f->in, N, 0, NULL);
    for (int i = 0; i < N; i++) {
        tw_deferred_unref(f->in[i]);
        f->in[i] = NULL;
    }
    assert_false(tw_deferred_called(list));
    tw_deferred_cancel(list); /* nothing left to cancel: the list itself fails */
    assert_true(tw_failure_check(list_failure(list), TW_CANCELLED_ERROR));
    tw_deferred_add_errback(list, swallow, NULL);
    tw_deferred_unref(list);
}

static void test_gather_results(void **state)
{
    fixture *f = *state;
    tw_deferred *g = tw_gather_results(f->env.r, f->in, N, false, NULL);
    tw_deferred_callback(f->in[1], "y", NULL);
    tw_deferred_callback(f->in[0], "x", NULL);
    tw_deferred_callback(f->in[2], "z", NULL);
    tw_list_result *res = list_value(g);
    assert_non_null(res);
    assert_string_equal(res->entries[0].value, "x");
    assert_string_equal(res->entries[1].value, "y");
    assert_string_equal(res->entries[2].value, "z");
    tw_deferred_unref(g);
}

static void test_gather_first_error_wins(void **state)
{
    fixture *f = *state;
    tw_deferred *g = tw_gather_results(f->env.r, f->in, N, true, NULL);
    tw_deferred_errback(f->in[1], tw_failure_new("Bad", 0, NULL));
    tw_deferred_errback(f->in[0], tw_failure_new("Worse", 0, NULL));
    const tw_failure *fe = list_failure(g);
    assert_int_equal(tw_failure_index(fe), 1);
    assert_true(tw_failure_check(tw_failure_cause(fe), "Bad"));
    tw_deferred_cancel(g); /* fired: nothing happens to in[2] */
    assert_false(tw_deferred_called(f->in[2]));
    tw_deferred_add_errback(g, swallow, NULL);
    tw_deferred_unref(g);
    assert_int_equal(tw_test_log_count(&f->env.log), 0); /* consume_errors */
}

static void test_gather_cancel_cancels_all(void **state)
{
    fixture *f = *state;
    tw_deferred *g = tw_gather_results(f->env.r, f->in, N, true, NULL);
    tw_deferred_cancel(g);
    for (int i = 0; i < N; i++)
        assert_true(tw_deferred_called(f->in[i]));
    assert_true(tw_failure_check(list_failure(g), TW_FIRST_ERROR));
    tw_deferred_unref(g); /* unhandled FirstError reported */
    assert_true(tw_test_log_contains(&f->env.log, "FirstError[#0, CancelledError"));
}

static void test_list_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_deferred_list_new(f->env.r, NULL, 2, 0, &err));
    assert_int_equal(err, -EINVAL);
    tw_deferred *with_null[2] = {f->in[0], NULL};
    err = 0;
    assert_null(tw_deferred_list_new(f->env.r, with_null, 2, 0, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_gather_results(f->env.r, f->in, TW_DEFERRED_LIST_MAX + 1u, false, &err));
    assert_int_equal(err, -EINVAL);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_results_in_input_order),
        T(test_unconsumed_failure_is_reported_on_its_input),
        T(test_consume_errors),
        T(test_empty_list_fires_at_once),
        T(test_empty_list_with_fire_on_one_callback_never_fires),
        T(test_fire_on_one_callback),
        T(test_fire_on_one_callback_without_success_gives_all_results),
        T(test_fire_on_one_errback),
        T(test_already_fired_inputs_are_processed_at_construction),
        T(test_cancel_cancels_pending_inputs),
        T(test_cancel_with_fire_on_one_errback),
        T(test_cancel_after_fire_leaves_inputs_alone),
        T(test_cancelled_list_leaves_late_values_on_their_inputs),
        T(test_cancelled_fire_on_one_callback_list_leaves_late_value),
        T(test_list_dropped_early_still_collects_and_frees),
        T(test_inputs_dropped_unfired_free_everything),
        T(test_gather_results),
        T(test_gather_first_error_wins),
        T(test_gather_cancel_cancels_all),
        T(test_list_bad_arguments),
    };
    return cmocka_run_group_tests_name("deferred_list", tests, NULL, NULL);
}
