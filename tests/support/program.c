/* Child processes for tests: spawned with their output piped back, read through the test's
 * reactor, reaped with a bounded wait. See program.h. */
#include "program.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "stop_signal.h"

extern char **environ;

static int on_output(tw_reactor *r, int fd, void *arg)
{
    tw_test_program *c = arg;
    int which = fd == c->fds[TW_TEST_STDOUT] ? TW_TEST_STDOUT : TW_TEST_STDERR;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        tw_reactor_close_fd(r, fd);
        c->fds[which] = -1;
        return 0;
    }
    size_t room = TW_TEST_PROGRAM_OUTPUT_MAX - 1 - c->len[which];
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->text[which] + c->len[which], buf, take);
    c->len[which] += take;
    c->text[which][c->len[which]] = '\0';
    return 0;
}

void tw_test_program_start(tw_test_program *c, tw_reactor *r, const char *const *argv)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    int pipes[2][2];
    assert_int_equal(pipe2(pipes[0], O_CLOEXEC), 0);
    assert_int_equal(pipe2(pipes[1], O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipes[0][1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 2);
    int rc = posix_spawn(&c->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    for (int i = 0; i < 2; i++) {
        close(pipes[i][1]);
        c->fds[i] = pipes[i][0];
        fcntl(c->fds[i], F_SETFL, O_NONBLOCK);
        assert_int_equal(tw_reactor_add_reader(r, c->fds[i], on_output, c), 0);
    }
}

typedef struct {
    tw_test_program *c;
    int which;
    const char *needle;
} wait_arg;

static bool has_needle(void *arg)
{
    wait_arg *w = arg;
    return strstr(w->c->text[w->which], w->needle) != NULL;
}

bool tw_test_program_wait_for(tw_test_program *c, int which, const char *needle, double timeout)
{
    wait_arg w = {c, which, needle};
    return tw_test_run_until(c->r, has_needle, &w, timeout);
}

static bool pipes_closed(void *arg)
{
    tw_test_program *c = arg;
    return c->fds[0] < 0 && c->fds[1] < 0;
}

int tw_test_program_finish(tw_test_program *c, int sig, double timeout)
{
    if (sig)
        tw_test_stop_signal(c->pid, sig);
    if (!tw_test_run_until(c->r, pipes_closed, c, timeout)) {
        tw_test_program_kill(c);
        fail_msg("child still running after %.1f s; stdout: %s; stderr: %s", timeout,
                 c->text[TW_TEST_STDOUT], c->text[TW_TEST_STDERR]);
    }
    int status;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    c->pid = 0;
    c->status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return c->status;
}

void tw_test_program_kill(tw_test_program *c)
{
    if (!c->r)
        return; /* never started */
    for (int i = 0; i < 2; i++)
        if (c->fds[i] >= 0) {
            tw_reactor_close_fd(c->r, c->fds[i]);
            c->fds[i] = -1;
        }
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
}

const char *tw_test_example_path(const char *name)
{
    static char path[512];
    const char *build = getenv("TWINE_BUILD");
    if (build)
        snprintf(path, sizeof path, "%s/examples/%s", build, name);
    else
        snprintf(path, sizeof path, "build/%s/examples/%s", tw_reactor_backend(), name);
    return path;
}
