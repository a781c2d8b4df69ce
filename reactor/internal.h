/* The reactor's private state, shared by the files of reactor/ (and nothing else).
 * Each part has its own file: fds.c (watchers and the kernel interest mirror), timers.c (the timer
 * heap), threads.c (calls from other threads), threadpool.c, triggers.c, signals.c, log.c. */
#ifndef TWINE_REACTOR_INTERNAL_H
#define TWINE_REACTOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "reactor/backend.h"
#include "reactor/layers.h"
#include "twine/reactor.h"

/* ---- fd watchers (fds.c) ----
 * One slot per fd number, 32 bytes: a busy server has one per connection. The reader and writer
 * nearly always share their argument (a transport), so the slot keeps one; when they differ, arg
 * points to a tw_arg_pair instead (split). */
typedef struct {
    void *read_arg;
    void *write_arg;
} tw_arg_pair;

typedef struct {
    tw_io_fn read_fn;
    tw_io_fn write_fn;
    void *arg;              /* both watchers' argument, or a tw_arg_pair when split */
    uint32_t gen;           /* bumped on close: events of an earlier incarnation are dropped */
    unsigned want : 2;      /* TW_BE_READ|TW_BE_WRITE the user asked for */
    unsigned kernel : 2;    /* what the backend was last told */
    unsigned dirty : 1;     /* queued in dirty[] for the next flush */
    unsigned internal : 1;  /* the reactor's own (waker, signal pipe): kept by remove_all */
    unsigned split : 1;     /* arg is a tw_arg_pair */
    unsigned shared : 1;    /* twine handed its number out: a dup of it may outlive the close */
    unsigned refused : 1;   /* the backend refused it at the last flush: its watchers will hear */
    unsigned refused_errno : 12; /* why (a positive errno) */
} tw_fd_slot;

typedef struct {
    tw_fd_slot *slots;
    int nslots;
    int *dirty;
    int ndirty, dirty_cap;
    int nrefused;           /* dirty[0..nrefused) were refused at the last flush */
    tw_ready *ready;
    int ready_cap;
    int failing_fd;         /* whose watchers are being told they were dropped, or -1 */
    int failing_err;        /* and why: tw_reactor_watch_error() */
} tw_fd_table;

int tw__fds_init(tw_fd_table *t) TW__MUST_CHECK;
void tw__fds_free(tw_fd_table *t);
int tw__fds_add_internal_reader(tw_reactor *r, int fd, tw_io_fn fn, void *arg) TW__MUST_CHECK;
/* Pushes the interest changes to the backend; returns how many fds it refused (their watchers are
 * told by the next tw__fds_dispatch). */
int tw__fds_flush(tw_reactor *r);
int tw__fds_dispatch(tw_reactor *r, int nready);
void tw__fds_grow_ready(tw_fd_table *t, int nready);

/* ---- timers (timers.c) ---- */
typedef struct {
    int64_t at;
    uint32_t seq;   /* scheduling order among equal deadlines */
    uint32_t slot;  /* where the handle lives: chunk number << 8 | index in the chunk */
} tw_heap_entry;

typedef struct tw_dc tw_dc; /* a delayed call; its public handle is a tw_delayed_call * */
typedef struct tw_dc_chunk tw_dc_chunk;

typedef struct {
    tw_heap_entry *heap;      /* inside heap_mem, aligned so that children share a cache line */
    tw_heap_entry *heap_mem;
    uint32_t count, cap;
    uint64_t next_seq;
    tw_dc **due;              /* calls collected for the current turn */
    uint32_t ndue, due_cap;
    tw_dc *free_list;
    tw_dc_chunk *chunks;
    tw_dc_chunk **chunk_tab;  /* chunk number -> chunk */
    uint32_t nchunks, chunk_cap;
} tw_timer_heap;

void tw__timers_init(tw_timer_heap *h);
void tw__timers_free(tw_timer_heap *h);
/* Nanoseconds until the earliest deadline (>= 0), or -1 when no call is pending. */
int64_t tw__timers_next_wait(const tw_reactor *r);
/* Collects every call due at r->now, then runs them in order. Returns how many ran. */
int tw__timers_run_due(tw_reactor *r);
/* For tests of the sequence renumbering. */
void tw__timers_set_next_seq(tw_reactor *r, uint64_t seq);

/* ---- calls from threads (threads.c) ---- */
typedef struct tw_thread_call tw_thread_call;

typedef struct {
    pthread_mutex_t lock;
    tw_thread_call *head, *tail;
    atomic_bool wake_pending;
    bool closed;
    int wake_fd;   /* read end (the eventfd itself on Linux) */
    int wake_wfd;  /* write end */
} tw_thread_calls;

int tw__thread_calls_init(tw_reactor *r) TW__MUST_CHECK;
void tw__thread_calls_free(tw_reactor *r);
/* Runs the calls queued so far (the shutdown delivers what the pool handed back). Returns how
 * many. */
int tw__thread_calls_run(tw_reactor *r);

