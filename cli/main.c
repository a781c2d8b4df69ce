/* twined: twine's runner (like Twisted's twistd). main() handles --version and --help and hands the
 * rest to a subcommand. Adding a subcommand is one file defining twined_NAME_command and one
 * X(NAME) line in TWINED_COMMANDS below. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define TWINED_COMMANDS X(echo) X(web) X(forward) X(connect) X(mx)

#define X(name) extern const twined_command twined_##name##_command;
TWINED_COMMANDS
#undef X

static const twined_command *const commands[] = {
#define X(name) &twined_##name##_command,
    TWINED_COMMANDS
#undef X
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int print_help(void)
{
    printf("usage: twined COMMAND [OPTIONS]\n"
           "       twined --debug[=SECONDS] COMMAND [OPTIONS]\n"
           "       twined --version | --help\n"
           "\n"
           "twine's runner: serves the command in the foreground until SIGINT or SIGTERM.\n"
           "\n"
           "  --debug[=SECONDS]  log every callback that runs longer than SECONDS (default %g);\n"
           "                     a metrics line on SIGUSR1 and at exit\n"
           "\n"
           "commands:\n", TW_DEBUG_SLOW_DEFAULT);
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("\n"
           "'twined COMMAND --help' describes a command and its options.\n"
           "Exit status: 0 on success, 1 on a failure at run time, 2 on bad arguments.\n");
    return TWINED_EXIT_OK;
}

static const twined_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

/* "--debug" or "--debug=SECONDS"; NULL for any other argument. */
static const char *debug_option(const char *arg, bool *is_debug)
{
    static const char name[] = "--debug";
    *is_debug = strncmp(arg, name, sizeof name - 1) == 0 &&
                (arg[sizeof name - 1] == '\0' || arg[sizeof name - 1] == '=');
    return *is_debug && arg[sizeof name - 1] == '=' ? arg + sizeof name : NULL;
}

int main(int argc, char **argv)
{
    bool is_debug = false;
    while (argc > 1) {
        const char *value = debug_option(argv[1], &is_debug);
        if (!is_debug)
            break;
        if (twined_set_debug(value) != 0)
            return TWINED_EXIT_USAGE;
        argc--;
        argv++;
    }
    if (argc < 2)
        return twined_usage_error(NULL, "missing command (try 'twined --help')");
    const char *arg = argv[1];
    if (strcmp(arg, "--version") == 0) {
        printf("twined %s (backend: %s)\n", tw_version_string(), tw_reactor_backend());
        return TWINED_EXIT_OK;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
        return print_help();
    if (arg[0] == '-')
        return twined_usage_error(NULL, "unknown option '%s' (try 'twined --help')",
                                  twined_show(arg).text);
    const twined_command *command = find_command(arg);
    if (!command)
        return twined_usage_error(NULL, "unknown command '%s' (try 'twined --help')",
                                  twined_show(arg).text);
    return command->run(argc - 1, argv + 1);
}
