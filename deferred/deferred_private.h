/* Private to deferred/: the layout of a result and the hooks the deferred helpers (lists, timeouts,
 * semaphores, queues, threads) use to attach internal callbacks whose argument needs releasing. */
#ifndef TWINE_DEFERRED_PRIVATE_H
#define TWINE_DEFERRED_PRIVATE_H

#include <twine/deferred.h>

/* At most one of value/destroy, failure, deferred is set. The empty result is a NULL value. */
struct tw_result {
    void *value;
    tw_destructor destroy;
    tw_failure *failure;
    tw_deferred *deferred; /* set by tw_result_set_deferred, consumed by the chain runner */
};

/* Called exactly once with the pair's callback argument, after the pair ran or when it is dropped
 * unrun (its deferred was freed). */
typedef void (*tw_release_fn)(void *arg);

/* Destroys whatever r holds and leaves it empty. */
void tw__result_clear(tw_result *r);
/* Moves src into dst (whose old content is destroyed) and leaves src empty. */
void tw__result_move(tw_result *dst, tw_result *src);

/* tw_deferred_add_callbacks with one argument for both slots and a release for it. On error
 * release is not called (the caller still owns arg). */
int tw__deferred_add_pair(tw_deferred *d, tw_callback_fn callback, tw_callback_fn errback,
                          void *arg, tw_release_fn release) TW__MUST_CHECK;
/* Fires d with *r, moving it in on success (r is then empty); on error r is untouched. */
int tw__deferred_fire(tw_deferred *d, tw_result *r) TW__MUST_CHECK;
/* Sets the canceller; release(arg) runs once when the canceller is dropped (d fired, or freed). */
void tw__deferred_set_canceller(tw_deferred *d, tw_canceller_fn fn, void *arg,
                                tw_release_fn release);
/* errback with a new failure of this type, code and message (or nomem). */
int tw__deferred_fail_with(tw_deferred *d, const char *type, int code,
                           const char *message) TW__MUST_CHECK;

#endif
