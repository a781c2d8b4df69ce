/* End-to-end tests of the twined program, run as a subprocess ($TWINE_BUILD/twined): --version and
 * --help, bad arguments (status 2), failures to listen (status 1), echo over TCP, TCP6 and UNIX
 * with half-close, back-pressure against a client that does not read, and SIGTERM / SIGINT. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/stop_signal.h"
#include "support/twined_child.h"

/* Guards only: a correct run finishes each wait in milliseconds. */
#define WAIT_SECONDS 10.0
/* The contract: SIGINT / SIGTERM end twined within this many seconds. */
#define SIGNAL_EXIT_SECONDS 2.0
/* How long the kernel must refuse more bytes before a non-reading client counts as stalled. */
#define STALL_SECONDS 0.5
/* Back-pressure test: bytes pushed at most, and the server's RSS growth allowed meanwhile. */
#define PUSH_MAX (64u << 20)
#define RSS_GROWTH_MAX_KIB 4096
#define OUTPUT_MAX 8192

/* ---- the child process ----------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int out, err;                  /* read ends of its stdout and stderr, -1 at EOF */
    char out_text[OUTPUT_MAX], err_text[OUTPUT_MAX];
    size_t out_len, err_len;
    int status;                    /* exit status, or -signal */
} child;

static const char *twined_path(void)
{
    static char path[512];
    const char *build = getenv("TWINE_BUILD");
    if (build)
        snprintf(path, sizeof path, "%s/twined", build);
    else
        snprintf(path, sizeof path, "build/%s/twined", tw_reactor_backend());
    return path;
}

/* Under AddressSanitizer freed memory sits in a quarantine that would read as growth in the
 * back-pressure test; a small quarantine keeps RSS about what the program really holds. */
static void child_environment(void)
{
#if defined(__SANITIZE_ADDRESS__)
    static char options[1024];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(options, sizeof options, "%s%squarantine_size_mb=1", old ? old : "", old ? ":" : "");
    setenv("ASAN_OPTIONS", options, 1);
#endif
}

/* Starts twined with args (NULL-terminated, without the program name). */
static void spawn(child *c, const char *const *args)
{
    const char *argv[40] = {twined_path()};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        assert_true(n < 39);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    int out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    memset(c, 0, sizeof *c);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        child_environment();
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    c->out = out[0];
    c->err = err[0];
}

/* Reads what is there from one pipe of the child; false at EOF. */
static bool drain_pipe(int *fd, char *text, size_t *len)
{
    char buf[1024];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return false;
    }
    size_t room = OUTPUT_MAX - 1 - *len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(text + *len, buf, take);
    *len += take;
    text[*len] = '\0';
    return true;
}

/* Waits for output on either pipe until deadline; false on timeout or when both are closed. */
static bool read_some(child *c, double deadline)
{
    struct pollfd p[2] = {{.fd = c->out, .events = POLLIN}, {.fd = c->err, .events = POLLIN}};
    if (c->out < 0 && c->err < 0)
        return false;
    double left = deadline - tw_test_now();
    if (left <= 0 || poll(p, 2, (int)(left * 1000) + 1) <= 0)
        return false;
    if (p[0].revents)
        drain_pipe(&c->out, c->out_text, &c->out_len);
    if (p[1].revents)
        drain_pipe(&c->err, c->err_text, &c->err_len);
    return true;
}

/* Waits until twined has exited (both pipes at EOF, then reaped); returns seconds taken. A child
 * still running at the deadline is killed and the test fails. */
static double wait_exit(child *c, double seconds)
{
    double start = tw_test_now(), deadline = start + seconds;
    while ((c->out >= 0 || c->err >= 0) && read_some(c, deadline))
        ;
    if (c->out >= 0 || c->err >= 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
        fail_msg("twined did not exit within %.1f s; stderr: %s", seconds, c->err_text);
    }
    int status;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    c->pid = 0;
    c->status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return tw_test_now() - start;
}

/* Runs twined to completion and returns its exit status. */
static int run_twined(child *c, const char *const *args)
{
    spawn(c, args);
    wait_exit(c, WAIT_SECONDS);
    return c->status;
}

