/* The reactor's thread pool: blocking work (getaddrinfo, file I/O) runs here, never in the loop.
 * Threads start on demand up to the pool size and take work from one FIFO queue. Stopping lets the
 * queued work finish (no work is silently lost, as in Twisted), then joins every thread, so nothing
 * outlives the reactor. */
#include <errno.h>
#include <stdlib.h>

#include "reactor/internal.h"

struct tw_work {
    tw_fn fn;
    void *arg;
    tw_reactor *reactor;
    tw_work *next;
};

typedef struct {
    tw_reactor *reactor;
    int err;
} tw_work_error;

void tw__pool_init(tw_thread_pool *p)
{
    *p = (tw_thread_pool){.max = TW_THREAD_POOL_DEFAULT};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
}

/* Work errors are reported from the reactor thread: the log hook is not thread-safe. */
static int report_work_error(void *arg)
{
    tw_work_error *e = arg;
    tw__report_callback_error(e->reactor, "work in thread", e->err);
    free(e);
    return 0;
}

static void run_work(tw_work *w)
{
    int err = w->fn(w->arg);
    if (err < 0) {
        tw_work_error *e = malloc(sizeof *e);
        if (e) {
            *e = (tw_work_error){w->reactor, err};
            if (tw__call_from_thread_dropping(w->reactor, report_work_error, free, e) < 0)
                free(e);
        }
    }
    free(w);
}

static void *worker(void *arg)
{
    tw_thread_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        tw_work *w = p->head;
        if (!w)
            break;  /* stopping, and the queue is empty */
        p->head = w->next;
        p->queued--;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        run_work(w);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Called with the lock held. */
static int start_thread(tw_thread_pool *p)
{
    pthread_t *threads = realloc(p->threads, (p->nthreads + 1) * sizeof *threads);
    if (!threads)
        return -ENOMEM;
    p->threads = threads;
    int err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
    if (err)
        return -err;
    p->nthreads++;
    return 0;
}

int tw_call_in_thread(tw_reactor *r, tw_fn fn, void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    tw_thread_pool *p = &r->pool;
    tw_work *w = malloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    *w = (tw_work){fn, arg, r, NULL};
    pthread_mutex_lock(&p->lock);
    int err = p->stopping ? -ESHUTDOWN : 0;
    /* Count queued work against idle threads, so a burst starts as many threads as it needs. */
    if (!err && p->idle <= p->queued && p->nthreads < p->max) {
        err = start_thread(p);
        if (err && p->nthreads > 0)
            err = 0;  /* the existing threads will get to it */
        else if (err)
            err = -EAGAIN;
    }
    if (err) {
        pthread_mutex_unlock(&p->lock);
        free(w);
        return err;
    }
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int tw_reactor_set_thread_pool_size(tw_reactor *r, unsigned n)
{
    if (!r || n < 1)
        return -EINVAL;
    pthread_mutex_lock(&r->pool.lock);
    r->pool.max = n;
    pthread_mutex_unlock(&r->pool.lock);
    return 0;
}

void tw__pool_forget(tw_thread_pool *p)
{
    for (tw_work *w = p->head, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    free(p->threads);
    p->head = p->tail = NULL;
    p->threads = NULL;
    p->nthreads = p->queued = 0;
}

void tw__pool_stop(tw_thread_pool *p)
{
    pthread_mutex_lock(&p->lock);
    bool already = p->stopping;
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (already)
        return;
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (tw_work *w = p->head, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    p->head = p->tail = NULL;
    p->queued = 0;
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
}
