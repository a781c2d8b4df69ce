/* Debug mode and metrics: callbacks timed on the reactor's clock, the slow ones logged with the
 * name of their function (dladdr, where the C library has it), and the counters
 * tw_reactor_get_metrics reports. The dispatch points call in here only while debug mode is on. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "reactor/internal.h"

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    (defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
#define TW_HAVE_DLADDR 1 /* in the C library itself: no -ldl needed */
#include <dlfcn.h>
#endif

/* Room for "reader of fd 123456 some_function_name (module+0x1234)". */
#define CALLBACK_NAME_MAX 256

/* A function pointer as an address: ISO C has no conversion between the two, memcpy has. */
static const void *fn_address(const void *fn_ptr, size_t size)
{
    const void *addr = NULL;
    memcpy(&addr, fn_ptr, size < sizeof addr ? size : sizeof addr);
    return addr;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The function's symbol when the dynamic symbol table has it; else module+offset (the executable's
 * static functions are not in it: addr2line -e module offset names them); else the address. */
static void name_function(const void *addr, char *buf, size_t size)
{
#ifdef TW_HAVE_DLADDR
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        if (info.dli_sname && info.dli_saddr == addr)
            snprintf(buf, size, "%s", info.dli_sname);
        else
            snprintf(buf, size, "%s+0x%jx", base_name(info.dli_fname),
                     (uintmax_t)((uintptr_t)addr - (uintptr_t)info.dli_fbase));
        return;
    }
#endif
    snprintf(buf, size, "%p", addr);
}

/* Counts a callback that took ns, and logs it if slow. fd < 0: not an fd watcher. */
static void account(tw_reactor *r, int64_t ns, const char *what, int fd, const void *fn)
{
    if (ns > r->metrics.slowest_ns)
        r->metrics.slowest_ns = ns;
    if (ns <= r->slow_ns)
        return;
    r->metrics.slow++;
    char name[CALLBACK_NAME_MAX];
    name_function(fn, name, sizeof name);
    char where[32] = "";
    if (fd >= 0)
        snprintf(where, sizeof where, " of fd %d", fd);
    tw_reactor_log(r, TW_LOG_WARN, "slow callback: %s%s %s took %.3f s (threshold %.3f s)", what,
                   where, name, (double)ns / 1e9, (double)r->slow_ns / 1e9);
}

int tw__debug_run_fn(tw_reactor *r, const char *what, tw_fn fn, void *arg)
{
    int64_t start = tw__reactor_clock(r);
    int err = fn(arg);
    account(r, tw__reactor_clock(r) - start, what, -1, fn_address(&fn, sizeof fn));
    return err;
}

int tw__debug_run_io(tw_reactor *r, const char *what, tw_io_fn fn, int fd, void *arg)
{
    int64_t start = tw__reactor_clock(r);
    int err = fn(r, fd, arg);
    account(r, tw__reactor_clock(r) - start, what, fd, fn_address(&fn, sizeof fn));
    return err;
}

int tw_reactor_set_debug(tw_reactor *r, double slow_callback_seconds)
{
    if (!r || isnan(slow_callback_seconds) || slow_callback_seconds < 0)
        return -EINVAL;
    r->debug = slow_callback_seconds > 0;
    r->slow_ns = slow_callback_seconds > 1e9 ? (int64_t)1e18 : llround(slow_callback_seconds * 1e9);
    return 0;
}

void tw_reactor_get_metrics(const tw_reactor *r, tw_reactor_metrics *out)
{
    if (!r || !out)
        return;
    *out = (tw_reactor_metrics){
        .turns = r->metrics.turns,
        .callbacks = r->metrics.callbacks,
        .slow_callbacks = r->metrics.slow,
        .wait_seconds = (double)r->metrics.wait_ns / 1e9,
        .run_seconds = (double)r->metrics.run_ns / 1e9,
        .slowest_seconds = (double)r->metrics.slowest_ns / 1e9,
        .pending_timers = tw_reactor_pending_calls(r),
    };
}