/* The address of the index-th "twined: listening on " line, once it is complete. */
static void wait_listening(child *c, int index, char *address, size_t size)
{
    static const char prefix[] = "twined: listening on ";
    double deadline = tw_test_now() + WAIT_SECONDS;
    for (;;) {
        const char *line = c->err_text;
        for (int i = 0; line && i < index; i++)
            line = strstr(line, "\n") ? strstr(line, "\n") + 1 : NULL;
        const char *end = line ? strchr(line, '\n') : NULL;
        if (end) {
            if (strncmp(line, prefix, sizeof prefix - 1) != 0)
                fail_msg("unexpected line from twined: %s", c->err_text);
            line += sizeof prefix - 1;
            snprintf(address, size, "%.*s", (int)(end - line), line);
            return;
        }
        if (!read_some(c, deadline))
            fail_msg("no listening line %d from twined; stderr: %s", index, c->err_text);
    }
}

/* Starts "twined echo --listen endpoint" and waits for its address. */
static void start_echo(child *c, const char *endpoint, char *address, size_t size)
{
    const char *args[] = {"echo", "--listen", endpoint, NULL};
    spawn(c, args);
    wait_listening(c, 0, address, size);
}

static void stop_child(child *c, int sig)
{
    if (c->pid > 0) {
        tw_test_stop_signal(c->pid, sig);
        wait_exit(c, WAIT_SECONDS);
    }
    if (c->out >= 0)
        close(c->out);
    if (c->err >= 0)
        close(c->err);
    c->out = c->err = -1;
}

/* Each test gets one child in *state; teardown kills it if the test failed half-way. */
static int child_setup(void **state)
{
    child *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->out = c->err = -1;
    *state = c;
    return 0;
}

static int child_teardown(void **state)
{
    child *c = *state;
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    if (c->out >= 0)
        close(c->out);
    if (c->err >= 0)
        close(c->err);
    free(c);
    return 0;
}

/* ---- sockets --------------------------------------------------------------------------------- */

static int connect_to(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (connect(fd, sa, len) != 0)
        fail_msg("connect: %s", strerror(errno));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Connects to an address as twined prints it: tcp:HOST:PORT, tcp6:[HOST]:PORT or unix:PATH. */
static int connect_address(const char *address)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strncmp(address, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof sun->sun_path, "%s", address + 5);
        return connect_to((struct sockaddr *)sun, sizeof *sun);
    }
    char host[64];
    unsigned port;
    if (sscanf(address, "tcp:%63[0-9.]:%u", host, &port) == 2) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, host, &sin->sin_addr), 1);
        return connect_to((struct sockaddr *)sin, sizeof *sin);
    }
    if (sscanf(address, "tcp6:[%63[0-9a-f:]]:%u", host, &port) == 2) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
        return connect_to((struct sockaddr *)sin6, sizeof *sin6);
    }
    fail_msg("cannot parse address '%s'", address);
    return -1;
}

/* Sends data on a non-blocking socket while reading the echo; half-closes after the last byte and
 * reads on until the server's EOF. Asserts the echo is exactly data. */
static void echo_exchange(int fd, const unsigned char *data, size_t len)
{
    unsigned char *got = malloc(len + 1);
    assert_non_null(got);
    size_t sent = 0, received = 0;
    bool shut = false, eof = false;
    double deadline = tw_test_now() + WAIT_SECONDS;
    while (!eof) {
        if (sent == len && !shut) {
            assert_int_equal(shutdown(fd, SHUT_WR), 0);
            shut = true;
        }
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (shut ? 0 : POLLOUT))};
        assert_true(tw_test_now() < deadline);
        assert_true(poll(&p, 1, 1000) >= 0);
        if (p.revents & POLLOUT) {
            ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, got + received, len + 1 - received, 0);
            if (n == 0)
                eof = true;
            else if (n > 0)
                received += (size_t)n;
            else if (errno != EAGAIN && errno != EINTR)
                fail_msg("recv: %s", strerror(errno));
        }
    }
    assert_int_equal(received, len);
    assert_memory_equal(got, data, len);
    free(got);
}

static void echo_random(const char *address, size_t len, uint32_t seed)
{
    unsigned char *data = malloc(len ? len : 1);
    assert_non_null(data);
    tw_test_fill_random(data, len, seed);
    int fd = connect_address(address);
    echo_exchange(fd, data, len);
    close(fd);
    free(data);
}

