/* The log hook and error names. Failures nobody can be handed (a callback's error, an unhandled
 * deferred failure) are reported here; the default writes one line to stderr. Warnings that recur
 * under overload go through a per-condition rate limit. */
#include <stdarg.h>
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

void tw_reactor_set_logger(tw_reactor *r, tw_log_fn fn, void *ctx)
{
    r->log_fn = fn ? fn : log_to_stderr;
    r->log_ctx = fn ? ctx : NULL;
}

/* Formats one line, with a count of held-back repeats after it when there were any, and hands it
 * to the hook. */
static void log_line(tw_reactor *r, tw_log_level level, unsigned held, const char *fmt, va_list ap)
{
    char line[TW_LOG_LINE_MAX];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (held > 0 && n >= 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " [%u similar warnings held back]", held);
    if (r)
        r->log_fn(r->log_ctx, level, line);
    else
        log_to_stderr(NULL, level, line);
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
        return strerror(-err);  /* glibc's table is static; no thread-safety issue for valid codes */
    return err == 0 ? "success" : "unknown error";
}
