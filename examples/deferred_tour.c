/* A tour of deferreds (Twisted's Deferred: a result to come, and a chain of callbacks that run once
 * it is there) in five stops. tw_react runs the program as Twisted's task.react does: main returns
 * a deferred, and the program ends when it fires. To stay short, the tour does not check errors. */
#include <stdint.h>
#include <stdio.h>
#include <twine/twine.h>

/* Small numbers travel inside the value pointer itself, so they need no destructor. */
static void *num(intptr_t n) { return (void *)n; }
static intptr_t num_of(const tw_result *res) { return (intptr_t)tw_result_value(res); }

/* A callback sees the current result and may replace it: the next callback sees the new one. */
static int add_one(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d, (void)arg;
    tw_result_set_value(res, num(num_of(res) + 1), NULL);
    return 0;
}

static int show(tw_deferred *d, tw_result *res, void *label)
{
    (void)d;
    printf("%s %ld\n", (const char *)label, (long)num_of(res));
    return 0;
}

/* An errback that handles the failure: replacing it by a value puts the chain back on callbacks. */
static int recover(tw_deferred *d, tw_result *res, void *label)
{
    (void)d;
    printf("%s %s\n", (const char *)label, tw_failure_type(tw_result_failure(res)));
    tw_result_set_value(res, num(0), NULL);
    return 0;
}

static int value_of_arg(tw_result *out, void *arg) /* work for tw_defer_later: the value is arg */
{
    tw_result_set_value(out, arg, NULL);
    return 0;
}

/* A callback may return another deferred: the chain pauses until that one has fired. */
static int double_later(tw_deferred *d, tw_result *res, void *arg)
{
    (void)arg;
    tw_result_set_deferred(res, tw_defer_later(tw_deferred_reactor(d), 0.01, value_of_arg,
                                               num(num_of(res) * 2), NULL));
    return 0;
}

static int show_list(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d, (void)arg;
    const tw_list_result *list = tw_result_value(res);
    printf("4. the list fired once all %zu had, values in input order:", list->count);
    for (size_t i = 0; i < list->count; i++)
        printf(" %s%s", (const char *)list->entries[i].value, i + 1 < list->count ? "" : "\n");
    return 0;
}

static tw_deferred *tour(tw_reactor *r, void *arg, int argc, char **argv)
{
    (void)arg, (void)argc, (void)argv;
    tw_deferred *d = tw_deferred_new(r, NULL); /* 1. fired by hand: callbacks run at once */
    tw_deferred_add_callback(d, add_one, NULL);
    tw_deferred_add_callback(d, show, "1. 41 went through add_one:");
    tw_deferred_callback(d, num(41), NULL);
    tw_deferred_unref(d); /* each deferred made here hands us a reference (deferred.h) */

    d = tw_fail(r, tw_failure_new(TW_VALUE_ERROR, 0, "bad input"), NULL); /* 2. failed already */
    /* A pair: exactly one of the two runs. The result is a failure, so add_one is skipped. */
    tw_deferred_add_callbacks(d, add_one, NULL, recover, "2. the errback caught");
    tw_deferred_add_callback(d, show, "2. it recovered: the next callback sees");
    tw_deferred_unref(d);

    d = tw_succeed(r, num(21), NULL, NULL); /* 3. chaining */
    tw_deferred_add_callback(d, double_later, NULL);
    tw_deferred_add_callback(d, show, "3. the chain waited 0.01 s for a deferred that gave");
    tw_deferred_unref(d); /* its timer keeps it alive: dropping ours cancels nothing */

    tw_deferred *three[3] = {tw_defer_later(r, 0.04, value_of_arg, "a", NULL), /* 4. a list */
                             tw_defer_later(r, 0.02, value_of_arg, "b", NULL),
                             tw_defer_later(r, 0.03, value_of_arg, "c", NULL)};
    d = tw_deferred_list_new(r, three, 3, 0, NULL); /* they fire in another order than given */
    tw_deferred_add_callback(d, show_list, NULL);
    for (int i = 0; i < 3; i++)
        tw_deferred_unref(three[i]); /* the list holds references of its own */
    tw_deferred_unref(d);

    d = tw_deferred_new(r, NULL); /* 5. a timeout: never fired, so cancelled after 0.1 s */
    tw_deferred_add_timeout(d, r, 0.1);
    tw_deferred_add_errback(d, recover, "5. nobody fired it; after 0.1 s it failed with");
    return d; /* the program ends when it fires: the last stop, after all the others */
}

int main(int argc, char **argv)
{
    return tw_react(tour, NULL, argc, argv);
}