/* A fresh directory for UNIX socket files; removed by the caller. */
static void make_temp_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/twine-twined-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* A UNIX socket bound to path (the file now exists), not listening. */
static int bind_unix_socket(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof sun), 0);
    return s;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- output of --version, --help and bad arguments ------------------------------------------- */

static void assert_one_line(const char *text)
{
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_ptr_equal(strchr(text, '\n'), text + len - 1);
}

static void test_version(void **state)
{
    child *c = *state;
    const char *args[] = {"--version", NULL};
    assert_int_equal(run_twined(c, args), 0);
    char want_end[64];
    snprintf(want_end, sizeof want_end, " (backend: %s)\n", tw_reactor_backend());
    assert_int_equal(strncmp(c->out_text, "twined ", 7), 0);
    size_t len = strlen(c->out_text), end = strlen(want_end);
    assert_true(len > 7 + end);
    assert_string_equal(c->out_text + len - end, want_end);
    /* The version itself is one word. */
    assert_ptr_equal(strchr(c->out_text + 7, ' '), c->out_text + len - end);
    assert_int_equal(c->err_len, 0);
}

static void test_help(void **state)
{
    child *c = *state;
    const char *variants[][2] = {{"--help", NULL}, {"-h", NULL}};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(run_twined(c, variants[i]), 0);
        assert_non_null(strstr(c->out_text, "usage: twined COMMAND"));
        assert_non_null(strstr(c->out_text, "  echo "));
        assert_int_equal(c->err_len, 0);
    }
}

static void test_echo_help(void **state)
{
    child *c = *state;
    const char *variants[][3] = {{"echo", "--help", NULL}, {"echo", "-h", NULL}};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(run_twined(c, variants[i]), 0);
        assert_non_null(strstr(c->out_text, "usage: twined echo --listen ENDPOINT"));
        assert_non_null(strstr(c->out_text, "tcp6:8080:interface=\\:\\:1"));
        assert_int_equal(c->err_len, 0);
    }
}

typedef struct {
    const char *args[6];
    const char *message;
} usage_case;

static const usage_case usage_cases[] = {
    {{NULL}, "twined: missing command"},
    {{"frobnicate", NULL}, "twined: unknown command 'frobnicate'"},
    {{"--frob", NULL}, "twined: unknown option '--frob'"},
    {{"echo", NULL}, "twined echo: missing required option --listen"},
    {{"echo", "--listen", NULL}, "option '--listen' needs a value"},
    {{"echo", "--bogus", NULL}, "unknown option '--bogus'"},
    {{"echo", "-x", NULL}, "unknown option '-x'"},
    {{"echo", "--help=yes", NULL}, "option '--help' takes no value"},
    {{"echo", "--listen", "tcp:0", "extra", NULL}, "unexpected argument 'extra'"},
    {{"echo", "--listen", "ftl:80", NULL}, "Unknown endpoint type: 'ftl'"},
    {{"echo", "--listen=tcp:99999", NULL}, "bad port '99999' for 'tcp'"},
    {{"echo", "--listen", "tcp", NULL}, "missing port for 'tcp'"},
    {{"echo", "--listen", "tcp:80:interface=nowhere", NULL}, "bad interface address 'nowhere'"},
    {{"echo", "--listen", "tcp6:80:interface=::1", NULL},
     "given twice for 'tcp6' (escape colons in a value: interface=\\:\\:1)"},
    {{"echo", "--listen", "tcp:80:interface=::1", NULL},
     "given twice for 'tcp' (escape colons in a value: interface=\\:\\:1)"},
    {{"echo", "--listen", "tcp:80:interface=fe80::1%lo", NULL}, "interface=fe80\\:\\:1%lo)"},
    {{"echo", "--listen", "tcp:80:foo=1", NULL}, "unknown parameter 'foo' for 'tcp'"},
    {{"echo", "--listen", "unix:", NULL}, "missing socket path"},
    {{"echo", "--listen", "stdio:", "--listen", "stdio:", NULL}, "stdio: given twice"},
    {{"--debug=0", "echo", "--listen", "tcp:0", NULL}, "twined: --debug: bad threshold '0'"},
    {{"--debug=x", "echo", "--listen", "tcp:0", NULL}, "twined: --debug: bad threshold 'x'"},
    {{"--debug", NULL}, "twined: missing command"},
    {{"echo", "--listen", "tcp:0", "--reactors", "0", NULL}, "--reactors: bad count '0'"},
    {{"echo", "--listen", "tcp:0", "--reactors=65", NULL}, "(expected 1 to 64)"},
    {{"echo", "--listen", "unix:/tmp/twine-x.sock", "--reactors", "2", NULL},
     "can't be shared by --reactors 2"},
    {{"echo", "--reactors", "3", "--listen", "stdio:", NULL}, "can't be shared by --reactors 3"},
};

