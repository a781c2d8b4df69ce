/* Tests for listening ports: TCP4, TCP6 and UNIX listening, port 0, bind errors, stale and live
 * UNIX socket files, the adaptive multi-accept loop (and its bound), factories that refuse
 * connections, doStart/doStop, stop_listening from inside a callback, and surviving EMFILE on
 * accept (the spare descriptor sheds load; with none left the port pauses on a timer instead of
 * spinning). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/syscalls.h"
#include "support/reactor_test.h"

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories */
    size_t want_made; /* for made_n */
} fixture;

static int setup(void **state)
{
    return tw_test_net_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_net_fixture_teardown(state);
}

static void lose_all(fixture *f)
{
    for (size_t i = 0; i < f->net.server.npeers; i++)
        if (f->net.server.peers[i]->transport)
            tw_transport_lose_connection(f->net.server.peers[i]->transport);
    if (f->net.server.npeers)
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

static bool made_n(void *arg)
{
    fixture *f = arg;
    return tw_test_factory_made(&f->net.server) >= f->want_made;
}

static void test_listen_tcp4_port0_and_stop(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, NULL, 0, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_int_equal(f->net.server.started, 1);
    tw_address a;
    assert_int_equal(tw_port_get_host(p, &a), 0);
    assert_int_equal(a.type, TW_ADDRESS_TCP4);
    assert_string_equal(a.host, "0.0.0.0");
    assert_true(a.port > 0);
    int fd = tw_test_tcp_client(a.port);
    assert_true(fd >= 0);
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    assert_int_equal(tw_port_accepted(p), 1);
    /* a second port on the same address is refused */
    assert_null(tw_listen_tcp(f->net.r, a.port, "127.0.0.1", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EADDRINUSE);
    assert_int_equal(f->net.server.started, 1);
    assert_int_equal(tw_port_stop_listening(p), 0);
    assert_int_equal(f->net.server.stopped,
                     1); /* ports use the factory; accepted connections do not */
    /* the accepted connection stays open after stop_listening */
    tw_test_peer *s = f->net.server.peers[0];
    assert_non_null(s->transport);
    assert_int_equal(tw_transport_write(s->transport, "hi", 2), 0);
    char buf[2];
    assert_int_equal(tw_test_read_full(fd, buf, 2), 2);
    /* and nobody listens any more */
    assert_int_equal(tw_test_tcp_client(a.port), -ECONNREFUSED);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_int_equal(tw_port_stop_listening(NULL), -EINVAL);
    tw_port_free(p);
}

static void test_factory_stops_with_last_port(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *a = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    tw_port *b = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(f->net.server.started, 1);
    tw_port_stop_listening(a);
    assert_int_equal(f->net.server.stopped, 0);
    tw_port_stop_listening(b);
    assert_int_equal(f->net.server.stopped, 1);
    assert_int_equal(f->net.server.factory.num_ports, 0);
    tw_port_free(a);
    tw_port_free(b);
}

static void test_listen_tcp6(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp6(f->net.r, 0, "::1", 0, &f->net.server.factory, &err);
    if (!p && (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT)) {
        skip(); /* no IPv6 loopback in this environment */
        return;
    }
    assert_non_null(p);
    tw_address a;
    assert_int_equal(tw_port_get_host(p, &a), 0);
    assert_int_equal(a.type, TW_ADDRESS_TCP6);
    char text[80], want[80];
    tw_address_format(&a, text, sizeof text);
    snprintf(want, sizeof want, "tcp6:[::1]:%u", (unsigned)a.port);
    assert_string_equal(text, want);
    tw_test_factory client;
    tw_test_factory_init(&client);
    assert_non_null(tw_connect_tcp(f->net.r, "::1", a.port, 5, &client.factory, &err));
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    assert_int_equal(f->net.server.peers[0]->peer_addr.type, TW_ADDRESS_TCP6);
    assert_string_equal(f->net.server.peers[0]->peer_addr.host, "::1");
    tw_port_free(p);
    lose_all(f);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &client, 5));
    tw_test_factory_free(&client);
}

