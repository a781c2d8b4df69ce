/* The hostname endpoint against real failures that loopback alone cannot produce, each in a forked
 * child with a network and a mount namespace of its own: extra addresses on lo, a hosts file
 * bind-mounted over /etc/hosts (and a resolv.conf pointing at nobody), and nft rules that drop or
 * reset the connections to one address. It shows the fallback after about one attempt delay when
 * the first address is black-holed (not after a timeout), at once when it resets, and interleaving
 * when two dead IPv6 addresses come before a live IPv4 one. Needs root, `ip` and `nft`; skips
 * itself with the reason otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/child.h"
#include "support/net.h"
#include "support/outcome.h"
#include "support/reactor_test.h"

#define NETNS_PORT 8080
#define NETNS_NAME "twine-he.test"
/* A guard: every scenario ends well within it. */
#define NETNS_BOUND 5.0
/* "At once": a reset reaches the endpoint in well under a millisecond; this only guards. */
#define NETNS_AT_ONCE 0.1
/* "About one attempt delay": at least the delay, and far from any TCP timeout (the first SYN is
 * resent after 1 s). */
#define NETNS_DELAY_SLACK 0.5

typedef enum { RAN, SKIPPED, BROKEN } child_status;

typedef struct {
    child_status status;
    char detail[200];
    bool ok;                 /* the connect succeeded */
    char type[64];           /* or failed with this */
    char winner[64];         /* the address that won */
    size_t attempt, count;   /* its place (1-based) and how many addresses there were */
    double elapsed;
    char order[4][64];       /* getaddrinfo's order for the name */
    size_t norder;
} outcome;

typedef enum { DROP, RESET } rule;

typedef struct {
    const char *hosts;       /* the hosts file's line for NETNS_NAME: "ADDR NAME" lines */
    const char *addresses;   /* extra addresses for lo, "ip" syntax, space separated */
    int dead;                /* how many addresses, first in getaddrinfo's order, get the rule */
    rule rule;
    const char *name;        /* what to connect to */
} scenario;

/* ---- setting up the namespaces --------------------------------------------------------------- */

static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int bind_file(const char *target, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/twine-he-%d-%s", (int)getpid(), strrchr(target, '/') + 1);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    fclose(f);
    int rc = mount(path, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
    unlink(path); /* the mount keeps it */
    return rc;
}

static const char *set_up(const scenario *sc, outcome *out)
{
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
        out->status = SKIPPED;
        return "unshare(CLONE_NEWNET | CLONE_NEWNS) failed: needs root and namespaces";
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return "cannot make the mounts private";
    if (sh("command -v ip >/dev/null && command -v nft >/dev/null") != 0) {
        out->status = SKIPPED;
        return "needs the ip and nft tools";
    }
    if (sh("ip link set lo up") != 0)
        return "ip link set lo up failed";
    char addrs[256];
    snprintf(addrs, sizeof addrs, "%s", sc->addresses);
    for (char *a = strtok(addrs, " "); a; a = strtok(NULL, " "))
        if (sh("ip addr add %s dev lo nodad 2>/dev/null || ip addr add %s dev lo", a, a) != 0)
            return "ip addr add failed";
    char hosts[512];
    snprintf(hosts, sizeof hosts, "127.0.0.1 localhost\n%s", sc->hosts);
    if (bind_file("/etc/hosts", hosts) < 0)
        return "cannot bind-mount /etc/hosts";
    if (bind_file("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n") < 0)
        return "cannot bind-mount /etc/resolv.conf";
    return NULL;
}

/* getaddrinfo's order for the name, as the endpoint's resolver will see it. */
static const char *read_order(const scenario *sc, outcome *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(sc->name, NULL, &hints, &res) != 0)
        return NULL; /* a name that does not resolve: that is the scenario */
    for (struct addrinfo *ai = res; ai && out->norder < 4; ai = ai->ai_next) {
        tw_address a;
        if (tw_address_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) == 0)
            snprintf(out->order[out->norder++], sizeof out->order[0], "%s", a.host);
    }
    freeaddrinfo(res);
    return NULL;
}

static const char *add_rules(const scenario *sc, const outcome *out)
{
    if (sc->dead == 0)
        return NULL;
    if (sh("nft add table inet twtest && nft add chain inet twtest in "
           "'{ type filter hook input priority 0; }'") != 0)
        return "nft: cannot add the table (no nf_tables?)";
    for (int i = 0; i < sc->dead && (size_t)i < out->norder; i++) {
        const char *a = out->order[i];
        const char *family = strchr(a, ':') ? "ip6" : "ip";
        const char *verdict = sc->rule == DROP ? "drop" : "reject with tcp reset";
        if (sh("nft add rule inet twtest in %s daddr %s tcp dport %d %s", family, a, NETNS_PORT,
               verdict) != 0)
            return "nft add rule failed";
    }
    return NULL;
}

/* ---- the connect ----------------------------------------------------------------------------- */

typedef struct {
    outcome *out;
} tracer;

