/* Tests for the reactor's thread entry points: tw_call_from_thread under a storm from many threads,
 * waking a blocked turn, and the thread pool (bounded size, saturation, results handed back, joined
 * at shutdown and at free). Synchronisation is by barriers, condition variables and atomics
 * only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/reactor_test.h"

/* A test that hangs is killed by this alarm rather than blocking the suite. */
#define WATCHDOG_SECONDS 60

typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
    int threads_before;
} fixture;

static int setup(void **state)
{
    int threads_before = tw_test_count_threads();
    if (tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK) < 0)
        return -1;
    ((fixture *)*state)->threads_before = threads_before;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int threads_before = f->threads_before;
    tw_test_fixture_teardown(state);
    /* Nothing the reactor started outlives it. */
    assert_int_equal(tw_test_wait_threads_at_most(threads_before, 5.0), threads_before);
    return 0;
}

/* Is thread tid blocked in the kernel (state S)? Lets another thread act once the reactor thread
 * really waits, without guessing with a sleep. */
static bool thread_is_sleeping(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'S';
}

static void wait_until_sleeping(pid_t tid)
{
    while (!thread_is_sleeping(tid))
        sched_yield();
}

static pid_t current_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ---- call_from_thread storm ------------------------------------------------------------------ */

#define STORM_THREADS 8
#define STORM_CALLS 20000

typedef struct {
    fixture *f;
    pthread_barrier_t start;
    long next_seq[STORM_THREADS]; /* per thread: the sequence number expected next */
    long total;
    long out_of_order;
    pthread_t reactor_thread;
    long wrong_thread;
    bool done;
} storm;

static storm the_storm;

static int storm_call(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int t = (int)(v / STORM_CALLS);
    long seq = (long)(v % STORM_CALLS);
    if (the_storm.next_seq[t] != seq)
        the_storm.out_of_order++;
    the_storm.next_seq[t] = seq + 1;
    if (!pthread_equal(pthread_self(), the_storm.reactor_thread))
        the_storm.wrong_thread++;
    if (++the_storm.total == (long)STORM_THREADS * STORM_CALLS)
        the_storm.done = true;
    return 0;
}

static void *storm_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    pthread_barrier_wait(&the_storm.start);
    for (long i = 0; i < STORM_CALLS; i++) {
        uintptr_t v = (uintptr_t)t * STORM_CALLS + (uintptr_t)i;
        int rc = tw_call_from_thread(the_storm.f->env.r, storm_call, (void *)v);
        if (rc != 0)
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

static void start_storm(fixture *f, pthread_t *threads)
{
    memset(&the_storm, 0, sizeof the_storm);
    the_storm.f = f;
    the_storm.reactor_thread = pthread_self();
    pthread_barrier_init(&the_storm.start, NULL, STORM_THREADS);
    for (intptr_t t = 0; t < STORM_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, storm_thread, (void *)t), 0);
}

static void join_storm(pthread_t *threads)
{
    for (int t = 0; t < STORM_THREADS; t++) {
        void *rc;
        assert_int_equal(pthread_join(threads[t], &rc), 0);
        assert_null(rc);
    }
    pthread_barrier_destroy(&the_storm.start);
}

static void check_storm(void)
{
    assert_int_equal(the_storm.total, (long)STORM_THREADS * STORM_CALLS);
    assert_int_equal(the_storm.out_of_order, 0);
    assert_int_equal(the_storm.wrong_thread, 0);
    for (int t = 0; t < STORM_THREADS; t++)
        assert_int_equal(the_storm.next_seq[t], STORM_CALLS);
}

/* The loop runs while 8 threads call: every call runs once, in order per thread, in the loop. */
static void test_storm_while_running(void **state)
{
    fixture *f = *state;
    pthread_t threads[STORM_THREADS];
    start_storm(f, threads);
    assert_true(tw_test_iterate_until(f->env.r, &the_storm.done, 30.0));
    join_storm(threads);
    check_storm();
    /* Nothing more arrives: every call ran exactly once. */
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 0);
    assert_int_equal(the_storm.total, (long)STORM_THREADS * STORM_CALLS);
}

/* Calls queued while the loop is idle all run in the next single turn. */
static void test_storm_then_one_turn_runs_all(void **state)
{
    fixture *f = *state;
    pthread_t threads[STORM_THREADS];
    start_storm(f, threads);
    join_storm(threads);
    assert_int_equal(the_storm.total, 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), (int)(STORM_THREADS * STORM_CALLS));
    check_storm();
}

