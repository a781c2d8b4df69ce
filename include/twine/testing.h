/* twine testing: test doubles for programs built on twine (Twisted's twisted.internet.testing), in
 * libtwine. docs/testing.md shows them at work.
 *
 *   tw_clock               Twisted's task.Clock: a reactor whose time only the test moves
 *                          (testing_clock.h)
 *   tw_string_transport    proto_helpers.StringTransport: a protocol on an in-memory transport
 *                          (testing_transport.h)
 *   tw_loopback            iosim.connect: two protocols pumped into each other
 *                          (testing_transport.h)
 *   tw_memory_reactor      MemoryReactor: endpoints that record connects and listens, which the
 *                          test makes succeed or fail (testing_endpoints.h)
 *
 * Each lives in the header of its layer (the clock with the reactor, the transports with the
 * transports); this one brings them all. */
#ifndef TWINE_TESTING_H
#define TWINE_TESTING_H

#include "testing_clock.h"
#include "testing_endpoints.h"
#include "testing_transport.h"

#endif
