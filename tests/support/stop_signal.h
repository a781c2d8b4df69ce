/* Stopping a child process with a signal (SIGTERM, SIGINT) in a test.
 *
 * Under ThreadSanitizer, the child's sanitizer runtime defers a signal that arrives outside a
 * blocking call, and some never reach the handler: with gcc 12's and clang 14's runtimes about one
 * SIGTERM in ten sent to a busy process is lost, in a thirty-line program with a self-pipe handler
 * and no twine code at all (none in 200 runs of the same program without the sanitizer). There the
 * signal is sent again every TW_TEST_STOP_RESEND_SECONDS while the child runs with a handler for it;
 * in every other build it is sent exactly once, so the exit timing those runs measure is twine's. */
#ifndef TWINE_TESTS_STOP_SIGNAL_H
#define TWINE_TESTS_STOP_SIGNAL_H

#include <sys/types.h>

#define TW_TEST_STOP_RESEND_SECONDS 0.5
#define TW_TEST_STOP_RESENDS_MAX 20

/* Sends sig to pid (a child not yet reaped); 0 or -1 with errno, as kill(2). */
int tw_test_stop_signal(pid_t pid, int sig);

#endif