/* ---- waking a blocked turn ------------------------------------------------------------------- */

typedef struct {
    tw_reactor *r;
    pid_t reactor_tid;
    atomic_bool ran;
    int rc;
} waker;

static int note_ran(void *arg)
{
    atomic_store(&((waker *)arg)->ran, true);
    return 0;
}

static void *wake_when_blocked(void *arg)
{
    waker *w = arg;
    wait_until_sleeping(w->reactor_tid);
    w->rc = tw_call_from_thread(w->r, note_ran, w);
    return NULL;
}

static void test_call_wakes_blocked_iterate(void **state)
{
    fixture *f = *state;
    waker w = { .r = f->env.r, .reactor_tid = current_tid() };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wake_when_blocked, &w), 0);
    /* Blocks with no timeout: only the call from the other thread can end this turn. */
    assert_int_equal(tw_reactor_iterate(f->env.r, -1), 1);
    assert_true(atomic_load(&w.ran));
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, 0);
}

static void test_call_from_thread_bad_arguments(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_call_from_thread(f->env.r, NULL, NULL), -EINVAL);
    assert_int_equal(tw_call_from_thread(NULL, note_ran, NULL), -EINVAL);
}

/* A failing call is reported; the next one still runs. */
static int fail_call(void *arg)
{
    (void)arg;
    return -EPERM;
}

static void test_failing_call_from_thread_is_reported(void **state)
{
    fixture *f = *state;
    waker w = { .r = f->env.r };
    assert_int_equal(tw_call_from_thread(f->env.r, fail_call, NULL), 0);
    assert_int_equal(tw_call_from_thread(f->env.r, note_ran, &w), 0);
    assert_int_equal(tw_reactor_iterate(f->env.r, 0), 2);
    assert_true(atomic_load(&w.ran));
    assert_int_equal(tw_test_log_errors(&f->env.log), 1);
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-EPERM)));
}

/* ---- thread pool ----------------------------------------------------------------------------- */

#define POOL_SIZE 3
#define POOL_JOBS 12

typedef struct pool_test pool_test;

typedef struct {
    pool_test *pt;
    int index;
    int result;           /* computed in the pool thread */
    bool handed_back;     /* set in the reactor thread */
    bool ran_in_reactor;  /* the pool thread was not the reactor thread */
} job;

struct pool_test {
    fixture *f;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int started;
    int running;
    int max_running;
    int gate;             /* how many more jobs may finish */
    int handed_back;
    bool all_back;
    bool stop_when_all_back;  /* stop the reactor once every result is back */
    pthread_t reactor_thread;
    job jobs[POOL_JOBS];
};

static int job_handed_back(void *arg)
{
    job *j = arg;
    j->handed_back = true;
    j->ran_in_reactor = pthread_equal(pthread_self(), j->pt->reactor_thread);
    if (++j->pt->handed_back < POOL_JOBS)
        return 0;
    j->pt->all_back = true;
    return j->pt->stop_when_all_back ? tw_reactor_stop(j->pt->f->env.r) : 0;
}

static int gated_job(void *arg)
{
    job *j = arg;
    pool_test *pt = j->pt;
    pthread_mutex_lock(&pt->lock);
    pt->started++;
    pt->running++;
    if (pt->running > pt->max_running)
        pt->max_running = pt->running;
    pthread_cond_broadcast(&pt->changed);
    while (pt->gate == 0)
        pthread_cond_wait(&pt->changed, &pt->lock);
    pt->gate--;
    pt->running--;
    pthread_mutex_unlock(&pt->lock);
    j->result = j->index * j->index;
    return tw_call_from_thread(pt->f->env.r, job_handed_back, j);
}

static void pool_test_init(pool_test *pt, fixture *f)
{
    memset(pt, 0, sizeof *pt);
    pt->f = f;
    pt->reactor_thread = pthread_self();
    pthread_mutex_init(&pt->lock, NULL);
    pthread_cond_init(&pt->changed, NULL);
    for (int i = 0; i < POOL_JOBS; i++)
        pt->jobs[i] = (job){ .pt = pt, .index = i };
}

static void pool_test_destroy(pool_test *pt)
{
    pthread_mutex_destroy(&pt->lock);
    pthread_cond_destroy(&pt->changed);
}

