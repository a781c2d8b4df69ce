/* twine.h's NULL rule, function by function: every public function of reactor.h and deferred.h,
 * given NULL where it needs an object, answers as its kind answers an error (-EINVAL, NULL with
 * *err, false or 0, or nothing) and takes over nothing it was handed; none of them crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <twine/twine.h>

static int noop_fn(void *arg)
{
    (void)arg;
    return 0;
}

static int noop_io(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    (void)arg;
    return 0;
}

static int noop_callback(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    (void)arg;
    return 0;
}

static int noop_work(tw_result *out, void *arg)
{
    (void)out;
    (void)arg;
    return 0;
}

static void test_reactor_lifetime_and_running(void **state)
{
    (void)state;
    tw_reactor_free(NULL);
    assert_int_equal(tw_reactor_run(NULL), -EINVAL);
    assert_int_equal(tw_reactor_stop(NULL), -EINVAL);
    assert_int_equal(tw_reactor_iterate(NULL, 0), -EINVAL);
    assert_false(tw_reactor_running(NULL));
    assert_int_equal(tw_call_when_running(NULL, noop_fn, NULL), -EINVAL);
}

static void test_reactor_time_and_timers(void **state)
{
    (void)state;
    assert_int_equal(tw_reactor_now(NULL), 0);
    assert_true(tw_reactor_seconds(NULL) == 0);
    tw_reactor_set_clock(NULL, NULL, NULL);
    int err = 0;
    assert_null(tw_call_later(NULL, 1, noop_fn, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_delayed_call_cancel(NULL), -EINVAL);
    assert_int_equal(tw_delayed_call_reset(NULL, 1), -EINVAL);
    assert_int_equal(tw_delayed_call_delay(NULL, 1), -EINVAL);
    assert_false(tw_delayed_call_active(NULL));
    assert_false(tw_delayed_call_called(NULL));
    assert_false(tw_delayed_call_cancelled(NULL));
    assert_true(tw_delayed_call_get_time(NULL) == 0);
    assert_null(tw_delayed_call_ref(NULL));
    tw_delayed_call_unref(NULL);
    assert_int_equal(tw_reactor_pending_calls(NULL), 0);
}

/* close_fd with no reactor fails and leaves the fd open: it took nothing over. */
static void test_reactor_fds(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(tw_reactor_add_reader(NULL, p[0], noop_io, NULL), -EINVAL);
    assert_int_equal(tw_reactor_add_writer(NULL, p[1], noop_io, NULL), -EINVAL);
    assert_int_equal(tw_reactor_remove_reader(NULL, p[0]), -EINVAL);
    assert_int_equal(tw_reactor_remove_writer(NULL, p[1]), -EINVAL);
    assert_false(tw_reactor_is_reading(NULL, p[0]));
    assert_false(tw_reactor_is_writing(NULL, p[1]));
    assert_int_equal(tw_reactor_remove_all(NULL), 0);
    assert_int_equal(tw_reactor_close_fd(NULL, p[0]), -EINVAL);
    assert_true(fcntl(p[0], F_GETFD) >= 0);
    close(p[0]);
    close(p[1]);
}

static void test_reactor_threads_triggers_signals(void **state)
{
    (void)state;
    assert_int_equal(tw_call_from_thread(NULL, noop_fn, NULL), -EINVAL);
    assert_int_equal(tw_call_in_thread(NULL, noop_fn, NULL), -EINVAL);
    assert_int_equal(tw_reactor_set_thread_pool_size(NULL, 2), -EINVAL);
    assert_true(tw_reactor_add_trigger(NULL, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, noop_fn, NULL) ==
                -EINVAL);
    assert_int_equal(tw_reactor_remove_trigger(NULL, 1), -EINVAL);
    tw_reactor_hold_shutdown(NULL);
    tw_reactor_release_shutdown(NULL);
    assert_int_equal(tw_reactor_install_signal_handlers(NULL), -EINVAL);
    tw_reactor_uninstall_signal_handlers(NULL);
    assert_int_equal(tw_reactor_exit_signal(NULL), 0);
    assert_int_equal(tw_reactor_set_log_level(NULL, TW_LOG_INFO), -EINVAL);
    assert_true(tw_reactor_log_level(NULL) <= TW_LOG_CRITICAL); /* the process-wide level */
    assert_int_equal(tw_reactor_set_debug(NULL, 0.1), -EINVAL);
    tw_reactor_metrics m = {.turns = 7};
    tw_reactor_get_metrics(NULL, &m);
    assert_int_equal(m.turns, 7); /* untouched */
}

