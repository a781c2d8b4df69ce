# Twisted echo server for the benchmark: Protocol.dataReceived -> transport.write on the epoll
# reactor, listening on an ephemeral port of 127.0.0.1; prints twined's "listening on" line.
import sys

from twisted.internet import epollreactor

epollreactor.install()

import twisted  # noqa: E402
from twisted.internet import protocol, reactor  # noqa: E402


class Echo(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


def main():
    if sys.argv[1:] == ["--version"]:
        print(twisted.__version__)
        return
    factory = protocol.Factory.forProtocol(Echo)
    port = reactor.listenTCP(0, factory, backlog=128, interface="127.0.0.1")
    sys.stderr.write("twisted: listening on tcp:127.0.0.1:%d\n" % port.getHost().port)
    sys.stderr.flush()
    reactor.run()


main()
