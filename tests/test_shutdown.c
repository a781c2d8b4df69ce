/* Tests for running and stopping the reactor: run/stop errors (Twisted's ReactorNotRunning,
 * AlreadyRunning, NotRestartable), startup and shutdown triggers in order, trigger removal, and a
 * shutdown held open by a before-shutdown trigger while timers and I/O go on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/reactor_test.h"

#define LOG_MAX 64

/* A reactor, a capture log, and a trace of named steps in the order they ran. */
typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
    const char *trace[LOG_MAX];
    int ntrace;
} fixture;

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK);
}

static int teardown(void **state)
{
    return tw_test_fixture_teardown(state);
}

/* One named step; what it does beyond being traced is its action. */
typedef struct step step;
struct step {
    fixture *f;
    const char *name;
    int (*action)(step *s);
    int result;
    long id;     /* a trigger id the action works on */
    int count;
};

static void trace(fixture *f, const char *name)
{
    assert_true(f->ntrace < LOG_MAX);
    f->trace[f->ntrace++] = name;
}

static int step_fn(void *arg)
{
    step *s = arg;
    trace(s->f, s->name);
    return s->action ? s->action(s) : 0;
}

static void assert_trace(fixture *f, const char *const *want, int n)
{
    for (int i = 0; i < n && i < f->ntrace; i++)
        assert_string_equal(f->trace[i], want[i]);
    assert_int_equal(f->ntrace, n);
}

static long add_trigger(fixture *f, step *s, const char *name, tw_phase phase, tw_system_event ev)
{
    s->f = f;
    s->name = name;
    long id = tw_reactor_add_trigger(f->env.r, phase, ev, step_fn, s);
    assert_true(id > 0);
    return id;
}

static void later(fixture *f, step *s, const char *name, double delay)
{
    s->f = f;
    s->name = name;
    assert_non_null(tw_call_later(f->env.r, delay, step_fn, s, NULL));
}

static int stop_action(step *s)
{
    s->result = tw_reactor_stop(s->f->env.r);
    return 0;
}

/* ---- run and stop ---------------------------------------------------------------------------- */

/* Runs the reactor with s scheduled for its first turn doing action; run must return 0. */
static void run_with_action_on_first_turn(fixture *f, step *s, int (*action)(step *s))
{
    later(f, s, "timer", 0);
    s->action = action;
    assert_int_equal(tw_reactor_run(f->env.r), 0);
}

static void test_stop_when_not_running(void **state)
{
    fixture *f = *state;
    assert_false(tw_reactor_running(f->env.r));
    assert_int_equal(tw_reactor_stop(f->env.r), TW_ENOTRUNNING);
    /* The reactor is still usable: nothing was started or broken. */
    step s = { 0 };
    run_with_action_on_first_turn(f, &s, stop_action);
    assert_int_equal(s.result, 0);
}

static int double_stop_action(step *s)
{
    int first = tw_reactor_stop(s->f->env.r);
    int second = tw_reactor_stop(s->f->env.r);
    s->result = first == 0 && second == TW_ENOTRUNNING ? 1 : -1;
    return 0;
}

static void test_second_stop_is_an_error(void **state)
{
    fixture *f = *state;
    step s = { 0 };
    run_with_action_on_first_turn(f, &s, double_stop_action);
    assert_int_equal(s.result, 1);
}

static int nested_run_action(step *s)
{
    s->id = tw_reactor_iterate(s->f->env.r, 0);
    s->result = tw_reactor_run(s->f->env.r);
    s->count = tw_reactor_running(s->f->env.r);
    return tw_reactor_stop(s->f->env.r);
}

static void test_run_inside_run_and_after_stop(void **state)
{
    fixture *f = *state;
    step s = { 0 };
    run_with_action_on_first_turn(f, &s, nested_run_action);
    assert_int_equal(s.result, TW_EALREADYRUNNING);
    assert_int_equal(s.id, TW_EALREADYRUNNING); /* no turn inside a turn either */
    assert_int_equal(s.count, 1); /* running inside a callback of run() */
    assert_false(tw_reactor_running(f->env.r));
    assert_int_equal(tw_reactor_run(f->env.r), TW_ENOTRESTARTABLE);
    assert_int_equal(tw_reactor_stop(f->env.r), TW_ENOTRUNNING);
}

