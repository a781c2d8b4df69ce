/* twined mx: the MX records of many domains, at most N looked up at once. Twisted's classic
 * example, in C: one semaphore bounds the lookups in flight, one deferred list waits for them all,
 * and the results are printed in the order the domains were given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define TWINED_MX_CONCURRENCY_DEFAULT 2
#define TWINED_MX_CONCURRENCY_MAX 10000

typedef struct mx_job {
    tw_dns_resolver *res;
    const char *domain;
} mx_job;

typedef struct mx_run {
    tw_reactor *r;
    unsigned concurrency;
    bool have_server;
    tw_dns_server server;
    char **domains;
    size_t count;
    int status; /* set when the list fires */
    bool done;
    bool interrupted; /* stopped by a signal: the list is cancelled and prints nothing */
    tw_deferred *list;
} mx_run;

/* ---- printing -------------------------------------------------------------------------------- */

/* The domain as given, unless it holds bytes that would break the line: then its escaped form. */
static void print_domain(const char *domain)
{
    uint8_t wire[TW_DNS_NAME_MAX];
    char text[TW_DNS_NAME_TEXT_MAX];
    for (const unsigned char *p = (const unsigned char *)domain; *p; p++) {
        if (*p < 0x21 || *p > 0x7e) {
            int n = tw_dns_name_to_wire(domain, wire, sizeof wire);
            if (n > 0 && tw_dns_name_to_text(wire, (size_t)n, text, sizeof text) > 0)
                fputs(text, stdout);
            return;
        }
    }
    fputs(domain, stdout);
}

