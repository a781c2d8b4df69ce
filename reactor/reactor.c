/* The reactor: creation, the turn of the loop, run/stop and the startup/shutdown sequence.
 * One turn: push interest changes to the kernel, wait (bounded by the next timer), read the clock
 * once, run ready fd watchers (calls from threads arrive this way too), then run the timers that
 * were due at that instant. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "reactor/internal.h"

static int64_t system_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tw__reactor_update_time(tw_reactor *r) { r->now = r->clock_fn(r->clock_ctx); }

int64_t tw__reactor_clock(const tw_reactor *r) { return r->clock_fn(r->clock_ctx); }

void *tw__reactor_slot(const tw_reactor *r, tw_reactor_slot_id id) { return r->slots[id]; }

void tw__reactor_set_slot(tw_reactor *r, tw_reactor_slot_id id, void *data,
                          void (*release)(void *data))
{
    r->slots[id] = data;
    r->slot_release[id] = release;
}

static void release_slots(tw_reactor *r)
{
    for (int id = 0; id < TW_SLOT_COUNT; id++)
        if (r->slots[id] && r->slot_release[id])
            r->slot_release[id](r->slots[id]);
}

tw_reactor *tw_reactor_new(int *err)
{
    int e = -ENOMEM;
    tw_reactor *r = calloc(1, sizeof *r);
    if (!r)
        goto fail;
    r->signal_fd = -1;
    if ((e = tw__fork_stamp(&r->made)) < 0) {
        free(r);
        goto fail;
    }
    r->clock_fn = system_clock;
    tw_reactor_set_logger(r, NULL, NULL);
    tw__timers_init(&r->timers);
    tw__pool_init(&r->pool);
    if ((e = tw__fds_init(&r->fds)) < 0)
        goto fail_fds;
    if ((e = tw__backend_new(&r->backend)) < 0)
        goto fail_backend;
    if ((e = tw__thread_calls_init(r)) < 0)
        goto fail_calls;
    tw__reactor_update_time(r);
    return r;
fail_calls:
    tw__backend_free(r->backend);
fail_backend:
    tw__fds_free(&r->fds);
fail_fds:
    free(r);
fail:
    if (err)
        *err = e;
    return NULL;
}

/* A forked child's copy (see FORK in reactor.h): everything in it is the parent's. Only the child's
 * own resources go (memory, and its copies of the reactor's fds: closing a copy never changes the
 * parent's), and nothing shared is touched: no callback runs, the layers above keep their objects
 * (their fds, all close-on-exec, stay open until the child exits or execs), no epoll_ctl reaches
 * the epoll set both processes share. */
static void free_in_child(tw_reactor *r)
{
    tw__signals_forget(r);
    tw__thread_calls_forget(r);
    tw__pool_forget(&r->pool);
    tw__backend_free(r->backend);
    tw__fds_free(&r->fds);
    tw__timers_free(&r->timers);
    tw__triggers_free(&r->triggers);
    free(r);
}

void tw_reactor_free(tw_reactor *r)
{
    if (!r)
        return;
    if (tw__fork_in_child(&r->made)) {
        free_in_child(r);
        return;
    }
    release_slots(r);
    tw__pool_stop(&r->pool);
    pthread_mutex_destroy(&r->pool.lock);
    pthread_cond_destroy(&r->pool.cond);
    tw__signals_release(r);
    tw__thread_calls_free(r);
    tw__backend_free(r->backend);
    tw__fds_free(&r->fds);
    tw__timers_free(&r->timers);
    tw__triggers_free(&r->triggers);
    free(r);
}

const char *tw_reactor_backend(void) { return tw__backend_name(); }

bool tw_reactor_running(const tw_reactor *r)
{
    return r && (r->state == TW_STATE_RUNNING || r->state == TW_STATE_STOPPING);
}

int64_t tw_reactor_now(const tw_reactor *r) { return r ? r->now : 0; }

double tw_reactor_seconds(const tw_reactor *r) { return r ? (double)r->now / 1e9 : 0; }

void tw_reactor_set_clock(tw_reactor *r, tw_clock_fn fn, void *ctx)
{
    if (!r)
        return;
    r->clock_fn = fn ? fn : system_clock;
    r->clock_ctx = fn ? ctx : NULL;
    tw__reactor_update_time(r);
}

/* The wait of one turn: the caller's bound, shortened by the next timer; 0 while a stop is
 * pending. */
static int64_t turn_wait(const tw_reactor *r, int64_t max_wait)
{
    if (r->state == TW_STATE_STOPPING && !r->shutdown_begun)
        return 0;
    int64_t timer_wait = tw__timers_next_wait(r);
    if (timer_wait < 0)
        return max_wait;
    return max_wait < 0 || timer_wait < max_wait ? timer_wait : max_wait;
}

