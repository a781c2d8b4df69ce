/* Records what a deferred ended with; see outcome.h. */
#include "outcome.h"

#include <stdio.h>

int tw_test_outcome_note(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_test_outcome *o = arg;
    o->fired++;
    o->failed = tw_result_is_failure(res);
    if (o->failed) {
        tw_failure *f = tw_result_failure(res);
        snprintf(o->type, sizeof o->type, "%s", tw_failure_type(f));
        o->code = tw_failure_code(f);
        tw_result_set_value(res, NULL, NULL);
    } else {
        o->value = tw_result_value(res);
    }
    return 0;
}

bool tw_test_outcome_watch(tw_deferred *d, tw_test_outcome *o)
{
    bool added = d && tw_deferred_add_both(d, tw_test_outcome_note, o) == 0;
    tw_deferred_unref(d);
    return added;
}
