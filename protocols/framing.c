/* Helpers every framing receiver uses: the transport behind a receiver (absent when a test feeds
 * bytes directly), sending, pausing and stopping, and logging why a peer's input was refused. */
#include "framing_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* Longest warning a receiver logs; longer text is cut. */
#define FRAMING_WARN_MAX 256

tw_transport *tw__framing_transport(const tw_protocol *p)
{
    return p ? p->transport : NULL;
}

int tw__framing_send(tw_protocol *p, const struct iovec *iov, int iovcnt)
{
    tw_transport *t = tw__framing_transport(p);
    if (!t)
        return -ENOTCONN;
    return tw_transport_write_sequence(t, iov, iovcnt);
}

void tw__framing_warn(const tw_protocol *p, const char *fmt, ...)
{
    tw_transport *t = tw__framing_transport(p);
    if (!t)
        return;
    char text[FRAMING_WARN_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tw_reactor_log(tw_transport_reactor(t), TW_LOG_WARN, "%s", text);
}

bool tw__framing_transport_closing(const tw_protocol *p)
{
    return p && tw_transport_disconnecting(p->transport);
}

void tw__framing_pause(tw_protocol *p, bool *paused)
{
    *paused = true;
    tw_transport *t = tw__framing_transport(p);
    if (t)
        tw_transport_pause_producing(t);
}

void tw__framing_resume(tw_protocol *p, bool *paused)
{
    *paused = false;
    tw_transport *t = tw__framing_transport(p);
    if (t)
        tw_transport_resume_producing(t);
}

void tw__framing_stop(tw_protocol *p, bool *paused)
{
    *paused = true;
    tw_transport *t = tw__framing_transport(p);
    if (t)
        tw_transport_stop_producing(t);
}

bool tw__framing_limit_ok(size_t max_length, size_t overhead)
{
    return max_length >= 1 && overhead <= TW_TRANSPORT_UNCONSUMED_MAX &&
           max_length <= TW_TRANSPORT_UNCONSUMED_MAX - overhead;
}