static int turn(tw_reactor *r, int64_t max_wait)
{
    r->in_turn = true;
    int refused = tw__fds_flush(r); /* their watchers hear of it in this turn: do not block */
    /* The wait counts from now, not from the last turn's time: its callbacks took time too, and
     * counting from before them would make the next timer late by as long (libev does the same). */
    if (r->timers.count)
        tw__reactor_update_time(r);
    int64_t wait_from = r->debug ? tw__reactor_clock(r) : 0;
    int64_t wait = refused ? 0 : turn_wait(r, max_wait);
    int n = tw__backend_poll(r->backend, wait, r->fds.ready, r->fds.ready_cap);
    tw__reactor_update_time(r);
    if (r->debug)
        r->metrics.wait_ns += r->now - wait_from;
    int ran = 0;
    if (n < 0) {
        tw_reactor_log(r, TW_LOG_CRITICAL, "%s wait failed: %s", tw__backend_name(),
                       tw_strerror(n));
    } else {
        ran = tw__fds_dispatch(r, n);
        tw__fds_grow_ready(&r->fds, n);
    }
    ran += tw__timers_run_due(r);
    r->metrics.turns++;
    r->metrics.callbacks += (uint64_t)ran;
    if (r->debug)
        r->metrics.run_ns += tw__reactor_clock(r) - r->now;
    r->in_turn = false;
    return n < 0 ? n : ran;
}

int tw_reactor_iterate(tw_reactor *r, double timeout)
{
    if (!r || isnan(timeout))
        return -EINVAL;
    if (tw__fork_in_child(&r->made))
        return -EPERM;
    if (r->in_turn)
        return TW_EALREADYRUNNING;
    int64_t max_wait = timeout < 0     ? -1
                       : timeout > 1e9 ? (int64_t)1e18
                                       : (int64_t)ceil(timeout * 1e9);
    return turn(r, max_wait);
}

int tw_reactor_stop(tw_reactor *r)
{
    if (!r)
        return -EINVAL;
    if (r->state != TW_STATE_RUNNING && r->state != TW_STATE_STARTING)
        return TW_ENOTRUNNING;
    r->state = TW_STATE_STOPPING;
    return 0;
}

static void fire_startup(tw_reactor *r)
{
    r->state = TW_STATE_STARTING;
    tw__triggers_fire(r, TW_EVENT_STARTUP, TW_PHASE_BEFORE);
    tw__triggers_fire(r, TW_EVENT_STARTUP, TW_PHASE_DURING);
    if (r->state == TW_STATE_STARTING)
        r->state = TW_STATE_RUNNING;
    tw__triggers_fire(r, TW_EVENT_STARTUP, TW_PHASE_AFTER);
}

/* Advances the shutdown once stop() was called; true when run() may return. */
static bool shutdown_step(tw_reactor *r)
{
    if (r->state != TW_STATE_STOPPING)
        return false;
    if (!r->shutdown_begun) {
        r->shutdown_begun = true;
        tw__triggers_fire(r, TW_EVENT_SHUTDOWN, TW_PHASE_BEFORE);
    }
    if (r->shutdown_holds > 0)
        return false;
    tw__triggers_fire(r, TW_EVENT_SHUTDOWN, TW_PHASE_DURING);
    tw__pool_stop(&r->pool);
    tw__thread_calls_run(
        r); /* what the pool's last work handed back arrives before run() returns */
    tw__triggers_fire(r, TW_EVENT_SHUTDOWN, TW_PHASE_AFTER);
    return true;
}

int tw_reactor_run(tw_reactor *r)
{
    if (!r)
        return -EINVAL;
    if (tw__fork_in_child(&r->made))
        return -EPERM;
    if (r->state == TW_STATE_STOPPED)
        return TW_ENOTRESTARTABLE;
    if (r->state != TW_STATE_IDLE || r->in_turn)
        return TW_EALREADYRUNNING;
    fire_startup(r);
    int err = 0;
    while (!shutdown_step(r)) {
        int n = turn(r, -1);
        if (n < 0 && n != -EINTR) {
            /* The loop cannot wait any more: shut down at once (holds cannot be honoured without
             * turns), so that the shutdown triggers still close what is open. */
            err = n;
            r->state = TW_STATE_STOPPING;
            r->shutdown_holds = 0;
        }
    }
    r->state = TW_STATE_STOPPED;
    return err;
}

int tw_call_when_running(tw_reactor *r, tw_fn fn, void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    if (tw_reactor_running(r)) {
        int err = fn(arg);
        if (err < 0)
            tw__report_callback_error(r, "call when running", err);
        return 0;
    }
    long id = tw_reactor_add_trigger(r, TW_PHASE_AFTER, TW_EVENT_STARTUP, fn, arg);
    return id < 0 ? (int)id : 0;
}
