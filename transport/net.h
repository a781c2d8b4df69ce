/* Private interface of the transport layer (transport/): the per-reactor network context that every
 * transport, port and connector of one reactor shares (the one read buffer, the open connections,
 * the shutdown trigger), and the calls the files of transport/ make into each other. */
#ifndef TWINE_TRANSPORT_NET_H
#define TWINE_TRANSPORT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "twine/transport.h"

/* ---- the per-reactor context (net.c) ----------------------------------------------------------- */
typedef struct tw_transport_chunk tw_transport_chunk;

typedef struct tw_net {
    tw_reactor *r;
    char *rbuf;               /* TW_TRANSPORT_READ_BUFFER_SIZE bytes, shared by every connection */
    tw_transport_chunk *chunks;     /* where every transport of this context lives */
    tw_transport *free_transports;  /* unused ones in chunks (list through next_free) */
    size_t nconns;            /* transports started and not closed yet */
    tw_port *ports;           /* listening ports (list through tw_port.next) */
    tw_connector *connectors; /* connections in progress (list through tw_connector.next) */
    tw_transport *tails_oldest, *tails_newest; /* connections holding a long unconsumed tail */
    size_t tails_held;        /* bytes in those tails */
    size_t tail_max;          /* TW_TRANSPORT_UNCONSUMED_MAX (tests lower it) */
    size_t tail_total_max;    /* TW_TRANSPORT_UNCONSUMED_TOTAL_MAX (tests lower it) */
    unsigned refs;            /* transports + ports + connectors + callers inside the context */
    long trigger_id;          /* the "during shutdown" trigger, 0 once it has run */
    bool closing;             /* tw_reactor_free is closing everything: nothing new may start */
} tw_net;

/* The context of r, created on first use (holds one reference): NULL and *err on failure
 * (-ESHUTDOWN while tw_reactor_free closes what is open). */
tw_net *tw__net_acquire(tw_reactor *r, int *err);
/* The context of r if there is one (no reference taken). */
tw_net *tw__net_find(tw_reactor *r);
/* A zeroed transport from the context's chunks (NULL when out of memory), and back. */
tw_transport *tw__net_transport_alloc(tw_net *net);
void tw__net_transport_free(tw_net *net, tw_transport *t);
/* Drops a reference; the last one frees the context and removes its shutdown trigger. */
void tw__net_release(tw_net *net);
/* A transport starts / stops counting as open (each holds a reference on the context). */
void tw__net_add_conn(tw_net *net);
void tw__net_remove_conn(tw_net *net);

/* ---- sockets (socket.c) ------------------------------------------------------------------------ */
/* A non-blocking, close-on-exec stream socket, or a negative errno. */
int tw__sock_stream(int family);
/* Numeric host and port into a sockaddr of the given family (AF_INET or AF_INET6; AF_UNSPEC takes
 * either). -EINVAL for a host that is not a numeric address of that family. */
int tw__sock_parse_ip(int family, const char *host, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len);
/* -ENAMETOOLONG when path does not fit, -EINVAL for an empty path. */
int tw__sock_parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len);
int tw__sock_set_flag(int fd, int level, int option, bool on);
/* Closes an fd through the reactor, keeping errno intact for the caller's report. */
void tw__sock_close(tw_reactor *r, int fd);
/* A failure of the given type (NULL: Twisted's name for the errno, as tw_failure_from_errno) for a
 * negative code, with context ("connect", "read", ...). NULL only when out of memory. */
tw_failure *tw__sock_failure(const char *type, int code, const char *context);

