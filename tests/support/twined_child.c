/* Runs twined on pipes served by the test's reactor. See twined_child.h. */
#include "twined_child.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *twined_path(void)
{
    static char path[512];
    const char *build = getenv("TWINE_BUILD");
    snprintf(path, sizeof path, "%s/twined", build ? build : "build/epoll");
    return path;
}

static void append_output(tw_test_twined *c, const char *data, size_t n)
{
    if (c->output_len + n > c->output_cap) {
        size_t cap = c->output_cap ? c->output_cap * 2 : 65536;
        while (cap < c->output_len + n)
            cap *= 2;
        c->output = realloc(c->output, cap);
        assert_non_null(c->output);
        c->output_cap = cap;
    }
    memcpy(c->output + c->output_len, data, n);
    c->output_len += n;
}

static void close_end(tw_test_twined *c, int *fd)
{
    if (*fd >= 0)
        tw_reactor_close_fd(c->r, *fd);
    *fd = -1;
}

static int on_output(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    tw_test_twined *c = arg;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0)
        append_output(c, buf, (size_t)n);
    else if (n == 0 || errno != EAGAIN) {
        c->output_eof = true;
        close_end(c, &c->out);
    }
    return 0;
}

static int on_error_text(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    tw_test_twined *c = arg;
    size_t room = sizeof c->err_text - 1 - c->err_len;
    char junk[1024];
    ssize_t n = room ? read(fd, c->err_text + c->err_len, room) : read(fd, junk, sizeof junk);
    if (n > 0 && room)
        c->err_text[c->err_len += (size_t)n] = '\0';
    else if (n == 0 || (n < 0 && errno != EAGAIN)) {
        c->err_eof = true;
        close_end(c, &c->err);
    }
    return 0;
}

static int on_input(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    tw_test_twined *c = arg;
    if (c->input_sent < c->input_len) {
        ssize_t n = write(fd, c->input + c->input_sent, c->input_len - c->input_sent);
        if (n > 0)
            c->input_sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN)
            c->input_sent = c->input_len; /* twined stopped reading for good */
    }
    if (c->input_sent == c->input_len) {
        if (c->close_input)
            close_end(c, &c->in);
        else
            tw_reactor_remove_writer(c->r, fd);
    }
    return 0;
}

void tw_test_twined_start(tw_test_twined *c, tw_reactor *r, const char *const *argv,
                          const char *input, size_t input_len, bool close_input)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->input = input;
    c->input_len = input_len;
    c->close_input = close_input;
    int in[2], out[2], err[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    const char *args[32] = {"twined"};
    for (int i = 0; argv[i] && i < 30; i++)
        args[i + 1] = argv[i];
    fflush(NULL);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        signal(SIGPIPE, SIG_DFL);
        execv(twined_path(), (char *const *)args);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    c->in = in[1];
    c->out = out[0];
    c->err = err[0];
    fcntl(c->in, F_SETFL, O_NONBLOCK);
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    fcntl(c->err, F_SETFL, O_NONBLOCK);
    assert_int_equal(tw_reactor_add_reader(r, c->err, on_error_text, c), 0);
    tw_test_twined_read_output(c, true);
    if (input_len || close_input)
        assert_int_equal(tw_reactor_add_writer(r, c->in, on_input, c), 0);
}

void tw_test_twined_read_output(tw_test_twined *c, bool on)
{
    c->read_output = on;
    if (c->out < 0)
        return;
    if (on)
        assert_int_equal(tw_reactor_add_reader(c->r, c->out, on_output, c), 0);
    else
        tw_reactor_remove_reader(c->r, c->out);
}

void tw_test_twined_close_input(tw_test_twined *c)
{
    close_end(c, &c->in);
}

static void reap(tw_test_twined *c, int options)
{
    int wstatus;
    if (c->exited || waitpid(c->pid, &wstatus, options) != c->pid)
        return;
    c->exited = true;
    c->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -WTERMSIG(wstatus);
}

bool tw_test_twined_finished(void *arg)
{
    tw_test_twined *c = arg;
    reap(c, WNOHANG);
    return c->exited && c->err_eof && (c->output_eof || !c->read_output);
}

bool tw_test_twined_listening(void *arg)
{
    tw_test_twined *c = arg;
    const char *line = strstr(c->err_text, "listening on ");
    return (line && strchr(line, '\n')) || tw_test_twined_finished(c);
}

uint16_t tw_test_twined_port(const tw_test_twined *c)
{
    const char *line = strstr(c->err_text, "listening on tcp");
    const char *nl = line ? strchr(line, '\n') : NULL;
    if (!nl)
        return 0;
    const char *colon = nl;
    while (colon > line && *colon != ':')
        colon--;
    return (uint16_t)atoi(colon + 1);
}

bool tw_test_proc_status(pid_t pid, const char *name, int base, unsigned long long *value)
{
    char path[64], line[256];
    size_t n = strlen(name);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            *value = strtoull(line + n + 1, NULL, base);
            found = true;
        }
    if (f)
        fclose(f);
    return found;
}

long tw_test_process_rss_kib(pid_t pid)
{
    unsigned long long kib;
    return tw_test_proc_status(pid, "VmRSS", 10, &kib) ? (long)kib : -1;
}

long tw_test_twined_rss_kib(const tw_test_twined *c)
{
    return tw_test_process_rss_kib(c->pid);
}

int tw_test_process_threads(pid_t pid)
{
    unsigned long long n;
    return tw_test_proc_status(pid, "Threads", 10, &n) ? (int)n : -1;
}

int tw_test_twined_fds(const tw_test_twined *c)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)c->pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

void tw_test_twined_free(tw_test_twined *c)
{
    if (!c->exited) {
        kill(c->pid, SIGKILL);
        reap(c, 0);
    }
    close_end(c, &c->in);
    close_end(c, &c->out);
    close_end(c, &c->err);
    free(c->output);
    c->output = NULL;
}
