/* Opt-in signal handling: SIGINT and SIGTERM become an orderly stop, SIGPIPE is ignored.
 * A handler can only write to a self-pipe; the reactor reads the signal number from it in its own
 * thread and stops there. Signal dispositions are process-wide, so exactly one reactor may own
 * them: this file and fork.c hold twine's only process-wide state. A forked child inherits the
 * handler and the pipe but not the reactor (it stays the parent's): there the handler steps
 * aside. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "reactor/internal.h"

static const int stop_signals[] = {SIGINT, SIGTERM};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_safe_once = PTHREAD_ONCE_INIT;
static tw_reactor *owner;
static atomic_int owner_pid;        /* the process whose reactor owns the handlers */
static atomic_int signal_wfd = -1;
static atomic_int handlers_running; /* lets uninstall wait for a handler still using the fd */
static struct sigaction saved_stop[NSTOP], saved_pipe;

/* In a process forked from the owner's, the signal is not the reactor's (it belongs to the parent,
 * and writing the self-pipe both share would stop the parent): the signal gets the disposition it
 * had before twine's handler, and is raised again to meet it once this handler returns. */
static void pass_on(int signum)
{
    for (size_t i = 0; i < NSTOP; i++)
        if (stop_signals[i] == signum)
            sigaction(signum, &saved_stop[i], NULL);
    raise(signum);
}

/* Async-signal-safe: lock-free atomics, getpid, sigaction, raise and write(2) only. */
static void on_signal(int signum)
{
    int saved_errno = errno;
    if (getpid() != atomic_load(&owner_pid)) {
        pass_on(signum);
        errno = saved_errno;
        return;
    }
    atomic_fetch_add(&handlers_running, 1);
    int fd = atomic_load(&signal_wfd);
    unsigned char byte = (unsigned char)signum;
    if (fd >= 0 && write(fd, &byte, 1) < 0) {
        /* A full pipe already holds a pending stop. */
    }
    atomic_fetch_sub(&handlers_running, 1);
    errno = saved_errno;
}

static int read_signals(tw_reactor *r, int fd, void *arg)
{
    (void)arg;
    unsigned char sigs[64];
    ssize_t n;
    while ((n = read(fd, sigs, sizeof sigs)) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            if (!r->exit_signal)
                r->exit_signal = sigs[i];
            tw_reactor_log(r, TW_LOG_INFO, "received %s, shutting down",
                           sigs[i] == SIGINT ? "SIGINT" : "SIGTERM");
        }
        if (n > 0 && r->state == TW_STATE_RUNNING)
            tw_reactor_stop(r);
    }
    return 0;
}

static int open_self_pipe(int fds[2])
{
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

/* A fork while another thread holds owner_lock would leave the child's copy locked forever. */
static void lock_owner(void) { pthread_mutex_lock(&owner_lock); }
static void unlock_owner(void) { pthread_mutex_unlock(&owner_lock); }
static void keep_owner_lock_fork_safe(void)
{
    pthread_atfork(lock_owner, unlock_owner, unlock_owner);
}

int tw_reactor_install_signal_handlers(tw_reactor *r)
{
    if (!r)
        return -EINVAL;
    pthread_once(&fork_safe_once, keep_owner_lock_fork_safe);
    pthread_mutex_lock(&owner_lock);
    int err = owner == r ? 0 : owner ? -EBUSY : 0;
    int fds[2];
    if (owner || err || (err = open_self_pipe(fds)) < 0)
        goto out;
    if ((err = tw__fds_add_internal_reader(r, fds[0], read_signals, NULL)) < 0) {
        close(fds[0]);
        close(fds[1]);
        goto out;
    }
    r->signal_fd = fds[0];
    atomic_store(&signal_wfd, fds[1]);
    atomic_store(&owner_pid, (int)getpid());
    owner = r;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &sa, &saved_stop[i]);
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &saved_pipe);
out:
    pthread_mutex_unlock(&owner_lock);
    return err;
}

void tw_reactor_uninstall_signal_handlers(tw_reactor *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&owner_lock);
    if (owner == r) {
        for (size_t i = 0; i < NSTOP; i++)
            sigaction(stop_signals[i], &saved_stop[i], NULL);
        sigaction(SIGPIPE, &saved_pipe, NULL);
        /* A handler in another thread may have read the fd just before this: let it finish its
         * write before the fd is closed (and its number possibly reused). */
        int wfd = atomic_exchange(&signal_wfd, -1);
        while (atomic_load(&handlers_running) > 0)
            sched_yield();
        close(wfd);
        tw_reactor_close_fd(r, r->signal_fd);
        r->signal_fd = -1;
        owner = NULL;
    }
    pthread_mutex_unlock(&owner_lock);
}

void tw__signals_release(tw_reactor *r) { tw_reactor_uninstall_signal_handlers(r); }

void tw__signals_forget(tw_reactor *r)
{
    pthread_mutex_lock(&owner_lock);
    if (owner == r) {
        /* The dispositions are this process's own since the fork: put back what was there. No
         * handler can be writing: the threads that could run one stayed in the parent. */
        for (size_t i = 0; i < NSTOP; i++)
            sigaction(stop_signals[i], &saved_stop[i], NULL);
        sigaction(SIGPIPE, &saved_pipe, NULL);
        close(atomic_exchange(&signal_wfd, -1));
        close(r->signal_fd);
        r->signal_fd = -1;
        owner = NULL;
    }
    pthread_mutex_unlock(&owner_lock);
}

int tw_reactor_exit_signal(const tw_reactor *r) { return r ? r->exit_signal : 0; }
