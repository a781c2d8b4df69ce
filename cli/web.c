/* twined web: a static HTTP/1.1 file server (Twisted's `twistd web --path`), one tw_http_server
 * per reactor serving DIR on every --listen endpoint; the server itself is protocols/http
 * (include/twine/http.h), this file is its command line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct web_server {
    twined_listeners listeners; /* no factory template: each reactor's server brings its own */
    const char *path;
    bool listing;
    const char *access_log; /* FILE, "-" for stdout, or NULL */
    int access_log_fd;
    tw_http_server *servers[TWINED_REACTORS_MAX];
} web_server;

/* ---- arguments ------------------------------------------------------------------------------- */

static int web_help(void)
{
    printf("usage: twined web --listen ENDPOINT [--listen ENDPOINT ...] --path DIR [--listing]\n"
           "                  [--access-log FILE|-] [--reactors N]\n"
           "\n"
           "Static HTTP/1.1 file server: GET and HEAD of the files beneath DIR, with keep-alive\n"
           "and pipelining, byte ranges, If-Modified-Since, index.html for a directory; nothing\n"
           "outside DIR is ever served.\n"
           "\n"
           "options:\n"
           "  --listen ENDPOINT    where to listen; may be repeated (at most %d). Examples:\n"
           "                         tcp:8080                    all IPv4 addresses, port 8080\n"
           "                         tcp:0:interface=127.0.0.1   a free port on 127.0.0.1\n"
           "                         tcp6:8080:interface=\\:\\:1   IPv6 (escape colons as \\:)\n"
           "                         unix:/tmp/web.sock          a UNIX socket\n"
           "  --path DIR           the directory served (required)\n"
           "  --listing            list a directory that has no index.html (else 403)\n"
           "  --access-log FILE|-  one line per request (combined log format), appended to FILE\n"
           "                       or written to stdout for '-'; off by default\n"
           "  --reactors N         N reactors on N threads (1 to %d, default 1), each listening\n"
           "                       on every tcp: and tcp6: endpoint with SO_REUSEPORT, so the\n"
           "                       kernel spreads the connections; not with unix:\n"
           "  -h, --help           show this help and exit\n"
           "\n"
           "Prints 'twined: listening on ADDRESS' on stderr for each endpoint; stops on SIGINT or\n"
           "SIGTERM with status 0. Status 1: could not listen, DIR is not a directory it can\n"
           "open, FILE cannot be opened. Status 2: bad arguments.\n",
           TWINED_LISTEN_MAX, TWINED_REACTORS_MAX);
    return TWINED_EXIT_OK;
}

enum { OPT_LISTEN, OPT_PATH, OPT_LISTING, OPT_ACCESS_LOG, OPT_REACTORS, OPT_HELP };
static const twined_option web_options[] = {
    [OPT_LISTEN] = {"listen", 0, true},
    [OPT_PATH] = {"path", 0, true},
    [OPT_LISTING] = {"listing", 0, false},
    [OPT_ACCESS_LOG] = {"access-log", 0, true},
    [OPT_REACTORS] = {"reactors", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

/* A value given once only (a second --path would silently win otherwise). */
static int set_once(const char **slot, const char *name, const char *value)
{
    if (*slot)
        return twined_usage_error("web", "--%s given twice", name);
    if (!*value)
        return twined_usage_error("web", "--%s: empty value", name);
    *slot = value;
    return 0;
}

static int take_web_option(void *arg, int opt, const char *value)
{
    web_server *s = arg;
    switch (opt) {
    case OPT_LISTEN:
        return twined_listeners_add(&s->listeners, value);
    case OPT_PATH:
        return set_once(&s->path, "path", value);
    case OPT_LISTING:
        s->listing = true;
        return 0;
    case OPT_ACCESS_LOG:
        return set_once(&s->access_log, "access-log", value);
    default:
        return twined_listeners_set_reactors(&s->listeners, value);
    }
}

/* stdio: would make one connection of stdin and stdout, and twined web has no use for it. */
static int check_endpoints(const twined_listeners *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->endpoints[i].type == TW_ENDPOINT_STDIO)
            return twined_usage_error("web", "--listen stdio: is not supported by web (use "
                                      "tcp:, tcp6: or unix:)");
    return 0;
}

/* 0 to go on, or the exit status to stop with (--help is TWINED_EXIT_OK and stops). */
static int parse_web_args(web_server *s, int argc, char **argv, bool *stop)
{
    int rc = twined_parse_options(argc, argv, "web", web_options,
                                  sizeof web_options / sizeof web_options[0], OPT_HELP, web_help,
                                  take_web_option, s, stop);
    if (rc != 0 || *stop)
        return rc;
    if (s->listeners.count == 0 || !s->path)
        return twined_usage_error("web", "missing required option %s (try 'twined web --help')",
                                  s->listeners.count == 0 ? "--listen" : "--path");
    return check_endpoints(&s->listeners);
}

/* ---- running --------------------------------------------------------------------------------- */

/* DIR is checked once, before anything listens, so that a typo says so in its own words (the
 * first reactor's set-up does it, after every usage error has had its say). */
static int check_path(const char *path)
{
    struct stat st;
    int err = stat(path, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (err)
        twined_note("--path '%s': %s", twined_show(path).text, strerror(err));
    return err ? TWINED_EXIT_FAILURE : 0;
}

static int open_access_log(web_server *s)
{
    if (!s->access_log)
        return 0;
    if (strcmp(s->access_log, "-") == 0) {
        s->access_log_fd = STDOUT_FILENO;
        return 0;
    }
    s->access_log_fd = open(s->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->access_log_fd < 0) {
        twined_note("--access-log '%s': %s", twined_show(s->access_log).text, strerror(errno));
        return TWINED_EXIT_FAILURE;
    }
    return 0;
}

static void close_access_log(web_server *s)
{
    if (s->access_log_fd > STDERR_FILENO)
        close(s->access_log_fd);
    s->access_log_fd = -1;
}

/* Each reactor gets a server of its own: a server belongs to one reactor's thread. */
static int make_server(void *arg, tw_reactor *r, unsigned index, tw_factory **factory)
{
    web_server *s = arg;
    int status = index == 0 ? check_path(s->path) : 0;
    if (status == 0 && index == 0)
        status = open_access_log(s);
    if (status != 0)
        return status;
    tw_http_options o;
    tw_http_options_init(&o);
    o.root = s->path;
    o.listing = s->listing;
    o.access_log_fd = s->access_log_fd;
    int err = 0;
    s->servers[index] = tw_http_server_new(r, &o, &err);
    if (!s->servers[index]) {
        twined_note("--path '%s': %s", twined_show(s->path).text, tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    *factory = tw_http_server_factory(s->servers[index]);
    return 0;
}

static void free_server(void *arg, tw_reactor *r, unsigned index)
{
    (void)r;
    web_server *s = arg;
    tw_http_server_free(s->servers[index]); /* its ports are closed by now */
    s->servers[index] = NULL;
}

static int run_web(int argc, char **argv)
{
    web_server s = {.access_log_fd = -1};
    s.listeners = (twined_listeners){.command = "web", .setup = make_server,
                                     .teardown = free_server, .arg = &s};
    bool stop = false;
    int status = parse_web_args(&s, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    status = twined_serve(&s.listeners);
    close_access_log(&s);
    return status;
}

const twined_command twined_web_command = {
    .name = "web",
    .summary = "static HTTP/1.1 file server for a directory",
    .run = run_web,
};