/* Stop from a timer: the turn finishes (other due calls of that turn still run), then run
 * returns. */
static void test_stop_from_timer_finishes_turn(void **state)
{
    fixture *f = *state;
    step a = { 0 }, b = { 0 }, c = { 0 };
    later(f, &a, "stopper", 0);
    a.action = stop_action;
    later(f, &b, "same turn", 0);
    later(f, &c, "far future", 3600);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    static const char *const want[] = { "stopper", "same turn" };
    assert_trace(f, want, 2);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
}

/* ---- triggers -------------------------------------------------------------------------------- */

static int when_running_action(step *s)
{
    s->count = tw_reactor_running(s->f->env.r);
    return 0;
}

static void test_trigger_order(void **state)
{
    fixture *f = *state;
    step s[16] = { 0 };
    /* Added out of phase order on purpose: each phase keeps the order of its own registrations. */
    add_trigger(f, &s[0], "shutdown after 1", TW_PHASE_AFTER, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[1], "shutdown before 1", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[2], "startup after 1", TW_PHASE_AFTER, TW_EVENT_STARTUP);
    add_trigger(f, &s[3], "shutdown during 1", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[4], "startup during 1", TW_PHASE_DURING, TW_EVENT_STARTUP);
    add_trigger(f, &s[5], "startup before 1", TW_PHASE_BEFORE, TW_EVENT_STARTUP);
    add_trigger(f, &s[6], "shutdown before 2", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[7], "startup before 2", TW_PHASE_BEFORE, TW_EVENT_STARTUP);
    s[8].f = f;
    s[8].name = "when running";
    s[8].action = when_running_action;
    assert_int_equal(tw_call_when_running(f->env.r, step_fn, &s[8]), 0);
    add_trigger(f, &s[9], "startup after 2", TW_PHASE_AFTER, TW_EVENT_STARTUP);
    add_trigger(f, &s[10], "shutdown during 2", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[11], "shutdown after 2", TW_PHASE_AFTER, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[12], "startup during 2", TW_PHASE_DURING, TW_EVENT_STARTUP);
    later(f, &s[13], "timer", 0);
    s[13].action = stop_action;

    assert_int_equal(tw_reactor_run(f->env.r), 0);
    static const char *const want[] = {
        "startup before 1", "startup before 2", "startup during 1", "startup during 2",
        "startup after 1",  "when running",     "startup after 2",  "timer",
        "shutdown before 1", "shutdown before 2", "shutdown during 1", "shutdown during 2",
        "shutdown after 1", "shutdown after 2",
    };
    assert_trace(f, want, (int)(sizeof want / sizeof want[0]));
    assert_int_equal(s[8].count, 1);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
}

/* The epoll fd of the reactor, found through /proc: -1 if there is none (another backend). */
static int find_epoll_fd(void)
{
    char path[64], target[64];
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, "anon_inode:[eventpoll]") == 0)
                return fd;
        }
    }
    return -1;
}

static int hold_action(step *s)
{
    tw_reactor_hold_shutdown(s->f->env.r); /* never released */
    return 0;
}

static int break_the_wait(step *s)
{
    int fd = find_epoll_fd();
    s->result = fd;
    /* Another fd takes its number, so the next epoll_wait fails with EINVAL. */
    return fd >= 0 && dup2(STDERR_FILENO, fd) == fd ? 0 : -EIO;
}

/* When the wait itself fails, run() still runs the shutdown triggers (holds cannot be honoured)
 * and returns the error. Only epoll's wait can be broken from outside; the others skip. */