static void test_bad_arguments_exit_2_with_one_line(void **state)
{
    child *c = *state;
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        const usage_case *u = &usage_cases[i];
        int status = run_twined(c, u->args);
        if (status != 2 || !strstr(c->err_text, u->message))
            fail_msg("case %zu: status %d, stderr '%s', wanted '%s'", i, status, c->err_text,
                     u->message);
        assert_int_equal(strncmp(c->err_text, "twined", 6), 0);
        assert_one_line(c->err_text);
        assert_int_equal(c->out_len, 0);
    }
}

static void test_too_many_listen_options(void **state)
{
    child *c = *state;
    const char *args[40] = {"echo"};
    size_t n = 1;
    for (int i = 0; i < 17; i++) {
        args[n++] = "--listen";
        args[n++] = "tcp:0";
    }
    args[n] = NULL;
    assert_int_equal(run_twined(c, args), 2);
    assert_non_null(strstr(c->err_text, "too many --listen options (at most 16)"));
    assert_one_line(c->err_text);
}

/* ---- failures at run time -------------------------------------------------------------------- */

static void test_port_in_use_exits_1(void **state)
{
    child *c = *state;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp:%u:interface=127.0.0.1", ntohs(sin.sin_port));
    const char *args[] = {"echo", "--listen", endpoint, NULL};
    assert_int_equal(run_twined(c, args), 1);
    assert_non_null(strstr(c->err_text, "twined: couldn't listen on"));
    assert_non_null(strstr(c->err_text, "Address already in use"));
    assert_one_line(c->err_text);
    close(s);
}

static void test_live_unix_socket_is_in_use(void **state)
{
    child *c = *state;
    char dir[64], path[96], endpoint[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/live.sock", dir);
    int s = bind_unix_socket(path);
    assert_int_equal(listen(s, 1), 0);
    snprintf(endpoint, sizeof endpoint, "unix:%s", path);
    const char *args[] = {"echo", "--listen", endpoint, NULL};
    assert_int_equal(run_twined(c, args), 1);
    assert_non_null(strstr(c->err_text, "Address already in use"));
    assert_one_line(c->err_text);
    assert_true(file_exists(path)); /* somebody else's socket is left alone */
    close(s);
    unlink(path);
    rmdir(dir);
}

/* A regular file where the UNIX socket should be: said to be no socket, and left as it was. */
static void test_unix_path_not_a_socket_exits_1(void **state)
{
    child *c = *state;
    char dir[64], path[96], endpoint[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "precious", 8), 8);
    close(fd);
    snprintf(endpoint, sizeof endpoint, "unix:%s", path);
    const char *args[] = {"echo", "--listen", endpoint, NULL};
    assert_int_equal(run_twined(c, args), 1);
    char want[192];
    snprintf(want, sizeof want, "'%s' exists and is not a socket (left as it is)", path);
    if (!strstr(c->err_text, want))
        fail_msg("stderr '%s', wanted '%s'", c->err_text, want);
    assert_null(strstr(c->err_text, "in use"));
    assert_one_line(c->err_text);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 8);
    unlink(path);
    rmdir(dir);
}

static void test_missing_directory_exits_1(void **state)
{
    child *c = *state;
    const char *args[] = {"echo", "--listen", "tcp:0:interface=127.0.0.1", "--listen",
                          "unix:/nonexistent-twine-dir/echo.sock", NULL};
    assert_int_equal(run_twined(c, args), 1);
    assert_non_null(strstr(c->err_text, "couldn't listen on 'unix:/nonexistent-twine-dir"));
    assert_non_null(strstr(c->err_text, "No such file or directory"));
    assert_one_line(c->err_text); /* nothing announced when one endpoint fails */
}

/* ---- echo ------------------------------------------------------------------------------------ */

