/* Connect failures that loopback alone cannot produce (no route, an unreachable route, a router
 * that answers with ICMP, a peer that silently drops SYNs), each in a network namespace of its own
 * that a forked child creates with unshare(CLONE_NEWNET). Needs root; skips itself otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"

/* Seconds a child waits for the connect to resolve at most: a guard, never reached when all is
 * well. */
#define NETNS_RESOLVE_BOUND 5.0
/* The connect timeout of the tests where nobody answers. */
#define NETNS_SHORT_TIMEOUT 0.3
/* "Promptly": an error connect() reports at once reaches the factory on the next turn. */
#define NETNS_PROMPT_BOUND 0.5
#define NETNS_TUN_NAME "twtun0"

/* ---- the namespace: links and routes, set up without external tools -------------------------- */

/* The tun device of the SYN-dropping IPv6 test (nobody reads it, so whatever is routed there is
 * lost without an answer), or -1. */
static int tun_fd = -1;

static int set_link_up(const char *name)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    rc = rc < 0 ? -errno : 0;
    close(s);
    return rc;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends one request to the kernel's routing socket and returns its answer: 0 or -errno. */
static int netlink_request(struct nlmsghdr *nh)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -errno;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int rc = -EIO;
    if (sendto(s, nh, nh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        rc = -errno;
    } else {
        char answer[512];
        ssize_t n = recv(s, answer, sizeof answer, 0);
        struct nlmsghdr *ah = (struct nlmsghdr *)answer;
        if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && ah->nlmsg_type == NLMSG_ERROR)
            rc = ((struct nlmsgerr *)NLMSG_DATA(ah))->error;
    }
    close(s);
    return rc;
}

/* ip route add [TYPE] PREFIX/LEN [dev DEV]: type RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT, or
 * RTN_UNICAST with dev. */
static int add_route(int family, const char *prefix, unsigned char prefix_len, unsigned char type,
                     const char *dev)
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        char attrs[64];
    } req = {0};
    unsigned char dst[16];
    if (inet_pton(family, prefix, dst) != 1)
        return -EINVAL;
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt);
    req.nh.nlmsg_type = RTM_NEWROUTE;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    req.rt.rtm_family = (unsigned char)family;
    req.rt.rtm_dst_len = prefix_len;
    req.rt.rtm_table = RT_TABLE_MAIN;
    req.rt.rtm_protocol = RTPROT_STATIC;
    req.rt.rtm_type = type;
    req.rt.rtm_scope = dev ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    add_attr(&req.nh, RTA_DST, dst, family == AF_INET ? 4 : 16);
    if (dev) {
        int index = (int)if_nametoindex(dev);
        if (index == 0)
            return -ENODEV;
        add_attr(&req.nh, RTA_OIF, &index, sizeof index);
    }
    return netlink_request(&req.nh);
}

/* A point-to-point device whose packets go to a file descriptor nobody reads. */
static int open_tun(void)
{
    tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun_fd < 0)
        return -errno;
    struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", NETNS_TUN_NAME);
    if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0)
        return -errno;
    return set_link_up(NETNS_TUN_NAME);
}

/* ---- what the child does, and what it tells the parent --------------------------------------- */

typedef enum { RAN, SKIPPED, BROKEN } child_status;

typedef struct {
    child_status status;
    char detail[160];       /* why it skipped or broke */
    int failed, made;       /* client_connection_failed calls, connections made */
    char fail_type[40];
    int fail_code;
    double elapsed;         /* seconds from tw_connect_tcp to the failure */
    int fds_before, fds_after;
} outcome;

/* One route: ip route add [TYPE] PREFIX/LEN [dev DEV]. */
typedef struct {
    int family;             /* 0: none */
    const char *prefix;
    unsigned char len;
    unsigned char type; /* RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT, or RTN_UNICAST with dev */
    const char *dev;
} route;

typedef struct {
    bool lo_up;             /* a fresh namespace has lo down */
    bool tun;               /* needs the tun device (skips when there is none) */
    route route;
    const char *host;
    double timeout;
} scenario;

/* Builds sc's namespace: 0, or -errno. */
static int set_up_namespace(const scenario *sc)
{
    int rc = sc->lo_up ? set_link_up("lo") : 0;
    if (rc == 0 && sc->tun)
        rc = open_tun();
    const route *rt = &sc->route;
    if (rc == 0 && rt->family)
        rc = add_route(rt->family, rt->prefix, rt->len, rt->type, rt->dev);
    return rc;
}

