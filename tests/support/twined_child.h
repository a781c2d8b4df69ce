/* Shared helper for end-to-end tests of twined: runs $TWINE_BUILD/twined with its stdin, stdout and
 * stderr on pipes that the test's own reactor serves, so a test can feed stdin, collect what comes
 * out and serve sockets to twined in one loop. */
#ifndef TWINE_TESTS_TWINED_CHILD_H
#define TWINE_TESTS_TWINED_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <twine/twine.h>

#define TW_TEST_TWINED_ERR_MAX 8192

typedef struct {
    tw_reactor *r;
    pid_t pid;
    int in, out, err;           /* the test's ends; -1 once closed */
    const char *input;          /* what to write to stdin (borrowed) */
    size_t input_len, input_sent;
    bool close_input;           /* close stdin once input is all written */
    bool read_output;           /* stdout is read (false: left to fill, for back-pressure) */
    char *output;               /* everything read from stdout */
    size_t output_len, output_cap;
    bool output_eof;
    char err_text[TW_TEST_TWINED_ERR_MAX];
    size_t err_len;
    bool err_eof;
    bool exited;
    int status;                 /* exit status, or -signal */
} tw_test_twined;

/* Starts twined with argv (argv[0] is the subcommand, NULL-terminated). Fails the running test if
 * it cannot. input may be NULL; close_input closes stdin once input is written. */
void tw_test_twined_start(tw_test_twined *c, tw_reactor *r, const char *const *argv,
                          const char *input, size_t input_len, bool close_input);
/* Starts or stops reading stdout. */
void tw_test_twined_read_output(tw_test_twined *c, bool on);
/* Closes stdin now. */
void tw_test_twined_close_input(tw_test_twined *c);
/* Conditions for tw_test_run_until: twined has exited and its stdout and stderr reached EOF; or
 * stderr has a complete line containing "listening on" (or any line at all for _said). */
bool tw_test_twined_finished(void *c);
bool tw_test_twined_listening(void *c);
/* The port of the first "listening on tcp:ADDR:PORT" / "tcp6:[ADDR]:PORT" line, or 0. */
uint16_t tw_test_twined_port(const tw_test_twined *c);
/* twined's resident memory in KiB (from /proc), or -1. */
long tw_test_twined_rss_kib(const tw_test_twined *c);
/* The field name of /proc/PID/status ("VmRSS", "Threads", "SigCgt") as a number in base (16 for
 * the signal masks); false when the process or the field is missing. */
bool tw_test_proc_status(pid_t pid, const char *name, int base, unsigned long long *value);
/* The resident memory of process pid in KiB, or -1. */
long tw_test_process_rss_kib(pid_t pid);
/* The threads of process pid (from /proc), or -1. */
int tw_test_process_threads(pid_t pid);
/* Its open descriptors, or -1. */
int tw_test_twined_fds(const tw_test_twined *c);
/* Kills it if it still runs, reaps it, closes the pipes and frees the output. */
void tw_test_twined_free(tw_test_twined *c);

#endif
