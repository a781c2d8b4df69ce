/* Shared helpers for reactor tests: controllable clock, captured log, fd/thread counting and a
 * loopback TCP pair. See reactor_test.h. */
#include "reactor_test.h"
#include "syscalls.h"
#include "tests/support/kqueue/kqueue_emul.h"

/* Only kqueue builds on Linux link the emulation; elsewhere the hook is NULL. */
#pragma weak tw_kqueue_emul_inject_error

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- controllable clock ---------------------------------------------------------------------- */

static int64_t test_clock_read(void *ctx)
{
    return ((tw_test_clock *)ctx)->ns;
}

void tw_test_clock_install(tw_reactor *r, tw_test_clock *c)
{
    c->ns = TW_TEST_CLOCK_START_NS;
    tw_reactor_set_clock(r, test_clock_read, c);
}

void tw_test_clock_advance(tw_test_clock *c, double seconds)
{
    c->ns += (int64_t)(seconds * 1e9 + 0.5);
}

int tw_test_clock_turn(tw_reactor *r, tw_test_clock *c, double seconds)
{
    tw_test_clock_advance(c, seconds);
    return tw_reactor_iterate(r, 0);
}

/* ---- captured log ---------------------------------------------------------------------------- */

static void test_log_append(tw_test_log *log, const char *s)
{
    size_t n = strlen(s);
    size_t room = sizeof log->text - 1 - log->len;
    if (n > room)
        n = room;
    memcpy(log->text + log->len, s, n);
    log->len += n;
    log->text[log->len] = '\0';
}

static void test_log_hook(void *ctx, tw_log_level level, const char *message)
{
    tw_test_log *log = ctx;
    pthread_mutex_lock(&log->lock);
    log->count++;
    if (level >= TW_LOG_ERROR)
        log->errors++;
    log->last_level = level;
    test_log_append(log, message);
    test_log_append(log, "\n");
    pthread_mutex_unlock(&log->lock);
}

void tw_test_log_install(tw_reactor *r, tw_test_log *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->lock, NULL);
    tw_reactor_set_logger(r, test_log_hook, log);
    tw_reactor_set_log_level(r, TW_LOG_DEBUG); /* everything, notes included */
}

int tw_test_log_count(tw_test_log *log)
{
    pthread_mutex_lock(&log->lock);
    int n = log->count;
    pthread_mutex_unlock(&log->lock);
    return n;
}

int tw_test_log_errors(tw_test_log *log)
{
    pthread_mutex_lock(&log->lock);
    int n = log->errors;
    pthread_mutex_unlock(&log->lock);
    return n;
}

bool tw_test_log_contains(tw_test_log *log, const char *needle)
{
    pthread_mutex_lock(&log->lock);
    bool found = strstr(log->text, needle) != NULL;
    pthread_mutex_unlock(&log->lock);
    return found;
}

void tw_test_log_destroy(tw_test_log *log)
{
    pthread_mutex_destroy(&log->lock);
}

tw_reactor *tw_test_reactor_new(tw_test_log *log)
{
    tw_reactor *r = tw_reactor_new(NULL);
    if (r)
        tw_test_log_install(r, log);
    return r;
}

void tw_test_reactor_free(tw_reactor *r, tw_test_log *log)
{
    tw_reactor_free(r);
    tw_test_log_destroy(log);
}

/* ---- the shared fixture ---------------------------------------------------------------------- */

int tw_test_env_open(tw_test_env *env, tw_test_clock_choice clock)
{
    env->r = tw_test_reactor_new(&env->log);
    if (!env->r)
        return -1;
    if (clock == TW_TEST_CONTROLLED_CLOCK)
        tw_test_clock_install(env->r, &env->clock);
    return 0;
}

void tw_test_env_close(tw_test_env *env)
{
    tw_test_reactor_free(env->r, &env->log);
    env->r = NULL;
}

int tw_test_fixture_setup(void **state, size_t size, tw_test_clock_choice clock)
{
    /* The fixture's first member is its env, so the fixture's address is the env's. */
    tw_test_env *env = calloc(1, size);
    if (!env)
        return -1;
    if (tw_test_env_open(env, clock) < 0) {
        free(env);
        return -1;
    }
    *state = env;
    return 0;
}

int tw_test_fixture_teardown(void **state)
{
    tw_test_env *env = *state;
    tw_test_env_close(env);
    free(env);
    return 0;
}

/* ---- process resources ----------------------------------------------------------------------- */

static int count_dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int tw_test_refuse_next_watch(int fd)
{
    const char *backend = tw_reactor_backend();
    if (strcmp(backend, "kqueue") == 0 && tw_kqueue_emul_inject_error) {
        tw_kqueue_emul_inject_error(ENOMEM);
        return -ENOMEM;
    }
#ifdef __linux__
    if (strcmp(backend, "epoll") == 0) {
        tw_test_refuse_epoll_ctl(fd, ENOSPC);
        return -ENOSPC;
    }
    if (strcmp(backend, "poll") == 0 && fd >= 64) {
        size_t len = 64; /* the poll backend's fd -> slot map: 64 entries, doubled until fd fits */
        while (len <= (size_t)fd)
            len *= 2;
        tw_test_refuse_realloc(len * sizeof(size_t));
        return -ENOMEM;
    }
#endif
    (void)fd;
    return 0;
}

