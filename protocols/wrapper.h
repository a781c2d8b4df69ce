/* Private to protocols/: a protocol that wraps another one (Twisted's ProtocolWrapper and
 * WrappingFactory). The transport drives the wrapper; the wrapper forwards every op to the wrapped
 * protocol and tells its policy (connection limit, idle timeout) what happened. */
#ifndef TWINE_PROTOCOLS_WRAPPER_H
#define TWINE_PROTOCOLS_WRAPPER_H

#include <stddef.h>

#include <twine/protocol.h>
#include <twine/transport.h>

typedef struct tw_wrapper tw_wrapper;

/* What a policy hears about its connection. Every hook is optional. connection_made runs before
 * the wrapped protocol's; destroy runs after the wrapped protocol's destroy, just before the
 * wrapper is freed, also for a connection that never got connected. */
typedef struct tw_wrapper_hooks {
    int (*connection_made)(tw_wrapper *w);
    void (*data_received)(tw_wrapper *w);
    void (*connection_lost)(tw_wrapper *w);
    void (*destroy)(tw_wrapper *w);
} tw_wrapper_hooks;

/* A policy allocates a larger struct that begins with this one. */
struct tw_wrapper {
    tw_protocol inner;
    const tw_wrapper_hooks *hooks;
    void *policy; /* the wrapping factory */
};

/* Builds a wrapper of size bytes (>= sizeof(tw_wrapper)) around a protocol built by inner_factory
 * for peer, and makes out drive it. 0, -ENOMEM, or the inner factory's refusal. */
int tw__wrapper_build(tw_factory *inner_factory, const tw_address *peer, tw_protocol *out,
                     size_t size, const tw_wrapper_hooks *hooks, void *policy) TW__MUST_CHECK;
/* The wrapper around inner, if inner was built by tw__wrapper_build with these hooks; else NULL. */
tw_wrapper *tw__wrapper_of(tw_protocol *inner, const tw_wrapper_hooks *hooks);

/* Factory hooks shared by the wrapping factories: start/stop both factories (second may be
 * NULL), and pass connection failures on to the wrapped factory. */
int tw__wrapper_start_factories(tw_factory *first, tw_factory *second) TW__MUST_CHECK;
void tw__wrapper_stop_factories(tw_factory *first, tw_factory *second);
void tw__wrapper_forward_connection_failed(tw_factory *wrapped, tw_connector *connector,
                                          const tw_failure *reason);

#endif
