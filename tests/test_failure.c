/* Tests for tw_failure: construction, errno mapping, reference counting, causes, FirstError index
 * and the static out-of-memory failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <twine/failure.h>

static void test_new_formats_message(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new(TW_VALUE_ERROR, -EINVAL, "bad %s #%d", "thing", 7);
    assert_non_null(f);
    assert_string_equal(tw_failure_type(f), "ValueError");
    assert_int_equal(tw_failure_code(f), -EINVAL);
    assert_string_equal(tw_failure_message(f), "bad thing #7");
    assert_null(tw_failure_cause(f));
    assert_int_equal(tw_failure_index(f), -1);
    assert_true(tw_failure_check(f, TW_VALUE_ERROR));
    assert_false(tw_failure_check(f, TW_CANCELLED_ERROR));
    assert_false(tw_failure_check(f, NULL));
    tw_failure_unref(f);
}

static void test_positive_code_is_negated(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new("X", EPIPE, NULL);
    assert_int_equal(tw_failure_code(f), -EPIPE);
    assert_string_equal(tw_failure_message(f), "");
    tw_failure_unref(f);
}

static void check_errno_type(int code, const char *type)
{
    tw_failure *f = tw_failure_from_errno(code, "connect");
    assert_non_null(f);
    assert_string_equal(tw_failure_type(f), type);
    assert_int_equal(tw_failure_code(f), code > 0 ? -code : code);
    assert_memory_equal(tw_failure_message(f), "connect: ", 9);
    tw_failure_unref(f);
}

static void test_from_errno_maps_twisted_names(void **state)
{
    (void)state;
    check_errno_type(-ECONNREFUSED, TW_CONNECTION_REFUSED_ERROR);
    check_errno_type(ECONNREFUSED, TW_CONNECTION_REFUSED_ERROR);
    check_errno_type(-ENETUNREACH, TW_NO_ROUTE_ERROR);
    check_errno_type(-EHOSTUNREACH, TW_NO_ROUTE_ERROR);
    check_errno_type(-ETIMEDOUT, TW_TCP_TIMED_OUT_ERROR);
    check_errno_type(-ECANCELED, TW_CANCELLED_ERROR);
    check_errno_type(-EADDRNOTAVAIL, TW_CONNECT_ERROR);
    check_errno_type(-ENOMEM, TW_MEMORY_ERROR);
    check_errno_type(-EBADF, "OSError");
    check_errno_type(TW_EOVERFLOW, TW_QUEUE_OVERFLOW);
    check_errno_type(TW_EUNDERFLOW, TW_QUEUE_UNDERFLOW);
    check_errno_type(TW_EALREADYCALLED, TW_ALREADY_CALLED_ERROR);
    check_errno_type(TW_EPARSE, TW_VALUE_ERROR);
}

static void test_from_errno_without_context(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_from_errno(-ECONNREFUSED, NULL);
    assert_string_equal(tw_failure_message(f), tw_strerror(-ECONNREFUSED));
    tw_failure_unref(f);
}

static void test_ref_keeps_alive(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new("A", 0, "x");
    assert_ptr_equal(tw_failure_ref(f), f);
    tw_failure_unref(f);
    assert_string_equal(tw_failure_message(f), "x"); /* still alive: valgrind/ASan would object */
    tw_failure_unref(f);
    assert_null(tw_failure_ref(NULL));
    tw_failure_unref(NULL);
}

/* connection_lost hands out a const reason: keeping it (to forward it into a deferred, say) takes a
 * reference without a cast. */
static void keep_reason(const tw_failure *reason, tw_failure **kept)
{
    *kept = tw_failure_ref(reason);
}

static void test_ref_of_const_failure(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new(TW_CONNECTION_LOST, -ECONNRESET, "reset");
    tw_failure *kept = NULL;
    keep_reason(f, &kept);
    assert_ptr_equal(kept, f);
    tw_failure_unref(f);
    assert_string_equal(tw_failure_message(kept), "reset"); /* alive through the kept reference */
    tw_failure_unref(kept);
    const tw_failure *nomem = tw_failure_nomem();
    assert_ptr_equal(tw_failure_ref(nomem), tw_failure_nomem());
}