static void test_failed_wait_still_shuts_down(void **state)
{
    fixture *f = *state;
    if (strcmp(tw_reactor_backend(), "epoll") != 0) {
        print_message("only the epoll backend's wait can be made to fail: skipped\n");
        skip();
    }
    step s[4] = { 0 };
    add_trigger(f, &s[0], "shutdown before", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    s[0].action = hold_action;
    add_trigger(f, &s[1], "shutdown during", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[2], "shutdown after", TW_PHASE_AFTER, TW_EVENT_SHUTDOWN);
    later(f, &s[3], "timer", 0);
    s[3].action = break_the_wait;
    assert_int_equal(tw_reactor_run(f->env.r), -EINVAL);
    assert_true(s[3].result >= 0);
    static const char *const want[] = {"timer", "shutdown before", "shutdown during",
                                       "shutdown after"};
    assert_trace(f, want, 4);
    assert_true(tw_test_log_contains(&f->env.log, "wait failed"));
}

/* Stopping while starting up: the startup sequence completes, then the shutdown runs. */
static void test_stop_from_startup_trigger(void **state)
{
    fixture *f = *state;
    step s[3] = { 0 };
    add_trigger(f, &s[0], "startup before", TW_PHASE_BEFORE, TW_EVENT_STARTUP);
    s[0].action = stop_action;
    add_trigger(f, &s[1], "startup after", TW_PHASE_AFTER, TW_EVENT_STARTUP);
    add_trigger(f, &s[2], "shutdown during", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(s[0].result, 0);
    static const char *const want[] = { "startup before", "startup after", "shutdown during" };
    assert_trace(f, want, 3);
}

/* stop() from a shutdown trigger: the reactor is already stopping. */
static void test_stop_from_shutdown_trigger_is_an_error(void **state)
{
    fixture *f = *state;
    step s[2] = { 0 };
    add_trigger(f, &s[0], "before", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    s[0].action = stop_action;
    later(f, &s[1], "timer", 0);
    s[1].action = stop_action;
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(s[1].result, 0);
    assert_int_equal(s[0].result, TW_ENOTRUNNING);
}

static int remove_trigger_action(step *s)
{
    s->result = tw_reactor_remove_trigger(s->f->env.r, s->id);
    return 0;
}

static void test_remove_trigger(void **state)
{
    fixture *f = *state;
    step s[6] = { 0 };
    long gone = add_trigger(f, &s[0], "removed before run", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[1], "remover", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    long victim = add_trigger(f, &s[2], "removed by remover", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    long ran = add_trigger(f, &s[3], "startup", TW_PHASE_DURING, TW_EVENT_STARTUP);
    add_trigger(f, &s[4], "kept", TW_PHASE_AFTER, TW_EVENT_SHUTDOWN);
    s[1].action = remove_trigger_action;
    s[1].id = victim;
    later(f, &s[5], "timer", 0);
    s[5].action = stop_action;

    assert_int_equal(tw_reactor_remove_trigger(f->env.r, gone), 0);
    assert_int_equal(tw_reactor_remove_trigger(f->env.r, gone), -ENOENT);
    assert_int_equal(tw_reactor_remove_trigger(f->env.r, 999999), -ENOENT);
    assert_int_equal(tw_reactor_remove_trigger(f->env.r, 0), -ENOENT);
    assert_int_equal(tw_reactor_remove_trigger(f->env.r, -3), -ENOENT);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(s[1].result, 0);
    static const char *const want[] = { "startup", "timer", "remover", "kept" };
    assert_trace(f, want, 4);
    /* Already run: unknown now. */
    assert_int_equal(tw_reactor_remove_trigger(f->env.r, ran), -ENOENT);
}

static void test_add_trigger_bad_arguments(void **state)
{
    fixture *f = *state;
    step s = { .f = f, .name = "x" };
    assert_int_equal(tw_reactor_add_trigger(f->env.r, (tw_phase)3, TW_EVENT_SHUTDOWN, step_fn, &s),
                     -EINVAL);
    assert_int_equal(tw_reactor_add_trigger(f->env.r, (tw_phase)-1, TW_EVENT_SHUTDOWN, step_fn, &s),
                     -EINVAL);
    assert_int_equal(
        tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, (tw_system_event)2, step_fn, &s),
        -EINVAL);
    assert_int_equal(tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, NULL, &s),
                     -EINVAL);
    /* Ids are distinct and positive. */
    long a = tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, step_fn, &s);
    long b = tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, step_fn, &s);
    assert_true(a > 0 && b > 0 && a != b);
}

static int fail_action(step *s)
{
    (void)s;
    return -ECANCELED;
}

static void test_failing_trigger_is_reported_and_others_run(void **state)
{
    fixture *f = *state;
    step s[4] = { 0 };
    add_trigger(f, &s[0], "failing", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    s[0].action = fail_action;
    add_trigger(f, &s[1], "next", TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN);
    add_trigger(f, &s[2], "during", TW_PHASE_DURING, TW_EVENT_SHUTDOWN);
    later(f, &s[3], "timer", 0);
    s[3].action = stop_action;
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    static const char *const want[] = { "timer", "failing", "next", "during" };
    assert_trace(f, want, 4);
    assert_int_equal(tw_test_log_errors(&f->env.log), 1);
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-ECANCELED)));
}