/* Does the fdinfo of epoll set epfd list fd? */
static bool fdinfo_lists(int epfd, int fd)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    FILE *in = fopen(path, "r");
    bool found = false;
    int tfd;
    while (in && !found && fgets(line, sizeof line, in))
        found = sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
    if (in)
        fclose(in);
    return found;
}

int tw_test_epoll_watches(int fd)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int sets = 0, found = 0;
    for (struct dirent *e; !found && (e = readdir(dir));) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") != 0)
            continue;
        sets++;
        found = fdinfo_lists(atoi(e->d_name), fd);
    }
    closedir(dir);
    return found ? 1 : sets ? 0 : -1;
}

int tw_test_lowest_free_fd(void)
{
    int fd = dup(0);
    if (fd >= 0)
        close(fd);
    return fd;
}

int tw_test_count_open_fds(void)
{
    int n = count_dir_entries("/proc/self/fd");
    /* opendir() itself holds one fd while counting. */
    return n < 0 ? -1 : n - 1;
}

static void *no_work(void *arg)
{
    return arg;
}

/* A sanitizer's runtime may start a helper thread of its own at the first pthread_create
 * (ThreadSanitizer's background thread does) and keep it: start one thread and join it once, so
 * that the helper is already there in every count a test takes as its baseline. */
static void start_runtime_threads(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, no_work, NULL) == 0)
        pthread_join(t, NULL);
}

int tw_test_count_threads(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_runtime_threads);
    return count_dir_entries("/proc/self/task");
}

/* Room for the test itself above the limit: its sockets, the reactor's, a spare. */
#define FILL_HEADROOM 64

const char *tw_test_fds_past_unavailable(int limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return "RLIMIT_NOFILE cannot be read";
    rlim_t want = (rlim_t)limit + FILL_HEADROOM;
    if (rl.rlim_cur >= want || rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want)
        return NULL;
    return "the hard RLIMIT_NOFILE is too low to open fds past FD_SETSIZE";
}

void tw_test_fds_fill_below(tw_test_fd_filler *f, int limit)
{
    *f = (tw_test_fd_filler){0};
    getrlimit(RLIMIT_NOFILE, &f->saved);
    struct rlimit raised = f->saved;
    rlim_t want = (rlim_t)limit + FILL_HEADROOM;
    if (raised.rlim_cur < want) {
        raised.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
            abort(); /* tw_test_fds_past_unavailable said it could be raised */
    }
    f->fds = malloc((size_t)limit * sizeof *f->fds);
    if (!f->fds)
        abort(); /* a test helper: out of memory ends the test run */
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            abort(); /* the limit was just raised above what this needs */
        if (fd >= limit) {
            close(fd);
            return;
        }
        f->fds[f->count++] = fd;
    }
}

void tw_test_fds_release(tw_test_fd_filler *f)
{
    for (size_t i = 0; i < f->count; i++)
        close(f->fds[i]);
    free(f->fds);
    setrlimit(RLIMIT_NOFILE, &f->saved);
    *f = (tw_test_fd_filler){0};
}

double tw_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tw_test_wait_threads_at_most(int want, double timeout_seconds)
{
    /* A joined thread may still be listed for a moment while the kernel finishes its exit. */
    double deadline = tw_test_now() + timeout_seconds;
    int n = tw_test_count_threads();
    while (n > want && tw_test_now() < deadline) {
        sched_yield();
        n = tw_test_count_threads();
    }
    return n;
}

/* ---- sockets --------------------------------------------------------------------------------- */

void tw_test_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int listen_loopback(struct sockaddr_in *addr)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -errno;
    socklen_t len = sizeof *addr;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)addr, sizeof *addr) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)addr, &len) < 0) {
        int e = -errno;
        close(l);
        return e;
    }
    return l;
}

int tw_test_tcp_pair(int fds[2])
{
    struct sockaddr_in addr;
    int l = listen_loopback(&addr);
    if (l < 0)
        return l;
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = -errno;
        if (c >= 0)
            close(c);
        close(l);
        return e;
    }
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    int e = s < 0 ? -errno : 0;
    close(l);
    if (s < 0) {
        close(c);
        return e;
    }
    tw_test_set_nonblocking(c);
    tw_test_set_nonblocking(s);
    fds[0] = c;
    fds[1] = s;
    return 0;
}

bool tw_test_iterate_until(tw_reactor *r, const volatile bool *flag, double timeout_seconds)
{
    /* Each turn blocks until something happens, so this does not spin; the deadline only bounds a
     * broken test. It reads the real clock, so it also works on a reactor with a test clock. */
    double deadline = tw_test_now() + timeout_seconds;
    while (!*flag) {
        double left = deadline - tw_test_now();
        if (left <= 0)
            break;
        if (tw_reactor_iterate(r, left < 0.5 ? left : 0.5) < 0)
            break;
    }
    return *flag;
}
