/* twine deferreds: Twisted's Deferred in C. A deferred is a promise of one result (a value or a
 * failure) and a chain of callback/errback pairs that run, in order, once the result is known.
 * Also here: deferred lists, gather, timeouts, defer-to-thread, semaphore, lock and queue.
 *
 * THE REFERENCE RULE (deferreds only; failures follow failure.h):
 *   Every function that returns a new tw_deferred * hands the caller one reference. Whoever keeps a
 *   deferred past the current call (to fire it later, to add callbacks later, to cancel it) holds a
 *   reference of its own (tw_deferred_ref) and drops it with tw_deferred_unref. Everything twine
 * does
 *   internally (running the chain, chaining, lists, timeouts, semaphores, queues, threads) takes
 * and
 *   drops the references it needs, so a caller never has to keep a deferred alive for twine's sake.
 *   When the last reference goes the deferred is freed: its result is destroyed, callbacks that
 * never
 *   ran are dropped without being called, and a failure still sitting in it is reported unhandled.
 *   Chaining keeps the *outer* deferred alive while it waits, not the inner one: whoever will fire
 * the
 *   inner deferred holds a reference to it, as with any deferred it means to fire.
 *
 * VALUES: a result is a void * with an optional destructor (tw_destructor), or a failure. The
 *   deferred owns its current result. A callback borrows it through the tw_result * it is given and
 *   may replace it (tw_result_set_*: the old result is destroyed, exactly once) or take it
 *   (tw_result_take_*: the caller now owns it and the result becomes NULL). Whatever is left in a
 *   deferred when it is freed is destroyed then.
 *   A function that takes ownership of an argument (a value, a failure, a reference) takes it only
 *   when it returns 0 / non-NULL; on error the caller still owns it.
 *
 * NULL: a NULL deferred, result, semaphore, lock or queue is answered by -EINVAL (or NULL with
 *   *err, false, 0, nothing), never a crash: the rule for the whole API is at the top of twine.h.
 *
 * THREADS: a deferred belongs to the thread of its reactor; only tw_defer_to_thread crosses
 * threads. Unhandled failures are logged through the reactor given at creation (tw_reactor_log,
 * level CRITICAL); with a NULL reactor they go to the process-wide default logger
 * (tw_set_default_logger; stderr unless a program sets one). So a deferred made with a reactor must
 * be freed before that reactor is. */
#ifndef TWINE_DEFERRED_H
#define TWINE_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "failure.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_deferred tw_deferred;
typedef struct tw_result tw_result;

/* Frees a value. May be NULL: the value needs no freeing. */
typedef void (*tw_destructor)(void *value);

/* A callback or errback. d is the deferred whose chain runs it, result its current result (owned by
 * d, see VALUES), arg the pointer given when it was added. Return 0 to keep whatever result now
 * holds (unchanged, replaced or set to another deferred), or a negative errno / TW_E* code: the
 * result is then replaced by tw_failure_from_errno(code) and the chain switches to errbacks. A
 * failure result after the call runs the next errback; a value runs the next callback. */
typedef int (*tw_callback_fn)(tw_deferred *d, tw_result *result, void *arg);

/* Twisted's canceller: called by tw_deferred_cancel() on an unfired deferred. It may fire d (that
 * result wins); if it does not, d fails with CancelledError. */
typedef void (*tw_canceller_fn)(tw_deferred *d, void *arg);

/* Work for tw_maybe_deferred, tw_semaphore_run and tw_defer_to_thread: sets *out (which starts as a
 * NULL value) and returns 0, or returns a negative code to fail. */
typedef int (*tw_work_fn)(tw_result *out, void *arg);

/* ---- results: what a callback reads and writes ----------------------------------------------- */

TW_API bool tw_result_is_failure(const tw_result *r);
/* Borrowed: the value (NULL for a failure) or the failure (NULL for a value). */
TW_API void *tw_result_value(const tw_result *r);
TW_API tw_failure *tw_result_failure(const tw_result *r);

/* Replace the result; the old one is destroyed. set_failure takes the caller's reference; a NULL f
 * (allocation failed) stands for tw_failure_nomem(). set_error builds a failure from a code. */
