/* Twisted's Cooperator: long jobs cut into steps, run round-robin on a tick timer within a time
 * slice of the reactor's clock, so CPU work shares the loop with I/O. Tasks live on two lists:
 * every unfinished task (so that stop reaches paused and waiting ones), and the runnable ones with
 * a cursor that carries the round-robin from one tick to the next. */
#include "deferred_private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <twine/task.h>

#include "reactor/layers.h"

enum { RUNNABLE, UNFINISHED, NLISTS };

struct task_link {
    tw_cooperative_task *prev, *next;
};

struct task_list {
    tw_cooperative_task *head, *tail;
};

struct tw_cooperative_task {
    unsigned refs;           /* the caller's, the cooperator's while unfinished, each use ongoing */
    tw_reactor *r;
    tw_cooperator *coop;     /* NULL once finished */
    tw_step_fn step;
    void *arg;
    tw_task_state state;
    unsigned pauses;         /* tw_cooperative_task_pause minus resume */
    bool waiting;            /* on a deferred a step returned */
    bool done_after_wait;    /* that step returned TW_STEP_DONE */
    bool linked[NLISTS];
    struct task_link link[NLISTS];
    tw_failure *failure;     /* why it finished, for later when_done calls */
    tw_deferred **done;      /* when_done deferreds still to fire, a reference each */
    size_t ndone, done_cap;
};

struct tw_cooperator {
    tw_reactor *r;
    int64_t slice_ns;
    bool stopped;
    unsigned busy;           /* ticks and stops in progress: a free waits for them */
    bool free_pending;
    struct task_list lists[NLISTS];
    tw_cooperative_task *cursor; /* the next runnable task to serve; NULL: the first */
    tw_delayed_call *call;   /* the next tick, a reference held */
};

/* ---- lists ---- */

static void list_append(struct task_list *l, tw_cooperative_task *t, int which)
{
    t->link[which] = (struct task_link){.prev = l->tail, .next = NULL};
    if (l->tail)
        l->tail->link[which].next = t;
    else
        l->head = t;
    l->tail = t;
    t->linked[which] = true;
}

static void list_remove(struct task_list *l, tw_cooperative_task *t, int which)
{
    struct task_link *k = &t->link[which];
    if (k->prev)
        k->prev->link[which].next = k->next;
    else
        l->head = k->next;
    if (k->next)
        k->next->link[which].prev = k->prev;
    else
        l->tail = k->prev;
    *k = (struct task_link){0};
    t->linked[which] = false;
}

/* ---- ticks ---- */

static int tick(void *arg);

static void drop_tick(tw_cooperator *c)
{
    if (!c->call)
        return;
    if (tw_delayed_call_active(c->call))
        tw_delayed_call_cancel(c->call);
    tw_delayed_call_unref(c->call);
    c->call = NULL;
}

/* A tick is wanted while a task is runnable; a running tick schedules the next one when it ends. */
static int schedule_tick(tw_cooperator *c)
{
    if (c->call || c->busy || c->stopped || !c->lists[RUNNABLE].head)
        return 0;
    c->call = tw_call_later(c->r, 0, tick, c, NULL);
    if (!c->call)
        return -ENOMEM;
    tw_delayed_call_ref(c->call);
    return 0;
}

static int make_runnable(tw_cooperative_task *t)
{
    tw_cooperator *c = t->coop;
    list_append(&c->lists[RUNNABLE], t, RUNNABLE);
    int rc = schedule_tick(c);
    if (rc < 0)
        list_remove(&c->lists[RUNNABLE], t, RUNNABLE);
    return rc;
}

static void make_unrunnable(tw_cooperative_task *t)
{
    tw_cooperator *c = t->coop;
    if (!t->linked[RUNNABLE])
        return;
    if (c->cursor == t)
        c->cursor = t->link[RUNNABLE].next;
    list_remove(&c->lists[RUNNABLE], t, RUNNABLE);
    /* No work left: no tick either (Twisted's test_removingLastTaskStopsScheduledCall). */
    if (!c->lists[RUNNABLE].head)
        drop_tick(c);
}