static void wait_started(pool_test *pt, int n)
{
    pthread_mutex_lock(&pt->lock);
    while (pt->started < n)
        pthread_cond_wait(&pt->changed, &pt->lock);
    pthread_mutex_unlock(&pt->lock);
}

static void open_gate(pool_test *pt, int n)
{
    pthread_mutex_lock(&pt->lock);
    pt->gate += n;
    pthread_cond_broadcast(&pt->changed);
    pthread_mutex_unlock(&pt->lock);
}

static int locked_read(pool_test *pt, const int *field)
{
    pthread_mutex_lock(&pt->lock);
    int v = *field;
    pthread_mutex_unlock(&pt->lock);
    return v;
}

/* More jobs than threads: exactly POOL_SIZE run at once, the rest wait their turn, all complete and
 * their results come back through the loop. */
static void test_pool_saturation(void **state)
{
    fixture *f = *state;
    pool_test pt;
    pool_test_init(&pt, f);
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, POOL_SIZE), 0);
    for (int i = 0; i < POOL_JOBS; i++)
        assert_int_equal(tw_call_in_thread(f->env.r, gated_job, &pt.jobs[i]), 0);

    /* One job finishes at a time; after each, the pool is full again, never fuller. */
    for (int done = 0; done < POOL_JOBS; done++) {
        int expect_running = POOL_JOBS - done < POOL_SIZE ? POOL_JOBS - done : POOL_SIZE;
        wait_started(&pt, done + expect_running);
        assert_int_equal(locked_read(&pt, &pt.started), done + expect_running);
        assert_true(tw_test_count_threads() <= f->threads_before + POOL_SIZE);
        open_gate(&pt, 1);
    }
    assert_true(tw_test_iterate_until(f->env.r, &pt.all_back, 30.0));
    assert_int_equal(pt.max_running, POOL_SIZE);
    for (int i = 0; i < POOL_JOBS; i++) {
        assert_true(pt.jobs[i].handed_back);
        assert_true(pt.jobs[i].ran_in_reactor);
        assert_int_equal(pt.jobs[i].result, i * i);
    }
    pool_test_destroy(&pt);
}

/* Work starts in FIFO order: with one thread, jobs run strictly one after another in order. */
typedef struct {
    atomic_int next;
    atomic_int out_of_order;
    atomic_int done;
} fifo_state;

typedef struct {
    fifo_state *s;
    int index;
} fifo_job;

static int fifo_work(void *arg)
{
    fifo_job *j = arg;
    if (atomic_fetch_add(&j->s->next, 1) != j->index)
        atomic_fetch_add(&j->s->out_of_order, 1);
    atomic_fetch_add(&j->s->done, 1);
    return 0;
}

static int done_flag(void *arg)
{
    *(bool *)arg = true;
    return 0;
}

static int signal_done(void *arg)
{
    void **pair = arg;
    return tw_call_from_thread(pair[0], done_flag, pair[1]);
}

static void test_pool_runs_work_in_fifo_order(void **state)
{
    fixture *f = *state;
    enum { N = 200 };
    fifo_state s = { 0 };
    fifo_job jobs[N];
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 1), 0);
    for (int i = 0; i < N; i++) {
        jobs[i] = (fifo_job){ &s, i };
        assert_int_equal(tw_call_in_thread(f->env.r, fifo_work, &jobs[i]), 0);
    }
    bool finished = false;
    void *pair[2] = { f->env.r, &finished };
    assert_int_equal(tw_call_in_thread(f->env.r, signal_done, pair), 0);
    assert_true(tw_test_iterate_until(f->env.r, &finished, 30.0));
    assert_int_equal(atomic_load(&s.done), N);
    assert_int_equal(atomic_load(&s.out_of_order), 0);
    assert_true(tw_test_count_threads() <= f->threads_before + 1);
}

static void test_pool_size_and_argument_errors(void **state)
{
    fixture *f = *state;
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 0), -EINVAL);
    assert_int_equal(tw_reactor_set_thread_pool_size(NULL, 4), -EINVAL);
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 1), 0);
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, TW_THREAD_POOL_DEFAULT), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, NULL, NULL), -EINVAL);
    assert_int_equal(tw_call_in_thread(NULL, fifo_work, NULL), -EINVAL);
    /* No work, no threads: the pool starts them on demand. */
    assert_int_equal(tw_test_count_threads(), f->threads_before);
}

