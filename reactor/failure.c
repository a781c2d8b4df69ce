/* tw_failure: Twisted's Failure in C. One allocation per failure (the message lives after the
 * struct), reference counted, with a type name, an errno-style code, a message and an optional
 * cause. One static failure stands in when memory runs out, so error paths never need to
 * allocate. */
#include <twine/failure.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reference count of the static out-of-memory failure: never counted, never freed. */
#define FAILURE_IMMORTAL 0u

struct tw_failure {
    unsigned refs;
    int code;
    long index;
    const char *type;
    tw_failure *cause;
    char message[];
};

static tw_failure nomem_failure = {
    .refs = FAILURE_IMMORTAL,
    .code = -ENOMEM,
    .index = -1,
    .type = TW_MEMORY_ERROR,
    .cause = NULL,
};

tw_failure *tw_failure_nomem(void)
{
    return &nomem_failure;
}

static bool failure_is_immortal(const tw_failure *f)
{
    return f->refs == FAILURE_IMMORTAL;
}

static tw_failure *failure_vnew(const char *type, int code, const char *fmt, va_list ap)
{
    va_list measure;
    va_copy(measure, ap);
    int len = vsnprintf(NULL, 0, fmt ? fmt : "", measure);
    va_end(measure);
    if (len < 0)
        len = 0;
    tw_failure *f = malloc(sizeof *f + (size_t)len + 1);
    if (!f)
        return NULL;
    f->refs = 1;
    f->code = code > 0 ? -code : code;
    f->index = -1;
    f->type = type ? type : "Error";
    f->cause = NULL;
    if (fmt)
        vsnprintf(f->message, (size_t)len + 1, fmt, ap);
    else
        f->message[0] = '\0';
    return f;
}

tw_failure *tw_failure_new(const char *type, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tw_failure *f = failure_vnew(type, code, fmt, ap);
    va_end(ap);
    return f;
}

/* Twisted's error.getConnectError names for connect-time errnos, plus twine's own codes. */
static const char *failure_type_for_code(int code)
{
    switch (code) {
    case -ECONNREFUSED:
        return TW_CONNECTION_REFUSED_ERROR;
    case -ENETUNREACH:
    case -EHOSTUNREACH:
        return TW_NO_ROUTE_ERROR;
    case -ETIMEDOUT:
        return TW_TCP_TIMED_OUT_ERROR;
    case -ECANCELED:
        return TW_CANCELLED_ERROR;
    case -ENETDOWN:
    case -EHOSTDOWN:
    case -EADDRNOTAVAIL:
    case -EAFNOSUPPORT:
        return TW_CONNECT_ERROR;
    case -ENOMEM:
        return TW_MEMORY_ERROR;
    case TW_EALREADYCALLED:
        return TW_ALREADY_CALLED_ERROR;
    case TW_EOVERFLOW:
        return TW_QUEUE_OVERFLOW;
    case TW_EUNDERFLOW:
        return TW_QUEUE_UNDERFLOW;
    case TW_EPARSE:
        return TW_VALUE_ERROR;
    default:
        return "OSError";
    }
}

tw_failure *tw_failure_from_errno(int code, const char *context)
{
    if (code > 0)
        code = -code;
    const char *text = tw_strerror(code);
    if (context)
        return tw_failure_new(failure_type_for_code(code), code, "%s: %s", context, text);
    return tw_failure_new(failure_type_for_code(code), code, "%s", text);
}

tw_failure *tw_failure_ref(const tw_failure *f)
{
    /* Every failure is made writable (malloc'd, or the static one that is never counted): only the
     * reference count changes, which const does not promise to keep. */
    tw_failure *m = (tw_failure *)f;
    if (m && !failure_is_immortal(m))
        m->refs++;
    return m;
}

/* Causes form a list, not a tree: release it iteratively so a long cause chain cannot exhaust the
 * C stack. */
void tw_failure_unref(tw_failure *f)
{
    while (f && !failure_is_immortal(f) && --f->refs == 0) {
        tw_failure *cause = f->cause;
        free(f);
        f = cause;
    }
}

const char *tw_failure_type(const tw_failure *f)
{
    return f ? f->type : "";
}

int tw_failure_code(const tw_failure *f)
{
    return f ? f->code : 0;
}

const char *tw_failure_message(const tw_failure *f)
{
    if (!f)
        return "";
    if (f == &nomem_failure)
        return "out of memory";
    return f->message;
}

tw_failure *tw_failure_cause(const tw_failure *f)
{
    return f ? f->cause : NULL;
}

void tw_failure_set_cause(tw_failure *f, tw_failure *cause)
{
    if (!f || failure_is_immortal(f) || cause == f) {
        tw_failure_unref(cause);
        return;
    }
    tw_failure *old = f->cause;
    f->cause = cause;
    tw_failure_unref(old);
}

long tw_failure_index(const tw_failure *f)
{
    return f ? f->index : -1;
}

void tw_failure_set_index(tw_failure *f, long index)
{
    if (f && !failure_is_immortal(f))
        f->index = index;
}

bool tw_failure_check(const tw_failure *f, const char *type)
{
    return f && type && strcmp(f->type, type) == 0;
}

char *tw_failure_describe(const tw_failure *f, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!f) {
        buf[0] = '\0';
        return buf;
    }
    const char *message = tw_failure_message(f);
    if (message[0])
        snprintf(buf, size, "%s: %s", f->type, message);
    else
        snprintf(buf, size, "%s", f->type);
    return buf;
}
