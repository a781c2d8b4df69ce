/* twined's option parser (long and short options, with values inline or in the next argument) and
 * its one-line messages. Kept tiny and strict: anything it does not understand is a usage error. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

void twined_args_init(twined_args *a, const char *command, int argc, char **argv)
{
    a->command = command;
    a->argc = argc;
    a->argv = argv;
    a->next = 1;
}

twined_shown twined_show(const char *s)
{
    twined_shown out;
    bool cut = strlen(s) > TWINED_SHOWN_MAX;
    snprintf(out.text, sizeof out.text, "%.*s%s", TWINED_SHOWN_MAX, s, cut ? "..." : "");
    for (char *c = out.text; *c; c++)
        if (!isprint((unsigned char)*c))
            *c = '?';
    return out;
}

/* Locked as a whole: with --reactors, reactors on several threads log at once, and a line must
 * not be cut by another. */
static void vprint_line(const char *prefix, const char *fmt, va_list ap)
{
    flockfile(stderr);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    funlockfile(stderr);
}

int twined_usage_error(const char *command, const char *fmt, ...)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "twined%s%s: ", command ? " " : "", command ? command : "");
    va_list ap;
    va_start(ap, fmt);
    vprint_line(prefix, fmt, ap);
    va_end(ap);
    return TWINED_EXIT_USAGE;
}

void twined_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_line("twined: ", fmt, ap);
    va_end(ap);
}

static int find_long(const twined_option *options, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(options[i].long_name) == len && strncmp(options[i].long_name, name, len) == 0)
            return (int)i;
    return -1;
}

static int find_short(const twined_option *options, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (options[i].short_name && options[i].short_name == c)
            return (int)i;
    return -1;
}

/* The value of option i: inline ("--x=v") or the next argument. */
static int take_value(twined_args *a, const twined_option *opt, const char *arg,
                      const char *inline_value, const char **value)
{
    if (!opt->has_value) {
        if (inline_value) {
            twined_usage_error(a->command, "option '--%s' takes no value", opt->long_name);
            return TWINED_ARGS_ERROR;
        }
        *value = NULL;
        return 0;
    }
    if (inline_value) {
        *value = inline_value;
        return 0;
    }
    if (a->next >= a->argc) {
        twined_usage_error(a->command, "option '%s' needs a value (try 'twined %s --help')",
                           twined_show(arg).text, a->command);
        return TWINED_ARGS_ERROR;
    }
    *value = a->argv[a->next++];
    return 0;
}

int twined_next_option(twined_args *a, const twined_option *options, size_t n,
                       const char **value)
{
    if (a->next >= a->argc)
        return TWINED_ARGS_END;
    const char *arg = a->argv[a->next];
    if (arg[0] != '-' || arg[1] == '\0')
        return TWINED_ARGS_END;
    a->next++;
    if (strcmp(arg, "--") == 0)
        return TWINED_ARGS_END;
    int i;
    const char *inline_value = NULL;
    if (arg[1] == '-') {
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
        inline_value = eq ? eq + 1 : NULL;
        i = find_long(options, n, arg + 2, len);
    } else {
        i = arg[2] == '\0' ? find_short(options, n, arg[1]) : -1;
    }
    if (i < 0) {
        twined_usage_error(a->command, "unknown option '%s' (try 'twined %s --help')",
                           twined_show(arg).text, a->command);
        return TWINED_ARGS_ERROR;
    }
    if (take_value(a, &options[i], arg, inline_value, value) != 0)
        return TWINED_ARGS_ERROR;
    return i;
}

int twined_parse_options(int argc, char **argv, const char *command,
                         const twined_option *options, size_t n, int help_option,
                         int (*help)(void), int (*take)(void *arg, int opt, const char *value),
                         void *arg, bool *stop)
{
    twined_args a;
    twined_args_init(&a, command, argc, argv);
    const char *value;
    int opt;
    while ((opt = twined_next_option(&a, options, n, &value)) >= 0) {
        if (opt == help_option) {
            *stop = true;
            return help();
        }
        int rc = take(arg, opt, value);
        if (rc != 0)
            return rc;
    }
    if (opt == TWINED_ARGS_ERROR)
        return TWINED_EXIT_USAGE;
    if (a.next < argc)
        return twined_usage_error(command, "unexpected argument '%s' (try 'twined %s --help')",
                                  twined_show(argv[a.next]).text, command);
    return 0;
}

void twined_log(void *ctx, tw_log_level level, const char *message)
{
    (void)ctx;
    if (level == TW_LOG_DEBUG)
        return;
    char line[TWINED_LOG_LINE_MAX];
    snprintf(line, sizeof line, "%s", message);
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (level == TW_LOG_INFO)
        twined_note("%s", line);
    else
        twined_note("%s: %s", tw_log_level_name(level), line);
}
