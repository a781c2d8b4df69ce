/* A tiny twine program: a timer that re-arms itself a few times, a timer cancelled before it runs,
 * and a shutdown trigger. Prints a few timed lines, then stops. Ctrl-C stops it early, cleanly. */
#include <stdio.h>

#include <twine/twine.h>

#define TICKS 5
#define TICK_SECONDS 0.2

typedef struct {
    tw_reactor *r;
    double start;
    int ticks;
} clock_demo;

static double elapsed(const clock_demo *d)
{
    return tw_reactor_seconds(d->r) - d->start;
}

static int tick(void *arg)
{
    clock_demo *d = arg;
    printf("%.1fs: tick %d\n", elapsed(d), ++d->ticks);
    if (d->ticks == TICKS)
        return tw_reactor_stop(d->r);
    /* Each tick schedules the next: tw_call_later runs a function once. */
    return tw_call_later(d->r, TICK_SECONDS, tick, d, NULL) ? 0 : TW_ECALLBACK;
}

static int never(void *arg)
{
    (void)arg;
    printf("this line is never printed: its timer was cancelled\n");
    return 0;
}

static int goodbye(void *arg)
{
    clock_demo *d = arg;
    printf("%.1fs: shutting down after %d ticks\n", elapsed(d), d->ticks);
    return 0;
}

int main(void)
{
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r) {
        fprintf(stderr, "timers: %s\n", tw_strerror(err));
        return 1;
    }
    clock_demo d = { r, tw_reactor_seconds(r), 0 };
    tw_reactor_install_signal_handlers(r);
    tw_reactor_add_trigger(r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN, goodbye, &d);
    tw_call_later(r, TICK_SECONDS, tick, &d, NULL);

    tw_delayed_call *dc = tw_call_later(r, 0.5, never, NULL, NULL);
    tw_delayed_call_cancel(dc); /* the handle is gone after this: we held no reference */

    printf("%s backend, %d ticks every %.1fs\n", tw_reactor_backend(), TICKS, TICK_SECONDS);
    err = tw_reactor_run(r);
    int sig = tw_reactor_exit_signal(r);
    tw_reactor_free(r);
    if (sig)
        printf("stopped by signal %d\n", sig);
    return err < 0 ? 1 : 0;
}
