/* Shared helper for tests that must run something in a process of its own (a network namespace, a
 * mount namespace, a changed umask): fork, run, and hand a plain struct back to the parent. */
#ifndef TWINE_TESTS_CHILD_H
#define TWINE_TESTS_CHILD_H

#include <stddef.h>

/* Runs fn(arg, out) in a forked child and copies the size bytes it left in out back into the
 * parent's out. Fails the running test when the child dies or does not report. */
void tw_test_run_in_child(void (*fn)(const void *arg, void *out), const void *arg, void *out,
                          size_t size);

#endif