static void test_echo_tcp_round_trips(void **state)
{
    child *c = *state;
    char address[128];
    start_echo(c, "tcp:0:interface=127.0.0.1", address, sizeof address);
    assert_int_equal(strncmp(address, "tcp:127.0.0.1:", 14), 0);
    assert_true(atoi(address + 14) > 0);
    static const size_t sizes[] = {1, 100, 65536, 65537, 1u << 20, 8u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        echo_random(address, sizes[i], (uint32_t)i + 1);
    /* An empty exchange: EOF at once is answered with EOF. */
    echo_random(address, 0, 7);
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
}

static void test_echo_concurrent_clients(void **state)
{
    child *c = *state;
    char address[128];
    start_echo(c, "tcp:0:interface=127.0.0.1", address, sizeof address);
    enum { CLIENTS = 20 };
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = connect_address(address);
    /* All connected at once; each exchanges in turn while the others stay open. */
    for (int i = CLIENTS - 1; i >= 0; i--) {
        unsigned char data[3000];
        tw_test_fill_random(data, sizeof data, (uint32_t)i + 100);
        echo_exchange(fds[i], data, sizeof data);
        close(fds[i]);
    }
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
}

static void test_echo_tcp6(void **state)
{
    child *c = *state;
    if (!tw_test_ipv6_loopback_available()) {
        print_message("skipped: ::1 is not available on this machine\n");
        skip();
    }
    char address[128];
    start_echo(c, "tcp6:0:interface=\\:\\:1", address, sizeof address);
    assert_int_equal(strncmp(address, "tcp6:[::1]:", 11), 0);
    echo_random(address, 300000, 11);
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
}

static void test_echo_unix_replaces_stale_socket_and_removes_it(void **state)
{
    child *c = *state;
    char dir[64], path[96], endpoint[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/echo.sock", dir);
    /* A stale socket file: bound, then its socket closed without unlinking. */
    close(bind_unix_socket(path));
    assert_true(file_exists(path));

    snprintf(endpoint, sizeof endpoint, "unix:%s", path);
    char address[192];
    start_echo(c, endpoint, address, sizeof address);
    assert_string_equal(address, endpoint);
    echo_random(address, 500000, 21);
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
    assert_false(file_exists(path));
    assert_int_equal(rmdir(dir), 0);
}

static void test_echo_several_listeners_announced_in_order(void **state)
{
    child *c = *state;
    char dir[64], endpoint[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(endpoint, sizeof endpoint, "unix:%s/s:mode=600", dir);
    const char *args[] = {"echo", "--listen", "tcp:0:interface=127.0.0.1", "--listen", endpoint,
                          "--listen", "tcp:0:interface=127.0.0.1", NULL};
    spawn(c, args);
    char first[128], second[192], third[128];
    wait_listening(c, 0, first, sizeof first);
    wait_listening(c, 1, second, sizeof second);
    wait_listening(c, 2, third, sizeof third);
    assert_int_equal(strncmp(first, "tcp:127.0.0.1:", 14), 0);
    assert_int_equal(strncmp(second, "unix:", 5), 0);
    assert_int_equal(strncmp(third, "tcp:127.0.0.1:", 14), 0);
    assert_string_not_equal(first, third);
    struct stat st;
    assert_int_equal(stat(second + 5, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    echo_random(first, 1000, 31);
    echo_random(second, 1000, 32);
    echo_random(third, 1000, 33);
    stop_child(c, SIGINT);
    assert_int_equal(c->status, 0);
    assert_int_equal(rmdir(dir), 0);
}

/* The client half-closes with its echo still unread: it gets all of it, then EOF, and the
 * connection is still usable for reading in between. */
static void test_echo_half_close(void **state)
{
    child *c = *state;
    char address[128];
    start_echo(c, "tcp:0:interface=127.0.0.1", address, sizeof address);
    int fd = connect_address(address);
    assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    char buf[16];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, (int)(WAIT_SECONDS * 1000)), 1);
        ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
        if (n == 0)
            break;
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "ping", 4);
    close(fd);
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
}

/* Pushes a byte pattern without reading until the kernel has refused more for STALL_SECONDS;
 * returns the bytes pushed. */
static size_t push_until_stalled(int fd)
{
    static unsigned char block[65536];
    size_t pushed = 0;
    while (pushed < PUSH_MAX) {
        for (size_t i = 0; i < sizeof block; i++)
            block[i] = (unsigned char)((pushed + i) % 251);
        ssize_t n = send(fd, block, sizeof block, MSG_NOSIGNAL);
        if (n > 0) {
            pushed += (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, (int)(STALL_SECONDS * 1000)) == 0)
            break;
    }
    return pushed;
}

/* Reads everything back after a half-close and checks the pattern and the count. */
static void read_back_pattern(int fd, size_t pushed)
{
    static unsigned char buf[65536];
    size_t got = 0;
    double deadline = tw_test_now() + WAIT_SECONDS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_true(tw_test_now() < deadline);
        assert_true(poll(&p, 1, 1000) >= 0);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            break;
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EINTR);
            continue;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)((got + (size_t)i) % 251))
                fail_msg("echo differs at byte %zu", got + (size_t)i);
        got += (size_t)n;
    }
    assert_int_equal(got, pushed);
}

