/* Tests for tw_semaphore and tw_lock (Twisted's DeferredSemaphore / DeferredLock): token limits,
 * FIFO waiters, cancelled waiters, run() releasing on success and failure, and the classic example
 * of five slow jobs through two tokens, on reactor timers with a controllable clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/deferred.h>

#include "test_deferred_fixture.h"


/* Appends its tag to an order string when its deferred fires (failures are consumed). */
typedef struct {
    char *order;
    char tag;
} mark;

static int mark_fired(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    mark *m = arg;
    size_t len = strlen(m->order);
    m->order[len] = tw_result_is_failure(res) ? (char)(m->tag - 'a' + 'A') : m->tag;
    m->order[len + 1] = '\0';
    if (tw_result_is_failure(res))
        tw_result_set_value(res, NULL, NULL);
    return 0;
}

/* A one-token semaphore whose token *held took, and behind it the deferreds of further acquires,
 * queued in the order given (a NULL-terminated list of tw_deferred ** to fill in). */
static tw_semaphore *one_token_taken(fixture *f, tw_deferred **held, ...)
{
    tw_semaphore *s = tw_semaphore_new(f->env.r, 1, NULL);
    assert_non_null(s);
    *held = tw_semaphore_acquire(s, NULL);
    va_list ap;
    va_start(ap, held);
    for (tw_deferred **waiter; (waiter = va_arg(ap, tw_deferred **)) != NULL;)
        *waiter = tw_semaphore_acquire(s, NULL);
    va_end(ap);
    return s;
}

/* Twisted raises ValueError for tokens < 1; a C caller's -1 must not become UINT_MAX tokens. */
static void test_new_rejects_fewer_than_one_token(void **state)
{
    fixture *f = *state;
    static const int bad[] = { 0, -1, INT_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = 0;
        assert_null(tw_semaphore_new(f->env.r, bad[i], &err));
        assert_int_equal(err, -EINVAL);
    }
    assert_null(tw_semaphore_new(f->env.r, -1, NULL)); /* err is optional */
    tw_semaphore *s = tw_semaphore_new(f->env.r, 3, NULL);
    assert_int_equal(tw_semaphore_tokens(s), 3);
    assert_int_equal(tw_semaphore_limit(s), 3);
    assert_int_equal(tw_semaphore_waiting(s), 0);
    tw_semaphore_free(s);
    tw_semaphore_free(NULL);
    assert_int_equal(tw_semaphore_release(NULL), -EINVAL);
    int err = 0;
    assert_null(tw_semaphore_acquire(NULL, &err));
    assert_null(tw_semaphore_run(NULL, NULL, NULL, &err));
}

static void test_acquire_release_fifo(void **state)
{
    fixture *f = *state;
    char order[16] = "";
    mark ma = {order, 'a'}, mb = {order, 'b'}, mc = {order, 'c'}, md = {order, 'd'};
    tw_semaphore *s = tw_semaphore_new(f->env.r, 2, NULL);
    tw_deferred *a = tw_semaphore_acquire(s, NULL);
    tw_deferred *b = tw_semaphore_acquire(s, NULL);
    tw_deferred *c = tw_semaphore_acquire(s, NULL);
    tw_deferred *d = tw_semaphore_acquire(s, NULL);
    assert_ptr_equal(tw_result_value(tw_deferred_result(a)), s); /* fires with the semaphore */
    tw_deferred_add_callback(a, mark_fired, &ma);
    tw_deferred_add_callback(b, mark_fired, &mb);
    tw_deferred_add_callback(c, mark_fired, &mc);
    tw_deferred_add_callback(d, mark_fired, &md);
    assert_string_equal(order, "ab");
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_int_equal(tw_semaphore_waiting(s), 2);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_string_equal(order, "abc"); /* the first waiter, inside release */
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_string_equal(order, "abcd");
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_int_equal(tw_semaphore_tokens(s), 2);
    assert_int_equal(tw_semaphore_release(s), -EINVAL); /* released too many times */
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_deferred_unref(c);
    tw_deferred_unref(d);
    tw_semaphore_free(s);
}