static void test_listen_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_listen_tcp(f->net.r, 0, "not-an-address", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_listen_tcp(f->net.r, 0, "::1", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_listen_tcp6(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_listen_tcp(NULL, 0, NULL, 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_listen_tcp(f->net.r, 0, NULL, 0, NULL, &err));
    assert_int_equal(err, -EINVAL);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    assert_null(tw_listen_unix(f->net.r, longpath, 0, &f->net.server.factory, &err));
    assert_int_equal(err, -ENAMETOOLONG);
    assert_null(tw_listen_unix(f->net.r, "", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(
        tw_listen_unix(f->net.r, "/nonexistent-dir/x.sock", 0, &f->net.server.factory, &err));
    assert_int_equal(err, -ENOENT);
    assert_null(tw_listen_unix_mode(f->net.r, "/tmp/x.sock", 01666, 0, &f->net.server.factory,
                                    &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(f->net.server.started, 0);
    assert_null(
        tw_listen_tcp(f->net.r, 0, "bad", 0, &f->net.server.factory, NULL)); /* err may be NULL */
}

/* ---- UNIX socket files ----------------------------------------------------------------------- */

static void test_unix_stale_socket_replaced(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "stale");
    /* a socket file left behind by a listener that died */
    int old = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(old, (struct sockaddr *)&sun, sizeof sun), 0);
    close(old);
    assert_int_equal(access(path, F_OK), 0);
    int err = 0;
    tw_port *p = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(p);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, TW_PORT_UNIX_MODE_DEFAULT); /* whatever the umask */
    int fd = tw_test_unix_client(path);
    assert_true(fd >= 0);
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    /* a live one is in use */
    tw_test_factory other;
    tw_test_factory_init(&other);
    assert_null(tw_listen_unix(f->net.r, path, 0, &other.factory, &err));
    assert_int_equal(err, -EADDRINUSE);
    assert_int_equal(access(path, F_OK), 0); /* and was left alone */
    tw_address a;
    assert_int_equal(tw_port_get_host(p, &a), 0);
    assert_string_equal(a.path, path);
    tw_port_stop_listening(p);
    assert_int_equal(access(path, F_OK), -1);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
    tw_test_factory_free(&other);
}

/* Anything but a socket at the path (a regular file, a directory) is refused with -ENOTSOCK, not
 * "in use", and left exactly as it was. */
static void test_unix_path_not_a_socket(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "file");
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    int err = 0;
    assert_null(tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err));
    assert_int_equal(err, -ENOTSOCK);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0); /* a regular file is never removed */
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
    assert_int_equal(st.st_mode & 07777, 0600);
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err));
    assert_int_equal(err, -ENOTSOCK);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(f->net.server.started, 0);
}

/* Another user than the one running the tests (root): nobody. */
#define OTHER_UID 65534
/* Where connect_as_other_on_listen connects. */
static char unix_probe_path[108];

/* Connects to path as OTHER_UID in a forked child: 0 when the connect succeeded, else its errno. */
static int connect_as_other_user(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(OTHER_UID) < 0 || setuid(OTHER_UID) < 0)
            _exit(255);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
        _exit(connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 ? 0 : errno);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* Runs in the moment the socket starts listening (a listen() hook): as soon as anyone can. */
static void connect_as_other_on_listen(int fd, void *arg)
{
    (void)fd;
    int *result = arg;
    *result = connect_as_other_user(unix_probe_path);
}

/* Listens on path with the given mode, with the widest umask (so bind() alone would let anyone
 * connect) and another user trying to connect the moment the socket listens; *other gets what
 * that user's connect returned. by_string: through tw_server_listen ("unix:PATH:mode=OCTAL"). */
static tw_port *listen_unix_probed(fixture *f, const char *path, unsigned mode, bool by_string,
                                   int *other)
{
    int err = 0;
    tw_port *p;
    snprintf(unix_probe_path, sizeof unix_probe_path, "%s", path);
    *other = -1;
    mode_t old = umask(0);
    tw_test_set_listen_hook(connect_as_other_on_listen, other);
    if (by_string) {
        char description[160];
        tw_server_description d;
        snprintf(description, sizeof description, "unix:%s:mode=%o", path, mode);
        assert_int_equal(tw_server_from_string(description, &d, NULL, 0), 0);
        p = tw_server_listen(f->net.r, &d, &f->net.server.factory, &err);
    } else {
        p = tw_listen_unix_mode(f->net.r, path, mode, 0, &f->net.server.factory, &err);
    }
    tw_test_set_listen_hook(NULL, NULL);
    umask(old);
    assert_non_null(p);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, mode);
    return p;
}

