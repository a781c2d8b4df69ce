/* Counts the accept4() calls of a test binary, twine's included: test binaries are linked with
 * -Wl,--wrap=accept4, so every call comes here first. Lets tests assert how many syscalls a
 * behaviour costs (a lone connection must cost exactly one accept4, none failing). */
#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "syscalls.h"

int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

static atomic_long accept_calls, accept_empty;

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int c = __real_accept4(fd, addr, len, flags);
    atomic_fetch_add(&accept_calls, 1);
    if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        atomic_fetch_add(&accept_empty, 1);
    return c;
}

tw_test_accept_counts tw_test_accept_counts_now(void)
{
    return (tw_test_accept_counts){atomic_load(&accept_calls), atomic_load(&accept_empty)};
}