static void coop_free_now(tw_cooperator *c)
{
    drop_tick(c);
    free(c);
}

/* Ends a tick or a stop; true when c was freed meanwhile and must not be touched again. */
static bool coop_leave(tw_cooperator *c)
{
    if (--c->busy > 0 || !c->free_pending)
        return false;
    coop_free_now(c);
    return true;
}

/* ---- tasks ---- */

static void task_unref(void *arg)
{
    tw_cooperative_task *t = arg;
    if (!t || --t->refs > 0)
        return;
    tw_failure_unref(t->failure);
    free(t->done);
    free(t);
}

static tw_failure *finish_failure(tw_task_state state)
{
    tw_failure *f = state == TW_TASK_STOPPED
                        ? tw_failure_new(TW_TASK_STOPPED_ERROR, -ECANCELED, "the task was stopped")
                        : tw_failure_new(TW_SCHEDULER_STOPPED_ERROR, -ECANCELED,
                                         "the cooperator was stopped");
    return f ? f : tw_failure_nomem();
}

/* Twisted's _completeWith: leave the cooperator first, then fire the when_done deferreds, so that
 * their callbacks may stop the cooperator or start other tasks. f (taken): the failure, or NULL. */
static void complete(tw_cooperative_task *t, tw_task_state state, tw_failure *f)
{
    tw_cooperator *c = t->coop;
    t->refs++;
    t->state = state;
    t->failure = f;
    make_unrunnable(t);
    list_remove(&c->lists[UNFINISHED], t, UNFINISHED);
    t->coop = NULL;
    tw_deferred **done = t->done;
    size_t ndone = t->ndone;
    t->done = NULL;
    t->ndone = t->done_cap = 0;
    for (size_t i = 0; i < ndone; i++) {
        if (f)
            tw_deferred_errback(done[i], tw_failure_ref(f));
        else
            tw_deferred_callback(done[i], t->arg, NULL);
        tw_deferred_unref(done[i]);
    }
    free(done);
    t->refs--; /* the cooperator's; the one taken above still holds t */
    task_unref(t);
}

static int on_awaited(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_cooperative_task *t = arg;
    tw_failure *f = tw_result_take_failure(res);
    tw__result_clear(res); /* Twisted's cooperator consumes the result */
    t->waiting = false;
    if (t->state != TW_TASK_ACTIVE)
        tw_failure_unref(f);
    else if (f)
        complete(t, TW_TASK_FAILED, f);
    else if (t->done_after_wait)
        complete(t, TW_TASK_DONE, NULL);
    else if (t->pauses == 0 && make_runnable(t) < 0)
        complete(t, TW_TASK_FAILED, tw_failure_nomem());
    return 0;
}

static void wait_on(tw_cooperative_task *t, tw_deferred *inner, bool done_after)
{
    t->waiting = true;
    t->done_after_wait = done_after;
    make_unrunnable(t);
    t->refs++;
    if (tw__deferred_add_pair(inner, on_awaited, on_awaited, t, task_unref) < 0) {
        t->refs--;
        t->waiting = false;
        complete(t, TW_TASK_FAILED, tw_failure_nomem());
    }
    tw_deferred_unref(inner);
}

/* Twisted's _oneWorkUnit. */
static void run_step(tw_cooperative_task *t)
{
    t->refs++;
    tw_result res = {0};
    int rc = t->step(&res, t->arg);
    if (rc < 0)
        tw_result_set_error(&res, rc, "cooperative task");
    tw_deferred *inner = res.deferred;
    res.deferred = NULL;
    tw_failure *f = tw_result_take_failure(&res);
    tw__result_clear(&res);
    if (t->state != TW_TASK_ACTIVE) { /* the step stopped its own task */
        tw_deferred_unref(inner);
        tw_failure_unref(f);
    } else if (f) {
        tw_deferred_unref(inner);
        complete(t, TW_TASK_FAILED, f);
    } else if (inner) {
        wait_on(t, inner, rc == TW_STEP_DONE);
    } else if (rc == TW_STEP_DONE) {
        complete(t, TW_TASK_DONE, NULL);
    }
    task_unref(t);
}

