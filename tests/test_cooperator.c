/* Tests for the cooperator (task.h), ported from Twisted's test_cooperator.py (CooperatorTests,
 * RunStateTests), plus fairness and the time slice on the controllable clock. One turn of the
 * reactor runs one tick, as FakeScheduler.pump does; a step that moves the clock by the whole slice
 * ends its tick, as Twisted's "one unit of work per tick" termination predicate does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/outcome.h"
#include "support/reactor_test.h"

#define SLICE 0.01
#define WORK_MAX 64

/* The worker of Twisted's RunStateTests, and the log of what every task did. */
typedef struct worker worker;

typedef struct {
    tw_test_env env;
    tw_cooperator *coop;
    int work[WORK_MAX]; /* what steps produced, in order: a task's tag, or -1 for a deferred */
    int nwork;
} fixture;

struct worker {
    fixture *f;
    int tag;            /* what it writes into f->work */
    int steps;          /* steps taken */
    int limit;          /* finish when steps reach it (0: never) */
    double cost;        /* clock seconds each step uses */
    bool defer_next, stop_next, die_next;
    tw_deferred *deferred; /* the last deferred returned, a reference */
};

static int setup(void **state)
{
    int rc = tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_CONTROLLED_CLOCK);
    if (rc == 0) {
        fixture *f = *state;
        f->coop = tw_cooperator_new(f->env.r, SLICE, NULL);
    }
    return rc;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_cooperator_free(f->coop);
    return tw_test_fixture_teardown(state);
}

static int step(tw_result *out, void *arg)
{
    worker *w = arg;
    fixture *f = w->f;
    tw_test_clock_advance(&f->env.clock, w->cost);
    if (w->stop_next || (w->limit && w->steps == w->limit))
        return TW_STEP_DONE;
    if (w->die_next)
        return -EIO;
    assert_true(f->nwork < WORK_MAX);
    w->steps++;
    if (w->defer_next) {
        w->defer_next = false;
        tw_deferred_unref(w->deferred);
        w->deferred = tw_deferred_new(f->env.r, NULL);
        tw_result_set_deferred(out, tw_deferred_ref(w->deferred));
        f->work[f->nwork++] = -1;
    } else {
        f->work[f->nwork++] = w->tag;
    }
    return TW_STEP_MORE;
}

/* One tick (Twisted's FakeScheduler.pump): the tick is the only timer, due now. */
static void pump(fixture *f)
{
    tw_reactor_iterate(f->env.r, 0);
}

static worker one_per_tick(fixture *f, int tag)
{
    return (worker){.f = f, .tag = tag, .cost = SLICE};
}


static void watch(tw_deferred *d, tw_test_outcome *o)
{
    assert_true(tw_test_outcome_watch(d, o));
}

static void watch_task(tw_cooperative_task *t, tw_test_outcome *o)
{
    watch(tw_cooperative_task_when_done(t, NULL), o);
}

static void assert_work(fixture *f, const int *want, int n)
{
    assert_int_equal(f->nwork, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(f->work[i], want[i]);
}

/* ---- CooperatorTests ---- */

static void test_stopped_rejects_new_tasks(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker w = one_per_tick(f, 1);
    tw_cooperator_stop(f->coop);
    assert_false(tw_cooperator_running(f->coop));
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &o);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_SCHEDULER_STOPPED_ERROR);
    pump(f);
    assert_int_equal(w.steps, 0);
    tw_cooperator_start(f->coop);
    assert_true(tw_cooperator_running(f->coop));
}

