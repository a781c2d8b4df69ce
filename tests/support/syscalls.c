/* Syscalls seen through the linker: test binaries are linked with -Wl,--wrap for accept4, listen,
 * send, sendmsg, getaddrinfo and getnameinfo (and, on Linux, epoll_ctl, realloc and sendfile), so
 * every call made by a test or by twine comes here first. Counts accept4() and epoll_ctl() calls,
 * so tests can assert what a behaviour costs (a lone connection must cost exactly one accept4,
 * none failing; closing it no epoll_ctl), the send() and sendmsg() calls (a pipelined burst's
 * responses must leave in one), and the resolver calls (the transports must make none); runs a
 * hook right after listen(), so a test can act at the moment a socket starts listening; and makes
 * one chosen epoll_ctl or realloc fail, or every sendfile, so tests can reach the paths of a
 * kernel or an allocator that says no. */
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stddef.h>
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

int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog);

static void (*listen_hook)(int fd, void *arg);
static void *listen_hook_arg;
static atomic_int last_listen_backlog = -1;

int __wrap_listen(int fd, int backlog)
{
    atomic_store(&last_listen_backlog, backlog);
    int rc = __real_listen(fd, backlog);
    if (rc == 0 && listen_hook) {
        int saved = errno;
        listen_hook(fd, listen_hook_arg);
        errno = saved;
    }
    return rc;
}

int tw_test_last_listen_backlog(void)
{
    return atomic_load(&last_listen_backlog);
}

void tw_test_set_listen_hook(void (*hook)(int fd, void *arg), void *arg)
{
    listen_hook = hook;
    listen_hook_arg = arg;
}

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);

static atomic_long send_calls;

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    atomic_fetch_add(&send_calls, 1);
    return __real_send(fd, buf, len, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    atomic_fetch_add(&send_calls, 1);
    return __real_sendmsg(fd, msg, flags);
}

long tw_test_send_calls_now(void)
{
    return atomic_load(&send_calls);
}

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __real_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                       char *serv, socklen_t servlen, int flags);
int __wrap_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                       char *serv, socklen_t servlen, int flags);

static atomic_long getaddrinfo_calls, getnameinfo_calls;

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    atomic_fetch_add(&getaddrinfo_calls, 1);
    return __real_getaddrinfo(node, service, hints, res);
}

int __wrap_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                       char *serv, socklen_t servlen, int flags)
{
    atomic_fetch_add(&getnameinfo_calls, 1);
    return __real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

tw_test_resolver_counts tw_test_resolver_counts_now(void)
{
    return (tw_test_resolver_counts){atomic_load(&getaddrinfo_calls),
                                     atomic_load(&getnameinfo_calls)};
}

tw_test_accept_counts tw_test_accept_counts_now(void)
{
    return (tw_test_accept_counts){atomic_load(&accept_calls), atomic_load(&accept_empty)};
}

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/sendfile.h>

ssize_t __real_sendfile(int out, int in, off_t *off, size_t len);
ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len);

static atomic_int sendfile_refusal;
static atomic_long sendfile_calls;

void tw_test_refuse_sendfile(int err)
{
    atomic_store(&sendfile_refusal, err);
}

long tw_test_sendfile_calls_now(void)
{
    return atomic_load(&sendfile_calls);
}

ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t len)
{
    atomic_fetch_add(&sendfile_calls, 1);
    int err = atomic_load(&sendfile_refusal);
    if (err) {
        errno = err;
        return -1;
    }
    return __real_sendfile(out, in, off, len);
}

int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
void *__real_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size);

static atomic_int refused_fd = -1, refused_errno;
static atomic_size_t refused_size;
static atomic_long epoll_adds, epoll_mods, epoll_dels;

tw_test_epoll_counts tw_test_epoll_counts_now(void)
{
    return (tw_test_epoll_counts){atomic_load(&epoll_adds), atomic_load(&epoll_mods),
                                  atomic_load(&epoll_dels)};
}

void tw_test_refuse_epoll_ctl(int fd, int err)
{
    atomic_store(&refused_errno, err);
    atomic_store(&refused_fd, fd);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    atomic_fetch_add(op == EPOLL_CTL_ADD   ? &epoll_adds
                     : op == EPOLL_CTL_MOD ? &epoll_mods
                                           : &epoll_dels,
                     1);
    int armed = fd;
    if (op != EPOLL_CTL_DEL && fd >= 0 && atomic_compare_exchange_strong(&refused_fd, &armed, -1)) {
        errno = atomic_load(&refused_errno);
        return -1;
    }
    return __real_epoll_ctl(epfd, op, fd, ev);
}

void tw_test_refuse_realloc(size_t size)
{
    atomic_store(&refused_size, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    size_t armed = size;
    if (size > 0 && atomic_compare_exchange_strong(&refused_size, &armed, 0)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, size);
}
#else
tw_test_epoll_counts tw_test_epoll_counts_now(void)
{
    return (tw_test_epoll_counts){0, 0, 0};
}

void tw_test_refuse_sendfile(int err)
{
    (void)err;
}

long tw_test_sendfile_calls_now(void)
{
    return 0;
}
#endif