TW_API void tw_result_set_value(tw_result *r, void *value, tw_destructor destroy);
TW_API void tw_result_set_failure(tw_result *r, tw_failure *f);
TW_API void tw_result_set_error(tw_result *r, int code, const char *context);
/* Chaining (Twisted: a callback returns a Deferred): takes the caller's reference to inner; the
 * chain continues with inner's result once it has one. Returning d itself is refused: the chain
 * fails with a ValueError instead of deadlocking. inner NULL counts as out of memory. */
TW_API void tw_result_set_deferred(tw_result *r, tw_deferred *inner);
/* Take ownership out of the result. take_value: the caller now owns the value and must free it
 * itself (the destructor is returned through *destroy if not NULL); the result becomes NULL.
 * take_failure: the caller gets the reference and the result becomes a NULL value, so the failure
 * counts as handled. Both return NULL when the result is of the other kind. */
TW_API void *tw_result_take_value(tw_result *r, tw_destructor *destroy);
TW_API tw_failure *tw_result_take_failure(tw_result *r);

/* ---- deferred: create, reference, fire ------------------------------------------------------- */

/* A new unfired deferred (one reference, see THE REFERENCE RULE). r may be NULL. NULL + *err
 * (-ENOMEM) on failure; err may be NULL. */
TW_API tw_deferred *tw_deferred_new(tw_reactor *r, int *err);
/* The same with a canceller; arg must stay valid until d fires or is freed. */
TW_API tw_deferred *tw_deferred_new_with_canceller(tw_reactor *r, tw_canceller_fn canceller,
                                                    void *arg, int *err);
TW_API tw_deferred *tw_deferred_ref(tw_deferred *d);
TW_API void tw_deferred_unref(tw_deferred *d);
/* The reactor d was made with (NULL if none): lets a callback schedule timers or thread work. */
TW_API tw_reactor *tw_deferred_reactor(const tw_deferred *d);

/* Fire with a value / a failure (Twisted's callback / errback). 0, or TW_EALREADYCALLED if d has
 * already fired (the caller keeps value / f), or -EINVAL for a NULL d. Once after a cancel of a
 * deferred without canceller, the producer's late result is accepted and silently destroyed, as
 * Twisted does. errback with f NULL means tw_failure_nomem(). Callbacks run before this returns,
 * unless d is paused. */
TW_API int tw_deferred_callback(tw_deferred *d, void *value, tw_destructor destroy);
TW_API int tw_deferred_errback(tw_deferred *d, tw_failure *f);

/* ---- callbacks ------------------------------------------------------------------------------- */

/* Appends a (callback, errback) pair; NULL in a slot passes the result through. Exactly one slot of
 * each pair runs. On a fired, unpaused deferred the pair runs before this returns (unless d is
 * already running its callbacks: then it runs after the current one). 0, -EINVAL (d NULL or both
 * slots NULL), -ENOMEM. The first TW_DEFERRED_INLINE_CALLBACKS pairs pending at once need no
 * allocation. */
#define TW_DEFERRED_INLINE_CALLBACKS 4
TW_API int tw_deferred_add_callbacks(tw_deferred *d, tw_callback_fn callback, void *callback_arg,
                                     tw_callback_fn errback, void *errback_arg);
TW_API int tw_deferred_add_callback(tw_deferred *d, tw_callback_fn callback, void *arg);
TW_API int tw_deferred_add_errback(tw_deferred *d, tw_callback_fn errback, void *arg);
TW_API int tw_deferred_add_both(tw_deferred *d, tw_callback_fn fn, void *arg);
/* Twisted's chainDeferred: when d's result reaches this point it moves into other (which fires
 * with it) and d continues with a NULL value. Holds a reference to other until then. */
TW_API int tw_deferred_chain_deferred(tw_deferred *d, tw_deferred *other);

/* pause / unpause: while paused no callback runs, even on a fired deferred. Calls nest; unpause on
 * a deferred that is not paused does nothing. */
TW_API void tw_deferred_pause(tw_deferred *d);
TW_API void tw_deferred_unpause(tw_deferred *d);

/* Twisted's cancel(): unfired -> the canceller runs, then CancelledError unless it fired d; fired
 * and waiting on a chained deferred -> that one is cancelled instead; fired -> nothing. */
TW_API void tw_deferred_cancel(tw_deferred *d);