static void test_stop_running(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker w = one_per_tick(f, 1);
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &o);
    tw_cooperator_stop(f->coop);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_SCHEDULER_STOPPED_ERROR);
    pump(f);
    assert_int_equal(w.steps, 0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

static void test_stop_outstanding(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker w = one_per_tick(f, 1);
    w.defer_next = true;
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &o);
    pump(f);
    assert_int_equal(w.steps, 1);
    tw_cooperator_stop(f->coop); /* the task waits on its deferred, and still stops */
    assert_string_equal(o.type, TW_SCHEDULER_STOPPED_ERROR);
    tw_deferred_callback(w.deferred, "arglebargle", NULL);
    pump(f);
    assert_int_equal(w.steps, 1);
    tw_deferred_unref(w.deferred);
}

static void test_unexpected_error(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker w = one_per_tick(f, 1);
    w.die_next = true;
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &o);
    pump(f);
    assert_true(o.failed);
    assert_int_equal(o.code, -EIO);
}

static int fail_soon(tw_result *out, void *arg)
{
    fixture *f = arg;
    tw_deferred *d = tw_deferred_new(f->env.r, NULL);
    tw_deferred_errback(d, tw_failure_from_errno(-EPIPE, "later"));
    tw_result_set_deferred(out, d);
    return TW_STEP_MORE;
}

static int errback_later(void *arg)
{
    worker *w = arg;
    return tw_deferred_errback(w->deferred, tw_failure_from_errno(-EPIPE, "later"));
}

static void test_unexpected_error_in_a_deferred(void **state)
{
    fixture *f = *state;
    tw_test_outcome now = {0}, later = {0};
    watch(tw_cooperator_coiterate(f->coop, fail_soon, f, NULL), &now);
    worker w = one_per_tick(f, 1);
    w.defer_next = true;
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &later);
    pump(f);
    assert_int_equal(now.code, -EPIPE);
    assert_int_equal(later.fired, 0);
    assert_non_null(tw_call_later(f->env.r, 0, errback_later, &w, NULL));
    pump(f);
    assert_int_equal(later.code, -EPIPE);
    tw_deferred_unref(w.deferred);
    assert_int_equal(tw_test_log_count(&f->env.log), 0); /* both failures were consumed */
}

static void test_cooperation(void **state)
{
    fixture *f = *state;
    tw_test_outcome o[4] = {{0}};
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.f = f, .tag = i + 1, .limit = 3};
        watch(tw_cooperator_coiterate(f->coop, step, &w[i], NULL), &o[i]);
    }
    pump(f); /* the clock stands still, so one tick runs them all to their end */
    assert_work(f, (int[]){1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, 12);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o[i].fired, 1);
        assert_ptr_equal(o[i].value, &w[i]);
    }
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

static void test_slice_ends_the_tick(void **state)
{
    fixture *f = *state;
    worker w = {.f = f, .tag = 1, .cost = SLICE / 10};
    tw_cooperative_task *t = tw_cooperator_cooperate(f->coop, step, &w, NULL);
    pump(f);
    assert_int_equal(w.steps, 10); /* Twisted's testResourceExhaustion */
    pump(f);
    assert_int_equal(w.steps, 20);
    tw_cooperative_task_unref(t);
}

static void test_fairness_across_ticks(void **state)
{
    fixture *f = *state;
    worker w[3];
    tw_cooperative_task *t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){.f = f, .tag = i + 1, .cost = SLICE * 0.3};
        t[i] = tw_cooperator_cooperate(f->coop, step, &w[i], NULL);
    }
    /* Four steps fit a slice: the next tick starts where the last one stopped. */
    pump(f);
    assert_work(f, (int[]){1, 2, 3, 1}, 4);
    pump(f);
    assert_work(f, (int[]){1, 2, 3, 1, 2, 3, 1, 2}, 8);
    for (int round = 0; round < 10; round++) {
        pump(f);
        int lo = w[0].steps, hi = w[0].steps;
        for (int i = 1; i < 3; i++) {
            lo = w[i].steps < lo ? w[i].steps : lo;
            hi = w[i].steps > hi ? w[i].steps : hi;
        }
        assert_true(hi - lo <= 1);
    }
    for (int i = 0; i < 3; i++)
        tw_cooperative_task_unref(t[i]);
}

