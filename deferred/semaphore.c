/* Twisted's DeferredSemaphore and DeferredLock: tokens handed out through deferreds, waiters served
 * in FIFO order, a cancelled waiter leaves the queue without taking a token, and run() releases its
 * token once the work's deferred has fired either way. A lock is a semaphore of one token. */
#include "deferred_private.h"
#include "fifo.h"

#include <errno.h>
#include <stdlib.h>

struct tw_semaphore {
    tw_reactor *reactor;
    unsigned tokens;
    unsigned limit;
    tw_fifo waiting; /* deferreds, each holding a reference */
    bool *freed;     /* while hand_out_tokens runs: its flag, set if s is freed meanwhile */
};

struct tw_lock {
    tw_semaphore sem; /* first, so that the lock and its semaphore share an address */
};

/* What tw_semaphore_run needs once the token is there. */
struct run_job {
    tw_semaphore *sem;
    tw_work_fn fn;
    void *arg;
};

static void semaphore_init(tw_semaphore *s, tw_reactor *r, unsigned tokens)
{
    s->reactor = r;
    s->tokens = tokens;
    s->limit = tokens;
    s->waiting = (tw_fifo){0};
    s->freed = NULL;
}

tw_semaphore *tw_semaphore_new(tw_reactor *r, int tokens, int *err)
{
    if (tokens < 1) { /* signed, so that a caller's -1 is refused rather than read as UINT_MAX */
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_semaphore *s = malloc(sizeof *s);
    if (!s) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    semaphore_init(s, r, (unsigned)tokens);
    return s;
}

static void semaphore_cancel_waiters(tw_semaphore *s)
{
    if (s->freed)
        *s->freed = true;
    while (s->waiting.len > 0) {
        tw_deferred *d = tw__fifo_pop(&s->waiting).ptr;
        tw_deferred_cancel(d);
        tw_deferred_unref(d);
    }
    tw__fifo_free(&s->waiting);
}

void tw_semaphore_free(tw_semaphore *s)
{
    if (!s)
        return;
    semaphore_cancel_waiters(s);
    free(s);
}

/* The canceller of a queued acquire: leave the queue; the token count does not change. */
static void semaphore_cancel_acquire(tw_deferred *d, void *arg)
{
    tw_semaphore *s = arg;
    if (tw__fifo_remove(&s->waiting, d))
        tw_deferred_unref(d);
}

tw_deferred *tw_semaphore_acquire(tw_semaphore *s, int *err)
{
    if (!s) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_deferred *d = tw_deferred_new_with_canceller(s->reactor, semaphore_cancel_acquire, s, err);
    if (!d)
        return NULL;
    /* Free tokens with waiters queued only occur while a release hands them out: queue behind. */
    if (s->tokens > 0 && s->waiting.len == 0) {
        s->tokens--;
        tw_deferred_callback(d, s, NULL);
        return d;
    }
    int rc = tw__fifo_push(&s->waiting, tw_deferred_ref(d), NULL);
    if (rc < 0) {
        tw_deferred_unref(d);
        tw_deferred_unref(d);
        if (err)
            *err = rc;
        return NULL;
    }
    return d;
}

/* Gives free tokens to the waiters, oldest first; one its owner fired by hand is skipped. A release
 * made from a waiter's callbacks only returns its token, which this loop then hands on: a long
 * queue of jobs that finish at once is served by iteration, not by one nested release per job. */
static void hand_out_tokens(tw_semaphore *s)
{
    bool freed = false;
    s->freed = &freed;
    while (s->tokens > 0 && s->waiting.len > 0) {
        tw_deferred *d = tw__fifo_pop(&s->waiting).ptr;
        s->tokens--;
        int rc = tw_deferred_callback(d, s, NULL);
        tw_deferred_unref(d);
        if (freed)
            return;
        if (rc < 0)
            s->tokens++;
    }
    s->freed = NULL;
}

int tw_semaphore_release(tw_semaphore *s)
{
    if (!s || s->tokens >= s->limit)
        return -EINVAL;
    s->tokens++;
    if (!s->freed)
        hand_out_tokens(s);
    return 0;
}

/* After the work's deferred fired, either way: give the token back, pass the result on. */
static int run_release(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)res;
    tw_semaphore_release(arg);
    return 0;
}

/* The token is ours: start the work and make the run's deferred wait for it. */
static int run_acquired(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    struct run_job *job = arg;
    int err = 0;
    tw_deferred *work = tw_maybe_deferred(job->sem->reactor, job->fn, job->arg, &err);
    if (work && (err = tw_deferred_add_both(work, run_release, job->sem)) < 0) {
        tw_deferred_unref(work);
        work = NULL;
    }
    if (!work) {
        tw_semaphore_release(job->sem);
        return err;
    }
    tw_result_set_deferred(res, work);
    return 0;
}

tw_deferred *tw_semaphore_run(tw_semaphore *s, tw_work_fn fn, void *arg, int *err)
{
    if (!s || !fn) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    struct run_job *job = malloc(sizeof *job);
    if (!job) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    *job = (struct run_job){s, fn, arg};
    tw_deferred *d = tw_semaphore_acquire(s, err);
    if (!d) {
        free(job);
        return NULL;
    }
    int rc = tw__deferred_add_pair(d, run_acquired, NULL, job, free);
    if (rc < 0) {
        /* Only possible while queued (a fired acquire has room inline): withdraw it quietly. */
        if (tw__fifo_remove(&s->waiting, d))
            tw_deferred_unref(d);
        tw_deferred_unref(d);
        free(job);
        if (err)
            *err = rc;
        return NULL;
    }
    return d;
}

unsigned tw_semaphore_tokens(const tw_semaphore *s)
{
    return s ? s->tokens : 0;
}

unsigned tw_semaphore_limit(const tw_semaphore *s)
{
    return s ? s->limit : 0;
}

size_t tw_semaphore_waiting(const tw_semaphore *s)
{
    return s ? s->waiting.len : 0;
}

/* ---- lock ------------------------------------------------------------------------------------ */

tw_lock *tw_lock_new(tw_reactor *r, int *err)
{
    tw_lock *l = malloc(sizeof *l);
    if (!l) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    semaphore_init(&l->sem, r, 1);
    return l;
}

void tw_lock_free(tw_lock *l)
{
    if (!l)
        return;
    semaphore_cancel_waiters(&l->sem);
    free(l);
}

tw_deferred *tw_lock_acquire(tw_lock *l, int *err)
{
    return tw_semaphore_acquire(l ? &l->sem : NULL, err);
}

int tw_lock_release(tw_lock *l)
{
    return tw_semaphore_release(l ? &l->sem : NULL);
}

tw_deferred *tw_lock_run(tw_lock *l, tw_work_fn fn, void *arg, int *err)
{
    return tw_semaphore_run(l ? &l->sem : NULL, fn, arg, err);
}

bool tw_lock_locked(const tw_lock *l)
{
    return l && l->sem.tokens == 0;
}
