/* twine task: Twisted's twisted.internet.task on twine's reactor and deferreds. A looping call runs
 * a function on an interval; tw_defer_later runs one after a delay; tw_react runs a program whose
 * main returns a deferred; a cooperator spreads long CPU work over many turns of the loop.
 *
 * Ownership: objects made by a *_new function belong to the caller, who frees them with the
 * matching *_free. Deferreds follow THE REFERENCE RULE of deferred.h: each one returned here hands
 * the caller one reference. A cooperative task is reference counted like a deferred (see the
 * cooperator section). Everything here belongs to the thread of its reactor, and must be freed
 * before the reactor is.
 *
 * Errors: functions return 0 or a negative errno / TW_E* code, or NULL with *err (err may be NULL).
 * A call that fails takes over nothing and never runs the function it was given.
 *
 * Time: everything here runs on the reactor's clock, so on a controllable clock (testing.h,
 * tw_reactor_set_clock) it runs unchanged and deterministically. */
#ifndef TWINE_TASK_H
#define TWINE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deferred.h"
#include "error.h"
#include "failure.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Failure types of this module (Twisted's exception names). */
#define TW_TASK_STOPPED_ERROR "TaskStopped"
#define TW_SCHEDULER_STOPPED_ERROR "SchedulerStopped"
#define TW_SYSTEM_EXIT "SystemExit"

/* ---- looping call (Twisted's LoopingCall) -------------------------------------------------------
 * Calls fn every interval seconds. The calls sit on a grid anchored at the start time: start, start
 * + interval, start + 2 * interval, ... When the loop was busy past one or more grid points (a slow
 * callback, a blocked reactor, a deferred that took long), the missed calls are skipped, not run in
 * a burst: the next call is at the first grid point still in the future. A looping call made with
 * tw_looping_call_with_count is told how many grid points passed since its last call instead.
 *
 * fn follows tw_work_fn (deferred.h): a failure in *out or a negative return stops the loop and
 * fails the deferred that start() returned; a deferred set with tw_result_set_deferred holds the
 * next call until it fires (its failure stops the loop likewise); a value is destroyed. The grid is
 * kept in whole nanoseconds, so intervals such as 0.1 s never drift or count a zero. An interval of
 * 0 runs fn once per turn of the loop. */
typedef struct tw_looping_call tw_looping_call;

/* The longest interval, about 31 years (the reactor's own limit for a delay). */
#define TW_LOOPING_CALL_INTERVAL_MAX 1e9

/* fn for tw_looping_call_with_count: count >= 1 is the number of grid points that passed since the
 * previous call (since start, for the first). It is not called while the count would be 0. */
typedef int (*tw_count_fn)(tw_result *out, uint64_t count, void *arg);

/* A stopped looping call; arg must stay valid while it runs. NULL + *err: -EINVAL (no r or fn),
 * -ENOMEM. */
TW_API tw_looping_call *tw_looping_call_new(tw_reactor *r, tw_work_fn fn, void *arg, int *err);
TW_API tw_looping_call *tw_looping_call_with_count(tw_reactor *r, tw_count_fn fn, void *arg,
                                                   int *err);

/* Stops lc if it runs (as tw_looping_call_stop) and gives up the caller's handle; the memory goes
 * once the deferred fn returned, if any, has fired. Allowed from inside fn. */
TW_API void tw_looping_call_free(tw_looping_call *lc);

/* Starts calling fn every interval seconds: at once if now, else first after one interval. Returns
 * a deferred (one reference for the caller) that fires with lc as its value (no destructor) once
 * the loop stops, or fails with fn's failure. When fn runs now and fails, it has failed already.
 * NULL + *err: -EINVAL (interval negative, NaN or above TW_LOOPING_CALL_INTERVAL_MAX),
 * TW_EALREADYRUNNING (lc runs, or its last run has not finished yet: fn's deferred is pending),
 * -ENOMEM. */
TW_API tw_deferred *tw_looping_call_start(tw_looping_call *lc, double interval, bool now, int *err);

/* Stops the loop: no more calls. The deferred from start fires now, or, when fn is running or its
 * deferred is pending, as soon as that ends. TW_ENOTRUNNING if lc is not running. */
TW_API int tw_looping_call_stop(tw_looping_call *lc);