static void test_cancel_waiting_acquire_keeps_tokens(void **state)
{
    fixture *f = *state;
    char order[16] = "";
    mark m2 = {order, 'b'}, m3 = {order, 'c'};
    tw_deferred *d1, *d2, *d3;
    tw_semaphore *s = one_token_taken(f, &d1, &d2, &d3, NULL);
    tw_deferred_add_both(d2, mark_fired, &m2);
    tw_deferred_add_both(d3, mark_fired, &m3);
    tw_deferred_cancel(d2);
    assert_string_equal(order, "B"); /* CancelledError */
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_int_equal(tw_semaphore_waiting(s), 1);
    tw_semaphore_release(s);
    assert_string_equal(order, "Bc");
    /* Cancelling after acquisition does nothing: the token stays held. */
    tw_deferred_cancel(d3);
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_int_equal(tw_semaphore_release(s), 0);
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
    tw_deferred_unref(d3);
    tw_semaphore_free(s);
}

static void test_release_skips_waiter_fired_by_hand(void **state)
{
    fixture *f = *state;
    tw_deferred *held, *odd, *next;
    tw_semaphore *s = one_token_taken(f, &held, &odd, &next, NULL);
    tw_deferred_callback(odd, NULL, NULL);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_ptr_equal(tw_result_value(tw_deferred_result(next)), s);
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_int_equal(tw_semaphore_tokens(s), 1);
    tw_deferred_unref(held);
    tw_deferred_unref(odd);
    tw_deferred_unref(next);
    tw_semaphore_free(s);
}

static void test_free_cancels_waiters(void **state)
{
    fixture *f = *state;
    char order[16] = "";
    mark m = {order, 'w'};
    tw_deferred *held, *w;
    tw_semaphore *s = one_token_taken(f, &held, &w, NULL);
    tw_deferred_add_both(w, mark_fired, &m);
    tw_semaphore_free(s);
    assert_string_equal(order, "W");
    tw_deferred_unref(held);
    tw_deferred_unref(w);
}

/* A waiter whose callbacks free the semaphore: the release that fired it must not touch it again,
 * and the waiters behind it fail with CancelledError. */
static int free_semaphore(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    tw_semaphore_free(arg);
    return 0;
}

static void test_free_from_a_waiters_callback(void **state)
{
    fixture *f = *state;
    char order[16] = "";
    mark m = {order, 'w'};
    tw_deferred *held, *freer, *w;
    tw_semaphore *s = one_token_taken(f, &held, &freer, &w, NULL);
    tw_deferred_add_callback(freer, free_semaphore, s);
    tw_deferred_add_both(w, mark_fired, &m);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_string_equal(order, "W");
    tw_deferred_unref(held);
    tw_deferred_unref(freer);
    tw_deferred_unref(w);
}

/* Twisted's order: a waiter that releases and acquires again from its callbacks has handed its
 * token to the next waiter in line and queues behind it. */
static int release_and_acquire_again(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_semaphore *s = tw_result_value(res);
    assert_int_equal(tw_semaphore_release(s), 0);
    *(tw_deferred **)arg = tw_semaphore_acquire(s, NULL);
    return 0;
}

static void test_release_from_a_waiter_keeps_fifo_order(void **state)
{
    fixture *f = *state;
    char order[16] = "";
    mark m2 = {order, 'b'}, m3 = {order, 'c'};
    tw_deferred *held, *first, *second;
    tw_semaphore *s = one_token_taken(f, &held, &first, &second, NULL);
    tw_deferred *again = NULL;
    tw_deferred_add_callback(first, release_and_acquire_again, &again);
    tw_deferred_add_both(second, mark_fired, &m2);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_non_null(again);
    tw_deferred_add_both(again, mark_fired, &m3);
    assert_string_equal(order, "b");
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_int_equal(tw_semaphore_waiting(s), 1);
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_string_equal(order, "bc");
    assert_int_equal(tw_semaphore_release(s), 0);
    assert_int_equal(tw_semaphore_tokens(s), 1);
    tw_deferred_unref(held);
    tw_deferred_unref(first);
    tw_deferred_unref(second);
    tw_deferred_unref(again);
    tw_semaphore_free(s);
}