/* ---- holding the shutdown -------------------------------------------------------------------- */

typedef struct {
    fixture *f;
    int ticks_after_hold;   /* timer runs counted once the hold began */
    int reads_after_hold;   /* reader runs counted once the hold began */
    bool holding;
    bool released;
    int ticks_seen_by_during;
} hold_state;

static int hold_trigger(void *arg)
{
    hold_state *h = arg;
    tw_reactor_hold_shutdown(h->f->env.r);
    h->holding = true;
    return 0;
}

static int ticker(void *arg)
{
    hold_state *h = arg;
    if (h->released)
        return 0;
    if (h->holding && ++h->ticks_after_hold == 5) {
        h->released = true;
        tw_reactor_release_shutdown(h->f->env.r);
        return 0;
    }
    return tw_call_later(h->f->env.r, 0, ticker, h, NULL) ? 0 : -ENOMEM;
}

static int hold_reader(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    hold_state *h = arg;
    if (h->holding && !h->released)
        h->reads_after_hold++;
    return 0;
}

static int during_trigger(void *arg)
{
    hold_state *h = arg;
    h->ticks_seen_by_during = h->ticks_after_hold;
    return 0;
}

static int stop_fn(void *arg)
{
    return tw_reactor_stop(arg);
}

static void test_hold_shutdown_delays_during_phase(void **state)
{
    fixture *f = *state;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    hold_state h = { .f = f };
    assert_true(
        tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, hold_trigger, &h) > 0);
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_DURING, TW_EVENT_SHUTDOWN, during_trigger,
                                       &h) > 0);
    assert_int_equal(tw_reactor_add_reader(f->env.r, p[0], hold_reader, &h), 0);
    assert_non_null(tw_call_later(f->env.r, 0, ticker, &h, NULL));
    assert_non_null(tw_call_later(f->env.r, 0, stop_fn, f->env.r, NULL));
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_true(h.released);
    /* During ran only after the release, and timers and I/O went on while held. */
    assert_int_equal(h.ticks_seen_by_during, 5);
    assert_true(h.reads_after_hold >= 4);
    assert_int_equal(tw_reactor_close_fd(f->env.r, p[0]), 0);
    close(p[1]);
}

/* Two holds need two releases; an extra release does no harm. */
static int double_hold_trigger(void *arg)
{
    hold_state *h = arg;
    tw_reactor_hold_shutdown(h->f->env.r);
    tw_reactor_hold_shutdown(h->f->env.r);
    h->holding = true;
    return 0;
}

static int release_one(void *arg)
{
    hold_state *h = arg;
    h->ticks_after_hold++;
    tw_reactor_release_shutdown(h->f->env.r);
    if (h->ticks_after_hold < 3)
        return tw_call_later(h->f->env.r, 0, release_one, h, NULL) ? 0 : -ENOMEM;
    return 0;
}

static int start_releasing(void *arg)
{
    return tw_call_later(((hold_state *)arg)->f->env.r, 0, release_one, arg, NULL) ? 0 : -ENOMEM;
}

static void test_two_holds_need_two_releases(void **state)
{
    fixture *f = *state;
    hold_state h = { .f = f };
    tw_reactor_release_shutdown(f->env.r); /* nothing held: ignored */
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                       double_hold_trigger, &h) > 0);
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                       start_releasing, &h) > 0);
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_DURING, TW_EVENT_SHUTDOWN, during_trigger,
                                       &h) > 0);
    assert_non_null(tw_call_later(f->env.r, 0, stop_fn, f->env.r, NULL));
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(h.ticks_seen_by_during, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_when_not_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_stop_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_inside_run_and_after_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_timer_finishes_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_startup_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_shutdown_trigger_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_trigger_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_trigger_is_reported_and_others_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_shutdown_delays_during_phase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_holds_need_two_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_wait_still_shuts_down, setup, teardown),
    };
    return cmocka_run_group_tests_name("shutdown", tests, NULL, NULL);
}
