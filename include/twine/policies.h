/* twine connection policies (Twisted's twisted.protocols.policies): an idle timeout a protocol can
 * embed (TimeoutMixin), a factory wrapper that caps concurrent connections
 * (LimitTotalConnectionsFactory) and one that gives every connection an idle timeout
 * (TimeoutFactory). docs/protocols.md has examples. */
#ifndef TWINE_POLICIES_H
#define TWINE_POLICIES_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "protocol.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- idle timeout (Twisted's TimeoutMixin) ------------------------------------------------------
 * Embed one in a connection's state and initialise it in connection_made. Periods are seconds; 0
 * (or negative) means no timeout (Twisted's None). As in Twisted, nothing resets the countdown on
 * its own: call tw_timeout_mixin_reset_timeout on activity. Unlike Twisted, call
 * tw_timeout_mixin_cancel in connection_lost (or use tw_timeout_factory, which does both for you)
 * so no timer outlives the connection.
 *
 * timeout_connection: runs when the period passes without a reset; NULL (the default) closes the
 * connection with tw_transport_lose_connection. Its return value is reported like any timer's. */
typedef struct tw_timeout_mixin tw_timeout_mixin;
struct tw_timeout_mixin {
    tw_reactor *reactor;
    tw_protocol *protocol; /* whose transport the default timeout_connection closes; may be NULL */
    int (*timeout_connection)(tw_timeout_mixin *tm);
    void *user;
    double period;         /* seconds, 0 = none */
    tw_delayed_call *call; /* the pending timeout, NULL when none */
};

/* No timeout yet. protocol may be NULL (then the default timeout_connection does nothing). */
TW_API void tw_timeout_mixin_init(tw_timeout_mixin *tm, tw_reactor *r, tw_protocol *protocol,
                                  int (*timeout_connection)(tw_timeout_mixin *tm), void *user);
/* Twisted's setTimeout: a positive period (re)starts the countdown from now, 0 or less cancels it.
 * *previous (if not NULL) gets the period that was set (0 for none). 0, or -ENOMEM (nothing
 * changed). */
TW_API int tw_timeout_mixin_set_timeout(tw_timeout_mixin *tm, double period, double *previous);
/* Twisted's resetTimeout: restarts a pending countdown from now; nothing when none is pending. */
TW_API void tw_timeout_mixin_reset_timeout(tw_timeout_mixin *tm);
/* = set_timeout(0): stops the countdown (for connection_lost). */
TW_API void tw_timeout_mixin_cancel(tw_timeout_mixin *tm);

/* ---- limiting concurrent connections (Twisted's LimitTotalConnectionsFactory) -------------------
 * Listen with &lf->factory. Each connection's protocol is built by the wrapped factory while fewer
 * than connection_limit connections are open; beyond that by the overflow factory, or, without one,
 * the connection is refused (closed at once, as Twisted's buildProtocol returning None). Overflow
 * connections count too (as Twisted). A connection stops counting when its protocol is destroyed.
 *
 * The wrapped protocol runs inside a small wrapper (one allocation per connection): its
 * p->transport is the real transport and its p->factory is the factory that built it (wrapped or
 * overflow; Twisted sets the wrapping factory). start/stop of the limit factory start and stop the
 * wrapped and overflow factories. */
typedef struct tw_limit_total_connections_factory {
    tw_factory factory; /* what ports and connectors use */
    tw_factory *wrapped;
    tw_factory *overflow;      /* NULL: refuse connections over the limit */
    unsigned connection_limit; /* 0: no limit (Twisted's None) */
    unsigned connection_count;
} tw_limit_total_connections_factory;

/* wrapped must not be NULL (-EINVAL). The factories are borrowed and must outlive every port and
 * connection of lf. */
TW_API int tw_limit_total_connections_factory_init(tw_limit_total_connections_factory *lf,
                                                   tw_factory *wrapped, unsigned connection_limit,
                                                   tw_factory *overflow);

/* ---- idle timeout for every connection (Twisted's TimeoutFactory) -------------------------------
 * Listen (or connect) with &tf->factory: each connection built by the wrapped factory is closed
 * with tw_transport_lose_connection after timeout_period seconds without input. Twisted also resets
 * the countdown on every write; twine cannot see writes made straight to the transport, so call
 * tw_timeout_factory_reset_timeout(p) after writing if writes should count as activity. The timer
 * is cancelled when the connection is lost. */
#define TW_TIMEOUT_FACTORY_PERIOD_DEFAULT 1800.0

typedef struct tw_timeout_factory {
    tw_factory factory;
    tw_factory *wrapped;
    double timeout_period; /* seconds; <= 0 means TW_TIMEOUT_FACTORY_PERIOD_DEFAULT */
} tw_timeout_factory;

TW_API int tw_timeout_factory_init(tw_timeout_factory *tf, tw_factory *wrapped,
                                   double timeout_period);
/* Restarts the countdown of the connection whose wrapped protocol is p (a protocol built through
 * a tw_timeout_factory); -EINVAL for any other protocol. */
TW_API int tw_timeout_factory_reset_timeout(tw_protocol *p);

#ifdef __cplusplus
}
#endif
#endif