/* The socket file's mode is in place before the socket can accept: another user connecting the
 * moment it listens is refused by a 0600 socket, and let in by a 0666 one. */
static void test_unix_mode_applied_before_listen(void **state)
{
    fixture *f = *state;
    if (geteuid() != 0) {
        print_message("skipped: connecting as another user needs root\n");
        skip();
    }
    char dir[] = "/tmp/twine-mode-XXXXXX", path[108];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0711), 0); /* the other user may reach the socket, not list */
    snprintf(path, sizeof path, "%s/s", dir);
    for (int by_string = 0; by_string < 2; by_string++) {
        int other;
        tw_port *p = listen_unix_probed(f, path, 0600, by_string, &other);
        assert_int_equal(other, EACCES);
        for (int i = 0; i < 3; i++)
            tw_reactor_iterate(f->net.r, 0);
        assert_int_equal(tw_port_accepted(p), 0);
        tw_port_free(p);
    }
    int other;
    tw_port *p = listen_unix_probed(f, path, 0666, false, &other);
    assert_int_equal(other, 0);
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5)); /* it exited */
    tw_port_free(p);
    assert_int_equal(rmdir(dir), 0);
}

/* A live listener that accepts nothing and whose backlog is full (a stopped server, say) is in use
 * too: finding that out must not wait for it to accept. */
static void test_unix_live_listener_with_full_backlog(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "full");
    int live = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(live, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(live, 0), 0);
    int filler = tw_test_unix_client(path); /* takes the one place of the backlog */
    assert_true(filler >= 0);
    alarm(10); /* a probe that blocks would wait for ever: fail the test instead */
    int err = 0;
    assert_null(tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err));
    alarm(0);
    assert_int_equal(err, -EADDRINUSE);
    assert_int_equal(access(path, F_OK), 0);
    close(filler);
    close(live);
    unlink(path);
}

/* ---- backlog --------------------------------------------------------------------------------- */

/* What the kernel allows a listen queue (net.core.somaxconn), or the documented fallback. */
static int kernel_somaxconn(void)
{
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    int v = 0;
    if (!f)
        return TW_PORT_BACKLOG_FALLBACK;
    if (fscanf(f, "%d", &v) != 1 || v <= 0)
        v = TW_PORT_BACKLOG_FALLBACK;
    fclose(f);
    return v;
}

/* Without a backlog a port asks for the kernel's limit (not Twisted's 50, which a burst of
 * connections overflows); a backlog given is passed as it is. */