static void test_cause_chain_and_replacement(void **state)
{
    (void)state;
    tw_failure *top = tw_failure_new(TW_FIRST_ERROR, 0, "top");
    tw_failure *mid = tw_failure_new("Mid", 0, "mid");
    tw_failure_set_cause(mid, tw_failure_new("Bottom", 0, "bottom"));
    tw_failure_set_cause(top, mid);
    assert_ptr_equal(tw_failure_cause(top), mid);
    assert_string_equal(tw_failure_type(tw_failure_cause(mid)), "Bottom");
    /* Replacing a cause drops the old one; a failure cannot be its own cause. */
    tw_failure_set_cause(mid, tw_failure_new("Other", 0, NULL));
    assert_string_equal(tw_failure_type(tw_failure_cause(mid)), "Other");
    tw_failure_set_cause(top, tw_failure_ref(top));
    assert_ptr_equal(tw_failure_cause(top), mid);
    tw_failure_unref(top);
}

static void test_long_cause_chain_frees_iteratively(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new("Leaf", 0, NULL);
    for (int i = 0; i < 200000; i++) {
        tw_failure *up = tw_failure_new("Link", 0, NULL);
        assert_non_null(up);
        tw_failure_set_cause(up, f);
        f = up;
    }
    tw_failure_unref(f);
}

static void test_index(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_new(TW_FIRST_ERROR, 0, NULL);
    tw_failure_set_index(f, 3);
    assert_int_equal(tw_failure_index(f), 3);
    tw_failure_unref(f);
    assert_int_equal(tw_failure_index(NULL), -1);
}

static void test_nomem_is_immortal(void **state)
{
    (void)state;
    tw_failure *f = tw_failure_nomem();
    assert_non_null(f);
    assert_ptr_equal(tw_failure_nomem(), f);
    assert_true(tw_failure_check(f, TW_MEMORY_ERROR));
    assert_int_equal(tw_failure_code(f), -ENOMEM);
    assert_string_equal(tw_failure_message(f), "out of memory");
    tw_failure_unref(f);
    tw_failure_unref(tw_failure_ref(f));
    tw_failure_set_cause(f, tw_failure_new("Ignored", 0, NULL));
    assert_null(tw_failure_cause(f));
    tw_failure_set_index(f, 9);
    assert_int_equal(tw_failure_index(f), -1);
}

static void test_describe(void **state)
{
    (void)state;
    char buf[64];
    tw_failure *f = tw_failure_new(TW_CANCELLED_ERROR, -ECANCELED, "gone");
    assert_string_equal(tw_failure_describe(f, buf, sizeof buf), "CancelledError: gone");
    assert_string_equal(tw_failure_describe(f, buf, 10), "Cancelled");
    tw_failure_unref(f);
    f = tw_failure_new("Bare", 0, NULL);
    assert_string_equal(tw_failure_describe(f, buf, sizeof buf), "Bare");
    tw_failure_unref(f);
    assert_string_equal(tw_failure_describe(NULL, buf, sizeof buf), "");
    assert_null(tw_failure_describe(f, NULL, 10));
}

static void test_null_accessors(void **state)
{
    (void)state;
    assert_string_equal(tw_failure_type(NULL), "");
    assert_int_equal(tw_failure_code(NULL), 0);
    assert_string_equal(tw_failure_message(NULL), "");
    assert_null(tw_failure_cause(NULL));
    assert_false(tw_failure_check(NULL, "X"));
    tw_failure_set_cause(NULL, tw_failure_new("Dropped", 0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_formats_message),
        cmocka_unit_test(test_positive_code_is_negated),
        cmocka_unit_test(test_from_errno_maps_twisted_names),
        cmocka_unit_test(test_from_errno_without_context),
        cmocka_unit_test(test_ref_keeps_alive),
        cmocka_unit_test(test_ref_of_const_failure),
        cmocka_unit_test(test_cause_chain_and_replacement),
        cmocka_unit_test(test_long_cause_chain_frees_iteratively),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_nomem_is_immortal),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_null_accessors),
    };
    return cmocka_run_group_tests_name("failure", tests, NULL, NULL);
}