static int on_readable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    char c;
    int *reads = arg;
    if (read(fd, &c, 1) == 1)
        (*reads)++;
    return 0;
}

/* A task that never ends shares each turn with I/O instead of starving it. */
static void test_io_runs_between_ticks(void **state)
{
    fixture *f = *state;
    int fds[2], reads = 0;
    assert_int_equal(pipe(fds), 0);
    worker w = {.f = f, .tag = 1, .cost = SLICE / 2};
    tw_cooperative_task *t = tw_cooperator_cooperate(f->coop, step, &w, NULL);
    assert_int_equal(tw_reactor_add_reader(f->env.r, fds[0], on_readable, &reads), 0);
    for (int turn = 1; turn <= 3; turn++) {
        assert_int_equal(write(fds[1], "x", 1), 1);
        tw_reactor_iterate(f->env.r, 0);
        assert_int_equal(reads, turn);
        assert_int_equal(w.steps, 2 * turn);
    }
    tw_reactor_close_fd(f->env.r, fds[0]);
    close(fds[1]);
    tw_cooperative_task_unref(t);
}

static void on_done_coiterate_again(tw_deferred *d, worker *w);

static int coiterate_again(tw_deferred *d, tw_result *res, void *arg)
{
    (void)res;
    on_done_coiterate_again(d, arg);
    return 0;
}

static void on_done_coiterate_again(tw_deferred *d, worker *w)
{
    (void)d;
    fixture *f = w->f;
    /* Only one tick is ever pending, however tasks come and go. */
    assert_true(tw_reactor_pending_calls(f->env.r) <= 1);
    if (w->tag < 3) {
        w[1] = (worker){.f = f, .tag = w->tag + 1, .limit = 1};
        tw_deferred *next = tw_cooperator_coiterate(f->coop, step, &w[1], NULL);
        tw_deferred_add_callback(next, coiterate_again, &w[1]);
        tw_deferred_unref(next);
    }
}

