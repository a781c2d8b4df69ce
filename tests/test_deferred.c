/* Tests for the deferred core, ported from the behaviours of Twisted's test_defer.py: callback
 * order, errback switching, re-entrancy, value ownership, chaining (nested, deep, paused), pause,
 * cancellation in every state, unhandled failures, succeed/fail/maybe_deferred and
 * chainDeferred. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/deferred.h>

#include "test_deferred_fixture.h"

/* ---- helpers: a trace of what ran, with what ------------------------------------------------- */

typedef struct {
    char text[1024];
} trace;

static void trace_add(trace *t, const char *fmt, ...) TW_PRINTF(2, 3);
static void trace_add(trace *t, const char *fmt, ...)
{
    size_t len = strlen(t->text);
    if (len > 0 && len < sizeof t->text - 1)
        t->text[len++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->text + len, sizeof t->text - len, fmt, ap);
    va_end(ap);
}

/* A step records "name(value)" or "name!Type", then does what its fields say. */
typedef struct {
    trace *t;
    const char *name;
    int rc;               /* returned: a negative code fails the chain */
    const char *set_to;   /* if not NULL: replace the result by this string */
    bool handle;          /* errback: consume the failure (result NULL) */
    tw_deferred *chain;   /* if not NULL: return this deferred (a reference is taken) */
} step;

static int step_fn(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    step *s = arg;
    if (tw_result_is_failure(res))
        trace_add(s->t, "%s!%s", s->name, tw_failure_type(tw_result_failure(res)));
    else
        trace_add(s->t, "%s(%s)", s->name,
                  tw_result_value(res) ? (char *)tw_result_value(res) : "null");
    if (s->handle)
        tw_result_set_value(res, NULL, NULL);
    if (s->set_to)
        tw_result_set_value(res, (void *)s->set_to, NULL);
    if (s->chain)
        tw_result_set_deferred(res, tw_deferred_ref(s->chain));
    return s->rc;
}

static const char *value_of(tw_deferred *d)
{
    const tw_result *r = tw_deferred_result(d);
    assert_non_null(r);
    assert_false(tw_result_is_failure(r));
    return tw_result_value(r);
}

static const char *failure_type_of(tw_deferred *d)
{
    const tw_result *r = tw_deferred_result(d);
    assert_non_null(r);
    assert_true(tw_result_is_failure(r));
    return tw_failure_type(tw_result_failure(r));
}

/* An errback that consumes any failure, so freeing the deferred reports nothing. */
static int swallow(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    tw_result_set_value(res, NULL, NULL);
    return 0;
}

/* Values with a destructor that counts. */
static int destroyed;
static void count_destroy(void *v)
{
    (void)v;
    destroyed++;
}

static int setup(void **state)
{
    destroyed = 0;
    return fixture_setup(state);
}

/* ---- callback order and switching ------------------------------------------------------------ */