/* Twisted's addTimeout(timeout, clock): after seconds on r's clock, d is cancelled and the
 * CancelledError becomes TimeoutError (any other result passes unchanged).
 * Where to add it: the conversion is a pair placed in the chain by this call, as in Twisted, so
 * callbacks added before it see CancelledError and callbacks added after it see TimeoutError. Add
 * the timeout first, right after making d, then the callbacks.
 * The timer is cancelled as soon as d's result gets past it, or when d is freed; until then the
 * timer is r's, so fire, cancel or free d before freeing r. 0, -EINVAL, -ENOMEM. */
TW_API int tw_deferred_add_timeout(tw_deferred *d, tw_reactor *r, double seconds);

/* ---- inspection ------------------------------------------------------------------------------ */

TW_API bool tw_deferred_called(const tw_deferred *d);
TW_API bool tw_deferred_paused(const tw_deferred *d);
/* The current result, borrowed; NULL while unfired or waiting on a chained deferred. */
TW_API const tw_result *tw_deferred_result(const tw_deferred *d);
/* Twisted's repr: "<Deferred at 0x..>", "... current result: failure Type: msg" / "... current
 * result: 0x..", "... waiting on Deferred at 0x..". Always NUL-terminated; returns buf. */
TW_API char *tw_deferred_describe(const tw_deferred *d, char *buf, size_t size);

/* ---- ready-made deferreds -------------------------------------------------------------------- */

/* Already fired with value / f (Twisted's succeed / fail). NULL + *err on -ENOMEM (caller keeps
 * value / f). */
TW_API tw_deferred *tw_succeed(tw_reactor *r, void *value, tw_destructor destroy, int *err);
TW_API tw_deferred *tw_fail(tw_reactor *r, tw_failure *f, int *err);
/* Twisted's maybeDeferred: runs fn(out, arg) now. A deferred it set with tw_result_set_deferred is
 * returned as it is; a value gives tw_succeed, a failure or a negative return tw_fail. */
TW_API tw_deferred *tw_maybe_deferred(tw_reactor *r, tw_work_fn fn, void *arg, int *err);

/* Twisted's deferToThread: fn(out, arg) runs on one of r's pool threads; the result is delivered
 * with tw_call_from_thread, so callbacks run in the reactor thread. fn must not touch deferreds or
 * the reactor, and must not use tw_result_set_deferred (it counts as a failure). Cancelling gives
 * CancelledError at once; the thread's late result is then destroyed. Work still queued at the
 * reactor's shutdown runs and its deferred fires before tw_reactor_run() returns; if the reactor is
 * freed without running, the work runs but its deferred never fires (its result is destroyed). */
TW_API tw_deferred *tw_defer_to_thread(tw_reactor *r, tw_work_fn fn, void *arg, int *err);

/* ---- deferred lists and gather --------------------------------------------------------------- */

/* DeferredList flags (Twisted's keyword arguments). */
#define TW_DL_FIRE_ON_ONE_CALLBACK 0x1u
#define TW_DL_FIRE_ON_ONE_ERRBACK 0x2u
#define TW_DL_CONSUME_ERRORS 0x4u
/* At most this many inputs per list. */
#define TW_DEFERRED_LIST_MAX 1000000u

/* One input's outcome: ok with a value (which the list owns: take it by setting destroy to NULL),
 * or !ok with a failure (a reference the list owns). */
typedef struct tw_list_entry {
    bool ok;
    void *value;
    tw_destructor destroy;
    tw_failure *failure;
} tw_list_entry;

/* The value a list fires with: one entry per input, in input order. Freed with the list's
 * result. */
typedef struct tw_list_result {
    size_t count;
    tw_list_entry entries[];
} tw_list_result;

/* With TW_DL_FIRE_ON_ONE_CALLBACK the list fires with this instead: the first success and its
 * index (Twisted's (result, index)). */
typedef struct tw_first_result {
    size_t index;
    void *value;
    tw_destructor destroy;
} tw_first_result;

/* Twisted's DeferredList(ds, fireOnOneCallback, fireOnOneErrback, consumeErrors). Takes its own
 * references; the caller keeps its references to ds. A success value moves from the input into the
 * list (the input's chain continues with NULL); a failure is shared, and keeps propagating on the
 * input unless TW_DL_CONSUME_ERRORS replaces it by NULL there. With TW_DL_FIRE_ON_ONE_ERRBACK the
 * first failure fails the list with FirstError (cause: the input's failure, index: its position).
 * Empty list: fires at once with count 0, except with TW_DL_FIRE_ON_ONE_CALLBACK: never fires.
 * Cancelling the list before it fired cancels every input still pending. */
