/* Private to endpoints/: the connect engine every built-in client endpoint runs (addresses given or
 * resolved, raced with Happy Eyeballs, the winner handed to a stream transport; a connect still in
 * progress at the reactor's shutdown fails), and the socket opener tests replace. */
#ifndef TWINE_ENDPOINTS_INTERNAL_H
#define TWINE_ENDPOINTS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/net.h"
#include "twine/endpoints.h"

/* How much of a failure message the list of every address's error may take. */
#define TW__FAILURE_TEXT_MAX 2048

/* ---- the socket opener -------------------------------------------------------------------------
 * Makes a non-blocking socket for dest, binds it to bind (when not NULL) and starts connecting.
 * Sets *fd to the socket (or -1) and returns 0 when the connect is in progress or done, or a
 * negative errno (the caller closes *fd if it is >= 0). The default is tw__open_connecting; tests
 * put their own on an endpoint (tw__client_endpoint_set_opener) to decide when attempts finish. */
typedef int (*tw__opener_fn)(void *ctx, const struct sockaddr *dest, socklen_t len,
                             const struct sockaddr *bind, socklen_t bind_len, int *fd);
int tw__open_connecting(void *ctx, const struct sockaddr *dest, socklen_t len,
                        const struct sockaddr *bind, socklen_t bind_len, int *fd);
/* Only for built-in client endpoints (-EINVAL otherwise). */
int tw__client_endpoint_set_opener(tw_client_endpoint *ep, tw__opener_fn fn, void *ctx);

/* ---- one connect ----------------------------------------------------------------------------- */

/* What a connect needs; tw__connect_start copies all of it. */
typedef struct tw__connect_spec {
    tw_reactor *r;
    const char *name;            /* the destination in messages: "example.com port 80", "/run/s" */
    const char *host;            /* the host asked for (NULL for TCP4, TCP6 and UNIX endpoints) */
    bool resolve;                /* resolve host with resolver; else the addresses are given */
    uint16_t port;
    const tw_address *addresses; /* the given ones (TCP4, TCP6 or UNIX) when not resolving */
    size_t count;
    int family;                  /* AF_UNSPEC, or the only family tried */
    double timeout;              /* seconds, > 0; or negative for none */
    double attempt_delay;        /* seconds, within the Happy Eyeballs bounds */
    const struct sockaddr *bind; /* or NULL */
    socklen_t bind_len;
    tw_resolver *resolver;
    tw_attempt_fn on_attempt;
    void *on_attempt_ctx;
    tw__opener_fn opener;
    void *opener_ctx;
} tw__connect_spec;

/* Starts a connect; the deferred is as endpoints.h describes for client endpoints. */
tw_deferred *tw__connect_start(const tw__connect_spec *spec, tw_factory *factory, int *err);

typedef enum {
    TW__ATTEMPT_WAITING,    /* not started */
    TW__ATTEMPT_CONNECTING, /* fd connecting (error set: connect() failed at once, not yet told) */
    TW__ATTEMPT_FAILED,
    TW__ATTEMPT_ABANDONED,
    TW__ATTEMPT_WON
} tw__attempt_state;

typedef struct tw__connect_run tw__connect_run;

typedef struct tw__attempt {
    tw_address address;
    tw__attempt_state state;
    int fd;
    int error;
    size_t index;
    tw__connect_run *run;
} tw__attempt;

typedef enum {
    TW__RUN_RESOLVING,
    TW__RUN_RACING,
    TW__RUN_HANDING_OVER,
    TW__RUN_DONE
} tw__run_phase;

struct tw__connect_run {
    tw_reactor *r;
    tw_deferred *d;              /* fired once, by finish or the hand-over; one reference held */
    tw_factory *factory;
    char *name, *host;
    bool resolve;
    uint16_t port;
    int family;
    double timeout, attempt_delay;
    struct sockaddr_storage bind;
    socklen_t bind_len;          /* 0: no bind address */
    tw_resolver *resolver;
    tw_deferred *resolving;      /* the resolver's deferred while it is out */
    tw_attempt_fn on_attempt;
    void *on_attempt_ctx;
    tw__opener_fn opener;
    void *opener_ctx;
    tw__attempt *attempts;
    size_t count, started, connecting;
    int64_t began_ns, last_start_ns;
    tw_delayed_call *next_call;  /* the next attempt's start */
    tw_delayed_call *timeout_call;
    tw_delayed_call *soon_call;  /* reports errors connect() gave at once, on a later turn */
    tw__run_phase phase;
    unsigned holds;              /* calls on the stack that still use the run */
    bool factory_started;        /* tw_factory_do_start done: do_stop when no transport takes it */
    size_t last_failed;          /* index of the attempt that failed last */
    tw_net *net;                 /* held from start to free */
    tw_net_closer closer;        /* registered while the connect is in progress */
};

/* The run stays allocated while held; finish frees it at the last release. */
void tw__run_hold(tw__connect_run *run);
void tw__run_release(tw__connect_run *run);
/* Ends the run: timers off, resolution abandoned, every socket closed, the factory's use dropped,
 * the deferred failed with reason (a reference taken; NULL means out of memory). */
void tw__run_fail(tw__connect_run *run, tw_failure *reason);
void tw__run_trace(tw__connect_run *run, const tw__attempt *a, tw_attempt_event event);
/* Seconds since the connect began, on the reactor's clock. */
double tw__run_elapsed(const tw__connect_run *run);

/* Happy Eyeballs (race.c): takes the addresses (resolver order), keeps those of the wanted family,
 * interleaves the families and starts the first attempt. Fails the run when none is left. */
void tw__race_begin(tw__connect_run *run, const tw_address *addrs, size_t count);
/* Closes every attempt still connecting (TW_ATTEMPT_ABANDONED) and stops the race's timers. */
void tw__race_stop(tw__connect_run *run);

/* The winner's socket becomes a transport (connect.c). */
void tw__run_hand_over(tw__connect_run *run, tw__attempt *winner);

/* ---- helpers shared by the endpoints --------------------------------------------------------- */

/* Listens as a TCP, TCP6 or UNIX description says (the UNIX mode set before listen()): the port,
 * or NULL and *err (never NULL). */
tw_port *tw__server_listen(tw_reactor *r, const tw_server_description *d, tw_factory *factory,
                           int *err);

/* A failure for a connect error: the type Twisted gives the errno (ConnectError when it has none of
 * its own), the message as given. NULL only when out of memory. */
tw_failure *tw__connect_failure(int code, const char *fmt, ...) TW_PRINTF(2, 3);
/* The failure of a connect or listen whose build_protocol returned rc: NoProtocol for -ECONNREFUSED
 * (no build_protocol, or a refusal as protocol.h describes it), else the errno's failure. */
tw_failure *tw__build_failure(int rc);
/* A deferred already failed with f (a reference taken), for errors found before anything started.
 * NULL + *err when out of memory (f is then released). */
tw_deferred *tw__failed(tw_reactor *r, tw_failure *f, int *err);
/* "127.0.0.1", "::1" (no brackets) or the UNIX path. */
const char *tw__address_text(const tw_address *a);

#endif