/* Uninstalling through NULL must not take the handlers from the reactor that owns them. */
static void test_null_uninstall_leaves_the_owner_alone(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    assert_int_equal(tw_reactor_install_signal_handlers(r), 0);
    tw_reactor_uninstall_signal_handlers(NULL);
    assert_int_equal(tw_reactor_install_signal_handlers(r), 0); /* still its own: 0, not -EBUSY */
    tw_reactor *other = tw_reactor_new(NULL);
    assert_non_null(other);
    assert_int_equal(tw_reactor_install_signal_handlers(other), -EBUSY);
    tw_reactor_free(other);
    tw_reactor_free(r);
}

static void test_results_and_deferreds(void **state)
{
    (void)state;
    assert_false(tw_result_is_failure(NULL));
    assert_null(tw_result_value(NULL));
    assert_null(tw_result_failure(NULL));
    assert_null(tw_result_take_value(NULL, NULL));
    assert_null(tw_result_take_failure(NULL));
    tw_result_set_value(NULL, "kept by the caller", NULL);
    tw_result_set_error(NULL, -EIO, "nothing to set");
    assert_null(tw_deferred_ref(NULL));
    tw_deferred_unref(NULL);
    assert_null(tw_deferred_reactor(NULL));
    assert_int_equal(tw_deferred_callback(NULL, NULL, NULL), -EINVAL);
    tw_failure *f = tw_failure_new("Kept", -EIO, "the caller's");
    assert_int_equal(tw_deferred_errback(NULL, f), -EINVAL);
    tw_failure_unref(f); /* still ours */
    assert_int_equal(tw_deferred_add_callbacks(NULL, noop_callback, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(tw_deferred_add_callback(NULL, noop_callback, NULL), -EINVAL);
    assert_int_equal(tw_deferred_add_errback(NULL, noop_callback, NULL), -EINVAL);
    assert_int_equal(tw_deferred_add_both(NULL, noop_callback, NULL), -EINVAL);
    tw_deferred *d = tw_deferred_new(NULL, NULL);
    assert_int_equal(tw_deferred_chain_deferred(NULL, d), -EINVAL);
    assert_int_equal(tw_deferred_chain_deferred(d, NULL), -EINVAL);
    tw_deferred_unref(d);
    tw_deferred_pause(NULL);
    tw_deferred_unpause(NULL);
    tw_deferred_cancel(NULL);
    assert_int_equal(tw_deferred_add_timeout(NULL, NULL, 1), -EINVAL);
    assert_false(tw_deferred_called(NULL));
    assert_false(tw_deferred_paused(NULL));
    assert_null(tw_deferred_result(NULL));
    char buf[32];
    assert_string_equal(tw_deferred_describe(NULL, buf, sizeof buf), "<Deferred NULL>");
    assert_null(tw_deferred_describe(NULL, NULL, 0));
}

static void test_deferred_constructors(void **state)
{
    (void)state;
    int err = 0;
    assert_null(tw_maybe_deferred(NULL, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_defer_to_thread(NULL, noop_work, NULL, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_deferred_list_new(NULL, NULL, 2, 0, &err));
    assert_int_equal(err, -EINVAL);
    tw_deferred *one[2] = {tw_deferred_new(NULL, NULL), NULL};
    err = 0;
    assert_null(tw_gather_results(NULL, one, 2, false, &err));
    assert_int_equal(err, -EINVAL);
    tw_deferred_unref(one[0]);
}

static void test_semaphores_locks_queues(void **state)
{
    (void)state;
    int err = 0;
    tw_semaphore_free(NULL);
    assert_null(tw_semaphore_acquire(NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_semaphore_release(NULL), -EINVAL);
    err = 0;
    assert_null(tw_semaphore_run(NULL, noop_work, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_semaphore_tokens(NULL), 0);
    assert_int_equal(tw_semaphore_limit(NULL), 0);
    assert_int_equal(tw_semaphore_waiting(NULL), 0);
    tw_lock_free(NULL);
    err = 0;
    assert_null(tw_lock_acquire(NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_lock_release(NULL), -EINVAL);
    err = 0;
    assert_null(tw_lock_run(NULL, noop_work, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_false(tw_lock_locked(NULL));
    tw_queue_free(NULL);
    assert_int_equal(tw_queue_put(NULL, "kept", NULL), -EINVAL);
    err = 0;
    assert_null(tw_queue_get(NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_queue_pending(NULL), 0);
    assert_int_equal(tw_queue_waiting(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reactor_lifetime_and_running),
        cmocka_unit_test(test_reactor_time_and_timers),
        cmocka_unit_test(test_reactor_fds),
        cmocka_unit_test(test_reactor_threads_triggers_signals),
        cmocka_unit_test(test_null_uninstall_leaves_the_owner_alone),
        cmocka_unit_test(test_results_and_deferreds),
        cmocka_unit_test(test_deferred_constructors),
        cmocka_unit_test(test_semaphores_locks_queues),
    };
    return cmocka_run_group_tests_name("null", tests, NULL, NULL);
}