/* ---- thread pool (threadpool.c) ---- */
typedef struct tw_work tw_work;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    tw_work *head, *tail;
    pthread_t *threads;
    unsigned nthreads, idle, max, queued;
    bool stopping;
} tw_thread_pool;

void tw__pool_init(tw_thread_pool *p);
/* Lets the queued work finish, then joins every thread. Idempotent. */
void tw__pool_stop(tw_thread_pool *p);

/* ---- system event triggers (triggers.c) ---- */
typedef struct {
    long id;
    tw_phase phase;
    tw_system_event event;
    tw_fn fn;
    void *arg;
} tw_trigger;

typedef struct {
    tw_trigger *items;
    size_t count, cap;
    long next_id;
} tw_triggers;

void tw__triggers_free(tw_triggers *t);
/* Runs (and consumes) the triggers of one phase of one event, in the order added. */
void tw__triggers_fire(tw_reactor *r, tw_system_event event, tw_phase phase);

/* ---- signals (signals.c) ---- */
void tw__signals_release(tw_reactor *r);

/* ---- debug mode and metrics (debug.c) ---- */
typedef struct {
    uint64_t turns, callbacks, slow;
    int64_t wait_ns, run_ns, slowest_ns; /* debug mode only */
} tw_metrics;

/* A callback run under debug mode: timed, and logged when slow. what says which kind of
 * callback. */
int tw__debug_run_fn(tw_reactor *r, const char *what, tw_fn fn, void *arg);
int tw__debug_run_io(tw_reactor *r, const char *what, tw_io_fn fn, int fd, void *arg);

/* ---- fork (fork.c) ----
 * How many forks this process had seen, from each side, when a reactor was made. */
typedef struct {
    unsigned parent; /* forks this process made */
    unsigned child;  /* forks that made this process (since the reactor's process began) */
} tw_fork_stamp;

/* The forks seen so far: 0, or a negative errno when forks cannot be watched (pthread_atfork). */
int tw__fork_stamp(tw_fork_stamp *now) TW__MUST_CHECK;
/* Is this a child forked after made was taken? Then the reactor belongs to the parent. */
bool tw__fork_in_child(const tw_fork_stamp *made);
/* Has this process forked since made was taken? Then a child may hold copies of its fds. */
bool tw__fork_since(const tw_fork_stamp *made);

/* What a forked child frees of its copy of a reactor (see FORK in reactor.h): the child's own
 * memory and copies of fds, without locks a thread of the parent may have held, joins of threads
 * that stayed in the parent, or callbacks. */
void tw__signals_forget(tw_reactor *r);
void tw__thread_calls_forget(tw_reactor *r);
void tw__pool_forget(tw_thread_pool *p);

/* ---- the reactor ---- */
typedef enum {
    TW_STATE_IDLE,      /* never run */
    TW_STATE_STARTING,  /* inside the startup triggers */
    TW_STATE_RUNNING,
    TW_STATE_STOPPING,  /* stop() called; shutdown triggers pending or held */
    TW_STATE_STOPPED,   /* run() returned; cannot run again */
} tw_run_state;

struct tw_reactor {
    tw_backend *backend;
    tw_fd_table fds;
    tw_timer_heap timers;
    tw_thread_calls calls;
    tw_thread_pool pool;
    tw_triggers triggers;
    int64_t now;
    tw_clock_fn clock_fn;
    void *clock_ctx;
    tw_log_fn log_fn;        /* NULL: the process-wide logger */
    void *log_ctx;
    tw_log_level log_level;  /* when log_level_own; else the process-wide level applies */
    bool log_level_own;
    tw_run_state state;
    bool in_turn;            /* guards against re-entrant iterate() */
    bool debug;              /* tw_reactor_set_debug: time callbacks and waits */
    int64_t slow_ns;         /* debug mode's threshold */
    tw_metrics metrics;
    bool shutdown_begun;     /* "before shutdown" triggers have run */
    unsigned shutdown_holds;
    int exit_signal;
    int signal_fd;           /* read end of the signal self-pipe, -1 when not installed */
    tw_fork_stamp made;      /* the forks seen when the reactor was made */
    void *slots[TW_SLOT_COUNT];
    void (*slot_release[TW_SLOT_COUNT])(void *data);
};

void tw__reactor_update_time(tw_reactor *r);
/* The dispatch points run callbacks through these: when debug mode is off, one test of a flag. */
static inline int tw__run_fn(tw_reactor *r, const char *what, tw_fn fn, void *arg)
{
    return __builtin_expect(r->debug, 0) ? tw__debug_run_fn(r, what, fn, arg) : fn(arg);
}

static inline int tw__run_io(tw_reactor *r, const char *what, tw_io_fn fn, int fd, void *arg)
{
    return __builtin_expect(r->debug, 0) ? tw__debug_run_io(r, what, fn, fd, arg) : fn(r, fd, arg);
}

/* Reports a callback's negative return through the log hook. */
void tw__report_callback_error(tw_reactor *r, const char *what, int err);

#endif