/* A failing job is reported by the reactor; the pool goes on. */
static int failing_work(void *arg)
{
    (void)arg;
    return -EACCES;
}

static void test_failing_work_is_reported(void **state)
{
    fixture *f = *state;
    bool finished = false;
    void *pair[2] = { f->env.r, &finished };
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 1), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, failing_work, NULL), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, signal_done, pair), 0);
    assert_true(tw_test_iterate_until(f->env.r, &finished, 30.0));
    assert_int_equal(tw_test_log_errors(&f->env.log), 1);
    assert_true(tw_test_log_contains(&f->env.log, tw_strerror(-EACCES)));
}

/* A job that fails just as the reactor is freed: free() waits for it, and its report, queued for
 * the loop that will never turn again, is dropped without leaking (ASan checks). */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool started;
} start_signal;

static int failing_work_signalled(void *arg)
{
    start_signal *ss = arg;
    pthread_mutex_lock(&ss->lock);
    ss->started = true;
    pthread_cond_broadcast(&ss->changed);
    pthread_mutex_unlock(&ss->lock);
    return -EACCES;
}

static void test_failing_work_then_free(void **state)
{
    fixture *f = *state;
    start_signal ss = { .started = false };
    pthread_mutex_init(&ss.lock, NULL);
    pthread_cond_init(&ss.changed, NULL);
    assert_int_equal(tw_call_in_thread(f->env.r, failing_work_signalled, &ss), 0);
    pthread_mutex_lock(&ss.lock);
    while (!ss.started)
        pthread_cond_wait(&ss.changed, &ss.lock);
    pthread_mutex_unlock(&ss.lock);
    tw_reactor_free(f->env.r); /* joins the pool, so the job has returned and queued its report */
    pthread_mutex_destroy(&ss.lock);
    pthread_cond_destroy(&ss.changed);
    f->env.r = tw_reactor_new(NULL); /* for teardown */
    assert_non_null(f->env.r);
}

/* ---- shutdown and free ----------------------------------------------------------------------- */

typedef struct {
    fixture *f;
    pool_test *pt;
    int after_shutdown_rc;
} shutdown_test;

static int submit_jobs_then_wait(void *arg)
{
    shutdown_test *st = arg;
    for (int i = 0; i < POOL_JOBS; i++)
        if (tw_call_in_thread(st->f->env.r, gated_job, &st->pt->jobs[i]) != 0)
            return -EIO;
    open_gate(st->pt, POOL_JOBS);
    return 0;
}

static int after_shutdown(void *arg)
{
    shutdown_test *st = arg;
    st->after_shutdown_rc = tw_call_in_thread(st->f->env.r, fifo_work, NULL);
    return 0;
}

/* Pool threads started during run() are joined by the shutdown; later work is refused. */
static void test_pool_joined_at_shutdown(void **state)
{
    fixture *f = *state;
    pool_test pt;
    pool_test_init(&pt, f);
    pt.stop_when_all_back = true;
    shutdown_test st = { f, &pt, 0 };
    assert_int_equal(tw_call_when_running(f->env.r, submit_jobs_then_wait, &st), 0);
    assert_true(tw_reactor_add_trigger(f->env.r, TW_PHASE_AFTER, TW_EVENT_SHUTDOWN, after_shutdown,
                                       &st) > 0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_true(pt.all_back);
    assert_int_equal(st.after_shutdown_rc, -ESHUTDOWN);
    assert_int_equal(tw_call_in_thread(f->env.r, fifo_work, NULL), -ESHUTDOWN);
    assert_int_equal(tw_test_wait_threads_at_most(f->threads_before, 5.0), f->threads_before);
    assert_int_equal(tw_test_log_count(&f->env.log), 0);
    pool_test_destroy(&pt);
}

/* Work queued when stop() is called still runs during the shutdown, and what it hands back with
 * tw_call_from_thread runs before tw_reactor_run() returns. */
typedef struct {
    tw_reactor *r;
    atomic_int worked;
    int handed_back; /* reactor thread only */
} handback_test;

static int count_handback(void *arg)
{
    ((handback_test *)arg)->handed_back++;
    return 0;
}

static int work_then_hand_back(void *arg)
{
    handback_test *h = arg;
    atomic_fetch_add(&h->worked, 1);
    return tw_call_from_thread(h->r, count_handback, h);
}

static int queue_work_and_stop(void *arg)
{
    handback_test *h = arg;
    for (int i = 0; i < 8; i++)
        if (tw_call_in_thread(h->r, work_then_hand_back, h) != 0)
            return -EIO;
    return tw_reactor_stop(h->r);
}

static void test_shutdown_delivers_queued_work(void **state)
{
    fixture *f = *state;
    handback_test h = { .r = f->env.r, .worked = 0, .handed_back = 0 };
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 1), 0);
    assert_int_equal(tw_call_when_running(f->env.r, queue_work_and_stop, &h), 0);
    assert_int_equal(tw_reactor_run(f->env.r), 0);
    assert_int_equal(atomic_load(&h.worked), 8);
    assert_int_equal(h.handed_back, 8);
    assert_int_equal(tw_test_log_errors(&f->env.log), 0);
}

