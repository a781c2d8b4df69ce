/* The deferred itself: callback chains, firing, chaining on inner deferreds, pause, cancel and the
 * unhandled-failure report. The chain runner is iterative (an explicit stack of deferreds), so
 * nesting depth never grows the C stack. One allocation per deferred with up to
 * TW_DEFERRED_INLINE_CALLBACKS pending pairs. */
#include "deferred_private.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A callback/errback pair. Both slots NULL marks Twisted's CONTINUE: arg[0] is the outer deferred
 * waiting for this one's result, and the pair holds a reference to it. */
struct pair {
    tw_callback_fn fn[2]; /* [0] callback, [1] errback */
    void *arg[2];
    tw_release_fn release;
};

struct tw_deferred {
    unsigned refs;
    unsigned paused;
    bool called;
    bool running; /* a callback of this deferred is on the C stack */
    bool chaining; /* its chainDeferred pair fired another, whose chain runs above it */
    bool suppress_already_called;
    tw_result result;
    tw_deferred *chained_to; /* the inner deferred this one waits on; weak */
    tw_canceller_fn canceller;
    void *canceller_arg;
    tw_release_fn canceller_release;
    tw_reactor *reactor;
    struct pair *pairs; /* inline_pairs, or a heap array once more are pending at once */
    unsigned head, tail, cap;
    struct pair inline_pairs[TW_DEFERRED_INLINE_CALLBACKS];
};

/* How many deferreds the chain runner tracks before it needs the heap. */
#define CHAIN_STACK_INLINE 16

/* ---- results --------------------------------------------------------------------------------- */

void tw__result_clear(tw_result *r)
{
    if (r->destroy)
        r->destroy(r->value);
    tw_failure_unref(r->failure);
    tw_deferred_unref(r->deferred);
    memset(r, 0, sizeof *r);
}

