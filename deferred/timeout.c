/* Twisted's Deferred.addTimeout: a reactor timer that cancels the deferred, and one pair on the
 * deferred that turns the resulting CancelledError into TimeoutError and removes the timer once the
 * result has got that far. */
#include "deferred_private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct timeout {
    tw_deferred *d; /* valid while the pair is pending */
    tw_delayed_call *dc;
    double seconds;
    bool timed_out;
};

static int timeout_expired(void *arg)
{
    struct timeout *t = arg;
    t->timed_out = true;
    /* Cancelling may run the pair and free t: use only the deferred afterwards. */
    tw_deferred *d = tw_deferred_ref(t->d);
    tw_deferred_cancel(d);
    tw_deferred_unref(d);
    return 0;
}

/* Twisted's convertCancelled followed by cancelTimeout, as one pair. */
static int timeout_pair(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    struct timeout *t = arg;
    if (t->timed_out && tw_failure_check(tw_result_failure(res), TW_CANCELLED_ERROR)) {
        tw_failure *f = tw_failure_new(TW_TIMEOUT_ERROR, -ETIMEDOUT,
                                       "Deferred timed out after %g seconds", t->seconds);
        if (f)
            tw_failure_set_cause(f, tw_result_take_failure(res));
        tw_result_set_failure(res, f);
    }
    return 0;
}

static void timeout_release(void *arg)
{
    struct timeout *t = arg;
    if (tw_delayed_call_active(t->dc))
        tw_delayed_call_cancel(t->dc);
    tw_delayed_call_unref(t->dc);
    free(t);
}

int tw_deferred_add_timeout(tw_deferred *d, tw_reactor *r, double seconds)
{
    if (!d || !r || isnan(seconds))
        return -EINVAL;
    struct timeout *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->d = d;
    t->seconds = seconds;
    t->dc = tw_call_later(r, seconds, timeout_expired, t, NULL);
    if (!t->dc) {
        free(t);
        return -ENOMEM;
    }
    tw_delayed_call_ref(t->dc);
    int rc = tw__deferred_add_pair(d, timeout_pair, timeout_pair, t, timeout_release);
    if (rc < 0)
        timeout_release(t);
    return rc;
}
