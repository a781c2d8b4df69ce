/* The reactor and fork(), with real child processes: a reactor belongs to the process that made it.
 * A child may only free its copy, and that must leave the parent's kernel state alone (its epoll
 * set, its listeners, its UNIX socket paths, its waker) and run no callback; a signal sent to a
 * child reaches that child, not the parent's reactor; a child cannot run the parent's reactor, but
 * may make its own and own the signal handlers with it. Children report through their exit
 * status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"

/* Callbacks of the counting factory: in a child they must stay 0. */
static int made, lost, factory_stops;

static int count_made(tw_protocol *p)
{
    (void)p;
    made++;
    return 0;
}

static void count_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)p;
    (void)reason;
    lost++;
}

static const tw_protocol_ops counting_ops = {.connection_made = count_made,
                                             .connection_lost = count_lost};

static int build_counting(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &counting_ops;
    return 0;
}

static void count_stop(tw_factory *f)
{
    (void)f;
    factory_stops++;
}

static const tw_factory_ops counting_factory_ops = {.build_protocol = build_counting,
                                                    .stop_factory = count_stop};

static int setup(void **state)
{
    (void)state;
    made = lost = factory_stops = 0;
    return 0;
}

/* Forks; the child runs fn(arg) and exits with its return value (it never returns here). Returns
 * the child's wait status. A child that hangs is killed by SIGALRM after 10 s. */
