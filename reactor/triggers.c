/* System event triggers (Twisted's addSystemEventTrigger): callbacks run before, during and after
 * the "startup" and "shutdown" events, each phase in the order they were added. A trigger runs once
 * and is then forgotten; one removed before its turn never runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reactor/internal.h"

long tw_reactor_add_trigger(tw_reactor *r, tw_phase phase, tw_system_event event, tw_fn fn,
                            void *arg)
{
    if (!r || !fn || (unsigned)phase > TW_PHASE_AFTER || (unsigned)event > TW_EVENT_SHUTDOWN)
        return -EINVAL;
    tw_triggers *t = &r->triggers;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        tw_trigger *items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        t->items = items;
        t->cap = cap;
    }
    long id = ++t->next_id;
    t->items[t->count++] = (tw_trigger){id, phase, event, fn, arg};
    return id;
}

static void remove_at(tw_triggers *t, size_t i)
{
    memmove(&t->items[i], &t->items[i + 1], (t->count - i - 1) * sizeof t->items[0]);
    t->count--;
}

int tw_reactor_remove_trigger(tw_reactor *r, long id)
{
    if (!r)
        return -EINVAL;
    tw_triggers *t = &r->triggers;
    for (size_t i = 0; i < t->count; i++) {
        if (t->items[i].id == id) {
            remove_at(t, i);
            return 0;
        }
    }
    return -ENOENT;
}

/* Finds the first trigger of (event, phase); triggers added while a phase runs join its end. */
static long next_trigger(tw_triggers *t, tw_system_event event, tw_phase phase, tw_trigger *out)
{
    for (size_t i = 0; i < t->count; i++) {
        if (t->items[i].event == event && t->items[i].phase == phase) {
            *out = t->items[i];
            remove_at(t, i);
            return out->id;
        }
    }
    return 0;
}

void tw__triggers_fire(tw_reactor *r, tw_system_event event, tw_phase phase)
{
    tw_trigger trig;
    while (next_trigger(&r->triggers, event, phase, &trig)) {
        int err = trig.fn(trig.arg);
        if (err < 0)
            tw__report_callback_error(r, "system event trigger", err);
    }
}

void tw__triggers_free(tw_triggers *t)
{
    free(t->items);
    *t = (tw_triggers){0};
}

void tw_reactor_hold_shutdown(tw_reactor *r)
{
    if (r)
        r->shutdown_holds++;
}

void tw_reactor_release_shutdown(tw_reactor *r)
{
    if (r && r->shutdown_holds > 0)
        r->shutdown_holds--;
}