static void test_callback_re_coiterate(void **state)
{
    fixture *f = *state;
    worker w[3] = {{.f = f, .tag = 1, .limit = 1}};
    tw_deferred *d = tw_cooperator_coiterate(f->coop, step, &w[0], NULL);
    tw_deferred_add_callback(d, coiterate_again, &w[0]);
    tw_deferred_unref(d);
    for (int i = 0; i < 5 && f->nwork < 3; i++)
        pump(f);
    assert_work(f, (int[]){1, 2, 3}, 3);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

static void test_removing_last_task_cancels_the_tick(void **state)
{
    fixture *f = *state;
    worker w = {.f = f, .tag = 1};
    tw_cooperative_task *t1 = tw_cooperator_cooperate(f->coop, step, &w, NULL);
    tw_cooperative_task *t2 = tw_cooperator_cooperate(f->coop, step, &w, NULL);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    assert_int_equal(tw_cooperative_task_stop(t1), 0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    assert_int_equal(tw_cooperative_task_stop(t2), 0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    tw_cooperative_task *t3 = tw_cooperator_cooperate(f->coop, step, &w, NULL);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    tw_cooperative_task_unref(t1);
    tw_cooperative_task_unref(t2);
    tw_cooperative_task_unref(t3);
}

/* ---- RunStateTests: one task, one step per tick ---- */

typedef struct {
    fixture *f;
    worker w;
    tw_cooperative_task *task;
} run_state;

static run_state start_run_state(fixture *f)
{
    run_state s = {.f = f};
    s.w = one_per_tick(f, 1);
    return s;
}

static void begin(run_state *s)
{
    s->task = tw_cooperator_cooperate(s->f->coop, step, &s->w, NULL);
    assert_non_null(s->task);
}

static void end(run_state *s)
{
    tw_cooperative_task_unref(s->task);
    tw_deferred_unref(s->w.deferred);
}

static void test_pause_resume(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    pump(s.f);
    assert_int_equal(s.w.steps, 1);
    pump(s.f);
    assert_int_equal(s.w.steps, 2);
    assert_int_equal(tw_cooperative_task_pause(s.task), 0);
    pump(s.f);
    assert_int_equal(s.w.steps, 2);
    assert_int_equal(tw_cooperative_task_resume(s.task), 0);
    assert_int_equal(s.w.steps, 2); /* resuming does no work by itself */
    pump(s.f);
    assert_int_equal(s.w.steps, 3);
    end(&s);
}

static void test_resume_not_paused(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    assert_int_equal(tw_cooperative_task_resume(s.task), -EINVAL);
    tw_cooperative_task_pause(s.task);
    assert_int_equal(tw_cooperative_task_resume(s.task), 0);
    assert_int_equal(tw_cooperative_task_resume(s.task), -EINVAL);
    end(&s);
}

static void test_pause_twice(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    tw_cooperative_task_pause(s.task);
    pump(s.f);
    tw_cooperative_task_pause(s.task);
    pump(s.f);
    tw_cooperative_task_resume(s.task);
    pump(s.f);
    assert_int_equal(s.w.steps, 0);
    tw_cooperative_task_resume(s.task);
    pump(s.f);
    assert_int_equal(s.w.steps, 1);
    end(&s);
}

static void test_pause_while_deferred(void **state)
{
    run_state s = start_run_state(*state);
    s.w.defer_next = true;
    begin(&s);
    pump(s.f);
    assert_work(s.f, (int[]){-1}, 1);
    pump(s.f);
    assert_int_equal(s.f->nwork, 1);
    tw_cooperative_task_pause(s.task);
    pump(s.f);
    assert_int_equal(tw_cooperative_task_resume(s.task), 0);
    pump(s.f);
    assert_int_equal(s.f->nwork, 1);
    tw_deferred_callback(s.w.deferred, "STUFF!", NULL);
    pump(s.f);
    assert_work(s.f, (int[]){-1, 1}, 2);
    end(&s);
}

static void test_pause_then_deferred_fires_still_paused(void **state)
{
    run_state s = start_run_state(*state);
    s.w.defer_next = true;
    begin(&s);
    pump(s.f);
    tw_cooperative_task_pause(s.task);
    tw_deferred_callback(s.w.deferred, NULL, NULL);
    pump(s.f);
    assert_int_equal(s.f->nwork, 1);
    tw_cooperative_task_resume(s.task);
    pump(s.f);
    assert_int_equal(s.f->nwork, 2);
    end(&s);
}

static void test_when_done(void **state)
{
    run_state s = start_run_state(*state);
    tw_test_outcome o1 = {0}, o2 = {0};
    begin(&s);
    watch_task(s.task, &o1);
    watch_task(s.task, &o2);
    s.w.stop_next = true;
    pump(s.f);
    assert_int_equal(o1.fired, 1);
    assert_int_equal(o2.fired, 1);
    assert_ptr_equal(o1.value, &s.w);
    assert_ptr_equal(o2.value, &s.w);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_DONE);
    end(&s);
}

static void test_when_done_error(void **state)
{
    run_state s = start_run_state(*state);
    tw_test_outcome o = {0};
    begin(&s);
    watch_task(s.task, &o);
    s.w.die_next = true;
    pump(s.f);
    assert_true(o.failed);
    assert_int_equal(o.code, -EIO);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_FAILED);
    end(&s);
}

static void test_when_done_stop(void **state)
{
    run_state s = start_run_state(*state);
    tw_test_outcome o = {0};
    begin(&s);
    watch_task(s.task, &o);
    assert_int_equal(tw_cooperative_task_stop(s.task), 0);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_TASK_STOPPED_ERROR);
    end(&s);
}