/* Twisted's reset: skips the pending call and restarts the grid from now (the next call is one
 * interval from now). Does nothing while fn runs or its deferred is pending. TW_ENOTRUNNING,
 * -ENOMEM (the pending call is left as it was). */
TW_API int tw_looping_call_reset(tw_looping_call *lc);

/* Changes the interval, also while running (Twisted assigns lc.interval): the call already
 * scheduled keeps its time; the grid keeps its start and uses the new interval from the next call
 * on, and so do the counts of a with_count call. -EINVAL as for start. */
TW_API int tw_looping_call_set_interval(tw_looping_call *lc, double interval);
TW_API double tw_looping_call_interval(const tw_looping_call *lc);
/* True from start until stop, or until fn fails. */
TW_API bool tw_looping_call_running(const tw_looping_call *lc);

/* ---- deferLater ------------------------------------------------------------------------------ */

/* Twisted's deferLater: a deferred (one reference for the caller) that fires after delay seconds
 * with fn's result, as a callback of it: fn(out, arg) may set a value, a failure, or a deferred to
 * chain on. fn NULL fires it with a NULL value. Cancelling it before the delay has passed cancels
 * the timer (fn never runs) and fails it with CancelledError. The timer holds a reference to the
 * deferred, so dropping yours does not cancel it; cancel it or let it fire before freeing r. NULL +
 * *err: -EINVAL (no r, delay NaN), -ENOMEM. */
TW_API tw_deferred *tw_defer_later(tw_reactor *r, double delay, tw_work_fn fn, void *arg, int *err);

/* ---- react ----------------------------------------------------------------------------------- */

/* main_fn for tw_react: returns a deferred (one reference, handed to tw_react) whose result ends
 * the program, or NULL, which counts as a failure. */
typedef tw_deferred *(*tw_react_fn)(tw_reactor *r, void *arg, int argc, char **argv);

/* Twisted's react: makes a reactor, installs its signal handlers (SIGINT and SIGTERM stop it;
 * skipped if another reactor owns them), calls main_fn(r, arg, argc, argv), runs the reactor until
 * main's deferred has fired, stops it (once, and not at all if it is already stopping) and frees
 * it. Returns the exit status for main() to return: 0 when the deferred succeeded or never fired
 * (the reactor was stopped by a signal or by main's code); the status a SystemExit failure carries;
 * otherwise 1, after logging the failure ("main function encountered error: ...") through the
 * reactor's log hook. A reactor that cannot be made is reported on stderr with status 1. */
TW_API int tw_react(tw_react_fn main_fn, void *arg, int argc, char **argv);

/* A SystemExit failure carrying an exit status (0..255, clamped): failing main's deferred with it
 * makes tw_react return that status without logging anything. NULL when out of memory. Its code is
 * the negated status. */
TW_API tw_failure *tw_system_exit(int status);
/* The status of a SystemExit failure, or -1 for any other failure (or NULL). */
TW_API int tw_system_exit_status(const tw_failure *f);

/* ---- cooperator (Twisted's Cooperator, cooperate, coiterate) -----------------------------------
 * Runs many long jobs on the loop without starving I/O: each job is a step function called again
 * and again (Twisted: one next() of an iterator). On each of its ticks the cooperator calls the
 * steps of its runnable tasks round-robin, one step per task in turn, until the time slice is used
 * up (read on the reactor's clock after each step); the next tick then continues with the task
 * after the last one served, so every task gets its turn. A tick is a timer of delay 0, so it runs
 * once per turn of the loop at most, after the turn's I/O.
 *
 * A step returns TW_STEP_MORE to be called again, TW_STEP_DONE when the job is finished, or a
 * negative code to fail it. It may set *out: a failure fails the task; a deferred
 * (tw_result_set_deferred) makes the task wait until it fires, then go on (or finish, if the step
 * returned TW_STEP_DONE), a failure of it failing the task; the cooperator consumes that deferred's
 * result. A value is destroyed.
 *
 * A task is reference counted: tw_cooperator_cooperate hands the caller one reference, dropped with
 * tw_cooperative_task_unref; the cooperator holds its own until the task finishes. arg must stay
 * valid until the task has finished. */
typedef struct tw_cooperator tw_cooperator;
typedef struct tw_cooperative_task tw_cooperative_task;

