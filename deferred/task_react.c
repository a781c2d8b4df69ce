/* Twisted's react: run a reactor until the deferred main returned has fired, stop it exactly once,
 * and turn the result into an exit status; plus the SystemExit failure that carries a status. */
#include "deferred_private.h"

#include <errno.h>
#include <stdio.h>
#include <twine/task.h>

#define EXIT_STATUS_MAX 255

struct react {
    tw_reactor *r;
    bool stopping;   /* the shutdown has begun: main's end must not stop the reactor again */
    tw_failure *failure; /* main's failure, kept until the reactor runs */
    int status;
};

tw_failure *tw_system_exit(int status)
{
    if (status < 0)
        status = 0;
    if (status > EXIT_STATUS_MAX)
        status = EXIT_STATUS_MAX;
    return tw_failure_new(TW_SYSTEM_EXIT, -status, "exit status %d", status);
}

int tw_system_exit_status(const tw_failure *f)
{
    return tw_failure_check(f, TW_SYSTEM_EXIT) ? -tw_failure_code(f) : -1;
}

static int on_shutdown(void *arg)
{
    struct react *st = arg;
    st->stopping = true;
    return 0;
}

/* Twisted's stop(result): the status, and the log line for a failure that is not a SystemExit. */
static void record_status(struct react *st)
{
    tw_failure *f = st->failure;
    st->failure = NULL;
    if (!f)
        return;
    int status = tw_system_exit_status(f);
    if (status >= 0) {
        st->status = status;
    } else {
        char text[512];
        tw_reactor_log(st->r, TW_LOG_CRITICAL, "main function encountered error: %s",
                       tw_failure_describe(f, text, sizeof text));
        st->status = 1;
    }
    tw_failure_unref(f);
}

static int stop_when_running(void *arg)
{
    struct react *st = arg;
    record_status(st);
    int rc = tw_reactor_stop(st->r);
    return rc == TW_ENOTRUNNING ? 0 : rc;
}

static int on_main_done(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    struct react *st = arg;
    st->failure = tw_result_take_failure(res);
    if (st->stopping) {
        record_status(st);
        return 0;
    }
    int rc = tw_call_when_running(st->r, stop_when_running, st);
    if (rc < 0)
        tw_reactor_log(st->r, TW_LOG_ERROR, "react: cannot stop the reactor: %s", tw_strerror(rc));
    return 0;
}

static int run_main(struct react *st, tw_react_fn main_fn, void *arg, int argc, char **argv)
{
    long trigger =
        tw_reactor_add_trigger(st->r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, on_shutdown, st);
    if (trigger < 0)
        return (int)trigger;
    tw_deferred *d = main_fn(st->r, arg, argc, argv);
    int rc = d ? tw_deferred_add_both(d, on_main_done, st) : -ENOMEM;
    if (rc < 0) {
        tw_reactor_log(st->r, TW_LOG_CRITICAL, "main function encountered error: %s",
                       d ? tw_strerror(rc) : "it returned no deferred");
        tw_deferred_unref(d);
        return rc;
    }
    int run_rc = tw_reactor_run(st->r);
    /* Undone by the shutdown or never fired: either way react is done with it. */
    tw_deferred_unref(d);
    if (run_rc < 0) {
        tw_reactor_log(st->r, TW_LOG_CRITICAL, "react: the reactor failed: %s",
                       tw_strerror(run_rc));
        return run_rc;
    }
    return 0;
}

int tw_react(tw_react_fn main_fn, void *arg, int argc, char **argv)
{
    int err = 0;
    if (!main_fn)
        return 1;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r) {
        fprintf(stderr, "twine: cannot make a reactor: %s\n", tw_strerror(err));
        return 1;
    }
    struct react st = {.r = r};
    bool signals = tw_reactor_install_signal_handlers(r) == 0;
    int status = run_main(&st, main_fn, arg, argc, argv) < 0 ? 1 : st.status;
    tw_failure_unref(st.failure);
    if (signals)
        tw_reactor_uninstall_signal_handlers(r);
    tw_reactor_free(r);
    return status;
}