static void trace(void *ctx, const tw_attempt_info *info)
{
    outcome *out = ctx;
    if (info->event != TW_ATTEMPT_WON)
        return;
    snprintf(out->winner, sizeof out->winner, "%s", info->address->host);
    out->attempt = info->index + 1;
    out->count = info->count;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Listens on every address the name has that is not dead, then connects to the name. */
static void run_connect(const scenario *sc, outcome *out)
{
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    tw_test_factory server, client;
    tw_test_factory_init(&server);
    tw_test_factory_init(&client);
    tw_port *ports[4] = {NULL};
    for (size_t i = (size_t)sc->dead; i < out->norder; i++) {
        int err = 0;
        bool v6 = strchr(out->order[i], ':') != NULL;
        ports[i] = v6 ? tw_listen_tcp6(r, NETNS_PORT, out->order[i], 0, &server.factory, &err)
                      : tw_listen_tcp(r, NETNS_PORT, out->order[i], 0, &server.factory, &err);
    }
    tw_hostname_options o = {.on_attempt = trace, .on_attempt_ctx = out};
    int err = 0;
    tw_client_endpoint *ep = tw_hostname_endpoint_new(r, sc->name, NETNS_PORT, &o, &err);
    double start = monotonic_seconds();
    tw_test_outcome result;
    tw_test_outcome_expect(tw_client_endpoint_connect(ep, &client.factory, &err), &result);
    tw_test_run_until(r, tw_test_outcome_fired, &result, NETNS_BOUND);
    out->elapsed = monotonic_seconds() - start;
    out->ok = tw_test_outcome_ok(&result);
    snprintf(out->type, sizeof out->type, "%s", result.fired ? result.type : "(nothing)");
    if (out->ok)
        tw_transport_abort_connection(((tw_protocol *)result.value)->transport);
    for (size_t i = 0; i < 4; i++)
        if (ports[i])
            tw_port_free(ports[i]);
    tw_client_endpoint_free(ep);
    tw_test_reactor_free(r, &log);
    tw_test_factory_free(&server);
    tw_test_factory_free(&client);
}

static void run_child(const void *arg, void *result)
{
    const scenario *sc = arg;
    outcome *out = result;
    out->status = BROKEN;
    const char *why = set_up(sc, out);
    if (!why)
        why = read_order(sc, out);
    if (!why)
        why = add_rules(sc, out);
    if (why) {
        snprintf(out->detail, sizeof out->detail, "%s", why);
        return;
    }
    out->status = RAN;
    run_connect(sc, out);
}

static outcome run_in_namespace(const scenario *sc)
{
    outcome out = {.status = BROKEN};
    tw_test_run_in_child(run_child, sc, &out, sizeof out);
    if (out.status == SKIPPED) {
        print_message("skipped: %s\n", out.detail);
        skip();
    }
    if (out.status == BROKEN)
        fail_msg("%s", out.detail);
    return out;
}

static void report(const char *what, const outcome *out)
{
    print_message("%s: %s via %s (attempt %zu of %zu) in %.0f ms\n", what,
                  out->ok ? "connected" : out->type, out->winner[0] ? out->winner : "-",
                  out->attempt, out->count, out->elapsed * 1000);
}

/* ---- the scenarios --------------------------------------------------------------------------- */

#define TWO_FAMILIES "fd00::1 " NETNS_NAME "\n127.0.0.2 " NETNS_NAME "\n"

static void test_first_address_black_holed(void **state)
{
    (void)state;
    const scenario sc = {TWO_FAMILIES, "fd00::1/128", 1, DROP, NETNS_NAME};
    outcome out = run_in_namespace(&sc);
    report("first address black-holed", &out);
    assert_true(out.ok);
    assert_string_equal(out.winner, out.order[1]);
    assert_int_equal(out.attempt, 2);
    assert_true(out.elapsed >= TW_HAPPY_EYEBALLS_DELAY_DEFAULT - 0.005);
    assert_true(out.elapsed < TW_HAPPY_EYEBALLS_DELAY_DEFAULT + NETNS_DELAY_SLACK);
}

static void test_first_address_resets(void **state)
{
    (void)state;
    const scenario sc = {TWO_FAMILIES, "fd00::1/128", 1, RESET, NETNS_NAME};
    outcome out = run_in_namespace(&sc);
    report("first address resets", &out);
    assert_true(out.ok);
    assert_string_equal(out.winner, out.order[1]);
    assert_true(out.elapsed < NETNS_AT_ONCE);
}

/* 2001:db8:: addresses have the default precedence, above IPv4's (RFC 6724), so getaddrinfo puts
 * both before 127.0.0.2; interleaving tries the IPv4 address second. */
static void test_two_dead_ipv6_before_a_live_ipv4(void **state)
{
    (void)state;
    const scenario sc = {"2001:db8::1 " NETNS_NAME "\n2001:db8::2 " NETNS_NAME "\n127.0.0.2 "
                         NETNS_NAME "\n",
                         "2001:db8::1/128 2001:db8::2/128", 2, DROP, NETNS_NAME};
    outcome out = run_in_namespace(&sc);
    report("two dead IPv6 before a live IPv4", &out);
    assert_true(out.ok);
    if (strchr(out.order[0], ':') && strchr(out.order[1], ':')) {
        assert_string_equal(out.winner, "127.0.0.2");
        assert_int_equal(out.attempt, 2);
        assert_true(out.elapsed < TW_HAPPY_EYEBALLS_DELAY_DEFAULT + NETNS_DELAY_SLACK);
    } else {
        print_message("note: getaddrinfo put IPv4 first here; interleaving not exercised\n");
    }
}

static void test_unknown_name(void **state)
{
    (void)state;
    const scenario sc = {TWO_FAMILIES, "", 0, DROP, "nowhere.twine-he.test"};
    outcome out = run_in_namespace(&sc);
    report("unknown name", &out);
    assert_false(out.ok);
    assert_string_equal(out.type, TW_DNS_LOOKUP_ERROR);
    assert_true(out.elapsed < NETNS_BOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_address_black_holed),
        cmocka_unit_test(test_first_address_resets),
        cmocka_unit_test(test_two_dead_ipv6_before_a_live_ipv4),
        cmocka_unit_test(test_unknown_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