#define TW_STEP_MORE 0
#define TW_STEP_DONE 1
typedef int (*tw_step_fn)(tw_result *out, void *arg);

/* Twisted's default slice: steps run for up to 10 ms of each tick. */
#define TW_COOPERATOR_SLICE_DEFAULT 0.01

typedef enum {
    TW_TASK_ACTIVE,            /* not finished: runnable, paused, or waiting on a deferred */
    TW_TASK_DONE,              /* its step returned TW_STEP_DONE (Twisted's TaskDone) */
    TW_TASK_STOPPED,           /* tw_cooperative_task_stop (TaskStopped) */
    TW_TASK_FAILED,            /* its step or a deferred it waited on failed (TaskFailed) */
    TW_TASK_SCHEDULER_STOPPED, /* its cooperator was stopped or freed (SchedulerStopped) */
} tw_task_state;

/* A running cooperator whose ticks use slice_seconds (> 0, at most TW_LOOPING_CALL_INTERVAL_MAX) of
 * the reactor's clock. NULL + *err: -EINVAL, -ENOMEM. */
TW_API tw_cooperator *tw_cooperator_new(tw_reactor *r, double slice_seconds, int *err);
/* Stops c (as tw_cooperator_stop) and frees it. From inside one of its steps or their callbacks,
 * the memory goes when the tick ends. */
TW_API void tw_cooperator_free(tw_cooperator *c);

/* A new task running step(out, arg) (one reference for the caller). On a stopped cooperator the
 * task is finished at once with TW_TASK_SCHEDULER_STOPPED. NULL + *err: -EINVAL, -ENOMEM. */
TW_API tw_cooperative_task *tw_cooperator_cooperate(tw_cooperator *c, tw_step_fn step, void *arg,
                                                    int *err);
/* The same, returning only the task's when_done deferred. */
TW_API tw_deferred *tw_cooperator_coiterate(tw_cooperator *c, tw_step_fn step, void *arg, int *err);

/* Twisted's Cooperator.stop: every unfinished task (paused and waiting ones too) finishes with
 * TW_TASK_SCHEDULER_STOPPED and its when_done deferreds fail with SchedulerStopped; new tasks are
 * refused the same way until tw_cooperator_start. */
TW_API void tw_cooperator_stop(tw_cooperator *c);
TW_API void tw_cooperator_start(tw_cooperator *c);
TW_API bool tw_cooperator_running(const tw_cooperator *c);

/* Twisted's module-level cooperate and coiterate: the same on r's own cooperator (made on first
 * use, slice TW_COOPERATOR_SLICE_DEFAULT, stopped and freed with r). */
TW_API tw_cooperative_task *tw_cooperate(tw_reactor *r, tw_step_fn step, void *arg, int *err);
TW_API tw_deferred *tw_coiterate(tw_reactor *r, tw_step_fn step, void *arg, int *err);

/* A new deferred (one reference) for the end of t: fires with t's arg (no destructor) when the job
 * is done; fails with the step's failure, TaskStopped or SchedulerStopped otherwise. Already fired
 * if t has finished. NULL + *err: -EINVAL, -ENOMEM. */
TW_API tw_deferred *tw_cooperative_task_when_done(tw_cooperative_task *t, int *err);
/* No step runs while paused; pauses nest. -EALREADY once t has finished (the state says how). */
TW_API int tw_cooperative_task_pause(tw_cooperative_task *t);
/* Undoes one pause; the task runs again from the next tick. -EINVAL (Twisted's NotPaused) if t is
 * not paused. On a finished task it only counts down. -ENOMEM: it stays paused. */
TW_API int tw_cooperative_task_resume(tw_cooperative_task *t);
/* Finishes t with TW_TASK_STOPPED: no more steps; its when_done deferreds fail with TaskStopped.
 * -EALREADY once t has finished. */
TW_API int tw_cooperative_task_stop(tw_cooperative_task *t);
TW_API tw_task_state tw_cooperative_task_state(const tw_cooperative_task *t);
TW_API tw_cooperative_task *tw_cooperative_task_ref(tw_cooperative_task *t);
TW_API void tw_cooperative_task_unref(tw_cooperative_task *t);

#ifdef __cplusplus
}
#endif
#endif
