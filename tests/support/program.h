/* A program run as a child process by a test: its stdout and stderr are read through the test's
 * reactor (so the test can serve it meanwhile, a DNS server say), kept as text, and searched; it
 * is stopped by a signal or left to finish, and reaped. */
#ifndef TWINE_TESTS_PROGRAM_H
#define TWINE_TESTS_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <twine/twine.h>

#define TW_TEST_PROGRAM_OUTPUT_MAX 16384

typedef struct {
    tw_reactor *r;
    pid_t pid;          /* 0 once reaped */
    int fds[2];         /* read ends of its stdout and stderr; -1 at EOF */
    char text[2][TW_TEST_PROGRAM_OUTPUT_MAX]; /* what arrived on each, NUL-terminated */
    size_t len[2];
    int status;         /* once reaped: the exit status, or -N when killed by signal N */
} tw_test_program;

enum { TW_TEST_STDOUT, TW_TEST_STDERR };

/* Starts argv[0] (a path) with argv (NULL-terminated), stdin from /dev/null; fails the running test
 * when it cannot. c must stay at one address until reaped. */
void tw_test_program_start(tw_test_program *c, tw_reactor *r, const char *const *argv);
/* Runs r until the child's stdout or stderr (which: TW_TEST_STDOUT / _STDERR) holds needle; false
 * after timeout seconds. */
bool tw_test_program_wait_for(tw_test_program *c, int which, const char *needle, double timeout);
/* Sends sig (0: none), runs r until the child has closed both pipes and reaps it; returns its
 * status. A child still running after timeout seconds is killed and the running test fails. */
int tw_test_program_finish(tw_test_program *c, int sig, double timeout);
/* Kills and reaps a child that is still running (for a teardown after a failed test). */
void tw_test_program_kill(tw_test_program *c);

/* $TWINE_BUILD/examples/name (build/BACKEND/examples/name without TWINE_BUILD), in a static
 * buffer. */
const char *tw_test_example_path(const char *name);

#endif
