/* Tests for the opt-in signal handling: SIGINT/SIGTERM raised from a timer or another thread become
 * an orderly stop with the shutdown triggers run; SIGPIPE is ignored while installed; uninstall
 * puts back what was there; only one reactor at a time may own the handlers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/reactor_test.h"

/* If signal handling breaks, a raised SIGTERM kills the binary; this alarm catches a hang
 * instead. */
#define WATCHDOG_SECONDS 60

typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
    int signum;          /* what the test raises */
    bool shutdown_ran;
    bool after_ran;
    pthread_t thread;
} fixture;

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK);
}

static int teardown(void **state)
{
    return tw_test_fixture_teardown(state); /* also gives up the signal handlers */
}

static bool same_handler(int signum, void (*handler)(int))
{
    struct sigaction now;
    assert_int_equal(sigaction(signum, NULL, &now), 0);
    return now.sa_handler == handler;
}

static int note_shutdown(void *arg)
{
    ((fixture *)arg)->shutdown_ran = true;
    return 0;
}

static int note_after(void *arg)
{
    ((fixture *)arg)->after_ran = true;
    return 0;
}

static void add_shutdown_triggers(fixture *f)
{
    assert_true(
        tw_reactor_add_trigger(f->env.r, TW_PHASE_DURING, TW_EVENT_SHUTDOWN, note_shutdown, f) > 0);
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_AFTER, TW_EVENT_SHUTDOWN, note_after, f) >
                0);
}

/* ---- stop by signal -------------------------------------------------------------------------- */

static int raise_from_timer(void *arg)
{
    fixture *f = arg;
    return raise(f->signum) == 0 ? 0 : -errno;
}

static void stop_by_signal_from_timer(fixture *f, int signum)
{
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    add_shutdown_triggers(f);
    f->signum = signum;
    assert_non_null(tw_call_later(f->env.r, 0, raise_from_timer, f, NULL));
    assert_int_equal(tw_reactor_exit_signal(f->env.r), 0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_true(f->shutdown_ran);
    assert_true(f->after_ran);
    assert_int_equal(tw_reactor_exit_signal(f->env.r), signum);
}

static void test_sigterm_from_timer_stops_in_order(void **state)
{
    stop_by_signal_from_timer(*state, SIGTERM);
}

static void test_sigint_from_timer_stops_in_order(void **state)
{
    stop_by_signal_from_timer(*state, SIGINT);
}

static void *kill_self(void *arg)
{
    fixture *f = arg;
    kill(getpid(), f->signum);
    return NULL;
}

static int start_killer_thread(void *arg)
{
    fixture *f = arg;
    return -pthread_create(&f->thread, NULL, kill_self, f);
}

/* The signal comes from another thread and may be delivered to any thread; the stop still happens
 * in the reactor thread. */
static void test_sigint_from_other_thread(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    add_shutdown_triggers(f);
    f->signum = SIGINT;
    assert_int_equal(tw_call_when_running(f->env.r, start_killer_thread, f), 0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    assert_true(f->shutdown_ran);
    assert_int_equal(tw_reactor_exit_signal(f->env.r), SIGINT);
}

static int stop_fn(void *arg)
{
    return tw_reactor_stop(arg);
}

static void test_exit_signal_is_zero_after_plain_stop(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    assert_non_null(tw_call_later(f->env.r, 0, stop_fn, f->env.r, NULL));
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(tw_reactor_exit_signal(f->env.r), 0);
}

/* ---- dispositions ---------------------------------------------------------------------------- */

static void test_sigpipe_ignored_while_installed(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    assert_true(same_handler(SIGPIPE, SIG_IGN));
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    /* Without the handlers installed this write would kill the test binary. */
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(p[1]);
}

static volatile sig_atomic_t custom_hits;

static void custom_handler(int signum)
{
    (void)signum;
    custom_hits++;
}

static void test_uninstall_restores_previous_dispositions(void **state)
{
    fixture *f = *state;
    struct sigaction custom = { .sa_handler = custom_handler };
    sigemptyset(&custom.sa_mask);
    struct sigaction saved_int, saved_term, saved_pipe;
    assert_int_equal(sigaction(SIGINT, &custom, &saved_int), 0);
    assert_int_equal(sigaction(SIGPIPE, &custom, &saved_pipe), 0);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGTERM, &dfl, &saved_term), 0);

    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    assert_false(same_handler(SIGINT, custom_handler));
    assert_false(same_handler(SIGTERM, SIG_DFL));
    assert_true(same_handler(SIGPIPE, SIG_IGN));

    tw_reactor_uninstall_signal_handlers(f->env.r);
    assert_true(same_handler(SIGINT, custom_handler));
    assert_true(same_handler(SIGTERM, SIG_DFL));
    assert_true(same_handler(SIGPIPE, custom_handler));
    /* Really back: our own handler gets the signal again. */
    custom_hits = 0;
    raise(SIGINT);
    assert_int_equal(custom_hits, 1);
    /* A second uninstall is harmless. */
    tw_reactor_uninstall_signal_handlers(f->env.r);
    assert_true(same_handler(SIGINT, custom_handler));

    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    sigaction(SIGPIPE, &saved_pipe, NULL);
}

/* ---- ownership ------------------------------------------------------------------------------- */

static void test_one_owner_at_a_time(void **state)
{
    fixture *f = *state;
    struct sigaction initial_pipe;
    assert_int_equal(sigaction(SIGPIPE, NULL, &initial_pipe), 0);
    tw_reactor *other = tw_reactor_new(NULL);
    assert_non_null(other);
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0); /* the owner again: fine */
    assert_int_equal(tw_reactor_install_signal_handlers(other), -EBUSY);
    /* Uninstalling from a non-owner changes nothing. */
    tw_reactor_uninstall_signal_handlers(other);
    assert_true(same_handler(SIGPIPE, SIG_IGN));
    tw_reactor_uninstall_signal_handlers(f->env.r);
    assert_int_equal(tw_reactor_install_signal_handlers(other), 0);
    /* Freeing the owner gives the handlers up too. */
    tw_reactor_free(other);
    assert_true(same_handler(SIGPIPE, initial_pipe.sa_handler));
    assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
}

/* Installing and uninstalling many times leaves no fd behind. */
static void test_install_uninstall_leaks_no_fds(void **state)
{
    fixture *f = *state;
    int before = tw_test_count_open_fds();
    for (int i = 0; i < 20; i++) {
        assert_int_equal(tw_reactor_install_signal_handlers(f->env.r), 0);
        tw_reactor_uninstall_signal_handlers(f->env.r);
    }
    assert_int_equal(tw_test_count_open_fds(), before);
}

int main(void)
{
    alarm(WATCHDOG_SECONDS);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_from_timer_stops_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_from_timer_stops_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_from_other_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_signal_is_zero_after_plain_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigpipe_ignored_while_installed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uninstall_restores_previous_dispositions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_owner_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_uninstall_leaks_no_fds, setup, teardown),
    };
    return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