static void test_when_done_already_done(void **state)
{
    run_state s = start_run_state(*state);
    tw_test_outcome o = {0}, failed = {0};
    s.w.stop_next = true;
    begin(&s);
    pump(s.f);
    watch_task(s.task, &o);
    assert_int_equal(o.fired, 1);
    assert_ptr_equal(o.value, &s.w);
    end(&s);
    s = start_run_state(*state);
    begin(&s);
    tw_cooperative_task_stop(s.task);
    watch_task(s.task, &failed);
    assert_string_equal(failed.type, TW_TASK_STOPPED_ERROR);
    end(&s);
}

static void test_stop_stops(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    assert_int_equal(tw_cooperative_task_stop(s.task), 0);
    pump(s.f);
    assert_int_equal(s.w.steps, 0);
    assert_int_equal(tw_cooperative_task_stop(s.task), -EALREADY);
    assert_int_equal(tw_cooperative_task_pause(s.task), -EALREADY);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_STOPPED);
    pump(s.f);
    assert_int_equal(s.w.steps, 0);
    end(&s);
}

static void test_pause_stop_resume(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    tw_cooperative_task_pause(s.task);
    tw_cooperative_task_stop(s.task);
    assert_int_equal(tw_cooperative_task_resume(s.task), 0);
    pump(s.f);
    assert_int_equal(s.w.steps, 0);
    end(&s);
}

static void test_stop_deferred(void **state)
{
    run_state s = start_run_state(*state);
    tw_test_outcome o = {0};
    s.w.defer_next = true;
    begin(&s);
    pump(s.f);
    tw_deferred *d = tw_deferred_ref(s.w.deferred);
    pump(s.f);
    tw_cooperative_task_stop(s.task);
    pump(s.f);
    tw_deferred_callback(d, "7", NULL);
    tw_deferred_add_both(d, tw_test_outcome_note, &o);
    pump(s.f);
    /* The cooperator consumed the deferred's result, and did no more work. */
    assert_int_equal(o.fired, 1);
    assert_null(o.value);
    assert_int_equal(s.f->nwork, 1);
    tw_deferred_unref(d);
    end(&s);
}

static void test_stop_exhausted_and_errored(void **state)
{
    run_state s = start_run_state(*state);
    s.w.stop_next = true;
    begin(&s);
    pump(s.f);
    assert_int_equal(tw_cooperative_task_stop(s.task), -EALREADY);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_DONE);
    end(&s);
    s = start_run_state(*state);
    s.w.die_next = true;
    begin(&s);
    tw_test_outcome o = {0};
    watch_task(s.task, &o);
    pump(s.f);
    assert_int_equal(tw_cooperative_task_stop(s.task), -EALREADY);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_FAILED);
    end(&s);
}

static int stop_cooperator(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    run_state *s = arg;
    assert_ptr_equal(tw_result_value(res), &s->w);
    tw_cooperator_stop(s->f->coop);
    s->f->work[s->f->nwork++] = 99; /* got through stop */
    return 0;
}

static void test_stop_cooperator_reentrancy(void **state)
{
    run_state s = start_run_state(*state);
    begin(&s);
    tw_deferred *d = tw_cooperative_task_when_done(s.task, NULL);
    tw_deferred_add_callback(d, stop_cooperator, &s);
    tw_deferred_unref(d);
    s.w.stop_next = true;
    pump(s.f);
    assert_work(s.f, (int[]){99}, 1);
    assert_int_equal(tw_cooperative_task_state(s.task), TW_TASK_DONE);
    end(&s);
}

/* ---- twine's own: the last step's deferred, freeing, the reactor's cooperator ---- */

static void test_done_with_a_deferred_waits_for_it(void **state)
{
    fixture *f = *state;
    run_state s = start_run_state(f);
    tw_test_outcome o = {0};
    s.w.defer_next = true;
    s.w.limit = 1;
    begin(&s);
    watch_task(s.task, &o);
    pump(f);
    assert_int_equal(s.w.steps, 1);
    /* The step after the deferred is the one that says done; first the wait. */
    pump(f);
    assert_int_equal(o.fired, 0);
    tw_deferred_callback(s.w.deferred, NULL, NULL);
    pump(f);
    assert_int_equal(o.fired, 1);
    end(&s);
}

