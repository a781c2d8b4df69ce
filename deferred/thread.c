/* Twisted's deferToThread: the work runs on a reactor pool thread into a private result, which the
 * reactor thread then fires the deferred with. Only the job crosses threads; the deferred is
 * touched in the reactor thread alone. */
#include "deferred_private.h"

#include <errno.h>
#include <stdlib.h>

#include "reactor/layers.h"

struct thread_job {
    tw_reactor *reactor;
    tw_deferred *d;
    tw_work_fn fn;
    void *arg;
    tw_result result;
    int work_rc;
};

/* Reactor thread. */
static int thread_job_deliver(void *arg)
{
    struct thread_job *job = arg;
    if (job->work_rc < 0)
        tw_result_set_error(&job->result, job->work_rc, NULL);
    if (job->result.deferred)
        tw_result_set_failure(&job->result,
                              tw_failure_new(TW_VALUE_ERROR, -EINVAL,
                                             "work run in a thread returned a deferred"));
    if (tw__deferred_fire(job->d, &job->result) < 0)
        tw__result_clear(&job->result);
    tw_deferred_unref(job->d);
    free(job);
    return 0;
}

/* The reactor was freed before the job came back: the deferred never fires; release what the job
 * holds. Runs in the thread freeing the reactor, after the pool threads were joined. */
static void thread_job_drop(void *arg)
{
    struct thread_job *job = arg;
    tw__result_clear(&job->result);
    tw_deferred_unref(job->d);
    free(job);
}

/* Pool thread: runs the work, touches nothing shared, hands the job back. */
static int thread_job_run(void *arg)
{
    struct thread_job *job = arg;
    job->work_rc = job->fn(&job->result, job->arg);
    return tw__call_from_thread_dropping(job->reactor, thread_job_deliver, thread_job_drop, job);
}

tw_deferred *tw_defer_to_thread(tw_reactor *r, tw_work_fn fn, void *arg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r || !fn) {
        *err = -EINVAL;
        return NULL;
    }
    struct thread_job *job = calloc(1, sizeof *job);
    tw_deferred *d = job ? tw_deferred_new(r, err) : NULL;
    if (!d) {
        free(job);
        *err = -ENOMEM;
        return NULL;
    }
    job->reactor = r;
    job->d = tw_deferred_ref(d);
    job->fn = fn;
    job->arg = arg;
    int rc = tw_call_in_thread(r, thread_job_run, job);
    if (rc < 0) {
        tw_deferred_unref(d);
        tw_deferred_unref(d);
        free(job);
        *err = rc;
        return NULL;
    }
    return d;
}
