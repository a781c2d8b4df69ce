/* Twisted's DeferredList and gatherResults: one deferred that fires once its inputs have (or on the
 * first success / failure, by flag), with every input's outcome in input order.
 *
 * Lifetime: a shared state, counted by the list's canceller (dropped when the list fires or is
 * freed) and by each input's pending pair. The state holds the list deferred until the list fires
 * or no input can fire any more, so an unfired list never outlives its inputs' producers. */
#include "deferred_private.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dl_state;

/* The argument of one input's pair; d is valid while that pair is pending. */
struct dl_input {
    struct dl_state *owner;
    size_t index;
    tw_deferred *d;
};

struct dl_state {
    unsigned refs;
    unsigned flags;
    size_t attached;          /* pairs still pending on inputs, plus one while constructing */
    size_t finished;          /* inputs whose outcome reached the list */
    tw_deferred *list;        /* held until it fires or can no longer fire */
    tw_list_result *results;  /* owned here until the list fires with it */
    size_t n;
    struct dl_input inputs[];
};

static void free_list_result(void *value)
{
    tw_list_result *res = value;
    if (!res)
        return;
    for (size_t i = 0; i < res->count; i++) {
        tw_list_entry *e = &res->entries[i];
        if (e->destroy)
            e->destroy(e->value);
        tw_failure_unref(e->failure);
    }
    free(res);
}

static void free_first_result(void *value)
{
    tw_first_result *first = value;
    if (first && first->destroy)
        first->destroy(first->value);
    free(first);
}

static void dl_unref(void *arg)
{
    struct dl_state *s = arg;
    if (--s->refs > 0)
        return;
    free_list_result(s->results);
    free(s);
}

/* The list deferred leaves the state's hands before it fires, so whatever its callbacks do to the
 * state (cancel it, drop it) finds it consistent. */
static void dl_fire(struct dl_state *s, tw_result *res)
{
    tw_deferred *list = s->list;
    s->list = NULL;
    if (tw__deferred_fire(list, res) < 0)
        tw__result_clear(res);
    tw_deferred_unref(list);
}

/* Fires the list with every entry; the results now belong to the list's result. */
static void dl_fire_all(struct dl_state *s)
{
    tw_result res = {.value = s->results, .destroy = free_list_result};
    s->results = NULL;
    dl_fire(s, &res);
}

static void dl_detach_one(struct dl_state *s)
{
    if (--s->attached == 0 && s->list) {
        tw_deferred *list = s->list;
        s->list = NULL;
        tw_deferred_unref(list);
    }
}

static void dl_fire_first_success(struct dl_state *s, size_t index, tw_result *in)
{
    tw_first_result *first = malloc(sizeof *first);
    tw_result res = {0};
    if (!first) {
        tw_result_set_failure(&res, NULL);
    } else {
        first->index = index;
        first->value = tw_result_take_value(in, &first->destroy);
        tw_result_set_value(&res, first, free_first_result);
    }
    dl_fire(s, &res);
}

static void dl_fire_first_error(struct dl_state *s, size_t index, tw_failure *sub)
{
    char text[256];
    tw_failure *f = tw_failure_new(TW_FIRST_ERROR, tw_failure_code(sub), "FirstError[#%zu, %s]",
                                   index, tw_failure_describe(sub, text, sizeof text));
    if (f) {
        tw_failure_set_cause(f, tw_failure_ref(sub));
        tw_failure_set_index(f, (long)index);
    }
    tw_result res = {0};
    tw_result_set_failure(&res, f);
    dl_fire(s, &res);
}

/* Records one input's outcome and fires the list when the flags or the count say so. Once the list
 * has fired (by the flags, or failed through cancel() while an input could not deliver) the outcome
 * stays on its input, as Twisted's _cbDeferred leaves it. */