/* ---- stream transports (stream.c, stream_write.c) --------------------------------------------- */
enum {
    TW_T_TCP = 1u << 0,            /* TCP socket (not UNIX) */
    TW_T_CLIENT = 1u << 1,         /* made by a connector: doStop the factory at close */
    TW_T_CONNECTED = 1u << 2,      /* connection_made has been called */
    TW_T_DISCONNECTING = 1u << 3,  /* lose_connection: close once the buffer is flushed */
    TW_T_READ_CLOSED = 1u << 4,    /* the peer's EOF reached a half-closeable protocol */
    TW_T_WRITE_CLOSING = 1u << 5,  /* lose_write_connection: shut the write side once flushed */
    TW_T_WRITE_SHUT = 1u << 6,     /* shutdown(SHUT_WR) done */
    TW_T_PAUSED_USER = 1u << 7,    /* pause_producing */
    TW_T_PAUSED_FULL = 1u << 8,    /* own write buffer above the high mark, no producer */
    TW_T_READING = 1u << 9,        /* reader registered with the reactor */
    TW_T_WRITING = 1u << 10,       /* writer registered with the reactor */
    TW_T_IN_DISPATCH = 1u << 11,   /* a reactor callback of this transport is running */
    TW_T_CLOSE_PENDING = 1u << 12, /* close decided; finishes when the dispatch ends */
    TW_T_ABORTING = 1u << 13,      /* abort_connection: close on a later turn */
    TW_T_CLOSED = 1u << 14,        /* fd closed; connection_lost running or done */
    TW_T_SELF_PAUSE = 1u << 15,    /* pause own reading when the write buffer is full */
};

/* Why a transport closes: the failure type connection_lost gets. */
typedef enum {
    TW_CLOSE_DONE = 1,
    TW_CLOSE_LOST,
    TW_CLOSE_ABORTED,
    TW_CLOSE_ERROR, /* a protocol op returned an error, or too much input was left unconsumed */
} tw_close_kind;

typedef struct tw_wchunk tw_wchunk;

/* Everything a connection needs only sometimes; allocated on demand and freed when back to idle,
 * so an idle connection is just struct tw_transport. */
typedef struct tw_stream_ext {
    tw_wchunk *head, *tail;
    size_t queued;
    size_t high_water, low_water;
    char *unconsumed;
    size_t unconsumed_len, unconsumed_cap;
    tw_transport *tail_older, *tail_newer; /* in the context's list of long tails */
    bool present_tail; /* reading resumed: kick_fired presents the tail unless a read did */
    tw_producer producer;
    bool has_producer, streaming, producer_paused;
    tw_close_kind close_kind;
    int close_code;
    const char *close_context;
    tw_delayed_call *kick_call; /* kick_fired on a later turn: a close, or a held tail shown again */
} tw_stream_ext;

struct tw_transport {
    tw_protocol proto; /* first: the protocol's address is the transport's */
    tw_net *net;       /* NULL while unused in its chunk */
    union {
        tw_stream_ext *ext;
        tw_transport *next_free; /* while unused */
    };
    int fd;
    uint32_t flags;
};

/* A transport for a connected socket (not yet started); NULL on ENOMEM (fd untouched). */
tw_transport *tw__stream_new(tw_net *net, int fd, uint32_t flags);
/* Frees a transport that was never started, closing its fd. */
void tw__stream_discard(tw_transport *t);
/* Counts the transport as open, starts reading and calls connection_made. */
void tw__stream_start(tw_transport *t);
/* Closes now and delivers connection_lost (shutdown, and the end of a dispatch). */
void tw__stream_close_now(tw_transport *t, tw_close_kind kind, int code, const char *context);
/* lose_connection and lose_write_connection outside a dispatch: finish on a later turn unless the
 * write queue or a registered producer still holds them (the writer or the unregistration does). */
void tw__stream_settle_later(tw_transport *t);
/* Asks for a close: finished at the end of the current dispatch, or on a later turn. */
void tw__stream_request_close(tw_transport *t, tw_close_kind kind, int code, const char *context);
tw_stream_ext *tw__stream_ext_get(tw_transport *t);
void tw__stream_ext_maybe_free(tw_transport *t);
/* Adds or removes the reader to match the flags. */
void tw__stream_update_reading(tw_transport *t);
void tw__stream_dispatch_begin(tw_transport *t);
void tw__stream_dispatch_end(tw_transport *t);

/* Write side (stream_write.c). */
int tw__stream_on_writable(tw_reactor *r, int fd, void *arg);
/* Drops the write queue, releasing lent buffers. */
void tw__stream_drop_queue(tw_transport *t);

/* ---- ports and connectors (port.c, connector.c) ------------------------------------------------ */
/* Stops every port; fails the connections in progress when the shutdown began (those that their
 * failure callbacks start are left for tw_reactor_free). */
void tw__port_stop_all(tw_net *net);
void tw__connector_fail_all(tw_net *net);

#endif