static void test_default_backlog_is_somaxconn(void **state)
{
    fixture *f = *state;
    int err = 0, want = kernel_somaxconn();
    char path[108];
    tw_test_unix_path(path, sizeof path, "backlog");
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_int_equal(tw_test_last_listen_backlog(), want);
    tw_port_free(p);
    p = tw_listen_unix(f->net.r, path, TW_PORT_BACKLOG_DEFAULT, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_int_equal(tw_test_last_listen_backlog(), want);
    tw_port_free(p);
    tw_server_description d;
    assert_int_equal(tw_server_from_string("tcp:0:interface=127.0.0.1", &d, NULL, 0), 0);
    p = tw_server_listen(f->net.r, &d, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_int_equal(tw_test_last_listen_backlog(), want);
    tw_port_free(p);
    p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 7, &f->net.server.factory, &err);
    assert_non_null(p);
    assert_int_equal(tw_test_last_listen_backlog(), 7);
    tw_port_free(p);
}

/* ---- accepting ------------------------------------------------------------------------------- */

static void test_multi_accept_in_one_readiness(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 128, &f->net.server.factory, &err);
    uint16_t port = tw_test_port_number(p);
    int fds[50];
    for (int i = 0; i < 50; i++)
        assert_true((fds[i] = tw_test_tcp_client(port)) >= 0); /* complete in the backlog */
    assert_true(tw_reactor_iterate(f->net.r, 1) >= 1);
    assert_int_equal(tw_port_accepted(p), 50);
    assert_int_equal(tw_test_factory_made(&f->net.server), 50);
    /* with the bound at 1, one accept per readiness */
    assert_int_equal(tw_port_set_max_accepts(p, 0), -EINVAL);
    assert_int_equal(tw_port_set_max_accepts(p, 1), 0);
    int more[3];
    for (int i = 0; i < 3; i++)
        assert_true((more[i] = tw_test_tcp_client(port)) >= 0);
    tw_reactor_iterate(f->net.r, 1);
    assert_int_equal(tw_port_accepted(p), 51);
    tw_reactor_iterate(f->net.r, 1);
    assert_int_equal(tw_port_accepted(p), 52);
    tw_reactor_iterate(f->net.r, 1);
    assert_int_equal(tw_port_accepted(p), 53);
    tw_port_free(p);
    for (int i = 0; i < 50; i++)
        close(fds[i]);
    for (int i = 0; i < 3; i++)
        close(more[i]);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

/* A lone connection costs one accept4: after the first accept of a wake the port asks poll()
 * whether more are waiting instead of trying accept4 again on an empty queue (which costs the
 * kernel a socket made and thrown away). */
static void test_lone_connection_costs_one_accept(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    int fd = tw_test_tcp_client(tw_test_port_number(p));
    assert_true(fd >= 0);
    tw_test_accept_counts before = tw_test_accept_counts_now();
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    tw_test_accept_counts after = tw_test_accept_counts_now();
    assert_int_equal(after.calls - before.calls, 1);
    assert_int_equal(after.empty - before.empty, 0);
    tw_port_free(p);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

static void test_refused_by_factory(void **state)
{
    fixture *f = *state;
    f->net.server.refuse = -EPERM;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    int fd = tw_test_tcp_client(tw_test_port_number(p));
    while (tw_port_accepted(p) == 0)
        tw_reactor_iterate(f->net.r, 0.05);
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* closed at once */
    assert_int_equal(tw_transport_count(f->net.r), 0);
    assert_int_equal(f->net.server.npeers, 0);
    close(fd);
    tw_port_free(p);
}

static tw_port *stop_me;

static int stop_port_on_made(tw_protocol *proto)
{
    (void)proto;
    if (stop_me) {
        tw_port_stop_listening(stop_me);
        tw_port_free(stop_me);
    }
    stop_me = NULL;
    return 0;
}

static int build_stopper(tw_factory *fac, const tw_address *peer, tw_protocol *out)
{
    (void)fac;
    (void)peer;
    static const tw_protocol_ops ops = {.connection_made = stop_port_on_made};
    out->ops = &ops;
    return 0;
}

/* stop_listening and tw_port_free from inside the port's own accept loop: the loop ends at once and
 * the port is freed only after it. */
static void test_stop_listening_inside_accept(void **state)
{
    fixture *f = *state;
    static const tw_factory_ops fops = {.build_protocol = build_stopper};
    tw_factory fac = {.ops = &fops};
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &fac, &err);
    uint16_t port = tw_test_port_number(p);
    int a = tw_test_tcp_client(port), b = tw_test_tcp_client(port);
    stop_me = p;
    tw_reactor_iterate(f->net.r, 1);
    assert_null(stop_me);
    assert_int_equal(tw_transport_count(f->net.r), 1); /* the second was never accepted */
    assert_int_equal(fac.num_ports, 0);
    close(a);
    close(b);
    while (tw_transport_count(f->net.r) > 0)
        tw_reactor_iterate(f->net.r, 0.05);
}

/* ---- EMFILE ---------------------------------------------------------------------------------- */

static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd);
    return fd;
}