static int last_step_deferred(tw_result *out, void *arg)
{
    worker *w = arg;
    w->deferred = tw_deferred_new(w->f->env.r, NULL);
    tw_result_set_deferred(out, tw_deferred_ref(w->deferred));
    return TW_STEP_DONE;
}

static void test_step_done_with_deferred(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker w = {.f = f};
    watch(tw_cooperator_coiterate(f->coop, last_step_deferred, &w, NULL), &o);
    pump(f);
    pump(f);
    assert_int_equal(o.fired, 0);
    tw_deferred_callback(w.deferred, NULL, NULL);
    assert_int_equal(o.fired, 1);
    assert_false(o.failed);
    tw_deferred_unref(w.deferred);
}

static int free_cooperator_step(tw_result *out, void *arg)
{
    (void)out;
    fixture *f = arg;
    tw_cooperator_free(f->coop);
    f->coop = NULL;
    return TW_STEP_MORE;
}

static void test_free_from_a_step(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0}, other = {0};
    worker w = one_per_tick(f, 1);
    watch(tw_cooperator_coiterate(f->coop, free_cooperator_step, f, NULL), &o);
    watch(tw_cooperator_coiterate(f->coop, step, &w, NULL), &other);
    pump(f);
    assert_string_equal(o.type, TW_SCHEDULER_STOPPED_ERROR);
    assert_string_equal(other.type, TW_SCHEDULER_STOPPED_ERROR);
    assert_int_equal(w.steps, 0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

static void test_reactor_cooperator(void **state)
{
    fixture *f = *state;
    tw_test_outcome o = {0};
    worker done = {.f = f, .tag = 1, .limit = 2};
    worker forever = {.f = f, .tag = 2, .cost = SLICE / 4};
    watch(tw_coiterate(f->env.r, step, &done, NULL), &o);
    tw_cooperative_task *t = tw_cooperate(f->env.r, step, &forever, NULL);
    assert_non_null(t);
    pump(f);
    assert_int_equal(o.fired, 1);
    assert_true(forever.steps > 0);
    /* The reactor stops and frees its cooperator; nothing may leak. */
    tw_cooperative_task_unref(t);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_cooperator_new(NULL, SLICE, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_cooperator_new(f->env.r, 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_cooperator_new(f->env.r, 0.0 / 0.0, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_cooperator_cooperate(f->coop, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_cooperate(NULL, step, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_cooperative_task_when_done(NULL, &err));
    assert_int_equal(err, -EINVAL);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_stopped_rejects_new_tasks),
        T(test_stop_running),
        T(test_stop_outstanding),
        T(test_unexpected_error),
        T(test_unexpected_error_in_a_deferred),
        T(test_cooperation),
        T(test_slice_ends_the_tick),
        T(test_fairness_across_ticks),
        T(test_io_runs_between_ticks),
        T(test_callback_re_coiterate),
        T(test_removing_last_task_cancels_the_tick),
        T(test_pause_resume),
        T(test_resume_not_paused),
        T(test_pause_twice),
        T(test_pause_while_deferred),
        T(test_pause_then_deferred_fires_still_paused),
        T(test_when_done),
        T(test_when_done_error),
        T(test_when_done_stop),
        T(test_when_done_already_done),
        T(test_stop_stops),
        T(test_pause_stop_resume),
        T(test_stop_deferred),
        T(test_stop_exhausted_and_errored),
        T(test_stop_cooperator_reentrancy),
        T(test_done_with_a_deferred_waits_for_it),
        T(test_step_done_with_deferred),
        T(test_free_from_a_step),
        T(test_reactor_cooperator),
        T(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("cooperator", tests, NULL, NULL);
}
