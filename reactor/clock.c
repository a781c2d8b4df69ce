/* tw_clock (testing.h): a reactor on a clock that only the test moves, and Twisted's Clock.advance
 * on it: move the clock, then run turns for as long as a timer is due, so that what the due calls
 * schedule for the same instant runs too. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <twine/testing_clock.h>

#include "reactor/internal.h"

struct tw_clock {
    tw_reactor *r;
    int64_t ns;
};

static int64_t clock_read(void *ctx)
{
    return ((const tw_clock *)ctx)->ns;
}

tw_clock *tw_clock_new(int *err)
{
    tw_clock *c = calloc(1, sizeof *c);
    if (!c) {
        if (err)
            *err = -ENOMEM;
        return NULL;
    }
    c->r = tw_reactor_new(err);
    if (!c->r) {
        free(c);
        return NULL;
    }
    tw_reactor_set_clock(c->r, clock_read, c);
    return c;
}

void tw_clock_free(tw_clock *c)
{
    if (!c)
        return;
    tw_reactor_free(c->r);
    free(c);
}

tw_reactor *tw_clock_reactor(const tw_clock *c) { return c ? c->r : NULL; }

double tw_clock_seconds(const tw_clock *c) { return c ? (double)c->ns / 1e9 : 0; }

int tw_clock_advance(tw_clock *c, double seconds)
{
    if (!c || isnan(seconds) || seconds < 0)
        return -EINVAL;
    int64_t step = seconds > 1e9 ? (int64_t)1e18 : llround(seconds * 1e9);
    int64_t ns;
    c->ns = __builtin_add_overflow(c->ns, step, &ns) ? INT64_MAX : ns;
    if (c->r->in_turn)
        return 0;
    int ran = 0;
    do {
        int n = tw_reactor_iterate(c->r, 0);
        if (n < 0)
            return n;
        ran += n;
    } while (tw__timers_next_wait(c->r) == 0);
    return ran;
}

int tw_clock_pump(tw_clock *c, const double *amounts, size_t n)
{
    if (!c || (n && !amounts))
        return -EINVAL;
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = tw_clock_advance(c, amounts[i]);
        if (rc < 0)
            return rc;
        ran += rc;
    }
    return ran;
}
