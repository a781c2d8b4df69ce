/* Tests for the reactor's log hook and error names: the default stderr logger (captured through a
 * pipe standing in for fd 2), a custom hook, restoring the default, level names and tw_strerror. */
/* First and alone: the API speaks in -Exxx codes, so error.h must bring <errno.h> with it. */
#include <twine/error.h>
static const int einval_from_error_h = EINVAL;

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

#include "reactor/log.h"
#include "support/reactor_test.h"

static int setup(void **state)
{
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    tw_reactor_free(*state);
    return 0;
}

/* Runs fn with fd 2 pointing into a pipe and returns what it wrote there (static buffer). */
static const char *capture_stderr(void (*fn)(tw_reactor *r), tw_reactor *r)
{
    static char out[4096];
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], 2), 2);
    fn(r);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(p[1]);
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void log_warning(tw_reactor *r)
{
    tw_reactor_log(r, TW_LOG_WARN, "disk %s at %d%%", "sda", 97);
}

static void test_default_logger_writes_stderr(void **state)
{
    const char *out = capture_stderr(log_warning, *state);
    char want[128];
    snprintf(want, sizeof want, "twine: %s: disk sda at 97%%\n", tw_log_level_name(TW_LOG_WARN));
    assert_string_equal(out, want);
}

typedef struct {
    int calls;
    tw_log_level level;
    char message[256];
} hook_state;

static void hook(void *ctx, tw_log_level level, const char *message)
{
    hook_state *h = ctx;
    h->calls++;
    h->level = level;
    snprintf(h->message, sizeof h->message, "%s", message);
}

static void test_custom_hook_then_default_again(void **state)
{
    tw_reactor *r = *state;
    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    const char *out = capture_stderr(log_warning, r);
    assert_string_equal(out, "");
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.level, TW_LOG_WARN);
    assert_string_equal(h.message, "disk sda at 97%");

    tw_reactor_log(r, TW_LOG_CRITICAL, "%s", "boom");
    assert_int_equal(h.calls, 2);
    assert_int_equal(h.level, TW_LOG_CRITICAL);
    assert_string_equal(h.message, "boom");

    tw_reactor_set_logger(r, NULL, NULL);
    out = capture_stderr(log_warning, r);
    assert_non_null(strstr(out, "disk sda at 97%"));
    assert_int_equal(h.calls, 2);
}

static void log_info(tw_reactor *r)
{
    tw_reactor_log(r, TW_LOG_INFO, "received %s, shutting down", "SIGINT");
}

/* A library's default is warnings and above: notes stay out of a program's stderr. */
static void test_default_level_drops_notes(void **state)
{
    assert_int_equal(tw_reactor_log_level(*state), TW_LOG_WARN);
    assert_int_equal(tw_reactor_log_level(NULL), TW_LOG_WARN);
    assert_string_equal(capture_stderr(log_info, *state), "");
    assert_string_equal(capture_stderr(log_info, NULL), "");
    assert_string_not_equal(capture_stderr(log_warning, *state), "");
}

static void test_reactor_level(void **state)
{
    tw_reactor *r = *state;
    assert_int_equal(tw_reactor_set_log_level(r, TW_LOG_INFO), 0);
    assert_int_equal(tw_reactor_log_level(r), TW_LOG_INFO);
    assert_string_equal(capture_stderr(log_info, r),
                        "twine: info: received SIGINT, shutting down\n");
    assert_int_equal(tw_reactor_log_level(NULL), TW_LOG_WARN); /* the process-wide level is apart */

    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    assert_int_equal(tw_reactor_set_log_level(r, TW_LOG_ERROR), 0);
    tw_reactor_log(r, TW_LOG_WARN, "dropped");
    tw_reactor_log(r, TW_LOG_ERROR, "kept");
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.message, "kept");

    assert_int_equal(tw_reactor_set_log_level(r, (tw_log_level)(TW_LOG_CRITICAL + 1)), -EINVAL);
    assert_int_equal(tw_reactor_set_log_level(r, (tw_log_level)-1), -EINVAL);
    assert_int_equal(tw_reactor_set_log_level(NULL, TW_LOG_INFO), -EINVAL);
    assert_int_equal(tw_reactor_log_level(r), TW_LOG_ERROR); /* unchanged by the refusals */
}

