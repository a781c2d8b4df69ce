/* Private interface of the in-memory transport (testing.h's tw_string_transport): the state it
 * keeps, and the calls the public tw_transport_* functions hand a transport flagged TW_T_MEMORY
 * to, so code under test drives it exactly as it drives a socket. memory.c serves the code under
 * test; string_transport.c serves the test (create, feed, inspect). */
#ifndef TWINE_TRANSPORT_MEMORY_H
#define TWINE_TRANSPORT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "transport/net.h"

/* What the code under test asked, and what the test fed; bits of tw_string_transport_state. */
#include "twine/testing_transport.h"

struct tw_string_transport {
    tw_transport t; /* flags: TW_T_MEMORY and the TW_T_* bits that mean the same as on a socket */
    tw_net_closer closer; /* registered while open: the reactor's shutdown closes it */
    tw_reactor *r;      /* t.net is released at the close; the reactor is still asked for */
    char *out;          /* what was written (NUL-terminated for the test's convenience) */
    size_t out_len, out_cap;
    char *in;           /* unconsumed tail and the bytes fed while not reading: exactly in_len */
    size_t in_len;
    unsigned state;     /* TW_STRING_* bits a test reads */
    bool present_in;    /* reading resumed: kick_fired presents in again */
    bool eof_held;      /* the peer's EOF, fed while paused: after the bytes before it */
    tw_producer producer;
    tw_close_kind close_kind;
    int close_code;
    const char *close_context;
    tw_failure *reason; /* what connection_lost got, kept for the test */
    tw_delayed_call *kick;
    tw_address host, peer;
};

static inline tw_string_transport *tw__memory_of(const tw_transport *t)
{
    return tw__container_of(t, tw_string_transport, t);
}

/* ---- the public transport functions, for a memory transport (memory.c) --------------------- */
int tw__memory_write(tw_transport *t, const struct iovec *iov, int iovcnt);
/* Records len bytes of the file fd from offset, read in bounded pieces. */
int tw__memory_write_file(tw_transport *t, int fd, uint64_t offset, size_t len);
void tw__memory_lose_connection(tw_transport *t);
void tw__memory_lose_write_connection(tw_transport *t);
void tw__memory_abort_connection(tw_transport *t);
void tw__memory_pause_producing(tw_transport *t);
void tw__memory_resume_producing(tw_transport *t);
int tw__memory_register_producer(tw_transport *t, const tw_producer *producer, bool streaming);
void tw__memory_unregister_producer(tw_transport *t);
int tw__memory_address(const tw_transport *t, tw_address *out, bool peer);
int tw__memory_tcp_option(tw_transport *t, unsigned bit, bool on);

/* ---- inside memory.c and string_transport.c ------------------------------------------------ */
/* A callback of the transport's protocol is running: closes asked meanwhile wait for its end. */
void tw__memory_dispatch_begin(tw_string_transport *st);
/* What was decided inside the dispatch happens now (a close, a half-close), as on a socket. */
void tw__memory_dispatch_end(tw_string_transport *st);
/* Presents in to the protocol (inside a dispatch), keeping what it leaves unconsumed. */
void tw__memory_deliver(tw_string_transport *st);
/* The peer's EOF reaches the protocol (inside a dispatch). */
void tw__memory_on_eof(tw_string_transport *st);
/* Asks for a close with this reason: at the dispatch's end, or on a later turn. */
void tw__memory_request_close(tw_string_transport *st, tw_close_kind kind, int code,
                              const char *context);
/* Closes now: connection_lost and destroy run, the context is let go. */
void tw__memory_close_now(tw_string_transport *st, tw_close_kind kind, int code,
                          const char *context);
/* Is the transport reading (connected, not paused, not closing, no EOF yet)? */
bool tw__memory_reading(const tw_string_transport *st);

#endif
