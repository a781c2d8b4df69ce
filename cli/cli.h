/* twined's private interface: what a subcommand provides (one file each, one table entry in
 * main.c), and the small option parser and message helpers every subcommand shares. */
#ifndef TWINED_CLI_H
#define TWINED_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <twine/twine.h>

/* Exit statuses (docs/twined.md): bad arguments are 2, failures at run time 1. */
enum { TWINED_EXIT_OK = 0, TWINED_EXIT_FAILURE = 1, TWINED_EXIT_USAGE = 2 };

/* A subcommand. run gets argv with argv[0] the subcommand's name and returns the exit status. */
typedef struct twined_command {
    const char *name;
    const char *summary; /* one line for "twined --help" */
    int (*run)(int argc, char **argv);
} twined_command;

/* ---- options ----------------------------------------------------------------------------------
 * "--name value", "--name=value", "-x value" and "-x"; "--" ends the options; options stop at the
 * first operand (an argument not starting with '-', or "-" itself). */
typedef struct twined_option {
    const char *long_name; /* without the dashes: "listen" */
    char short_name;       /* 'v' for -v, or 0 */
    bool has_value;
} twined_option;

typedef struct twined_args {
    const char *command; /* names the subcommand in messages */
    int argc;
    char **argv;
    int next; /* index of the next argument to look at; the first operand once options are over */
} twined_args;

enum { TWINED_ARGS_END = -1, TWINED_ARGS_ERROR = -2 };

/* Starts parsing argv[1..] (argv[0] is the subcommand). */
void twined_args_init(twined_args *a, const char *command, int argc, char **argv);

/* The index in options of the next option (>= 0), with *value set to its value or NULL;
 * TWINED_ARGS_END when the options are over; TWINED_ARGS_ERROR after printing one line on stderr
 * (unknown option, missing value, value given to a flag). */
int twined_next_option(twined_args *a, const twined_option *options, size_t n,
                       const char **value);

/* For a subcommand that takes options and no operands (echo, web, forward): reads every option,
 * handing each to take(arg, index, value) (0, or an exit status that stops), except the one at
 * help_option, which runs help() and stops with *stop set. Then an operand is a usage error.
 * Returns 0 to go on, or the exit status to stop with. */
int twined_parse_options(int argc, char **argv, const char *command,
                         const twined_option *options, size_t n, int help_option,
                         int (*help)(void), int (*take)(void *arg, int opt, const char *value),
                         void *arg, bool *stop);

/* ---- listening (listen.c) -----------------------------------------------------------------------
 * Listens as d says through its endpoint (any server string, stdio: too): 0 with *port set (NULL
 * for stdio, which has none), or TWINED_EXIT_FAILURE after printing "couldn't listen on 'TEXT':
 * REASON". */
int twined_listen(tw_reactor *r, const tw_server_description *d, const char *text,
                  tw_factory *factory, tw_port **port);
/* Prints "listening on ADDRESS" for a port (nothing for NULL: stdio). */
void twined_announce(const tw_port *port);

/* A server subcommand's --listen endpoints (at most TWINED_LISTEN_MAX) and how it runs them. Set
 * command, factory (for accepted connections; may be NULL when setup gives each reactor its own)
 * and stdio_factory (for stdio:, which may be given once), and the optional hooks; the rest is
 * filled in by twined_listeners_add and twined_listeners_set_reactors. */
#define TWINED_LISTEN_MAX 16
/* Most --reactors: one reactor, on a thread of its own, per core. */
#define TWINED_REACTORS_MAX 64
typedef struct twined_listeners {
    const char *command;
    /* Templates: each reactor listens with a copy of its own (a factory counts its ports, so one
     * factory cannot be shared between threads). */
    tw_factory *factory, *stdio_factory;
    /* Optional: called for each reactor (index 0 is the main thread's) on the main thread before
     * any of them runs and before it listens; may point *factory at a factory of the reactor's
     * own. Returns 0, or an exit status after printing one line. */
    int (*setup)(void *arg, tw_reactor *r, unsigned index, tw_factory **factory);
    /* Optional: called for each reactor set up, once every reactor has stopped, before it is
     * freed. */
    void (*teardown)(void *arg, tw_reactor *r, unsigned index);
    void *arg;
    unsigned reactors; /* --reactors; 0 counts as 1 */
    const char *text[TWINED_LISTEN_MAX];
    tw_server_description endpoints[TWINED_LISTEN_MAX];
    size_t count;
} twined_listeners;