/* The process-wide logger takes what has no reactor and what reactors without a hook write. */
static void test_default_logger_and_level(void **state)
{
    tw_reactor *r = *state;
    hook_state h = { 0 };
    tw_set_default_logger(hook, &h);
    tw_reactor_log(NULL, TW_LOG_WARN, "no reactor");
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.message, "no reactor");
    tw_reactor_log(r, TW_LOG_ERROR, "reactor without a hook");
    assert_int_equal(h.calls, 2);
    assert_int_equal(h.level, TW_LOG_ERROR);

    assert_int_equal(tw_set_default_log_level(TW_LOG_DEBUG), 0);
    tw_reactor_log(r, TW_LOG_DEBUG, "debug");
    assert_int_equal(h.calls, 3);
    assert_int_equal(tw_reactor_set_log_level(r, TW_LOG_WARN), 0); /* r's own level wins */
    tw_reactor_log(r, TW_LOG_INFO, "info");
    tw_reactor_log(NULL, TW_LOG_INFO, "info without a reactor");
    assert_int_equal(h.calls, 4);
    assert_string_equal(h.message, "info without a reactor");
    assert_int_equal(tw_set_default_log_level((tw_log_level)99), -EINVAL);
    assert_int_equal(tw_reactor_log_level(NULL), TW_LOG_DEBUG);

    hook_state own = { 0 };
    tw_reactor_set_logger(r, hook, &own);
    tw_reactor_log(r, TW_LOG_WARN, "own");
    assert_int_equal(own.calls, 1);
    assert_int_equal(h.calls, 4);

    tw_set_default_logger(NULL, NULL);
    assert_int_equal(tw_set_default_log_level(TW_LOG_DEFAULT_LEVEL), 0);
    assert_string_equal(capture_stderr(log_warning, NULL), "twine: warning: disk sda at 97%\n");
    assert_int_equal(h.calls, 4);
}

/* A deferred made without a reactor reports an unhandled failure to the process-wide logger. */
static void test_unhandled_failure_without_reactor(void **state)
{
    (void)state;
    hook_state h = { 0 };
    tw_set_default_logger(hook, &h);
    tw_deferred *d = tw_deferred_new(NULL, NULL);
    assert_non_null(d);
    assert_int_equal(tw_deferred_errback(d, tw_failure_from_errno(-ECONNREFUSED, NULL)), 0);
    tw_deferred_unref(d);
    tw_set_default_logger(NULL, NULL);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.level, TW_LOG_CRITICAL);
    assert_non_null(strstr(h.message, "Unhandled error in Deferred: ConnectionRefusedError"));
}

/* A failing callback reaches the hook at error level, naming the error. */
static int failing_timer(void *arg)
{
    (void)arg;
    return -ETIMEDOUT;
}

static void test_callback_error_reaches_hook(void **state)
{
    tw_reactor *r = *state;
    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    assert_non_null(tw_call_later(r, 0, failing_timer, NULL, NULL));
    assert_int_equal(tw_reactor_iterate(r, 0), 1);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.level, TW_LOG_ERROR);
    assert_non_null(strstr(h.message, tw_strerror(-ETIMEDOUT)));
}

/* A message longer than any line buffer arrives cut, never overflowing. */
static void test_long_message_is_cut_safely(void **state)
{
    tw_reactor *r = *state;
    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    tw_reactor_log(r, TW_LOG_WARN, "start %s", big);
    free(big);
    assert_int_equal(h.calls, 1);
    assert_int_equal(strncmp(h.message, "start aaaa", 10), 0);
}

/* A recurring warning writes its first line at once, then at most one per TW_LOG_REPEAT_INTERVAL
 * of the reactor's clock, each saying how many were held back since the one before. */
