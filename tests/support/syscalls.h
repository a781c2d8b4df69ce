/* Syscall counters for tests (see syscalls.c): how many accept4() calls were made, and how many of
 * them found the queue empty (EAGAIN). Take a snapshot before and after, and compare. */
#ifndef TWINE_TESTS_SYSCALLS_H
#define TWINE_TESTS_SYSCALLS_H

typedef struct {
    long calls;
    long empty;
} tw_test_accept_counts;

tw_test_accept_counts tw_test_accept_counts_now(void);

#endif
