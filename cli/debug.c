/* twined --debug: the reactor's debug mode for a whole server (callbacks slower than the threshold
 * are logged), and its metrics as one line on SIGUSR1 and at exit. The signal reaches the loop
 * through a self-pipe, so the line is printed from the reactor thread like every other message. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static double debug_seconds;                 /* 0: --debug not given */
static int sigusr1_pipe[2] = {-1, -1};       /* read end watched by the reactor */
static struct sigaction sigusr1_before;

int twined_set_debug(const char *value)
{
    double seconds = TW_DEBUG_SLOW_DEFAULT;
    if (value) {
        char *end;
        errno = 0;
        seconds = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(seconds) || seconds <= 0)
            return twined_usage_error(NULL, "--debug: bad threshold '%s' (seconds, above 0)",
                                      twined_show(value).text);
    }
    debug_seconds = seconds;
    return 0;
}

static void on_sigusr1(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t ignored = write(sigusr1_pipe[1], "", 1); /* full pipe: a line is coming anyway */
    (void)ignored;
    errno = saved;
}

static void print_metrics(tw_reactor *r)
{
    tw_reactor_metrics m;
    tw_reactor_get_metrics(r, &m);
    twined_note("metrics: turns=%llu callbacks=%llu slow_callbacks=%llu slowest=%.6fs wait=%.3fs "
                "run=%.3fs pending_timers=%zu",
                (unsigned long long)m.turns, (unsigned long long)m.callbacks,
                (unsigned long long)m.slow_callbacks, m.slowest_seconds, m.wait_seconds,
                m.run_seconds, m.pending_timers);
}

static int on_metrics_request(tw_reactor *r, int fd, void *arg)
{
    (void)arg;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    print_metrics(r);
    return 0;
}

static int watch_sigusr1(tw_reactor *r)
{
    if (pipe2(sigusr1_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    int err = tw_reactor_add_reader(r, sigusr1_pipe[0], on_metrics_request, NULL);
    if (err == 0 && sigaction(SIGUSR1, &sa, &sigusr1_before) < 0)
        err = -errno;
    if (err < 0) {
        tw_reactor_close_fd(r, sigusr1_pipe[0]);
        close(sigusr1_pipe[1]);
        sigusr1_pipe[0] = sigusr1_pipe[1] = -1;
    }
    return err;
}

int twined_reactor_setup_worker(tw_reactor *r)
{
    tw_reactor_set_logger(r, twined_log, NULL);
    tw_reactor_set_log_level(r, TW_LOG_INFO); /* twined says why it stops */
    return debug_seconds > 0 ? tw_reactor_set_debug(r, debug_seconds) : 0;
}

int twined_reactor_setup(tw_reactor *r)
{
    int err = twined_reactor_setup_worker(r);
    return err < 0 || debug_seconds <= 0 ? err : watch_sigusr1(r);
}

void twined_reactor_teardown(tw_reactor *r)
{
    if (debug_seconds <= 0 || sigusr1_pipe[0] < 0)
        return;
    print_metrics(r);
    sigaction(SIGUSR1, &sigusr1_before, NULL);
    tw_reactor_close_fd(r, sigusr1_pipe[0]);
    close(sigusr1_pipe[1]);
    sigusr1_pipe[0] = sigusr1_pipe[1] = -1;
}