static void test_callbacks_run_in_order(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step a = {&t, "a", 0, "A", false, NULL}, b = {&t, "b", 0, NULL, false, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    assert_int_equal(tw_deferred_add_callback(d, step_fn, &a), 0);
    assert_int_equal(tw_deferred_add_callback(d, step_fn, &b), 0);
    assert_false(tw_deferred_called(d));
    assert_null(tw_deferred_result(d));
    assert_int_equal(tw_deferred_callback(d, "x", NULL), 0);
    assert_string_equal(t.text, "a(x) b(A)");
    assert_true(tw_deferred_called(d));
    assert_string_equal(value_of(d), "A");
    tw_deferred_unref(d);
}

/* A callback reaches the reactor its deferred was made with (to schedule more work). */
static void test_deferred_reactor_is_the_one_given(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *orphan = tw_deferred_new(NULL, NULL);
    assert_ptr_equal(tw_deferred_reactor(d), fx->env.r);
    assert_null(tw_deferred_reactor(orphan));
    assert_null(tw_deferred_reactor(NULL));
    tw_deferred_unref(d);
    tw_deferred_unref(orphan);
}

static void test_failing_callback_switches_to_errbacks(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step a = {&t, "a", -ECONNREFUSED, NULL, false, NULL};
    step skipped = {&t, "skipped", 0, NULL, false, NULL};
    step eb = {&t, "eb", 0, "recovered", true, NULL};
    step after = {&t, "after", 0, NULL, false, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, step_fn, &a);
    tw_deferred_add_callback(d, step_fn, &skipped);
    tw_deferred_add_errback(d, step_fn, &eb);
    tw_deferred_add_callbacks(d, step_fn, &after, step_fn, &skipped);
    tw_deferred_callback(d, "x", NULL);
    assert_string_equal(t.text, "a(x) eb!ConnectionRefusedError after(recovered)");
    tw_deferred_unref(d);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

static void test_errback_returning_failure_stays_on_error_path(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step e1 = {&t, "e1", -EPIPE, NULL, false, NULL};
    step cb = {&t, "cb", 0, NULL, false, NULL};
    step e2 = {&t, "e2", 0, NULL, true, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_errback(d, step_fn, &e1);
    tw_deferred_add_callback(d, step_fn, &cb);
    tw_deferred_add_both(d, step_fn, &e2);
    tw_deferred_errback(d, tw_failure_new(TW_VALUE_ERROR, 0, "first"));
    assert_string_equal(t.text, "e1!ValueError e2!OSError");
    assert_null(value_of(d));
    tw_deferred_unref(d);
}

static void test_exactly_one_slot_of_a_pair_runs(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step cb = {&t, "cb", -EINVAL, NULL, false, NULL};
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    /* The callback fails, but its own pair's errback must not see it. */
    tw_deferred_add_callbacks(d, step_fn, &cb, step_fn, &eb);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_callback(d, "v", NULL);
    assert_string_equal(t.text, "cb(v)");
    tw_deferred_unref(d);
}

static void test_callbacks_added_after_firing_run_at_once(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step a = {&t, "a", 0, NULL, false, NULL};
    tw_deferred *d = tw_succeed(fx->env.r, "early", NULL, NULL);
    assert_true(tw_deferred_called(d));
    tw_deferred_add_callback(d, step_fn, &a);
    assert_string_equal(t.text, "a(early)");
    tw_deferred_add_errback(d, step_fn, &a); /* skipped: the result is a value */
    assert_string_equal(t.text, "a(early)");
    tw_deferred_unref(d);
}

static void test_already_called_in_every_combination(void **state)
{
    fixture *fx = *state;
    for (int first = 0; first < 2; first++) {
        for (int second = 0; second < 2; second++) {
            tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
            tw_deferred_add_errback(d, swallow, NULL);
            if (first)
                assert_int_equal(tw_deferred_errback(d, tw_failure_new("E", 0, NULL)), 0);
            else
                assert_int_equal(tw_deferred_callback(d, "v", NULL), 0);
            if (second) {
                tw_failure *f = tw_failure_new("E2", 0, NULL);
                assert_int_equal(tw_deferred_errback(d, f), TW_EALREADYCALLED);
                tw_failure_unref(f); /* still ours */
            } else {
                destroyed = 0;
                assert_int_equal(tw_deferred_callback(d, "w", count_destroy), TW_EALREADYCALLED);
                assert_int_equal(destroyed, 0); /* still ours: not destroyed */
            }
            tw_deferred_unref(d);
        }
    }
}

static void test_bad_arguments(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    assert_int_equal(tw_deferred_add_callbacks(NULL, swallow, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(tw_deferred_add_callbacks(d, NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(tw_deferred_callback(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(tw_deferred_chain_deferred(d, d), -EINVAL);
    assert_int_equal(tw_deferred_chain_deferred(d, NULL), -EINVAL);
    assert_int_equal(tw_deferred_add_timeout(d, NULL, 1.0), -EINVAL);
    int err = 0;
    assert_null(tw_maybe_deferred(fx->env.r, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_false(tw_deferred_called(NULL));
    assert_false(tw_deferred_paused(NULL));
    assert_null(tw_deferred_result(NULL));
    tw_deferred_pause(NULL);
    tw_deferred_unpause(NULL);
    tw_deferred_cancel(NULL);
    tw_deferred_unref(NULL);
    tw_deferred_unref(d);
}

static int set_null_deferred(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    tw_result_set_deferred(res, NULL); /* e.g. the inner deferred could not be allocated */
    return 0;
}

static void test_result_helpers_tolerate_null(void **state)
{
    fixture *fx = *state;
    assert_false(tw_result_is_failure(NULL));
    assert_null(tw_result_value(NULL));
    assert_null(tw_result_failure(NULL));
    assert_null(tw_result_take_value(NULL, NULL));
    assert_null(tw_result_take_failure(NULL));
    tw_result_set_value(NULL, "x", NULL);
    tw_result_set_failure(NULL, tw_failure_new("Dropped", 0, NULL));
    tw_result_set_deferred(NULL, tw_deferred_new(fx->env.r, NULL));
    /* errback(NULL) and set_deferred(NULL) stand for out of memory. */
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    assert_int_equal(tw_deferred_errback(d, NULL), 0);
    assert_string_equal(failure_type_of(d), TW_MEMORY_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
    d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, set_null_deferred, NULL);
    tw_deferred_callback(d, NULL, NULL);
    assert_string_equal(failure_type_of(d), TW_MEMORY_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

/* Twisted's test_reentrantRunCallbacks / test_nonReentrantCallbacks. */
typedef struct {
    trace *t;
    step *inner;
} adder;

static int add_from_callback(tw_deferred *d, tw_result *res, void *arg)
{
    (void)res;
    adder *a = arg;
    trace_add(a->t, "outer-start");
    tw_deferred_add_callback(d, step_fn, a->inner);
    trace_add(a->t, "outer-end");
    return 0;
}

static void test_callback_added_from_callback_runs_after(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step inner = {&t, "inner", 0, NULL, false, NULL};
    adder a = {&t, &inner};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, add_from_callback, &a);
    tw_deferred_callback(d, "v", NULL);
    assert_string_equal(t.text, "outer-start outer-end inner(v)");
    tw_deferred_unref(d);
}

static void test_reentrant_callback_failure_goes_to_next_errback(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step inner = {&t, "inner", -EIO, NULL, false, NULL};
    adder a = {&t, &inner};
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, add_from_callback, &a);
    tw_deferred_callback(d, "v", NULL);
    tw_deferred_add_errback(d, step_fn, &eb);
    assert_string_equal(t.text, "outer-start outer-end inner(v) eb!OSError");
    tw_deferred_unref(d);
}

/* ---- value ownership ------------------------------------------------------------------------- */

static int replace_with_counted(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_result_set_value(res, arg, count_destroy);
    return 0;
}

static void test_destructor_runs_once_on_replace_and_free(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, replace_with_counted, "second");
    tw_deferred_callback(d, "first", count_destroy);
    assert_int_equal(destroyed, 1); /* "first" replaced */
    tw_deferred_unref(d);
    assert_int_equal(destroyed, 2); /* "second" freed with d */
}

static int take_it(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_destructor destroy = NULL;
    void **out = arg;
    *out = tw_result_take_value(res, &destroy);
    assert_ptr_equal(destroy, count_destroy);
    assert_null(tw_result_take_failure(res));
    assert_null(tw_result_value(res));
    return 0;
}

static void test_take_value_transfers_ownership(void **state)
{
    fixture *fx = *state;
    void *taken = NULL;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, take_it, &taken);
    tw_deferred_callback(d, "mine", count_destroy);
    tw_deferred_unref(d);
    assert_string_equal(taken, "mine");
    assert_int_equal(destroyed, 0);
}

static int fail_with_error(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    tw_result_set_error(res, -ETIMEDOUT, "connect");
    assert_null(tw_result_take_value(res, NULL));
    return 0;
}

static void test_set_error_destroys_value(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, fail_with_error, NULL);
    tw_deferred_callback(d, "v", count_destroy);
    assert_int_equal(destroyed, 1);
    assert_string_equal(failure_type_of(d), TW_TCP_TIMED_OUT_ERROR);
    assert_string_equal(tw_failure_message(tw_result_failure(tw_deferred_result(d))),
                        "connect: Connection timed out");
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

/* Each callback checks it runs in its turn: arg is its position. */
static int count_in_order(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    int *next = tw_result_value(res);
    if (*next != (int)(intptr_t)arg)
        return -EINVAL;
    (*next)++;
    return 0;
}

static void test_more_callbacks_than_inline_slots(void **state)
{
    fixture *fx = *state;
    enum { MANY = 1000 };
    int next = 0;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(tw_deferred_add_callback(d, count_in_order, (void *)(intptr_t)i), 0);
    tw_deferred_callback(d, &next, NULL);
    assert_int_equal(next, MANY);
    assert_ptr_equal(value_of(d), (const char *)&next);
    tw_deferred_unref(d);
}

/* ---- unhandled failures ---------------------------------------------------------------------- */

static void test_unhandled_failure_is_reported_when_freed(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_errback(d, tw_failure_new(TW_DNS_LOOKUP_ERROR, 0, "no such host"));
    assert_int_equal(tw_test_log_count(&fx->env.log), 0); /* only at free, deterministically */
    tw_deferred_unref(d);
    assert_int_equal(tw_test_log_count(&fx->env.log), 1);
    assert_true(tw_test_log_contains(&fx->env.log,
                                     "Unhandled error in Deferred: DNSLookupError: no such host"));
}

static void test_handled_failure_is_not_reported(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_fail(fx->env.r, tw_failure_new("E", 0, NULL), NULL);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
    tw_deferred *unfired = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_unref(unfired);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

static void test_failure_consumed_by_chaining_is_not_reported(void **state)
{
    fixture *fx = *state;
    tw_deferred *inner = tw_fail(fx->env.r, tw_failure_new("Inner", 0, NULL), NULL);
    trace t = {0};
    step ret = {&t, "ret", 0, NULL, false, inner};
    tw_deferred *outer = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(outer, step_fn, &ret);
    tw_deferred_callback(outer, "v", NULL);
    /* The failure moved to outer: inner holds NULL now (Twisted: None). */
    assert_null(value_of(inner));
    tw_deferred_unref(inner);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
    assert_string_equal(failure_type_of(outer), "Inner");
    tw_deferred_unref(outer);
    assert_int_equal(tw_test_log_count(&fx->env.log), 1);
}

static void test_null_reactor_reports_to_stderr(void **state)
{
    (void)state;
    /* Catch stderr in a pipe for the duration of the report. */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    tw_deferred *d = tw_fail(NULL, tw_failure_new("Visible", 0, "on stderr"), NULL);
    tw_deferred_unref(d);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(pipefd[1]);
    char text[256] = "";
    ssize_t n = read(pipefd[0], text, sizeof text - 1);
    close(pipefd[0]);
    assert_true(n > 0);
    assert_non_null(strstr(text, "Unhandled error in Deferred: Visible: on stderr"));
}

/* ---- succeed, fail, maybe_deferred ----------------------------------------------------------- */

static void test_succeed_and_fail(void **state)
{
    fixture *fx = *state;
    tw_deferred *s = tw_succeed(fx->env.r, "ok", count_destroy, NULL);
    assert_true(tw_deferred_called(s));
    assert_string_equal(value_of(s), "ok");
    tw_deferred_unref(s);
    assert_int_equal(destroyed, 1);
    tw_deferred *f = tw_fail(fx->env.r, NULL, NULL); /* NULL: out of memory stands in */
    assert_string_equal(failure_type_of(f), TW_MEMORY_ERROR);
    tw_deferred_add_errback(f, swallow, NULL);
    tw_deferred_unref(f);
}

static int work_value(tw_result *out, void *arg)
{
    tw_result_set_value(out, arg, NULL);
    return 0;
}

static int work_error(tw_result *out, void *arg)
{
    (void)out;
    (void)arg;
    return -ECONNREFUSED;
}

static int work_failure(tw_result *out, void *arg)
{
    (void)arg;
    tw_result_set_failure(out, tw_failure_new(TW_VALUE_ERROR, 0, "bad"));
    return 0;
}

static int work_deferred(tw_result *out, void *arg)
{
    tw_result_set_deferred(out, tw_deferred_ref(arg));
    return 0;
}

static void test_maybe_deferred(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_maybe_deferred(fx->env.r, work_value, "val", NULL);
    assert_string_equal(value_of(d), "val");
    tw_deferred_unref(d);
    d = tw_maybe_deferred(fx->env.r, work_error, NULL, NULL);
    assert_string_equal(failure_type_of(d), TW_CONNECTION_REFUSED_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
    d = tw_maybe_deferred(fx->env.r, work_failure, NULL, NULL);
    assert_string_equal(failure_type_of(d), TW_VALUE_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
    tw_deferred *pending = tw_deferred_new(fx->env.r, NULL);
    d = tw_maybe_deferred(fx->env.r, work_deferred, pending, NULL);
    assert_ptr_equal(d, pending); /* returned as it is */
    tw_deferred_unref(d);
    tw_deferred_unref(pending);
}

/* ---- chaining -------------------------------------------------------------------------------- */

/* What most chaining tests start from: a new outer deferred whose first step returns inner (ret, a
 * callback; or eb, an errback, when on_failure) and whose second (next, a callback) sees what inner
 * gives. Both steps trace into t. */
typedef struct {
    step ret, next;
    tw_deferred *outer;
} chain;

static void chain_to(chain *c, fixture *fx, trace *t, tw_deferred *inner, bool on_failure)
{
    c->ret = (step){t, on_failure ? "eb" : "ret", 0, NULL, false, inner};
    c->next = (step){t, "next", 0, NULL, false, NULL};
    c->outer = tw_deferred_new(fx->env.r, NULL);
    if (on_failure)
        tw_deferred_add_errback(c->outer, step_fn, &c->ret);
    else
        tw_deferred_add_callback(c->outer, step_fn, &c->ret);
    tw_deferred_add_callback(c->outer, step_fn, &c->next);
}

static void test_synchronous_implicit_chain(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *inner = tw_succeed(fx->env.r, "inner-result", count_destroy, NULL);
    chain c;
    chain_to(&c, fx, &t, inner, false);
    tw_deferred *outer = c.outer;
    tw_deferred_callback(outer, "v", NULL);
    assert_string_equal(t.text, "ret(v) next(inner-result)");
    step late = {&t, "late", 0, NULL, false, NULL};
    tw_deferred_add_callback(inner, step_fn, &late);
    assert_string_equal(t.text, "ret(v) next(inner-result) late(null)");
    tw_deferred_unref(inner);
    assert_int_equal(destroyed, 0); /* the value moved to outer */
    tw_deferred_unref(outer);
    assert_int_equal(destroyed, 1);
}

static void test_asynchronous_implicit_chain(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *inner = tw_deferred_new(fx->env.r, NULL);
    step pre = {&t, "inner-pre", 0, "pre", false, NULL};
    tw_deferred_add_callback(inner, step_fn, &pre);
    step ret = {&t, "ret", 0, NULL, false, inner};
    step next = {&t, "next", 0, NULL, false, NULL};
    tw_deferred *outer = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(outer, step_fn, &ret);
    tw_deferred_callback(outer, "v", NULL);
    /* Added while waiting: runs after the inner result arrives (test_callbackOrderPreserved). */
    tw_deferred_add_callback(outer, step_fn, &next);
    assert_true(tw_deferred_paused(outer));
    assert_null(tw_deferred_result(outer));
    char buf[128], expect[128];
    snprintf(expect, sizeof expect, "<Deferred at %p waiting on Deferred at %p>", (void *)outer,
             (void *)inner);
    assert_string_equal(tw_deferred_describe(outer, buf, sizeof buf), expect);
    step post = {&t, "inner-post", 0, NULL, false, NULL};
    tw_deferred_callback(inner, "i", NULL);
    tw_deferred_add_callback(inner, step_fn, &post);
    assert_string_equal(t.text, "ret(v) inner-pre(i) next(pre) inner-post(null)");
    assert_false(tw_deferred_paused(outer));
    tw_deferred_unref(inner);
    tw_deferred_unref(outer);
}

static void test_errback_returning_deferred(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *inner = tw_deferred_new(fx->env.r, NULL);
    chain c;
    chain_to(&c, fx, &t, inner, true);
    tw_deferred *outer = c.outer;
    tw_deferred_errback(outer, tw_failure_new("Boom", 0, NULL));
    tw_deferred_callback(inner, "fixed", NULL);
    assert_string_equal(t.text, "eb!Boom next(fixed)");
    tw_deferred_unref(inner);
    tw_deferred_unref(outer);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

static void test_asynchronous_implicit_error_chain(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *inner = tw_deferred_new(fx->env.r, NULL);
    step ret = {&t, "ret", 0, NULL, false, inner};
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred *outer = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(outer, step_fn, &ret);
    tw_deferred_add_errback(outer, step_fn, &eb);
    tw_deferred_callback(outer, "v", NULL);
    tw_deferred_errback(inner, tw_failure_new("InnerBoom", 0, NULL));
    assert_string_equal(t.text, "ret(v) eb!InnerBoom");
    assert_null(value_of(inner)); /* the failure went to outer: inner reports nothing */
    tw_deferred_unref(inner);
    tw_deferred_unref(outer);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

static void test_double_asynchronous_implicit_chaining(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *c = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *b = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *a = tw_deferred_new(fx->env.r, NULL);
    step a_ret = {&t, "a", 0, NULL, false, b};
    step b_ret = {&t, "b", 0, NULL, false, c};
    step a_end = {&t, "a-end", 0, NULL, false, NULL};
    tw_deferred_add_callback(a, step_fn, &a_ret);
    tw_deferred_add_callback(a, step_fn, &a_end);
    tw_deferred_add_callback(b, step_fn, &b_ret);
    tw_deferred_callback(a, "1", NULL);
    tw_deferred_callback(b, "2", NULL);
    assert_string_equal(t.text, "a(1) b(2)");
    tw_deferred_callback(c, "3", NULL);
    assert_string_equal(t.text, "a(1) b(2) a-end(3)");
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_deferred_unref(c);
}

static void test_chained_paused_deferred_with_result(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *inner = tw_succeed(fx->env.r, "held", NULL, NULL);
    tw_deferred_pause(inner);
    chain c;
    chain_to(&c, fx, &t, inner, false);
    tw_deferred *outer = c.outer;
    tw_deferred_callback(outer, "v", NULL);
    assert_string_equal(t.text, "ret(v)"); /* waits although inner has a result */
    tw_deferred_unpause(inner);
    assert_string_equal(t.text, "ret(v) next(held)");
    tw_deferred_unref(inner);
    tw_deferred_unref(outer);
}

static void test_paused_outer_does_not_block_inner(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    tw_deferred *second = tw_deferred_new(fx->env.r, NULL);
    chain c;
    chain_to(&c, fx, &t, second, false);
    tw_deferred *first = c.outer;
    tw_deferred_callback(first, "v", NULL);
    tw_deferred_pause(first);
    tw_deferred_callback(second, "s", NULL);
    assert_string_equal(t.text, "ret(v)");
    tw_deferred_unpause(first);
    assert_string_equal(t.text, "ret(v) next(s)");
    tw_deferred_unref(first);
    tw_deferred_unref(second);
}

static int return_self(tw_deferred *d, tw_result *res, void *arg)
{
    (void)arg;
    tw_result_set_deferred(res, tw_deferred_ref(d));
    return 0;
}

static void test_returning_own_deferred_fails_instead_of_deadlocking(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, return_self, NULL);
    tw_deferred_callback(d, "v", NULL);
    assert_string_equal(failure_type_of(d), TW_VALUE_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

/* Twisted's test_boundedStackDepth, on a deliberately small stack: top waits on inner[0], which
 * waits on inner[1], ... which waits on last. Firing last unwinds DEPTH continuations, then the
 * whole line is freed. Recursion per link would overflow this stack. */
#define DEPTH 10000

static int return_arg_deferred(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_result_set_deferred(res, tw_deferred_ref(arg));
    return 0;
}

static int record_value(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    *(const char **)arg = tw_result_value(res);
    return 0;
}

static void *deep_chain_thread(void *arg)
{
    (void)arg;
    tw_deferred **inners = calloc(DEPTH, sizeof *inners);
    for (int i = 0; i < DEPTH; i++)
        inners[i] = tw_deferred_new(NULL, NULL);
    tw_deferred *last = tw_deferred_new(NULL, NULL);
    tw_deferred *top = tw_deferred_new(NULL, NULL);
    const char *seen = NULL;
    tw_deferred_add_callback(top, return_arg_deferred, inners[0]);
    tw_deferred_add_callback(top, record_value, &seen);
    for (int i = 0; i < DEPTH; i++)
        tw_deferred_add_callback(inners[i], return_arg_deferred,
                                 i + 1 < DEPTH ? inners[i + 1] : last);
    tw_deferred_callback(top, NULL, NULL);
    for (int i = 0; i < DEPTH; i++)
        tw_deferred_callback(inners[i], NULL, NULL);
    bool waited = seen == NULL && !tw_deferred_result(top);
    tw_deferred_callback(last, "bottom", NULL);
    bool ok = waited && seen && strcmp(seen, "bottom") == 0;
    for (int i = 0; i < DEPTH; i++)
        tw_deferred_unref(inners[i]);
    tw_deferred_unref(last);
    tw_deferred_unref(top);
    free(inners);
    return ok ? (void *)1 : NULL;
}

/* The same line of waiting deferreds, never fired: dropping them all, innermost last, frees the
 * line by a loop (each waiting outer is kept alive by its inner's continuation only). */
static void *deep_unfired_free_thread(void *arg)
{
    (void)arg;
    tw_deferred *first = tw_deferred_new(NULL, NULL);
    tw_deferred *prev = first;
    tw_deferred_add_callback(first, swallow, NULL);
    tw_deferred *next = NULL;
    for (int i = 0; i < DEPTH; i++) {
        next = tw_deferred_new(NULL, NULL);
        tw_deferred_add_callback(prev, return_arg_deferred, next);
        tw_deferred_callback(prev, NULL, NULL);
        if (prev != first)
            tw_deferred_unref(prev);
        prev = next;
    }
    tw_deferred_unref(first); /* still waiting, kept by the line */
    tw_deferred_unref(next);  /* frees all DEPTH + 1 */
    return (void *)1;
}

static void test_deep_chain_does_not_recurse(void **state)
{
    (void)state;
    run_on_small_stack(deep_chain_thread);
}

static void test_deep_unfired_line_frees_without_recursion(void **state)
{
    (void)state;
    run_on_small_stack(deep_unfired_free_thread);
}

static void test_deep_chain_of_already_fired(void **state)
{
    (void)state;
    /* d[i]'s callback returns d[i+1], all already fired: each result is taken at once. */
    tw_deferred **ds = calloc(DEPTH, sizeof *ds);
    ds[DEPTH - 1] = tw_succeed(NULL, "end", NULL, NULL);
    for (int i = DEPTH - 2; i >= 0; i--) {
        ds[i] = tw_deferred_new(NULL, NULL);
        tw_deferred_pause(ds[i]);
        tw_deferred_add_callback(ds[i], return_arg_deferred, ds[i + 1]);
        tw_deferred_callback(ds[i], NULL, NULL);
    }
    /* Now unpause from the far end: ds[DEPTH-2] takes "end", and so on up to ds[0]. */
    for (int i = DEPTH - 2; i >= 0; i--)
        tw_deferred_unpause(ds[i]);
    assert_string_equal(value_of(ds[0]), "end");
    for (int i = 0; i < DEPTH; i++)
        tw_deferred_unref(ds[i]);
    free(ds);
}

static void test_inner_freed_unfired_leaves_outer_waiting(void **state)
{
    fixture *fx = *state;
    tw_deferred *inner = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *outer = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(outer, return_arg_deferred, inner);
    tw_deferred_callback(outer, NULL, NULL);
    tw_deferred_unref(inner); /* its producer gave up: outer can never continue */
    assert_true(tw_deferred_paused(outer));
    tw_deferred_cancel(outer); /* nothing to forward to, already fired: no-op */
    char buf[64], expect[64];
    snprintf(expect, sizeof expect, "<Deferred at %p current result: %p>", (void *)outer, NULL);
    assert_string_equal(tw_deferred_describe(outer, buf, sizeof buf), expect);
    tw_deferred_unref(outer);
}

/* ---- chain_deferred -------------------------------------------------------------------------- */

static void test_chain_deferred(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step on2 = {&t, "d2", 0, NULL, false, NULL};
    tw_deferred *d1 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *d2 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d2, step_fn, &on2);
    assert_int_equal(tw_deferred_chain_deferred(d1, d2), 0);
    tw_deferred_callback(d1, "moved", count_destroy);
    assert_string_equal(t.text, "d2(moved)");
    assert_null(value_of(d1));
    tw_deferred_unref(d1);
    assert_int_equal(destroyed, 0);
    tw_deferred_unref(d2);
    assert_int_equal(destroyed, 1);
}

static void test_chain_deferred_into_fired_deferred_fails(void **state)
{
    fixture *fx = *state;
    tw_deferred *d1 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *d2 = tw_succeed(fx->env.r, "already", NULL, NULL);
    tw_deferred_chain_deferred(d1, d2);
    tw_deferred_callback(d1, "late", count_destroy);
    assert_int_equal(destroyed, 1);
    assert_string_equal(failure_type_of(d1), TW_ALREADY_CALLED_ERROR);
    assert_string_equal(value_of(d2), "already");
    tw_deferred_add_errback(d1, swallow, NULL);
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
}

static void test_chain_deferred_dropped_unfired(void **state)
{
    fixture *fx = *state;
    tw_deferred *d1 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *d2 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_chain_deferred(d1, d2);
    tw_deferred_unref(d2); /* d1's pair keeps it */
    tw_deferred_unref(d1); /* releases d2 too: leak checkers see it */
}

/* A line of 100,000 deferreds, each chained into the next (Twisted's chainDeferred): firing the
 * first hands the value down the whole line on a small stack, and the first deferred's own later
 * callbacks run after the line, as they would if each link fired the next by a call. */
#define CHAIN_LINKS 100000

/* When each end of the line ran (a shared clock), and what the last one saw. */
typedef struct {
    int clock;
    int first_later; /* the first deferred's callback added after its chain pair */
    int last;        /* the last deferred's callback */
    bool last_saw_top;
} line_order;

static int first_later_cb(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    line_order *o = arg;
    o->first_later = ++o->clock;
    return 0;
}

static int last_cb(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    line_order *o = arg;
    o->last = ++o->clock;
    o->last_saw_top = tw_result_value(res) && strcmp(tw_result_value(res), "top") == 0;
    return 0;
}

static void *chain_line_thread(void *arg)
{
    (void)arg;
    tw_deferred **ds = calloc(CHAIN_LINKS, sizeof *ds);
    if (!ds)
        return NULL;
    line_order o = {0};
    for (int i = 0; i < CHAIN_LINKS; i++)
        ds[i] = tw_deferred_new(NULL, NULL);
    for (int i = 0; i + 1 < CHAIN_LINKS; i++)
        tw_deferred_chain_deferred(ds[i], ds[i + 1]);
    tw_deferred_add_callback(ds[0], first_later_cb, &o);
    tw_deferred_add_callback(ds[CHAIN_LINKS - 1], last_cb, &o);
    tw_deferred_callback(ds[0], "top", NULL);
    bool ok = o.last_saw_top && o.last == 1 && o.first_later == 2;
    for (int i = 0; i < CHAIN_LINKS; i++) { /* each link handed its value on: NULL, but the last */
        const tw_result *r = tw_deferred_result(ds[i]);
        bool last = i == CHAIN_LINKS - 1;
        ok = ok && r && !tw_result_is_failure(r) && (tw_result_value(r) != NULL) == last;
        tw_deferred_unref(ds[i]);
    }
    free(ds);
    return ok ? (void *)1 : NULL;
}

static void test_chain_deferred_100000_links_on_small_stack(void **state)
{
    (void)state;
    run_on_small_stack(chain_line_thread);
}

/* Chaining into a paused deferred fires it (its callbacks wait for unpause) and the first goes on
 * at once, as in Twisted. */
static void test_chain_deferred_into_paused_deferred(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step on1 = {&t, "d1", 0, NULL, false, NULL};
    step on2 = {&t, "d2", 0, NULL, false, NULL};
    tw_deferred *d1 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *d2 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_pause(d2);
    tw_deferred_add_callback(d2, step_fn, &on2);
    assert_int_equal(tw_deferred_chain_deferred(d1, d2), 0);
    tw_deferred_add_callback(d1, step_fn, &on1);
    tw_deferred_callback(d1, "v", NULL);
    assert_string_equal(t.text, "d1(null)");
    assert_true(tw_deferred_called(d2));
    tw_deferred_unpause(d2);
    assert_string_equal(t.text, "d1(null) d2(v)");
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
}

/* A callback of the second deferred that adds one to the first: it runs after the first's own
 * pending callbacks, as when the first is still running its chain (Twisted's _runningCallbacks). */
typedef struct {
    tw_deferred *first;
    step *add;
} add_to_first;

static int adds_to_first(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    add_to_first *a = arg;
    trace_add(a->add->t, "d2");
    return tw_deferred_add_callback(a->first, step_fn, a->add);
}

static void test_chain_deferred_callback_added_to_first_runs_after_it(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step later = {&t, "later", 0, NULL, false, NULL};
    step added = {&t, "added", 0, NULL, false, NULL};
    tw_deferred *d1 = tw_deferred_new(fx->env.r, NULL);
    tw_deferred *d2 = tw_deferred_new(fx->env.r, NULL);
    add_to_first a = {d1, &added};
    tw_deferred_add_callback(d2, adds_to_first, &a);
    assert_int_equal(tw_deferred_chain_deferred(d1, d2), 0);
    tw_deferred_add_callback(d1, step_fn, &later);
    tw_deferred_callback(d1, "v", NULL);
    assert_string_equal(t.text, "d2 later(null) added(null)");
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
}

/* ---- pause ----------------------------------------------------------------------------------- */

static void test_pause_holds_callbacks(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step a = {&t, "a", 0, NULL, false, NULL};
    step b = {&t, "b", 0, NULL, false, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_callback(d, step_fn, &a);
    tw_deferred_pause(d);
    tw_deferred_pause(d);
    tw_deferred_callback(d, "v", NULL);
    tw_deferred_add_callback(d, step_fn, &b);
    assert_string_equal(t.text, "");
    tw_deferred_unpause(d);
    assert_string_equal(t.text, "");
    tw_deferred_unpause(d);
    assert_string_equal(t.text, "a(v) b(v)");
    tw_deferred_unpause(d); /* over-unpause: nothing */
    assert_false(tw_deferred_paused(d));
    tw_deferred_unref(d);
}

static void test_unpause_before_callback(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step a = {&t, "a", 0, NULL, false, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_pause(d);
    tw_deferred_add_callback(d, step_fn, &a);
    tw_deferred_unpause(d);
    assert_string_equal(t.text, "");
    tw_deferred_callback(d, "v", NULL);
    assert_string_equal(t.text, "a(v)");
    tw_deferred_unref(d);
}

static void test_paused_failure(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_pause(d);
    tw_deferred_errback(d, tw_failure_new("Held", 0, NULL));
    tw_deferred_add_errback(d, step_fn, &eb);
    assert_string_equal(t.text, "");
    tw_deferred_unpause(d);
    assert_string_equal(t.text, "eb!Held");
    tw_deferred_unref(d);
}

/* ---- cancellation ---------------------------------------------------------------------------- */

static void test_cancel_without_canceller(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_add_errback(d, step_fn, &eb);
    tw_deferred_cancel(d);
    assert_string_equal(t.text, "eb!CancelledError");
    /* The producer's one late result is swallowed (and destroyed); a second is an error. */
    assert_int_equal(tw_deferred_callback(d, "late", count_destroy), 0);
    assert_int_equal(destroyed, 1);
    assert_int_equal(tw_deferred_callback(d, "later", NULL), TW_EALREADYCALLED);
    tw_deferred_unref(d);
}

static void test_cancel_without_canceller_then_errback(void **state)
{
    fixture *fx = *state;
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    tw_deferred_cancel(d);
    tw_deferred_cancel(d); /* harmless */
    assert_int_equal(tw_deferred_errback(d, tw_failure_new("Late", 0, NULL)), 0);
    tw_failure *f = tw_failure_new("Later", 0, NULL);
    assert_int_equal(tw_deferred_errback(d, f), TW_EALREADYCALLED);
    tw_failure_unref(f);
    assert_string_equal(failure_type_of(d), TW_CANCELLED_ERROR);
    tw_deferred_unref(d);
    assert_true(tw_test_log_contains(&fx->env.log, "Unhandled error in Deferred: CancelledError"));
}

typedef struct {
    int calls;
    int action; /* 0 nothing, 1 callback, 2 errback */
} canceller_state;

static void test_canceller(tw_deferred *d, void *arg)
{
    canceller_state *c = arg;
    c->calls++;
    if (c->action == 1)
        tw_deferred_callback(d, "from-canceller", NULL);
    else if (c->action == 2)
        tw_deferred_errback(d, tw_failure_new(TW_VALUE_ERROR, 0, "from canceller"));
}

static void test_canceller_runs_and_cancelled_error_follows(void **state)
{
    fixture *fx = *state;
    canceller_state c = {0, 0};
    tw_deferred *d = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &c, NULL);
    tw_deferred_cancel(d);
    tw_deferred_cancel(d);
    assert_int_equal(c.calls, 1);
    assert_string_equal(failure_type_of(d), TW_CANCELLED_ERROR);
    /* With a canceller, a late result is an error (test_simpleCanceller). */
    assert_int_equal(tw_deferred_callback(d, "late", NULL), TW_EALREADYCALLED);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

static void test_canceller_that_callbacks_wins(void **state)
{
    fixture *fx = *state;
    canceller_state c = {0, 1};
    tw_deferred *d = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &c, NULL);
    tw_deferred_cancel(d);
    assert_string_equal(value_of(d), "from-canceller");
    tw_deferred_unref(d);
}

static void test_canceller_that_errbacks_wins(void **state)
{
    fixture *fx = *state;
    canceller_state c = {0, 2};
    tw_deferred *d = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &c, NULL);
    tw_deferred_cancel(d);
    assert_string_equal(failure_type_of(d), TW_VALUE_ERROR);
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

static void test_cancel_after_firing_does_nothing(void **state)
{
    fixture *fx = *state;
    canceller_state c = {0, 0};
    tw_deferred *d = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &c, NULL);
    tw_deferred_callback(d, "done", NULL);
    tw_deferred_cancel(d);
    assert_int_equal(c.calls, 0);
    assert_string_equal(value_of(d), "done");
    tw_deferred_unref(d);
    d = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &c, NULL);
    tw_deferred_errback(d, tw_failure_new("E", 0, NULL));
    tw_deferred_cancel(d);
    assert_int_equal(c.calls, 0);
    assert_string_equal(failure_type_of(d), "E");
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

static void test_cancel_nested_deferred_cancels_inner(void **state)
{
    fixture *fx = *state;
    trace t = {0};
    canceller_state outer_c = {0, 0}, inner_c = {0, 0};
    tw_deferred *inner = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &inner_c, NULL);
    tw_deferred *outer = tw_deferred_new_with_canceller(fx->env.r, test_canceller, &outer_c, NULL);
    tw_deferred_add_callback(outer, return_arg_deferred, inner);
    step eb = {&t, "eb", 0, NULL, true, NULL};
    tw_deferred_add_errback(outer, step_fn, &eb);
    tw_deferred_callback(outer, NULL, NULL);
    tw_deferred_cancel(outer);
    assert_int_equal(inner_c.calls, 1);
    assert_int_equal(outer_c.calls, 0);
    assert_string_equal(t.text, "eb!CancelledError");
    tw_deferred_unref(inner);
    tw_deferred_unref(outer);
    assert_int_equal(tw_test_log_count(&fx->env.log), 0);
}

static void test_describe(void **state)
{
    fixture *fx = *state;
    char buf[128], expect[128];
    tw_deferred *d = tw_deferred_new(fx->env.r, NULL);
    snprintf(expect, sizeof expect, "<Deferred at %p>", (void *)d);
    assert_string_equal(tw_deferred_describe(d, buf, sizeof buf), expect);
    tw_deferred_errback(d, tw_failure_new("Oops", 0, "bad"));
    snprintf(expect, sizeof expect, "<Deferred at %p current result: failure Oops: bad>",
             (void *)d);
    assert_string_equal(tw_deferred_describe(d, buf, sizeof buf), expect);
    tw_deferred_add_errback(d, replace_with_counted, "x");
    snprintf(expect, sizeof expect, "<Deferred at %p current result: %p>", (void *)d, (void *)"x");
    assert_string_equal(tw_deferred_describe(d, buf, sizeof buf), expect);
    tw_deferred_unref(d);
    assert_string_equal(tw_deferred_describe(NULL, buf, sizeof buf), "<Deferred NULL>");
    assert_null(tw_deferred_describe(NULL, NULL, 0));
}

/* Most tests want the fixture. */
#define T(test) cmocka_unit_test_setup_teardown(test, setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_callbacks_run_in_order),
        T(test_deferred_reactor_is_the_one_given),
        T(test_failing_callback_switches_to_errbacks),
        T(test_errback_returning_failure_stays_on_error_path),
        T(test_exactly_one_slot_of_a_pair_runs),
        T(test_callbacks_added_after_firing_run_at_once),
        T(test_already_called_in_every_combination),
        T(test_bad_arguments),
        T(test_result_helpers_tolerate_null),
        T(test_callback_added_from_callback_runs_after),
        T(test_reentrant_callback_failure_goes_to_next_errback),
        T(test_destructor_runs_once_on_replace_and_free),
        T(test_take_value_transfers_ownership),
        T(test_set_error_destroys_value),
        T(test_more_callbacks_than_inline_slots),
        T(test_unhandled_failure_is_reported_when_freed),
        T(test_handled_failure_is_not_reported),
        T(test_failure_consumed_by_chaining_is_not_reported),
        T(test_null_reactor_reports_to_stderr),
        T(test_succeed_and_fail),
        T(test_maybe_deferred),
        T(test_synchronous_implicit_chain),
        T(test_asynchronous_implicit_chain),
        T(test_errback_returning_deferred),
        T(test_asynchronous_implicit_error_chain),
        T(test_double_asynchronous_implicit_chaining),
        T(test_chained_paused_deferred_with_result),
        T(test_paused_outer_does_not_block_inner),
        T(test_returning_own_deferred_fails_instead_of_deadlocking),
        cmocka_unit_test(test_deep_chain_does_not_recurse),
        cmocka_unit_test(test_deep_unfired_line_frees_without_recursion),
        cmocka_unit_test(test_deep_chain_of_already_fired),
        T(test_inner_freed_unfired_leaves_outer_waiting),
        T(test_chain_deferred),
        T(test_chain_deferred_into_fired_deferred_fails),
        T(test_chain_deferred_dropped_unfired),
        cmocka_unit_test(test_chain_deferred_100000_links_on_small_stack),
        T(test_chain_deferred_into_paused_deferred),
        T(test_chain_deferred_callback_added_to_first_runs_after_it),
        T(test_pause_holds_callbacks),
        T(test_unpause_before_callback),
        T(test_paused_failure),
        T(test_cancel_without_canceller),
        T(test_cancel_without_canceller_then_errback),
        T(test_canceller_runs_and_cancelled_error_follows),
        T(test_canceller_that_callbacks_wins),
        T(test_canceller_that_errbacks_wins),
        T(test_cancel_after_firing_does_nothing),
        T(test_cancel_nested_deferred_cancels_inner),
        T(test_describe),
    };
    return cmocka_run_group_tests_name("deferred", tests, NULL, NULL);
}
