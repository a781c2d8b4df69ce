/* Twisted's deferLater: a timer fires a deferred with NULL, and a first callback on it runs the
 * function, so that the function's failure or deferred flows down the chain as in Twisted. The
 * canceller cancels the timer. */
#include "deferred_private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <twine/task.h>

/* Shared by the timer, the canceller and the callback pair: each holds one reference. */
struct later {
    unsigned refs;
    tw_deferred *d;       /* the timer's reference, until it fires or is cancelled */
    tw_delayed_call *dc;  /* valid while d is unfired: only the timer fires d */
    tw_work_fn fn;
    void *arg;
};

static void later_unref(void *arg)
{
    struct later *job = arg;
    if (--job->refs == 0)
        free(job);
}

static int later_fire(void *arg)
{
    struct later *job = arg;
    tw_deferred *d = job->d;
    job->d = NULL;
    tw_deferred_callback(d, NULL, NULL);
    tw_deferred_unref(d);
    later_unref(job);
    return 0;
}

static void later_cancel(tw_deferred *d, void *arg)
{
    (void)d;
    struct later *job = arg;
    if (tw_delayed_call_cancel(job->dc) < 0)
        return;
    /* The timer will not run: drop what it held. The cancel holds d meanwhile. */
    tw_deferred_unref(job->d);
    job->d = NULL;
    later_unref(job);
}

static int later_run(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    struct later *job = arg;
    return job->fn(res, job->arg);
}

tw_deferred *tw_defer_later(tw_reactor *r, double delay, tw_work_fn fn, void *arg, int *err)
{
    int e = -EINVAL;
    struct later *job = NULL;
    tw_deferred *d = NULL;
    if (!r || isnan(delay))
        goto fail;
    e = -ENOMEM;
    if (!(job = calloc(1, sizeof *job)) || !(d = tw_deferred_new(r, &e)))
        goto fail;
    *job = (struct later){.refs = 1, .fn = fn, .arg = arg};
    if (fn && tw__deferred_add_pair(d, later_run, NULL, job, later_unref) < 0)
        goto fail;
    if (fn)
        job->refs++;
    if (!(job->dc = tw_call_later(r, delay, later_fire, job, &e)))
        goto fail_scheduled_pair;
    job->d = tw_deferred_ref(d);
    job->refs++;
    tw__deferred_set_canceller(d, later_cancel, job, later_unref);
    return d;
fail_scheduled_pair:
    /* Freeing d drops the pair unrun, which releases its reference to job. */
    tw_deferred_unref(d);
    later_unref(job);
    if (err)
        *err = e;
    return NULL;
fail:
    tw_deferred_unref(d);
    free(job);
    if (err)
        *err = e;
    return NULL;
}