static void test_echo_back_pressure_bounds_memory(void **state)
{
    child *c = *state;
    char address[128];
    start_echo(c, "tcp:0:interface=127.0.0.1", address, sizeof address);
    echo_random(address, 100000, 41); /* warm up: the reactor's read buffer, the first chunks */
    long before = tw_test_process_rss_kib(c->pid);
    assert_true(before > 0);

    int fd = connect_address(address);
    size_t pushed = push_until_stalled(fd);
    long after = tw_test_process_rss_kib(c->pid);
    print_message("pushed %zu KiB without reading; twined RSS %ld -> %ld KiB\n", pushed >> 10,
                  before, after);
    /* The server stopped reading: the kernel buffers filled up long before PUSH_MAX ... */
    assert_true(pushed < PUSH_MAX);
    /* ... and it holds no more than about a write buffer's worth itself. */
    assert_true(after - before < RSS_GROWTH_MAX_KIB);

    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    read_back_pattern(fd, pushed);
    close(fd);
    stop_child(c, SIGTERM);
    assert_int_equal(c->status, 0);
}

/* ---- --reactors ------------------------------------------------------------------------------ */

/* Two reactors on one port (0: the first one's), announced once; clients connected all at once
 * are all served; SIGTERM with connections open still exits 0 within 2 s. */
static void test_echo_two_reactors(void **state)
{
    child *c = *state;
    enum { CLIENTS = 50 };
    const char *args[] = {"echo", "--listen", "tcp:0:interface=127.0.0.1", "--listen",
                          "tcp:0:interface=127.0.0.1", "--reactors", "2", NULL};
    spawn(c, args);
    char first[128], second[128];
    wait_listening(c, 0, first, sizeof first);
    wait_listening(c, 1, second, sizeof second);
    assert_string_not_equal(first, second);
    assert_true(tw_test_process_threads(c->pid) >= 2);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = connect_address(i % 2 ? second : first);
    for (int i = 0; i < CLIENTS - 1; i++) {
        unsigned char data[2000];
        tw_test_fill_random(data, sizeof data, (uint32_t)i + 300);
        echo_exchange(fds[i], data, sizeof data);
        close(fds[i]);
    }
    int lines = 0; /* each address once, not once per reactor */
    for (const char *at = c->err_text; (at = strstr(at, "listening on")); at++)
        lines++;
    assert_int_equal(lines, 2);
    assert_int_equal(tw_test_stop_signal(c->pid, SIGTERM), 0);
    double took = wait_exit(c, WAIT_SECONDS);
    print_message("2 reactors: exit %.3f s after SIGTERM\n", took);
    assert_int_equal(c->status, 0);
    assert_true(took < SIGNAL_EXIT_SECONDS);
    struct pollfd p = {.fd = fds[CLIENTS - 1], .events = POLLIN};
    assert_int_equal(poll(&p, 1, (int)(WAIT_SECONDS * 1000)), 1);
    char b;
    assert_true(recv(fds[CLIENTS - 1], &b, 1, 0) <= 0);
    close(fds[CLIENTS - 1]);
}

/* ---- signals --------------------------------------------------------------------------------- */