/* The connect itself, on a reactor of the child's own, freed before the outcome is reported. */
static void run_connect(const scenario *sc, outcome *out)
{
    /* Timed from before the reactor reads its clock: the connect timeout counts from the time
     * its turn cached, which the slow /proc count below (under ThreadSanitizer) makes stale. */
    double start = tw_test_now();
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    if (!r) {
        out->status = BROKEN;
        snprintf(out->detail, sizeof out->detail, "no reactor");
        return;
    }
    tw_test_factory fac;
    tw_test_factory_init(&fac);
    out->fds_before = tw_test_count_open_fds();
    int err = 0;
    if (!tw_connect_tcp(r, sc->host, 80, sc->timeout, &fac.factory, &err)) {
        out->status = err == -EAFNOSUPPORT ? SKIPPED : BROKEN; /* a kernel without IPv6 */
        snprintf(out->detail, sizeof out->detail, "tw_connect_tcp: %s", tw_strerror(err));
    } else {
        tw_test_run_until(r, tw_test_failed, &fac, NETNS_RESOLVE_BOUND);
        out->elapsed = tw_test_now() - start;
        tw_reactor_iterate(r, 0); /* closes are done by the end of a turn */
        out->fds_after = tw_test_count_open_fds();
    }
    out->failed = fac.failed;
    out->made = (int)tw_test_factory_made(&fac);
    out->fail_code = fac.fail_code;
    snprintf(out->fail_type, sizeof out->fail_type, "%s", fac.fail_type);
    tw_test_reactor_free(r, &log);
    tw_test_factory_free(&fac);
}

static void run_child(const scenario *sc, outcome *out)
{
    if (unshare(CLONE_NEWNET) < 0) {
        out->status = SKIPPED;
        snprintf(out->detail, sizeof out->detail,
                 "unshare(CLONE_NEWNET): %s (needs root and network namespaces)", strerror(errno));
        return;
    }
    int rc = set_up_namespace(sc);
    if (rc < 0) {
        out->status = sc->tun && rc == -ENOENT ? SKIPPED : BROKEN;
        snprintf(out->detail, sizeof out->detail, "setting up the namespace: %s%s", strerror(-rc),
                 out->status == SKIPPED ? " (no /dev/net/tun)" : "");
        return;
    }
    out->status = RAN;
    run_connect(sc, out);
}

/* Runs sc in a forked child and returns what happened there; skips the running test when the
 * child could not make its namespace. */
static outcome run_in_namespace(const scenario *sc)
{
    outcome out = {.status = BROKEN};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        run_child(sc, &out);
        if (tun_fd >= 0)
            close(tun_fd);
        ssize_t n = write(fds[1], &out, sizeof out);
        _exit(n == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof out && (n = read(fds[0], (char *)&out + got, sizeof out - got)) != 0) {
        if (n < 0 && errno != EINTR)
            break;
        got += n > 0 ? (size_t)n : 0;
    }
    close(fds[0]);
    int wstatus = 0;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
    assert_int_equal(got, sizeof out);
    if (out.status == SKIPPED) {
        print_message("skipped: %s\n", out.detail);
        skip();
    }
    if (out.status == BROKEN)
        fail_msg("%s", out.detail);
    return out;
}

/* The connect failed once, with this type and code, before the child's guard ran out, leaving no
 * descriptor behind. */
static void assert_failed_with(const outcome *out, const char *type, int code)
{
    assert_int_equal(out->made, 0);
    assert_int_equal(out->failed, 1);
    assert_string_equal(out->fail_type, type);
    assert_int_equal(out->fail_code, code);
    assert_true(out->elapsed < NETNS_RESOLVE_BOUND);
    assert_true(out->fds_before > 0);
    assert_int_equal(out->fds_after, out->fds_before);
}

/* ---- the namespaces -------------------------------------------------------------------------- */

/* Routed into lo, a SYN comes back in to a host that is not its destination and does not forward:
 * IPv4 drops it without a word, IPv6 answers with ICMPv6 "no route". */
#define INTO_LO_4 {AF_INET, "10.6.0.0", 16, RTN_UNICAST, "lo"}
#define INTO_LO_6 {AF_INET6, "fd00:6::", 32, RTN_UNICAST, "lo"}

/* ---- the cases ------------------------------------------------------------------------------- */