void tw__result_move(tw_result *dst, tw_result *src)
{
    if (dst == src)
        return;
    tw__result_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

bool tw_result_is_failure(const tw_result *r)
{
    return r && r->failure;
}

void *tw_result_value(const tw_result *r)
{
    return r ? r->value : NULL;
}

tw_failure *tw_result_failure(const tw_result *r)
{
    return r ? r->failure : NULL;
}

void tw_result_set_value(tw_result *r, void *value, tw_destructor destroy)
{
    if (!r)
        return;
    tw__result_clear(r);
    r->value = value;
    r->destroy = destroy;
}

void tw_result_set_failure(tw_result *r, tw_failure *f)
{
    if (!r) {
        tw_failure_unref(f);
        return;
    }
    tw__result_clear(r);
    r->failure = f ? f : tw_failure_nomem();
}

void tw_result_set_error(tw_result *r, int code, const char *context)
{
    tw_result_set_failure(r, tw_failure_from_errno(code, context));
}

void tw_result_set_deferred(tw_result *r, tw_deferred *inner)
{
    if (!r) {
        tw_deferred_unref(inner);
        return;
    }
    if (!inner) {
        tw_result_set_failure(r, NULL);
        return;
    }
    tw__result_clear(r);
    r->deferred = inner;
}

void *tw_result_take_value(tw_result *r, tw_destructor *destroy)
{
    if (!r || r->failure || r->deferred)
        return NULL;
    void *value = r->value;
    if (destroy)
        *destroy = r->destroy;
    r->value = NULL;
    r->destroy = NULL;
    return value;
}

tw_failure *tw_result_take_failure(tw_result *r)
{
    if (!r || !r->failure)
        return NULL;
    tw_failure *f = r->failure;
    r->failure = NULL;
    return f;
}

/* ---- creation and lifetime ------------------------------------------------------------------- */

tw_deferred *tw_deferred_new(tw_reactor *r, int *err)
{
    tw_deferred *d = malloc(sizeof *d);
    if (!d) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    memset(d, 0, offsetof(tw_deferred, inline_pairs));
    d->refs = 1;
    d->reactor = r;
    d->pairs = d->inline_pairs;
    d->cap = TW_DEFERRED_INLINE_CALLBACKS;
    return d;
}

tw_deferred *tw_deferred_new_with_canceller(tw_reactor *r, tw_canceller_fn canceller, void *arg,
                                            int *err)
{
    tw_deferred *d = tw_deferred_new(r, err);
    if (d)
        tw__deferred_set_canceller(d, canceller, arg, NULL);
    return d;
}

void tw__deferred_set_canceller(tw_deferred *d, tw_canceller_fn fn, void *arg,
                                tw_release_fn release)
{
    d->canceller = fn;
    d->canceller_arg = arg;
    d->canceller_release = release;
}

tw_reactor *tw_deferred_reactor(const tw_deferred *d)
{
    return d ? d->reactor : NULL;
}

tw_deferred *tw_deferred_ref(tw_deferred *d)
{
    if (d)
        d->refs++;
    return d;
}

static void drop_canceller(tw_deferred *d)
{
    tw_release_fn release = d->canceller_release;
    void *arg = d->canceller_arg;
    d->canceller = NULL;
    d->canceller_arg = NULL;
    d->canceller_release = NULL;
    if (release)
        release(arg);
}

static bool pair_is_continuation(const struct pair *p)
{
    return !p->fn[0] && !p->fn[1];
}

/* chainDeferred's pair (arg: the deferred to fire). Never called: the chain runner recognises it
 * and fires that deferred itself (chain_into), so that a line of chained deferreds runs in a loop
 * instead of one nested call per link. */
static int chained_pair(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    (void)result;
    (void)arg;
    return 0;
}

static bool pair_is_chain(const struct pair *p)
{
    return p->fn[0] == chained_pair;
}

static void report_unhandled(tw_deferred *d)
{
    char text[512];
    tw_failure_describe(d->result.failure, text, sizeof text);
    /* With a NULL reactor this goes to the process-wide default logger. */
    tw_reactor_log(d->reactor, TW_LOG_CRITICAL, "Unhandled error in Deferred: %s", text);
}

/* Frees d. Pairs that never ran are released; a continuation pair's outer deferred loses the
 * reference the pair held, and one such outer is handed back to the caller so a long line of
 * waiting deferreds is freed by a loop rather than by recursion. */
static tw_deferred *destroy_deferred(tw_deferred *d)
{
    tw_deferred *next_unref = NULL;
    if (d->result.failure)
        report_unhandled(d);
    tw__result_clear(&d->result);
    drop_canceller(d);
    for (unsigned i = d->head; i < d->tail; i++) {
        struct pair *p = &d->pairs[i];
        if (pair_is_continuation(p)) {
            tw_deferred *outer = p->arg[0];
            if (outer->chained_to == d)
                outer->chained_to = NULL;
            if (next_unref)
                tw_deferred_unref(next_unref);
            next_unref = outer;
        } else if (p->release) {
            p->release(p->arg[0]);
        }
    }
    if (d->pairs != d->inline_pairs)
        free(d->pairs);
    free(d);
    return next_unref;
}

void tw_deferred_unref(tw_deferred *d)
{
    while (d && --d->refs == 0)
        d = destroy_deferred(d);
}

/* ---- the pair queue -------------------------------------------------------------------------- */

static bool has_pending(const tw_deferred *d)
{
    return d->head < d->tail;
}

static struct pair pop_pair(tw_deferred *d)
{
    struct pair p = d->pairs[d->head++];
    if (d->head == d->tail)
        d->head = d->tail = 0;
    return p;
}

static int push_pair(tw_deferred *d, const struct pair *p)
{
    if (d->tail == d->cap) {
        unsigned live = d->tail - d->head;
        if (d->head > 0 && live < d->cap / 2 + 1) {
            memmove(d->pairs, d->pairs + d->head, live * sizeof *d->pairs);
        } else {
            if (d->cap > UINT32_MAX / 4)
                return -ENOMEM;
            struct pair *grown = malloc((size_t)d->cap * 2 * sizeof *grown);
            if (!grown)
                return -ENOMEM;
            memcpy(grown, d->pairs + d->head, live * sizeof *grown);
            if (d->pairs != d->inline_pairs)
                free(d->pairs);
            d->pairs = grown;
            d->cap *= 2;
        }
        d->head = 0;
        d->tail = live;
    }
    d->pairs[d->tail++] = *p;
    return 0;
}

/* ---- the chain runner ------------------------------------------------------------------------ */

/* Deferreds whose chains are being run, innermost on top; each entry holds a reference. */
struct chain_stack {
    tw_deferred **items;
    size_t n, cap;
    tw_deferred *inline_items[CHAIN_STACK_INLINE];
};

static int chain_push(struct chain_stack *s, tw_deferred *d)
{
    if (s->n == s->cap) {
        size_t cap = s->cap * 2;
        tw_deferred **grown = malloc(cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        memcpy(grown, s->items, s->n * sizeof *grown);
        if (s->items != s->inline_items)
            free(s->items);
        s->items = grown;
        s->cap = cap;
    }
    s->items[s->n++] = d;
    return 0;
}

static void run_callbacks(tw_deferred *d);

/* Twisted's CONTINUE: hand current's result to the outer deferred waiting for it. Returns the
 * outer deferred if it should be processed next on this stack (the pair's reference moves to the
 * stack), or NULL when it was dealt with some other way. */
static tw_deferred *continue_outer(struct chain_stack *s, tw_deferred *current, struct pair *p)
{
    tw_deferred *outer = p->arg[0];
    tw__result_move(&outer->result, &current->result);
    if (outer->chained_to == current)
        outer->chained_to = NULL;
    if (outer->paused > 0)
        outer->paused--;
    if (chain_push(s, outer) == 0)
        return outer;
    /* No memory for a deeper stack: fall back to one level of recursion. */
    run_callbacks(outer);
    tw_deferred_unref(outer);
    return NULL;
}

/* The callback returned a deferred: take its result now if it has one, else wait for it. Returns
 * true when current must stop running its callbacks (it now waits on inner). */
static bool chain_on(tw_deferred *current, tw_deferred *inner)
{
    if (inner == current) {
        tw_deferred_unref(inner);
        tw_result_set_failure(&current->result,
                              tw_failure_new(TW_VALUE_ERROR, -EINVAL,
                                             "callback returned the deferred it was attached to"));
        return false;
    }
    if (inner->called && !inner->paused) {
        tw__result_move(&current->result, &inner->result);
        tw_deferred_unref(inner);
        return false;
    }
    struct pair cont = {.arg = {tw_deferred_ref(current), NULL}};
    if (push_pair(inner, &cont) < 0) {
        tw_deferred_unref(current);
        tw_deferred_unref(inner);
        tw_result_set_failure(&current->result, NULL);
        return false;
    }
    current->paused++;
    current->chained_to = inner;
    tw_deferred_unref(inner);
    return true;
}

static void run_one_pair(tw_deferred *current, struct pair *p)
{
    int slot = current->result.failure ? 1 : 0;
    if (p->fn[slot]) {
        current->running = true;
        int rc = p->fn[slot](current, &current->result, p->arg[slot]);
        current->running = false;
        if (rc < 0)
            tw_result_set_error(&current->result, rc, NULL);
    }
    if (p->release)
        p->release(p->arg[0]);
}

/* Gives d its result (moved out of r): 1 when d's callbacks should run now, 0 when it was a
 * producer's late result after a cancel (destroyed, as Twisted does), or TW_EALREADYCALLED /
 * -EINVAL with r untouched. */
static int settle(tw_deferred *d, tw_result *r)
{
    if (!d)
        return -EINVAL;
    if (d->called) {
        if (!d->suppress_already_called)
            return TW_EALREADYCALLED;
        d->suppress_already_called = false;
        tw__result_clear(r);
        return 0;
    }
    d->called = true;
    tw__result_move(&d->result, r);
    drop_canceller(d);
    return 1;
}

/* chainDeferred: other takes current's result and current goes on with NULL (or with the failure
 * of firing an already fired other). Instead of running other's callbacks by a call, other is
 * pushed to run next on this stack (returned, holding the stack's reference) and current is marked
 * chaining: until other is done it counts as running its callbacks, as during a call, and then it
 * resumes. NULL when other has nothing to run now. */
static tw_deferred *chain_into(struct chain_stack *s, tw_deferred *current, struct pair *p)
{
    tw_deferred *other = tw_deferred_ref(p->arg[0]);
    int rc = settle(other, &current->result);
    if (rc < 0)
        tw_result_set_error(&current->result, rc, NULL);
    if (p->release)
        p->release(p->arg[0]);
    if (rc <= 0 || !has_pending(other) || other->paused || other->running || other->chaining) {
        tw_deferred_unref(other);
        return NULL;
    }
    current->chaining = true;
    if (chain_push(s, other) == 0)
        return other;
    run_callbacks(other); /* no memory for a deeper stack: one level of recursion */
    current->chaining = false;
    tw_deferred_unref(other);
    return NULL;
}

/* Twisted's _runCallbacks, iterative: runs current's pairs; a CONTINUE moves to the outer deferred
 * and a chainDeferred pair to the deferred it fires (each pushed on the stack), and once a deferred
 * has nothing more to run, the runner goes back to the one below it. A paused deferred on top
 * stops the rest of the stack, which waits for unpause, down to the nearest deferred that fired it
 * through chainDeferred: that one goes on, as it would when a call returned. */
static void run_callbacks(tw_deferred *d)
{
    if (d->running || d->chaining)
        return;
    struct chain_stack s = {.items = s.inline_items, .n = 0, .cap = CHAIN_STACK_INLINE};
    s.items[s.n++] = tw_deferred_ref(d);
    while (s.n > 0) {
        tw_deferred *current = s.items[s.n - 1];
        if (current->chaining) {
            current->chaining = false;
        } else if (current->paused || current->running) {
            while (s.n > 0 && !s.items[s.n - 1]->chaining)
                tw_deferred_unref(s.items[--s.n]);
            continue;
        }
        bool finished = true;
        current->chained_to = NULL;
        while (has_pending(current)) {
            struct pair p = pop_pair(current);
            if (pair_is_continuation(&p) || pair_is_chain(&p)) {
                bool go_up = pair_is_chain(&p) ? chain_into(&s, current, &p) != NULL
                                               : continue_outer(&s, current, &p) != NULL;
                if (go_up) {
                    finished = false;
                    break;
                }
                continue;
            }
            run_one_pair(current, &p);
            tw_deferred *inner = current->result.deferred;
            if (inner) {
                current->result.deferred = NULL;
                if (chain_on(current, inner))
                    break;
            }
        }
        if (finished) {
            s.n--;
            tw_deferred_unref(current);
        }
    }
    while (s.n > 0)
        tw_deferred_unref(s.items[--s.n]);
    if (s.items != s.inline_items)
        free(s.items);
}

/* ---- firing ---------------------------------------------------------------------------------- */

int tw__deferred_fire(tw_deferred *d, tw_result *r)
{
    int rc = settle(d, r);
    if (rc > 0)
        run_callbacks(d);
    return rc < 0 ? rc : 0;
}

int tw_deferred_callback(tw_deferred *d, void *value, tw_destructor destroy)
{
    tw_result r = {.value = value, .destroy = destroy};
    return tw__deferred_fire(d, &r);
}

int tw_deferred_errback(tw_deferred *d, tw_failure *f)
{
    tw_result r = {.failure = f ? f : tw_failure_nomem()};
    return tw__deferred_fire(d, &r);
}

int tw__deferred_fail_with(tw_deferred *d, const char *type, int code, const char *message)
{
    tw_failure *f = tw_failure_new(type, code, "%s", message);
    int rc = tw_deferred_errback(d, f);
    if (rc < 0)
        tw_failure_unref(f);
    return rc;
}

/* ---- adding callbacks ------------------------------------------------------------------------ */

static int add_pair(tw_deferred *d, const struct pair *p)
{
    if (!d || pair_is_continuation(p))
        return -EINVAL;
    int rc = push_pair(d, p);
    if (rc < 0)
        return rc;
    if (d->called)
        run_callbacks(d);
    return 0;
}

int tw__deferred_add_pair(tw_deferred *d, tw_callback_fn callback, tw_callback_fn errback,
                          void *arg, tw_release_fn release)
{
    struct pair p = {.fn = {callback, errback}, .arg = {arg, arg}, .release = release};
    return add_pair(d, &p);
}

int tw_deferred_add_callbacks(tw_deferred *d, tw_callback_fn callback, void *callback_arg,
                              tw_callback_fn errback, void *errback_arg)
{
    struct pair p = {.fn = {callback, errback}, .arg = {callback_arg, errback_arg}};
    return add_pair(d, &p);
}

int tw_deferred_add_callback(tw_deferred *d, tw_callback_fn callback, void *arg)
{
    return tw_deferred_add_callbacks(d, callback, arg, NULL, NULL);
}

int tw_deferred_add_errback(tw_deferred *d, tw_callback_fn errback, void *arg)
{
    return tw_deferred_add_callbacks(d, NULL, NULL, errback, arg);
}

int tw_deferred_add_both(tw_deferred *d, tw_callback_fn fn, void *arg)
{
    return tw_deferred_add_callbacks(d, fn, arg, fn, arg);
}

static void release_other(void *arg)
{
    tw_deferred_unref(arg);
}

int tw_deferred_chain_deferred(tw_deferred *d, tw_deferred *other)
{
    if (!d || !other || d == other)
        return -EINVAL;
    tw_deferred_ref(other);
    int rc = tw__deferred_add_pair(d, chained_pair, chained_pair, other, release_other);
    if (rc < 0)
        tw_deferred_unref(other);
    return rc;
}

/* ---- pause, cancel --------------------------------------------------------------------------- */

void tw_deferred_pause(tw_deferred *d)
{
    if (d)
        d->paused++;
}

void tw_deferred_unpause(tw_deferred *d)
{
    if (!d || d->paused == 0)
        return;
    if (--d->paused == 0 && d->called)
        run_callbacks(d);
}

void tw_deferred_cancel(tw_deferred *d)
{
    if (!d)
        return;
    while (d->called && d->chained_to)
        d = d->chained_to;
    if (d->called)
        return;
    tw_deferred_ref(d);
    tw_canceller_fn canceller = d->canceller;
    void *arg = d->canceller_arg;
    tw_release_fn release = d->canceller_release;
    /* Detach first: the canceller runs at most once, and firing d inside it must not release arg
     * while the canceller still uses it. */
    d->canceller = NULL;
    d->canceller_arg = NULL;
    d->canceller_release = NULL;
    if (canceller)
        canceller(d, arg);
    else
        d->suppress_already_called = true;
    if (release)
        release(arg);
    /* Firing a deferred that has not been called cannot be refused. */
    int rc = d->called ? 0 : tw__deferred_fail_with(d, TW_CANCELLED_ERROR, -ECANCELED,
                                                    "the deferred was cancelled");
    assert(rc == 0);
    (void)rc;
    tw_deferred_unref(d);
}

/* ---- inspection ------------------------------------------------------------------------------ */

bool tw_deferred_called(const tw_deferred *d)
{
    return d && d->called;
}

bool tw_deferred_paused(const tw_deferred *d)
{
    return d && d->paused > 0;
}

const tw_result *tw_deferred_result(const tw_deferred *d)
{
    if (!d || !d->called || d->chained_to || d->result.deferred)
        return NULL;
    return &d->result;
}

char *tw_deferred_describe(const tw_deferred *d, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!d) {
        snprintf(buf, size, "<Deferred NULL>");
        return buf;
    }
    if (d->called && d->chained_to) {
        snprintf(buf, size, "<Deferred at %p waiting on Deferred at %p>", (const void *)d,
                 (const void *)d->chained_to);
    } else if (d->called && d->result.failure) {
        char text[256];
        tw_failure_describe(d->result.failure, text, sizeof text);
        snprintf(buf, size, "<Deferred at %p current result: failure %s>", (const void *)d, text);
    } else if (d->called) {
        snprintf(buf, size, "<Deferred at %p current result: %p>", (const void *)d,
                 d->result.value);
    } else {
        snprintf(buf, size, "<Deferred at %p>", (const void *)d);
    }
    return buf;
}

/* ---- ready-made deferreds -------------------------------------------------------------------- */

static tw_deferred *new_fired(tw_reactor *r, tw_result *res, int *err)
{
    tw_deferred *d = tw_deferred_new(r, err);
    if (!d)
        return NULL;
    d->called = true;
    tw__result_move(&d->result, res);
    return d;
}

tw_deferred *tw_succeed(tw_reactor *r, void *value, tw_destructor destroy, int *err)
{
    tw_result res = {.value = value, .destroy = destroy};
    return new_fired(r, &res, err);
}

tw_deferred *tw_fail(tw_reactor *r, tw_failure *f, int *err)
{
    tw_result res = {.failure = f ? f : tw_failure_nomem()};
    return new_fired(r, &res, err);
}

tw_deferred *tw_maybe_deferred(tw_reactor *r, tw_work_fn fn, void *arg, int *err)
{
    if (!fn) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    tw_result res = {0};
    int rc = fn(&res, arg);
    if (rc < 0)
        tw_result_set_error(&res, rc, NULL);
    if (res.deferred)
        return res.deferred;
    tw_deferred *d = new_fired(r, &res, err);
    if (!d)
        tw__result_clear(&res);
    return d;
}