/* Twisted's _tick: serve runnable tasks in turn until the slice is used up or none is left. */
static int tick(void *arg)
{
    tw_cooperator *c = arg;
    tw_delayed_call_unref(c->call);
    c->call = NULL;
    c->busy++;
    int64_t deadline = tw__reactor_clock(c->r) + c->slice_ns;
    while (c->lists[RUNNABLE].head && !c->free_pending) {
        tw_cooperative_task *t = c->cursor ? c->cursor : c->lists[RUNNABLE].head;
        c->cursor = t->link[RUNNABLE].next;
        run_step(t);
        if (tw__reactor_clock(c->r) >= deadline)
            break;
    }
    if (coop_leave(c))
        return 0;
    if (schedule_tick(c) < 0)
        tw_reactor_log(c->r, TW_LOG_ERROR, "cooperator: out of memory scheduling its next tick");
    return 0;
}

/* ---- the cooperator ---- */

tw_cooperator *tw_cooperator_new(tw_reactor *r, double slice_seconds, int *err)
{
    int e = -EINVAL;
    tw_cooperator *c = NULL;
    /* False for NaN too. */
    bool slice_ok = slice_seconds > 0 && slice_seconds <= TW_LOOPING_CALL_INTERVAL_MAX;
    if (r && slice_ok) {
        e = -ENOMEM;
        c = calloc(1, sizeof *c);
    }
    if (!c) {
        if (err)
            *err = e;
        return NULL;
    }
    c->r = r;
    c->slice_ns = llround(slice_seconds * 1e9);
    if (c->slice_ns < 1)
        c->slice_ns = 1;
    return c;
}

void tw_cooperator_stop(tw_cooperator *c)
{
    if (!c)
        return;
    c->stopped = true;
    c->busy++;
    while (c->lists[UNFINISHED].head && !c->free_pending)
        complete(c->lists[UNFINISHED].head, TW_TASK_SCHEDULER_STOPPED,
                 finish_failure(TW_TASK_SCHEDULER_STOPPED));
    drop_tick(c);
    /* A callback may have started c again and given it tasks: their tick was held meanwhile. */
    if (!coop_leave(c) && schedule_tick(c) < 0)
        tw_reactor_log(c->r, TW_LOG_ERROR, "cooperator: out of memory scheduling its next tick");
}

void tw_cooperator_free(tw_cooperator *c)
{
    if (!c || c->free_pending)
        return;
    tw_cooperator_stop(c);
    if (c->busy)
        c->free_pending = true; /* the tick or stop in progress frees it when it ends */
    else
        coop_free_now(c);
}

void tw_cooperator_start(tw_cooperator *c)
{
    if (!c)
        return;
    c->stopped = false;
    if (schedule_tick(c) < 0)
        tw_reactor_log(c->r, TW_LOG_ERROR, "cooperator: out of memory scheduling its next tick");
}

bool tw_cooperator_running(const tw_cooperator *c)
{
    return c && !c->stopped;
}

tw_cooperative_task *tw_cooperator_cooperate(tw_cooperator *c, tw_step_fn step, void *arg, int *err)
{
    int e = -EINVAL;
    tw_cooperative_task *t = NULL;
    if (c && step && !c->free_pending) {
        e = -ENOMEM;
        t = calloc(1, sizeof *t);
    }
    if (!t)
        goto fail;
    *t = (tw_cooperative_task){.refs = 2, .r = c->r, .coop = c, .step = step, .arg = arg};
    list_append(&c->lists[UNFINISHED], t, UNFINISHED);
    if (c->stopped) {
        complete(t, TW_TASK_SCHEDULER_STOPPED, finish_failure(TW_TASK_SCHEDULER_STOPPED));
        return t;
    }
    if (make_runnable(t) == 0)
        return t;
    list_remove(&c->lists[UNFINISHED], t, UNFINISHED);
    free(t);
fail:
    if (err)
        *err = e;
    return NULL;
}

