/* Tests for tw_queue (Twisted's DeferredQueue): put/get in both orders, FIFO getters, size and
 * backlog limits with overflow and underflow, cancelled getters, and what freeing a queue does to
 * the values and getters still in it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twine/deferred.h>

static int destroyed;
static void count_destroy(void *v)
{
    (void)v;
    destroyed++;
}

static int setup(void **state)
{
    (void)state;
    destroyed = 0;
    return 0;
}

static const char *value_of(tw_deferred *d)
{
    const tw_result *r = tw_deferred_result(d);
    assert_non_null(r);
    assert_false(tw_result_is_failure(r));
    return tw_result_value(r);
}

static void test_put_then_get(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    assert_int_equal(tw_queue_put(q, "one", NULL), 0);
    assert_int_equal(tw_queue_put(q, "two", NULL), 0);
    assert_int_equal(tw_queue_pending(q), 2);
    tw_deferred *a = tw_queue_get(q, NULL);
    tw_deferred *b = tw_queue_get(q, NULL);
    assert_string_equal(value_of(a), "one");
    assert_string_equal(value_of(b), "two");
    assert_int_equal(tw_queue_pending(q), 0);
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_queue_free(q);
}

static void test_get_then_put_serves_getters_in_order(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    tw_deferred *a = tw_queue_get(q, NULL);
    tw_deferred *b = tw_queue_get(q, NULL);
    assert_false(tw_deferred_called(a));
    assert_int_equal(tw_queue_waiting(q), 2);
    tw_queue_put(q, "first", NULL);
    assert_string_equal(value_of(a), "first");
    assert_false(tw_deferred_called(b));
    tw_queue_put(q, "second", NULL);
    assert_string_equal(value_of(b), "second");
    assert_int_equal(tw_queue_waiting(q), 0);
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_queue_free(q);
}

static void test_size_limit_overflows(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, 2, TW_QUEUE_UNLIMITED, NULL);
    assert_int_equal(tw_queue_put(q, "a", count_destroy), 0);
    assert_int_equal(tw_queue_put(q, "b", count_destroy), 0);
    assert_int_equal(tw_queue_put(q, "c", count_destroy), TW_EOVERFLOW);
    assert_int_equal(destroyed, 0); /* the caller kept "c" */
    assert_int_equal(tw_queue_pending(q), 2);
    tw_queue_free(q);
    assert_int_equal(destroyed, 2); /* pending values destroyed with the queue */
}

static void test_size_zero_needs_a_waiting_getter(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, 0, TW_QUEUE_UNLIMITED, NULL);
    assert_int_equal(tw_queue_put(q, "x", NULL), TW_EOVERFLOW);
    tw_deferred *g = tw_queue_get(q, NULL);
    assert_int_equal(tw_queue_put(q, "x", NULL), 0);
    assert_string_equal(value_of(g), "x");
    tw_deferred_unref(g);
    tw_queue_free(q);
}

static void test_backlog_limit_underflows(void **state)
{
    (void)state;
    int err = 0;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, 1, NULL);
    tw_deferred *a = tw_queue_get(q, &err);
    assert_non_null(a);
    assert_null(tw_queue_get(q, &err));
    assert_int_equal(err, TW_EUNDERFLOW);
    tw_queue_put(q, "v", NULL);
    tw_queue_put(q, "w", NULL);
    tw_deferred *b = tw_queue_get(q, &err); /* a value waits: no backlog needed */
    assert_string_equal(value_of(b), "w");
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_queue_free(q);
}

static void test_backlog_zero_underflows_on_empty(void **state)
{
    (void)state;
    int err = 0;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, 0, NULL);
    assert_null(tw_queue_get(q, &err));
    assert_int_equal(err, TW_EUNDERFLOW);
    tw_queue_put(q, "v", NULL);
    tw_deferred *d = tw_queue_get(q, &err);
    assert_string_equal(value_of(d), "v");
    tw_deferred_unref(d);
    tw_queue_free(q);
}

static int swallow(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    *(bool *)arg = tw_failure_check(tw_result_failure(res), TW_CANCELLED_ERROR);
    tw_result_set_value(res, NULL, NULL);
    return 0;
}

static void test_cancelled_get_is_removed(void **state)
{
    (void)state;
    bool cancelled = false;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    tw_deferred *a = tw_queue_get(q, NULL);
    tw_deferred *b = tw_queue_get(q, NULL);
    tw_deferred_add_errback(a, swallow, &cancelled);
    tw_deferred_cancel(a);
    assert_true(cancelled);
    assert_int_equal(tw_queue_waiting(q), 1);
    tw_queue_put(q, "for-b", NULL);
    assert_string_equal(value_of(b), "for-b");
    tw_deferred_cancel(b); /* fired: nothing */
    tw_queue_put(q, "kept", NULL);
    assert_int_equal(tw_queue_pending(q), 1);
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_queue_free(q);
}

static void test_free_cancels_waiting_getters(void **state)
{
    (void)state;
    bool cancelled = false;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    tw_deferred *g = tw_queue_get(q, NULL);
    tw_deferred_add_errback(g, swallow, &cancelled);
    tw_queue_free(q);
    assert_true(cancelled);
    tw_deferred_unref(g);
}

static void test_value_ownership_moves_to_getter(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    tw_queue_put(q, "owned", count_destroy);
    tw_deferred *d = tw_queue_get(q, NULL);
    tw_queue_free(q);
    assert_int_equal(destroyed, 0);
    tw_deferred_unref(d);
    assert_int_equal(destroyed, 1);
}

static void test_many_values_wrap_the_ring(void **state)
{
    (void)state;
    static int values[1000];
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++)
            assert_int_equal(tw_queue_put(q, &values[i], NULL), 0);
        for (int i = 0; i < 1000; i++) {
            tw_deferred *d = tw_queue_get(q, NULL);
            assert_ptr_equal(value_of(d), (const char *)&values[i]);
            tw_deferred_unref(d);
        }
    }
    tw_queue_free(q);
}

static void test_put_skips_getter_fired_by_hand(void **state)
{
    (void)state;
    tw_queue *q = tw_queue_new(NULL, TW_QUEUE_UNLIMITED, TW_QUEUE_UNLIMITED, NULL);
    tw_deferred *a = tw_queue_get(q, NULL);
    tw_deferred *b = tw_queue_get(q, NULL);
    tw_deferred_callback(a, "by hand", NULL);
    assert_int_equal(tw_queue_put(q, "queued", NULL), 0);
    assert_string_equal(value_of(a), "by hand");
    assert_string_equal(value_of(b), "queued");
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_queue_free(q);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    int err = 0;
    assert_int_equal(tw_queue_put(NULL, "x", NULL), -EINVAL);
    assert_null(tw_queue_get(NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_queue_pending(NULL), 0);
    assert_int_equal(tw_queue_waiting(NULL), 0);
    tw_queue_free(NULL);
}

#define T(test) cmocka_unit_test_setup(test, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_put_then_get),
        T(test_get_then_put_serves_getters_in_order),
        T(test_size_limit_overflows),
        T(test_size_zero_needs_a_waiting_getter),
        T(test_backlog_limit_underflows),
        T(test_backlog_zero_underflows_on_empty),
        T(test_cancelled_get_is_removed),
        T(test_free_cancels_waiting_getters),
        T(test_value_ownership_moves_to_getter),
        T(test_many_values_wrap_the_ring),
        T(test_put_skips_getter_fired_by_hand),
        T(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