static void signal_stops_cleanly(child *c, int sig)
{
    char dir[64], endpoint[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(endpoint, sizeof endpoint, "unix:%s/sig.sock", dir);
    const char *args[] = {"echo", "--listen", "tcp:0:interface=127.0.0.1", "--listen", endpoint,
                          NULL};
    spawn(c, args);
    char tcp[128], unix_address[192];
    wait_listening(c, 0, tcp, sizeof tcp);
    wait_listening(c, 1, unix_address, sizeof unix_address);
    /* An idle open connection must not hold the exit. */
    int fd = connect_address(tcp);
    assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, (int)(WAIT_SECONDS * 1000)), 1);
    char b;
    assert_int_equal(recv(fd, &b, 1, 0), 1);

    assert_int_equal(tw_test_stop_signal(c->pid, sig), 0);
    double took = wait_exit(c, WAIT_SECONDS);
    print_message("exit %.3f s after signal %d\n", took, sig);
    assert_int_equal(c->status, 0);
    assert_true(took < SIGNAL_EXIT_SECONDS);
    /* Whatever it said on the way out is in twined's own one-line form. */
    for (const char *line = c->err_text; *line; line = strchr(line, '\n') + 1) {
        assert_int_equal(strncmp(line, "twined: ", 8), 0);
        assert_non_null(strchr(line, '\n'));
    }
    /* The connection was closed, and the socket file removed. */
    assert_int_equal(poll(&p, 1, (int)(WAIT_SECONDS * 1000)), 1);
    assert_true(recv(fd, &b, 1, 0) <= 0);
    close(fd);
    assert_false(file_exists(unix_address + 5));
    assert_int_equal(rmdir(dir), 0);
}

/* Waits until twined's stderr holds needle. */
static void wait_output(child *c, const char *needle)
{
    double deadline = tw_test_now() + WAIT_SECONDS;
    while (!strstr(c->err_text, needle))
        if (!read_some(c, deadline))
            fail_msg("no '%s' from twined; stderr: %s", needle, c->err_text);
}

static void test_debug_prints_metrics_on_sigusr1_and_at_exit(void **state)
{
    child *c = *state;
    const char *args[] = {"--debug=30", "echo", "--listen", "tcp:0:interface=127.0.0.1", NULL};
    char address[128];
    spawn(c, args);
    wait_listening(c, 0, address, sizeof address);
    echo_random(address, 1000, 7);
    assert_int_equal(kill(c->pid, SIGUSR1), 0);
    wait_output(c, "twined: metrics: turns=");
    const char *line = strstr(c->err_text, "twined: metrics: ");
    assert_non_null(strstr(line, " callbacks="));
    assert_non_null(strstr(line, " wait="));
    assert_non_null(strstr(line, " pending_timers="));
    assert_int_equal(tw_test_stop_signal(c->pid, SIGTERM), 0);
    wait_exit(c, WAIT_SECONDS);
    assert_int_equal(c->status, 0);
    assert_non_null(strstr(strstr(c->err_text, "received SIGTERM"), "twined: metrics: turns="));
    assert_null(strstr(c->err_text, "slow callback")); /* no echo takes 30 s */
}

static void test_sigterm_exits_0(void **state)
{
    signal_stops_cleanly(*state, SIGTERM);
}

static void test_sigint_exits_0(void **state)
{
    signal_stops_cleanly(*state, SIGINT);
}

#define CHILD_TEST(fn) cmocka_unit_test_setup_teardown(fn, child_setup, child_teardown)

int main(void)
{
    /* A failed test kills its child; its pipes must not deliver SIGPIPE to us meanwhile. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        CHILD_TEST(test_version),
        CHILD_TEST(test_help),
        CHILD_TEST(test_echo_help),
        CHILD_TEST(test_bad_arguments_exit_2_with_one_line),
        CHILD_TEST(test_too_many_listen_options),
        CHILD_TEST(test_port_in_use_exits_1),
        CHILD_TEST(test_live_unix_socket_is_in_use),
        CHILD_TEST(test_unix_path_not_a_socket_exits_1),
        CHILD_TEST(test_missing_directory_exits_1),
        CHILD_TEST(test_echo_tcp_round_trips),
        CHILD_TEST(test_echo_concurrent_clients),
        CHILD_TEST(test_echo_tcp6),
        CHILD_TEST(test_echo_unix_replaces_stale_socket_and_removes_it),
        CHILD_TEST(test_debug_prints_metrics_on_sigusr1_and_at_exit),
        CHILD_TEST(test_echo_several_listeners_announced_in_order),
        CHILD_TEST(test_echo_half_close),
        CHILD_TEST(test_echo_back_pressure_bounds_memory),
        CHILD_TEST(test_echo_two_reactors),
        CHILD_TEST(test_sigterm_exits_0),
        CHILD_TEST(test_sigint_exits_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