/* ---- run ------------------------------------------------------------------------------------- */

typedef struct {
    int calls;
    tw_deferred *pending; /* the job's deferred, fired by the test */
    tw_reactor *r;
} job;

static int job_pending(tw_result *out, void *arg)
{
    job *j = arg;
    j->calls++;
    j->pending = tw_deferred_new(j->r, NULL);
    tw_result_set_deferred(out, tw_deferred_ref(j->pending));
    return 0;
}

static int job_sync_value(tw_result *out, void *arg)
{
    job *j = arg;
    j->calls++;
    tw_result_set_value(out, "sync", NULL);
    return 0;
}

static int job_sync_error(tw_result *out, void *arg)
{
    (void)out;
    job *j = arg;
    j->calls++;
    return -EIO;
}

static void test_run_releases_after_job_succeeds(void **state)
{
    fixture *f = *state;
    job j = {.r = f->env.r};
    tw_semaphore *s = tw_semaphore_new(f->env.r, 1, NULL);
    tw_deferred *d = tw_semaphore_run(s, job_pending, &j, NULL);
    assert_int_equal(j.calls, 1);
    assert_int_equal(tw_semaphore_tokens(s), 0);
    assert_false(tw_deferred_called(d) && tw_deferred_result(d));
    tw_deferred_callback(j.pending, "job-result", NULL);
    assert_int_equal(tw_semaphore_tokens(s), 1);
    assert_string_equal(tw_result_value(tw_deferred_result(d)), "job-result");
    tw_deferred_unref(j.pending);
    tw_deferred_unref(d);
    tw_semaphore_free(s);
}

static void test_run_releases_after_job_fails(void **state)
{
    fixture *f = *state;
    job j = {.r = f->env.r};
    tw_semaphore *s = tw_semaphore_new(f->env.r, 1, NULL);
    tw_deferred *d = tw_semaphore_run(s, job_sync_error, &j, NULL);
    assert_int_equal(j.calls, 1);
    assert_int_equal(tw_semaphore_tokens(s), 1);
    assert_true(tw_result_is_failure(tw_deferred_result(d)));
    char order[4] = "";
    mark m = {order, 'x'};
    tw_deferred_add_errback(d, mark_fired, &m);
    tw_deferred_unref(d);
    d = tw_semaphore_run(s, job_sync_value, &j, NULL);
    assert_string_equal(tw_result_value(tw_deferred_result(d)), "sync");
    assert_int_equal(tw_semaphore_tokens(s), 1);
    tw_deferred_unref(d);
    tw_semaphore_free(s);
}

static void test_cancel_queued_run_never_calls_job(void **state)
{
    fixture *f = *state;
    job j1 = {.r = f->env.r}, j2 = {.r = f->env.r};
    char order[4] = "";
    mark m = {order, 'q'};
    tw_semaphore *s = tw_semaphore_new(f->env.r, 1, NULL);
    tw_deferred *d1 = tw_semaphore_run(s, job_pending, &j1, NULL);
    tw_deferred *d2 = tw_semaphore_run(s, job_pending, &j2, NULL);
    tw_deferred_add_both(d2, mark_fired, &m);
    tw_deferred_cancel(d2);
    assert_string_equal(order, "Q");
    tw_deferred_callback(j1.pending, NULL, NULL);
    assert_int_equal(j2.calls, 0);
    assert_int_equal(tw_semaphore_tokens(s), 1);
    tw_deferred_unref(j1.pending);
    tw_deferred_unref(d1);
    tw_deferred_unref(d2);
    tw_semaphore_free(s);
}