static void test_limited_warning_one_line_per_interval(void **state)
{
    tw_reactor *r = *state;
    tw_test_clock clock;
    tw_test_clock_install(r, &clock);
    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    tw_log_limit limit = { 0 };

    tw__log_limited(r, &limit, TW_LOG_WARN, "out of %s", "fds");
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.message, "out of fds");
    for (int i = 0; i < 4; i++)
        tw__log_limited(r, &limit, TW_LOG_WARN, "out of %s", "fds");
    tw_test_clock_turn(r, &clock, TW_LOG_REPEAT_INTERVAL - 0.001);
    tw__log_limited(r, &limit, TW_LOG_WARN, "out of %s", "fds");
    assert_int_equal(h.calls, 1); /* five held back, all within the interval */

    tw_test_clock_turn(r, &clock, 0.001);
    tw__log_limited(r, &limit, TW_LOG_ERROR, "still out of %s", "fds");
    assert_int_equal(h.calls, 2);
    assert_int_equal(h.level, TW_LOG_ERROR);
    assert_string_equal(h.message, "still out of fds [5 similar warnings held back]");

    /* quiet for longer than the interval: the next one is written, with nothing held back */
    tw_test_clock_turn(r, &clock, 10 * TW_LOG_REPEAT_INTERVAL);
    tw__log_limited(r, &limit, TW_LOG_WARN, "again");
    assert_int_equal(h.calls, 3);
    assert_string_equal(h.message, "again");
    tw_reactor_set_clock(r, NULL, NULL); /* clock is about to go out of scope */
}

/* Each condition has its own limit: one held back does not hold back another. */
static void test_limited_warnings_are_independent(void **state)
{
    tw_reactor *r = *state;
    hook_state h = { 0 };
    tw_reactor_set_logger(r, hook, &h);
    tw_log_limit a = { 0 }, b = { 0 };
    tw__log_limited(r, &a, TW_LOG_WARN, "a");
    tw__log_limited(r, &a, TW_LOG_WARN, "a");
    tw__log_limited(r, &b, TW_LOG_WARN, "b");
    assert_int_equal(h.calls, 2);
    assert_string_equal(h.message, "b");
}

static void test_level_names(void **state)
{
    (void)state;
    static const tw_log_level levels[] = { TW_LOG_DEBUG, TW_LOG_INFO, TW_LOG_WARN, TW_LOG_ERROR,
                                           TW_LOG_CRITICAL };
    enum { N = sizeof levels / sizeof levels[0] };
    for (int i = 0; i < N; i++) {
        const char *name = tw_log_level_name(levels[i]);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, tw_log_level_name(levels[j]));
    }
    assert_string_equal(tw_log_level_name(TW_LOG_ERROR), "error");
    assert_string_equal(tw_log_level_name(TW_LOG_CRITICAL), "critical");
    assert_non_null(tw_log_level_name((tw_log_level)99));
    assert_non_null(tw_log_level_name((tw_log_level)-1));
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(tw_strerror(-EINVAL), strerror(EINVAL));
    assert_int_equal(einval_from_error_h, EINVAL);
    assert_string_equal(tw_strerror(-ECONNREFUSED), strerror(ECONNREFUSED));
    static const int codes[] = { TW_EALREADYCALLED, TW_EALREADYCANCELLED, TW_ENOTRUNNING,
                                 TW_EALREADYRUNNING, TW_ENOTRESTARTABLE, TW_ECALLBACK,
                                 TW_EOVERFLOW, TW_EUNDERFLOW, TW_EPARSE };
    enum { N = sizeof codes / sizeof codes[0] };
    for (int i = 0; i < N; i++) {
        const char *s = tw_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, tw_strerror(codes[j]));
    }
    /* Anything else still gets a string, never NULL. */
    assert_non_null(tw_strerror(0));
    assert_non_null(tw_strerror(5));
    assert_non_null(tw_strerror(-19999));
    assert_non_null(tw_strerror(-2000000000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_logger_writes_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_hook_then_default_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_level_drops_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reactor_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_logger_and_level, setup, teardown),
        cmocka_unit_test(test_unhandled_failure_without_reactor),
        cmocka_unit_test_setup_teardown(test_callback_error_reaches_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_is_cut_safely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limited_warning_one_line_per_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limited_warnings_are_independent, setup, teardown),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
