/* What a deferred ended with, recorded by a callback pair so that a test can assert on it after the
 * fact: how often it fired, its value, or its failure's type, code and message (the failure is
 * consumed, so a recorded failure is never reported as unhandled). */
#ifndef TWINE_TESTS_OUTCOME_H
#define TWINE_TESTS_OUTCOME_H

#include <stdbool.h>

#include <twine/deferred.h>

typedef struct {
    int fired;
    bool failed;
    char type[64];
    int code;
    char message[256];
    void *value;
} tw_test_outcome;

/* The pair's function, for tw_deferred_add_both(d, tw_test_outcome_note, &outcome). */
int tw_test_outcome_note(tw_deferred *d, tw_result *res, void *arg);

/* Adds the recording pair to d, then drops the caller's reference to d (d may be NULL: a test that
 * expected a deferred fails). Returns whether the pair was added. */
bool tw_test_outcome_watch(tw_deferred *d, tw_test_outcome *o);

/* Zeroes o, then tw_test_outcome_watch (d's reference is dropped); fails the running test when the
 * pair cannot be added. */
void tw_test_outcome_expect(tw_deferred *d, tw_test_outcome *o);
/* It fired, with a value. */
bool tw_test_outcome_ok(const tw_test_outcome *o);
/* A condition for tw_test_run_until: has the deferred fired? */
bool tw_test_outcome_fired(void *o);

#endif