static void set_soft_nofile(rlim_t n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = n;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void test_emfile_sheds_with_spare_fd(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    uint16_t port = tw_test_port_number(p);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = tw_test_tcp_client(port);
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    set_soft_nofile((rlim_t)lowest_free_fd()); /* no new descriptor can be made */
    tw_reactor_iterate(f->net.r, 1);
    int logged = tw_test_log_count(&f->net.log);
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->net.r, 0);
    setrlimit(RLIMIT_NOFILE, &saved);
    assert_int_equal(tw_port_shed(p), 5);
    assert_int_equal(tw_port_accepted(p), 0);
    assert_true(tw_test_log_contains(&f->net.log, "closed 5 pending connections"));
    assert_int_equal(tw_test_log_count(&f->net.log), logged); /* no spinning on the listener */
    for (int i = 0; i < 5; i++) {
        char c;
        assert_true(read(fds[i], &c, 1) <= 0); /* shed: closed by the server */
        close(fds[i]);
    }
    /* the spare is back: the port keeps working */
    int fd = tw_test_tcp_client(port);
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

static void test_emfile_without_spare_pauses(void **state)
{
    fixture *f = *state;
    tw_test_clock_install(f->net.r, &f->net.clock);
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    uint16_t port = tw_test_port_number(p);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = tw_test_tcp_client(port);
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    set_soft_nofile(3); /* even the spare's slot is above the limit */
    tw_reactor_iterate(f->net.r, 1);
    int logged = tw_test_log_count(&f->net.log);
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_reactor_iterate(f->net.r, 0),
                         0); /* paused: the ready listener is ignored */
    setrlimit(RLIMIT_NOFILE, &saved);
    assert_true(tw_test_log_contains(&f->net.log, "not accepting for"));
    assert_int_equal(tw_test_log_count(&f->net.log), logged);
    assert_int_equal(tw_port_accepted(p), 0);
    tw_test_clock_advance(&f->net.clock, TW_PORT_EMFILE_PAUSE);
    f->want_made = 3;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    assert_int_equal(tw_port_accepted(p), 3);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

/* Out of fds for good: the port retries every TW_PORT_EMFILE_PAUSE and fails each time. Its
 * warnings are coalesced to one line per TW_LOG_REPEAT_INTERVAL, which counts the ones held back,
 * instead of a line per retry. */
static void test_emfile_warnings_coalesced(void **state)
{
    fixture *f = *state;
    tw_test_clock_install(f->net.r, &f->net.clock);
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    int fd = tw_test_tcp_client(tw_test_port_number(p));
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    set_soft_nofile(3);
    tw_reactor_iterate(f->net.r, 1);
    int logged = tw_test_log_count(&f->net.log);
    assert_true(logged >= 1); /* the first failure is reported at once */
    tw_test_accept_counts before = tw_test_accept_counts_now();
    for (double t = 0; t < 2.5 * TW_LOG_REPEAT_INTERVAL; t += TW_PORT_EMFILE_PAUSE / 2)
        tw_test_clock_turn(f->net.r, &f->net.clock, TW_PORT_EMFILE_PAUSE / 2);
    long retries = tw_test_accept_counts_now().calls - before.calls;
    setrlimit(RLIMIT_NOFILE, &saved);
    assert_true(retries >= 10); /* a retry every other turn, each failing */
    assert_int_equal(tw_port_accepted(p), 0);
    /* 2.5 intervals: the first line, then one per interval, each naming the lines it stands for */
    assert_int_equal(tw_test_log_count(&f->net.log), logged + 2);
    assert_true(tw_test_log_contains(&f->net.log, "similar warnings held back"));
    close(fd);
    tw_port_free(p);
}

/* ---- fds the backend cannot watch ------------------------------------------------------------ */

static bool is_select_backend(void)
{
    return strcmp(tw_reactor_backend(), "select") == 0;
}

static bool accepted_or_shed(void *arg)
{
    const tw_port *p = arg;
    return tw_port_accepted(p) + tw_port_shed(p) > 0;
}

/* A connection accepted on an fd at or above FD_SETSIZE: select cannot watch it, so the port sheds
 * it as it sheds on EMFILE (closed, logged, counted as shed, never made); other backends take
 * it. */
static void test_accepted_fd_beyond_select_limit(void **state)
{
    fixture *f = *state;
    tw_test_skip_unless_fds_past(FD_SETSIZE);
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    tw_test_fd_filler filler;
    tw_test_fds_fill_below(&filler, FD_SETSIZE);
    int fds0 = tw_test_count_open_fds();
    int client = tw_test_tcp_client(tw_test_port_number(p));
    assert_true(client >= FD_SETSIZE);
    assert_true(tw_test_run_until(f->net.r, accepted_or_shed, p, 5));
    if (is_select_backend()) {
        assert_int_equal(tw_port_shed(p), 1);
        assert_int_equal(tw_port_accepted(p), 0);
        assert_int_equal(tw_transport_count(f->net.r), 0);
        assert_int_equal(f->net.server.npeers, 0);
        assert_true(tw_test_log_contains(&f->net.log, "accept: cannot take the connection"));
        char c;
        assert_true(read(client, &c, 1) <= 0); /* closed by the server */
        assert_int_equal(tw_test_count_open_fds(), fds0 + 1); /* the client's end only */
    } else {
        f->want_made = 1;
        assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
        assert_int_equal(tw_port_accepted(p), 1);
        assert_int_equal(tw_port_shed(p), 0);
        assert_int_equal(tw_transport_count(f->net.r), 1);
    }
    close(client);
    tw_test_fds_release(&filler);
    if (!is_select_backend())
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    /* with low fds free again the port takes connections as before */
    int again = tw_test_tcp_client(tw_test_port_number(p));
    f->want_made = f->net.server.npeers + 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    close(again);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_port_free(p);
}

static void test_shutdown_stops_ports(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "shut");
    int err = 0;
    tw_port *ports[2] = {tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err),
                         tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err)};
    assert_non_null(ports[0]);
    assert_non_null(ports[1]);
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(f->net.server.stopped, 1);
    assert_int_equal(access(path, F_OK), -1);
    tw_port_free(ports[0]);
    tw_port_free(ports[1]);
}

