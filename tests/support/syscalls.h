/* Syscalls seen through the linker (see syscalls.c): counters of accept4() and send() calls, a
 * hook run right after listen(), and failures of epoll_ctl(), realloc() and sendfile() (Linux). */
#ifndef TWINE_TESTS_SYSCALLS_H
#define TWINE_TESTS_SYSCALLS_H

#include <stddef.h>

/* How many accept4() calls were made, and how many found the queue empty (EAGAIN). Take a snapshot
 * before and after, and compare. */
typedef struct {
    long calls;
    long empty;
} tw_test_accept_counts;

tw_test_accept_counts tw_test_accept_counts_now(void);

/* How many epoll_ctl() calls of each kind were made (Linux; zeros elsewhere). */
typedef struct {
    long adds, mods, dels;
} tw_test_epoll_counts;

tw_test_epoll_counts tw_test_epoll_counts_now(void);

/* The next epoll_ctl() that adds or modifies fd fails with err (a positive errno), as the kernel's
 * ENOSPC at max_user_watches or ENOMEM would; fd -1 disarms. */
void tw_test_refuse_epoll_ctl(int fd, int err);
/* The next realloc() asking for exactly size bytes fails with ENOMEM; 0 disarms. */
void tw_test_refuse_realloc(size_t size);
/* Every sendfile() fails with err (a positive errno), as a file system or kernel without it would;
 * 0 disarms (Linux; elsewhere twine makes no sendfile call). */
void tw_test_refuse_sendfile(int err);
/* sendfile() calls so far (Linux; 0 elsewhere). */
long tw_test_sendfile_calls_now(void);

/* send() and sendmsg() calls so far, by anyone in the test binary. */
long tw_test_send_calls_now(void);

/* getaddrinfo() and getnameinfo() calls so far: the transport layer must make none (only a
 * resolver may; a static build would otherwise warn about glibc's NSS). */
typedef struct {
    long getaddrinfo, getnameinfo;
} tw_test_resolver_counts;

tw_test_resolver_counts tw_test_resolver_counts_now(void);

/* The backlog the last listen() call asked for (-1 before any). */
int tw_test_last_listen_backlog(void);
/* Runs hook(fd, arg) right after every successful listen() of the test binary (twine's included)
 * until it is set to NULL: a test can act in the moment a socket starts listening. */
void tw_test_set_listen_hook(void (*hook)(int fd, void *arg), void *arg);

#endif
