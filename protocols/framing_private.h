/* Private to protocols/: what the framing receivers share: reaching the transport of a receiver's
 * protocol (which may be NULL when a test drives it directly), logging a clear reason when input
 * breaks a limit, the bound every frame size must respect, and the adapters each receiver
 * offers. */
#ifndef TWINE_PROTOCOLS_FRAMING_PRIVATE_H
#define TWINE_PROTOCOLS_FRAMING_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include <twine/framing.h>
#include <twine/transport.h>

/* The connected transport of p, or NULL (no protocol, or not connected). */
tw_transport *tw__framing_transport(const tw_protocol *p);
/* write_sequence on p's transport; -ENOTCONN without one. */
int tw__framing_send(tw_protocol *p, const struct iovec *iov, int iovcnt) TW__MUST_CHECK;
/* A warning on p's reactor log (nothing without a transport). */
void tw__framing_warn(const tw_protocol *p, const char *fmt, ...) TW_PRINTF(2, 3);
/* Should a receiver stop delivering frames from the current buffer because its transport is
 * closing? */
bool tw__framing_transport_closing(const tw_protocol *p);
/* Twisted's _PauseableMixin, for any receiver: set its paused flag, then pause, resume or stop
 * (lose) p's transport, if there is one. */
void tw__framing_pause(tw_protocol *p, bool *paused);
void tw__framing_resume(tw_protocol *p, bool *paused);
void tw__framing_stop(tw_protocol *p, bool *paused);
/* Is a limit of max_length payload bytes plus overhead framing bytes acceptable? (1 or more, and a
 * whole frame fits what a transport keeps unconsumed.) */
bool tw__framing_limit_ok(size_t max_length, size_t overhead);

/* The adapters every receiver offers, written once so that all have the same set and behave alike.
 * For a receiver type NAME with fields protocol and paused and a function NAME_data_received, it
 * defines NAME_protocol_data_received (the receiver is p->user; p is recorded in its protocol),
 * NAME_pause_producing, NAME_resume_producing and NAME_stop_producing. */
#define TW__FRAMING_ADAPTERS(NAME)                                                         \
    ssize_t NAME##_protocol_data_received(tw_protocol *p, const char *data, size_t len)          \
    {                                                                                              \
        NAME *receiver = p->user;                                                                  \
        receiver->protocol = p;                                                                    \
        return NAME##_data_received(receiver, data, len);                                        \
    }                                                                                              \
    void NAME##_pause_producing(NAME *receiver)                                                  \
    {                                                                                              \
        tw__framing_pause(receiver->protocol, &receiver->paused);                                  \
    }                                                                                              \
    void NAME##_resume_producing(NAME *receiver)                                                 \
    {                                                                                              \
        tw__framing_resume(receiver->protocol, &receiver->paused);                                 \
    }                                                                                              \
    void NAME##_stop_producing(NAME *receiver)                                                   \
    {                                                                                              \
        tw__framing_stop(receiver->protocol, &receiver->paused);                                   \
    }

#endif