/* A port kept past the shutdown is a valid stopped handle: stopping it again is an error, not a use
 * after free, and it still answers questions until its owner frees it. */
static void test_port_kept_past_shutdown(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "kept");
    int err = 0;
    tw_port *tcp = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    tw_port *unix_port = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(tcp);
    assert_non_null(unix_port);
    int fd = tw_test_tcp_client(tw_test_port_number(tcp));
    f->want_made = 1;
    assert_true(tw_test_run_until(f->net.r, made_n, f, 5));
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(f->net.server.stopped, 1);
    assert_int_equal(tw_port_stop_listening(tcp), -ENOTCONN);
    assert_int_equal(tw_port_stop_listening(unix_port), -ENOTCONN);
    tw_address a;
    assert_int_equal(tw_port_get_host(tcp, &a), -ENOTCONN);
    assert_int_equal(tw_port_accepted(tcp), 1); /* the counters outlive the socket */
    assert_int_equal(f->net.server.stopped, 1); /* nothing stopped twice */
    assert_int_equal(access(path, F_OK), -1);
    tw_port_free(tcp);
    tw_port_free(unix_port);
    close(fd);
}

/* The handle outlives the reactor too: tw_reactor_free stops the port, its owner frees it. */
static void test_port_kept_past_reactor_free(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    tw_reactor_free(f->net.r);
    f->net.r = tw_reactor_new(NULL); /* for the fixture's teardown */
    assert_int_equal(f->net.server.stopped, 1);
    assert_int_equal(tw_port_stop_listening(p), -ENOTCONN);
    assert_int_equal(tw_port_set_max_accepts(p, 5), 0);
    tw_port_free(p);
    tw_port_free(NULL);
}

/* Stopping is not releasing: a stopped port stays valid until tw_port_free. */
static void test_stop_then_free(void **state)
{
    fixture *f = *state;
    int err = 0;
    tw_port *p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    uint16_t port = tw_test_port_number(p);
    assert_int_equal(tw_port_stop_listening(p), 0);
    assert_int_equal(tw_port_stop_listening(p), -ENOTCONN);
    assert_int_equal(f->net.server.stopped, 1);
    assert_int_equal(tw_test_tcp_client(port), -ECONNREFUSED);
    tw_port_free(p);
    /* freeing a port that still listens stops it first */
    p = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(p);
    port = tw_test_port_number(p);
    tw_port_free(p);
    assert_int_equal(f->net.server.stopped, 2);
    assert_int_equal(tw_test_tcp_client(port), -ECONNREFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listen_tcp4_port0_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factory_stops_with_last_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_tcp6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_stale_socket_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_path_not_a_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_live_listener_with_full_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_mode_applied_before_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_backlog_is_somaxconn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_accept_in_one_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lone_connection_costs_one_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_by_factory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_listening_inside_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emfile_sheds_with_spare_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emfile_warnings_coalesced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emfile_without_spare_pauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accepted_fd_beyond_select_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_stops_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_kept_past_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_kept_past_reactor_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_then_free, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