TW_API tw_deferred *tw_deferred_list_new(tw_reactor *r, tw_deferred *const *ds, size_t n,
                                         unsigned flags, int *err);
/* Twisted's gatherResults: a list with TW_DL_FIRE_ON_ONE_ERRBACK (and TW_DL_CONSUME_ERRORS if
 * consume_errors); its value is a tw_list_result whose entries are all ok. */
TW_API tw_deferred *tw_gather_results(tw_reactor *r, tw_deferred *const *ds, size_t n,
                                      bool consume_errors, int *err);

/* ---- semaphore and lock ---------------------------------------------------------------------- */

typedef struct tw_semaphore tw_semaphore;
typedef struct tw_lock tw_lock;

/* Twisted's DeferredSemaphore(tokens). tokens >= 1, else NULL with -EINVAL (Twisted's ValueError;
 * the count is signed so that a negative one is refused, not taken as a huge unsigned number). */
TW_API tw_semaphore *tw_semaphore_new(tw_reactor *r, int tokens, int *err);
/* Frees s; waiters still queued fail with CancelledError first. Not while a token is held by a run
 * that will release it later. */
TW_API void tw_semaphore_free(tw_semaphore *s);
/* A deferred that fires with s (no destructor) once a token is taken: at once if one is free, else
 * when released to this waiter (FIFO). Cancelling it while queued removes it without taking a
 * token; cancelling after it fired does nothing (the token stays held). */
TW_API tw_deferred *tw_semaphore_acquire(tw_semaphore *s, int *err);
/* Returns a token, handing it to the first waiter if any (its callbacks run before this returns).
 * A release made from inside those callbacks hands its token on right after them, in the same FIFO
 * order, so a long queue of quick jobs is served by a loop, not by nested releases. -EINVAL if
 * every token is already free (Twisted's "released too many times"). */
TW_API int tw_semaphore_release(tw_semaphore *s);
/* acquire, then fn(out, arg) as with tw_maybe_deferred, then release once fn's result is known,
 * success or failure; the returned deferred fires with fn's result. */
TW_API tw_deferred *tw_semaphore_run(tw_semaphore *s, tw_work_fn fn, void *arg, int *err);
TW_API unsigned tw_semaphore_tokens(const tw_semaphore *s);  /* free tokens now */
TW_API unsigned tw_semaphore_limit(const tw_semaphore *s);
TW_API size_t tw_semaphore_waiting(const tw_semaphore *s);

/* Twisted's DeferredLock: a semaphore of one token. acquire fires with the lock. release on an
 * unlocked lock is -EINVAL. */
TW_API tw_lock *tw_lock_new(tw_reactor *r, int *err);
TW_API void tw_lock_free(tw_lock *l);
TW_API tw_deferred *tw_lock_acquire(tw_lock *l, int *err);
TW_API int tw_lock_release(tw_lock *l);
TW_API tw_deferred *tw_lock_run(tw_lock *l, tw_work_fn fn, void *arg, int *err);
TW_API bool tw_lock_locked(const tw_lock *l);

/* ---- queue ----------------------------------------------------------------------------------- */

typedef struct tw_queue tw_queue;

/* No limit, for size or backlog (Twisted's None). */
#define TW_QUEUE_UNLIMITED ((size_t)-1)

/* Twisted's DeferredQueue(size, backlog): at most size values waiting for a getter, at most backlog
 * getters waiting for a value. */
TW_API tw_queue *tw_queue_new(tw_reactor *r, size_t size, size_t backlog, int *err);
/* Frees q: pending values are destroyed, waiting getters fail with CancelledError. */
TW_API void tw_queue_free(tw_queue *q);
/* Hands value to the first waiting getter (its callbacks run now) or keeps it. 0, TW_EOVERFLOW when
 * size values already wait (the caller keeps value), -ENOMEM, -EINVAL. */
TW_API int tw_queue_put(tw_queue *q, void *value, tw_destructor destroy);
/* A deferred for the next value: already fired if one waits. NULL + *err TW_EUNDERFLOW when backlog
 * getters already wait. Cancelling a waiting get removes it from the queue. */
TW_API tw_deferred *tw_queue_get(tw_queue *q, int *err);
TW_API size_t tw_queue_pending(const tw_queue *q);  /* values waiting */
TW_API size_t tw_queue_waiting(const tw_queue *q);  /* getters waiting */

#ifdef __cplusplus
}
#endif
#endif