/* The failure's message without the "DOMAIN: " every DNS failure starts with. */
static const char *reason_of(const tw_failure *f, const char *domain)
{
    const char *msg = tw_failure_message(f);
    size_t n = strlen(domain);
    if (strncmp(msg, domain, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        return msg + n + 2;
    return msg;
}

/* One domain's lines; returns false when it counts as failed. */
static bool print_entry(const char *domain, const tw_list_entry *e)
{
    const tw_dns_mx_list *mx = e->ok ? e->value : NULL;
    if (mx && mx->count > 0) {
        for (size_t i = 0; i < mx->count; i++) {
            print_domain(domain);
            printf(" %u %s\n", mx->items[i].preference, mx->items[i].exchange);
        }
        return true;
    }
    print_domain(domain);
    printf(" error: %s\n", mx ? "no MX records" : reason_of(e->failure, domain));
    return false;
}

static int all_done(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    mx_run *run = arg;
    const tw_list_result *list = tw_result_value(result);
    if (run->interrupted)
        return 0;
    run->status = TWINED_EXIT_OK;
    for (size_t i = 0; i < list->count; i++)
        if (!print_entry(run->domains[i], &list->entries[i]))
            run->status = TWINED_EXIT_FAILURE;
    fflush(stdout);
    run->done = true;
    tw_reactor_stop(run->r);
    return 0;
}

/* ---- running --------------------------------------------------------------------------------- */

/* The semaphore's work: one lookup, whose deferred the semaphore waits on before it releases. */
static int lookup_one(tw_result *out, void *arg)
{
    mx_job *job = arg;
    int err = 0;
    tw_deferred *d = tw_dns_lookup_mail_exchange(job->res, job->domain, &err);
    if (!d)
        return err;
    tw_result_set_deferred(out, d);
    return 0;
}

/* Starts every lookup through the semaphore and gathers them in one list. */
static int start_lookups(mx_run *run, tw_dns_resolver *res, tw_semaphore *sem, mx_job *jobs,
                         tw_deferred **ds)
{
    int err = 0;
    for (size_t i = 0; i < run->count; i++) {
        jobs[i] = (mx_job){.res = res, .domain = run->domains[i]};
        if (!(ds[i] = tw_semaphore_run(sem, lookup_one, &jobs[i], &err)))
            return err;
    }
    run->list = tw_deferred_list_new(run->r, ds, run->count, TW_DL_CONSUME_ERRORS, &err);
    if (!run->list)
        return err;
    return tw_deferred_add_callback(run->list, all_done, run);
}

static tw_dns_resolver *make_resolver(mx_run *run, int *err)
{
    tw_dns_resolv_conf conf;
    tw_dns_resolver_options options = {.nservers = 1};
    if (run->have_server) {
        options.servers = &run->server;
    } else {
        tw_dns_resolv_conf_load(NULL, &conf); /* 127.0.0.1:53 when it cannot be read */
        options.servers = &conf.servers[0];
    }
    return tw_dns_resolver_new(run->r, &options, err);
}

static int look_up_all(mx_run *run)
{
    int err = 0, status = TWINED_EXIT_FAILURE;
    tw_dns_resolver *res = make_resolver(run, &err);
    tw_semaphore *sem = res ? tw_semaphore_new(run->r, run->concurrency, &err) : NULL;
    mx_job *jobs = calloc(run->count, sizeof *jobs);
    tw_deferred **ds = calloc(run->count, sizeof *ds);
    if (sem && jobs && ds && (err = start_lookups(run, res, sem, jobs, ds)) == 0 &&
        (err = tw_reactor_run(run->r)) == 0)
        status = run->done ? run->status : TWINED_EXIT_OK; /* not done: stopped by a signal */
    else
        twined_note("mx: %s", tw_strerror(err ? err : -ENOMEM));
    if (run->list) {
        /* After a signal every lookup is cancelled, running or waiting for a token, so the
         * semaphore gets its tokens back before it is freed. Last first: a lookup still waiting
         * is gone before an earlier one's cancellation hands on its token, so no new query goes
         * out while twined stops. The list then finds them all done. */
        run->interrupted = !run->done;
        for (size_t i = run->count; i-- > 0;) /* a list exists only once every lookup does */
            tw_deferred_cancel(ds[i]);
        tw_deferred_cancel(run->list);
        tw_deferred_unref(run->list);
    }
    tw_dns_resolver_free(res);
    for (size_t i = 0; ds && i < run->count; i++)
        if (ds[i])
            tw_deferred_unref(ds[i]);
    if (sem)
        tw_semaphore_free(sem);
    free(ds);
    free(jobs);
    return status;
}

/* ---- arguments ------------------------------------------------------------------------------- */

static int mx_help(void)
{
    printf(
        "usage: twined mx [--concurrency N] [--server ADDR[:PORT]] DOMAIN...\n"
        "\n"
        "Looks up each DOMAIN's MX records with twine's own DNS client, at most N at once,\n"
        "and prints 'DOMAIN PREFERENCE EXCHANGE' lines, each domain's sorted by preference,\n"
        "the domains in the order given. A domain that fails prints 'DOMAIN error: REASON'\n"
        "instead ('no MX records' for an empty answer); the others still complete.\n"
        "\n"
        "options:\n"
        "  --concurrency N        lookups in flight at most (1..%d, default %d)\n"
        "  --server ADDR[:PORT]   the DNS server (192.0.2.1, 192.0.2.1:5353, [2001:db8::1]:53);\n"
        "                         default: the first nameserver in /etc/resolv.conf\n"
        "  -h, --help             show this help and exit\n"
        "\n"
        "Status 0: every domain has MX records. 1: some failed. 2: bad arguments.\n",
        TWINED_MX_CONCURRENCY_MAX, TWINED_MX_CONCURRENCY_DEFAULT);
    return TWINED_EXIT_OK;
}

enum { OPT_CONCURRENCY, OPT_SERVER, OPT_HELP };
static const twined_option mx_options[] = {
    [OPT_CONCURRENCY] = {"concurrency", 0, true},
    [OPT_SERVER] = {"server", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

static int parse_concurrency(mx_run *run, const char *value)
{
    char *end;
    long n = strtol(value, &end, 10);
    if (*value < '0' || *value > '9' || *end || n < 1 || n > TWINED_MX_CONCURRENCY_MAX)
        return twined_usage_error("mx", "--concurrency '%s': expected a number from 1 to %d",
                                  twined_show(value).text, TWINED_MX_CONCURRENCY_MAX);
    run->concurrency = (unsigned)n;
    return 0;
}

static int parse_option(mx_run *run, int opt, const char *value, bool *stop)
{
    switch (opt) {
    case OPT_HELP:
        *stop = true;
        return mx_help();
    case OPT_CONCURRENCY:
        return parse_concurrency(run, value);
    default:
        run->have_server = true;
        if (tw_dns_server_parse(value, TW_DNS_PORT, &run->server) < 0)
            return twined_usage_error("mx", "--server '%s': expected ADDR or ADDR:PORT with a "
                                      "numeric address", twined_show(value).text);
        return 0;
    }
}

static int parse_mx_args(mx_run *run, int argc, char **argv, bool *stop)
{
    twined_args a;
    twined_args_init(&a, "mx", argc, argv);
    const char *value;
    int opt, rc;
    while ((opt = twined_next_option(&a, mx_options, sizeof mx_options / sizeof mx_options[0],
                                     &value)) >= 0)
        if ((rc = parse_option(run, opt, value, stop)) != 0 || *stop)
            return rc;
    if (opt == TWINED_ARGS_ERROR)
        return TWINED_EXIT_USAGE;
    if (a.next >= argc)
        return twined_usage_error("mx", "missing DOMAIN (try 'twined mx --help')");
    uint8_t wire[TW_DNS_NAME_MAX];
    for (int i = a.next; i < argc; i++)
        if (tw_dns_name_to_wire(argv[i], wire, sizeof wire) < 0)
            return twined_usage_error("mx", "invalid domain '%s'", twined_show(argv[i]).text);
    run->domains = argv + a.next;
    run->count = (size_t)(argc - a.next);
    return 0;
}

static int run_mx(int argc, char **argv)
{
    mx_run run = {.concurrency = TWINED_MX_CONCURRENCY_DEFAULT};
    bool stop = false;
    int status = parse_mx_args(&run, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    int err = 0;
    if (!(run.r = tw_reactor_new(&err))) {
        twined_note("cannot start the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    tw_reactor_set_logger(run.r, twined_log, NULL);
    if ((err = tw_reactor_install_signal_handlers(run.r)) < 0) {
        twined_note("cannot set up the reactor: %s", tw_strerror(err));
        status = TWINED_EXIT_FAILURE;
    } else {
        status = look_up_all(&run);
    }
    tw_reactor_uninstall_signal_handlers(run.r);
    tw_reactor_free(run.r);
    return status;
}

const twined_command twined_mx_command = {
    .name = "mx",
    .summary = "MX look-ups of many domains, at most N at once",
    .run = run_mx,
};
