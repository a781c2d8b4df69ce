/* The log hooks and error names. Failures nobody can be handed (a callback's error, an unhandled
 * deferred failure) are reported here, through the reactor's hook or the process-wide one (by
 * default one line to stderr), when they reach the log level. Warnings that recur under overload
 * go through a per-condition rate limit. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "reactor/internal.h"
#include "reactor/log.h"

#define TW_LOG_LINE_MAX 1024

const char *tw_log_level_name(tw_log_level level)
{
    static const char *const names[] = {"debug", "info", "warning", "error", "critical"};
    return (unsigned)level <= TW_LOG_CRITICAL ? names[level] : "unknown";
}

static void log_to_stderr(void *ctx, tw_log_level level, const char *message)
{
    (void)ctx;
    fprintf(stderr, "twine: %s: %s\n", tw_log_level_name(level), message);
}

/* The process-wide logger: what reactors without a hook of their own, and deferreds without a
 * reactor, write through. Any thread may set it while others log, hence the lock; the hook itself
 * runs outside it, so a hook may log or replace itself. */
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static tw_log_fn default_fn = log_to_stderr;
static void *default_ctx;
static atomic_int default_level = TW_LOG_DEFAULT_LEVEL;

static bool level_valid(tw_log_level level)
{
    return level >= TW_LOG_DEBUG && level <= TW_LOG_CRITICAL;
}

void tw_set_default_logger(tw_log_fn fn, void *ctx)
{
    pthread_mutex_lock(&default_lock);
    default_fn = fn ? fn : log_to_stderr;
    default_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&default_lock);
}

int tw_set_default_log_level(tw_log_level level)
{
    if (!level_valid(level))
        return -EINVAL;
    atomic_store(&default_level, (int)level);
    return 0;
}

void tw_reactor_set_logger(tw_reactor *r, tw_log_fn fn, void *ctx)
{
    r->log_fn = fn;
    r->log_ctx = fn ? ctx : NULL;
}

int tw_reactor_set_log_level(tw_reactor *r, tw_log_level level)
{
    if (!r || !level_valid(level))
        return -EINVAL;
    r->log_level = level;
    r->log_level_own = true;
    return 0;
}

tw_log_level tw_reactor_log_level(const tw_reactor *r)
{
    if (r && r->log_level_own)
        return r->log_level;
    return (tw_log_level)atomic_load(&default_level);
}

static void log_write(const tw_reactor *r, tw_log_level level, const char *line)
{
    if (r && r->log_fn) {
        r->log_fn(r->log_ctx, level, line);
        return;
    }
    pthread_mutex_lock(&default_lock);
    tw_log_fn fn = default_fn;
    void *ctx = default_ctx;
    pthread_mutex_unlock(&default_lock);
    fn(ctx, level, line);
}

/* Formats one line, with a count of held-back repeats after it when there were any, and hands it
 * to the hook; nothing at all below the level, not even the formatting. */
static void log_line(tw_reactor *r, tw_log_level level, unsigned held, const char *fmt, va_list ap)
{
    if (level < tw_reactor_log_level(r))
        return;
    char line[TW_LOG_LINE_MAX];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (held > 0 && n >= 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " [%u similar warnings held back]", held);
    log_write(r, level, line);
}

void tw_reactor_log(tw_reactor *r, tw_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(r, level, 0, fmt, ap);
    va_end(ap);
}

void tw__log_limited(tw_reactor *r, tw_log_limit *limit, tw_log_level level, const char *fmt, ...)
{
    const int64_t interval = (int64_t)(TW_LOG_REPEAT_INTERVAL * 1e9);
    if (limit->written && r->now - limit->last < interval) {
        limit->held++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_line(r, level, limit->held, fmt, ap);
    va_end(ap);
    limit->written = true;
    limit->last = r->now;
    limit->held = 0;
}

void tw__report_callback_error(tw_reactor *r, const char *what, int err)
{
    tw_reactor_log(r, TW_LOG_ERROR, "error in %s: %s", what, tw_strerror(err));
}

const char *tw_strerror(int err)
{
    switch (err) {
    case TW_EALREADYCALLED: return "already called";
    case TW_EALREADYCANCELLED: return "already cancelled";
    case TW_ENOTRUNNING: return "reactor not running";
    case TW_EALREADYRUNNING: return "reactor already running";
    case TW_ENOTRESTARTABLE: return "reactor not restartable";
    case TW_ECALLBACK: return "callback failed";
    case TW_EOVERFLOW: return "queue overflow";
    case TW_EUNDERFLOW: return "queue underflow";
    case TW_EPARSE: return "malformed input";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err); /* glibc's table is static; no thread-safety issue for valid codes */
    return err == 0 ? "success" : "unknown error";
}
