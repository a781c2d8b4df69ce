/* Twisted's LoopingCall: a function called on a grid of times anchored at its start, missed grid
 * points skipped, a returned deferred holding the next call. The grid is kept in whole nanoseconds
 * of the reactor's clock, so an interval such as 0.1 s neither drifts nor counts a zero. */
#include "deferred_private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <twine/task.h>

#include "reactor/layers.h"

struct tw_looping_call {
    tw_reactor *r;
    tw_work_fn fn;        /* exactly one of fn and count_fn is set */
    tw_count_fn count_fn;
    void *arg;
    unsigned refs;        /* the user's handle, a call in progress, a pending deferred of fn */
    bool running;         /* between start and stop (or a failure) */
    bool run_at_start;    /* start's now */
    bool have_last;       /* last_ns holds the time of the last counted call */
    int64_t interval_ns;
    int64_t start_ns;     /* the grid's anchor */
    int64_t last_ns;
    tw_delayed_call *call; /* the next call, a reference held; NULL while fn runs or is awaited */
    tw_deferred *d;        /* start's deferred until it fires, a reference held */
};

static void lc_unref(void *arg)
{
    tw_looping_call *lc = arg;
    if (--lc->refs == 0)
        free(lc);
}

static bool interval_ok(double interval)
{
    return !isnan(interval) && interval >= 0 && interval <= TW_LOOPING_CALL_INTERVAL_MAX;
}

static int64_t interval_to_ns(double interval)
{
    return llround(interval * 1e9);
}

/* tw_call_later takes seconds and rounds them up to whole nanoseconds; ns / 1e9 may come back one
 * nanosecond late after that rounding, which would miss a clock moved exactly to the grid point. */
static double seconds_for_ns(int64_t ns)
{
    double s = (double)ns / 1e9;
    while (s > 0 && s * 1e9 > (double)ns)
        s = nextafter(s, 0);
    return s;
}

/* Nanoseconds from the turn's time (what tw_call_later counts from) to the first grid point
 * strictly after when: grid points already reached are skipped, not caught up. */
static int64_t delay_to_next(const tw_looping_call *lc, int64_t when)
{
    if (lc->interval_ns == 0)
        return 0;
    int64_t into = (when - lc->start_ns) % lc->interval_ns;
    if (into < 0)
        into += lc->interval_ns;
    int64_t next = when + (lc->interval_ns - into);
    int64_t delay = next - tw_reactor_now(lc->r);
    return delay > 0 ? delay : 0;
}

static int tick(void *arg);

static int schedule_next(tw_looping_call *lc)
{
    int64_t delay = delay_to_next(lc, tw__reactor_clock(lc->r));
    lc->call = tw_call_later(lc->r, seconds_for_ns(delay), tick, lc, NULL);
    if (!lc->call)
        return -ENOMEM;
    tw_delayed_call_ref(lc->call);
    return 0;
}

static void drop_call(tw_looping_call *lc)
{
    if (tw_delayed_call_active(lc->call))
        tw_delayed_call_cancel(lc->call);
    tw_delayed_call_unref(lc->call);
    lc->call = NULL;
}

/* Fires start's deferred: with lc once stopped, or with f (taken) when fn failed. */
static void finish_run(tw_looping_call *lc, tw_failure *f)
{
    tw_deferred *d = lc->d;
    lc->d = NULL;
    lc->running = false;
    if (f)
        tw_deferred_errback(d, f);
    else
        tw_deferred_callback(d, lc, NULL);
    tw_deferred_unref(d);
}

/* One call has ended with res (fn's own result, or that of the deferred it returned). */
static void call_ended(tw_looping_call *lc, tw_result *res)
{
    tw_failure *f = tw_result_take_failure(res);
    tw__result_clear(res);
    if (f)
        finish_run(lc, f);
    else if (!lc->running)
        finish_run(lc, NULL);
    else if (schedule_next(lc) < 0)
        finish_run(lc, tw_failure_new(TW_MEMORY_ERROR, -ENOMEM, "looping call: cannot schedule"));
}

static int on_awaited(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    call_ended(arg, res);
    return 0;
}

/* Twisted's withCount: how many grid points passed since the last call; 0 means do not call. */
static uint64_t count_since_last(tw_looping_call *lc, int64_t now)
{
    if (lc->interval_ns == 0) {
        lc->last_ns = now;
        lc->have_last = true;
        return 1;
    }
    int64_t last = lc->have_last ? lc->last_ns
                                 : lc->start_ns - (lc->run_at_start ? lc->interval_ns : 0);
    int64_t interval = lc->interval_ns;
    int64_t count = (now - lc->start_ns) / interval - (last - lc->start_ns) / interval;
    if (count <= 0)
        return 0;
    lc->last_ns = now;
    lc->have_last = true;
    return (uint64_t)count;
}