/* Free joins pool threads that are still alive (idle) and drops queued calls without running
 * them. */
static void test_free_joins_pool_and_drops_queued_calls(void **state)
{
    fixture *f = *state;
    bool finished = false;
    void *pair[2] = { f->env.r, &finished };
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 4), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tw_call_in_thread(f->env.r, signal_done, pair), 0);
    assert_true(tw_test_iterate_until(f->env.r, &finished, 30.0));
    assert_true(tw_test_count_threads() > f->threads_before);

    waker w = { .r = f->env.r };
    for (int i = 0; i < 100; i++)
        assert_int_equal(tw_call_from_thread(f->env.r, note_ran, &w), 0);
    tw_reactor_free(f->env.r);
    f->env.r = tw_reactor_new(NULL); /* for teardown */
    assert_non_null(f->env.r);
    assert_false(atomic_load(&w.ran));
    assert_int_equal(tw_test_wait_threads_at_most(f->threads_before, 5.0), f->threads_before);
}

/* Work queued but not started when the pool stops still runs: one thread busy in job A, B and C
 * queued; free() stops the pool while A runs, and all three complete before free() returns. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool a_started;
    bool a_may_finish;
    atomic_int ran;
} drop_state;

static int blocking_job(void *arg)
{
    drop_state *d = arg;
    pthread_mutex_lock(&d->lock);
    d->a_started = true;
    pthread_cond_broadcast(&d->changed);
    while (!d->a_may_finish)
        pthread_cond_wait(&d->changed, &d->lock);
    pthread_mutex_unlock(&d->lock);
    atomic_fetch_add(&d->ran, 1);
    return 0;
}

static int counted_job(void *arg)
{
    atomic_fetch_add(&((drop_state *)arg)->ran, 1);
    return 0;
}

typedef struct {
    drop_state *d;
    pid_t reactor_tid;
} releaser;

/* Lets A finish once the reactor thread is blocked (in free, joining the pool). */
static void *release_when_blocked(void *arg)
{
    releaser *rl = arg;
    wait_until_sleeping(rl->reactor_tid);
    pthread_mutex_lock(&rl->d->lock);
    rl->d->a_may_finish = true;
    pthread_cond_broadcast(&rl->d->changed);
    pthread_mutex_unlock(&rl->d->lock);
    return NULL;
}

static void test_free_finishes_queued_work(void **state)
{
    fixture *f = *state;
    drop_state d = { .ran = 0 };
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.changed, NULL);
    assert_int_equal(tw_reactor_set_thread_pool_size(f->env.r, 1), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, blocking_job, &d), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, counted_job, &d), 0);
    assert_int_equal(tw_call_in_thread(f->env.r, counted_job, &d), 0);
    pthread_mutex_lock(&d.lock);
    while (!d.a_started)
        pthread_cond_wait(&d.changed, &d.lock);
    pthread_mutex_unlock(&d.lock);

    releaser rl = { &d, current_tid() };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_when_blocked, &rl), 0);
    tw_reactor_free(f->env.r);
    f->env.r = tw_reactor_new(NULL); /* for teardown */
    assert_non_null(f->env.r);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&d.ran), 3);
    pthread_mutex_destroy(&d.lock);
    pthread_cond_destroy(&d.changed);
}

int main(void)
{
    alarm(WATCHDOG_SECONDS);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storm_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_then_one_turn_runs_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_wakes_blocked_iterate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_from_thread_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_call_from_thread_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_saturation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_runs_work_in_fifo_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_size_and_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_work_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_work_then_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_joined_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_delivers_queued_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_joins_pool_and_drops_queued_calls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_finishes_queued_work, setup, teardown),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
