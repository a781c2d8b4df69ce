/* Shared helpers for tests that drive a reactor: a controllable clock (Twisted's task.Clock), a
 * logger that captures what the reactor reports, and counters of open fds and live threads so a
 * test can prove it leaked neither. Any test binary may use them. */
#ifndef TWINE_TESTS_REACTOR_TEST_H
#define TWINE_TESTS_REACTOR_TEST_H

#include <pthread.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <twine/reactor.h>

/* ---- controllable clock ---------------------------------------------------------------------- */

/* A clock that only moves when the test says so. Starts at a large arbitrary value so that code
 * which wrongly assumes time starts at zero shows up. */
#define TW_TEST_CLOCK_START_NS INT64_C(1000000000000)

typedef struct {
    int64_t ns;
} tw_test_clock;

/* Puts the reactor on the clock c, set to TW_TEST_CLOCK_START_NS. */
void tw_test_clock_install(tw_reactor *r, tw_test_clock *c);
/* Moves the clock forward; the reactor sees the new time on its next turn. */
void tw_test_clock_advance(tw_test_clock *c, double seconds);

/* Moves the clock forward and runs the one non-blocking turn that sees it; returns what
 * tw_reactor_iterate() returned. */
int tw_test_clock_turn(tw_reactor *r, tw_test_clock *c, double seconds);

/* ---- captured log ---------------------------------------------------------------------------- */

#define TW_TEST_LOG_TEXT_MAX 8192

/* Everything the reactor logged since install (at any level), concatenated one message per line.
 * Thread-safe, since some messages may come from pool threads. */
typedef struct {
    pthread_mutex_t lock;
    int count;                     /* messages of any level */
    int errors;                    /* messages at TW_LOG_ERROR or above */
    tw_log_level last_level;
    char text[TW_TEST_LOG_TEXT_MAX];
    size_t len;
} tw_test_log;

void tw_test_log_install(tw_reactor *r, tw_test_log *log);
/* Copies of the counters, read under the lock. */
int tw_test_log_count(tw_test_log *log);
int tw_test_log_errors(tw_test_log *log);
/* Does the captured text contain needle? */
bool tw_test_log_contains(tw_test_log *log, const char *needle);
void tw_test_log_destroy(tw_test_log *log);

/* A new reactor whose log goes to log (NULL when the reactor cannot be made), and its
 * counterpart. */
tw_reactor *tw_test_reactor_new(tw_test_log *log);
void tw_test_reactor_free(tw_reactor *r, tw_test_log *log);

/* Seconds on the monotonic clock (the wall time tests wait on, never the reactor's). */
double tw_test_now(void);

/* ---- the shared fixture ---------------------------------------------------------------------- */

/* Which clock a fixture's reactor runs on. */
typedef enum {
    TW_TEST_REAL_CLOCK,      /* the reactor's own monotonic clock */
    TW_TEST_CONTROLLED_CLOCK /* env.clock, moved only by the test */
} tw_test_clock_choice;

/* What every reactor test starts from: a reactor whose log is captured, and a controllable clock
 * that the reactor uses when the fixture was set up with TW_TEST_CONTROLLED_CLOCK. A test file's
 * own fixture struct holds one as its first member, so the setup and teardown below serve any of
 * them. */
typedef struct {
    tw_reactor *r;
    tw_test_log log;
    tw_test_clock clock;
} tw_test_env;

/* Opens env: a new reactor logging into env->log, on env->clock when asked. 0, or -1 when the
 * reactor cannot be made. tw_test_env_close frees the reactor, then the log. */
int tw_test_env_open(tw_test_env *env, tw_test_clock_choice clock);
void tw_test_env_close(tw_test_env *env);

/* A cmocka setup for a fixture struct of size bytes whose first member is a tw_test_env: allocates
 * it zeroed, opens the env and stores the fixture in *state. 0, or -1 (the test is reported as not
 * set up) when either cannot be made. */
int tw_test_fixture_setup(void **state, size_t size, tw_test_clock_choice clock);
/* The matching cmocka teardown: closes the env and frees the fixture. */
int tw_test_fixture_teardown(void **state);

/* ---- process resources ----------------------------------------------------------------------- */

/* The lowest free fd number: what the next socket() or accept4() returns (single-threaded). */
int tw_test_lowest_free_fd(void);

/* Entries in /proc/self/fd and /proc/self/task, or -1 when /proc is not there. */
int tw_test_count_open_fds(void);
int tw_test_count_threads(void);

/* Every fd below a limit taken, so that the next one made is at or above it (select's
 * FD_SETSIZE). */
typedef struct {
    int *fds;
    size_t count;
    struct rlimit saved;
} tw_test_fd_filler;

/* Why fds at or above limit cannot be had here (the hard RLIMIT_NOFILE is too low), or NULL when
 * they can. */
const char *tw_test_fds_past_unavailable(int limit);
/* Raises RLIMIT_NOFILE's soft limit above limit if it must, then occupies every free fd below limit
 * with /dev/null. Check tw_test_fds_past_unavailable first (or tw_test_skip_unless_fds_past in
 * net.h): this aborts when it cannot. */
void tw_test_fds_fill_below(tw_test_fd_filler *f, int limit);
/* Closes the fillers and restores the fd limit. */
void tw_test_fds_release(tw_test_fd_filler *f);

/* Waits (without sleeping as synchronisation: it polls /proc, bounded by timeout) until the thread
 * count drops to at most want; returns the last count. Threads that have been joined are already
 * gone, so this only matters for threads that exit asynchronously. */
int tw_test_wait_threads_at_most(int want, double timeout_seconds);

/* ---- refused watches ------------------------------------------------------------------------- */

/* Makes the compiled-in backend refuse the next registration of fd, at the start of the next turn,
 * with the failure a full kernel or allocator gives: epoll's ENOSPC (max_user_watches) through the
 * wrapped epoll_ctl, kqueue's ENOMEM through the emulation (the next change this thread hands to
 * kevent, so flush the reactor's other changes first), poll's ENOMEM through the wrapped realloc of
 * the backend's fd map (fd must be at least 64, and above every fd watched before, so that the map
 * has to grow). Returns the negative errno the watchers will hear, or 0 when the backend has no
 * such failure (select: its sets are fixed; only a closed fd, -EBADF, is refused). */
int tw_test_refuse_next_watch(int fd);

/* Is fd registered in an epoll set of this process (read from /proc/self/fdinfo)? 1 or 0, or -1
 * when that cannot be told (no /proc, or no epoll set open). A registration that outlives its fd's
 * close (the open file lives on in a dup) shows here and nowhere else. */
int tw_test_epoll_watches(int fd);

/* ---- sockets --------------------------------------------------------------------------------- */

/* A connected loopback TCP pair (client, accepted server), both non-blocking. 0 or -errno. */
int tw_test_tcp_pair(int fds[2]);
/* Sets O_NONBLOCK on both ends. */
void tw_test_set_nonblocking(int fd);

/* Runs blocking turns until *flag is true or timeout_seconds of real time pass; returns *flag. For
 * waiting on other threads, which wake the reactor through tw_call_from_thread. */
bool tw_test_iterate_until(tw_reactor *r, const volatile bool *flag, double timeout_seconds);

#endif