typedef enum {
    PROMPTLY,   /* connect() reported the error at once: the factory hears of it on the next turn */
    LATER,      /* the kernel reports it through SO_ERROR once the connect was in progress */
    TIMES_OUT   /* nobody answers: twine's own connect timeout ends the attempt */
} when;

typedef struct {
    scenario sc;
    const char *type;
    int code;
    when when;
} expectation;

static void test_connect_fails(void **state)
{
    const expectation *e = *state;
    outcome out = run_in_namespace(&e->sc);
    assert_failed_with(&out, e->type, e->code);
    if (e->when == PROMPTLY)
        assert_true(out.elapsed < NETNS_PROMPT_BOUND);
    if (e->when == TIMES_OUT)
        assert_true(out.elapsed >= NETNS_SHORT_TIMEOUT - 0.01);
}

#define LO_UP .lo_up = true
#define SHORT .timeout = NETNS_SHORT_TIMEOUT
#define LONG .timeout = 10

static const expectation ipv4_no_route = { /* a fresh namespace: lo down, no routes */
    {.host = "10.1.2.3", LONG}, TW_NO_ROUTE_ERROR, -ENETUNREACH, PROMPTLY};
static const expectation ipv4_unreachable_route = {
    {LO_UP, .route = {AF_INET, "10.9.0.0", 16, RTN_UNREACHABLE, NULL}, .host = "10.9.0.1", LONG},
    TW_NO_ROUTE_ERROR, -EHOSTUNREACH, PROMPTLY};
/* Twisted's getConnectError: an errno without a type of its own is a plain ConnectError. */
static const expectation ipv4_blackhole_route = {
    {LO_UP, .route = {AF_INET, "10.8.0.0", 16, RTN_BLACKHOLE, NULL}, .host = "10.8.0.1", LONG},
    TW_CONNECT_ERROR, -EINVAL, PROMPTLY};
static const expectation ipv4_prohibit_route = {
    {LO_UP, .route = {AF_INET, "10.7.0.0", 16, RTN_PROHIBIT, NULL}, .host = "10.7.0.1", LONG},
    TW_CONNECT_ERROR, -EACCES, PROMPTLY};
static const expectation ipv4_syns_dropped = {
    {LO_UP, .route = INTO_LO_4, .host = "10.6.0.1", SHORT},
    TW_TIMEOUT_ERROR,
    -ETIMEDOUT,
    TIMES_OUT};

/* With lo down there is no address to send from at all. */
static const expectation ipv6_fresh_namespace = {
    {.host = "fd00::1", LONG}, TW_CONNECT_ERROR, -EADDRNOTAVAIL, PROMPTLY};
static const expectation ipv6_no_route = {
    {LO_UP, .host = "fd00::1", LONG}, TW_NO_ROUTE_ERROR, -ENETUNREACH, PROMPTLY};
static const expectation ipv6_unreachable_route = {
    {LO_UP, .route = {AF_INET6, "fd00:9::", 32, RTN_UNREACHABLE, NULL}, .host = "fd00:9::1", LONG},
    TW_NO_ROUTE_ERROR, -EHOSTUNREACH, PROMPTLY};
/* The answer is an ICMPv6 "no route": the first one arrives while connect() still holds the socket
 * and only counts as a soft error; the one answering the SYN resent a second later fails the
 * connect, through SO_ERROR. */
static const expectation ipv6_icmp_no_route = {
    {LO_UP, .route = INTO_LO_6, .host = "fd00:6::1", LONG}, TW_NO_ROUTE_ERROR, -ENETUNREACH, LATER};
/* Routed into a tun device that nobody reads: lost without an answer. */
static const expectation ipv6_syns_dropped = {
    {LO_UP, .tun = true, .route = {AF_INET6, "fd00:6::", 32, RTN_UNICAST, NETNS_TUN_NAME},
     .host = "fd00:6::1", SHORT},
    TW_TIMEOUT_ERROR, -ETIMEDOUT, TIMES_OUT};

#define CASE(e) {#e, test_connect_fails, NULL, NULL, (void *)&(e)}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(ipv4_no_route),
        CASE(ipv4_unreachable_route),
        CASE(ipv4_blackhole_route),
        CASE(ipv4_prohibit_route),
        CASE(ipv4_syns_dropped),
        CASE(ipv6_fresh_namespace),
        CASE(ipv6_no_route),
        CASE(ipv6_unreachable_route),
        CASE(ipv6_icmp_no_route),
        CASE(ipv6_syns_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
