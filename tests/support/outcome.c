/* Records what a deferred ended with; see outcome.h. */
#include "outcome.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

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
        snprintf(o->message, sizeof o->message, "%s", tw_failure_message(f));
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

void tw_test_outcome_expect(tw_deferred *d, tw_test_outcome *o)
{
    memset(o, 0, sizeof *o);
    assert_true(tw_test_outcome_watch(d, o));
}

bool tw_test_outcome_ok(const tw_test_outcome *o)
{
    return o->fired > 0 && !o->failed;
}

bool tw_test_outcome_fired(void *o)
{
    return ((tw_test_outcome *)o)->fired > 0;
}