static int in_child(int (*fn)(void *arg), void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        _exit(fn(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exited_zero(int status)
{
    if (WIFSIGNALED(status))
        print_message("child killed by signal %d\n", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The child frees its copy of the reactor: nothing may run there. */
static int free_copy(void *arg)
{
    tw_reactor_free(arg);
    return made + lost + factory_stops;
}

static bool made_one(void *arg)
{
    (void)arg;
    return made > 0;
}

static volatile bool woken;

static int set_woken(void *arg)
{
    (void)arg;
    woken = true;
    return 0;
}

static void *call_from_other_thread(void *arg)
{
    tw_call_from_thread(arg, set_woken, NULL);
    return NULL;
}

/* After a child freed its copy, the parent still accepts on its TCP and UNIX ports, its UNIX socket
 * file is still there, and its waker still wakes it. */
static void test_child_free_leaves_the_parent_serving(void **state)
{
    (void)state;
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    assert_non_null(r);
    tw_factory factory = {.ops = &counting_factory_ops};
    char path[108];
    tw_test_unix_path(path, sizeof path, "fork");
    int err = 0;
    tw_port *tcp = tw_listen_tcp(r, 0, "127.0.0.1", 0, &factory, &err);
    assert_non_null(tcp);
    tw_port *unix_port = tw_listen_unix(r, path, 0, &factory, &err);
    assert_non_null(unix_port);
    assert_int_equal(tw_reactor_iterate(r, 0), 0); /* the registrations reach the kernel */

    assert_exited_zero(in_child(free_copy, r));

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int tcp_client = tw_test_tcp_client(tw_test_port_number(tcp));
    assert_true(tcp_client >= 0);
    assert_true(tw_test_run_until(r, made_one, NULL, 5));
    int unix_client = tw_test_unix_client(path);
    assert_true(unix_client >= 0);
    made = 0;
    assert_true(tw_test_run_until(r, made_one, NULL, 5));
    woken = false;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_from_other_thread, r), 0);
    assert_true(tw_test_iterate_until(r, &woken, 5));
    pthread_join(th, NULL);
    close(tcp_client);
    close(unix_client);
    tw_port_free(tcp);
    tw_port_free(unix_port);
    tw_test_reactor_free(r, &log);
}

/* A pool thread of the parent does not exist in the child: freeing must not wait for it. */
static int pool_work(void *arg)
{
    (void)arg;
    return 0;
}

static void test_child_free_returns_with_pool_threads(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    woken = false;
    assert_int_equal(tw_call_in_thread(r, pool_work, NULL), 0);
    assert_int_equal(tw_call_in_thread(r, pool_work, NULL), 0);
    assert_exited_zero(in_child(free_copy, r));
    tw_reactor_free(r);
}

/* The child cannot run the parent's reactor: it would take the parent's events. */
static int run_copy(void *arg)
{
    tw_reactor *r = arg;
    int iterated = tw_reactor_iterate(r, 0);
    int ran = tw_reactor_run(r);
    tw_reactor_free(r);
    return iterated == -EPERM && ran == -EPERM ? 0 : 1;
}

static void test_child_cannot_run_the_parents_reactor(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    assert_exited_zero(in_child(run_copy, r));
    assert_int_equal(tw_reactor_iterate(r, 0), 0);
    tw_reactor_free(r);
}

/* SIGTERM sent to a child goes to the child, with the disposition it had before twine (here the
 * default: the child dies of it); the parent's reactor hears nothing. */
static int signal_self(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM);
    return 0; /* reached only if the signal was swallowed */
}

static void test_signal_to_a_child_reaches_the_child(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    assert_int_equal(tw_reactor_install_signal_handlers(r), 0);
    int status = in_child(signal_self, NULL);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    for (int i = 0; i < 3; i++)
        assert_true(tw_reactor_iterate(r, 0) >= 0);
    assert_int_equal(tw_reactor_exit_signal(r), 0);
    tw_reactor_free(r);
}

static void quiet(void *ctx, tw_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    (void)message;
}

/* A child that freed the parent's reactor may make its own and own the signal handlers with it. */
static int own_reactor_and_signals(void *arg)
{
    tw_reactor_free(arg);
    tw_reactor *mine = tw_reactor_new(NULL);
    if (!mine || tw_reactor_install_signal_handlers(mine) != 0)
        return 1;
    tw_reactor_set_logger(mine, quiet, NULL);
    kill(getpid(), SIGTERM);
    for (int i = 0; i < 3 && !tw_reactor_exit_signal(mine); i++)
        tw_reactor_iterate(mine, 1);
    int sig = tw_reactor_exit_signal(mine);
    tw_reactor_free(mine);
    return sig == SIGTERM ? 0 : 2;
}

static void test_child_owns_signals_with_its_own_reactor(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    assert_int_equal(tw_reactor_install_signal_handlers(r), 0);
    assert_exited_zero(in_child(own_reactor_and_signals, r));
    for (int i = 0; i < 3; i++)
        assert_true(tw_reactor_iterate(r, 0) >= 0);
    assert_int_equal(tw_reactor_exit_signal(r), 0);
    tw_reactor_free(r);
}

static bool lost_one(void *arg)
{
    (void)arg;
    return lost > 0;
}

/* After a fork the parent's sockets have copies in the child, so a watch would outlive their close
 * in the parent unless taken back first: twine then does so for its own sockets too. */
static void test_closes_after_a_fork_take_watches_back(void **state)
{
    (void)state;
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    assert_non_null(r);
    tw_factory factory = {.ops = &counting_factory_ops};
    int err = 0;
    tw_port *port = tw_listen_tcp(r, 0, "127.0.0.1", 0, &factory, &err);
    assert_non_null(port);
    tw_reactor_iterate(r, 0);
    int client = tw_test_tcp_client(tw_test_port_number(port));
    assert_true(client >= 0);
    int server_fd = tw_test_lowest_free_fd(); /* what accept4 is about to return */
    assert_true(tw_test_run_until(r, made_one, NULL, 5));
    tw_reactor_iterate(r, 0); /* its reader reaches the kernel */
    assert_int_equal(tw_test_epoll_watches(server_fd),
                     strcmp(tw_reactor_backend(), "epoll") ? -1 : 1);
    int hold[2];
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* holds copies of every fd until the parent lets go */
        char byte;
        close(hold[1]);
        alarm(10);
        _exit(read(hold[0], &byte, 1) == 0 ? 0 : 1);
    }
    close(hold[0]);
    shutdown(client, SHUT_WR); /* the server reads the end of the stream and closes */
    assert_true(tw_test_run_until(r, lost_one, NULL, 5));
    if (strcmp(tw_reactor_backend(), "epoll") == 0)
        assert_int_equal(tw_test_epoll_watches(server_fd), 0);
    close(hold[1]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_exited_zero(status);
    close(client);
    tw_port_free(port);
    tw_test_reactor_free(r, &log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_child_free_leaves_the_parent_serving, setup),
        cmocka_unit_test_setup(test_child_free_returns_with_pool_threads, setup),
        cmocka_unit_test_setup(test_child_cannot_run_the_parents_reactor, setup),
        cmocka_unit_test_setup(test_signal_to_a_child_reaches_the_child, setup),
        cmocka_unit_test_setup(test_child_owns_signals_with_its_own_reactor, setup),
        cmocka_unit_test_setup(test_closes_after_a_fork_take_watches_back, setup),
    };
    return cmocka_run_group_tests_name("fork", tests, NULL, NULL);
}