static void test_cancel_running_run_cancels_job_and_releases(void **state)
{
    fixture *f = *state;
    job j = {.r = f->env.r};
    char order[4] = "";
    mark m = {order, 'r'};
    tw_semaphore *s = tw_semaphore_new(f->env.r, 1, NULL);
    tw_deferred *d = tw_semaphore_run(s, job_pending, &j, NULL);
    tw_deferred_add_both(d, mark_fired, &m);
    tw_deferred_cancel(d);
    assert_true(tw_deferred_called(j.pending));
    assert_string_equal(order, "R");
    assert_int_equal(tw_semaphore_tokens(s), 1);
    tw_deferred_unref(j.pending);
    tw_deferred_unref(d);
    tw_semaphore_free(s);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

/* ---- the classic example: 5 slow jobs, 2 tokens ---------------------------------------------- */

#define JOBS 5

typedef struct {
    tw_reactor *r;
    int running;
    int max_running;
    int started;
} pool_stats;

typedef struct {
    pool_stats *stats;
    int id;
    double seconds;
    tw_deferred *d;
    char result[16];
} slow_job;

static int slow_job_done(void *arg)
{
    slow_job *j = arg;
    j->stats->running--;
    snprintf(j->result, sizeof j->result, "job%d", j->id);
    tw_deferred *d = j->d;
    j->d = NULL;
    tw_deferred_callback(d, j->result, NULL);
    tw_deferred_unref(d);
    return 0;
}

static int slow_job_start(tw_result *out, void *arg)
{
    slow_job *j = arg;
    pool_stats *st = j->stats;
    st->started++;
    if (++st->running > st->max_running)
        st->max_running = st->running;
    j->d = tw_deferred_new(st->r, NULL);
    if (!tw_call_later(st->r, j->seconds, slow_job_done, j, NULL))
        return -ENOMEM;
    tw_result_set_deferred(out, tw_deferred_ref(j->d));
    return 0;
}

/* 10,000 run() calls queue behind a held token; each job finishes at once, so each release hands
 * the token to the next job from inside the previous one's callbacks. On a small stack: that
 * hand-off must be a loop, not one nested release per queued job. */
#define QUEUED_JOBS 10000

static int count_in_order(tw_result *out, void *arg)
{
    int *next = arg;
    tw_result_set_value(out, (void *)(intptr_t)(*next)++, NULL);
    return 0;
}

static void *many_quick_jobs_thread(void *arg)
{
    (void)arg;
    tw_semaphore *s = tw_semaphore_new(NULL, 1, NULL);
    tw_deferred *held = tw_semaphore_acquire(s, NULL);
    tw_deferred **runs = calloc(QUEUED_JOBS, sizeof *runs);
    int next = 0;
    for (int i = 0; i < QUEUED_JOBS; i++)
        runs[i] = tw_semaphore_run(s, count_in_order, &next, NULL);
    bool ok = next == 0 && tw_semaphore_waiting(s) == QUEUED_JOBS;
    ok = ok && tw_semaphore_release(s) == 0;
    ok = ok && next == QUEUED_JOBS && tw_semaphore_tokens(s) == 1;
    for (int i = 0; i < QUEUED_JOBS; i++) {
        const tw_result *r = tw_deferred_result(runs[i]);
        ok = ok && r && tw_result_value(r) == (void *)(intptr_t)i;
        tw_deferred_unref(runs[i]);
    }
    free(runs);
    tw_deferred_unref(held);
    tw_semaphore_free(s);
    return ok ? (void *)1 : NULL;
}

static void test_many_queued_quick_jobs_do_not_nest_releases(void **state)
{
    (void)state;
    run_on_small_stack(many_quick_jobs_thread);
}

static void test_five_slow_jobs_two_at_a_time(void **state)
{
    fixture *f = *state;
    pool_stats st = {.r = f->env.r};
    slow_job jobs[JOBS];
    tw_deferred *runs[JOBS];
    tw_semaphore *s = tw_semaphore_new(f->env.r, 2, NULL);
    for (int i = 0; i < JOBS; i++) {
        jobs[i] = (slow_job){.stats = &st, .id = i, .seconds = 1.0 + 0.5 * (i % 3)};
        runs[i] = tw_semaphore_run(s, slow_job_start, &jobs[i], NULL);
        assert_non_null(runs[i]);
    }
    tw_deferred *all = tw_deferred_list_new(f->env.r, runs, JOBS, 0, NULL);
    assert_int_equal(st.started, 2);
    for (int turn = 0; turn < 100 && !tw_deferred_called(all); turn++) {
        tw_test_clock_advance(&f->env.clock, 0.25);
        tw_reactor_iterate(f->env.r, 0);
        assert_true(st.running <= 2);
    }
    assert_true(tw_deferred_called(all));
    assert_int_equal(st.started, JOBS);
    assert_int_equal(st.max_running, 2);
    tw_list_result *res = tw_result_value(tw_deferred_result(all));
    assert_int_equal(res->count, JOBS);
    for (int i = 0; i < JOBS; i++) {
        char want[16];
        snprintf(want, sizeof want, "job%d", i);
        assert_true(res->entries[i].ok);
        assert_string_equal(res->entries[i].value, want);
        tw_deferred_unref(runs[i]);
    }
    assert_int_equal(tw_semaphore_tokens(s), 2);
    tw_deferred_unref(all);
    tw_semaphore_free(s);
}

/* ---- lock ------------------------------------------------------------------------------------ */

static void test_lock(void **state)
{
    fixture *f = *state;
    char order[8] = "";
    mark ma = {order, 'a'}, mb = {order, 'b'};
    tw_lock *l = tw_lock_new(f->env.r, NULL);
    assert_false(tw_lock_locked(l));
    assert_int_equal(tw_lock_release(l), -EINVAL); /* not locked */
    tw_deferred *a = tw_lock_acquire(l, NULL);
    assert_ptr_equal(tw_result_value(tw_deferred_result(a)), l);
    assert_true(tw_lock_locked(l));
    tw_deferred *b = tw_lock_acquire(l, NULL);
    tw_deferred_add_callback(a, mark_fired, &ma);
    tw_deferred_add_callback(b, mark_fired, &mb);
    assert_string_equal(order, "a");
    assert_int_equal(tw_lock_release(l), 0);
    assert_string_equal(order, "ab");
    assert_true(tw_lock_locked(l));
    assert_int_equal(tw_lock_release(l), 0);
    assert_false(tw_lock_locked(l));
    tw_deferred_unref(a);
    tw_deferred_unref(b);
    tw_lock_free(l);
}

static void test_lock_run_and_free_with_waiter(void **state)
{
    fixture *f = *state;
    job j = {.r = f->env.r};
    char order[8] = "";
    mark m = {order, 'w'};
    tw_lock *l = tw_lock_new(f->env.r, NULL);
    tw_deferred *d = tw_lock_run(l, job_pending, &j, NULL);
    assert_true(tw_lock_locked(l));
    tw_deferred *waiter = tw_lock_acquire(l, NULL);
    tw_deferred_add_both(waiter, mark_fired, &m);
    tw_deferred_callback(j.pending, "done", NULL);
    assert_string_equal(order, "w"); /* the lock passed to the waiter */
    assert_true(tw_lock_locked(l));
    tw_lock_release(l);
    tw_deferred_unref(j.pending);
    tw_deferred_unref(d);
    tw_deferred_unref(waiter);
    tw_lock_free(l);
    tw_lock_free(NULL);
    assert_false(tw_lock_locked(NULL));
}

#define T(test) cmocka_unit_test_setup_teardown(test, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_new_rejects_fewer_than_one_token),
        T(test_acquire_release_fifo),
        T(test_cancel_waiting_acquire_keeps_tokens),
        T(test_release_skips_waiter_fired_by_hand),
        T(test_free_cancels_waiters),
        T(test_free_from_a_waiters_callback),
        T(test_release_from_a_waiter_keeps_fifo_order),
        T(test_run_releases_after_job_succeeds),
        T(test_run_releases_after_job_fails),
        T(test_cancel_queued_run_never_calls_job),
        T(test_cancel_running_run_cancels_job_and_releases),
        T(test_many_queued_quick_jobs_do_not_nest_releases),
        T(test_five_slow_jobs_two_at_a_time),
        T(test_lock),
        T(test_lock_run_and_free_with_waiter),
    };
    return cmocka_run_group_tests_name("semaphore", tests, NULL, NULL);
}
