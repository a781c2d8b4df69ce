/* What a deferred ended with, recorded by a callback pair so that a test can assert on it after the
 * fact: how often it fired, its value, or its failure's type and code (the failure is consumed, so
 * a recorded failure is never reported as unhandled). */
#ifndef TWINE_TESTS_OUTCOME_H
#define TWINE_TESTS_OUTCOME_H

#include <stdbool.h>

#include <twine/deferred.h>

typedef struct {
    int fired;
    bool failed;
    char type[64];
    int code;
    void *value;
} tw_test_outcome;

/* The pair's function, for tw_deferred_add_both(d, tw_test_outcome_note, &outcome). */
int tw_test_outcome_note(tw_deferred *d, tw_result *res, void *arg);

/* Adds the recording pair to d, then drops the caller's reference to d (d may be NULL: a test that
 * expected a deferred fails). Returns whether the pair was added. */
bool tw_test_outcome_watch(tw_deferred *d, tw_test_outcome *o);

#endif