static void dl_record(struct dl_state *s, size_t index, tw_result *in)
{
    s->finished++;
    if (!s->list || tw_deferred_called(s->list))
        return;
    tw_list_entry *e = &s->results->entries[index];
    if (!in->failure) {
        if (s->flags & TW_DL_FIRE_ON_ONE_CALLBACK) {
            dl_fire_first_success(s, index, in);
            return;
        }
        e->ok = true;
        e->value = tw_result_take_value(in, &e->destroy);
    } else {
        e->failure = tw_failure_ref(in->failure);
        if (s->flags & TW_DL_FIRE_ON_ONE_ERRBACK) {
            dl_fire_first_error(s, index, in->failure);
            return;
        }
    }
    if (s->finished == s->n)
        dl_fire_all(s);
}

/* Twisted's _cbDeferred, in both slots of each input's pair. */
static int dl_input_done(tw_deferred *d, tw_result *in, void *arg)
{
    (void)d;
    struct dl_input *input = arg;
    struct dl_state *s = input->owner;
    input->d = NULL;
    dl_record(s, input->index, in);
    if (in->failure && (s->flags & TW_DL_CONSUME_ERRORS))
        tw_result_set_value(in, NULL, NULL);
    return 0;
}

static void dl_input_release(void *arg)
{
    struct dl_input *input = arg;
    struct dl_state *s = input->owner;
    input->d = NULL;
    dl_detach_one(s);
    dl_unref(s);
}

/* Cancelling an unfired list cancels every input whose outcome has not reached it yet. */
static void dl_cancel(tw_deferred *list, void *arg)
{
    (void)list;
    struct dl_state *s = arg;
    s->refs++;
    for (size_t i = 0; i < s->n; i++) {
        if (s->inputs[i].d)
            tw_deferred_cancel(s->inputs[i].d);
    }
    dl_unref(s);
}

static struct dl_state *dl_state_new(size_t n)
{
    struct dl_state *s = calloc(1, sizeof *s + n * sizeof s->inputs[0]);
    if (!s)
        return NULL;
    s->results = calloc(1, sizeof *s->results + n * sizeof s->results->entries[0]);
    if (!s->results) {
        free(s);
        return NULL;
    }
    s->results->count = n;
    s->n = n;
    return s;
}

/* An input we could not attach to (no memory) counts as failed with MemoryError. */
static void dl_attach(struct dl_state *s, size_t i, tw_deferred *d)
{
    struct dl_input *input = &s->inputs[i];
    input->owner = s;
    input->index = i;
    input->d = d;
    s->refs++;
    s->attached++;
    if (tw__deferred_add_pair(d, dl_input_done, dl_input_done, input, dl_input_release) == 0)
        return;
    input->d = NULL;
    s->refs--;
    s->attached--;
    tw_result nomem = {.failure = tw_failure_nomem()};
    dl_record(s, i, &nomem);
}

tw_deferred *tw_deferred_list_new(tw_reactor *r, tw_deferred *const *ds, size_t n, unsigned flags,
                                  int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if ((n > 0 && !ds) || n > TW_DEFERRED_LIST_MAX) {
        *err = -EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ds[i]) {
            *err = -EINVAL;
            return NULL;
        }
    }
    struct dl_state *s = dl_state_new(n);
    tw_deferred *list = s ? tw_deferred_new(r, err) : NULL;
    if (!list) {
        if (s) {
            free(s->results);
            free(s);
        }
        *err = -ENOMEM;
        return NULL;
    }
    s->flags = flags;
    s->refs = 1; /* the list's canceller */
    tw__deferred_set_canceller(list, dl_cancel, s, dl_unref);
    s->list = tw_deferred_ref(list);
    /* Construction guards: firing at once must neither free the state nor detach the list. */
    s->attached = 1;
    s->refs++;
    if (n == 0 && !(flags & TW_DL_FIRE_ON_ONE_CALLBACK))
        dl_fire_all(s);
    for (size_t i = 0; i < n; i++)
        dl_attach(s, i, ds[i]);
    dl_detach_one(s);
    dl_unref(s);
    return list;
}

tw_deferred *tw_gather_results(tw_reactor *r, tw_deferred *const *ds, size_t n, bool consume_errors,
                               int *err)
{
    unsigned flags = TW_DL_FIRE_ON_ONE_ERRBACK | (consume_errors ? TW_DL_CONSUME_ERRORS : 0u);
    return tw_deferred_list_new(r, ds, n, flags, err);
}
