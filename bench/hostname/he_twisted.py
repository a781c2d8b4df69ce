"""Connects once with Twisted's HostnameEndpoint and prints the milliseconds it took and the address
that answered ("ms=12.3 peer=127.0.0.2"), or "failed=Type". bench/hostname/run.sh runs it in a
network namespace: the same scenarios as twined connect."""
import sys
import time

from twisted.internet import defer, endpoints, protocol, reactor, task


class Quiet(protocol.Protocol):
    pass


@defer.inlineCallbacks
def main(reactor_, host, port):
    ep = endpoints.HostnameEndpoint(reactor_, host.encode(), int(port), timeout=10)
    start = time.monotonic()
    try:
        proto = yield endpoints.connectProtocol(ep, Quiet())
    except Exception as e:  # noqa: BLE001 - the bench reports any failure by name
        print("failed=%s" % type(e).__name__)
        return
    took = (time.monotonic() - start) * 1000
    print("ms=%.1f peer=%s" % (took, proto.transport.getPeer().host))
    proto.transport.loseConnection()


task.react(main, sys.argv[1:3])