static int call_fn(tw_looping_call *lc, tw_result *out)
{
    if (lc->fn)
        return lc->fn(out, lc->arg);
    uint64_t count = count_since_last(lc, tw__reactor_clock(lc->r));
    return count ? lc->count_fn(out, count, lc->arg) : 0;
}

/* Twisted's LoopingCall.__call__: run fn, then wait on its deferred or schedule the next call. */
static void run_once(tw_looping_call *lc)
{
    lc->refs++; /* fn may free lc */
    tw_result res = {0};
    int rc = call_fn(lc, &res);
    if (rc < 0)
        tw_result_set_error(&res, rc, "looping call");
    tw_deferred *inner = res.deferred;
    res.deferred = NULL;
    if (!inner) {
        call_ended(lc, &res);
    } else {
        lc->refs++;
        if (tw__deferred_add_pair(inner, on_awaited, on_awaited, lc, lc_unref) < 0) {
            lc->refs--;
            finish_run(lc, tw_failure_nomem());
        }
        tw_deferred_unref(inner);
    }
    lc_unref(lc);
}

static int tick(void *arg)
{
    tw_looping_call *lc = arg;
    tw_delayed_call_unref(lc->call);
    lc->call = NULL;
    run_once(lc);
    return 0;
}

static tw_looping_call *looping_call_new(tw_reactor *r, tw_work_fn fn, tw_count_fn count_fn,
                                         void *arg, int *err)
{
    int e = -EINVAL;
    tw_looping_call *lc = NULL;
    if (r && (fn || count_fn)) {
        e = -ENOMEM;
        lc = calloc(1, sizeof *lc);
    }
    if (!lc) {
        if (err)
            *err = e;
        return NULL;
    }
    *lc = (tw_looping_call){.r = r, .fn = fn, .count_fn = count_fn, .arg = arg, .refs = 1};
    return lc;
}

tw_looping_call *tw_looping_call_new(tw_reactor *r, tw_work_fn fn, void *arg, int *err)
{
    return looping_call_new(r, fn, NULL, arg, err);
}

tw_looping_call *tw_looping_call_with_count(tw_reactor *r, tw_count_fn fn, void *arg, int *err)
{
    return looping_call_new(r, NULL, fn, arg, err);
}

void tw_looping_call_free(tw_looping_call *lc)
{
    if (!lc)
        return;
    if (lc->running)
        tw_looping_call_stop(lc);
    lc_unref(lc);
}

tw_deferred *tw_looping_call_start(tw_looping_call *lc, double interval, bool now, int *err)
{
    int e = 0;
    if (!lc || !interval_ok(interval))
        e = -EINVAL;
    else if (lc->running || lc->d)
        e = TW_EALREADYRUNNING;
    tw_deferred *d = e ? NULL : tw_deferred_new(lc->r, &e);
    if (!d) {
        if (err)
            *err = e;
        return NULL;
    }
    lc->interval_ns = interval_to_ns(interval);
    lc->start_ns = tw__reactor_clock(lc->r);
    lc->run_at_start = now;
    lc->have_last = false;
    if (!now && schedule_next(lc) < 0) {
        tw_deferred_unref(d);
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    lc->running = true;
    lc->d = tw_deferred_ref(d);
    if (now)
        run_once(lc);
    return d;
}

int tw_looping_call_stop(tw_looping_call *lc)
{
    if (!lc)
        return -EINVAL;
    if (!lc->running)
        return TW_ENOTRUNNING;
    lc->running = false;
    /* While fn runs or its deferred is pending there is no call: the end of that call fires d. */
    if (lc->call) {
        drop_call(lc);
        finish_run(lc, NULL);
    }
    return 0;
}

int tw_looping_call_reset(tw_looping_call *lc)
{
    if (!lc)
        return -EINVAL;
    if (!lc->running)
        return TW_ENOTRUNNING;
    if (!lc->call)
        return 0;
    int64_t start = tw__reactor_clock(lc->r);
    int64_t saved = lc->start_ns;
    lc->start_ns = start;
    int rc = tw_delayed_call_reset(lc->call, seconds_for_ns(delay_to_next(lc, start)));
    if (rc < 0)
        lc->start_ns = saved;
    return rc;
}

int tw_looping_call_set_interval(tw_looping_call *lc, double interval)
{
    if (!lc || !interval_ok(interval))
        return -EINVAL;
    lc->interval_ns = interval_to_ns(interval);
    return 0;
}

double tw_looping_call_interval(const tw_looping_call *lc)
{
    return lc ? (double)lc->interval_ns / 1e9 : 0;
}

bool tw_looping_call_running(const tw_looping_call *lc)
{
    return lc && lc->running;
}
