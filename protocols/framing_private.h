/* Private to protocols/: what the framing receivers and policy wrappers share: reaching the
 * transport of a receiver's protocol (which may be NULL when a test drives it directly), logging a
 * clear reason when input breaks a limit, and the bound every frame size must respect. */
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
int tw__framing_send(tw_protocol *p, const struct iovec *iov, int iovcnt);
/* A warning on p's reactor log (nothing without a transport). */
void tw__framing_warn(const tw_protocol *p, const char *fmt, ...) TW_PRINTF(2, 3);
/* Should a receiver stop delivering frames from the current buffer because its transport is
 * closing? */
bool tw__framing_transport_closing(const tw_protocol *p);
/* Pause / resume reading on p's transport, if there is one. */
void tw__framing_pause_transport(tw_protocol *p);
void tw__framing_resume_transport(tw_protocol *p);
/* Is a limit of max_length payload bytes plus overhead framing bytes acceptable? (1 or more, and a
 * whole frame fits what a transport keeps unconsumed.) */
bool tw__framing_limit_ok(size_t max_length, size_t overhead);

#endif