/* Parses one --listen value: 0, or TWINED_EXIT_USAGE after a one-line message. */
int twined_listeners_add(twined_listeners *l, const char *description);
/* Parses a --reactors value (1 to TWINED_REACTORS_MAX): 0, or TWINED_EXIT_USAGE after a one-line
 * message. */
int twined_listeners_set_reactors(twined_listeners *l, const char *value);
/* Runs the server (serve.c): l->reactors reactors, each with twined's log, set up by l->setup and
 * listening on every endpoint (with N > 1 each TCP port is bound N times with SO_REUSEPORT, so the
 * kernel spreads connections; port 0 becomes the first reactor's port; unix: and stdio: cannot be
 * shared and are a usage error), each address announced once; the main thread's reactor runs
 * there with the signal handlers, the others on threads of their own. A signal or tw_reactor_stop
 * on the main reactor stops every reactor in order: all stop accepting first, then their
 * connections are closed, then the threads are joined. Returns the exit status. */
int twined_serve(twined_listeners *l);

/* ---- messages -----------------------------------------------------------------------------------
 * Every message is one line on stderr starting "twined: " (or "twined COMMAND: " for a usage
 * error), with user text shown bounded and with control characters replaced, so it stays one
 * line. */

/* A bounded, printable copy of user text. */
#define TWINED_SHOWN_MAX 80
typedef struct {
    char text[TWINED_SHOWN_MAX + 4];
} twined_shown;
twined_shown twined_show(const char *s);

/* Prints "twined COMMAND: message" ("twined: message" when command is NULL) and returns
 * TWINED_EXIT_USAGE. */
int twined_usage_error(const char *command, const char *fmt, ...) TW_PRINTF(2, 3);
/* Prints "twined: message": a failure at run time, or a note such as "listening on ...". */
void twined_note(const char *fmt, ...) TW_PRINTF(1, 2);
/* The reactor's log hook for twined: "twined: message" for info, "twined: LEVEL: message" for
 * warnings and errors, one line each (cut at TWINED_LOG_LINE_MAX); debug messages are dropped. */
#define TWINED_LOG_LINE_MAX 1024
void twined_log(void *ctx, tw_log_level level, const char *message);

/* ---- the reactor a subcommand serves on (debug.c) -------------------------------------------- */

/* "twined --debug[=SECONDS]": value is the text after '=', or NULL for the default threshold
 * (TW_DEBUG_SLOW_DEFAULT). 0, or TWINED_EXIT_USAGE after printing why. */
int twined_set_debug(const char *value);
/* Every subcommand's reactor goes through these: the log hook and level (info), and with --debug
 * the reactor's debug mode and a metrics line on SIGUSR1. setup returns 0 or a negative error;
 * teardown (before tw_reactor_free) prints the last metrics line and restores SIGUSR1. */
int twined_reactor_setup(tw_reactor *r);
void twined_reactor_teardown(tw_reactor *r);
/* The same for the reactors of other threads (--reactors): the log hook and level and --debug's
 * slow-callback threshold; SIGUSR1 and the metrics line belong to the main reactor. */
int twined_reactor_setup_worker(tw_reactor *r);

/* ---- endpoints (endpoint_errors.c) ----------------------------------------------------------- */

/* When description did not parse because a keyword's value was cut at unescaped colons and the
 * value is an IPv6 address ("tcp:80:interface=::1"): true, with the escaped form in hint
 * ("interface=\:\:1"). */
bool twined_colon_hint(const char *description, char *hint, size_t size);
/* Why listening on d failed, in words: the library's tw_strerror, except for a UNIX path that holds
 * something other than a socket (said so; the file is never touched). buf holds the text if
 * needed. */
const char *twined_listen_reason(const tw_server_description *d, int err, char *buf, size_t size);

#endif