tw_deferred *tw_cooperator_coiterate(tw_cooperator *c, tw_step_fn step, void *arg, int *err)
{
    tw_cooperative_task *t = tw_cooperator_cooperate(c, step, arg, err);
    if (!t)
        return NULL;
    tw_deferred *d = tw_cooperative_task_when_done(t, err);
    if (!d && t->state == TW_TASK_ACTIVE)
        tw_cooperative_task_stop(t); /* nobody could learn of its end */
    task_unref(t);
    return d;
}

/* ---- the reactor's own cooperator ---- */

static void default_release(void *data)
{
    tw_cooperator_free(data);
}

static tw_cooperator *default_cooperator(tw_reactor *r, int *err)
{
    if (!r) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_cooperator *c = tw__reactor_slot(r, TW_SLOT_COOPERATOR);
    if (!c && (c = tw_cooperator_new(r, TW_COOPERATOR_SLICE_DEFAULT, err)))
        tw__reactor_set_slot(r, TW_SLOT_COOPERATOR, c, default_release);
    return c;
}

tw_cooperative_task *tw_cooperate(tw_reactor *r, tw_step_fn step, void *arg, int *err)
{
    tw_cooperator *c = default_cooperator(r, err);
    return c ? tw_cooperator_cooperate(c, step, arg, err) : NULL;
}

tw_deferred *tw_coiterate(tw_reactor *r, tw_step_fn step, void *arg, int *err)
{
    tw_cooperator *c = default_cooperator(r, err);
    return c ? tw_cooperator_coiterate(c, step, arg, err) : NULL;
}

/* ---- a task's controls ---- */

tw_deferred *tw_cooperative_task_when_done(tw_cooperative_task *t, int *err)
{
    if (!t) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    if (t->state != TW_TASK_ACTIVE && t->failure)
        return tw_fail(t->r, tw_failure_ref(t->failure), err);
    if (t->state != TW_TASK_ACTIVE)
        return tw_succeed(t->r, t->arg, NULL, err);
    if (t->ndone == t->done_cap) {
        size_t cap = t->done_cap ? t->done_cap * 2 : 2;
        tw_deferred **grown = realloc(t->done, cap * sizeof *grown);
        if (!grown) {
            if (err)
                *err = -ENOMEM;
            return NULL;
        }
        t->done = grown;
        t->done_cap = cap;
    }
    tw_deferred *d = tw_deferred_new(t->r, err);
    if (d)
        t->done[t->ndone++] = tw_deferred_ref(d);
    return d;
}

/* 0 for a task that has not finished. */
static int check_active(const tw_cooperative_task *t)
{
    if (!t)
        return -EINVAL;
    return t->state == TW_TASK_ACTIVE ? 0 : -EALREADY;
}

int tw_cooperative_task_pause(tw_cooperative_task *t)
{
    int rc = check_active(t);
    if (rc < 0)
        return rc;
    if (t->pauses++ == 0)
        make_unrunnable(t);
    return 0;
}

int tw_cooperative_task_resume(tw_cooperative_task *t)
{
    if (!t)
        return -EINVAL;
    if (t->pauses == 0)
        return -EINVAL;
    if (t->pauses > 1 || t->state != TW_TASK_ACTIVE || t->waiting) {
        t->pauses--;
        return 0;
    }
    int rc = make_runnable(t);
    if (rc == 0)
        t->pauses = 0;
    return rc;
}

int tw_cooperative_task_stop(tw_cooperative_task *t)
{
    int rc = check_active(t);
    if (rc < 0)
        return rc;
    complete(t, TW_TASK_STOPPED, finish_failure(TW_TASK_STOPPED));
    return 0;
}

tw_task_state tw_cooperative_task_state(const tw_cooperative_task *t)
{
    return t ? t->state : TW_TASK_FAILED;
}

tw_cooperative_task *tw_cooperative_task_ref(tw_cooperative_task *t)
{
    if (t)
        t->refs++;
    return t;
}

void tw_cooperative_task_unref(tw_cooperative_task *t)
{
    task_unref(t);
}
