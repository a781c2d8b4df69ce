/* Stop signals that survive ThreadSanitizer's signal handling: see stop_signal.h. */
#include "stop_signal.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "twined_child.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#if defined(UNDER_TSAN) && defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)

typedef struct {
    int pidfd; /* names this one process: a signal can never reach a later one with the same pid */
    pid_t pid;
    int sig;
} resender;

/* Whether the process has a handler installed for sig (SigCgt in /proc/PID/status). Once twined
 * has begun its shutdown it restores the default action, and a second signal would kill it. */
static bool catches(pid_t pid, int sig)
{
    unsigned long long caught;
    return tw_test_proc_status(pid, "SigCgt", 16, &caught) && (caught >> (sig - 1)) & 1;
}

static void *resend(void *arg)
{
    resender *s = arg;
    struct pollfd p = {.fd = s->pidfd, .events = POLLIN}; /* readable once the process exits */
    for (int i = 0; i < TW_TEST_STOP_RESENDS_MAX; i++) {
        if (poll(&p, 1, (int)(TW_TEST_STOP_RESEND_SECONDS * 1000)) != 0 || !catches(s->pid, s->sig))
            break;
        syscall(SYS_pidfd_send_signal, s->pidfd, s->sig, NULL, 0);
    }
    close(s->pidfd);
    free(s);
    return NULL;
}

/* A detached thread sends the signal again until the process has exited. */
static void start_resender(pid_t pid, int sig)
{
    resender *s = malloc(sizeof *s);
    if (!s)
        return;
    *s = (resender){.pidfd = (int)syscall(SYS_pidfd_open, pid, 0), .pid = pid, .sig = sig};
    pthread_t t;
    if (s->pidfd >= 0 && pthread_create(&t, NULL, resend, s) == 0) {
        pthread_detach(t);
        return;
    }
    if (s->pidfd >= 0)
        close(s->pidfd);
    free(s);
}

int tw_test_stop_signal(pid_t pid, int sig)
{
    if (kill(pid, sig) < 0)
        return -1;
    if (sig > 0) /* 0 only asks whether pid exists */
        start_resender(pid, sig);
    return 0;
}

#else

int tw_test_stop_signal(pid_t pid, int sig)
{
    return kill(pid, sig);
}

#endif
